//! Decoding integer histogram chunks (encoding 2); the format is described in
//! [`crate::histogram`]'s module docs and `docs/format/chunks.md`.

use strata_model::histogram::{
    is_known_schema, CounterResetHint, FloatHistogram, Histogram, HistogramError,
    EXPONENTIAL_SCHEMA_MAX,
};
use strata_model::is_stale_nan;

use crate::bstream::BitReader;
use crate::histogram_meta::{
    count_spans, hint_for, read_layout, CounterResetHeader, HistogramChunkError, Layout, FLAGS_POS,
    HEADER_SIZE,
};
use crate::varbit::{read_varbit_int, read_varbit_uint, XorState};

/// Decodes an integer histogram chunk. Yields `(timestamp, histogram)` until the end or the first
/// error; check [`HistogramIterator::err`] afterwards. Histograms in reserved schemas 9..=52 are
/// reduced to schema 8, as Prometheus does. The first sample's hint is `Unknown` (or `Gauge`),
/// later ones `NotCounterReset` (or `Gauge`): the reset information is the chunk's
/// [`HistogramIterator::counter_reset_header`].
#[derive(Clone, Debug)]
pub struct HistogramIterator<'a> {
    r: BitReader<'a>,
    bits: u64,
    total: u16,
    read: u16,
    header: CounterResetHeader,
    reduce: bool,
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
    err: Option<HistogramChunkError>,
}

