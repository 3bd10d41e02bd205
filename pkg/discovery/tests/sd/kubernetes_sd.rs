//! Kubernetes SD against the fake API server. Expected label sets are written from
//! Prometheus's documented `__meta_kubernetes_*` lists for each role, applied by hand to the
//! fixtures (not taken from this crate's output).

use std::time::Duration;

use serde_json::json;
use strata_discovery::kubernetes::KubernetesDiscovery;
use strata_promconfig::sd::{
    KubernetesAttachMetadata, KubernetesNamespaces, KubernetesRole, KubernetesSdConfig,
    KubernetesSelector,
};
use strata_promconfig::{Authorization, HttpClientConfig};

use crate::common::{ctx, labels, merged, Collector, Labels};
use crate::k8s_fake::{fixture, FakeApi, WatchReply};

const PODS: &str = "/api/v1/pods";
const NODES: &str = "/api/v1/nodes";
const SERVICES: &str = "/api/v1/services";
const ENDPOINTS: &str = "/api/v1/endpoints";
const SLICES: &str = "/apis/discovery.k8s.io/v1/endpointslices";

fn config(api: &FakeApi, role: KubernetesRole) -> KubernetesSdConfig {
    KubernetesSdConfig {
        api_server: api.url.clone(),
        role,
        kubeconfig_file: String::new(),
        namespaces: KubernetesNamespaces::default(),
        selectors: Vec::new(),
        attach_metadata: KubernetesAttachMetadata::default(),
        http: HttpClientConfig::default(),
    }
}

async fn fake_with_fixtures() -> FakeApi {
    let api = FakeApi::start().await;
    api.set_list(PODS, fixture("pods.json"));
    api.set_list(NODES, fixture("nodes.json"));
    api.set_list(SERVICES, fixture("services.json"));
    api.set_list(ENDPOINTS, fixture("endpoints.json"));
    api.set_list(SLICES, fixture("endpointslices.json"));
    api
}

fn start(
    api: &FakeApi,
    cfg: KubernetesSdConfig,
) -> (
    Collector,
    tokio::task::JoinHandle<()>,
    strata_discovery::SdMetrics,
) {
    let _ = api;
    let c = ctx();
    let (sink, col) = Collector::new();
    let d = KubernetesDiscovery::new(&cfg, &c).unwrap();
    (col, tokio::spawn(d.run(sink)), c.metrics)
}

fn sorted(mut v: Vec<Labels>) -> Vec<Labels> {
    v.sort();
    v
}

fn with(base: &Labels, extra: &[(&str, &str)]) -> Labels {
    let mut l = base.clone();
    l.extend(labels(extra));
    l
}

/// The pod labels of web-0 (the pod role's list minus container and namespace labels).
fn web0_pod_labels() -> Labels {
    labels(&[
        ("__meta_kubernetes_pod_name", "web-0"),
        ("__meta_kubernetes_pod_ip", "10.244.1.5"),
        ("__meta_kubernetes_pod_label_app_kubernetes_io_name", "web"),
        (
            "__meta_kubernetes_pod_labelpresent_app_kubernetes_io_name",
            "true",
        ),
        ("__meta_kubernetes_pod_label_tier", "front"),
        ("__meta_kubernetes_pod_labelpresent_tier", "true"),
        (
            "__meta_kubernetes_pod_annotation_prometheus_io_scrape",
            "true",
        ),
        (
            "__meta_kubernetes_pod_annotationpresent_prometheus_io_scrape",
            "true",
        ),
        ("__meta_kubernetes_pod_ready", "true"),
        ("__meta_kubernetes_pod_phase", "Running"),
        ("__meta_kubernetes_pod_node_name", "node-a"),
        ("__meta_kubernetes_pod_host_ip", "10.0.0.10"),
        (
            "__meta_kubernetes_pod_uid",
            "6f1c2a9e-1b7d-4c4e-9a37-2f0d1f3b8a11",
        ),
        ("__meta_kubernetes_pod_controller_kind", "ReplicaSet"),
        ("__meta_kubernetes_pod_controller_name", "web-5d9c7b"),
    ])
}

