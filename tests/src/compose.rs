//! Docker helpers for the container tests: build the images, run `docker-compose.yml` as a
//! project of its own, cut a container off its network, and a steady remote-write load.
//!
//! ```text
//!  docker_unavailable() ─► skip reason, or None
//!  build_images(strata binary) ─► deploy/docker/build-image.sh, build-peer-images.sh
//!  Compose::up(project, env) ─► docker-compose -p strata-test-<pid> up -d ─ Drop: down -v
//!     .ip(service)  .disconnect(service) / .connect(service)  .logs()
//!  LoadWriter::start(distributors, tenant, series/s) ─► every second one sample per series,
//!     in batches, round robin over the distributors, each retried (5xx, 429, transport)
//!     until acknowledged or given up; .stop() ─► LoadReport (acked per batch, errors)
//! ```
//!
//! Images are tagged for tests (`strata:test`, `strata-test-prometheus:dev`, ...) so a
//! person's `strata:dev` is never replaced by a debug build.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use crate::api::Auth;
use crate::fixtures::{series, write_request};
use crate::write::{push_raw, RawPush};

/// The std mutex, shrugging off poisoning: a panicking push must not hide the report.
#[derive(Debug, Default)]
struct Mutex<T>(std::sync::Mutex<T>);

impl<T> Mutex<T> {
    fn new(v: T) -> Self {
        Self(std::sync::Mutex::new(v))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, T> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The strata image tests build from the debug binary.
pub const STRATA_TEST_IMAGE: &str = "strata:test";
/// The prefix of the peers' test images.
pub const PEER_TEST_PREFIX: &str = "strata-test";

/// The repository's root directory.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the repository")
        .to_path_buf()
}

fn run(cmd: &mut Command) -> anyhow::Result<String> {
    let out = cmd.output().with_context(|| format!("run {cmd:?}"))?;
    if !out.status.success() {
        bail!(
            "{cmd:?} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Why container tests cannot run here, or `None` when docker, docker-compose and the peers'
/// executables are all there.
pub fn docker_unavailable() -> Option<String> {
    let ok = |prog: &str, args: &[&str]| {
        Command::new(prog)
            .args(args)
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !ok("docker", &["info", "--format", "{{.ServerVersion}}"]) {
        return Some("no docker daemon answers `docker info`".into());
    }
    if !ok("docker-compose", &["version"]) {
        return Some("docker-compose is not installed".into());
    }
    for p in ["prometheus", "prometheus-node-exporter"] {
        if !ok("sh", &["-c", &format!("command -v {p}")]) {
            return Some(format!("{p} is not installed (Debian package)"));
        }
    }
    None
}

/// Builds the strata image from `binary` (the debug binary the tests run) and the peers'
/// images, with the test tags.
pub fn build_images(binary: &Path) -> anyhow::Result<()> {
    let root = repo_root();
    let out = run(Command::new("bash")
        .arg(root.join("deploy/docker/build-image.sh"))
        .arg(binary)
        .arg(STRATA_TEST_IMAGE))?;
    eprint!("{out}");
    let out = run(Command::new("bash")
        .arg(root.join("deploy/docker/build-peer-images.sh"))
        .arg(PEER_TEST_PREFIX))?;
    eprint!("{out}");
    Ok(())
}

/// A running docker-compose project; `down -v` when dropped.
pub struct Compose {
    project: String,
    file: PathBuf,
    env: Vec<(String, String)>,
    up: bool,
}

impl Compose {
    /// `docker-compose -p <project> up -d` on the repository's `docker-compose.yml` with the
    /// test images and `env` (published ports) laid over.
    pub fn up(project: &str, env: &[(&str, String)]) -> anyhow::Result<Self> {
        crate::install_tls();
        let mut env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| ((*k).to_string(), v.clone()))
            .collect();
        env.push(("STRATA_IMAGE".into(), STRATA_TEST_IMAGE.into()));
        env.push((
            "STRATA_PROMETHEUS_IMAGE".into(),
            format!("{PEER_TEST_PREFIX}-prometheus:dev"),
        ));
        env.push((
            "STRATA_NODE_EXPORTER_IMAGE".into(),
            format!("{PEER_TEST_PREFIX}-node-exporter:dev"),
        ));
        let mut c = Self {
            project: project.to_string(),
            file: repo_root().join("docker-compose.yml"),
            env,
            up: true,
        };
        c.compose(&["up", "-d", "--no-build"])
            .context("docker-compose up")?;
        Ok(c)
    }

    fn compose(&mut self, args: &[&str]) -> anyhow::Result<String> {
        run(Command::new("docker-compose")
            .arg("-p")
            .arg(&self.project)
            .arg("-f")
            .arg(&self.file)
            .args(args)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str()))))
    }

    /// The project's network (`<project>_default`).
    pub fn network(&self) -> String {
        format!("{}_default", self.project)
    }

    /// The container id of `service`.
    pub fn container(&mut self, service: &str) -> anyhow::Result<String> {
        let id = self.compose(&["ps", "-q", service])?.trim().to_string();
        anyhow::ensure!(!id.is_empty(), "no container for service {service}");
        Ok(id)
    }

    /// The IP address of `service` on the project's network, if it is connected.
    pub fn ip(&mut self, service: &str) -> anyhow::Result<Option<String>> {
        let id = self.container(service)?;
        let fmt = format!(
            "{{{{with index .NetworkSettings.Networks \"{}\"}}}}{{{{.IPAddress}}}}{{{{end}}}}",
            self.network()
        );
        let ip = run(Command::new("docker").args(["inspect", "-f", &fmt, &id]))?;
        let ip = ip.trim();
        Ok((!ip.is_empty()).then(|| ip.to_string()))
    }

    /// Cuts `service` off the project's network (`docker network disconnect`).
    pub fn disconnect(&mut self, service: &str) -> anyhow::Result<()> {
        let id = self.container(service)?;
        run(Command::new("docker").args(["network", "disconnect", &self.network(), &id]))?;
        Ok(())
    }

    /// Connects `service` back, under its service name (so the others' DNS finds it again).
    pub fn connect(&mut self, service: &str) -> anyhow::Result<()> {
        let id = self.container(service)?;
        run(Command::new("docker").args([
            "network",
            "connect",
            "--alias",
            service,
            &self.network(),
            &id,
        ]))?;
        Ok(())
    }

    /// The last `tail` log lines of every container.
    pub fn logs(&mut self, tail: usize) -> String {
        self.compose(&["logs", "--no-color", "--tail", &tail.to_string()])
            .unwrap_or_else(|e| format!("(no logs: {e:#})"))
    }

    /// `docker-compose down -v`: containers, network and volumes.
    pub fn down(&mut self) -> anyhow::Result<()> {
        if !self.up {
            return Ok(());
        }
        self.up = false;
        self.compose(&["down", "-v", "--timeout", "5"]).map(|_| ())
    }
}

impl Drop for Compose {
    fn drop(&mut self) {
        if let Err(e) = self.down() {
            eprintln!("docker-compose down -v for {}: {e:#}", self.project);
        }
    }
}

/// What a [`LoadWriter`] did.
#[derive(Clone, Debug, Default)]
pub struct LoadReport {
    /// Series per tick.
    pub series: usize,
    /// Series per batch (one push).
    pub batch_size: usize,
    /// For every batch, the timestamps (ms) of its acknowledged pushes, ascending.
    pub acked: Vec<Vec<i64>>,
    /// Pushes that failed at the client after retries (or with a 4xx).
    pub client_errors: u64,
    /// Retries made (a retried push counts once per retry).
    pub retries: u64,
    /// Ticks that started late because the previous one was still pushing.
    pub late_ticks: u64,
}

impl LoadReport {
    /// Samples acknowledged with a timestamp in `(from, to]`.
    pub fn acked_between(&self, from: i64, to: i64) -> u64 {
        self.acked
            .iter()
            .map(|ts| ts.iter().filter(|t| **t > from && **t <= to).count() as u64)
            .sum::<u64>()
            * self.batch_size as u64
    }

