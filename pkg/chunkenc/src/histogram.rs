//! Integer histogram chunks (encoding 2), byte for byte as Prometheus's `HistogramChunk`.
//!
//! After the 3-byte header and the layout (see [`crate::histogram_meta`]), each sample stores
//! its fields raw, then as deltas, then as delta-of-deltas:
//!
//! | field        | sample 0        | sample 1                | samples 2..        |
//! |--------------|-----------------|-------------------------|--------------------|
//! | timestamp    | `<varbit_int>`  | delta `<varbit_int>`    | dod `<varbit_int>` |
//! | count        | `<varbit_uint>` | delta `<varbit_int>`    | dod                |
//! | zero count   | `<varbit_uint>` | delta `<varbit_int>`    | dod                |
//! | sum          | 64 raw bits     | XOR                     | XOR                |
//! | each bucket  | `<varbit_int>`  | delta `<varbit_int>`    | dod                |
//!
//! Buckets are the histogram's delta-encoded bucket values, positive then negative. Sample 1 is
//! the dod case with a previous delta of zero. A stale marker (sum = stale NaN) writes zero
//! count and zero-count dods and no buckets; only stale samples may follow it in the chunk.

use std::borrow::Cow;

use bytes::Bytes;
use strata_model::histogram::{CounterResetHint, Histogram, Span};
use strata_model::is_stale_nan;

use crate::bstream::BitWriter;
use crate::chunk::{Chunk, Encoding};
use crate::histogram_iter::HistogramIterator;
use crate::histogram_meta::{
    adjust_for_inserts, count_spans, expand_spans_and_buckets, expand_spans_both_ways, insert,
    set_header, write_layout, CounterResetHeader, Insert, Layout, FLAGS_POS, HEADER_SIZE,
};
use crate::varbit::{put_varbit_int, put_varbit_uint, XorState};

/// Where an appended histogram went.
#[derive(Debug)]
pub enum AppendOutcome<A> {
    /// Appended to this chunk.
    Appended,
    /// It could not join this chunk (counter reset, schema or zero threshold change, gauge/counter
    /// switch, sample after a stale marker): it starts the returned appender, whose header
    /// records why. This chunk is complete as it is.
    NewChunk(A),
    /// It brought new buckets: the returned appender holds this chunk's samples re-encoded in
    /// the wider layout plus the new sample, and replaces this chunk entirely.
    Recoded(A),
}

/// A histogram was refused by an append-only append ([`HistogramAppender::append_only`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HistogramAppendError {
    /// The histogram follows a counter reset.
    #[error("{kind} counter reset")]
    CounterReset {
        /// `histogram`, `float histogram`, ...
        kind: &'static str,
    },
    /// The schema, zero threshold or custom bounds changed, or the chunk type does not fit.
    #[error("{kind} schema change")]
    SchemaChange {
        /// `histogram`, `float histogram`, `gauge histogram`, ...
        kind: &'static str,
    },
    /// New buckets would need recoding the chunk.
    #[error(
        "{kind} layout change with {positive} positive and {negative} negative {direction} inserts"
    )]
    LayoutChange {
        /// `histogram`, `float histogram`, `gauge histogram`, ...
        kind: &'static str,
        /// Positive-side inserts.
        positive: usize,
        /// Negative-side inserts.
        negative: usize,
        /// `forwards` (chunk widens) or `backwards` (sample widens).
        direction: &'static str,
    },
}

/// The result of checking whether a histogram fits the current chunk.
#[derive(Debug, Default)]
pub(crate) struct Appendability {
    pub(crate) p_fwd: Vec<Insert>,
    pub(crate) n_fwd: Vec<Insert>,
    pub(crate) p_bwd: Vec<Insert>,
    pub(crate) n_bwd: Vec<Insert>,
    pub(crate) ok: bool,
    pub(crate) header: CounterResetHeader,
}

/// Builds an integer histogram chunk sample by sample, as Prometheus's `HistogramAppender`.
/// Timestamps must increase; the caller checks. Histograms must be valid
/// ([`Histogram::validate`]); buckets beyond what the spans describe are ignored.
#[derive(Clone, Debug)]
pub struct HistogramAppender {
    w: BitWriter,
    num: u16,
    layout: Layout,
    t: i64,
    cnt: u64,
    z_cnt: u64,
    t_delta: i64,
    cnt_delta: i64,
    z_cnt_delta: i64,
    p_buckets: Vec<i64>,
    n_buckets: Vec<i64>,
    p_deltas: Vec<i64>,
    n_deltas: Vec<i64>,
    sum: XorState,
    min_time: i64,
}

