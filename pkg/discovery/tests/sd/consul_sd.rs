//! Consul SD against a fake Consul agent that answers `/v1/agent/self`,
//! `/v1/catalog/services` and `/v1/health/service/<name>` as the Consul HTTP API docs
//! describe them, including blocking queries (`index`, `wait`, `X-Consul-Index`).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use parking_lot::Mutex;
use serde_json::{json, Value};
use strata_discovery::consul::ConsulDiscovery;
use strata_promconfig::sd::ConsulSdConfig;
use strata_promconfig::HttpClientConfig;
use tokio::sync::Notify;

use crate::common::{ctx, labels, merged, Collector};

#[derive(Clone, Debug)]
struct Req {
    path: String,
    query: HashMap<String, String>,
    token: Option<String>,
}

#[derive(Default)]
struct Inner {
    index: u64,
    catalog: Value,
    health: HashMap<String, Value>,
    log: Vec<Req>,
}

#[derive(Clone, Default)]
struct Fake {
    inner: Arc<Mutex<Inner>>,
    changed: Arc<Notify>,
}

impl Fake {
    fn update(&self, f: impl FnOnce(&mut Inner)) {
        let mut i = self.inner.lock();
        f(&mut i);
        i.index += 1;
        drop(i);
        self.changed.notify_waiters();
    }

    fn requests(&self) -> Vec<Req> {
        self.inner.lock().log.clone()
    }
}

async fn handle(
    State(f): State<Fake>,
    uri: Uri,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let path = uri.path().to_string();
    let token = headers
        .get("x-consul-token")
        .and_then(|v| v.to_str().ok())
        .map(String::from);
    let wait_index: Option<u64> = query.get("index").and_then(|i| i.parse().ok());
    f.inner.lock().log.push(Req {
        path: path.clone(),
        query,
        token,
    });
    if path == "/v1/agent/self" {
        return axum::Json(
            json!({"Config": {"Datacenter": "dc1", "NodeName": "agent-1"}, "Member": {}}),
        )
        .into_response();
    }
    // Blocking query: hold the answer until the index moves past the client's, or ~1 s.
    if let Some(idx) = wait_index.filter(|i| *i > 0) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
        loop {
            let notified = f.changed.notified();
            if f.inner.lock().index != idx {
                break;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                break;
            }
        }
    }
    let i = f.inner.lock();
    let body = if path == "/v1/catalog/services" {
        i.catalog.clone()
    } else if let Some(name) = path.strip_prefix("/v1/health/service/") {
        i.health.get(name).cloned().unwrap_or_else(|| json!([]))
    } else {
        return axum::http::StatusCode::NOT_FOUND.into_response();
    };
    (
        [
            ("x-consul-index", i.index.to_string()),
            ("content-type", "application/json".to_string()),
        ],
        body.to_string(),
    )
        .into_response()
}

async fn start_consul(f: Fake) -> (String, tokio::task::JoinHandle<()>) {
    let app = axum::Router::new().fallback(handle).with_state(f);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let h = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (addr, h)
}

fn web_health() -> Value {
    json!([
        {
            "Node": {"ID": "40e4a748-2192-161a-0510-9bf59fe950b5", "Node": "web-node-1", "Address": "10.0.0.1", "Datacenter": "dc1",
                     "TaggedAddresses": {"lan": "10.0.0.1", "wan": "198.51.100.1"}, "Meta": {"rack": "r1"},
                     "CreateIndex": 5, "ModifyIndex": 5},
            "Service": {"ID": "web-1", "Service": "web", "Tags": ["prod", "v1"], "Address": "", "Meta": {"version": "1.2"},
                        "Port": 8080, "Weights": {"Passing": 10, "Warning": 1}, "EnableTagOverride": false},
            "Checks": [
                {"Node": "web-node-1", "CheckID": "serfHealth", "Name": "Serf Health Status", "Status": "passing"},
                {"Node": "web-node-1", "CheckID": "service:web-1", "Name": "Service 'web' check", "Status": "passing", "ServiceID": "web-1"}
            ]
        },
        {
            "Node": {"Node": "web-node-2", "Address": "10.0.0.2", "Datacenter": "dc1", "TaggedAddresses": null, "Meta": null},
            "Service": {"ID": "web-2", "Service": "web", "Tags": ["prod"], "Address": "172.16.0.2", "Meta": null, "Port": 8081,
                        "Namespace": "team", "Partition": "p1"},
            "Checks": [
                {"CheckID": "serfHealth", "Status": "passing"},
                {"CheckID": "service:web-2", "Status": "warning"}
            ]
        }
    ])
}