fn web_service_labels() -> Labels {
    labels(&[
        ("__meta_kubernetes_namespace", "default"),
        ("__meta_kubernetes_service_name", "web"),
        ("__meta_kubernetes_service_label_app", "web"),
        ("__meta_kubernetes_service_labelpresent_app", "true"),
        (
            "__meta_kubernetes_service_annotation_prometheus_io_probe",
            "true",
        ),
        (
            "__meta_kubernetes_service_annotationpresent_prometheus_io_probe",
            "true",
        ),
    ])
}

/// Container-port labels of web-0.
fn port(
    container: &str,
    image: &str,
    name: &str,
    number: &str,
    proto: &str,
    init: &str,
) -> Vec<(&'static str, String)> {
    vec![
        ("__meta_kubernetes_pod_container_name", container.into()),
        ("__meta_kubernetes_pod_container_image", image.into()),
        ("__meta_kubernetes_pod_container_port_name", name.into()),
        ("__meta_kubernetes_pod_container_port_number", number.into()),
        (
            "__meta_kubernetes_pod_container_port_protocol",
            proto.into(),
        ),
        ("__meta_kubernetes_pod_container_init", init.into()),
    ]
}

fn with_owned(base: &Labels, extra: Vec<(&'static str, String)>) -> Labels {
    let mut l = base.clone();
    l.extend(extra.into_iter().map(|(k, v)| (k.to_string(), v)));
    l
}

#[tokio::test]
async fn pod_role_labels_match_prometheus() {
    let api = fake_with_fixtures().await;
    let (mut col, task, _) = start(&api, config(&api, KubernetesRole::Pod));
    col.until("pod group", |g| g.contains_key("pod/default/web-0"))
        .await;
    assert!(
        !col.groups.contains_key("pod/default/pending-0"),
        "a pod without IP has no targets"
    );
    let mut base = web0_pod_labels();
    base.insert("__meta_kubernetes_namespace".into(), "default".into());
    let ids = |id: &str| ("__meta_kubernetes_pod_container_id", id.to_string());
    let mut http = port("app", "nginx:1.25", "http", "8080", "TCP", "false");
    http.push(ids("containerd://a1a1"));
    http.push(("__address__", "10.244.1.5:8080".into()));
    let mut metrics = port("app", "nginx:1.25", "metrics", "9100", "TCP", "false");
    metrics.push(ids("containerd://a1a1"));
    metrics.push(("__address__", "10.244.1.5:9100".into()));
    let mut init = port("init", "busybox:1.36", "", "7000", "UDP", "true");
    init.push(ids("containerd://c3c3"));
    init.push(("__address__", "10.244.1.5:7000".into()));
    let sidecar = with(
        &base,
        &[
            ("__address__", "10.244.1.5"),
            ("__meta_kubernetes_pod_container_name", "sidecar"),
            ("__meta_kubernetes_pod_container_id", "containerd://b2b2"),
            ("__meta_kubernetes_pod_container_image", "busybox:1.36"),
            ("__meta_kubernetes_pod_container_init", "false"),
        ],
    );
    let expected = sorted(vec![
        with_owned(&base, http),
        with_owned(&base, metrics),
        with_owned(&base, init),
        sidecar,
    ]);
    assert_eq!(sorted(merged(&col.groups["pod/default/web-0"])), expected);
    task.abort();
}

#[tokio::test]
async fn node_role_labels_match_prometheus() {
    let api = fake_with_fixtures().await;
    let (mut col, task, _) = start(&api, config(&api, KubernetesRole::Node));
    col.until("node group", |g| g.contains_key("node/node-a"))
        .await;
    let expected = labels(&[
        ("__address__", "10.0.0.10:10250"),
        ("instance", "node-a"),
        ("__meta_kubernetes_node_name", "node-a"),
        (
            "__meta_kubernetes_node_provider_id",
            "aws:///us-east-1a/i-0abc",
        ),
        ("__meta_kubernetes_node_condition_memorypressure", "false"),
        ("__meta_kubernetes_node_condition_ready", "true"),
        (
            "__meta_kubernetes_node_label_kubernetes_io_hostname",
            "node-a",
        ),
        (
            "__meta_kubernetes_node_labelpresent_kubernetes_io_hostname",
            "true",
        ),
        (
            "__meta_kubernetes_node_label_topology_kubernetes_io_zone",
            "z1",
        ),
        (
            "__meta_kubernetes_node_labelpresent_topology_kubernetes_io_zone",
            "true",
        ),
        (
            "__meta_kubernetes_node_annotation_node_alpha_kubernetes_io_ttl",
            "0",
        ),
        (
            "__meta_kubernetes_node_annotationpresent_node_alpha_kubernetes_io_ttl",
            "true",
        ),
        ("__meta_kubernetes_node_address_Hostname", "node-a"),
        ("__meta_kubernetes_node_address_ExternalIP", "203.0.113.10"),
        ("__meta_kubernetes_node_address_InternalIP", "10.0.0.10"),
    ]);
    assert_eq!(merged(&col.groups["node/node-a"]), vec![expected]);
    task.abort();
}

#[tokio::test]
async fn service_role_labels_match_prometheus() {
    let api = fake_with_fixtures().await;
    let (mut col, task, _) = start(&api, config(&api, KubernetesRole::Service));
    col.until("three services", |g| g.len() == 3).await;
    let web = with(
        &web_service_labels(),
        &[
            ("__address__", "web.default.svc:80"),
            ("__meta_kubernetes_service_port_name", "http"),
            ("__meta_kubernetes_service_port_number", "80"),
            ("__meta_kubernetes_service_port_protocol", "TCP"),
            ("__meta_kubernetes_service_type", "ClusterIP"),
            ("__meta_kubernetes_service_cluster_ip", "10.96.0.20"),
        ],
    );
    assert_eq!(merged(&col.groups["svc/default/web"]), vec![web]);
    let ext = labels(&[
        ("__address__", "ext.default.svc:5432"),
        ("__meta_kubernetes_namespace", "default"),
        ("__meta_kubernetes_service_name", "ext"),
        ("__meta_kubernetes_service_port_name", "pg"),
        ("__meta_kubernetes_service_port_number", "5432"),
        ("__meta_kubernetes_service_port_protocol", "TCP"),
        ("__meta_kubernetes_service_type", "ExternalName"),
        ("__meta_kubernetes_service_external_name", "db.example.com"),
    ]);
    assert_eq!(merged(&col.groups["svc/default/ext"]), vec![ext]);
    let lb = labels(&[
        ("__address__", "lb.default.svc:443"),
        ("__meta_kubernetes_namespace", "default"),
        ("__meta_kubernetes_service_name", "lb"),
        ("__meta_kubernetes_service_port_name", ""),
        ("__meta_kubernetes_service_port_number", "443"),
        ("__meta_kubernetes_service_port_protocol", "TCP"),
        ("__meta_kubernetes_service_type", "LoadBalancer"),
        ("__meta_kubernetes_service_cluster_ip", "10.96.0.30"),
        (
            "__meta_kubernetes_service_loadbalancer_ip",
            "198.51.100.7,198.51.100.8",
        ),
    ]);
    assert_eq!(merged(&col.groups["svc/default/lb"]), vec![lb]);
    task.abort();
}

fn extra_port_targets(group: &Labels) -> Vec<Labels> {
    let pod = web0_pod_labels();
    let mut base = group.clone();
    base.extend(pod);
    let mut m = port("app", "nginx:1.25", "metrics", "9100", "TCP", "false");
    m.push(("__address__", "10.244.1.5:9100".into()));
    let mut i = port("init", "busybox:1.36", "", "7000", "UDP", "true");
    i.push(("__address__", "10.244.1.5:7000".into()));
    vec![with_owned(&base, m), with_owned(&base, i)]
}

#[tokio::test]
async fn endpoints_role_labels_match_prometheus_and_follow_pod_changes() {
    let api = fake_with_fixtures().await;
    let (mut col, task, _) = start(&api, config(&api, KubernetesRole::Endpoints));
    col.until("endpoints group", |g| {
        g.contains_key("endpoints/default/web")
    })
    .await;
    let group = with(
        &web_service_labels(),
        &[
            ("__meta_kubernetes_endpoints_name", "web"),
            ("__meta_kubernetes_endpoints_label_app", "web"),
            ("__meta_kubernetes_endpoints_labelpresent_app", "true"),
            ("__meta_kubernetes_endpoints_annotation_endpoints_kubernetes_io_last_change_trigger_time", "2024-05-01T10:00:00Z"),
            ("__meta_kubernetes_endpoints_annotationpresent_endpoints_kubernetes_io_last_change_trigger_time", "true"),
        ],
    );
    let mut ready = with(
        &group,
        &[
            ("__address__", "10.244.1.5:8080"),
            ("__meta_kubernetes_endpoint_port_name", "http"),
            ("__meta_kubernetes_endpoint_port_protocol", "TCP"),
            ("__meta_kubernetes_endpoint_ready", "true"),
            ("__meta_kubernetes_endpoint_address_target_kind", "Pod"),
            ("__meta_kubernetes_endpoint_address_target_name", "web-0"),
            ("__meta_kubernetes_endpoint_node_name", "node-a"),
        ],
    );
    ready.extend(web0_pod_labels());
    let ready = with_owned(
        &ready,
        port("app", "nginx:1.25", "http", "8080", "TCP", "false"),
    );
    let not_ready = with(
        &group,
        &[
            ("__address__", "10.244.2.9:8080"),
            ("__meta_kubernetes_endpoint_port_name", "http"),
            ("__meta_kubernetes_endpoint_port_protocol", "TCP"),
            ("__meta_kubernetes_endpoint_ready", "false"),
            ("__meta_kubernetes_endpoint_hostname", "web-1"),
            ("__meta_kubernetes_endpoint_address_target_kind", "Pod"),
            ("__meta_kubernetes_endpoint_address_target_name", "web-1"),
        ],
    );
    let mut expected = vec![ready, not_ready];
    expected.extend(extra_port_targets(&group));
    assert_eq!(
        sorted(merged(&col.groups["endpoints/default/web"])),
        sorted(expected)
    );

    // The pod behind the endpoint changes: the endpoints group is rebuilt with its new labels.
    let mut pod = fixture("pods.json")["items"][0].clone();
    pod["metadata"]["labels"]["tier"] = json!("back");
    pod["metadata"]["resourceVersion"] = json!("101");
    api.push_watch(
        PODS,
        WatchReply::Events(vec![json!({"type": "MODIFIED", "object": pod})]),
    );
    col.until("endpoints rebuilt after pod change", |g| {
        g.get("endpoints/default/web")
            .map(|g| {
                g.targets.iter().any(|t| {
                    t.get("__meta_kubernetes_pod_label_tier")
                        .map(String::as_str)
                        == Some("back")
                })
            })
            .unwrap_or(false)
    })
    .await;
    task.abort();
}

#[tokio::test]
async fn endpointslice_role_labels_match_prometheus() {
    let api = fake_with_fixtures().await;
    let (mut col, task, _) = start(&api, config(&api, KubernetesRole::EndpointSlice));
    col.until("slice group", |g| {
        g.contains_key("endpointslice/default/web-x7k2p")
    })
    .await;
    let group = with(
        &web_service_labels(),
        &[
            ("__meta_kubernetes_endpointslice_name", "web-x7k2p"),
            ("__meta_kubernetes_endpointslice_address_type", "IPv4"),
            ("__meta_kubernetes_endpointslice_label_kubernetes_io_service_name", "web"),
            ("__meta_kubernetes_endpointslice_labelpresent_kubernetes_io_service_name", "true"),
            ("__meta_kubernetes_endpointslice_label_endpointslice_kubernetes_io_managed_by", "endpointslice-controller.k8s.io"),
            ("__meta_kubernetes_endpointslice_labelpresent_endpointslice_kubernetes_io_managed_by", "true"),
        ],
    );
    // `_port_app_protocol` is not in the documented list but Prometheus's endpointslice.go sets it.
    let port_labels = [
        ("__meta_kubernetes_endpointslice_port_name", "http"),
        ("__meta_kubernetes_endpointslice_port_protocol", "TCP"),
        ("__meta_kubernetes_endpointslice_port", "8080"),
        ("__meta_kubernetes_endpointslice_port_app_protocol", "http"),
    ];
    let mut first = with(&group, &port_labels);
    first.extend(labels(&[
        ("__address__", "10.244.1.5:8080"),
        (
            "__meta_kubernetes_endpointslice_endpoint_conditions_ready",
            "true",
        ),
        (
            "__meta_kubernetes_endpointslice_endpoint_conditions_serving",
            "true",
        ),
        (
            "__meta_kubernetes_endpointslice_endpoint_conditions_terminating",
            "false",
        ),
        ("__meta_kubernetes_endpointslice_address_target_kind", "Pod"),
        (
            "__meta_kubernetes_endpointslice_address_target_name",
            "web-0",
        ),
        (
            "__meta_kubernetes_endpointslice_endpoint_node_name",
            "node-a",
        ),
        ("__meta_kubernetes_endpointslice_endpoint_zone", "z1"),
    ]));
    first.extend(web0_pod_labels());
    let first = with_owned(
        &first,
        port("app", "nginx:1.25", "http", "8080", "TCP", "false"),
    );
    let mut second = with(&group, &port_labels);
    second.extend(labels(&[
        ("__address__", "10.244.3.3:8080"),
        (
            "__meta_kubernetes_endpointslice_endpoint_conditions_ready",
            "false",
        ),
        (
            "__meta_kubernetes_endpointslice_endpoint_conditions_serving",
            "true",
        ),
        (
            "__meta_kubernetes_endpointslice_endpoint_conditions_terminating",
            "true",
        ),
        ("__meta_kubernetes_endpointslice_endpoint_hostname", "web-2"),
    ]));
    let mut expected = vec![first, second];
    expected.extend(extra_port_targets(&group));
    assert_eq!(
        sorted(merged(&col.groups["endpointslice/default/web-x7k2p"])),
        sorted(expected)
    );
    task.abort();
}

fn pod_event(kind: &str, name: &str, ip: &str, rv: &str) -> serde_json::Value {
    json!({"type": kind, "object": {
        "kind": "Pod", "apiVersion": "v1",
        "metadata": {"name": name, "namespace": "default", "uid": format!("uid-{name}"), "resourceVersion": rv},
        "spec": {"nodeName": "node-a", "containers": [{"name": "c", "image": "img", "ports": [{"containerPort": 80, "protocol": "TCP"}]}]},
        "status": {"phase": "Running", "podIP": ip}
    }})
}

#[tokio::test]
async fn watch_applies_add_modify_delete_follows_bookmarks_and_relists_after_410() {
    let api = fake_with_fixtures().await;
    let (mut col, task, metrics) = start(&api, config(&api, KubernetesRole::Pod));
    col.until("initial list", |g| g.contains_key("pod/default/web-0"))
        .await;
    api.wait_request("first watch from the list's version", |r| {
        r.path == PODS
            && r.is_watch()
            && r.query.get("resourceVersion").map(String::as_str) == Some("100")
            && r.query.get("allowWatchBookmarks").map(String::as_str) == Some("true")
    })
    .await;

    api.push_watch(
        PODS,
        WatchReply::Events(vec![
            pod_event("ADDED", "new-1", "10.1.1.1", "101"),
            pod_event("MODIFIED", "new-1", "10.1.1.2", "102"),
            json!({"type": "BOOKMARK", "object": {"kind": "Pod", "apiVersion": "v1", "metadata": {"resourceVersion": "150"}}}),
        ]),
    );
    col.until("added then modified pod", |g| {
        g.get("pod/default/new-1")
            .map(|g| g.targets[0]["__address__"] == "10.1.1.2:80")
            .unwrap_or(false)
    })
    .await;
    api.wait_request("watch resumed from the bookmark's version", |r| {
        r.is_watch() && r.query.get("resourceVersion").map(String::as_str) == Some("150")
    })
    .await;

    api.push_watch(
        PODS,
        WatchReply::Events(vec![pod_event("DELETED", "new-1", "10.1.1.2", "151")]),
    );
    col.until("deleted pod", |g| !g.contains_key("pod/default/new-1"))
        .await;

    // 410 as a watch ERROR event: list again; objects gone from the new list are removed.
    let lists_before = api
        .requests()
        .iter()
        .filter(|r| r.path == PODS && !r.is_watch())
        .count();
    let mut relist = fixture("pods.json");
    relist["metadata"]["resourceVersion"] = json!("900");
    relist["items"] = json!([pod_event("ADDED", "fresh-1", "10.2.2.2", "899")["object"]]);
    api.set_list(PODS, relist);
    api.push_watch(
        PODS,
        WatchReply::Events(vec![json!({"type": "ERROR", "object": {"kind": "Status", "apiVersion": "v1", "status": "Failure",
            "message": "too old resource version: 151 (800)", "reason": "Expired", "code": 410}})]),
    );
    col.until("relisted after 410 event", |g| {
        g.contains_key("pod/default/fresh-1") && !g.contains_key("pod/default/web-0")
    })
    .await;
    assert!(
        api.requests()
            .iter()
            .filter(|r| r.path == PODS && !r.is_watch())
            .count()
            > lists_before
    );
    api.wait_request("watch from the relist's version", |r| {
        r.is_watch() && r.query.get("resourceVersion").map(String::as_str) == Some("900")
    })
    .await;

    // 410 as an HTTP status: list again too.
    let mut relist = fixture("pods.json");
    relist["metadata"]["resourceVersion"] = json!("1000");
    api.set_list(PODS, relist);
    api.push_watch(PODS, WatchReply::Status(410));
    col.until("relisted after HTTP 410", |g| {
        g.contains_key("pod/default/web-0") && !g.contains_key("pod/default/fresh-1")
    })
    .await;
    let events = metrics.kubernetes_events.get_or_create(
        &strata_discovery::metrics::KubernetesEventLabels {
            role: "pod".into(),
            event: "add".into(),
        },
    );
    assert_eq!(events.get(), 1);
    task.abort();
}

#[tokio::test]
async fn namespaces_selectors_and_bearer_token_file_are_sent() {
    let api = FakeApi::start().await;
    let ns_pods = "/api/v1/namespaces/team-a/pods";
    api.set_list(ns_pods, fixture("pods.json"));
    api.set_list(
        "/api/v1/namespaces/team-b/pods",
        json!({"kind": "PodList", "metadata": {"resourceVersion": "5"}, "items": []}),
    );
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "tok-1\n").unwrap();
    let mut cfg = config(&api, KubernetesRole::Pod);
    cfg.namespaces = KubernetesNamespaces {
        own_namespace: false,
        names: vec!["team-b".into(), "team-a".into()],
    };
    cfg.selectors = vec![KubernetesSelector {
        role: KubernetesRole::Pod,
        label: "app=web".into(),
        field: "status.phase=Running".into(),
    }];
    cfg.http.authorization = Some(Authorization {
        type_: "Bearer".into(),
        credentials: String::new(),
        credentials_file: token.display().to_string(),
    });
    let (mut col, task, _) = start(&api, cfg);
    col.until("pods of team-a", |g| g.contains_key("pod/default/web-0"))
        .await;
    let r = api
        .wait_request("namespaced list", |r| r.path == ns_pods && !r.is_watch())
        .await;
    assert_eq!(
        r.query.get("labelSelector").map(String::as_str),
        Some("app=web")
    );
    assert_eq!(
        r.query.get("fieldSelector").map(String::as_str),
        Some("status.phase=Running")
    );
    assert_eq!(r.authorization.as_deref(), Some("Bearer tok-1"));
    api.wait_request("team-b listed", |r| {
        r.path == "/api/v1/namespaces/team-b/pods"
    })
    .await;
    // A rotated token is read again for the next request.
    std::fs::write(&token, "tok-2").unwrap();
    api.wait_request("rotated token used", |r| {
        r.authorization.as_deref() == Some("Bearer tok-2")
    })
    .await;
    assert!(
        api.requests().iter().all(|r| r.path != PODS),
        "cluster-wide pods listed despite namespaces"
    );
    task.abort();
}

