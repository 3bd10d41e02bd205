//! A series' open chunk in any of the three encodings, and the rules for cutting it.
//!
//! - XOR (floats): cut after [`SAMPLES_PER_CHUNK`] samples.
//! - Histogram and float histogram: cut once a chunk holds at least
//!   [`MIN_SAMPLES_PER_HISTOGRAM_CHUNK`] samples and [`HISTOGRAM_CHUNK_TARGET_BYTES`] bytes
//!   (Prometheus's size-based cut), and wherever the chunk encoder itself asks for a new
//!   chunk (counter reset, schema or zero-threshold change, gauge/counter switch). A chunk the
//!   head cuts continues the previous one, so its counter-reset header says whether the
//!   first histogram is a reset against the previous chunk's last (as Prometheus's
//!   `AppendHistogram(prev, …)`); new buckets recode the open chunk in place.
//! - Every encoding: cut when the series switches between floats and histograms (or integer
//!   and float histograms), and when a sample falls past the [`CHUNK_RANGE_MS`]-aligned
//!   window the chunk started in, so blocks cut on those boundaries never split a chunk.
//!
//! A float stale marker appended to a histogram series is stored as a histogram stale
//! marker (sum = stale NaN) in the histogram chunk, as Prometheus does.

use strata_chunkenc::{
    AppendOutcome, Chunk, FloatHistogramAppender, HistogramAppender, XorAppender, SAMPLES_PER_CHUNK,
};
use strata_model::{is_stale_nan, FloatHistogram, Histogram, STALE_NAN};
use strata_storage::ChunkMeta;

use super::series::CHUNK_RANGE_MS;
use super::value::SampleValue;

/// Histogram chunks are cut by size only once they hold this many samples.
pub const MIN_SAMPLES_PER_HISTOGRAM_CHUNK: u16 = 10;
/// The size at which a histogram chunk is cut (Prometheus's `TargetBytesPerHistogramChunk`).
pub const HISTOGRAM_CHUNK_TARGET_BYTES: usize = 1024;

/// The appender of an open chunk.
#[derive(Debug)]
pub(crate) enum ChunkAppender {
    Xor(XorAppender),
    Histogram(HistogramAppender),
    FloatHistogram(FloatHistogramAppender),
}

/// The chunk a series is appending to.
#[derive(Debug)]
pub(crate) struct OpenChunk {
    pub(crate) app: ChunkAppender,
    pub(crate) min_time: i64,
    /// Exclusive end of the aligned window the chunk started in.
    pub(crate) window_end: i64,
}

/// The exclusive end of the [`CHUNK_RANGE_MS`] window holding `t`, saturating at `i64::MAX`.
pub(crate) fn window_end(t: i64) -> i64 {
    t.div_euclid(CHUNK_RANGE_MS)
        .checked_add(1)
        .and_then(|w| w.checked_mul(CHUNK_RANGE_MS))
        .unwrap_or(i64::MAX)
}

impl OpenChunk {
    fn new(app: ChunkAppender, t: i64) -> Self {
        Self {
            app,
            min_time: t,
            window_end: window_end(t),
        }
    }

    pub(crate) fn num_samples(&self) -> u16 {
        match &self.app {
            ChunkAppender::Xor(a) => a.num_samples(),
            ChunkAppender::Histogram(a) => a.num_samples(),
            ChunkAppender::FloatHistogram(a) => a.num_samples(),
        }
    }

    pub(crate) fn max_time(&self) -> i64 {
        match &self.app {
            ChunkAppender::Xor(a) => a.max_time(),
            ChunkAppender::Histogram(a) => a.max_time(),
            ChunkAppender::FloatHistogram(a) => a.max_time(),
        }
    }

    fn chunk_copy(&self) -> Chunk {
        match &self.app {
            ChunkAppender::Xor(a) => a.to_chunk(),
            ChunkAppender::Histogram(a) => a.to_chunk(),
            ChunkAppender::FloatHistogram(a) => a.to_chunk(),
        }
    }

    /// The chunk as it stands, copied.
    pub(crate) fn to_meta(&self) -> ChunkMeta {
        ChunkMeta {
            min_time: self.min_time,
            max_time: self.max_time(),
            chunk: self.chunk_copy(),
        }
    }

    /// Finishes the chunk.
    pub(crate) fn into_meta(self) -> ChunkMeta {
        let max_time = self.max_time();
        let chunk = match self.app {
            ChunkAppender::Xor(a) => a.into_chunk(),
            ChunkAppender::Histogram(a) => a.into_chunk(),
            ChunkAppender::FloatHistogram(a) => a.into_chunk(),
        };
        ChunkMeta {
            min_time: self.min_time,
            max_time,
            chunk,
        }
    }
}

/// Closes `open` into `closed` if it holds samples.
pub(crate) fn close(open: Option<OpenChunk>, closed: &mut Vec<ChunkMeta>) {
    if let Some(o) = open {
        if o.num_samples() > 0 {
            // Off the heap when the committing thread has the head's arena (`offheap`).
            closed.push(super::offheap::relocate(o.into_meta()));
        }
    }
}

