//! One endpoint's sending loop: reads the WAL from its acknowledged position, turns records
//! into per-shard batches, tracks them until every shard acknowledged them, moves and
//! persists the position, enforces the endpoint's disk caps and scales its shards.
//!
//! ```text
//!  WalReader ──records──> chunk (all data read in one go, its end Position)
//!     │                     ├─ series hashed to shard i ─> shard i ─> HTTP POST
//!     │                     └─ pending batch count
//!  acks <──────────────────────── shards
//!  front chunks fully acked ─> acked Position ─(≤ 1/s)─> endpoints/<name>/position
//! ```
//!
//! Disk caps: when the WAL behind the acknowledged position exceeds `max_disk_bytes`, or
//! its oldest segment was last written more than `max_age` ago, the endpoint gives up the
//! oldest whole segments: batches in flight are abandoned (a new generation), records up to
//! the new start are read (their series are still needed) without sending, and every sample
//! not sent is counted in `strata_remote_queue_dropped_samples_total{reason}`. Once the
//! position has passed the dropped data the queue's truncation is woken, so the disk is
//! freed then rather than at the next `truncate_interval`.
//!
//! Shards (a simple form of Prometheus's `desiredShards`): every `reshard_interval`,
//! `desired = seconds per sample per request × (samples read per second + samples pending /
//! interval)`, clamped to `[min_shards, max_shards]`; it is applied when it differs by more
//! than 30 % and no request was retried in the interval, after the batches in flight drain.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use parking_lot::Mutex;
use strata_model::{Label, Labels};
use strata_tsdb::record::Record;
use strata_tsdb::MetricMetadata;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use crate::config::{EndpointConfig, Protocol, QueueOptions};
use crate::error::QueueError;
use crate::metrics::{DropLabels, EndpointLabels, QueueMetrics};
use crate::position::{self, Position};
use crate::reader::WalReader;
use crate::request::{family_metadata, Item, SeriesInfo};
use crate::shard::{self, Ack, Outcome, Sender, ShardBatch};
use crate::wal::QueueWal;

/// An endpoint's state as others see it (status, truncation).
#[derive(Debug)]
pub(crate) struct EndpointShared {
    pub name: String,
    pub url: String,
    pub acked: Mutex<Position>,
    pub highest_sent_ms: AtomicI64,
    pub last_error: Mutex<Option<String>>,
    pub backlog_bytes: AtomicU64,
    pub pending_samples: AtomicU64,
    pub shards: AtomicUsize,
    pub cap_dropped: AtomicU64,
    pub retries: AtomicU64,
    pub started: std::sync::atomic::AtomicBool,
}

impl EndpointShared {
    pub fn new(name: String, url: String) -> Self {
        Self {
            name,
            url,
            acked: Mutex::new(Position::default()),
            highest_sent_ms: AtomicI64::new(i64::MIN),
            last_error: Mutex::new(None),
            backlog_bytes: AtomicU64::new(0),
            pending_samples: AtomicU64::new(0),
            shards: AtomicUsize::new(0),
            cap_dropped: AtomicU64::new(0),
            retries: AtomicU64::new(0),
            started: std::sync::atomic::AtomicBool::new(false),
        }
    }
}

/// What an endpoint task is started with.
pub(crate) struct EndpointCtx {
    pub wal: Arc<QueueWal>,
    pub cfg: Arc<EndpointConfig>,
    pub opts: QueueOptions,
    pub metrics: Arc<QueueMetrics>,
    pub shared: Arc<EndpointShared>,
    pub dir: PathBuf,
    pub shutdown: watch::Receiver<bool>,
    /// Where to start (see [`start_position`]); `None`: find it when the loop starts (after
    /// the loop it replaces has stored its position).
    pub start: Option<Position>,
    /// Wakes the queue's truncation once a cap drop has moved the position.
    pub truncate_soon: Arc<crate::queue::TruncateSoon>,
}

