//! The queue's metrics, named as Prometheus's `prometheus_remote_storage_*` (labels
//! `remote_name`, `url`), plus Strata's cap-drop counter.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// `remote_name` and `url`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EndpointLabels {
    /// The endpoint's name.
    pub remote_name: String,
    /// Its URL.
    pub url: String,
}

/// `endpoint` and `reason` (`disk_cap` or `age`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DropLabels {
    /// The endpoint's name.
    pub endpoint: String,
    /// Why the samples were dropped.
    pub reason: String,
}

type FloatGauge = Gauge<f64, AtomicU64>;

/// Every metric of the queue.
#[derive(Debug, Default)]
pub struct QueueMetrics {
    /// Samples (and histograms) sent successfully.
    pub samples: Family<EndpointLabels, Counter>,
    /// Samples that failed with an unrecoverable error (dropped).
    pub samples_failed: Family<EndpointLabels, Counter>,
    /// Samples sent again after a recoverable error.
    pub samples_retried: Family<EndpointLabels, Counter>,
    /// Samples dropped before sending (write relabelling).
    pub samples_dropped: Family<EndpointLabels, Counter>,
    /// Samples read and not yet acknowledged.
    pub samples_pending: Family<EndpointLabels, Gauge>,
    /// Current shard count.
    pub shards: Family<EndpointLabels, Gauge>,
    /// Request bytes sent (compressed).
    pub bytes: Family<EndpointLabels, Counter>,
    /// The newest timestamp an endpoint has sent, seconds.
    pub highest_sent_timestamp: Family<EndpointLabels, FloatGauge>,
    /// The newest timestamp appended to the WAL, seconds.
    pub highest_timestamp: FloatGauge,
    /// Samples dropped by the per-endpoint disk caps.
    pub cap_dropped_samples: Family<DropLabels, Counter>,
}

impl QueueMetrics {
    /// Creates the metrics and registers them (prometheus_client appends `_total` to
    /// counters).
    pub fn register(registry: &mut Registry) -> std::sync::Arc<Self> {
        let m = Self::default();
        let r = registry;
        r.register(
            "prometheus_remote_storage_samples",
            "Samples sent to remote storage.",
            m.samples.clone(),
        );
        r.register(
            "prometheus_remote_storage_samples_failed",
            "Samples that failed to be sent with an unrecoverable error.",
            m.samples_failed.clone(),
        );
        r.register(
            "prometheus_remote_storage_samples_retried",
            "Samples that failed to be sent and were retried.",
            m.samples_retried.clone(),
        );
        r.register(
            "prometheus_remote_storage_samples_dropped",
            "Samples dropped by write relabelling before sending.",
            m.samples_dropped.clone(),
        );
        r.register(
            "prometheus_remote_storage_samples_pending",
            "Samples read from the WAL and not yet acknowledged.",
            m.samples_pending.clone(),
        );
        r.register(
            "prometheus_remote_storage_shards",
            "Shards used for parallel sending.",
            m.shards.clone(),
        );
        r.register(
            "prometheus_remote_storage_bytes",
            "Compressed request bytes sent.",
            m.bytes.clone(),
        );
        r.register(
            "prometheus_remote_storage_queue_highest_sent_timestamp_seconds",
            "Newest timestamp successfully sent, in seconds since the epoch.",
            m.highest_sent_timestamp.clone(),
        );
        r.register(
            "prometheus_remote_storage_highest_timestamp_in_seconds",
            "Newest timestamp appended to the WAL, in seconds since the epoch.",
            m.highest_timestamp.clone(),
        );
        r.register(
            "strata_remote_queue_dropped_samples",
            "Samples an endpoint never sent because its disk cap (size or age) was exceeded.",
            m.cap_dropped_samples.clone(),
        );
        std::sync::Arc::new(m)
    }
}
