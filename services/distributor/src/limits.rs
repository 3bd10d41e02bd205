//! Per-tenant limits: defaults from flags, overridden per tenant by the runtime overrides
//! file (`-runtime-config.file`, reloaded by the binary without restart).
//!
//! [`TenantLimits`] is one tenant's full set (Mimir's `limits` block names);
//! [`TenantOverrides`] is what the runtime file may set for a tenant (every key optional,
//! unset keys take the defaults). [`Overrides`] holds the resolved set of every tenant and
//! is swapped as a whole on reload; a lookup ([`Overrides::get`]) takes a read lock and
//! clones an `Arc`, so the push path allocates nothing for it.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use parking_lot::RwLock;
use serde::{Deserialize, Serialize};

use crate::validate::ValidationLimits;

/// One tenant's limits (Mimir's names; defaults are Mimir's).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TenantLimits {
    /// Samples (plus exemplars and metadata) per second the tenant may push, across all
    /// distributors (`-distributor.ingestion-rate-limit`, 10000).
    pub ingestion_rate: f64,
    /// Most samples in one burst, across all distributors
    /// (`-distributor.ingestion-burst-size`, 200000).
    pub ingestion_burst_size: u64,
    /// In-memory series the tenant may have across all ingesters, before replication
    /// (`-ingester.max-global-series-per-user`, 150000; 0 disables).
    pub max_global_series_per_user: usize,
    /// In-memory series one metric name may have across all ingesters
    /// (`-ingester.max-global-series-per-metric`, 0 = disabled).
    pub max_global_series_per_metric: usize,
    /// Whether the HA tracker deduplicates this tenant's HA pairs
    /// (default false; `-distributor.ha-tracker.enable-for-all-users` sets the default).
    pub accept_ha_samples: bool,
    /// The label naming an HA cluster (`cluster`).
    pub ha_cluster_label: String,
    /// The label naming a replica within an HA cluster (`__replica__`); removed before
    /// storing.
    pub ha_replica_label: String,
}

impl Default for TenantLimits {
    fn default() -> Self {
        Self {
            ingestion_rate: 10_000.0,
            ingestion_burst_size: 200_000,
            max_global_series_per_user: 150_000,
            max_global_series_per_metric: 0,
            accept_ha_samples: false,
            ha_cluster_label: "cluster".into(),
            ha_replica_label: "__replica__".into(),
        }
    }
}

/// What the runtime overrides file may set for one tenant; unset keys take the defaults.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TenantOverrides {
    /// See [`TenantLimits::ingestion_rate`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ingestion_rate: Option<f64>,
    /// See [`TenantLimits::ingestion_burst_size`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ingestion_burst_size: Option<u64>,
    /// See [`TenantLimits::max_global_series_per_user`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_global_series_per_user: Option<usize>,
    /// See [`TenantLimits::max_global_series_per_metric`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_global_series_per_metric: Option<usize>,
    /// See [`TenantLimits::accept_ha_samples`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accept_ha_samples: Option<bool>,
    /// See [`TenantLimits::ha_cluster_label`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ha_cluster_label: Option<String>,
    /// See [`TenantLimits::ha_replica_label`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ha_replica_label: Option<String>,
    /// See [`ValidationLimits::max_label_names_per_series`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_label_names_per_series: Option<usize>,
    /// See [`ValidationLimits::max_label_name_length`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_label_name_length: Option<usize>,
    /// See [`ValidationLimits::max_label_value_length`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_label_value_length: Option<usize>,
}

/// A tenant's limits in force: [`TenantLimits`] plus its validation limits.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EffectiveLimits {
    /// Rate, series and HA settings.
    #[serde(flatten)]
    pub limits: TenantLimits,
    /// Per-series validation limits.
    #[serde(flatten)]
    pub validation: ValidationLimits,
}

impl EffectiveLimits {
    /// `defaults` with `o` laid over them.
    pub fn resolve(defaults: &EffectiveLimits, o: &TenantOverrides) -> Self {
        let mut e = defaults.clone();
        let l = &mut e.limits;
        macro_rules! set {
            ($dst:expr, $src:expr) => {
                if let Some(v) = &$src {
                    $dst = v.clone();
                }
            };
        }
        set!(l.ingestion_rate, o.ingestion_rate);
        set!(l.ingestion_burst_size, o.ingestion_burst_size);
        set!(l.max_global_series_per_user, o.max_global_series_per_user);
        set!(
            l.max_global_series_per_metric,
            o.max_global_series_per_metric
        );
        set!(l.accept_ha_samples, o.accept_ha_samples);
        set!(l.ha_cluster_label, o.ha_cluster_label);
        set!(l.ha_replica_label, o.ha_replica_label);
        let v = &mut e.validation;
        set!(v.max_label_names_per_series, o.max_label_names_per_series);
        set!(v.max_label_name_length, o.max_label_name_length);
        set!(v.max_label_value_length, o.max_label_value_length);
        e
    }
}

