//! The HA tracker: of the Prometheus replicas of one HA cluster (series labelled
//! `cluster` and `__replica__`, names per tenant), one is accepted at a time; the others'
//! samples are dropped (202, as Mimir answers deduplicated pushes) until the elected one
//! has been silent for the failover timeout. The replica label is removed before storing,
//! so both replicas write the same series.
//!
//! The election lives in the Raft ring state ([`strata_ring::Command::HaElect`], decided by
//! the state machine, so every distributor agrees). Each distributor caches what it learnt
//! and proposes only when needed: no cached election; the elected replica's last-seen is
//! older than a third of the failover timeout (a refresh, once per period, not per
//! request); or another replica asks after the cached last-seen is older than the timeout
//! (a failover attempt, which the ring may refuse if another distributor refreshed it).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use parking_lot::Mutex;
use strata_ring::{HaElection, HaKey};

/// Proposes an election to the ring; answers the election in force after it.
pub trait HaElector: Send + Sync {
    /// Applies `HaElect { key, replica, now_ms, failover_timeout_ms }` through Raft.
    fn elect(
        &self,
        key: HaKey,
        replica: String,
        now_ms: i64,
        failover_timeout_ms: i64,
    ) -> BoxFuture<'_, Result<HaElection, String>>;
}

/// What the tracker decided for one push.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HaDecision {
    /// The asking replica is the elected one: store (without the replica label).
    Accept,
    /// Another replica is elected: drop the push.
    Reject {
        /// The elected replica.
        elected: String,
    },
}

/// A clock in Unix milliseconds (a fake one in tests).
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// The system clock in Unix milliseconds.
pub fn system_clock() -> Clock {
    Arc::new(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis().min(i64::MAX as u128) as i64)
    })
}

/// The tracker: elections cached per (tenant, cluster).
pub struct HaTracker {
    elector: Arc<dyn HaElector>,
    failover_timeout_ms: i64,
    clock: Clock,
    /// tenant → cluster → election as last learnt from the ring.
    cache: Mutex<HashMap<String, HashMap<String, HaElection>>>,
}

impl std::fmt::Debug for HaTracker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HaTracker")
            .field("failover_timeout_ms", &self.failover_timeout_ms)
            .finish_non_exhaustive()
    }
}

