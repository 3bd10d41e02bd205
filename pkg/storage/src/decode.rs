//! Decoding a series of any chunk encodings: XOR floats, integer histograms (encoding 2) and
//! float histograms (encoding 3), as Prometheus's `storage.Series` iterators yield float and
//! histogram samples from one series.
//!
//! A series may switch between floats and histograms (each switch starts a new chunk), so the
//! decoded form keeps the two kinds apart, each in increasing time order, as PromQL's
//! `Series{Floats, Histograms}`. Where chunks overlap (replicas), the first chunk (by
//! `min_time`) holding a timestamp wins, whatever its kind.
//!
//! Stale markers stay what they are in the chunk: a float stale marker is a float sample whose
//! value is the stale NaN; a histogram stale marker is a histogram whose `sum` is the stale NaN
//! (see [`strata_model::is_stale_nan`]).

use strata_chunkenc::{ChunkError, Encoding, HistogramChunkError};
use strata_model::histogram::FloatHistogram;
use strata_model::Sample;

use crate::series::Series;

/// A chunk of a series could not be decoded.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DecodeError {
    /// An XOR chunk (or the chunk wrapper) is corrupt.
    #[error("decoding chunk {index}: {source}")]
    Chunk {
        /// Position of the chunk in the series.
        index: usize,
        /// What went wrong.
        source: ChunkError,
    },
    /// A histogram chunk is corrupt.
    #[error("decoding histogram chunk {index}: {source}")]
    Histogram {
        /// Position of the chunk in the series.
        index: usize,
        /// What went wrong.
        source: HistogramChunkError,
    },
}

/// One float histogram sample.
#[derive(Clone, Debug, PartialEq)]
pub struct HistogramSample {
    /// Milliseconds since the Unix epoch.
    pub t: i64,
    /// The histogram, with its counter reset hint as the chunk iterator reports it.
    pub h: FloatHistogram,
}

/// A series' samples decoded from all its chunks: floats and histograms apart, each sorted by
/// time, no timestamp present twice across both.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DecodedSamples {
    /// Float samples (stale markers included).
    pub floats: Vec<Sample>,
    /// Histogram samples (stale markers included).
    pub histograms: Vec<HistogramSample>,
}

/// A decoded sample of either kind, used while merging chunks.
enum Any {
    F(Sample),
    H(HistogramSample),
}

impl Any {
    fn t(&self) -> i64 {
        match self {
            Any::F(s) => s.t,
            Any::H(h) => h.t,
        }
    }
}

fn decode_chunk(series: &Series, index: usize) -> Result<Vec<Any>, DecodeError> {
    let c = &series.chunks[index].chunk;
    let chunk_err = |source| DecodeError::Chunk { index, source };
    let hist_err = |source| DecodeError::Histogram { index, source };
    let mut out = Vec::with_capacity(c.num_samples() as usize);
    match c.encoding() {
        Encoding::Xor => {
            let mut it = c.xor_iter().map_err(chunk_err)?;
            out.extend(it.by_ref().map(Any::F));
            if let Some(e) = it.err() {
                return Err(chunk_err(e.clone()));
            }
        }
        Encoding::Histogram => {
            let mut it = c.histogram_iter().map_err(chunk_err)?;
            loop {
                let mut h = FloatHistogram::default();
                match it.next_float_into(&mut h) {
                    Some(t) => out.push(Any::H(HistogramSample { t, h })),
                    None => break,
                }
            }
            if let Some(e) = it.err() {
                return Err(hist_err(e.clone()));
            }
        }
        Encoding::FloatHistogram => {
            let mut it = c.float_histogram_iter().map_err(chunk_err)?;
            out.extend(it.by_ref().map(|(t, h)| Any::H(HistogramSample { t, h })));
            if let Some(e) = it.err() {
                return Err(hist_err(e.clone()));
            }
        }
    }
    Ok(out)
}

impl Series {
    /// Decodes every chunk, whatever its encoding, into floats and histograms (see the module
    /// docs). Unlike [`Series::iter`], which reads XOR chunks only, this reads native
    /// histogram chunks too.
    pub fn decode_all(&self) -> Result<DecodedSamples, DecodeError> {
        self.decode_range(i64::MIN, i64::MAX)
    }

    /// As [`Series::decode_all`], keeping only samples with `start <= t <= end`. Chunks whose
    /// time range lies outside are not decoded.
    ///
    /// The common shape, XOR chunks following each other without overlap, is decoded straight
    /// into one vector sized up front; anything else (histograms, overlapping replicas, a chunk
    /// whose samples do not follow the previous one's) takes the general merge.
    pub fn decode_range(&self, start: i64, end: i64) -> Result<DecodedSamples, DecodeError> {
        if let Some(out) = self.decode_sequential_floats(start, end)? {
            return Ok(out);
        }
        let mut out = self.decode_merged()?;
        if start != i64::MIN || end != i64::MAX {
            let keep = |t: i64| t >= start && t <= end;
            out.floats.retain(|s| keep(s.t));
            out.histograms.retain(|h| keep(h.t));
        }
        Ok(out)
    }

