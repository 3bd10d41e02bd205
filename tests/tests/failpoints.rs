//! Crashes at named steps of the write protocols: Strata runs with the test-only flag
//! `-debug.failpoint=<name>`, which aborts the process when the block writer or the WAL
//! checkpoint reaches that step. Samples spanning more than two 2-hour ranges are pushed
//! (every push acknowledged), `POST /ingester/flush` cuts blocks and checkpoints the WAL, and
//! the process dies at the failpoint. Restarted without it on the same data dir, Strata must
//! serve every acknowledged sample exactly once, remove unfinished block directories, serve
//! no half block (nothing quarantined; promtool lists every block on a copy), and flush
//! cleanly afterwards.
//!
//! | failpoint | state left |
//! | --- | --- |
//! | `block-after-chunks` | `<ulid>.tmp-for-creation/` with chunks only; WAL intact |
//! | `block-after-index` | the same plus the index |
//! | `block-before-rename` | a complete, fsynced temporary directory |
//! | `block-before-dir-fsync` | the block under its name; WAL intact (samples twice) |
//! | `wal-checkpoint-middle` | blocks, a new checkpoint and the segments it covers |

use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::Context;
use strata_proto::prometheus::read_request::ResponseType;
use strata_tests::api::{Auth, LabelSet};
use strata_tests::fixtures::{series, write_request};
use strata_tests::remote_read::{decode_samples, eq, query, request};
use strata_tests::wait::wait_until_sync;
use strata_tests::{now_ms, Strata, TimestampMs};

const TENANT: &str = "failpoint-test";
const STEP: TimestampMs = 60_000;
/// Five hours: the flush cuts at least three blocks.
const SPAN: TimestampMs = 5 * 3_600_000;

type Pushed = BTreeMap<LabelSet, Vec<(TimestampMs, u64)>>;

fn labels(job: &str) -> Vec<(&'static str, String)> {
    vec![("__name__", "failpoint_metric".into()), ("job", job.into())]
}

/// Pushes two series every `STEP` over `[base, base + SPAN)`; every push must be acknowledged.
async fn push_all(strata: &Strata, base: TimestampMs) -> anyhow::Result<Pushed> {
    let auth = Auth::org(TENANT);
    let mut pushed = Pushed::new();
    let ts: Vec<TimestampMs> = (0..SPAN / STEP).map(|i| base + i * STEP).collect();
    for batch in ts.chunks(100) {
        let mut all = Vec::new();
        for (j, job) in ["a", "b"].iter().enumerate() {
            let samples: Vec<(TimestampMs, f64)> = batch
                .iter()
                .map(|&t| (t, (t - base) as f64 / 7.0 + j as f64))
                .collect();
            let l = labels(job);
            let ls: LabelSet = l.iter().map(|(n, v)| (n.to_string(), v.clone())).collect();
            pushed
                .entry(ls)
                .or_default()
                .extend(samples.iter().map(|&(t, v)| (t, v.to_bits())));
            let l: Vec<(&str, &str)> = l.iter().map(|(n, v)| (*n, v.as_str())).collect();
            all.push(series(&l, &samples));
        }
        let reply = strata.push(&auth, &write_request(all)).await?;
        anyhow::ensure!(
            (200..300).contains(&reply.status),
            "push status {}: {}",
            reply.status,
            reply.body
        );
    }
    Ok(pushed)
}

/// Every pushed sample comes back exactly once, bit-exact.
async fn check_all(strata: &Strata, base: TimestampMs, pushed: &Pushed) -> anyhow::Result<()> {
    let req = request(
        vec![query(
            base - 1,
            base + SPAN + 1,
            vec![eq("__name__", "failpoint_metric")],
        )],
        &[ResponseType::Samples],
    );
    let reply = strata.remote_read(&Auth::org(TENANT), &req).await?;
    anyhow::ensure!(reply.status == 200, "remote read status {}", reply.status);
    let got = decode_samples(&reply.body)?
        .into_iter()
        .next()
        .context("one query result")?;
    for (ls, want) in pushed {
        let have: Vec<(TimestampMs, u64)> = got
            .get(ls)
            .with_context(|| format!("series {ls:?} missing"))?
            .iter()
            .map(|(t, v)| (*t, v.to_bits()))
            .collect();
        anyhow::ensure!(
            &have == want,
            "series {ls:?}: {} samples read, {} acknowledged, or values differ",
            have.len(),
            want.len()
        );
    }
    Ok(())
}

async fn flush(strata: &Strata) -> anyhow::Result<reqwest::Response> {
    Ok(reqwest::Client::new()
        .post(strata.url("/ingester/flush"))
        .send()
        .await?)
}

