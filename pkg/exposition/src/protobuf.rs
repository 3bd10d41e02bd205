//! The delimited protobuf exposition format
//! (`application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily;
//! encoding=delimited`): a sequence of `MetricFamily` messages ([`dto`]), each preceded by
//! its length as a varint. It is the only format that carries native histograms.
//!
//! ```text
//!  body ─► [varint len][MetricFamily] [varint len][MetricFamily] …
//!            └─ ProtobufParser ─► ProtoFamily { name, help, unit, kind, samples }
//!                                   samples as Prometheus's protobuf parser yields them:
//!  counter/gauge/untyped  name                      Float (+ exemplar, created timestamp)
//!  summary                name_count, name_sum, name{quantile="q"}…
//!  classic histogram      name_count, name_sum, name_bucket{le="b"}… (+Inf added if absent)
//!  native histogram       name                      Histogram | FloatHistogram
//!                         (+ the classic series too when `keep_classic_histograms`)
//! ```
//!
//! Semantics follow Prometheus 3's `model/textparse/protobufparse.go`: a histogram is
//! native when it has a bucket span, a zero threshold or a zero count (client libraries
//! send a no-op span for an empty native histogram); it is a float histogram when
//! `sample_count_float` or `zero_count_float` is positive, else an integer one with
//! delta-encoded buckets; gauge histograms get the gauge counter-reset hint; both are
//! compacted as Prometheus does (unless the spans do not match the bucket count: such a
//! histogram is passed on as sent, and its `validate()` refuses it, as Prometheus's
//! append does). `le` and `quantile` values are written like
//! Prometheus's `formatOpenMetricsFloat` (`1.0`, `0.25`, `1e+06`, `+Inf`), so the series
//! are the same as when the target is scraped as text. A metric timestamp of 0 means
//! none, as in Prometheus. Unlike Prometheus, every NaN value is made the canonical NaN,
//! as the text parsers do, so a target cannot send staleness markers.
//!
//! Invariants: no input panics; a length prefix is never trusted beyond the bytes present;
//! after an error the iterator ends.

pub mod dto;

use crate::entry::MetricType;
use crate::float::NORMAL_NAN;
use prost::Message;
use strata_model::histogram::{CounterResetHint, FloatHistogram, Histogram, Span};

/// A body the protobuf parser refuses.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("protobuf message at byte {offset}: {message}")]
pub struct ProtobufError {
    /// Where the offending message starts in the body.
    pub offset: usize,
    /// What is wrong (Prometheus's words where it has them).
    pub message: String,
}

/// What a sample carries.
#[derive(Clone, Debug, PartialEq)]
pub enum ProtoValue {
    /// A float sample.
    Float(f64),
    /// A native histogram with integer counts.
    Histogram(Box<Histogram>),
    /// A native histogram with float counts.
    FloatHistogram(Box<FloatHistogram>),
}

/// An exemplar of a counter, a classic bucket or a native histogram.
#[derive(Clone, Debug, PartialEq)]
pub struct ProtoExemplar {
    /// Its labels.
    pub labels: Vec<(String, String)>,
    /// Its value.
    pub value: f64,
    /// Its timestamp in milliseconds, if it has one.
    pub timestamp_ms: Option<i64>,
}

/// One series' sample, as Prometheus's protobuf parser yields it.
#[derive(Clone, Debug, PartialEq)]
pub struct ProtoSample {
    /// The series name: the family name, or it with `_count`, `_sum`, `_bucket`.
    pub name: String,
    /// The labels as sent, then `le` or `quantile` for bucket and quantile series.
    pub labels: Vec<(String, String)>,
    /// The value.
    pub value: ProtoValue,
    /// The metric's own timestamp in milliseconds, if it has one.
    pub timestamp_ms: Option<i64>,
    /// The metric's created timestamp in milliseconds (counters, summaries, histograms),
    /// on every series the metric yields.
    pub created_timestamp_ms: Option<i64>,
    /// Exemplars: a counter's or a classic bucket's (at most one), or a native
    /// histogram's: its own list, or else its buckets' ones, only those with a timestamp
    /// (as Prometheus).
    pub exemplars: Vec<ProtoExemplar>,
}

