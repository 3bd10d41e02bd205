//! Ring changes: the commands in the Raft log and how the state machine applies them.
//!
//! [`apply`] is deterministic: it reads nothing but the command and the ring, so every voter
//! that applies the same log holds the same ring. Times inside commands come from the
//! proposer's clock for the same reason. Token generation for a join without tokens happens
//! here, at apply time, so two instances joining at once never pick the same ranges.

use serde::{Deserialize, Serialize};

use crate::distributors::RingContents;
use crate::instance::{HaElection, HaKey, InstanceDesc, InstanceId, InstanceState, RingDesc};
use crate::tokens::spread_tokens;

/// A change to the ring, proposed through the leader and applied by every voter.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    /// Registers an instance, or re-registers it after a restart. Empty `instance.tokens`
    /// means: keep the tokens it already has, or generate `token_count` spread tokens for a
    /// new instance. A re-registration keeps the first `registered_at_ms`.
    Join {
        /// The instance as it wants to be registered.
        instance: InstanceDesc,
        /// Tokens to generate when it has none.
        token_count: usize,
    },
    /// Changes an instance's state and, if given, its read-only flag.
    UpdateState {
        /// The instance.
        id: InstanceId,
        /// The new state.
        state: InstanceState,
        /// The new read-only flag, or unchanged.
        read_only: Option<bool>,
    },
    /// Removes an instance that shut down for good (scale-down).
    Leave {
        /// The instance.
        id: InstanceId,
    },
    /// Removes an instance on an operator's request (a dead one, from the ring page).
    Forget {
        /// The instance.
        id: InstanceId,
    },
    /// The HA tracker: `replica` of a cluster asks to be (or stay) the accepted one.
    HaElect {
        /// Tenant and cluster.
        key: HaKey,
        /// The replica asking.
        replica: String,
        /// The proposer's clock, Unix ms.
        now_ms: i64,
        /// How long the elected replica may stay silent before another takes over.
        failover_timeout_ms: i64,
    },
    /// Registers a distributor, or re-registers it after a restart (keeping the first
    /// `registered_at_ms`). Distributors own no tokens (see [`crate::distributors`]).
    DistributorJoin {
        /// The distributor as it wants to be registered.
        instance: InstanceDesc,
    },
    /// Changes a distributor's state; with `only_from`, only if its state is that one.
    DistributorUpdate {
        /// The distributor.
        id: InstanceId,
        /// The new state.
        state: InstanceState,
        /// Applies only from this state (the leader's judgement may be stale).
        only_from: Option<InstanceState>,
    },
    /// Removes a distributor (graceful shutdown, or long silent); with `only_from`, only if
    /// its state is that one.
    DistributorLeave {
        /// The distributor.
        id: InstanceId,
        /// Applies only from this state.
        only_from: Option<InstanceState>,
    },
}

/// What applying a [`Command`] produced.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CommandResponse {
    /// The instance as stored after a join or state change (with its tokens).
    Instance(InstanceDesc),
    /// The instance was removed, or was not there.
    Removed,
    /// The HA cluster's elected replica after the command; `accepted` tells whether it is the
    /// one that asked.
    HaElected {
        /// The election now in force.
        election: HaElection,
        /// Whether the asking replica is the elected one.
        accepted: bool,
    },
    /// The command was not applied; the ring is unchanged.
    Rejected(String),
    /// Raft-internal entries (blank, membership) produce this.
    None,
}

