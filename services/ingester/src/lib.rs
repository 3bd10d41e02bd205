//! The ingester: every tenant's in-memory head behind the internal gRPC `Ingester` service.
//!
//! ```text
//!   distributor ──Push──► Ingester::push ─► Db (tenant → Head) ─► HeadAppender::commit
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
//! Not yet: WAL (nothing survives a restart), native histograms and exemplars (refused as
//! unsupported), limits (series per tenant, …), head compaction into blocks.

pub mod convert;
mod error;
mod metrics;
pub mod push;
mod service;

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use strata_proto::ingester::ingester_server::IngesterServer;
use strata_tsdb::Db;

pub use error::{IngesterError, LabelsError};
pub use metrics::{FailureLabels, IngesterMetrics, TenantLabels};
pub use service::SeriesBatches;

/// The ingester's configuration. Unknown keys are errors; missing keys take the defaults.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct IngesterConfig {
    /// Series per `QueryStream` message.
    pub query_stream_batch_size: usize,
    /// Largest gRPC request the ingester accepts, in bytes (a push of many series).
    pub max_recv_message_size_bytes: usize,
}

impl Default for IngesterConfig {
    fn default() -> Self {
        Self {
            query_stream_batch_size: 128,
            max_recv_message_size_bytes: 100 << 20,
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
    /// Creates an ingester with empty heads, registering its metrics into `registry`.
    pub fn new(cfg: IngesterConfig, registry: &mut prometheus_client::registry::Registry) -> Self {
        Self {
            cfg,
            db: Db::new(),
            metrics: IngesterMetrics::new(registry),
        }
    }

    /// The tonic service for this ingester, to add to a `tonic::transport::Server`.
    pub fn server(self: &Arc<Self>) -> IngesterServer<Ingester> {
        IngesterServer::from_arc(Arc::clone(self))
            .max_decoding_message_size(self.cfg.max_recv_message_size_bytes)
            .max_encoding_message_size(usize::MAX)
    }

    /// Tells whether the ingester can take traffic. Always true until there is a WAL to replay.
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
