//! The distributor's place in the ring (Mimir's distributor ring): it registers, heartbeats,
//! and divides each tenant's global ingestion rate by the healthy distributors it sees.
//!
//! ```text
//!  start: DistributorJoin {id (-distributor.ring.instance-id, else host name), addr, ACTIVE}
//!  every -ring.heartbeat-period: heartbeat to every voter (key distributor/<id>, memory)
//!  every ring change and tick:   missing ─► Join;  UNHEALTHY while a voter hears us ─► ACTIVE
//!                                share = healthy_distributors(ring, me) ─► on_count
//!  leader voter (spawn_housekeeping): silent > -ring.heartbeat-timeout ─► UNHEALTHY,
//!                                     silent > FORGET_AFTER_TIMEOUTS × timeout ─► removed
//!  graceful shutdown: DistributorLeave
//! ```
//!
//! The count only changes through committed state, so while the ring cannot commit every
//! distributor keeps the last committed count (no healthy distributor looks dead).
//! `-distributor.instances-from-ring=false` keeps the static `-distributor.instances`.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use strata_ring::{
    distributor_heartbeat_id, distributor_housekeeping, healthy_distributors, Command,
    InstanceDesc, InstanceId, InstanceState,
};

use crate::ring::RingHandle;

/// How long a shutdown waits for its leave proposal.
const LEAVE_TIMEOUT: Duration = Duration::from_secs(3);
/// An UNHEALTHY distributor is removed after this many heartbeat timeouts of silence.
pub const FORGET_AFTER_TIMEOUTS: u32 = 10;

/// A running registration of this process' distributor.
pub struct DistributorRing {
    ring: Arc<RingHandle>,
    me: InstanceDesc,
    stopping: AtomicBool,
    count: AtomicUsize,
    on_count: Box<dyn Fn(usize) + Send + Sync>,
    task: parking_lot::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

/// The host name, for a default instance id.
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "strata".to_string())
}

