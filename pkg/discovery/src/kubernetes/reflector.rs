//! List-then-watch of one Kubernetes resource into the shared [`Cache`], as client-go's
//! reflector does.
//!
//! ```text
//! LIST  /api/v1/namespaces/{ns}/pods?labelSelector=..          → replace cache, rv
//! WATCH ...?watch=true&resourceVersion=rv&allowWatchBookmarks=true
//!        ADDED / MODIFIED → upsert    DELETED → remove    BOOKMARK → rv only
//!        ERROR 410 or HTTP 410 Gone → LIST again            stream end → WATCH from rv
//! ```
//!
//! Every change is announced as a [`Msg::Changed`]; the first successful list of each
//! reflector as a [`Msg::Synced`].

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use serde::de::DeserializeOwned;
use tokio::sync::mpsc::UnboundedSender;
use tracing::{debug, warn};

use super::objects::{
    EndpointSlice, Endpoints, List, Namespace, Node, ObjectMeta, Pod, Service, Status, WatchEvent,
};
use crate::error::DiscoveryError;
use crate::http_client::HttpClient;
use crate::metrics::{KubernetesEventLabels, SdMetrics};

/// A watched resource type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Resource {
    /// core/v1 pods.
    Pod,
    /// core/v1 nodes.
    Node,
    /// core/v1 services.
    Service,
    /// core/v1 endpoints.
    Endpoints,
    /// discovery.k8s.io/v1 endpointslices.
    EndpointSlice,
    /// core/v1 namespaces.
    Namespace,
}

impl Resource {
    /// The collection path, namespaced when `ns` is given.
    pub fn path(self, ns: Option<&str>) -> String {
        let (prefix, plural) = match self {
            Self::Pod => ("/api/v1", "pods"),
            Self::Node => ("/api/v1", "nodes"),
            Self::Service => ("/api/v1", "services"),
            Self::Endpoints => ("/api/v1", "endpoints"),
            Self::EndpointSlice => ("/apis/discovery.k8s.io/v1", "endpointslices"),
            Self::Namespace => ("/api/v1", "namespaces"),
        };
        match ns {
            Some(ns) if !matches!(self, Self::Node | Self::Namespace) => {
                format!("{prefix}/namespaces/{ns}/{plural}")
            }
            _ => format!("{prefix}/{plural}"),
        }
    }

    /// The name used in metrics.
    pub fn name(self) -> &'static str {
        match self {
            Self::Pod => "pod",
            Self::Node => "node",
            Self::Service => "service",
            Self::Endpoints => "endpoints",
            Self::EndpointSlice => "endpointslice",
            Self::Namespace => "namespace",
        }
    }
}

/// The latest objects of every watched resource, keyed `namespace/name` (`name` for
/// cluster-scoped objects).
#[derive(Debug, Default)]
pub struct Cache {
    /// Pods.
    pub pods: BTreeMap<String, Pod>,
    /// Nodes.
    pub nodes: BTreeMap<String, Node>,
    /// Services.
    pub services: BTreeMap<String, Service>,
    /// Endpoints.
    pub endpoints: BTreeMap<String, Endpoints>,
    /// EndpointSlices.
    pub slices: BTreeMap<String, EndpointSlice>,
    /// Namespaces.
    pub namespaces: BTreeMap<String, Namespace>,
}

/// What a reflector tells the role processor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Msg {
    /// The first list of a reflector of this resource completed.
    Synced(Resource),
    /// The object with this key was added, changed or removed.
    Changed(Resource, String),
}

/// A Kubernetes object kind kept in the [`Cache`].
pub trait Object: DeserializeOwned + Send + 'static {
    /// Which resource.
    const RESOURCE: Resource;
    /// Its metadata.
    fn meta(&self) -> &ObjectMeta;
    /// Its map in the cache.
    fn map(cache: &mut Cache) -> &mut BTreeMap<String, Self>;
}

macro_rules! object {
    ($t:ty, $r:expr, $field:ident) => {
        impl Object for $t {
            const RESOURCE: Resource = $r;
            fn meta(&self) -> &ObjectMeta {
                &self.metadata
            }
            fn map(cache: &mut Cache) -> &mut BTreeMap<String, Self> {
                &mut cache.$field
            }
        }
    };
}
object!(Pod, Resource::Pod, pods);
object!(Node, Resource::Node, nodes);
object!(Service, Resource::Service, services);
object!(Endpoints, Resource::Endpoints, endpoints);
object!(EndpointSlice, Resource::EndpointSlice, slices);
object!(Namespace, Resource::Namespace, namespaces);

