//! The ingester's life in the ring: join, ACTIVE, heartbeats, LEAVING, leave.
//!
//! ```text
//!  start: id (-ring.node-id, else <data.dir>/ring-instance.json, else host name) and tokens
//!         from ring-instance.json ─► Lifecycler (wants ACTIVE: the WAL is already replayed)
//!  loop (every ring change and every -ring.heartbeat-period):
//!         Lifecycler::step(ring) ─► proposals (Join, UpdateState) and token persistence
//!         heartbeat to every voter
//!  /ready: 503 with the ring state until the committed ring holds it ACTIVE (200 while the
//!         ring forms, so voters started one by one do not wait for each other)
//!  SIGTERM: LEAVING (the entry stays, with its tokens, for the restart)
//!  POST /ingester/shutdown: flush (blocks + WAL checkpoint), LEAVING, Leave, exit
//! ```
//!
//! Failed proposals (no leader, no quorum) are retried on the next tick; the WAL makes every
//! acknowledged sample durable without the ring.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use strata_ring::{
    Action, Command, InstanceFile, InstanceId, InstanceState, Lifecycler, RingError,
};
use tokio::sync::Mutex;

use crate::config::Config;
use crate::ring::RingHandle;

/// How long a shutdown waits for its LEAVING / Leave proposals.
const LEAVE_TIMEOUT: Duration = Duration::from_secs(3);
/// How soon a failed proposal is retried.
const RETRY: Duration = Duration::from_millis(250);

/// The running lifecycle of this process' ingester.
pub struct IngesterLifecycle {
    ring: Arc<RingHandle>,
    lc: Mutex<Lifecycler>,
    file: InstanceFile,
    id: InstanceId,
    stopping: AtomicBool,
    /// No instance file at start: this ingester never joined a ring before.
    first_start: bool,
    /// When a Raft leader was last known (process start at first), and how long none may
    /// be known before a voter stops holding its peers up (see `forming`).
    leader_seen: parking_lot::Mutex<std::time::Instant>,
    leaderless_grace: Duration,
}