/// Applies `cmd` to everything the state machine holds: distributor commands to the
/// distributors, the others to the ring ([`apply`]); `Forget` removes the id from both.
pub fn apply_contents(contents: &mut RingContents, cmd: &Command) -> CommandResponse {
    let distributors = &mut contents.distributors;
    match cmd {
        Command::DistributorJoin { instance } => {
            if instance.id.as_str().is_empty() {
                return CommandResponse::Rejected("distributor join: empty id".to_string());
            }
            let mut inst = instance.clone();
            inst.tokens.clear();
            if let Some(old) = distributors.get(&inst.id) {
                inst.registered_at_ms = old.registered_at_ms;
            }
            distributors.insert(inst.id.clone(), inst.clone());
            CommandResponse::Instance(inst)
        }
        Command::DistributorUpdate {
            id,
            state,
            only_from,
        } => match distributors.get_mut(id) {
            Some(inst) if only_from.is_none_or(|s| s == inst.state) => {
                inst.state = *state;
                CommandResponse::Instance(inst.clone())
            }
            Some(inst) => CommandResponse::Rejected(format!(
                "distributor {id} is {}, not {}",
                inst.state,
                only_from.map_or_else(String::new, |s| s.to_string())
            )),
            None => CommandResponse::Rejected(format!("no distributor {id}")),
        },
        Command::DistributorLeave { id, only_from } => match distributors.get(id) {
            Some(inst) if only_from.is_some_and(|s| s != inst.state) => {
                CommandResponse::Rejected(format!("distributor {id} is {}", inst.state))
            }
            _ => {
                distributors.remove(id);
                CommandResponse::Removed
            }
        },
        Command::Forget { id } => {
            distributors.remove(id);
            apply(&mut contents.desc, cmd)
        }
        other => apply(&mut contents.desc, other),
    }
}

/// Applies `cmd` to `ring` (the ingester ring and HA elections); distributor commands are
/// rejected here, they need [`apply_contents`].
pub fn apply(ring: &mut RingDesc, cmd: &Command) -> CommandResponse {
    match cmd {
        Command::DistributorJoin { .. }
        | Command::DistributorUpdate { .. }
        | Command::DistributorLeave { .. } => CommandResponse::Rejected(
            "distributor commands apply to the ring's contents, not the ingester ring".to_string(),
        ),
        Command::Join {
            instance,
            token_count,
        } => join(ring, instance, *token_count),
        Command::UpdateState {
            id,
            state,
            read_only,
        } => match ring.instances.get_mut(id) {
            Some(inst) => {
                inst.state = *state;
                if let Some(ro) = read_only {
                    inst.read_only = *ro;
                }
                CommandResponse::Instance(inst.clone())
            }
            None => CommandResponse::Rejected(format!("update state: no instance {id}")),
        },
        Command::Leave { id } | Command::Forget { id } => {
            ring.instances.remove(id);
            CommandResponse::Removed
        }
        Command::HaElect {
            key,
            replica,
            now_ms,
            failover_timeout_ms,
        } => ha_elect(ring, key, replica, *now_ms, *failover_timeout_ms),
    }
}

fn join(ring: &mut RingDesc, wanted: &InstanceDesc, token_count: usize) -> CommandResponse {
    if wanted.id.as_str().is_empty() {
        return CommandResponse::Rejected("join: empty instance id".to_string());
    }
    let existing = ring.instances.remove(&wanted.id);
    let mut inst = wanted.clone();
    if let Some(old) = &existing {
        inst.registered_at_ms = old.registered_at_ms;
        if inst.tokens.is_empty() && old.zone == inst.zone {
            inst.tokens = old.tokens.clone();
        }
    }
    if inst.tokens.is_empty() {
        inst.tokens = spread_tokens(ring, &inst.zone, token_count);
    } else {
        inst.tokens.sort_unstable();
        inst.tokens.dedup();
        let clashes = inst
            .tokens
            .iter()
            .filter(|t| {
                ring.instances
                    .values()
                    .any(|o| o.tokens.binary_search(t).is_ok())
            })
            .count();
        if clashes > 0 {
            if let Some(old) = existing {
                ring.instances.insert(old.id.clone(), old);
            }
            return CommandResponse::Rejected(format!(
                "join {}: {clashes} of its tokens belong to other instances; join without tokens to get new ones",
                inst.id
            ));
        }
    }
    ring.instances.insert(inst.id.clone(), inst.clone());
    CommandResponse::Instance(inst)
}

