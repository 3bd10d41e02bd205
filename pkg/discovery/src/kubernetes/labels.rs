//! Target groups of the `node`, `service` and `pod` roles, with the `__meta_kubernetes_*`
//! labels Prometheus sets (discovery/kubernetes/{node,service,pod}.go), plus the helpers the
//! endpoints roles share.

use std::collections::BTreeMap;

use super::objects::{Container, ObjectMeta, Pod, Service};
use super::reflector::Cache;
use crate::dns::join_host_port;
use crate::target_group::{sanitize_label_name, TargetGroup, ADDRESS_LABEL};

/// A label set.
pub type Labels = BTreeMap<String, String>;

pub(crate) const PREFIX: &str = "__meta_kubernetes_";
pub(crate) const NAMESPACE_LABEL: &str = "__meta_kubernetes_namespace";
const PRESENT: &str = "true";

/// What role builders may consult besides the object.
pub struct BuildContext<'a> {
    /// Every watched object.
    pub cache: &'a Cache,
    /// `attach_metadata.node`.
    pub attach_node: bool,
    /// `attach_metadata.namespace`.
    pub attach_namespace: bool,
}

pub(crate) fn set(ls: &mut Labels, name: impl Into<String>, value: impl Into<String>) {
    ls.insert(name.into(), value.into());
}

/// `<prefix><resource>_label_<name>` / `_labelpresent_` and the annotation pair, for every
/// label and annotation of `meta`.
pub(crate) fn add_labels_and_annotations(ls: &mut Labels, meta: &ObjectMeta, resource: &str) {
    for (k, v) in &meta.labels {
        let n = sanitize_label_name(k);
        set(ls, format!("{PREFIX}{resource}_label_{n}"), v.clone());
        set(ls, format!("{PREFIX}{resource}_labelpresent_{n}"), PRESENT);
    }
    for (k, v) in &meta.annotations {
        let n = sanitize_label_name(k);
        set(ls, format!("{PREFIX}{resource}_annotation_{n}"), v.clone());
        set(
            ls,
            format!("{PREFIX}{resource}_annotationpresent_{n}"),
            PRESENT,
        );
    }
}

/// `<prefix><role>_name` plus labels and annotations.
pub(crate) fn add_object_meta(ls: &mut Labels, meta: &ObjectMeta, role: &str) {
    set(ls, format!("{PREFIX}{role}_name"), meta.name.clone());
    add_labels_and_annotations(ls, meta, role);
}

/// Adds the labels of node `name` if it is known (`attach_metadata.node`).
pub(crate) fn add_node_labels(ls: &mut Labels, ctx: &BuildContext<'_>, name: Option<&str>) {
    if let Some(node) = name.and_then(|n| ctx.cache.nodes.get(n)) {
        add_object_meta(ls, &node.metadata, "node");
    }
}

/// Adds the labels of namespace `ns` if it is known (`attach_metadata.namespace`).
pub(crate) fn add_namespace_labels(ls: &mut Labels, ctx: &BuildContext<'_>, ns: &str) {
    if ctx.attach_namespace {
        if let Some(n) = ctx.cache.namespaces.get(ns) {
            add_labels_and_annotations(ls, &n.metadata, "namespace");
        }
    }
}

/// The group source of a node.
pub fn node_source(name: &str) -> String {
    format!("node/{name}")
}

