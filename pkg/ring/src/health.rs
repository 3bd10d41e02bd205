//! Liveness from heartbeats kept outside the Raft log.
//!
//! Every instance sends a heartbeat RPC to each voter every few seconds; each voter records
//! the arrival time in memory ([`HeartbeatTracker`]). Nothing of this goes through Raft, so a
//! lost quorum never stops heartbeats from being received, and heartbeats never load the log.
//!
//! A lookup asks a [`HealthView`] whether an instance is alive. The view judges heartbeat age
//! **only while this voter knows a leader** (the ring can commit). Without a leader nothing is
//! judged: every instance not stored as UNHEALTHY counts as alive, so the last committed ring
//! stays usable, read-only, and a healthy ingester is never made to look dead by a lost
//! quorum. When judging resumes, ages count from that moment at the earliest, so a voter
//! that was cut off does not declare everyone dead at once.

use std::collections::HashMap;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::time::Instant;

use crate::instance::{InstanceDesc, InstanceId, InstanceState};
use crate::ring::Health;

/// The last heartbeat seen from each instance, on one voter.
#[derive(Debug)]
pub struct HeartbeatTracker {
    timeout: Duration,
    state: Mutex<TrackerState>,
}

#[derive(Debug)]
struct TrackerState {
    last_seen: HashMap<InstanceId, Instant>,
    /// Since when a leader has been known without interruption; `None` while there is none.
    judging_since: Option<Instant>,
}

impl HeartbeatTracker {
    /// A tracker that calls an instance dead after `timeout` without a heartbeat.
    pub fn new(timeout: Duration) -> Self {
        Self {
            timeout,
            state: Mutex::new(TrackerState {
                last_seen: HashMap::new(),
                judging_since: None,
            }),
        }
    }

    /// The heartbeat timeout.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Records a heartbeat from `id` at `now`.
    pub fn record(&self, id: &InstanceId, now: Instant) {
        let mut st = self.state.lock();
        match st.last_seen.get_mut(id) {
            Some(t) => *t = (*t).max(now),
            None => {
                st.last_seen.insert(id.clone(), now);
            }
        }
    }

    /// Tells the tracker whether a leader is known at `now`; heartbeat age is judged only
    /// while one is.
    pub fn set_leader_known(&self, known: bool, now: Instant) {
        let mut st = self.state.lock();
        match (known, st.judging_since) {
            (true, None) => st.judging_since = Some(now),
            (false, Some(_)) => st.judging_since = None,
            _ => {}
        }
    }

    /// Whether a leader is known (heartbeat age is being judged).
    pub fn leader_known(&self) -> bool {
        self.state.lock().judging_since.is_some()
    }

    /// Forgets an instance (after it left the ring).
    pub fn forget(&self, id: &InstanceId) {
        self.state.lock().last_seen.remove(id);
    }

    /// The time since `id`'s last heartbeat, if one was seen.
    pub fn age(&self, id: &InstanceId, now: Instant) -> Option<Duration> {
        self.state
            .lock()
            .last_seen
            .get(id)
            .map(|t| now.saturating_duration_since(*t))
    }

    /// A view for lookups at `now`.
    pub fn view(&self, now: Instant) -> HealthView {
        let st = self.state.lock();
        HealthView {
            now,
            timeout: self.timeout,
            judging_since: st.judging_since,
            last_seen: st.last_seen.clone(),
        }
    }
}

/// A frozen view of heartbeats for lookups: implements [`Health`].
#[derive(Clone, Debug)]
pub struct HealthView {
    now: Instant,
    timeout: Duration,
    judging_since: Option<Instant>,
    last_seen: HashMap<InstanceId, Instant>,
}

impl HealthView {
    /// The heartbeat timeout.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Whether heartbeat age is being judged (a leader is known).
    pub fn judging(&self) -> bool {
        self.judging_since.is_some()
    }

    /// The age used to judge `id`: time since its last heartbeat, or since judging began if
    /// that is later. `None` while not judging.
    pub fn judged_age(&self, id: &InstanceId) -> Option<Duration> {
        let since = self.judging_since?;
        let last = self.last_seen.get(id).map_or(since, |t| (*t).max(since));
        Some(self.now.saturating_duration_since(last))
    }
}

impl Health for HealthView {
    fn is_healthy(&self, instance: &InstanceDesc) -> bool {
        if instance.state == InstanceState::Unhealthy {
            return false;
        }
        self.judged_age(&instance.id)
            .is_none_or(|age| age <= self.timeout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inst(id: &str) -> InstanceDesc {
        InstanceDesc {
            id: InstanceId::new(id),
            addr: String::new(),
            zone: String::new(),
            state: InstanceState::Active,
            tokens: vec![1],
            registered_at_ms: 0,
            read_only: false,
        }
    }

    #[test]
    fn stale_heartbeat_is_unhealthy_only_while_a_leader_is_known() {
        let t0 = Instant::now();
        let tracker = HeartbeatTracker::new(Duration::from_secs(10));
        let a = inst("a");
        tracker.set_leader_known(true, t0);
        tracker.record(&a.id, t0);
        assert!(tracker.view(t0 + Duration::from_secs(5)).is_healthy(&a));
        assert!(!tracker.view(t0 + Duration::from_secs(11)).is_healthy(&a));
        // Leader lost: nothing is judged, the instance is alive.
        tracker.set_leader_known(false, t0 + Duration::from_secs(11));
        assert!(tracker.view(t0 + Duration::from_secs(60)).is_healthy(&a));
        // Leader back: ages count from then, so the instance gets a full timeout.
        tracker.set_leader_known(true, t0 + Duration::from_secs(60));
        assert!(tracker.view(t0 + Duration::from_secs(65)).is_healthy(&a));
        assert!(!tracker.view(t0 + Duration::from_secs(71)).is_healthy(&a));
    }

    #[test]
    fn stored_unhealthy_state_always_counts() {
        let t0 = Instant::now();
        let tracker = HeartbeatTracker::new(Duration::from_secs(10));
        let mut a = inst("a");
        a.state = InstanceState::Unhealthy;
        tracker.record(&a.id, t0);
        assert!(!tracker.view(t0).is_healthy(&a));
    }
}
