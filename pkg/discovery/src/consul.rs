//! `consul_sd_configs` (catalog): services from `/v1/catalog/services`, their instances and
//! health from `/v1/health/service/<name>`, both as blocking queries (`index` from
//! `X-Consul-Index`, `wait`), as Prometheus's Consul SD does.
//!
//! ```text
//! /v1/agent/self (datacenter, when not configured)
//! /v1/catalog/services?index=..&wait=..&stale   ─► one watcher per wanted service
//!                                                    /v1/health/service/<name>?index=..&tag=..
//!                                                    ─► group source=<name>, __meta_consul_*
//! ```
//!
//! The catalog is watched when `services` is empty or `tags`/`filter` are set; otherwise
//! only the named services. A removed service sends an empty group. Failures count
//! `prometheus_sd_consul_rpc_failures_total`, wait `retry_interval` and keep the last groups.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use strata_promconfig::sd::ConsulSdConfig;
use tokio::task::JoinHandle;
use tracing::{debug, warn};

use crate::dns::join_host_port;
use crate::error::DiscoveryError;
use crate::http_client::HttpClient;
use crate::metrics::SdMetrics;
use crate::provider::{GroupSink, ProviderContext};
use crate::target_group::{sanitize_label_name, TargetGroup, ADDRESS_LABEL};

const P: &str = "__meta_consul_";

