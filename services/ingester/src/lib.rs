//! The ingester: every tenant's in-memory head, made durable by one write-ahead log, behind
//! the internal gRPC `Ingester` service.
//!
//! ```text
//!   distributor ──Push──► Ingester::push ─► Db (tenant → Head) ─► HeadAppender::commit
//!                          (answers only once the WAL group commit holding it is fsynced)
//!   querier ──QueryStream / LabelNames / LabelValues / Series / MetricsMetadata──►
//!            DbQuerier over the tenant's head and blocks ─► batches of ChunkedSeries
//! ```
//!
//! Key types: [`Ingester`] (the service; build its tonic server with [`Ingester::server`]),
//! [`IngesterConfig`], [`IngesterMetrics`]; wire ⇄ model conversions live in [`convert`].
//! A distributor in the same process pushes float-only series by function call instead,
//! borrowed from its request buffer ([`Ingester::push_flat`], answered as `Push` would be).
//!
//! Invariants: the tenant in every request is validated with [`strata_model::TenantId::new`]
//! (invalid → `INVALID_ARGUMENT`); a push never fails as a whole for bad samples: the valid
//! ones are stored and the response counts the refused ones and names the first
//! [`push::MAX_REPORTED_ERRORS`]. No input panics the process.
//!
//! Durability: [`Ingester::new`] opens the database in `wal_dir` (default `<data_dir>/wal`),
//! replaying the WAL before the ingester exists, so nothing is served before replay ends.
//! A push is acknowledged only after its samples are fsynced; a WAL failure fails the push
//! with `UNAVAILABLE` (the distributor answers 5xx).
//!
//! Blocks: each tenant's blocks live in `<data_dir>/tsdb/<tenant>/<ULID>/` (Mimir's layout),
//! opened at start-up (unreadable ones quarantined, `strata_ingester_blocks_quarantined_total`).
//! Queries read head and blocks merged. A background task (every `block_cut_interval`) cuts
//! old 2-hour ranges of the heads into blocks, truncates the heads and checkpoints the WAL;
//! [`Ingester::flush`] (HTTP `POST /ingester/flush`) cuts everything now.
//!
//! Native histograms (integer and float, remote write 1.0 and 2.0) are validated
//! ([`native`]) and stored in histogram chunks; exemplars go to each tenant's circular
//! exemplar store (`max_exemplars`, default 100000) and are served by the
//! `QueryExemplars` RPC; out-of-order float samples within `out_of_order_time_window` are
//! kept (see `strata_tsdb`). Both settings can be overridden per tenant
//! (`tenant_overrides`).
//!
//! Series limits: per tenant and per metric name, this ingester's share of the global
//! limits, set by the binary ([`Ingester::set_series_limits`], see [`limits`]); a new series
//! over them is refused with an error naming the limit, existing ones keep accepting.
//!
//! Not yet: block retention and shipping.

pub mod convert;
mod error;
pub mod limits;
mod metrics;
pub mod native;
pub mod push;
mod push_flat;
mod service;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use strata_model::TenantId;
use strata_proto::ingester::ingester_server::IngesterServer;
use strata_tsdb::{CompactStats, Db, DbOptions, HeadOptions, TenantHeadOptions};

pub use error::{IngesterError, LabelsError};
pub use metrics::{FailureLabels, IngesterMetrics, TenantLabels, WalMetrics};
pub use service::SeriesBatches;

/// The ingester's configuration. Unknown keys are errors; missing keys take the defaults.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct IngesterConfig {
    /// Series per `QueryStream` message.
    pub query_stream_batch_size: usize,
    /// Largest gRPC request the ingester accepts, in bytes (a push of many series).
    pub max_recv_message_size_bytes: usize,
    /// The WAL directory; empty means `<data_dir>/wal`.
    pub wal_dir: String,
    /// Largest WAL segment file, in bytes; a positive multiple of 32 KiB.
    pub wal_segment_size: u64,
    /// How often the heads are checked for 2-hour ranges old enough to cut into blocks
    /// (a Prometheus duration string in YAML, default `1m`; `0s` disables the check).
    #[serde(with = "strata_config::duration")]
    pub block_cut_interval: Duration,
    /// How far behind a tenant's newest sample an out-of-order float sample is still
    /// accepted (`-ingester.out-of-order-time-window`, Prometheus's
    /// `out_of_order_time_window`); `0s` refuses out-of-order samples.
    #[serde(with = "strata_config::duration")]
    pub out_of_order_time_window: Duration,
    /// Exemplars kept per tenant, in a circular buffer (`-ingester.max-exemplars`); 0 keeps
    /// none.
    pub max_exemplars: usize,
    /// Per-tenant overrides of the two settings above, by tenant id (YAML only).
    pub tenant_overrides: BTreeMap<String, TenantOverrides>,
}

