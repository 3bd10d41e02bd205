//! One target's scrape loop (Prometheus's `scrapeLoop.run`).
//!
//! ```text
//!  wait offset(hash, interval) ─► every interval: scrape ─► append (or empty append on
//!  failure: stale markers) ─► report (up, scrape_*) ─► commit to the sink
//!  stop(Remove): wait for the next would-be scrape (its time is the stale markers' time),
//!    one more interval and 10 % more, then write stale markers for every series and the
//!    report series; stop(Reload): the cache goes on in the new loop, no markers;
//!    process shutdown: no markers (a restart continues the series).
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use tokio::sync::watch;
use tracing::{debug, warn};

use crate::append::{self, AppendError, AppendOptions, Batch, Report, Value};
use crate::cache::ScrapeCache;
use crate::job::JobConfig;
use crate::metrics::ScrapeMetrics;
use crate::scraper::{self, ScrapeError};
use crate::sink::{SampleSink, SeriesClock};
use crate::target::Target;

/// Scrape timestamps within this of the aligned schedule are set to it (Prometheus's
/// `ScrapeTimestampTolerance`), so series compress well.
const TIMESTAMP_TOLERANCE_MS: i64 = 2;

/// A target's health as `/targets` shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Health {
    /// Not scraped yet.
    Unknown,
    /// The last scrape succeeded.
    Up,
    /// The last scrape failed.
    Down,
}

impl Health {
    /// `up`, `down` or `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Unknown => "unknown",
            Health::Up => "up",
            Health::Down => "down",
        }
    }
}

/// The outcome of a target's last scrape.
#[derive(Clone, Debug)]
pub struct TargetStatus {
    /// Health.
    pub health: Health,
    /// The last error, empty after a success.
    pub last_error: String,
    /// When the last scrape started.
    pub last_scrape: Option<SystemTime>,
    /// How long it took.
    pub last_duration: Duration,
}

impl Default for TargetStatus {
    fn default() -> Self {
        Self {
            health: Health::Unknown,
            last_error: String::new(),
            last_scrape: None,
            last_duration: Duration::ZERO,
        }
    }
}

/// How a loop is stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopMode {
    /// The target went away: write stale markers at the next would-be scrape.
    Remove,
    /// Replaced by a new loop that keeps this one's cache: no stale markers.
    Reload,
}

/// What every loop of the agent shares.
#[derive(Clone)]
pub struct LoopEnv {
    /// Where samples go.
    pub sink: Arc<dyn SampleSink>,
    /// The newest sample per series.
    pub clock: Arc<SeriesClock>,
    /// Metrics.
    pub metrics: ScrapeMetrics,
    /// Seed of scrape offsets (hostname and external labels).
    pub offset_seed: u64,
    /// True once the process shuts down: loops stop without stale markers.
    pub shutdown: watch::Receiver<bool>,
}

/// A running loop: its task, stop switch, status and cache.
pub struct LoopHandle {
    stop: watch::Sender<Option<StopMode>>,
    task: tokio::task::JoinHandle<()>,
    status: Arc<Mutex<TargetStatus>>,
    cache: Arc<Mutex<ScrapeCache>>,
    forced: Arc<Mutex<Option<String>>>,
}

impl LoopHandle {
    /// The last scrape's outcome.
    pub fn status(&self) -> TargetStatus {
        self.status.lock().clone()
    }

    /// The live status (pages read it without the pool's lock).
    pub fn status_handle(&self) -> Arc<Mutex<TargetStatus>> {
        Arc::clone(&self.status)
    }

    /// The loop's cache (a reloaded loop takes it over).
    pub fn cache(&self) -> Arc<Mutex<ScrapeCache>> {
        Arc::clone(&self.cache)
    }

    /// Makes every scrape fail with `err` without scraping (target_limit), or clears it.
    pub fn set_forced_error(&self, err: Option<String>) {
        *self.forced.lock() = err;
    }

    /// Stops the loop; with [`StopMode::Remove`] its stale markers are written later by the
    /// task. Returns once the loop's scraping has stopped.
    pub async fn stop(self, mode: StopMode) {
        let _ = self.stop.send(Some(mode));
        if mode == StopMode::Reload {
            let _ = self.task.await;
        }
    }

    /// Waits for the task (stale markers included) to end (tests).
    pub async fn join(self) {
        let _ = self.task.await;
    }
}

