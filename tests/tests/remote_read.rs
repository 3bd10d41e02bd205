//! Remote read from Strata: Prometheus 2.42 configured with Strata as its `remote_read`
//! answers queries with exactly the samples pushed into Strata, and Strata's endpoint gives
//! the same samples as SAMPLES and as STREAMED_XOR_CHUNKS to a client of our own.
//!
//! Prometheus 2.42 sends no `accepted_response_types` (so SAMPLES only); the `peers` test
//! checks that on a recording server.

use std::collections::BTreeMap;

use strata_proto::prometheus::read_request::ResponseType;
use strata_tests::api::{Auth, LabelSet, QueryData};
use strata_tests::fixtures::{series, write_request};
use strata_tests::remote_read::{
    decode_samples, decode_streamed, eq, post, query, re, request, ReadResult,
};
use strata_tests::write::{push_raw, RawPush};
use strata_tests::{now_ms, Prometheus, Strata, TimestampMs};

const TENANT: &str = "team-r";
const N: i64 = 30;
const SPACING_MS: i64 = 7_000;
const LOOKBACK_MS: i64 = 300_000;

type Pushed = BTreeMap<LabelSet, Vec<(TimestampMs, f64)>>;

fn labels(pairs: &[(&str, &str)]) -> LabelSet {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Three `rr_metric` series with awkward values and one `rr_other` that matchers must skip.
fn known_samples(base: TimestampMs) -> (Pushed, Pushed) {
    let ts = |i: i64| base + i * SPACING_MS + 13;
    let mut metric = Pushed::new();
    metric.insert(
        labels(&[("__name__", "rr_metric"), ("instance", "a"), ("job", "rr")]),
        (0..N).map(|i| (ts(i), i as f64 * 1.25 - 3.0)).collect(),
    );
    metric.insert(
        labels(&[("__name__", "rr_metric"), ("instance", "b"), ("job", "rr")]),
        (0..N).map(|i| (ts(i), 1e15 + i as f64 * 0.1)).collect(),
    );
    metric.insert(
        labels(&[("__name__", "rr_metric"), ("instance", "c"), ("job", "rr")]),
        (0..N)
            .map(|i| (ts(i), (i as f64 * 0.1).sin() / 3.0))
            .collect(),
    );
    let mut other = Pushed::new();
    other.insert(
        labels(&[("__name__", "rr_other"), ("job", "rr")]),
        (0..N).map(|i| (ts(i), i as f64)).collect(),
    );
    (metric, other)
}

fn within(p: &Pushed, start: TimestampMs, end: TimestampMs) -> Pushed {
    p.iter()
        .map(|(l, s)| {
            (
                l.clone(),
                s.iter()
                    .copied()
                    .filter(|(t, _)| *t >= start && *t <= end)
                    .collect(),
            )
        })
        .collect()
}

fn same(a: &Pushed, b: &Pushed) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|((la, sa), (lb, sb))| {
            la == lb
                && sa.len() == sb.len()
                && sa
                    .iter()
                    .zip(sb)
                    .all(|(x, y)| x.0 == y.0 && x.1.to_bits() == y.1.to_bits())
        })
}

fn only_result(r: ReadResult, what: &str) -> anyhow::Result<Pushed> {
    let n = r.len();
    r.into_iter()
        .next()
        .filter(|_| n == 1)
        .ok_or_else(|| anyhow::anyhow!("{what}: {n} query results, want 1"))
}

