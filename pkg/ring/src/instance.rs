//! The ring's replicated contents: instances and HA-tracker elections ([`RingDesc`]).
//!
//! These are plain data, serialised with serde into Raft log entries and snapshots. They
//! change only through [`crate::Command`]s applied by the state machine, so every voter and
//! every follower that watches the ring holds the same [`RingDesc`] for the same log index.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// A ring token: a point on the 32-bit hash circle. An instance owns the keys in
/// `(previous token, token]`.
pub type Token = u32;

/// The stable name of a ring member (an ingester), e.g. `ingester-zone-a-1`.
///
/// Persisted by the instance itself and reused after a restart, so a rolling restart keeps
/// its tokens and therefore its series.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct InstanceId(String);

impl InstanceId {
    /// Wraps `id`; any non-empty string is a valid instance id.
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    /// The id as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for InstanceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An instance's lifecycle state, as Mimir's ring has it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum InstanceState {
    /// Registered with tokens, not yet ready (replaying its WAL): neither read nor written;
    /// lookups skip it and extend the replication set by one instead.
    Joining,
    /// Serving writes and reads.
    Active,
    /// Shutting down gracefully: still read, no longer written.
    Leaving,
    /// Set by an operator (or derived from a stale heartbeat at lookup time, see
    /// [`crate::Health`]): neither read nor written.
    Unhealthy,
}

impl fmt::Display for InstanceState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Joining => "JOINING",
            Self::Active => "ACTIVE",
            Self::Leaving => "LEAVING",
            Self::Unhealthy => "UNHEALTHY",
        })
    }
}

/// One ring member.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceDesc {
    /// The instance's stable id.
    pub id: InstanceId,
    /// Its gRPC address, `host:port`.
    pub addr: String,
    /// Its availability zone; empty when zones are not used.
    pub zone: String,
    /// Lifecycle state.
    pub state: InstanceState,
    /// Its tokens, sorted ascending and unique across the whole ring.
    pub tokens: Vec<Token>,
    /// When it first registered, Unix milliseconds (kept across restarts that reuse the id).
    pub registered_at_ms: i64,
    /// A read-only instance keeps serving reads but takes no new series (Mimir's read-only
    /// mode, used to scale down): writes skip it.
    pub read_only: bool,
}

/// The HA tracker's key: one tenant's Prometheus cluster (`cluster` label).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct HaKey {
    /// The tenant sending.
    pub tenant: String,
    /// The value of the cluster label.
    pub cluster: String,
}

/// The replica currently accepted for one HA cluster.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HaElection {
    /// The elected `__replica__` value.
    pub replica: String,
    /// When this replica was elected, Unix milliseconds (proposer's clock).
    pub elected_at_ms: i64,
    /// The last time a sample from the elected replica refreshed the election (proposer's
    /// clock); failover is allowed once this is older than the failover timeout.
    pub last_seen_ms: i64,
}

/// The whole replicated ring: what a Raft log entry changes and a snapshot holds.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RingDesc {
    /// Every registered instance by id.
    pub instances: BTreeMap<InstanceId, InstanceDesc>,
    /// HA-tracker elections. Serialized as a list: JSON map keys must be strings.
    #[serde(with = "ha_as_list")]
    pub ha: BTreeMap<HaKey, HaElection>,
}

impl RingDesc {
    /// Every token of every instance, as `(token, owner)`, sorted by token.
    pub fn all_tokens(&self) -> Vec<(Token, &InstanceId)> {
        let mut out: Vec<(Token, &InstanceId)> = self
            .instances
            .values()
            .flat_map(|i| i.tokens.iter().map(move |t| (*t, &i.id)))
            .collect();
        out.sort_unstable();
        out
    }
}

mod ha_as_list {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::{HaElection, HaKey};

    #[derive(Serialize, Deserialize)]
    struct Pair {
        key: HaKey,
        election: HaElection,
    }

    pub fn serialize<S: Serializer>(
        map: &BTreeMap<HaKey, HaElection>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.collect_seq(map.iter().map(|(k, v)| Pair {
            key: k.clone(),
            election: v.clone(),
        }))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<BTreeMap<HaKey, HaElection>, D::Error> {
        let pairs = Vec::<Pair>::deserialize(d)?;
        Ok(pairs.into_iter().map(|p| (p.key, p.election)).collect())
    }
}