/// The position an endpoint starts from: the stored one, or for a new endpoint the current
/// head (stored at once), as Prometheus sends only what is written after an endpoint is
/// added. Blocking (small file I/O), so that data committed right after `Queue::open` or
/// `apply_endpoints` is never skipped.
pub(crate) fn start_position(
    dir: &std::path::Path,
    head: Position,
) -> Result<Position, QueueError> {
    match position::load(dir) {
        Some(p) => Ok(p),
        None => {
            position::store(dir, head)?;
            Ok(head)
        }
    }
}

struct Chunk {
    id: u64,
    end: Position,
    pending: usize,
    samples: u64,
}

struct Endpoint {
    ctx: EndpointCtx,
    labels: EndpointLabels,
    sender: Arc<Sender>,
    reader: Option<WalReader>,
    read_pos: Position,
    resume_until: Position,
    drop_until: Option<(Position, &'static str)>,
    /// A cap drop's target: once the acknowledged position reaches its segment, truncation
    /// is woken.
    truncate_at: Option<Position>,
    acked: Position,
    persisted: Position,
    last_persist: Instant,
    inflight: VecDeque<Chunk>,
    inflight_samples: u64,
    next_chunk: u64,
    gen: u64,
    cancel: watch::Sender<u64>,
    shards: Vec<mpsc::UnboundedSender<ShardBatch>>,
    shard_tasks: JoinSet<()>,
    ack_tx: mpsc::UnboundedSender<Ack>,
    ack_rx: mpsc::UnboundedReceiver<Ack>,
    cache: HashMap<u64, Option<Arc<SeriesInfo>>>,
    reshard_to: Option<usize>,
    last_reshard: Instant,
    samples_in: u64,
    samples_out: u64,
    send_time: Duration,
    retries_seen: u64,
    last_tick: Instant,
}

/// Runs an endpoint until shutdown.
pub(crate) async fn run(ctx: EndpointCtx) {
    let name = ctx.shared.name.clone();
    match Endpoint::start(ctx).await {
        Ok(mut ep) => ep.run().await,
        Err(e) => {
            tracing::error!(endpoint = %name, err = %e, "remote queue: endpoint failed to start")
        }
    }
}

impl Endpoint {
    async fn start(ctx: EndpointCtx) -> Result<Self, QueueError> {
        let config_err = |what: String| QueueError::Config {
            name: ctx.shared.name.clone(),
            what,
        };
        let client = strata_httpclient::builder(&ctx.cfg.tls)
            .map_err(|e| config_err(e.to_string()))?
            .build()
            .map_err(|e| config_err(format!("http client: {e}")))?;
        let labels = EndpointLabels {
            remote_name: ctx.shared.name.clone(),
            url: ctx.cfg.url.clone(),
        };
        let sender = Arc::new(Sender {
            client,
            cfg: Arc::clone(&ctx.cfg),
            shared: Arc::clone(&ctx.shared),
            metrics: Arc::clone(&ctx.metrics),
            labels: labels.clone(),
        });
        let pos = match ctx.start {
            Some(p) => p,
            None => {
                let (dir, head) = (ctx.dir.clone(), ctx.wal.head());
                tokio::task::spawn_blocking(move || start_position(&dir, head))
                    .await
                    .map_err(|_| QueueError::Closed)??
            }
        };
        *ctx.shared.acked.lock() = pos;
        ctx.shared.started.store(true, Ordering::Release);
        let (cancel, _) = watch::channel(0u64);
        let (ack_tx, ack_rx) = mpsc::unbounded_channel();
        tracing::info!(endpoint = %ctx.shared.name, url = %ctx.cfg.url, position = %pos, "remote queue: endpoint starting");
        let mut ep = Self {
            labels,
            sender,
            reader: None,
            read_pos: pos,
            resume_until: pos,
            drop_until: None,
            truncate_at: None,
            acked: pos,
            persisted: pos,
            last_persist: Instant::now(),
            inflight: VecDeque::new(),
            inflight_samples: 0,
            next_chunk: 0,
            gen: 0,
            cancel,
            shards: Vec::new(),
            shard_tasks: JoinSet::new(),
            ack_tx,
            ack_rx,
            cache: HashMap::new(),
            reshard_to: None,
            last_reshard: Instant::now(),
            samples_in: 0,
            samples_out: 0,
            send_time: Duration::ZERO,
            retries_seen: 0,
            last_tick: Instant::now(),
            ctx,
        };
        ep.spawn_shards(ep.ctx.cfg.queue.min_shards);
        Ok(ep)
    }

