//! Target groups of the `endpoints` and `endpointslice` roles (Prometheus's
//! discovery/kubernetes/endpoints.go and endpointslice.go): one target per address and port,
//! with service labels when the service is known, pod labels when the address points at a
//! known pod, and extra targets for the pod's container ports no endpoint port covers.

use std::collections::BTreeMap;

use super::labels::{
    add_namespace_labels, add_node_labels, add_object_meta, container_port_labels, containers,
    pod_labels, service_labels, set, BuildContext, Labels, NAMESPACE_LABEL, PREFIX,
};
use super::objects::{EndpointSlice, Endpoints, ObjectReference, Pod};
use crate::dns::join_host_port;
use crate::target_group::{sanitize_label_name, TargetGroup, ADDRESS_LABEL};

/// The group source of an Endpoints object.
pub fn endpoints_source(ns: &str, name: &str) -> String {
    format!("endpoints/{ns}/{name}")
}

/// The group source of an EndpointSlice.
pub fn endpointslice_source(ns: &str, name: &str) -> String {
    format!("endpointslice/{ns}/{name}")
}

/// The pod an address's `targetRef` names, if it is a known pod.
fn resolve_pod<'a>(ctx: &BuildContext<'a>, r: Option<&ObjectReference>) -> Option<&'a Pod> {
    let r = r.filter(|r| r.kind == "Pod")?;
    ctx.cache.pods.get(&format!("{}/{}", r.namespace, r.name))
}

/// Pods seen behind endpoint addresses, with the ports already made targets.
#[derive(Default)]
struct SeenPods<'a> {
    order: Vec<String>,
    pods: BTreeMap<String, (&'a Pod, Vec<i32>)>,
}

impl<'a> SeenPods<'a> {
    fn note(&mut self, pod: &'a Pod, port: Option<i32>) {
        let key = format!("{}/{}", pod.metadata.namespace, pod.metadata.name);
        let e = self.pods.entry(key.clone()).or_insert_with(|| {
            self.order.push(key);
            (pod, Vec::new())
        });
        if let Some(p) = port {
            e.1.push(p);
        }
    }

    /// Targets for container ports of seen pods that no endpoint port covered.
    fn extra_targets(&self, out: &mut Vec<Labels>) {
        for key in &self.order {
            let Some((pod, covered)) = self.pods.get(key) else {
                continue;
            };
            if pod.status.pod_ip.is_empty() {
                continue;
            }
            for (c, init) in containers(pod) {
                for cp in &c.ports {
                    if covered.contains(&cp.container_port) {
                        continue;
                    }
                    let mut t = Labels::new();
                    let port = u16::try_from(cp.container_port).unwrap_or(0);
                    set(
                        &mut t,
                        ADDRESS_LABEL,
                        join_host_port(&pod.status.pod_ip, port),
                    );
                    container_port_labels(
                        &mut t,
                        c,
                        &cp.name,
                        cp.container_port,
                        &cp.protocol,
                        init,
                    );
                    t.extend(pod_labels(pod));
                    out.push(t);
                }
            }
        }
    }
}

/// Adds pod labels and the labels of the container port equal to `port`.
fn add_pod_target_labels(
    t: &mut Labels,
    pod: &Pod,
    port: Option<i32>,
    protocol_of_endpoint: Option<&str>,
) {
    t.extend(pod_labels(pod));
    let Some(port) = port else { return };
    'outer: for (c, init) in containers(pod) {
        for cp in &c.ports {
            if cp.container_port == port {
                let proto = protocol_of_endpoint.unwrap_or(&cp.protocol);
                container_port_labels(t, c, &cp.name, port, proto, init);
                break 'outer;
            }
        }
    }
}

/// The endpoints role's group for one Endpoints object.
pub fn build_endpoints(eps: &Endpoints, ctx: &BuildContext<'_>) -> TargetGroup {
    let m = &eps.metadata;
    let mut tg = TargetGroup::empty(endpoints_source(&m.namespace, &m.name));
    set(&mut tg.labels, NAMESPACE_LABEL, m.namespace.clone());
    if let Some(svc) = ctx
        .cache
        .services
        .get(&format!("{}/{}", m.namespace, m.name))
    {
        tg.labels.extend(service_labels(svc));
    }
    add_object_meta(&mut tg.labels, m, "endpoints");
    add_namespace_labels(&mut tg.labels, ctx, &m.namespace);
    let mut seen = SeenPods::default();
    for ss in &eps.subsets {
        for port in &ss.ports {
            let ready = ss.addresses.iter().map(|a| (a, "true"));
            let not_ready = ss.not_ready_addresses.iter().map(|a| (a, "false"));
            for (addr, ready) in ready.chain(not_ready) {
                let mut t = Labels::new();
                set(
                    &mut t,
                    ADDRESS_LABEL,
                    join_host_port(&addr.ip, u16::try_from(port.port).unwrap_or(0)),
                );
                set(
                    &mut t,
                    format!("{PREFIX}endpoint_port_name"),
                    port.name.clone(),
                );
                set(
                    &mut t,
                    format!("{PREFIX}endpoint_port_protocol"),
                    port.protocol.clone(),
                );
                set(&mut t, format!("{PREFIX}endpoint_ready"), ready);
                if let Some(r) = &addr.target_ref {
                    set(
                        &mut t,
                        format!("{PREFIX}endpoint_address_target_kind"),
                        r.kind.clone(),
                    );
                    set(
                        &mut t,
                        format!("{PREFIX}endpoint_address_target_name"),
                        r.name.clone(),
                    );
                }
                if let Some(n) = &addr.node_name {
                    set(&mut t, format!("{PREFIX}endpoint_node_name"), n.clone());
                }
                if !addr.hostname.is_empty() {
                    set(
                        &mut t,
                        format!("{PREFIX}endpoint_hostname"),
                        addr.hostname.clone(),
                    );
                }
                if ctx.attach_node {
                    let node = addr.node_name.as_deref().or_else(|| {
                        addr.target_ref
                            .as_ref()
                            .filter(|r| r.kind == "Node")
                            .map(|r| r.name.as_str())
                    });
                    add_node_labels(&mut t, ctx, node);
                }
                if let Some(pod) = resolve_pod(ctx, addr.target_ref.as_ref()) {
                    add_pod_target_labels(&mut t, pod, Some(port.port), Some(&port.protocol));
                    seen.note(pod, Some(port.port));
                }
                tg.targets.push(t);
            }
        }
    }
    seen.extra_targets(&mut tg.targets);
    tg
}

