//! Blocks end to end: samples pushed over more than two hours (in the past, in order) are
//! cut into blocks by `POST /ingester/flush`; the blocks sit in `<data-dir>/tsdb/<tenant>/`
//! in Prometheus's format (Debian's `promtool tsdb list` and `dump` read them); after a
//! restart on the same data dir every pushed sample is read back exactly once.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::Context;
use strata_proto::prometheus::read_request::ResponseType;
use strata_tests::api::{Auth, LabelSet};
use strata_tests::fixtures::{series, write_request};
use strata_tests::remote_read::{decode_samples, eq, query, request};
use strata_tests::{now_ms, Strata, TimestampMs};

const TENANT: &str = "blocks-test";
const STEP: TimestampMs = 30_000;
const SPAN: TimestampMs = 5 * 3_600_000;
const JOBS: [&str; 2] = ["a", "b"];

type Pushed = BTreeMap<LabelSet, Vec<(TimestampMs, u64)>>;

fn labels(job: &str) -> LabelSet {
    [("__name__", "blocks_metric"), ("job", job)]
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

/// Pushes both series every `STEP` over `[base, base + SPAN)`, 120 samples per request.
async fn push_all(strata: &Strata, base: TimestampMs) -> anyhow::Result<Pushed> {
    let auth = Auth::org(TENANT);
    let mut pushed = Pushed::new();
    let ts: Vec<TimestampMs> = (0..SPAN / STEP).map(|i| base + i * STEP).collect();
    for batch in ts.chunks(120) {
        let mut all = Vec::new();
        for (j, job) in JOBS.iter().enumerate() {
            let samples: Vec<(TimestampMs, f64)> = batch
                .iter()
                .map(|&t| (t, (t - base) as f64 / 1000.0 + j as f64 * 0.5))
                .collect();
            pushed
                .entry(labels(job))
                .or_default()
                .extend(samples.iter().map(|&(t, v)| (t, v.to_bits())));
            all.push(series(
                &[("__name__", "blocks_metric"), ("job", job)],
                &samples,
            ));
        }
        let reply = strata.push(&auth, &write_request(all)).await?;
        anyhow::ensure!(
            reply.status == 200 || reply.status == 204,
            "push status {}: {}",
            reply.status,
            reply.body
        );
    }
    Ok(pushed)
}

/// Reads every sample back over remote read and checks each pushed one is there exactly once.
async fn check_all(strata: &Strata, base: TimestampMs, pushed: &Pushed) -> anyhow::Result<()> {
    let req = request(
        vec![query(
            base - 1,
            base + SPAN + 1,
            vec![eq("__name__", "blocks_metric")],
        )],
        &[ResponseType::Samples],
    );
    let reply = strata.remote_read(&Auth::org(TENANT), &req).await?;
    anyhow::ensure!(reply.status == 200, "remote read status {}", reply.status);
    let got = decode_samples(&reply.body)?
        .into_iter()
        .next()
        .context("one query result")?;
    anyhow::ensure!(
        got.len() == pushed.len(),
        "{} series, want {}",
        got.len(),
        pushed.len()
    );
    for (ls, want) in pushed {
        let have: Vec<(TimestampMs, u64)> = got
            .get(ls)
            .with_context(|| format!("series {ls:?} missing"))?
            .iter()
            .map(|(t, v)| (*t, v.to_bits()))
            .collect();
        anyhow::ensure!(
            have.len() == want.len(),
            "series {ls:?}: {} samples read, {} pushed",
            have.len(),
            want.len()
        );
        anyhow::ensure!(
            &have == want,
            "series {ls:?}: samples differ from those pushed"
        );
    }
    Ok(())
}

fn block_dirs(tenant_dir: &Path) -> anyhow::Result<Vec<String>> {
    let mut out = Vec::new();
    for e in
        std::fs::read_dir(tenant_dir).with_context(|| format!("list {}", tenant_dir.display()))?
    {
        let e = e?;
        let name = e.file_name().to_string_lossy().into_owned();
        if name.len() == 26 && e.path().join("meta.json").is_file() {
            out.push(name);
        }
    }
    out.sort();
    Ok(out)
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

fn promtool(args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new("promtool")
        .args(args)
        .output()
        .context("run promtool (Debian package prometheus)")?;
    anyhow::ensure!(
        out.status.success(),
        "promtool {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flushed_blocks_are_prometheus_blocks_and_survive_restart() {
    strata_tests::e2e(body()).await;
}

async fn body() -> anyhow::Result<()> {
    let data = tempfile::Builder::new()
        .prefix("strata-blocks-data-")
        .tempdir()
        .context("data dir")?;
    let data_dir = data.path().join("data");
    let data_arg = format!("-data.dir={}", data_dir.display());
    // More than two aligned 2-hour ranges, all in the past.
    let base = now_ms() - SPAN - 600_000;

    let mut strata = Strata::start_with_args(&[&data_arg]).await?;
    let pushed = push_all(&strata, base).await?;
    check_all(&strata, base, &pushed)
        .await
        .context("before flush")?;

    let resp = reqwest::Client::new()
        .post(strata.url("/ingester/flush"))
        .send()
        .await
        .context("POST /ingester/flush")?;
    anyhow::ensure!(
        resp.status().as_u16() == 204,
        "flush status {}",
        resp.status()
    );

    let tenant_dir = data_dir.join("tsdb").join(TENANT);
    let blocks = block_dirs(&tenant_dir)?;
    anyhow::ensure!(
        blocks.len() >= 3,
        "want ≥ 3 blocks for 5h of samples, got {blocks:?}"
    );
    check_all(&strata, base, &pushed)
        .await
        .context("after flush")?;

    // promtool opens a TSDB directory: blocks plus a WAL directory (empty here).
    let copy = tempfile::tempdir().context("promtool dir")?;
    copy_dir(&tenant_dir, copy.path())?;
    let _ = std::fs::remove_dir_all(copy.path().join("wal"));
    std::fs::create_dir(copy.path().join("wal"))?;
    let db = copy.path().to_string_lossy().into_owned();
    let list = promtool(&["tsdb", "list", &db])?;
    for b in &blocks {
        anyhow::ensure!(
            list.contains(b.as_str()),
            "promtool tsdb list misses {b}:\n{list}"
        );
    }
    let dump = promtool(&["tsdb", "dump", &db])?;
    let lines = dump.lines().filter(|l| l.contains("blocks_metric")).count();
    let total: usize = pushed.values().map(Vec::len).sum();
    anyhow::ensure!(
        lines == total,
        "promtool tsdb dump shows {lines} samples, {total} pushed"
    );

    strata.process.stop(Duration::from_secs(10))?;
    drop(strata);
    let strata = Strata::start_with_args(&[&data_arg]).await?;
    check_all(&strata, base, &pushed)
        .await
        .context("after restart")?;
    Ok(())
}
