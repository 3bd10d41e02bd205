//! The head's WAL records (format in `docs/format/wal.md`): tenants, series, samples,
//! metadata, native histograms, exemplars and the minimum valid time (the last three in
//! `native`), each tagged with the tenant's WAL id so that one log serves every
//! tenant of the ingester.
//!
//! Integers are big-endian when fixed-size; `uvarint` is LEB128, `varint` zig-zag LEB128
//! (as Go's `binary.PutVarint`). Samples are delta-encoded against the record's first
//! sample, as Prometheus does.

mod native;

use strata_model::{Label, Labels};

use crate::head::metadata::{MetricMetadata, MetricType};

pub use native::{
    exemplar_records, histogram_records, min_valid_time_record, RefExemplar, RefHistogram,
    TYPE_EXEMPLARS, TYPE_FLOAT_HISTOGRAMS, TYPE_HISTOGRAMS, TYPE_MIN_VALID_TIME,
};

/// Type byte of a tenant record.
pub const TYPE_TENANTS: u8 = 1;
/// Type byte of a series record.
pub const TYPE_SERIES: u8 = 2;
/// Type byte of a samples record.
pub const TYPE_SAMPLES: u8 = 3;
/// Type byte of a metadata record.
pub const TYPE_METADATA: u8 = 4;

/// Samples per record at most, so records stay far below a segment's size.
pub const MAX_SAMPLES_PER_RECORD: usize = 4096;
/// A series record is closed once its encoding passes this many bytes.
pub const SERIES_RECORD_BYTES: usize = 64 * 1024;

/// One sample of a samples record.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RefSample {
    /// The series ref within the tenant's head.
    pub series_ref: u64,
    /// Timestamp, ms.
    pub t: i64,
    /// Value.
    pub v: f64,
}

/// A decoded record.
#[derive(Clone, Debug, PartialEq)]
pub enum Record {
    /// Tenant WAL ids and their tenant ids.
    Tenants(Vec<(u32, String)>),
    /// Series of one tenant: ref and labels.
    Series {
        /// The tenant's WAL id.
        tenant: u32,
        /// The series.
        series: Vec<(u64, Labels)>,
    },
    /// Samples of one tenant.
    Samples {
        /// The tenant's WAL id.
        tenant: u32,
        /// The samples.
        samples: Vec<RefSample>,
    },
    /// Metric metadata of one tenant.
    Metadata {
        /// The tenant's WAL id.
        tenant: u32,
        /// The entries.
        entries: Vec<MetricMetadata>,
    },
    /// Native histogram samples of one tenant (types 7 and 8).
    Histograms {
        /// The tenant's WAL id.
        tenant: u32,
        /// The samples.
        samples: Vec<RefHistogram>,
    },
    /// Exemplars of one tenant.
    Exemplars {
        /// The tenant's WAL id.
        tenant: u32,
        /// The exemplars.
        exemplars: Vec<RefExemplar>,
    },
    /// The tenant's minimum valid time: its data before `t` is in blocks.
    MinValidTime {
        /// The tenant's WAL id.
        tenant: u32,
        /// The time, ms.
        t: i64,
    },
}

impl Record {
    /// The tenant WAL id the record names (the highest one for a tenants record).
    pub fn tenant(&self) -> u32 {
        match self {
            Record::Tenants(list) => list.iter().map(|(id, _)| *id).max().unwrap_or(0),
            Record::Series { tenant, .. }
            | Record::Samples { tenant, .. }
            | Record::Metadata { tenant, .. }
            | Record::Histograms { tenant, .. }
            | Record::Exemplars { tenant, .. }
            | Record::MinValidTime { tenant, .. } => *tenant,
        }
    }
}

/// A record that cannot be decoded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// The record is empty.
    #[error("empty wal record")]
    Empty,
    /// An unknown type byte.
    #[error("unknown wal record type {0}")]
    UnknownType(u8),
    /// The record ends early or holds a bad value.
    #[error("malformed wal record of type {typ}: {what}")]
    Malformed {
        /// The type byte.
        typ: u8,
        /// What was wrong.
        what: &'static str,
    },
}

