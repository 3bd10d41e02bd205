//! The agent's remote-write queue under failure (issue 7, "No loss" and "Disk cap"), end to
//! end with real processes:
//!
//! - `no_scrape_is_lost_through_an_outage_and_a_sigkill`: Strata is down for [`OUTAGE`]
//!   while the agent scrapes a [`Page::Counter`] every second; [`KILL_AFTER`] into the
//!   outage the agent is SIGKILLed and restarted on the same data dir. Once Strata is back
//!   and the queue has sent past its return, every value served more than one interval
//!   before the kill, and every value served after the restart, is in Strata (read back raw
//!   through remote read), each once, and nothing that was not served.
//! - `disk_cap_drops_the_oldest_data_of_a_dead_endpoint_only`: two endpoints, A a live
//!   Strata and B a port nobody listens on, `-agent.max-disk-bytes-per-endpoint` small; B's
//!   `strata_remote_queue_dropped_samples_total` rises, the queue's WAL on disk stays near
//!   the cap, A gets every scraped sample; once a Strata listens at B, B gets the recent
//!   data and not the oldest.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use strata_tests::api::Auth;
use strata_tests::net::free_port;
use strata_tests::remote_read::{self, eq};
use strata_tests::target::{Page, Served, TargetServer};
use strata_tests::wait::wait_for;
use strata_tests::{now_ms, Strata, TimestampMs};

/// How long Strata is down in the no-loss test (the two minutes).
const OUTAGE: Duration = Duration::from_secs(120);
/// When, into the outage, the agent is SIGKILLed and restarted.
const KILL_AFTER: Duration = Duration::from_secs(40);
/// The scrape interval of every test here.
const INTERVAL_MS: i64 = 1000;

/// Series on the disk-cap test's target.
const CAP_SERIES: usize = 8000;
/// Bytes of WAL a scraped sample takes, about (a varint ref and time delta, the value).
const WAL_BYTES_PER_SAMPLE: u64 = 11;
/// The disk cap per endpoint in the disk-cap test: two of the 1 MiB segments the agent
/// then uses (`QueueOptions::fit_segments_to_cap`), reached in about 20 s.
const DISK_CAP: u64 = 2 * 1024 * 1024;
/// The agent's WAL segment size under [`DISK_CAP`].
const CAPPED_SEGMENT: u64 = 1024 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_scrape_is_lost_through_an_outage_and_a_sigkill() {
    strata_tests::e2e(no_loss_body()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disk_cap_drops_the_oldest_data_of_a_dead_endpoint_only() {
    strata_tests::e2e(disk_cap_body()).await;
}

/// A process on fixed ports and a data dir that outlive it, so it can be started again
/// where it was.
struct Node {
    name: &'static str,
    http: u16,
    grpc: u16,
    data: PathBuf,
    args: Vec<String>,
}

impl Node {
    fn new(name: &'static str, data: &Path, args: &[String]) -> anyhow::Result<Self> {
        Ok(Self {
            name,
            http: free_port()?,
            grpc: free_port()?,
            data: data.to_path_buf(),
            args: args.to_vec(),
        })
    }

    async fn start(&self) -> anyhow::Result<Strata> {
        Strata::start_node(self.name, self.http, self.grpc, &self.data, &self.args)
            .await
            .with_context(|| format!("start {}", self.name))
    }
}

/// The agent's arguments: its config file and its own queue directory.
fn agent_args(cfg: &Path, dir: &Path, extra: &[String]) -> Vec<String> {
    let mut args = vec![
        "-target=agent".to_string(),
        format!("-agent.config-file={}", cfg.display()),
        format!("-agent.data-dir={}", dir.display()),
    ];
    args.extend_from_slice(extra);
    args
}

/// One `remote_write` entry named `name` sending to `port` as `tenant`, retrying quickly.
fn remote_write(name: &str, port: u16, tenant: &str) -> String {
    format!(
        "  - url: http://127.0.0.1:{port}/api/v1/push\n    name: {name}\n\
         \x20   headers: {{ X-Scope-OrgID: {tenant} }}\n\
         \x20   queue_config: {{ min_backoff: 100ms, max_backoff: 2s }}\n"
    )
}

/// A `prometheus.yml` scraping `target` every second into the given `remote_write` entries.
fn agent_config(job: &str, target: &str, remote_writes: &[String]) -> String {
    format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n\
         scrape_configs:\n  - job_name: {job}\n    static_configs:\n      - targets: ['{target}']\n\
         remote_write:\n{}",
        remote_writes.concat()
    )
}

/// The value of the sample `metric` (name and labels exactly as exposed, e.g.
/// `m_total{a="b"}`) on `/metrics` of `agent`, 0 when absent.
async fn agent_metric(agent: &Strata, metric: &str) -> anyhow::Result<f64> {
    let body = agent.get("/metrics").await?.body;
    sample_value(&body, metric)
}

/// The value of the line `metric <value>` in a text exposition, 0 when absent.
fn sample_value(text: &str, metric: &str) -> anyhow::Result<f64> {
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix(metric) {
            if let Some(v) = rest.strip_prefix(' ') {
                return v
                    .trim()
                    .parse()
                    .with_context(|| format!("value of {metric}: {line}"));
            }
        }
    }
    Ok(0.0)
}

