//! Lookups on a committed [`RingDesc`]: replication sets, ownership, shuffle shards.
//!
//! A [`Ring`] is built once per committed ring state (it sorts every token) and then
//! answers lookups without locks. Key placement walks the circle clockwise from the first
//! token `>= key`:
//!
//! ```text
//!   key ──► t17(ing-2, zone b) ──► t18(ing-2) skip ──► t19(ing-5, zone b) skip zone
//!        ──► t20(ing-1, zone a) ──► t21(ing-3, zone c)     => [ing-2, ing-1, ing-3]
//! ```
//!
//! Instances already chosen are skipped and, when zone-aware, so are instances of zones
//! already chosen. An instance that the operation cannot use (JOINING, UNHEALTHY, read-only
//! for writes, LEAVING for writes) still takes its place but extends the walk by one, as
//! Mimir does, so a key's data lands on (or is read from) the next instance instead. Then the
//! set is filtered to the healthy instances and must keep a quorum, `rf/2 + 1`.

mod shuffle;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::distributors::{RingContents, RingContentsRef};
use crate::error::RingError;
use crate::instance::{InstanceDesc, InstanceId, InstanceState, RingDesc, Token};

/// What a lookup is for: decides which states are usable and which extend the set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    /// Placing samples: only ACTIVE, writable instances take writes.
    Write,
    /// Querying: ACTIVE and LEAVING instances hold data.
    Read,
}

impl Operation {
    /// Whether an instance in this state can serve the operation.
    pub fn accepts(self, instance: &InstanceDesc) -> bool {
        match self {
            Self::Write => instance.state == InstanceState::Active && !instance.read_only,
            Self::Read => matches!(
                instance.state,
                InstanceState::Active | InstanceState::Leaving
            ),
        }
    }

    /// Whether meeting this instance on the walk extends the replication set by one, so the
    /// key still reaches `rf` usable instances.
    pub fn extends_on(self, instance: &InstanceDesc) -> bool {
        !self.accepts(instance)
    }

    fn name(self) -> &'static str {
        match self {
            Self::Write => "write",
            Self::Read => "read",
        }
    }
}

/// Decides whether an instance is alive right now. The ring itself holds no heartbeats; see
/// [`crate::HealthView`] for the heartbeat-based judgement and [`AllHealthy`] for none.
pub trait Health {
    /// Whether `instance` counts as alive.
    fn is_healthy(&self, instance: &InstanceDesc) -> bool;
}

/// Treats every instance as alive (only the stored state counts).
#[derive(Clone, Copy, Debug, Default)]
pub struct AllHealthy;

impl Health for AllHealthy {
    fn is_healthy(&self, _instance: &InstanceDesc) -> bool {
        true
    }
}

/// How lookups place replicas.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReplicationOptions {
    /// Replicas per key (3 by default).
    pub replication_factor: usize,
    /// Put each replica in a different zone.
    pub zone_aware: bool,
}

impl Default for ReplicationOptions {
    fn default() -> Self {
        Self {
            replication_factor: 3,
            zone_aware: false,
        }
    }
}

/// The instances to send one request to, and how many of them may fail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplicationSet {
    /// The healthy instances, in walk order.
    pub instances: Vec<InstanceDesc>,
    /// How many of `instances` may fail while the request still succeeds.
    pub max_errors: usize,
    /// With zone awareness: how many whole zones may fail (the caller may then skip waiting for
    /// a zone). Zero otherwise.
    pub max_unavailable_zones: usize,
}

impl ReplicationSet {
    /// How many instances must succeed.
    pub fn min_success(&self) -> usize {
        self.instances.len().saturating_sub(self.max_errors)
    }

    /// The distinct zones of the set's instances.
    pub fn zones(&self) -> BTreeSet<&str> {
        self.instances.iter().map(|i| i.zone.as_str()).collect()
    }
}

/// A committed ring state ready for lookups. Cheap to clone (shared).
#[derive(Clone, Debug)]
pub struct Ring {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    desc: Arc<RingDesc>,
    /// Instances in id order; tokens refer to them by index.
    instances: Vec<InstanceDesc>,
    /// Every token with its owner's index, sorted by token.
    tokens: Vec<(Token, usize)>,
    /// Distinct zones, sorted.
    zones: Vec<String>,
    /// Registered distributors (never part of lookups).
    distributors: BTreeMap<InstanceId, InstanceDesc>,
}

