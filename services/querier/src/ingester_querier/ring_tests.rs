//! Reads over the ring's read set: replicas merged, `rf/2` failed ingesters tolerated, more
//! refused with `Unavailable`.

use std::collections::BTreeMap;
use std::time::Duration;

use strata_model::Sample;
use strata_ring::{
    AppliedRing, HeartbeatTracker, InstanceDesc, InstanceId, InstanceState, Ring, RingDesc,
};

use super::*;
use crate::ring_targets::{RingReadConfig, RingTargets};
use crate::test_support::{spawn_ingester, FakeIngester, FakeSeries};

fn replica(samples: &[(i64, f64)]) -> FakeIngester {
    FakeIngester {
        series: vec![FakeSeries::new(
            "t1",
            &[("__name__", "up"), ("job", "a")],
            samples,
        )],
        ..Default::default()
    }
}

/// A pool over a ring of `addrs` (one instance each, its own zone when `zones`), RF 3.
fn pool(addrs: &[String], zones: bool) -> Arc<IngesterPool> {
    let mut instances = BTreeMap::new();
    for (i, addr) in addrs.iter().enumerate() {
        let id = InstanceId::new(format!("ing-{i}"));
        instances.insert(
            id.clone(),
            InstanceDesc {
                id,
                addr: addr.clone(),
                zone: if zones {
                    format!("z{i}")
                } else {
                    String::new()
                },
                state: InstanceState::Active,
                tokens: vec![(i as u32 + 1) * 1000],
                registered_at_ms: 0,
                read_only: false,
            },
        );
    }
    let ring = Ring::new(RingDesc {
        instances,
        ha: BTreeMap::new(),
    });
    let (tx, rx) = tokio::sync::watch::channel(AppliedRing {
        ring,
        applied_index: 1,
    });
    // The receiver keeps the last value after the sender is gone.
    drop(tx);
    let tracker = Arc::new(HeartbeatTracker::new(Duration::from_secs(60)));
    let targets = RingTargets::new(
        rx,
        Arc::new(move || tracker.view(tokio::time::Instant::now())),
        RingReadConfig {
            replication_factor: 3,
            zone_awareness_enabled: zones,
            tenant_shard_size: 0,
            shuffle_sharding_lookback: Duration::from_secs(3600),
        },
    );
    Arc::new(IngesterPool::with_ring(targets).expect("pool"))
}

fn hints() -> SelectHints {
    SelectHints {
        start: 0,
        end: 100,
        ..Default::default()
    }
}

async fn select_up(pool: &Arc<IngesterPool>) -> Result<Vec<Series>, StorageError> {
    pool.querier(TenantId::new("t1").expect("tenant"))
        .select(&hints(), &[Matcher::equal("__name__", "up")])
        .await
}

#[tokio::test]
async fn one_failed_replica_is_tolerated_and_replicas_merge() {
    for zones in [false, true] {
        // Replica 1 missed sample 3 (it was down), replica 2 has it; the third is down.
        let addrs = vec![
            spawn_ingester(replica(&[(1, 1.0), (2, 2.0)])).await,
            spawn_ingester(replica(&[(1, 1.0), (2, 2.0), (3, 3.0)])).await,
            spawn_ingester(FakeIngester {
                fail: true,
                ..Default::default()
            })
            .await,
        ];
        let series = select_up(&pool(&addrs, zones)).await.expect("tolerated");
        assert_eq!(series.len(), 1);
        assert_eq!(
            series[0].samples().expect("decodes"),
            vec![
                Sample::new(1, 1.0),
                Sample::new(2, 2.0),
                Sample::new(3, 3.0)
            ],
            "zones={zones}"
        );
    }
}

#[tokio::test]
async fn two_failed_replicas_fail_the_read() {
    for zones in [false, true] {
        let down = || FakeIngester {
            fail: true,
            ..Default::default()
        };
        let addrs = vec![
            spawn_ingester(replica(&[(1, 1.0)])).await,
            spawn_ingester(down()).await,
            spawn_ingester(down()).await,
        ];
        let err = select_up(&pool(&addrs, zones))
            .await
            .expect_err("two of three down");
        assert!(matches!(err, StorageError::Unavailable(_)), "{err}");
    }
}

#[tokio::test]
async fn an_empty_ring_is_unavailable() {
    let err = select_up(&pool(&[], false))
        .await
        .expect_err("no ingesters");
    assert!(matches!(err, StorageError::Unavailable(_)), "{err}");
}
