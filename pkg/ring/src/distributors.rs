//! The distributors' registry (Mimir's distributor ring): which distributors run, so each
//! tenant's global ingestion rate is divided among the healthy ones.
//!
//! Distributors own no tokens and never place series; they are kept apart from the ingester
//! ring ([`RingDesc`]), in [`RingContents::distributors`], so lookups never see them. They
//! live in the same Raft state machine, and followers see them through the same watch.
//!
//! ```text
//!  distributor: DistributorJoin (ACTIVE) ─► heartbeat every period to every voter (memory)
//!  leader voter, every period, only while it can commit (see crate::health):
//!     ACTIVE, heartbeat older than the timeout      ─► DistributorUpdate UNHEALTHY if ACTIVE
//!     UNHEALTHY, heartbeat older than forget_after  ─► DistributorLeave if UNHEALTHY
//!  distributor sees itself UNHEALTHY while a voter hears it ─► DistributorUpdate ACTIVE
//!  every distributor: share = rate / healthy_distributors(ring, itself)
//!  graceful shutdown: DistributorLeave
//! ```
//!
//! Heartbeats stay out of the log: only state changes are committed, so a ring that cannot
//! commit leaves the last committed count in force rather than making healthy distributors
//! look dead. Distributor heartbeats use the key [`distributor_heartbeat_id`] so that an
//! ingester and a distributor with the same id (one host) never vouch for each other.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::command::Command;
use crate::health::HealthView;
use crate::instance::{InstanceDesc, InstanceId, InstanceState, RingDesc};
use crate::ring::Ring;

/// Everything the Raft state machine holds: the ingester ring with the HA elections, and the
/// distributors. Serialized flat (the ring's fields, then `distributors` when there are any),
/// so a snapshot or watch message written before distributors registered reads as one
/// without them, and an older reader ignores them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RingContents {
    /// The ingester ring and the HA elections.
    #[serde(flatten)]
    pub desc: RingDesc,
    /// Registered distributors by id (no tokens).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub distributors: BTreeMap<InstanceId, InstanceDesc>,
}

/// The same, borrowed, for encoding without a copy.
#[derive(Serialize)]
pub(crate) struct RingContentsRef<'a> {
    #[serde(flatten)]
    pub desc: &'a RingDesc,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub distributors: &'a BTreeMap<InstanceId, InstanceDesc>,
}

/// The key under which voters record a distributor's heartbeats.
pub fn distributor_heartbeat_id(id: &InstanceId) -> InstanceId {
    InstanceId::new(format!("distributor/{id}"))
}

/// How many distributors share the global rate, as distributor `me` counts them: the
/// ACTIVE ones in the committed ring, plus `me` itself when the ring does not (yet) show it
/// ACTIVE (it is alive from its own point of view). At least 1.
pub fn healthy_distributors(ring: &Ring, me: &InstanceId) -> usize {
    let d = ring.distributors();
    let active = d
        .values()
        .filter(|i| i.state == InstanceState::Active)
        .count();
    let me_active = d.get(me).is_some_and(|i| i.state == InstanceState::Active);
    (active + usize::from(!me_active)).max(1)
}

