//! The mutable part of a series, guarded by its mutex: closed chunks, the open chunk (XOR,
//! histogram or float histogram, see `open_chunk`), the last sample (for duplicate checks),
//! and the out-of-order buffer.
//!
//! Out of order: with a tenant's out-of-order window above zero, a float sample older than
//! the series' last one but not older than the head's newest sample minus the window is kept
//! in a per-series sorted buffer (Prometheus keeps such samples in a separate OOO head
//! chunk). Queries see the buffer as extra XOR chunks overlapping the in-order ones;
//! `SeriesState::closed_before` merges it into the in-order float chunks it hands to
//! block cutting, so blocks hold one sorted, duplicate-free run per series. A timestamp is
//! stored once per series: an out-of-order sample at a timestamp already held (in order or
//! out of order) is a duplicate unless its value bits are identical (then a no-op).
//! Native histograms are never accepted out of order.

use strata_chunkenc::{encode_xor, Encoding, SAMPLES_PER_CHUNK};
use strata_model::Sample;
use strata_storage::ChunkMeta;

use super::open_chunk::{self, window_end, OpenChunk};
use super::series::AppendResult;
use super::value::SampleValue;
use crate::error::SampleRejectKind;

/// The mutable part of a series, guarded by the series' mutex.
#[derive(Debug, Default)]
pub struct SeriesState {
    closed: Vec<ChunkMeta>,
    open: Option<OpenChunk>,
    /// Last in-order sample's timestamp and value, `None` while empty.
    last: Option<(i64, SampleValue)>,
    /// Out-of-order float samples, sorted by time, unique timestamps.
    ooo: Vec<(i64, f64)>,
    /// Timestamps of out-of-order samples handed to block cutting by the last
    /// [`SeriesState::closed_before`]; [`SeriesState::drop_closed_before`] drops them.
    ooo_collected: Vec<i64>,
    /// How many leading closed chunks the last [`SeriesState::closed_before`] handed out.
    closed_collected: usize,
    /// Set when head truncation removed the series from the head's maps: appenders that
    /// still hold it must find or create the series again.
    deleted: bool,
}

/// XOR-encodes sorted, unique float samples, cutting chunks as the head does (every
/// [`SAMPLES_PER_CHUNK`] samples and at aligned window ends).
pub(crate) fn encode_floats(samples: &[(i64, f64)]) -> Vec<ChunkMeta> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < samples.len() {
        let end_t = window_end(samples[start].0);
        let mut end = start + 1;
        while end < samples.len()
            && end - start < usize::from(SAMPLES_PER_CHUNK)
            && samples[end].0 < end_t
        {
            end += 1;
        }
        let run: Vec<Sample> = samples[start..end]
            .iter()
            .map(|&(t, v)| Sample::new(t, v))
            .collect();
        out.push(ChunkMeta {
            min_time: run[0].t,
            max_time: run[run.len() - 1].t,
            chunk: encode_xor(&run),
        });
        start = end;
    }
    out
}

/// Re-encodes a chunk's samples as chunks ending before `t` followed by chunks starting at
/// or after it (cut as the head cuts).
fn split_chunk_at(c: &ChunkMeta, t: i64) -> Vec<ChunkMeta> {
    let (samples, _) = open_chunk::decode_chunk(&c.chunk);
    let mut parts = Vec::new();
    for side in [true, false] {
        let mut open = None;
        for (ts, v) in samples.iter().filter(|s| (s.0 < t) == side) {
            open_chunk::append(&mut open, &mut parts, *ts, v);
        }
        open_chunk::close(open, &mut parts);
    }
    parts
}

impl SeriesState {
    /// Appends one float sample with Prometheus's in-order rules: a lower timestamp is out
    /// of order; an equal timestamp is a duplicate unless the value bits are identical (a
    /// retry).
    #[cfg(test)]
    pub(crate) fn append(&mut self, t: i64, v: f64) -> Result<AppendResult, SampleRejectKind> {
        self.append_value(t, &SampleValue::Float(v), None)
    }

    /// Appends one sample of any kind. `ooo_min`: when set, a float sample older than the
    /// last one but at or after `ooo_min` goes to the out-of-order buffer instead of being
    /// refused.
    pub(crate) fn append_value(
        &mut self,
        t: i64,
        v: &SampleValue,
        ooo_min: Option<i64>,
    ) -> Result<AppendResult, SampleRejectKind> {
        if let Some((last_t, last_v)) = &self.last {
            if t < *last_t {
                if let (SampleValue::Float(f), Some(m)) = (v, ooo_min) {
                    if t >= m {
                        return self.insert_ooo(t, *f);
                    }
                }
                return Err(SampleRejectKind::OutOfOrder);
            }
            if t == *last_t {
                return if last_v.same_as(v) {
                    Ok(AppendResult::Unchanged)
                } else {
                    Err(SampleRejectKind::DuplicateTimestamp)
                };
            }
        }
        open_chunk::append(&mut self.open, &mut self.closed, t, v);
        self.last = Some((t, v.clone()));
        Ok(AppendResult::Appended)
    }

