//! Chaos scenarios of issue 6 on a cluster of separate processes under load: three ingesters
//! (zones a/b/c, the ring's Raft voters), two distributors, a querier; a writer sends 2,000
//! series every second (`CHAOS_SERIES` for more) through both distributors, retrying 429 and
//! 5xx, and records every acknowledged sample. Each test prints one `[chaos-report]` line:
//! samples acknowledged, samples found, client errors, time to recover.
//!
//! 1. SIGKILL one ingester, restart it: no client failure, everything found, reads during
//!    the outage complete.
//! 2. SIGKILL the Raft leader: a new leader within three election timeouts, writes and reads
//!    unaffected, then a membership change (a fourth ingester joins) commits.
//! 3. Two of three ingesters down: writes and reads 5xx, the survivor still healthy in its
//!    own ring; after the restart every 2xx sample is on two replicas (found with the
//!    survivor killed).
//! 4. One ingester hung (SIGSTOP, the process stand-in for a network cut): as 1; after
//!    SIGCONT its heartbeats and ring catch up.
//! 5. Rolling restart (SIGTERM, ready and ACTIVE, next): nothing lost, no client failure.
//! 6. A fourth ingester joins: the ring converges on every process, series land on it,
//!    reads stay complete.
//! 7. HA pair through the distributors: one replica stored; the other takes over after the
//!    failover timeout once the elected one stops.

use std::time::{Duration, Instant};

use anyhow::Context;
use strata_tests::chaos::checker::{self, promql_series_count, Check};
use strata_tests::chaos::cluster::{
    self, overrides_for, Cluster, ClusterOptions, ELECTION_TIMEOUT, HA_FAILOVER, HEARTBEAT_TIMEOUT,
};
use strata_tests::chaos::writer::{Writer, WriterConfig, WriterLog};
use strata_tests::chaos::{series_count, Report};
use strata_tests::wait::wait_for;
use strata_tests::{e2e, now_ms, TimestampMs};

const TENANT: &str = "chaos";

/// A cluster with the test tenant's limits set, and a running writer.
async fn start(ha: bool) -> anyhow::Result<(Cluster, WriterConfig, TimestampMs)> {
    let series = series_count();
    let c = Cluster::start(&ClusterOptions {
        overrides_yaml: overrides_for(&[TENANT], series, ha),
        ha,
    })
    .await?;
    Ok((c, WriterConfig::new(TENANT, series), now_ms() - 1000))
}

/// Lets the load run for `d`: the scenario's phases are lengths of load, not
/// synchronisation (every wait for a state polls a predicate).
async fn under_load(d: Duration) {
    tokio::time::sleep(d).await;
}

/// Waits until the writer has `ticks` more intervals acknowledged (in requests of every
/// shard) than it had.
async fn acks_grow(w: &Writer, ticks: usize, timeout: Duration) -> anyhow::Result<()> {
    let from = w.snapshot().acks.len();
    let n = ticks * w.config().shards;
    wait_for("the writer's acknowledgements to grow", timeout, || async {
        Ok((w.snapshot().acks.len() >= from + n).then_some(()))
    })
    .await
}

/// A read through the querier now: remote read complete for everything acknowledged
/// [`checker::SETTLE`] ago, and PromQL seeing every series.
async fn read_complete(
    c: &Cluster,
    w: &Writer,
    start: TimestampMs,
    what: &str,
) -> anyhow::Result<Check> {
    let q = c.querier()?;
    let cfg = w.config();
    let check = checker::verify(q, cfg, &w.snapshot(), start)
        .await?
        .map_err(|s| anyhow::anyhow!("{what}: remote read answered {s}"))?;
    check.ensure_complete(what)?;
    let n = promql_series_count(q, cfg, now_ms() - 2000)
        .await?
        .map_err(|s| anyhow::anyhow!("{what}: PromQL answered {s}"))?;
    anyhow::ensure!(
        n == cfg.series,
        "{what}: PromQL counts {n} of {} series",
        cfg.series
    );
    Ok(check)
}