/// Waits until the agent's queue for endpoint `name` has sent a sample stamped at or after
/// `t` (its `prometheus_remote_storage_queue_highest_sent_timestamp_seconds`).
async fn wait_sent_past(
    agent: &Strata,
    name: &str,
    url_port: u16,
    t: TimestampMs,
    timeout: Duration,
) -> anyhow::Result<()> {
    let metric = format!(
        "prometheus_remote_storage_queue_highest_sent_timestamp_seconds{{remote_name=\"{name}\",url=\"http://127.0.0.1:{url_port}/api/v1/push\"}}"
    );
    let what = format!("endpoint {name} sent past {t}");
    wait_for(&what, timeout, || {
        let metric = metric.clone();
        async move {
            let sent = agent_metric(agent, &metric).await?;
            Ok((sent * 1000.0 >= t as f64).then_some(()))
        }
    })
    .await
}

/// Every series named `name` in `[start, end]` as `tenant`, read raw through remote read:
/// per series (by its labels), the `(t, v)` samples with stale markers (NaN) left out.
async fn read_series(
    strata: &Strata,
    tenant: &str,
    name: &str,
    start: TimestampMs,
    end: TimestampMs,
) -> anyhow::Result<BTreeMap<BTreeMap<String, String>, Vec<(TimestampMs, f64)>>> {
    let req = remote_read::request(
        vec![remote_read::query(start, end, vec![eq("__name__", name)])],
        &[],
    );
    let reply = strata.remote_read(&Auth::org(tenant), &req).await?;
    anyhow::ensure!(
        reply.status == 200,
        "remote read {name}: {} {}",
        reply.status,
        String::from_utf8_lossy(&reply.body)
    );
    let mut results = remote_read::decode_samples(&reply.body)?;
    anyhow::ensure!(results.len() == 1, "one result per query");
    let series = results.remove(0);
    Ok(series
        .into_iter()
        .map(|(labels, samples)| {
            let kept = samples.into_iter().filter(|(_, v)| !v.is_nan()).collect();
            (labels.into_iter().collect(), kept)
        })
        .collect())
}

/// When the agent's scrapes of `job` failed: the timestamps of its `up` 0 samples in
/// `strata`.
async fn failed_scrapes(
    strata: &Strata,
    tenant: &str,
    job: &str,
    start: TimestampMs,
    end: TimestampMs,
) -> anyhow::Result<Vec<TimestampMs>> {
    let up = read_series(strata, tenant, "up", start, end).await?;
    Ok(up
        .iter()
        .filter(|(labels, _)| labels.get("job").map(String::as_str) == Some(job))
        .flat_map(|(_, samples)| samples.iter().filter(|s| s.1 == 0.0).map(|s| s.0))
        .collect())
}