    fn spawn_shards(&mut self, n: usize) {
        self.shards.clear();
        for _ in 0..n {
            let (tx, rx) = mpsc::unbounded_channel();
            self.shards.push(tx);
            self.shard_tasks.spawn(shard::run(
                Arc::clone(&self.sender),
                rx,
                self.ack_tx.clone(),
                self.cancel.subscribe(),
            ));
        }
        self.ctx.shared.shards.store(n, Ordering::Relaxed);
        self.ctx
            .metrics
            .shards
            .get_or_create(&self.labels)
            .set(n as i64);
    }

    async fn run(&mut self) {
        let mut head_rx = self.ctx.wal.subscribe();
        let mut shutdown = self.ctx.shutdown.clone();
        loop {
            while let Ok(a) = self.ack_rx.try_recv() {
                self.on_ack(a);
            }
            self.complete();
            if self.last_tick.elapsed() >= self.ctx.opts.tick_interval {
                self.last_tick = Instant::now();
                self.check_caps();
                self.maybe_reshard();
            }
            self.persist(false).await;
            if *shutdown.borrow() {
                break;
            }
            if let Some(n) = self.reshard_to {
                if self.inflight.is_empty() {
                    self.reshard_to = None;
                    tracing::info!(endpoint = %self.labels.remote_name, from = self.shards.len(), to = n, "remote queue: resharding");
                    self.spawn_shards(n);
                }
            }
            let more = self.can_read() && self.read_chunk().await;
            if !more {
                tokio::select! {
                    _ = shutdown.changed() => {}
                    a = self.ack_rx.recv() => if let Some(a) = a { self.on_ack(a) },
                    _ = head_rx.changed() => {}
                    _ = tokio::time::sleep(self.ctx.opts.tick_interval) => {}
                }
            }
        }
        self.flush_and_stop().await;
    }

    fn can_read(&self) -> bool {
        let cap = (self.ctx.cfg.queue.capacity.max(1) * self.shards.len().max(1)) as u64;
        self.reshard_to.is_none() && (self.inflight_samples < cap || self.drop_until.is_some())
    }

    /// Reads the next records and hands their data to the shards; `true` when more may be
    /// ready at once.
    async fn read_chunk(&mut self) -> bool {
        let reader = match self.reader.take() {
            Some(r) => r,
            None => {
                let wal = Arc::clone(&self.ctx.wal);
                match tokio::task::spawn_blocking(move || WalReader::start(&wal)).await {
                    Ok(Ok(r)) => r,
                    Ok(Err(e)) => {
                        self.set_error(format!("start wal reader: {e}"));
                        return false;
                    }
                    Err(e) => {
                        self.set_error(format!("start wal reader: {e}"));
                        return false;
                    }
                }
            }
        };
        let head = self.ctx.wal.head();
        let want = (self.ctx.cfg.queue.max_samples_per_send * self.shards.len().max(1)) as u64;
        let res = tokio::task::spawn_blocking(move || {
            let mut reader = reader;
            let mut out = Vec::new();
            let mut n = 0u64;
            let mut err = None;
            let mut exhausted = false;
            while n < want {
                match reader.next(head) {
                    Ok(Some((rec, pos))) => {
                        n += data_len(&rec);
                        out.push((rec, pos));
                    }
                    Ok(None) => {
                        exhausted = true;
                        break;
                    }
                    Err(e) => {
                        err = Some(e);
                        break;
                    }
                }
            }
            (reader, out, exhausted, err)
        })
        .await;
        let (reader, recs, exhausted, err) = match res {
            Ok(v) => v,
            Err(e) => {
                self.set_error(format!("read wal: {e}"));
                return false;
            }
        };
        self.reader = Some(reader);
        if let Some(e) = &err {
            self.set_error(format!("read wal: {e}"));
        }
        if !recs.is_empty() {
            self.dispatch(recs);
        }
        if exhausted && err.is_none() && head > self.read_pos {
            // Everything committed has been read (a fresh segment after a restart or a cut
            // holds nothing yet).
            if self.drop_until.is_some_and(|(until, _)| until <= head) {
                self.drop_until = None;
            }
            self.read_pos = head;
        }
        !exhausted && err.is_none()
    }

