//! What the integer and float histogram chunks share: the 3-byte header with its counter-reset
//! bits, the bucket layout written once per chunk, and the bookkeeping to widen a chunk's layout
//! when new buckets appear (Prometheus's `histogram_meta.go`).
//!
//! Layout, after the header: zero threshold (1 byte: 0 → 0.0, 1..=254 → 2^(b-244), 255 → 8 raw
//! bytes follow), schema `<varbit_int>`, positive then negative spans (`<varbit_uint>` count, then
//! per span `<varbit_uint>` length and `<varbit_int>` offset), and for schema -53 the custom
//! bounds (`<varbit_uint>` count, each bound as `<varbit_uint>` `x*1000+1` when that is a whole
//! number up to 33554430, else a 0 bit and the 64 raw bits).

use strata_model::histogram::{is_custom_buckets_schema, CounterResetHint, HistogramError, Span};

use crate::bstream::{BitReader, BitWriter};
use crate::varbit::{put_varbit_int, put_varbit_uint, read_varbit_int, read_varbit_uint};

/// Bytes before the bit stream: `u16` sample count and the flags byte.
pub(crate) const HEADER_SIZE: usize = 3;
/// Position of the flags byte.
pub(crate) const FLAGS_POS: usize = 2;
/// The counter-reset bits within the flags byte.
const COUNTER_RESET_MASK: u8 = 0b1100_0000;

/// The chunk-level counter reset information in the top two bits of header byte 2.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum CounterResetHeader {
    /// Unknown whether this chunk was cut because of a counter reset (`00`).
    #[default]
    Unknown = 0b0000_0000,
    /// The chunk was cut because of a counter reset (`10`).
    CounterReset = 0b1000_0000,
    /// The chunk continues the previous one without a counter reset (`01`).
    NotCounterReset = 0b0100_0000,
    /// The chunk holds gauge histograms (`11`).
    Gauge = 0b1100_0000,
}

impl CounterResetHeader {
    /// The header for a flags byte (other bits ignored).
    pub fn from_flags(b: u8) -> Self {
        match b & COUNTER_RESET_MASK {
            0b1000_0000 => CounterResetHeader::CounterReset,
            0b0100_0000 => CounterResetHeader::NotCounterReset,
            0b1100_0000 => CounterResetHeader::Gauge,
            _ => CounterResetHeader::Unknown,
        }
    }

    /// The header a chunk starting with a histogram with this hint gets, as Prometheus's
    /// `CounterResetHintToHeader`.
    pub fn from_hint(hint: CounterResetHint) -> Self {
        match hint {
            CounterResetHint::CounterReset => CounterResetHeader::CounterReset,
            CounterResetHint::NotCounterReset => CounterResetHeader::NotCounterReset,
            CounterResetHint::Gauge => CounterResetHeader::Gauge,
            CounterResetHint::Unknown => CounterResetHeader::Unknown,
        }
    }
}

/// Sets the counter-reset bits of a chunk buffer's flags byte.
pub(crate) fn set_header(buf: &mut [u8], h: CounterResetHeader) {
    buf[FLAGS_POS] = (buf[FLAGS_POS] & !COUNTER_RESET_MASK) | h as u8;
}

/// The hint a decoded histogram carries: chunks give reset information per chunk, so only gauge
/// chunks and samples after the first say anything (Prometheus's `counterResetHint`).
pub(crate) fn hint_for(h: CounterResetHeader, num_read: u16) -> CounterResetHint {
    if h == CounterResetHeader::Gauge {
        CounterResetHint::Gauge
    } else if num_read > 1 {
        CounterResetHint::NotCounterReset
    } else {
        CounterResetHint::Unknown
    }
}

