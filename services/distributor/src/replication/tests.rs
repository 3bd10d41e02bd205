//! Placement and quorum aggregation, without a network.

use std::collections::BTreeMap;
use std::time::Duration;

use strata_proto::ingester::{PushResponse, SampleError};
use strata_proto::prometheus::{Label, Sample, TimeSeries, WriteRequest};
use strata_ring::{HeartbeatTracker, InstanceDesc, InstanceId, InstanceState, Ring, RingDesc};
use tokio::time::Instant;

use super::*;

fn ring(n: usize, zones: bool) -> Ring {
    let mut instances = BTreeMap::new();
    for i in 0..n {
        let id = InstanceId::new(format!("ing-{i}"));
        // Interleaved tokens: every instance owns a fair share of the circle.
        let tokens = (0..16u32)
            .map(|t| (t * n as u32 + i as u32) * (u32::MAX / (16 * n as u32)))
            .collect();
        instances.insert(
            id.clone(),
            InstanceDesc {
                id,
                addr: format!("10.0.0.{i}:9095"),
                zone: if zones {
                    format!("z{}", i % 3)
                } else {
                    String::new()
                },
                state: InstanceState::Active,
                tokens,
                registered_at_ms: 0,
                read_only: false,
            },
        );
    }
    Ring::new(RingDesc {
        instances,
        ha: BTreeMap::new(),
    })
}

fn never_judging() -> HealthView {
    HeartbeatTracker::new(Duration::from_secs(60)).view(Instant::now())
}

fn request(n: usize) -> WriteRequest {
    WriteRequest {
        timeseries: (0..n)
            .map(|i| TimeSeries {
                labels: vec![
                    Label {
                        name: "__name__".into(),
                        value: "m".into(),
                    },
                    Label {
                        name: "i".into(),
                        value: i.to_string(),
                    },
                ],
                samples: vec![Sample {
                    value: 1.0,
                    timestamp: 1,
                }],
                ..Default::default()
            })
            .collect(),
        metadata: Vec::new(),
    }
}

fn opts(rf: usize) -> ReplicationOptions {
    ReplicationOptions {
        replication_factor: rf,
        zone_aware: false,
    }
}

#[test]
fn every_series_goes_to_rf_distinct_ingesters() {
    let r = ring(5, false);
    let plan = plan("t", request(300), &r, opts(3), &never_judging()).expect("plan");
    assert_eq!(plan.items.len(), 300);
    for p in &plan.items {
        assert_eq!(p.replicas.len(), 3);
        assert_eq!(p.min_success, 2);
        let mut d = p.replicas.clone();
        d.sort_unstable();
        d.dedup();
        assert_eq!(d.len(), 3, "replicas are distinct ingesters");
    }
    let total: usize = plan.batches.iter().map(|b| b.timeseries.len()).sum();
    assert_eq!(total, 900, "three copies of each series");
    assert_eq!(plan.batch_items.iter().sum::<usize>(), 900);
    // Five ingesters share the load.
    assert_eq!(plan.addrs.len(), 5);
    assert!(plan.batches.iter().all(|b| b.timeseries.len() > 60));
    // Placement is deterministic.
    let again = plan_fn(&r);
    assert_eq!(again, plan.items);
}

fn plan_fn(r: &Ring) -> Vec<Placement> {
    plan("t", request(300), r, opts(3), &never_judging())
        .expect("plan")
        .items
}

#[test]
fn zone_aware_placement_uses_every_zone() {
    let r = ring(6, true);
    let o = ReplicationOptions {
        replication_factor: 3,
        zone_aware: true,
    };
    let plan = plan("t", request(100), &r, o, &never_judging()).expect("plan");
    for p in &plan.items {
        let zones: std::collections::BTreeSet<&str> = p
            .replicas
            .iter()
            .map(|&i| {
                let addr = &plan.addrs[i];
                r.instances()
                    .iter()
                    .find(|x| &x.addr == addr)
                    .map(|x| x.zone.as_str())
                    .expect("instance")
            })
            .collect();
        assert_eq!(zones.len(), 3);
    }
}

#[test]
fn too_few_ingesters_for_a_quorum_is_unavailable() {
    let r = ring(1, false);
    let err = plan("t", request(1), &r, opts(3), &never_judging()).expect_err("no quorum");
    assert_eq!(err.status().as_u16(), 503, "{err}");
    // With RF 1, one ingester is enough.
    assert!(plan("t", request(1), &r, opts(1), &never_judging()).is_ok());
}