/// The instance id to use: the flag, else the persisted one, else the host name.
fn instance_id(flag: &str, persisted: Option<&InstanceId>) -> InstanceId {
    if !flag.is_empty() {
        return InstanceId::new(flag);
    }
    if let Some(p) = persisted {
        return p.clone();
    }
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "strata-ingester".to_string());
    InstanceId::new(host)
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl IngesterLifecycle {
    /// Loads the instance file, registers the ingester (JOINING, then ACTIVE) and starts the
    /// loop of steps and heartbeats.
    pub async fn start(cfg: &Config, ring: Arc<RingHandle>) -> anyhow::Result<Arc<Self>> {
        let file = InstanceFile::in_dir(Path::new(&cfg.data_dir));
        let f2 = file.clone();
        let persisted = tokio::task::spawn_blocking(move || f2.load())
            .await
            .context("load ring instance file")?
            .context("load ring instance file")?;
        let id = instance_id(&cfg.ring.node_id, persisted.as_ref().map(|p| &p.id));
        let first_start = persisted.is_none();
        let reused = persisted
            .as_ref()
            .is_some_and(|p| p.id == id && p.zone == cfg.ring.availability_zone);
        let mut lc = Lifecycler::new(
            id.clone(),
            cfg.server.advertised_grpc_address(),
            cfg.ring.availability_zone.clone(),
            cfg.ring.num_tokens,
            persisted,
            now_ms(),
        );
        // The WAL was replayed when the ingester was built: it is ready for traffic.
        lc.set_state(InstanceState::Active);
        tracing::info!(instance = %id, zone = %cfg.ring.availability_zone, reused_tokens = reused, "ingester joining the ring");
        let this = Arc::new(Self {
            ring,
            lc: Mutex::new(lc),
            file,
            id,
            stopping: AtomicBool::new(false),
            first_start,
            leader_seen: parking_lot::Mutex::new(std::time::Instant::now()),
            leaderless_grace: (cfg.ring.election_timeout * 2).max(cfg.ring.heartbeat_timeout),
        });
        let period = cfg.ring.heartbeat_period;
        tokio::spawn(Arc::clone(&this).run(period));
        Ok(this)
    }

    async fn run(self: Arc<Self>, period: Duration) {
        let mut rx = self.ring.subscribe();
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut retry_soon = true;
        loop {
            if self.stopping.load(Ordering::Acquire) {
                return;
            }
            let beat = tokio::select! {
                changed = rx.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    false
                }
                _ = tick.tick() => true,
                // A failed proposal (no leader yet) is retried well before the next tick.
                _ = tokio::time::sleep(RETRY), if retry_soon => false,
            };
            retry_soon = !self.step().await;
            if beat {
                let reached = self.ring.heartbeat(&self.id).await;
                if reached == 0 {
                    tracing::warn!(instance = %self.id, "heartbeat reached no ring voter");
                }
            }
        }
    }

    /// Compares the wishes with the committed ring and carries out the actions; false when
    /// a proposal failed.
    async fn step(&self) -> bool {
        let ring = self.ring.ring();
        let mut lc = self.lc.lock().await;
        if self.stopping.load(Ordering::Acquire) {
            return true;
        }
        let mut ok = true;
        for action in lc.step(ring.desc()) {
            match action {
                Action::Propose(cmd) => {
                    let is_join = matches!(cmd, Command::Join { .. });
                    match self.ring.propose(cmd).await {
                        Ok(_) => {}
                        Err(RingError::Rejected(why)) if is_join => {
                            tracing::warn!(instance = %self.id, %why, "ring refused our tokens; joining with fresh ones");
                            lc.drop_tokens();
                            ok = false;
                        }
                        Err(e) => {
                            tracing::warn!(instance = %self.id, error = %e, "ring proposal failed; retrying");
                            ok = false;
                        }
                    }
                }
                Action::PersistTokens(p) => {
                    let file = self.file.clone();
                    let n = p.tokens.len();
                    match tokio::task::spawn_blocking(move || file.save(&p)).await {
                        Ok(Ok(())) => {
                            tracing::info!(instance = %self.id, tokens = n, "ring tokens persisted")
                        }
                        Ok(Err(e)) => tracing::error!(error = %e, "persist ring tokens"),
                        Err(e) => tracing::error!(error = %e, "persist ring tokens task"),
                    }
                }
            }
        }
        ok
    }

    /// Whether this voter must not hold its peers up: its peers have to be able to start
    /// (one after another, as Kubernetes' ordered start does) for a leader to exist at all.
    /// True for a brand-new ingester (no instance file at start) while nothing was ever
    /// committed and no leader is known, and for any voter that has known no leader for
    /// `leaderless_grace` (a whole cluster restarting). A restart within a working cluster
    /// hears from the leader well within that grace, so it waits until it is ACTIVE.
    fn forming(&self) -> bool {
        let Some(status) = self.ring.status() else {
            return false;
        };
        let now = std::time::Instant::now();
        let mut seen = self.leader_seen.lock();
        if status.leader.is_some() {
            *seen = now;
            return false;
        }
        (self.first_start && self.ring.applied().applied_index == 0)
            || now.duration_since(*seen) >= self.leaderless_grace
    }

    /// Why this ingester is not ready for traffic as the ring sees it: `None` once the
    /// committed ring holds it ACTIVE, else its state there (or that it is not there yet).
    pub fn not_ready_reason(&self) -> Option<String> {
        match self.ring.ring().instance(&self.id) {
            None => Some(format!("ingester {} is not in the ring yet", self.id)),
            Some(i) if i.state != InstanceState::Active => {
                Some(format!("ingester {} is {} in the ring", self.id, i.state))
            }
            Some(_) => None,
        }
    }

    /// Marks the ingester LEAVING (graceful shutdown) and, with `unregister`, removes it from
    /// the ring; stops the loop. Waits at most a few seconds per proposal.
    pub async fn leave(&self, unregister: bool) {
        let mut lc = self.lc.lock().await;
        self.stopping.store(true, Ordering::Release);
        lc.set_state(InstanceState::Leaving);
        let cmd = Command::UpdateState {
            id: self.id.clone(),
            state: InstanceState::Leaving,
            read_only: None,
        };
        match tokio::time::timeout(LEAVE_TIMEOUT, self.ring.propose(cmd)).await {
            Ok(Ok(_)) => tracing::info!(instance = %self.id, "ingester LEAVING"),
            Ok(Err(e)) => tracing::warn!(instance = %self.id, error = %e, "could not mark LEAVING"),
            Err(_) => tracing::warn!(instance = %self.id, "marking LEAVING timed out"),
        }
        if unregister {
            let cmd = Command::Leave {
                id: self.id.clone(),
            };
            match tokio::time::timeout(LEAVE_TIMEOUT, self.ring.propose(cmd)).await {
                Ok(Ok(_)) => tracing::info!(instance = %self.id, "ingester left the ring"),
                Ok(Err(e)) => {
                    tracing::warn!(instance = %self.id, error = %e, "could not leave the ring")
                }
                Err(_) => tracing::warn!(instance = %self.id, "leaving the ring timed out"),
            }
        }
    }
}

