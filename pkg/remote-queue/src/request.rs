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

/// RW 1.0: one `TimeSeries` per series, plus metadata.
pub(crate) fn build_v1(items: &[Item], metadata: &[MetricMetadata]) -> v1::WriteRequest {
    let timeseries = group(items)
        .into_iter()
        .map(|(s, its)| {
            let mut ts = v1::TimeSeries {
                labels: s
                    .labels
                    .iter()
                    .map(|l| v1::Label {
                        name: l.name.to_string(),
                        value: l.value.to_string(),
                    })
                    .collect(),
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
                        SampleValue::FloatHistogram(h) => {
                            ts.histograms.push(v1_float_histogram(h, *t))
                        }
                        SampleValue::Float(_) => {}
                    },
                    Item::Exemplar { t, v, labels, .. } => ts.exemplars.push(v1::Exemplar {
                        labels: labels
                            .iter()
                            .map(|l| v1::Label {
                                name: l.name.to_string(),
                                value: l.value.to_string(),
                            })
                            .collect(),
                        value: *v,
                        timestamp: *t,
                    }),
                }
            }
            ts
        })
        .collect();
    v1::WriteRequest {
        timeseries,
        metadata: metadata
            .iter()
            .map(|m| v1::MetricMetadata {
                r#type: type_number(m.metric_type),
                metric_family_name: m.metric_family_name.clone(),
                help: m.help.clone(),
                unit: m.unit.clone(),
            })
            .collect(),
    }
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
        Protocol::V1 => build_v1(items, metadata).encode_to_vec(),
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