/// One Consul SD provider.
#[derive(Clone, Debug)]
pub struct ConsulDiscovery {
    base: reqwest::Url,
    client: HttpClient,
    token: String,
    datacenter: String,
    namespace: String,
    partition: String,
    services: Vec<String>,
    tags: Vec<String>,
    node_meta: BTreeMap<String, String>,
    tag_separator: String,
    allow_stale: bool,
    filter: String,
    refresh_interval: Duration,
    watch_timeout: Duration,
    retry_interval: Duration,
    metrics: SdMetrics,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct HealthEntry {
    #[serde(rename = "Node")]
    node: ConsulNode,
    #[serde(rename = "Service")]
    service: ConsulService,
    #[serde(rename = "Checks")]
    checks: Vec<ConsulCheck>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
struct ConsulNode {
    node: String,
    address: String,
    tagged_addresses: Option<BTreeMap<String, String>>,
    meta: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
struct ConsulService {
    #[serde(rename = "ID")]
    id: String,
    tags: Option<Vec<String>>,
    address: String,
    meta: Option<BTreeMap<String, String>>,
    port: i64,
    namespace: String,
    partition: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
struct ConsulCheck {
    #[serde(rename = "CheckID")]
    check_id: String,
    status: String,
}

/// Consul's `HealthChecks.AggregatedStatus`.
fn aggregated_status(checks: &[ConsulCheck]) -> &'static str {
    let (mut passing, mut warning, mut critical, mut maintenance) = (false, false, false, false);
    for c in checks {
        if c.check_id == "_node_maintenance" || c.check_id.starts_with("_service_maintenance:") {
            maintenance = true;
            continue;
        }
        match c.status.as_str() {
            "passing" => passing = true,
            "warning" => warning = true,
            "critical" => critical = true,
            _ => return "",
        }
    }
    if maintenance {
        "maintenance"
    } else if critical {
        "critical"
    } else if warning {
        "warning"
    } else {
        let _ = passing;
        "passing"
    }
}

struct AbortOnDrop(BTreeMap<String, JoinHandle<()>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        for h in self.0.values() {
            h.abort();
        }
    }
}

impl ConsulDiscovery {
    /// Builds the client for `scheme://server/path_prefix`.
    pub fn new(cfg: &ConsulSdConfig, ctx: &ProviderContext) -> Result<Self, DiscoveryError> {
        let scheme = if cfg.scheme.is_empty() {
            "http"
        } else {
            cfg.scheme.as_str()
        };
        let server = if cfg.server.is_empty() {
            "localhost:8500"
        } else {
            cfg.server.as_str()
        };
        let prefix = cfg.path_prefix.trim_matches('/');
        let url = if prefix.is_empty() {
            format!("{scheme}://{server}/")
        } else {
            format!("{scheme}://{server}/{prefix}/")
        };
        let base = HttpClient::check_url(&url, "consul")?;
        Ok(Self {
            base,
            client: HttpClient::new(&cfg.http, None, "consul")?,
            token: cfg.token.clone(),
            datacenter: cfg.datacenter.clone(),
            namespace: cfg.namespace.clone(),
            partition: cfg.partition.clone(),
            services: cfg.services.clone(),
            tags: cfg.tags.clone(),
            node_meta: cfg.node_meta.clone(),
            tag_separator: if cfg.tag_separator.is_empty() {
                ",".into()
            } else {
                cfg.tag_separator.clone()
            },
            allow_stale: cfg.allow_stale,
            filter: cfg.filter.clone(),
            refresh_interval: cfg.refresh_interval,
            watch_timeout: ctx.options.consul_watch_timeout,
            retry_interval: ctx.options.retry_interval,
            metrics: ctx.metrics.clone(),
        })
    }

    /// A GET of `path` with the common query parameters; returns the body and `X-Consul-Index`.
    async fn get(
        &self,
        path: &str,
        index: Option<u64>,
        extra: &[(&str, &str)],
    ) -> Result<(Vec<u8>, u64), DiscoveryError> {
        let mut url = self
            .base
            .join(path)
            .map_err(|e| DiscoveryError::config("consul", format!("url {path}: {e}")))?;
        {
            let mut q = url.query_pairs_mut();
            if let Some(i) = index {
                q.append_pair("index", &i.to_string());
                q.append_pair("wait", &format!("{}ms", self.watch_timeout.as_millis()));
            }
            if self.allow_stale {
                q.append_pair("stale", "");
            }
            for (k, v) in [
                ("dc", &self.datacenter),
                ("ns", &self.namespace),
                ("partition", &self.partition),
            ] {
                if !v.is_empty() {
                    q.append_pair(k, v);
                }
            }
            for (k, v) in extra {
                q.append_pair(k, v);
            }
        }
        let mut rb = self.client.get(url.clone())?;
        rb = rb.timeout(self.watch_timeout + self.watch_timeout / 16 + Duration::from_secs(5));
        if !self.token.is_empty() {
            rb = rb.header("X-Consul-Token", &self.token);
        }
        let resp = rb
            .send()
            .await
            .map_err(|e| DiscoveryError::http(url.as_str(), format!("{e:#}")))?;
        if !resp.status().is_success() {
            return Err(DiscoveryError::http(
                url.as_str(),
                format!("status {}", resp.status()),
            ));
        }
        let idx = resp
            .headers()
            .get("X-Consul-Index")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let body = resp
            .bytes()
            .await
            .map_err(|e| DiscoveryError::http(url.as_str(), e))?;
        Ok((body.to_vec(), idx))
    }

    fn failed(&self, what: &str, err: &DiscoveryError) {
        self.metrics.consul_rpc_failures.inc();
        self.metrics.refresh_failed("consul");
        warn!(err = %err, "consul: {what}");
    }

    /// Runs until aborted.
    pub async fn run(mut self, sink: GroupSink) {
        while self.datacenter.is_empty() {
            match self.agent_datacenter().await {
                Ok(dc) => self.datacenter = dc,
                Err(err) => {
                    self.failed("error retrieving datacenter name", &err);
                    tokio::time::sleep(self.retry_interval).await;
                }
            }
        }
        let mut watchers = AbortOnDrop(BTreeMap::new());
        if self.services.is_empty() || !self.tags.is_empty() || !self.filter.is_empty() {
            let mut last_index = 0u64;
            let mut tick =
                tokio::time::interval(self.refresh_interval.max(Duration::from_millis(10)));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                self.watch_services(&sink, &mut last_index, &mut watchers)
                    .await;
            }
        } else {
            for name in self.services.clone() {
                let h = tokio::spawn(self.clone().watch_service(name.clone(), sink.clone()));
                watchers.0.insert(name, h);
            }
            std::future::pending::<()>().await;
        }
    }

    async fn agent_datacenter(&self) -> Result<String, DiscoveryError> {
        let (body, _) = self.get("v1/agent/self", None, &[]).await?;
        let v: serde_json::Value = serde_json::from_slice(&body)
            .map_err(|e| DiscoveryError::Parse(format!("agent/self: {e}")))?;
        v.pointer("/Config/Datacenter")
            .and_then(|d| d.as_str())
            .map(str::to_string)
            .ok_or_else(|| DiscoveryError::Parse("agent/self: no Config.Datacenter".into()))
    }

    fn node_meta_params(&self) -> Vec<(&'static str, String)> {
        self.node_meta
            .iter()
            .map(|(k, v)| ("node-meta", format!("{k}:{v}")))
            .collect()
    }

    async fn watch_services(
        &self,
        sink: &GroupSink,
        last_index: &mut u64,
        watchers: &mut AbortOnDrop,
    ) {
        let mut extra: Vec<(&str, String)> = self.node_meta_params();
        if !self.filter.is_empty() {
            extra.push(("filter", self.filter.clone()));
        }
        let extra_ref: Vec<(&str, &str)> = extra.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (body, idx) = match self
            .get("v1/catalog/services", Some(*last_index), &extra_ref)
            .await
        {
            Ok(r) => r,
            Err(err) => {
                self.failed("error refreshing service list", &err);
                tokio::time::sleep(self.retry_interval).await;
                return;
            }
        };
        if idx == *last_index {
            return;
        }
        let services: BTreeMap<String, Option<Vec<String>>> = match serde_json::from_slice(&body) {
            Ok(s) => s,
            Err(e) => {
                self.failed(
                    "error decoding service list",
                    &DiscoveryError::Parse(e.to_string()),
                );
                return;
            }
        };
        *last_index = idx;
        for (name, tags) in &services {
            let tags = tags.clone().unwrap_or_default();
            let wanted = (self.services.is_empty() || self.services.contains(name))
                && self.tags.iter().all(|t| tags.contains(t));
            if !wanted || watchers.0.contains_key(name) {
                continue;
            }
            debug!(service = %name, "consul: watching service");
            let h = tokio::spawn(self.clone().watch_service(name.clone(), sink.clone()));
            watchers.0.insert(name.clone(), h);
        }
        let gone: Vec<String> = watchers
            .0
            .keys()
            .filter(|n| !services.contains_key(*n))
            .cloned()
            .collect();
        for name in gone {
            if let Some(h) = watchers.0.remove(&name) {
                h.abort();
            }
            sink.send(vec![TargetGroup::empty(name)]);
        }
        if watchers.0.is_empty() {
            sink.send(vec![TargetGroup::default()]);
        }
    }

    async fn watch_service(self, name: String, sink: GroupSink) {
        let mut last_index = 0u64;
        let mut tick = tokio::time::interval(self.refresh_interval.max(Duration::from_millis(10)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut extra: Vec<(&str, String)> = self.node_meta_params();
        extra.extend(self.tags.iter().map(|t| ("tag", t.clone())));
        let path = format!("v1/health/service/{}", encode_path_segment(&name));
        loop {
            tick.tick().await;
            let extra_ref: Vec<(&str, &str)> =
                extra.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let (body, idx) = match self.get(&path, Some(last_index), &extra_ref).await {
                Ok(r) => r,
                Err(err) => {
                    self.failed("error refreshing service", &err);
                    tokio::time::sleep(self.retry_interval).await;
                    continue;
                }
            };
            if idx == last_index {
                continue;
            }
            let entries: Vec<HealthEntry> = match serde_json::from_slice(&body) {
                Ok(e) => e,
                Err(e) => {
                    self.failed(
                        "error decoding service health",
                        &DiscoveryError::Parse(e.to_string()),
                    );
                    continue;
                }
            };
            last_index = idx;
            sink.send(vec![self.group(&name, &entries)]);
        }
    }

    fn group(&self, name: &str, entries: &[HealthEntry]) -> TargetGroup {
        let mut tg = TargetGroup::empty(name);
        tg.labels.insert(format!("{P}service"), name.to_string());
        tg.labels.insert(format!("{P}dc"), self.datacenter.clone());
        let sep = &self.tag_separator;
        for e in entries {
            let s = &e.service;
            let port = u16::try_from(s.port).unwrap_or(0);
            let host = if s.address.is_empty() {
                &e.node.address
            } else {
                &s.address
            };
            let tags = s.tags.clone().unwrap_or_default();
            let mut t = BTreeMap::from([
                (ADDRESS_LABEL.to_string(), join_host_port(host, port)),
                (format!("{P}address"), e.node.address.clone()),
                (format!("{P}node"), e.node.node.clone()),
                (format!("{P}namespace"), s.namespace.clone()),
                (format!("{P}partition"), s.partition.clone()),
                (format!("{P}tags"), format!("{sep}{}{sep}", tags.join(sep))),
                (format!("{P}service_address"), s.address.clone()),
                (format!("{P}service_port"), s.port.to_string()),
                (format!("{P}service_id"), s.id.clone()),
                (
                    format!("{P}health"),
                    aggregated_status(&e.checks).to_string(),
                ),
            ]);
            for (k, v) in e.node.meta.iter().flatten() {
                t.insert(format!("{P}metadata_{}", sanitize_label_name(k)), v.clone());
            }
            for (k, v) in s.meta.iter().flatten() {
                t.insert(
                    format!("{P}service_metadata_{}", sanitize_label_name(k)),
                    v.clone(),
                );
            }
            for (k, v) in e.node.tagged_addresses.iter().flatten() {
                t.insert(
                    format!("{P}tagged_address_{}", sanitize_label_name(k)),
                    v.clone(),
                );
            }
            tg.targets.push(t);
        }
        tg
    }
}

/// Percent-encodes a service name for use as one path segment.
fn encode_path_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // in tests a failed unwrap is a failed test
mod tests {
    use super::*;

    fn check(id: &str, status: &str) -> ConsulCheck {
        ConsulCheck {
            check_id: id.into(),
            status: status.into(),
        }
    }

    #[test]
    fn aggregated_status_is_consuls() {
        assert_eq!(aggregated_status(&[]), "passing");
        assert_eq!(
            aggregated_status(&[check("a", "passing"), check("b", "warning")]),
            "warning"
        );
        assert_eq!(
            aggregated_status(&[check("a", "critical"), check("b", "warning")]),
            "critical"
        );
        assert_eq!(
            aggregated_status(&[
                check("_node_maintenance", "critical"),
                check("b", "passing")
            ]),
            "maintenance"
        );
        assert_eq!(aggregated_status(&[check("a", "bogus")]), "");
        assert_eq!(encode_path_segment("a b/c"), "a%20b%2Fc");
    }
}