/// Stops the writer and checks every acknowledged sample (no settling time: each one was
/// durable on a quorum before its 2xx).
async fn finish(c: &Cluster, w: Writer, start: TimestampMs) -> anyhow::Result<(WriterLog, Check)> {
    let cfg = w.config().clone();
    let log = w.stop().await?;
    eprintln!("[chaos] writer: {}", log.summary());
    let found = checker::read_all(c.querier()?, &cfg, start, now_ms() + 60_000)
        .await?
        .map_err(|s| anyhow::anyhow!("final read answered {s}"))?;
    let check = checker::check(&cfg, &log, &found, Instant::now());
    check.ensure_complete("final check")?;
    Ok((log, check))
}

fn no_client_errors(log: &WriterLog) -> anyhow::Result<()> {
    anyhow::ensure!(
        log.failures.is_empty(),
        "{} requests failed at the client, first: {:?}",
        log.failures.len(),
        log.failures.first().map(|f| &f.last)
    );
    Ok(())
}

fn report(
    name: &str,
    log: &WriterLog,
    check: &Check,
    recover: Duration,
    what: &str,
    notes: String,
) {
    Report {
        scenario: name.to_string(),
        series: series_count(),
        acked: check.acked,
        found: check.found,
        client_errors: log.client_errors(),
        recover,
        recover_what: what.to_string(),
        notes,
    }
    .print();
}

/// A voter ingester that does not lead the Raft group.
async fn follower_voter(c: &Cluster) -> anyhow::Result<usize> {
    let leader = c.leader().await?.context("a Raft leader")?;
    Ok((leader + 1) % 3)
}