/// A histogram chunk could not be decoded.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum HistogramChunkError {
    /// The bit stream ended before the sample count in the header was read.
    #[error("histogram chunk ends after {read} of {expected} samples")]
    Truncated {
        /// Samples decoded before the end.
        read: u16,
        /// Samples the header declares.
        expected: u16,
    },
    /// The chunk is shorter than its 3-byte header.
    #[error("histogram chunk of {0} bytes is shorter than its 3-byte header")]
    TooShort(usize),
    /// The layout's schema is not one Prometheus knows.
    #[error("reading histogram chunk layout: {0}")]
    Schema(HistogramError),
    /// The layout declares more buckets or bounds than the chunk's bits could hold.
    #[error("histogram chunk layout declares {declared} buckets or bounds in {bits} bits")]
    ImplausibleLayout {
        /// Buckets plus custom bounds declared.
        declared: u64,
        /// Bits in the chunk.
        bits: u64,
    },
}

/// A chunk's bucket layout.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Layout {
    pub(crate) schema: i32,
    pub(crate) zero_threshold: f64,
    pub(crate) positive_spans: Vec<Span>,
    pub(crate) negative_spans: Vec<Span>,
    pub(crate) custom_values: Vec<f64>,
}

/// Writes the layout at the start of the bit stream.
pub(crate) fn write_layout(
    w: &mut BitWriter,
    schema: i32,
    zero_threshold: f64,
    positive_spans: &[Span],
    negative_spans: &[Span],
    custom_values: &[f64],
) {
    put_zero_threshold(w, zero_threshold);
    put_varbit_int(w, i64::from(schema));
    put_spans(w, positive_spans);
    put_spans(w, negative_spans);
    if is_custom_buckets_schema(schema) {
        put_varbit_uint(w, custom_values.len() as u64);
        for &v in custom_values {
            put_custom_bound(w, v);
        }
    }
}

/// Reads the layout; `None` when the stream ends early.
pub(crate) fn read_layout(
    r: &mut BitReader<'_>,
    bits: u64,
) -> Option<Result<Layout, HistogramChunkError>> {
    let zero_threshold = read_zero_threshold(r)?;
    let schema = read_varbit_int(r)? as i32;
    let positive_spans = read_spans(r)?;
    let negative_spans = read_spans(r)?;
    let mut custom_values = Vec::new();
    if is_custom_buckets_schema(schema) {
        let n = read_varbit_uint(r)?;
        if n > bits {
            return Some(Err(HistogramChunkError::ImplausibleLayout {
                declared: n,
                bits,
            }));
        }
        for _ in 0..n {
            custom_values.push(read_custom_bound(r)?);
        }
    }
    let declared = count_spans(&positive_spans) + count_spans(&negative_spans);
    if declared > bits {
        return Some(Err(HistogramChunkError::ImplausibleLayout {
            declared,
            bits,
        }));
    }
    Some(Ok(Layout {
        schema,
        zero_threshold,
        positive_spans,
        negative_spans,
        custom_values,
    }))
}

/// The number of buckets spans describe.
pub(crate) fn count_spans(spans: &[Span]) -> u64 {
    spans.iter().map(|s| u64::from(s.length)).sum()
}

fn put_spans(w: &mut BitWriter, spans: &[Span]) {
    put_varbit_uint(w, spans.len() as u64);
    for s in spans {
        put_varbit_uint(w, u64::from(s.length));
        put_varbit_int(w, i64::from(s.offset));
    }
}

fn read_spans(r: &mut BitReader<'_>) -> Option<Vec<Span>> {
    let n = read_varbit_uint(r)?;
    // Each span takes at least two bits, so a short stream ends this loop early.
    let mut spans = Vec::new();
    for _ in 0..n {
        let length = read_varbit_uint(r)? as u32;
        let offset = read_varbit_int(r)? as i32;
        spans.push(Span::new(offset, length));
    }
    Some(spans)
}

