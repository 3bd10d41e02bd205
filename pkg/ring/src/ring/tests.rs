//! Property and unit tests of placement, ownership and shuffle sharding.

use std::collections::BTreeSet;

use proptest::prelude::*;
use strata_model::TenantId;

use super::*;
use crate::command::{apply, Command};

/// Joins `n` instances round-robin over `zones` zones, each with `tokens` spread tokens, all
/// ACTIVE; instance `i` registers at `i * 1000` ms.
fn build(n: usize, zones: usize, tokens: usize) -> RingDesc {
    let mut desc = RingDesc::default();
    for i in 0..n {
        let zone = if zones == 0 {
            String::new()
        } else {
            format!("zone-{}", i % zones)
        };
        let inst = InstanceDesc {
            id: InstanceId::new(format!("ingester-{i:02}")),
            addr: format!("127.0.0.1:{}", 9000 + i),
            zone,
            state: InstanceState::Active,
            tokens: Vec::new(),
            registered_at_ms: i as i64 * 1000,
            read_only: false,
        };
        apply(
            &mut desc,
            &Command::Join {
                instance: inst,
                token_count: tokens,
            },
        );
    }
    desc
}

fn ids(set: &ReplicationSet) -> Vec<&str> {
    set.instances.iter().map(|i| i.id.as_str()).collect()
}

fn tenant(s: &str) -> TenantId {
    TenantId::new(s).expect("valid tenant")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn each_key_maps_to_rf_distinct_instances(
        n in 1usize..12, zones in 0usize..4, rf in 1usize..4, keys in prop::collection::vec(any::<u32>(), 1..50)
    ) {
        prop_assume!(n >= rf);
        let ring = Ring::new(build(n, zones, 32));
        let opts = ReplicationOptions { replication_factor: rf, zone_aware: false };
        for key in keys {
            let set = ring.get(key, Operation::Write, opts, &AllHealthy).expect("lookup");
            let distinct: BTreeSet<&str> = ids(&set).into_iter().collect();
            prop_assert_eq!(set.instances.len(), rf);
            prop_assert_eq!(distinct.len(), set.instances.len());
        }
    }

    #[test]
    fn spread_tokens_are_unique_and_complete(n in 1usize..15, zones in 0usize..4, tokens in 1usize..64) {
        let desc = build(n, zones, tokens);
        let all = desc.all_tokens();
        let distinct: BTreeSet<Token> = all.iter().map(|(t, _)| *t).collect();
        prop_assert_eq!(all.len(), n * tokens);
        prop_assert_eq!(distinct.len(), all.len());
    }

    #[test]
    fn zone_aware_sets_span_distinct_zones(
        zones in 3usize..6, per_zone in 1usize..4, rf in 1usize..4, keys in prop::collection::vec(any::<u32>(), 1..50)
    ) {
        let ring = Ring::new(build(zones * per_zone, zones, 32));
        let opts = ReplicationOptions { replication_factor: rf, zone_aware: true };
        for key in keys {
            let set = ring.get(key, Operation::Write, opts, &AllHealthy).expect("lookup");
            prop_assert_eq!(set.instances.len(), rf);
            prop_assert_eq!(set.zones().len(), rf);
        }
    }

    #[test]
    fn lookups_and_shards_are_deterministic(
        n in 3usize..12, zones in 0usize..4, key in any::<u32>(), t in "[a-z]{1,8}", size in 1usize..6
    ) {
        let a = Ring::new(build(n, zones, 16));
        let b = Ring::new(build(n, zones, 16));
        let opts = ReplicationOptions { replication_factor: 3, zone_aware: zones >= 3 };
        let sa = a.get(key, Operation::Write, opts, &AllHealthy).expect("lookup");
        let sb = b.get(key, Operation::Write, opts, &AllHealthy).expect("lookup");
        prop_assert_eq!(ids(&sa), ids(&sb));
        let tenant = tenant(&t);
        let ha: Vec<InstanceId> = a.shuffle_shard(&tenant, size, zones >= 3).instances().iter().map(|i| i.id.clone()).collect();
        let hb: Vec<InstanceId> = b.shuffle_shard(&tenant, size, zones >= 3).instances().iter().map(|i| i.id.clone()).collect();
        prop_assert_eq!(ha, hb);
    }

    #[test]
    fn shuffle_shards_are_sized_and_zone_balanced(
        zones in 1usize..4, per_zone in 2usize..6, size in 1usize..9, t in "[a-z0-9]{1,10}"
    ) {
        let n = zones * per_zone;
        let ring = Ring::new(build(n, zones, 16));
        let shard = ring.shuffle_shard(&tenant(&t), size, true);
        if size >= n {
            prop_assert_eq!(shard.len(), n);
        } else {
            let per = size.div_ceil(zones).min(per_zone);
            prop_assert_eq!(shard.len(), per * zones);
            for z in ring.zones() {
                prop_assert_eq!(shard.instances().iter().filter(|i| &i.zone == z).count(), per);
            }
        }
    }

    #[test]
    fn lookback_shard_covers_old_and_new_shards(
        n in 4usize..12, size in 1usize..5, t in "[a-z0-9]{1,10}"
    ) {
        let old = Ring::new(build(n, 0, 16));
        let new = Ring::new(build(n + 1, 0, 16));
        let newest = (n as i64) * 1000;
        let tenant = tenant(&t);
        let look: BTreeSet<InstanceId> = new
            .shuffle_shard_with_lookback(&tenant, size, false, newest)
            .instances().iter().map(|i| i.id.clone()).collect();
        for inst in old.shuffle_shard(&tenant, size, false).instances() {
            prop_assert!(look.contains(&inst.id), "old shard member {} missing", inst.id);
        }
        for inst in new.shuffle_shard(&tenant, size, false).instances() {
            prop_assert!(look.contains(&inst.id), "new shard member {} missing", inst.id);
        }
    }
}