impl ProtoSample {
    /// The series as a sorted [`strata_model::Labels`], `__name__` included; empty
    /// values are left out and the later of two equal names wins (as
    /// [`crate::Sample::to_labels`]).
    pub fn to_labels(&self) -> strata_model::Labels {
        let mut v = Vec::with_capacity(self.labels.len() + 1);
        v.push(strata_model::Label::new(
            strata_model::METRIC_NAME,
            self.name.as_str(),
        ));
        for (n, val) in self.labels.iter().filter(|(_, v)| !v.is_empty()) {
            v.push(strata_model::Label::new(n.as_str(), val.as_str()));
        }
        strata_model::Labels::new(v)
    }
}

/// One decoded metric family: its metadata and its samples in Prometheus's order (none
/// for a family without metrics, which Prometheus skips).
#[derive(Clone, Debug, PartialEq)]
pub struct ProtoFamily {
    /// The family name.
    pub name: String,
    /// The help text.
    pub help: String,
    /// The unit (may be empty).
    pub unit: String,
    /// The type (`untyped` is [`MetricType::Unknown`]).
    pub kind: MetricType,
    /// The samples of every metric of the family.
    pub samples: Vec<ProtoSample>,
}

/// A streaming parser over a delimited protobuf body: an iterator of [`ProtoFamily`],
/// ending after the first error.
pub struct ProtobufParser<'a> {
    input: &'a [u8],
    pos: usize,
    keep_classic_histograms: bool,
    failed: bool,
}

impl<'a> ProtobufParser<'a> {
    /// A parser over `input`. With `keep_classic_histograms` (Prometheus's
    /// `always_scrape_classic_histograms`), a histogram with native buckets also yields its
    /// classic `_bucket`/`_sum`/`_count` series; without, only the native histogram.
    pub fn new(input: &'a [u8], keep_classic_histograms: bool) -> Self {
        Self {
            input,
            pos: 0,
            keep_classic_histograms,
            failed: false,
        }
    }

    fn next_family(&mut self) -> Result<ProtoFamily, ProtobufError> {
        let start = self.pos;
        let err = |message: String| ProtobufError {
            offset: start,
            message,
        };
        let rest = &self.input[start..];
        let (len, varint_len) = read_varint32(rest)
            .ok_or_else(|| err("protobufparse: invalid varint encountered".to_string()))?;
        let total = varint_len as u64 + len;
        if total > rest.len() as u64 {
            return Err(err(format!(
                "protobufparse: insufficient length of buffer, expected at least {total} bytes, got {} bytes",
                rest.len()
            )));
        }
        let total = total as usize;
        let mf = dto::MetricFamily::decode(&rest[varint_len..total])
            .map_err(|e| err(format!("protobufparse: {e}")))?;
        self.pos = start + total;
        convert(mf, self.keep_classic_histograms).map_err(err)
    }
}

impl Iterator for ProtobufParser<'_> {
    type Item = Result<ProtoFamily, ProtobufError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.pos >= self.input.len() {
            return None;
        }
        let r = self.next_family();
        self.failed = r.is_err();
        Some(r)
    }
}

/// Parses a whole delimited protobuf body, stopping at the first error.
pub fn parse_protobuf(
    input: &[u8],
    keep_classic_histograms: bool,
) -> Result<Vec<ProtoFamily>, ProtobufError> {
    ProtobufParser::new(input, keep_classic_histograms).collect()
}

/// A varint of at most 5 bytes (Go's `binary.MaxVarintLen32`, as Prometheus checks) and
/// its length.
fn read_varint32(b: &[u8]) -> Option<(u64, usize)> {
    let mut v: u64 = 0;
    for (i, &byte) in b.iter().enumerate().take(10) {
        v |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            let n = i + 1;
            return (n <= 5).then_some((v, n));
        }
    }
    None
}

