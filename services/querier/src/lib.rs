//! The querier: Prometheus's HTTP query API and remote read, answered from the ingesters.
//!
//! Key types: [`Querier`] (built from [`QuerierConfig`] and the ingester addresses; its
//! [`Querier::router`] serves everything under `/prometheus`), [`IngesterPool`] and
//! [`IngesterQuerier`] (the [`strata_storage::Querier`] for one tenant over every ingester).
//!
//! Data path:
//! ```text
//!   HTTP /prometheus/api/v1/{query,query_range,series,labels,…,read}
//!     ─► tenant (strata_auth) ─► params ─► semaphore (max_concurrent, queues)
//!     ─► PromQL engine / label RPCs / remote read ─► IngesterQuerier
//!     ─► QueryStream on every ingester (concurrently) ─► merge_series ─► JSON or protobuf
//!   HTTP …/query_exemplars ─► every selector of the expression ([`exemplars`])
//!     ─► QueryExemplars on every ingester ─► merged by series ─► JSON
//! ```
//!
//! Chunks of every encoding (XOR, histogram, float histogram) pass from the ingesters to
//! the engine unchanged; a series' chunks may overlap (replicas, out-of-order samples) and
//! are merged when decoded.
//!
//! Invariants: every request is scoped to exactly one tenant; a read that cannot reach every
//! ingester it needs fails (503) rather than answer partially (with the ring, "needs" allows
//! the failures replication tolerates, see [`ring_targets`]); JSON answers are byte-compatible with
//! Prometheus 3 (see [`json`]).

#![warn(missing_docs)]

pub mod api;
pub mod convert;
pub mod error;
pub mod exemplars;
pub mod ingester_querier;
pub mod json;
mod metrics;
pub mod params;
pub mod remote_read;
pub mod ring_targets;
#[cfg(test)]
mod test_support;

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::registry::Registry;
use strata_promql::{Engine, EngineOptions};
use tokio::sync::Semaphore;

pub use error::{ApiError, QuerierError};
pub use ingester_querier::{IngesterPool, IngesterQuerier};
pub use json::format_float;

/// The querier's configuration (YAML section `querier`). Durations are written as Prometheus
/// durations (`5m`, `1h30m`, `500ms`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct QuerierConfig {
    /// How far back an instant selector looks for a sample (Prometheus's
    /// `--query.lookback-delta`). Default 5m.
    #[serde(with = "strata_config::duration")]
    pub lookback_delta: Duration,
    /// The longest a query may run; a request's `timeout` parameter can only shorten it.
    /// Default 2m.
    #[serde(with = "strata_config::duration")]
    pub timeout: Duration,
    /// The most samples one query may hold in memory (also caps remote read answers).
    /// Default 50,000,000.
    pub max_samples: usize,
    /// Queries evaluated at once; more wait in line. Default 20.
    pub max_concurrent: usize,
}

impl Default for QuerierConfig {
    fn default() -> Self {
        Self {
            lookback_delta: Duration::from_secs(300),
            timeout: Duration::from_secs(120),
            max_samples: 50_000_000,
            max_concurrent: 20,
        }
    }
}

/// The querier component: shared state behind the HTTP API.
pub struct Querier {
    cfg: QuerierConfig,
    engine: Engine,
    pool: Arc<IngesterPool>,
    multitenancy_enabled: bool,
    limiter: Semaphore,
    metrics: metrics::Metrics,
}

impl std::fmt::Debug for Querier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Querier")
            .field("cfg", &self.cfg)
            .field("ingesters", &self.pool.len())
            .field("multitenancy_enabled", &self.multitenancy_enabled)
            .finish()
    }
}

impl Querier {
    /// Builds the querier over the ingesters at `ingester_addrs` (`host:port` or URIs; the
    /// connections are made lazily) and registers its metrics. Must be called within a Tokio
    /// runtime.
    pub fn new(
        cfg: QuerierConfig,
        ingester_addrs: Vec<String>,
        multitenancy_enabled: bool,
        registry: &mut Registry,
    ) -> Result<Arc<Self>, QuerierError> {
        let lookback_delta_ms = Self::check(&cfg)?;
        let pool = Arc::new(IngesterPool::new(&ingester_addrs)?);
        Self::build(cfg, pool, lookback_delta_ms, multitenancy_enabled, registry)
    }

