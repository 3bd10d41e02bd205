//! The whole agent as `-target=agent` runs it: `prometheus.yml` loaded, service discovery,
//! the scrape manager, the remote-write queue, reload, and the pages.
//!
//! ```text
//!  prometheus.yml ─load─► scrape_configs ─► discovery::Manager ─watch─► ScrapeManager
//!                   │                      (SD configs per job)          │ loops
//!                   └──► remote_write ─► remote_queue::Queue ◄─QueueSink──┘
//!  reload (SIGHUP, POST /-/reload): the same three applied again; a bad file changes nothing
//! ```

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use futures::future::BoxFuture;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use strata_remote_queue::{EndpointConfig, Queue, QueueMetrics, QueueOptions};
use tokio::sync::{watch, Mutex};
use tracing::{info, warn};

use crate::convert;
use crate::job::JobConfig;
use crate::manager::ScrapeManager;
use crate::metrics::ScrapeMetrics;
use crate::pages::{self, PagesState};
use crate::pool::Shard;
use crate::scrape_loop::LoopEnv;
use crate::sink::{Exemplar, Metadata, SampleSink, SeriesClock, SinkAppender, SinkError};
use crate::target::fnv64a;

/// Why the agent could not start or reload.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The configuration file is invalid or unreadable.
    #[error("load {path}: {err}")]
    Config {
        /// The file.
        path: String,
        /// What is wrong.
        err: String,
    },
    /// The remote-write queue could not be opened.
    #[error("open remote-write queue in {dir}: {err}")]
    Queue {
        /// The queue's directory.
        dir: String,
        /// What failed.
        err: String,
    },
}

/// How the agent runs.
#[derive(Clone, Debug)]
pub struct AgentOptions {
    /// `prometheus.yml`.
    pub config_file: PathBuf,
    /// Where the queue keeps its WAL and positions.
    pub data_dir: PathBuf,
    /// This agent's share of targets (`-agent.shard=i/n`).
    pub shard: Option<Shard>,
    /// `host:port` this process is reached at (for `globalUrl`).
    pub external_host: String,
    /// Disk cap per remote-write endpoint in bytes (0: none).
    pub max_disk_bytes_per_endpoint: u64,
    /// Age cap of unsent data per endpoint (zero: none).
    pub max_age_per_endpoint: Duration,
    /// Service discovery options.
    pub sd: strata_discovery::SdOptions,
    /// Queue options (metrics are set by the agent).
    pub queue: QueueOptions,
}

/// The running agent.
pub struct Agent {
    opts: AgentOptions,
    manager: Arc<ScrapeManager>,
    discovery: Arc<strata_discovery::Manager>,
    queue: Arc<Queue>,
    reload_lock: Mutex<()>,
    shutdown: watch::Sender<bool>,
    reload_ok: Gauge,
    reload_time: Gauge,
}

struct Parsed {
    jobs: Vec<JobConfig>,
    sd: Vec<(String, strata_promconfig::sd::ServiceDiscoveryConfigs)>,
    endpoints: Vec<EndpointConfig>,
    seed: u64,
}

impl Agent {
    fn load(opts: &AgentOptions) -> Result<Parsed, AgentError> {
        let err = |e: String| AgentError::Config {
            path: opts.config_file.display().to_string(),
            err: e,
        };
        let loaded =
            strata_promconfig::load_file(&opts.config_file).map_err(|e| err(e.to_string()))?;
        for w in &loaded.warnings {
            warn!(file = %opts.config_file.display(), "{w}");
        }
        let c = loaded.config;
        let external = convert::external_labels(&c.global.external_labels);
        let jobs = c
            .scrape_configs
            .iter()
            .map(convert::job_config)
            .collect::<Result<Vec<_>, _>>()
            .map_err(err)?;
        let sd = c
            .scrape_configs
            .iter()
            .map(|s| (s.job_name.clone(), s.sd.clone()))
            .collect();
        let caps = (opts.max_disk_bytes_per_endpoint, opts.max_age_per_endpoint);
        let endpoints = c
            .remote_write
            .iter()
            .map(|rw| convert::endpoint_config(rw, &external, caps))
            .collect::<Result<Vec<_>, _>>()
            .map_err(err)?;
        let host = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
        let seed = fnv64a(&format!("{}{external}", host.trim()));
        Ok(Parsed {
            jobs,
            sd,
            endpoints,
            seed,
        })
    }

    /// Loads the configuration and starts discovery, the queue and scraping.
    pub async fn start(
        opts: AgentOptions,
        registry: &mut Registry,
    ) -> Result<Arc<Self>, AgentError> {
        let p = Self::load(&opts)?;
        let mut qopts = opts.queue.clone();
        qopts.metrics = Some(QueueMetrics::register(registry));
        // The disk cap drops whole segments: keep them small next to it.
        qopts.fit_segments_to_cap(opts.max_disk_bytes_per_endpoint);
        let dir = opts.data_dir.join("queue");
        let queue = Queue::open(&dir, p.endpoints, qopts).map_err(|e| AgentError::Queue {
            dir: dir.display().to_string(),
            err: e.to_string(),
        })?;
        let discovery = Arc::new(strata_discovery::Manager::new(registry, opts.sd.clone()));
        let reload_ok = Gauge::default();
        let reload_time = Gauge::default();
        registry.register(
            "prometheus_config_last_reload_successful",
            "Whether the last configuration reload attempt was successful.",
            reload_ok.clone(),
        );
        registry.register(
            "prometheus_config_last_reload_success_timestamp_seconds",
            "Timestamp of the last successful configuration reload.",
            reload_time.clone(),
        );
        let (shutdown, shutdown_rx) = watch::channel(false);
        let clock = Arc::new(SeriesClock::new());
        let env = LoopEnv {
            sink: Arc::new(QueueSink(Arc::clone(&queue))),
            clock: Arc::clone(&clock),
            metrics: ScrapeMetrics::new(registry),
            offset_seed: p.seed,
            shutdown: shutdown_rx.clone(),
        };
        let manager = ScrapeManager::new(env, opts.shard);
        discovery.apply(p.sd);
        for f in manager.apply_config(p.jobs).await {
            warn!(job = %f, "scrape job not started");
        }
        manager.run(discovery.subscribe());
        spawn_clock_gc(clock, shutdown_rx);
        reload_ok.set(1);
        reload_time.set(unix_now());
        info!(file = %opts.config_file.display(), shard = ?opts.shard, "agent running");
        Ok(Arc::new(Self {
            opts,
            manager,
            discovery,
            queue,
            reload_lock: Mutex::new(()),
            shutdown,
            reload_ok,
            reload_time,
        }))
    }

