//! The docker-compose cluster (`docker-compose.yml`), from images built out of the debug
//! binary the other tests run: scenario 4 of the cluster issue, a network cut.
//!
//! 1. `docker-compose up -d` (project `strata-test-<pid>`, free published ports) gives a
//!    working cluster: every ingester ready (ACTIVE in the ring), both distributors
//!    registered and sharing the rate (`strata_distributor_instances` 2).
//! 2. A writer sends 2,000 series every second through both distributors (retrying 5xx, 429
//!    and transport errors); queries through the querier are complete.
//! 3. The Raft leader's ingester is cut off (`docker network disconnect`) for 25 s: no push
//!    fails at the client after retries, queries stay complete, and the voters judge it
//!    unhealthy once its heartbeats are older than the timeout.
//! 4. Reconnected: its heartbeats resume, it is ACTIVE and healthy on every process, its Raft
//!    log catches up, and it takes samples again. Every acknowledged sample is queryable.
//! 5. Prometheus's remote write arrived: `up{job="node"}` under tenant `demo`.
//!
//! Skips (printing why) when docker, docker-compose or the peers' packages are missing. The
//! project is always taken down (`down -v`), also on failure.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context};
use serde_json::Value;
use strata_tests::compose::{build_images, docker_unavailable, Compose, LoadReport, LoadWriter};
use strata_tests::net::free_port;
use strata_tests::wait::wait_for;
use strata_tests::{now_ms, Auth, PromApi, QueryData, Strata};

const TENANT: &str = "compose-test";
const METRIC: &str = "compose_load";
const SERIES: usize = 2_000;
const BATCH: usize = 500;
const CUT: Duration = Duration::from_secs(25);
/// Samples acknowledged at least this long before a query must be in its answer.
const SETTLE_MS: i64 = 5_000;

struct Urls {
    push: String,
    query: String,
    prometheus: String,
}

async fn get(http: &reqwest::Client, url: &str) -> anyhow::Result<(u16, String)> {
    let r = http
        .get(url)
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .with_context(|| format!("GET {url}"))?;
    let status = r.status().as_u16();
    Ok((status, r.text().await.unwrap_or_default()))
}

async fn get_json(http: &reqwest::Client, url: &str) -> anyhow::Result<Value> {
    let (status, body) = get(http, url).await?;
    ensure!(status == 200, "GET {url}: {status} {body}");
    serde_json::from_str(&body).with_context(|| format!("GET {url}: not JSON: {body}"))
}

/// `(state, healthy, heartbeat age)` of `id` in the ring at `base` (an HTTP base URL).
async fn ring_entry(
    http: &reqwest::Client,
    base: &str,
    id: &str,
) -> anyhow::Result<Option<(String, bool, Option<f64>)>> {
    let v = get_json(http, &format!("{base}/ring?format=json")).await?;
    let inst = v["instances"]
        .as_array()
        .context("instances")?
        .iter()
        .find(|i| i["id"] == id);
    Ok(inst.map(|i| {
        (
            i["state"].as_str().unwrap_or("").to_string(),
            i["healthy"].as_bool().unwrap_or(false),
            i["heartbeat_age_seconds"].as_f64(),
        )
    }))
}

/// A metric's value summed over its series, from `/metrics` at `base`.
async fn metric_sum(http: &reqwest::Client, base: &str, name: &str) -> anyhow::Result<f64> {
    let (status, body) = get(http, &format!("{base}/metrics")).await?;
    ensure!(status == 200, "GET {base}/metrics: {status}");
    Ok(body
        .lines()
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with(' ') || rest.starts_with('{'))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum())
}