    fn set_error(&self, e: String) {
        tracing::error!(endpoint = %self.labels.remote_name, err = %e, "remote queue: endpoint error");
        *self.ctx.shared.last_error.lock() = Some(e);
    }

    /// The labels an endpoint sends for `r`, `None` when relabelling drops the series.
    fn series_info(&mut self, r: u64) -> Option<Arc<SeriesInfo>> {
        if let Some(s) = self.cache.get(&r) {
            return s.clone();
        }
        let reader = self.reader.as_ref()?;
        let Some(base) = reader.series.get(&r) else {
            tracing::warn!(endpoint = %self.labels.remote_name, series_ref = r, "remote queue: sample of an unknown series skipped");
            return None;
        };
        let cfg = &self.ctx.cfg;
        let mut labels = base.clone();
        if !cfg.external_labels.is_empty() {
            let mut v: Vec<Label> = labels.into_vec();
            for l in cfg.external_labels.iter() {
                if !v.iter().any(|x| x.name == l.name) {
                    v.push(l.clone());
                }
            }
            labels = Labels::new(v);
        }
        let info = strata_relabel::process(&labels, &cfg.write_relabel_configs)
            .filter(|l| !l.is_empty())
            .map(|labels| {
                let metadata = match cfg.protocol {
                    Protocol::V2 => labels
                        .metric_name()
                        .and_then(|n| family_metadata(&reader.metadata, n)),
                    Protocol::V1 => None,
                };
                Arc::new(SeriesInfo { labels, metadata })
            });
        self.cache.insert(r, info.clone());
        info
    }

    fn shard_of(&self, r: u64) -> usize {
        let h = r.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32;
        (h % self.shards.len().max(1) as u64) as usize
    }