struct Snapshot {
    defaults: Arc<EffectiveLimits>,
    tenants: HashMap<String, Arc<EffectiveLimits>>,
}

/// Every tenant's limits in force, replaced as a whole by [`Overrides::set`].
pub struct Overrides {
    inner: RwLock<Arc<Snapshot>>,
}

impl std::fmt::Debug for Overrides {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.inner.read();
        f.debug_struct("Overrides")
            .field("defaults", &s.defaults)
            .field("tenants", &s.tenants.len())
            .finish()
    }
}

impl Overrides {
    /// Limits `defaults` for every tenant, no override.
    pub fn new(defaults: EffectiveLimits) -> Self {
        Self {
            inner: RwLock::new(Arc::new(Snapshot {
                defaults: Arc::new(defaults),
                tenants: HashMap::new(),
            })),
        }
    }

    /// Replaces the defaults and every tenant's overrides at once.
    pub fn set(&self, defaults: EffectiveLimits, overrides: &BTreeMap<String, TenantOverrides>) {
        let tenants = overrides
            .iter()
            .map(|(t, o)| (t.clone(), Arc::new(EffectiveLimits::resolve(&defaults, o))))
            .collect();
        *self.inner.write() = Arc::new(Snapshot {
            defaults: Arc::new(defaults),
            tenants,
        });
    }

    /// `tenant`'s limits in force.
    pub fn get(&self, tenant: &str) -> Arc<EffectiveLimits> {
        let s = self.inner.read();
        Arc::clone(s.tenants.get(tenant).unwrap_or(&s.defaults))
    }

    /// The defaults in force.
    pub fn defaults(&self) -> Arc<EffectiveLimits> {
        Arc::clone(&self.inner.read().defaults)
    }

    /// Every overridden tenant's limits in force, by tenant.
    pub fn tenants(&self) -> BTreeMap<String, Arc<EffectiveLimits>> {
        let s = self.inner.read();
        s.tenants
            .iter()
            .map(|(t, l)| (t.clone(), Arc::clone(l)))
            .collect()
    }
}

impl Default for Overrides {
    fn default() -> Self {
        Self::new(EffectiveLimits {
            limits: TenantLimits::default(),
            validation: ValidationLimits::default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_lay_over_defaults_and_swap_whole() {
        let o = Overrides::default();
        assert_eq!(o.get("a").limits.ingestion_rate, 10_000.0);
        let mut m = BTreeMap::new();
        m.insert(
            "a".to_string(),
            TenantOverrides {
                ingestion_rate: Some(5.0),
                max_label_names_per_series: Some(3),
                ..Default::default()
            },
        );
        let mut defaults = (*o.defaults()).clone();
        defaults.limits.ingestion_burst_size = 7;
        o.set(defaults, &m);
        let a = o.get("a");
        assert_eq!(a.limits.ingestion_rate, 5.0);
        assert_eq!(
            a.limits.ingestion_burst_size, 7,
            "unset keys take the defaults"
        );
        assert_eq!(a.validation.max_label_names_per_series, 3);
        let b = o.get("b");
        assert_eq!(b.limits.ingestion_rate, 10_000.0);
        assert_eq!(b.validation.max_label_names_per_series, 30);
        o.set((*o.defaults()).clone(), &BTreeMap::new());
        assert_eq!(o.get("a").limits.ingestion_rate, 10_000.0);
    }

    #[test]
    fn overrides_refuse_unknown_keys() {
        let bad = serde_json::from_str::<TenantOverrides>(r#"{"ingestion_rat": 1}"#);
        assert!(bad.is_err());
        let good: TenantOverrides =
            serde_json::from_str(r#"{"ingestion_rate": 1, "accept_ha_samples": true}"#)
                .expect("valid");
        assert_eq!(good.accept_ha_samples, Some(true));
    }
}
