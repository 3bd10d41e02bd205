//! Float histogram chunks (encoding 3), byte for byte as Prometheus's `FloatHistogramChunk`.
//!
//! Same header and layout as integer histogram chunks. Sample 0 stores the timestamp as
//! `<varbit_int>` and count, zero count, sum and every bucket (absolute) as 64 raw bits; later
//! samples store the timestamp as a delta (sample 1) or delta-of-delta `<varbit_int>` and every
//! float as an XOR with its own previous value, each field keeping its own leading/trailing-zero
//! window. A stale marker writes count, zero count and sum (as XORs) and no buckets.

use std::borrow::Cow;

use bytes::Bytes;
use strata_model::histogram::{custom_bucket_bounds_match, CounterResetHint, FloatHistogram, Span};
use strata_model::is_stale_nan;

use crate::bstream::BitWriter;
use crate::chunk::{Chunk, Encoding};
use crate::float_histogram_iter::FloatHistogramIterator;
use crate::histogram::{AppendOutcome, Appendability, HistogramAppendError};
use crate::histogram_meta::{
    adjust_for_inserts, count_spans, expand_spans_and_buckets, expand_spans_both_ways, insert,
    set_header, write_layout, CounterResetHeader, Insert, Layout, FLAGS_POS, HEADER_SIZE,
};
use crate::varbit::{put_varbit_int, XorState};

/// Builds a float histogram chunk sample by sample, as Prometheus's `FloatHistogramAppender`.
/// Timestamps must increase; the caller checks. Histograms must be valid
/// ([`FloatHistogram::validate`]); buckets beyond what the spans describe are ignored.
#[derive(Clone, Debug)]
pub struct FloatHistogramAppender {
    w: BitWriter,
    num: u16,
    layout: Layout,
    t: i64,
    t_delta: i64,
    cnt: XorState,
    z_cnt: XorState,
    sum: XorState,
    p_buckets: Vec<XorState>,
    n_buckets: Vec<XorState>,
    min_time: i64,
}

impl Default for FloatHistogramAppender {
    fn default() -> Self {
        Self::new()
    }
}