#[tokio::test]
async fn attach_node_metadata_adds_node_labels_to_pods() {
    let api = fake_with_fixtures().await;
    api.set_list(
        "/api/v1/namespaces",
        json!({"kind": "NamespaceList", "apiVersion": "v1", "metadata": {"resourceVersion": "7"}, "items": [
            {"metadata": {"name": "default", "labels": {"team": "core"}, "annotations": {"owner": "sre"}}, "status": {"phase": "Active"}}
        ]}),
    );
    let mut cfg = config(&api, KubernetesRole::Pod);
    cfg.attach_metadata.node = true;
    cfg.attach_metadata.namespace = true;
    let (mut col, task, _) = start(&api, cfg);
    col.until("pod with node labels", |g| {
        g.contains_key("pod/default/web-0")
    })
    .await;
    let g = &col.groups["pod/default/web-0"];
    assert_eq!(g.labels["__meta_kubernetes_node_name"], "node-a");
    assert_eq!(
        g.labels["__meta_kubernetes_node_label_topology_kubernetes_io_zone"],
        "z1"
    );
    assert_eq!(
        g.labels["__meta_kubernetes_node_labelpresent_topology_kubernetes_io_zone"],
        "true"
    );
    assert_eq!(g.labels["__meta_kubernetes_namespace_label_team"], "core");
    assert_eq!(
        g.labels["__meta_kubernetes_namespace_annotation_owner"],
        "sre"
    );

    // The node's labels change: the pods on it are rebuilt.
    let mut node = fixture("nodes.json")["items"][0].clone();
    node["metadata"]["labels"]["topology.kubernetes.io/zone"] = json!("z2");
    api.push_watch(
        NODES,
        WatchReply::Events(vec![json!({"type": "MODIFIED", "object": node})]),
    );
    col.until("pod rebuilt after node change", |g| {
        g["pod/default/web-0"]
            .labels
            .get("__meta_kubernetes_node_label_topology_kubernetes_io_zone")
            .map(String::as_str)
            == Some("z2")
    })
    .await;
    task.abort();
    let _ = Duration::ZERO;
}