/// Starts a loop for `target` of `job`; `cache` continues an earlier loop's.
pub fn start(
    target: &Target,
    job: Arc<JobConfig>,
    client: reqwest::Client,
    env: LoopEnv,
    cache: Option<Arc<Mutex<ScrapeCache>>>,
) -> LoopHandle {
    let (stop_tx, stop_rx) = watch::channel(None);
    let status = Arc::new(Mutex::new(TargetStatus::default()));
    let cache = cache.unwrap_or_default();
    let forced = Arc::new(Mutex::new(None));
    let (interval, timeout) = match target.interval_and_timeout() {
        Ok(v) => v,
        Err(e) => {
            *forced.lock() = Some(e);
            (job.scrape_interval, job.scrape_timeout)
        }
    };
    let lp = Loop {
        url: target.url(),
        offset: target.offset(interval, env.offset_seed),
        opts: AppendOptions {
            target_labels: target.labels(),
            honor_labels: job.honor_labels,
            honor_timestamps: job.honor_timestamps,
            metric_relabel: job.metric_relabel_configs.clone(),
            sample_limit: job.sample_limit,
            label_limit: job.label_limit,
            label_name_length_limit: job.label_name_length_limit,
            label_value_length_limit: job.label_value_length_limit,
            always_scrape_classic_histograms: job.always_scrape_classic_histograms,
        },
        accept: strata_exposition::accept_header(&job.scrape_protocols),
        job,
        client,
        interval: interval.max(Duration::from_millis(1)),
        timeout,
        env,
        status: Arc::clone(&status),
        cache: Arc::clone(&cache),
        forced: Arc::clone(&forced),
    };
    let task = tokio::spawn(lp.run(stop_rx));
    LoopHandle {
        stop: stop_tx,
        task,
        status,
        cache,
        forced,
    }
}