/// The leader's housekeeping of the registry, judged on its heartbeats (`health`): marks
/// ACTIVE distributors silent for longer than the heartbeat timeout UNHEALTHY, and removes
/// UNHEALTHY ones silent for longer than `forget_after`. Each command only applies if the
/// state is still the one judged. Nothing is judged while `health` does not judge (no
/// leader, or no quorum).
pub fn distributor_housekeeping(
    ring: &Ring,
    health: &HealthView,
    forget_after: Duration,
) -> Vec<Command> {
    if !health.judging() {
        return Vec::new();
    }
    let mut out = Vec::new();
    for inst in ring.distributors().values() {
        let Some(age) = health.judged_age(&distributor_heartbeat_id(&inst.id)) else {
            continue;
        };
        match inst.state {
            InstanceState::Active if age > health.timeout() => {
                out.push(Command::DistributorUpdate {
                    id: inst.id.clone(),
                    state: InstanceState::Unhealthy,
                    only_from: Some(InstanceState::Active),
                });
            }
            InstanceState::Unhealthy if age > forget_after => {
                out.push(Command::DistributorLeave {
                    id: inst.id.clone(),
                    only_from: Some(InstanceState::Unhealthy),
                });
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::time::Instant;

    use super::*;
    use crate::command::{apply_contents, CommandResponse};
    use crate::health::HeartbeatTracker;

    fn distributor(id: &str) -> InstanceDesc {
        InstanceDesc {
            id: InstanceId::new(id),
            addr: format!("{id}:8080"),
            zone: String::new(),
            state: InstanceState::Active,
            tokens: Vec::new(),
            registered_at_ms: 1,
            read_only: false,
        }
    }

    fn join(c: &mut RingContents, id: &str) {
        let resp = apply_contents(
            c,
            &Command::DistributorJoin {
                instance: distributor(id),
            },
        );
        assert!(matches!(resp, CommandResponse::Instance(_)), "{resp:?}");
    }

    fn ring(c: &RingContents) -> Ring {
        Ring::from_contents(c.clone())
    }

    #[test]
    fn contents_read_snapshots_written_before_distributors() {
        let old = serde_json::to_vec(&RingDesc::default()).expect("encode");
        let c: RingContents = serde_json::from_slice(&old).expect("decode old");
        assert!(c.distributors.is_empty());
        let mut c = RingContents::default();
        join(&mut c, "d1");
        let bytes = serde_json::to_vec(&c).expect("encode");
        let back: RingContents = serde_json::from_slice(&bytes).expect("decode");
        assert_eq!(back, c);
        // An older reader, which knows only the ring, still reads it.
        let desc: RingDesc = serde_json::from_slice(&bytes).expect("decode as ring");
        assert_eq!(desc, c.desc);
    }

    #[test]
    fn count_is_active_distributors_and_always_oneself() {
        let mut c = RingContents::default();
        let me = InstanceId::new("d1");
        assert_eq!(
            healthy_distributors(&ring(&c), &me),
            1,
            "empty ring: just me"
        );
        join(&mut c, "d1");
        join(&mut c, "d2");
        join(&mut c, "d3");
        assert_eq!(healthy_distributors(&ring(&c), &me), 3);
        apply_contents(
            &mut c,
            &Command::DistributorUpdate {
                id: InstanceId::new("d2"),
                state: InstanceState::Unhealthy,
                only_from: None,
            },
        );
        assert_eq!(healthy_distributors(&ring(&c), &me), 2);
        // Marked unhealthy myself (cut off from the voters): I still count myself.
        apply_contents(
            &mut c,
            &Command::DistributorUpdate {
                id: me.clone(),
                state: InstanceState::Unhealthy,
                only_from: None,
            },
        );
        assert_eq!(healthy_distributors(&ring(&c), &me), 2);
        // Ingesters never count.
        assert!(c.desc.instances.is_empty());
    }

    #[test]
    fn conditional_updates_apply_only_from_the_judged_state() {
        let mut c = RingContents::default();
        join(&mut c, "d1");
        let stale = Command::DistributorLeave {
            id: InstanceId::new("d1"),
            only_from: Some(InstanceState::Unhealthy),
        };
        assert!(matches!(
            apply_contents(&mut c, &stale),
            CommandResponse::Rejected(_)
        ));
        assert_eq!(c.distributors.len(), 1, "an ACTIVE distributor is kept");
        let forget = Command::Forget {
            id: InstanceId::new("d1"),
        };
        apply_contents(&mut c, &forget);
        assert!(c.distributors.is_empty(), "forget removes distributors too");
    }

    #[test]
    fn housekeeping_marks_silent_distributors_then_forgets_them() {
        let t0 = Instant::now();
        let tracker = HeartbeatTracker::new(Duration::from_secs(10));
        let forget_after = Duration::from_secs(100);
        let mut c = RingContents::default();
        join(&mut c, "d1");
        join(&mut c, "d2");
        // Without a leader nothing is judged, however old the heartbeats.
        assert!(distributor_housekeeping(
            &ring(&c),
            &tracker.view(t0 + Duration::from_secs(500)),
            forget_after
        )
        .is_empty());
        tracker.set_leader_known(true, t0);
        for id in ["d1", "d2"] {
            tracker.record(&distributor_heartbeat_id(&InstanceId::new(id)), t0);
        }
        // d1 keeps beating, d2 stops.
        let t1 = t0 + Duration::from_secs(11);
        tracker.record(&distributor_heartbeat_id(&InstanceId::new("d1")), t1);
        let cmds = distributor_housekeeping(&ring(&c), &tracker.view(t1), forget_after);
        assert_eq!(
            cmds,
            vec![Command::DistributorUpdate {
                id: InstanceId::new("d2"),
                state: InstanceState::Unhealthy,
                only_from: Some(InstanceState::Active),
            }]
        );
        for cmd in &cmds {
            apply_contents(&mut c, cmd);
        }
        assert_eq!(healthy_distributors(&ring(&c), &InstanceId::new("d1")), 1);
        let t2 = t0 + Duration::from_secs(101);
        tracker.record(&distributor_heartbeat_id(&InstanceId::new("d1")), t2);
        let cmds = distributor_housekeeping(&ring(&c), &tracker.view(t2), forget_after);
        assert_eq!(
            cmds,
            vec![Command::DistributorLeave {
                id: InstanceId::new("d2"),
                only_from: Some(InstanceState::Unhealthy),
            }]
        );
        // An ingester's heartbeats under the plain id do not keep a distributor alive.
        tracker.record(&InstanceId::new("d2"), t2);
        assert_eq!(
            distributor_housekeeping(&ring(&c), &tracker.view(t2), forget_after).len(),
            1
        );
    }
}
