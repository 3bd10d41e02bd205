//! Crash safety: Strata is SIGKILLed ten times, at seeded random moments, while several clients push
//! continuously; after each restart on the same `-data.dir`, every sample whose push was
//! acknowledged (HTTP 2xx) must come back, bit-exact, through remote read.
//!
//! Besides its own series, every push writes one sample to a series all pushers share, so
//! concurrent commits on one series reach the WAL in either order (replay must not care).
//!
//! `kill -9` keeps what was written to the page cache, so this checks that a push is
//! acknowledged only after its records are written, and that replay (torn tails, several
//! restarts in a row, racing commits) gives every acknowledged sample back. Fsync against
//! power loss is shown by `pkg/tsdb/tests/powerloss.rs` (a file layer that drops unsynced
//! writes), and crashes at exact protocol steps by `failpoints.rs`.
//!
//! The seed is printed; rerun a failure with `CRASH_SEED=<seed>`.

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use strata_proto::prometheus::read_request::ResponseType;
use strata_proto::prometheus::TimeSeries;
use strata_tests::api::{Auth, LabelSet};
use strata_tests::fixtures::{series, write_request};
use strata_tests::remote_read::{decode_samples, eq, query, request};
use strata_tests::{now_ms, Strata, TimestampMs};

const TENANT: &str = "crash-test";
const PUSHERS: usize = 6;
const SERIES_PER_PUSH: usize = 4;
const KILLS: usize = 10;

/// Acknowledged samples per series.
type Acked = BTreeMap<LabelSet, BTreeMap<TimestampMs, u64>>;

fn labels(pusher: usize, s: usize) -> Vec<(String, String)> {
    vec![
        ("__name__".into(), "crash_metric".into()),
        ("pusher".into(), pusher.to_string()),
        ("s".into(), s.to_string()),
    ]
}

/// xorshift64*: small, seeded, good enough to pick kill moments.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo)
    }
}

/// The series every pusher writes to, so concurrent commits race on one series.
fn shared_labels() -> Vec<(String, String)> {
    vec![
        ("__name__".into(), "crash_metric".into()),
        ("pusher".into(), "shared".into()),
    ]
}

/// Pushes until `stop` or the first failure; records acknowledged samples. Timestamps come
/// from `next_t`, which only grows (also for failed pushes, whose samples may be stored).
/// Each push also carries one sample of the shared series at a timestamp from `shared_t`;
/// racing pushes may reach it out of order, get a 400 and go on (nothing acknowledged).
async fn pusher(
    strata_url: String,
    p: usize,
    base: TimestampMs,
    next_t: Arc<Mutex<Vec<i64>>>,
    shared_t: Arc<std::sync::atomic::AtomicI64>,
    acked: Arc<Mutex<Acked>>,
    stop: Arc<AtomicBool>,
) -> usize {
    let http = reqwest::Client::new();
    let auth = Auth::org(TENANT);
    let mut ok = 0;
    while !stop.load(Ordering::Relaxed) {
        let step = {
            let mut n = next_t.lock().expect("lock");
            n[p] += 1;
            n[p]
        };
        let t = base + step * 1000;
        let samples: Vec<(usize, f64)> = (0..SERIES_PER_PUSH)
            .map(|s| (s, (p * 1_000_000 + s * 1000) as f64 + step as f64 * 0.5))
            .collect();
        let st = base + shared_t.fetch_add(1, Ordering::Relaxed);
        let sv = (p * 7 + 1) as f64;
        let mut all: Vec<TimeSeries> = samples
            .iter()
            .map(|&(s, v)| {
                let l = labels(p, s);
                let l: Vec<(&str, &str)> =
                    l.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
                series(&l, &[(t, v)])
            })
            .collect();
        let sl = shared_labels();
        let sl: Vec<(&str, &str)> = sl.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        all.push(series(&sl, &[(st, sv)]));
        let req = write_request(all);
        let res = strata_tests::write::push_raw(
            &http,
            &strata_url,
            &auth,
            strata_tests::write::RawPush::of(&req),
        )
        .await;
        match res {
            Ok(r) if (200..300).contains(&r.status) => {
                let mut a = acked.lock().expect("lock");
                for (s, v) in samples {
                    a.entry(labels(p, s).into_iter().collect())
                        .or_default()
                        .insert(t, v.to_bits());
                }
                a.entry(shared_labels().into_iter().collect())
                    .or_default()
                    .insert(st, sv.to_bits());
                ok += 1;
            }
            // The shared sample lost a race (out of order): nothing is acknowledged.
            Ok(r) if (400..500).contains(&r.status) => {}
            // Refused (the process is dying) or connection lost: not acknowledged.
            _ => break,
        }
    }
    ok
}

