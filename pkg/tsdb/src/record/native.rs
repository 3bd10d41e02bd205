//! Records for native histograms (types 7 and 8), exemplars (type 5) and the minimum valid
//! time (type 6). Histogram and exemplar bodies are Prometheus's `record` encodings (a
//! histogram as `EncodeHistogram` / `EncodeFloatHistogram`, custom bucket bounds appended
//! for schema -53 as in Prometheus's types 9 and 10), each record prefixed by the tenant.

use strata_model::histogram::{is_custom_buckets_schema, CounterResetHint, Span};
use strata_model::{FloatHistogram, Histogram, Label, Labels};

use super::{
    put_str, put_uvarint, put_varint, Dec, RecordError, RefSample, MAX_SAMPLES_PER_RECORD,
};
use crate::head::value::SampleValue;

/// Type byte of an exemplars record.
pub const TYPE_EXEMPLARS: u8 = 5;
/// Type byte of a minimum-valid-time record.
pub const TYPE_MIN_VALID_TIME: u8 = 6;
/// Type byte of an integer histogram samples record.
pub const TYPE_HISTOGRAMS: u8 = 7;
/// Type byte of a float histogram samples record.
pub const TYPE_FLOAT_HISTOGRAMS: u8 = 8;

/// One native histogram sample of a histograms record.
#[derive(Clone, Debug)]
pub struct RefHistogram {
    /// The series ref within the tenant's head.
    pub series_ref: u64,
    /// Timestamp, ms.
    pub t: i64,
    /// The histogram ([`SampleValue::Histogram`] or [`SampleValue::FloatHistogram`]).
    pub h: SampleValue,
}

impl PartialEq for RefHistogram {
    fn eq(&self, o: &Self) -> bool {
        self.series_ref == o.series_ref && self.t == o.t && self.h.same_as(&o.h)
    }
}

/// One exemplar of an exemplars record.
#[derive(Clone, Debug, PartialEq)]
pub struct RefExemplar {
    /// The series ref within the tenant's head.
    pub series_ref: u64,
    /// Timestamp, ms.
    pub t: i64,
    /// Value.
    pub v: f64,
    /// The exemplar's labels.
    pub labels: Labels,
}

fn put_spans(buf: &mut Vec<u8>, spans: &[Span]) {
    put_uvarint(buf, spans.len() as u64);
    for s in spans {
        put_uvarint(buf, u64::from(s.length));
        put_varint(buf, i64::from(s.offset));
    }
}

fn put_f64(buf: &mut Vec<u8>, v: f64) {
    buf.extend_from_slice(&v.to_bits().to_be_bytes());
}

fn hint_byte(h: CounterResetHint) -> u8 {
    match h {
        CounterResetHint::Unknown => 0,
        CounterResetHint::CounterReset => 1,
        CounterResetHint::NotCounterReset => 2,
        CounterResetHint::Gauge => 3,
    }
}

fn hint_from(b: u8) -> CounterResetHint {
    match b {
        1 => CounterResetHint::CounterReset,
        2 => CounterResetHint::NotCounterReset,
        3 => CounterResetHint::Gauge,
        _ => CounterResetHint::Unknown,
    }
}

fn put_custom(buf: &mut Vec<u8>, schema: i32, values: &[f64]) {
    if is_custom_buckets_schema(schema) {
        put_uvarint(buf, values.len() as u64);
        for v in values {
            put_f64(buf, *v);
        }
    }
}

fn put_histogram(buf: &mut Vec<u8>, h: &Histogram) {
    buf.push(hint_byte(h.counter_reset_hint));
    put_varint(buf, i64::from(h.schema));
    put_f64(buf, h.zero_threshold);
    put_uvarint(buf, h.zero_count);
    put_uvarint(buf, h.count);
    put_f64(buf, h.sum);
    put_spans(buf, &h.positive_spans);
    put_spans(buf, &h.negative_spans);
    put_uvarint(buf, h.positive_buckets.len() as u64);
    for b in &h.positive_buckets {
        put_varint(buf, *b);
    }
    put_uvarint(buf, h.negative_buckets.len() as u64);
    for b in &h.negative_buckets {
        put_varint(buf, *b);
    }
    put_custom(buf, h.schema, &h.custom_values);
}