/// One byte for 0 or a power of two 2^-243..=2^10, else 255 and the raw float.
pub(crate) fn put_zero_threshold(w: &mut BitWriter, threshold: f64) {
    if threshold == 0.0 {
        w.write_byte(0);
        return;
    }
    let bits = threshold.to_bits();
    let biased = ((bits >> 52) & 0x7ff) as i32;
    let mantissa = bits & ((1u64 << 52) - 1);
    // Go's Frexp gives frac 0.5 exactly for positive normal powers of two; its exponent is
    // one above the IEEE exponent.
    let exp = biased - 1023 + 1;
    if bits >> 63 == 0
        && mantissa == 0
        && biased != 0
        && biased != 0x7ff
        && (-242..=11).contains(&exp)
    {
        w.write_byte((exp + 243) as u8);
        return;
    }
    w.write_byte(255);
    w.write_bits(bits, 64);
}

fn read_zero_threshold(r: &mut BitReader<'_>) -> Option<f64> {
    match r.read_bits(8)? as u8 {
        0 => Some(0.0),
        255 => Some(f64::from_bits(r.read_bits(64)?)),
        b => Some(f64::from_bits(((i64::from(b) - 244 + 1023) as u64) << 52)),
    }
}

/// Tells whether `x * 1000` is a whole number exactly representable back as `x`.
fn is_whole_when_multiplied(x: f64) -> bool {
    let i = (x * 1000.0).round() as u64;
    x == i as f64 / 1000.0
}

pub(crate) fn put_custom_bound(w: &mut BitWriter, x: f64) {
    let tf = x * 1000.0;
    if !(0.0..=33_554_430.0).contains(&tf) || !is_whole_when_multiplied(x) {
        w.write_bit(false);
        w.write_bits(x.to_bits(), 64);
        return;
    }
    put_varbit_uint(w, tf.round() as u64 + 1);
}

fn read_custom_bound(r: &mut BitReader<'_>) -> Option<f64> {
    match read_varbit_uint(r)? {
        0 => Some(f64::from_bits(r.read_bits(64)?)),
        b => Some((b - 1) as f64 / 1000.0),
    }
}

/// A run of `num` buckets to insert before position `pos` of a bucket slice; `bucket_idx` is the
/// first new bucket's index.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Insert {
    pub(crate) pos: usize,
    pub(crate) num: usize,
    pub(crate) bucket_idx: i64,
}

/// Iterates the bucket indices spans describe.
struct SpanIndices<'a> {
    spans: &'a [Span],
    span: usize,
    in_span: u32,
    idx: i64,
    entered: bool,
}

impl<'a> SpanIndices<'a> {
    fn new(spans: &'a [Span]) -> Self {
        Self {
            spans,
            span: 0,
            in_span: 0,
            idx: 0,
            entered: false,
        }
    }
}

impl Iterator for SpanIndices<'_> {
    type Item = i64;

    fn next(&mut self) -> Option<i64> {
        loop {
            let s = self.spans.get(self.span)?;
            if !self.entered {
                self.idx += i64::from(s.offset);
                self.entered = true;
            }
            if self.in_span < s.length {
                let i = self.idx;
                self.idx += 1;
                self.in_span += 1;
                return Some(i);
            }
            self.span += 1;
            self.in_span = 0;
            self.entered = false;
        }
    }
}

/// A bucket value as a chunk stores it: `i64` deltas (integer) or `f64` absolute counts.
pub(crate) trait ChunkBucket: Copy + Default + PartialOrd {
    /// The absolute count of a bucket given the previous absolute count and its stored value.
    fn next_abs(prev: Self, stored: Self) -> Self;
    fn is_zero(self) -> bool;
    fn plus(self, o: Self) -> Self;
    fn negate(self) -> Self;
}

impl ChunkBucket for i64 {
    fn next_abs(prev: Self, stored: Self) -> Self {
        prev.wrapping_add(stored)
    }
    fn is_zero(self) -> bool {
        self == 0
    }
    fn plus(self, o: Self) -> Self {
        self.wrapping_add(o)
    }
    fn negate(self) -> Self {
        self.wrapping_neg()
    }
}