/// Middleware for `/ready`: 503 naming the ingester's ring state until the committed ring
/// holds it ACTIVE; then the usual checks answer. Other paths pass through. One exception:
/// a brand-new ingester while the ring is still forming (see `forming`) answers 200, so
/// voters started one after another, each waiting for the previous one's readiness, do not
/// wait for each other forever.
pub async fn ready_gate(
    axum::extract::State(lc): axum::extract::State<Arc<IngesterLifecycle>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    if req.uri().path() == "/ready" {
        if lc.forming() {
            return (
                axum::http::StatusCode::OK,
                "ready\nforming the ring: no leader elected yet; start the other voters\n",
            )
                .into_response();
        }
        if let Some(why) = lc.not_ready_reason() {
            return (
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                format!("not ready\n{why}\n"),
            )
                .into_response();
        }
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flag_wins_then_the_persisted_id() {
        let p = InstanceId::new("persisted");
        assert_eq!(instance_id("flag", Some(&p)).as_str(), "flag");
        assert_eq!(instance_id("", Some(&p)).as_str(), "persisted");
        assert!(!instance_id("", None).as_str().is_empty());
    }

    async fn ready_status(app: &axum::Router) -> (u16, String) {
        use tower::ServiceExt as _;
        let req = axum::http::Request::get("/ready")
            .body(axum::body::Body::empty())
            .expect("request");
        let resp = app.clone().oneshot(req).await.expect("answer");
        let status = resp.status().as_u16();
        let body = axum::body::to_bytes(resp.into_body(), 1 << 16)
            .await
            .expect("body");
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    /// `/ready` while the ring forms (not bootstrapped, never a leader): 200, saying so; then
    /// 200 once the ring holds the ingester ACTIVE; 503 naming the state when it is not
    /// (LEAVING); and after a restart, 503 until it is ACTIVE again.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn ready_only_once_active_in_the_ring() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut cfg = Config {
            target: "ingester,ring".into(),
            data_dir: dir.path().display().to_string(),
            ..Default::default()
        };
        cfg.ring.node_id = "ing-1".into();
        cfg.ring.heartbeat_period = Duration::from_millis(50);
        cfg.ring.election_timeout = Duration::from_millis(100);
        let targets = [
            crate::modules::Target::Ring,
            crate::modules::Target::Ingester,
        ];
        let ring = RingHandle::open(&cfg, &targets)
            .await
            .expect("open ring")
            .expect("a voter");
        let lc = IngesterLifecycle::start(&cfg, Arc::clone(&ring))
            .await
            .expect("start lifecycle");
        let app = axum::Router::new()
            .route("/ready", axum::routing::get(|| async { "ready\n" }))
            .layer(axum::middleware::from_fn_with_state(
                Arc::clone(&lc),
                ready_gate,
            ));
        let (status, body) = ready_status(&app).await;
        assert_eq!(status, 200, "{body}");
        assert!(body.contains("forming the ring"), "{body}");
        assert_eq!(
            lc.not_ready_reason().as_deref(),
            Some("ingester ing-1 is not in the ring yet")
        );

        ring.bootstrap().await.expect("bootstrap");
        let end = tokio::time::Instant::now() + Duration::from_secs(10);
        while lc.not_ready_reason().is_some() {
            assert!(tokio::time::Instant::now() < end, "never ACTIVE");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(ready_status(&app).await, (200, "ready\n".to_string()));
        // LEAVING on shutdown: not ready any more, and the answer says why.
        lc.leave(false).await;
        let (status, body) = ready_status(&app).await;
        assert_eq!(status, 503);
        assert!(body.contains("ing-1 is LEAVING in the ring"), "{body}");
        ring.shutdown().await;
        drop((app, lc, ring));

        // A restart (instance file on disk): 503 with the stored state until ACTIVE again.
        let ring = RingHandle::open(&cfg, &targets)
            .await
            .expect("reopen ring")
            .expect("a voter");
        let lc = IngesterLifecycle::start(&cfg, Arc::clone(&ring))
            .await
            .expect("restart lifecycle");
        assert!(!lc.first_start);
        let app = axum::Router::new()
            .route("/ready", axum::routing::get(|| async { "ready\n" }))
            .layer(axum::middleware::from_fn_with_state(
                Arc::clone(&lc),
                ready_gate,
            ));
        let (status, body) = ready_status(&app).await;
        assert_eq!(status, 503, "{body}");
        ring.bootstrap().await.expect("bootstrap is a no-op now");
        let end = tokio::time::Instant::now() + Duration::from_secs(10);
        while ready_status(&app).await.0 != 200 {
            assert!(
                tokio::time::Instant::now() < end,
                "never ready after restart"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        ring.shutdown().await;
    }
}
