//! The ingester's life in the ring: join, ACTIVE, heartbeats, LEAVING, leave.
//!
//! ```text
//!  start: id (-ring.node-id, else <data.dir>/ring-instance.json, else host name) and tokens
//!         from ring-instance.json ─► Lifecycler (wants ACTIVE: the WAL is already replayed)
//!  loop (every ring change and every -ring.heartbeat-period):
//!         Lifecycler::step(ring) ─► proposals (Join, UpdateState) and token persistence
//!         heartbeat to every voter
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
}