/// The endpointslice role's group for one EndpointSlice.
pub fn build_endpointslice(eps: &EndpointSlice, ctx: &BuildContext<'_>) -> TargetGroup {
    let m = &eps.metadata;
    let mut tg = TargetGroup::empty(endpointslice_source(&m.namespace, &m.name));
    set(&mut tg.labels, NAMESPACE_LABEL, m.namespace.clone());
    set(
        &mut tg.labels,
        format!("{PREFIX}endpointslice_address_type"),
        eps.address_type.clone(),
    );
    add_object_meta(&mut tg.labels, m, "endpointslice");
    let svc = m
        .labels
        .get("kubernetes.io/service-name")
        .and_then(|name| ctx.cache.services.get(&format!("{}/{name}", m.namespace)));
    if let Some(svc) = svc {
        tg.labels.extend(service_labels(svc));
    }
    add_namespace_labels(&mut tg.labels, ctx, &m.namespace);
    if let Some(svc) = svc {
        // Dual-stack services: only the slice of the primary IP family makes targets.
        let dual = matches!(
            svc.spec.ip_family_policy.as_deref(),
            Some("PreferDualStack") | Some("RequireDualStack")
        );
        if dual
            && svc
                .spec
                .ip_families
                .first()
                .is_some_and(|f| *f != eps.address_type)
        {
            return tg;
        }
    }
    let mut seen = SeenPods::default();
    for ep in &eps.endpoints {
        for port in &eps.ports {
            for addr in &ep.addresses {
                let mut t = Labels::new();
                let a = match port.port {
                    Some(p) => join_host_port(addr, u16::try_from(p).unwrap_or(0)),
                    None => addr.clone(),
                };
                set(&mut t, ADDRESS_LABEL, a);
                let es = format!("{PREFIX}endpointslice_");
                if let Some(n) = &port.name {
                    set(&mut t, format!("{es}port_name"), n.clone());
                }
                if let Some(p) = &port.protocol {
                    set(&mut t, format!("{es}port_protocol"), p.clone());
                }
                if let Some(p) = port.port {
                    set(&mut t, format!("{es}port"), p.to_string());
                }
                if let Some(p) = &port.app_protocol {
                    set(&mut t, format!("{es}port_app_protocol"), p.clone());
                }
                let c = &ep.conditions;
                for (name, v) in [
                    ("ready", c.ready),
                    ("serving", c.serving),
                    ("terminating", c.terminating),
                ] {
                    if let Some(v) = v {
                        set(
                            &mut t,
                            format!("{es}endpoint_conditions_{name}"),
                            v.to_string(),
                        );
                    }
                }
                if let Some(h) = &ep.hostname {
                    set(&mut t, format!("{es}endpoint_hostname"), h.clone());
                }
                if let Some(r) = &ep.target_ref {
                    set(&mut t, format!("{es}address_target_kind"), r.kind.clone());
                    set(&mut t, format!("{es}address_target_name"), r.name.clone());
                }
                if let Some(n) = &ep.node_name {
                    set(&mut t, format!("{es}endpoint_node_name"), n.clone());
                }
                if let Some(z) = &ep.zone {
                    set(&mut t, format!("{es}endpoint_zone"), z.clone());
                }
                for (k, v) in &ep.deprecated_topology {
                    let n = sanitize_label_name(k);
                    set(&mut t, format!("{es}endpoint_topology_{n}"), v.clone());
                    set(&mut t, format!("{es}endpoint_topology_present_{n}"), "true");
                }
                if ctx.attach_node {
                    let node = match &ep.target_ref {
                        Some(r) if r.kind == "Node" => Some(r.name.as_str()),
                        _ => ep.node_name.as_deref(),
                    };
                    add_node_labels(&mut t, ctx, node);
                }
                if let Some(pod) = resolve_pod(ctx, ep.target_ref.as_ref()) {
                    add_pod_target_labels(&mut t, pod, port.port, None);
                    seen.note(pod, port.port);
                }
                tg.targets.push(t);
            }
        }
    }
    seen.extra_targets(&mut tg.targets);
    tg
}
