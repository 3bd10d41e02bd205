//! Shuffle sharding: each tenant gets its own small, stable sub-ring.
//!
//! For every zone (one pseudo-zone when not zone-aware), a pseudo-random sequence seeded by
//! the tenant and the zone draws points on the circle; from each point the walk takes the
//! first instance of that zone not yet chosen. The shard has `ceil(size / zones)` instances
//! per zone, so it stays zone-balanced. Draws depend only on the tenant, so every process
//! computes the same shard, and adding an instance changes a shard only where the new
//! instance's tokens come first on a walk.
//!
//! With a lookback (for the querier), an instance registered within the lookback window does
//! not end its walk: the walk goes on to the next instance, which held those keys before.

use std::collections::BTreeSet;

use strata_model::TenantId;

use super::Ring;
use crate::hash::{fnv1a64, SplitMix64};
use crate::instance::{InstanceDesc, RingDesc};

impl Ring {
    /// The tenant's shard of `size` instances (the whole ring when `size` is 0 or at least the
    /// ring's size).
    pub fn shuffle_shard(&self, tenant: &TenantId, size: usize, zone_aware: bool) -> Ring {
        self.shard(tenant, size, zone_aware, None)
    }

    /// What a querier must read for a tenant whose shard may have changed since `since_ms`:
    /// the current shard, plus the shard as it was before the instances registered at or
    /// after `since_ms` joined (those instances are walked past, as if absent).
    pub fn shuffle_shard_with_lookback(
        &self,
        tenant: &TenantId,
        size: usize,
        zone_aware: bool,
        since_ms: i64,
    ) -> Ring {
        self.shard(tenant, size, zone_aware, Some(since_ms))
    }

    fn shard(
        &self,
        tenant: &TenantId,
        size: usize,
        zone_aware: bool,
        since_ms: Option<i64>,
    ) -> Ring {
        if size == 0 || size >= self.len() || self.inner.tokens.is_empty() {
            return self.clone();
        }
        let zones: Vec<Option<&str>> = if zone_aware {
            self.zones().iter().map(|z| Some(z.as_str())).collect()
        } else {
            vec![None]
        };
        let per_zone = size.div_ceil(zones.len());
        let tokens = &self.inner.tokens;
        let instances = &self.inner.instances;
        let mut picked: BTreeSet<usize> = BTreeSet::new();
        for zone in zones {
            let in_zone = |i: &InstanceDesc| zone.is_none_or(|z| i.zone == z);
            let zone_size = instances
                .iter()
                .filter(|i| in_zone(i) && !i.tokens.is_empty())
                .count();
            let mut seed_input = tenant.as_str().as_bytes().to_vec();
            seed_input.push(0);
            seed_input.extend_from_slice(zone.unwrap_or("").as_bytes());
            let mut rng = SplitMix64::new(fnv1a64(&seed_input));
            // A slot is filled by the first instance of the walk registered before the
            // lookback; recent instances met on the way are included without filling it, so
            // the slots are filled exactly as they were before those instances joined.
            let mut slots = 0usize;
            let mut in_zone_picked = 0usize;
            while slots < per_zone.min(zone_size) && in_zone_picked < zone_size {
                let point = (rng.next_u64() >> 32) as u32;
                let start = tokens.partition_point(|(t, _)| *t < point);
                for step in 0..tokens.len() {
                    let (_, idx) = tokens[(start + step) % tokens.len()];
                    let inst = &instances[idx];
                    if !in_zone(inst) || picked.contains(&idx) {
                        continue;
                    }
                    picked.insert(idx);
                    in_zone_picked += 1;
                    if since_ms.is_none_or(|s| inst.registered_at_ms < s) {
                        slots += 1;
                        break;
                    }
                }
            }
        }
        if since_ms.is_some() {
            // Series written since the shard changed live on the current shard.
            let current = self.shard(tenant, size, zone_aware, None);
            for inst in current.instances() {
                if let Some(idx) = instances.iter().position(|i| i.id == inst.id) {
                    picked.insert(idx);
                }
            }
        }
        let desc = RingDesc {
            instances: picked
                .into_iter()
                .map(|i| (instances[i].id.clone(), instances[i].clone()))
                .collect(),
            ha: Default::default(),
        };
        Ring::new(desc)
    }
}
