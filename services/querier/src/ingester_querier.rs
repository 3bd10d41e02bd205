//! Reads a tenant's recent data from every ingester over gRPC.
//!
//! [`IngesterPool`] holds one lazily connected client per ingester; [`IngesterQuerier`] is the
//! [`strata_storage::Querier`] for one tenant over that pool. Every read fans out to all
//! ingesters concurrently and merges the answers (series by labels, names and values sorted
//! and deduplicated). A single failing ingester fails the whole read with
//! [`StorageError::Unavailable`]: a silently partial answer would look like missing data.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::stream::{FuturesUnordered, StreamExt};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::future::Future;
use strata_model::{Labels, Matcher, TenantId};
use strata_proto::ingester::ingester_client::IngesterClient;
use strata_proto::ingester::{
    ExemplarQueryRequest, LabelNamesRequest, LabelValuesRequest, MatcherSet,
    MetricsMetadataRequest, QueryRequest, SeriesRequest,
};
use strata_proto::prometheus::MetricMetadata;
use strata_storage::{merge_series, Querier, SelectHints, Series, StorageError};
use tonic::transport::{Channel, Endpoint};

use crate::convert::{labels_from_proto, matchers_to_proto, series_from_proto};
use crate::error::QuerierError;
use crate::ring_targets::{ReadTargets, RingTargets};

/// The largest gRPC message accepted from an ingester; a frame of many chunks can be large.
const MAX_MESSAGE_BYTES: usize = 256 << 20;
/// How long to wait for a TCP connection to an ingester.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// One client per ingester, connected lazily on first use: a static list, or the ingesters
/// the ring names for each read (see [`crate::ring_targets`]).
#[derive(Debug)]
pub struct IngesterPool {
    clients: Vec<(String, IngesterClient<Channel>)>,
    /// When set, reads go to the ring's read set instead of `clients`.
    ring: Option<RingTargets>,
    /// Clients of ring instances, by address.
    by_addr: Mutex<HashMap<String, IngesterClient<Channel>>>,
    /// This process' own and only ingester: selects call it directly (other reads still use
    /// `clients`, which then name the same ingester).
    local: Option<Arc<dyn LocalReader>>,
}

/// An ingester in the querier's own process, read by function call: a select returns the
/// ingester's merged series as they are, with no protobuf encoding, HTTP/2 framing or copies
/// of labels and chunks in between (`-target=all` with a single ingester).
pub trait LocalReader: Send + Sync + std::fmt::Debug {
    /// The tenant's series matching `matchers` with chunks overlapping `[start, end]`.
    fn select<'a>(
        &'a self,
        tenant: &'a TenantId,
        start: i64,
        end: i64,
        matchers: &'a [Matcher],
    ) -> futures::future::BoxFuture<'a, Result<Vec<Series>, StorageError>>;
}

fn make_client(addr: &str) -> Result<IngesterClient<Channel>, QuerierError> {
    let uri = if addr.contains("://") {
        addr.to_string()
    } else {
        format!("http://{addr}")
    };
    let endpoint =
        Endpoint::from_shared(uri).map_err(|e| QuerierError::InvalidIngesterAddress {
            addr: addr.to_string(),
            reason: e.to_string(),
        })?;
    let channel = endpoint
        .connect_timeout(CONNECT_TIMEOUT)
        .tcp_nodelay(true)
        // A connection cut off (network partition) is found dead within seconds and
        // replaced, instead of failing reads until TCP gives up.
        .http2_keep_alive_interval(Duration::from_secs(1))
        .keep_alive_timeout(Duration::from_secs(2))
        .keep_alive_while_idle(true)
        .connect_lazy();
    Ok(IngesterClient::new(channel)
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES))
}