/// Whether the scrape the target answered at `at` may have failed on the agent's side (a
/// timeout while it read an answer already written): an `up` 0 stamped at most the scrape
/// timeout (one interval, and some slack) before. Such a scrape stores no samples, and
/// that is no loss of the queue's.
fn failed_near(failed: &[TimestampMs], at: TimestampMs) -> bool {
    failed
        .iter()
        .any(|&t| t <= at && at - t <= INTERVAL_MS + 500)
}

/// Counter values served by the target, with when.
fn served_values(served: &[Served]) -> Vec<(u64, TimestampMs)> {
    served
        .iter()
        .filter_map(|s| s.value.map(|v| (v, s.at_ms)))
        .collect()
}

/// `values` as counter values: each a whole number, strictly increasing in time order.
fn as_counter_values(samples: &[(TimestampMs, f64)]) -> anyhow::Result<Vec<u64>> {
    let mut out: Vec<u64> = Vec::with_capacity(samples.len());
    for &(t, v) in samples {
        anyhow::ensure!(
            v >= 1.0 && v.fract() == 0.0,
            "sample at {t} is {v}, not a served counter value"
        );
        let n = v as u64;
        if let Some(&prev) = out.last() {
            anyhow::ensure!(
                n > prev,
                "value {n} at {t} after {prev}: a scrape was stored twice or out of order"
            );
        }
        out.push(n);
    }
    Ok(out)
}

