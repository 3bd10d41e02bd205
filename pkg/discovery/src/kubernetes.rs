//! `kubernetes_sd_configs`: roles `node`, `pod`, `service`, `endpoints` and `endpointslice`
//! over a thin HTTP + serde client (no Kubernetes client crate).
//!
//! ```text
//! reflectors (list+watch per resource and namespace) ──► Cache ──Msg──► role processor
//!   endpoints role: endpoints + services + pods (+ nodes, namespaces with attach_metadata)
//! role processor: waits for every reflector's first list, sends all groups, then rebuilds
//!                 only the groups a change touches (a pod change rebuilds the endpoints
//!                 that point at it)
//! ```
//!
//! In-cluster use reads `KUBERNETES_SERVICE_HOST`/`PORT`, the service account token and,
//! unless `tls_config` names a CA, the service account's `ca.crt` (as client-go's
//! `InClusterConfig`). `kubeconfig_file` and the
//! `ingress` role are refused with an error naming them.

pub mod endpoints;
pub mod labels;
pub mod objects;
pub mod reflector;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use parking_lot::Mutex;
use strata_promconfig::sd::{KubernetesRole, KubernetesSdConfig};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::error::DiscoveryError;
use crate::http_client::HttpClient;
use crate::metrics::SdMetrics;
use crate::provider::{GroupSink, ProviderContext, SdOptions};
use crate::target_group::TargetGroup;
use labels::BuildContext;
use objects::{EndpointSlice, Endpoints, Namespace, Node, Pod, Service};
use reflector::{Cache, Msg, Reflector, Resource};

/// One Kubernetes SD provider.
#[derive(Debug)]
pub struct KubernetesDiscovery {
    role: KubernetesRole,
    base: reqwest::Url,
    client: HttpClient,
    namespaces: Vec<String>,
    selectors: BTreeMap<Resource, (String, String)>,
    attach_node: bool,
    attach_namespace: bool,
    metrics: SdMetrics,
    options: SdOptions,
}

fn resource_of(role: KubernetesRole) -> Option<Resource> {
    Some(match role {
        KubernetesRole::Node => Resource::Node,
        KubernetesRole::Pod => Resource::Pod,
        KubernetesRole::Service => Resource::Service,
        KubernetesRole::Endpoints => Resource::Endpoints,
        KubernetesRole::EndpointSlice => Resource::EndpointSlice,
        KubernetesRole::Ingress => return None,
    })
}

struct AbortOnDrop(Vec<JoinHandle<()>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        for h in &self.0 {
            h.abort();
        }
    }
}

impl KubernetesDiscovery {
    /// Resolves the API server, credentials and namespaces.
    pub fn new(cfg: &KubernetesSdConfig, ctx: &ProviderContext) -> Result<Self, DiscoveryError> {
        let err = |m: String| DiscoveryError::config("kubernetes", m);
        if resource_of(cfg.role).is_none() {
            return Err(err(format!(
                "role {:?} is not supported by the agent",
                cfg.role.as_str()
            )));
        }
        if !cfg.kubeconfig_file.is_empty() {
            return Err(err(
                "kubeconfig_file is not supported by the agent; set api_server".into(),
            ));
        }
        let sa = &ctx.options.kubernetes_service_account_dir;
        let mut tls = strata_httpclient::TlsConfig::from(&cfg.http.tls_config);
        let in_cluster = cfg.api_server.is_empty();
        let api = if in_cluster {
            let host = std::env::var("KUBERNETES_SERVICE_HOST").map_err(|_| {
                err("api_server is empty and KUBERNETES_SERVICE_HOST is not set (not running in a cluster)".into())
            })?;
            let port = std::env::var("KUBERNETES_SERVICE_PORT").unwrap_or_else(|_| "443".into());
            if tls.ca.is_empty() && tls.ca_file.is_empty() {
                tls.ca_file = sa.join("ca.crt").display().to_string();
            }
            format!(
                "https://{}",
                crate::dns::join_host_port(&host, port.parse().unwrap_or(443))
            )
        } else if cfg.api_server.contains("://") {
            cfg.api_server.clone()
        } else {
            format!("http://{}", cfg.api_server)
        };
        let mut client = HttpClient::with_tls(&cfg.http, &tls, None, "kubernetes")?;
        if in_cluster {
            client = client.with_default_bearer_file(sa.join("token"));
        }
        let mut base = HttpClient::check_url(&api, "kubernetes")?;
        if !base.path().ends_with('/') {
            let p = format!("{}/", base.path());
            base.set_path(&p);
        }
        let mut namespaces = cfg.namespaces.names.clone();
        if cfg.namespaces.own_namespace {
            let p = sa.join("namespace");
            let own = std::fs::read_to_string(&p)
                .map_err(|e| err(format!("own_namespace: read {}: {e}", p.display())))?;
            namespaces.push(own.trim().to_string());
        }
        namespaces.sort();
        namespaces.dedup();
        let mut selectors = BTreeMap::new();
        for s in &cfg.selectors {
            if let Some(r) = resource_of(s.role) {
                selectors.insert(r, (s.label.clone(), s.field.clone()));
            }
        }
        Ok(Self {
            role: cfg.role,
            base,
            client,
            namespaces,
            selectors,
            attach_node: cfg.attach_metadata.node
                && matches!(
                    cfg.role,
                    KubernetesRole::Pod | KubernetesRole::Endpoints | KubernetesRole::EndpointSlice
                ),
            attach_namespace: cfg.attach_metadata.namespace && cfg.role != KubernetesRole::Node,
            metrics: ctx.metrics.clone(),
            options: ctx.options.clone(),
        })
    }