    /// Stores an out-of-order float sample unless its timestamp is already held.
    fn insert_ooo(&mut self, t: i64, v: f64) -> Result<AppendResult, SampleRejectKind> {
        let same = |held: &SampleValue| held.as_float().map(f64::to_bits) == Some(v.to_bits());
        let pos = match self.ooo.binary_search_by_key(&t, |s| s.0) {
            Ok(i) => {
                return if self.ooo[i].1.to_bits() == v.to_bits() {
                    Ok(AppendResult::Unchanged)
                } else {
                    Err(SampleRejectKind::DuplicateTimestamp)
                };
            }
            Err(i) => i,
        };
        // In-order chunks spanning `t` may hold it already.
        let mut spanning: Vec<ChunkMeta> = self
            .closed
            .iter()
            .filter(|c| c.min_time <= t && t <= c.max_time)
            .cloned()
            .collect();
        if let Some(o) = &self.open {
            if o.num_samples() > 0 && o.min_time <= t && t <= o.max_time() {
                spanning.push(o.to_meta());
            }
        }
        for c in &spanning {
            let (samples, _) = open_chunk::decode_chunk(&c.chunk);
            if let Some((_, held)) = samples.iter().find(|s| s.0 == t) {
                return if same(held) {
                    Ok(AppendResult::Unchanged)
                } else {
                    Err(SampleRejectKind::DuplicateTimestamp)
                };
            }
        }
        self.ooo.insert(pos, (t, v));
        Ok(AppendResult::Appended)
    }

    /// The chunks overlapping `[mint, maxt]`, sorted by first timestamp; the open chunk is
    /// copied, out-of-order samples in the range come as extra XOR chunks.
    pub fn chunks(&self, mint: i64, maxt: i64) -> Vec<ChunkMeta> {
        let mut out: Vec<ChunkMeta> = self
            .closed
            .iter()
            .filter(|c| c.max_time >= mint && c.min_time <= maxt)
            .cloned()
            .collect();
        if let Some(o) = &self.open {
            if o.num_samples() > 0 && o.max_time() >= mint && o.min_time <= maxt {
                out.push(o.to_meta());
            }
        }
        if !self.ooo.is_empty() {
            let lo = self.ooo.partition_point(|s| s.0 < mint);
            let hi = self.ooo.partition_point(|s| s.0 <= maxt);
            if lo < hi {
                out.extend(encode_floats(&self.ooo[lo..hi]));
                out.sort_by_key(|c| c.min_time);
            }
        }
        out
    }

    /// Makes every sample before `t` sit in closed chunks that end before `t`, so they can
    /// be written to a block whole: closes the open chunk if all its samples are before `t`,
    /// and splits at `t` the one chunk (closed or open) holding samples on both sides.
    ///
    /// A chunk straddles `t` when commits appended samples at or after `t` between the
    /// moment a flush chose `t` (just above the head's newest sample) and the moment it
    /// collects this series. Without the split, its samples before `t` would be neither in
    /// the block nor, after the WAL checkpoint, in the log.
    pub(crate) fn close_open_before(&mut self, t: i64) {
        let i = self.closed.partition_point(|c| c.max_time < t);
        if i < self.closed.len() && self.closed[i].min_time < t {
            let c = self.closed.remove(i);
            let parts = split_chunk_at(&c, t);
            self.closed.splice(i..i, parts);
        }
        let Some(o) = self.open.as_ref() else {
            return;
        };
        if o.num_samples() == 0 || o.min_time >= t {
            return;
        }
        if o.max_time() < t {
            open_chunk::close(self.open.take(), &mut self.closed);
            return;
        }
        let Some(o) = self.open.take() else {
            return;
        };
        let (samples, _) = open_chunk::decode_chunk(&o.into_meta().chunk);
        let mut before = None;
        for (ts, v) in samples.iter().filter(|s| s.0 < t) {
            open_chunk::append(&mut before, &mut self.closed, *ts, v);
        }
        open_chunk::close(before, &mut self.closed);
        for (ts, v) in samples.iter().filter(|s| s.0 >= t) {
            open_chunk::append(&mut self.open, &mut self.closed, *ts, v);
        }
    }