/// Where samples are pushed and read back.
struct Store {
    push_url: String,
    read_url: String,
    auth: Auth,
    /// YAML lines naming the tenant in Prometheus's `remote_read` entry.
    auth_yaml: String,
    /// Whether the store separates tenants (Strata does, a plain Prometheus does not).
    tenants: bool,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_read_returns_exactly_the_pushed_samples() {
    strata_tests::e2e(remote_read_returns_exactly_the_pushed_samples_body()).await;
}

async fn remote_read_returns_exactly_the_pushed_samples_body() -> anyhow::Result<()> {
    let strata = Strata::start().await?;
    let store = Store {
        push_url: strata.push_url(),
        read_url: strata.read_url(),
        auth: Auth::org(TENANT),
        auth_yaml: format!("    basic_auth: {{username: {TENANT}, password: x}}\n"),
        tenants: true,
    };
    run(&store).await
}

/// The harness checked on its own: a Prometheus with the remote write receiver stands where
/// Strata would (its remote read answers both response types). Run with `--run-ignored all`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "checks the harness itself; needs no Strata"]
async fn prometheus_as_the_store_returns_exactly_the_pushed_samples() {
    strata_tests::e2e(prometheus_as_the_store_returns_exactly_the_pushed_samples_body()).await;
}

async fn prometheus_as_the_store_returns_exactly_the_pushed_samples_body() -> anyhow::Result<()> {
    let port = Prometheus::reserve_port()?;
    let receiver = Prometheus::start_on_with_flags(
        port,
        "global:\n  scrape_interval: 1m\n",
        &["--web.enable-remote-write-receiver"],
    )
    .await?;
    let store = Store {
        push_url: format!("{}/api/v1/write", receiver.url()),
        read_url: format!("{}/api/v1/read", receiver.url()),
        auth: Auth::None,
        auth_yaml: String::new(),
        tenants: false,
    };
    run(&store).await
}

async fn run(store: &Store) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    let auth = store.auth.clone();
    let base = now_ms() - 240_000;
    let (metric, other) = known_samples(base);
    let first = base + 13;
    let last = base + (N - 1) * SPACING_MS + 13;

    let all: Vec<_> = metric
        .iter()
        .chain(&other)
        .map(|(l, s)| {
            let pairs: Vec<(&str, &str)> =
                l.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            series(&pairs, s)
        })
        .collect();
    let r = push_raw(
        &http,
        &store.push_url,
        &auth,
        RawPush::of(&write_request(all)),
    )
    .await?;
    anyhow::ensure!(
        (200..300).contains(&r.status),
        "push failed: {} {}",
        r.status,
        r.body
    );

    // Our own client, SAMPLES, explicit and by default.
    for accepted in [&[ResponseType::Samples][..], &[]] {
        let req = request(
            vec![query(first, last, vec![eq("__name__", "rr_metric")])],
            accepted,
        );
        let reply = post(&http, &store.read_url, &auth, &req).await?;
        anyhow::ensure!(
            reply.status == 200,
            "SAMPLES read {accepted:?}: status {}",
            reply.status
        );
        let got = only_result(decode_samples(&reply.body)?, "SAMPLES")?;
        anyhow::ensure!(
            same(&got, &metric),
            "SAMPLES {accepted:?}: got {got:?}, want {metric:?}"
        );
    }

    // Two queries in one request, the second a sub-range with a regex matcher.
    let (s2, e2) = (first + 50_000, last - 50_000);
    let req = request(
        vec![
            query(
                first,
                last,
                vec![eq("__name__", "rr_metric"), eq("instance", "a")],
            ),
            query(s2, e2, vec![re("__name__", "rr_.*"), eq("job", "rr")]),
        ],
        &[ResponseType::Samples],
    );
    let reply = post(&http, &store.read_url, &auth, &req).await?;
    anyhow::ensure!(
        reply.status == 200,
        "two-query SAMPLES read: status {}",
        reply.status
    );
    let res = decode_samples(&reply.body)?;
    anyhow::ensure!(res.len() == 2, "two queries, {} results", res.len());
    let want_a: Pushed = metric
        .iter()
        .take(1)
        .map(|(l, s)| (l.clone(), s.clone()))
        .collect();
    anyhow::ensure!(same(&res[0], &want_a), "query 0: {:?}", res[0]);
    let mut want_sub = within(&metric, s2, e2);
    want_sub.extend(within(&other, s2, e2));
    anyhow::ensure!(same(&res[1], &want_sub), "query 1: {:?}", res[1]);