fn config(addr: &str) -> ConsulSdConfig {
    ConsulSdConfig {
        server: addr.into(),
        path_prefix: String::new(),
        token: "consul-token".into(),
        datacenter: String::new(),
        namespace: String::new(),
        partition: String::new(),
        scheme: "http".into(),
        services: Vec::new(),
        tags: vec!["prod".into()],
        node_meta: Default::default(),
        tag_separator: ",".into(),
        allow_stale: true,
        refresh_interval: Duration::from_millis(50),
        filter: String::new(),
        http: HttpClientConfig::default(),
    }
}

#[tokio::test]
async fn catalog_watch_builds_prometheus_labels_and_follows_changes() {
    let fake = Fake::default();
    fake.update(|i| {
        i.catalog = json!({"web": ["prod", "v1"], "db": ["prod"], "consul": []});
        i.health.insert("web".into(), web_health());
        i.health.insert(
            "db".into(),
            json!([{"Node": {"Node": "db-node", "Address": "10.0.0.9"}, "Service": {"ID": "db", "Service": "db", "Tags": ["prod"], "Port": 5432}, "Checks": []}]),
        );
    });
    let (addr, server) = start_consul(fake.clone()).await;
    let c = ctx();
    let (sink, mut col) = Collector::new();
    let task = tokio::spawn(ConsulDiscovery::new(&config(&addr), &c).unwrap().run(sink));
    col.until("web and db", |g| {
        g.contains_key("web") && g.contains_key("db")
    })
    .await;
    assert!(
        !col.groups.contains_key("consul"),
        "a service without the wanted tag is not watched"
    );

    let web = &col.groups["web"];
    assert_eq!(
        web.labels,
        labels(&[
            ("__meta_consul_service", "web"),
            ("__meta_consul_dc", "dc1")
        ])
    );
    let mut got = merged(web);
    got.sort();
    let common = [
        ("__meta_consul_service", "web"),
        ("__meta_consul_dc", "dc1"),
    ];
    let mut e1 = labels(&[
        ("__address__", "10.0.0.1:8080"),
        ("__meta_consul_address", "10.0.0.1"),
        ("__meta_consul_node", "web-node-1"),
        ("__meta_consul_namespace", ""),
        ("__meta_consul_partition", ""),
        ("__meta_consul_tags", ",prod,v1,"),
        ("__meta_consul_service_address", ""),
        ("__meta_consul_service_port", "8080"),
        ("__meta_consul_service_id", "web-1"),
        ("__meta_consul_health", "passing"),
        ("__meta_consul_metadata_rack", "r1"),
        ("__meta_consul_service_metadata_version", "1.2"),
        ("__meta_consul_tagged_address_lan", "10.0.0.1"),
        ("__meta_consul_tagged_address_wan", "198.51.100.1"),
    ]);
    e1.extend(labels(&common));
    let mut e2 = labels(&[
        ("__address__", "172.16.0.2:8081"),
        ("__meta_consul_address", "10.0.0.2"),
        ("__meta_consul_node", "web-node-2"),
        ("__meta_consul_namespace", "team"),
        ("__meta_consul_partition", "p1"),
        ("__meta_consul_tags", ",prod,"),
        ("__meta_consul_service_address", "172.16.0.2"),
        ("__meta_consul_service_port", "8081"),
        ("__meta_consul_service_id", "web-2"),
        ("__meta_consul_health", "warning"),
    ]);
    e2.extend(labels(&common));
    let mut expected = vec![e1, e2];
    expected.sort();
    assert_eq!(got, expected);

    // A removed service's group goes away; a changed instance list is followed.
    fake.update(|i| {
        i.catalog = json!({"web": ["prod", "v1"], "consul": []});
        i.health
            .insert("web".into(), json!([web_health()[0].clone()]));
    });
    col.until("db removed, web shrunk", |g| {
        !g.contains_key("db") && g.get("web").map(|w| w.targets.len()) == Some(1)
    })
    .await;

    let reqs = fake.requests();
    assert!(
        reqs.iter().any(|r| r.path == "/v1/agent/self"),
        "datacenter not asked of the agent"
    );
    let health: Vec<&Req> = reqs
        .iter()
        .filter(|r| r.path == "/v1/health/service/web")
        .collect();
    assert!(health
        .iter()
        .all(|r| r.token.as_deref() == Some("consul-token")));
    assert!(health
        .iter()
        .all(|r| r.query.contains_key("stale")
            && r.query.get("dc").map(String::as_str) == Some("dc1")));
    assert!(health
        .iter()
        .all(|r| r.query.get("tag").map(String::as_str) == Some("prod")));
    assert!(
        health.iter().any(|r| r
            .query
            .get("index")
            .and_then(|i| i.parse::<u64>().ok())
            .unwrap_or(0)
            > 0
            && r.query.get("wait").map(String::as_str) == Some("2000ms")),
        "no blocking query made"
    );
    task.abort();
    server.abort();
}