    /// The closed chunks whose samples all lie before `t` with the out-of-order samples
    /// before `t` merged in (float chunks decoded, merged, re-encoded), sorted by first
    /// timestamp. Remembers which out-of-order samples it took, for
    /// [`SeriesState::drop_closed_before`].
    pub(crate) fn closed_before(&mut self, t: i64) -> Vec<ChunkMeta> {
        // Closed chunks are in time order: the ones before `t` are a prefix.
        self.closed_collected = self.closed.partition_point(|c| c.max_time < t);
        let mut out: Vec<ChunkMeta> = self.closed[..self.closed_collected].to_vec();
        let n_ooo = self.ooo.partition_point(|s| s.0 < t);
        self.ooo_collected = self.ooo[..n_ooo].iter().map(|s| s.0).collect();
        if n_ooo == 0 {
            return out;
        }
        let (floats, mut rest): (Vec<ChunkMeta>, Vec<ChunkMeta>) = out
            .drain(..)
            .partition(|c| c.chunk.encoding() == Encoding::Xor);
        let mut samples: Vec<(i64, f64)> = Vec::new();
        for c in &floats {
            let (decoded, _) = open_chunk::decode_chunk(&c.chunk);
            samples.extend(
                decoded
                    .into_iter()
                    .filter_map(|(t, v)| Some((t, v.as_float()?))),
            );
        }
        samples.extend_from_slice(&self.ooo[..n_ooo]);
        // Stable: at a shared timestamp (impossible by construction) the in-order one wins.
        samples.sort_by_key(|s| s.0);
        samples.dedup_by_key(|s| s.0);
        rest.extend(encode_floats(&samples));
        rest.sort_by_key(|c| c.min_time);
        rest
    }

    /// Drops the closed chunks and out-of-order samples the last
    /// [`SeriesState::closed_before`] collected (chunks closed since, even before `t`, stay
    /// for the next cut); returns how many chunks.
    pub(crate) fn drop_closed_before(&mut self, t: i64) -> usize {
        let n = self.closed.len();
        let k = std::mem::take(&mut self.closed_collected).min(n);
        debug_assert!(self.closed[..k].iter().all(|c| c.max_time < t));
        self.closed.drain(..k);
        if !self.ooo_collected.is_empty() {
            let collected = std::mem::take(&mut self.ooo_collected);
            self.ooo.retain(|s| collected.binary_search(&s.0).is_err());
        }
        n - self.closed.len()
    }

    /// Tells whether the series holds no sample at all.
    pub(crate) fn is_empty(&self) -> bool {
        self.closed.is_empty()
            && self.open.as_ref().is_none_or(|o| o.num_samples() == 0)
            && self.ooo.is_empty()
    }

    /// The first sample's timestamp still held, if any.
    pub(crate) fn first_timestamp(&self) -> Option<i64> {
        let in_order = match (self.closed.first(), &self.open) {
            (Some(c), _) => Some(c.min_time),
            (None, Some(o)) if o.num_samples() > 0 => Some(o.min_time),
            _ => None,
        };
        match (in_order, self.ooo.first()) {
            (Some(a), Some(b)) => Some(a.min(b.0)),
            (a, b) => a.or(b.map(|s| s.0)),
        }
    }

    /// Every sample held (in-order chunks, then the out-of-order buffer), unsorted across
    /// the two.
    pub(crate) fn all_samples(&self) -> Vec<(i64, SampleValue)> {
        let mut all = Vec::new();
        for c in self.chunks(i64::MIN, i64::MAX) {
            all.extend(open_chunk::decode_chunk(&c.chunk).0);
        }
        all
    }

    /// Tells whether head truncation removed the series from the head.
    pub(crate) fn is_deleted(&self) -> bool {
        self.deleted
    }

    /// Marks the series as removed from the head (see [`SeriesState::is_deleted`]).
    pub(crate) fn mark_deleted(&mut self) {
        self.deleted = true;
    }

    /// The number of in-order chunks, open one included.
    pub fn num_chunks(&self) -> usize {
        self.closed.len() + usize::from(self.open.as_ref().is_some_and(|o| o.num_samples() > 0))
    }

    /// The number of out-of-order samples held.
    pub fn num_out_of_order(&self) -> usize {
        self.ooo.len()
    }

    /// The last in-order sample's timestamp, if any.
    pub fn last_timestamp(&self) -> Option<i64> {
        self.last.as_ref().map(|(t, _)| *t)
    }
}