impl ChunkBucket for f64 {
    fn next_abs(_prev: Self, stored: Self) -> Self {
        stored
    }
    fn is_zero(self) -> bool {
        self == 0.0
    }
    fn plus(self, o: Self) -> Self {
        self + o
    }
    fn negate(self) -> Self {
        -self
    }
}

fn add_insert(inserts: &mut Vec<Insert>, cur: &mut Insert, other_idx: i64) {
    if cur.num == 0 {
        cur.bucket_idx = other_idx;
    } else if cur.bucket_idx + cur.num as i64 != other_idx {
        inserts.push(*cur);
        cur.num = 0;
        cur.bucket_idx = other_idx;
    }
    cur.num += 1;
}

/// For a counter histogram: the inserts that widen the chunk's layout `a` to also hold the new
/// histogram's buckets `b` (forward), and the inserts that widen `b` by the chunk's buckets it
/// lacks (backward). `None` means a counter reset: a bucket shrank, or a populated bucket of `a`
/// is missing from `b` (Prometheus's `expandIntSpansAndBuckets`/`expandFloatSpansAndBuckets`).
pub(crate) fn expand_spans_and_buckets<T: ChunkBucket>(
    a: &[Span],
    b: &[Span],
    a_buckets: &[T],
    b_buckets: &[T],
) -> Option<(Vec<Insert>, Vec<Insert>)> {
    let mut ai = SpanIndices::new(a);
    let mut bi = SpanIndices::new(b);
    let (mut a_ins, mut b_ins) = (Vec::new(), Vec::new());
    let (mut a_inter, mut b_inter) = (Insert::default(), Insert::default());
    let mut a_idx = ai.next();
    let mut b_idx = bi.next();
    let (mut a_pos, mut b_pos) = (0usize, 0usize);
    let get = |v: &[T], i: usize| v.get(i).copied().unwrap_or_default();
    let mut a_count = if a_idx.is_some() {
        T::next_abs(T::default(), get(a_buckets, 0))
    } else {
        T::default()
    };
    let mut b_count = if b_idx.is_some() {
        T::next_abs(T::default(), get(b_buckets, 0))
    } else {
        T::default()
    };

    macro_rules! advance_a {
        () => {{
            if a_inter.num > 0 {
                a_ins.push(a_inter);
                a_inter.num = 0;
            }
            a_idx = ai.next();
            a_inter.pos += 1;
            a_pos += 1;
            if a_idx.is_some() {
                a_count = T::next_abs(a_count, get(a_buckets, a_pos));
            }
        }};
    }
    macro_rules! advance_b {
        () => {{
            if b_inter.num > 0 {
                b_ins.push(b_inter);
                b_inter.num = 0;
            }
            b_idx = bi.next();
            b_inter.pos += 1;
            b_pos += 1;
            if b_idx.is_some() {
                b_count = T::next_abs(b_count, get(b_buckets, b_pos));
            }
        }};
    }

    loop {
        match (a_idx, b_idx) {
            (Some(ia), Some(ib)) => {
                if ia == ib {
                    if a_count > b_count {
                        return None;
                    }
                    advance_a!();
                    advance_b!();
                } else if ia < ib {
                    // b lacks a bucket of a: fine only if it was empty.
                    if !a_count.is_zero() {
                        return None;
                    }
                    add_insert(&mut b_ins, &mut b_inter, ia);
                    advance_a!();
                } else {
                    add_insert(&mut a_ins, &mut a_inter, ib);
                    advance_b!();
                }
            }
            (Some(ia), None) => {
                if !a_count.is_zero() {
                    return None;
                }
                add_insert(&mut b_ins, &mut b_inter, ia);
                advance_a!();
            }
            (None, Some(ib)) => {
                add_insert(&mut a_ins, &mut a_inter, ib);
                advance_b!();
            }
            (None, None) => {
                if a_inter.num > 0 {
                    a_ins.push(a_inter);
                }
                if b_inter.num > 0 {
                    b_ins.push(b_inter);
                }
                return Some((a_ins, b_ins));
            }
        }
    }
}