impl FloatHistogramAppender {
    /// Starts an empty chunk.
    pub fn new() -> Self {
        Self {
            w: BitWriter::with_prefix(&[0; HEADER_SIZE]),
            num: 0,
            layout: Layout::default(),
            t: i64::MIN,
            t_delta: 0,
            cnt: XorState::writer(0.0),
            z_cnt: XorState::writer(0.0),
            sum: XorState::writer(0.0),
            p_buckets: Vec::new(),
            n_buckets: Vec::new(),
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

    /// Overrides the counter reset header.
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
        Chunk::new(
            Encoding::FloatHistogram,
            Bytes::from(self.bytes_with_count()),
        )
        .expect("buffer always holds the 3-byte header")
    }

    /// Finishes the chunk without copying.
    pub fn into_chunk(mut self) -> Chunk {
        self.w.buf[..2].copy_from_slice(&self.num.to_be_bytes());
        // A finished chunk lives on (in the head until its block is cut): drop the buffer's
        // growth headroom, up to half of its allocation.
        self.w.buf.shrink_to_fit();
        Chunk::new(Encoding::FloatHistogram, Bytes::from(self.w.buf))
            .expect("buffer always holds the 3-byte header")
    }

    /// Appends `h` at `t`, cutting a new chunk or recoding this one when needed (Prometheus's
    /// `AppendFloatHistogram` with `appendOnly` false and no previous appender).
    pub fn append(&mut self, t: i64, h: &FloatHistogram) -> AppendOutcome<FloatHistogramAppender> {
        self.append_after(None, t, h)
    }

    /// Like [`Self::append`]; when this chunk is empty and `prev` is the chunk it continues, the
    /// header records whether `h` is a counter reset relative to `prev`.
    pub fn append_after(
        &mut self,
        prev: Option<&FloatHistogramAppender>,
        t: i64,
        h: &FloatHistogram,
    ) -> AppendOutcome<FloatHistogramAppender> {
        match self.append_inner(prev, t, h, false) {
            Ok(o) => o,
            // Only append-only appends are refused.
            Err(_) => AppendOutcome::Appended,
        }
    }

    /// Appends `h` only if it fits this chunk unchanged (no new chunk, no recoding).
    pub fn append_only(&mut self, t: i64, h: &FloatHistogram) -> Result<(), HistogramAppendError> {
        self.append_inner(None, t, h, true).map(|_| ())
    }

    fn append_inner(
        &mut self,
        prev: Option<&FloatHistogramAppender>,
        t: i64,
        h: &FloatHistogram,
        append_only: bool,
    ) -> Result<AppendOutcome<FloatHistogramAppender>, HistogramAppendError> {
        if self.num == 0 {
            self.append_raw(t, h);
            let header = if h.counter_reset_hint == CounterResetHint::Gauge {
                CounterResetHeader::Gauge
            } else if h.counter_reset_hint == CounterResetHint::CounterReset {
                CounterResetHeader::CounterReset
            } else if let Some(p) = prev {
                if p.appendable(h).1 {
                    CounterResetHeader::CounterReset
                } else {
                    CounterResetHeader::NotCounterReset
                }
            } else {
                self.counter_reset_header()
            };
            self.set_counter_reset_header(header);
            return Ok(AppendOutcome::Appended);
        }
        if self.num == u16::MAX {
            return self.cut(
                t,
                h,
                CounterResetHeader::Unknown,
                append_only,
                "float histogram",
            );
        }

        if h.counter_reset_hint != CounterResetHint::Gauge {
            let (a, counter_reset) = self.appendable(h);
            if !a.ok || counter_reset {
                let header = if counter_reset {
                    CounterResetHeader::CounterReset
                } else {
                    CounterResetHeader::Unknown
                };
                return self.cut(t, h, header, append_only, "float histogram");
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
                        kind: "float histogram",
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

        let Some((g, p_spans, n_spans)) = self.appendable_gauge(h) else {
            return self.cut(
                t,
                h,
                CounterResetHeader::Gauge,
                append_only,
                "float gauge histogram",
            );
        };
        let mut h = Cow::Borrowed(h);
        if !g.p_bwd.is_empty() || !g.n_bwd.is_empty() {
            if append_only {
                return Err(HistogramAppendError::LayoutChange {
                    kind: "float gauge histogram",
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
                    kind: "float gauge histogram",
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

    fn cut(
        &self,
        t: i64,
        h: &FloatHistogram,
        header: CounterResetHeader,
        append_only: bool,
        kind: &'static str,
    ) -> Result<AppendOutcome<FloatHistogramAppender>, HistogramAppendError> {
        if append_only {
            return Err(if header == CounterResetHeader::CounterReset {
                HistogramAppendError::CounterReset { kind }
            } else {
                HistogramAppendError::SchemaChange { kind }
            });
        }
        let mut app = FloatHistogramAppender::new();
        app.set_counter_reset_header(header);
        app.append_raw(t, h);
        Ok(AppendOutcome::NewChunk(app))
    }

    /// Whether a counter histogram fits this chunk, and whether it is a counter reset
    /// (Prometheus's float `appendable`).
    fn appendable(&self, h: &FloatHistogram) -> (Appendability, bool) {
        let mut a = Appendability::default();
        if self.num > 0 && self.counter_reset_header() == CounterResetHeader::Gauge {
            return (a, false);
        }
        if h.counter_reset_hint == CounterResetHint::CounterReset {
            return (a, true);
        }
        if is_stale_nan(h.sum) {
            a.ok = true;
            return (a, false);
        }
        if is_stale_nan(self.sum.value) {
            return (a, false);
        }
        if h.count < self.cnt.value {
            return (a, true);
        }
        if h.schema != self.layout.schema || h.zero_threshold != self.layout.zero_threshold {
            return (a, false);
        }
        if h.uses_custom_buckets()
            && !custom_bucket_bounds_match(&h.custom_values, &self.layout.custom_values)
        {
            return (a, true);
        }
        if h.zero_count < self.z_cnt.value {
            return (a, true);
        }
        let pv: Vec<f64> = self.p_buckets.iter().map(|x| x.value).collect();
        let nv: Vec<f64> = self.n_buckets.iter().map(|x| x.value).collect();
        let Some((p_fwd, p_bwd)) = expand_spans_and_buckets(
            &self.layout.positive_spans,
            &h.positive_spans,
            &pv,
            &h.positive_buckets,
        ) else {
            return (a, true);
        };
        let Some((n_fwd, n_bwd)) = expand_spans_and_buckets(
            &self.layout.negative_spans,
            &h.negative_spans,
            &nv,
            &h.negative_buckets,
        ) else {
            return (a, true);
        };
        a.p_fwd = p_fwd;
        a.p_bwd = p_bwd;
        a.n_fwd = n_fwd;
        a.n_bwd = n_bwd;
        a.ok = true;
        (a, false)
    }

    fn appendable_gauge(
        &self,
        h: &FloatHistogram,
    ) -> Option<(Appendability, Vec<Span>, Vec<Span>)> {
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
                && !custom_bucket_bounds_match(&h.custom_values, &self.layout.custom_values))
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

    fn recode(
        &self,
        p_ins: &[Insert],
        n_ins: &[Insert],
        p_spans: &[Span],
        n_spans: &[Span],
    ) -> FloatHistogramAppender {
        let bytes = self.bytes_with_count();
        let mut app = FloatHistogramAppender::new();
        // Our own bytes always decode; a sample lost here would be a bug caught by tests.
        for (t, mut h) in FloatHistogramIterator::new_raw(&bytes) {
            h.positive_spans = p_spans.to_vec();
            h.negative_spans = n_spans.to_vec();
            if !p_ins.is_empty() {
                h.positive_buckets = insert(&h.positive_buckets, p_ins, false);
            }
            if !n_ins.is_empty() {
                h.negative_buckets = insert(&h.negative_buckets, n_ins, false);
            }
            app.append_raw(t, &h);
        }
        app.set_counter_reset_header(self.counter_reset_header());
        app
    }

    /// Encodes one sample without any checks (Prometheus's `appendFloatHistogram`).
    fn append_raw(&mut self, t: i64, h: &FloatHistogram) {
        let stale_h;
        let stale = is_stale_nan(h.sum);
        let h = if stale {
            stale_h = FloatHistogram {
                sum: h.sum,
                ..Default::default()
            };
            &stale_h
        } else {
            h
        };
        let mut t_delta = 0i64;
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
            let get = |v: &[f64], i: usize| v.get(i).copied().unwrap_or(0.0);
            self.p_buckets = (0..np)
                .map(|i| XorState::writer(get(&h.positive_buckets, i)))
                .collect();
            self.n_buckets = (0..nn)
                .map(|i| XorState::writer(get(&h.negative_buckets, i)))
                .collect();
            put_varbit_int(&mut self.w, t);
            self.w.write_bits(h.count.to_bits(), 64);
            self.w.write_bits(h.zero_count.to_bits(), 64);
            self.w.write_bits(h.sum.to_bits(), 64);
            self.cnt.value = h.count;
            self.z_cnt.value = h.zero_count;
            self.sum.value = h.sum;
            for b in self.p_buckets.iter().chain(&self.n_buckets) {
                self.w.write_bits(b.value.to_bits(), 64);
            }
            self.min_time = t;
        } else {
            t_delta = t.wrapping_sub(self.t);
            put_varbit_int(&mut self.w, t_delta.wrapping_sub(self.t_delta));
            self.cnt.write(&mut self.w, h.count);
            self.z_cnt.write(&mut self.w, h.zero_count);
            self.sum.write(&mut self.w, h.sum);
            if !stale {
                for (i, s) in self.p_buckets.iter_mut().enumerate() {
                    s.write(
                        &mut self.w,
                        h.positive_buckets.get(i).copied().unwrap_or(0.0),
                    );
                }
                for (i, s) in self.n_buckets.iter_mut().enumerate() {
                    s.write(
                        &mut self.w,
                        h.negative_buckets.get(i).copied().unwrap_or(0.0),
                    );
                }
            }
        }
        self.t = t;
        self.t_delta = t_delta;
        self.num += 1;
    }
}

fn widen(h: &mut FloatHistogram, p_bwd: &[Insert], n_bwd: &[Insert]) {
    if !p_bwd.is_empty() {
        h.positive_buckets = insert(&h.positive_buckets, p_bwd, false);
    }
    if !n_bwd.is_empty() {
        h.negative_buckets = insert(&h.negative_buckets, n_bwd, false);
    }
}

#[cfg(test)]
#[path = "float_histogram_tests.rs"]
mod tests;