/// Reads every sample of the tenant back and checks each acknowledged one is there.
async fn check(strata: &Strata, acked: &Acked, base: TimestampMs) -> anyhow::Result<usize> {
    let req = request(
        vec![query(
            base,
            base + 10_000_000_000,
            vec![eq("__name__", "crash_metric")],
        )],
        &[ResponseType::Samples],
    );
    let reply = strata.remote_read(&Auth::org(TENANT), &req).await?;
    anyhow::ensure!(reply.status == 200, "remote read status {}", reply.status);
    let got = decode_samples(&reply.body)?
        .into_iter()
        .next()
        .context("one query result")?;
    let mut checked = 0;
    for (ls, samples) in acked {
        let have: BTreeMap<TimestampMs, u64> = got
            .get(ls)
            .map(|v| v.iter().map(|(t, v)| (*t, v.to_bits())).collect())
            .unwrap_or_default();
        for (t, v) in samples {
            match have.get(t) {
                Some(h) if h == v => checked += 1,
                Some(h) => anyhow::bail!("series {ls:?} at {t}: value bits {h:#x}, acknowledged {v:#x}"),
                None => anyhow::bail!(
                    "acknowledged sample lost: series {ls:?} at {t} ({} of {} acknowledged samples of the series are there)",
                    samples.keys().filter(|t| have.contains_key(t)).count(),
                    samples.len()
                ),
            }
        }
    }
    Ok(checked)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_samples_survive_sigkill() {
    strata_tests::e2e(body()).await;
}

async fn body() -> anyhow::Result<()> {
    let seed: u64 = match std::env::var("CRASH_SEED") {
        Ok(s) => s.parse().context("CRASH_SEED must be an integer")?,
        Err(_) => now_ms() as u64 | 1,
    };
    eprintln!("[crash] seed {seed} (rerun with CRASH_SEED={seed})");
    let mut rng = Rng(seed);
    let data = tempfile::Builder::new()
        .prefix("strata-crash-data-")
        .tempdir()
        .context("data dir")?;
    let data_arg = format!("-data.dir={}", data.path().join("data").display());
    // Small WAL segments, so kills also land around segment cuts.
    let cfg_path = data.path().join("strata.yaml");
    std::fs::write(&cfg_path, "ingester:\n  wal_segment_size: 65536\n").context("write config")?;
    let cfg_arg = format!("-config.file={}", cfg_path.display());
    let base = now_ms() - 3_600_000;
    let next_t = Arc::new(Mutex::new(vec![0i64; PUSHERS]));
    let shared_t = Arc::new(std::sync::atomic::AtomicI64::new(0));
    let acked = Arc::new(Mutex::new(Acked::new()));
    let started = Instant::now();

    for round in 0..KILLS {
        let mut strata = Strata::start_with_args(&[&data_arg, &cfg_arg]).await?;
        if round > 0 {
            let a = acked.lock().expect("lock").clone();
            let n = check(&strata, &a, base).await?;
            let log = strata.process.log_tail();
            let replay = log
                .lines()
                .find(|l| l.contains("WAL replayed"))
                .unwrap_or("<replay line not in log tail>")
                .to_string();
            eprintln!(
                "[crash] round {round}: after restart all {n} acknowledged samples are there; {replay}"
            );
        }
        let stop = Arc::new(AtomicBool::new(false));
        let tasks: Vec<_> = (0..PUSHERS)
            .map(|p| {
                tokio::spawn(pusher(
                    strata.push_url(),
                    p,
                    base,
                    Arc::clone(&next_t),
                    Arc::clone(&shared_t),
                    Arc::clone(&acked),
                    Arc::clone(&stop),
                ))
            })
            .collect();
        // Short rounds keep ten kills within a few seconds of pushing in all.
        let delay = rng.range(150, 1000);
        tokio::time::sleep(Duration::from_millis(delay)).await;
        let pid = strata.process.pid().context("strata pid")?;
        let killed = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        anyhow::ensure!(killed, "kill -KILL {pid} failed");
        let mut pushes = 0;
        for t in tasks {
            pushes += t.await.context("pusher task")?;
        }
        stop.store(true, Ordering::Relaxed);
        let (status, _) = strata.process.stop(Duration::from_secs(5))?;
        eprintln!(
            "[crash] round {round}: SIGKILL after {delay} ms, {pushes} pushes acknowledged in the round ({status})"
        );
    }

    let strata = Strata::start_with_args(&[&data_arg, &cfg_arg]).await?;
    let a = acked.lock().expect("lock").clone();
    let total: usize = a.values().map(|s| s.len()).sum();
    anyhow::ensure!(total > 0, "no push was acknowledged at all");
    let n = check(&strata, &a, base).await?;
    anyhow::ensure!(n == total, "checked {n} of {total}");
    let metrics = strata.get("/metrics").await?;
    let replayed = metrics
        .body
        .lines()
        .find(|l| l.starts_with("strata_ingester_wal_replay_records_total"))
        .unwrap_or("<missing>")
        .to_string();
    eprintln!(
        "[crash] {KILLS} SIGKILLs, {total} acknowledged samples all queryable after the last restart; {replayed}; took {:?}",
        started.elapsed()
    );
    Ok(())
}