/// The node role's group: one target at the kubelet port of the node's preferred address.
pub fn build_node(node: &super::objects::Node) -> TargetGroup {
    let mut tg = TargetGroup::empty(node_source(&node.metadata.name));
    let mut ls = Labels::new();
    set(
        &mut ls,
        format!("{PREFIX}node_provider_id"),
        node.spec.provider_id.clone(),
    );
    for c in &node.status.conditions {
        let n = sanitize_label_name(&c.type_.to_lowercase());
        set(
            &mut ls,
            format!("{PREFIX}node_condition_{n}"),
            c.status.to_lowercase(),
        );
    }
    add_object_meta(&mut ls, &node.metadata, "node");
    tg.labels = ls;
    let mut by_type: BTreeMap<&str, &str> = BTreeMap::new();
    for a in &node.status.addresses {
        by_type
            .entry(a.type_.as_str())
            .or_insert(a.address.as_str());
    }
    let Some(addr) = [
        "InternalIP",
        "InternalDNS",
        "ExternalIP",
        "ExternalDNS",
        "LegacyHostIP",
        "Hostname",
    ]
    .iter()
    .find_map(|t| by_type.get(t)) else {
        tracing::warn!(node = %node.metadata.name, "no node address found");
        return tg;
    };
    let port = u16::try_from(node.status.daemon_endpoints.kubelet_endpoint.port).unwrap_or(0);
    let mut t = Labels::new();
    set(&mut t, ADDRESS_LABEL, join_host_port(addr, port));
    set(&mut t, "instance", node.metadata.name.clone());
    for (ty, a) in &by_type {
        set(
            &mut t,
            format!("{PREFIX}node_address_{}", sanitize_label_name(ty)),
            *a,
        );
    }
    tg.targets.push(t);
    tg
}

/// The group source of a service.
pub fn service_source(ns: &str, name: &str) -> String {
    format!("svc/{ns}/{name}")
}

/// The labels every target of a service carries (namespace, name, labels, annotations).
pub(crate) fn service_labels(svc: &Service) -> Labels {
    let mut ls = Labels::new();
    set(&mut ls, NAMESPACE_LABEL, svc.metadata.namespace.clone());
    add_object_meta(&mut ls, &svc.metadata, "service");
    ls
}

/// The service role's group: one target per service port at `<name>.<ns>.svc:<port>`.
pub fn build_service(svc: &Service, ctx: &BuildContext<'_>) -> TargetGroup {
    let m = &svc.metadata;
    let mut tg = TargetGroup::empty(service_source(&m.namespace, &m.name));
    tg.labels = service_labels(svc);
    add_namespace_labels(&mut tg.labels, ctx, &m.namespace);
    for p in &svc.spec.ports {
        let mut t = Labels::new();
        let port = p.port.to_string();
        set(
            &mut t,
            ADDRESS_LABEL,
            format!("{}.{}.svc:{port}", m.name, m.namespace),
        );
        set(&mut t, format!("{PREFIX}service_port_name"), p.name.clone());
        set(&mut t, format!("{PREFIX}service_port_number"), port);
        set(
            &mut t,
            format!("{PREFIX}service_port_protocol"),
            p.protocol.clone(),
        );
        set(
            &mut t,
            format!("{PREFIX}service_type"),
            svc.spec.type_.clone(),
        );
        if svc.spec.type_ == "ExternalName" {
            set(
                &mut t,
                format!("{PREFIX}service_external_name"),
                svc.spec.external_name.clone(),
            );
        } else {
            set(
                &mut t,
                format!("{PREFIX}service_cluster_ip"),
                svc.spec.cluster_ip.clone(),
            );
        }
        if svc.spec.type_ == "LoadBalancer" {
            let ips: Vec<&str> = svc
                .status
                .load_balancer
                .ingress
                .iter()
                .map(|i| i.ip.as_str())
                .filter(|i| !i.is_empty())
                .collect();
            let v = if ips.is_empty() {
                svc.spec.load_balancer_ip.clone()
            } else {
                ips.join(",")
            };
            set(&mut t, format!("{PREFIX}service_loadbalancer_ip"), v);
        }
        tg.targets.push(t);
    }
    tg
}

/// The group source of a pod.
pub fn pod_source(ns: &str, name: &str) -> String {
    format!("pod/{ns}/{name}")
}

