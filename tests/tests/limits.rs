//! Per-tenant limits from the runtime overrides file and the HA tracker, against the real
//! binary (`-target=all`, one-voter Raft):
//! 1. a tiny ingestion rate answers 429; a series limit (per user, per metric) answers 400
//!    naming the limit while existing series keep accepting; after the file changes, the
//!    same pushes are accepted within the reload period; `/runtime_config` shows the file.
//! 2. HA pair: two writers of one cluster with different replicas: only the elected one is
//!    stored, without the replica label; once it stops, the other takes over after the
//!    failover timeout.
//! 3. The same HA pair through two distributors of a cluster (3 ingester-voters): both
//!    distributors follow the one election held in the Raft ring.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde_json::Value;
use strata_tests::api::{Auth, RawReply};
use strata_tests::fixtures::{series, write_request};
use strata_tests::{e2e, now_ms, Strata, TimestampMs};

fn push_of(
    metric: &str,
    n_series: usize,
    t: TimestampMs,
) -> strata_proto::prometheus::WriteRequest {
    let all = (0..n_series)
        .map(|i| {
            series(
                &[("__name__", metric), ("i", &i.to_string())],
                &[(t, i as f64)],
            )
        })
        .collect();
    write_request(all)
}

/// The `result` array of an instant query.
async fn instant(s: &Strata, auth: &Auth, q: &str, t: TimestampMs) -> anyhow::Result<Vec<Value>> {
    let data = s.api(auth.clone()).query_raw(q, t).await?.data()?;
    Ok(data["result"].as_array().cloned().unwrap_or_default())
}

fn expect(reply: &RawReply, status: u16, phrase: &str, what: &str) -> anyhow::Result<()> {
    anyhow::ensure!(
        reply.status == status && reply.body.contains(phrase),
        "{what}: want {status} containing {phrase:?}, got {}: {}",
        reply.status,
        reply.body
    );
    Ok(())
}

