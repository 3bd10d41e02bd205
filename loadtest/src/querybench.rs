//! The query benchmark's client: runs a fixed set of dashboard queries against a Prometheus
//! HTTP API many times, one request in flight, and reports latency quantiles per query; dumps
//! each query's answer in a canonical text form so two servers' answers can be compared
//! ([`compare_dumps`]).
//!
//! The servers are loaded one at a time by `bench-query.sh`; latencies are wall time as the
//! client sees them (request sent → body read and parsed).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::error::{LoadgenError, Result};

/// Instant query at the end of the data, or range query over a window ending there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum QueryKind {
    /// `/query?time=end`.
    Instant,
    /// `/query_range` over `[end - range, end]` at `step`.
    Range {
        /// Window length in seconds.
        range_s: i64,
        /// Step in seconds.
        step_s: i64,
    },
}

/// One benchmark query.
#[derive(Clone, Debug, Serialize)]
pub struct BenchQuery {
    /// Short name used in reports and dump files.
    pub name: &'static str,
    /// The PromQL expression.
    pub expr: &'static str,
    /// How it is run.
    pub kind: QueryKind,
}

/// Ten representative dashboard queries over `strata-loadgen`'s node_exporter-like series:
/// rates over many series, `histogram_quantile`, `topk`, a `group_left` join, subqueries.
pub fn dashboard_queries() -> Vec<BenchQuery> {
    const SIX_H: QueryKind = QueryKind::Range {
        range_s: 6 * 3600,
        step_s: 60,
    };
    const ONE_H: QueryKind = QueryKind::Range {
        range_s: 3600,
        step_s: 15,
    };
    vec![
        BenchQuery {
            name: "cpu_rate_by_mode",
            expr: "sum by (mode) (rate(node_cpu_seconds_total[5m]))",
            kind: SIX_H,
        },
        BenchQuery {
            name: "cpu_busy_by_instance",
            expr: "1 - avg by (instance) (rate(node_cpu_seconds_total{mode=\"idle\"}[5m]))",
            kind: ONE_H,
        },
        BenchQuery {
            name: "histogram_quantile_p99",
            expr: "histogram_quantile(0.99, sum by (le, handler) (rate(http_request_duration_seconds_bucket[5m])))",
            kind: SIX_H,
        },
        BenchQuery {
            name: "topk_network",
            expr: "topk(10, rate(node_network_receive_bytes_total[5m]))",
            kind: ONE_H,
        },
        BenchQuery {
            name: "group_left_join",
            expr: "sum by (instance) (rate(node_cpu_seconds_total{mode!=\"idle\"}[5m])) * on (instance) group_left (region, env) up",
            kind: ONE_H,
        },
        BenchQuery {
            name: "subquery_max_cpu",
            expr: "max_over_time(sum by (instance) (rate(node_cpu_seconds_total[5m]))[30m:1m])",
            kind: QueryKind::Instant,
        },
        BenchQuery {
            name: "filesystem_ratio",
            expr: "node_filesystem_avail_bytes / node_filesystem_size_bytes",
            kind: SIX_H,
        },
        BenchQuery {
            name: "load_avg_by_region",
            expr: "avg by (region) (node_load1)",
            kind: SIX_H,
        },
        BenchQuery {
            name: "quantile_over_time_load",
            expr: "quantile_over_time(0.9, node_load5[1h])",
            kind: QueryKind::Instant,
        },
        BenchQuery {
            name: "increase_requests",
            expr: "sum by (handler) (increase(http_request_duration_seconds_count[1h]))",
            kind: SIX_H,
        },
    ]
}

/// Where and how to run the queries.
#[derive(Clone, Debug)]
pub struct RunConfig {
    /// API base, e.g. `http://127.0.0.1:9090/api/v1` or `http://…/prometheus/api/v1`.
    pub api: String,
    /// Sent as `X-Scope-OrgID` when set.
    pub tenant: Option<String>,
    /// Evaluation end (unix ms): instant queries run here, range windows end here.
    pub end_ms: i64,
    /// Timed runs per query.
    pub repeat: usize,
    /// Untimed runs first (caches, page cache).
    pub warmup: usize,
    /// Directory for canonical answers (`<name>.txt`), if any.
    pub dump_dir: Option<PathBuf>,
    /// Per-request timeout.
    pub timeout: Duration,
}

/// Latency and answer summary of one query.
#[derive(Clone, Debug, Serialize)]
pub struct QueryReport {
    /// The query.
    pub query: BenchQuery,
    /// Timed runs.
    pub runs: usize,
    /// Fastest run, ms.
    pub min_ms: f64,
    /// Median, ms.
    pub p50_ms: f64,
    /// 90th percentile, ms.
    pub p90_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: f64,
    /// Series in the answer.
    pub series: usize,
    /// Float points in the answer.
    pub points: usize,
    /// Size of the answer body in bytes.
    pub body_bytes: usize,
}

