//! Replicated placement on the Raft-backed ring: which ingesters get each series, and when a
//! push counts as durable.
//!
//! Used instead of the static list when the distributor is built with
//! [`crate::Distributor::with_ring`]. For every series (and metadata entry) of a request:
//!
//! ```text
//!  key = fold32(xxh3(tenant) ^ stable_hash(labels))        (metadata: the family name)
//!  ring = committed ring ─► shuffle_shard(tenant, shard size)  (0: the whole ring)
//!  set  = ring.get(key, Write, {rf, zone-aware}, heartbeat health)   → instances, min_success
//!  one batch per instance, pushed concurrently ─► per item: acks vs. min_success
//! ```
//!
//! Answer (as Mimir's distributor): the push succeeds only if every item reached a quorum
//! (`rf/2 + 1`) of replicas that answered the push (per-sample errors inside an answer, such
//! as an out-of-order sample, still count as an answer; they become a 400 afterwards). An
//! item whose replicas answered with a client error (4xx) rather than a quorum of successes
//! fails with that 4xx; an item without quorum otherwise fails with the worst 5xx among its
//! replicas. A replica's failure is not reported when its items still made quorum. The answer
//! goes out as soon as every item is decided ([`decided`]); pushes to slower replicas go on
//! in the background, so one slow or partitioned ingester does not slow every write down.
//!
//! Counts in the answer (samples written, per-sample errors) are taken once per item, from
//! the first replica that answered it; a replica's counts are attributed to the items it
//! answered first in proportion (exact whenever a batch's series all fare alike, as with
//! `rf` equal to the number of ingesters).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::stream::{FuturesUnordered, StreamExt};
use parking_lot::Mutex;
use strata_model::TenantId;
use strata_proto::ingester::{ingester_client::IngesterClient, PushRequest, PushResponse};
use strata_proto::prometheus::WriteRequest;
use strata_ring::{AppliedRing, HealthView, Operation, ReplicationOptions, Ring, Token};
use tokio::sync::watch;
use tonic::transport::{Channel, Endpoint};

use crate::error::{DistributorError, PushError};
use crate::forward::{
    series_hash, status_error, tenant_hash, ForwardOutcome, CONNECT_TIMEOUT, KEEPALIVE_INTERVAL,
    KEEPALIVE_TIMEOUT,
};

/// A live view of the committed ring and of instance health.
#[derive(Clone)]
pub struct RingReader {
    rx: watch::Receiver<AppliedRing>,
    health: Arc<dyn Fn() -> HealthView + Send + Sync>,
}

impl RingReader {
    /// Reads rings from `rx`; `health` gives the heartbeat view at lookup time (a voter's
    /// [`strata_ring::RingNode::health`], or a view that never judges for a process that
    /// holds no heartbeats: then only the stored state and failed pushes count).
    pub fn new(
        rx: watch::Receiver<AppliedRing>,
        health: Arc<dyn Fn() -> HealthView + Send + Sync>,
    ) -> Self {
        Self { rx, health }
    }

    /// The latest committed ring.
    pub fn ring(&self) -> Ring {
        self.rx.borrow().ring.clone()
    }

    /// Instance health now.
    pub fn health(&self) -> HealthView {
        (self.health)()
    }
}

impl std::fmt::Debug for RingReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RingReader")
            .field("applied_index", &self.rx.borrow().applied_index)
            .finish()
    }
}

/// How writes are replicated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReplicationConfig {
    /// Replicas per series.
    pub replication_factor: usize,
    /// Put each replica in a different zone.
    pub zone_awareness_enabled: bool,
    /// Ingesters per tenant (shuffle sharding); 0 uses the whole ring.
    pub tenant_shard_size: usize,
}

/// Pushes each series to its replication set on the ring and aggregates the answers.
#[derive(Debug)]
pub struct Replicator {
    ring: RingReader,
    cfg: ReplicationConfig,
    timeout: Duration,
    clients: Mutex<HashMap<String, IngesterClient<Channel>>>,
}

/// Where one item (a series or a metadata entry) went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placement {
    /// Indexes of the target ingesters holding a replica, in ring walk order.
    pub replicas: Vec<usize>,
    /// How many of them must answer.
    pub min_success: usize,
}

/// The point on the ring of a series of `tenant` (its 64-bit hash folded to 32 bits).
pub fn ring_key(tenant_hash: u64, item_hash: u64) -> Token {
    let h = tenant_hash ^ item_hash;
    (h ^ (h >> 32)) as u32
}

