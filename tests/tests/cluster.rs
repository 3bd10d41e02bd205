//! A real cluster of separate processes on 127.0.0.1: three ingesters (one per zone) that
//! are also the ring's Raft voters, one distributor and one querier following the ring,
//! replication factor 3, zone-aware.
//!
//! 1. Every pushed series is queryable.
//!    With one ingester hung (SIGSTOP, like a network partition) pushes and queries answer
//!    from the other two without waiting for its timeout.
//! 2. SIGKILL the ingester that leads the Raft group: a new leader is elected, pushes still
//!    answer 200 (quorum 2 of 3) and queries answer complete data (the survivors hold every
//!    acknowledged sample).
//! 3. Once the voters judge it UNHEALTHY (heartbeat timeout), "forget" it from the ring page;
//!    restart it on the same data dir and ports: it rejoins ACTIVE with the same tokens (read
//!    back from its instance file, since the ring no longer had them).
//! 4. SIGKILL two ingesters: pushes answer 5xx (no quorum) and queries answer 5xx (never a
//!    silently partial answer).

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::Value;
use strata_tests::fixtures::{series, write_request};
use strata_tests::net::free_port;
use strata_tests::wait::wait_for;
use strata_tests::{now_ms, Auth, Strata};

const SERIES: usize = 40;
const TENANT: &str = "cluster-test";

struct Ports {
    http: u16,
    grpc: u16,
}

fn ports() -> anyhow::Result<Ports> {
    Ok(Ports {
        http: free_port()?,
        grpc: free_port()?,
    })
}

/// Flags every process shares: the voters, RF 3, short timeouts.
fn ring_args(voters: &str) -> Vec<String> {
    vec![
        format!("-ring.voters={voters}"),
        "-ring.replication-factor=3".into(),
        "-ring.zone-awareness-enabled".into(),
        "-ring.heartbeat-period=500ms".into(),
        "-ring.heartbeat-timeout=2s".into(),
        "-ring.election-timeout=300ms".into(),
        "-distributor.remote-timeout=5s".into(),
    ]
}

async fn start_ingester(i: usize, p: &Ports, data: &Path, voters: &str) -> anyhow::Result<Strata> {
    let mut args = ring_args(voters);
    args.extend([
        "-target=ingester,ring".to_string(),
        format!("-ring.node-id=ingester-{i}"),
        format!("-ingester.availability-zone=zone-{i}"),
    ]);
    Strata::start_node(
        &format!("ingester-{i}"),
        p.http,
        p.grpc,
        &data.join(format!("ingester-{i}")),
        &args,
    )
    .await
}

/// The ring as `node` sees it: instance id to (state, tokens).
async fn ring_of(node: &Strata) -> anyhow::Result<Vec<(String, String, Vec<u64>)>> {
    let r = node.get("/ring?format=json").await?;
    anyhow::ensure!(r.status == 200, "GET /ring: {} {}", r.status, r.body);
    let v: Value = r.json()?;
    let mut out = Vec::new();
    for inst in v["instances"].as_array().context("instances")? {
        let tokens = inst["tokens"]
            .as_array()
            .context("tokens")?
            .iter()
            .filter_map(Value::as_u64)
            .collect();
        out.push((
            inst["id"].as_str().unwrap_or_default().to_string(),
            inst["state"].as_str().unwrap_or_default().to_string(),
            tokens,
        ));
    }
    Ok(out)
}

async fn wait_active(node: &Strata, n: usize) -> anyhow::Result<()> {
    wait_for(
        &format!("{n} ACTIVE ingesters in the ring"),
        Duration::from_secs(30),
        || async {
            let ring = ring_of(node).await?;
            let active = ring.iter().filter(|(_, s, _)| s == "ACTIVE").count();
            Ok((active == n).then_some(()))
        },
    )
    .await
}

fn batch(t: i64, value: f64) -> strata_proto::prometheus::WriteRequest {
    write_request(
        (0..SERIES)
            .map(|i| {
                series(
                    &[("__name__", "cluster_metric"), ("series", &i.to_string())],
                    &[(t, value)],
                )
            })
            .collect(),
    )
}