/// Runs every query `warmup + repeat` times and reports each.
pub async fn run_queries(cfg: &RunConfig, queries: &[BenchQuery]) -> Result<Vec<QueryReport>> {
    strata_httpclient::install_crypto_provider();
    let client = reqwest::Client::builder()
        .timeout(cfg.timeout)
        .build()
        .map_err(LoadgenError::Client)?;
    if let Some(d) = &cfg.dump_dir {
        std::fs::create_dir_all(d).map_err(|source| LoadgenError::Io {
            op: "create dump dir",
            path: d.clone(),
            source,
        })?;
    }
    let mut out = Vec::with_capacity(queries.len());
    for q in queries {
        let mut lat = Vec::with_capacity(cfg.repeat);
        let mut last = None;
        for i in 0..cfg.warmup + cfg.repeat {
            let started = Instant::now();
            let (body, answer) = run_once(&client, cfg, q).await?;
            let took = started.elapsed();
            if i >= cfg.warmup {
                lat.push(took.as_secs_f64() * 1000.0);
            }
            last = Some((body.len(), answer));
        }
        let Some((body_bytes, answer)) = last else {
            continue;
        };
        if let Some(d) = &cfg.dump_dir {
            let path = d.join(format!("{}.txt", q.name));
            std::fs::write(&path, answer.canonical()).map_err(|source| LoadgenError::Io {
                op: "write answer dump",
                path,
                source,
            })?;
        }
        lat.sort_by(f64::total_cmp);
        out.push(QueryReport {
            query: q.clone(),
            runs: lat.len(),
            min_ms: lat.first().copied().unwrap_or(f64::NAN),
            p50_ms: quantile(&lat, 0.5),
            p90_ms: quantile(&lat, 0.9),
            p99_ms: quantile(&lat, 0.99),
            series: answer.series.len(),
            points: answer.series.values().map(Vec::len).sum(),
            body_bytes,
        });
    }
    Ok(out)
}

/// Nearest-rank quantile of sorted values.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// A parsed answer: series (canonical label string) → points `(time, value text)`.
#[derive(Debug, Default, PartialEq)]
pub struct Answer {
    /// Sorted by labels.
    pub series: BTreeMap<String, Vec<(String, String)>>,
}

impl Answer {
    /// One line per point: `labels time value`.
    pub fn canonical(&self) -> String {
        let mut s = String::new();
        for (labels, points) in &self.series {
            for (t, v) in points {
                let _ = writeln!(s, "{labels} {t} {v}");
            }
        }
        s
    }
}

async fn run_once(
    client: &reqwest::Client,
    cfg: &RunConfig,
    q: &BenchQuery,
) -> Result<(Vec<u8>, Answer)> {
    let end = format_seconds(cfg.end_ms);
    let mut form: Vec<(&str, String)> = vec![("query", q.expr.to_string())];
    let path = match q.kind {
        QueryKind::Instant => {
            form.push(("time", end));
            "query"
        }
        QueryKind::Range { range_s, step_s } => {
            form.push(("start", format_seconds(cfg.end_ms - range_s * 1000)));
            form.push(("end", end));
            form.push(("step", step_s.to_string()));
            "query_range"
        }
    };
    let url = format!("{}/{path}", cfg.api.trim_end_matches('/'));
    let mut req = client.post(&url).form(&form);
    if let Some(t) = &cfg.tenant {
        req = req.header("X-Scope-OrgID", t);
    }
    let resp = req
        .send()
        .await
        .map_err(|e| query_failed(q, e.to_string()))?;
    let status = resp.status();
    let body = resp
        .bytes()
        .await
        .map_err(|e| query_failed(q, e.to_string()))?
        .to_vec();
    if !status.is_success() {
        return Err(query_failed(
            q,
            format!("{status}: {}", String::from_utf8_lossy(&body)),
        ));
    }
    let answer = parse_answer(&body).map_err(|reason| query_failed(q, reason))?;
    Ok((body, answer))
}

fn query_failed(q: &BenchQuery, reason: String) -> LoadgenError {
    LoadgenError::Query {
        name: q.name,
        reason,
    }
}

/// Parses a Prometheus API answer (vector or matrix) into an [`Answer`].
pub fn parse_answer(body: &[u8]) -> std::result::Result<Answer, String> {
    let v: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| format!("answer is not JSON: {e}"))?;
    let data = &v["data"];
    let result = data["result"]
        .as_array()
        .ok_or_else(|| "answer has no data.result array".to_string())?;
    let mut out = Answer::default();
    for s in result {
        let labels = s["metric"]
            .as_object()
            .map(|m| {
                let mut pairs: Vec<(&String, String)> = m
                    .iter()
                    .map(|(k, v)| (k, v.as_str().unwrap_or_default().to_string()))
                    .collect();
                pairs.sort();
                let inner: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
                format!("{{{}}}", inner.join(","))
            })
            .unwrap_or_else(|| "{}".to_string());
        let mut points = Vec::new();
        let mut push = |p: &serde_json::Value| {
            let t = p[0].to_string();
            let val = p[1].as_str().unwrap_or_default().to_string();
            points.push((t, val));
        };
        if let Some(vals) = s["values"].as_array() {
            vals.iter().for_each(&mut push);
        } else if s["value"].is_array() {
            push(&s["value"]);
        }
        out.series.insert(labels, points);
    }
    Ok(out)
}