impl Ring {
    /// Builds the lookup structure for everything the state machine holds.
    pub fn from_contents(contents: RingContents) -> Self {
        let mut ring = Self::new(contents.desc);
        if !contents.distributors.is_empty() {
            if let Some(inner) = Arc::get_mut(&mut ring.inner) {
                inner.distributors = contents.distributors;
            }
        }
        ring
    }

    /// Registered distributors by id (see [`crate::distributors`]).
    pub fn distributors(&self) -> &BTreeMap<InstanceId, InstanceDesc> {
        &self.inner.distributors
    }

    /// JSON of the ring's contents (ring and distributors), as snapshots and the watch
    /// stream carry them.
    pub fn encode_contents(&self) -> Result<Vec<u8>, serde_json::Error> {
        serde_json::to_vec(&RingContentsRef {
            desc: &self.inner.desc,
            distributors: &self.inner.distributors,
        })
    }

    /// Builds the lookup structure for `desc` (no distributors).
    pub fn new(desc: impl Into<Arc<RingDesc>>) -> Self {
        let desc: Arc<RingDesc> = desc.into();
        let instances: Vec<InstanceDesc> = desc.instances.values().cloned().collect();
        let mut tokens: Vec<(Token, usize)> = instances
            .iter()
            .enumerate()
            .flat_map(|(i, inst)| inst.tokens.iter().map(move |t| (*t, i)))
            .collect();
        tokens.sort_unstable();
        let zones: BTreeSet<String> = instances.iter().map(|i| i.zone.clone()).collect();
        Self {
            inner: Arc::new(Inner {
                desc,
                instances,
                tokens,
                zones: zones.into_iter().collect(),
                distributors: BTreeMap::new(),
            }),
        }
    }

    /// The ring's contents.
    pub fn desc(&self) -> &Arc<RingDesc> {
        &self.inner.desc
    }

    /// Every instance, in id order.
    pub fn instances(&self) -> &[InstanceDesc] {
        &self.inner.instances
    }

    /// One instance by id.
    pub fn instance(&self, id: &InstanceId) -> Option<&InstanceDesc> {
        self.inner.desc.instances.get(id)
    }

    /// The distinct zones, sorted.
    pub fn zones(&self) -> &[String] {
        &self.inner.zones
    }

    /// The number of instances.
    pub fn len(&self) -> usize {
        self.inner.instances.len()
    }

    /// Whether the ring has no instance.
    pub fn is_empty(&self) -> bool {
        self.inner.instances.is_empty()
    }

    /// The replication set for `key`: up to `rf` instances (more when some met on the walk
    /// cannot serve `op`), filtered to the healthy ones, which must be a quorum.
    pub fn get(
        &self,
        key: Token,
        op: Operation,
        opts: ReplicationOptions,
        health: &dyn Health,
    ) -> Result<ReplicationSet, RingError> {
        let picked = self.walk(key, op, opts)?;
        let quorum = opts.replication_factor / 2 + 1;
        let healthy: Vec<InstanceDesc> = picked
            .into_iter()
            .map(|i| &self.inner.instances[i])
            .filter(|i| op.accepts(i) && health.is_healthy(i))
            .cloned()
            .collect();
        if healthy.len() < quorum {
            return Err(RingError::TooFewHealthy {
                op: op.name(),
                needed: quorum,
                found: healthy.len(),
            });
        }
        let max_errors = healthy.len() - quorum;
        Ok(ReplicationSet {
            max_unavailable_zones: if opts.zone_aware { max_errors } else { 0 },
            instances: healthy,
            max_errors,
        })
    }

