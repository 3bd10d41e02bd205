//! The queue: one WAL, one sending loop per endpoint, a truncation loop, and the
//! [`Appender`] scrapes write through.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use parking_lot::Mutex;
use strata_model::{FloatHistogram, Histogram, Labels};
use strata_tsdb::{Exemplar, MetricMetadata, MetricType, SampleValue};
use tokio::runtime::Handle;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::{EndpointConfig, QueueOptions};
use crate::endpoint::{self, EndpointCtx, EndpointShared};
use crate::error::QueueError;
use crate::metrics::QueueMetrics;
use crate::position::Position;
use crate::wal::{Batch, QueueWal};

/// One endpoint as [`Queue::status`] reports it.
#[derive(Clone, Debug, PartialEq)]
pub struct EndpointStatus {
    /// The endpoint's name.
    pub name: String,
    /// Its URL.
    pub url: String,
    /// Everything before this WAL position is acknowledged (sent, refused or dropped).
    pub position: Position,
    /// The WAL head when the status was taken.
    pub head: Position,
    /// Whether everything written so far is acknowledged.
    pub caught_up: bool,
    /// The newest sample timestamp sent successfully, ms.
    pub highest_sent_timestamp_ms: Option<i64>,
    /// The latest send error (kept after recovery, for the pages).
    pub last_error: Option<String>,
    /// WAL bytes behind the position (as of the last cap check).
    pub backlog_bytes: u64,
    /// Samples read and not yet acknowledged.
    pub pending_samples: u64,
    /// Current shard count.
    pub shards: usize,
    /// Samples dropped by the disk caps.
    pub cap_dropped_samples: u64,
}

