//! The distributor's configuration block.

use std::time::Duration;

use crate::validate::ValidationLimits;

/// Configuration of the push path. Unknown keys are errors; missing keys take the defaults.
///
/// In YAML, `remote_timeout` is a Prometheus duration string (`2s`, `500ms`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DistributorConfig {
    /// Largest compressed request body accepted, in bytes (default 100 MiB); larger is a 413.
    pub max_recv_msg_size: usize,
    /// Largest decompressed request accepted, in bytes (default 100 MiB); larger is a 413,
    /// decided from the snappy header before allocating.
    pub max_decompressed_size: usize,
    /// How long a push to the ingesters may take before it fails with 503 (default `2s`).
    #[serde(with = "strata_config::duration")]
    pub remote_timeout: Duration,
    /// Per-series validation limits (defaults; per tenant in the runtime overrides file).
    pub limits: ValidationLimits,
    /// The HA tracker.
    pub ha_tracker: HaTrackerConfig,
    /// How many distributors share each tenant's ingestion rate and burst
    /// (`-distributor.instances`; distributors do not register in the ring, so this is a
    /// hint; default 1).
    pub instances: usize,
}

/// The HA tracker's settings (Mimir's `distributor.ha_tracker` block).
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct HaTrackerConfig {
    /// Deduplicate HA pairs for tenants with `accept_ha_samples` (default false).
    pub enable_ha_tracker: bool,
    /// How long the elected replica may be silent before another takes over (default 30s).
    #[serde(with = "strata_config::duration")]
    pub ha_tracker_failover_timeout: Duration,
}

impl Default for HaTrackerConfig {
    fn default() -> Self {
        Self {
            enable_ha_tracker: false,
            ha_tracker_failover_timeout: Duration::from_secs(30),
        }
    }
}

impl Default for DistributorConfig {
    fn default() -> Self {
        Self {
            max_recv_msg_size: 100 << 20,
            max_decompressed_size: 100 << 20,
            remote_timeout: Duration::from_secs(2),
            limits: ValidationLimits::default(),
            ha_tracker: HaTrackerConfig::default(),
            instances: 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_round_trip_and_defaults() {
        let cfg = DistributorConfig::default();
        let json = serde_json::to_value(&cfg).expect("serialise");
        assert_eq!(json["remote_timeout"], "2s");
        assert_eq!(json["limits"]["creation_grace_period"], "10m");
        let back: DistributorConfig = serde_json::from_value(json).expect("parse");
        assert_eq!(back, cfg);
        let partial: DistributorConfig = serde_json::from_str(
            r#"{"remote_timeout": "500ms", "limits": {"max_label_value_length": 10}}"#,
        )
        .expect("partial");
        assert_eq!(partial.remote_timeout, Duration::from_millis(500));
        assert_eq!(partial.limits.max_label_value_length, 10);
        assert_eq!(partial.max_recv_msg_size, 100 << 20);
        assert!(serde_json::from_str::<DistributorConfig>(r#"{"bogus": 1}"#).is_err());
    }
}