fn put_uvarint(buf: &mut Vec<u8>, mut x: u64) {
    while x >= 0x80 {
        buf.push((x as u8) | 0x80);
        x >>= 7;
    }
    buf.push(x as u8);
}

fn put_varint(buf: &mut Vec<u8>, x: i64) {
    put_uvarint(buf, ((x << 1) ^ (x >> 63)) as u64);
}

fn put_str(buf: &mut Vec<u8>, s: &str) {
    put_uvarint(buf, s.len() as u64);
    buf.extend_from_slice(s.as_bytes());
}

/// Starts a tenant record.
pub fn tenants_record(tenants: &[(u32, &str)]) -> Vec<u8> {
    let mut buf = vec![TYPE_TENANTS];
    for (id, name) in tenants {
        buf.extend_from_slice(&id.to_be_bytes());
        put_str(&mut buf, name);
    }
    buf
}

/// Builds series records of one tenant, cutting a new record past [`SERIES_RECORD_BYTES`].
pub struct SeriesRecords {
    tenant: u32,
    cur: Vec<u8>,
    done: Vec<Vec<u8>>,
}

impl SeriesRecords {
    /// Series records for tenant `tenant`.
    pub fn new(tenant: u32) -> Self {
        Self {
            tenant,
            cur: Vec::new(),
            done: Vec::new(),
        }
    }

    /// Adds one series.
    pub fn add<'a>(
        &mut self,
        series_ref: u64,
        labels: impl ExactSizeIterator<Item = (&'a str, &'a str)>,
    ) {
        if self.cur.is_empty() {
            self.cur.push(TYPE_SERIES);
            self.cur.extend_from_slice(&self.tenant.to_be_bytes());
        }
        self.cur.extend_from_slice(&series_ref.to_be_bytes());
        put_uvarint(&mut self.cur, labels.len() as u64);
        for (n, v) in labels {
            put_str(&mut self.cur, n);
            put_str(&mut self.cur, v);
        }
        if self.cur.len() >= SERIES_RECORD_BYTES {
            self.done.push(std::mem::take(&mut self.cur));
        }
    }

    /// The records, appended to `out`.
    pub fn finish(mut self, out: &mut Vec<Vec<u8>>) {
        if !self.cur.is_empty() {
            self.done.push(self.cur);
        }
        out.append(&mut self.done);
    }
}

/// Appends samples records of one tenant (at most [`MAX_SAMPLES_PER_RECORD`] each) to `out`.
pub fn samples_records(tenant: u32, samples: &[RefSample], out: &mut Vec<Vec<u8>>) {
    for chunk in samples.chunks(MAX_SAMPLES_PER_RECORD) {
        let mut buf = Vec::with_capacity(5 + 16 + chunk.len() * 12);
        buf.push(TYPE_SAMPLES);
        buf.extend_from_slice(&tenant.to_be_bytes());
        let first = chunk[0];
        buf.extend_from_slice(&first.series_ref.to_be_bytes());
        buf.extend_from_slice(&first.t.to_be_bytes());
        for s in chunk {
            put_varint(&mut buf, s.series_ref.wrapping_sub(first.series_ref) as i64);
            put_varint(&mut buf, s.t.wrapping_sub(first.t));
            buf.extend_from_slice(&s.v.to_bits().to_be_bytes());
        }
        out.push(buf);
    }
}

fn metric_type_byte(t: MetricType) -> u8 {
    match t {
        MetricType::Unknown => 0,
        MetricType::Counter => 1,
        MetricType::Gauge => 2,
        MetricType::Histogram => 3,
        MetricType::GaugeHistogram => 4,
        MetricType::Summary => 5,
        MetricType::Info => 6,
        MetricType::StateSet => 7,
    }
}

fn metric_type_from(b: u8) -> MetricType {
    match b {
        1 => MetricType::Counter,
        2 => MetricType::Gauge,
        3 => MetricType::Histogram,
        4 => MetricType::GaugeHistogram,
        5 => MetricType::Summary,
        6 => MetricType::Info,
        7 => MetricType::StateSet,
        _ => MetricType::Unknown,
    }
}