struct Running {
    cfg: EndpointConfig,
    shared: Arc<EndpointShared>,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

/// The remote-write queue (see the crate docs).
pub struct Queue {
    dir: PathBuf,
    wal: Arc<QueueWal>,
    opts: QueueOptions,
    metrics: Arc<QueueMetrics>,
    endpoints: Mutex<HashMap<String, Running>>,
    truncator: Mutex<Option<JoinHandle<()>>>,
    /// Poked by an endpoint whose disk cap dropped data, so the disk is freed now rather
    /// than at the next `truncate_interval`.
    truncate_soon: Arc<TruncateSoon>,
    rt: Handle,
}

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queue")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl Queue {
    /// Opens the queue in `dir` (`<dir>/wal`, `<dir>/endpoints/<name>/position`) and starts
    /// sending to `endpoints`, each from its stored position (new ones from the head).
    /// Must be called within a tokio runtime.
    pub fn open(
        dir: &Path,
        endpoints: Vec<EndpointConfig>,
        opts: QueueOptions,
    ) -> Result<Arc<Self>, QueueError> {
        let rt = Handle::try_current().map_err(|_| QueueError::Config {
            name: String::new(),
            what: "the queue must be opened within a tokio runtime".into(),
        })?;
        for e in &endpoints {
            e.validate()?;
        }
        let wal = Arc::new(QueueWal::open(
            &dir.join("wal"),
            opts.segment_size,
            opts.fsync,
        )?);
        let metrics = opts.metrics.clone().unwrap_or_default();
        let q = Arc::new(Self {
            dir: dir.to_path_buf(),
            wal,
            opts,
            metrics,
            endpoints: Mutex::new(HashMap::new()),
            truncator: Mutex::new(None),
            truncate_soon: Arc::new(TruncateSoon::default()),
            rt,
        });
        q.apply_endpoints(endpoints);
        let weak = Arc::downgrade(&q);
        let (interval, tick) = (q.opts.truncate_interval, q.opts.tick_interval);
        let soon = Arc::clone(&q.truncate_soon);
        *q.truncator.lock() = Some(q.rt.spawn(async move {
            // Set while a cap drop asked for segments that another endpoint still needs:
            // retried every tick, so they go as soon as it has passed them too.
            let mut behind = false;
            loop {
                let wait = if behind { tick } else { interval };
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = soon.notify.notified() => {}
                }
                let Some(q) = weak.upgrade() else { return };
                match q.truncate_from().await {
                    Ok((_, kept_from)) => {
                        let wanted = soon.segment.load(Ordering::Acquire);
                        behind = wanted > 0 && kept_from.is_none_or(|k| k < wanted);
                    }
                    Err(e) => {
                        tracing::error!(err = %e, "remote queue: wal truncation failed");
                    }
                }
            }
        }));
        Ok(q)
    }

    /// A new appender (one per scrape).
    pub fn appender(self: &Arc<Self>) -> Appender {
        Appender {
            wal: Arc::clone(&self.wal),
            metrics: Arc::clone(&self.metrics),
            batch: Batch::default(),
        }
    }

    /// Applies a new endpoint list (reload): unchanged endpoints keep running, changed
    /// ones restart after the old loop stored its position, removed ones stop. Positions
    /// are kept by name. Endpoints that fail validation are logged and skipped.
    pub fn apply_endpoints(&self, endpoints: Vec<EndpointConfig>) {
        let mut map = self.endpoints.lock();
        let mut wanted: HashMap<String, EndpointConfig> = HashMap::new();
        for e in endpoints {
            if let Err(err) = e.validate() {
                tracing::error!(err = %err, "remote queue: endpoint skipped");
                continue;
            }
            wanted.insert(e.effective_name(), e);
        }
        let names: Vec<String> = map.keys().cloned().collect();
        for name in names {
            if wanted.get(&name) != map.get(&name).map(|r| &r.cfg) {
                if let Some(r) = map.get(&name) {
                    let _ = r.stop.send(true);
                }
                if !wanted.contains_key(&name) {
                    map.remove(&name);
                }
            }
        }
        for (name, cfg) in wanted {
            let previous = match map.get_mut(&name) {
                Some(r) if r.cfg == cfg => continue,
                Some(r) => r.task.take(),
                None => None,
            };
            let dir = self.dir.join("endpoints").join(&name);
            let shared = Arc::new(EndpointShared::new(name.clone(), cfg.url.clone()));
            let start = if previous.is_some() {
                None
            } else {
                match endpoint::start_position(&dir, self.wal.head()) {
                    Ok(p) => {
                        *shared.acked.lock() = p;
                        shared.started.store(true, Ordering::Release);
                        Some(p)
                    }
                    Err(e) => {
                        tracing::error!(endpoint = %name, err = %e, "remote queue: endpoint skipped");
                        continue;
                    }
                }
            };
            let (stop, stop_rx) = watch::channel(false);
            let ctx = EndpointCtx {
                wal: Arc::clone(&self.wal),
                cfg: Arc::new(cfg.clone()),
                opts: self.opts.clone(),
                metrics: Arc::clone(&self.metrics),
                shared: Arc::clone(&shared),
                dir,
                shutdown: stop_rx,
                start,
                truncate_soon: Arc::clone(&self.truncate_soon),
            };
            let task = self.rt.spawn(async move {
                if let Some(p) = previous {
                    let _ = p.await;
                }
                endpoint::run(ctx).await;
            });
            map.insert(
                name,
                Running {
                    cfg,
                    shared,
                    stop,
                    task: Some(task),
                },
            );
        }
    }

    /// Per endpoint: position, newest sent timestamp, last error, backlog.
    pub fn status(&self) -> Vec<EndpointStatus> {
        let head = self.wal.head();
        let mut out: Vec<EndpointStatus> = self
            .endpoints
            .lock()
            .values()
            .map(|r| {
                let s = &r.shared;
                let position = *s.acked.lock();
                let hs = s.highest_sent_ms.load(Ordering::Relaxed);
                EndpointStatus {
                    name: s.name.clone(),
                    url: s.url.clone(),
                    position,
                    head,
                    caught_up: s.started.load(Ordering::Acquire) && position >= head,
                    highest_sent_timestamp_ms: (hs != i64::MIN).then_some(hs),
                    last_error: s.last_error.lock().clone(),
                    backlog_bytes: s.backlog_bytes.load(Ordering::Relaxed),
                    pending_samples: s.pending_samples.load(Ordering::Relaxed),
                    shards: s.shards.load(Ordering::Relaxed),
                    cap_dropped_samples: s.cap_dropped.load(Ordering::Relaxed),
                }
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    /// The WAL head.
    pub fn head(&self) -> Position {
        self.wal.head()
    }

    /// Series the WAL currently tracks.
    pub fn series_count(&self) -> usize {
        self.wal.series_count()
    }

    /// Deletes the WAL segments every endpoint has passed, behind a checkpoint of the
    /// series still needed (runs every `truncate_interval` on its own). Returns the
    /// segments deleted.
    pub async fn truncate(&self) -> Result<usize, QueueError> {
        Ok(self.truncate_from().await?.0)
    }

    /// [`Queue::truncate`], also returning the first segment kept (`None` when an endpoint
    /// has not started yet and nothing was considered).
    async fn truncate_from(&self) -> Result<(usize, Option<u32>), QueueError> {
        let keep_from = {
            let map = self.endpoints.lock();
            let mut min = self.wal.head().segment;
            for r in map.values() {
                if !r.shared.started.load(Ordering::Acquire) {
                    return Ok((0, None));
                }
                min = min.min(r.shared.acked.lock().segment);
            }
            min
        };
        let wal = Arc::clone(&self.wal);
        let deleted = tokio::task::spawn_blocking(move || wal.truncate(keep_from))
            .await
            .map_err(|_| QueueError::Closed)??;
        Ok((deleted, Some(keep_from)))
    }

    /// Stops every endpoint (letting batches in flight finish within the flush deadline)
    /// and stores their positions.
    pub async fn shutdown(&self) {
        if let Some(t) = self.truncator.lock().take() {
            t.abort();
        }
        let tasks: Vec<JoinHandle<()>> = {
            let mut map = self.endpoints.lock();
            map.values_mut()
                .filter_map(|r| {
                    let _ = r.stop.send(true);
                    r.task.take()
                })
                .collect()
        };
        for t in tasks {
            let _ = t.await;
        }
    }
}

impl Drop for Queue {
    /// Stops every task at once without storing anything: what a killed process does.
    fn drop(&mut self) {
        if let Some(t) = self.truncator.lock().take() {
            t.abort();
        }
        for r in self.endpoints.lock().values_mut() {
            if let Some(t) = r.task.take() {
                t.abort();
            }
        }
    }
}

/// How endpoints ask for a truncation before the next `truncate_interval`: after a cap
/// drop, for the segments before `segment`.
#[derive(Debug, Default)]
pub(crate) struct TruncateSoon {
    notify: tokio::sync::Notify,
    segment: std::sync::atomic::AtomicU32,
}

impl TruncateSoon {
    /// Asks for the segments before `segment` to be deleted as soon as every endpoint has
    /// passed them.
    pub fn request(&self, segment: u32) {
        self.segment.fetch_max(segment, Ordering::AcqRel);
        self.notify.notify_one();
    }
}

/// Collects one scrape's data; nothing is written or visible before [`Appender::commit`].
pub struct Appender {
    wal: Arc<QueueWal>,
    metrics: Arc<QueueMetrics>,
    batch: Batch,
}

impl std::fmt::Debug for Appender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Appender")
            .field("samples", &self.batch.samples.len())
            .finish_non_exhaustive()
    }
}

