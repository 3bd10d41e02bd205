//! The agent's HTTP pages: `/api/v1/targets` (Prometheus's JSON), `/targets` and
//! `/service-discovery` (server-rendered HTML, no scripts), `POST /-/reload`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use futures::future::BoxFuture;
use serde_json::{json, Map, Value};
use strata_model::Labels;

use crate::manager::ScrapeManager;
use crate::pool::{PoolView, TargetView};
use crate::scraper::format_seconds;
use crate::target::{SCRAPE_INTERVAL_LABEL, SCRAPE_TIMEOUT_LABEL};

/// Re-reads the configuration and applies it; the error is the reason it was refused.
pub type ReloadFn = Arc<dyn Fn() -> BoxFuture<'static, Result<(), String>> + Send + Sync>;

/// What the pages read.
#[derive(Clone)]
pub struct PagesState {
    /// The scrape manager.
    pub manager: Arc<ScrapeManager>,
    /// The reload action of `POST /-/reload`.
    pub reload: ReloadFn,
    /// `host:port` this process is reached at (Prometheus's external URL host), for
    /// `globalUrl` of targets on localhost.
    pub external_host: String,
}

/// The pages' routes.
pub fn router(state: PagesState) -> Router {
    Router::new()
        .route("/api/v1/targets", get(api_targets))
        .route("/targets", get(targets_html))
        .route("/service-discovery", get(sd_html))
        .route("/-/reload", post(reload).put(reload))
        .with_state(state)
}

async fn reload(State(s): State<PagesState>) -> Response {
    match (s.reload)().await {
        Ok(()) => (StatusCode::OK, "").into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("failed to reload config: {e}\n"),
        )
            .into_response(),
    }
}

fn labels_json(l: &Labels) -> Value {
    let m: Map<String, Value> = l
        .iter()
        .map(|x| (x.name.clone(), Value::String(x.value.clone())))
        .collect();
    Value::Object(m)
}

/// Go's `time.Time` JSON (RFC 3339 with trimmed nanoseconds), in UTC.
pub fn rfc3339(t: Option<SystemTime>) -> String {
    let Some(d) = t.and_then(|t| t.duration_since(UNIX_EPOCH).ok()) else {
        return "0001-01-01T00:00:00Z".into();
    };
    let secs = d.as_secs();
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let mut out = format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    );
    let nanos = d.subsec_nanos();
    if nanos > 0 {
        let frac = format!("{nanos:09}");
        let _ = write!(out, ".{}", frac.trim_end_matches('0'));
    }
    out.push('Z');
    out
}

