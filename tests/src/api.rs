//! Prometheus's HTTP query API as a client: the same calls work against Prometheus
//! (`http://host:port/api/v1`) and Strata (`http://host:port/prometheus/api/v1`), and answers
//! are parsed into comparable values.

use std::collections::BTreeMap;

use anyhow::Context;
use serde_json::Value;

use crate::{format_ts, TimestampMs};

/// A series' labels, `__name__` included, sorted by name.
pub type LabelSet = BTreeMap<String, String>;

/// How a request names its tenant.
#[derive(Clone, Debug)]
pub enum Auth {
    /// No tenant at all (Strata must answer 401).
    None,
    /// `X-Scope-OrgID: <tenant>`.
    OrgId(String),
    /// HTTP basic auth; the username is the tenant.
    Basic {
        /// The tenant.
        user: String,
        /// Ignored by Strata.
        password: String,
    },
}

impl Auth {
    /// `X-Scope-OrgID: tenant`.
    pub fn org(tenant: &str) -> Self {
        Auth::OrgId(tenant.to_string())
    }

    /// Adds this tenant's headers to a request.
    pub fn apply(&self, rb: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match self {
            Auth::None => rb,
            Auth::OrgId(t) => rb.header("X-Scope-OrgID", t),
            Auth::Basic { user, password } => rb.basic_auth(user, Some(password)),
        }
    }
}

/// An HTTP answer kept raw, for status and error checks.
#[derive(Clone, Debug)]
pub struct RawReply {
    /// The HTTP status code.
    pub status: u16,
    /// The `Content-Type` header, if any.
    pub content_type: Option<String>,
    /// All response headers.
    pub headers: reqwest::header::HeaderMap,
    /// The body as text (lossy UTF-8).
    pub body: String,
}

impl RawReply {
    /// Reads a whole response.
    pub async fn read(resp: reqwest::Response) -> anyhow::Result<Self> {
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let content_type = headers
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = resp.text().await.context("read response body")?;
        Ok(Self {
            status,
            content_type,
            headers,
            body,
        })
    }

    /// A response header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body parsed as JSON.
    pub fn json(&self) -> anyhow::Result<Value> {
        serde_json::from_str(&self.body)
            .with_context(|| format!("parse JSON body (status {}): {}", self.status, self.body))
    }

    /// `errorType` of a Prometheus API error body, if there is one.
    pub fn error_type(&self) -> Option<String> {
        let v: Value = serde_json::from_str(&self.body).ok()?;
        v.get("errorType")?.as_str().map(str::to_string)
    }

    /// The `data` of a successful API answer; fails with the body otherwise.
    pub fn data(&self) -> anyhow::Result<Value> {
        if self.status != 200 {
            anyhow::bail!("API answered {}: {}", self.status, self.body);
        }
        let mut v = self.json()?;
        if v.get("status").and_then(Value::as_str) != Some("success") {
            anyhow::bail!("API status is not success: {}", self.body);
        }
        v.get_mut("data")
            .map(Value::take)
            .with_context(|| format!("answer has no data: {}", self.body))
    }
}

/// One `(timestamp, value)` point.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Point {
    /// Milliseconds since the epoch.
    pub t: TimestampMs,
    /// The value (NaN and ±Inf included).
    pub v: f64,
}

/// One element of an instant vector.
#[derive(Clone, Debug, PartialEq)]
pub struct InstantSample {
    /// The series' labels.
    pub labels: LabelSet,
    /// Its value at the evaluation time.
    pub point: Point,
}

/// One series of a range vector (matrix).
#[derive(Clone, Debug, PartialEq)]
pub struct RangeSeries {
    /// The series' labels.
    pub labels: LabelSet,
    /// Its points in time order.
    pub points: Vec<Point>,
}

/// A parsed query answer, by `resultType`.
#[derive(Clone, Debug, PartialEq)]
pub enum QueryData {
    /// `vector`.
    Vector(Vec<InstantSample>),
    /// `matrix`.
    Matrix(Vec<RangeSeries>),
    /// `scalar`.
    Scalar(Point),
    /// `string`.
    String(TimestampMs, String),
}