/// Ownership with 128 spread tokens stays within `bound` of even, per zone.
fn max_min_ownership_ratio(n: usize, zones: usize) -> f64 {
    let r = max_min_ratio_inner(n, zones);
    eprintln!("{n} instances, {zones} zones: max/min ownership {r:.4}");
    r
}

fn max_min_ratio_inner(n: usize, zones: usize) -> f64 {
    let desc = build(n, zones, 128);
    let mut worst: f64 = 1.0;
    let zone_names: BTreeSet<String> = desc.instances.values().map(|i| i.zone.clone()).collect();
    for zone in zone_names {
        let mut sub = desc.clone();
        sub.instances.retain(|_, i| i.zone == zone);
        let own = Ring::new(sub).ownership();
        let max = own.values().copied().fold(0.0, f64::max);
        let min = own.values().copied().fold(1.0, f64::min);
        worst = worst.max(max / min);
    }
    worst
}

#[test]
fn spread_tokens_keep_ownership_even() {
    for n in 3..=10 {
        let ratio = max_min_ownership_ratio(n, 0);
        assert!(ratio < 1.05, "{n} instances: max/min ownership {ratio:.3}");
    }
    for n in [3, 6, 9, 12, 15] {
        let ratio = max_min_ownership_ratio(n, 3);
        assert!(
            ratio < 1.05,
            "{n} instances in 3 zones: max/min ownership {ratio:.3}"
        );
    }
}

#[test]
fn first_instances_of_zones_interleave() {
    // One instance per zone, zone names differing in one letter (as in docker-compose.yml):
    // over the whole ring none may own almost everything (the zones' token offsets must not
    // nearly coincide).
    for names in [
        ["zone-a", "zone-b", "zone-c"],
        ["a", "b", "c"],
        ["eu-1", "eu-2", "eu-3"],
    ] {
        let mut desc = build(3, 0, 128);
        for (inst, zone) in desc.instances.values_mut().zip(names) {
            inst.zone = zone.to_string();
            inst.tokens.clear();
        }
        let mut fresh = RingDesc::default();
        for inst in desc.instances.into_values() {
            apply(
                &mut fresh,
                &Command::Join {
                    instance: inst,
                    token_count: 128,
                },
            );
        }
        let own = Ring::new(fresh).ownership();
        for (id, share) in &own {
            assert!(
                (0.05..0.8).contains(share),
                "{names:?}: {id} owns {:.2} % of the ring",
                share * 100.0
            );
        }
    }
}