/// Prometheus's `getGlobalURL`: a target on localhost gets this host's name instead.
fn global_url(url: &str, external_host: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (hostport, path) = rest.find('/').map_or((rest, ""), |i| rest.split_at(i));
    let Some((host, port)) = hostport.rsplit_once(':') else {
        return url.to_string();
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if !["127.0.0.1", "localhost", "::1"].contains(&host) {
        return url.to_string();
    }
    let (ext_host, ext_port) = external_host
        .rsplit_once(':')
        .unwrap_or((external_host, ""));
    if port == ext_port {
        format!("http://{external_host}{path}")
    } else {
        format!("{scheme}://{ext_host}:{port}{path}")
    }
}

fn active_json(pool: &str, tv: &TargetView, external_host: &str) -> Value {
    let st = tv.status.lock().clone();
    let t = &tv.target;
    let url = t.url();
    let all = t.all_labels();
    json!({
        "discoveredLabels": labels_json(t.discovered_labels()),
        "labels": labels_json(&t.labels()),
        "scrapePool": pool,
        "scrapeUrl": url,
        "globalUrl": global_url(&url, external_host),
        "lastError": st.last_error,
        "lastScrape": rfc3339(st.last_scrape),
        "lastScrapeDuration": st.last_duration.as_secs_f64(),
        "health": st.health.as_str(),
        "scrapeInterval": all.get(SCRAPE_INTERVAL_LABEL).unwrap_or_default(),
        "scrapeTimeout": all.get(SCRAPE_TIMEOUT_LABEL).unwrap_or_default(),
    })
}

async fn api_targets(
    State(s): State<PagesState>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let state = q.get("state").map(String::as_str).unwrap_or("");
    let pool_filter = q.get("scrapePool").filter(|p| !p.is_empty());
    let show_active = matches!(state, "" | "any" | "active");
    let show_dropped = matches!(state, "" | "any" | "dropped");
    let views = s.manager.views();
    let mut active = Vec::new();
    let mut dropped = Vec::new();
    for (name, v) in views.iter() {
        if pool_filter.is_some_and(|p| p != name) {
            continue;
        }
        if show_active {
            active.extend(
                v.active
                    .iter()
                    .map(|t| active_json(name, t, &s.external_host)),
            );
        }
        if show_dropped {
            dropped.extend(
                v.dropped
                    .iter()
                    .map(|l| json!({ "discoveredLabels": labels_json(l) })),
            );
        }
    }
    let body = json!({
        "status": "success",
        "data": { "activeTargets": active, "droppedTargets": dropped },
    });
    (
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '&' => o.push_str("&amp;"),
            '"' => o.push_str("&#34;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

fn labels_html(l: &Labels) -> String {
    l.iter()
        .map(|x| {
            format!(
                "<span class=\"l\">{}=\"{}\"</span>",
                esc(&x.name),
                esc(&x.value)
            )
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn page(title: &str, body: &str) -> Response {
    let html = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{t} - Strata agent</title>\
         <style>body{{font-family:sans-serif;margin:1em}}table{{border-collapse:collapse;width:100%;margin-bottom:1.5em}}\
         td,th{{border:1px solid #ccc;padding:4px;text-align:left;vertical-align:top;font-size:90%}}\
         .up{{color:#070}}.down{{color:#b00}}.unknown{{color:#777}}.l{{display:inline-block;background:#eef;margin:1px;padding:0 3px}}</style>\
         </head><body><p><a href=\"targets\">Targets</a> · <a href=\"service-discovery\">Service discovery</a> · \
         <a href=\"metrics\">Metrics</a></p><h1>{t}</h1>\n{body}</body></html>\n",
        t = esc(title)
    );
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response()
}

fn ago(t: Option<SystemTime>) -> String {
    match t.and_then(|t| SystemTime::now().duration_since(t).ok()) {
        Some(d) => format!(
            "{}s ago",
            format_seconds(std::time::Duration::from_millis(
                u64::try_from(d.as_millis()).unwrap_or(u64::MAX),
            ))
        ),
        None => "never".into(),
    }
}

async fn targets_html(State(s): State<PagesState>) -> Response {
    let views = s.manager.views();
    let mut b = String::new();
    for (name, v) in views.iter() {
        let up = v
            .active
            .iter()
            .filter(|t| t.status.lock().health == crate::scrape_loop::Health::Up)
            .count();
        let _ = write!(
            b,
            "<h2 id=\"pool-{n}\">{n} ({up}/{total} up)</h2>\n<table><tr><th>Endpoint</th><th>State</th>\
             <th>Labels</th><th>Last scrape</th><th>Scrape duration</th><th>Error</th></tr>\n",
            n = esc(name),
            total = v.active.len()
        );
        for t in &v.active {
            let st = t.status.lock().clone();
            let url = t.target.url();
            let _ = writeln!(
                b,
                "<tr><td><a href=\"{u}\">{u}</a></td><td class=\"{h}\">{H}</td><td>{l}</td><td>{a}</td>\
                 <td>{d}s</td><td>{e}</td></tr>",
                u = esc(&url),
                h = st.health.as_str(),
                H = st.health.as_str().to_uppercase(),
                l = labels_html(&t.target.labels()),
                a = ago(st.last_scrape),
                d = format_seconds(st.last_duration),
                e = esc(&st.last_error),
            );
        }
        b.push_str("</table>\n");
    }
    if views.is_empty() {
        b.push_str("<p>No scrape jobs configured.</p>\n");
    }
    page("Targets", &b)
}

fn sd_rows(b: &mut String, v: &PoolView) {
    for t in &v.active {
        let _ = writeln!(
            b,
            "<tr><td>{}</td><td>{}</td></tr>",
            labels_html(t.target.discovered_labels()),
            labels_html(&t.target.labels())
        );
    }
    for d in &v.dropped {
        let _ = writeln!(b, "<tr><td>{}</td><td>Dropped</td></tr>", labels_html(d));
    }
}

async fn sd_html(State(s): State<PagesState>) -> Response {
    let views = s.manager.views();
    let mut b = String::new();
    for (name, v) in views.iter() {
        let _ = write!(
            b,
            "<h2 id=\"{n}\">{n} ({a} / {all} active targets)</h2>\n<table><tr><th>Discovered labels</th>\
             <th>Target labels</th></tr>\n",
            n = esc(name),
            a = v.active.len(),
            all = v.active.len() + v.dropped.len()
        );
        sd_rows(&mut b, v);
        b.push_str("</table>\n");
    }
    if views.is_empty() {
        b.push_str("<p>No scrape jobs configured.</p>\n");
    }
    page("Service Discovery", &b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn times_and_urls_as_prometheus() {
        assert_eq!(rfc3339(None), "0001-01-01T00:00:00Z");
        let t = UNIX_EPOCH + Duration::from_millis(1_700_000_000_120);
        assert_eq!(rfc3339(Some(t)), "2023-11-14T22:13:20.12Z");
        assert_eq!(
            global_url("http://localhost:9100/metrics", "agent-1:9090"),
            "http://agent-1:9100/metrics"
        );
        assert_eq!(
            global_url("http://127.0.0.1:9090/metrics", "agent-1:9090"),
            "http://agent-1:9090/metrics"
        );
        assert_eq!(global_url("http://h:1/m", "a:2"), "http://h:1/m");
        assert_eq!(esc("<a&\"b\">"), "&lt;a&amp;&#34;b&#34;&gt;");
    }
}