    /// The fast path of [`Series::decode_range`]: `None` when the chunks are not all XOR,
    /// overlap, or turn out not to be in time order, so the caller merges instead.
    fn decode_sequential_floats(
        &self,
        start: i64,
        end: i64,
    ) -> Result<Option<DecodedSamples>, DecodeError> {
        let mut total = 0usize;
        let mut prev_max = i64::MIN;
        let mut first = true;
        for c in &self.chunks {
            if c.chunk.encoding() != Encoding::Xor {
                return Ok(None);
            }
            if c.max_time < start || c.min_time > end {
                continue;
            }
            if !first && c.min_time <= prev_max {
                return Ok(None);
            }
            first = false;
            prev_max = c.max_time;
            total += c.chunk.num_samples() as usize;
        }
        let mut floats: Vec<Sample> = Vec::with_capacity(total);
        let mut last_t: Option<i64> = None;
        for (index, c) in self.chunks.iter().enumerate() {
            if c.max_time < start || c.min_time > end {
                continue;
            }
            let mut it = c
                .chunk
                .xor_iter()
                .map_err(|source| DecodeError::Chunk { index, source })?;
            for s in it.by_ref() {
                if last_t.is_some_and(|l| s.t <= l) {
                    // Out of order despite the chunk bounds: let the general merge decide.
                    return Ok(None);
                }
                last_t = Some(s.t);
                if s.t > end {
                    // Sorted within the chunk, and later chunks start after this one.
                    break;
                }
                if s.t >= start {
                    floats.push(s);
                }
            }
            if let Some(e) = it.err() {
                return Err(DecodeError::Chunk {
                    index,
                    source: e.clone(),
                });
            }
            if last_t.is_some_and(|l| l > end) {
                break;
            }
        }
        Ok(Some(DecodedSamples {
            floats,
            histograms: Vec::new(),
        }))
    }