/// A metadata record of one tenant.
pub fn metadata_record(tenant: u32, entries: &[MetricMetadata]) -> Vec<u8> {
    let mut buf = vec![TYPE_METADATA];
    buf.extend_from_slice(&tenant.to_be_bytes());
    for m in entries {
        buf.push(metric_type_byte(m.metric_type));
        put_str(&mut buf, &m.metric_family_name);
        put_str(&mut buf, &m.unit);
        put_str(&mut buf, &m.help);
    }
    buf
}

/// A cursor over a record's bytes.
struct Dec<'a> {
    b: &'a [u8],
    typ: u8,
}

impl<'a> Dec<'a> {
    fn err(&self, what: &'static str) -> RecordError {
        RecordError::Malformed {
            typ: self.typ,
            what,
        }
    }

    fn bytes(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], RecordError> {
        if self.b.len() < n {
            return Err(self.err(what));
        }
        let (h, t) = self.b.split_at(n);
        self.b = t;
        Ok(h)
    }

    fn u32(&mut self) -> Result<u32, RecordError> {
        let b = self.bytes(4, "short u32")?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self) -> Result<u64, RecordError> {
        let b = self.bytes(8, "short u64")?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_be_bytes(a))
    }

    fn uvarint(&mut self) -> Result<u64, RecordError> {
        let mut x = 0u64;
        for i in 0..10 {
            let b = *self.b.first().ok_or_else(|| self.err("short varint"))?;
            self.b = &self.b[1..];
            if i == 9 && b > 1 {
                return Err(self.err("varint overflows 64 bits"));
            }
            x |= u64::from(b & 0x7f) << (7 * i);
            if b < 0x80 {
                return Ok(x);
            }
        }
        Err(self.err("varint too long"))
    }

    fn varint(&mut self) -> Result<i64, RecordError> {
        let u = self.uvarint()?;
        Ok(((u >> 1) as i64) ^ -((u & 1) as i64))
    }

    fn str(&mut self) -> Result<&'a str, RecordError> {
        let n = usize::try_from(self.uvarint()?).map_err(|_| self.err("string too long"))?;
        let b = self.bytes(n, "short string")?;
        std::str::from_utf8(b).map_err(|_| self.err("string is not UTF-8"))
    }

    fn is_empty(&self) -> bool {
        self.b.is_empty()
    }
}