/// Unix milliseconds as the API's seconds with three decimals.
fn format_seconds(ms: i64) -> String {
    format!("{}.{:03}", ms.div_euclid(1000), ms.rem_euclid(1000))
}

/// How two dumps of one query compare.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Comparison {
    /// Query name (dump file stem).
    pub name: String,
    /// Points with the same series, time and value text.
    pub exact: usize,
    /// Points whose values differ by at most 1e-12 relative.
    pub close: usize,
    /// Points that differ more, or exist on one side only.
    pub different: usize,
}

/// Compares the `<name>.txt` dumps of two runs, per query in `a`.
pub fn compare_dumps(a: &Path, b: &Path) -> Result<Vec<Comparison>> {
    let read = |p: PathBuf| {
        std::fs::read_to_string(&p).map_err(|source| LoadgenError::Io {
            op: "read answer dump",
            path: p,
            source,
        })
    };
    let mut names: Vec<String> = std::fs::read_dir(a)
        .map_err(|source| LoadgenError::Io {
            op: "list dump dir",
            path: a.to_path_buf(),
            source,
        })?
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .filter_map(|n| n.strip_suffix(".txt").map(str::to_string))
        .collect();
    names.sort();
    let mut out = Vec::new();
    for name in names {
        let left = read(a.join(format!("{name}.txt")))?;
        let right = read(b.join(format!("{name}.txt"))).unwrap_or_default();
        out.push(compare_text(&name, &left, &right));
    }
    Ok(out)
}

fn compare_text(name: &str, left: &str, right: &str) -> Comparison {
    let split = |l: &str| -> Option<(String, String)> {
        let (key, v) = l.rsplit_once(' ')?;
        Some((key.to_string(), v.to_string()))
    };
    let l: BTreeMap<String, String> = left.lines().filter_map(split).collect();
    let mut r: BTreeMap<String, String> = right.lines().filter_map(split).collect();
    let mut c = Comparison {
        name: name.to_string(),
        ..Comparison::default()
    };
    for (k, v) in l {
        match r.remove(&k) {
            Some(w) if w == v => c.exact += 1,
            Some(w) => match (v.parse::<f64>(), w.parse::<f64>()) {
                (Ok(x), Ok(y)) if ((x - y) / x.abs().max(y.abs())).abs() <= 1e-12 => c.close += 1,
                _ => c.different += 1,
            },
            None => c.different += 1,
        }
    }
    c.different += r.len();
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_matrix_and_vector_answers_canonically() {
        let m = br#"{"status":"success","data":{"resultType":"matrix","result":[
            {"metric":{"b":"2","a":"1"},"values":[[1.5,"3"],[2,"4"]]},
            {"metric":{},"values":[[1.5,"NaN"]]}]}}"#;
        let a = parse_answer(m).expect("parse");
        assert_eq!(
            a.canonical(),
            "{a=\"1\",b=\"2\"} 1.5 3\n{a=\"1\",b=\"2\"} 2 4\n{} 1.5 NaN\n"
        );
        let v = br#"{"status":"success","data":{"resultType":"vector","result":[
            {"metric":{"x":"y"},"value":[10,"0.25"]}]}}"#;
        assert_eq!(
            parse_answer(v).expect("parse").canonical(),
            "{x=\"y\"} 10 0.25\n"
        );
        assert!(parse_answer(b"{\"status\":\"error\"}").is_err());
    }

    #[test]
    fn compares_exact_close_and_different_points() {
        let left = "{} 1 1\n{} 2 0.30000000000000004\n{} 3 5\n{a=\"1\"} 1 7\n";
        let right = "{} 1 1\n{} 2 0.3\n{} 3 6\n{b=\"1\"} 1 7\n";
        let c = compare_text("q", left, right);
        assert_eq!((c.exact, c.close, c.different), (1, 1, 3));
    }

    #[test]
    fn quantiles_are_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(quantile(&v, 0.5), 50.0);
        assert_eq!(quantile(&v, 0.99), 99.0);
        assert_eq!(quantile(&v[..1], 0.99), 1.0);
        assert!(quantile(&[], 0.5).is_nan());
    }

    #[test]
    fn there_are_ten_queries_with_unique_names() {
        let qs = dashboard_queries();
        assert_eq!(qs.len(), 10);
        let names: std::collections::BTreeSet<_> = qs.iter().map(|q| q.name).collect();
        assert_eq!(names.len(), 10);
    }
}