/// The labels of a pod shared by the pod and endpoints roles (`podLabels`).
pub(crate) fn pod_labels(pod: &Pod) -> Labels {
    let mut ls = Labels::new();
    set(
        &mut ls,
        format!("{PREFIX}pod_ip"),
        pod.status.pod_ip.clone(),
    );
    let ready = pod
        .status
        .conditions
        .iter()
        .find(|c| c.type_ == "Ready")
        .map(|c| c.status.to_lowercase())
        .unwrap_or_else(|| "unknown".into());
    set(&mut ls, format!("{PREFIX}pod_ready"), ready);
    set(
        &mut ls,
        format!("{PREFIX}pod_phase"),
        pod.status.phase.clone(),
    );
    set(
        &mut ls,
        format!("{PREFIX}pod_node_name"),
        pod.spec.node_name.clone(),
    );
    set(
        &mut ls,
        format!("{PREFIX}pod_host_ip"),
        pod.status.host_ip.clone(),
    );
    set(
        &mut ls,
        format!("{PREFIX}pod_uid"),
        pod.metadata.uid.clone(),
    );
    add_object_meta(&mut ls, &pod.metadata, "pod");
    if let Some(owner) = pod
        .metadata
        .owner_references
        .iter()
        .find(|o| o.controller == Some(true))
    {
        if !owner.kind.is_empty() {
            set(
                &mut ls,
                format!("{PREFIX}pod_controller_kind"),
                owner.kind.clone(),
            );
        }
        if !owner.name.is_empty() {
            set(
                &mut ls,
                format!("{PREFIX}pod_controller_name"),
                owner.name.clone(),
            );
        }
    }
    ls
}

/// A pod's containers then its init containers, each with whether it is an init container.
pub(crate) fn containers(pod: &Pod) -> impl Iterator<Item = (&Container, bool)> {
    pod.spec
        .containers
        .iter()
        .map(|c| (c, false))
        .chain(pod.spec.init_containers.iter().map(|c| (c, true)))
}

/// The container-port target labels (name, image, port name/number/protocol, init).
pub(crate) fn container_port_labels(
    t: &mut Labels,
    c: &Container,
    port_name: &str,
    port: i32,
    protocol: &str,
    init: bool,
) {
    set(t, format!("{PREFIX}pod_container_name"), c.name.clone());
    set(t, format!("{PREFIX}pod_container_image"), c.image.clone());
    set(t, format!("{PREFIX}pod_container_port_name"), port_name);
    set(
        t,
        format!("{PREFIX}pod_container_port_number"),
        port.to_string(),
    );
    set(t, format!("{PREFIX}pod_container_port_protocol"), protocol);
    set(t, format!("{PREFIX}pod_container_init"), init.to_string());
}

/// The pod role's group: one target per container port, or one per container without ports.
pub fn build_pod(pod: &Pod, ctx: &BuildContext<'_>) -> TargetGroup {
    let m = &pod.metadata;
    let mut tg = TargetGroup::empty(pod_source(&m.namespace, &m.name));
    if pod.status.pod_ip.is_empty() {
        return tg;
    }
    if ctx.attach_node && !ctx.cache.nodes.contains_key(&pod.spec.node_name) {
        return tg;
    }
    tg.labels = pod_labels(pod);
    set(&mut tg.labels, NAMESPACE_LABEL, m.namespace.clone());
    if ctx.attach_node {
        add_node_labels(&mut tg.labels, ctx, Some(&pod.spec.node_name));
    }
    add_namespace_labels(&mut tg.labels, ctx, &m.namespace);
    for (c, init) in containers(pod) {
        let statuses = if init {
            &pod.status.init_container_statuses
        } else {
            &pod.status.container_statuses
        };
        let id = statuses
            .iter()
            .find(|s| s.name == c.name)
            .map(|s| s.container_id.clone())
            .unwrap_or_default();
        if c.ports.is_empty() {
            let mut t = Labels::new();
            set(&mut t, ADDRESS_LABEL, pod.status.pod_ip.clone());
            set(
                &mut t,
                format!("{PREFIX}pod_container_name"),
                c.name.clone(),
            );
            set(&mut t, format!("{PREFIX}pod_container_id"), id);
            set(
                &mut t,
                format!("{PREFIX}pod_container_image"),
                c.image.clone(),
            );
            set(
                &mut t,
                format!("{PREFIX}pod_container_init"),
                init.to_string(),
            );
            tg.targets.push(t);
            continue;
        }
        for p in &c.ports {
            let mut t = Labels::new();
            let port = u16::try_from(p.container_port).unwrap_or(0);
            set(
                &mut t,
                ADDRESS_LABEL,
                join_host_port(&pod.status.pod_ip, port),
            );
            container_port_labels(&mut t, c, &p.name, p.container_port, &p.protocol, init);
            set(&mut t, format!("{PREFIX}pod_container_id"), id.clone());
            tg.targets.push(t);
        }
    }
    tg
}
