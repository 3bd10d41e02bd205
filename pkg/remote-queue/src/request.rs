//! Building remote-write requests from what a shard sends: RW 1.0 `prometheus.WriteRequest`
//! or RW 2.0 `io.prometheus.write.v2.Request` (a symbol table, label refs, metadata per
//! series), protobuf-encoded and snappy-compressed (block format), as Prometheus sends.

use std::collections::HashMap;
use std::sync::Arc;

use prost::Message;
use strata_model::{FloatHistogram, Histogram, Labels, Span};
use strata_proto::{prometheus as v1, write_v2 as v2};
use strata_tsdb::{MetricMetadata, MetricType, SampleValue};

use crate::config::Protocol;

/// A series as an endpoint sends it: labels after external labels and write relabelling,
/// and (for RW 2.0) its family's metadata.
#[derive(Debug)]
pub(crate) struct SeriesInfo {
    pub labels: Labels,
    pub metadata: Option<MetricMetadata>,
}

/// One thing to send.
#[derive(Debug)]
pub(crate) enum Item {
    Sample {
        series: Arc<SeriesInfo>,
        t: i64,
        v: f64,
    },
    Histogram {
        series: Arc<SeriesInfo>,
        t: i64,
        h: SampleValue,
    },
    Exemplar {
        series: Arc<SeriesInfo>,
        t: i64,
        v: f64,
        labels: Labels,
    },
}

impl Item {
    fn series(&self) -> &Arc<SeriesInfo> {
        match self {
            Item::Sample { series, .. }
            | Item::Histogram { series, .. }
            | Item::Exemplar { series, .. } => series,
        }
    }

    /// Whether it counts as a sample in the metrics (exemplars do not).
    pub fn is_sample(&self) -> bool {
        !matches!(self, Item::Exemplar { .. })
    }

    /// Its timestamp.
    pub fn t(&self) -> i64 {
        match self {
            Item::Sample { t, .. } | Item::Histogram { t, .. } | Item::Exemplar { t, .. } => *t,
        }
    }
}

/// Groups items by series (by pointer: one endpoint shares one `Arc` per series), keeping
/// each series' order and the order series first appear in.
fn group(items: &[Item]) -> Vec<(&Arc<SeriesInfo>, Vec<&Item>)> {
    let mut idx: HashMap<*const SeriesInfo, usize> = HashMap::new();
    let mut out: Vec<(&Arc<SeriesInfo>, Vec<&Item>)> = Vec::new();
    for it in items {
        let s = it.series();
        let i = *idx.entry(Arc::as_ptr(s)).or_insert_with(|| {
            out.push((s, Vec::new()));
            out.len() - 1
        });
        out[i].1.push(it);
    }
    out
}