    /// Turns records into shard batches of one new chunk.
    fn dispatch(&mut self, recs: Vec<(Record, Position)>) {
        let nshards = self.shards.len().max(1);
        let mut per_shard: Vec<Vec<Item>> = (0..nshards).map(|_| Vec::new()).collect();
        let mut metadata: Vec<MetricMetadata> = Vec::new();
        let mut samples = 0u64;
        let mut relabel_dropped = 0u64;
        let mut cap_dropped: HashMap<&'static str, u64> = HashMap::new();
        let mut end = self.read_pos;
        let cfg = Arc::clone(&self.ctx.cfg);
        for (rec, pos) in recs {
            let prev_end = end;
            end = pos;
            if pos <= self.resume_until {
                continue;
            }
            if let Some((until, reason)) = self.drop_until {
                if pos <= until {
                    *cap_dropped.entry(reason).or_default() += data_len(&rec);
                    continue;
                }
                self.drop_until = None;
                // Nothing was collected before this record (all of it was dropped): the
                // dropped part is a chunk of its own, done at once, so the position passes
                // it without waiting for the data after it to be acknowledged. It ends at
                // `until` (a segment start or a head: no record spans it), so that a drop
                // to a segment start moves the position into that segment.
                let dropped_end = prev_end.max(until);
                if dropped_end > self.read_pos {
                    self.inflight.push_back(Chunk {
                        id: self.next_chunk,
                        end: dropped_end,
                        pending: 0,
                        samples: 0,
                    });
                    self.next_chunk += 1;
                }
            }
            match rec {
                Record::Samples { samples: ss, .. } => {
                    for s in ss {
                        self.samples_in += 1;
                        match self.series_info(s.series_ref) {
                            Some(series) => {
                                samples += 1;
                                let i = self.shard_of(s.series_ref);
                                per_shard[i].push(Item::Sample {
                                    series,
                                    t: s.t,
                                    v: s.v,
                                });
                            }
                            None => relabel_dropped += 1,
                        }
                    }
                }
                Record::Histograms { samples: hs, .. } if cfg.send_native_histograms => {
                    for h in hs {
                        self.samples_in += 1;
                        match self.series_info(h.series_ref) {
                            Some(series) => {
                                samples += 1;
                                let i = self.shard_of(h.series_ref);
                                per_shard[i].push(Item::Histogram {
                                    series,
                                    t: h.t,
                                    h: h.h,
                                });
                            }
                            None => relabel_dropped += 1,
                        }
                    }
                }
                Record::Exemplars { exemplars, .. } if cfg.send_exemplars => {
                    for e in exemplars {
                        if let Some(series) = self.series_info(e.series_ref) {
                            let i = self.shard_of(e.series_ref);
                            per_shard[i].push(Item::Exemplar {
                                series,
                                t: e.t,
                                v: e.v,
                                labels: e.labels,
                            });
                        }
                    }
                }
                Record::Metadata { entries, .. } => {
                    if cfg.protocol == Protocol::V2 {
                        // New metadata: rebuild series so it is attached.
                        self.cache.clear();
                    } else {
                        metadata.extend(entries);
                    }
                }
                Record::Series { series, .. } => {
                    for (r, _) in series {
                        self.cache.remove(&r);
                    }
                }
                _ => {}
            }
        }
        self.read_pos = end;
        if relabel_dropped > 0 {
            self.ctx
                .metrics
                .samples_dropped
                .get_or_create(&self.labels)
                .inc_by(relabel_dropped);
        }
        for (reason, n) in cap_dropped {
            self.count_cap_drop(reason, n);
        }
        let id = self.next_chunk;
        self.next_chunk += 1;
        let mut pending = 0;
        let max = cfg.queue.max_samples_per_send.max(1);
        for (i, items) in per_shard.into_iter().enumerate() {
            let mut items = items.into_iter().peekable();
            while items.peek().is_some() {
                let batch: Vec<Item> = items.by_ref().take(max).collect();
                let md = if i == 0 && pending == 0 {
                    std::mem::take(&mut metadata)
                } else {
                    Vec::new()
                };
                self.send_to(i, id, batch, md, &mut pending);
            }
        }
        if !metadata.is_empty() {
            self.send_to(0, id, Vec::new(), metadata, &mut pending);
        }
        self.inflight.push_back(Chunk {
            id,
            end,
            pending,
            samples,
        });
        self.inflight_samples += samples;
        self.update_pending();
    }

    fn send_to(
        &mut self,
        shard: usize,
        chunk: u64,
        items: Vec<Item>,
        metadata: Vec<MetricMetadata>,
        pending: &mut usize,
    ) {
        let b = ShardBatch {
            chunk,
            gen: self.gen,
            items,
            metadata,
        };
        if self.shards[shard].send(b).is_ok() {
            *pending += 1;
        }
    }

    fn update_pending(&self) {
        self.ctx
            .shared
            .pending_samples
            .store(self.inflight_samples, Ordering::Relaxed);
        self.ctx
            .metrics
            .samples_pending
            .get_or_create(&self.labels)
            .set(self.inflight_samples as i64);
    }