fn is_metric_name(s: &str) -> bool {
    let mut b = s.bytes();
    matches!(b.next(), Some(c) if c.is_ascii_alphabetic() || c == b'_' || c == b':')
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b':')
}

fn is_label_name(s: &str) -> bool {
    let mut b = s.bytes();
    matches!(b.next(), Some(c) if c.is_ascii_alphabetic() || c == b'_')
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

fn norm(v: f64) -> f64 {
    if v.is_nan() {
        NORMAL_NAN
    } else {
        v
    }
}

/// Prometheus's `formatOpenMetricsFloat`: Go's `%v` of a float64, with `.0` added when
/// it has neither a `.` nor an exponent.
pub fn format_openmetrics_float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    let s = go_float(f);
    if s.contains(['.', 'e']) {
        s
    } else {
        s + ".0"
    }
}

/// Go's `fmt.Sprint(float64)`: the shortest digits, `%e` form when the exponent is below
/// -4 or at least 6 (`1e+06`, `1.5e-05`), else plain decimal.
fn go_float(f: f64) -> String {
    let sci = format!("{f:e}");
    let Some((mantissa, exp)) = sci.split_once('e') else {
        return sci;
    };
    let exp: i32 = exp.parse().unwrap_or(0);
    if f == 0.0 {
        return if f.is_sign_negative() { "-0" } else { "0" }.into();
    }
    if (-4..6).contains(&exp) {
        return format!("{f}");
    }
    let sign = if exp < 0 { '-' } else { '+' };
    format!("{mantissa}e{sign}{:02}", exp.abs())
}

fn labels_of(pairs: &[dto::LabelPair]) -> Result<Vec<(String, String)>, String> {
    pairs
        .iter()
        .map(|l| {
            if !is_label_name(&l.name) {
                return Err(format!("invalid label name: {}", l.name));
            }
            Ok((l.name.clone(), l.value.clone()))
        })
        .collect()
}

/// An exemplar as sent (Prometheus does not check exemplar label names here).
fn exemplar_of(e: &dto::Exemplar) -> ProtoExemplar {
    ProtoExemplar {
        labels: e
            .label
            .iter()
            .map(|l| (l.name.clone(), l.value.clone()))
            .collect(),
        value: norm(e.value),
        timestamp_ms: e.timestamp.map(dto::Timestamp::to_millis),
    }
}

/// A native histogram's exemplars as Prometheus takes them: its own list if not empty,
/// else its classic buckets' ones; either way only those with a timestamp.
fn native_exemplars(h: &dto::Histogram) -> Vec<ProtoExemplar> {
    let timed = |e: &&dto::Exemplar| e.timestamp.is_some();
    if h.exemplars.is_empty() {
        h.bucket
            .iter()
            .filter_map(|b| b.exemplar.as_ref())
            .filter(timed)
            .map(exemplar_of)
            .collect()
    } else {
        h.exemplars.iter().filter(timed).map(exemplar_of).collect()
    }
}

/// Prometheus's check that a family's unit is a suffix of its name (before `_total` for
/// counters).
fn check_unit(name: &str, unit: &str, counter: bool) -> Result<(), String> {
    if unit.is_empty() {
        return Ok(());
    }
    let (base, what) = match name.strip_suffix("_total") {
        Some(base) if counter => (base, "counter"),
        _ => (name, "metric"),
    };
    let ok = base
        .strip_suffix(unit)
        .is_some_and(|rest| rest.ends_with('_'));
    if ok {
        Ok(())
    } else {
        Err(format!("unit {unit:?} not a suffix of {what} {name:?}"))
    }
}

fn spans(s: &[dto::BucketSpan]) -> Vec<Span> {
    s.iter()
        .map(|s| Span {
            offset: s.offset,
            length: s.length,
        })
        .collect()
}