    /// Re-reads the configuration and applies it; on error nothing changes.
    pub async fn reload(&self) -> Result<(), AgentError> {
        let _g = self.reload_lock.lock().await;
        let p = match Self::load(&self.opts) {
            Ok(p) => p,
            Err(e) => {
                self.reload_ok.set(0);
                warn!(err = %e, "configuration reload failed; keeping the running configuration");
                return Err(e);
            }
        };
        self.queue.apply_endpoints(p.endpoints);
        self.discovery.apply(p.sd);
        for f in self.manager.apply_config(p.jobs).await {
            warn!(job = %f, "scrape job not reloaded");
        }
        self.reload_ok.set(1);
        self.reload_time.set(unix_now());
        info!(file = %self.opts.config_file.display(), "configuration reloaded");
        Ok(())
    }

    /// The scrape manager (tests, pages).
    pub fn manager(&self) -> &Arc<ScrapeManager> {
        &self.manager
    }

    /// The remote-write queue (tests wait on its status).
    pub fn queue(&self) -> &Arc<Queue> {
        &self.queue
    }

    /// `/targets`, `/api/v1/targets`, `/service-discovery`, `POST /-/reload`.
    pub fn router(self: &Arc<Self>) -> Router {
        let me = Arc::clone(self);
        let reload: pages::ReloadFn =
            Arc::new(move || -> BoxFuture<'static, Result<(), String>> {
                let me = Arc::clone(&me);
                Box::pin(async move { me.reload().await.map_err(|e| e.to_string()) })
            });
        pages::router(PagesState {
            manager: Arc::clone(&self.manager),
            reload,
            external_host: self.opts.external_host.clone(),
        })
    }

    /// Stops scraping (no stale markers: a restart continues the series) and lets the
    /// queue send what it can.
    pub async fn shutdown(&self) {
        let _ = self.shutdown.send(true);
        self.manager.stop().await;
        self.queue.shutdown().await;
    }
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Forgets series silent for an hour, so the clock's memory follows the live series.
fn spawn_clock_gc(clock: Arc<SeriesClock>, mut shutdown: watch::Receiver<bool>) {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(300)) => {}
                _ = shutdown.wait_for(|s| *s) => return,
            }
            clock.forget_before(unix_now().saturating_sub(3600).saturating_mul(1000));
        }
    });
}

/// The queue as a [`SampleSink`].
struct QueueSink(Arc<Queue>);

struct QueueAppender(strata_remote_queue::Appender);

impl SampleSink for QueueSink {
    fn appender(&self) -> Box<dyn SinkAppender> {
        Box::new(QueueAppender(self.0.appender()))
    }
}

fn metric_type(k: strata_exposition::MetricType) -> strata_remote_queue::MetricType {
    use strata_exposition::MetricType as E;
    use strata_remote_queue::MetricType as Q;
    match k {
        E::Counter => Q::Counter,
        E::Gauge => Q::Gauge,
        E::Histogram => Q::Histogram,
        E::GaugeHistogram => Q::GaugeHistogram,
        E::Summary => Q::Summary,
        E::Info => Q::Info,
        E::StateSet => Q::StateSet,
        E::Unknown => Q::Unknown,
    }
}

impl SinkAppender for QueueAppender {
    fn append(&mut self, labels: &strata_model::Labels, t_ms: i64, v: f64) {
        self.0.append(labels, t_ms, v);
    }
    fn append_histogram(
        &mut self,
        labels: &strata_model::Labels,
        t_ms: i64,
        h: &strata_model::Histogram,
    ) {
        self.0.append_histogram(labels, t_ms, h);
    }
    fn append_float_histogram(
        &mut self,
        labels: &strata_model::Labels,
        t_ms: i64,
        h: &strata_model::FloatHistogram,
    ) {
        self.0.append_float_histogram(labels, t_ms, h);
    }
    fn append_exemplar(&mut self, labels: &strata_model::Labels, e: &Exemplar) {
        self.0.append_exemplar(
            labels,
            strata_remote_queue::Exemplar {
                labels: e.labels.clone(),
                value: e.value,
                t: e.t_ms,
            },
        );
    }
    fn append_metadata(&mut self, m: &Metadata) {
        self.0
            .append_metadata(&m.family, metric_type(m.kind), &m.help, &m.unit);
    }
    fn commit(self: Box<Self>) -> BoxFuture<'static, Result<(), SinkError>> {
        let app = self.0;
        Box::pin(async move { app.commit().await.map_err(|e| SinkError(e.to_string())) })
    }
}
