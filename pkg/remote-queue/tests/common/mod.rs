//! Test harness: a fake remote-write receiver (axum on 127.0.0.1) that decodes RW 1.0 and
//! 2.0 requests, records what it accepted, and can be told to fail or hang.

#![allow(dead_code)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use parking_lot::Mutex;
use prost::Message;
use strata_proto::{prometheus as v1, write_v2 as v2};
use strata_remote_queue::{EndpointConfig, QueueMetrics, QueueOptions, QueueParams};

/// How the receiver answers.
#[derive(Clone, Debug)]
pub enum Mode {
    Ok,
    /// Answer this status (with `Retry-After` when set).
    Status(u16, Option<u64>),
    /// Answer `status` to the next `n` requests, then OK.
    FailN(u64, u16),
    /// Never answer.
    Hang,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Got {
    pub series: String,
    pub t: i64,
    pub v: f64,
}

#[derive(Default)]
pub struct RecvState {
    pub mode: Mutex<Option<Mode>>,
    pub samples: Mutex<Vec<Got>>,
    pub headers: Mutex<Vec<HeaderMap>>,
    pub v1: Mutex<Vec<v1::WriteRequest>>,
    pub v2: Mutex<Vec<v2::Request>>,
    pub requests: AtomicU64,
    pub delay_ms: AtomicU64,
}

pub struct Receiver {
    pub url: String,
    pub state: Arc<RecvState>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn series_key(pairs: impl Iterator<Item = (String, String)>) -> String {
    let mut v: Vec<String> = pairs.map(|(n, v)| format!("{n}={v}")).collect();
    v.sort();
    v.join(",")
}

async fn handle(State(st): State<Arc<RecvState>>, headers: HeaderMap, body: Bytes) -> Response {
    st.requests.fetch_add(1, Ordering::SeqCst);
    let delay = st.delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    let mode = st.mode.lock().clone().unwrap_or(Mode::Ok);
    match mode {
        Mode::Ok => {}
        Mode::Status(code, retry_after) => {
            let code = StatusCode::from_u16(code).expect("status");
            let mut r = (code, "refused by test").into_response();
            if let Some(s) = retry_after {
                r.headers_mut()
                    .insert("retry-after", s.to_string().parse().expect("header"));
            }
            return r;
        }
        Mode::FailN(n, code) => {
            let mut m = st.mode.lock();
            *m = Some(if n <= 1 {
                Mode::Ok
            } else {
                Mode::FailN(n - 1, code)
            });
            return (StatusCode::from_u16(code).expect("status"), "failing").into_response();
        }
        Mode::Hang => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
    }
    let raw = snap::raw::Decoder::new()
        .decompress_vec(&body)
        .expect("snappy body");
    let version = headers
        .get("x-prometheus-remote-write-version")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let mut got = Vec::new();
    if version == "2.0.0" {
        let req = v2::Request::decode(raw.as_slice()).expect("v2 request");
        for ts in &req.timeseries {
            let key = series_key(ts.labels_refs.chunks(2).map(|p| {
                (
                    req.symbols[p[0] as usize].clone(),
                    req.symbols[p[1] as usize].clone(),
                )
            }));
            for s in &ts.samples {
                got.push(Got {
                    series: key.clone(),
                    t: s.timestamp,
                    v: s.value,
                });
            }
        }
        st.v2.lock().push(req);
    } else {
        let req = v1::WriteRequest::decode(raw.as_slice()).expect("v1 request");
        for ts in &req.timeseries {
            let key = series_key(ts.labels.iter().map(|l| (l.name.clone(), l.value.clone())));
            for s in &ts.samples {
                got.push(Got {
                    series: key.clone(),
                    t: s.timestamp,
                    v: s.value,
                });
            }
        }
        st.v1.lock().push(req);
    }
    st.samples.lock().extend(got);
    st.headers.lock().push(headers);
    StatusCode::NO_CONTENT.into_response()
}

impl Receiver {
    pub async fn start() -> Self {
        let state = Arc::new(RecvState::default());
        let app = axum::Router::new()
            .route("/push", axum::routing::post(handle))
            .with_state(Arc::clone(&state));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            url: format!("http://{addr}/push"),
            state,
            task,
        }
    }

    pub fn set_mode(&self, m: Mode) {
        *self.state.mode.lock() = Some(m);
    }

    pub fn samples(&self) -> Vec<Got> {
        self.state.samples.lock().clone()
    }
}

pub fn opts(metrics: Option<Arc<QueueMetrics>>) -> QueueOptions {
    QueueOptions {
        segment_size: 64 * 1024,
        fsync: false,
        position_sync_interval: Duration::from_millis(10),
        truncate_interval: Duration::from_millis(50),
        tick_interval: Duration::from_millis(20),
        reshard_interval: Duration::from_secs(3600),
        flush_deadline: Duration::from_millis(300),
        metrics,
    }
}

pub fn endpoint(name: &str, url: &str) -> EndpointConfig {
    EndpointConfig {
        name: name.to_string(),
        url: url.to_string(),
        remote_timeout: Duration::from_secs(5),
        queue: QueueParams {
            min_shards: 2,
            max_shards: 2,
            max_samples_per_send: 100,
            min_backoff: Duration::from_millis(5),
            max_backoff: Duration::from_millis(40),
            ..QueueParams::default()
        },
        ..EndpointConfig::default()
    }
}

/// Waits until `f` holds, panicking with `what` after `secs` seconds.
pub async fn wait_for(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The value of a metric line starting with `prefix` in the registry's text.
pub fn metric(registry: &prometheus_client::registry::Registry, prefix: &str) -> f64 {
    let mut out = String::new();
    prometheus_client::encoding::text::encode(&mut out, registry).expect("encode");
    out.lines()
        .filter(|l| l.starts_with(prefix))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}
