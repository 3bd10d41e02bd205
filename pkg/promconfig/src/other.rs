//! The top-level sections the agent does not use (`runtime`, `alerting`, `storage`,
//! `tracing`, `otlp`): read and checked for unknown keys like Prometheus does, so a file
//! Prometheus refuses is refused here too.

use crate::http::{HttpClientConfig, TlsConfig};
use crate::sd::ServiceDiscoveryConfigs;
use crate::yaml::Obj;
use crate::ConfigError;
use std::collections::BTreeMap;
use std::time::Duration;
use strata_relabel::RelabelConfig;

/// `runtime`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RuntimeConfig {
    /// `gogc` (Go's GC target; meaningless for Strata).
    pub gogc: Option<i64>,
}

impl RuntimeConfig {
    pub(crate) fn parse(mut o: Obj) -> Result<Self, ConfigError> {
        let c = RuntimeConfig {
            gogc: o.i64("gogc")?,
        };
        o.finish()?;
        Ok(c)
    }
}

/// `alerting.alertmanagers[]`.
#[derive(Clone, Debug, PartialEq)]
pub struct AlertmanagerConfig {
    /// `scheme`, default `http`.
    pub scheme: String,
    /// `path_prefix`.
    pub path_prefix: String,
    /// `timeout`, default 10s.
    pub timeout: Duration,
    /// `api_version`, default `v2`.
    pub api_version: String,
    /// `relabel_configs`.
    pub relabel_configs: Vec<RelabelConfig>,
    /// `alert_relabel_configs`.
    pub alert_relabel_configs: Vec<RelabelConfig>,
    /// The HTTP client settings (inline).
    pub http: HttpClientConfig,
    /// Discovery of the Alertmanagers.
    pub sd: ServiceDiscoveryConfigs,
}

/// `alerting`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AlertingConfig {
    /// `alert_relabel_configs`.
    pub alert_relabel_configs: Vec<RelabelConfig>,
    /// `alertmanagers`.
    pub alertmanagers: Vec<AlertmanagerConfig>,
}

impl AlertingConfig {
    pub(crate) fn parse(mut o: Obj, warnings: &mut Vec<String>) -> Result<Self, ConfigError> {
        let alert_relabel_configs = o.relabel_configs(
            "alert_relabel_configs",
            "empty or null alert relabeling rule",
        )?;
        let mut alertmanagers = Vec::new();
        for (p, v) in o.list("alertmanagers")? {
            if v.is_null() {
                return Err(ConfigError::invalid(
                    &p,
                    "empty or null alertmanager config",
                ));
            }
            let mut a = Obj::new(&p, v, "config.AlertmanagerConfig")?;
            let api_path = a.at("api_version");
            let mut am = AlertmanagerConfig {
                scheme: a.str_or("scheme", "http")?,
                path_prefix: a.str_or("path_prefix", "")?,
                timeout: a.duration_or("timeout", Duration::from_secs(10))?,
                api_version: a.str_or("api_version", "v2")?,
                relabel_configs: a.relabel_configs(
                    "relabel_configs",
                    "empty or null Alertmanager target relabeling rule",
                )?,
                alert_relabel_configs: a.relabel_configs(
                    "alert_relabel_configs",
                    "empty or null Alertmanager alert relabeling rule",
                )?,
                http: HttpClientConfig::parse(&mut a)?,
                sd: ServiceDiscoveryConfigs::parse(&mut a, warnings)?,
            };
            a.take("sigv4");
            a.finish()?;
            if am.api_version != "v1" && am.api_version != "v2" {
                return Err(ConfigError::invalid(
                    &api_path,
                    format!(
                        "expected Alertmanager api version to be one of [v1 v2] but got {}",
                        am.api_version
                    ),
                ));
            }
            am.sd.unsupported.clear();
            alertmanagers.push(am);
        }
        o.finish()?;
        Ok(AlertingConfig {
            alert_relabel_configs,
            alertmanagers,
        })
    }
}

/// `storage`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StorageConfig {
    /// `tsdb.out_of_order_time_window`.
    pub out_of_order_time_window: Option<Duration>,
    /// `exemplars.max_exemplars`.
    pub max_exemplars: Option<i64>,
}