impl Default for HistogramAppender {
    fn default() -> Self {
        Self::new()
    }
}

impl HistogramAppender {
    /// Starts an empty chunk.
    pub fn new() -> Self {
        Self {
            w: BitWriter::with_prefix(&[0; HEADER_SIZE]),
            num: 0,
            layout: Layout::default(),
            t: i64::MIN,
            cnt: 0,
            z_cnt: 0,
            t_delta: 0,
            cnt_delta: 0,
            z_cnt_delta: 0,
            p_buckets: Vec::new(),
            n_buckets: Vec::new(),
            p_deltas: Vec::new(),
            n_deltas: Vec::new(),
            sum: XorState::writer(0.0),
            min_time: 0,
        }
    }

    /// The number of samples appended.
    pub fn num_samples(&self) -> u16 {
        self.num
    }

    /// The first sample's timestamp (0 when empty).
    pub fn min_time(&self) -> i64 {
        self.min_time
    }

    /// The last sample's timestamp (0 when empty).
    pub fn max_time(&self) -> i64 {
        if self.num == 0 {
            0
        } else {
            self.t
        }
    }

    /// The encoded size in bytes so far.
    pub fn size(&self) -> usize {
        self.w.buf.len()
    }

    /// The chunk's counter reset header.
    pub fn counter_reset_header(&self) -> CounterResetHeader {
        CounterResetHeader::from_flags(self.w.buf[FLAGS_POS])
    }

    /// Overrides the counter reset header (the head sets it when it cuts chunks itself).
    pub fn set_counter_reset_header(&mut self, h: CounterResetHeader) {
        set_header(&mut self.w.buf, h);
    }

    fn bytes_with_count(&self) -> Vec<u8> {
        let mut buf = self.w.buf.clone();
        buf[..2].copy_from_slice(&self.num.to_be_bytes());
        buf
    }

    /// The chunk as it stands, copied; the appender can go on.
    pub fn to_chunk(&self) -> Chunk {
        Chunk::new(Encoding::Histogram, Bytes::from(self.bytes_with_count()))
            .expect("buffer always holds the 3-byte header")
    }

    /// Finishes the chunk without copying.
    pub fn into_chunk(mut self) -> Chunk {
        self.w.buf[..2].copy_from_slice(&self.num.to_be_bytes());
        // A finished chunk lives on (in the head until its block is cut): drop the buffer's
        // growth headroom, up to half of its allocation.
        self.w.buf.shrink_to_fit();
        Chunk::new(Encoding::Histogram, Bytes::from(self.w.buf))
            .expect("buffer always holds the 3-byte header")
    }

    /// Appends `h` at `t`, cutting a new chunk or recoding this one when needed (Prometheus's
    /// `AppendHistogram` with `appendOnly` false and no previous appender).
    pub fn append(&mut self, t: i64, h: &Histogram) -> AppendOutcome<HistogramAppender> {
        self.append_after(None, t, h)
    }

    /// Like [`Self::append`]; when this chunk is empty and `prev` is the chunk it continues, the
    /// header records whether `h` is a counter reset relative to `prev`.
    pub fn append_after(
        &mut self,
        prev: Option<&HistogramAppender>,
        t: i64,
        h: &Histogram,
    ) -> AppendOutcome<HistogramAppender> {
        match self.append_inner(prev, t, h, false) {
            Ok(o) => o,
            // Only append-only appends are refused.
            Err(_) => AppendOutcome::Appended,
        }
    }

    /// Appends `h` only if it fits this chunk unchanged (no new chunk, no recoding), as
    /// Prometheus's `appendOnly` mode.
    pub fn append_only(&mut self, t: i64, h: &Histogram) -> Result<(), HistogramAppendError> {
        self.append_inner(None, t, h, true).map(|_| ())
    }