async fn no_loss_body() -> anyhow::Result<()> {
    const TENANT: &str = "durable";
    const METRIC: &str = "durability_scrapes_total";
    let dirs = tempfile::Builder::new()
        .prefix("strata-e2e-durability-")
        .tempdir()
        .context("temp dir")?;
    let strata_node = Node::new("strata", &dirs.path().join("strata"), &[])?;
    let mut strata = strata_node.start().await?;

    let target = TargetServer::start().await?;
    target.set("/metrics", Page::counter(METRIC));
    let cfg = dirs.path().join("prometheus.yml");
    std::fs::write(
        &cfg,
        agent_config(
            "durable",
            target.addr(),
            &[remote_write("strata", strata_node.http, TENANT)],
        ),
    )?;
    let agent_data = dirs.path().join("agent");
    let agent_node = Node::new(
        "agent",
        &agent_data,
        &agent_args(&cfg, &agent_data.join("queue"), &[]),
    )?;
    let started = now_ms();
    let mut agent = agent_node.start().await?;

    // Data flows before the outage.
    wait_sent_past(
        &agent,
        "strata",
        strata_node.http,
        now_ms() + 3 * INTERVAL_MS,
        Duration::from_secs(60),
    )
    .await?;

    // The outage: Strata stopped (SIGTERM) for OUTAGE.
    let outage = Instant::now();
    let (status, graceful) = strata.process.stop(Duration::from_secs(45))?;
    anyhow::ensure!(graceful, "strata ignored SIGTERM ({status})");
    drop(strata);
    eprintln!("[durability] strata down");

    // KILL_AFTER into it, the agent is SIGKILLed and started again on its data dir.
    tokio::time::sleep_until((outage + KILL_AFTER).into()).await;
    let kill_ms = now_ms();
    agent.kill()?;
    drop(agent);
    let restart_ms = now_ms();
    let agent = agent_node.start().await?;
    eprintln!(
        "[durability] agent killed at +{:?} into the outage and restarted",
        outage.elapsed()
    );
    // The agent must be scraping again while Strata is still down.
    wait_for(
        "a scrape by the restarted agent",
        Duration::from_secs(30),
        || {
            let n = target
                .served("/metrics")
                .iter()
                .filter(|s| s.at_ms > restart_ms)
                .count();
            async move { Ok((n > 0).then_some(())) }
        },
    )
    .await?;
    anyhow::ensure!(
        outage.elapsed() < OUTAGE,
        "the agent's restart took past the outage ({:?})",
        outage.elapsed()
    );

    // The scenario's length (not a synchronisation): Strata stays down for OUTAGE.
    tokio::time::sleep_until((outage + OUTAGE).into()).await;
    let strata = strata_node.start().await?;
    let back_ms = now_ms();
    eprintln!("[durability] strata back after {:?}", outage.elapsed());

    // The queue sends its backlog, then what comes after Strata's return.
    wait_sent_past(
        &agent,
        "strata",
        strata_node.http,
        back_ms + 2 * INTERVAL_MS,
        Duration::from_secs(120),
    )
    .await?;

    // Which values must be in Strata: served more than an interval before the kill, or
    // after the restart, up to a moment the queue has sent past.
    let check_ms = now_ms();
    wait_sent_past(
        &agent,
        "strata",
        strata_node.http,
        check_ms + INTERVAL_MS,
        Duration::from_secs(60),
    )
    .await?;
    let served = served_values(&target.served("/metrics"));
    let served_set: BTreeSet<u64> = served.iter().map(|s| s.0).collect();
    let must: BTreeMap<u64, TimestampMs> = served
        .iter()
        .filter(|&&(_, at)| at < check_ms && (at < kill_ms - INTERVAL_MS || at > restart_ms))
        .copied()
        .collect();
    let during_kill = served
        .iter()
        .filter(|&&(_, at)| at >= kill_ms - INTERVAL_MS && at <= restart_ms)
        .count();

    let series = read_series(&strata, TENANT, METRIC, started - 60_000, now_ms() + 60_000).await?;
    anyhow::ensure!(
        series.len() == 1,
        "one series {METRIC} expected, got {:?}",
        series.keys().collect::<Vec<_>>()
    );
    let (labels, samples) = series.into_iter().next().context("the series")?;
    assert_eq!(labels.get("job").map(String::as_str), Some("durable"));
    let stored = as_counter_values(&samples)?;
    let stored_set: BTreeSet<u64> = stored.iter().copied().collect();
    let failed = failed_scrapes(&strata, TENANT, "durable", started - 60_000, now_ms()).await?;
    let missing: Vec<String> = must
        .iter()
        .filter(|(v, at)| !stored_set.contains(v) && !failed_near(&failed, **at))
        .map(|(v, at)| format!("{v} (served at {at}, {} ms from the kill)", at - kill_ms))
        .collect();
    let invented: Vec<&u64> = stored_set.difference(&served_set).collect();
    eprintln!(
        "[durability] served {}, required {}, stored {}, served around the kill {during_kill}, \
         failed scrapes {}, missing {}",
        served.len(),
        must.len(),
        stored.len(),
        failed.len(),
        missing.len()
    );
    assert!(
        missing.is_empty(),
        "{} required scrapes are not in Strata (kill at {kill_ms}, restart at {restart_ms}): {}",
        missing.len(),
        missing.join(", ")
    );
    assert!(invented.is_empty(), "values never served: {invented:?}");
    // Enough scrapes to mean something: before the outage, during it (both agents), after.
    assert!(
        must.len() as u64 >= OUTAGE.as_secs(),
        "only {} required scrapes",
        must.len()
    );
    Ok(())
}

/// The queue's WAL on disk: bytes of its segment files, and of its checkpoint (the series
/// still referenced, kept when older segments go).
#[derive(Clone, Copy, Debug, Default)]
struct WalUse {
    segments: u64,
    checkpoint: u64,
}

