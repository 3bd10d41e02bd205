//! The distributor: Strata's remote-write endpoint. It accepts Prometheus remote write 1.0
//! and 2.0 on `POST /api/v1/push` (alias `/api/v1/write`), validates every series with
//! Mimir's limits and wording, and forwards the valid ones to ingesters over gRPC.
//!
//! Key types: [`Distributor`] (built by the binary, serves [`Distributor::router`]),
//! [`DistributorConfig`] and [`ValidationLimits`], [`DistributorMetrics`], [`PushError`]
//! (every failure with its HTTP status and whether the client should retry).
//!
//! Data path, one module per step:
//!
//! ```text
//! tenant (strata_auth) ─► decode::negotiate (Content-Type/-Encoding, 415)
//!   ─► body capped at max_recv_msg_size (413) ─► decode::decompress (snappy header checked
//!      against max_decompressed_size before allocating, 413) ─► decode::decode_v1 / decode_v2
//!   ─► rw2::convert (symbols → 1.0 series + metadata) ─► validate::validate_request
//!      (drop invalid series, keep the rest) ─► forward::Forwarder::push (shard by
//!      tenant ^ labels hash, one gRPC push per ingester, concurrently) ─► push: one answer
//! ```
//!
//! Invariants: nothing from the network can panic the process; forwarding always goes through
//! the gRPC client (even when the ingester runs in the same process), so a single binary and
//! a cluster behave alike; invalid series never reach an ingester, valid ones in the same
//! request always do.

pub mod config;
pub mod decode;
pub mod error;
pub mod forward;
pub mod metrics;
mod push;
pub mod rw2;
pub mod validate;

#[cfg(test)]
mod tests;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::response::Response;
use axum::routing::post;
use axum::Router;

pub use config::DistributorConfig;
pub use error::{DistributorError, PushError};
pub use forward::{ForwardOutcome, Forwarder};
pub use metrics::DistributorMetrics;
pub use push::{EXEMPLARS_WRITTEN, HISTOGRAMS_WRITTEN, SAMPLES_WRITTEN};
pub use validate::{DiscardReason, ValidationLimits};

/// The remote-write receiver: configuration, ingester clients and metrics.
#[derive(Debug)]
pub struct Distributor {
    cfg: DistributorConfig,
    multitenancy_enabled: bool,
    forwarder: Forwarder,
    metrics: DistributorMetrics,
}

impl Distributor {
    /// Builds a distributor pushing to `ingester_addrs` (`host:port`, gRPC; connected lazily)
    /// and registers its metrics. Must be called inside a Tokio runtime.
    pub fn new(
        cfg: DistributorConfig,
        ingester_addrs: Vec<String>,
        multitenancy_enabled: bool,
        registry: &mut prometheus_client::registry::Registry,
    ) -> Result<Arc<Self>, DistributorError> {
        let forwarder = Forwarder::new(ingester_addrs, cfg.remote_timeout)?;
        let metrics = DistributorMetrics::new(registry);
        tracing::info!(
            ingesters = ?forwarder.addrs().collect::<Vec<_>>(),
            multitenancy_enabled,
            "distributor ready"
        );
        Ok(Arc::new(Self {
            cfg,
            multitenancy_enabled,
            forwarder,
            metrics,
        }))
    }

    /// The push routes, `POST /api/v1/push` and `POST /api/v1/write`. axum's default body
    /// limit is disabled: the handler enforces `max_recv_msg_size` itself (413).
    pub fn router(self: &Arc<Self>) -> Router {
        Router::new()
            .route("/api/v1/push", post(push_handler))
            .route("/api/v1/write", post(push_handler))
            .layer(DefaultBodyLimit::disable())
            .with_state(Arc::clone(self))
    }

    /// The configuration in use.
    pub fn config(&self) -> &DistributorConfig {
        &self.cfg
    }
}

async fn push_handler(State(d): State<Arc<Distributor>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    push::handle(&d, &parts.headers, body).await
}
