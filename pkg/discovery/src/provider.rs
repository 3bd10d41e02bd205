//! What every discovery mechanism shares: the [`SdConfig`] of one provider, the
//! [`GroupSink`] it reports to, the [`SdOptions`] tests shorten, and [`spawn_provider`] that
//! builds the right discoverer and runs it as a task.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use strata_promconfig::sd::{
    ConsulSdConfig, DnsSdConfig, FileSdConfig, HttpSdConfig, KubernetesSdConfig, StaticConfig,
};
use tokio::task::JoinHandle;

use crate::error::DiscoveryError;
use crate::metrics::SdMetrics;
use crate::target_group::TargetGroup;
use crate::{consul, dns, file, http, kubernetes, static_sd};

/// The configuration of one provider: one SD config entry of a job, or all its
/// `static_configs` together. Equal configs across jobs (or across a reload) share a provider.
#[derive(Clone, Debug, PartialEq)]
pub enum SdConfig {
    /// `static_configs` of one job.
    Static(Vec<StaticConfig>),
    /// One `file_sd_configs` entry.
    File(FileSdConfig),
    /// One `http_sd_configs` entry.
    Http(HttpSdConfig),
    /// One `dns_sd_configs` entry.
    Dns(DnsSdConfig),
    /// One `kubernetes_sd_configs` entry.
    Kubernetes(KubernetesSdConfig),
    /// One `consul_sd_configs` entry.
    Consul(ConsulSdConfig),
}

impl SdConfig {
    /// The mechanism's name as Prometheus writes it (`static`, `file`, `http`, `dns`,
    /// `kubernetes`, `consul`).
    pub fn mechanism(&self) -> &'static str {
        match self {
            Self::Static(_) => "static",
            Self::File(_) => "file",
            Self::Http(_) => "http",
            Self::Dns(_) => "dns",
            Self::Kubernetes(_) => "kubernetes",
            Self::Consul(_) => "consul",
        }
    }
}

/// Where a discoverer reports changed groups; each call carries groups whose `source`
/// replaces the provider's earlier group of that source.
#[derive(Clone)]
pub struct GroupSink(Arc<dyn Fn(Vec<TargetGroup>) + Send + Sync>);

impl GroupSink {
    /// A sink calling `f` for every update.
    pub fn new(f: impl Fn(Vec<TargetGroup>) + Send + Sync + 'static) -> Self {
        Self(Arc::new(f))
    }

    /// A sink feeding an unbounded channel (tests and simple consumers).
    pub fn channel() -> (Self, tokio::sync::mpsc::UnboundedReceiver<Vec<TargetGroup>>) {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        (
            Self::new(move |g| {
                let _ = tx.send(g);
            }),
            rx,
        )
    }

    /// Reports `groups`.
    pub fn send(&self, groups: Vec<TargetGroup>) {
        (self.0)(groups)
    }
}

impl std::fmt::Debug for GroupSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GroupSink")
    }
}

/// Timings and endpoints the agent fixes and tests shorten.
#[derive(Clone, Debug)]
pub struct SdOptions {
    /// The manager's name in metrics (`scrape`).
    pub name: String,
    /// Minimum time between two updates to the subscriber (Prometheus: 5 s).
    pub update_interval: Duration,
    /// How often file SD checks its files' modification times.
    pub file_poll_interval: Duration,
    /// DNS servers to ask instead of those of `resolv_conf` (tests run a fake server).
    pub dns_servers: Option<Vec<SocketAddr>>,
    /// The resolver configuration file (`/etc/resolv.conf`).
    pub resolv_conf: PathBuf,
    /// Wait time of Consul blocking queries (Prometheus: 2 min).
    pub consul_watch_timeout: Duration,
    /// Pause after a failed Consul or Kubernetes request (Prometheus: 15 s for Consul).
    pub retry_interval: Duration,
    /// Timeout of one HTTP SD / Consul / Kubernetes list request.
    pub request_timeout: Duration,
    /// Where in-cluster Kubernetes credentials live.
    pub kubernetes_service_account_dir: PathBuf,
}

impl Default for SdOptions {
    fn default() -> Self {
        Self {
            name: "scrape".into(),
            update_interval: Duration::from_secs(5),
            file_poll_interval: Duration::from_secs(1),
            dns_servers: None,
            resolv_conf: PathBuf::from("/etc/resolv.conf"),
            consul_watch_timeout: Duration::from_secs(120),
            retry_interval: Duration::from_secs(15),
            request_timeout: Duration::from_secs(30),
            kubernetes_service_account_dir: PathBuf::from(
                "/var/run/secrets/kubernetes.io/serviceaccount",
            ),
        }
    }
}

/// What a discoverer gets besides its config.
#[derive(Clone, Debug)]
pub struct ProviderContext {
    /// Shared metrics.
    pub metrics: SdMetrics,
    /// Timings.
    pub options: SdOptions,
}

/// Builds the discoverer for `cfg` and runs it on the current tokio runtime; fails without
/// starting anything when the config cannot be used. Aborting the handle stops it.
pub fn spawn_provider(
    cfg: &SdConfig,
    ctx: &ProviderContext,
    sink: GroupSink,
) -> Result<JoinHandle<()>, DiscoveryError> {
    Ok(match cfg {
        SdConfig::Static(c) => {
            let groups = static_sd::groups(c);
            tokio::spawn(async move {
                sink.send(groups);
            })
        }
        SdConfig::File(c) => tokio::spawn(file::FileDiscovery::new(c, ctx)?.run(sink)),
        SdConfig::Http(c) => tokio::spawn(http::HttpDiscovery::new(c, ctx)?.run(sink)),
        SdConfig::Dns(c) => tokio::spawn(dns::DnsDiscovery::new(c, ctx)?.run(sink)),
        SdConfig::Kubernetes(c) => {
            tokio::spawn(kubernetes::KubernetesDiscovery::new(c, ctx)?.run(sink))
        }
        SdConfig::Consul(c) => tokio::spawn(consul::ConsulDiscovery::new(c, ctx)?.run(sink)),
    })
}