impl QueryData {
    /// The `resultType` name.
    pub fn result_type(&self) -> &'static str {
        match self {
            QueryData::Vector(_) => "vector",
            QueryData::Matrix(_) => "matrix",
            QueryData::Scalar(_) => "scalar",
            QueryData::String(..) => "string",
        }
    }

    /// The number of series (1 for scalars and strings).
    pub fn series_count(&self) -> usize {
        match self {
            QueryData::Vector(v) => v.len(),
            QueryData::Matrix(m) => m.len(),
            QueryData::Scalar(_) | QueryData::String(..) => 1,
        }
    }

    /// The number of points over all series.
    pub fn point_count(&self) -> usize {
        match self {
            QueryData::Vector(v) => v.len(),
            QueryData::Matrix(m) => m.iter().map(|s| s.points.len()).sum(),
            QueryData::Scalar(_) | QueryData::String(..) => 1,
        }
    }

    /// True for an empty vector or matrix.
    pub fn is_empty(&self) -> bool {
        match self {
            QueryData::Vector(v) => v.is_empty(),
            QueryData::Matrix(m) => m.is_empty(),
            QueryData::Scalar(_) | QueryData::String(..) => false,
        }
    }

    /// Parses the `data` object of a query or query_range answer.
    pub fn from_json(data: &Value) -> anyhow::Result<Self> {
        let rt = data
            .get("resultType")
            .and_then(Value::as_str)
            .context("data has no resultType")?;
        let result = data.get("result").context("data has no result")?;
        Ok(match rt {
            "vector" => QueryData::Vector(
                as_array(result)?
                    .iter()
                    .map(|e| {
                        Ok(InstantSample {
                            labels: parse_labels(
                                e.get("metric").context("vector element has no metric")?,
                            )?,
                            point: parse_point(
                                e.get("value").context("vector element has no value")?,
                            )?,
                        })
                    })
                    .collect::<anyhow::Result<_>>()?,
            ),
            "matrix" => QueryData::Matrix(
                as_array(result)?
                    .iter()
                    .map(|e| {
                        let points =
                            as_array(e.get("values").context("matrix series has no values")?)?
                                .iter()
                                .map(parse_point)
                                .collect::<anyhow::Result<_>>()?;
                        Ok(RangeSeries {
                            labels: parse_labels(
                                e.get("metric").context("matrix series has no metric")?,
                            )?,
                            points,
                        })
                    })
                    .collect::<anyhow::Result<_>>()?,
            ),
            "scalar" => QueryData::Scalar(parse_point(result)?),
            "string" => {
                let arr = as_array(result)?;
                let t = parse_ts(arr.first().context("string result has no time")?)?;
                let s = arr
                    .get(1)
                    .and_then(Value::as_str)
                    .context("string result has no string")?;
                QueryData::String(t, s.to_string())
            }
            other => anyhow::bail!("unknown resultType {other}"),
        })
    }
}

fn as_array(v: &Value) -> anyhow::Result<&Vec<Value>> {
    v.as_array()
        .with_context(|| format!("expected an array, got {v}"))
}

/// Parses a `{"name": "value", ...}` object.
pub fn parse_labels(v: &Value) -> anyhow::Result<LabelSet> {
    v.as_object()
        .with_context(|| format!("expected a label object, got {v}"))?
        .iter()
        .map(|(k, v)| {
            let s = v
                .as_str()
                .with_context(|| format!("label {k} is not a string"))?;
            Ok((k.clone(), s.to_string()))
        })
        .collect()
}

/// Parses a timestamp in seconds (JSON number) into milliseconds.
fn parse_ts(v: &Value) -> anyhow::Result<TimestampMs> {
    let secs = v
        .as_f64()
        .with_context(|| format!("timestamp is not a number: {v}"))?;
    Ok((secs * 1000.0).round() as TimestampMs)
}

/// Parses a sample value as Prometheus writes it: a string holding a Go float.
pub fn parse_value(s: &str) -> anyhow::Result<f64> {
    Ok(match s {
        "NaN" => f64::NAN,
        "+Inf" | "Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        _ => s
            .parse::<f64>()
            .with_context(|| format!("bad sample value {s:?}"))?,
    })
}

fn parse_point(v: &Value) -> anyhow::Result<Point> {
    let arr = as_array(v)?;
    if arr.len() != 2 {
        anyhow::bail!("a point has two elements, got {v}");
    }
    let t = parse_ts(&arr[0])?;
    let s = arr[1]
        .as_str()
        .with_context(|| format!("sample value is not a string: {v}"))?;
    Ok(Point {
        t,
        v: parse_value(s)?,
    })
}

/// A client for one server's query API under one tenant.
#[derive(Clone, Debug)]
pub struct PromApi {
    http: reqwest::Client,
    base: String,
    auth: Auth,
}

impl PromApi {
    /// A client for the API rooted at `base` (e.g. `http://127.0.0.1:9090/api/v1`).
    pub fn new(base: impl Into<String>, auth: Auth) -> Self {
        crate::install_tls();
        Self {
            http: reqwest::Client::new(),
            base: base.into().trim_end_matches('/').to_string(),
            auth,
        }
    }

    /// The same server under another tenant.
    pub fn with_auth(&self, auth: Auth) -> Self {
        Self {
            http: self.http.clone(),
            base: self.base.clone(),
            auth,
        }
    }

    /// The API root.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// `GET <base>/<path>?params`, raw.
    pub async fn get_raw(&self, path: &str, params: &[(&str, String)]) -> anyhow::Result<RawReply> {
        let url = format!("{}/{}", self.base, path.trim_start_matches('/'));
        let rb = self.auth.apply(self.http.get(&url).query(params));
        let resp = rb.send().await.with_context(|| format!("GET {url}"))?;
        RawReply::read(resp)
            .await
            .with_context(|| format!("GET {url}"))
    }

    /// An instant query at `time`, raw.
    pub async fn query_raw(&self, q: &str, time: TimestampMs) -> anyhow::Result<RawReply> {
        self.get_raw(
            "query",
            &[("query", q.to_string()), ("time", format_ts(time))],
        )
        .await
    }