    fn resources(&self) -> Vec<Resource> {
        let mut r = match self.role {
            KubernetesRole::Node => vec![Resource::Node],
            KubernetesRole::Service => vec![Resource::Service],
            KubernetesRole::Pod => vec![Resource::Pod],
            KubernetesRole::Endpoints => {
                vec![Resource::Endpoints, Resource::Service, Resource::Pod]
            }
            _ => vec![Resource::EndpointSlice, Resource::Service, Resource::Pod],
        };
        if self.attach_node {
            r.push(Resource::Node);
        }
        if self.attach_namespace {
            r.push(Resource::Namespace);
        }
        r
    }

    fn primary(&self) -> Resource {
        resource_of(self.role).unwrap_or(Resource::Pod)
    }

    /// Starts the reflectors and turns their changes into groups until aborted.
    pub async fn run(self, sink: GroupSink) {
        let cache = Arc::new(Mutex::new(Cache::default()));
        let (tx, mut rx) = mpsc::unbounded_channel();
        let mut tasks = AbortOnDrop(Vec::new());
        for res in self.resources() {
            let cluster_scoped = matches!(res, Resource::Node | Resource::Namespace);
            let nss: Vec<Option<String>> = if cluster_scoped || self.namespaces.is_empty() {
                vec![None]
            } else {
                self.namespaces.iter().cloned().map(Some).collect()
            };
            for ns in nss {
                let (label, field) = self.selectors.get(&res).cloned().unwrap_or_default();
                let r = Reflector {
                    base: self.base.clone(),
                    client: self.client.clone(),
                    namespace: ns,
                    label_selector: label,
                    field_selector: field,
                    cache: cache.clone(),
                    tx: tx.clone(),
                    metrics: self.metrics.clone(),
                    retry: self.options.retry_interval,
                    list_timeout: self.options.request_timeout,
                };
                tasks.0.push(match res {
                    Resource::Pod => tokio::spawn(r.run::<Pod>()),
                    Resource::Node => tokio::spawn(r.run::<Node>()),
                    Resource::Service => tokio::spawn(r.run::<Service>()),
                    Resource::Endpoints => tokio::spawn(r.run::<Endpoints>()),
                    Resource::EndpointSlice => tokio::spawn(r.run::<EndpointSlice>()),
                    Resource::Namespace => tokio::spawn(r.run::<Namespace>()),
                });
            }
        }
        drop(tx);
        // Wait until every reflector has listed once, then send everything.
        let mut pending = tasks.0.len();
        while pending > 0 {
            match rx.recv().await {
                Some(Msg::Synced(_)) => pending -= 1,
                Some(Msg::Changed(..)) => {}
                None => return,
            }
        }
        let all: BTreeSet<String> = {
            let c = cache.lock();
            self.primary_keys(&c).into_iter().collect()
        };
        sink.send(self.build(&cache, all));
        while let Some(first) = rx.recv().await {
            let mut msgs = vec![first];
            while let Ok(m) = rx.try_recv() {
                msgs.push(m);
            }
            let affected = {
                let c = cache.lock();
                let mut keys = BTreeSet::new();
                for m in msgs {
                    if let Msg::Changed(res, key) = m {
                        self.affected(&c, res, &key, &mut keys);
                    }
                }
                keys
            };
            if !affected.is_empty() {
                sink.send(self.build(&cache, affected));
            }
        }
    }

