//! The runtime overrides file (`-runtime-config.file`): per-tenant limits changed without a
//! restart, as Mimir's runtime configuration.
//!
//! ```text
//!  overrides:            every -runtime-config.reload-period (10s):
//!    tenant-a:             read + parse ─ok──► Overrides::set on every holder
//!      ingestion_rate: 50              └─err─► keep the last good config, log,
//!      max_global_series_per_user: 1000        strata_runtime_config_last_reload_successful 0
//! ```
//!
//! Defaults are the flags (`-distributor.ingestion-rate-limit`, ...; the `limits` block and
//! `distributor.limits` for validation). The distributor's [`Overrides`] and this module's
//! own copy (read by the ingester's series limits) are replaced together. A bad file at
//! start-up fails the start; later, it only keeps the last good config. `GET
//! /runtime_config` shows the defaults and every overridden tenant's limits in force.
//!
//! The ingester's YAML-only `ingester.tenant_overrides` (out-of-order window, exemplars) are
//! separate: read once at start-up, not from this file.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::response::IntoResponse;
use parking_lot::Mutex;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use serde::{Deserialize, Serialize};
use strata_distributor::limits::{EffectiveLimits, Overrides, TenantOverrides};

/// The file's contents.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RuntimeFile {
    /// Per-tenant limit overrides.
    pub overrides: BTreeMap<String, TenantOverrides>,
}

/// Parses the file's text; an empty file means no overrides.
pub fn parse(text: &str) -> anyhow::Result<RuntimeFile> {
    if text.trim().is_empty() {
        return Ok(RuntimeFile::default());
    }
    let f: RuntimeFile = serde_yaml::from_str(text)?;
    for (tenant, o) in &f.overrides {
        if o.ingestion_rate.is_some_and(|r| r.is_nan() || r < 0.0) {
            anyhow::bail!("overrides.{tenant}.ingestion_rate: must be a non-negative number");
        }
    }
    Ok(f)
}

/// The loaded runtime config and everyone who must see it.
pub struct RuntimeConfig {
    path: String,
    defaults: EffectiveLimits,
    /// This process' copy, for the ingester.
    overrides: Arc<Overrides>,
    holders: Mutex<Vec<Arc<Overrides>>>,
    current: Mutex<RuntimeFile>,
    last_ok: Gauge,
    reloads_ok: Counter,
    reloads_failed: Counter,
}

impl RuntimeConfig {
    /// Loads `path` (if set) over `defaults`; fails on an unreadable or invalid file.
    pub fn load(
        path: &str,
        defaults: EffectiveLimits,
        registry: &mut Registry,
    ) -> anyhow::Result<Arc<Self>> {
        let rc = Arc::new(Self {
            path: path.to_string(),
            overrides: Arc::new(Overrides::new(defaults.clone())),
            defaults,
            holders: Mutex::new(Vec::new()),
            current: Mutex::new(RuntimeFile::default()),
            last_ok: Gauge::default(),
            reloads_ok: Counter::default(),
            reloads_failed: Counter::default(),
        });
        registry.register(
            "strata_runtime_config_last_reload_successful",
            "Whether the last runtime config reload succeeded (1) or kept the previous config (0).",
            rc.last_ok.clone(),
        );
        registry.register(
            "strata_runtime_config_reloads",
            "Runtime config reloads that succeeded.",
            rc.reloads_ok.clone(),
        );
        registry.register(
            "strata_runtime_config_reload_failures",
            "Runtime config reloads that failed (the last good config stays).",
            rc.reloads_failed.clone(),
        );
        rc.reload()
            .with_context(|| format!("load runtime config -runtime-config.file={path}"))?;
        Ok(rc)
    }

    /// This process' limits in force (the ingester's series limits read them).
    pub fn overrides(&self) -> &Arc<Overrides> {
        &self.overrides
    }

    /// Keeps `o` (a distributor's) in step with the file from now on.
    pub fn attach(&self, o: Arc<Overrides>) {
        o.set(self.defaults.clone(), &self.current.lock().overrides);
        self.holders.lock().push(o);
    }

    /// Re-reads the file; on error the last good config stays.
    pub fn reload(&self) -> anyhow::Result<()> {
        let res = self.read();
        match &res {
            Ok(()) => {
                self.last_ok.set(1);
                self.reloads_ok.inc();
            }
            Err(_) => {
                self.last_ok.set(0);
                self.reloads_failed.inc();
            }
        }
        res
    }

