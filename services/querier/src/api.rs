//! The Prometheus HTTP API under `/prometheus/api/v1/`: routes and handlers.
//!
//! Every handler resolves the tenant first (401/400 on failure), reads parameters from the
//! query string and a form body (GET or POST), waits for a concurrency slot (queueing, never
//! refusing), runs, and answers in Prometheus's JSON shape ([`crate::json`]). Remote read
//! (`read`) answers protobuf instead ([`crate::remote_read`]).

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use strata_model::{Labels, Matcher, TenantId};
use strata_storage::SelectHints;
use tokio::sync::SemaphorePermit;

use crate::error::ApiError;
use crate::metrics::{EndpointLabels, FailureLabels};
use crate::params::{Params, MAX_TIME_MS, MIN_TIME_MS};
use crate::{json, remote_read, Querier};

/// The most points a range query may return per series, as Prometheus.
pub const MAX_POINTS_PER_SERIES: i64 = 11_000;

/// The version reported by `status/buildinfo`: the Prometheus API level Strata implements, so
/// clients such as Grafana enable the features they probe by version.
pub const PROMETHEUS_API_VERSION: &str = "3.0.0";

/// Builds the router for every endpoint under `/prometheus/api/v1/`.
pub fn router(q: Arc<Querier>) -> Router {
    const P: &str = "/prometheus/api/v1";
    Router::new()
        .route(&format!("{P}/query"), get(query).post(query))
        .route(
            &format!("{P}/query_range"),
            get(query_range).post(query_range),
        )
        .route(&format!("{P}/series"), get(series).post(series))
        .route(&format!("{P}/labels"), get(labels).post(labels))
        .route(&format!("{P}/label/{{name}}/values"), get(label_values))
        .route(&format!("{P}/metadata"), get(metadata))
        .route(
            &format!("{P}/query_exemplars"),
            get(query_exemplars).post(query_exemplars),
        )
        .route(&format!("{P}/status/buildinfo"), get(buildinfo))
        .route(&format!("{P}/read"), axum::routing::post(read))
        .with_state(q)
}

/// What every handler receives: the request's tenant and parameters.
struct Req {
    tenant: TenantId,
    params: Params,
}