/// Appends a value at `t` (after the series' last sample) to the open chunk, cutting as the
/// module docs describe.
pub(crate) fn append(
    open: &mut Option<OpenChunk>,
    closed: &mut Vec<ChunkMeta>,
    t: i64,
    v: &SampleValue,
) {
    match v {
        SampleValue::Float(f) => {
            // A stale marker ends a histogram series inside its histogram chunk.
            if is_stale_nan(*f) {
                match open.as_ref().map(|o| &o.app) {
                    Some(ChunkAppender::Histogram(_)) => {
                        let h = Histogram {
                            sum: STALE_NAN,
                            ..Default::default()
                        };
                        return append_histogram(open, closed, t, &h);
                    }
                    Some(ChunkAppender::FloatHistogram(_)) => {
                        let h = FloatHistogram {
                            sum: STALE_NAN,
                            ..Default::default()
                        };
                        return append_float_histogram(open, closed, t, &h);
                    }
                    _ => {}
                }
            }
            append_float(open, closed, t, *f)
        }
        SampleValue::Histogram(h) => append_histogram(open, closed, t, h),
        SampleValue::FloatHistogram(h) => append_float_histogram(open, closed, t, h),
    }
}

fn append_float(open: &mut Option<OpenChunk>, closed: &mut Vec<ChunkMeta>, t: i64, v: f64) {
    let fits = matches!(open, Some(o) if matches!(&o.app, ChunkAppender::Xor(a)
        if a.num_samples() < SAMPLES_PER_CHUNK) && t < o.window_end);
    if !fits {
        close(open.take(), closed);
        *open = Some(OpenChunk::new(ChunkAppender::Xor(XorAppender::new()), t));
    }
    if let Some(OpenChunk {
        app: ChunkAppender::Xor(a),
        ..
    }) = open
    {
        a.append(t, v);
    }
}

fn histogram_full(n: u16, size: usize) -> bool {
    n >= MIN_SAMPLES_PER_HISTOGRAM_CHUNK && size >= HISTOGRAM_CHUNK_TARGET_BYTES
}

fn append_histogram(
    open: &mut Option<OpenChunk>,
    closed: &mut Vec<ChunkMeta>,
    t: i64,
    h: &Histogram,
) {
    let fits = matches!(open, Some(o) if matches!(&o.app, ChunkAppender::Histogram(a)
        if !histogram_full(a.num_samples(), a.size())) && t < o.window_end);
    if !fits {
        let prev = open.take();
        let mut app = HistogramAppender::new();
        let prev_app = match &prev {
            Some(OpenChunk {
                app: ChunkAppender::Histogram(p),
                ..
            }) if p.num_samples() > 0 => Some(p),
            _ => None,
        };
        // An empty appender always takes the sample.
        let _ = app.append_after(prev_app, t, h);
        close(prev, closed);
        *open = Some(OpenChunk::new(ChunkAppender::Histogram(app), t));
        return;
    }
    let Some(o) = open.as_mut() else {
        return;
    };
    let ChunkAppender::Histogram(a) = &mut o.app else {
        return;
    };
    match a.append(t, h) {
        AppendOutcome::Appended => {}
        AppendOutcome::Recoded(n) => *a = n,
        AppendOutcome::NewChunk(n) => {
            let old = std::mem::replace(o, OpenChunk::new(ChunkAppender::Histogram(n), t));
            close(Some(old), closed);
        }
    }
}

fn append_float_histogram(
    open: &mut Option<OpenChunk>,
    closed: &mut Vec<ChunkMeta>,
    t: i64,
    h: &FloatHistogram,
) {
    let fits = matches!(open, Some(o) if matches!(&o.app, ChunkAppender::FloatHistogram(a)
        if !histogram_full(a.num_samples(), a.size())) && t < o.window_end);
    if !fits {
        let prev = open.take();
        let mut app = FloatHistogramAppender::new();
        let prev_app = match &prev {
            Some(OpenChunk {
                app: ChunkAppender::FloatHistogram(p),
                ..
            }) if p.num_samples() > 0 => Some(p),
            _ => None,
        };
        let _ = app.append_after(prev_app, t, h);
        close(prev, closed);
        *open = Some(OpenChunk::new(ChunkAppender::FloatHistogram(app), t));
        return;
    }
    let Some(o) = open.as_mut() else {
        return;
    };
    let ChunkAppender::FloatHistogram(a) = &mut o.app else {
        return;
    };
    match a.append(t, h) {
        AppendOutcome::Appended => {}
        AppendOutcome::Recoded(n) => *a = n,
        AppendOutcome::NewChunk(n) => {
            let old = std::mem::replace(o, OpenChunk::new(ChunkAppender::FloatHistogram(n), t));
            close(Some(old), closed);
        }
    }
}

/// Decodes every sample of a chunk (any encoding), in time order; a decoding error ends the
/// list early and is returned with what was read.
pub(crate) fn decode_chunk(c: &Chunk) -> (Vec<(i64, SampleValue)>, Option<String>) {
    use strata_chunkenc::Encoding;
    let mut out = Vec::with_capacity(usize::from(c.num_samples()));
    let err = match c.encoding() {
        Encoding::Xor => match c.xor_iter() {
            Ok(mut it) => {
                out.extend(it.by_ref().map(|s| (s.t, SampleValue::Float(s.v))));
                it.err().map(|e| e.to_string())
            }
            Err(e) => Some(e.to_string()),
        },
        Encoding::Histogram => match c.histogram_iter() {
            Ok(mut it) => {
                out.extend(
                    it.by_ref()
                        .map(|(t, h)| (t, SampleValue::Histogram(Box::new(h)))),
                );
                it.err().map(|e| e.to_string())
            }
            Err(e) => Some(e.to_string()),
        },
        Encoding::FloatHistogram => match c.float_histogram_iter() {
            Ok(mut it) => {
                out.extend(
                    it.by_ref()
                        .map(|(t, h)| (t, SampleValue::FloatHistogram(Box::new(h)))),
                );
                it.err().map(|e| e.to_string())
            }
            Err(e) => Some(e.to_string()),
        },
    };
    (out, err)
}