fn ha_elect(
    ring: &mut RingDesc,
    key: &HaKey,
    replica: &str,
    now_ms: i64,
    failover_timeout_ms: i64,
) -> CommandResponse {
    let election = match ring.ha.get_mut(key) {
        Some(e) if e.replica == replica => {
            e.last_seen_ms = e.last_seen_ms.max(now_ms);
            e.clone()
        }
        Some(e) if now_ms.saturating_sub(e.last_seen_ms) < failover_timeout_ms => e.clone(),
        _ => {
            let e = HaElection {
                replica: replica.to_string(),
                elected_at_ms: now_ms,
                last_seen_ms: now_ms,
            };
            ring.ha.insert(key.clone(), e.clone());
            e
        }
    };
    CommandResponse::HaElected {
        accepted: election.replica == replica,
        election,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desc(id: &str, zone: &str) -> InstanceDesc {
        InstanceDesc {
            id: InstanceId::new(id),
            addr: format!("{id}:9095"),
            zone: zone.to_string(),
            state: InstanceState::Joining,
            tokens: Vec::new(),
            registered_at_ms: 1000,
            read_only: false,
        }
    }

    fn joined(resp: CommandResponse) -> InstanceDesc {
        match resp {
            CommandResponse::Instance(i) => i,
            other => panic!("expected an instance, got {other:?}"),
        }
    }

    #[test]
    fn rejoin_keeps_tokens_and_registration_time() {
        let mut ring = RingDesc::default();
        let first = joined(apply(
            &mut ring,
            &Command::Join {
                instance: desc("a", "z1"),
                token_count: 16,
            },
        ));
        assert_eq!(first.tokens.len(), 16);
        let mut again = desc("a", "z1");
        again.registered_at_ms = 5000;
        again.addr = "new:9095".to_string();
        let second = joined(apply(
            &mut ring,
            &Command::Join {
                instance: again,
                token_count: 16,
            },
        ));
        assert_eq!(second.tokens, first.tokens);
        assert_eq!(second.registered_at_ms, 1000);
        assert_eq!(second.addr, "new:9095");
    }

    #[test]
    fn join_with_clashing_tokens_is_rejected_and_changes_nothing() {
        let mut ring = RingDesc::default();
        let a = joined(apply(
            &mut ring,
            &Command::Join {
                instance: desc("a", ""),
                token_count: 4,
            },
        ));
        let before = ring.clone();
        let mut b = desc("b", "");
        b.tokens = vec![a.tokens[0], 7];
        let resp = apply(
            &mut ring,
            &Command::Join {
                instance: b,
                token_count: 4,
            },
        );
        assert!(matches!(resp, CommandResponse::Rejected(_)), "{resp:?}");
        assert_eq!(ring, before);
    }

    #[test]
    fn ha_failover_only_after_timeout() {
        let mut ring = RingDesc::default();
        let key = HaKey {
            tenant: "t".to_string(),
            cluster: "c".to_string(),
        };
        let elect = |ring: &mut RingDesc, replica: &str, now_ms: i64| match apply(
            ring,
            &Command::HaElect {
                key: key.clone(),
                replica: replica.to_string(),
                now_ms,
                failover_timeout_ms: 1000,
            },
        ) {
            CommandResponse::HaElected { accepted, election } => (accepted, election.replica),
            other => panic!("unexpected {other:?}"),
        };
        assert_eq!(elect(&mut ring, "r1", 0), (true, "r1".to_string()));
        assert_eq!(elect(&mut ring, "r2", 500), (false, "r1".to_string()));
        assert_eq!(elect(&mut ring, "r1", 900), (true, "r1".to_string()));
        assert_eq!(elect(&mut ring, "r2", 1800), (false, "r1".to_string()));
        assert_eq!(elect(&mut ring, "r2", 1900), (true, "r2".to_string()));
        assert_eq!(elect(&mut ring, "r1", 1950), (false, "r2".to_string()));
    }

    #[test]
    fn update_state_of_unknown_instance_is_rejected() {
        let mut ring = RingDesc::default();
        let resp = apply(
            &mut ring,
            &Command::UpdateState {
                id: InstanceId::new("nope"),
                state: InstanceState::Active,
                read_only: None,
            },
        );
        assert!(matches!(resp, CommandResponse::Rejected(_)));
    }
}