    fn append_inner(
        &mut self,
        prev: Option<&HistogramAppender>,
        t: i64,
        h: &Histogram,
        append_only: bool,
    ) -> Result<AppendOutcome<HistogramAppender>, HistogramAppendError> {
        if self.num == 0 {
            self.append_raw(t, h);
            let header = if h.counter_reset_hint == CounterResetHint::Gauge {
                CounterResetHeader::Gauge
            } else if h.counter_reset_hint == CounterResetHint::CounterReset {
                CounterResetHeader::CounterReset
            } else if let Some(p) = prev {
                p.appendable(h).header
            } else {
                self.counter_reset_header()
            };
            self.set_counter_reset_header(header);
            return Ok(AppendOutcome::Appended);
        }
        if self.num == u16::MAX {
            // Prometheus panics; a full chunk simply gets a successor.
            return self.cut(t, h, CounterResetHeader::Unknown, append_only, "histogram");
        }

        if h.counter_reset_hint != CounterResetHint::Gauge {
            let a = self.appendable(h);
            if !a.ok || a.header != CounterResetHeader::NotCounterReset {
                return self.cut(t, h, a.header, append_only, "histogram");
            }
            let mut h = Cow::Borrowed(h);
            if !a.p_bwd.is_empty() || !a.n_bwd.is_empty() {
                let hm = h.to_mut();
                if a.p_fwd.is_empty() && a.n_fwd.is_empty() {
                    hm.positive_spans = self.layout.positive_spans.clone();
                    hm.negative_spans = self.layout.negative_spans.clone();
                } else {
                    hm.positive_spans = adjust_for_inserts(&hm.positive_spans, &a.p_bwd);
                    hm.negative_spans = adjust_for_inserts(&hm.negative_spans, &a.n_bwd);
                }
                widen(hm, &a.p_bwd, &a.n_bwd);
            }
            if !a.p_fwd.is_empty() || !a.n_fwd.is_empty() {
                if append_only {
                    return Err(HistogramAppendError::LayoutChange {
                        kind: "histogram",
                        positive: a.p_fwd.len(),
                        negative: a.n_fwd.len(),
                        direction: "forwards",
                    });
                }
                let mut app = self.recode(&a.p_fwd, &a.n_fwd, &h.positive_spans, &h.negative_spans);
                app.append_raw(t, &h);
                return Ok(AppendOutcome::Recoded(app));
            }
            self.append_raw(t, &h);
            return Ok(AppendOutcome::Appended);
        }

        // A gauge histogram.
        let Some((g, p_spans, n_spans)) = self.appendable_gauge(h) else {
            return self.cut(
                t,
                h,
                CounterResetHeader::Gauge,
                append_only,
                "gauge histogram",
            );
        };
        let mut h = Cow::Borrowed(h);
        if !g.p_bwd.is_empty() || !g.n_bwd.is_empty() {
            if append_only {
                return Err(HistogramAppendError::LayoutChange {
                    kind: "gauge histogram",
                    positive: g.p_bwd.len(),
                    negative: g.n_bwd.len(),
                    direction: "backwards",
                });
            }
            let hm = h.to_mut();
            hm.positive_spans = p_spans;
            hm.negative_spans = n_spans;
            widen(hm, &g.p_bwd, &g.n_bwd);
        }
        if !g.p_fwd.is_empty() || !g.n_fwd.is_empty() {
            if append_only {
                return Err(HistogramAppendError::LayoutChange {
                    kind: "gauge histogram",
                    positive: g.p_fwd.len(),
                    negative: g.n_fwd.len(),
                    direction: "forwards",
                });
            }
            let mut app = self.recode(&g.p_fwd, &g.n_fwd, &h.positive_spans, &h.negative_spans);
            app.append_raw(t, &h);
            return Ok(AppendOutcome::Recoded(app));
        }
        self.append_raw(t, &h);
        Ok(AppendOutcome::Appended)
    }

    /// Starts a new chunk with `h`, or refuses in append-only mode.
    fn cut(
        &self,
        t: i64,
        h: &Histogram,
        header: CounterResetHeader,
        append_only: bool,
        kind: &'static str,
    ) -> Result<AppendOutcome<HistogramAppender>, HistogramAppendError> {
        if append_only {
            return Err(if header == CounterResetHeader::CounterReset {
                HistogramAppendError::CounterReset { kind }
            } else {
                HistogramAppendError::SchemaChange { kind }
            });
        }
        let mut app = HistogramAppender::new();
        app.set_counter_reset_header(header);
        app.append_raw(t, h);
        Ok(AppendOutcome::NewChunk(app))
    }

