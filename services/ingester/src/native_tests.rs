//! Native histograms, exemplars and the out-of-order window through the gRPC service, with
//! per-tenant overrides, across a restart and a flush.

use std::time::Duration;

use strata_chunkenc::{Chunk, Encoding};
use strata_proto::ingester::{
    ExemplarQueryRequest, MatcherSet, PushRequest, QueryRequest, SampleErrorKind,
};
use strata_proto::prometheus as pb;

use crate::tests::{eq, labels, series, start_with, Fixture};
use crate::{IngesterConfig, TenantOverrides};

const T0: i64 = 1_700_000_000_000;
const MIN: i64 = 60_000;

fn config() -> IngesterConfig {
    let mut cfg = IngesterConfig {
        block_cut_interval: Duration::ZERO,
        max_exemplars: 1000,
        ..Default::default()
    };
    cfg.tenant_overrides.insert(
        "late".into(),
        TenantOverrides {
            out_of_order_time_window: Some(Duration::from_secs(3600)),
            max_exemplars: None,
        },
    );
    cfg
}

fn int_hist(t: i64, n: u64) -> pb::Histogram {
    pb::Histogram {
        timestamp: t,
        count: Some(pb::histogram::Count::CountInt(n + 1)),
        zero_count: Some(pb::histogram::ZeroCount::ZeroCountInt(1)),
        sum: n as f64 * 1.5,
        schema: 3,
        zero_threshold: 0.001,
        positive_spans: vec![pb::BucketSpan {
            offset: 2,
            length: 1,
        }],
        positive_deltas: vec![n as i64],
        ..Default::default()
    }
}

fn float_hist(t: i64, x: f64) -> pb::Histogram {
    pb::Histogram {
        timestamp: t,
        count: Some(pb::histogram::Count::CountFloat(x)),
        sum: -x,
        schema: 0,
        negative_spans: vec![pb::BucketSpan {
            offset: 0,
            length: 1,
        }],
        negative_counts: vec![x],
        reset_hint: pb::histogram::ResetHint::Gauge as i32,
        ..Default::default()
    }
}

async fn push(
    f: &mut Fixture,
    tenant: &str,
    ts: Vec<pb::TimeSeries>,
) -> strata_proto::ingester::PushResponse {
    f.client
        .push(PushRequest {
            tenant: tenant.into(),
            timeseries: ts,
            metadata: vec![],
        })
        .await
        .expect("push")
        .into_inner()
}

