//! The two servers behind `loadtest/bench-agent.sh` (binary `strata-agentbench`), which
//! compares Strata's agent with Prometheus 2.42 in agent mode scraping the same targets:
//!
//! - `targets`: N scrape targets, each on its own loopback port, serving about 1,000 series of
//!   simulated node_exporter hosts whose values move on every scrape ([`targets`]); a control
//!   port answers `GET /stats?from=MS&to=MS` with the scrapes and samples served per scraper.
//! - `sink`: a remote-write receiver that counts and discards ([`sink`]): `POST
//!   /write/<sender>` answers 204; `GET /stats?from=MS&to=MS` gives per-sender totals and
//!   the samples whose timestamps fall in the window.
//!
//! Each scraper names itself with a `scraper` URL parameter (`params:` in its scrape config)
//! and writes to its own `/write/<sender>` path, so both servers count each one apart.

pub mod sink;
pub mod targets;

use std::collections::{BTreeMap, HashMap};
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::error::{LoadgenError, Result};
use crate::host::HostParams;
use crate::timefmt::now_ms;
use sink::{SenderReport, Sink};
use targets::{ScrapeLog, ServedCounts, Target};

/// Settings of `strata-agentbench targets`.
#[derive(Clone, Debug)]
pub struct TargetsConfig {
    /// How many targets (one loopback port each).
    pub targets: usize,
    /// Series per target.
    pub series: usize,
    /// Host simulation settings (seed, labels, interval).
    pub params: HostParams,
    /// Answer with gzip when the scraper accepts it (as node_exporter does).
    pub gzip: bool,
    /// Address of the control port (`/stats`).
    pub control: SocketAddr,
    /// File that gets the targets' `host:port`, one per line, once all listen.
    pub targets_file: PathBuf,
}

/// The window of a `/stats` request, epoch milliseconds, `from <= t < to`.
#[derive(Debug, Deserialize)]
struct Window {
    from: Option<i64>,
    to: Option<i64>,
}

impl Window {
    fn bounds(&self) -> (i64, i64) {
        (self.from.unwrap_or(0), self.to.unwrap_or(i64::MAX))
    }
}

struct TargetsShared {
    targets: Vec<Mutex<Target>>,
    params: HostParams,
    gzip: bool,
    log: ScrapeLog,
}

#[derive(Clone)]
struct TargetRoute {
    shared: Arc<TargetsShared>,
    index: usize,
}

/// The answer of the targets' `/stats`.
#[derive(Debug, Serialize)]
struct TargetsStats {
    targets: usize,
    series_per_target: usize,
    served: BTreeMap<String, ServedCounts>,
}

/// Binds every target and the control port, writes the targets file, and serves until
/// SIGTERM or Ctrl-C.
pub async fn run_targets(cfg: TargetsConfig) -> Result<()> {
    let mut list = Vec::with_capacity(cfg.targets);
    let mut next_host = 0;
    for _ in 0..cfg.targets {
        let (t, next) = Target::new(&cfg.params, next_host, cfg.series);
        next_host = next;
        list.push(Mutex::new(t));
    }
    let shared = Arc::new(TargetsShared {
        targets: list,
        params: cfg.params.clone(),
        gzip: cfg.gzip,
        log: ScrapeLog::default(),
    });
    let mut addrs = String::new();
    for index in 0..cfg.targets {
        let listener = bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let addr = listener
            .local_addr()
            .map_err(|source| LoadgenError::Serve {
                what: "target address".into(),
                source,
            })?;
        addrs.push_str(&format!("{addr}\n"));
        let app = Router::new().fallback(get(scrape)).with_state(TargetRoute {
            shared: shared.clone(),
            index,
        });
        tokio::spawn(async move { axum::serve(listener, app).await });
    }
    let control = bind(cfg.control).await?;
    let app = Router::new()
        .route("/stats", get(target_stats))
        .with_state(shared.clone());
    tokio::spawn(async move { axum::serve(control, app).await });
    write_atomically(&cfg.targets_file, addrs.as_bytes())?;
    eprintln!(
        "serving {} targets of {} series ({} hosts), control on {}",
        cfg.targets, cfg.series, next_host, cfg.control
    );
    wait_for_signal().await
}

async fn scrape(
    State(r): State<TargetRoute>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let scraper = q.get("scraper").map_or("unknown", String::as_str);
    let at = now_ms();
    let mut text = String::with_capacity(192 << 10);
    let samples = {
        let mut t = r.shared.targets[r.index].lock();
        t.scrape(&r.shared.params, at, &mut text);
        t.series()
    };
    let gzip = r.shared.gzip
        && headers
            .get(header::ACCEPT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("gzip"));
    let body = if gzip {
        let mut enc = flate2::write::GzEncoder::new(
            Vec::with_capacity(text.len() / 8),
            flate2::Compression::default(),
        );
        match enc.write_all(text.as_bytes()).and_then(|()| enc.finish()) {
            Ok(b) => b,
            Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
        }
    } else {
        text.into_bytes()
    };
    r.shared.log.record(scraper, at, samples, body.len());
    let mut resp = Response::builder().header(
        header::CONTENT_TYPE,
        "text/plain; version=0.0.4; charset=utf-8",
    );
    if gzip {
        resp = resp.header(header::CONTENT_ENCODING, "gzip");
    }
    resp.body(Body::from(body))
        .unwrap_or_else(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response())
}

async fn target_stats(
    State(s): State<Arc<TargetsShared>>,
    Query(w): Query<Window>,
) -> Json<TargetsStats> {
    let (from, to) = w.bounds();
    Json(TargetsStats {
        targets: s.targets.len(),
        series_per_target: s.targets.first().map_or(0, |t| t.lock().series()),
        served: s.log.counts(from, to),
    })
}

/// Serves the sink on `listen` until SIGTERM or Ctrl-C.
pub async fn run_sink(listen: SocketAddr) -> Result<()> {
    let sink = Arc::new(Sink::default());
    let app = Router::new()
        .route("/write/{sender}", post(write))
        .route("/stats", get(sink_stats))
        .layer(DefaultBodyLimit::max(256 << 20))
        .with_state(sink);
    let listener = bind(listen).await?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    eprintln!("sink listening on {listen}");
    wait_for_signal().await
}

async fn write(State(sink): State<Arc<Sink>>, Path(sender): Path<String>, body: Bytes) -> Response {
    match sink.accept(&sender, &body) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    }
}

async fn sink_stats(
    State(sink): State<Arc<Sink>>,
    Query(w): Query<Window>,
) -> Json<BTreeMap<String, SenderReport>> {
    let (from, to) = w.bounds();
    Json(sink.report(from, to))
}

async fn bind(addr: SocketAddr) -> Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| LoadgenError::Serve {
            what: format!("listen on {addr}"),
            source,
        })
}

fn write_atomically(path: &std::path::Path, data: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, data)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|source| LoadgenError::Io {
            op: "write targets file",
            path: path.to_path_buf(),
            source,
        })
}

async fn wait_for_signal() -> Result<()> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|source| LoadgenError::Serve {
            what: "install SIGTERM handler".into(),
            source,
        })?;
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(())
}