/// The cache key of an object.
pub fn key_of(meta: &ObjectMeta) -> String {
    if meta.namespace.is_empty() {
        meta.name.clone()
    } else {
        format!("{}/{}", meta.namespace, meta.name)
    }
}

/// One list-and-watch loop.
#[derive(Clone, Debug)]
pub struct Reflector {
    /// The API server's base URL.
    pub base: reqwest::Url,
    /// Client with credentials (no overall timeout: watches are long).
    pub client: HttpClient,
    /// The namespace, `None` for all (or cluster-scoped resources).
    pub namespace: Option<String>,
    /// `labelSelector`, empty for none.
    pub label_selector: String,
    /// `fieldSelector`, empty for none.
    pub field_selector: String,
    /// The shared cache.
    pub cache: Arc<Mutex<Cache>>,
    /// Where changes go.
    pub tx: UnboundedSender<Msg>,
    /// Metrics.
    pub metrics: SdMetrics,
    /// Pause after a failed request.
    pub retry: Duration,
    /// Timeout of a list request.
    pub list_timeout: Duration,
}

enum WatchEnd {
    /// The resource version is too old: list again.
    Gone,
    /// The stream ended or failed: watch again from the last version.
    Rewatch,
}

impl Reflector {
    fn url(
        &self,
        resource: Resource,
        watch_rv: Option<&str>,
    ) -> Result<reqwest::Url, DiscoveryError> {
        let mut u = self
            .base
            .join(
                resource
                    .path(self.namespace.as_deref())
                    .trim_start_matches('/'),
            )
            .map_err(|e| DiscoveryError::config("kubernetes", format!("api url: {e}")))?;
        {
            let mut q = u.query_pairs_mut();
            if !self.label_selector.is_empty() {
                q.append_pair("labelSelector", &self.label_selector);
            }
            if !self.field_selector.is_empty() {
                q.append_pair("fieldSelector", &self.field_selector);
            }
            if let Some(rv) = watch_rv {
                q.append_pair("watch", "true");
                q.append_pair("resourceVersion", rv);
                q.append_pair("allowWatchBookmarks", "true");
                let jitter = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.subsec_nanos() % 300)
                    .unwrap_or(0);
                q.append_pair("timeoutSeconds", &(300 + jitter).to_string());
            }
        }
        Ok(u)
    }

    /// Lists and watches `T` until the task is aborted.
    pub async fn run<T: Object>(self) {
        let mut synced = false;
        loop {
            let rv = match self.list::<T>().await {
                Ok(rv) => rv,
                Err(err) => {
                    self.metrics.kubernetes_failures.inc();
                    self.metrics.refresh_failed("kubernetes");
                    warn!(resource = T::RESOURCE.name(), err = %err, "kubernetes list failed");
                    tokio::time::sleep(self.retry).await;
                    continue;
                }
            };
            if !synced {
                synced = true;
                let _ = self.tx.send(Msg::Synced(T::RESOURCE));
            }
            let mut rv = rv;
            loop {
                match self.watch::<T>(&mut rv).await {
                    Ok(WatchEnd::Rewatch) => continue,
                    Ok(WatchEnd::Gone) => {
                        debug!(resource = T::RESOURCE.name(), "watch expired, relisting");
                        break;
                    }
                    Err(err) => {
                        self.metrics.kubernetes_failures.inc();
                        warn!(resource = T::RESOURCE.name(), err = %err, "kubernetes watch failed");
                        tokio::time::sleep(self.retry).await;
                    }
                }
            }
        }
    }

    /// Lists `T`, replaces this reflector's part of the cache and announces every change.
    async fn list<T: Object>(&self) -> Result<String, DiscoveryError> {
        let url = self.url(T::RESOURCE, None)?;
        let resp = self
            .client
            .get(url.clone())?
            .timeout(self.list_timeout)
            .send()
            .await
            .map_err(|e| DiscoveryError::http(url.as_str(), format!("{e:#}")))?;
        if !resp.status().is_success() {
            return Err(DiscoveryError::http(
                url.as_str(),
                format!("status {}", resp.status()),
            ));
        }
        let body = resp
            .bytes()
            .await
            .map_err(|e| DiscoveryError::http(url.as_str(), e))?;
        let list: List<T> = serde_json::from_slice(&body)
            .map_err(|e| DiscoveryError::Parse(format!("{url}: {e}")))?;
        let mut changed = Vec::new();
        {
            let mut cache = self.cache.lock();
            let map = T::map(&mut cache);
            let prefix = self
                .namespace
                .as_ref()
                .filter(|_| !matches!(T::RESOURCE, Resource::Node | Resource::Namespace));
            let fresh: BTreeMap<String, T> = list
                .items
                .into_iter()
                .map(|o| (key_of(o.meta()), o))
                .collect();
            let stale: Vec<String> = map
                .keys()
                .filter(|k| prefix.is_none_or(|ns| k.starts_with(&format!("{ns}/"))))
                .filter(|k| !fresh.contains_key(*k))
                .cloned()
                .collect();
            for k in stale {
                map.remove(&k);
                changed.push(k);
            }
            for (k, o) in fresh {
                map.insert(k.clone(), o);
                changed.push(k);
            }
        }
        for k in changed {
            let _ = self.tx.send(Msg::Changed(T::RESOURCE, k));
        }
        Ok(list.metadata.resource_version)
    }

    /// Watches from `rv`, applying events until the stream ends.
    async fn watch<T: Object>(&self, rv: &mut String) -> Result<WatchEnd, DiscoveryError> {
        let url = self.url(T::RESOURCE, Some(rv))?;
        let mut resp = self
            .client
            .get(url.clone())?
            .send()
            .await
            .map_err(|e| DiscoveryError::http(url.as_str(), format!("{e:#}")))?;
        if resp.status() == reqwest::StatusCode::GONE {
            return Ok(WatchEnd::Gone);
        }
        if !resp.status().is_success() {
            return Err(DiscoveryError::http(
                url.as_str(),
                format!("status {}", resp.status()),
            ));
        }
        let mut buf: Vec<u8> = Vec::new();
        loop {
            let chunk = match resp.chunk().await {
                Ok(Some(c)) => c,
                Ok(None) => return Ok(WatchEnd::Rewatch),
                Err(e) => {
                    return Err(DiscoveryError::http(
                        url.as_str(),
                        format!("read watch stream: {e}"),
                    ))
                }
            };
            buf.extend_from_slice(&chunk);
            while let Some(pos) = buf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = buf.drain(..=pos).collect();
                if line.iter().all(|b| b.is_ascii_whitespace()) {
                    continue;
                }
                if let Some(end) = self.apply_event::<T>(&line, rv)? {
                    return Ok(end);
                }
            }
        }
    }

    fn apply_event<T: Object>(
        &self,
        line: &[u8],
        rv: &mut String,
    ) -> Result<Option<WatchEnd>, DiscoveryError> {
        let ev: WatchEvent = serde_json::from_slice(line)
            .map_err(|e| DiscoveryError::Parse(format!("watch event: {e}")))?;
        let event_label = |event: &str| KubernetesEventLabels {
            role: T::RESOURCE.name().to_string(),
            event: event.to_string(),
        };
        match ev.type_.as_str() {
            "ADDED" | "MODIFIED" | "DELETED" => {
                let obj: T = serde_json::from_value(ev.object)
                    .map_err(|e| DiscoveryError::Parse(format!("watch object: {e}")))?;
                let key = key_of(obj.meta());
                if !obj.meta().resource_version.is_empty() {
                    rv.clone_from(&obj.meta().resource_version);
                }
                let deleted = ev.type_ == "DELETED";
                {
                    let mut cache = self.cache.lock();
                    let map = T::map(&mut cache);
                    if deleted {
                        map.remove(&key);
                    } else {
                        map.insert(key.clone(), obj);
                    }
                }
                let name = match ev.type_.as_str() {
                    "ADDED" => "add",
                    "MODIFIED" => "update",
                    _ => "delete",
                };
                self.metrics
                    .kubernetes_events
                    .get_or_create(&event_label(name))
                    .inc();
                let _ = self.tx.send(Msg::Changed(T::RESOURCE, key));
                Ok(None)
            }
            "BOOKMARK" => {
                let meta: ObjectMeta = ev
                    .object
                    .get("metadata")
                    .cloned()
                    .map(serde_json::from_value)
                    .transpose()
                    .map_err(|e| DiscoveryError::Parse(format!("bookmark: {e}")))?
                    .unwrap_or_default();
                if !meta.resource_version.is_empty() {
                    *rv = meta.resource_version;
                }
                Ok(None)
            }
            "ERROR" => {
                let status: Status = serde_json::from_value(ev.object).unwrap_or_default();
                if status.code == 410 {
                    Ok(Some(WatchEnd::Gone))
                } else {
                    Err(DiscoveryError::Parse(format!(
                        "watch error {}: {} {}",
                        status.code, status.reason, status.message
                    )))
                }
            }
            other => Err(DiscoveryError::Parse(format!(
                "unknown watch event type {other:?}"
            ))),
        }
    }
}