    // STREAMED_XOR_CHUNKS: whole chunks, so filter to the range before comparing a sub-range.
    let req = request(
        vec![
            query(first, last, vec![eq("__name__", "rr_metric")]),
            query(s2, e2, vec![re("__name__", "rr_.*")]),
        ],
        &[ResponseType::StreamedXorChunks, ResponseType::Samples],
    );
    let reply = post(&http, &store.read_url, &auth, &req).await?;
    anyhow::ensure!(
        reply.status == 200,
        "streamed read: status {}",
        reply.status
    );
    let ct = reply.content_type.clone().unwrap_or_default();
    anyhow::ensure!(
        ct.starts_with("application/x-streamed-protobuf")
            && ct.contains("prometheus.ChunkedReadResponse"),
        "streamed read content type {ct:?}"
    );
    let res = decode_streamed(&reply.body)?;
    anyhow::ensure!(res.len() == 2, "two queries, {} results", res.len());
    anyhow::ensure!(same(&res[0], &metric), "streamed query 0: got {:?}", res[0]);
    let got_sub = within(&res[1], s2, e2);
    anyhow::ensure!(
        same(&got_sub, &want_sub),
        "streamed query 1: got {got_sub:?}"
    );

    // Another tenant sees nothing; no tenant is refused.
    if store.tenants {
        let req = request(
            vec![query(first, last, vec![eq("__name__", "rr_metric")])],
            &[],
        );
        let reply = post(&http, &store.read_url, &Auth::org("team-other"), &req).await?;
        anyhow::ensure!(reply.status == 200, "other tenant: status {}", reply.status);
        let got = only_result(decode_samples(&reply.body)?, "other tenant")?;
        anyhow::ensure!(got.values().all(Vec::is_empty), "other tenant sees {got:?}");
        let reply = post(&http, &store.read_url, &Auth::None, &req).await?;
        anyhow::ensure!(
            reply.status == 401,
            "read without tenant: status {}",
            reply.status
        );
    }

    // Prometheus 2.42 reading through Strata.
    let cfg = format!(
        "global:\n  scrape_interval: 15s\nremote_read:\n  - url: {}\n    read_recent: true\n{}",
        store.read_url, store.auth_yaml
    );
    let prom = Prometheus::start(&cfg).await?;
    let api = prom.api();

    // The raw samples: a range selector evaluated just after the last sample.
    let at = last + 1_500;
    let d = api.query("rr_metric[5m]", at).await?;
    let QueryData::Matrix(m) = d else {
        anyhow::bail!("rr_metric[5m] is not a matrix: {d:?}");
    };
    let got: Pushed = m
        .into_iter()
        .map(|s| (s.labels, s.points.iter().map(|p| (p.t, p.v)).collect()))
        .collect();
    let want = within(&metric, at - LOOKBACK_MS, at);
    anyhow::ensure!(
        same(&got, &want),
        "Prometheus rr_metric[5m]: got {got:?}, want {want:?}"
    );

    // query_range with steps between samples: each step shows the latest sample before it.
    let (start, end, step) = (first + 3_500, last + 3_500, SPACING_MS);
    let d = api.query_range("rr_metric", start, end, step).await?;
    let QueryData::Matrix(m) = d else {
        anyhow::bail!("query_range rr_metric is not a matrix: {d:?}");
    };
    let got: Pushed = m
        .into_iter()
        .map(|s| {
            let mut l = s.labels;
            l.insert("__name__".into(), "rr_metric".into());
            (l, s.points.iter().map(|p| (p.t, p.v)).collect())
        })
        .collect();
    let want: Pushed = metric
        .iter()
        .map(|(l, samples)| {
            let mut pts = Vec::new();
            let mut t = start;
            while t <= end {
                if let Some(s) = samples
                    .iter()
                    .rev()
                    .find(|(st, _)| *st <= t && t - *st < LOOKBACK_MS)
                {
                    pts.push((t, s.1));
                }
                t += step;
            }
            (l.clone(), pts)
        })
        .collect();
    anyhow::ensure!(
        same(&got, &want),
        "Prometheus query_range: got {got:?}, want {want:?}"
    );

    let none = api.query("rr_metric{instance=\"nope\"}", at).await?;
    anyhow::ensure!(none.is_empty(), "no series matches instance=nope: {none:?}");
    Ok(())
}
