//! The chaos writer: a Prometheus-like remote-write client that sends one sample per series
//! every interval, retries as the remote-write spec says, and records what was acknowledged.
//!
//! ```text
//!  shard 0 (series 0..n/s) ──tick k──► pending ticks ──one request──► distributor[i++ % d]
//!  shard 1 ...                          (≤ max_ticks_per_request)      2xx: Ack (batch, at)
//!                                                                      429/5xx/transport: backoff, retry
//!                                                                      other 4xx: client error
//!                                                                      retry budget spent: gave up
//! ```
//!
//! Each shard owns a contiguous range of series and sends its requests one at a time, so the
//! samples of a series always arrive in time order (as a Prometheus queue shard does); ticks
//! that fall due while a request is being retried are sent together afterwards. Sample `k` of
//! shard `s` has timestamp `base + s·interval/shards + k·interval` and series `i` the value
//! [`WriterConfig::value`]`(i, k)`, so a sample read back identifies exactly what was sent.

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use strata_proto::prometheus::{Label, Sample, TimeSeries, WriteRequest};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::api::Auth;
use crate::write::{push_raw, RawPush};
use crate::{now_ms, TimestampMs};

/// What a writer sends and how it retries.
#[derive(Clone, Debug)]
pub struct WriterConfig {
    /// The tenant (`X-Scope-OrgID`).
    pub tenant: String,
    /// The metric name of every series.
    pub metric: String,
    /// Series in total; series `i` has the label `series="<i, 5 digits>"`.
    pub series: usize,
    /// Concurrent senders; shard `s` also labels its series `shard="<s>"`.
    pub shards: usize,
    /// One sample per series this often.
    pub interval: Duration,
    /// Labels every series also carries (the HA pair's `cluster` and `__replica__`).
    pub extra_labels: Vec<(String, String)>,
    /// Added to every value (tells the replicas of an HA pair apart).
    pub value_offset: f64,
    /// Shifts every timestamp (an HA replica scrapes a little later than its twin).
    pub ts_offset_ms: i64,
    /// First retry delay; doubled after every failed attempt up to `max_backoff`.
    pub min_backoff: Duration,
    /// Longest retry delay (a 429's `Retry-After` may ask for more, capped by the budget).
    pub max_backoff: Duration,
    /// A request still failing this long after its first attempt is given up.
    pub give_up_after: Duration,
    /// Timeout of one HTTP attempt.
    pub request_timeout: Duration,
    /// At most this many ticks of backlog in one request.
    pub max_ticks_per_request: usize,
}

impl WriterConfig {
    /// `series` series of `chaos_x` for `tenant`, one sample a second, 4 shards, retries
    /// from 30 ms doubling to 1 s, given up after 60 s.
    pub fn new(tenant: &str, series: usize) -> Self {
        Self {
            tenant: tenant.to_string(),
            metric: "chaos_x".to_string(),
            series,
            shards: 4,
            interval: Duration::from_secs(1),
            extra_labels: Vec::new(),
            value_offset: 0.0,
            ts_offset_ms: 0,
            min_backoff: Duration::from_millis(30),
            max_backoff: Duration::from_secs(1),
            give_up_after: Duration::from_secs(60),
            request_timeout: Duration::from_secs(10),
            max_ticks_per_request: 10,
        }
    }

    /// The value series `series` gets at tick `tick`: exact in an f64 and unique per
    /// (series, tick) below 100,000 series.
    pub fn value(&self, series: usize, tick: u64) -> f64 {
        tick as f64 * 100_000.0 + series as f64 + self.value_offset
    }

    /// The series of shard `s`.
    pub fn shard_range(&self, s: usize) -> Range<usize> {
        let per = self.series.div_ceil(self.shards.max(1));
        (s * per).min(self.series)..((s + 1) * per).min(self.series)
    }

    /// The value of the `series` label of series `i`.
    pub fn series_label(i: usize) -> String {
        format!("{i:05}")
    }

