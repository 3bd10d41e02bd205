//! The ring's status pages, server-rendered (no JavaScript):
//!
//! - `GET /ring` and `GET /ingester/ring`: every instance with its state, zone, token count,
//!   ownership, heartbeat age (on voters) and health; JSON with `Accept: application/json` or
//!   `?format=json` (the token lists included), HTML otherwise.
//! - `POST /ring` (and `/ingester/ring`) with form field `forget=<id>`: removes an instance
//!   that is UNHEALTHY (stored, or by heartbeat age); healthy ones are refused (400).
//!   Then the distributors registered in the ring (state, heartbeat age), JSON `distributors`;
//!   a non-ACTIVE one can be forgotten the same way.
//! - `GET /ring/raft`: leader, term, voters, last log index, applied (committed) index,
//!   snapshot index; JSON the same way.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::{Form, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Serialize;
use strata_ring::{distributor_heartbeat_id, Command, Health, InstanceId, InstanceState};

use crate::ring::RingHandle;

/// The routes, over `ring`.
pub fn router(ring: Arc<RingHandle>) -> Router {
    Router::new()
        .route("/ring", get(ring_page).post(forget))
        .route("/ingester/ring", get(ring_page).post(forget))
        .route("/ring/raft", get(raft_page))
        .with_state(ring)
}

fn wants_json(headers: &HeaderMap, q: &HashMap<String, String>) -> bool {
    q.get("format").is_some_and(|f| f == "json")
        || headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("application/json"))
}

/// One row of the ring page.
#[derive(Serialize)]
struct InstanceRow {
    id: String,
    addr: String,
    zone: String,
    state: String,
    read_only: bool,
    /// Whether lookups count it alive now (stored state and, on voters, heartbeat age).
    healthy: bool,
    num_tokens: usize,
    /// Share of the circle owned as first replica, in percent.
    ownership_percent: f64,
    registered_at_ms: i64,
    /// Seconds since the last heartbeat this process saw; only voters see heartbeats.
    heartbeat_age_seconds: Option<f64>,
    tokens: Vec<u32>,
}

/// One distributor (registered for the rate limit's share; no tokens).
#[derive(Serialize)]
struct DistributorRow {
    id: String,
    addr: String,
    state: String,
    registered_at_ms: i64,
    /// Seconds since the last heartbeat this process saw; only voters see heartbeats.
    heartbeat_age_seconds: Option<f64>,
}

#[derive(Serialize)]
struct RingJson {
    applied_index: u64,
    voter: bool,
    instances: Vec<InstanceRow>,
    distributors: Vec<DistributorRow>,
}

fn rows(ring: &RingHandle) -> RingJson {
    let applied = ring.applied();
    let own = applied.ring.ownership();
    let health = ring.health();
    let instances = applied
        .ring
        .instances()
        .iter()
        .map(|i| InstanceRow {
            id: i.id.to_string(),
            addr: i.addr.clone(),
            zone: i.zone.clone(),
            state: i.state.to_string(),
            read_only: i.read_only,
            healthy: health.is_healthy(i),
            num_tokens: i.tokens.len(),
            ownership_percent: own.get(&i.id).copied().unwrap_or(0.0) * 100.0,
            registered_at_ms: i.registered_at_ms,
            heartbeat_age_seconds: ring.heartbeat_age(&i.id).map(|d| d.as_secs_f64()),
            tokens: i.tokens.clone(),
        })
        .collect();
    let distributors = applied
        .ring
        .distributors()
        .values()
        .map(|d| DistributorRow {
            id: d.id.to_string(),
            addr: d.addr.clone(),
            state: d.state.to_string(),
            registered_at_ms: d.registered_at_ms,
            heartbeat_age_seconds: ring
                .heartbeat_age(&distributor_heartbeat_id(&d.id))
                .map(|a| a.as_secs_f64()),
        })
        .collect();
    RingJson {
        applied_index: applied.applied_index,
        voter: ring.node().is_some(),
        instances,
        distributors,
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn html(title: &str, body: &str) -> Response {
    let page = format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{t}</title>\
         <style>body{{font-family:sans-serif}}table{{border-collapse:collapse}}\
         td,th{{border:1px solid #ccc;padding:2px 8px;text-align:left}}</style></head>\
         <body><h1>{t}</h1>{body}</body></html>",
        t = esc(title)
    );
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], page).into_response()
}

async fn ring_page(
    State(ring): State<Arc<RingHandle>>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let data = rows(&ring);
    if wants_json(&headers, &q) {
        return axum::Json(data).into_response();
    }
    let mut b = format!(
        "<p>Committed at log index {}; {}.</p><table><tr><th>Instance</th><th>Address</th>\
         <th>Zone</th><th>State</th><th>Healthy</th><th>Tokens</th><th>Ownership</th>\
         <th>Heartbeat age</th><th>Registered</th><th></th></tr>",
        data.applied_index,
        if data.voter {
            "this process is a voter and sees heartbeats"
        } else {
            "this process follows the voters (heartbeats are seen on voters)"
        }
    );
    for r in &data.instances {
        let age = r
            .heartbeat_age_seconds
            .map_or_else(|| "-".to_string(), |a| format!("{a:.1}s"));
        let forget = if r.healthy {
            String::new()
        } else {
            format!(
                "<form method=\"post\"><input type=\"hidden\" name=\"forget\" value=\"{}\">\
                 <button type=\"submit\">Forget</button></form>",
                esc(&r.id)
            )
        };
        let _ = write!(
            b,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}{}</td><td>{}</td><td>{}</td>\
             <td>{:.1}%</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&r.id),
            esc(&r.addr),
            esc(&r.zone),
            esc(&r.state),
            if r.read_only { " (read-only)" } else { "" },
            if r.healthy { "yes" } else { "UNHEALTHY" },
            r.num_tokens,
            r.ownership_percent,
            age,
            r.registered_at_ms,
            forget
        );
    }
    b.push_str("</table><h2>Distributors</h2><p>Each tenant's ingestion rate is divided among the ACTIVE ones.</p><table><tr><th>Distributor</th><th>Address</th><th>State</th><th>Heartbeat age</th><th>Registered</th><th></th></tr>");
    for d in &data.distributors {
        let age = d
            .heartbeat_age_seconds
            .map_or_else(|| "-".to_string(), |a| format!("{a:.1}s"));
        let forget = if d.state == "ACTIVE" {
            String::new()
        } else {
            format!(
                "<form method=\"post\"><input type=\"hidden\" name=\"forget\" value=\"{}\">\
                 <button type=\"submit\">Forget</button></form>",
                esc(&d.id)
            )
        };
        let _ = write!(
            b,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&d.id),
            esc(&d.addr),
            esc(&d.state),
            age,
            d.registered_at_ms,
            forget
        );
    }
    b.push_str("</table><p><a href=\"/ring/raft\">Raft status</a></p>");
    html("Ingester ring", &b)
}

