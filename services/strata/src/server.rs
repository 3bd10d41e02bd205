//! The process' HTTP surface shared by all components: request metrics, and the operations
//! endpoints `/metrics`, `/ready`, `/config`, `/services`.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use parking_lot::Mutex;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::modules::Services;

/// Labels of the request duration histogram.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    method: String,
    route: String,
    status_code: String,
}

/// HTTP request metrics, for every route of every component.
#[derive(Clone)]
pub struct HttpMetrics {
    duration: Family<RequestLabels, Histogram>,
}

impl HttpMetrics {
    /// Registers `strata_request_duration_seconds{method,route,status_code}`.
    pub fn new(registry: &mut Registry) -> Self {
        let duration = Family::<RequestLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0005, 2.5, 12))
        });
        registry.register_with_unit(
            "strata_request_duration",
            "Time spent serving HTTP requests, by route and status code.",
            prometheus_client::registry::Unit::Seconds,
            duration.clone(),
        );
        Self { duration }
    }
}

/// Middleware recording each request's duration under its route pattern (never the raw path,
/// which would make label cardinality unbounded).
pub async fn track(State(m): State<HttpMetrics>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "other".to_string(), |p| p.as_str().to_string());
    let method = req.method().as_str().to_string();
    let start = Instant::now();
    let resp = next.run(req).await;
    m.duration
        .get_or_create(&RequestLabels {
            method,
            route,
            status_code: resp.status().as_u16().to_string(),
        })
        .observe(start.elapsed().as_secs_f64());
    resp
}

/// What the operations endpoints read.
#[derive(Clone)]
pub struct OpsState {
    /// Every component's metrics.
    pub registry: Arc<Mutex<Registry>>,
    /// Component states.
    pub services: Services,
    /// The effective configuration as YAML.
    pub config_yaml: Arc<String>,
    /// Extra readiness checks (the ingester's).
    pub ready_checks: Arc<Vec<Box<dyn Fn() -> bool + Send + Sync>>>,
}

/// `/metrics`, `/ready`, `/config`, `/services`.
pub fn ops_router(state: OpsState) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/ready", get(ready))
        .route("/config", get(config))
        .route("/services", get(services))
        .with_state(state)
}

async fn metrics(State(s): State<OpsState>) -> Response {
    let mut body = String::new();
    if let Err(e) = prometheus_client::encoding::text::encode(&mut body, &s.registry.lock()) {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("encode metrics: {e}"),
        )
            .into_response();
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

async fn ready(State(s): State<OpsState>) -> Response {
    if s.services.all_running() && s.ready_checks.iter().all(|c| c()) {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        let states: Vec<String> = s
            .services
            .snapshot()
            .iter()
            .map(|(n, st)| format!("{n}: {st}"))
            .collect();
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready\n{}\n", states.join("\n")),
        )
            .into_response()
    }
}

async fn config(State(s): State<OpsState>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/yaml; charset=utf-8")],
        s.config_yaml.as_str().to_string(),
    )
        .into_response()
}

async fn services(State(s): State<OpsState>) -> Response {
    let mut out = String::new();
    for (name, st) in s.services.snapshot() {
        out.push_str(&format!("{name}: {st}\n"));
    }
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], out).into_response()
}