/// Prometheus 3's `isNativeHistogram`.
fn is_native(h: &dto::Histogram) -> bool {
    !h.positive_span.is_empty()
        || !h.negative_span.is_empty()
        || h.zero_threshold > 0.0
        || h.zero_count > 0
}

/// Tells whether the spans cover exactly `buckets` buckets. A histogram where they do not
/// is passed on as sent (not compacted) for the caller's `validate` to refuse.
fn spans_fit(spans: &[dto::BucketSpan], buckets: usize) -> bool {
    spans.iter().map(|s| u64::from(s.length)).sum::<u64>() == buckets as u64
}

fn native_value(h: &dto::Histogram, gauge: bool) -> ProtoValue {
    let hint = if gauge {
        CounterResetHint::Gauge
    } else {
        CounterResetHint::Unknown
    };
    if h.sample_count_float > 0.0 || h.zero_count_float > 0.0 {
        let mut fh = FloatHistogram {
            counter_reset_hint: hint,
            schema: h.schema,
            zero_threshold: h.zero_threshold,
            zero_count: h.zero_count_float,
            count: h.sample_count_float,
            sum: h.sample_sum,
            positive_spans: spans(&h.positive_span),
            negative_spans: spans(&h.negative_span),
            positive_buckets: h.positive_count.clone(),
            negative_buckets: h.negative_count.clone(),
            custom_values: Vec::new(),
        };
        if spans_fit(&h.positive_span, fh.positive_buckets.len())
            && spans_fit(&h.negative_span, fh.negative_buckets.len())
        {
            fh.compact(0);
        }
        ProtoValue::FloatHistogram(Box::new(fh))
    } else {
        let mut ih = Histogram {
            counter_reset_hint: hint,
            schema: h.schema,
            zero_threshold: h.zero_threshold,
            zero_count: h.zero_count,
            count: h.sample_count,
            sum: h.sample_sum,
            positive_spans: spans(&h.positive_span),
            negative_spans: spans(&h.negative_span),
            positive_buckets: h.positive_delta.clone(),
            negative_buckets: h.negative_delta.clone(),
            custom_values: Vec::new(),
        };
        if spans_fit(&h.positive_span, ih.positive_buckets.len())
            && spans_fit(&h.negative_span, ih.negative_buckets.len())
        {
            ih.compact(0);
        }
        ProtoValue::Histogram(Box::new(ih))
    }
}