/// Every sample of the series named `name`: `(t, description)` decoded from whatever chunks
/// come back, sorted and deduplicated.
async fn read(f: &mut Fixture, tenant: &str, name: &str) -> Vec<(i64, String)> {
    let mut stream = f
        .client
        .query_stream(QueryRequest {
            tenant: tenant.into(),
            start_ms: 0,
            end_ms: i64::MAX,
            matchers: vec![eq("__name__", name)],
        })
        .await
        .expect("query")
        .into_inner();
    let mut out = Vec::new();
    while let Some(msg) = stream.message().await.expect("message") {
        for s in msg.series {
            for c in s.chunks {
                let enc = Encoding::from_u8(c.r#type as u8).expect("known encoding");
                let chunk = Chunk::new(enc, c.data).expect("chunk");
                match enc {
                    Encoding::Xor => out.extend(
                        chunk
                            .xor_iter()
                            .expect("xor")
                            .map(|s| (s.t, format!("{}", s.v))),
                    ),
                    Encoding::Histogram => {
                        out.extend(chunk.histogram_iter().expect("histogram").map(|(t, h)| {
                            (
                                t,
                                format!("h {} {} {:?}", h.count, h.sum, h.positive_buckets),
                            )
                        }))
                    }
                    Encoding::FloatHistogram => {
                        out.extend(chunk.float_histogram_iter().expect("float histogram").map(
                            |(t, h)| {
                                (
                                    t,
                                    format!(
                                        "fh {} {:?} {:?}",
                                        h.count, h.counter_reset_hint, h.negative_buckets
                                    ),
                                )
                            },
                        ))
                    }
                }
            }
        }
    }
    out.sort_by_key(|s| s.0);
    out.dedup_by_key(|s| s.0);
    out
}

async fn exemplars(f: &mut Fixture, tenant: &str) -> Vec<pb::TimeSeries> {
    f.client
        .query_exemplars(ExemplarQueryRequest {
            tenant: tenant.into(),
            start_ms: 0,
            end_ms: i64::MAX,
            matcher_sets: vec![MatcherSet {
                matchers: vec![eq("job", "j")],
            }],
        })
        .await
        .expect("query exemplars")
        .into_inner()
        .timeseries
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn histograms_exemplars_and_late_samples_are_stored_and_survive_restart_and_flush() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut f = start_with(config(), dir).await;

    let mut h = series(&[("__name__", "h"), ("job", "j")], &[]);
    h.histograms = (0..5).map(|i| int_hist(T0 + i * MIN, i as u64)).collect();
    h.exemplars.push(pb::Exemplar {
        labels: labels(&[("trace_id", "abc")]),
        value: 0.25,
        timestamp: T0 + 2 * MIN,
    });
    let mut fh = series(&[("__name__", "fh"), ("job", "j")], &[]);
    fh.histograms = (0..3)
        .map(|i| float_hist(T0 + i * MIN, 2.5 + i as f64))
        .collect();
    let floats = series(
        &[("__name__", "up"), ("job", "j")],
        &(0..120)
            .map(|i| (T0 + i * MIN, i as f64))
            .collect::<Vec<_>>(),
    );
    for tenant in ["strict", "late"] {
        let resp = push(&mut f, tenant, vec![h.clone(), fh.clone(), floats.clone()]).await;
        assert_eq!(resp.samples_rejected, 0, "{:?}", resp.errors);
        assert_eq!(
            (
                resp.samples_appended,
                resp.histograms_appended,
                resp.exemplars_appended
            ),
            (120, 8, 1)
        );
    }
    // Late samples: refused by default, kept by the tenant with a one-hour window.
    let late = series(
        &[("__name__", "up"), ("job", "j")],
        &[(T0 + 100 * MIN + 30_000, -1.0)],
    );
    let strict = push(&mut f, "strict", vec![late.clone()]).await;
    assert_eq!(strict.errors[0].kind, SampleErrorKind::OutOfOrder as i32);
    let accepted = push(&mut f, "late", vec![late]).await;
    assert_eq!(
        (accepted.samples_appended, accepted.samples_rejected),
        (1, 0)
    );

    let check = |got: &[(i64, String)], n: usize| assert_eq!(got.len(), n, "{got:?}");
    let before_h = read(&mut f, "late", "h").await;
    check(&before_h, 5);
    assert_eq!(before_h[4].1, "h 5 6 [4]");
    let before_fh = read(&mut f, "late", "fh").await;
    assert_eq!(before_fh[0].1, "fh 2.5 Gauge [2.5]");
    let before_up = read(&mut f, "late", "up").await;
    check(&before_up, 121);
    assert_eq!(before_up[101], (T0 + 100 * MIN + 30_000, "-1".to_string()));
    check(&read(&mut f, "strict", "up").await, 120);
    let ex = exemplars(&mut f, "late").await;
    assert_eq!(ex.len(), 1);
    assert_eq!(ex[0].exemplars[0].value, 0.25);
    assert_eq!(ex[0].exemplars[0].labels, labels(&[("trace_id", "abc")]));

    // Restart on the same directory: the WAL gives back the same; then flush to blocks.
    let Fixture { ingester, _dir, .. } = f;
    drop(ingester);
    let mut f = start_with(config(), _dir).await;
    assert_eq!(read(&mut f, "late", "h").await, before_h);
    assert_eq!(read(&mut f, "late", "fh").await, before_fh);
    assert_eq!(read(&mut f, "late", "up").await, before_up);
    assert_eq!(exemplars(&mut f, "late").await, ex);
    f.ingester.flush().await.expect("flush");
    assert_eq!(read(&mut f, "late", "h").await, before_h);
    assert_eq!(read(&mut f, "late", "fh").await, before_fh);
    assert_eq!(read(&mut f, "late", "up").await, before_up);
}