impl Appender {
    /// Adds a float sample (a stale marker is `strata_model::STALE_NAN`).
    pub fn append(&mut self, labels: &Labels, t_ms: i64, v: f64) {
        self.batch.samples.push((labels.clone(), t_ms, v));
    }

    /// Adds an integer native histogram sample.
    pub fn append_histogram(&mut self, labels: &Labels, t_ms: i64, h: &Histogram) {
        self.batch.histograms.push((
            labels.clone(),
            t_ms,
            SampleValue::Histogram(Box::new(h.clone())),
        ));
    }

    /// Adds a float native histogram sample.
    pub fn append_float_histogram(&mut self, labels: &Labels, t_ms: i64, h: &FloatHistogram) {
        self.batch.histograms.push((
            labels.clone(),
            t_ms,
            SampleValue::FloatHistogram(Box::new(h.clone())),
        ));
    }

    /// Adds an exemplar of the series `labels`.
    pub fn append_exemplar(&mut self, labels: &Labels, e: Exemplar) {
        self.batch.exemplars.push((labels.clone(), e));
    }

    /// Records a metric family's metadata (written only when it changed).
    pub fn append_metadata(
        &mut self,
        metric_family: &str,
        typ: MetricType,
        help: &str,
        unit: &str,
    ) {
        self.batch.metadata.push(MetricMetadata {
            metric_family_name: metric_family.to_string(),
            metric_type: typ,
            help: help.to_string(),
            unit: unit.to_string(),
        });
    }

    /// Samples and histograms added so far.
    pub fn len(&self) -> usize {
        self.batch.samples.len() + self.batch.histograms.len()
    }

    /// Whether nothing was added.
    pub fn is_empty(&self) -> bool {
        self.batch.is_empty()
    }

    /// Writes everything added to the WAL. When it returns `Ok` the data survives the
    /// process being killed (page cache; with `QueueOptions::fsync`, a power loss too).
    pub async fn commit(self) -> Result<(), QueueError> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let max_t = self.batch.max_t();
        let wal = self.wal;
        let batch = self.batch;
        tokio::task::spawn_blocking(move || wal.commit(batch))
            .await
            .map_err(|_| QueueError::Closed)??;
        if let Some(t) = max_t {
            let g = &self.metrics.highest_timestamp;
            let secs = t as f64 / 1000.0;
            if secs > g.get() {
                g.set(secs);
            }
        }
        Ok(())
    }

    /// Discards everything added.
    pub fn rollback(self) {}
}
