//! The querier's Prometheus metrics.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// The API endpoint a request was for.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EndpointLabels {
    /// The endpoint's name (`query`, `query_range`, `series`, …).
    pub endpoint: &'static str,
}

/// The API endpoint and how the request ended.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FailureLabels {
    /// The endpoint's name.
    pub endpoint: &'static str,
    /// Prometheus's `errorType` (or `unauthorized`).
    pub error_type: &'static str,
}

fn duration_histogram() -> Histogram {
    // 1 ms to ~65 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 17))
}

/// Metrics of the querier, registered under `strata_querier_`.
pub struct Metrics {
    /// `strata_querier_queries_total{endpoint}`: API requests received.
    pub queries: Family<EndpointLabels, Counter>,
    /// `strata_querier_query_failures_total{endpoint,error_type}`: API requests that failed.
    pub failures: Family<FailureLabels, Counter>,
    /// `strata_querier_query_duration_seconds{endpoint}`: time from arrival to answer,
    /// queueing included.
    pub duration: Family<EndpointLabels, Histogram, fn() -> Histogram>,
    /// `strata_querier_queries_inflight`: queries holding a concurrency slot.
    pub inflight: Gauge,
    /// `strata_querier_queries_queued`: queries waiting for a slot.
    pub queued: Gauge,
}

impl Metrics {
    /// Creates the metrics and registers them.
    pub fn new(registry: &mut Registry) -> Self {
        let m = Self {
            queries: Family::default(),
            failures: Family::default(),
            duration: Family::new_with_constructor(duration_histogram),
            inflight: Gauge::default(),
            queued: Gauge::default(),
        };
        registry.register(
            "strata_querier_queries",
            "Query API requests received.",
            m.queries.clone(),
        );
        registry.register(
            "strata_querier_query_failures",
            "Query API requests answered with an error.",
            m.failures.clone(),
        );
        registry.register(
            "strata_querier_query_duration_seconds",
            "Time to answer a query API request, queueing included.",
            m.duration.clone(),
        );
        registry.register(
            "strata_querier_queries_inflight",
            "Queries being evaluated.",
            m.inflight.clone(),
        );
        registry.register(
            "strata_querier_queries_queued",
            "Queries waiting for a concurrency slot.",
            m.queued.clone(),
        );
        m
    }
}