#[derive(serde::Deserialize)]
struct ForgetForm {
    forget: String,
}

async fn forget(State(ring): State<Arc<RingHandle>>, Form(f): Form<ForgetForm>) -> Response {
    let id = InstanceId::new(f.forget);
    let current = ring.ring();
    if let Some(d) = current.distributors().get(&id) {
        if d.state == InstanceState::Active {
            return (
                StatusCode::BAD_REQUEST,
                format!("distributor {id} is ACTIVE; only unhealthy ones can be forgotten\n"),
            )
                .into_response();
        }
        let cmd = Command::DistributorLeave {
            id: id.clone(),
            only_from: Some(d.state),
        };
        return match ring.propose(cmd).await {
            Ok(_) => (StatusCode::SEE_OTHER, [(header::LOCATION, "/ring")], "").into_response(),
            Err(e) => (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("forget {id}: {e}\n"),
            )
                .into_response(),
        };
    }
    let Some(inst) = current.instance(&id) else {
        return (
            StatusCode::NOT_FOUND,
            format!("no instance {id} in the ring\n"),
        )
            .into_response();
    };
    let unhealthy = inst.state == InstanceState::Unhealthy || !ring.health().is_healthy(inst);
    if !unhealthy {
        return (
            StatusCode::BAD_REQUEST,
            format!("instance {id} is healthy; only unhealthy instances can be forgotten\n"),
        )
            .into_response();
    }
    match ring.propose(Command::Forget { id: id.clone() }).await {
        Ok(_) => {
            tracing::info!(instance = %id, "instance forgotten from the ring");
            if let Some(n) = ring.node() {
                n.heartbeats().forget(&id);
            }
            (StatusCode::SEE_OTHER, [(header::LOCATION, "/ring")], "").into_response()
        }
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("forget {id}: {e}\n"),
        )
            .into_response(),
    }
}

#[derive(Serialize)]
struct RaftJson {
    voter: bool,
    node_id: Option<u64>,
    leader: Option<u64>,
    is_leader: bool,
    can_commit: bool,
    term: Option<u64>,
    voters: Vec<u64>,
    voter_addresses: Vec<String>,
    last_log_index: Option<u64>,
    committed_index: u64,
    snapshot_index: Option<u64>,
}

async fn raft_page(
    State(ring): State<Arc<RingHandle>>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let st = ring.status();
    let applied = ring.applied().applied_index;
    let data = RaftJson {
        voter: st.is_some(),
        node_id: st.as_ref().map(|s| s.node_id),
        leader: st.as_ref().and_then(|s| s.leader),
        is_leader: st.as_ref().is_some_and(|s| s.is_leader),
        can_commit: st.as_ref().is_some_and(|s| s.can_commit),
        term: st.as_ref().map(|s| s.term),
        voters: st
            .as_ref()
            .map(|s| s.voters.iter().copied().collect())
            .unwrap_or_default(),
        voter_addresses: ring.voters().to_vec(),
        last_log_index: st.as_ref().and_then(|s| s.last_log_index),
        committed_index: st.as_ref().and_then(|s| s.applied_index).unwrap_or(applied),
        snapshot_index: st.as_ref().and_then(|s| s.snapshot_index),
    };
    if wants_json(&headers, &q) {
        return axum::Json(data).into_response();
    }
    let opt = |v: Option<u64>| v.map_or_else(|| "-".to_string(), |v| v.to_string());
    let mut b = String::from("<table>");
    let rows: Vec<(&str, String)> = vec![
        (
            "This process",
            if data.voter {
                format!("voter {}", opt(data.node_id))
            } else {
                "follower (not a voter)".into()
            },
        ),
        ("Leader", opt(data.leader)),
        ("Is leader", data.is_leader.to_string()),
        ("Can commit", data.can_commit.to_string()),
        ("Term", opt(data.term)),
        ("Voters", format!("{:?}", data.voters)),
        (
            "Voter addresses (ids 1..)",
            esc(&data.voter_addresses.join(", ")),
        ),
        ("Last log index", opt(data.last_log_index)),
        (
            "Committed (applied) index",
            data.committed_index.to_string(),
        ),
        ("Snapshot index", opt(data.snapshot_index)),
    ];
    for (k, v) in rows {
        let _ = write!(b, "<tr><th>{k}</th><td>{v}</td></tr>");
    }
    b.push_str("</table><p><a href=\"/ring\">Ring</a></p>");
    html("Ring Raft status", &b)
}