impl HaTracker {
    /// A tracker proposing through `elector`, failing over after `failover_timeout`.
    pub fn new(elector: Arc<dyn HaElector>, failover_timeout: Duration, clock: Clock) -> Self {
        Self {
            elector,
            failover_timeout_ms: i64::try_from(failover_timeout.as_millis()).unwrap_or(i64::MAX),
            clock,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The decision the cache allows without asking the ring, if any. The common case (the
    /// elected replica within the refresh period) allocates nothing.
    fn decide_from_cache(
        &self,
        tenant: &str,
        cluster: &str,
        replica: &str,
        now: i64,
    ) -> Option<HaDecision> {
        let refresh_after = (self.failover_timeout_ms / 3).max(1);
        let cache = self.cache.lock();
        let e = cache.get(tenant)?.get(cluster)?;
        let age = now.saturating_sub(e.last_seen_ms);
        if e.replica == replica {
            (age < refresh_after).then_some(HaDecision::Accept)
        } else {
            (age < self.failover_timeout_ms).then(|| HaDecision::Reject {
                elected: e.replica.clone(),
            })
        }
    }

    /// Decides whether `replica` of `cluster` may write for `tenant` now. Proposes to the
    /// ring only as the module docs say; an error is the ring's (no leader, ...).
    pub async fn check(
        &self,
        tenant: &str,
        cluster: &str,
        replica: &str,
    ) -> Result<HaDecision, String> {
        let now = (self.clock)();
        if let Some(d) = self.decide_from_cache(tenant, cluster, replica, now) {
            return Ok(d);
        }
        let key = HaKey {
            tenant: tenant.to_string(),
            cluster: cluster.to_string(),
        };
        let election = self
            .elector
            .elect(key, replica.to_string(), now, self.failover_timeout_ms)
            .await?;
        let decision = if election.replica == replica {
            HaDecision::Accept
        } else {
            HaDecision::Reject {
                elected: election.replica.clone(),
            }
        };
        if election.replica != replica {
            tracing::debug!(tenant, cluster, replica, elected = %election.replica, "HA: replica not elected");
        } else {
            tracing::debug!(tenant, cluster, replica, "HA: replica elected or refreshed");
        }
        self.cache
            .lock()
            .entry(tenant.to_string())
            .or_default()
            .insert(cluster.to_string(), election);
        Ok(decision)
    }
}

/// The cluster and replica label values of a series, when both are present and non-empty.
pub fn find_ha_labels<'a, I>(
    labels: I,
    cluster_label: &str,
    replica_label: &str,
) -> Option<(&'a str, &'a str)>
where
    I: IntoIterator<Item = (&'a str, &'a str)>,
{
    let (mut cluster, mut replica) = (None, None);
    for (n, v) in labels {
        if n == cluster_label {
            cluster = Some(v);
        } else if n == replica_label {
            replica = Some(v);
        }
    }
    match (cluster, replica) {
        (Some(c), Some(r)) if !c.is_empty() && !r.is_empty() => Some((c, r)),
        _ => None,
    }
}

/// Removes the label `name` from every series of a borrowed request, in place (no
/// allocation): the label slots are compacted and each series' range moved.
pub fn strip_label_flat(req: &mut strata_proto::flat::FlatWriteRequest<'_>, name: &str) {
    let labels = &mut req.labels;
    let mut w = 0;
    for s in &mut req.series {
        let start = w;
        for i in s.labels.clone() {
            let pair = labels[i];
            if pair.0 != name {
                labels[w] = pair;
                w += 1;
            }
        }
        s.labels = start..w;
    }
    labels.truncate(w);
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};

    use strata_ring::{Command, CommandResponse, RingDesc};

    use super::*;

    /// The ring's real state machine, in memory, counting proposals.
    struct FakeRing {
        ring: Mutex<RingDesc>,
        proposals: AtomicUsize,
    }

    impl HaElector for FakeRing {
        fn elect(
            &self,
            key: HaKey,
            replica: String,
            now_ms: i64,
            failover_timeout_ms: i64,
        ) -> BoxFuture<'_, Result<HaElection, String>> {
            self.proposals.fetch_add(1, Ordering::SeqCst);
            let resp = strata_ring::command::apply(
                &mut self.ring.lock(),
                &Command::HaElect {
                    key,
                    replica,
                    now_ms,
                    failover_timeout_ms,
                },
            );
            Box::pin(async move {
                match resp {
                    CommandResponse::HaElected { election, .. } => Ok(election),
                    other => Err(format!("unexpected {other:?}")),
                }
            })
        }
    }

    fn setup() -> (Arc<FakeRing>, Arc<AtomicI64>, HaTracker) {
        let ring = Arc::new(FakeRing {
            ring: Mutex::new(RingDesc::default()),
            proposals: AtomicUsize::new(0),
        });
        let now = Arc::new(AtomicI64::new(1_000_000));
        let clock_now = Arc::clone(&now);
        let clock: Clock = Arc::new(move || clock_now.load(Ordering::SeqCst));
        let t = HaTracker::new(ring.clone(), Duration::from_millis(3000), clock);
        (ring, now, t)
    }