    /// Whether a counter histogram fits this chunk, and with which inserts (Prometheus's
    /// `appendable`). `header` is the reset header a new chunk would get.
    pub(crate) fn appendable(&self, h: &Histogram) -> Appendability {
        let mut a = Appendability {
            header: CounterResetHeader::NotCounterReset,
            ..Default::default()
        };
        if self.num > 0 && self.counter_reset_header() == CounterResetHeader::Gauge {
            return a;
        }
        if h.counter_reset_hint == CounterResetHint::CounterReset {
            a.header = CounterResetHeader::CounterReset;
            return a;
        }
        if is_stale_nan(h.sum) {
            a.ok = true;
            return a;
        }
        if is_stale_nan(self.sum.value) {
            a.header = CounterResetHeader::Unknown;
            return a;
        }
        if h.count < self.cnt {
            a.header = CounterResetHeader::CounterReset;
            return a;
        }
        if h.schema != self.layout.schema || h.zero_threshold != self.layout.zero_threshold {
            a.header = CounterResetHeader::Unknown;
            return a;
        }
        if h.uses_custom_buckets()
            && !strata_model::histogram::custom_bucket_bounds_match(
                &h.custom_values,
                &self.layout.custom_values,
            )
        {
            a.header = CounterResetHeader::CounterReset;
            return a;
        }
        if h.zero_count < self.z_cnt {
            a.header = CounterResetHeader::CounterReset;
            return a;
        }
        let Some((p_fwd, p_bwd)) = expand_spans_and_buckets(
            &self.layout.positive_spans,
            &h.positive_spans,
            &self.p_buckets,
            &h.positive_buckets,
        ) else {
            a.header = CounterResetHeader::CounterReset;
            return a;
        };
        let Some((n_fwd, n_bwd)) = expand_spans_and_buckets(
            &self.layout.negative_spans,
            &h.negative_spans,
            &self.n_buckets,
            &h.negative_buckets,
        ) else {
            a.header = CounterResetHeader::CounterReset;
            return a;
        };
        a.p_fwd = p_fwd;
        a.p_bwd = p_bwd;
        a.n_fwd = n_fwd;
        a.n_bwd = n_bwd;
        a.ok = true;
        a
    }

    /// Whether a gauge histogram fits, with inserts and merged spans (Prometheus's
    /// `appendableGauge`); `None` when it needs a new chunk.
    fn appendable_gauge(&self, h: &Histogram) -> Option<(Appendability, Vec<Span>, Vec<Span>)> {
        if self.num > 0 && self.counter_reset_header() != CounterResetHeader::Gauge {
            return None;
        }
        if is_stale_nan(h.sum) {
            return Some((
                Appendability {
                    ok: true,
                    ..Default::default()
                },
                Vec::new(),
                Vec::new(),
            ));
        }
        if is_stale_nan(self.sum.value)
            || h.schema != self.layout.schema
            || h.zero_threshold != self.layout.zero_threshold
            || (h.uses_custom_buckets()
                && !strata_model::histogram::custom_bucket_bounds_match(
                    &h.custom_values,
                    &self.layout.custom_values,
                ))
        {
            return None;
        }
        let (p_fwd, p_bwd, p_spans) =
            expand_spans_both_ways(&self.layout.positive_spans, &h.positive_spans);
        let (n_fwd, n_bwd, n_spans) =
            expand_spans_both_ways(&self.layout.negative_spans, &h.negative_spans);
        Some((
            Appendability {
                p_fwd,
                n_fwd,
                p_bwd,
                n_bwd,
                ok: true,
                header: CounterResetHeader::Gauge,
            },
            p_spans,
            n_spans,
        ))
    }

    /// Re-encodes this chunk's samples with the wider layout (Prometheus's `recode`).
    fn recode(
        &self,
        p_ins: &[Insert],
        n_ins: &[Insert],
        p_spans: &[Span],
        n_spans: &[Span],
    ) -> HistogramAppender {
        let bytes = self.bytes_with_count();
        let mut app = HistogramAppender::new();
        // Our own bytes always decode; a sample lost here would be a bug caught by tests.
        for (t, mut h) in HistogramIterator::new_raw(&bytes) {
            h.positive_spans = p_spans.to_vec();
            h.negative_spans = n_spans.to_vec();
            if !p_ins.is_empty() {
                h.positive_buckets = insert(&h.positive_buckets, p_ins, true);
            }
            if !n_ins.is_empty() {
                h.negative_buckets = insert(&h.negative_buckets, n_ins, true);
            }
            app.append_raw(t, &h);
        }
        app.set_counter_reset_header(self.counter_reset_header());
        app
    }