    fn count_cap_drop(&self, reason: &'static str, n: u64) {
        if n == 0 {
            return;
        }
        self.ctx.shared.cap_dropped.fetch_add(n, Ordering::Relaxed);
        self.ctx
            .metrics
            .cap_dropped_samples
            .get_or_create(&DropLabels {
                endpoint: self.labels.remote_name.clone(),
                reason: reason.to_string(),
            })
            .inc_by(n);
    }

    fn on_ack(&mut self, a: Ack) {
        if a.gen < self.gen {
            return;
        }
        match a.outcome {
            Outcome::Sent => {
                self.samples_out += a.samples;
                self.send_time += a.send_time;
                if let Some(t) = a.max_t {
                    let prev = self
                        .ctx
                        .shared
                        .highest_sent_ms
                        .fetch_max(t, Ordering::Relaxed);
                    if t > prev {
                        self.ctx
                            .metrics
                            .highest_sent_timestamp
                            .get_or_create(&self.labels)
                            .set(t as f64 / 1000.0);
                    }
                }
            }
            Outcome::Dropped => {}
            // Abandoned, not done: never lets the position pass unsent data.
            Outcome::Cancelled => return,
        }
        let Some(front) = self.inflight.front().map(|c| c.id) else {
            return;
        };
        let Some(idx) = a.chunk.checked_sub(front) else {
            return;
        };
        if let Some(c) = self.inflight.get_mut(idx as usize) {
            c.pending = c.pending.saturating_sub(1);
        }
    }

    /// Pops fully acknowledged chunks and moves the acknowledged position.
    fn complete(&mut self) {
        let mut moved = false;
        while self.inflight.front().is_some_and(|c| c.pending == 0) {
            if let Some(c) = self.inflight.pop_front() {
                self.inflight_samples -= c.samples.min(self.inflight_samples);
                self.acked = c.end;
                moved = true;
            }
        }
        if self.inflight.is_empty() && self.read_pos > self.acked {
            self.acked = self.read_pos;
            moved = true;
        }
        if moved {
            *self.ctx.shared.acked.lock() = self.acked;
            self.update_pending();
        }
        // Truncation deletes whole segments: reaching the target's segment is enough.
        if let Some(t) = self.truncate_at.filter(|t| self.acked.segment >= t.segment) {
            self.truncate_at = None;
            self.ctx.truncate_soon.request(t.segment);
        }
    }

    async fn persist(&mut self, force: bool) {
        if self.acked == self.persisted {
            return;
        }
        if !force && self.last_persist.elapsed() < self.ctx.opts.position_sync_interval {
            return;
        }
        let (dir, pos) = (self.ctx.dir.clone(), self.acked);
        match tokio::task::spawn_blocking(move || position::store(&dir, pos)).await {
            Ok(Ok(())) => {
                self.persisted = pos;
                self.last_persist = Instant::now();
            }
            Ok(Err(e)) => self.set_error(format!("store position: {e}")),
            Err(e) => self.set_error(format!("store position: {e}")),
        }
    }