impl<'a> HistogramIterator<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Self {
        let mut it = Self {
            r: BitReader::new(data.get(HEADER_SIZE..).unwrap_or(&[])),
            bits: (data.len() as u64) * 8,
            total: 0,
            read: 0,
            header: CounterResetHeader::Unknown,
            reduce: true,
            layout: Layout::default(),
            t: 0,
            cnt: 0,
            z_cnt: 0,
            t_delta: 0,
            cnt_delta: 0,
            z_cnt_delta: 0,
            p_buckets: Vec::new(),
            n_buckets: Vec::new(),
            p_deltas: Vec::new(),
            n_deltas: Vec::new(),
            sum: XorState::reader(0.0),
            err: None,
        };
        if data.len() < HEADER_SIZE {
            it.err = Some(HistogramChunkError::TooShort(data.len()));
        } else {
            it.total = u16::from_be_bytes([data[0], data[1]]);
            it.header = CounterResetHeader::from_flags(data[FLAGS_POS]);
        }
        it
    }

    /// For recoding: no schema reduction, so samples come back exactly as appended.
    pub(crate) fn new_raw(data: &'a [u8]) -> Self {
        let mut it = Self::new(data);
        it.reduce = false;
        it
    }

    /// The chunk's counter reset header.
    pub fn counter_reset_header(&self) -> CounterResetHeader {
        self.header
    }

    /// The error that ended iteration early, if any.
    pub fn err(&self) -> Option<&HistogramChunkError> {
        self.err.as_ref()
    }

    fn read_first(&mut self) -> Option<()> {
        let layout = match read_layout(&mut self.r, self.bits)? {
            Ok(l) => l,
            Err(e) => {
                self.err = Some(e);
                return None;
            }
        };
        if !is_known_schema(layout.schema) {
            self.err = Some(HistogramChunkError::Schema(HistogramError::UnknownSchema(
                layout.schema,
            )));
            return None;
        }
        let np = count_spans(&layout.positive_spans) as usize;
        let nn = count_spans(&layout.negative_spans) as usize;
        self.layout = layout;
        self.p_buckets = vec![0; np];
        self.p_deltas = vec![0; np];
        self.n_buckets = vec![0; nn];
        self.n_deltas = vec![0; nn];
        self.t = read_varbit_int(&mut self.r)?;
        self.cnt = read_varbit_uint(&mut self.r)?;
        self.z_cnt = read_varbit_uint(&mut self.r)?;
        self.sum = XorState::reader(f64::from_bits(self.r.read_bits(64)?));
        for b in self.p_buckets.iter_mut().chain(self.n_buckets.iter_mut()) {
            *b = read_varbit_int(&mut self.r)?;
        }
        Some(())
    }

    fn read_next(&mut self) -> Option<()> {
        let t_dod = read_varbit_int(&mut self.r)?;
        self.t_delta = self.t_delta.wrapping_add(t_dod);
        self.t = self.t.wrapping_add(self.t_delta);
        let c_dod = read_varbit_int(&mut self.r)?;
        self.cnt_delta = self.cnt_delta.wrapping_add(c_dod);
        self.cnt = (self.cnt as i64).wrapping_add(self.cnt_delta) as u64;
        let z_dod = read_varbit_int(&mut self.r)?;
        self.z_cnt_delta = self.z_cnt_delta.wrapping_add(z_dod);
        self.z_cnt = (self.z_cnt as i64).wrapping_add(self.z_cnt_delta) as u64;
        let sum = self.sum.read(&mut self.r)?;
        if is_stale_nan(sum) {
            return Some(());
        }
        for (b, d) in self
            .p_buckets
            .iter_mut()
            .zip(self.p_deltas.iter_mut())
            .chain(self.n_buckets.iter_mut().zip(self.n_deltas.iter_mut()))
        {
            let dod = read_varbit_int(&mut self.r)?;
            *d = d.wrapping_add(dod);
            *b = b.wrapping_add(*d);
        }
        Some(())
    }

    /// Writes the current sample into `out`, reusing its vectors.
    fn fill(&self, out: &mut Histogram) {
        out.positive_spans.clear();
        out.negative_spans.clear();
        out.positive_buckets.clear();
        out.negative_buckets.clear();
        out.custom_values.clear();
        if is_stale_nan(self.sum.value) {
            out.counter_reset_hint = CounterResetHint::Unknown;
            out.schema = 0;
            out.zero_threshold = 0.0;
            out.zero_count = 0;
            out.count = 0;
            out.sum = self.sum.value;
            return;
        }
        out.counter_reset_hint = hint_for(self.header, self.read);
        out.schema = self.layout.schema;
        out.zero_threshold = self.layout.zero_threshold;
        out.zero_count = self.z_cnt;
        out.count = self.cnt;
        out.sum = self.sum.value;
        out.positive_spans
            .extend_from_slice(&self.layout.positive_spans);
        out.negative_spans
            .extend_from_slice(&self.layout.negative_spans);
        out.positive_buckets.extend_from_slice(&self.p_buckets);
        out.negative_buckets.extend_from_slice(&self.n_buckets);
        out.custom_values
            .extend_from_slice(&self.layout.custom_values);
    }

    /// Reads the next sample into the iterator's state; `None` at the end or on error.
    fn advance(&mut self) -> Option<()> {
        if self.err.is_some() || self.read >= self.total {
            return None;
        }
        let ok = if self.read == 0 {
            self.read_first()
        } else {
            self.read_next()
        };
        if ok.is_none() {
            if self.err.is_none() {
                self.err = Some(HistogramChunkError::Truncated {
                    read: self.read,
                    expected: self.total,
                });
            }
            return None;
        }
        self.read += 1;
        Some(())
    }

    /// Decodes the next sample into `out`, reusing its allocations, and returns its timestamp:
    /// the allocation-free alternative to [`Iterator::next`] for query hot paths.
    pub fn next_into(&mut self, out: &mut Histogram) -> Option<i64> {
        self.advance()?;
        self.fill(out);
        if self.reduce && out.schema > EXPONENTIAL_SCHEMA_MAX && !out.uses_custom_buckets() {
            if let Err(e) = out.reduce_resolution(EXPONENTIAL_SCHEMA_MAX) {
                self.err = Some(HistogramChunkError::Schema(e));
                return None;
            }
        }
        Some(self.t)
    }

    /// Decodes the next sample straight into a float histogram (absolute buckets), as
    /// Prometheus's `AtFloatHistogram` on an integer chunk.
    pub fn next_float_into(&mut self, out: &mut FloatHistogram) -> Option<i64> {
        self.advance()?;
        out.positive_spans.clear();
        out.negative_spans.clear();
        out.positive_buckets.clear();
        out.negative_buckets.clear();
        out.custom_values.clear();
        if is_stale_nan(self.sum.value) {
            *out = FloatHistogram {
                sum: self.sum.value,
                positive_spans: std::mem::take(&mut out.positive_spans),
                negative_spans: std::mem::take(&mut out.negative_spans),
                positive_buckets: std::mem::take(&mut out.positive_buckets),
                negative_buckets: std::mem::take(&mut out.negative_buckets),
                custom_values: std::mem::take(&mut out.custom_values),
                ..Default::default()
            };
            return Some(self.t);
        }
        out.counter_reset_hint = hint_for(self.header, self.read);
        out.schema = self.layout.schema;
        out.zero_threshold = self.layout.zero_threshold;
        out.zero_count = self.z_cnt as f64;
        out.count = self.cnt as f64;
        out.sum = self.sum.value;
        out.positive_spans
            .extend_from_slice(&self.layout.positive_spans);
        out.negative_spans
            .extend_from_slice(&self.layout.negative_spans);
        let mut cur = 0i64;
        out.positive_buckets.extend(self.p_buckets.iter().map(|d| {
            cur = cur.wrapping_add(*d);
            cur as f64
        }));
        let mut cur = 0i64;
        out.negative_buckets.extend(self.n_buckets.iter().map(|d| {
            cur = cur.wrapping_add(*d);
            cur as f64
        }));
        out.custom_values
            .extend_from_slice(&self.layout.custom_values);
        if self.reduce && out.schema > EXPONENTIAL_SCHEMA_MAX && !out.uses_custom_buckets() {
            if let Err(e) = out.reduce_resolution(EXPONENTIAL_SCHEMA_MAX) {
                self.err = Some(HistogramChunkError::Schema(e));
                return None;
            }
        }
        Some(self.t)
    }
}

impl Iterator for HistogramIterator<'_> {
    type Item = (i64, Histogram);

    fn next(&mut self) -> Option<(i64, Histogram)> {
        let mut h = Histogram::default();
        let t = self.next_into(&mut h)?;
        Some((t, h))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.total.saturating_sub(self.read) as usize))
    }
}