    /// Encodes one sample without any checks (Prometheus's `appendHistogram`).
    fn append_raw(&mut self, t: i64, h: &Histogram) {
        let stale_h;
        let stale = is_stale_nan(h.sum);
        let h = if stale {
            stale_h = Histogram {
                sum: h.sum,
                ..Default::default()
            };
            &stale_h
        } else {
            h
        };
        let (mut t_delta, mut cnt_delta, mut z_cnt_delta) = (0i64, 0i64, 0i64);
        if self.num == 0 {
            write_layout(
                &mut self.w,
                h.schema,
                h.zero_threshold,
                &h.positive_spans,
                &h.negative_spans,
                &h.custom_values,
            );
            self.layout = Layout {
                schema: h.schema,
                zero_threshold: h.zero_threshold,
                positive_spans: h.positive_spans.clone(),
                negative_spans: h.negative_spans.clone(),
                custom_values: h.custom_values.clone(),
            };
            let np = count_spans(&h.positive_spans) as usize;
            let nn = count_spans(&h.negative_spans) as usize;
            self.p_buckets = vec![0; np];
            self.p_deltas = vec![0; np];
            self.n_buckets = vec![0; nn];
            self.n_deltas = vec![0; nn];
            put_varbit_int(&mut self.w, t);
            put_varbit_uint(&mut self.w, h.count);
            put_varbit_uint(&mut self.w, h.zero_count);
            self.w.write_bits(h.sum.to_bits(), 64);
            self.sum = XorState::writer(h.sum);
            for i in 0..np {
                put_varbit_int(&mut self.w, h.positive_buckets.get(i).copied().unwrap_or(0));
            }
            for i in 0..nn {
                put_varbit_int(&mut self.w, h.negative_buckets.get(i).copied().unwrap_or(0));
            }
            self.min_time = t;
        } else {
            t_delta = t.wrapping_sub(self.t);
            cnt_delta = (h.count as i64).wrapping_sub(self.cnt as i64);
            z_cnt_delta = (h.zero_count as i64).wrapping_sub(self.z_cnt as i64);
            let t_dod = t_delta.wrapping_sub(self.t_delta);
            let (mut cnt_dod, mut z_dod) = (
                cnt_delta.wrapping_sub(self.cnt_delta),
                z_cnt_delta.wrapping_sub(self.z_cnt_delta),
            );
            if stale {
                cnt_dod = 0;
                z_dod = 0;
            }
            put_varbit_int(&mut self.w, t_dod);
            put_varbit_int(&mut self.w, cnt_dod);
            put_varbit_int(&mut self.w, z_dod);
            self.sum.write(&mut self.w, h.sum);
            if !stale {
                write_bucket_dods(
                    &mut self.w,
                    &h.positive_buckets,
                    &self.p_buckets,
                    &mut self.p_deltas,
                );
                write_bucket_dods(
                    &mut self.w,
                    &h.negative_buckets,
                    &self.n_buckets,
                    &mut self.n_deltas,
                );
            }
        }
        self.t = t;
        self.cnt = h.count;
        self.z_cnt = h.zero_count;
        self.t_delta = t_delta;
        self.cnt_delta = cnt_delta;
        self.z_cnt_delta = z_cnt_delta;
        for (d, s) in self.p_buckets.iter_mut().zip(&h.positive_buckets) {
            *d = *s;
        }
        for (d, s) in self.n_buckets.iter_mut().zip(&h.negative_buckets) {
            *d = *s;
        }
        self.num += 1;
    }
}

/// Writes each bucket's delta-of-delta against the previous sample and remembers the deltas.
fn write_bucket_dods(w: &mut BitWriter, cur: &[i64], prev: &[i64], deltas: &mut [i64]) {
    for (i, (p, d)) in prev.iter().zip(deltas.iter_mut()).enumerate() {
        let b = cur.get(i).copied().unwrap_or(0);
        let delta = b.wrapping_sub(*p);
        put_varbit_int(w, delta.wrapping_sub(*d));
        *d = delta;
    }
}

/// Widens a histogram by empty buckets (Prometheus's `recodeHistogram`).
fn widen(h: &mut Histogram, p_bwd: &[Insert], n_bwd: &[Insert]) {
    if !p_bwd.is_empty() {
        h.positive_buckets = insert(&h.positive_buckets, p_bwd, true);
    }
    if !n_bwd.is_empty() {
        h.negative_buckets = insert(&h.negative_buckets, n_bwd, true);
    }
}

#[cfg(test)]
#[path = "histogram_tests.rs"]
pub(crate) mod tests;