impl IngesterPool {
    /// Makes lazy clients for `addrs` (`host:port`, or a full `http://` URI). Must be called
    /// within a Tokio runtime: lazy channels spawn their connection task there.
    pub fn new(addrs: &[String]) -> Result<Self, QuerierError> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(QuerierError::InvalidConfig(
                "the ingester pool must be created within a tokio runtime".into(),
            ));
        }
        let mut clients = Vec::with_capacity(addrs.len());
        for addr in addrs {
            clients.push((addr.clone(), make_client(addr)?));
        }
        Ok(Self {
            clients,
            ring: None,
            by_addr: Mutex::new(HashMap::new()),
            local: None,
        })
    }

    /// A pool over this process' only ingester: selects call `local`, other reads go over
    /// gRPC to `addr` (the same ingester). Must be called within a Tokio runtime.
    pub fn with_local(addr: String, local: Arc<dyn LocalReader>) -> Result<Self, QuerierError> {
        let mut pool = Self::new(&[addr])?;
        pool.local = Some(local);
        Ok(pool)
    }

    /// A pool that reads from the ingesters the ring names for each request, tolerating as
    /// many failures as replication allows (see [`crate::ring_targets`]). Must be called
    /// within a Tokio runtime.
    pub fn with_ring(ring: RingTargets) -> Result<Self, QuerierError> {
        let mut pool = Self::new(&[])?;
        pool.ring = Some(ring);
        Ok(pool)
    }

    fn client_for(&self, addr: &str) -> Result<IngesterClient<Channel>, StorageError> {
        if let Some(c) = self.by_addr.lock().get(addr) {
            return Ok(c.clone());
        }
        let c = make_client(addr).map_err(|e| StorageError::Unavailable(e.to_string()))?;
        self.by_addr.lock().insert(addr.to_string(), c.clone());
        Ok(c)
    }

    /// Calls `call` on every ingester the read needs, concurrently; returns the answers
    /// unless more failed than replication tolerates (then the first failure). A bad request
    /// fails at once: another replica would refuse it too.
    async fn fan_out<T, F, Fut>(&self, tenant: &TenantId, call: F) -> Result<Vec<T>, StorageError>
    where
        F: Fn(String, IngesterClient<Channel>) -> Fut,
        Fut: Future<Output = Result<T, StorageError>>,
    {
        let (targets, static_clients) = match &self.ring {
            Some(r) => (r.targets(tenant)?, None),
            None => (
                ReadTargets::all_required(self.clients.iter().map(|(a, _)| a.clone()).collect()),
                Some(&self.clients),
            ),
        };
        let mut pending: FuturesUnordered<_> = targets
            .instances
            .iter()
            .enumerate()
            .map(|(i, (addr, _))| {
                let client = match static_clients {
                    Some(c) => Ok(c[i].1.clone()),
                    None => self.client_for(addr),
                };
                let fut = client.map(|c| call(addr.clone(), c));
                async move {
                    match fut {
                        Ok(f) => (i, f.await),
                        Err(e) => (i, Err(e)),
                    }
                }
            })
            .collect();
        let n = targets.instances.len();
        let mut out = Vec::with_capacity(n);
        let mut answered = vec![false; n];
        let mut failed = Vec::new();
        let mut first_err = None;
        while let Some((i, r)) = pending.next().await {
            match r {
                Ok(v) => {
                    out.push(v);
                    answered[i] = true;
                }
                Err(StorageError::BadRequest(m)) => return Err(StorageError::BadRequest(m)),
                Err(e) => {
                    failed.push(i);
                    first_err.get_or_insert(e);
                    if !targets.tolerates(&failed) {
                        break;
                    }
                }
            }
            // Enough replicas answered: every acknowledged sample is on at least one of them
            // (see `ring_targets`), so a hung ingester does not hold the read up.
            let missing: Vec<usize> = (0..n).filter(|&j| !answered[j]).collect();
            if !missing.is_empty() && missing.len() < n && targets.tolerates(&missing) {
                if !failed.is_empty() {
                    tracing::debug!(failed = failed.len(), "read tolerated failed ingesters");
                }
                return Ok(out);
            }
        }
        match first_err {
            Some(e) if !targets.tolerates(&failed) => Err(e),
            _ => Ok(out),
        }
    }

    /// The number of ingesters.
    pub fn len(&self) -> usize {
        self.clients.len()
    }

    /// Tells whether the pool has no ingesters.
    pub fn is_empty(&self) -> bool {
        self.clients.is_empty()
    }

    /// A querier for `tenant` over this pool.
    pub fn querier(self: &Arc<Self>, tenant: TenantId) -> IngesterQuerier {
        IngesterQuerier {
            pool: Arc::clone(self),
            tenant,
        }
    }

    /// Label sets of the series matching any of `matcher_sets` with samples in
    /// `[start, end]`, sorted and unique; at most `limit` when `limit > 0`.
    pub async fn series(
        &self,
        tenant: &TenantId,
        matcher_sets: &[Vec<Matcher>],
        start: i64,
        end: i64,
        limit: usize,
    ) -> Result<Vec<Labels>, StorageError> {
        let req = SeriesRequest {
            tenant: tenant.as_str().to_string(),
            start_ms: start,
            end_ms: end,
            matcher_sets: matcher_sets
                .iter()
                .map(|ms| MatcherSet {
                    matchers: matchers_to_proto(ms),
                })
                .collect(),
            limit: limit_to_proto(limit),
        };
        let answers = self
            .fan_out(tenant, |addr, mut c| {
                let req = req.clone();
                async move {
                    let addr = addr.as_str();
                    let resp = c
                        .series(req)
                        .await
                        .map_err(|s| rpc_error(addr, "series", &s))?;
                    Ok::<_, StorageError>(resp.into_inner().series)
                }
            })
            .await?;
        let mut out: Vec<Labels> = answers
            .into_iter()
            .flatten()
            .map(|l| labels_from_proto(l.labels))
            .collect();
        out.sort();
        out.dedup();
        truncate(&mut out, limit);
        Ok(out)
    }

    /// Metric metadata grouped by metric family (sorted), duplicates across ingesters removed.
    /// `limit` caps the families and `limit_per_metric` the entries per family; `None` means
    /// no limit. Only family `metric` when it is non-empty.
    pub async fn metadata(
        &self,
        tenant: &TenantId,
        metric: &str,
        limit: Option<usize>,
        limit_per_metric: Option<usize>,
    ) -> Result<Vec<(String, Vec<MetricMetadata>)>, StorageError> {
        // Limits are applied after merging: an ingester's own cut could drop entries another
        // ingester lacks.
        let req = MetricsMetadataRequest {
            tenant: tenant.as_str().to_string(),
            metric: metric.to_string(),
            limit: 0,
            limit_per_metric: 0,
        };
        let answers = self
            .fan_out(tenant, |addr, mut c| {
                let req = req.clone();
                async move {
                    let addr = addr.as_str();
                    let resp = c
                        .metrics_metadata(req)
                        .await
                        .map_err(|s| rpc_error(addr, "metrics metadata", &s))?;
                    Ok::<_, StorageError>(resp.into_inner().metadata)
                }
            })
            .await?;
        let mut groups: BTreeMap<String, Vec<MetricMetadata>> = BTreeMap::new();
        for m in answers.into_iter().flatten() {
            if !metric.is_empty() && m.metric_family_name != metric {
                continue;
            }
            let entries = groups.entry(m.metric_family_name.clone()).or_default();
            if !entries
                .iter()
                .any(|e| e.r#type == m.r#type && e.help == m.help && e.unit == m.unit)
            {
                entries.push(m);
            }
        }
        let mut out = Vec::with_capacity(groups.len());
        for (name, mut entries) in groups {
            if limit.is_some_and(|l| out.len() >= l) {
                break;
            }
            if let Some(l) = limit_per_metric {
                entries.truncate(l);
            }
            out.push((name, entries));
        }
        Ok(out)
    }

    /// The exemplars in `[start, end]` of series matching any of `matcher_sets`, from every
    /// ingester, grouped by series labels (sorted); within a series sorted by time, with
    /// exemplars that several ingesters hold (replicas) kept once.
    pub async fn exemplars(
        &self,
        tenant: &TenantId,
        matcher_sets: &[Vec<Matcher>],
        start: i64,
        end: i64,
    ) -> Result<Vec<crate::exemplars::SeriesExemplars>, StorageError> {
        let req = ExemplarQueryRequest {
            tenant: tenant.as_str().to_string(),
            start_ms: start,
            end_ms: end,
            matcher_sets: matcher_sets
                .iter()
                .map(|ms| MatcherSet {
                    matchers: matchers_to_proto(ms),
                })
                .collect(),
        };
        let answers = self
            .fan_out(tenant, |addr, mut c| {
                let req = req.clone();
                async move {
                    let addr = addr.as_str();
                    let resp = c
                        .query_exemplars(req)
                        .await
                        .map_err(|s| rpc_error(addr, "query exemplars", &s))?;
                    Ok::<_, StorageError>(resp.into_inner().timeseries)
                }
            })
            .await?;
        Ok(crate::exemplars::merge(answers.into_iter().flatten()))
    }

    async fn label_names(
        &self,
        tenant: &TenantId,
        hints: &SelectHints,
        matchers: &[Matcher],
        limit: usize,
    ) -> Result<Vec<String>, StorageError> {
        let req = LabelNamesRequest {
            tenant: tenant.as_str().to_string(),
            start_ms: hints.start,
            end_ms: hints.end,
            matchers: matchers_to_proto(matchers),
            limit: limit_to_proto(limit),
        };
        let answers = self
            .fan_out(tenant, |addr, mut c| {
                let req = req.clone();
                async move {
                    let addr = addr.as_str();
                    let resp = c
                        .label_names(req)
                        .await
                        .map_err(|s| rpc_error(addr, "label names", &s))?;
                    Ok::<_, StorageError>(resp.into_inner().names)
                }
            })
            .await?;
        Ok(merge_strings(answers, limit))
    }

    async fn label_values(
        &self,
        tenant: &TenantId,
        name: &str,
        hints: &SelectHints,
        matchers: &[Matcher],
        limit: usize,
    ) -> Result<Vec<String>, StorageError> {
        let req = LabelValuesRequest {
            tenant: tenant.as_str().to_string(),
            name: name.to_string(),
            start_ms: hints.start,
            end_ms: hints.end,
            matchers: matchers_to_proto(matchers),
            limit: limit_to_proto(limit),
        };
        let answers = self
            .fan_out(tenant, |addr, mut c| {
                let req = req.clone();
                async move {
                    let addr = addr.as_str();
                    let resp = c
                        .label_values(req)
                        .await
                        .map_err(|s| rpc_error(addr, "label values", &s))?;
                    Ok::<_, StorageError>(resp.into_inner().values)
                }
            })
            .await?;
        Ok(merge_strings(answers, limit))
    }

    async fn select(
        &self,
        tenant: &TenantId,
        hints: &SelectHints,
        matchers: &[Matcher],
    ) -> Result<Vec<Series>, StorageError> {
        if let Some(local) = &self.local {
            return local.select(tenant, hints.start, hints.end, matchers).await;
        }
        let req = QueryRequest {
            tenant: tenant.as_str().to_string(),
            start_ms: hints.start,
            end_ms: hints.end,
            matchers: matchers_to_proto(matchers),
        };
        let answers = self
            .fan_out(tenant, |addr, mut c| {
                let req = req.clone();
                async move {
                    let addr = addr.as_str();
                    let mut stream = c
                        .query_stream(req)
                        .await
                        .map_err(|s| rpc_error(addr, "query stream", &s))?
                        .into_inner();
                    let mut out = Vec::new();
                    while let Some(msg) = stream
                        .message()
                        .await
                        .map_err(|s| rpc_error(addr, "query stream", &s))?
                    {
                        for s in msg.series {
                            out.push(series_from_proto(s)?);
                        }
                    }
                    Ok::<_, StorageError>(out)
                }
            })
            .await?;
        Ok(merge_series(answers.into_iter().flatten().collect()))
    }
}