/// For gauge histograms: inserts to widen `a` by `b`'s buckets (forward) and `b` by `a`'s
/// (backward), and the merged spans (Prometheus's `expandSpansBothWays`).
pub(crate) fn expand_spans_both_ways(
    a: &[Span],
    b: &[Span],
) -> (Vec<Insert>, Vec<Insert>, Vec<Span>) {
    let mut ai = SpanIndices::new(a);
    let mut bi = SpanIndices::new(b);
    let (mut f_ins, mut b_ins) = (Vec::new(), Vec::new());
    let (mut f_inter, mut b_inter) = (Insert::default(), Insert::default());
    let mut merged: Vec<Span> = Vec::new();
    let mut last: i64 = 0;
    let mut add_bucket = |merged: &mut Vec<Span>, idx: i64| {
        let mut offset = idx - last - 1;
        if offset == 0 && !merged.is_empty() {
            if let Some(s) = merged.last_mut() {
                s.length += 1;
            }
        } else {
            if merged.is_empty() {
                offset += 1;
            }
            merged.push(Span::new(offset as i32, 1));
        }
        last = idx;
    };
    let mut av = ai.next();
    let mut bv = bi.next();
    loop {
        match (av, bv) {
            (Some(x), Some(y)) if x == y => {
                if f_inter.num > 0 {
                    f_ins.push(f_inter);
                    f_inter.num = 0;
                }
                if b_inter.num > 0 {
                    b_ins.push(b_inter);
                    b_inter.num = 0;
                }
                add_bucket(&mut merged, x);
                av = ai.next();
                bv = bi.next();
                f_inter.pos += 1;
                b_inter.pos += 1;
            }
            (Some(x), Some(y)) if x < y => {
                b_inter.num += 1;
                if f_inter.num > 0 {
                    f_ins.push(f_inter);
                    f_inter.num = 0;
                }
                add_bucket(&mut merged, x);
                f_inter.pos += 1;
                av = ai.next();
            }
            (Some(_), Some(y)) => {
                f_inter.num += 1;
                if b_inter.num > 0 {
                    b_ins.push(b_inter);
                    b_inter.num = 0;
                }
                add_bucket(&mut merged, y);
                b_inter.pos += 1;
                bv = bi.next();
            }
            (Some(x), None) => {
                b_inter.num += 1;
                add_bucket(&mut merged, x);
                av = ai.next();
            }
            (None, Some(y)) => {
                f_inter.num += 1;
                add_bucket(&mut merged, y);
                bv = bi.next();
            }
            (None, None) => {
                if f_inter.num > 0 {
                    f_ins.push(f_inter);
                }
                if b_inter.num > 0 {
                    b_ins.push(b_inter);
                }
                return (f_ins, b_ins, merged);
            }
        }
    }
}

/// Returns `input` with the inserted (empty) buckets; for deltas, the bucket after an insert is
/// re-based so absolute counts are unchanged (Prometheus's `insert`).
pub(crate) fn insert<T: ChunkBucket>(input: &[T], inserts: &[Insert], deltas: bool) -> Vec<T> {
    let extra: usize = inserts.iter().map(|i| i.num).sum();
    let mut out = Vec::with_capacity(input.len() + extra);
    let mut v = T::default();
    let mut ii = 0;
    for (i, &d) in input.iter().enumerate() {
        if ii >= inserts.len() || i != inserts[ii].pos {
            out.push(d);
            v = v.plus(d);
            continue;
        }
        let mut first = true;
        while ii < inserts.len() && i == inserts[ii].pos {
            if deltas && first {
                out.push(v.negate());
                first = false;
            } else {
                out.push(T::default());
            }
            out.extend(std::iter::repeat_n(
                T::default(),
                inserts[ii].num.saturating_sub(1),
            ));
            ii += 1;
        }
        out.push(if deltas { d.plus(v) } else { d });
        v = v.plus(d);
    }
    while ii < inserts.len() {
        out.push(if deltas { v.negate() } else { T::default() });
        out.extend(std::iter::repeat_n(
            T::default(),
            inserts[ii].num.saturating_sub(1),
        ));
        ii += 1;
        v = T::default();
    }
    out
}