fn put_float_histogram(buf: &mut Vec<u8>, h: &FloatHistogram) {
    buf.push(hint_byte(h.counter_reset_hint));
    put_varint(buf, i64::from(h.schema));
    put_f64(buf, h.zero_threshold);
    put_f64(buf, h.zero_count);
    put_f64(buf, h.count);
    put_f64(buf, h.sum);
    put_spans(buf, &h.positive_spans);
    put_spans(buf, &h.negative_spans);
    put_uvarint(buf, h.positive_buckets.len() as u64);
    for b in &h.positive_buckets {
        put_f64(buf, *b);
    }
    put_uvarint(buf, h.negative_buckets.len() as u64);
    for b in &h.negative_buckets {
        put_f64(buf, *b);
    }
    put_custom(buf, h.schema, &h.custom_values);
}

fn header(typ: u8, tenant: u32, first_ref: u64, first_t: i64) -> Vec<u8> {
    let mut buf = vec![typ];
    buf.extend_from_slice(&tenant.to_be_bytes());
    buf.extend_from_slice(&first_ref.to_be_bytes());
    buf.extend_from_slice(&first_t.to_be_bytes());
    buf
}

/// Appends histogram records of one tenant to `out`: integer histograms in type-7 records,
/// float histograms in type-8 records (at most [`MAX_SAMPLES_PER_RECORD`] each); plain
/// floats, if any, in samples records.
pub fn histogram_records(tenant: u32, hs: &[RefHistogram], out: &mut Vec<Vec<u8>>) {
    let ints: Vec<&RefHistogram> = hs
        .iter()
        .filter(|h| matches!(h.h, SampleValue::Histogram(_)))
        .collect();
    let floats: Vec<&RefHistogram> = hs
        .iter()
        .filter(|h| matches!(h.h, SampleValue::FloatHistogram(_)))
        .collect();
    let plain: Vec<RefSample> = hs
        .iter()
        .filter_map(|h| {
            Some(RefSample {
                series_ref: h.series_ref,
                t: h.t,
                v: h.h.as_float()?,
            })
        })
        .collect();
    for (typ, list) in [(TYPE_HISTOGRAMS, ints), (TYPE_FLOAT_HISTOGRAMS, floats)] {
        for chunk in list.chunks(MAX_SAMPLES_PER_RECORD) {
            let first = chunk[0];
            let mut buf = header(typ, tenant, first.series_ref, first.t);
            for h in chunk {
                put_varint(&mut buf, h.series_ref.wrapping_sub(first.series_ref) as i64);
                put_varint(&mut buf, h.t.wrapping_sub(first.t));
                match &h.h {
                    SampleValue::Histogram(x) => put_histogram(&mut buf, x),
                    SampleValue::FloatHistogram(x) => put_float_histogram(&mut buf, x),
                    SampleValue::Float(_) => {}
                }
            }
            out.push(buf);
        }
    }
    if !plain.is_empty() {
        super::samples_records(tenant, &plain, out);
    }
}

/// Appends exemplar records of one tenant to `out` (at most [`MAX_SAMPLES_PER_RECORD`]
/// exemplars each).
pub fn exemplar_records(tenant: u32, es: &[RefExemplar], out: &mut Vec<Vec<u8>>) {
    for chunk in es.chunks(MAX_SAMPLES_PER_RECORD) {
        let first = &chunk[0];
        let mut buf = header(TYPE_EXEMPLARS, tenant, first.series_ref, first.t);
        for e in chunk {
            put_varint(&mut buf, e.series_ref.wrapping_sub(first.series_ref) as i64);
            put_varint(&mut buf, e.t.wrapping_sub(first.t));
            put_f64(&mut buf, e.v);
            put_uvarint(&mut buf, e.labels.len() as u64);
            for l in e.labels.iter() {
                put_str(&mut buf, &l.name);
                put_str(&mut buf, &l.value);
            }
        }
        out.push(buf);
    }
}

/// A minimum-valid-time record: samples of the tenant before `t` are in blocks.
pub fn min_valid_time_record(tenant: u32, t: i64) -> Vec<u8> {
    let mut buf = vec![TYPE_MIN_VALID_TIME];
    buf.extend_from_slice(&tenant.to_be_bytes());
    buf.extend_from_slice(&t.to_be_bytes());
    buf
}

