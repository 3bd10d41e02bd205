//! Remote write 2.0 → 1.0: resolves every `*_refs` through the request's symbol table and
//! rebuilds `prometheus.TimeSeries` and `MetricMetadata`, so validation and the ingester see
//! one shape. Per-series metadata becomes one `MetricMetadata` per metric family.
//!
//! Not carried over: `created_timestamp` (the ingester has no created-timestamp support yet).

use std::collections::HashSet;

use strata_proto::prometheus::{
    histogram as h1, metric_metadata::MetricType, BucketSpan, Exemplar, Histogram, Label,
    MetricMetadata, Sample, TimeSeries, WriteRequest,
};
use strata_proto::write_v2::{self as v2, histogram as h2};

use crate::error::PushError;

/// Converts a decoded 2.0 request into the equivalent 1.0 `WriteRequest`.
///
/// Fails on an odd `labels_refs` length, a reference past the symbol table, or a non-empty
/// table whose first symbol is not `""` (the spec requires it).
pub fn convert(req: v2::Request) -> Result<WriteRequest, PushError> {
    let symbols = &req.symbols;
    if let Some(first) = symbols.first() {
        if !first.is_empty() {
            return Err(PushError::InvalidRw2(format!(
                "symbols[0] must be the empty string, got {first:?}"
            )));
        }
    }
    let mut out = WriteRequest {
        timeseries: Vec::with_capacity(req.timeseries.len()),
        metadata: Vec::new(),
    };
    let mut families: HashSet<String> = HashSet::new();
    for (i, ts) in req.timeseries.into_iter().enumerate() {
        let labels = resolve_labels(symbols, &ts.labels_refs)
            .map_err(|e| PushError::InvalidRw2(format!("timeseries[{i}] labels: {e}")))?;
        if let Some(md) = &ts.metadata {
            let help = symbol(symbols, md.help_ref).map_err(|e| {
                PushError::InvalidRw2(format!("timeseries[{i}] metadata help: {e}"))
            })?;
            let unit = symbol(symbols, md.unit_ref).map_err(|e| {
                PushError::InvalidRw2(format!("timeseries[{i}] metadata unit: {e}"))
            })?;
            let name = labels
                .iter()
                .find(|l| l.name == strata_model::METRIC_NAME)
                .map(|l| l.value.as_str())
                .unwrap_or("");
            let has_metadata = md.r#type != 0 || !help.is_empty() || !unit.is_empty();
            if has_metadata && !name.is_empty() && families.insert(name.to_string()) {
                out.metadata.push(MetricMetadata {
                    r#type: metric_type(md.r#type) as i32,
                    metric_family_name: name.to_string(),
                    help: help.to_string(),
                    unit: unit.to_string(),
                });
            }
        }
        let mut exemplars = Vec::with_capacity(ts.exemplars.len());
        for (j, ex) in ts.exemplars.into_iter().enumerate() {
            let labels = resolve_labels(symbols, &ex.labels_refs).map_err(|e| {
                PushError::InvalidRw2(format!("timeseries[{i}] exemplar[{j}] labels: {e}"))
            })?;
            exemplars.push(Exemplar {
                labels,
                value: ex.value,
                timestamp: ex.timestamp,
            });
        }
        out.timeseries.push(TimeSeries {
            labels,
            samples: ts
                .samples
                .into_iter()
                .map(|s| Sample {
                    value: s.value,
                    timestamp: s.timestamp,
                })
                .collect(),
            exemplars,
            histograms: ts.histograms.into_iter().map(histogram).collect(),
        });
    }
    Ok(out)
}

fn symbol(symbols: &[String], r: u32) -> Result<&str, String> {
    symbols.get(r as usize).map(String::as_str).ok_or_else(|| {
        format!(
            "symbol reference {r} out of range (table has {} symbols)",
            symbols.len()
        )
    })
}