fn type_number(t: MetricType) -> i32 {
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

macro_rules! histogram_to {
    ($m:ident, $int:ident, $float:ident) => {
        fn $int(h: &Histogram, t: i64) -> $m::Histogram {
            $m::Histogram {
                count: Some($m::histogram::Count::CountInt(h.count)),
                sum: h.sum,
                schema: h.schema,
                zero_threshold: h.zero_threshold,
                zero_count: Some($m::histogram::ZeroCount::ZeroCountInt(h.zero_count)),
                negative_spans: h.negative_spans.iter().map(|s| span_to!($m, s)).collect(),
                negative_deltas: h.negative_buckets.clone(),
                negative_counts: Vec::new(),
                positive_spans: h.positive_spans.iter().map(|s| span_to!($m, s)).collect(),
                positive_deltas: h.positive_buckets.clone(),
                positive_counts: Vec::new(),
                reset_hint: hint_number(h.counter_reset_hint),
                timestamp: t,
                custom_values: h.custom_values.clone(),
            }
        }

        fn $float(h: &FloatHistogram, t: i64) -> $m::Histogram {
            $m::Histogram {
                count: Some($m::histogram::Count::CountFloat(h.count)),
                sum: h.sum,
                schema: h.schema,
                zero_threshold: h.zero_threshold,
                zero_count: Some($m::histogram::ZeroCount::ZeroCountFloat(h.zero_count)),
                negative_spans: h.negative_spans.iter().map(|s| span_to!($m, s)).collect(),
                negative_deltas: Vec::new(),
                negative_counts: h.negative_buckets.clone(),
                positive_spans: h.positive_spans.iter().map(|s| span_to!($m, s)).collect(),
                positive_deltas: Vec::new(),
                positive_counts: h.positive_buckets.clone(),
                reset_hint: hint_number(h.counter_reset_hint),
                timestamp: t,
                custom_values: h.custom_values.clone(),
            }
        }
    };
}

macro_rules! span_to {
    ($m:ident, $s:expr) => {{
        let s: &Span = $s;
        $m::BucketSpan {
            offset: s.offset,
            length: s.length,
        }
    }};
}

fn hint_number(h: strata_model::CounterResetHint) -> i32 {
    use strata_model::CounterResetHint as H;
    match h {
        H::Unknown => 0,
        H::CounterReset => 1,
        H::NotCounterReset => 2,
        H::Gauge => 3,
    }
}

histogram_to!(v1, v1_histogram, v1_float_histogram);
histogram_to!(v2, v2_histogram, v2_float_histogram);

/// RW 1.0: one `TimeSeries` per series, plus metadata. [`encode_v1`] writes its encoding
/// directly; this is the reference its test compares with.
#[cfg(test)]
pub(crate) fn build_v1(items: &[Item], metadata: &[MetricMetadata]) -> v1::WriteRequest {
    v1::WriteRequest {
        timeseries: group(items)
            .into_iter()
            .map(|(s, its)| v1_series(s, &its))
            .collect(),
        metadata: metadata.iter().map(v1_metadata).collect(),
    }
}

fn v1_series(s: &SeriesInfo, its: &[&Item]) -> v1::TimeSeries {
    let mut ts = v1::TimeSeries {
        labels: v1_labels(&s.labels),
        ..Default::default()
    };
    for it in its {
        match it {
            Item::Sample { t, v, .. } => ts.samples.push(v1::Sample {
                value: *v,
                timestamp: *t,
            }),
            Item::Histogram { t, h, .. } => match h {
                SampleValue::Histogram(h) => ts.histograms.push(v1_histogram(h, *t)),
                SampleValue::FloatHistogram(h) => ts.histograms.push(v1_float_histogram(h, *t)),
                SampleValue::Float(_) => {}
            },
            Item::Exemplar { t, v, labels, .. } => ts.exemplars.push(v1::Exemplar {
                labels: v1_labels(labels),
                value: *v,
                timestamp: *t,
            }),
        }
    }
    ts
}

fn v1_labels(labels: &Labels) -> Vec<v1::Label> {
    labels
        .iter()
        .map(|l| v1::Label {
            name: l.name.to_string(),
            value: l.value.to_string(),
        })
        .collect()
}

fn v1_metadata(m: &MetricMetadata) -> v1::MetricMetadata {
    v1::MetricMetadata {
        r#type: type_number(m.metric_type),
        metric_family_name: m.metric_family_name.clone(),
        help: m.help.clone(),
        unit: m.unit.clone(),
    }
}

/// The protobuf encoding of `build_v1`'s request, byte for byte, without building it:
/// series of float samples only (nearly all of them) are written straight from their
/// labels, so no label string is copied; the others go through [`v1_series`].
pub(crate) fn encode_v1(items: &[Item], metadata: &[MetricMetadata]) -> Vec<u8> {
    use prost::encoding::{encode_varint, encoded_len_varint};
    // A length-delimited field's size: key (tags here are < 16: one byte), length, body.
    fn field_len(len: usize) -> usize {
        1 + encoded_len_varint(len as u64) + len
    }
    // A string field as prost writes it: omitted when empty.
    fn str_len(v: &str) -> usize {
        if v.is_empty() {
            0
        } else {
            field_len(v.len())
        }
    }
    fn put_str(out: &mut Vec<u8>, key: u8, v: &str) {
        if !v.is_empty() {
            out.push(key);
            encode_varint(v.len() as u64, out);
            out.extend_from_slice(v.as_bytes());
        }
    }
    // A `Sample`'s body length: zero fields are omitted, as prost does.
    fn sample_len(t: i64, v: f64) -> usize {
        (if v != 0.0 { 9 } else { 0 })
            + if t != 0 {
                1 + encoded_len_varint(t as u64)
            } else {
                0
            }
    }
    let mut out = Vec::with_capacity(items.len() * 32);
    for (s, its) in group(items) {
        if !its.iter().all(|it| matches!(it, Item::Sample { .. })) {
            prost::encoding::message::encode(1, &v1_series(s, &its), &mut out);
            continue;
        }
        let label_len = |name: &str, value: &str| str_len(name) + str_len(value);
        let labels: usize = s
            .labels
            .iter()
            .map(|l| field_len(label_len(&l.name, &l.value)))
            .sum();
        let samples: usize = its
            .iter()
            .map(|it| match it {
                Item::Sample { t, v, .. } => field_len(sample_len(*t, *v)),
                _ => 0,
            })
            .sum();
        out.push(0x0a); // WriteRequest.timeseries = 1
        encode_varint((labels + samples) as u64, &mut out);
        for l in s.labels.iter() {
            out.push(0x0a); // TimeSeries.labels = 1
            encode_varint(label_len(&l.name, &l.value) as u64, &mut out);
            put_str(&mut out, 0x0a, &l.name); // Label.name = 1
            put_str(&mut out, 0x12, &l.value); // Label.value = 2
        }
        for it in its {
            if let Item::Sample { t, v, .. } = it {
                out.push(0x12); // TimeSeries.samples = 2
                encode_varint(sample_len(*t, *v) as u64, &mut out);
                if *v != 0.0 {
                    out.push(0x09); // Sample.value = 1, 64-bit
                    out.extend_from_slice(&v.to_le_bytes());
                }
                if *t != 0 {
                    out.push(0x10); // Sample.timestamp = 2, varint
                    encode_varint(*t as u64, &mut out);
                }
            }
        }
    }
    for m in metadata {
        prost::encoding::message::encode(3, &v1_metadata(m), &mut out);
    }
    out
}

/// The RW 2.0 symbol table: "" first, each string once.
#[derive(Default)]
struct Symbols {
    list: Vec<String>,
    idx: HashMap<String, u32>,
}

impl Symbols {
    fn new() -> Self {
        let mut s = Self::default();
        s.get("");
        s
    }

    fn get(&mut self, v: &str) -> u32 {
        if let Some(&i) = self.idx.get(v) {
            return i;
        }
        let i = self.list.len() as u32;
        self.list.push(v.to_string());
        self.idx.insert(v.to_string(), i);
        i
    }

    fn labels(&mut self, l: &Labels) -> Vec<u32> {
        let mut out = Vec::with_capacity(l.len() * 2);
        for l in l.iter() {
            out.push(self.get(&l.name));
            out.push(self.get(&l.value));
        }
        out
    }
}

/// RW 2.0: one `TimeSeries` per series with label refs and metadata.
pub(crate) fn build_v2(items: &[Item]) -> v2::Request {
    let mut sym = Symbols::new();
    let mut timeseries = Vec::new();
    for (s, its) in group(items) {
        let mut ts = v2::TimeSeries {
            labels_refs: sym.labels(&s.labels),
            ..Default::default()
        };
        if let Some(m) = &s.metadata {
            ts.metadata = Some(v2::Metadata {
                r#type: type_number(m.metric_type),
                help_ref: sym.get(&m.help),
                unit_ref: sym.get(&m.unit),
            });
        }
        for it in its {
            match it {
                Item::Sample { t, v, .. } => ts.samples.push(v2::Sample {
                    value: *v,
                    timestamp: *t,
                }),
                Item::Histogram { t, h, .. } => match h {
                    SampleValue::Histogram(h) => ts.histograms.push(v2_histogram(h, *t)),
                    SampleValue::FloatHistogram(h) => ts.histograms.push(v2_float_histogram(h, *t)),
                    SampleValue::Float(_) => {}
                },
                Item::Exemplar { t, v, labels, .. } => ts.exemplars.push(v2::Exemplar {
                    labels_refs: sym.labels(labels),
                    value: *v,
                    timestamp: *t,
                }),
            }
        }
        timeseries.push(ts);
    }
    v2::Request {
        symbols: sym.list,
        timeseries,
    }
}

/// The request body (protobuf, snappy block format) for `protocol`.
pub(crate) fn encode(
    protocol: Protocol,
    items: &[Item],
    metadata: &[MetricMetadata],
) -> Result<Vec<u8>, snap::Error> {
    let raw = match protocol {
        Protocol::V1 => encode_v1(items, metadata),
        Protocol::V2 => build_v2(items).encode_to_vec(),
    };
    snap::raw::Encoder::new().compress_vec(&raw)
}

/// The `Content-Type` and `X-Prometheus-Remote-Write-Version` of `protocol`.
pub(crate) fn content_headers(protocol: Protocol) -> (&'static str, &'static str) {
    match protocol {
        Protocol::V1 => ("application/x-protobuf", "0.1.0"),
        Protocol::V2 => (
            "application/x-protobuf;proto=io.prometheus.write.v2.Request",
            "2.0.0",
        ),
    }
}

/// The metadata of the family `name` belongs to: the name itself, or without a
/// histogram/summary/counter suffix.
pub(crate) fn family_metadata(
    md: &HashMap<String, MetricMetadata>,
    name: &str,
) -> Option<MetricMetadata> {
    if let Some(m) = md.get(name) {
        return Some(m.clone());
    }
    for suffix in [
        "_bucket", "_count", "_sum", "_total", "_created", "_info", "_gcount", "_gsum",
    ] {
        if let Some(base) = name.strip_suffix(suffix) {
            if let Some(m) = md.get(base) {
                return Some(m.clone());
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use strata_model::Label;

    use super::*;

    fn series(pairs: &[(&str, &str)]) -> Arc<SeriesInfo> {
        Arc::new(SeriesInfo {
            labels: Labels::new(pairs.iter().map(|(n, v)| Label::new(*n, *v)).collect()),
            metadata: None,
        })
    }

    #[test]
    fn encode_v1_is_byte_for_byte_the_built_request() {
        let long = "x".repeat(300); // lengths past one varint byte
        let a = series(&[("__name__", "a_total"), ("job", "j"), ("path", &long)]);
        let b = series(&[("__name__", "b"), ("empty", "")]);
        let h = series(&[("__name__", "h")]);
        let e = series(&[("__name__", "e")]);
        let items = vec![
            Item::Sample {
                series: a.clone(),
                t: 1_700_000_000_000,
                v: 1.5,
            },
            Item::Sample {
                series: b.clone(),
                t: 0,
                v: 0.0,
            },
            Item::Sample {
                series: a.clone(),
                t: -5,
                v: f64::NAN,
            },
            Item::Sample {
                series: b,
                t: 1,
                v: -0.0,
            },
            Item::Histogram {
                series: h.clone(),
                t: 7,
                h: SampleValue::Histogram(Box::default()),
            },
            Item::Sample {
                series: h,
                t: 8,
                v: 2.0,
            },
            Item::Sample {
                series: e.clone(),
                t: 9,
                v: 3.0,
            },
            Item::Exemplar {
                series: e,
                t: 9,
                v: 1.0,
                labels: Labels::new(vec![Label::new("trace_id", "abc")]),
            },
            Item::Sample {
                series: a,
                t: 1_700_000_015_000,
                v: f64::from_bits(0x7ff0_0000_0000_0002),
            },
        ];
        let metadata = vec![MetricMetadata {
            metric_family_name: "a".into(),
            metric_type: MetricType::Counter,
            help: "help".into(),
            unit: String::new(),
        }];
        for (items, metadata) in [
            (&items[..], &metadata[..]),
            (&items[..1], &[][..]),
            (&[][..], &[][..]),
        ] {
            assert_eq!(
                encode_v1(items, metadata),
                build_v1(items, metadata).encode_to_vec()
            );
        }
        // And it decodes to what was sent.
        let got =
            v1::WriteRequest::decode(encode_v1(&items, &metadata).as_slice()).expect("decode");
        assert_eq!(got.timeseries.len(), 4);
        assert_eq!(got.timeseries[0].samples.len(), 3);
        assert_eq!(got.timeseries[0].labels[2].value, long);
        assert_eq!(got.metadata.len(), 1);
    }

    proptest::proptest! {
        #[test]
        fn encode_v1_matches_prost_for_any_float_samples(
            series_labels in proptest::collection::vec(
                proptest::collection::vec(("[a-z_]{0,3}", "[a-zé]{0,200}"), 0..4),
                1..4,
            ),
            samples in proptest::collection::vec((0usize..4, proptest::num::i64::ANY, proptest::num::f64::ANY), 0..20),
        ) {
            let series: Vec<Arc<SeriesInfo>> = series_labels
                .iter()
                .map(|ls| {
                    Arc::new(SeriesInfo {
                        labels: Labels::new(
                            ls.iter().map(|(n, v)| Label::new(n.as_str(), v.as_str())).collect(),
                        ),
                        metadata: None,
                    })
                })
                .collect();
            let items: Vec<Item> = samples
                .iter()
                .map(|&(i, t, v)| Item::Sample { series: series[i % series.len()].clone(), t, v })
                .collect();
            proptest::prop_assert_eq!(encode_v1(&items, &[]), build_v1(&items, &[]).encode_to_vec());
        }
    }
}