/// Decodes a record.
pub fn decode(rec: &[u8]) -> Result<Record, RecordError> {
    let (&typ, rest) = rec.split_first().ok_or(RecordError::Empty)?;
    let mut d = Dec { b: rest, typ };
    match typ {
        TYPE_TENANTS => {
            let mut out = Vec::new();
            while !d.is_empty() {
                let id = d.u32()?;
                out.push((id, d.str()?.to_string()));
            }
            Ok(Record::Tenants(out))
        }
        TYPE_SERIES => {
            let tenant = d.u32()?;
            let mut series = Vec::new();
            while !d.is_empty() {
                let r = d.u64()?;
                let n = d.uvarint()?;
                // Each label takes at least two bytes: bound the allocation by the input.
                if n > (d.b.len() / 2) as u64 {
                    return Err(d.err("label count exceeds record"));
                }
                let mut labels = Vec::with_capacity(n as usize);
                for _ in 0..n {
                    let name = d.str()?;
                    let value = d.str()?;
                    labels.push(Label::new(name, value));
                }
                let sorted = labels.windows(2).all(|w| w[0].name < w[1].name);
                if !sorted {
                    return Err(d.err("labels not sorted and unique"));
                }
                series.push((r, Labels::from_sorted(labels)));
            }
            Ok(Record::Series { tenant, series })
        }
        TYPE_SAMPLES => {
            let tenant = d.u32()?;
            let mut samples = Vec::new();
            if d.is_empty() {
                return Ok(Record::Samples { tenant, samples });
            }
            let base_ref = d.u64()?;
            let base_t = d.u64()? as i64;
            while !d.is_empty() {
                let dr = d.varint()?;
                let dt = d.varint()?;
                let v = f64::from_bits(d.u64()?);
                samples.push(RefSample {
                    series_ref: base_ref.wrapping_add(dr as u64),
                    t: base_t.wrapping_add(dt),
                    v,
                });
            }
            Ok(Record::Samples { tenant, samples })
        }
        TYPE_METADATA => {
            let tenant = d.u32()?;
            let mut entries = Vec::new();
            while !d.is_empty() {
                let t = d.bytes(1, "short metadata type")?[0];
                let name = d.str()?.to_string();
                let unit = d.str()?.to_string();
                let help = d.str()?.to_string();
                entries.push(MetricMetadata {
                    metric_family_name: name,
                    metric_type: metric_type_from(t),
                    help,
                    unit,
                });
            }
            Ok(Record::Metadata { tenant, entries })
        }
        TYPE_HISTOGRAMS | TYPE_FLOAT_HISTOGRAMS => {
            let tenant = d.u32()?;
            let samples = d.histograms(typ == TYPE_FLOAT_HISTOGRAMS)?;
            Ok(Record::Histograms { tenant, samples })
        }
        TYPE_EXEMPLARS => {
            let tenant = d.u32()?;
            let exemplars = d.exemplars()?;
            Ok(Record::Exemplars { tenant, exemplars })
        }
        TYPE_MIN_VALID_TIME => {
            let tenant = d.u32()?;
            let t = d.u64()? as i64;
            if !d.is_empty() {
                return Err(d.err("trailing bytes"));
            }
            Ok(Record::MinValidTime { tenant, t })
        }
        t => Err(RecordError::UnknownType(t)),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn records_round_trip() {
        let r = tenants_record(&[(1, "team-a"), (7, "b")]);
        assert_eq!(
            decode(&r),
            Ok(Record::Tenants(vec![(1, "team-a".into()), (7, "b".into())]))
        );
        let mut sr = SeriesRecords::new(3);
        let l = Labels::from_pairs([("__name__", "up"), ("job", "x")]);
        sr.add(42, l.iter().map(|l| (l.name.as_str(), l.value.as_str())));
        let mut out = Vec::new();
        sr.finish(&mut out);
        assert_eq!(
            decode(&out[0]),
            Ok(Record::Series {
                tenant: 3,
                series: vec![(42, l)]
            })
        );
        let md = MetricMetadata {
            metric_family_name: "up".into(),
            metric_type: MetricType::Gauge,
            help: "h".into(),
            unit: "u".into(),
        };
        assert_eq!(
            decode(&metadata_record(9, std::slice::from_ref(&md))),
            Ok(Record::Metadata {
                tenant: 9,
                entries: vec![md]
            })
        );
        assert_eq!(decode(&[]), Err(RecordError::Empty));
        assert_eq!(decode(&[99]), Err(RecordError::UnknownType(99)));
        assert!(decode(&[TYPE_SAMPLES, 0, 0]).is_err());
    }

    #[test]
    fn many_samples_are_split() {
        let s: Vec<RefSample> = (0..10_000)
            .map(|i| RefSample {
                series_ref: i % 7,
                t: i as i64,
                v: 1.0,
            })
            .collect();
        let mut out = Vec::new();
        samples_records(1, &s, &mut out);
        assert_eq!(out.len(), 3);
        let mut back = Vec::new();
        for r in &out {
            match decode(r) {
                Ok(Record::Samples { samples, .. }) => back.extend(samples),
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(back, s);
    }

    proptest! {
        #[test]
        fn samples_round_trip(s in prop::collection::vec((any::<u64>(), any::<i64>(), any::<u64>()), 1..200), tenant in any::<u32>()) {
            let s: Vec<RefSample> = s.into_iter().map(|(r, t, v)| RefSample { series_ref: r, t, v: f64::from_bits(v) }).collect();
            let mut out = Vec::new();
            samples_records(tenant, &s, &mut out);
            prop_assert_eq!(out.len(), 1);
            match decode(&out[0]) {
                Ok(Record::Samples { tenant: t, samples }) => {
                    prop_assert_eq!(t, tenant);
                    prop_assert_eq!(samples.len(), s.len());
                    for (a, b) in samples.iter().zip(&s) {
                        prop_assert_eq!((a.series_ref, a.t, a.v.to_bits()), (b.series_ref, b.t, b.v.to_bits()));
                    }
                }
                other => return Err(TestCaseError::fail(format!("{other:?}"))),
            }
        }

        #[test]
        fn decoding_garbage_never_panics(b in prop::collection::vec(any::<u8>(), 0..300)) {
            let _ = decode(&b);
        }
    }
}
