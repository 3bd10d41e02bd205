//! The agent's own metrics, under Prometheus's names (`prometheus_target_*`) so dashboards
//! built for Prometheus's scrape manager read them unchanged.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// The `scrape_job` label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct JobLabel {
    /// The job name.
    pub scrape_job: String,
}

/// Scrape metrics, shared by every pool and loop.
#[derive(Clone, Default)]
pub struct ScrapeMetrics {
    /// Series exposed twice in one scrape, or at their newest timestamp with another value
    /// (skipped).
    pub sample_duplicate: Counter,
    /// Samples older than their series' newest (skipped).
    pub sample_out_of_order: Counter,
    /// Scrapes over `sample_limit`.
    pub exceeded_sample_limit: Counter,
    /// Scrapes over `body_size_limit`.
    pub exceeded_body_size_limit: Counter,
    /// Scrapes over a label limit.
    pub exceeded_label_limits: Counter,
    /// Pools over `target_limit`.
    pub exceeded_target_limit: Counter,
    /// Targets that failed to build, by job.
    pub sync_failed: Family<JobLabel, Counter>,
    /// Active targets, by job.
    pub pool_targets: Family<JobLabel, Gauge>,
    /// Scrape pools.
    pub pools: Gauge,
    /// Commits to the queue that failed.
    pub commit_failed: Counter,
    /// Scrapes done.
    pub scrapes: Counter,
}

impl ScrapeMetrics {
    /// Registers every metric in `registry`.
    pub fn new(registry: &mut Registry) -> Self {
        let m = Self::default();
        let r = registry;
        r.register(
            "prometheus_target_scrapes_sample_duplicate_timestamp",
            "Samples skipped: the same series twice in one scrape, or its newest timestamp with another value.",
            m.sample_duplicate.clone(),
        );
        r.register(
            "prometheus_target_scrapes_sample_out_of_order",
            "Samples skipped because they were older than their series' newest sample.",
            m.sample_out_of_order.clone(),
        );
        r.register(
            "prometheus_target_scrapes_exceeded_sample_limit",
            "Scrapes that hit the sample limit and were rejected.",
            m.exceeded_sample_limit.clone(),
        );
        r.register(
            "prometheus_target_scrapes_exceeded_body_size_limit",
            "Scrapes that hit the body size limit.",
            m.exceeded_body_size_limit.clone(),
        );
        r.register(
            "prometheus_target_scrape_pool_exceeded_label_limits",
            "Scrapes that hit a label limit and were rejected.",
            m.exceeded_label_limits.clone(),
        );
        r.register(
            "prometheus_target_scrape_pool_exceeded_target_limit",
            "Pool syncs that hit the target limit.",
            m.exceeded_target_limit.clone(),
        );
        r.register(
            "prometheus_target_sync_failed",
            "Targets that could not be built from discovered labels.",
            m.sync_failed.clone(),
        );
        r.register(
            "prometheus_target_scrape_pool_targets",
            "Active targets in a scrape pool.",
            m.pool_targets.clone(),
        );
        r.register(
            "prometheus_target_scrape_pools",
            "Scrape pools running.",
            m.pools.clone(),
        );
        r.register(
            "strata_agent_scrape_commit_failed",
            "Scrapes whose samples the remote-write queue refused.",
            m.commit_failed.clone(),
        );
        r.register(
            "strata_agent_scrapes",
            "Scrapes done, successful or not.",
            m.scrapes.clone(),
        );
        m
    }
}