    /// Samples acknowledged in all.
    pub fn acked_samples(&self) -> u64 {
        self.acked_between(i64::MIN, i64::MAX)
    }

    /// Acknowledged timestamps of the batch holding series `i`, within `(from, to]`.
    pub fn acked_for_series(&self, i: usize, from: i64, to: i64) -> usize {
        self.acked[i / self.batch_size]
            .iter()
            .filter(|t| **t > from && **t <= to)
            .count()
    }
}

/// A steady remote-write load: every second one sample for each of `series` series
/// (`{__name__=metric, series="<i>"}`, value = timestamp in seconds), in batches pushed
/// concurrently, round robin over the distributors, each retried with backoff on 5xx, 429
/// and transport errors (as the remote write spec asks) until acknowledged or `give_up`.
pub struct LoadWriter {
    stop: Arc<AtomicBool>,
    report: Arc<Mutex<LoadReport>>,
    task: tokio::task::JoinHandle<()>,
}

impl LoadWriter {
    /// Starts writing `series` series of `metric` as `tenant` to `urls` (push endpoints).
    pub fn start(
        urls: Vec<String>,
        tenant: &str,
        metric: &str,
        series: usize,
        batch_size: usize,
        give_up: Duration,
    ) -> Self {
        let batches = series.div_ceil(batch_size);
        let report = Arc::new(Mutex::new(LoadReport {
            series,
            batch_size,
            acked: vec![Vec::new(); batches],
            ..Default::default()
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let (r, s) = (Arc::clone(&report), Arc::clone(&stop));
        let (tenant, metric) = (tenant.to_string(), metric.to_string());
        let task = tokio::spawn(async move {
            let http = reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .expect("an HTTP client");
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut next_url = 0usize;
            while !s.load(Ordering::Acquire) {
                let planned = tick.tick().await;
                if planned.elapsed() > Duration::from_millis(500) {
                    r.lock().late_ticks += 1;
                }
                let ts = crate::now_ms();
                let first_url = next_url;
                next_url += 1;
                let pushes = (0..batches).map(|b| {
                    let url = urls[(first_url + b) % urls.len()].clone();
                    let lo = b * batch_size;
                    let hi = (lo + batch_size).min(series);
                    let req = write_request((lo..hi).map(|i| series_of(&metric, i, ts)).collect());
                    let (http, tenant, r) = (http.clone(), tenant.clone(), Arc::clone(&r));
                    async move {
                        let ok = push_with_retries(&http, &url, &tenant, &req, give_up, &r).await;
                        let mut rep = r.lock();
                        if ok {
                            rep.acked[b].push(ts);
                        } else {
                            rep.client_errors += 1;
                        }
                    }
                });
                futures_join_all(pushes.collect()).await;
            }
        });
        Self { stop, report, task }
    }

    /// What was acknowledged so far.
    pub fn report(&self) -> LoadReport {
        self.report.lock().clone()
    }

    /// Stops after the current tick and returns the report.
    pub async fn stop(self) -> LoadReport {
        self.stop.store(true, Ordering::Release);
        let _ = self.task.await;
        self.report.lock().clone()
    }
}

fn series_of(metric: &str, i: usize, ts: i64) -> strata_proto::prometheus::TimeSeries {
    let idx = i.to_string();
    series(
        &[("__name__", metric), ("series", &idx)],
        &[(ts, ts as f64 / 1000.0)],
    )
}

/// Runs futures concurrently on the current task (no extra crate for `join_all`).
async fn futures_join_all<F: std::future::Future<Output = ()> + Send + 'static>(futs: Vec<F>) {
    let handles: Vec<_> = futs.into_iter().map(tokio::spawn).collect();
    for h in handles {
        let _ = h.await;
    }
}

async fn push_with_retries(
    http: &reqwest::Client,
    url: &str,
    tenant: &str,
    req: &strata_proto::prometheus::WriteRequest,
    give_up: Duration,
    report: &Mutex<LoadReport>,
) -> bool {
    let start = Instant::now();
    let mut backoff = Duration::from_millis(100);
    loop {
        let status = match push_raw(http, url, &Auth::org(tenant), RawPush::of(req)).await {
            Ok(r) => Some(r.status),
            Err(_) => None,
        };
        match status {
            Some(s) if (200..300).contains(&s) => return true,
            Some(s) if (400..500).contains(&s) && s != 429 => return false,
            _ => {}
        }
        if start.elapsed() + backoff > give_up {
            return false;
        }
        report.lock().retries += 1;
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(1));
    }
}
