//! Strata answers PromQL exactly like Prometheus on the same data.
//!
//! Prometheus 2.42 (Debian) scrapes itself and node_exporter every second and remote-writes
//! everything to Strata as tenant `team-a`. After ~60 s the same instant and range queries
//! over a past window go to both; answers must agree series for series and value for value
//! (exactly, or within 1e-12 relative where float summation order may differ).

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::time::Duration;

use strata_tests::api::{Auth, PromApi, QueryData};
use strata_tests::compare::{check_topk, compare, Agreement};
use strata_tests::wait::{wait_for, wait_until};
use strata_tests::{format_ts, now_ms, NodeExporter, Prometheus, Strata, TimestampMs};

const REL_TOL: f64 = 1e-12;
const STEP_MS: i64 = 5_000;
/// From the first scrape to the window's start: long enough for `[1m]` ranges to be mostly
/// backed by data, short enough for CI.
const WINDOW_START_AFTER_MS: i64 = 35_000;
const WINDOW_LEN_MS: i64 = 20_000;

const QUERIES: &[&str] = &[
    "up",
    "node_load1",
    "rate(node_cpu_seconds_total[30s])",
    "sum by (mode) (rate(node_cpu_seconds_total[30s]))",
    "histogram_quantile(0.9, sum by (le, handler) (rate(prometheus_http_request_duration_seconds_bucket[30s])))",
    "node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes",
    "count by (job) (up)",
    TOPK,
    "{__name__=~\"node_load.*\"}",
    "increase(prometheus_http_requests_total[1m])",
    "avg_over_time(node_load1[30s])",
    "max without (cpu) (rate(node_cpu_seconds_total[30s])) > 0",
];
const TOPK: &str = "topk(3, rate(node_network_receive_bytes_total[30s]))";
const TOPK_INNER: &str = "rate(node_network_receive_bytes_total[30s])";
const TOPK_K: usize = 3;

/// Milliseconds within the second at which both targets are scraped (from `up`'s samples).
async fn scrape_phases(prom: &PromApi) -> anyhow::Result<Vec<i64>> {
    let QueryData::Matrix(m) = prom.query("up[5s]", now_ms()).await? else {
        anyhow::bail!("up[5s] is not a matrix");
    };
    let mut phases: Vec<i64> = m
        .iter()
        .filter_map(|s| s.points.last())
        .map(|p| p.t.rem_euclid(1000))
        .collect();
    phases.sort_unstable();
    phases.dedup();
    Ok(phases)
}

/// The millisecond phase farthest from every scrape phase, so no evaluation time or range
/// boundary coincides with a sample (2.42 closes ranges on the left; newer releases don't).
fn query_phase(scrape_phases: &[i64]) -> (i64, i64) {
    (0..1000)
        .step_by(5)
        .map(|q| {
            let d = scrape_phases
                .iter()
                .map(|p| {
                    let d = (q - p).rem_euclid(1000);
                    d.min(1000 - d)
                })
                .min()
                .unwrap_or(500);
            (q, d)
        })
        .max_by_key(|(_, d)| *d)
        .expect("0..1000 is not empty")
}

struct Row {
    query: String,
    mode: String,
    result_type: String,
    series: usize,
    points: usize,
    agree: Agreement,
    outcome: Result<(), String>,
}

/// What receives Prometheus's remote write and answers the same queries.
struct Target {
    name: &'static str,
    push_url: String,
    /// YAML lines (indented for a remote_write entry) naming the tenant.
    auth_yaml: String,
    api: PromApi,
}