fn limit_to_proto(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

fn truncate<T>(v: &mut Vec<T>, limit: usize) {
    if limit > 0 {
        v.truncate(limit);
    }
}

/// Unions sorted lists: each ingester's first `limit` entries suffice for the union's first
/// `limit`, so limiting at the ingesters is safe.
fn merge_strings(lists: Vec<Vec<String>>, limit: usize) -> Vec<String> {
    let mut out: Vec<String> = lists.into_iter().flatten().collect();
    out.sort_unstable();
    out.dedup();
    truncate(&mut out, limit);
    out
}

fn rpc_error(addr: &str, op: &str, status: &tonic::Status) -> StorageError {
    let msg = format!(
        "ingester {addr}: {op}: {}: {}",
        status.code(),
        status.message()
    );
    tracing::warn!(ingester = addr, op, code = ?status.code(), message = status.message(), "ingester read failed");
    match status.code() {
        // The ingester judged the request itself wrong; retrying elsewhere would not help.
        tonic::Code::InvalidArgument => StorageError::BadRequest(msg),
        _ => StorageError::Unavailable(msg),
    }
}

/// A [`Querier`] for one tenant over every ingester. Cheap to create per request.
#[derive(Clone, Debug)]
pub struct IngesterQuerier {
    pool: Arc<IngesterPool>,
    tenant: TenantId,
}

impl IngesterQuerier {
    /// The tenant this querier reads.
    pub fn tenant(&self) -> &TenantId {
        &self.tenant
    }

    /// Label names with an optional cap (`limit > 0`), pushed down to the ingesters.
    pub async fn label_names_limited(
        &self,
        hints: &SelectHints,
        matchers: &[Matcher],
        limit: usize,
    ) -> Result<Vec<String>, StorageError> {
        self.pool
            .label_names(&self.tenant, hints, matchers, limit)
            .await
    }

    /// Label values with an optional cap (`limit > 0`), pushed down to the ingesters.
    pub async fn label_values_limited(
        &self,
        name: &str,
        hints: &SelectHints,
        matchers: &[Matcher],
        limit: usize,
    ) -> Result<Vec<String>, StorageError> {
        self.pool
            .label_values(&self.tenant, name, hints, matchers, limit)
            .await
    }
}

#[async_trait]
impl Querier for IngesterQuerier {
    async fn select(
        &self,
        hints: &SelectHints,
        matchers: &[Matcher],
    ) -> Result<Vec<Series>, StorageError> {
        self.pool.select(&self.tenant, hints, matchers).await
    }

    async fn label_names(
        &self,
        hints: &SelectHints,
        matchers: &[Matcher],
    ) -> Result<Vec<String>, StorageError> {
        self.pool
            .label_names(&self.tenant, hints, matchers, 0)
            .await
    }

    async fn label_values(
        &self,
        name: &str,
        hints: &SelectHints,
        matchers: &[Matcher],
    ) -> Result<Vec<String>, StorageError> {
        self.pool
            .label_values(&self.tenant, name, hints, matchers, 0)
            .await
    }
}

#[cfg(test)]
mod ring_tests;
#[cfg(test)]
mod tests;
