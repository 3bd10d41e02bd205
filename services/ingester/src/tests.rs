//! End-to-end tests: a real tonic server on 127.0.0.1:0 and the generated client.

use std::sync::Arc;

use prometheus_client::registry::Registry;
use strata_chunkenc::{Chunk, Encoding};
use strata_model::STALE_NAN;
use strata_proto::ingester::ingester_client::IngesterClient;
use strata_proto::ingester::{
    LabelNamesRequest, LabelValuesRequest, MatcherSet, MetricsMetadataRequest, PushRequest,
    QueryRequest, SampleErrorKind, SeriesRequest,
};
use strata_proto::prometheus as pb;
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::transport::Channel;

use super::*;

pub(crate) struct Fixture {
    pub(crate) client: IngesterClient<Channel>,
    pub(crate) registry: Registry,
    pub(crate) ingester: Arc<Ingester>,
    /// Holds the data dir for the ingester's lifetime.
    pub(crate) _dir: tempfile::TempDir,
}

pub(crate) async fn start() -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    start_in(dir).await
}

pub(crate) async fn start_in(dir: tempfile::TempDir) -> Fixture {
    start_with(IngesterConfig::default(), dir).await
}

pub(crate) async fn start_with(cfg: IngesterConfig, dir: tempfile::TempDir) -> Fixture {
    let mut registry = Registry::default();
    let ingester = Arc::new(Ingester::new(cfg, dir.path(), &mut registry).expect("open ingester"));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    let svc = ingester.server();
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .add_service(svc)
            .serve_with_incoming(TcpListenerStream::new(listener))
            .await
    });
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .expect("endpoint")
        .connect()
        .await
        .expect("connect");
    let client = IngesterClient::new(channel);
    Fixture {
        client,
        registry,
        ingester,
        _dir: dir,
    }
}

pub(crate) fn labels(pairs: &[(&str, &str)]) -> Vec<pb::Label> {
    pairs
        .iter()
        .map(|&(n, v)| pb::Label {
            name: n.into(),
            value: v.into(),
        })
        .collect()
}

pub(crate) fn series(pairs: &[(&str, &str)], samples: &[(i64, f64)]) -> pb::TimeSeries {
    pb::TimeSeries {
        labels: labels(pairs),
        samples: samples
            .iter()
            .map(|&(t, v)| pb::Sample {
                value: v,
                timestamp: t,
            })
            .collect(),
        ..Default::default()
    }
}

pub(crate) fn eq(name: &str, value: &str) -> pb::LabelMatcher {
    pb::LabelMatcher {
        r#type: pb::label_matcher::Type::Eq as i32,
        name: name.into(),
        value: value.into(),
    }
}