/// Checks that every sample acknowledged with a timestamp up to `now - SETTLE_MS` is
/// returned by the querier, series by series; returns (acknowledged, found) in the window.
async fn check_complete(
    api: &PromApi,
    report: &LoadReport,
    from_ms: i64,
) -> anyhow::Result<(u64, u64)> {
    let at = now_ms() - SETTLE_MS;
    let secs = (at - from_ms) / 1000 + 1;
    let data = api
        .query(&format!("count_over_time({METRIC}[{secs}s])"), at)
        .await
        .context("completeness query")?;
    let QueryData::Vector(v) = data else {
        anyhow::bail!("count_over_time answered a {}", data.result_type());
    };
    let found: BTreeMap<usize, f64> = v
        .iter()
        .filter_map(|s| Some((s.labels.get("series")?.parse().ok()?, s.point.v)))
        .collect();
    let window_start = at - secs * 1000;
    let (mut acked, mut got) = (0u64, 0u64);
    for i in 0..SERIES {
        let want = report.acked_for_series(i, window_start, at) as u64;
        let have = found.get(&i).copied().unwrap_or(0.0) as u64;
        ensure!(
            have >= want,
            "series {i}: {want} samples acknowledged up to {at}, the querier returned {have}"
        );
        acked += want;
        got += have;
    }
    Ok((acked, got))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn compose_cluster_survives_an_ingester_cut_off_the_network() {
    if let Some(why) = docker_unavailable() {
        eprintln!("SKIPPED compose test: {why}");
        return;
    }
    let started = Instant::now();
    let bin = Strata::binary().expect("the debug strata binary");
    build_images(&bin).expect("build the images");
    let (push, query, prom) = (
        free_port().expect("port"),
        free_port().expect("port"),
        free_port().expect("port"),
    );
    let project = format!("strata-test-{}", std::process::id());
    let mut c = Compose::up(
        &project,
        &[
            ("STRATA_PUSH_PORT", push.to_string()),
            ("STRATA_QUERY_PORT", query.to_string()),
            ("STRATA_PROMETHEUS_PORT", prom.to_string()),
        ],
    )
    .expect("docker-compose up");
    let urls = Urls {
        push: format!("http://127.0.0.1:{push}"),
        query: format!("http://127.0.0.1:{query}"),
        prometheus: format!("http://127.0.0.1:{prom}"),
    };
    let result = scenario(&mut c, &urls).await;
    if let Err(e) = &result {
        eprintln!("{}", c.logs(60));
        eprintln!("compose test failed after {:?}", started.elapsed());
        let _ = c.down();
        panic!("{e:?}");
    }
    c.down().expect("docker-compose down -v");
    eprintln!("compose test took {:?}", started.elapsed());
}

async fn scenario(c: &mut Compose, urls: &Urls) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    let mut base = BTreeMap::new();
    for s in ["ingester-1", "ingester-2", "ingester-3", "distributor-2"] {
        let ip = c.ip(s)?.with_context(|| format!("{s} has no IP"))?;
        base.insert(s, format!("http://{ip}:8080"));
    }
    base.insert("distributor", urls.push.clone());
    base.insert("querier", urls.query.clone());

    // 1. Up: every process ready, the distributors registered and sharing the rate.
    let t_up = Instant::now();
    for (name, b) in &base {
        wait_for(&format!("{name} ready"), Duration::from_secs(90), || {
            let (http, url) = (http.clone(), format!("{b}/ready"));
            async move { Ok(get(&http, &url).await.ok().filter(|(s, _)| *s == 200)) }
        })
        .await?;
    }
    for d in ["distributor", "distributor-2"] {
        let b = base[d].clone();
        wait_for(
            &format!("{d} counts 2 distributors"),
            Duration::from_secs(30),
            || {
                let (http, b) = (http.clone(), b.clone());
                async move {
                    let n = metric_sum(&http, &b, "strata_distributor_instances").await?;
                    Ok((n == 2.0).then_some(()))
                }
            },
        )
        .await?;
    }
    eprintln!("cluster ready in {:?}", t_up.elapsed());

    // 2. Load through both distributors; queries complete.
    let api = PromApi::new(
        format!("{}/prometheus/api/v1", urls.query),
        Auth::org(TENANT),
    );
    let writer = LoadWriter::start(
        vec![
            format!("{}/api/v1/push", base["distributor"]),
            format!("{}/api/v1/push", base["distributor-2"]),
        ],
        TENANT,
        METRIC,
        SERIES,
        BATCH,
        Duration::from_secs(30),
    );
    let load_start = now_ms() - 1000;
    tokio::time::sleep(Duration::from_secs(12)).await;
    let (a, f) = check_complete(&api, &writer.report(), load_start).await?;
    ensure!(a > 0, "nothing acknowledged before the cut");
    eprintln!("before the cut: {a} acknowledged, {f} found");

    // 3. Cut the Raft leader off.
    let raft = get_json(
        &http,
        &format!("{}/ring/raft?format=json", base["ingester-1"]),
    )
    .await?;
    let leader = raft["leader"].as_u64().context("a Raft leader")?;
    let victim = format!("ingester-{leader}");
    let others: Vec<String> = (1..=3)
        .filter(|i| *i != leader)
        .map(|i| format!("ingester-{i}"))
        .collect();
    c.disconnect(&victim)?;
    let cut_at = Instant::now();
    eprintln!("cut {victim} (the Raft leader) off the network");
    let mut during = Vec::new();
    let mut judged_unhealthy = false;
    while cut_at.elapsed() < CUT {
        tokio::time::sleep(Duration::from_secs(5)).await;
        let q = Instant::now();
        let (a, f) = check_complete(&api, &writer.report(), load_start)
            .await
            .context("query during the cut")?;
        during.push((a, f, q.elapsed()));
        if let Some((_, healthy, _)) = ring_entry(&http, &base[others[0].as_str()], &victim).await?
        {
            judged_unhealthy |= !healthy;
        }
    }
    let r = writer.report();
    ensure!(
        r.client_errors == 0,
        "{} pushes failed during the cut",
        r.client_errors
    );
    ensure!(
        judged_unhealthy,
        "the voters never judged {victim} unhealthy while it was cut off"
    );
    eprintln!("during the cut: {during:?} (acknowledged, found, query time)");

    // 4. Reconnect: heartbeats resume, ACTIVE everywhere, Raft caught up, takes samples.
    let leader_index = get_json(
        &http,
        &format!("{}/ring/raft?format=json", base[others[0].as_str()]),
    )
    .await?["committed_index"]
        .as_u64()
        .context("committed index")?;
    c.connect(&victim)?;
    let back_at = Instant::now();
    let vb = base[victim.as_str()].clone();
    let mut phases = Vec::new();
    for (name, b) in &base {
        let (http, b, victim) = (http.clone(), b.clone(), victim.clone());
        let voter = name.starts_with("ingester");
        wait_for(
            &format!("{victim} ACTIVE and healthy on {name}"),
            Duration::from_secs(60),
            || {
                let (http, b, victim) = (http.clone(), b.clone(), victim.clone());
                async move {
                    let Ok(Some((state, healthy, age))) = ring_entry(&http, &b, &victim).await
                    else {
                        return Ok(None);
                    };
                    let fresh = !voter || age.is_some_and(|a| a < 5.0);
                    Ok((state == "ACTIVE" && healthy && fresh).then_some(()))
                }
            },
        )
        .await?;
        phases.push(format!("ACTIVE/fresh on {name} {:?}", back_at.elapsed()));
    }
    wait_for(
        &format!("{victim}'s Raft log catches up"),
        Duration::from_secs(60),
        || {
            let (http, vb) = (http.clone(), vb.clone());
            async move {
                let v = get_json(&http, &format!("{vb}/ring/raft?format=json")).await?;
                Ok((v["committed_index"].as_u64().unwrap_or(0) >= leader_index).then_some(()))
            }
        },
    )
    .await?;
    phases.push(format!("Raft caught up {:?}", back_at.elapsed()));
    let before = metric_sum(&http, &vb, "strata_ingester_ingested_samples_total").await?;
    wait_for(
        &format!("{victim} takes samples again"),
        Duration::from_secs(60),
        || {
            let (http, vb) = (http.clone(), vb.clone());
            async move {
                let n = metric_sum(&http, &vb, "strata_ingester_ingested_samples_total").await?;
                Ok((n > before).then_some(()))
            }
        },
    )
    .await?;
    let recovered = back_at.elapsed();
    phases.push(format!("takes samples {recovered:?}"));
    eprintln!("{victim} after reconnecting: {}", phases.join(", "));
    tokio::time::sleep(Duration::from_secs(6)).await;
    let report = writer.stop().await;
    tokio::time::sleep(Duration::from_millis(SETTLE_MS as u64 + 1000)).await;
    let (acked, found) = check_complete(&api, &report, load_start).await?;
    ensure!(
        report.client_errors == 0,
        "{} pushes failed",
        report.client_errors
    );
    ensure!(
        acked == report.acked_samples(),
        "the final window missed acknowledged samples"
    );

    // 5. Prometheus's remote write, tenant demo.
    let demo = api.with_auth(Auth::org("demo"));
    wait_for(
        "Prometheus's up{job=\"node\"} in tenant demo",
        Duration::from_secs(60),
        || {
            let demo = demo.clone();
            async move {
                let d = demo.query("up{job=\"node\"}", now_ms()).await?;
                Ok(match d {
                    QueryData::Vector(v) if v.iter().any(|s| s.point.v == 1.0) => Some(()),
                    _ => None,
                })
            }
        },
    )
    .await?;
    let (ps, _) = get(&http, &format!("{}/-/ready", urls.prometheus)).await?;
    ensure!(ps == 200, "Prometheus not ready: {ps}");

    println!(
        "| scenario | acknowledged | found | client errors | retries | time to recover |\n\
         |---|---|---|---|---|---|\n\
         | 4. network cut of the Raft leader's ingester ({} s, docker) | {acked} | {found} | {} | {} | {:.1} s |",
        CUT.as_secs(),
        report.client_errors,
        report.retries,
        recovered.as_secs_f64()
    );
    Ok(())
}
