//! Which ingesters a read goes to when the ingesters are found on the ring, and how many of
//! them may fail.
//!
//! ```text
//!  committed ring ─► shuffle_shard_with_lookback(tenant, shard size, zone-aware, now - lookback)
//!    ─► get_all(Read, {rf, zone-aware}, heartbeat health)
//!    ─► instances (ACTIVE or LEAVING, healthy), max_errors, max_unavailable_zones
//! ```
//!
//! Every series has `rf` replicas and a write succeeded only once a quorum (`rf/2 + 1`) had it,
//! so a read that hears from all but `rf/2` instances still sees every acknowledged sample on
//! at least one replica ([`strata_storage::merge_series`] merges and deduplicates the copies).
//! With zone awareness each zone holds a full copy, so the failures may be any number of
//! instances within `rf/2` zones. More failures than that fail the read: never a silently
//! partial answer. For the same reason a read does not wait for the last tolerable
//! instances once the others answered, so a hung (partitioned) ingester does not hold reads
//! up until the query timeout.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use strata_model::TenantId;
use strata_ring::{AppliedRing, HealthView, InstanceDesc, Operation, ReplicationOptions, Ring};
use strata_storage::StorageError;
use tokio::sync::watch;

/// How reads find their ingesters on the ring.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RingReadConfig {
    /// Replicas per series, as the distributors write them.
    pub replication_factor: usize,
    /// Replicas are spread over zones.
    pub zone_awareness_enabled: bool,
    /// Ingesters per tenant (shuffle sharding); 0 reads the whole ring.
    pub tenant_shard_size: usize,
    /// Instances registered this recently may have taken over a tenant's keys, so the
    /// instances that held them before are read too.
    pub shuffle_sharding_lookback: Duration,
}

/// A live view of the committed ring and of instance health, for reads.
#[derive(Clone)]
pub struct RingTargets {
    rx: watch::Receiver<AppliedRing>,
    health: Arc<dyn Fn() -> HealthView + Send + Sync>,
    cfg: RingReadConfig,
}

impl std::fmt::Debug for RingTargets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RingTargets")
            .field("cfg", &self.cfg)
            .field("applied_index", &self.rx.borrow().applied_index)
            .finish()
    }
}

/// The instances to read for one request, and the failures the read tolerates.
#[derive(Clone, Debug, PartialEq)]
pub struct ReadTargets {
    /// `(address, zone)` of each instance to ask.
    pub instances: Vec<(String, String)>,
    /// How many of them may fail (without zone awareness).
    pub max_errors: usize,
    /// How many zones may fail entirely (with zone awareness).
    pub max_unavailable_zones: usize,
    /// Whether failures are counted by zone.
    pub zone_aware: bool,
}

impl RingTargets {
    /// Reads rings from `rx`; `health` gives heartbeat health at lookup time.
    pub fn new(
        rx: watch::Receiver<AppliedRing>,
        health: Arc<dyn Fn() -> HealthView + Send + Sync>,
        cfg: RingReadConfig,
    ) -> Self {
        Self { rx, health, cfg }
    }

    /// The instances to read for `tenant` now.
    pub fn targets(&self, tenant: &TenantId) -> Result<ReadTargets, StorageError> {
        let ring: Ring = self.rx.borrow().ring.clone();
        let since_ms = SystemTime::now()
            .checked_sub(self.cfg.shuffle_sharding_lookback)
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_millis() as i64);
        let shard = ring.shuffle_shard_with_lookback(
            tenant,
            self.cfg.tenant_shard_size,
            self.cfg.zone_awareness_enabled,
            since_ms,
        );
        let opts = ReplicationOptions {
            replication_factor: self.cfg.replication_factor,
            zone_aware: self.cfg.zone_awareness_enabled,
        };
        let set = shard
            .get_all(Operation::Read, opts, &(self.health)())
            .map_err(|e| StorageError::Unavailable(format!("ingester ring: {e}")))?;
        Ok(ReadTargets {
            instances: set
                .instances
                .iter()
                .map(|i: &InstanceDesc| (i.addr.clone(), i.zone.clone()))
                .collect(),
            max_errors: set.max_errors,
            max_unavailable_zones: set.max_unavailable_zones,
            zone_aware: self.cfg.zone_awareness_enabled,
        })
    }
}

impl ReadTargets {
    /// Every instance, failures not tolerated (a static list of ingesters).
    pub fn all_required(addrs: Vec<String>) -> Self {
        Self {
            instances: addrs.into_iter().map(|a| (a, String::new())).collect(),
            max_errors: 0,
            max_unavailable_zones: 0,
            zone_aware: false,
        }
    }

    /// Whether a read whose instances at `failed` (indexes) failed may still answer.
    pub fn tolerates(&self, failed: &[usize]) -> bool {
        if failed.is_empty() {
            return true;
        }
        if self.zone_aware {
            let zones: BTreeSet<&str> = failed
                .iter()
                .map(|&i| self.instances[i].1.as_str())
                .collect();
            zones.len() <= self.max_unavailable_zones
        } else {
            failed.len() <= self.max_errors
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn targets(zone_aware: bool, max_errors: usize, max_zones: usize) -> ReadTargets {
        ReadTargets {
            instances: ["a", "a", "b", "b", "c", "c"]
                .iter()
                .enumerate()
                .map(|(i, z)| (format!("10.0.0.{i}:9095"), z.to_string()))
                .collect(),
            max_errors,
            max_unavailable_zones: max_zones,
            zone_aware,
        }
    }

    #[test]
    fn without_zones_counts_instances() {
        let t = targets(false, 1, 0);
        assert!(t.tolerates(&[]));
        assert!(t.tolerates(&[3]));
        assert!(!t.tolerates(&[0, 3]));
        assert!(ReadTargets::all_required(vec!["x:1".into()]).tolerates(&[]));
        assert!(!ReadTargets::all_required(vec!["x:1".into()]).tolerates(&[0]));
    }

    #[test]
    fn with_zones_counts_zones() {
        let t = targets(true, 0, 1);
        assert!(t.tolerates(&[0, 1]), "one whole zone may fail");
        assert!(!t.tolerates(&[0, 2]), "two zones may not");
    }
}