impl Dec<'_> {
    fn f64(&mut self) -> Result<f64, RecordError> {
        Ok(f64::from_bits(self.u64()?))
    }

    fn byte(&mut self) -> Result<u8, RecordError> {
        Ok(self.bytes(1, "short byte")?[0])
    }

    /// A count that must fit in what is left, `min` bytes per item.
    fn count(&mut self, min: usize, what: &'static str) -> Result<usize, RecordError> {
        let n = self.uvarint()?;
        if n > (self.b.len() / min.max(1)) as u64 {
            return Err(self.err(what));
        }
        Ok(n as usize)
    }

    fn i32_varint(&mut self) -> Result<i32, RecordError> {
        i32::try_from(self.varint()?).map_err(|_| self.err("value exceeds 32 bits"))
    }

    fn spans(&mut self) -> Result<Vec<Span>, RecordError> {
        let n = self.count(2, "span count exceeds record")?;
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            let length = u32::try_from(self.uvarint()?).map_err(|_| self.err("span length"))?;
            let offset = self.i32_varint()?;
            out.push(Span { offset, length });
        }
        Ok(out)
    }

    fn custom(&mut self, schema: i32) -> Result<Vec<f64>, RecordError> {
        if !is_custom_buckets_schema(schema) {
            return Ok(Vec::new());
        }
        let n = self.count(8, "custom bound count exceeds record")?;
        (0..n).map(|_| self.f64()).collect()
    }

    fn histogram(&mut self) -> Result<Histogram, RecordError> {
        let counter_reset_hint = hint_from(self.byte()?);
        let schema = self.i32_varint()?;
        let zero_threshold = self.f64()?;
        let zero_count = self.uvarint()?;
        let count = self.uvarint()?;
        let sum = self.f64()?;
        let positive_spans = self.spans()?;
        let negative_spans = self.spans()?;
        let n = self.count(1, "bucket count exceeds record")?;
        let positive_buckets = (0..n).map(|_| self.varint()).collect::<Result<_, _>>()?;
        let n = self.count(1, "bucket count exceeds record")?;
        let negative_buckets = (0..n).map(|_| self.varint()).collect::<Result<_, _>>()?;
        let custom_values = self.custom(schema)?;
        Ok(Histogram {
            counter_reset_hint,
            schema,
            zero_threshold,
            zero_count,
            count,
            sum,
            positive_spans,
            negative_spans,
            positive_buckets,
            negative_buckets,
            custom_values,
        })
    }

    fn float_histogram(&mut self) -> Result<FloatHistogram, RecordError> {
        let counter_reset_hint = hint_from(self.byte()?);
        let schema = self.i32_varint()?;
        let zero_threshold = self.f64()?;
        let zero_count = self.f64()?;
        let count = self.f64()?;
        let sum = self.f64()?;
        let positive_spans = self.spans()?;
        let negative_spans = self.spans()?;
        let n = self.count(8, "bucket count exceeds record")?;
        let positive_buckets = (0..n).map(|_| self.f64()).collect::<Result<_, _>>()?;
        let n = self.count(8, "bucket count exceeds record")?;
        let negative_buckets = (0..n).map(|_| self.f64()).collect::<Result<_, _>>()?;
        let custom_values = self.custom(schema)?;
        Ok(FloatHistogram {
            counter_reset_hint,
            schema,
            zero_threshold,
            zero_count,
            count,
            sum,
            positive_spans,
            negative_spans,
            positive_buckets,
            negative_buckets,
            custom_values,
        })
    }

    /// The body of a type-7 or type-8 record after the tenant.
    pub(super) fn histograms(&mut self, float: bool) -> Result<Vec<RefHistogram>, RecordError> {
        let mut out = Vec::new();
        if self.is_empty() {
            return Ok(out);
        }
        let base_ref = self.u64()?;
        let base_t = self.u64()? as i64;
        while !self.is_empty() {
            let dr = self.varint()?;
            let dt = self.varint()?;
            let h = if float {
                SampleValue::FloatHistogram(Box::new(self.float_histogram()?))
            } else {
                SampleValue::Histogram(Box::new(self.histogram()?))
            };
            out.push(RefHistogram {
                series_ref: base_ref.wrapping_add(dr as u64),
                t: base_t.wrapping_add(dt),
                h,
            });
        }
        Ok(out)
    }

    /// The body of an exemplars record after the tenant.
    pub(super) fn exemplars(&mut self) -> Result<Vec<RefExemplar>, RecordError> {
        let mut out = Vec::new();
        if self.is_empty() {
            return Ok(out);
        }
        let base_ref = self.u64()?;
        let base_t = self.u64()? as i64;
        while !self.is_empty() {
            let dr = self.varint()?;
            let dt = self.varint()?;
            let v = self.f64()?;
            let n = self.count(2, "label count exceeds record")?;
            let mut labels = Vec::with_capacity(n);
            for _ in 0..n {
                let name = self.str()?;
                let value = self.str()?;
                labels.push(Label::new(name, value));
            }
            if !labels.windows(2).all(|w| w[0].name < w[1].name) {
                return Err(self.err("labels not sorted and unique"));
            }
            out.push(RefExemplar {
                series_ref: base_ref.wrapping_add(dr as u64),
                t: base_t.wrapping_add(dt),
                v,
                labels: Labels::from_sorted(labels),
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::super::{decode, Record};
    use super::*;

    fn int_hist(i: u64) -> Histogram {
        Histogram {
            counter_reset_hint: CounterResetHint::NotCounterReset,
            schema: 1,
            zero_threshold: 0.001,
            zero_count: i,
            count: 10 + 3 * i,
            sum: 18.4 * i as f64,
            positive_spans: vec![
                Span {
                    offset: 0,
                    length: 2,
                },
                Span {
                    offset: 1,
                    length: 2,
                },
            ],
            negative_spans: vec![Span {
                offset: -2,
                length: 1,
            }],
            positive_buckets: vec![1, 1, -1, 0],
            negative_buckets: vec![(2 * i) as i64],
            custom_values: Vec::new(),
        }
    }

    #[test]
    fn histogram_exemplar_and_min_valid_records_round_trip() {
        let custom = FloatHistogram {
            schema: -53,
            count: 5.0,
            sum: 2.5,
            positive_spans: vec![Span {
                offset: 0,
                length: 3,
            }],
            positive_buckets: vec![1.0, 2.5, 1.5],
            custom_values: vec![0.1, 1.0],
            ..Default::default()
        };
        let hs = vec![
            RefHistogram {
                series_ref: 7,
                t: 1000,
                h: int_hist(1).into(),
            },
            RefHistogram {
                series_ref: 3,
                t: 900,
                h: custom.clone().into(),
            },
            RefHistogram {
                series_ref: 7,
                t: 2000,
                h: int_hist(2).into(),
            },
            RefHistogram {
                series_ref: 9,
                t: 5,
                h: 1.5.into(),
            },
        ];
        let mut out = Vec::new();
        histogram_records(4, &hs, &mut out);
        assert_eq!(out.len(), 3, "int, float and plain-float records");
        assert_eq!((out[0][0], out[1][0], out[2][0]), (7, 8, 3));
        match decode(&out[0]) {
            Ok(Record::Histograms { tenant: 4, samples }) => {
                assert_eq!(samples, vec![hs[0].clone(), hs[2].clone()]);
                match &samples[0].h {
                    SampleValue::Histogram(h) => {
                        assert_eq!(h.counter_reset_hint, CounterResetHint::NotCounterReset)
                    }
                    other => panic!("{other:?}"),
                }
            }
            other => panic!("{other:?}"),
        }
        match decode(&out[1]) {
            Ok(Record::Histograms { samples, .. }) => {
                assert_eq!(samples, vec![hs[1].clone()]);
                match &samples[0].h {
                    SampleValue::FloatHistogram(h) => assert_eq!(h.custom_values, vec![0.1, 1.0]),
                    other => panic!("{other:?}"),
                }
            }
            other => panic!("{other:?}"),
        }
        let es = vec![
            RefExemplar {
                series_ref: 2,
                t: 10,
                v: 0.5,
                labels: Labels::from_pairs([("span_id", "s"), ("trace_id", "t")]),
            },
            RefExemplar {
                series_ref: 1,
                t: 8,
                v: -1.0,
                labels: Labels::empty(),
            },
        ];
        let mut out = Vec::new();
        exemplar_records(2, &es, &mut out);
        assert_eq!(
            decode(&out[0]),
            Ok(Record::Exemplars {
                tenant: 2,
                exemplars: es
            })
        );
        assert_eq!(
            decode(&min_valid_time_record(3, -7)),
            Ok(Record::MinValidTime { tenant: 3, t: -7 })
        );
        assert!(decode(&out[0][..out[0].len() - 1]).is_err());
    }

    proptest! {
        #[test]
        fn decoding_garbage_histograms_never_panics(b in prop::collection::vec(any::<u8>(), 0..300), t in 5u8..9) {
            let mut rec = vec![t];
            rec.extend(b);
            let _ = decode(&rec);
        }
    }
}