impl Replicator {
    /// A replicator over `ring`; each push to an ingester may take `timeout`.
    pub fn new(
        ring: RingReader,
        cfg: ReplicationConfig,
        timeout: Duration,
    ) -> Result<Self, DistributorError> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(DistributorError::NoRuntime);
        }
        Ok(Self {
            ring,
            cfg,
            timeout,
            clients: Mutex::new(HashMap::new()),
        })
    }

    /// The ring this replicator reads.
    pub fn ring(&self) -> &RingReader {
        &self.ring
    }

    fn client(&self, addr: &str) -> Result<IngesterClient<Channel>, PushError> {
        if let Some(c) = self.clients.lock().get(addr) {
            return Ok(c.clone());
        }
        let uri = if addr.contains("://") {
            addr.to_string()
        } else {
            format!("http://{addr}")
        };
        let endpoint = Endpoint::from_shared(uri)
            .map_err(|e| PushError::IngesterFailed {
                addr: addr.to_string(),
                message: format!("invalid ingester address in the ring: {e}"),
            })?
            .connect_timeout(CONNECT_TIMEOUT.min(self.timeout.max(Duration::from_millis(1))))
            .tcp_nodelay(true)
            // A connection cut off mid-stream (network partition) is found dead within a few
            // seconds and replaced, instead of being reused until TCP gives up.
            .http2_keep_alive_interval(KEEPALIVE_INTERVAL)
            .keep_alive_timeout(KEEPALIVE_TIMEOUT)
            .keep_alive_while_idle(true);
        let client = IngesterClient::new(endpoint.connect_lazy())
            .max_encoding_message_size(usize::MAX)
            .max_decoding_message_size(16 << 20);
        self.clients.lock().insert(addr.to_string(), client.clone());
        Ok(client)
    }

    /// Places every series and metadata entry of `req` and pushes the batches.
    pub async fn push(&self, tenant: &str, req: WriteRequest) -> ForwardOutcome {
        let mut ring = self.ring.ring();
        if self.cfg.tenant_shard_size > 0 {
            if let Ok(t) = TenantId::new(tenant) {
                ring = ring.shuffle_shard(
                    &t,
                    self.cfg.tenant_shard_size,
                    self.cfg.zone_awareness_enabled,
                );
            }
        }
        let health = self.ring.health();
        let opts = ReplicationOptions {
            replication_factor: self.cfg.replication_factor,
            zone_aware: self.cfg.zone_awareness_enabled,
        };
        let plan = match plan(tenant, req, &ring, opts, &health) {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(tenant, error = %e, "no replication set for a push");
                return ForwardOutcome {
                    failures: vec![e],
                    ..Default::default()
                };
            }
        };
        // Each replica's push runs as its own task: once every item's fate is decided (a
        // quorum answered, or can no longer), the answer goes out and slower replicas finish
        // in the background, as Mimir's distributor does.
        let mut pending: FuturesUnordered<_> = plan
            .batches
            .into_iter()
            .zip(&plan.addrs)
            .enumerate()
            .map(|(i, (batch, addr))| {
                let client = self.client(addr);
                let (addr, tenant, timeout) = (addr.clone(), tenant.to_string(), self.timeout);
                let task = tokio::spawn(async move {
                    let mut client = client?;
                    let mut request = tonic::Request::new(batch);
                    request.set_timeout(timeout);
                    let res = match tokio::time::timeout(timeout, client.push(request)).await {
                        Ok(Ok(resp)) => Ok(resp.into_inner()),
                        Ok(Err(status)) => Err(status_error(&addr, &status)),
                        Err(_) => Err(PushError::IngesterUnavailable {
                            addr: addr.clone(),
                            message: format!("timed out after {timeout:?}"),
                        }),
                    };
                    if let Err(e) = &res {
                        tracing::warn!(ingester = %addr, %tenant, error = %e, "push to replica failed");
                    }
                    res
                });
                async move { (i, task.await) }
            })
            .collect();
        let mut results: Vec<Option<Result<PushResponse, PushError>>> =
            (0..plan.addrs.len()).map(|_| None).collect();
        while let Some((i, res)) = pending.next().await {
            results[i] = Some(res.unwrap_or_else(|e| {
                Err(PushError::IngesterFailed {
                    addr: plan.addrs[i].clone(),
                    message: format!("push task failed: {e}"),
                })
            }));
            if decided(&plan.items, &results) {
                break;
            }
        }
        let results = results
            .into_iter()
            .enumerate()
            .map(|(i, r)| {
                r.unwrap_or_else(|| {
                    Err(PushError::IngesterUnavailable {
                        addr: plan.addrs[i].clone(),
                        message: "no answer yet when the quorum was decided".to_string(),
                    })
                })
            })
            .collect();
        aggregate(&plan.items, &plan.batch_items, results)
    }
}

/// The batches of one push: one per target ingester, and every item's placement.
#[derive(Debug, Default)]
pub struct Plan {
    /// Target ingester addresses.
    pub addrs: Vec<String>,
    /// The request for each target.
    pub batches: Vec<PushRequest>,
    /// How many items each batch holds.
    pub batch_items: Vec<usize>,
    /// Every item's placement, series first, then metadata.
    pub items: Vec<Placement>,
}

