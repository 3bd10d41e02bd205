//! A fake Kubernetes API server: serves LIST answers from fixtures and scripted WATCH
//! streams (events, or an HTTP status such as 410), and records every request.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use parking_lot::Mutex;
use serde_json::Value;
use tokio::sync::Notify;

/// A scripted answer to one WATCH request.
pub enum WatchReply {
    /// A 200 stream with these events, then the end of the stream.
    Events(Vec<Value>),
    /// An HTTP status with no body.
    Status(u16),
}

/// One recorded request.
#[derive(Clone, Debug)]
pub struct Req {
    pub path: String,
    pub query: HashMap<String, String>,
    pub authorization: Option<String>,
}

impl Req {
    pub fn is_watch(&self) -> bool {
        self.query.get("watch").map(String::as_str) == Some("true")
    }
}

#[derive(Default)]
struct Inner {
    lists: HashMap<String, Value>,
    watches: HashMap<String, VecDeque<WatchReply>>,
    log: Vec<Req>,
}

#[derive(Clone, Default)]
struct Shared {
    inner: Arc<Mutex<Inner>>,
    notify: Arc<Notify>,
}

pub struct FakeApi {
    pub url: String,
    shared: Shared,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeApi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Reads a fixture of tests/fixtures/kubernetes.
pub fn fixture(name: &str) -> Value {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/kubernetes")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap()
}

async fn handle(
    State(s): State<Shared>,
    uri: Uri,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let req = Req {
        path: uri.path().to_string(),
        query,
        authorization: headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(String::from),
    };
    let watch = req.is_watch();
    let path = req.path.clone();
    s.inner.lock().log.push(req);
    if !watch {
        return match s.inner.lock().lists.get(&path) {
            Some(v) => ([("content-type", "application/json")], v.to_string()).into_response(),
            None => StatusCode::NOT_FOUND.into_response(),
        };
    }
    let deadline = tokio::time::Instant::now() + Duration::from_millis(500);
    loop {
        let notified = s.notify.notified();
        if let Some(r) = s
            .inner
            .lock()
            .watches
            .get_mut(&path)
            .and_then(|q| q.pop_front())
        {
            return match r {
                WatchReply::Status(code) => StatusCode::from_u16(code).unwrap().into_response(),
                WatchReply::Events(evs) => {
                    let body: String = evs.iter().map(|e| format!("{e}\n")).collect();
                    ([("content-type", "application/json")], body).into_response()
                }
            };
        }
        if tokio::time::timeout_at(deadline, notified).await.is_err() {
            // No news: end the stream, as an API server does at timeoutSeconds.
            return ([("content-type", "application/json")], String::new()).into_response();
        }
    }
}

impl FakeApi {
    pub async fn start() -> Self {
        let shared = Shared::default();
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self { url, shared, task }
    }

    pub fn set_list(&self, path: &str, v: Value) {
        self.shared.inner.lock().lists.insert(path.to_string(), v);
    }

    pub fn push_watch(&self, path: &str, r: WatchReply) {
        self.shared
            .inner
            .lock()
            .watches
            .entry(path.to_string())
            .or_default()
            .push_back(r);
        self.shared.notify.notify_waiters();
    }

    pub fn requests(&self) -> Vec<Req> {
        self.shared.inner.lock().log.clone()
    }

    /// Waits until a request matching `pred` was made.
    pub async fn wait_request(&self, what: &str, pred: impl Fn(&Req) -> bool) -> Req {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(r) = self.requests().into_iter().find(|r| pred(r)) {
                return r;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no request {what}: {:#?}",
                self.requests()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}