    #[tokio::test]
    async fn one_replica_accepted_failover_after_timeout() {
        let (ring, now, t) = setup();
        let accept = HaDecision::Accept;
        let reject = |r: &str| HaDecision::Reject {
            elected: r.to_string(),
        };
        assert_eq!(t.check("t", "c", "a").await, Ok(accept.clone()));
        assert_eq!(t.check("t", "c", "b").await, Ok(reject("a")));
        assert_eq!(
            ring.proposals.load(Ordering::SeqCst),
            1,
            "b is refused from the cache"
        );
        // Many requests within the refresh period: no proposal.
        for _ in 0..100 {
            now.fetch_add(5, Ordering::SeqCst);
            assert_eq!(t.check("t", "c", "a").await, Ok(accept.clone()));
        }
        assert_eq!(ring.proposals.load(Ordering::SeqCst), 1);
        // After a third of the timeout, a refresh (one proposal) keeps "a".
        now.fetch_add(1000, Ordering::SeqCst);
        assert_eq!(t.check("t", "c", "a").await, Ok(accept.clone()));
        assert_eq!(ring.proposals.load(Ordering::SeqCst), 2);
        // "a" goes silent; "b" is refused until the timeout, then takes over.
        now.fetch_add(2000, Ordering::SeqCst);
        assert_eq!(t.check("t", "c", "b").await, Ok(reject("a")));
        now.fetch_add(1001, Ordering::SeqCst);
        assert_eq!(t.check("t", "c", "b").await, Ok(accept.clone()));
        assert_eq!(t.check("t", "c", "a").await, Ok(reject("b")));
        // Other clusters and tenants are separate elections.
        assert_eq!(t.check("t", "d", "a").await, Ok(accept.clone()));
        assert_eq!(t.check("u", "c", "a").await, Ok(accept));
    }

    #[tokio::test]
    async fn a_stale_cache_defers_to_the_ring() {
        // Another distributor kept "a" alive in the ring; this one's cache is stale.
        let (ring, now, t) = setup();
        assert!(matches!(
            t.check("t", "c", "a").await,
            Ok(HaDecision::Accept)
        ));
        now.fetch_add(2500, Ordering::SeqCst);
        let n = now.load(Ordering::SeqCst);
        ring.elect(
            HaKey {
                tenant: "t".into(),
                cluster: "c".into(),
            },
            "a".into(),
            n,
            3000,
        )
        .await
        .expect("refresh a");
        now.fetch_add(1000, Ordering::SeqCst);
        assert_eq!(
            t.check("t", "c", "b").await,
            Ok(HaDecision::Reject {
                elected: "a".into()
            }),
            "the ring says a was seen 1s ago"
        );
    }

    #[test]
    fn strip_label_flat_keeps_the_others() {
        use strata_proto::flat::{FlatSeries, FlatWriteRequest};
        let mut req = FlatWriteRequest {
            labels: vec![
                ("__name__", "up"),
                ("__replica__", "a"),
                ("cluster", "c"),
                ("__name__", "x"),
                ("job", "j"),
            ],
            samples: Vec::new(),
            series: vec![
                FlatSeries {
                    labels: 0..3,
                    samples: 0..0,
                },
                FlatSeries {
                    labels: 3..5,
                    samples: 0..0,
                },
            ],
        };
        strip_label_flat(&mut req, "__replica__");
        let first: Vec<_> = req.series_labels(&req.series[0]).to_vec();
        let second: Vec<_> = req.series_labels(&req.series[1]).to_vec();
        assert_eq!(first, vec![("__name__", "up"), ("cluster", "c")]);
        assert_eq!(second, vec![("__name__", "x"), ("job", "j")]);
        assert_eq!(req.labels.len(), 4);
    }

    #[test]
    fn ha_labels_need_both() {
        let l = [("__name__", "up"), ("cluster", "c1"), ("__replica__", "r1")];
        assert_eq!(
            find_ha_labels(l.iter().copied(), "cluster", "__replica__"),
            Some(("c1", "r1"))
        );
        assert_eq!(
            find_ha_labels(l[..2].iter().copied(), "cluster", "__replica__"),
            None
        );
        let empty = [("cluster", "c1"), ("__replica__", "")];
        assert_eq!(
            find_ha_labels(empty.iter().copied(), "cluster", "__replica__"),
            None
        );
    }
}
