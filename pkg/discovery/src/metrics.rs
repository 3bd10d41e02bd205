//! Service discovery's metrics, with Prometheus's own names (`prometheus_sd_*`) so the agent's
//! `/metrics` reads like a Prometheus server's.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

/// Label of the manager-wide metrics (Prometheus's `name`, `scrape` for the scrape manager).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ManagerLabels {
    /// The manager's name.
    pub name: String,
}

/// Labels of `prometheus_sd_discovered_targets`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct JobLabels {
    /// The manager's name.
    pub name: String,
    /// The job (scrape config) name.
    pub config: String,
}

/// Label of the per-mechanism refresh counters.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MechanismLabels {
    /// `file`, `http`, `dns`, `kubernetes` or `consul`.
    pub mechanism: String,
}

/// Labels of `prometheus_sd_kubernetes_events_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KubernetesEventLabels {
    /// The watched resource (`pod`, `node`, `service`, `endpoints`, `endpointslice`).
    pub role: String,
    /// `add`, `update` or `delete`.
    pub event: String,
}

/// Every metric of service discovery; cheap to clone (the counters are shared).
#[derive(Clone, Debug, Default)]
pub struct SdMetrics {
    /// `prometheus_sd_discovered_targets{name,config}`: targets per job in the last update.
    pub discovered_targets: Family<JobLabels, Gauge>,
    /// `prometheus_sd_last_update_timestamp_seconds{name,config}`: when a job's groups were
    /// last sent to the subscriber.
    pub last_update: Family<JobLabels, Gauge<f64, AtomicU64>>,
    /// `prometheus_sd_failed_configs{name}`: SD configs that could not be started.
    pub failed_configs: Family<ManagerLabels, Gauge>,
    /// `prometheus_sd_received_updates_total{name}`: updates received from providers.
    pub received_updates: Family<ManagerLabels, Counter>,
    /// `prometheus_sd_updates_total{name}`: full updates sent to the subscriber.
    pub updates: Family<ManagerLabels, Counter>,
    /// `prometheus_sd_updates_delayed_total{name}`: updates held back by the coalescing interval.
    pub updates_delayed: Family<ManagerLabels, Counter>,
    /// `prometheus_sd_refresh_failures_total{mechanism}`: failed refreshes of any mechanism.
    pub refresh_failures: Family<MechanismLabels, Counter>,
    /// `prometheus_sd_file_read_errors_total`: file SD files that could not be read or parsed.
    pub file_read_errors: Counter,
    /// `prometheus_sd_http_failures_total`: HTTP SD refreshes that failed.
    pub http_failures: Counter,
    /// `prometheus_sd_dns_lookups_total`: DNS SD lookups made.
    pub dns_lookups: Counter,
    /// `prometheus_sd_dns_lookup_failures_total`: DNS SD lookups that failed.
    pub dns_lookup_failures: Counter,
    /// `prometheus_sd_kubernetes_events_total{role,event}`: watch events handled.
    pub kubernetes_events: Family<KubernetesEventLabels, Counter>,
    /// `prometheus_sd_kubernetes_failures_total`: failed list/watch requests.
    pub kubernetes_failures: Counter,
    /// `prometheus_sd_consul_rpc_failures_total`: failed Consul API calls.
    pub consul_rpc_failures: Counter,
}

impl SdMetrics {
    /// Creates the metrics and registers them (prometheus_client appends `_total` to counters).
    pub fn new(registry: &mut Registry) -> Self {
        let m = Self::default();
        registry.register(
            "prometheus_sd_discovered_targets",
            "Current number of discovered targets",
            m.discovered_targets.clone(),
        );
        registry.register(
            "prometheus_sd_last_update_timestamp_seconds",
            "Timestamp of the last update sent to the SD consumers",
            m.last_update.clone(),
        );
        registry.register(
            "prometheus_sd_failed_configs",
            "Current number of service discovery configurations that failed to load",
            m.failed_configs.clone(),
        );
        registry.register(
            "prometheus_sd_received_updates",
            "Total number of update events received from the SD providers",
            m.received_updates.clone(),
        );
        registry.register(
            "prometheus_sd_updates",
            "Total number of update events sent to the SD consumers",
            m.updates.clone(),
        );
        registry.register(
            "prometheus_sd_updates_delayed",
            "Total number of update events that couldn't be sent immediately",
            m.updates_delayed.clone(),
        );
        registry.register(
            "prometheus_sd_refresh_failures",
            "Number of refresh failures for the given SD mechanism",
            m.refresh_failures.clone(),
        );
        registry.register(
            "prometheus_sd_file_read_errors",
            "The number of File-SD read errors",
            m.file_read_errors.clone(),
        );
        registry.register(
            "prometheus_sd_http_failures",
            "Number of HTTP service discovery refresh failures",
            m.http_failures.clone(),
        );
        registry.register(
            "prometheus_sd_dns_lookups",
            "The number of DNS-SD lookups",
            m.dns_lookups.clone(),
        );
        registry.register(
            "prometheus_sd_dns_lookup_failures",
            "The number of DNS-SD lookup failures",
            m.dns_lookup_failures.clone(),
        );
        registry.register(
            "prometheus_sd_kubernetes_events",
            "The number of Kubernetes events handled",
            m.kubernetes_events.clone(),
        );
        registry.register(
            "prometheus_sd_kubernetes_failures",
            "The number of failed WATCH/LIST requests",
            m.kubernetes_failures.clone(),
        );
        registry.register(
            "prometheus_sd_consul_rpc_failures",
            "The number of Consul RPC call failures",
            m.consul_rpc_failures.clone(),
        );
        m
    }

    /// Counts one failed refresh of `mechanism`.
    pub(crate) fn refresh_failed(&self, mechanism: &str) {
        self.refresh_failures
            .get_or_create(&MechanismLabels {
                mechanism: mechanism.to_string(),
            })
            .inc();
    }
}
