//! The ingester's Prometheus metrics, registered into the registry the binary passes in.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
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
    /// `sample_out_of_bounds`,
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
    /// `strata_ingester_blocks_quarantined_total`: blocks that failed to open at start-up and
    /// were moved to `<tenant>/quarantine/`.
    pub blocks_quarantined: Counter,
    /// `strata_ingester_blocks_cut_total`: blocks written from heads.
    pub blocks_cut: Counter,
    /// `strata_ingester_block_cut_failures_total`: head compactions that failed.
    pub block_cut_failures: Counter,
    /// The WAL's metrics.
    pub wal: WalMetrics,
}

/// The WAL's metrics; also the WAL's [`strata_tsdb::WalObserver`].
#[derive(Clone, Debug)]
pub struct WalMetrics {
    /// `strata_ingester_wal_fsyncs_total`: segment fsyncs (one per group commit, plus one per
    /// finished segment).
    pub fsyncs: Counter,
    /// `strata_ingester_wal_fsync_duration_seconds`: how long each fsync took.
    pub fsync_duration: Histogram,
    /// `strata_ingester_wal_bytes_written_total`: bytes written to segments.
    pub bytes_written: Counter,
    /// `strata_ingester_wal_corruptions_total`: damage found at open (torn tails included).
    pub corruptions: Counter,
    /// `strata_ingester_wal_replay_records_total`: records replayed at open.
    pub replay_records: Counter,
    /// `strata_ingester_wal_write_failures_total`: group commits that failed (write/fsync).
    pub write_failures: Counter,
}

impl Default for WalMetrics {
    fn default() -> Self {
        Self {
            fsyncs: Counter::default(),
            // 100 µs … ~26 s.
            fsync_duration: Histogram::new(exponential_buckets(0.0001, 4.0, 10)),
            bytes_written: Counter::default(),
            corruptions: Counter::default(),
            replay_records: Counter::default(),
            write_failures: Counter::default(),
        }
    }
}

impl strata_tsdb::WalObserver for WalMetrics {
    fn fsync(&self, took: std::time::Duration) {
        self.fsyncs.inc();
        self.fsync_duration.observe(took.as_secs_f64());
    }

    fn bytes_written(&self, bytes: u64) {
        self.bytes_written.inc_by(bytes);
    }

    fn write_error(&self) {
        self.write_failures.inc();
    }
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
        registry.register(
            "strata_ingester_blocks_quarantined",
            "Blocks that failed to open at start-up and were moved to quarantine.",
            m.blocks_quarantined.clone(),
        );
        registry.register(
            "strata_ingester_blocks_cut",
            "Blocks written from tenants' heads.",
            m.blocks_cut.clone(),
        );
        registry.register(
            "strata_ingester_block_cut_failures",
            "Head compactions (block cuts) that failed.",
            m.block_cut_failures.clone(),
        );
        registry.register(
            "strata_ingester_wal_fsyncs",
            "WAL segment fsyncs (group commits share one).",
            m.wal.fsyncs.clone(),
        );
        registry.register(
            "strata_ingester_wal_fsync_duration_seconds",
            "Duration of WAL segment fsyncs.",
            m.wal.fsync_duration.clone(),
        );
        registry.register(
            "strata_ingester_wal_bytes_written",
            "Bytes written to WAL segments.",
            m.wal.bytes_written.clone(),
        );
        registry.register(
            "strata_ingester_wal_corruptions",
            "WAL damage found and repaired at start-up (torn last records included).",
            m.wal.corruptions.clone(),
        );
        registry.register(
            "strata_ingester_wal_replay_records",
            "WAL records replayed at start-up.",
            m.wal.replay_records.clone(),
        );
        registry.register(
            "strata_ingester_wal_write_failures",
            "WAL group commits that failed to write or fsync.",
            m.wal.write_failures.clone(),
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