/// Splits `req` into per-ingester batches by the ring's write replication sets.
pub fn plan(
    tenant: &str,
    req: WriteRequest,
    ring: &Ring,
    opts: ReplicationOptions,
    health: &HealthView,
) -> Result<Plan, PushError> {
    let th = tenant_hash(tenant);
    let mut plan = Plan::default();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut place = |plan: &mut Plan, key: Token| -> Result<Placement, PushError> {
        let set = ring.get(key, Operation::Write, opts, health).map_err(|e| {
            PushError::IngesterUnavailable {
                addr: "(ring)".to_string(),
                message: e.to_string(),
            }
        })?;
        let min_success = set.min_success();
        let mut replicas = Vec::with_capacity(set.instances.len());
        for inst in set.instances {
            let idx = *index.entry(inst.addr.clone()).or_insert_with(|| {
                plan.addrs.push(inst.addr.clone());
                plan.batches.push(PushRequest {
                    tenant: tenant.to_string(),
                    timeseries: Vec::new(),
                    metadata: Vec::new(),
                });
                plan.batch_items.push(0);
                plan.addrs.len() - 1
            });
            plan.batch_items[idx] += 1;
            replicas.push(idx);
        }
        Ok(Placement {
            replicas,
            min_success,
        })
    };
    for ts in req.timeseries {
        let p = place(&mut plan, ring_key(th, series_hash(&ts.labels)))?;
        push_to(&mut plan.batches, &p.replicas, ts, |b| &mut b.timeseries);
        plan.items.push(p);
    }
    for md in req.metadata {
        let h = xxhash_rust::xxh3::xxh3_64(md.metric_family_name.as_bytes());
        let p = place(&mut plan, ring_key(th, h))?;
        push_to(&mut plan.batches, &p.replicas, md, |b| &mut b.metadata);
        plan.items.push(p);
    }
    Ok(plan)
}

/// Appends `item` to the batches at `replicas`, cloning for all but the last.
fn push_to<T: Clone>(
    batches: &mut [PushRequest],
    replicas: &[usize],
    item: T,
    field: impl Fn(&mut PushRequest) -> &mut Vec<T>,
) {
    let Some((last, rest)) = replicas.split_last() else {
        return;
    };
    for &r in rest {
        field(&mut batches[r]).push(item.clone());
    }
    field(&mut batches[*last]).push(item);
}

/// Whether every item's fate is known from the answers so far (`None`: still pending): it
/// has a quorum of answers, or too few replicas are left to reach one.
pub fn decided(items: &[Placement], results: &[Option<Result<PushResponse, PushError>>]) -> bool {
    items.iter().all(|item| {
        let (mut ok, mut open) = (0, 0);
        for &r in &item.replicas {
            match &results[r] {
                Some(Ok(_)) => ok += 1,
                None => open += 1,
                Some(Err(_)) => {}
            }
        }
        ok >= item.min_success || ok + open < item.min_success
    })
}

/// Decides the push's outcome from every batch's answer (indexed like the plan's targets);
/// see the module docs for the rules.
pub fn aggregate(
    items: &[Placement],
    batch_items: &[usize],
    results: Vec<Result<PushResponse, PushError>>,
) -> ForwardOutcome {
    let mut outcome = ForwardOutcome::default();
    // Items each batch reports (it is their first successful replica).
    let mut reports = vec![0usize; results.len()];
    let mut failed_bad: Option<PushError> = None;
    let mut failed_unavailable: Option<PushError> = None;
    for item in items {
        let mut ok = 0;
        let mut bad = 0;
        let mut first_ok = None;
        for &r in &item.replicas {
            match &results[r] {
                Ok(_) => {
                    ok += 1;
                    first_ok.get_or_insert(r);
                }
                Err(e) if e.status().is_client_error() => bad += 1,
                Err(_) => {}
            }
        }
        if let Some(r) = first_ok {
            reports[r] += 1;
        }
        if ok >= item.min_success {
            continue;
        }
        let pick = |want_client: bool| {
            item.replicas
                .iter()
                .filter_map(|&r| results[r].as_ref().err())
                .filter(|e| e.status().is_client_error() == want_client)
                .max_by_key(|e| e.status().as_u16())
                .cloned()
        };
        if ok + bad >= item.min_success {
            if failed_bad.is_none() {
                failed_bad = pick(true);
            }
        } else if failed_unavailable.is_none() {
            failed_unavailable = pick(false).or_else(|| pick(true));
        }
    }
    outcome.failures.extend(failed_unavailable);
    outcome.failures.extend(failed_bad);
    let mut seen_messages = std::collections::HashSet::new();
    for (r, res) in results.into_iter().enumerate() {
        let Ok(resp) = res else { continue };
        if reports[r] == 0 || batch_items[r] == 0 {
            continue;
        }
        let share = |n: u64| -> u64 {
            if reports[r] == batch_items[r] {
                n
            } else {
                ((n as f64) * reports[r] as f64 / batch_items[r] as f64).round() as u64
            }
        };
        outcome.samples_appended += share(resp.samples_appended);
        outcome.histograms_appended += share(resp.histograms_appended);
        outcome.exemplars_appended += share(resp.exemplars_appended);
        outcome.samples_rejected += share(resp.samples_rejected);
        for e in resp.errors {
            if seen_messages.insert(e.message.clone()) {
                outcome.sample_errors.push(e);
            }
        }
    }
    outcome
}

#[cfg(test)]
mod tests;