pub(crate) fn decode(c: &pb::Chunk) -> Vec<(i64, u64)> {
    assert_eq!(c.r#type, pb::chunk::Encoding::Xor as i32);
    let chunk = Chunk::new(Encoding::Xor, c.data.clone()).expect("chunk header");
    let mut it = chunk.xor_iter().expect("xor");
    let out: Vec<(i64, u64)> = it.by_ref().map(|s| (s.t, s.v.to_bits())).collect();
    assert!(it.err().is_none());
    assert_eq!(out.first().map(|s| s.0), Some(c.min_time_ms));
    assert_eq!(out.last().map(|s| s.0), Some(c.max_time_ms));
    out
}

pub(crate) fn metrics_text(r: &Registry) -> String {
    let mut s = String::new();
    prometheus_client::encoding::text::encode(&mut s, r).expect("encode metrics");
    s
}

#[tokio::test]
async fn push_then_query_stream_round_trip() {
    let mut f = start().await;
    let long: Vec<(i64, f64)> = (0..300).map(|i| (i * 15_000, i as f64 * 0.5)).collect();
    let resp = f
        .client
        .push(PushRequest {
            tenant: "t1".into(),
            timeseries: vec![
                series(&[("__name__", "up"), ("job", "a")], &long),
                series(&[("__name__", "up"), ("job", "b")], &[(1000, STALE_NAN)]),
                series(&[("__name__", "other")], &[(1000, 1.0)]),
            ],
            metadata: vec![],
        })
        .await
        .expect("push")
        .into_inner();
    assert_eq!(resp.samples_appended, 302);
    assert_eq!(resp.samples_rejected, 0);
    assert!(resp.errors.is_empty());

    let mut stream = f
        .client
        .query_stream(QueryRequest {
            tenant: "t1".into(),
            start_ms: 0,
            end_ms: i64::MAX,
            matchers: vec![eq("__name__", "up")],
        })
        .await
        .expect("query")
        .into_inner();
    let mut got = Vec::new();
    while let Some(msg) = stream.message().await.expect("stream message") {
        got.extend(msg.series);
    }
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].labels, labels(&[("__name__", "up"), ("job", "a")]));
    assert_eq!(got[0].chunks.len(), 3);
    let samples: Vec<(i64, u64)> = got[0].chunks.iter().flat_map(decode).collect();
    let want: Vec<(i64, u64)> = long.iter().map(|&(t, v)| (t, v.to_bits())).collect();
    assert_eq!(samples, want);
    assert_eq!(decode(&got[1].chunks[0]), vec![(1000, STALE_NAN.to_bits())]);

    // Another tenant sees nothing.
    let mut stream = f
        .client
        .query_stream(QueryRequest {
            tenant: "t2".into(),
            start_ms: 0,
            end_ms: i64::MAX,
            matchers: vec![eq("__name__", "up")],
        })
        .await
        .expect("query")
        .into_inner();
    assert!(stream.message().await.expect("stream end").is_none());

    let text = metrics_text(&f.registry);
    assert!(
        text.contains(r#"strata_ingester_memory_series{tenant="t1"} 3"#),
        "{text}"
    );
    assert!(
        text.contains(r#"strata_ingester_ingested_samples_total{tenant="t1"} 302"#),
        "{text}"
    );
    assert!(text.contains("strata_ingester_queries_total 2"), "{text}");
    assert_eq!(f.ingester.db().series_per_tenant().len(), 1);
}

#[tokio::test]
async fn query_stream_batches_series_in_label_order() {
    let mut f = start().await;
    let ts: Vec<pb::TimeSeries> = (0..300)
        .map(|i| series(&[("__name__", "m"), ("i", &format!("{i:03}"))], &[(1, 1.0)]))
        .collect();
    f.client
        .push(PushRequest {
            tenant: "t".into(),
            timeseries: ts,
            metadata: vec![],
        })
        .await
        .expect("push");
    let mut stream = f
        .client
        .query_stream(QueryRequest {
            tenant: "t".into(),
            start_ms: 0,
            end_ms: 10,
            matchers: vec![eq("__name__", "m")],
        })
        .await
        .expect("query")
        .into_inner();
    let mut sizes = Vec::new();
    let mut names = Vec::new();
    while let Some(msg) = stream.message().await.expect("stream message") {
        sizes.push(msg.series.len());
        names.extend(msg.series.into_iter().map(|s| s.labels[1].value.clone()));
    }
    assert_eq!(sizes, vec![128, 128, 44]);
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
}

#[tokio::test]
async fn push_reports_partial_rejections() {
    let mut f = start().await;
    let up_a = [("__name__", "up"), ("job", "a")];
    f.client
        .push(PushRequest {
            tenant: "t".into(),
            timeseries: vec![series(
                &up_a,
                &[(1_700_000_000_000, 1.0), (1_700_000_010_000, f64::NAN)],
            )],
            metadata: vec![],
        })
        .await
        .expect("push");

    let mut hist = series(&[("__name__", "h")], &[]);
    hist.histograms.push(pb::Histogram {
        timestamp: 5,
        count: Some(pb::histogram::Count::CountInt(2)),
        positive_spans: vec![pb::BucketSpan {
            offset: 0,
            length: 1,
        }],
        positive_deltas: vec![2],
        ..Default::default()
    });
    // Two buckets declared, one given: invalid.
    hist.histograms.push(pb::Histogram {
        timestamp: 6,
        count: Some(pb::histogram::Count::CountInt(2)),
        positive_spans: vec![pb::BucketSpan {
            offset: 0,
            length: 2,
        }],
        positive_deltas: vec![2],
        ..Default::default()
    });
    let mut with_exemplar = series(&[("__name__", "e")], &[(7, 1.0)]);
    with_exemplar.exemplars.push(pb::Exemplar {
        labels: labels(&[("trace_id", "x")]),
        value: 1.0,
        timestamp: 7,
    });
    let resp = f
        .client
        .push(PushRequest {
            tenant: "t".into(),
            timeseries: vec![
                // ooo, identical NaN retry (accepted), duplicate with another value, new sample
                series(
                    &up_a,
                    &[
                        (1_700_000_000_000, 2.0),
                        (1_700_000_010_000, f64::NAN),
                        (1_700_000_010_000, 3.0),
                        (1_700_000_020_000, 4.0),
                    ],
                ),
                hist,
                series(&[("a", "1"), ("a", "2")], &[(1, 1.0)]),
                with_exemplar,
                series(&[("x", "")], &[(1, 1.0)]),
            ],
            metadata: vec![pb::MetricMetadata {
                r#type: pb::metric_metadata::MetricType::Gauge as i32,
                metric_family_name: "up".into(),
                help: "whether the target is up".into(),
                unit: String::new(),
            }],
        })
        .await
        .expect("push")
        .into_inner();
    // Accepted: the NaN retry, the new up sample, the exemplar series' float sample; one
    // histogram and the exemplar.
    assert_eq!(resp.samples_appended, 3);
    assert_eq!(resp.histograms_appended, 1);
    assert_eq!(resp.exemplars_appended, 1);
    // ooo, dup, the invalid histogram, invalid labels ×2.
    assert_eq!(resp.samples_rejected, 5);
    let mut got: Vec<(i32, &str)> = resp
        .errors
        .iter()
        .map(|e| (e.kind, e.message.as_str()))
        .collect();
    let (kind, msg) = got.remove(2);
    assert_eq!(kind, SampleErrorKind::Invalid as i32);
    assert!(
        msg.starts_with("invalid native histogram: ") && msg.ends_with("(timestamp: 6, series: h)"),
        "{msg}"
    );
    assert_eq!(
        got,
        vec![
            (
                SampleErrorKind::OutOfOrder as i32,
                r#"out of order sample (timestamp: 1700000000000, series: up{job="a"})"#
            ),
            (
                SampleErrorKind::DuplicateTimestamp as i32,
                r#"duplicate sample for timestamp (timestamp: 1700000010000, series: up{job="a"})"#
            ),
            (
                SampleErrorKind::Invalid as i32,
                r#"duplicate label name "a" (series: {a="1", a="2"})"#
            ),
            (
                SampleErrorKind::Invalid as i32,
                r#"series has no labels (series: {x=""})"#
            ),
        ]
    );
    let text = metrics_text(&f.registry);
    for want in [
        r#"strata_ingester_ingested_samples_failures_total{tenant="t",reason="sample_out_of_order"} 1"#,
        r#"strata_ingester_ingested_samples_failures_total{tenant="t",reason="sample_duplicate_timestamp"} 1"#,
        r#"strata_ingester_ingested_samples_failures_total{tenant="t",reason="invalid_native_histogram"} 1"#,
        r#"strata_ingester_ingested_samples_failures_total{tenant="t",reason="invalid_labels"} 2"#,
        r#"strata_ingester_ingested_samples_total{tenant="t"} 6"#,
    ] {
        assert!(text.contains(want), "missing {want} in\n{text}");
    }

    let md = f
        .client
        .metrics_metadata(MetricsMetadataRequest {
            tenant: "t".into(),
            metric: "up".into(),
            limit: 0,
            limit_per_metric: 0,
        })
        .await
        .expect("metadata")
        .into_inner();
    assert_eq!(md.metadata.len(), 1);
    assert_eq!(md.metadata[0].help, "whether the target is up");
}

#[tokio::test]
async fn push_errors_are_capped_at_ten_in_request_order() {
    let mut f = start().await;
    let l = [("__name__", "c")];
    f.client
        .push(PushRequest {
            tenant: "t".into(),
            timeseries: vec![series(&l, &[(100, 1.0)])],
            metadata: vec![],
        })
        .await
        .expect("push");
    let old: Vec<(i64, f64)> = (0..25).map(|i| (i, 0.0)).collect();
    let resp = f
        .client
        .push(PushRequest {
            tenant: "t".into(),
            timeseries: vec![series(&l, &old)],
            metadata: vec![],
        })
        .await
        .expect("push")
        .into_inner();
    assert_eq!((resp.samples_appended, resp.samples_rejected), (0, 25));
    assert_eq!(resp.errors.len(), 10);
    assert!(
        resp.errors[9].message.contains("timestamp: 9,"),
        "{}",
        resp.errors[9].message
    );
}

#[tokio::test]
async fn bad_requests_are_invalid_argument() {
    let mut f = start().await;
    let err = f
        .client
        .push(PushRequest {
            tenant: "a/b".into(),
            ..Default::default()
        })
        .await
        .expect_err("invalid tenant");
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    let err = f
        .client
        .query_stream(QueryRequest {
            tenant: "t".into(),
            start_ms: 0,
            end_ms: 1,
            matchers: vec![pb::LabelMatcher {
                r#type: pb::label_matcher::Type::Re as i32,
                name: "a".into(),
                value: "(".into(),
            }],
        })
        .await
        .expect_err("bad regex");
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert!(
        err.message().contains("invalid regular expression"),
        "{}",
        err.message()
    );
}

#[tokio::test]
async fn label_and_series_queries() {
    let mut f = start().await;
    f.client
        .push(PushRequest {
            tenant: "t".into(),
            timeseries: vec![
                series(&[("__name__", "up"), ("job", "a")], &[(10, 1.0)]),
                series(
                    &[("__name__", "up"), ("job", "b"), ("zone", "z")],
                    &[(20, 1.0)],
                ),
                series(&[("__name__", "other"), ("job", "c")], &[(1000, 1.0)]),
            ],
            metadata: vec![],
        })
        .await
        .expect("push");
    let names = f
        .client
        .label_names(LabelNamesRequest {
            tenant: "t".into(),
            start_ms: 0,
            end_ms: 100,
            matchers: vec![],
            limit: 0,
        })
        .await
        .expect("label names")
        .into_inner()
        .names;
    assert_eq!(names, vec!["__name__", "job", "zone"]);
    let values = f
        .client
        .label_values(LabelValuesRequest {
            tenant: "t".into(),
            name: "job".into(),
            start_ms: 0,
            end_ms: 10_000,
            matchers: vec![eq("__name__", "up")],
            limit: 1,
        })
        .await
        .expect("label values")
        .into_inner()
        .values;
    assert_eq!(values, vec!["a"]);
    let series = f
        .client
        .series(SeriesRequest {
            tenant: "t".into(),
            start_ms: 0,
            end_ms: 10_000,
            matcher_sets: vec![
                MatcherSet {
                    matchers: vec![eq("job", "c")],
                },
                MatcherSet {
                    matchers: vec![eq("zone", "z")],
                },
            ],
            limit: 0,
        })
        .await
        .expect("series")
        .into_inner()
        .series;
    let got: Vec<Vec<pb::Label>> = series.into_iter().map(|l| l.labels).collect();
    assert_eq!(
        got,
        vec![
            labels(&[("__name__", "other"), ("job", "c")]),
            labels(&[("__name__", "up"), ("job", "b"), ("zone", "z")]),
        ]
    );
}

#[test]
fn config_rejects_unknown_keys_and_defaults_the_rest() {
    let cfg: IngesterConfig = serde_json_like("query_stream_batch_size", 7);
    assert_eq!(cfg.query_stream_batch_size, 7);
    assert_eq!(
        cfg.max_recv_message_size_bytes,
        IngesterConfig::default().max_recv_message_size_bytes
    );
}

/// Deserializes a one-key map without pulling a format crate in: serde's value deserializer.
pub(crate) fn serde_json_like(key: &str, v: usize) -> IngesterConfig {
    use serde::de::value::{Error, MapDeserializer};
    let de: MapDeserializer<'_, _, Error> = MapDeserializer::new(std::iter::once((key, v)));
    let cfg = IngesterConfig::deserialize(de).expect("known key");
    let bad: MapDeserializer<'_, _, Error> = MapDeserializer::new(std::iter::once(("nope", v)));
    assert!(IngesterConfig::deserialize(bad).is_err());
    cfg
}
