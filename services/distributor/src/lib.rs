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
//!   ─► rw2::convert (symbols → 1.0 series + metadata) ─► ha::HaTracker::check (HA pairs:
//!      non-elected replica → 202; replica label removed) ─► validate::validate_request
//!      (drop invalid series, keep the rest; tenant's limits) ─► rate::RateLimiter (429)
//!      ─► forward::Forwarder::push (shard by
//!      tenant ^ labels hash, one gRPC push per ingester, concurrently) ─► push: one answer
//! ```
//!
//! Fast path: when the only ingester runs in this process
//! ([`Distributor::with_local_ingester`], `-target=all`), a float-only 1.0 request is
//! decoded by [`strata_proto::flat`] with its labels borrowed from the request buffer,
//! validated in place ([`validate::validate_flat_request`]) and handed to the ingester by
//! function call ([`forward::LocalIngester`]): no label is copied and nothing is re-encoded.
//! Requests with exemplars, histograms or metadata, 2.0 requests and requests the walker
//! does not decode take the path above, so statuses and messages are the same either way.
//!
//! Cluster: built with [`Distributor::with_ring`], forwarding places each series on its
//! replication set of the Raft-backed ring instead of the static list and answers with
//! quorum rules ([`replication`]); the hook is one branch in [`Forwarder::push`].
//!
//! Limits: every tenant's limits in force are in [`limits::Overrides`]
//! ([`Distributor::overrides`], replaced by the binary's runtime-config reloader); the
//! ingestion rate is this distributor's share ([`Distributor::set_instances`]); the HA
//! tracker is on once [`Distributor::set_ha_tracker`] is called. Per request: one overrides
//! lookup (an `Arc` clone), one bucket lookup, and for HA requests one cache lookup; no
//! allocation per series (the flat path strips the replica label in place).
//!
//! Invariants: nothing from the network can panic the process; a single binary and a
//! cluster answer alike (same validation, same ingester push, same error mapping); invalid
//! series never reach an ingester, valid ones in the same request always do.

pub mod config;
pub mod decode;
pub mod error;
pub mod forward;
pub mod ha;
pub mod limits;
pub mod metrics;
mod push;
pub mod rate;
pub mod replication;
pub mod rw2;
pub mod validate;

#[cfg(test)]
mod tests;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::response::Response;
use axum::routing::post;
use axum::Router;

pub use config::DistributorConfig;
pub use error::{DistributorError, PushError};
pub use forward::{ForwardOutcome, Forwarder, LocalIngester};
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
    /// Every tenant's limits in force (replaced by the runtime-config reloader).
    overrides: Arc<limits::Overrides>,
    rate: rate::RateLimiter,
    /// Distributors sharing each tenant's rate (global strategy).
    instances: AtomicUsize,
    ha: OnceLock<ha::HaTracker>,
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
        Self::build(cfg, ingester_addrs, None, multitenancy_enabled, registry)
    }

    /// Like [`Distributor::new`] for a process that also runs the only ingester,
    /// `ingester_addr` (its gRPC address, named in errors): float-only remote write 1.0
    /// pushes reach it through `local` by function call, without gRPC (see
    /// [`forward::LocalIngester`]); everything else still goes over gRPC.
    pub fn with_local_ingester(
        cfg: DistributorConfig,
        ingester_addr: String,
        local: Arc<dyn LocalIngester>,
        multitenancy_enabled: bool,
        registry: &mut prometheus_client::registry::Registry,
    ) -> Result<Arc<Self>, DistributorError> {
        Self::build(
            cfg,
            vec![ingester_addr],
            Some(local),
            multitenancy_enabled,
            registry,
        )
    }

    /// Builds a distributor that places every series on its replication set of the ring
    /// (see [`replication`]) instead of a static list of ingesters.
    pub fn with_ring(
        cfg: DistributorConfig,
        ring: replication::RingReader,
        replication_cfg: replication::ReplicationConfig,
        multitenancy_enabled: bool,
        registry: &mut prometheus_client::registry::Registry,
    ) -> Result<Arc<Self>, DistributorError> {
        let replicator = replication::Replicator::new(ring, replication_cfg, cfg.remote_timeout)?;
        let forwarder = Forwarder::with_ring(replicator, cfg.remote_timeout);
        let metrics = DistributorMetrics::new(registry);
        tracing::info!(
            replication = ?replication_cfg,
            multitenancy_enabled,
            "distributor ready, placing series on the ring"
        );
        Ok(Arc::new(Self::assemble(
            cfg,
            multitenancy_enabled,
            forwarder,
            metrics,
        )))
    }

    fn build(
        cfg: DistributorConfig,
        ingester_addrs: Vec<String>,
        local: Option<Arc<dyn LocalIngester>>,
        multitenancy_enabled: bool,
        registry: &mut prometheus_client::registry::Registry,
    ) -> Result<Arc<Self>, DistributorError> {
        let mut forwarder = Forwarder::new(ingester_addrs, cfg.remote_timeout)?;
        if let Some(local) = local {
            forwarder = forwarder.with_local(local);
        }
        let metrics = DistributorMetrics::new(registry);
        tracing::info!(
            ingesters = ?forwarder.addrs().collect::<Vec<_>>(),
            in_process = forwarder.is_local(),
            multitenancy_enabled,
            "distributor ready"
        );
        Ok(Arc::new(Self::assemble(
            cfg,
            multitenancy_enabled,
            forwarder,
            metrics,
        )))
    }

    fn assemble(
        cfg: DistributorConfig,
        multitenancy_enabled: bool,
        forwarder: Forwarder,
        metrics: DistributorMetrics,
    ) -> Self {
        let overrides = limits::Overrides::new(limits::EffectiveLimits {
            limits: limits::TenantLimits::default(),
            validation: cfg.limits.clone(),
        });
        let instances = AtomicUsize::new(cfg.instances.max(1));
        Self {
            cfg,
            multitenancy_enabled,
            forwarder,
            metrics,
            overrides: Arc::new(overrides),
            rate: rate::RateLimiter::default(),
            instances,
            ha: OnceLock::new(),
        }
    }

    /// Every tenant's limits in force; the runtime-config reloader replaces them with
    /// [`limits::Overrides::set`] (defaults: Mimir's, with this config's validation limits).
    pub fn overrides(&self) -> &Arc<limits::Overrides> {
        &self.overrides
    }

    /// Sets how many healthy distributors share each tenant's ingestion rate and burst.
    pub fn set_instances(&self, n: usize) {
        self.instances.store(n.max(1), Ordering::Relaxed);
    }

    /// Turns on the HA tracker (once; later calls are ignored). Tenants whose limits say
    /// `accept_ha_samples` are deduplicated from then on.
    pub fn set_ha_tracker(&self, tracker: ha::HaTracker) {
        if self.ha.set(tracker).is_err() {
            tracing::warn!("HA tracker already set; ignoring the second one");
        }
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