impl StorageConfig {
    pub(crate) fn parse(mut o: Obj) -> Result<Self, ConfigError> {
        let mut c = StorageConfig::default();
        if let Some(mut t) = o.obj("tsdb", "config.plain")? {
            c.out_of_order_time_window = t.duration("out_of_order_time_window")?;
            t.finish()?;
        }
        if let Some(mut e) = o.obj("exemplars", "config.ExemplarsConfig")? {
            c.max_exemplars = e.i64("max_exemplars")?;
            e.finish()?;
        }
        o.finish()?;
        Ok(c)
    }
}

/// `tracing`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TracingConfig {
    /// `client_type` (`grpc` default, or `http`).
    pub client_type: String,
    /// `endpoint`.
    pub endpoint: String,
    /// `sampling_fraction`.
    pub sampling_fraction: f64,
    /// `insecure`.
    pub insecure: bool,
    /// `tls_config`.
    pub tls_config: TlsConfig,
    /// `headers`.
    pub headers: BTreeMap<String, String>,
    /// `compression`.
    pub compression: String,
    /// `timeout`.
    pub timeout: Option<Duration>,
}

impl TracingConfig {
    pub(crate) fn parse(mut o: Obj) -> Result<Self, ConfigError> {
        let path = o.path().to_string();
        let tls_config = match o.obj("tls_config", "config.plain")? {
            Some(t) => TlsConfig::parse(t)?,
            None => TlsConfig::default(),
        };
        let c = TracingConfig {
            client_type: o.str_or("client_type", "grpc")?,
            endpoint: o.str_or("endpoint", "")?,
            sampling_fraction: o.f64("sampling_fraction")?.unwrap_or(0.0),
            insecure: o.bool_or("insecure", false)?,
            tls_config,
            headers: o.str_map("headers")?,
            compression: o.str_or("compression", "")?,
            timeout: o.duration("timeout")?,
        };
        o.finish()?;
        for name in c.headers.keys() {
            if name.eq_ignore_ascii_case("authorization") {
                return Err(ConfigError::invalid(
                    &path,
                    "custom authorization header configuration is not yet supported",
                ));
            }
        }
        if c.endpoint.is_empty() {
            return Err(ConfigError::invalid(&path, "tracing endpoint must be set"));
        }
        if c.client_type != "grpc" && c.client_type != "http" {
            return Err(ConfigError::invalid(
                &path,
                format!(
                    "expected tracing client type to be to be one of [grpc http], but got {}",
                    c.client_type
                ),
            ));
        }
        if !c.compression.is_empty() && c.compression != "gzip" {
            return Err(ConfigError::invalid(
                &path,
                format!(
                    "invalid compression type {} provided, valid options: gzip",
                    c.compression
                ),
            ));
        }
        Ok(c)
    }
}

/// `otlp` (Prometheus 3's OTLP receiver settings).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OtlpConfig {
    /// `promote_resource_attributes`.
    pub promote_resource_attributes: Vec<String>,
    /// `translation_strategy`.
    pub translation_strategy: String,
    /// `keep_identifying_resource_attributes`.
    pub keep_identifying_resource_attributes: bool,
    /// `convert_histograms_to_nhcb`.
    pub convert_histograms_to_nhcb: bool,
    /// `promote_all_resource_attributes`.
    pub promote_all_resource_attributes: bool,
    /// `ignore_resource_attributes`.
    pub ignore_resource_attributes: Vec<String>,
    /// `promote_scope_metadata`.
    pub promote_scope_metadata: bool,
}

impl OtlpConfig {
    pub(crate) fn parse(mut o: Obj) -> Result<Self, ConfigError> {
        let c = OtlpConfig {
            promote_resource_attributes: o.strings("promote_resource_attributes")?,
            translation_strategy: o.str_or("translation_strategy", "")?,
            keep_identifying_resource_attributes: o
                .bool_or("keep_identifying_resource_attributes", false)?,
            convert_histograms_to_nhcb: o.bool_or("convert_histograms_to_nhcb", false)?,
            promote_all_resource_attributes: o.bool_or("promote_all_resource_attributes", false)?,
            ignore_resource_attributes: o.strings("ignore_resource_attributes")?,
            promote_scope_metadata: o.bool_or("promote_scope_metadata", false)?,
        };
        o.finish()?;
        Ok(c)
    }
}