fn ok(samples: u64) -> Result<PushResponse, PushError> {
    Ok(PushResponse {
        samples_appended: samples,
        ..Default::default()
    })
}

fn down(addr: &str) -> Result<PushResponse, PushError> {
    Err(PushError::IngesterUnavailable {
        addr: addr.into(),
        message: "connection refused".into(),
    })
}

fn bad(addr: &str) -> Result<PushResponse, PushError> {
    Err(PushError::BadData(format!(
        "push to ingester {addr}: invalid argument"
    )))
}

fn three_replicas(items: usize) -> (Vec<Placement>, Vec<usize>) {
    let p = Placement {
        replicas: vec![0, 1, 2],
        min_success: 2,
    };
    (vec![p; items], vec![items; 3])
}

#[test]
fn one_replica_down_still_succeeds_and_counts_once() {
    let (items, per_batch) = three_replicas(10);
    let out = aggregate(&items, &per_batch, vec![ok(10), down("b"), ok(10)]);
    assert!(out.failures.is_empty(), "{:?}", out.failures);
    assert_eq!(
        out.samples_appended, 10,
        "samples counted once, not per replica"
    );
}

#[test]
fn two_replicas_down_fails_with_5xx() {
    let (items, per_batch) = three_replicas(10);
    let out = aggregate(&items, &per_batch, vec![down("a"), down("b"), ok(10)]);
    assert_eq!(out.failures.len(), 1);
    assert_eq!(out.failures[0].status().as_u16(), 503);
}

#[test]
fn bad_data_from_a_quorum_is_4xx_but_one_bad_replica_is_not_reported() {
    let (items, per_batch) = three_replicas(4);
    let out = aggregate(&items, &per_batch, vec![bad("a"), bad("b"), ok(4)]);
    assert_eq!(out.failures.len(), 1);
    assert_eq!(out.failures[0].status().as_u16(), 400);
    let out = aggregate(&items, &per_batch, vec![bad("a"), ok(4), ok(4)]);
    assert!(out.failures.is_empty(), "{:?}", out.failures);
    // One bad and two down: no quorum answered at all, so the client must retry (5xx).
    let out = aggregate(&items, &per_batch, vec![bad("a"), down("b"), down("c")]);
    assert_eq!(out.failures.len(), 1);
    assert_eq!(out.failures[0].status().as_u16(), 503);
}

#[test]
fn per_sample_errors_are_reported_once() {
    let (items, per_batch) = three_replicas(2);
    let with_error = || {
        Ok(PushResponse {
            samples_appended: 1,
            samples_rejected: 1,
            errors: vec![SampleError {
                message: "out of order sample".into(),
                ..Default::default()
            }],
            ..Default::default()
        })
    };
    let out = aggregate(
        &items,
        &per_batch,
        vec![with_error(), with_error(), with_error()],
    );
    assert!(out.failures.is_empty());
    assert_eq!(out.samples_appended, 1);
    assert_eq!(out.samples_rejected, 1);
    assert_eq!(out.sample_errors.len(), 1);
}

#[test]
fn counts_are_attributed_to_the_first_answering_replica() {
    // Item 0 on [0, 1], item 1 on [1, 2] (rf 2, quorum 2 of 2... here min 1 for the test).
    let items = vec![
        Placement {
            replicas: vec![0, 1],
            min_success: 1,
        },
        Placement {
            replicas: vec![1, 2],
            min_success: 1,
        },
    ];
    let per_batch = vec![1, 2, 1];
    let out = aggregate(&items, &per_batch, vec![down("a"), ok(2), ok(1)]);
    assert!(out.failures.is_empty());
    // Batch 1 answered first for both items: its two samples, counted once.
    assert_eq!(out.samples_appended, 2);
}

#[test]
fn decided_once_every_item_has_a_quorum_or_cannot_reach_one() {
    let (items, _) = three_replicas(3);
    assert!(!decided(&items, &[Some(ok(1)), None, None]));
    assert!(
        decided(&items, &[Some(ok(1)), None, Some(ok(1))]),
        "2 of 3 is a quorum"
    );
    assert!(!decided(&items, &[Some(ok(1)), Some(down("b")), None]));
    assert!(
        decided(&items, &[Some(down("a")), Some(down("b")), None]),
        "cannot reach 2"
    );
}