#[test]
fn refuses_ingress_role_kubeconfig_and_unreadable_tls_files() {
    let c = ctx();
    let base = KubernetesSdConfig {
        api_server: "http://127.0.0.1:1".into(),
        role: KubernetesRole::Ingress,
        kubeconfig_file: String::new(),
        namespaces: KubernetesNamespaces::default(),
        selectors: Vec::new(),
        attach_metadata: KubernetesAttachMetadata::default(),
        http: HttpClientConfig::default(),
    };
    assert!(KubernetesDiscovery::new(&base, &c).is_err());
    let cfg = KubernetesSdConfig {
        role: KubernetesRole::Pod,
        kubeconfig_file: "/k".into(),
        ..base.clone()
    };
    assert!(KubernetesDiscovery::new(&cfg, &c).is_err());
    let mut cfg = KubernetesSdConfig {
        role: KubernetesRole::Pod,
        api_server: "https://k8s:6443".into(),
        ..base
    };
    assert!(KubernetesDiscovery::new(&cfg, &c).is_ok(), "https accepted");
    cfg.http.tls_config.ca_file = "/nonexistent/k8s-ca.pem".into();
    let Err(e) = KubernetesDiscovery::new(&cfg, &c) else {
        panic!("a missing ca_file is refused");
    };
    assert!(
        e.to_string()
            .contains("read ca_file /nonexistent/k8s-ca.pem"),
        "{e}"
    );
}
