//! HTTP SD against an axum server on a free port.

use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use parking_lot::Mutex;
use strata_discovery::http::HttpDiscovery;
use strata_httpclient::testing::{serve as serve_tls, Pki, ServeOptions};
use strata_promconfig::sd::HttpSdConfig;
use strata_promconfig::{BasicAuth, HttpClientConfig};

use crate::common::{addresses, ctx, Collector};

#[derive(Clone)]
struct Reply {
    status: u16,
    content_type: &'static str,
    body: String,
}

#[derive(Default)]
struct Seen {
    authorization: Option<String>,
    refresh_header: Option<String>,
    requests: usize,
}

async fn serve(
    reply: Arc<Mutex<Reply>>,
    seen: Arc<Mutex<Seen>>,
) -> (String, tokio::task::JoinHandle<()>) {
    let app = axum::Router::new().route(
        "/sd",
        axum::routing::get(move |headers: HeaderMap| {
            let reply = reply.clone();
            let seen = seen.clone();
            async move {
                {
                    let mut s = seen.lock();
                    s.requests += 1;
                    s.authorization = headers
                        .get("authorization")
                        .and_then(|v| v.to_str().ok())
                        .map(String::from);
                    s.refresh_header = headers
                        .get("x-prometheus-refresh-interval-seconds")
                        .and_then(|v| v.to_str().ok())
                        .map(String::from);
                }
                let r = reply.lock().clone();
                (
                    StatusCode::from_u16(r.status).unwrap(),
                    [("content-type", r.content_type)],
                    r.body,
                )
                    .into_response()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/sd", listener.local_addr().unwrap());
    let h = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (url, h)
}

#[tokio::test]
async fn polls_keeps_last_good_on_bad_status_or_content_type_and_sends_credentials() {
    let reply = Arc::new(Mutex::new(Reply {
        status: 200,
        content_type: "application/json",
        body: r#"[{"targets": ["a:1", "b:2"], "labels": {"dc": "x"}}, {"targets": ["c:3"]}]"#
            .into(),
    }));
    let seen = Arc::new(Mutex::new(Seen::default()));
    let (url, server) = serve(reply.clone(), seen.clone()).await;
    let http = HttpClientConfig {
        basic_auth: Some(BasicAuth {
            username: "sd-user".into(),
            password: "s3cret".into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    let cfg = HttpSdConfig {
        url: url.clone(),
        refresh_interval: Duration::from_millis(100),
        http,
    };
    let c = ctx();
    let metrics = c.metrics.clone();
    let (sink, mut col) = Collector::new();
    let task = tokio::spawn(HttpDiscovery::new(&cfg, &c).unwrap().run(sink));

    let (s0, s1) = (format!("{url}:0"), format!("{url}:1"));
    col.until("two groups", |g| g.len() == 2).await;
    assert_eq!(addresses(&col.groups[&s0]), vec!["a:1", "b:2"]);
    assert_eq!(col.groups[&s0].labels["dc"], "x");
    assert_eq!(col.groups[&s0].labels["__meta_url"], url);
    assert_eq!(col.groups[&s1].labels["__meta_url"], url);
    {
        let s = seen.lock();
        // base64("sd-user:s3cret")
        assert_eq!(
            s.authorization.as_deref(),
            Some("Basic c2QtdXNlcjpzM2NyZXQ=")
        );
        assert_eq!(s.refresh_header.as_deref(), Some("0.1"));
    }

    reply.lock().body = r#"[{"targets": ["z:9"]}]"#.into();
    col.until("shrunk list", |g| {
        g.len() == 1 && g.get(&s0).map(addresses) == Some(vec!["z:9".into()])
    })
    .await;

    for (status, ct) in [(500, "application/json"), (200, "text/plain")] {
        let failures = metrics.http_failures.get();
        *reply.lock() = Reply {
            status,
            content_type: ct,
            body: r#"[{"targets": ["bad:1"]}]"#.into(),
        };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while metrics.http_failures.get() < failures + 2 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "failure not counted for {status} {ct}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        col.settle(Duration::from_millis(50)).await;
        assert_eq!(
            addresses(&col.groups[&s0]),
            vec!["z:9"],
            "last good groups lost after {status} {ct}"
        );
    }
    *reply.lock() = Reply {
        status: 200,
        content_type: "application/json; charset=utf-8",
        body: "[]".into(),
    };
    col.until("empty list removes groups", |g| g.is_empty())
        .await;
    task.abort();
    server.abort();
}

#[test]
fn refuses_bad_urls_and_unreadable_tls_files() {
    let c = ctx();
    let https = HttpSdConfig {
        url: "https://sd.example/targets".into(),
        refresh_interval: Duration::from_secs(60),
        http: Default::default(),
    };
    assert!(HttpDiscovery::new(&https, &c).is_ok(), "https accepted");
    let bad = HttpSdConfig {
        url: "not a url".into(),
        ..https.clone()
    };
    assert!(HttpDiscovery::new(&bad, &c).is_err(), "bad url accepted");
    let mut missing_ca = https;
    missing_ca.http.tls_config.ca_file = "/nonexistent/sd-ca.pem".into();
    let Err(e) = HttpDiscovery::new(&missing_ca, &c) else {
        panic!("a missing ca_file is refused");
    };
    assert!(
        e.to_string()
            .contains("read ca_file /nonexistent/sd-ca.pem"),
        "{e}"
    );
}

/// HTTP SD over TLS: the server's certificate is checked against `tls_config.ca_file`, so
/// the same server gives targets with its CA and nothing (a failed refresh) with another.
#[tokio::test]
async fn https_with_ca_file() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::generate(dir.path()).unwrap();
    let port = serve_tls(
        &pki,
        ServeOptions {
            content_type: "application/json".into(),
            body: r#"[{"targets": ["tls:1"], "labels": {"over": "tls"}}]"#.into(),
            ..ServeOptions::default()
        },
    )
    .unwrap();
    let url = format!("https://localhost:{port}/sd");
    let sd = |ca: &std::path::Path| {
        let mut http = HttpClientConfig::default();
        http.tls_config.ca_file = ca.display().to_string();
        HttpSdConfig {
            url: url.clone(),
            refresh_interval: Duration::from_millis(100),
            http,
        }
    };
    let c = ctx();
    let (sink, mut col) = Collector::new();
    let task = tokio::spawn(HttpDiscovery::new(&sd(&pki.ca_cert), &c).unwrap().run(sink));
    col.until("the group over TLS", |g| g.len() == 1).await;
    let g = &col.groups[&format!("{url}:0")];
    assert_eq!(addresses(g), vec!["tls:1"]);
    assert_eq!(g.labels["over"], "tls");
    task.abort();

    let c = ctx();
    let metrics = c.metrics.clone();
    let (sink, mut col) = Collector::new();
    let task = tokio::spawn(
        HttpDiscovery::new(&sd(&pki.other_ca_cert), &c)
            .unwrap()
            .run(sink),
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while metrics.http_failures.get() < 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "refreshes against an untrusted certificate not counted as failures"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    col.settle(Duration::from_millis(50)).await;
    assert!(
        col.groups.values().all(|g| g.targets.is_empty()),
        "{:?}",
        col.groups
    );
    task.abort();
}
