//! `dns_sd_configs`: every `refresh_interval`, look each name up (SRV, A, AAAA, MX or NS) and
//! make one group per name (source = the name) with `__meta_dns_*` labels.
//!
//! ```text
//! names ──► client::lookup_with_search_path (resolv.conf servers, UDP → TCP on TC)
//!       ──► message::decode_response ──► targets: SRV target:port | A/AAAA ip:port | MX/NS host:port
//! ```
//!
//! As in Prometheus, a refresh where any name fails sends nothing (the last groups stay) and
//! counts the failure; a name that does not exist gives an empty group.

pub mod client;
pub mod message;

use std::collections::BTreeMap;
use std::time::Duration;

use strata_promconfig::sd::DnsSdConfig;
use tracing::error;

use crate::error::DiscoveryError;
use crate::metrics::SdMetrics;
use crate::provider::{GroupSink, ProviderContext, SdOptions};
use crate::target_group::{TargetGroup, ADDRESS_LABEL};
use client::ResolverConfig;
use message::{Record, RecordType};

/// `__meta_dns_name`: the name looked up.
pub const NAME_LABEL: &str = "__meta_dns_name";
/// `__meta_dns_srv_record_target`.
pub const SRV_TARGET_LABEL: &str = "__meta_dns_srv_record_target";
/// `__meta_dns_srv_record_port`.
pub const SRV_PORT_LABEL: &str = "__meta_dns_srv_record_port";
/// `__meta_dns_mx_record_target`.
pub const MX_TARGET_LABEL: &str = "__meta_dns_mx_record_target";
/// `__meta_dns_ns_record_target`.
pub const NS_TARGET_LABEL: &str = "__meta_dns_ns_record_target";

/// One DNS SD provider.
#[derive(Debug)]
pub struct DnsDiscovery {
    names: Vec<String>,
    qtype: RecordType,
    port: u16,
    refresh_interval: Duration,
    options: SdOptions,
    metrics: SdMetrics,
}

impl DnsDiscovery {
    /// Checks the type and port.
    pub fn new(cfg: &DnsSdConfig, ctx: &ProviderContext) -> Result<Self, DiscoveryError> {
        let t = if cfg.type_.is_empty() {
            "SRV"
        } else {
            cfg.type_.as_str()
        };
        let qtype = RecordType::parse(&t.to_ascii_uppercase()).ok_or_else(|| {
            DiscoveryError::config("dns", format!("invalid DNS-SD records type {t:?}"))
        })?;
        if qtype != RecordType::Srv && cfg.port == 0 {
            return Err(DiscoveryError::config(
                "dns",
                "a port is required in DNS-SD configs for all record types except SRV",
            ));
        }
        if cfg.names.is_empty() {
            return Err(DiscoveryError::config(
                "dns",
                "DNS-SD config must contain at least one SRV record name",
            ));
        }
        Ok(Self {
            names: cfg.names.clone(),
            qtype,
            port: cfg.port,
            refresh_interval: cfg.refresh_interval,
            options: ctx.options.clone(),
            metrics: ctx.metrics.clone(),
        })
    }

    /// Refreshes now and every `refresh_interval` until aborted.
    pub async fn run(self, sink: GroupSink) {
        let mut tick = tokio::time::interval(self.refresh_interval.max(Duration::from_millis(10)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match self.refresh().await {
                Ok(groups) => sink.send(groups),
                Err(err) => {
                    self.metrics.refresh_failed("dns");
                    error!(err = %err, "dns service discovery refresh failed");
                }
            }
        }
    }

    fn resolver(&self) -> Result<ResolverConfig, DiscoveryError> {
        match &self.options.dns_servers {
            Some(servers) => Ok(ResolverConfig {
                servers: servers.clone(),
                timeout: Duration::from_secs(2),
                ..ResolverConfig::default()
            }),
            None => ResolverConfig::from_file(&self.options.resolv_conf).map_err(|msg| {
                DiscoveryError::Dns {
                    name: "resolv.conf".into(),
                    msg,
                }
            }),
        }
    }

    /// Looks every name up; fails if any lookup fails.
    pub async fn refresh(&self) -> Result<Vec<TargetGroup>, DiscoveryError> {
        let conf = self.resolver()?;
        let lookups = self.names.iter().map(|name| {
            let conf = &conf;
            async move {
                self.metrics.dns_lookups.inc();
                let r = client::lookup_with_search_path(conf, name, self.qtype).await;
                if r.is_err() {
                    self.metrics.dns_lookup_failures.inc();
                }
                r.map(|resp| self.group(name, &resp.answers))
                    .map_err(|msg| DiscoveryError::Dns {
                        name: name.clone(),
                        msg,
                    })
            }
        });
        futures::future::join_all(lookups)
            .await
            .into_iter()
            .collect()
    }

    fn group(&self, name: &str, answers: &[Record]) -> TargetGroup {
        let mut targets = Vec::with_capacity(answers.len());
        for rec in answers {
            let (mut srv_target, mut srv_port, mut mx, mut ns) =
                (String::new(), String::new(), String::new(), String::new());
            let addr = match rec {
                Record::Srv { port, target } => {
                    srv_target = target.clone();
                    srv_port = port.to_string();
                    join_host_port(target.trim_end_matches('.'), *port)
                }
                Record::Mx(host) => {
                    mx = host.clone();
                    join_host_port(host.trim_end_matches('.'), self.port)
                }
                Record::Ns(host) => {
                    ns = host.clone();
                    join_host_port(host.trim_end_matches('.'), self.port)
                }
                Record::A(ip) => join_host_port(&ip.to_string(), self.port),
                Record::Aaaa(ip) => join_host_port(&ip.to_string(), self.port),
                Record::Cname(_) => continue,
                Record::Other(t) => {
                    tracing::warn!(name, record_type = t, "invalid dns record");
                    continue;
                }
            };
            targets.push(BTreeMap::from([
                (ADDRESS_LABEL.to_string(), addr),
                (NAME_LABEL.to_string(), name.to_string()),
                (SRV_TARGET_LABEL.to_string(), srv_target),
                (SRV_PORT_LABEL.to_string(), srv_port),
                (MX_TARGET_LABEL.to_string(), mx),
                (NS_TARGET_LABEL.to_string(), ns),
            ]));
        }
        TargetGroup {
            source: name.to_string(),
            targets,
            labels: BTreeMap::new(),
        }
    }
}

/// `net.JoinHostPort`: brackets hosts containing a colon.
pub(crate) fn join_host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}