    fn read(&self) -> anyhow::Result<()> {
        if self.path.is_empty() {
            return Ok(());
        }
        let text =
            std::fs::read_to_string(&self.path).with_context(|| format!("read {}", self.path))?;
        let file = parse(&text).with_context(|| format!("parse {}", self.path))?;
        let mut cur = self.current.lock();
        if *cur == file {
            return Ok(());
        }
        self.overrides.set(self.defaults.clone(), &file.overrides);
        for h in self.holders.lock().iter() {
            h.set(self.defaults.clone(), &file.overrides);
        }
        tracing::info!(path = %self.path, tenants = file.overrides.len(), "runtime config loaded");
        *cur = file;
        Ok(())
    }

    /// Re-reads the file every `period` while the process runs.
    pub fn spawn_reloader(self: &Arc<Self>, period: Duration) {
        if self.path.is_empty() {
            return;
        }
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tick.tick().await;
                let Some(rc) = weak.upgrade() else { return };
                if let Err(e) = rc.reload() {
                    tracing::error!(
                        error = format!("{e:#}"),
                        "runtime config reload failed; keeping the last good config"
                    );
                }
            }
        });
    }

    /// The limits in force as YAML: the defaults and every overridden tenant.
    pub fn effective_yaml(&self) -> String {
        #[derive(Serialize)]
        struct View {
            defaults: EffectiveLimits,
            overrides: BTreeMap<String, EffectiveLimits>,
        }
        let view = View {
            defaults: (*self.overrides.defaults()).clone(),
            overrides: self
                .overrides
                .tenants()
                .into_iter()
                .map(|(t, l)| (t, (*l).clone()))
                .collect(),
        };
        serde_yaml::to_string(&view).unwrap_or_else(|e| format!("# cannot render: {e}\n"))
    }

    /// `GET /runtime_config`.
    pub fn router(self: &Arc<Self>) -> axum::Router {
        let rc = Arc::clone(self);
        axum::Router::new().route(
            "/runtime_config",
            axum::routing::get(move || {
                let rc = Arc::clone(&rc);
                async move {
                    (
                        [(
                            axum::http::header::CONTENT_TYPE,
                            "text/plain; charset=utf-8",
                        )],
                        rc.effective_yaml(),
                    )
                        .into_response()
                }
            }),
        )
    }
}

#[cfg(test)]
mod tests {
    use strata_distributor::limits::TenantLimits;
    use strata_distributor::ValidationLimits;

    use super::*;

    fn defaults() -> EffectiveLimits {
        EffectiveLimits {
            limits: TenantLimits::default(),
            validation: ValidationLimits::default(),
        }
    }

    #[test]
    fn reload_applies_changes_and_keeps_the_last_good_config() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("runtime.yaml");
        std::fs::write(&path, "overrides:\n  a:\n    ingestion_rate: 5\n").expect("write");
        let mut reg = Registry::default();
        let rc =
            RuntimeConfig::load(path.to_str().expect("utf-8"), defaults(), &mut reg).expect("load");
        let distributor_copy = Arc::new(Overrides::default());
        rc.attach(Arc::clone(&distributor_copy));
        assert_eq!(rc.overrides().get("a").limits.ingestion_rate, 5.0);
        assert_eq!(distributor_copy.get("a").limits.ingestion_rate, 5.0);
        assert_eq!(rc.overrides().get("b").limits.ingestion_rate, 10_000.0);

        std::fs::write(
            &path,
            "overrides:\n  a:\n    max_global_series_per_user: 7\n",
        )
        .expect("write");
        rc.reload().expect("reload");
        let a = distributor_copy.get("a");
        assert_eq!(
            a.limits.ingestion_rate, 10_000.0,
            "a removed key falls back"
        );
        assert_eq!(a.limits.max_global_series_per_user, 7);

        std::fs::write(&path, "overrides:\n  a:\n    no_such_limit: 1\n").expect("write");
        assert!(rc.reload().is_err());
        assert_eq!(rc.last_ok.get(), 0);
        assert_eq!(
            distributor_copy.get("a").limits.max_global_series_per_user,
            7,
            "the last good config stays"
        );
        assert!(rc
            .effective_yaml()
            .contains("max_global_series_per_user: 7"));
    }

    #[test]
    fn bad_file_at_start_fails() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("runtime.yaml");
        std::fs::write(&path, "overrides: [1, 2]\n").expect("write");
        let mut reg = Registry::default();
        assert!(RuntimeConfig::load(path.to_str().expect("utf-8"), defaults(), &mut reg).is_err());
        assert!(parse("").expect("empty").overrides.is_empty());
        assert!(parse("overrides:\n  a:\n    ingestion_rate: -1\n").is_err());
    }
}