/// Turns one decoded family into samples in Prometheus's order.
fn convert(mf: dto::MetricFamily, keep_classic: bool) -> Result<ProtoFamily, String> {
    if !is_metric_name(&mf.name) {
        return Err(format!("invalid metric name: {}", mf.name));
    }
    let proto_type = dto::MetricType::try_from(mf.r#type).map_err(|_| {
        format!(
            "unknown metric type for metric {:?}: {}",
            mf.name, mf.r#type
        )
    })?;
    let kind = match proto_type {
        dto::MetricType::Counter => MetricType::Counter,
        dto::MetricType::Gauge => MetricType::Gauge,
        dto::MetricType::Summary => MetricType::Summary,
        dto::MetricType::Untyped => MetricType::Unknown,
        dto::MetricType::Histogram => MetricType::Histogram,
        dto::MetricType::GaugeHistogram => MetricType::GaugeHistogram,
    };
    check_unit(&mf.name, &mf.unit, kind == MetricType::Counter)?;
    let name = &mf.name;
    let mut samples = Vec::new();
    for m in &mf.metric {
        let labels = labels_of(&m.label)?;
        let timestamp_ms = (m.timestamp_ms != 0).then_some(m.timestamp_ms);
        let sample = |suffix: &str,
                      extra: Option<(&str, String)>,
                      value: ProtoValue,
                      created: Option<i64>,
                      exemplars: Vec<ProtoExemplar>| {
            let mut l = labels.clone();
            if let Some((n, v)) = extra {
                l.push((n.to_string(), v));
            }
            ProtoSample {
                name: format!("{name}{suffix}"),
                labels: l,
                value,
                timestamp_ms,
                created_timestamp_ms: created,
                exemplars,
            }
        };
        match proto_type {
            dto::MetricType::Counter => {
                let c = m.counter.clone().unwrap_or_default();
                let ex = c.exemplar.as_ref().map(exemplar_of);
                samples.push(sample(
                    "",
                    None,
                    ProtoValue::Float(norm(c.value)),
                    c.created_timestamp.map(dto::Timestamp::to_millis),
                    ex.into_iter().collect(),
                ));
            }
            dto::MetricType::Gauge => {
                let v = m.gauge.as_ref().map_or(0.0, |g| g.value);
                samples.push(sample(
                    "",
                    None,
                    ProtoValue::Float(norm(v)),
                    None,
                    Vec::new(),
                ));
            }
            dto::MetricType::Untyped => {
                let v = m.untyped.as_ref().map_or(0.0, |u| u.value);
                samples.push(sample(
                    "",
                    None,
                    ProtoValue::Float(norm(v)),
                    None,
                    Vec::new(),
                ));
            }
            dto::MetricType::Summary => {
                let s = m.summary.clone().unwrap_or_default();
                let created = s.created_timestamp.map(dto::Timestamp::to_millis);
                let count = ProtoValue::Float(s.sample_count as f64);
                samples.push(sample("_count", None, count, created, Vec::new()));
                let sum = ProtoValue::Float(norm(s.sample_sum));
                samples.push(sample("_sum", None, sum, created, Vec::new()));
                for q in &s.quantile {
                    let label = ("quantile", format_openmetrics_float(q.quantile));
                    let v = ProtoValue::Float(norm(q.value));
                    samples.push(sample("", Some(label), v, created, Vec::new()));
                }
            }
            dto::MetricType::Histogram | dto::MetricType::GaugeHistogram => {
                let h = m.histogram.clone().unwrap_or_default();
                let created = h.created_timestamp.map(dto::Timestamp::to_millis);
                let native = is_native(&h);
                if native {
                    let gauge = proto_type == dto::MetricType::GaugeHistogram;
                    let ex = native_exemplars(&h);
                    samples.push(sample("", None, native_value(&h, gauge), created, ex));
                }
                if !native || keep_classic {
                    let count = if h.sample_count_float > 0.0 {
                        h.sample_count_float
                    } else {
                        h.sample_count as f64
                    };
                    let c = ProtoValue::Float(norm(count));
                    samples.push(sample("_count", None, c, created, Vec::new()));
                    let s = ProtoValue::Float(norm(h.sample_sum));
                    samples.push(sample("_sum", None, s, created, Vec::new()));
                    let mut has_inf = false;
                    for b in &h.bucket {
                        let v = if b.cumulative_count_float > 0.0 {
                            b.cumulative_count_float
                        } else {
                            b.cumulative_count as f64
                        };
                        has_inf = b.upper_bound == f64::INFINITY;
                        let ex = b.exemplar.as_ref().map(exemplar_of);
                        let le = ("le", format_openmetrics_float(b.upper_bound));
                        samples.push(sample(
                            "_bucket",
                            Some(le),
                            ProtoValue::Float(norm(v)),
                            created,
                            ex.into_iter().collect(),
                        ));
                        if has_inf {
                            break;
                        }
                    }
                    if !has_inf {
                        let le = ("le", "+Inf".to_string());
                        let v = ProtoValue::Float(norm(count));
                        samples.push(sample("_bucket", Some(le), v, created, Vec::new()));
                    }
                }
            }
        }
    }
    Ok(ProtoFamily {
        name: mf.name.clone(),
        help: mf.help,
        unit: mf.unit,
        kind,
        samples,
    })
}

#[cfg(test)]
mod tests;