/// Resolves the tenant and reads the parameters. As Go's `ParseForm`, only a POST body with
/// a form content type adds parameters.
fn prepare(
    q: &Querier,
    method: &Method,
    headers: &HeaderMap,
    raw_query: Option<&str>,
    body: &[u8],
) -> Result<Req, ApiError> {
    let tenant = strata_auth::tenant_from_headers(headers, q.multitenancy_enabled)?;
    let is_form = method == Method::POST
        && headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| {
                ct.split(';').next().is_some_and(|m| {
                    m.trim()
                        .eq_ignore_ascii_case("application/x-www-form-urlencoded")
                })
            });
    let params = Params::parse(raw_query, is_form.then_some(body));
    Ok(Req { tenant, params })
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn json_response(body: String) -> Response {
    let mut resp = (StatusCode::OK, body).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

impl Querier {
    /// Counts and times a request, turning its error into the answer.
    async fn instrument<F>(&self, endpoint: &'static str, fut: F) -> Response
    where
        F: Future<Output = Result<Response, (&'static str, Response)>>,
    {
        self.metrics
            .queries
            .get_or_create(&EndpointLabels { endpoint })
            .inc();
        let start = Instant::now();
        let res = fut.await;
        self.metrics
            .duration
            .get_or_create(&EndpointLabels { endpoint })
            .observe(start.elapsed().as_secs_f64());
        match res {
            Ok(r) => r,
            Err((error_type, r)) => {
                self.metrics
                    .failures
                    .get_or_create(&FailureLabels {
                        endpoint,
                        error_type,
                    })
                    .inc();
                tracing::debug!(
                    endpoint,
                    error_type,
                    status = r.status().as_u16(),
                    "query api request failed"
                );
                r
            }
        }
    }

    /// Waits for a concurrency slot; requests queue rather than fail.
    async fn slot(&self) -> Result<SemaphorePermit<'_>, ApiError> {
        self.metrics.queued.inc();
        let permit = self.limiter.acquire().await;
        self.metrics.queued.dec();
        permit.map_err(|_| ApiError::internal("query concurrency limiter closed"))
    }

    /// The request's `timeout` parameter, capped by the configured timeout.
    fn timeout(&self, params: &Params) -> Result<Duration, ApiError> {
        match params.get("timeout") {
            "" => Ok(self.cfg.timeout),
            _ => {
                let ms = params.duration("timeout")?;
                let d = Duration::from_millis(u64::try_from(ms).unwrap_or(0));
                Ok(d.min(self.cfg.timeout))
            }
        }
    }

    /// Runs `fut` holding a slot, within `timeout`.
    async fn limited<T, F>(&self, timeout: Duration, fut: F) -> Result<T, ApiError>
    where
        F: Future<Output = Result<T, ApiError>>,
    {
        let _permit = self.slot().await?;
        self.metrics.inflight.inc();
        let res = tokio::time::timeout(timeout, fut).await;
        self.metrics.inflight.dec();
        res.unwrap_or_else(|_| {
            Err(ApiError::new(
                "timeout",
                "query timed out in query execution",
            ))
        })
    }
}

fn api_err(e: ApiError) -> (&'static str, Response) {
    (e.error_type, e.into_response())
}

async fn query(
    State(q): State<Arc<Querier>>,
    method: Method,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Response {
    let inner = async {
        let req = prepare(&q, &method, &headers, raw.as_deref(), &body)?;
        let t = req.params.time_or("time", now_ms())?;
        let timeout = q.timeout(&req.params)?;
        let querier = Arc::new(q.pool.querier(req.tenant));
        let text = req.params.get("query");
        let res = q
            .limited(timeout, async {
                Ok(q.engine.instant_query(querier, text, t).await?)
            })
            .await?;
        Ok(json_response(json::query_body(&res)))
    };
    q.instrument("query", async { inner.await.map_err(api_err) })
        .await
}

/// Checks a range query's times and step as Prometheus does, in its order.
pub fn check_range(params: &Params) -> Result<(i64, i64, i64), ApiError> {
    let start = params.time("start")?;
    let end = params.time("end")?;
    if end < start {
        return Err(ApiError::bad_data(
            "end timestamp must not be before start time",
        ));
    }
    let step = params.duration("step")?;
    if step <= 0 {
        return Err(ApiError::bad_data(
            "zero or negative query resolution step widths are not accepted. Try a positive integer",
        ));
    }
    // end - start cannot overflow: both lie within Prometheus's MinTime..MaxTime.
    if (end - start) / step > MAX_POINTS_PER_SERIES {
        return Err(ApiError::bad_data(
            "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)",
        ));
    }
    Ok((start, end, step))
}

async fn query_range(
    State(q): State<Arc<Querier>>,
    method: Method,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Response {
    let inner = async {
        let req = prepare(&q, &method, &headers, raw.as_deref(), &body)?;
        let (start, end, step) = check_range(&req.params)?;
        let timeout = q.timeout(&req.params)?;
        let querier = Arc::new(q.pool.querier(req.tenant));
        let text = req.params.get("query");
        let res = q
            .limited(timeout, async {
                Ok(q.engine
                    .range_query(querier, text, start, end, step)
                    .await?)
            })
            .await?;
        Ok(json_response(json::query_body(&res)))
    };
    q.instrument("query_range", async { inner.await.map_err(api_err) })
        .await
}

/// The `start`/`end` of a metadata request, defaulting to all time.
fn metadata_range(params: &Params) -> Result<SelectHints, ApiError> {
    let start = params.time_or("start", MIN_TIME_MS)?;
    let end = params.time_or("end", MAX_TIME_MS)?;
    Ok(SelectHints {
        start,
        end,
        ..Default::default()
    })
}

/// Truncates to `limit` (when > 0), adding Prometheus's warning when something was cut.
fn apply_limit<T>(items: &mut Vec<T>, limit: usize, warnings: &mut Vec<String>) {
    if limit > 0 && items.len() > limit {
        items.truncate(limit);
        warnings.push("results truncated due to limit".to_string());
    }
}

async fn series(
    State(q): State<Arc<Querier>>,
    method: Method,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Response {
    let inner = async {
        let req = prepare(&q, &method, &headers, raw.as_deref(), &body)?;
        if req.params.get_all("match[]").next().is_none() {
            return Err(ApiError::bad_data("no match[] parameter provided"));
        }
        let hints = metadata_range(&req.params)?;
        let sets = req.params.match_sets()?;
        let limit = req.params.limit("limit")?;
        let timeout = q.timeout(&req.params)?;
        let mut found: Vec<Labels> = q
            .limited(timeout, async {
                // One more than the limit tells whether the answer was truncated.
                let ask = if limit > 0 { limit + 1 } else { 0 };
                Ok(q.pool
                    .series(&req.tenant, &sets, hints.start, hints.end, ask)
                    .await?)
            })
            .await?;
        let mut warnings = Vec::new();
        apply_limit(&mut found, limit, &mut warnings);
        let mut data = String::new();
        json::write_label_sets(&mut data, &found);
        Ok(json_response(json::success_body(&data, &warnings, &[])))
    };
    q.instrument("series", async { inner.await.map_err(api_err) })
        .await
}

/// Runs a per-matcher-set label lookup for every set (or once without matchers) and unions
/// the sorted answers.
async fn union_over_sets<F, Fut>(sets: &[Vec<Matcher>], f: F) -> Result<Vec<String>, ApiError>
where
    F: Fn(Vec<Matcher>) -> Fut,
    Fut: Future<Output = Result<Vec<String>, ApiError>>,
{
    if sets.is_empty() {
        return f(Vec::new()).await;
    }
    let all = futures::future::try_join_all(sets.iter().map(|s| f(s.clone()))).await?;
    let mut out: Vec<String> = all.into_iter().flatten().collect();
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

async fn labels(
    State(q): State<Arc<Querier>>,
    method: Method,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Response {
    let inner = async {
        let req = prepare(&q, &method, &headers, raw.as_deref(), &body)?;
        let hints = metadata_range(&req.params)?;
        let sets = req.params.match_sets()?;
        let limit = req.params.limit("limit")?;
        let timeout = q.timeout(&req.params)?;
        let querier = q.pool.querier(req.tenant);
        let ask = if limit > 0 { limit + 1 } else { 0 };
        let mut names = q
            .limited(timeout, async {
                union_over_sets(&sets, |ms| {
                    let querier = &querier;
                    let hints = &hints;
                    async move { Ok(querier.label_names_limited(hints, &ms, ask).await?) }
                })
                .await
            })
            .await?;
        let mut warnings = Vec::new();
        apply_limit(&mut names, limit, &mut warnings);
        let mut data = String::new();
        json::write_string_list(&mut data, &names);
        Ok(json_response(json::success_body(&data, &warnings, &[])))
    };
    q.instrument("labels", async { inner.await.map_err(api_err) })
        .await
}

/// Undoes Prometheus's `U__` label-name escaping (`_` as `__`, other characters as
/// `_<hex code point>_`). Names that are not validly escaped come back unchanged.
pub fn unescape_label_name(name: &str) -> String {
    let Some(rest) = name.strip_prefix("U__") else {
        return name.to_string();
    };
    let mut out = String::with_capacity(rest.len());
    let mut chars = rest.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '_' {
            out.push(c);
            continue;
        }
        if chars.peek() == Some(&'_') {
            chars.next();
            out.push('_');
            continue;
        }
        let mut hex = String::new();
        loop {
            match chars.next() {
                Some('_') => break,
                Some(h) if h.is_ascii_hexdigit() => hex.push(h),
                _ => return name.to_string(),
            }
        }
        match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
            Some(ch) => out.push(ch),
            None => return name.to_string(),
        }
    }
    out
}

async fn label_values(
    State(q): State<Arc<Querier>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let inner = async {
        let req = prepare(&q, &Method::GET, &headers, raw.as_deref(), &[])?;
        let name = unescape_label_name(&name);
        if name.is_empty() {
            return Err(ApiError::bad_data(format!("invalid label name: {name:?}")));
        }
        let hints = metadata_range(&req.params)?;
        let sets = req.params.match_sets()?;
        let limit = req.params.limit("limit")?;
        let timeout = q.timeout(&req.params)?;
        let querier = q.pool.querier(req.tenant);
        let ask = if limit > 0 { limit + 1 } else { 0 };
        let mut values = q
            .limited(timeout, async {
                union_over_sets(&sets, |ms| {
                    let querier = &querier;
                    let hints = &hints;
                    let name = &name;
                    async move { Ok(querier.label_values_limited(name, hints, &ms, ask).await?) }
                })
                .await
            })
            .await?;
        let mut warnings = Vec::new();
        apply_limit(&mut values, limit, &mut warnings);
        let mut data = String::new();
        json::write_string_list(&mut data, &values);
        Ok(json_response(json::success_body(&data, &warnings, &[])))
    };
    q.instrument("label_values", async { inner.await.map_err(api_err) })
        .await
}

/// Prometheus's metadata limits: `limit` applies when ≥ 0, `limit_per_metric` when > 0.
fn metadata_limit(
    params: &Params,
    name: &str,
    applies_from: i64,
) -> Result<Option<usize>, ApiError> {
    match params.get(name) {
        "" => Ok(None),
        s => {
            let n: i64 = s
                .parse()
                .map_err(|_| ApiError::bad_data(format!("{name} must be a number")))?;
            Ok((n >= applies_from).then(|| usize::try_from(n).unwrap_or(usize::MAX)))
        }
    }
}

async fn metadata(
    State(q): State<Arc<Querier>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let inner = async {
        let req = prepare(&q, &Method::GET, &headers, raw.as_deref(), &[])?;
        let limit = metadata_limit(&req.params, "limit", 0)?;
        let limit_per_metric = metadata_limit(&req.params, "limit_per_metric", 1)?;
        let metric = req.params.get("metric");
        let timeout = q.timeout(&req.params)?;
        let groups = q
            .limited(timeout, async {
                Ok(q.pool
                    .metadata(&req.tenant, metric, limit, limit_per_metric)
                    .await?)
            })
            .await?;
        let mut data = String::new();
        json::write_metadata(&mut data, &groups);
        Ok(json_response(json::success_body(&data, &[], &[])))
    };
    q.instrument("metadata", async { inner.await.map_err(api_err) })
        .await
}

async fn query_exemplars(
    State(q): State<Arc<Querier>>,
    method: Method,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Response {
    let inner = async {
        let req = prepare(&q, &method, &headers, raw.as_deref(), &body)?;
        let start = req.params.time_or("start", MIN_TIME_MS)?;
        let end = req.params.time_or("end", MAX_TIME_MS)?;
        if end < start {
            return Err(ApiError::bad_data(
                "end timestamp must not be before start time",
            ));
        }
        let expr =
            promql_parser::parser::parse(req.params.get("query")).map_err(ApiError::bad_data)?;
        let sets = crate::exemplars::extract_selectors(&expr)?;
        let timeout = q.timeout(&req.params)?;
        let found = if sets.is_empty() {
            Vec::new()
        } else {
            q.limited(timeout, async {
                Ok(q.pool.exemplars(&req.tenant, &sets, start, end).await?)
            })
            .await?
        };
        let mut data = String::new();
        crate::exemplars::write(&mut data, &found);
        Ok(json_response(json::success_body(&data, &[], &[])))
    };
    q.instrument("query_exemplars", async { inner.await.map_err(api_err) })
        .await
}

async fn buildinfo(State(q): State<Arc<Querier>>) -> Response {
    q.instrument("buildinfo", async {
        let mut data = String::from("{\"version\":");
        json::write_string(&mut data, PROMETHEUS_API_VERSION);
        data.push_str(",\"revision\":\"\",\"branch\":\"\",\"buildUser\":\"\",\"buildDate\":\"\",\"goVersion\":\"\"");
        data.push_str(",\"application\":\"Strata\",\"strataVersion\":");
        json::write_string(&mut data, env!("CARGO_PKG_VERSION"));
        data.push('}');
        Ok(json_response(json::success_body(&data, &[], &[])))
    })
    .await
}

async fn read(State(q): State<Arc<Querier>>, headers: HeaderMap, body: Bytes) -> Response {
    let inner = async {
        let tenant = strata_auth::tenant_from_headers(&headers, q.multitenancy_enabled)
            .map_err(|e| api_err(ApiError::from(e)))?;
        let querier: Arc<dyn strata_storage::Querier> = Arc::new(q.pool.querier(tenant));
        let res = q
            .limited(q.cfg.timeout, async {
                Ok(remote_read::serve(querier, &body, q.cfg.max_samples).await)
            })
            .await
            .map_err(api_err)?;
        res.map_err(|e| {
            let t = match e.status_code() {
                StatusCode::BAD_REQUEST => "bad_data",
                StatusCode::SERVICE_UNAVAILABLE => "unavailable",
                _ => "internal",
            };
            (t, e.into_response())
        })
    };
    q.instrument("read", inner).await
}

#[cfg(test)]
mod tests;