    /// An instant query at `time`, parsed.
    pub async fn query(&self, q: &str, time: TimestampMs) -> anyhow::Result<QueryData> {
        let data = self
            .query_raw(q, time)
            .await?
            .data()
            .with_context(|| format!("query {q} at {}", format_ts(time)))?;
        QueryData::from_json(&data)
    }

    /// A range query, raw. `step_ms` is sent as seconds.
    pub async fn query_range_raw(
        &self,
        q: &str,
        start: TimestampMs,
        end: TimestampMs,
        step_ms: i64,
    ) -> anyhow::Result<RawReply> {
        self.get_raw(
            "query_range",
            &[
                ("query", q.to_string()),
                ("start", format_ts(start)),
                ("end", format_ts(end)),
                ("step", format_ts(step_ms)),
            ],
        )
        .await
    }

    /// A range query, parsed.
    pub async fn query_range(
        &self,
        q: &str,
        start: TimestampMs,
        end: TimestampMs,
        step_ms: i64,
    ) -> anyhow::Result<QueryData> {
        let data = self
            .query_range_raw(q, start, end, step_ms)
            .await?
            .data()
            .with_context(|| {
                format!("query_range {q} [{}, {}]", format_ts(start), format_ts(end))
            })?;
        QueryData::from_json(&data)
    }

    /// `series?match[]=...` over `[start, end]`, sorted.
    pub async fn series(
        &self,
        matchers: &[&str],
        start: TimestampMs,
        end: TimestampMs,
    ) -> anyhow::Result<Vec<LabelSet>> {
        let mut params: Vec<(&str, String)> = matchers
            .iter()
            .map(|m| ("match[]", m.to_string()))
            .collect();
        params.push(("start", format_ts(start)));
        params.push(("end", format_ts(end)));
        let data = self
            .get_raw("series", &params)
            .await?
            .data()
            .context("series")?;
        let mut out = as_array(&data)?
            .iter()
            .map(parse_labels)
            .collect::<anyhow::Result<Vec<_>>>()?;
        out.sort();
        Ok(out)
    }

    /// `labels` over `[start, end]`, sorted.
    pub async fn labels(
        &self,
        start: TimestampMs,
        end: TimestampMs,
    ) -> anyhow::Result<Vec<String>> {
        let data = self
            .get_raw(
                "labels",
                &[("start", format_ts(start)), ("end", format_ts(end))],
            )
            .await?
            .data()
            .context("labels")?;
        string_list(&data)
    }

    /// `label/<name>/values` over `[start, end]`, sorted.
    pub async fn label_values(
        &self,
        name: &str,
        start: TimestampMs,
        end: TimestampMs,
    ) -> anyhow::Result<Vec<String>> {
        let data = self
            .get_raw(
                &format!("label/{name}/values"),
                &[("start", format_ts(start)), ("end", format_ts(end))],
            )
            .await?
            .data()
            .with_context(|| format!("label/{name}/values"))?;
        string_list(&data)
    }
}

fn string_list(v: &Value) -> anyhow::Result<Vec<String>> {
    let mut out = as_array(v)?
        .iter()
        .map(|s| {
            s.as_str()
                .map(str::to_string)
                .with_context(|| format!("not a string: {s}"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_vectors_matrices_and_special_values() {
        let v: Value = serde_json::from_str(
            r#"{"resultType":"vector","result":[{"metric":{"__name__":"up","job":"a"},"value":[1700000000.5,"NaN"]}]}"#,
        )
        .expect("json");
        let QueryData::Vector(vec) = QueryData::from_json(&v).expect("parse") else {
            panic!("not a vector");
        };
        assert_eq!(vec[0].point.t, 1_700_000_000_500);
        assert!(vec[0].point.v.is_nan());
        assert_eq!(vec[0].labels["job"], "a");

        let m: Value = serde_json::from_str(
            r#"{"resultType":"matrix","result":[{"metric":{},"values":[[1.001,"+Inf"],[2,"-0.25"],[3,"1e-300"]]}]}"#,
        )
        .expect("json");
        let QueryData::Matrix(m) = QueryData::from_json(&m).expect("parse") else {
            panic!("not a matrix");
        };
        let pts = &m[0].points;
        assert_eq!(pts[0].t, 1001);
        assert_eq!(pts[0].v, f64::INFINITY);
        assert_eq!(pts[1].v, -0.25);
        assert_eq!(pts[2].v, 1e-300);
    }

    #[test]
    fn rejects_malformed_answers() {
        let v: Value = serde_json::from_str(r#"{"resultType":"vector","result":[{"metric":{}}]}"#)
            .expect("json");
        assert!(QueryData::from_json(&v).is_err());
        let raw = RawReply {
            status: 400,
            content_type: None,
            headers: Default::default(),
            body: r#"{"status":"error","errorType":"bad_data","error":"x"}"#.into(),
        };
        assert_eq!(raw.error_type().as_deref(), Some("bad_data"));
        assert!(raw.data().is_err());
    }
}