/// One tenant's overrides; unset fields take the ingester-wide value.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct TenantOverrides {
    /// The tenant's out-of-order window (a Prometheus duration string).
    #[serde(with = "opt_duration", skip_serializing_if = "Option::is_none")]
    pub out_of_order_time_window: Option<Duration>,
    /// The tenant's exemplar buffer size.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_exemplars: Option<usize>,
}

mod opt_duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => strata_config::duration::serialize(d, s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        match Option::<String>::deserialize(d)? {
            None => Ok(None),
            Some(s) => strata_config::duration::parse_duration(&s)
                .map(Some)
                .map_err(serde::de::Error::custom),
        }
    }
}

fn duration_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl Default for IngesterConfig {
    fn default() -> Self {
        Self {
            query_stream_batch_size: 128,
            max_recv_message_size_bytes: 100 << 20,
            wal_dir: String::new(),
            wal_segment_size: 128 << 20,
            block_cut_interval: Duration::from_secs(60),
            out_of_order_time_window: Duration::ZERO,
            max_exemplars: strata_tsdb::DEFAULT_MAX_EXEMPLARS,
            tenant_overrides: BTreeMap::new(),
        }
    }
}

impl IngesterConfig {
    /// The heads' options: the ingester-wide values and each tenant's overrides.
    pub fn head_options(&self) -> TenantHeadOptions {
        let defaults = HeadOptions {
            out_of_order_time_window_ms: duration_ms(self.out_of_order_time_window),
            max_exemplars: self.max_exemplars,
        };
        let overrides = self
            .tenant_overrides
            .iter()
            .map(|(t, o)| {
                let opts = HeadOptions {
                    out_of_order_time_window_ms: o
                        .out_of_order_time_window
                        .map(duration_ms)
                        .unwrap_or(defaults.out_of_order_time_window_ms),
                    max_exemplars: o.max_exemplars.unwrap_or(defaults.max_exemplars),
                };
                (t.clone(), opts)
            })
            .collect();
        TenantHeadOptions {
            defaults,
            overrides,
        }
    }

    /// The WAL directory for `data_dir`.
    pub fn wal_dir(&self, data_dir: &Path) -> PathBuf {
        if self.wal_dir.is_empty() {
            data_dir.join("wal")
        } else {
            PathBuf::from(&self.wal_dir)
        }
    }
}

/// The ingester: owns every tenant's head and serves the `Ingester` gRPC service.
pub struct Ingester {
    cfg: IngesterConfig,
    db: Db,
    metrics: IngesterMetrics,
    /// Set once the background block cutter is running.
    cutter_started: AtomicBool,
    /// Each tenant's series limits, when set (see [`limits`]).
    series_limits: OnceLock<limits::SeriesLimitsFn>,
}

impl Ingester {
    /// Creates an ingester, registering its metrics into `registry`: opens the database in
    /// the WAL directory (see [`IngesterConfig::wal_dir`]) and replays it, which blocks until
    /// done. Fails when the WAL cannot be read or repaired.
    pub fn new(
        cfg: IngesterConfig,
        data_dir: &Path,
        registry: &mut prometheus_client::registry::Registry,
    ) -> Result<Self, IngesterError> {
        let metrics = IngesterMetrics::new(registry);
        let dir = cfg.wal_dir(data_dir);
        let opts = DbOptions {
            wal_dir: Some(dir.clone()),
            wal_segment_size: cfg.wal_segment_size,
            wal_observer: Some(Arc::new(metrics.wal.clone())),
            head: cfg.head_options(),
            ..Default::default()
        };
        let db = Db::open(data_dir, opts).map_err(|source| IngesterError::Open { dir, source })?;
        metrics
            .blocks_quarantined
            .inc_by(db.block_load_stats().quarantined);
        let st = db.replay_stats();
        metrics.wal.replay_records.inc_by(st.records);
        metrics.wal.corruptions.inc_by(st.corruptions);
        for (tenant, n) in db.series_per_tenant() {
            metrics
                .memory_series
                .get_or_create(&TenantLabels {
                    tenant: tenant.to_string(),
                })
                .set(n as i64);
        }
        Ok(Self {
            cfg,
            db,
            metrics,
            cutter_started: AtomicBool::new(false),
            series_limits: OnceLock::new(),
        })
    }