#[tokio::test(flavor = "multi_thread")]
async fn s1_sigkill_one_ingester_and_restart() {
    e2e(async {
        let (mut c, cfg, start) = start(false).await?;
        let w = Writer::start(cfg, c.push_urls())?;
        acks_grow(&w, 5, Duration::from_secs(30)).await?;
        let v = follower_voter(&c).await?;
        let victim = c.ingesters[v].name.clone();
        c.ingesters[v].kill()?;
        let killed = Instant::now();
        // Reads during the outage, twice: right away and once voters judge it unhealthy.
        under_load(Duration::from_secs(2)).await;
        read_complete(&c, &w, start, "one ingester killed").await?;
        let other = c.ingesters[(v + 1) % 3].up()?;
        wait_for(
            "the voters to judge it unhealthy",
            Duration::from_secs(10),
            || async {
                let r = cluster::ring(other).await?;
                Ok(r.get(&victim).is_some_and(|i| !i.healthy).then_some(()))
            },
        )
        .await?;
        under_load(Duration::from_secs(2)).await;
        let during = read_complete(
            &c,
            &w,
            start,
            "one ingester down past the heartbeat timeout",
        )
        .await?;
        let restarted = Instant::now();
        c.ingesters[v].start().await?;
        c.wait_converged(3, Duration::from_secs(30)).await?;
        let recover = restarted.elapsed();
        acks_grow(&w, 5, Duration::from_secs(30)).await?;
        read_complete(&c, &w, start, "after the restart").await?;
        let (log, check) = finish(&c, w, start).await?;
        no_client_errors(&log)?;
        report(
            "1 SIGKILL one ingester, restart",
            &log,
            &check,
            recover,
            "restart to ACTIVE+healthy everywhere",
            format!(
                "down {:.1} s; reads during outage complete ({} acked found); max ack latency {:?}",
                (restarted - killed).as_secs_f64(),
                during.found,
                log.max_ack_latency()
            ),
        );
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn s2_sigkill_raft_leader() {
    e2e(async {
        let (mut c, cfg, start) = start(false).await?;
        let w = Writer::start(cfg, c.push_urls())?;
        acks_grow(&w, 5, Duration::from_secs(30)).await?;
        let l = c.leader().await?.context("a leader")?;
        let old_term = cluster::raft(c.ingesters[l].up()?).await?["term"]
            .as_u64()
            .context("term")?;
        c.ingesters[l].kill()?;
        let killed = Instant::now();
        let survivors: Vec<usize> = (0..3).filter(|&i| i != l).collect();
        // Polled every 20 ms (not the harness' 100 ms) to time the election closely.
        let new_leader = loop {
            anyhow::ensure!(
                killed.elapsed() < Duration::from_secs(10),
                "no new leader 10 s after killing voter {}",
                l + 1
            );
            let mut found = None;
            for &s in &survivors {
                let v = cluster::raft(c.ingesters[s].up()?).await?;
                let leader = v["leader"].as_u64();
                if v["term"].as_u64() > Some(old_term)
                    && leader.is_some_and(|x| x as usize != l + 1)
                {
                    found = leader;
                }
            }
            if let Some(x) = found {
                break x;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let election = killed.elapsed();
        // openraft draws each election timeout in [t, 2t): three timeouts at most 6t.
        let bound = ELECTION_TIMEOUT * 6;
        anyhow::ensure!(election <= bound, "new leader after {election:?} (> {bound:?})");
        under_load(Duration::from_secs(3)).await;
        read_complete(&c, &w, start, "leader killed").await?;
        // A membership change with the old leader still down: a fourth ingester joins.
        let joined = Instant::now();
        let zone = cluster::ZONES[l];
        let d = c.add_ingester(zone).await?;
        let name = c.ingesters[d].name.clone();
        let s0 = c.ingesters[survivors[0]].up()?;
        wait_for("the fourth ingester ACTIVE in the ring", Duration::from_secs(20), || async {
            let r = cluster::ring(s0).await?;
            Ok(r.get(&name).is_some_and(|i| i.state == "ACTIVE").then_some(()))
        })
        .await?;
        let membership = joined.elapsed();
        c.ingesters[l].start().await?;
        c.wait_converged(4, Duration::from_secs(30)).await?;
        acks_grow(&w, 5, Duration::from_secs(30)).await?;
        read_complete(&c, &w, start, "after the leader's restart and a join").await?;
        let (log, check) = finish(&c, w, start).await?;
        no_client_errors(&log)?;
        report(
            "2 SIGKILL the Raft leader",
            &log,
            &check,
            election,
            "kill to new leader",
            format!(
                "leader {} → {}; join of {name} committed in {:.2} s with the old leader down; max ack latency {:?}",
                l + 1,
                new_leader,
                membership.as_secs_f64(),
                log.max_ack_latency()
            ),
        );
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn s3_two_of_three_ingesters_down() {
    e2e(async {
        let (mut c, cfg, start) = start(false).await?;
        let w = Writer::start(cfg, c.push_urls())?;
        acks_grow(&w, 5, Duration::from_secs(30)).await?;
        let s = 2;
        let survivor = c.ingesters[s].name.clone();
        let before = w.snapshot().server_errors();
        c.ingesters[0].kill()?;
        c.ingesters[1].kill()?;
        let killed = Instant::now();
        wait_for("writes to answer 5xx", Duration::from_secs(10), || async {
            Ok((w.snapshot().server_errors() > before).then_some(()))
        })
        .await?;
        let q = c.querier()?;
        let read = checker::read_all(q, w.config(), start, now_ms()).await?;
        anyhow::ensure!(
            matches!(read, Err(s) if (500..600).contains(&s)),
            "remote read with one ingester of three must be 5xx, got {:?}",
            read.map(|f| f.samples())
        );
        let pq = promql_series_count(q, w.config(), now_ms()).await?;
        anyhow::ensure!(
            matches!(pq, Err(s) if (500..600).contains(&s)),
            "PromQL with one ingester of three must be 5xx, got {pq:?}"
        );
        // Past the heartbeat timeout the survivor, which cannot commit, still counts itself
        // (and the followers still count it) ACTIVE and healthy.
        let watch_until = killed + HEARTBEAT_TIMEOUT * 2;
        let sp = c.ingesters[s].up()?;
        while Instant::now() < watch_until {
            for n in [sp, c.distributors[0].up()?, q] {
                let r = cluster::ring(n).await?;
                let me = r.get(&survivor).context("the survivor in the ring")?;
                anyhow::ensure!(
                    me.healthy && me.state == "ACTIVE",
                    "{} marks the survivor {} healthy={} without quorum",
                    n.process.name(),
                    me.state,
                    me.healthy
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let raft = cluster::raft(sp).await?;
        anyhow::ensure!(raft["can_commit"] == false, "survivor alone can commit? {raft}");
        let acked_during = w.snapshot().acks.iter().filter(|a| a.at > killed).count();
        let restarted = Instant::now();
        let (a, rest) = c.ingesters.split_at_mut(1);
        let (ra, rb) = tokio::join!(a[0].start(), rest[0].start());
        ra?;
        rb?;
        let first_ok = wait_for("a 2xx after the restart", Duration::from_secs(30), || async {
            Ok(w.snapshot().first_ack_since(restarted, 200))
        })
        .await?;
        let recover = first_ok - restarted;
        c.wait_converged(3, Duration::from_secs(30)).await?;
        acks_grow(&w, 5, Duration::from_secs(30)).await?;
        // Every 2xx sample must be on two replicas: with the survivor gone now, the two
        // restarted ingesters alone still hold all of them.
        let cfg = w.config().clone();
        let log = w.stop().await?;
        eprintln!("[chaos] writer: {}", log.summary());
        c.ingesters[s].kill()?;
        let found = checker::read_all(c.querier()?, &cfg, start, now_ms() + 60_000)
            .await?
            .map_err(|s| anyhow::anyhow!("read without the survivor answered {s}"))?;
        let check = checker::check(&cfg, &log, &found, Instant::now());
        check.ensure_complete("every 2xx sample on the two restarted ingesters")?;
        no_client_errors(&log)?;
        report(
            "3 two of three ingesters down",
            &log,
            &check,
            recover,
            "restart to first 2xx",
            format!(
                "writes 5xx ({} 5xx answers), remote read and PromQL 5xx; {acked_during} requests acknowledged while two were down; survivor ACTIVE+healthy for {:?}; found with the survivor killed",
                log.server_errors(),
                HEARTBEAT_TIMEOUT * 2
            ),
        );
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn s4_sigstop_one_ingester() {
    e2e(async {
        let (c, cfg, start) = start(false).await?;
        let w = Writer::start(cfg, c.push_urls())?;
        acks_grow(&w, 5, Duration::from_secs(30)).await?;
        let v = follower_voter(&c).await?;
        let victim = c.ingesters[v].name.clone();
        let other = c.ingesters[(v + 1) % 3].up()?;
        c.ingesters[v].signal("-STOP")?;
        let stopped = Instant::now();
        let res = async {
            wait_for(
                "the voters to judge the hung one unhealthy",
                Duration::from_secs(10),
                || async {
                    let r = cluster::ring(other).await?;
                    Ok(r.get(&victim).is_some_and(|i| !i.healthy).then_some(()))
                },
            )
            .await?;
            under_load(Duration::from_secs(2)).await;
            read_complete(&c, &w, start, "one ingester hung").await
        }
        .await;
        let index_then = cluster::ring(other).await?.applied_index;
        c.ingesters[v].signal("-CONT")?;
        let during = res?;
        let hung = stopped.elapsed();
        let resumed = Instant::now();
        c.wait_converged(3, Duration::from_secs(30)).await?;
        let me = c.ingesters[v].up()?;
        // The ring it missed while hung: it applies at least what the others had then.
        wait_for(
            &format!("{victim} to catch up to ring index {index_then}"),
            Duration::from_secs(10),
            || async { Ok((cluster::ring(me).await?.applied_index >= index_then).then_some(())) },
        )
        .await?;
        let recover = resumed.elapsed();
        acks_grow(&w, 5, Duration::from_secs(30)).await?;
        let (log, check) = finish(&c, w, start).await?;
        no_client_errors(&log)?;
        report(
            "4 SIGSTOP one ingester (hung, as cut off)",
            &log,
            &check,
            recover,
            "SIGCONT to healthy with fresh heartbeats everywhere",
            format!(
                "hung {:.1} s; reads while hung complete ({} found); max ack latency {:?}",
                hung.as_secs_f64(),
                during.found,
                log.max_ack_latency()
            ),
        );
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn s5_rolling_restart_under_load() {
    e2e(async {
        let (mut c, cfg, start) = start(false).await?;
        let w = Writer::start(cfg, c.push_urls())?;
        acks_grow(&w, 5, Duration::from_secs(30)).await?;
        let rolling = Instant::now();
        let mut slowest = Duration::ZERO;
        let (mut slowest_exit, mut drain_timeouts) = (Duration::ZERO, 0);
        for i in 0..3 {
            let name = c.ingesters[i].name.clone();
            let t = Instant::now();
            let (exit, drain_timed_out) = c.ingesters[i].terminate()?;
            slowest_exit = slowest_exit.max(exit);
            drain_timeouts += usize::from(drain_timed_out);
            let other = c.ingesters[(i + 1) % 3].up()?;
            let state = cluster::ring(other)
                .await?
                .get(&name)
                .map(|x| x.state.clone());
            anyhow::ensure!(
                state.as_deref() == Some("LEAVING"),
                "{name} after SIGTERM: {state:?}, want LEAVING"
            );
            c.ingesters[i].start().await?;
            c.wait_converged(3, Duration::from_secs(30)).await?;
            slowest = slowest.max(t.elapsed());
            eprintln!(
                "[chaos] {name} restarted and ACTIVE after {:?}",
                t.elapsed()
            );
            acks_grow(&w, 3, Duration::from_secs(30)).await?;
            read_complete(&c, &w, start, &format!("after restarting {name}")).await?;
        }
        let total = rolling.elapsed();
        let (log, check) = finish(&c, w, start).await?;
        no_client_errors(&log)?;
        report(
            "5 rolling restart of 3 ingesters",
            &log,
            &check,
            slowest,
            "slowest SIGTERM to ACTIVE+healthy everywhere",
            format!(
                "whole roll {:.1} s; SIGTERM to exit up to {:.1} s ({drain_timeouts} of 3 hit the 3 s drain timeout); max ack latency {:?}; retries {}",
                total.as_secs_f64(),
                slowest_exit.as_secs_f64(),
                log.max_ack_latency(),
                log.retries
            ),
        );
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn s6_fourth_ingester_joins() {
    e2e(async {
        let (mut c, cfg, start) = start(false).await?;
        let w = Writer::start(cfg, c.push_urls())?;
        acks_grow(&w, 5, Duration::from_secs(30)).await?;
        let joined = Instant::now();
        let d = c.add_ingester("a").await?;
        c.wait_converged(4, Duration::from_secs(30)).await?;
        let converge = joined.elapsed();
        let new = c.ingesters[d].up()?;
        let own = cluster::ring(new)
            .await?
            .get(&c.ingesters[d].name)
            .map(|i| i.tokens.len())
            .unwrap_or(0);
        anyhow::ensure!(own > 0, "the new ingester has tokens");
        let series = w.config().series;
        let held = wait_for("series on the new ingester", Duration::from_secs(20), || async {
            let page = new.get("/metrics").await?.body;
            let n = strata_tests::peers::sum_metric(&page, "strata_ingester_memory_series")
                .unwrap_or(0.0) as usize;
            Ok((n >= series / 10).then_some(n))
        })
        .await?;
        acks_grow(&w, 5, Duration::from_secs(30)).await?;
        read_complete(&c, &w, start, "after the join").await?;
        let page = new.get("/metrics").await?.body;
        let held_end = strata_tests::peers::sum_metric(&page, "strata_ingester_memory_series")
            .unwrap_or(0.0) as usize;
        let ownership = cluster::ring(new)
            .await?
            .get(&c.ingesters[d].name)
            .map_or(0.0, |i| i.ownership);
        let (log, check) = finish(&c, w, start).await?;
        no_client_errors(&log)?;
        report(
            "6 a fourth ingester joins (zone a)",
            &log,
            &check,
            converge,
            "start to the same 4 ACTIVE everywhere",
            format!(
                "{held} series in its head once converged, {held_end} of {series} at the end ({ownership:.1} % of the circle as first replica); max ack latency {:?}",
                log.max_ack_latency()
            ),
        );
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn s7_ha_pair_one_stored_and_failover() {
    e2e(async {
        let (c, cfg, start) = start(true).await?;
        let replica = |r: &str, offset: f64| WriterConfig {
            extra_labels: vec![
                ("cluster".into(), "prom-ha".into()),
                ("__replica__".into(), r.into()),
            ],
            value_offset: offset,
            ..cfg.clone()
        };
        let a = Writer::start(replica("a", 0.0), c.push_urls())?;
        acks_grow(&a, 2, Duration::from_secs(30)).await?;
        let b = Writer::start(replica("b", 0.5), c.push_urls())?;
        acks_grow(&b, 3, Duration::from_secs(30)).await?;
        under_load(Duration::from_secs(2)).await;
        let bl = b.snapshot();
        anyhow::ensure!(
            bl.acks.iter().all(|x| x.status == 202) && !bl.acks.is_empty(),
            "replica b while a is elected: {:?}",
            bl.statuses
        );
        let a_cfg = a.config().clone();
        let alog = a.stop().await?;
        anyhow::ensure!(
            alog.acks.iter().all(|x| x.status == 200),
            "replica a elected: {:?}",
            alog.statuses
        );
        let a_last = alog.acks.iter().map(|x| x.at).max().context("a acked")?;
        let b_first = wait_for("replica b elected", Duration::from_secs(20), || async {
            Ok(b.snapshot().first_ack_since(a_last, 200))
        })
        .await?;
        let failover = b_first - a_last;
        anyhow::ensure!(
            failover >= HA_FAILOVER.mul_f64(0.6),
            "b took over {failover:?} after a's last push, before the {HA_FAILOVER:?} timeout"
        );
        acks_grow(&b, 3, Duration::from_secs(30)).await?;
        let b_cfg = b.config().clone();
        let blog = b.stop().await?;
        eprintln!("[chaos] replica a: {}\n[chaos] replica b: {}", alog.summary(), blog.summary());
        let q = c.querier()?;
        let found = checker::read_all(q, &a_cfg, start, now_ms() + 60_000)
            .await?
            .map_err(|s| anyhow::anyhow!("read answered {s}"))?;
        let names: Vec<&str> = found.label_names.iter().map(String::as_str).collect();
        anyhow::ensure!(
            names == ["__name__", "cluster", "series", "shard"],
            "stored labels {names:?}: the replica label must be dropped"
        );
        anyhow::ensure!(found.series.len() == a_cfg.series, "{} series stored", found.series.len());
        let ca = checker::check(&a_cfg, &alog, &found, Instant::now());
        ca.ensure_complete("replica a's accepted samples")?;
        let cb = checker::check(&b_cfg, &blog, &found, Instant::now());
        cb.ensure_complete("replica b: accepted samples found, deduplicated ones absent")?;
        anyhow::ensure!(
            ca.found + cb.found == found.samples(),
            "stored {} samples, accepted {} + {}",
            found.samples(),
            ca.found,
            cb.found
        );
        no_client_errors(&alog)?;
        no_client_errors(&blog)?;
        let both = WriterLog {
            failures: [alog.failures.clone(), blog.failures.clone()].concat(),
            ..WriterLog::default()
        };
        let check = Check {
            acked: ca.acked + cb.acked,
            found: ca.found + cb.found,
            ..Check::default()
        };
        report(
            "7 HA pair, elected replica stops",
            &both,
            &check,
            failover,
            "a's last 2xx to b's first 200",
            format!(
                "b answered 202 for {} samples while a was elected, none stored; stored = a's {} + b's {} accepted; failover timeout {:?}",
                blog.deduped_samples(),
                ca.found,
                cb.found,
                HA_FAILOVER
            ),
        );
        Ok(())
    })
    .await;
}