    /// Builds the querier over this process' only ingester: selects by function call
    /// through `local`, other reads over gRPC to `addr`, the same ingester.
    pub fn with_local_ingester(
        cfg: QuerierConfig,
        addr: String,
        local: Arc<dyn ingester_querier::LocalReader>,
        multitenancy_enabled: bool,
        registry: &mut Registry,
    ) -> Result<Arc<Self>, QuerierError> {
        let lookback_delta_ms = Self::check(&cfg)?;
        let pool = Arc::new(IngesterPool::with_local(addr, local)?);
        Self::build(cfg, pool, lookback_delta_ms, multitenancy_enabled, registry)
    }

    /// Builds the querier over the ingesters the ring names for each read (see
    /// [`ring_targets`]), tolerating as many failed ingesters as replication allows.
    pub fn with_ring(
        cfg: QuerierConfig,
        ring: ring_targets::RingTargets,
        multitenancy_enabled: bool,
        registry: &mut Registry,
    ) -> Result<Arc<Self>, QuerierError> {
        let lookback_delta_ms = Self::check(&cfg)?;
        let pool = Arc::new(IngesterPool::with_ring(ring)?);
        Self::build(cfg, pool, lookback_delta_ms, multitenancy_enabled, registry)
    }

    fn check(cfg: &QuerierConfig) -> Result<i64, QuerierError> {
        if cfg.max_concurrent == 0 {
            return Err(QuerierError::InvalidConfig(
                "max_concurrent must be at least 1".into(),
            ));
        }
        let lookback_delta_ms = i64::try_from(cfg.lookback_delta.as_millis())
            .map_err(|_| QuerierError::InvalidConfig("lookback_delta is too large".into()))?;
        if lookback_delta_ms <= 0 {
            return Err(QuerierError::InvalidConfig(
                "lookback_delta must be positive".into(),
            ));
        }
        Ok(lookback_delta_ms)
    }

    fn build(
        cfg: QuerierConfig,
        pool: Arc<IngesterPool>,
        lookback_delta_ms: i64,
        multitenancy_enabled: bool,
        registry: &mut Registry,
    ) -> Result<Arc<Self>, QuerierError> {
        let engine = Engine::new(EngineOptions {
            lookback_delta_ms,
            max_samples: cfg.max_samples,
            timeout: cfg.timeout,
        });
        Ok(Arc::new(Self {
            limiter: Semaphore::new(cfg.max_concurrent),
            metrics: metrics::Metrics::new(registry),
            engine,
            pool,
            multitenancy_enabled,
            cfg,
        }))
    }

    /// The HTTP routes, all under `/prometheus` (see [`api`]).
    pub fn router(self: &Arc<Self>) -> axum::Router {
        api::router(Arc::clone(self))
    }

    /// The configuration in force.
    pub fn config(&self) -> &QuerierConfig {
        &self.cfg
    }

    /// The ingester clients.
    pub fn pool(&self) -> &Arc<IngesterPool> {
        &self.pool
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_defaults_and_yaml_durations() {
        let d = QuerierConfig::default();
        assert_eq!(d.lookback_delta, Duration::from_secs(300));
        assert_eq!(d.timeout, Duration::from_secs(120));
        assert_eq!((d.max_samples, d.max_concurrent), (50_000_000, 20));
        let c: QuerierConfig = serde_yaml::from_str("lookback_delta: 1m30s\nmax_concurrent: 4\n")
            .expect("valid config");
        assert_eq!(c.lookback_delta, Duration::from_secs(90));
        assert_eq!(c.max_concurrent, 4);
        assert_eq!(c.timeout, Duration::from_secs(120));
        assert!(serde_yaml::from_str::<QuerierConfig>("bogus: 1\n").is_err());
    }

    #[tokio::test]
    async fn rejects_bad_config_and_addresses() {
        let mut reg = Registry::default();
        let cfg = QuerierConfig {
            max_concurrent: 0,
            ..Default::default()
        };
        assert!(Querier::new(cfg, vec![], false, &mut reg).is_err());
        let mut reg = Registry::default();
        assert!(Querier::new(
            QuerierConfig::default(),
            vec!["bad addr\n".into()],
            false,
            &mut reg
        )
        .is_err());
        let mut reg = Registry::default();
        assert!(Querier::new(
            QuerierConfig::default(),
            vec!["127.0.0.1:1".into()],
            false,
            &mut reg
        )
        .is_ok());
    }
}