    /// The labels of series `i` of shard `s`, sorted by name.
    fn labels(&self, i: usize, s: usize) -> Vec<Label> {
        let mut l = vec![
            ("__name__".to_string(), self.metric.clone()),
            ("series".to_string(), Self::series_label(i)),
            ("shard".to_string(), s.to_string()),
        ];
        l.extend(self.extra_labels.iter().cloned());
        l.sort();
        l.into_iter()
            .map(|(name, value)| Label { name, value })
            .collect()
    }
}

/// The samples of one request: every series of `series` at every tick of `ticks`.
#[derive(Clone, Debug)]
pub struct Batch {
    /// The sending shard.
    pub shard: usize,
    /// Its series.
    pub series: Range<usize>,
    /// `(tick, timestamp)` pairs, in time order.
    pub ticks: Vec<(u64, TimestampMs)>,
}

impl Batch {
    /// Samples in the batch.
    pub fn samples(&self) -> usize {
        self.series.len() * self.ticks.len()
    }
}

/// A request the server acknowledged with a 2xx.
#[derive(Clone, Debug)]
pub struct Ack {
    /// What it carried.
    pub batch: Batch,
    /// The 2xx status (202: an HA replica that is not elected; nothing stored).
    pub status: u16,
    /// When the acknowledgement arrived.
    pub at: Instant,
    /// From the first attempt to the acknowledgement.
    pub latency: Duration,
    /// Attempts it took.
    pub attempts: u32,
}

/// A request the client saw fail: a non-retryable 4xx, or retries past the budget.
#[derive(Clone, Debug)]
pub struct Failure {
    /// What it carried.
    pub batch: Batch,
    /// The last status or transport error.
    pub last: String,
    /// True for a 4xx other than 429 (never retried).
    pub client_error: bool,
    /// When the client gave up.
    pub at: Instant,
}

/// Everything a writer observed.
#[derive(Clone, Debug, Default)]
pub struct WriterLog {
    /// Acknowledged requests, in acknowledgement order.
    pub acks: Vec<Ack>,
    /// Requests that failed at the client.
    pub failures: Vec<Failure>,
    /// Every HTTP status seen, over all attempts.
    pub statuses: BTreeMap<u16, u64>,
    /// Attempts that ended without an HTTP answer (refused, reset, timed out).
    pub transport_errors: u64,
    /// Retries (attempts after the first).
    pub retries: u64,
}

impl WriterLog {
    /// Samples acknowledged with a 2xx other than 202 (those the store must hold).
    pub fn acked_samples(&self) -> usize {
        self.acks
            .iter()
            .filter(|a| a.status != 202)
            .map(|a| a.batch.samples())
            .sum()
    }

    /// Samples answered 202 (an HA replica that is not elected: dropped on purpose).
    pub fn deduped_samples(&self) -> usize {
        self.acks
            .iter()
            .filter(|a| a.status == 202)
            .map(|a| a.batch.samples())
            .sum()
    }

    /// Requests that failed at the client (gave up, or a non-retryable 4xx).
    pub fn client_errors(&self) -> usize {
        self.failures.len()
    }

    /// Samples in the requests that failed at the client.
    pub fn failed_samples(&self) -> usize {
        self.failures.iter().map(|f| f.batch.samples()).sum()
    }

    /// Attempts answered with a 5xx.
    pub fn server_errors(&self) -> u64 {
        self.statuses
            .iter()
            .filter(|(s, _)| (500..600).contains(*s))
            .map(|(_, n)| n)
            .sum()
    }

    /// The slowest acknowledgement (first attempt to 2xx), retries included.
    pub fn max_ack_latency(&self) -> Duration {
        self.acks
            .iter()
            .map(|a| a.latency)
            .max()
            .unwrap_or_default()
    }

    /// The first acknowledgement with `status` at or after `since`.
    pub fn first_ack_since(&self, since: Instant, status: u16) -> Option<Instant> {
        self.acks
            .iter()
            .filter(|a| a.status == status && a.at >= since)
            .map(|a| a.at)
            .min()
    }