/// Measures the WAL in `dir` (files directly in it are segments, directories checkpoints).
fn wal_use(dir: &Path) -> WalUse {
    fn bytes(dir: &Path) -> (u64, u64) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return (0, 0);
        };
        let (mut files, mut dirs) = (0, 0);
        for e in entries.filter_map(Result::ok) {
            match e.metadata() {
                Ok(m) if m.is_dir() => {
                    let (f, d) = bytes(&e.path());
                    dirs += f + d;
                }
                Ok(m) => files += m.len(),
                Err(_) => {}
            }
        }
        (files, dirs)
    }
    let (segments, checkpoint) = bytes(dir);
    WalUse {
        segments,
        checkpoint,
    }
}

async fn disk_cap_body() -> anyhow::Result<()> {
    const TENANT: &str = "capped";
    const METRIC: &str = "cap_series_scrapes_total";
    let dirs = tempfile::Builder::new()
        .prefix("strata-e2e-disk-cap-")
        .tempdir()
        .context("temp dir")?;
    let a = Strata::start().await?;
    // B: a port nobody listens on for now.
    let b_node = Node::new("strata-b", &dirs.path().join("strata-b"), &[])?;

    let target = TargetServer::start().await?;
    target.set(
        "/metrics",
        Page::Counter {
            name: METRIC.into(),
            series: CAP_SERIES,
        },
    );
    let cfg = dirs.path().join("prometheus.yml");
    std::fs::write(
        &cfg,
        agent_config(
            "capped",
            target.addr(),
            &[
                remote_write("a", a.http_port, TENANT),
                remote_write("b", b_node.http, TENANT),
            ],
        ),
    )?;
    let queue_dir = dirs.path().join("agent-queue");
    let agent_node = Node::new(
        "agent",
        &dirs.path().join("agent"),
        &agent_args(
            &cfg,
            &queue_dir,
            &[format!("-agent.max-disk-bytes-per-endpoint={DISK_CAP}")],
        ),
    )?;
    let started = now_ms();
    let agent = agent_node.start().await?;
    let wal = queue_dir.join("queue").join("wal");

    let dropped_b = "strata_remote_queue_dropped_samples_total{endpoint=\"b\",reason=\"disk_cap\"}";
    let first_drop = wait_for("b's first cap drop", Duration::from_secs(120), || async {
        let n = agent_metric(&agent, dropped_b).await?;
        Ok((n > 0.0).then_some(n))
    })
    .await?;
    eprintln!(
        "[disk-cap] first drop after {:.1} s: {first_drop} samples, wal {:?}",
        (now_ms() - started) as f64 / 1000.0,
        wal_use(&wal)
    );
    // Three more segments' worth of drops (by then more than twice the limit below has been
    // written), watching the disk: the segments stay near the cap (b's backlog up to the
    // cap, a segment for what is written between two checks of the cap and the truncation
    // after a drop), as they would not if the cap dropped whole 32 MiB segments or the
    // disk were freed only by the periodic truncation (every 60 s).
    let limit = DISK_CAP + CAPPED_SEGMENT + 512 * 1024;
    let mut max_disk = WalUse::default();
    let drops = wait_for(
        "three more segments dropped for b",
        Duration::from_secs(120),
        || {
            let now = wal_use(&wal);
            max_disk.segments = max_disk.segments.max(now.segments);
            max_disk.checkpoint = max_disk.checkpoint.max(now.checkpoint);
            let agent = &agent;
            async move {
                let n = agent_metric(agent, dropped_b).await?;
                let more = (3 * CAPPED_SEGMENT / WAL_BYTES_PER_SAMPLE) as f64;
                Ok((n >= first_drop + more).then_some(n))
            }
        },
    )
    .await?;
    let sent_a = agent_metric(
        &agent,
        &format!(
            "prometheus_remote_storage_queue_highest_sent_timestamp_seconds{{remote_name=\"a\",url=\"http://127.0.0.1:{}/api/v1/push\"}}",
            a.http_port
        ),
    )
    .await?;
    eprintln!(
        "[disk-cap] b dropped {drops} samples; wal at most {max_disk:?} (segments' limit {limit}); \
         a has sent up to {:.1} s ago",
        now_ms() as f64 / 1000.0 - sent_a
    );
    assert!(
        max_disk.segments <= limit,
        "the queue's wal segments reached {} bytes, past {limit} for a cap of {DISK_CAP} \
         (a live endpoint far behind holds segments too: a has sent up to {:.1} s ago)",
        max_disk.segments,
        now_ms() as f64 / 1000.0 - sent_a
    );
    // The checkpoint holds each live series once (a series record of ~90 bytes here).
    assert!(
        max_disk.checkpoint <= CAP_SERIES as u64 * 256,
        "checkpoint of {} bytes for {CAP_SERIES} series",
        max_disk.checkpoint
    );
    let dropped_a = agent_metric(
        &agent,
        "strata_remote_queue_dropped_samples_total{endpoint=\"a\",reason=\"disk_cap\"}",
    )
    .await?;
    assert_eq!(dropped_a, 0.0, "a (live) dropped nothing");

    // B comes up: it receives the recent data.
    let b = b_node.start().await?;
    let b_up = now_ms();
    wait_sent_past(
        &agent,
        "b",
        b_node.http,
        b_up + 2 * INTERVAL_MS,
        Duration::from_secs(120),
    )
    .await?;
    let check_ms = now_ms();
    for (name, port) in [("a", a.http_port), ("b", b_node.http)] {
        wait_sent_past(
            &agent,
            name,
            port,
            check_ms + INTERVAL_MS,
            Duration::from_secs(60),
        )
        .await?;
    }
    let served: Vec<(u64, TimestampMs)> = served_values(&target.served("/metrics"))
        .into_iter()
        .filter(|&(_, at)| at < check_ms)
        .collect();
    anyhow::ensure!(!served.is_empty(), "nothing was served");

    // A: every scrape, every series.
    let end = now_ms() + 60_000;
    let got_a = read_series(&a, TENANT, METRIC, started - 60_000, end).await?;
    assert_eq!(got_a.len(), CAP_SERIES, "a holds every series");
    let failed = failed_scrapes(&a, TENANT, "capped", started - 60_000, end).await?;
    let mut gaps = Vec::new();
    for (labels, samples) in &got_a {
        let have: BTreeSet<u64> = as_counter_values(samples)?.into_iter().collect();
        let missing: Vec<u64> = served
            .iter()
            .filter(|&&(v, at)| !have.contains(&v) && !failed_near(&failed, at))
            .map(|s| s.0)
            .collect();
        if !missing.is_empty() {
            gaps.push(format!("{:?}: {missing:?}", labels.get("i")));
        }
    }
    assert!(
        gaps.is_empty(),
        "a lacks scrapes in {} series, e.g. {}",
        gaps.len(),
        gaps.iter().take(5).cloned().collect::<Vec<_>>().join("; ")
    );

    // B: the recent data, not the oldest.
    let got_b = read_series(&b, TENANT, METRIC, started - 60_000, end).await?;
    assert_eq!(got_b.len(), CAP_SERIES, "b holds every series");
    for (labels, samples) in &got_b {
        let have = as_counter_values(samples)?;
        let first = have.first().copied().unwrap_or(0);
        assert!(
            first > 1,
            "series {:?} on b starts at value {first}: the oldest data was not dropped",
            labels.get("i")
        );
        let have: BTreeSet<u64> = have.into_iter().collect();
        let missing: Vec<u64> = served
            .iter()
            .filter(|&&(v, at)| at > b_up && !have.contains(&v) && !failed_near(&failed, at))
            .map(|s| s.0)
            .collect();
        assert!(
            missing.is_empty(),
            "series {:?} on b lacks values served after b came up: {missing:?}",
            labels.get("i")
        );
    }
    let b0 = got_b.values().next().map(Vec::len).unwrap_or(0);
    eprintln!(
        "[disk-cap] {} scrapes served ({} failed on the agent's side); a has all; b has the \
         newest {b0} of them",
        served.len(),
        failed.len()
    );
    Ok(())
}
