//! The ingester: every tenant's in-memory head, made durable by one write-ahead log, behind
//! the internal gRPC `Ingester` service.
//!
//! ```text
//!   distributor ──Push──► Ingester::push ─► Db (tenant → Head) ─► HeadAppender::commit
//!                          (answers only once the WAL group commit holding it is fsynced)
//!   querier ──QueryStream / LabelNames / LabelValues / Series / MetricsMetadata──►
//!            HeadQuerier over the tenant's head ─► batches of ChunkedSeries (XOR chunks)
//! ```
//!
//! Key types: [`Ingester`] (the service; build its tonic server with [`Ingester::server`]),
//! [`IngesterConfig`], [`IngesterMetrics`]; wire ⇄ model conversions live in [`convert`].
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
//! Not yet: native histograms and exemplars (refused as unsupported), limits (series per
//! tenant, …), head compaction into blocks (and so WAL checkpoints, which come with it).

pub mod convert;
mod error;
mod metrics;
pub mod push;
mod service;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use strata_proto::ingester::ingester_server::IngesterServer;
use strata_tsdb::{Db, DbOptions};

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
}

impl Default for IngesterConfig {
    fn default() -> Self {
        Self {
            query_stream_batch_size: 128,
            max_recv_message_size_bytes: 100 << 20,
            wal_dir: String::new(),
            wal_segment_size: 128 << 20,
        }
    }
}

impl IngesterConfig {
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
        };
        let db = Db::open(data_dir, opts).map_err(|source| IngesterError::Open { dir, source })?;
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
        Ok(Self { cfg, db, metrics })
    }

    /// The tonic service for this ingester, to add to a `tonic::transport::Server`.
    pub fn server(self: &Arc<Self>) -> IngesterServer<Ingester> {
        IngesterServer::from_arc(Arc::clone(self))
            .max_decoding_message_size(self.cfg.max_recv_message_size_bytes)
            .max_encoding_message_size(usize::MAX)
    }

    /// Tells whether the ingester can take traffic. The WAL is replayed inside
    /// [`Ingester::new`], so an ingester that exists is ready.
    pub fn is_ready(&self) -> bool {
        true
    }

    /// The tenants' heads, for in-process readers and tests.
    pub fn db(&self) -> &Db {
        &self.db
    }
}

#[cfg(test)]
mod tests;
