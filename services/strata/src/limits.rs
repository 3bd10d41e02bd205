//! Glue between the per-tenant limits and the ring: the HA tracker's elections go through
//! Raft ([`RingElector`]), and the ingester's series limits are the global limits from the
//! runtime config scaled to this ingester's share ([`series_limits_fn`]).
//!
//! Local series limit = global × replication factor / ingesters in the tenant's shard
//! (the shard size when set, else every ingester in the ring; the count follows the ring).
//! Without ring placement (`-target=all` alone, or static `-ingester.addresses`) every
//! series lands on one ingester, so local = global.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use futures::future::BoxFuture;
use strata_distributor::ha::HaElector;
use strata_distributor::limits::Overrides;
use strata_ingester::limits::{local_limit, SeriesLimits, SeriesLimitsFn};
use strata_ring::{Command, CommandResponse, HaElection, HaKey};

use crate::ring::RingHandle;

/// Proposes HA elections to the Raft ring.
pub struct RingElector(pub Arc<RingHandle>);

impl HaElector for RingElector {
    fn elect(
        &self,
        key: HaKey,
        replica: String,
        now_ms: i64,
        failover_timeout_ms: i64,
    ) -> BoxFuture<'_, Result<HaElection, String>> {
        Box::pin(async move {
            let cmd = Command::HaElect {
                key,
                replica,
                now_ms,
                failover_timeout_ms,
            };
            match self.0.propose(cmd).await {
                Ok(CommandResponse::HaElected { election, .. }) => Ok(election),
                Ok(other) => Err(format!(
                    "unexpected ring answer to an HA election: {other:?}"
                )),
                Err(e) => Err(format!("propose HA election: {e}")),
            }
        })
    }
}

/// The ingester's per-tenant series limits: `overrides` scaled by `replication_factor` and
/// the shard's ingester count, which follows `ring` when given (else 1 and rf 1).
pub fn series_limits_fn(
    overrides: Arc<Overrides>,
    ring: Option<Arc<RingHandle>>,
    replication_factor: usize,
    shard_size: usize,
) -> SeriesLimitsFn {
    let ingesters = Arc::new(AtomicUsize::new(1));
    let rf = if ring.is_some() {
        replication_factor
    } else {
        1
    };
    if let Some(r) = ring {
        let count = Arc::clone(&ingesters);
        let mut rx = r.subscribe();
        tokio::spawn(async move {
            loop {
                let n = rx.borrow_and_update().ring.len();
                count.store(n, Ordering::Relaxed);
                if rx.changed().await.is_err() {
                    return;
                }
            }
        });
    }
    Arc::new(move |tenant: &str| {
        let l = overrides.get(tenant);
        let mut n = ingesters.load(Ordering::Relaxed);
        if shard_size > 0 {
            n = n.min(shard_size);
        }
        let (u, m) = (
            l.limits.max_global_series_per_user,
            l.limits.max_global_series_per_metric,
        );
        SeriesLimits {
            global_per_user: u,
            local_per_user: local_limit(u, rf, n),
            global_per_metric: m,
            local_per_metric: local_limit(m, rf, n),
        }
    })
}