    /// Decodes every chunk and merges them by time (first chunk wins a timestamp).
    fn decode_merged(&self) -> Result<DecodedSamples, DecodeError> {
        let mut out = DecodedSamples::default();
        if self.chunks.len() == 1 {
            // The common case: one chunk, already sorted and unique.
            for s in decode_chunk(self, 0)? {
                match s {
                    Any::F(f) => out.floats.push(f),
                    Any::H(h) => out.histograms.push(h),
                }
            }
            return Ok(out);
        }
        let mut all: Vec<(usize, Any)> = Vec::new();
        for i in 0..self.chunks.len() {
            all.extend(decode_chunk(self, i)?.into_iter().map(|s| (i, s)));
        }
        // Stable by (time, chunk position): the first chunk's sample at a timestamp wins.
        all.sort_by_key(|(i, s)| (s.t(), *i));
        let mut last_t = i64::MIN;
        let mut first = true;
        for (_, s) in all {
            if !first && s.t() == last_t {
                continue;
            }
            first = false;
            last_t = s.t();
            match s {
                Any::F(f) => out.floats.push(f),
                Any::H(h) => out.histograms.push(h),
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::series::ChunkMeta;
    use strata_chunkenc::{encode_xor, FloatHistogramAppender};
    use strata_model::histogram::Span;
    use strata_model::Labels;

    fn hist(count: f64) -> FloatHistogram {
        FloatHistogram {
            count,
            sum: count * 2.0,
            positive_spans: vec![Span::new(0, 1)],
            positive_buckets: vec![count],
            ..Default::default()
        }
    }

    fn hist_chunk(samples: &[(i64, f64)]) -> ChunkMeta {
        let mut app = FloatHistogramAppender::new();
        for &(t, c) in samples {
            app.append_only(t, &hist(c)).expect("fits the chunk");
        }
        ChunkMeta {
            min_time: samples[0].0,
            max_time: samples[samples.len() - 1].0,
            chunk: app.into_chunk(),
        }
    }

    fn float_chunk(samples: &[(i64, f64)]) -> ChunkMeta {
        let s: Vec<Sample> = samples.iter().map(|&(t, v)| Sample::new(t, v)).collect();
        ChunkMeta {
            min_time: s[0].t,
            max_time: s[s.len() - 1].t,
            chunk: encode_xor(&s),
        }
    }

    #[test]
    fn decodes_floats_then_histograms() {
        let s = Series {
            labels: Labels::from_pairs([("a", "1")]),
            chunks: vec![
                float_chunk(&[(1, 1.0), (2, 2.0)]),
                hist_chunk(&[(3, 3.0), (4, 4.0)]),
            ],
        };
        let d = s.decode_all().expect("decodes");
        assert_eq!(d.floats.iter().map(|s| s.t).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(d.histograms.iter().map(|s| s.t).collect::<Vec<_>>(), [3, 4]);
        assert_eq!(d.histograms[1].h.count, 4.0);
        assert_eq!(d.histograms[1].h.positive_buckets, vec![4.0]);
    }

    #[test]
    fn overlapping_chunks_keep_the_first_sample_at_a_timestamp() {
        let s = Series {
            labels: Labels::from_pairs([("a", "1")]),
            chunks: vec![
                hist_chunk(&[(1, 1.0), (3, 3.0)]),
                float_chunk(&[(2, 9.0), (3, 9.0)]),
            ],
        };
        let d = s.decode_all().expect("decodes");
        assert_eq!(d.floats, vec![Sample::new(2, 9.0)]);
        assert_eq!(d.histograms.iter().map(|s| s.t).collect::<Vec<_>>(), [1, 3]);
        assert_eq!(d.histograms[1].h.count, 3.0);
    }

    #[test]
    fn range_decoding_keeps_only_samples_in_range() {
        let s = Series {
            labels: Labels::empty(),
            chunks: vec![
                float_chunk(&[(1, 1.0), (2, 2.0)]),
                float_chunk(&[(3, 3.0), (4, 4.0)]),
                float_chunk(&[(5, 5.0), (6, 6.0)]),
            ],
        };
        let ts = |d: DecodedSamples| d.floats.iter().map(|s| s.t).collect::<Vec<_>>();
        assert_eq!(ts(s.decode_range(2, 5).expect("decodes")), [2, 3, 4, 5]);
        assert_eq!(
            ts(s.decode_range(7, 9).expect("decodes")),
            Vec::<i64>::new()
        );
        assert_eq!(ts(s.decode_all().expect("decodes")), [1, 2, 3, 4, 5, 6]);
    }

    #[test]
    fn chunks_whose_samples_do_not_follow_on_are_merged_by_time() {
        // The metadata claims order, the samples do not follow it: the general merge sorts
        // and the first chunk keeps a shared timestamp.
        let mut late = float_chunk(&[(2, 20.0), (5, 50.0)]);
        late.min_time = 4;
        let s = Series {
            labels: Labels::empty(),
            chunks: vec![float_chunk(&[(1, 1.0), (3, 3.0)]), late],
        };
        let d = s.decode_range(0, 10).expect("decodes");
        assert_eq!(
            d.floats,
            [
                Sample::new(1, 1.0),
                Sample::new(2, 20.0),
                Sample::new(3, 3.0),
                Sample::new(5, 50.0)
            ]
        );
        // Overlapping replicas: each timestamp once, the earlier chunk's value.
        let s = Series {
            labels: Labels::empty(),
            chunks: vec![
                float_chunk(&[(1, 1.0), (3, 3.0)]),
                float_chunk(&[(3, 30.0), (4, 4.0)]),
            ],
        };
        let d = s.decode_range(2, 10).expect("decodes");
        assert_eq!(d.floats, [Sample::new(3, 3.0), Sample::new(4, 4.0)]);
    }

    #[test]
    fn a_corrupt_histogram_chunk_is_an_error_naming_the_chunk() {
        let mut m = hist_chunk(&[(1, 1.0), (2, 2.0)]);
        let bytes = m.chunk.bytes().slice(0..5);
        m.chunk = strata_chunkenc::Chunk::new(Encoding::FloatHistogram, bytes).expect("header");
        let s = Series {
            labels: Labels::empty(),
            chunks: vec![float_chunk(&[(0, 0.0)]), m],
        };
        let err = s.decode_all().expect_err("truncated");
        assert!(
            matches!(err, DecodeError::Histogram { index: 1, .. }),
            "{err}"
        );
    }
}

#[cfg(test)]
mod hint_tests {
    use super::*;
    use crate::series::ChunkMeta;
    use strata_chunkenc::FloatHistogramAppender;
    use strata_model::histogram::{CounterResetHint, Span};
    use strata_model::Labels;

    #[test]
    fn later_samples_of_a_chunk_are_not_counter_resets() {
        let h = FloatHistogram {
            count: 4.0,
            sum: 4.0,
            positive_spans: vec![Span::new(0, 3)],
            positive_buckets: vec![1.0, 2.0, 1.0],
            ..Default::default()
        };
        let mut app = FloatHistogramAppender::new();
        for t in [0, 300_000, 600_000] {
            app.append_only(t, &h).expect("fits");
        }
        let s = Series {
            labels: Labels::empty(),
            chunks: vec![ChunkMeta {
                min_time: 0,
                max_time: 600_000,
                chunk: app.into_chunk(),
            }],
        };
        let d = s.decode_all().expect("decodes");
        let hints: Vec<_> = d
            .histograms
            .iter()
            .map(|x| x.h.counter_reset_hint)
            .collect();
        assert_eq!(
            hints,
            [
                CounterResetHint::Unknown,
                CounterResetHint::NotCounterReset,
                CounterResetHint::NotCounterReset
            ]
        );
    }
}