/// The tenant's block directories, and anything unfinished or quarantined beside them.
fn blocks(tenant_dir: &Path) -> anyhow::Result<(Vec<String>, Vec<String>)> {
    let (mut ok, mut bad) = (Vec::new(), Vec::new());
    let Ok(rd) = std::fs::read_dir(tenant_dir) else {
        return Ok((ok, bad));
    };
    for e in rd {
        let name = e?.file_name().to_string_lossy().into_owned();
        if name.len() == 26 && tenant_dir.join(&name).join("meta.json").is_file() {
            ok.push(name);
        } else {
            bad.push(name);
        }
    }
    ok.sort();
    Ok((ok, bad))
}

/// Checks promtool lists every block, on a copy (promtool wants a TSDB dir with a WAL).
fn promtool_lists(tenant_dir: &Path, blocks: &[String]) -> anyhow::Result<()> {
    let copy = tempfile::tempdir().context("promtool dir")?;
    for b in blocks {
        copy_dir(&tenant_dir.join(b), &copy.path().join(b))?;
    }
    std::fs::create_dir(copy.path().join("wal"))?;
    let out = Command::new("promtool")
        .args(["tsdb", "list", &copy.path().to_string_lossy()])
        .output()
        .context("run promtool (Debian package prometheus)")?;
    let list = String::from_utf8_lossy(&out.stdout);
    anyhow::ensure!(
        out.status.success(),
        "promtool tsdb list failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    for b in blocks {
        anyhow::ensure!(list.contains(b.as_str()), "promtool misses {b}:\n{list}");
    }
    Ok(())
}

fn copy_dir(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(from)? {
        let e = e?;
        let dst = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &dst)?;
        } else {
            std::fs::copy(e.path(), &dst)?;
        }
    }
    Ok(())
}

async fn crash_at(point: &str) -> anyhow::Result<()> {
    let started = Instant::now();
    let data = tempfile::Builder::new()
        .prefix("strata-failpoint-data-")
        .tempdir()
        .context("data dir")?;
    let data_dir = data.path().join("data");
    let data_arg = format!("-data.dir={}", data_dir.display());
    let fp_arg = format!("-debug.failpoint={point}");
    let base = now_ms() - SPAN - 600_000;

    let mut strata = Strata::start_with_args(&[&data_arg, &fp_arg]).await?;
    let pushed = push_all(&strata, base).await?;
    // The process dies inside the flush: the request fails or never gets a 204.
    let res = flush(&strata).await;
    anyhow::ensure!(
        !matches!(&res, Ok(r) if r.status().is_success()),
        "flush succeeded although failpoint {point} was armed"
    );
    wait_until_sync(Duration::from_secs(20), || {
        strata.process.check_running().is_err()
    })
    .with_context(|| format!("strata did not die at failpoint {point}"))?;
    let log = strata.process.log_tail();
    let (status, _) = strata.process.stop(Duration::from_secs(1))?;
    anyhow::ensure!(
        status.signal() == Some(6),
        "strata should have aborted (SIGABRT), exited with {status}"
    );
    anyhow::ensure!(
        log.contains(&format!("failpoint {point} reached")),
        "log does not name failpoint {point}:\n{log}"
    );
    drop(strata);

    let tenant_dir = data_dir.join("tsdb").join(TENANT);
    let (before, leftovers) = blocks(&tenant_dir)?;
    let strata = Strata::start_with_args(&[&data_arg]).await?;
    check_all(&strata, base, &pushed)
        .await
        .with_context(|| format!("after a crash at {point} and restart"))?;
    let (after, bad) = blocks(&tenant_dir)?;
    anyhow::ensure!(
        bad.is_empty(),
        "after restart, unfinished or quarantined entries remain: {bad:?}"
    );
    anyhow::ensure!(
        after == before,
        "blocks changed at restart: {before:?} → {after:?}"
    );
    promtool_lists(&tenant_dir, &after)?;

    // The recovered state flushes cleanly and still holds everything once.
    let r = flush(&strata).await?;
    anyhow::ensure!(r.status().as_u16() == 204, "flush status {}", r.status());
    check_all(&strata, base, &pushed)
        .await
        .context("after the second flush")?;
    let (flushed, bad) = blocks(&tenant_dir)?;
    anyhow::ensure!(bad.is_empty(), "after the second flush: {bad:?}");
    promtool_lists(&tenant_dir, &flushed)?;
    let n: usize = pushed.values().map(Vec::len).sum();
    eprintln!(
        "[failpoints] {point}: aborted in the flush, left {} blocks and {:?}; after restart {n} acknowledged samples read back once, {} blocks after a second flush; took {:?}",
        before.len(),
        leftovers,
        flushed.len(),
        started.elapsed()
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_after_block_chunks() {
    strata_tests::e2e(crash_at("block-after-chunks")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_after_block_index() {
    strata_tests::e2e(crash_at("block-after-index")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_before_block_rename() {
    strata_tests::e2e(crash_at("block-before-rename")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_before_block_dir_fsync() {
    strata_tests::e2e(crash_at("block-before-dir-fsync")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_in_the_middle_of_a_wal_checkpoint() {
    strata_tests::e2e(crash_at("wal-checkpoint-middle")).await;
}