    /// Applies the disk caps (see the module docs).
    fn check_caps(&mut self) {
        let cfg = &self.ctx.cfg;
        let segs = self.ctx.wal.segment_sizes(self.acked.segment);
        let mut backlog: u64 = segs.iter().map(|s| s.1).sum();
        if segs.first().is_some_and(|s| s.0 == self.acked.segment) {
            backlog = backlog.saturating_sub(self.acked.offset);
        }
        self.ctx
            .shared
            .backlog_bytes
            .store(backlog, Ordering::Relaxed);
        let head = self.ctx.wal.head();
        let next_start = |i: usize| {
            segs.get(i + 1)
                .map(|s| Position {
                    segment: s.0,
                    offset: 0,
                })
                .unwrap_or(head)
        };
        let mut target: Option<(Position, &'static str)> = None;
        if cfg.max_disk_bytes > 0 && backlog > cfg.max_disk_bytes {
            let mut left = backlog;
            for (i, s) in segs.iter().enumerate() {
                let part = if s.0 == self.acked.segment {
                    s.1.saturating_sub(self.acked.offset)
                } else {
                    s.1
                };
                left = left.saturating_sub(part);
                if left <= cfg.max_disk_bytes || i + 1 == segs.len() {
                    target = Some((next_start(i), "disk_cap"));
                    break;
                }
            }
        }
        if !cfg.max_age.is_zero() {
            let cutoff = SystemTime::now().checked_sub(cfg.max_age);
            let mut age_target = None;
            for (i, s) in segs.iter().enumerate() {
                if cutoff.is_some_and(|c| s.2 < c) {
                    age_target = Some(next_start(i));
                } else {
                    break;
                }
            }
            if let Some(p) = age_target {
                if target.is_none_or(|(t, _)| p > t) {
                    target = Some((p, "age"));
                }
            }
        }
        if let Some((t, reason)) = target {
            self.drop_to(t, reason);
        }
    }

    fn drop_to(&mut self, target: Position, reason: &'static str) {
        if target <= self.acked {
            return;
        }
        tracing::warn!(endpoint = %self.labels.remote_name, from = %self.acked, to = %target, reason, "remote queue: cap exceeded, dropping oldest data");
        self.gen += 1;
        self.cancel.send_replace(self.gen);
        let lost: u64 = self.inflight.iter().map(|c| c.samples).sum();
        self.count_cap_drop(reason, lost);
        self.inflight.clear();
        self.inflight_samples = 0;
        if target > self.read_pos {
            self.drop_until = Some((target, reason));
        }
        self.truncate_at = Some(target);
        self.acked = self.read_pos;
        *self.ctx.shared.acked.lock() = self.acked;
        self.update_pending();
    }

    fn maybe_reshard(&mut self) {
        let elapsed = self.last_reshard.elapsed();
        if elapsed < self.ctx.opts.reshard_interval || self.reshard_to.is_some() {
            return;
        }
        let q = &self.ctx.cfg.queue;
        let cur = self.shards.len().max(1);
        let secs = elapsed.as_secs_f64().max(1e-3);
        let desired = if self.samples_out > 0 {
            let per_sample = self.send_time.as_secs_f64() / self.samples_out as f64;
            let demand = self.samples_in as f64 / secs + self.inflight_samples as f64 / secs;
            (per_sample * demand).ceil() as usize
        } else {
            cur
        };
        let desired = desired.clamp(q.min_shards, q.max_shards);
        let change = (desired as f64 - cur as f64).abs() / cur as f64;
        let retries = self.ctx.shared.retries.load(Ordering::Relaxed);
        let retried = retries != self.retries_seen;
        self.retries_seen = retries;
        if desired != cur && change > 0.3 && !retried {
            self.reshard_to = Some(desired);
        }
        self.last_reshard = Instant::now();
        self.samples_in = 0;
        self.samples_out = 0;
        self.send_time = Duration::ZERO;
    }

    /// On shutdown: lets what is in flight finish (up to the flush deadline), abandons the
    /// rest, stores the position.
    async fn flush_and_stop(&mut self) {
        let deadline = Instant::now() + self.ctx.opts.flush_deadline;
        while !self.inflight.is_empty() && Instant::now() < deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.ack_rx.recv()).await {
                Ok(Some(a)) => {
                    self.on_ack(a);
                    self.complete();
                }
                _ => break,
            }
        }
        self.complete();
        self.cancel.send_replace(u64::MAX);
        self.shards.clear();
        while self.shard_tasks.join_next().await.is_some() {}
        self.persist(true).await;
        tracing::info!(endpoint = %self.labels.remote_name, position = %self.acked, "remote queue: endpoint stopped");
    }
}

/// Samples, histograms and exemplars in a record.
fn data_len(rec: &Record) -> u64 {
    match rec {
        Record::Samples { samples, .. } => samples.len() as u64,
        Record::Histograms { samples, .. } => samples.len() as u64,
        _ => 0,
    }
}