    /// The tonic service for this ingester, to add to a `tonic::transport::Server`. The
    /// first call also starts the background block cutter (see
    /// [`Ingester::start_block_cutter`]); it must run inside a tokio runtime.
    pub fn server(self: &Arc<Self>) -> IngesterServer<Ingester> {
        self.start_block_cutter();
        IngesterServer::from_arc(Arc::clone(self))
            .max_decoding_message_size(self.cfg.max_recv_message_size_bytes)
            .max_encoding_message_size(usize::MAX)
    }

    /// Tells whether the ingester can take traffic. The WAL is replayed inside
    /// [`Ingester::new`], so an ingester that exists is ready.
    pub fn is_ready(&self) -> bool {
        true
    }

    /// Appends float-only series borrowed from a distributor's request buffer, for a
    /// distributor in the same process: answers as the gRPC `Push` does for the same
    /// series, without encoding, decoding or copying them (see `push_flat`).
    pub async fn push_flat(
        &self,
        tenant: &str,
        req: &strata_proto::flat::FlatWriteRequest<'_>,
    ) -> Result<strata_proto::ingester::PushResponse, IngesterError> {
        let limits = self.series_limits_for(tenant);
        push_flat::push_flat(&self.db, &self.metrics, tenant, req, limits).await
    }

    /// Enforces per-tenant series limits from now on (once; later calls are ignored):
    /// `f` gives a tenant's limits on this ingester and is called once per push.
    pub fn set_series_limits(&self, f: limits::SeriesLimitsFn) {
        if self.series_limits.set(f).is_err() {
            tracing::warn!("ingester series limits already set; ignoring the second call");
        }
    }

    pub(crate) fn series_limits_for(&self, tenant: &str) -> Option<limits::SeriesLimits> {
        self.series_limits.get().map(|f| f(tenant))
    }

    /// The tenants' heads, for in-process readers and tests.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Starts (once) the task that every `block_cut_interval` cuts the 2-hour ranges old
    /// enough (ended 1.5 ranges before a head's newest sample) into blocks, truncates the
    /// heads and checkpoints the WAL. File work runs in `spawn_blocking`. The task ends when
    /// the ingester is dropped. Needs a tokio runtime.
    pub fn start_block_cutter(self: &Arc<Self>) {
        let every = self.cfg.block_cut_interval;
        if every.is_zero() || self.cutter_started.swap(true, Ordering::AcqRel) {
            return;
        }
        let weak: Weak<Self> = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tick.tick().await;
                let Some(ing) = weak.upgrade() else {
                    return;
                };
                if let Err(e) = ing.cut_blocks(false).await {
                    tracing::error!(error = %e, "ingester: background block cut failed");
                }
            }
        });
    }

    /// Cuts everything in every tenant's head into blocks now (Mimir's `/ingester/flush`),
    /// truncates the heads and checkpoints the WAL; returns once done.
    pub async fn flush(self: &Arc<Self>) -> Result<Vec<(TenantId, CompactStats)>, IngesterError> {
        self.cut_blocks(true).await
    }

    async fn cut_blocks(
        self: &Arc<Self>,
        all: bool,
    ) -> Result<Vec<(TenantId, CompactStats)>, IngesterError> {
        let ing = Arc::clone(self);
        let res = tokio::task::spawn_blocking(move || {
            if all {
                ing.db.flush_all()
            } else {
                ing.db.compact_all()
            }
        })
        .await;
        let res = match res {
            Ok(r) => r,
            Err(e) => {
                self.metrics.block_cut_failures.inc();
                tracing::error!(error = %e, "ingester: block cut task panicked");
                return Err(IngesterError::FlushTask(e.to_string()));
            }
        };
        match res {
            Ok(stats) => {
                for (tenant, st) in &stats {
                    self.metrics.blocks_cut.inc_by(st.blocks.len() as u64);
                    if let Some(h) = self.db.head(tenant) {
                        self.metrics
                            .memory_series
                            .get_or_create(&TenantLabels {
                                tenant: tenant.to_string(),
                            })
                            .set(h.num_series() as i64);
                    }
                }
                Ok(stats)
            }
            Err(e) => {
                self.metrics.block_cut_failures.inc();
                Err(IngesterError::Flush(e))
            }
        }
    }
}

#[cfg(test)]
mod block_tests;
#[cfg(test)]
mod durability_tests;
#[cfg(test)]
mod native_tests;
#[cfg(test)]
mod tests;