/// Spans widened by backward inserts (Prometheus's `adjustForInserts`).
pub(crate) fn adjust_for_inserts(spans: &[Span], inserts: &[Insert]) -> Vec<Span> {
    if inserts.is_empty() {
        return spans.to_vec();
    }
    let mut merged: Vec<Span> = Vec::new();
    let mut last: i64 = 0;
    let mut add_bucket = |merged: &mut Vec<Span>, idx: i64| {
        let mut offset = idx - last - 1;
        if offset == 0 && !merged.is_empty() {
            if let Some(s) = merged.last_mut() {
                s.length += 1;
            }
        } else {
            if merged.is_empty() {
                offset += 1;
            }
            merged.push(Span::new(offset as i32, 1));
        }
        last = idx;
    };
    let mut i = 0;
    let mut ins_idx = inserts[0].bucket_idx;
    let mut ins_num = inserts[0].num;
    let consume = |i: &mut usize, ins_idx: &mut i64, ins_num: &mut usize| {
        *ins_num -= 1;
        if *ins_num == 0 {
            *i += 1;
            if let Some(n) = inserts.get(*i) {
                *ins_idx = n.bucket_idx;
                *ins_num = n.num;
            }
        } else {
            *ins_idx += 1;
        }
    };
    let mut it = SpanIndices::new(spans);
    let mut bucket = it.next();
    while let Some(b) = bucket {
        if i < inserts.len() && ins_idx < b {
            add_bucket(&mut merged, ins_idx);
            consume(&mut i, &mut ins_idx, &mut ins_num);
        } else {
            add_bucket(&mut merged, b);
            bucket = it.next();
        }
    }
    while i < inserts.len() {
        add_bucket(&mut merged, ins_idx);
        consume(&mut i, &mut ins_idx, &mut ins_num);
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sp(v: &[(i32, u32)]) -> Vec<Span> {
        v.iter().map(|&(o, l)| Span::new(o, l)).collect()
    }

    #[test]
    fn zero_threshold_encoding_follows_format_doc() {
        let enc = |t: f64| {
            let mut w = BitWriter::default();
            put_zero_threshold(&mut w, t);
            w.buf
        };
        assert_eq!(enc(0.0), vec![0]);
        // 2^-128 = 0.5 * 2^-127 → exponent -127 → byte -127 + 243 = 116.
        assert_eq!(enc(2f64.powi(-128)), vec![116]);
        // 1.0 = 0.5 * 2^1 → 244; 2^10 = 0.5 * 2^11 → 254 (largest one-byte value).
        assert_eq!(enc(1.0), vec![244]);
        assert_eq!(enc(1024.0), vec![254]);
        // 2^-243 = 0.5 * 2^-242 → 1 (smallest one-byte value).
        assert_eq!(enc(2f64.powi(-243)), vec![1]);
        // Not a power of two, or out of range: 255 + raw bits.
        let mut want = vec![255];
        want.extend_from_slice(&0.001f64.to_bits().to_be_bytes());
        assert_eq!(enc(0.001), want);
        assert_eq!(enc(2048.0)[0], 255);
        for t in [
            0.0,
            2f64.powi(-128),
            1.0,
            1024.0,
            2f64.powi(-243),
            0.001,
            2048.0,
            -1.0,
        ] {
            let b = enc(t);
            let mut r = BitReader::new(&b);
            assert_eq!(read_zero_threshold(&mut r), Some(t));
        }
    }

    #[test]
    fn custom_bounds_round_trip_both_forms() {
        for x in [
            0.0,
            0.001,
            0.5,
            1.0,
            33554.43,
            33554.431,
            -1.0,
            0.0001,
            1e300,
            f64::MAX,
        ] {
            let mut w = BitWriter::default();
            put_custom_bound(&mut w, x);
            let mut r = BitReader::new(&w.buf);
            assert_eq!(read_custom_bound(&mut r), Some(x), "bound {x}");
        }
        // 0.5 → 500 + 1 = 501 = 0b111110101 fits 9 bits: prefix 1110 + payload = 13 bits,
        // 1110_1111 1010_1(000 padding).
        let mut w = BitWriter::default();
        put_custom_bound(&mut w, 0.5);
        assert_eq!(w.buf, vec![0b1110_1111, 0b1010_1000]);
    }

    #[test]
    fn expand_detects_new_and_vanished_buckets() {
        // Chunk has buckets 0,1 and 4; the new histogram adds bucket 2 and keeps the others.
        let a = sp(&[(0, 2), (2, 1)]);
        let b = sp(&[(0, 3), (1, 1)]);
        let (fwd, bwd) =
            expand_spans_and_buckets::<i64>(&a, &b, &[1, 0, 0], &[1, 0, 0, 0]).expect("no reset");
        assert_eq!(
            fwd,
            vec![Insert {
                pos: 2,
                num: 1,
                bucket_idx: 2
            }]
        );
        assert!(bwd.is_empty());
        // Dropping populated bucket 4 is a reset; dropping it while empty is a backward insert.
        assert!(expand_spans_and_buckets::<i64>(&a, &sp(&[(0, 2)]), &[1, 0, 5], &[1, 0]).is_none());
        let (fwd, bwd) = expand_spans_and_buckets::<i64>(&a, &sp(&[(0, 2)]), &[1, 0, -1], &[1, 0])
            .expect("empty");
        assert!(fwd.is_empty());
        assert_eq!(
            bwd,
            vec![Insert {
                pos: 2,
                num: 1,
                bucket_idx: 4
            }]
        );
        assert_eq!(adjust_for_inserts(&sp(&[(0, 2)]), &bwd), a);
        // A shrinking bucket is a reset.
        assert!(
            expand_spans_and_buckets::<f64>(&a, &a, &[1.0, 2.0, 3.0], &[1.0, 1.0, 3.0]).is_none()
        );
    }

    #[test]
    fn insert_rebases_deltas() {
        // Absolute [3, 5] with one empty bucket inserted between: [3, 0, 5] → deltas [3, -3, 5].
        let ins = [Insert {
            pos: 1,
            num: 1,
            bucket_idx: 1,
        }];
        assert_eq!(insert::<i64>(&[3, 2], &ins, true), vec![3, -3, 5]);
        assert_eq!(insert::<f64>(&[3.0, 5.0], &ins, false), vec![3.0, 0.0, 5.0]);
        // Trailing insert.
        let ins = [Insert {
            pos: 2,
            num: 2,
            bucket_idx: 5,
        }];
        assert_eq!(insert::<i64>(&[3, 2], &ins, true), vec![3, 2, -5, 0]);
    }

    #[test]
    fn both_ways_merges_layouts() {
        let (f, b, m) = expand_spans_both_ways(&sp(&[(0, 2)]), &sp(&[(1, 2)]));
        assert_eq!(m, sp(&[(0, 3)]));
        assert_eq!(
            f,
            vec![Insert {
                pos: 2,
                num: 1,
                bucket_idx: 0
            }]
        );
        assert_eq!(
            b,
            vec![Insert {
                pos: 0,
                num: 1,
                bucket_idx: 0
            }]
        );
    }
}
