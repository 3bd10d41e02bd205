//! The distributor's Prometheus metrics, registered into the registry the binary passes in.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

use crate::validate::DiscardReason;

/// Labels of the per-tenant counters.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TenantLabels {
    /// The tenant id.
    pub tenant: String,
}

/// Labels of `strata_discarded_samples_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DiscardLabels {
    /// Why (Mimir's reason names, see [`DiscardReason::as_str`]).
    pub reason: String,
    /// The tenant id.
    pub tenant: String,
}

/// Labels of `strata_distributor_deduped_samples_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ClusterLabels {
    /// The tenant id.
    pub tenant: String,
    /// The HA cluster.
    pub cluster: String,
}

/// Counters of the push path.
#[derive(Clone, Debug, Default)]
pub struct DistributorMetrics {
    /// `strata_distributor_received_requests_total{tenant}`: push requests with a valid
    /// tenant, whatever their outcome.
    pub received_requests: Family<TenantLabels, Counter>,
    /// `strata_distributor_received_samples_total{tenant}`: float and histogram samples that
    /// passed validation (as Mimir's `received_samples`), before the ingesters' verdict.
    pub received_samples: Family<TenantLabels, Counter>,
    /// `strata_distributor_received_bytes_total{tenant}`: compressed body bytes read.
    pub received_bytes: Family<TenantLabels, Counter>,
    /// `strata_discarded_samples_total{reason,tenant}`: samples rejected by validation or ingesters.
    pub discarded_samples: Family<DiscardLabels, Counter>,
    /// `strata_distributor_deduped_samples_total{tenant,cluster}`: samples of HA replicas
    /// that were not elected, dropped (answered 202).
    pub deduped_samples: Family<ClusterLabels, Counter>,
}

impl DistributorMetrics {
    /// Creates the counters and registers them (prometheus_client appends `_total`).
    pub fn new(registry: &mut Registry) -> Self {
        let m = Self::default();
        registry.register(
            "strata_distributor_received_requests",
            "Remote-write requests received, per tenant.",
            m.received_requests.clone(),
        );
        registry.register(
            "strata_distributor_received_samples",
            "Samples (floats and native histograms) received that passed validation, per tenant.",
            m.received_samples.clone(),
        );
        registry.register(
            "strata_distributor_received_bytes",
            "Compressed remote-write body bytes received, per tenant.",
            m.received_bytes.clone(),
        );
        registry.register(
            "strata_discarded_samples",
            "Samples discarded by the distributor or the ingesters, per reason and tenant.",
            m.discarded_samples.clone(),
        );
        registry.register(
            "strata_distributor_deduped_samples",
            "Samples from non-elected HA replicas, dropped, per tenant and cluster.",
            m.deduped_samples.clone(),
        );
        m
    }

    /// Counts `n` samples dropped by the HA tracker.
    pub fn deduped(&self, tenant: &str, cluster: &str, n: u64) {
        self.deduped_samples
            .get_or_create(&ClusterLabels {
                tenant: tenant.to_string(),
                cluster: cluster.to_string(),
            })
            .inc_by(n);
    }

    /// Counts `n` discarded samples.
    pub fn discard(&self, tenant: &str, reason: DiscardReason, n: u64) {
        if n == 0 {
            return;
        }
        self.discarded_samples
            .get_or_create(&DiscardLabels {
                reason: reason.as_str().to_string(),
                tenant: tenant.to_string(),
            })
            .inc_by(n);
    }

    fn tenant(tenant: &str) -> TenantLabels {
        TenantLabels {
            tenant: tenant.to_string(),
        }
    }

    /// Counts one request of `bytes` compressed bytes.
    pub fn request(&self, tenant: &str, bytes: u64) {
        let t = Self::tenant(tenant);
        self.received_requests.get_or_create(&t).inc();
        self.received_bytes.get_or_create(&t).inc_by(bytes);
    }

    /// Counts received samples.
    pub fn samples(&self, tenant: &str, n: u64) {
        self.received_samples
            .get_or_create(&Self::tenant(tenant))
            .inc_by(n);
    }
}
