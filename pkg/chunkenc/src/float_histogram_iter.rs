//! Decoding float histogram chunks (encoding 3); the format is described in
//! [`crate::float_histogram`]'s module docs and `docs/format/chunks.md`.

use strata_model::histogram::{
    is_known_schema, CounterResetHint, FloatHistogram, HistogramError, EXPONENTIAL_SCHEMA_MAX,
};
use strata_model::is_stale_nan;

use crate::bstream::BitReader;
use crate::histogram_meta::{
    count_spans, hint_for, read_layout, CounterResetHeader, HistogramChunkError, Layout, FLAGS_POS,
    HEADER_SIZE,
};
use crate::varbit::{read_varbit_int, XorState};

/// Decodes a float histogram chunk. Yields `(timestamp, histogram)` until the end or the first
/// error; check [`FloatHistogramIterator::err`] afterwards. Hints as for
/// [`crate::HistogramIterator`].
#[derive(Clone, Debug)]
pub struct FloatHistogramIterator<'a> {
    r: BitReader<'a>,
    bits: u64,
    total: u16,
    read: u16,
    header: CounterResetHeader,
    reduce: bool,
    layout: Layout,
    t: i64,
    t_delta: i64,
    cnt: XorState,
    z_cnt: XorState,
    sum: XorState,
    p_buckets: Vec<XorState>,
    n_buckets: Vec<XorState>,
    err: Option<HistogramChunkError>,
}

impl<'a> FloatHistogramIterator<'a> {
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
            t_delta: 0,
            cnt: XorState::reader(0.0),
            z_cnt: XorState::reader(0.0),
            sum: XorState::reader(0.0),
            p_buckets: Vec::new(),
            n_buckets: Vec::new(),
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
        self.t = read_varbit_int(&mut self.r)?;
        self.cnt = XorState::reader(f64::from_bits(self.r.read_bits(64)?));
        self.z_cnt = XorState::reader(f64::from_bits(self.r.read_bits(64)?));
        self.sum = XorState::reader(f64::from_bits(self.r.read_bits(64)?));
        self.p_buckets = Vec::with_capacity(np);
        for _ in 0..np {
            self.p_buckets
                .push(XorState::reader(f64::from_bits(self.r.read_bits(64)?)));
        }
        self.n_buckets = Vec::with_capacity(nn);
        for _ in 0..nn {
            self.n_buckets
                .push(XorState::reader(f64::from_bits(self.r.read_bits(64)?)));
        }
        Some(())
    }

    fn read_next(&mut self) -> Option<()> {
        let t_dod = read_varbit_int(&mut self.r)?;
        self.t_delta = self.t_delta.wrapping_add(t_dod);
        self.t = self.t.wrapping_add(self.t_delta);
        self.cnt.read(&mut self.r)?;
        self.z_cnt.read(&mut self.r)?;
        let sum = self.sum.read(&mut self.r)?;
        if is_stale_nan(sum) {
            return Some(());
        }
        for b in self.p_buckets.iter_mut().chain(self.n_buckets.iter_mut()) {
            b.read(&mut self.r)?;
        }
        Some(())
    }

    /// Writes the current sample into `out`, reusing its vectors.
    fn fill(&self, out: &mut FloatHistogram) {
        out.positive_spans.clear();
        out.negative_spans.clear();
        out.positive_buckets.clear();
        out.negative_buckets.clear();
        out.custom_values.clear();
        if is_stale_nan(self.sum.value) {
            out.counter_reset_hint = CounterResetHint::Unknown;
            out.schema = 0;
            out.zero_threshold = 0.0;
            out.zero_count = 0.0;
            out.count = 0.0;
            out.sum = self.sum.value;
            return;
        }
        out.counter_reset_hint = hint_for(self.header, self.read);
        out.schema = self.layout.schema;
        out.zero_threshold = self.layout.zero_threshold;
        out.zero_count = self.z_cnt.value;
        out.count = self.cnt.value;
        out.sum = self.sum.value;
        out.positive_spans
            .extend_from_slice(&self.layout.positive_spans);
        out.negative_spans
            .extend_from_slice(&self.layout.negative_spans);
        out.positive_buckets
            .extend(self.p_buckets.iter().map(|b| b.value));
        out.negative_buckets
            .extend(self.n_buckets.iter().map(|b| b.value));
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
    pub fn next_into(&mut self, out: &mut FloatHistogram) -> Option<i64> {
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
}

impl Iterator for FloatHistogramIterator<'_> {
    type Item = (i64, FloatHistogram);

    fn next(&mut self) -> Option<(i64, FloatHistogram)> {
        let mut h = FloatHistogram::default();
        let t = self.next_into(&mut h)?;
        Some((t, h))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.total.saturating_sub(self.read) as usize))
    }
}