/// `count(cluster_metric)` and `sum(cluster_metric)` at `t`, or the raw failure status.
async fn query(querier: &Strata, t: i64) -> anyhow::Result<Result<(f64, f64), u16>> {
    let api = querier.api(Auth::org(TENANT));
    let mut out = (0.0, 0.0);
    for (q, slot) in [("count(cluster_metric)", 0), ("sum(cluster_metric)", 1)] {
        let r = api.query_raw(q, t).await?;
        if r.status != 200 {
            return Ok(Err(r.status));
        }
        let v = r.data()?;
        let s = v["result"][0]["value"][1]
            .as_str()
            .context("scalar value")?
            .parse::<f64>()?;
        if slot == 0 {
            out.0 = s;
        } else {
            out.1 = s;
        }
    }
    Ok(Ok(out))
}

/// Sends `sig` (`-STOP`, `-CONT`) to a node's process.
fn signal(node: &Strata, sig: &str) -> anyhow::Result<()> {
    let pid = node.process.pid().context("process stopped")?;
    let ok = std::process::Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    anyhow::ensure!(ok, "kill {sig} {pid} failed");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn replicated_cluster_survives_one_ingester_and_refuses_without_quorum() {
    strata_tests::e2e(body()).await;
}

async fn body() -> anyhow::Result<()> {
    let started = Instant::now();
    let data = tempfile::Builder::new()
        .prefix("strata-cluster-")
        .tempdir()
        .context("data dir")?;
    let ing_ports = [ports()?, ports()?, ports()?];
    let voters = ing_ports
        .iter()
        .map(|p| format!("127.0.0.1:{}", p.grpc))
        .collect::<Vec<_>>()
        .join(",");
    let mut ingesters = Vec::new();
    for (i, p) in ing_ports.iter().enumerate() {
        ingesters.push(start_ingester(i, p, data.path(), &voters).await?);
    }
    let mut follower_args = ring_args(&voters);
    follower_args.push("-target=distributor".into());
    let dp = ports()?;
    let distributor = Strata::start_node(
        "distributor",
        dp.http,
        dp.grpc,
        &data.path().join("distributor"),
        &follower_args,
    )
    .await?;
    follower_args.pop();
    follower_args.push("-target=querier".into());
    let qp = ports()?;
    let querier = Strata::start_node(
        "querier",
        qp.http,
        qp.grpc,
        &data.path().join("querier"),
        &follower_args,
    )
    .await?;
    wait_active(&distributor, 3).await?;
    wait_active(&querier, 3).await?;
    eprintln!(
        "[cluster] 5 processes up, 3 ACTIVE ingesters after {:?}",
        started.elapsed()
    );

    // The pages: Raft status on a voter and on a follower, the HTML ring table.
    let raft: Value = ingesters[0].get("/ring/raft?format=json").await?.json()?;
    anyhow::ensure!(raft["voter"] == true && raft["leader"].is_u64(), "{raft}");
    anyhow::ensure!(raft["voters"] == serde_json::json!([1, 2, 3]), "{raft}");
    let raft: Value = distributor.get("/ring/raft?format=json").await?.json()?;
    anyhow::ensure!(raft["voter"] == false, "{raft}");
    let html = distributor.get("/ring").await?;
    anyhow::ensure!(
        html.content_type
            .as_deref()
            .is_some_and(|c| c.starts_with("text/html"))
            && ["ingester-0", "ingester-1", "ingester-2", "zone-2", "ACTIVE"]
                .iter()
                .all(|w| html.body.contains(w)),
        "ring page: {}",
        html.body
    );

    let auth = Auth::org(TENANT);
    let t0 = now_ms() - 60_000;
    // 1. All three up.
    let r = distributor.push(&auth, &batch(t0, 1.0)).await?;
    anyhow::ensure!(
        r.status == 200,
        "push with 3 ingesters: {} {}",
        r.status,
        r.body
    );
    let got = query(&querier, t0).await?;
    anyhow::ensure!(got == Ok((SERIES as f64, SERIES as f64)), "3 up: {got:?}");

    // 1b. One ingester hung (SIGSTOP: connections open, no answers, as behind a network
    // partition): writes and reads answer from the other two without waiting for it.
    signal(&ingesters[1], "-STOP")?;
    let hung_at = Instant::now();
    let t_hung = t0 + 5_000;
    let r = distributor.push(&auth, &batch(t_hung, 1.5)).await?;
    anyhow::ensure!(
        r.status == 200,
        "push with one hung ingester: {} {}",
        r.status,
        r.body
    );
    let got = query(&querier, t_hung).await?;
    anyhow::ensure!(
        got == Ok((SERIES as f64, SERIES as f64 * 1.5)),
        "one hung ingester: {got:?}"
    );
    let took = hung_at.elapsed();
    signal(&ingesters[1], "-CONT")?;
    anyhow::ensure!(
        took < Duration::from_secs(4),
        "a hung ingester held the push and query up for {took:?} (remote timeout 5s)"
    );
    eprintln!("[cluster] one ingester hung: push and query answered in {took:?}");

    // The first victim is the Raft leader.
    let raft: Value = ingesters[0].get("/ring/raft?format=json").await?.json()?;
    let leader = raft["leader"].as_u64().context("a leader")?;
    let v = (leader - 1) as usize;
    let s = (v + 1) % 3;
    let victim = format!("ingester-{v}");
    let ring_before = ring_of(&ingesters[s]).await?;
    let tokens_before = ring_before
        .iter()
        .find(|(id, _, _)| *id == victim)
        .map(|(_, _, t)| t.clone())
        .context("the victim in the ring")?;
    anyhow::ensure!(!tokens_before.is_empty(), "{victim} has tokens");

    // 2. The leader SIGKILLed: a new leader, writes 200, queries complete.
    let killed_at = Instant::now();
    ingesters[v].kill()?;
    let t1 = t0 + 10_000;
    let r = distributor.push(&auth, &batch(t1, 2.0)).await?;
    anyhow::ensure!(
        r.status == 200,
        "push with 2 of 3 ingesters: {} {}",
        r.status,
        r.body
    );
    for (t, val) in [(t0, 1.0), (t1, 2.0)] {
        let got = query(&querier, t).await?;
        anyhow::ensure!(
            got == Ok((SERIES as f64, SERIES as f64 * val)),
            "one ingester down, query at {t}: {got:?}"
        );
    }
    let new_leader = wait_for("a new Raft leader", Duration::from_secs(10), || async {
        let raft: Value = ingesters[s].get("/ring/raft?format=json").await?.json()?;
        Ok(raft["leader"].as_u64().filter(|l| *l != leader))
    })
    .await?;
    let election = killed_at.elapsed();
    anyhow::ensure!(
        election < Duration::from_secs(5),
        "new leader after {election:?}"
    );
    eprintln!(
        "[cluster] leader {victim} killed: writes 200, queries complete; voter {new_leader} leads after {election:?} (election timeout 300-600ms)"
    );

    // 3. Forget it once unhealthy, then restart it: same tokens, ACTIVE again.
    wait_for(
        "a voter to judge the victim unhealthy",
        Duration::from_secs(15),
        || async {
            let r = ingesters[s].get("/ring?format=json").await?;
            let v: Value = r.json()?;
            Ok(v["instances"]
                .as_array()
                .context("instances")?
                .iter()
                .any(|i| i["id"] == victim.as_str() && i["healthy"] == false)
                .then_some(()))
        },
    )
    .await?;
    let forget = reqwest::Client::new()
        .post(ingesters[s].url("/ring"))
        .form(&[("forget", format!("ingester-{s}"))])
        .send()
        .await?;
    anyhow::ensure!(
        forget.status() == 400,
        "a healthy instance cannot be forgotten: {}",
        forget.status()
    );
    let forget = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?
        .post(ingesters[s].url("/ring"))
        .form(&[("forget", victim.as_str())])
        .send()
        .await?;
    anyhow::ensure!(forget.status() == 303, "forget: {}", forget.status());
    wait_for(
        "the victim gone from the ring",
        Duration::from_secs(10),
        || async {
            let ring = ring_of(&distributor).await?;
            Ok((!ring.iter().any(|(id, _, _)| *id == victim)).then_some(()))
        },
    )
    .await?;
    ingesters[v] = start_ingester(v, &ing_ports[v], data.path(), &voters).await?;
    wait_for(
        "the victim ACTIVE again with its old tokens",
        Duration::from_secs(30),
        || async {
            let ring = ring_of(&distributor).await?;
            Ok(ring
                .iter()
                .any(|(id, st, t)| *id == victim && st == "ACTIVE" && *t == tokens_before)
                .then_some(()))
        },
    )
    .await?;
    let t2 = t0 + 20_000;
    let r = distributor.push(&auth, &batch(t2, 3.0)).await?;
    anyhow::ensure!(
        r.status == 200,
        "push after the restart: {} {}",
        r.status,
        r.body
    );
    let got = query(&querier, t2).await?;
    anyhow::ensure!(
        got == Ok((SERIES as f64, SERIES as f64 * 3.0)),
        "after restart: {got:?}"
    );
    eprintln!(
        "[cluster] {victim} rejoined with the same {} tokens",
        tokens_before.len()
    );

    // 4. Two ingesters down: no quorum for writes or reads.
    ingesters[v].kill()?;
    ingesters[(v + 2) % 3].kill()?;
    let t3 = t0 + 30_000;
    let r = distributor.push(&auth, &batch(t3, 4.0)).await?;
    anyhow::ensure!(
        (500..600).contains(&r.status),
        "push with 1 of 3 ingesters must be 5xx, got {} {}",
        r.status,
        r.body
    );
    let got = query(&querier, t0).await?;
    anyhow::ensure!(
        matches!(got, Err(s) if (500..600).contains(&s)),
        "query with 1 of 3 ingesters must be 5xx, got {got:?}"
    );
    eprintln!(
        "[cluster] two ingesters killed: writes {} and queries {:?}",
        r.status, got
    );
    eprintln!("[cluster] done in {:?}", started.elapsed());
    Ok(())
}

/// `-target=all` runs a one-voter ring: its own ingester ACTIVE with all of the circle, and
/// `POST /ingester/shutdown` flushes, leaves the ring and stops the process.
#[tokio::test(flavor = "multi_thread")]
async fn single_process_ring_and_ingester_shutdown() {
    strata_tests::e2e(single_body()).await;
}

async fn single_body() -> anyhow::Result<()> {
    let mut s = Strata::start().await?;
    wait_active(&s, 1).await?;
    let v: Value = s.get("/ring?format=json").await?.json()?;
    let inst = &v["instances"][0];
    anyhow::ensure!(inst["num_tokens"] == 128, "{v}");
    let own = inst["ownership_percent"].as_f64().context("ownership")?;
    anyhow::ensure!(
        (own - 100.0).abs() < 1e-6,
        "one instance owns the circle: {v}"
    );
    anyhow::ensure!(
        inst["heartbeat_age_seconds"].is_number(),
        "the voter sees heartbeats: {v}"
    );
    let raft: Value = s.get("/ring/raft?format=json").await?.json()?;
    anyhow::ensure!(
        raft["leader"] == 1
            && raft["is_leader"] == true
            && raft["voters"] == serde_json::json!([1]),
        "{raft}"
    );
    let r = reqwest::Client::new()
        .post(s.url("/ingester/shutdown"))
        .send()
        .await?;
    anyhow::ensure!(r.status() == 204, "shutdown: {}", r.status());
    strata_tests::wait::wait_until("strata to exit", Duration::from_secs(15), || {
        let exited = s.process.check_running().is_err();
        async move { Ok(exited) }
    })
    .await?;
    let log = s.process.log_tail();
    anyhow::ensure!(log.contains("ingester left the ring"), "log: {log}");
    Ok(())
}