fn resolve_labels(symbols: &[String], refs: &[u32]) -> Result<Vec<Label>, String> {
    if refs.len() & 1 != 0 {
        return Err(format!("odd number of label references ({})", refs.len()));
    }
    refs.chunks_exact(2)
        .map(|pair| {
            Ok(Label {
                name: symbol(symbols, pair[0])?.to_string(),
                value: symbol(symbols, pair[1])?.to_string(),
            })
        })
        .collect()
}

/// The 2.0 metric types use the same numbers as 1.0's; unknown numbers become `UNKNOWN`.
fn metric_type(t: i32) -> MetricType {
    MetricType::try_from(t).unwrap_or(MetricType::Unknown)
}

fn spans(s: Vec<v2::BucketSpan>) -> Vec<BucketSpan> {
    s.into_iter()
        .map(|s| BucketSpan {
            offset: s.offset,
            length: s.length,
        })
        .collect()
}

fn histogram(h: v2::Histogram) -> Histogram {
    Histogram {
        count: h.count.map(|c| match c {
            h2::Count::CountInt(n) => h1::Count::CountInt(n),
            h2::Count::CountFloat(f) => h1::Count::CountFloat(f),
        }),
        sum: h.sum,
        schema: h.schema,
        zero_threshold: h.zero_threshold,
        zero_count: h.zero_count.map(|c| match c {
            h2::ZeroCount::ZeroCountInt(n) => h1::ZeroCount::ZeroCountInt(n),
            h2::ZeroCount::ZeroCountFloat(f) => h1::ZeroCount::ZeroCountFloat(f),
        }),
        negative_spans: spans(h.negative_spans),
        negative_deltas: h.negative_deltas,
        negative_counts: h.negative_counts,
        positive_spans: spans(h.positive_spans),
        positive_deltas: h.positive_deltas,
        positive_counts: h.positive_counts,
        // Same numbering in both versions (unspecified/unknown, yes, no, gauge).
        reset_hint: h.reset_hint,
        timestamp: h.timestamp,
        custom_values: h.custom_values,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message as _;

    /// The example from the 2.0 specification's symbol-table section, plus metadata, a
    /// histogram and an exemplar.
    fn spec_fixture() -> v2::Request {
        let symbols: Vec<String> = [
            "",
            "__name__",
            "http_requests_total",
            "job",
            "api",
            "code",
            "200",
            "Total HTTP requests.",
            "requests",
            "trace_id",
            "abc123",
            "rpc_latency_seconds",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        v2::Request {
            symbols,
            timeseries: vec![
                v2::TimeSeries {
                    labels_refs: vec![1, 2, 5, 6, 3, 4],
                    samples: vec![v2::Sample {
                        value: 42.0,
                        timestamp: 1_700_000_000_000,
                    }],
                    exemplars: vec![v2::Exemplar {
                        labels_refs: vec![9, 10],
                        value: 1.5,
                        timestamp: 1_700_000_000_001,
                    }],
                    metadata: Some(v2::Metadata {
                        r#type: v2::metadata::MetricType::Counter as i32,
                        help_ref: 7,
                        unit_ref: 8,
                    }),
                    created_timestamp: 1_699_999_000_000,
                    ..Default::default()
                },
                v2::TimeSeries {
                    labels_refs: vec![1, 11, 3, 4],
                    histograms: vec![v2::Histogram {
                        count: Some(h2::Count::CountInt(3)),
                        sum: 2.5,
                        schema: 1,
                        zero_threshold: 0.001,
                        zero_count: Some(h2::ZeroCount::ZeroCountInt(1)),
                        positive_spans: vec![v2::BucketSpan {
                            offset: -1,
                            length: 2,
                        }],
                        positive_deltas: vec![1, 0],
                        reset_hint: v2::histogram::ResetHint::No as i32,
                        timestamp: 1_700_000_000_000,
                        ..Default::default()
                    }],
                    metadata: Some(v2::Metadata {
                        r#type: v2::metadata::MetricType::Histogram as i32,
                        help_ref: 0,
                        unit_ref: 0,
                    }),
                    ..Default::default()
                },
            ],
        }
    }

    fn l(n: &str, v: &str) -> Label {
        Label {
            name: n.into(),
            value: v.into(),
        }
    }

    #[test]
    fn converts_spec_fixture_through_the_wire() {
        // Round-trip through bytes so field numbers are exercised, not just Rust structs.
        let bytes = spec_fixture().encode_to_vec();
        let req = crate::decode::decode_v2(&bytes).expect("decode");
        let out = convert(req).expect("convert");
        assert_eq!(out.timeseries.len(), 2);
        let a = &out.timeseries[0];
        assert_eq!(
            a.labels,
            vec![
                l("__name__", "http_requests_total"),
                l("code", "200"),
                l("job", "api")
            ]
        );
        assert_eq!(
            a.samples,
            vec![Sample {
                value: 42.0,
                timestamp: 1_700_000_000_000
            }]
        );
        assert_eq!(a.exemplars.len(), 1);
        assert_eq!(a.exemplars[0].labels, vec![l("trace_id", "abc123")]);
        assert_eq!(a.exemplars[0].value, 1.5);
        assert_eq!(a.exemplars[0].timestamp, 1_700_000_000_001);

        let b = &out.timeseries[1];
        assert_eq!(
            b.labels,
            vec![l("__name__", "rpc_latency_seconds"), l("job", "api")]
        );
        assert_eq!(b.histograms.len(), 1);
        let hist = &b.histograms[0];
        assert_eq!(hist.count, Some(h1::Count::CountInt(3)));
        assert_eq!(hist.zero_count, Some(h1::ZeroCount::ZeroCountInt(1)));
        assert_eq!(hist.schema, 1);
        assert_eq!(
            hist.positive_spans,
            vec![BucketSpan {
                offset: -1,
                length: 2
            }]
        );
        assert_eq!(hist.positive_deltas, vec![1, 0]);
        assert_eq!(hist.reset_hint, h1::ResetHint::No as i32);
        assert_eq!(hist.timestamp, 1_700_000_000_000);

        assert_eq!(
            out.metadata,
            vec![
                MetricMetadata {
                    r#type: MetricType::Counter as i32,
                    metric_family_name: "http_requests_total".into(),
                    help: "Total HTTP requests.".into(),
                    unit: "requests".into(),
                },
                MetricMetadata {
                    r#type: MetricType::Histogram as i32,
                    metric_family_name: "rpc_latency_seconds".into(),
                    help: String::new(),
                    unit: String::new(),
                },
            ]
        );
    }

    #[test]
    fn rejects_bad_references() {
        let mut req = spec_fixture();
        req.timeseries[0].labels_refs = vec![1, 99];
        let e = convert(req).expect_err("out of range");
        assert_eq!(e.status().as_u16(), 400);
        assert!(
            e.to_string().contains("symbol reference 99 out of range"),
            "{e}"
        );

        let mut req = spec_fixture();
        req.timeseries[0].labels_refs = vec![1, 2, 3];
        assert!(convert(req)
            .expect_err("odd")
            .to_string()
            .contains("odd number"));

        let mut req = spec_fixture();
        req.timeseries[0].metadata = Some(v2::Metadata {
            r#type: 1,
            help_ref: 1000,
            unit_ref: 0,
        });
        assert!(convert(req).is_err());

        let mut req = spec_fixture();
        req.timeseries[0].exemplars[0].labels_refs = vec![9, 100];
        assert!(convert(req).is_err());

        let mut req = spec_fixture();
        req.symbols[0] = "x".into();
        assert!(convert(req)
            .expect_err("symbols[0]")
            .to_string()
            .contains("symbols[0]"));
    }

    #[test]
    fn empty_request_converts_to_nothing() {
        let out = convert(v2::Request::default()).expect("empty");
        assert!(out.timeseries.is_empty() && out.metadata.is_empty());
        // No symbols at all, yet a series refers to one.
        let req = v2::Request {
            symbols: vec![],
            timeseries: vec![v2::TimeSeries {
                labels_refs: vec![0, 0],
                ..Default::default()
            }],
        };
        assert!(convert(req).is_err());
    }
}