#[tokio::test]
async fn runtime_overrides_limit_rate_and_series_and_reload() {
    e2e(async {
        let dir = tempfile::tempdir()?;
        let file = dir.path().join("runtime.yaml");
        std::fs::write(
            &file,
            "overrides:\n  tiny:\n    ingestion_rate: 1\n    ingestion_burst_size: 10\n  few:\n    max_global_series_per_user: 3\n  permetric:\n    max_global_series_per_metric: 2\n",
        )?;
        let file_arg = format!("-runtime-config.file={}", file.display());
        let strata =
            Strata::start_with_args(&[&file_arg, "-runtime-config.reload-period=300ms"]).await?;
        let t0 = now_ms() - 10_000;

        // Rate: 20 samples against a burst of 10 → 429; 5 fit.
        let tiny = Auth::org("tiny");
        let r = strata.push(&tiny, &push_of("rate_metric", 20, t0)).await?;
        expect(&r, 429, "ingestion rate limit, set to 1 items/s", "over the rate")?;
        let r = strata.push(&tiny, &push_of("rate_metric", 5, t0)).await?;
        expect(&r, 200, "", "within the burst")?;

        // Series per user: 3 fit; 2 more new ones are refused with 400 naming the limit,
        // while a sample for an existing series in the same request is stored.
        let few = Auth::org("few");
        let r = strata.push(&few, &push_of("series_metric", 3, t0)).await?;
        expect(&r, 200, "", "three series")?;
        let mut req = push_of("series_metric", 5, t0 + 1000);
        req.timeseries[0].samples[0].value = 42.0;
        let r = strata.push(&few, &req).await?;
        expect(&r, 400, "per-user series limit of 3 exceeded", "new series over the limit")?;
        let got = instant(&strata, &few, "series_metric", t0 + 1000).await?;
        anyhow::ensure!(got.len() == 3, "still 3 series: {got:?}");
        let first = instant(&strata, &few, "series_metric{i=\"0\"}", t0 + 1000).await?;
        anyhow::ensure!(
            first.first().map(|s| s["value"][1].clone()) == Some(Value::from("42")),
            "the existing series took its sample: {first:?}"
        );

        // Series per metric.
        let pm = Auth::org("permetric");
        let r = strata.push(&pm, &push_of("m1", 3, t0)).await?;
        expect(&r, 400, "per-metric series limit of 2 exceeded for metric m1", "per metric")?;
        let r = strata.push(&pm, &push_of("m2", 2, t0)).await?;
        expect(&r, 200, "", "another metric has its own count")?;

        let page = strata.get("/runtime_config").await?;
        anyhow::ensure!(
            page.status == 200 && page.body.contains("tiny") && page.body.contains("ingestion_rate"),
            "/runtime_config: {}",
            page.body
        );

        // Raise the limits in the file: accepted within the reload period.
        std::fs::write(
            &file,
            "overrides:\n  tiny:\n    ingestion_rate: 1000000\n    ingestion_burst_size: 1000000\n  few:\n    max_global_series_per_user: 100\n",
        )?;
        let changed = Instant::now();
        loop {
            let r1 = strata.push(&tiny, &push_of("rate_metric", 20, t0 + 2000)).await?;
            let r2 = strata.push(&few, &push_of("series_metric", 5, t0 + 2000)).await?;
            if r1.status == 200 && r2.status == 200 {
                break;
            }
            anyhow::ensure!(
                changed.elapsed() < Duration::from_secs(5),
                "not reloaded after 5s: {} {} / {} {}",
                r1.status,
                r1.body,
                r2.status,
                r2.body
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let got = instant(&strata, &few, "series_metric", t0 + 2000).await?;
        anyhow::ensure!(got.len() == 5, "5 series after the reload: {got:?}");

        // A broken file keeps the last good config.
        std::fs::write(&file, "overrides:\n  tiny: [oops\n")?;
        tokio::time::sleep(Duration::from_millis(800)).await;
        let r = strata.push(&tiny, &push_of("rate_metric", 20, t0 + 3000)).await?;
        expect(&r, 200, "", "last good config kept")?;
        let metrics = strata.get("/metrics").await?;
        anyhow::ensure!(
            metrics
                .body
                .contains("strata_runtime_config_last_reload_successful 0"),
            "the failed reload shows in the metrics"
        );
        anyhow::ensure!(
            metrics
                .body
                .contains("strata_discarded_samples_total{reason=\"rate_limited\",tenant=\"tiny\"}"),
            "rate-limited samples counted"
        );
        Ok(())
    })
    .await;
}

fn ha_push(replica: &str, t: TimestampMs, v: f64) -> strata_proto::prometheus::WriteRequest {
    write_request(vec![series(
        &[
            ("__name__", "ha_metric"),
            ("cluster", "prom-ha"),
            ("__replica__", replica),
        ],
        &[(t, v)],
    )])
}

#[tokio::test]
async fn ha_pair_stores_one_replica_and_fails_over() {
    e2e(async {
        let strata = Strata::start_with_args(&[
            "-distributor.ha-tracker.enable=true",
            "-distributor.ha-tracker.enable-for-all-users=true",
            "-distributor.ha-tracker.failover-timeout=2s",
        ])
        .await?;
        let auth = Auth::org("ha-tenant");
        let base = now_ms() - 60_000;
        // Both replicas write the same series; "a" comes first and is elected.
        let mut t = base;
        let mut last_a = Instant::now();
        for _ in 0..5 {
            let ra = strata.push(&auth, &ha_push("a", t, 1.0)).await?;
            expect(&ra, 200, "", "elected replica")?;
            last_a = Instant::now();
            let rb = strata.push(&auth, &ha_push("b", t + 1, 2.0)).await?;
            expect(
                &rb,
                202,
                "replica=b, elected=a",
                "other replica deduplicated",
            )?;
            t += 1000;
        }
        let got = instant(&strata, &auth, "ha_metric", t).await?;
        anyhow::ensure!(got.len() == 1, "one series: {got:?}");
        let metric = got[0]["metric"].as_object().context("labels")?;
        anyhow::ensure!(
            !metric.contains_key("__replica__")
                && metric.get("cluster") == Some(&Value::from("prom-ha")),
            "replica label removed, cluster kept: {metric:?}"
        );
        anyhow::ensure!(got[0]["value"][1] == "1", "a's value: {got:?}");
        let count = instant(&strata, &auth, "count_over_time(ha_metric[10m])", t).await?;
        anyhow::ensure!(
            count.first().map(|s| s["value"][1].clone()) == Some(Value::from("5")),
            "only a's 5 samples: {count:?}"
        );

        // "a" stops; "b" keeps writing and takes over after the 2s failover timeout.
        let took_over = loop {
            t += 1000;
            let rb = strata.push(&auth, &ha_push("b", t, 2.0)).await?;
            if rb.status == 200 {
                break last_a.elapsed();
            }
            expect(&rb, 202, "elected=a", "b waits for the failover")?;
            anyhow::ensure!(
                last_a.elapsed() < Duration::from_secs(10),
                "no failover in 10s"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        anyhow::ensure!(
            // The ring's last-seen is refreshed every third of the timeout, so at worst
            // 2s - 667ms after a's last push.
            took_over >= Duration::from_millis(1300),
            "failover after the timeout, not before: {took_over:?}"
        );
        let got = instant(&strata, &auth, "ha_metric", t).await?;
        anyhow::ensure!(
            got.len() == 1 && got[0]["value"][1] == "2",
            "b's samples stored under the same series: {got:?}"
        );
        // Now "a" is the one refused.
        let ra = strata.push(&auth, &ha_push("a", t + 1, 1.0)).await?;
        expect(
            &ra,
            202,
            "replica=a, elected=b",
            "a deduplicated after failover",
        )?;
        Ok(())
    })
    .await;
}

/// Starts one cluster process with `args` plus the shared ring flags.
async fn node(
    name: &str,
    dir: &std::path::Path,
    voters: &str,
    args: &[String],
) -> anyhow::Result<Strata> {
    let mut all = vec![
        format!("-ring.voters={voters}"),
        "-ring.replication-factor=3".into(),
        "-ring.heartbeat-period=500ms".into(),
        "-ring.heartbeat-timeout=2s".into(),
        "-ring.election-timeout=300ms".into(),
        "-distributor.ha-tracker.enable=true".into(),
        "-distributor.ha-tracker.enable-for-all-users=true".into(),
        "-distributor.ha-tracker.failover-timeout=2s".into(),
        "-distributor.instances=2".into(),
    ];
    all.extend(args.iter().cloned());
    let (http, grpc) = (
        strata_tests::net::free_port()?,
        strata_tests::net::free_port()?,
    );
    Strata::start_node(name, http, grpc, &dir.join(name), &all).await
}

async fn wait_active(node: &Strata, n: usize) -> anyhow::Result<()> {
    strata_tests::wait::wait_for(
        &format!("{n} ACTIVE ingesters"),
        Duration::from_secs(30),
        || async {
            let v: Value = node.get("/ring?format=json").await?.json()?;
            let active = v["instances"]
                .as_array()
                .map_or(0, |a| a.iter().filter(|i| i["state"] == "ACTIVE").count());
            Ok((active == n).then_some(()))
        },
    )
    .await
}

/// The HA pair through two distributors of a cluster: the election is in the Raft ring, so
/// both distributors agree on it.
#[tokio::test(flavor = "multi_thread")]
async fn ha_pair_through_two_distributors_agrees_via_the_ring() {
    e2e(async {
        let dir = tempfile::tempdir()?;
        let grpc_ports = [
            strata_tests::net::free_port()?,
            strata_tests::net::free_port()?,
            strata_tests::net::free_port()?,
        ];
        let voters = grpc_ports
            .iter()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect::<Vec<_>>()
            .join(",");
        let mut ingesters = Vec::new();
        for (i, grpc) in grpc_ports.iter().enumerate() {
            let http = strata_tests::net::free_port()?;
            let name = format!("ingester-{i}");
            let args = vec![
                format!("-ring.voters={voters}"),
                "-ring.replication-factor=3".into(),
                "-ring.heartbeat-period=500ms".into(),
                "-ring.heartbeat-timeout=2s".into(),
                "-ring.election-timeout=300ms".into(),
                "-target=ingester,ring".into(),
                format!("-ring.node-id={name}"),
            ];
            ingesters.push(
                Strata::start_node(&name, http, *grpc, &dir.path().join(&name), &args).await?,
            );
        }
        let d1 = node(
            "distributor-1",
            dir.path(),
            &voters,
            &["-target=distributor".into()],
        )
        .await?;
        let d2 = node(
            "distributor-2",
            dir.path(),
            &voters,
            &["-target=distributor".into()],
        )
        .await?;
        let q = node("querier", dir.path(), &voters, &["-target=querier".into()]).await?;
        for n in [&d1, &d2, &q] {
            wait_active(n, 3).await?;
        }
        let auth = Auth::org("ha-cluster");
        let mut t = now_ms() - 60_000;
        let mut last_a = Instant::now();
        for _ in 0..3 {
            let ra = d1.push(&auth, &ha_push("a", t, 1.0)).await?;
            expect(&ra, 200, "", "a through distributor 1")?;
            last_a = Instant::now();
            let rb = d2.push(&auth, &ha_push("b", t + 1, 2.0)).await?;
            expect(&rb, 202, "elected=a", "b through distributor 2")?;
            t += 1000;
        }
        let got = instant(&q, &auth, "ha_metric", t).await?;
        anyhow::ensure!(
            got.len() == 1
                && got[0]["value"][1] == "1"
                && !got[0]["metric"]
                    .as_object()
                    .is_some_and(|m| m.contains_key("__replica__")),
            "one series, a's value, no replica label: {got:?}"
        );
        // a stops; b takes over through the other distributor after the timeout.
        let took_over = loop {
            t += 1000;
            let rb = d2.push(&auth, &ha_push("b", t, 2.0)).await?;
            if rb.status == 200 {
                break last_a.elapsed();
            }
            expect(&rb, 202, "elected=a", "b waits")?;
            anyhow::ensure!(
                last_a.elapsed() < Duration::from_secs(10),
                "no failover in 10s"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        anyhow::ensure!(
            took_over >= Duration::from_millis(1300),
            "failover too early: {took_over:?}"
        );
        let ra = d1.push(&auth, &ha_push("a", t + 1, 1.0)).await?;
        expect(
            &ra,
            202,
            "elected=b",
            "distributor 1 learns the new election from the ring",
        )?;
        let got = instant(&q, &auth, "ha_metric", t).await?;
        anyhow::ensure!(
            got.len() == 1 && got[0]["value"][1] == "2",
            "b's sample stored under the same series: {got:?}"
        );
        drop(ingesters);
        Ok(())
    })
    .await;
}