    /// A one-line summary of statuses and retries.
    pub fn summary(&self) -> String {
        format!(
            "acked={} deduped={} client_errors={} ({} samples) statuses={:?} transport_errors={} retries={} max_ack_latency={:?}",
            self.acked_samples(),
            self.deduped_samples(),
            self.client_errors(),
            self.failed_samples(),
            self.statuses,
            self.transport_errors,
            self.retries,
            self.max_ack_latency()
        )
    }
}

/// A running writer. [`Writer::stop`] ends it and returns its log.
pub struct Writer {
    cfg: Arc<WriterConfig>,
    log: Arc<Mutex<WriterLog>>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    started: Instant,
}

/// What one shard task shares.
struct Shared {
    cfg: Arc<WriterConfig>,
    urls: Vec<String>,
    next_url: AtomicUsize,
    http: reqwest::Client,
    auth: Auth,
    log: Arc<Mutex<WriterLog>>,
}

impl Writer {
    /// Starts sending to `push_urls` (round robin per attempt). The first tick of every
    /// shard is due within one interval.
    pub fn start(cfg: WriterConfig, push_urls: Vec<String>) -> anyhow::Result<Self> {
        anyhow::ensure!(!push_urls.is_empty(), "a writer needs a push URL");
        anyhow::ensure!(cfg.shards > 0 && cfg.series > 0, "a writer needs series");
        let cfg = Arc::new(cfg);
        let log = Arc::new(Mutex::new(WriterLog::default()));
        crate::install_tls();
        let http = reqwest::Client::builder()
            .timeout(cfg.request_timeout)
            .build()?;
        let shared = Arc::new(Shared {
            cfg: Arc::clone(&cfg),
            urls: push_urls,
            next_url: AtomicUsize::new(0),
            http,
            auth: Auth::org(&cfg.tenant),
            log: Arc::clone(&log),
        });
        let (stop, stop_rx) = watch::channel(false);
        let started = Instant::now();
        let base_ms = now_ms() + cfg.ts_offset_ms;
        let tasks = (0..cfg.shards)
            .map(|s| {
                let shared = Arc::clone(&shared);
                let stop_rx = stop_rx.clone();
                tokio::spawn(async move { shard_loop(shared, s, base_ms, started, stop_rx).await })
            })
            .collect();
        Ok(Self {
            cfg,
            log,
            stop,
            tasks,
            started,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &WriterConfig {
        &self.cfg
    }

    /// When the writer started.
    pub fn started(&self) -> Instant {
        self.started
    }

    /// A copy of the log so far.
    pub fn snapshot(&self) -> WriterLog {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Stops ticking, lets every in-flight request finish (acknowledged or given up) and
    /// returns the log.
    pub async fn stop(mut self) -> anyhow::Result<WriterLog> {
        let _ = self.stop.send(true);
        for t in std::mem::take(&mut self.tasks) {
            t.await?;
        }
        Ok(self.snapshot())
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

async fn shard_loop(
    sh: Arc<Shared>,
    s: usize,
    base_ms: TimestampMs,
    started: Instant,
    mut stop: watch::Receiver<bool>,
) {
    let cfg = &sh.cfg;
    let series = cfg.shard_range(s);
    if series.is_empty() {
        return;
    }
    let labels: Vec<Vec<Label>> = series.clone().map(|i| cfg.labels(i, s)).collect();
    let interval_ms = i64::try_from(cfg.interval.as_millis()).unwrap_or(i64::MAX);
    let offset =
        cfg.interval * u32::try_from(s).unwrap_or(0) / u32::try_from(cfg.shards).unwrap_or(1);
    let offset_ms = i64::try_from(offset.as_millis()).unwrap_or(0);
    // Burst (the default) fires ticks missed during a long retry at once: their samples keep
    // their scheduled timestamps and go out together, as a Prometheus queue catches up.
    let mut ticker = tokio::time::interval_at((started + offset).into(), cfg.interval);
    let mut next_tick = 0u64;
    let mut pending: Vec<(u64, TimestampMs)> = Vec::new();
    loop {
        tokio::select! {
            biased;
            _ = stop.changed() => return,
            _ = ticker.tick() => {}
        }
        if *stop.borrow() {
            return;
        }
        pending.push((
            next_tick,
            base_ms + offset_ms + next_tick as i64 * interval_ms,
        ));
        next_tick += 1;
        // Drain ticks already due before sending, so a backlog goes in few requests.
        while pending.len() < cfg.max_ticks_per_request {
            match tokio::time::timeout(Duration::ZERO, ticker.tick()).await {
                Ok(_) => {
                    pending.push((
                        next_tick,
                        base_ms + offset_ms + next_tick as i64 * interval_ms,
                    ));
                    next_tick += 1;
                }
                Err(_) => break,
            }
        }
        let batch = Batch {
            shard: s,
            series: series.clone(),
            ticks: std::mem::take(&mut pending),
        };
        let body = encode(cfg, &batch, &labels);
        send(&sh, batch, body).await;
    }
}

fn encode(cfg: &WriterConfig, batch: &Batch, labels: &[Vec<Label>]) -> RawPush {
    let timeseries = batch
        .series
        .clone()
        .zip(labels)
        .map(|(i, l)| TimeSeries {
            labels: l.clone(),
            samples: batch
                .ticks
                .iter()
                .map(|&(k, t)| Sample {
                    value: cfg.value(i, k),
                    timestamp: t,
                })
                .collect(),
            exemplars: vec![],
            histograms: vec![],
        })
        .collect();
    RawPush::of(&WriteRequest {
        timeseries,
        metadata: vec![],
    })
}

/// Sends one request until a 2xx, a non-retryable 4xx, or the retry budget is spent.
async fn send(sh: &Shared, batch: Batch, body: RawPush) {
    let cfg = &sh.cfg;
    let first = Instant::now();
    let mut backoff = cfg.min_backoff;
    let mut attempts = 0u32;
    loop {
        attempts += 1;
        let url = &sh.urls[sh.next_url.fetch_add(1, Ordering::Relaxed) % sh.urls.len()];
        let (last, retry_after) = match push_raw(&sh.http, url, &sh.auth, body.clone()).await {
            Ok(r) => {
                let mut log = sh.log.lock().unwrap_or_else(|e| e.into_inner());
                *log.statuses.entry(r.status).or_default() += 1;
                if (200..300).contains(&r.status) {
                    log.acks.push(Ack {
                        batch,
                        status: r.status,
                        at: Instant::now(),
                        latency: first.elapsed(),
                        attempts,
                    });
                    return;
                }
                if r.status != 429 && !(500..600).contains(&r.status) {
                    log.failures.push(Failure {
                        batch,
                        last: format!("{} {}", r.status, r.body.trim()),
                        client_error: true,
                        at: Instant::now(),
                    });
                    return;
                }
                let retry_after = (r.status == 429)
                    .then(|| {
                        r.header("retry-after")
                            .and_then(|v| v.trim().parse::<u64>().ok())
                    })
                    .flatten()
                    .map(Duration::from_secs);
                (format!("{} {}", r.status, r.body.trim()), retry_after)
            }
            Err(e) => {
                sh.log
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .transport_errors += 1;
                (format!("{e:#}"), None)
            }
        };
        let wait = retry_after.unwrap_or(backoff);
        if first.elapsed() + wait > cfg.give_up_after {
            sh.log
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .failures
                .push(Failure {
                    batch,
                    last,
                    client_error: false,
                    at: Instant::now(),
                });
            return;
        }
        sh.log.lock().unwrap_or_else(|e| e.into_inner()).retries += 1;
        tokio::time::sleep(wait).await;
        backoff = (backoff * 2).min(cfg.max_backoff);
    }
}

#[cfg(test)]
#[path = "writer_tests.rs"]
mod tests;