#[tokio::test]
async fn named_services_skip_the_catalog_and_use_the_configured_datacenter() {
    let fake = Fake::default();
    fake.update(|i| {
        i.catalog = json!({"web": []});
        i.health.insert("web".into(), web_health());
    });
    let (addr, server) = start_consul(fake.clone()).await;
    let mut cfg = config(&addr);
    cfg.services = vec!["web".into()];
    cfg.tags = Vec::new();
    cfg.datacenter = "dc2".into();
    cfg.allow_stale = false;
    cfg.tag_separator = ";".into();
    let c = ctx();
    let (sink, mut col) = Collector::new();
    let task = tokio::spawn(ConsulDiscovery::new(&cfg, &c).unwrap().run(sink));
    col.until("web", |g| g.contains_key("web")).await;
    let web = &col.groups["web"];
    assert_eq!(web.labels["__meta_consul_dc"], "dc2");
    let mut tags: Vec<&str> = web
        .targets
        .iter()
        .map(|t| t["__meta_consul_tags"].as_str())
        .collect();
    tags.sort();
    assert_eq!(tags, vec![";prod;", ";prod;v1;"]);
    let reqs = fake.requests();
    assert!(reqs
        .iter()
        .all(|r| r.path != "/v1/catalog/services" && r.path != "/v1/agent/self"));
    assert!(reqs
        .iter()
        .all(|r| r.query.get("dc").map(String::as_str) == Some("dc2")
            && !r.query.contains_key("stale")));
    task.abort();
    server.abort();
}

#[test]
fn https_scheme_takes_tls_config_and_names_an_unreadable_file() {
    let c = ctx();
    let mut cfg = config("consul.example:8501");
    cfg.scheme = "https".into();
    assert!(ConsulDiscovery::new(&cfg, &c).is_ok(), "https accepted");
    cfg.http.tls_config.cert_file = "/nonexistent/consul.crt".into();
    cfg.http.tls_config.key_file = "/nonexistent/consul.key".into();
    let Err(e) = ConsulDiscovery::new(&cfg, &c) else {
        panic!("a missing cert_file is refused");
    };
    assert!(
        e.to_string()
            .contains("read cert_file /nonexistent/consul.crt"),
        "{e}"
    );
}