/// Everything measured in one run.
struct Outcome {
    rows: Vec<Row>,
    failures: Vec<String>,
    window: (TimestampMs, TimestampMs),
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strata_answers_like_prometheus() {
    strata_tests::e2e(strata_answers_like_prometheus_body()).await;
}

async fn strata_answers_like_prometheus_body() -> anyhow::Result<()> {
    let strata = Strata::start().await?;
    let target = Target {
        name: "Strata",
        push_url: strata.push_url(),
        auth_yaml: "    basic_auth: {username: team-a, password: x}\n".to_string(),
        api: strata.api(Auth::org("team-a")),
    };
    let Outcome {
        rows,
        mut failures,
        window: (t0, t1),
    } = run_comparison(&target).await?;
    let other = strata.api(Auth::org("team-b"));
    let anonymous = strata.api(Auth::None);
    let sel = "{job=~\".+\"}";

    // Tenants: team-b sees nothing, no tenant is refused.
    let mut team_b_nonempty = Vec::new();
    for q in QUERIES {
        match other.query(q, t1).await {
            Ok(d) if d.is_empty() => {}
            Ok(d) => team_b_nonempty.push(format!("{q} (instant): {} series", d.series_count())),
            Err(e) => team_b_nonempty.push(format!("{q} (instant): {e:#}")),
        }
        match other.query_range(q, t0, t1, STEP_MS).await {
            Ok(d) if d.is_empty() => {}
            Ok(d) => team_b_nonempty.push(format!("{q} (range): {} series", d.series_count())),
            Err(e) => team_b_nonempty.push(format!("{q} (range): {e:#}")),
        }
    }
    match other.series(&[sel], t0, t1).await {
        Ok(s) if s.is_empty() => {}
        other => team_b_nonempty.push(format!("series: {other:?}")),
    }
    if !team_b_nonempty.is_empty() {
        failures.push(format!(
            "tenant team-b is not empty: {}",
            team_b_nonempty.join("; ")
        ));
    }
    let anon = anonymous.query_raw("up", t1).await?;
    if anon.status != 401 {
        failures.push(format!(
            "query without tenant: status {} (want 401): {}",
            anon.status, anon.body
        ));
    }
    finish(target.name, &rows, failures)
}

/// The harness checked on its own: a second Prometheus with the remote write receiver
/// stands where Strata would, so every answer must match. Run with `--run-ignored all`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "checks the harness itself; needs no Strata but takes a minute"]
async fn prometheus_receiver_answers_like_prometheus() {
    strata_tests::e2e(prometheus_receiver_answers_like_prometheus_body()).await;
}

async fn prometheus_receiver_answers_like_prometheus_body() -> anyhow::Result<()> {
    let receiver_port = Prometheus::reserve_port()?;
    let receiver = Prometheus::start_on_with_flags(
        receiver_port,
        "global:\n  scrape_interval: 1m\n",
        &["--web.enable-remote-write-receiver"],
    )
    .await?;
    let target = Target {
        name: "Prometheus receiver",
        push_url: format!("{}/api/v1/write", receiver.url()),
        auth_yaml: String::new(),
        api: receiver.api(),
    };
    let Outcome { rows, failures, .. } = run_comparison(&target).await?;
    finish(target.name, &rows, failures)
}

async fn run_comparison(target: &Target) -> anyhow::Result<Outcome> {
    let node = NodeExporter::start().await?;
    let prom_port = Prometheus::reserve_port()?;
    let cfg = format!(
        r#"global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: prometheus
    static_configs: [{{targets: ['127.0.0.1:{prom_port}']}}]
  - job_name: node
    static_configs: [{{targets: ['{node}']}}]
remote_write:
  - url: {push}
{auth}    queue_config:
      batch_send_deadline: 1s
      min_shards: 1
      max_shards: 1
      max_samples_per_send: 2000
      min_backoff: 100ms
      max_backoff: 1s
"#,
        node = node.target(),
        push = target.push_url,
        auth = target.auth_yaml,
    );
    let prom = Prometheus::start_on(prom_port, &cfg).await?;
    let papi = prom.api();
    let sapi = target.api.clone();

    // The first scrape of both targets.
    let first_scrape: TimestampMs = wait_for("first scrapes", Duration::from_secs(20), || {
        let papi = papi.clone();
        async move {
            let QueryData::Vector(v) = papi.query("timestamp(up)", now_ms()).await? else {
                anyhow::bail!("not a vector");
            };
            Ok((v.len() == 2).then(|| {
                v.iter()
                    .map(|s| (s.point.v * 1000.0).round() as i64)
                    .min()
                    .unwrap_or(0)
            }))
        }
    })
    .await?;

    // Touch every endpoint the comparison uses on both servers now, so series such as
    // prometheus_http_requests_total{handler="/api/v1/query_range"} exist before the window.
    let now = now_ms();
    for api in [&papi, &sapi] {
        // Errors from the target show up in the comparison; here only the calls matter.
        let _ = api.query("up", now).await;
        let _ = api.query_range("up", now - 2_000, now, 1_000).await;
        let _ = api.series(&["up"], now - 2_000, now).await;
        let _ = api.labels(now - 2_000, now).await;
        let _ = api.label_values("job", now - 2_000, now).await;
    }

    // Wait for a second scrape, then read each target's phase.
    wait_until("a few scrapes", Duration::from_secs(10), || {
        let papi = papi.clone();
        async move {
            let QueryData::Vector(v) = papi
                .query("count_over_time(up[10s]) >= 3", now_ms())
                .await?
            else {
                anyhow::bail!("not a vector");
            };
            Ok(v.len() == 2)
        }
    })
    .await?;
    let phases = scrape_phases(&papi).await?;
    let (phase, distance) = query_phase(&phases);
    let mut t0 = first_scrape + WINDOW_START_AFTER_MS;
    t0 = t0 - t0.rem_euclid(1000) + phase;
    let t1 = t0 + WINDOW_LEN_MS;
    let instants = [t0, t0 + 2 * STEP_MS, t1];
    println!(
        "scrape phases {phases:?} ms, query phase {phase} ms ({distance} ms away); window [{}, {}]",
        format_ts(t0),
        format_ts(t1)
    );

    // Everything up to t1 has reached Strata once Prometheus has sent samples past t1 + 2 s
    // (one shard, so batches go out in order).
    let sent_goal = (t1 + 2_000) as f64 / 1000.0;
    let timeout = Duration::from_millis(u64::try_from(t1 + 40_000 - now_ms()).unwrap_or(40_000));
    wait_until("remote write past the window", timeout, || {
        let prom = &prom;
        async move {
            let sent = prom
                .self_metric("prometheus_remote_storage_queue_highest_sent_timestamp_seconds")
                .await?;
            Ok(sent.is_some_and(|s| s >= sent_goal))
        }
    })
    .await?;
    for m in [
        "prometheus_remote_storage_samples_failed_total",
        "prometheus_remote_storage_samples_dropped_total",
        "prometheus_remote_storage_samples_retried_total",
        "prometheus_remote_storage_samples_total",
    ] {
        println!("{m} = {:?}", prom.self_metric(m).await?);
    }

    let mut rows = Vec::new();
    for q in QUERIES {
        for t in instants {
            let mode = format!("instant @{}", format_ts(t));
            let want = papi.query(q, t).await;
            let got = sapi.query(q, t).await;
            let inner = if *q == TOPK {
                Some(papi.query(TOPK_INNER, t).await)
            } else {
                None
            };
            rows.push(judge(q, mode, want, got, inner));
        }
        let want = papi.query_range(q, t0, t1, STEP_MS).await;
        let got = sapi.query_range(q, t0, t1, STEP_MS).await;
        let inner = if *q == TOPK {
            Some(papi.query_range(TOPK_INNER, t0, t1, STEP_MS).await)
        } else {
            None
        };
        rows.push(judge(
            q,
            format!("range step {}s", STEP_MS / 1000),
            want,
            got,
            inner,
        ));
    }

    let mut failures: Vec<String> = Vec::new();

    // Metadata endpoints over the window.
    let sel = "{job=~\".+\"}";
    let want_series = papi.series(&[sel], t0, t1).await?;
    let got_series = sapi.series(&[sel], t0, t1).await.unwrap_or_else(|e| {
        failures.push(format!("series failed: {e:#}"));
        Vec::new()
    });
    if want_series != got_series {
        let w: BTreeSet<_> = want_series.iter().collect();
        let g: BTreeSet<_> = got_series.iter().collect();
        failures.push(format!(
            "series: {} vs {}; missing from Strata: {:?}; only in Strata: {:?}",
            w.len(),
            g.len(),
            w.difference(&g).take(5).collect::<Vec<_>>(),
            g.difference(&w).take(5).collect::<Vec<_>>()
        ));
    }
    // Prometheus 2.42 answers label names and values from its whole head when there is no
    // matcher, so a name first seen after t1 may show up there; the exact answer over the
    // window is what the series in the window carry. Either is accepted.
    let names_in_window: Vec<String> = want_series
        .iter()
        .flat_map(|s| s.keys().cloned())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let want_labels = papi.labels(t0, t1).await?;
    let got_labels = sapi.labels(t0, t1).await.unwrap_or_else(|e| {
        failures.push(format!("labels failed: {e:#}"));
        Vec::new()
    });
    if got_labels != want_labels && got_labels != names_in_window {
        failures.push(format!(
            "labels: Prometheus {want_labels:?}, Strata {got_labels:?}"
        ));
    }
    let jobs_in_window: Vec<String> = want_series
        .iter()
        .filter_map(|s| s.get("job").cloned())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let want_jobs = papi.label_values("job", t0, t1).await?;
    let got_jobs = sapi.label_values("job", t0, t1).await.unwrap_or_else(|e| {
        failures.push(format!("label values failed: {e:#}"));
        Vec::new()
    });
    if got_jobs != want_jobs && got_jobs != jobs_in_window {
        failures.push(format!(
            "label/job/values: Prometheus {want_jobs:?}, Strata {got_jobs:?}"
        ));
    }
    println!(
        "series: {} (Prometheus) vs {} ({}); labels: {} vs {}; jobs: {want_jobs:?} vs {got_jobs:?}",
        want_series.len(),
        got_series.len(),
        target.name,
        want_labels.len(),
        got_labels.len()
    );

    Ok(Outcome {
        rows,
        failures,
        window: (t0, t1),
    })
}

/// Prints the summary table and fails with every failure.
fn finish(target: &str, rows: &[Row], mut failures: Vec<String>) -> anyhow::Result<()> {
    // The summary table.
    let mut table = String::new();
    let _ = writeln!(table, "Prometheus 2.42 vs {target}");
    let _ = writeln!(
        table,
        "{:<4} {:<60} {:<22} {:<7} {:>6} {:>6} {:>6} {:>5}  result",
        "#", "query", "mode", "type", "series", "points", "exact", "tol"
    );
    let mut total = Agreement::default();
    for (i, r) in rows.iter().enumerate() {
        total += r.agree;
        let q: String = r.query.chars().take(60).collect();
        let _ = writeln!(
            table,
            "{:<4} {:<60} {:<22} {:<7} {:>6} {:>6} {:>6} {:>5}  {}",
            i + 1,
            q,
            r.mode,
            r.result_type,
            r.series,
            r.points,
            r.agree.exact,
            r.agree.within_tolerance,
            match &r.outcome {
                Ok(()) => "ok".to_string(),
                Err(e) => format!("FAIL: {e}"),
            }
        );
        if let Err(e) = &r.outcome {
            failures.push(format!("{} [{}]: {e}", r.query, r.mode));
        }
    }
    let _ = writeln!(
        table,
        "values compared: {}, exact: {}, within {REL_TOL:e} relative: {}",
        total.values, total.exact, total.within_tolerance
    );
    println!("{table}");

    if !failures.is_empty() {
        anyhow::bail!("{} failure(s):\n{}", failures.len(), failures.join("\n"));
    }
    assert!(total.values > 0, "nothing was compared");
    Ok(())
}

fn judge(
    query: &str,
    mode: String,
    want: anyhow::Result<QueryData>,
    got: anyhow::Result<QueryData>,
    topk_inner: Option<anyhow::Result<QueryData>>,
) -> Row {
    let mut row = Row {
        query: query.to_string(),
        mode,
        result_type: String::new(),
        series: 0,
        points: 0,
        agree: Agreement::default(),
        outcome: Ok(()),
    };
    let want = match want {
        Ok(w) => w,
        Err(e) => {
            row.outcome = Err(format!("Prometheus failed: {e:#}"));
            return row;
        }
    };
    row.result_type = want.result_type().to_string();
    row.series = want.series_count();
    row.points = want.point_count();
    let got = match got {
        Ok(g) => g,
        Err(e) => {
            row.outcome = Err(format!("Strata failed: {e:#}"));
            return row;
        }
    };
    let verdict = match topk_inner {
        Some(Ok(inner)) => check_topk(TOPK_K, &want, &got, &inner, REL_TOL),
        Some(Err(e)) => Err(format!("Prometheus failed on the topk operand: {e:#}")),
        None => compare(&want, &got, REL_TOL),
    };
    match verdict {
        Ok(a) => row.agree = a,
        Err(e) => row.outcome = Err(e),
    }
    row
}

#[test]
fn the_query_phase_keeps_away_from_scrapes() {
    assert_eq!(query_phase(&[0]), (500, 500));
    let (q, d) = query_phase(&[100, 600]);
    assert!(d == 250 && (q == 350 || q == 850), "{q} {d}");
}