struct Loop {
    url: String,
    offset: Duration,
    opts: AppendOptions,
    accept: String,
    job: Arc<JobConfig>,
    client: reqwest::Client,
    interval: Duration,
    timeout: Duration,
    env: LoopEnv,
    status: Arc<Mutex<TargetStatus>>,
    cache: Arc<Mutex<ScrapeCache>>,
    forced: Arc<Mutex<Option<String>>>,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

impl Loop {
    async fn run(self, mut stop: watch::Receiver<Option<StopMode>>) {
        let mut shutdown = self.env.shutdown.clone();
        tokio::select! {
            _ = tokio::time::sleep(self.offset) => {}
            _ = stop.changed() => return,
            _ = shutdown.wait_for(|s| *s) => return,
        }
        let mut ticker = tokio::time::interval(self.interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        ticker.tick().await; // the first tick is immediate
        let iv_ms = i64::try_from(self.interval.as_millis()).unwrap_or(i64::MAX);
        let mut aligned = now_ms();
        let mut first = true;
        let mode = loop {
            let mut t = now_ms();
            if !first && iv_ms > 100 * TIMESTAMP_TOLERANCE_MS {
                aligned = aligned.saturating_add(iv_ms);
                while t - aligned >= iv_ms {
                    aligned += iv_ms;
                }
                if t - aligned <= TIMESTAMP_TOLERANCE_MS {
                    t = aligned;
                }
            } else {
                aligned = t;
            }
            first = false;
            self.scrape_and_report(t).await;
            tokio::select! {
                _ = ticker.tick() => {}
                _ = stop.changed() => break *stop.borrow(),
                _ = shutdown.wait_for(|s| *s) => return,
            }
        };
        if mode == Some(StopMode::Remove) {
            self.end_of_run_staleness(ticker, shutdown).await;
        }
    }

    /// Waits for the next would-be scrape (the markers' timestamp), one more interval and
    /// 10 % more, then writes stale markers for every series of the last scrape and for the
    /// report series. A target re-created meanwhile has written newer samples, which makes
    /// these markers out of order, and they are dropped.
    async fn end_of_run_staleness(
        &self,
        mut ticker: tokio::time::Interval,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let stale_t;
        tokio::select! {
            _ = ticker.tick() => stale_t = now_ms(),
            _ = shutdown.wait_for(|s| *s) => return,
        }
        tokio::select! {
            _ = ticker.tick() => {}
            _ = shutdown.wait_for(|s| *s) => return,
        }
        tokio::select! {
            _ = tokio::time::sleep(self.interval / 10) => {}
            _ = shutdown.wait_for(|s| *s) => return,
        }
        let mut batch = Batch::default();
        {
            let mut cache = self.cache.lock();
            let _ = append::append(
                &mut cache,
                &self.opts,
                &self.env.clock,
                &[],
                "",
                stale_t,
                &mut batch,
            );
        }
        append::append_report(
            &self.opts.target_labels,
            None,
            &self.env.clock,
            stale_t,
            &mut batch,
        );
        self.commit(batch).await;
        debug!(url = %self.url, "stale markers written for a removed target");
    }

    async fn scrape_and_report(&self, t: i64) {
        let start = Instant::now();
        let wall = SystemTime::now();
        let forced = self.forced.lock().clone();
        let (scraped, mut err) = match forced {
            Some(e) => (None, Some(e)),
            None => match scraper::scrape(
                &self.client,
                &self.job,
                &self.url,
                &self.accept,
                self.timeout,
            )
            .await
            {
                Ok(s) => (Some(s), None),
                Err(e) => {
                    if e == ScrapeError::BodySizeLimit {
                        self.env.metrics.exceeded_body_size_limit.inc();
                    }
                    debug!(url = %self.url, err = %e, "scrape failed");
                    (None, Some(e.to_string()))
                }
            },
        };
        let (body, ct) = scraped
            .as_ref()
            .map_or((&[][..], ""), |s| (&s.body[..], s.content_type.as_str()));
        let mut batch = Batch::default();
        let st = {
            let mut cache = self.cache.lock();
            let (st, res) = append::append(
                &mut cache,
                &self.opts,
                &self.env.clock,
                body,
                ct,
                t,
                &mut batch,
            );
            if let Err(e) = res {
                match e {
                    AppendError::SampleLimit => self.env.metrics.exceeded_sample_limit.inc(),
                    AppendError::LabelLimit(_) => self.env.metrics.exceeded_label_limits.inc(),
                    _ => 0,
                };
                debug!(url = %self.url, err = %e, "append failed");
                // The failed scrape writes nothing; an empty one marks its series stale.
                batch = Batch::default();
                let _ = append::append(
                    &mut cache,
                    &self.opts,
                    &self.env.clock,
                    &[],
                    "",
                    t,
                    &mut batch,
                );
                err.get_or_insert(e.to_string());
            }
            st
        };
        let m = &self.env.metrics;
        m.sample_duplicate
            .inc_by(st.duplicates + st.duplicate_timestamps);
        m.sample_out_of_order.inc_by(st.out_of_order);
        m.scrapes.inc();
        let duration = start.elapsed();
        append::append_report(
            &self.opts.target_labels,
            Some(Report {
                up: if err.is_none() { 1.0 } else { 0.0 },
                duration_seconds: duration.as_secs_f64(),
                scraped: st.total,
                post_relabel: st.added,
                series_added: st.series_added,
            }),
            &self.env.clock,
            t,
            &mut batch,
        );
        self.commit(batch).await;
        let mut s = self.status.lock();
        s.health = if err.is_none() {
            Health::Up
        } else {
            Health::Down
        };
        s.last_error = err.unwrap_or_default();
        s.last_scrape = Some(wall);
        s.last_duration = duration;
    }

    async fn commit(&self, batch: Batch) {
        let mut app = self.env.sink.appender();
        for (labels, t, v, h) in &batch.samples {
            app.append(labels, *t, *v);
            self.env.clock.advance(*h, *t, *v);
        }
        for (labels, t, v, h) in &batch.histograms {
            match v {
                Value::Histogram(x) => app.append_histogram(labels, *t, x),
                Value::FloatHistogram(x) => app.append_float_histogram(labels, *t, x),
                Value::Float(x) => app.append(labels, *t, *x),
            }
            self.env.clock.advance(*h, *t, f64::NAN);
        }
        for (labels, e) in &batch.exemplars {
            app.append_exemplar(labels, e);
        }
        for m in &batch.metadata {
            app.append_metadata(m);
        }
        if let Err(e) = app.commit().await {
            self.env.metrics.commit_failed.inc();
            warn!(url = %self.url, err = %e, "scrape samples lost: commit failed");
        }
    }
}