    /// The instance indexes a key walks to, before health filtering.
    fn walk(
        &self,
        key: Token,
        op: Operation,
        opts: ReplicationOptions,
    ) -> Result<Vec<usize>, RingError> {
        let tokens = &self.inner.tokens;
        if tokens.is_empty() {
            return Err(RingError::EmptyRing);
        }
        let instances = &self.inner.instances;
        let with_tokens = instances.iter().filter(|i| !i.tokens.is_empty()).count();
        let mut want = opts.replication_factor.min(with_tokens);
        let start = tokens.partition_point(|(t, _)| *t < key);
        let mut picked: Vec<usize> = Vec::with_capacity(want + 2);
        let mut zones: Vec<&str> = Vec::with_capacity(want + 2);
        // First pass honours zones; a second pass (only when there are fewer zones than
        // replicas) fills the rest from zones already used.
        for zone_pass in [opts.zone_aware, false] {
            for step in 0..tokens.len() {
                if picked.len() >= want {
                    break;
                }
                let (_, idx) = tokens[(start + step) % tokens.len()];
                let inst = &instances[idx];
                if picked.contains(&idx) || (zone_pass && zones.contains(&inst.zone.as_str())) {
                    continue;
                }
                picked.push(idx);
                zones.push(&inst.zone);
                if op.extends_on(inst) {
                    want = (want + 1).min(with_tokens);
                }
            }
            if picked.len() >= want || !opts.zone_aware {
                break;
            }
        }
        Ok(picked)
    }

    /// Every instance that may hold data for a read across the whole ring (the querier's set
    /// without shuffle sharding), and how many failures a read tolerates.
    ///
    /// Without zones, up to `rf/2` unhealthy instances are tolerated. With zones, up to `rf/2`
    /// zones may hold unhealthy instances; those zones are dropped whole, since each
    /// remaining zone has a full copy.
    pub fn get_all(
        &self,
        op: Operation,
        opts: ReplicationOptions,
        health: &dyn Health,
    ) -> Result<ReplicationSet, RingError> {
        if self.is_empty() {
            return Err(RingError::EmptyRing);
        }
        let tolerated = opts.replication_factor / 2;
        let usable = |i: &InstanceDesc| op.accepts(i) && health.is_healthy(i);
        // Instances that could never have been written (JOINING) are not failures.
        let failed = |i: &InstanceDesc| !usable(i) && i.state != InstanceState::Joining;
        if opts.zone_aware {
            let bad_zones: BTreeSet<&str> = self
                .instances()
                .iter()
                .filter(|i| failed(i))
                .map(|i| i.zone.as_str())
                .collect();
            if bad_zones.len() > tolerated {
                return Err(RingError::TooManyZonesUnavailable {
                    op: op.name(),
                    unavailable: bad_zones.len(),
                    allowed: tolerated,
                });
            }
            let instances: Vec<InstanceDesc> = self
                .instances()
                .iter()
                .filter(|i| usable(i) && !bad_zones.contains(i.zone.as_str()))
                .cloned()
                .collect();
            return Ok(ReplicationSet {
                instances,
                max_errors: 0,
                max_unavailable_zones: tolerated - bad_zones.len(),
            });
        }
        let bad = self.instances().iter().filter(|i| failed(i)).count();
        if bad > tolerated {
            return Err(RingError::TooFewHealthy {
                op: op.name(),
                needed: self.len() - tolerated,
                found: self.len() - bad,
            });
        }
        Ok(ReplicationSet {
            instances: self
                .instances()
                .iter()
                .filter(|i| usable(i))
                .cloned()
                .collect(),
            max_errors: tolerated - bad,
            max_unavailable_zones: 0,
        })
    }

    /// The share of the hash circle each instance owns as the first replica, `0.0..=1.0`.
    pub fn ownership(&self) -> BTreeMap<InstanceId, f64> {
        let mut owned = vec![0u64; self.inner.instances.len()];
        let tokens = &self.inner.tokens;
        for (j, (token, idx)) in tokens.iter().enumerate() {
            let len = if tokens.len() == 1 {
                1u64 << 32
            } else {
                let prev = tokens[(j + tokens.len() - 1) % tokens.len()].0;
                u64::from(token.wrapping_sub(prev))
            };
            owned[*idx] += len;
        }
        self.inner
            .instances
            .iter()
            .zip(owned)
            .map(|(i, o)| (i.id.clone(), o as f64 / (1u64 << 32) as f64))
            .collect()
    }

    /// Instances registered at or after `since_ms` (Unix ms): they may have taken over keys
    /// whose older samples still sit on the instances that owned them before.
    pub fn instances_registered_since(&self, since_ms: i64) -> Vec<&InstanceDesc> {
        self.inner
            .instances
            .iter()
            .filter(|i| i.registered_at_ms >= since_ms)
            .collect()
    }
}