/// The HTTP address other processes reach this distributor at: the host of
/// `-server.advertise-address` (else the host name) with the HTTP port.
pub fn http_address(cfg: &crate::config::Config) -> String {
    let adv = &cfg.server.advertise_address;
    let host = match adv.rsplit_once(':') {
        Some((h, _)) if !h.is_empty() => h.to_string(),
        _ => host_name(),
    };
    format!("{host}:{}", cfg.server.http_listen_port)
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl DistributorRing {
    /// Registers distributor `id` (reachable at `addr`, its HTTP address) and starts
    /// heartbeating every `period`; `on_count` is called with the number of distributors
    /// sharing the rate whenever it changes (and once at start).
    pub fn start(
        ring: Arc<RingHandle>,
        id: InstanceId,
        addr: String,
        period: Duration,
        on_count: Box<dyn Fn(usize) + Send + Sync>,
    ) -> Arc<Self> {
        let me = InstanceDesc {
            id,
            addr,
            zone: String::new(),
            state: InstanceState::Active,
            tokens: Vec::new(),
            registered_at_ms: now_ms(),
            read_only: false,
        };
        tracing::info!(distributor = %me.id, addr = %me.addr, "distributor registering in the ring");
        let this = Arc::new(Self {
            ring,
            me,
            stopping: AtomicBool::new(false),
            count: AtomicUsize::new(0),
            on_count,
            task: parking_lot::Mutex::new(None),
        });
        let task = tokio::spawn(Arc::clone(&this).run(period));
        *this.task.lock() = Some(task);
        this
    }

    /// The distributors sharing the rate, as last computed (0 before the first step).
    #[cfg(test)]
    fn count(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }

    async fn run(self: Arc<Self>, period: Duration) {
        let mut rx = self.ring.subscribe();
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut heard = false;
        loop {
            if self.stopping.load(Ordering::Acquire) {
                return;
            }
            tokio::select! {
                changed = rx.changed() => {
                    if changed.is_err() {
                        return;
                    }
                }
                _ = tick.tick() => {
                    let key = distributor_heartbeat_id(&self.me.id);
                    heard = self.ring.heartbeat(&key).await > 0;
                    if !heard {
                        tracing::warn!(distributor = %self.me.id, "heartbeat reached no ring voter");
                    }
                }
            }
            self.step(heard).await;
        }
    }

    /// Re-registers or re-activates this distributor when the ring says so, and publishes
    /// the count.
    async fn step(&self, heard: bool) {
        let ring = self.ring.ring();
        let cmd = match ring.distributors().get(&self.me.id) {
            None => Some(Command::DistributorJoin {
                instance: self.me.clone(),
            }),
            Some(cur) if cur.addr != self.me.addr => Some(Command::DistributorJoin {
                instance: self.me.clone(),
            }),
            // Back after a cut: only once a voter hears our heartbeats again, or the leader
            // would mark us UNHEALTHY again at once.
            Some(cur) if cur.state != InstanceState::Active && heard => {
                Some(Command::DistributorUpdate {
                    id: self.me.id.clone(),
                    state: InstanceState::Active,
                    only_from: None,
                })
            }
            Some(_) => None,
        };
        if let Some(cmd) = cmd {
            if self.stopping.load(Ordering::Acquire) {
                return;
            }
            match self.ring.propose(cmd).await {
                Ok(_) => {
                    tracing::info!(distributor = %self.me.id, "distributor ACTIVE in the ring")
                }
                Err(e) => {
                    tracing::warn!(distributor = %self.me.id, error = %e, "distributor registration failed; retrying")
                }
            }
        }
        let n = healthy_distributors(&self.ring.ring(), &self.me.id);
        if self.count.swap(n, Ordering::Relaxed) != n {
            tracing::info!(distributor = %self.me.id, distributors = n, "distributors sharing the ingestion rate");
            (self.on_count)(n);
        }
    }

    /// Stops heartbeating without leaving, as a crash would (tests).
    #[cfg(test)]
    fn halt(&self) {
        self.stopping.store(true, Ordering::Release);
        if let Some(t) = self.task.lock().take() {
            t.abort();
        }
    }

    /// Removes this distributor from the ring (graceful shutdown) and stops heartbeating.
    pub async fn leave(&self) {
        self.stopping.store(true, Ordering::Release);
        if let Some(t) = self.task.lock().take() {
            t.abort();
        }
        let cmd = Command::DistributorLeave {
            id: self.me.id.clone(),
            only_from: None,
        };
        match tokio::time::timeout(LEAVE_TIMEOUT, self.ring.propose(cmd)).await {
            Ok(Ok(_)) => tracing::info!(distributor = %self.me.id, "distributor left the ring"),
            Ok(Err(e)) => {
                tracing::warn!(distributor = %self.me.id, error = %e, "could not leave the ring")
            }
            Err(_) => tracing::warn!(distributor = %self.me.id, "leaving the ring timed out"),
        }
    }
}

/// On a voter, every `period`: when this voter leads and can commit, marks distributors
/// silent for longer than the heartbeat timeout UNHEALTHY and removes long-silent ones.
pub fn spawn_housekeeping(ring: Arc<RingHandle>, period: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let Some(node) = ring.node() else { return };
            let status = node.status();
            if !status.is_leader || !status.can_commit {
                continue;
            }
            let health = node.health();
            let forget_after = health.timeout() * FORGET_AFTER_TIMEOUTS;
            for cmd in distributor_housekeeping(&ring.ring(), &health, forget_after) {
                let what = match &cmd {
                    Command::DistributorUpdate { id, .. } => format!("mark {id} UNHEALTHY"),
                    Command::DistributorLeave { id, .. } => format!("forget {id}"),
                    other => format!("{other:?}"),
                };
                match ring.propose(cmd).await {
                    Ok(_) => tracing::info!(action = %what, "silent distributor"),
                    Err(e) => {
                        tracing::debug!(action = %what, error = %e, "distributor housekeeping")
                    }
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::config::Config;
    use crate::modules::Target;

    async fn wait_until(what: &str, deadline: Duration, mut f: impl FnMut() -> bool) {
        let end = tokio::time::Instant::now() + deadline;
        while !f() {
            assert!(
                tokio::time::Instant::now() < end,
                "timed out waiting: {what}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Two distributors register on a one-voter ring; one is killed (its task stops with no
    /// leave): after the heartbeat timeout the leader marks it UNHEALTHY and the survivor's
    /// share of the rate grows from 1/2 to all of it. A graceful leave is seen at once.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_killed_distributor_stops_counting_after_the_heartbeat_timeout() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut cfg = Config {
            target: "ring".into(),
            data_dir: dir.path().display().to_string(),
            ..Default::default()
        };
        cfg.ring.heartbeat_period = Duration::from_millis(50);
        cfg.ring.heartbeat_timeout = Duration::from_millis(400);
        cfg.ring.election_timeout = Duration::from_millis(100);
        let ring = RingHandle::open(&cfg, &[Target::Ring])
            .await
            .expect("open ring")
            .expect("a voter");
        ring.bootstrap().await.expect("bootstrap");
        let _hk = spawn_housekeeping(Arc::clone(&ring), cfg.ring.heartbeat_period);
        let shares: Vec<Arc<AtomicUsize>> = (0..3).map(|_| Arc::new(AtomicUsize::new(0))).collect();
        let start = |i: usize| {
            let share = Arc::clone(&shares[i]);
            DistributorRing::start(
                Arc::clone(&ring),
                InstanceId::new(format!("d{i}")),
                format!("127.0.0.1:{}", 8080 + i),
                cfg.ring.heartbeat_period,
                Box::new(move |n| share.store(n, Ordering::Relaxed)),
            )
        };
        let d0 = start(0);
        let d1 = start(1);
        wait_until("both distributors count 2", Duration::from_secs(10), || {
            shares[0].load(Ordering::Relaxed) == 2 && shares[1].load(Ordering::Relaxed) == 2
        })
        .await;
        let active = |id: &str| {
            ring.ring()
                .distributors()
                .get(&InstanceId::new(id))
                .map(|d| d.state)
        };
        assert_eq!(active("d1"), Some(InstanceState::Active));

        // SIGKILL-like: the heartbeats stop, nothing is proposed.
        let killed_at = tokio::time::Instant::now();
        d1.halt();
        wait_until("d0's share grows to 1", Duration::from_secs(10), || {
            shares[0].load(Ordering::Relaxed) == 1
        })
        .await;
        let took = killed_at.elapsed();
        assert!(
            took >= cfg.ring.heartbeat_timeout,
            "judged dead before the heartbeat timeout: {took:?}"
        );
        assert_eq!(active("d1"), Some(InstanceState::Unhealthy));
        assert_eq!(d0.count(), 1);

        // A third distributor joins, then leaves gracefully: counted, then gone at once.
        let d2 = start(2);
        wait_until("d0 counts d2", Duration::from_secs(10), || {
            shares[0].load(Ordering::Relaxed) == 2
        })
        .await;
        d2.leave().await;
        assert_eq!(active("d2"), None);
        wait_until("d0 counts itself alone", Duration::from_secs(10), || {
            shares[0].load(Ordering::Relaxed) == 1
        })
        .await;

        // The silent one is forgotten after FORGET_AFTER_TIMEOUTS timeouts.
        wait_until("d1 forgotten", Duration::from_secs(15), || {
            active("d1").is_none()
        })
        .await;
        d0.leave().await;
        ring.shutdown().await;
    }
}
