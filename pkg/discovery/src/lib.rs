//! Service discovery as Prometheus does it: static, file, HTTP, DNS, Kubernetes and Consul,
//! each producing [`TargetGroup`]s with Prometheus's `__meta_*` labels, run per scrape job by
//! the [`Manager`].
//!
//! ```text
//! prometheus.yml ─► strata-promconfig ─► Manager::apply(jobs)
//!                                            │ one provider per distinct SD config
//!        static_sd · file · http · dns · kubernetes · consul  ──GroupSink──► Manager
//!                                            │ coalesced, ≤ 1 update / 5 s
//!                                            ▼
//!                         watch::Receiver<Arc<BTreeMap<job, Vec<TargetGroup>>>> ─► scrape manager
//! ```
//!
//! Invariants: a provider's config equal across a reload keeps the provider (no target
//! flapping); a mechanism that fails a refresh keeps its last good groups; every outside
//! input (files, HTTP bodies, DNS packets, API objects) is parsed without panicking.

pub mod consul;
pub mod dns;
pub mod error;
pub mod file;
pub mod http;
pub mod http_client;
pub mod kubernetes;
pub mod manager;
pub mod metrics;
pub mod provider;
pub mod static_sd;
pub mod target_group;

pub use error::DiscoveryError;
pub use manager::{JobGroups, Manager, ProviderInfo};
pub use metrics::SdMetrics;
pub use provider::{GroupSink, SdConfig, SdOptions};
pub use target_group::TargetGroup;