    fn primary_keys(&self, c: &Cache) -> Vec<String> {
        match self.primary() {
            Resource::Node => c.nodes.keys().cloned().collect(),
            Resource::Service => c.services.keys().cloned().collect(),
            Resource::Pod => c.pods.keys().cloned().collect(),
            Resource::Endpoints => c.endpoints.keys().cloned().collect(),
            _ => c.slices.keys().cloned().collect(),
        }
    }

    /// Adds the primary keys whose groups depend on object `key` of `res`.
    fn affected(&self, c: &Cache, res: Resource, key: &str, out: &mut BTreeSet<String>) {
        let primary = self.primary();
        if res == primary {
            out.insert(key.to_string());
            return;
        }
        let in_ns = |k: &str| k.split_once('/').map(|(ns, _)| ns == key).unwrap_or(false);
        let pod_ref = |r: &Option<objects::ObjectReference>| {
            r.as_ref()
                .is_some_and(|r| r.kind == "Pod" && format!("{}/{}", r.namespace, r.name) == key)
        };
        match (primary, res) {
            (_, Resource::Namespace) => {
                out.extend(self.primary_keys(c).into_iter().filter(|k| in_ns(k)))
            }
            (Resource::Pod, Resource::Node) => out.extend(
                c.pods
                    .iter()
                    .filter(|(_, p)| p.spec.node_name == key)
                    .map(|(k, _)| k.clone()),
            ),
            (_, Resource::Node) => out.extend(self.primary_keys(c)),
            (Resource::Endpoints, Resource::Service) => {
                out.insert(key.to_string());
            }
            (Resource::Endpoints, Resource::Pod) => out.extend(
                c.endpoints
                    .iter()
                    .filter(|(_, e)| {
                        e.subsets.iter().any(|s| {
                            s.addresses
                                .iter()
                                .chain(&s.not_ready_addresses)
                                .any(|a| pod_ref(&a.target_ref))
                        })
                    })
                    .map(|(k, _)| k.clone()),
            ),
            (Resource::EndpointSlice, Resource::Service) => {
                let (ns, name) = key.split_once('/').unwrap_or(("", key));
                out.extend(
                    c.slices
                        .iter()
                        .filter(|(_, s)| {
                            s.metadata.namespace == ns
                                && s.metadata
                                    .labels
                                    .get("kubernetes.io/service-name")
                                    .map(String::as_str)
                                    == Some(name)
                        })
                        .map(|(k, _)| k.clone()),
                )
            }
            (Resource::EndpointSlice, Resource::Pod) => out.extend(
                c.slices
                    .iter()
                    .filter(|(_, s)| s.endpoints.iter().any(|e| pod_ref(&e.target_ref)))
                    .map(|(k, _)| k.clone()),
            ),
            _ => {}
        }
    }

    /// Builds the groups of `keys` (empty groups for objects gone).
    fn build(&self, cache: &Mutex<Cache>, keys: BTreeSet<String>) -> Vec<TargetGroup> {
        let c = cache.lock();
        let ctx = BuildContext {
            cache: &c,
            attach_node: self.attach_node,
            attach_namespace: self.attach_namespace,
        };
        let split = |k: &str| -> (String, String) {
            match k.split_once('/') {
                Some((ns, n)) => (ns.to_string(), n.to_string()),
                None => (String::new(), k.to_string()),
            }
        };
        keys.into_iter()
            .map(|k| {
                let (ns, name) = split(&k);
                match self.primary() {
                    Resource::Node => c
                        .nodes
                        .get(&k)
                        .map(labels::build_node)
                        .unwrap_or_else(|| TargetGroup::empty(labels::node_source(&k))),
                    Resource::Service => c
                        .services
                        .get(&k)
                        .map(|s| labels::build_service(s, &ctx))
                        .unwrap_or_else(|| TargetGroup::empty(labels::service_source(&ns, &name))),
                    Resource::Pod => c
                        .pods
                        .get(&k)
                        .map(|p| labels::build_pod(p, &ctx))
                        .unwrap_or_else(|| TargetGroup::empty(labels::pod_source(&ns, &name))),
                    Resource::Endpoints => c
                        .endpoints
                        .get(&k)
                        .map(|e| endpoints::build_endpoints(e, &ctx))
                        .unwrap_or_else(|| {
                            TargetGroup::empty(endpoints::endpoints_source(&ns, &name))
                        }),
                    _ => c
                        .slices
                        .get(&k)
                        .map(|e| endpoints::build_endpointslice(e, &ctx))
                        .unwrap_or_else(|| {
                            TargetGroup::empty(endpoints::endpointslice_source(&ns, &name))
                        }),
                }
            })
            .collect()
    }
}