#[test]
fn ownership_sums_to_one() {
    let own = Ring::new(build(7, 0, 64)).ownership();
    let total: f64 = own.values().sum();
    assert!((total - 1.0).abs() < 1e-9, "total {total}");
}

#[test]
fn write_skips_non_active_and_extends_the_set() {
    let mut desc = build(6, 0, 32);
    let ring = Ring::new(desc.clone());
    let opts = ReplicationOptions::default();
    let key = 12345;
    let before = ring
        .get(key, Operation::Write, opts, &AllHealthy)
        .expect("lookup");
    let first = before.instances[0].id.clone();
    if let Some(i) = desc.instances.get_mut(&first) {
        i.state = InstanceState::Joining;
    }
    let ring = Ring::new(desc);
    let after = ring
        .get(key, Operation::Write, opts, &AllHealthy)
        .expect("lookup");
    assert_eq!(after.instances.len(), 3);
    assert!(!ids(&after).contains(&first.as_str()));
    // The two other replicas are unchanged; one new instance takes the joining one's place.
    assert_eq!(ids(&after)[..2], ids(&before)[1..]);
}

#[test]
fn leaving_instances_are_read_but_not_written() {
    let mut desc = build(5, 0, 32);
    let ring = Ring::new(desc.clone());
    let opts = ReplicationOptions::default();
    let first = ring
        .get(7, Operation::Read, opts, &AllHealthy)
        .expect("lookup")
        .instances[0]
        .id
        .clone();
    if let Some(i) = desc.instances.get_mut(&first) {
        i.state = InstanceState::Leaving;
    }
    let ring = Ring::new(desc);
    let read = ring
        .get(7, Operation::Read, opts, &AllHealthy)
        .expect("read");
    let write = ring
        .get(7, Operation::Write, opts, &AllHealthy)
        .expect("write");
    assert!(ids(&read).contains(&first.as_str()));
    assert!(!ids(&write).contains(&first.as_str()));
    assert_eq!(write.instances.len(), 3);
}

struct Dead(BTreeSet<String>);

impl Health for Dead {
    fn is_healthy(&self, instance: &InstanceDesc) -> bool {
        !self.0.contains(instance.id.as_str())
    }
}

#[test]
fn quorum_is_required() {
    let ring = Ring::new(build(3, 0, 32));
    let opts = ReplicationOptions::default();
    let one = Dead(["ingester-00".to_string()].into());
    let set = ring
        .get(99, Operation::Write, opts, &one)
        .expect("one down is fine");
    assert_eq!((set.instances.len(), set.max_errors), (2, 0));
    let two = Dead(["ingester-00".to_string(), "ingester-01".to_string()].into());
    let err = ring
        .get(99, Operation::Write, opts, &two)
        .expect_err("two down");
    assert!(
        matches!(
            err,
            RingError::TooFewHealthy {
                needed: 2,
                found: 1,
                ..
            }
        ),
        "{err}"
    );
    assert!(ring.get_all(Operation::Read, opts, &two).is_err());
    let all = ring.get_all(Operation::Read, opts, &one).expect("read all");
    assert_eq!((all.instances.len(), all.max_errors), (2, 0));
}

#[test]
fn zone_aware_read_drops_a_zone_with_a_dead_instance() {
    let ring = Ring::new(build(6, 3, 32));
    let opts = ReplicationOptions {
        replication_factor: 3,
        zone_aware: true,
    };
    let dead = Dead(["ingester-00".to_string()].into());
    let set = ring
        .get_all(Operation::Read, opts, &dead)
        .expect("one zone down");
    assert_eq!(set.instances.len(), 4);
    assert!(!set.zones().contains("zone-0"));
    assert_eq!(set.max_unavailable_zones, 0);
    let two_zones = Dead(["ingester-00".to_string(), "ingester-01".to_string()].into());
    assert!(ring.get_all(Operation::Read, opts, &two_zones).is_err());
}

#[test]
fn empty_ring_lookup_fails() {
    let ring = Ring::new(RingDesc::default());
    let err = ring
        .get(
            1,
            Operation::Write,
            ReplicationOptions::default(),
            &AllHealthy,
        )
        .expect_err("empty");
    assert!(matches!(err, RingError::EmptyRing));
}
