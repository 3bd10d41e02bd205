//! The ingester's Prometheus metrics, registered into the registry the binary passes in.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// Labels of the per-tenant metrics.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TenantLabels {
    /// The tenant id.
    pub tenant: String,
}

/// Labels of `strata_ingester_ingested_samples_failures_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FailureLabels {
    /// The tenant id.
    pub tenant: String,
    /// Why the samples were refused (`sample_out_of_order`, `sample_duplicate_timestamp`,
    /// `native_histogram_unsupported`, `exemplar_unsupported`, `invalid_labels`).
    pub reason: String,
}

/// The ingester's metrics.
#[derive(Clone, Debug, Default)]
pub struct IngesterMetrics {
    /// `strata_ingester_memory_series{tenant}`: series in the tenant's head.
    pub memory_series: Family<TenantLabels, Gauge>,
    /// `strata_ingester_ingested_samples_total{tenant}`: samples accepted (stored or exact retries).
    pub ingested_samples: Family<TenantLabels, Counter>,
    /// `strata_ingester_ingested_samples_failures_total{tenant,reason}`: samples refused.
    pub ingested_samples_failures: Family<FailureLabels, Counter>,
    /// `strata_ingester_queries_total`: read RPCs served (query stream, labels, series, metadata).
    pub queries: Counter,
}

impl IngesterMetrics {
    /// Creates the metrics and registers them (prometheus_client appends `_total` to counters).
    pub fn new(registry: &mut Registry) -> Self {
        let m = Self::default();
        registry.register(
            "strata_ingester_memory_series",
            "Series in the in-memory head, per tenant.",
            m.memory_series.clone(),
        );
        registry.register(
            "strata_ingester_ingested_samples",
            "Samples accepted into the head, per tenant.",
            m.ingested_samples.clone(),
        );
        registry.register(
            "strata_ingester_ingested_samples_failures",
            "Samples refused by the ingester, per tenant and reason.",
            m.ingested_samples_failures.clone(),
        );
        registry.register(
            "strata_ingester_queries",
            "Read requests served by the ingester.",
            m.queries.clone(),
        );
        m
    }

    /// Counts `n` refused samples.
    pub fn fail(&self, tenant: &str, reason: &str, n: u64) {
        if n == 0 {
            return;
        }
        self.ingested_samples_failures
            .get_or_create(&FailureLabels {
                tenant: tenant.to_string(),
                reason: reason.to_string(),
            })
            .inc_by(n);
    }
}
