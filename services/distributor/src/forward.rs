//! Forwarding to ingesters over gRPC: sharding series across a static list of ingesters and
//! pushing the per-ingester batches concurrently.
//!
//! Placement: a series goes to `(xxh3(tenant) ^ stable_hash(labels)) % N`, where
//! `stable_hash` is `strata_model::Labels::stable_hash` computed straight over the wire
//! labels (already sorted by validation). Metadata is placed the same way by metric family
//! name. There is no replication yet: one ingester per series.

use std::sync::Arc;
use std::time::Duration;

use futures::future::{join_all, BoxFuture};
use strata_proto::flat::FlatWriteRequest;
use strata_proto::ingester::{
    ingester_client::IngesterClient, PushRequest, PushResponse, SampleError,
};
use strata_proto::prometheus::{Label, Sample, TimeSeries, WriteRequest};
use tonic::transport::{Channel, Endpoint};
use tonic::Code;

use crate::error::{DistributorError, PushError};

/// How long a lazy connection attempt may take before the push fails as unavailable.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// How often an ingester connection is pinged (HTTP/2), idle or not.
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(1);
/// How long a ping may go unanswered before the connection is dropped and remade.
pub const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(2);

/// The hash `strata_model::Labels::stable_hash` gives for these labels, which must already be
/// sorted by name with unique names (as validation leaves them).
pub fn series_hash(labels: &[Label]) -> u64 {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    for l in labels {
        h.update(l.name.as_bytes());
        h.update(&[0xff]);
        h.update(l.value.as_bytes());
        h.update(&[0xff]);
    }
    h.digest()
}

/// The tenant's part of the placement, so two tenants' identical series spread differently.
pub fn tenant_hash(tenant: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64(tenant.as_bytes())
}

/// The ingester index in `0..n` (n > 0) that owns a series.
pub fn shard(tenant_hash: u64, series_hash: u64, n: usize) -> usize {
    ((tenant_hash ^ series_hash) % n as u64) as usize
}

/// Splits a validated request into one `PushRequest` per ingester (index = ingester); some
/// may be empty.
pub fn split(tenant: &str, req: WriteRequest, n: usize) -> Vec<PushRequest> {
    let mut out: Vec<PushRequest> = (0..n.max(1))
        .map(|_| PushRequest {
            tenant: tenant.to_string(),
            timeseries: Vec::new(),
            metadata: Vec::new(),
        })
        .collect();
    if n <= 1 {
        out[0].timeseries = req.timeseries;
        out[0].metadata = req.metadata;
        return out;
    }
    let th = tenant_hash(tenant);
    for ts in req.timeseries {
        out[shard(th, series_hash(&ts.labels), n)]
            .timeseries
            .push(ts);
    }
    for md in req.metadata {
        let h = xxhash_rust::xxh3::xxh3_64(md.metric_family_name.as_bytes());
        out[shard(th, h, n)].metadata.push(md);
    }
    out
}

/// What the ingesters answered for one request, summed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ForwardOutcome {
    /// Float samples stored.
    pub samples_appended: u64,
    /// Native histogram samples stored.
    pub histograms_appended: u64,
    /// Exemplars stored.
    pub exemplars_appended: u64,
    /// Samples the ingesters refused.
    pub samples_rejected: u64,
    /// The first errors the ingesters named, ingester by ingester.
    pub sample_errors: Vec<SampleError>,
    /// Ingesters whose push failed as a whole (RPC error or timeout).
    pub failures: Vec<PushError>,
}

impl ForwardOutcome {
    fn add(&mut self, resp: PushResponse) {
        self.samples_appended += resp.samples_appended;
        self.histograms_appended += resp.histograms_appended;
        self.exemplars_appended += resp.exemplars_appended;
        self.samples_rejected += resp.samples_rejected;
        self.sample_errors.extend(resp.errors);
    }
}

/// An ingester running in this process, reached by a function call on the borrowed
/// request instead of a gRPC round trip (which would encode the series, copy them through
/// HTTP/2 and decode them again, allocating every label twice). Set with
/// [`Forwarder::with_local`] when the only ingester is this process' own.
pub trait LocalIngester: Send + Sync {
    /// Appends the (validated) series of `req` for `tenant`; answers as the gRPC `Push`
    /// would, errors included.
    fn push<'a>(
        &'a self,
        tenant: &'a str,
        req: &'a FlatWriteRequest<'a>,
    ) -> BoxFuture<'a, Result<PushResponse, tonic::Status>>;
}

/// One ingester's client.
#[derive(Clone, Debug)]
struct IngesterConn {
    addr: String,
    client: IngesterClient<Channel>,
}

/// Pushes to a static set of ingesters.
#[derive(Clone)]
pub struct Forwarder {
    ingesters: Vec<IngesterConn>,
    timeout: Duration,
    /// The only ingester, in this process: see [`LocalIngester`].
    local: Option<Arc<dyn LocalIngester>>,
    /// Placement on the ring instead of the static list (see [`crate::replication`]).
    replicator: Option<Arc<crate::replication::Replicator>>,
}

impl std::fmt::Debug for Forwarder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Forwarder")
            .field("ingesters", &self.ingesters)
            .field("timeout", &self.timeout)
            .field("local", &self.local.is_some())
            .finish()
    }
}

impl Forwarder {
    /// Prepares lazy channels to `addrs` (`host:port`); nothing connects until the first push.
    /// Must run inside a Tokio runtime.
    pub fn new(addrs: Vec<String>, timeout: Duration) -> Result<Self, DistributorError> {
        if addrs.is_empty() {
            return Err(DistributorError::NoIngesters);
        }
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(DistributorError::NoRuntime);
        }
        let mut ingesters = Vec::with_capacity(addrs.len());
        for addr in addrs {
            let uri = if addr.contains("://") {
                addr.clone()
            } else {
                format!("http://{addr}")
            };
            let endpoint = Endpoint::from_shared(uri)
                .map_err(|e| DistributorError::InvalidIngesterAddr {
                    addr: addr.clone(),
                    reason: e.to_string(),
                })?
                .connect_timeout(CONNECT_TIMEOUT.min(timeout.max(Duration::from_millis(1))))
                .tcp_nodelay(true)
                // A connection cut off mid-stream (network partition) is found dead within a few
                // seconds and replaced, instead of being reused until TCP gives up.
                .http2_keep_alive_interval(KEEPALIVE_INTERVAL)
                .keep_alive_timeout(KEEPALIVE_TIMEOUT)
                .keep_alive_while_idle(true);
            let client = IngesterClient::new(endpoint.connect_lazy())
                // The ingester's own decode limit is what bounds a push.
                .max_encoding_message_size(usize::MAX)
                .max_decoding_message_size(16 << 20);
            ingesters.push(IngesterConn { addr, client });
        }
        Ok(Self {
            ingesters,
            timeout,
            local: None,
            replicator: None,
        })
    }

    /// Places series on the ring with replication (see [`crate::replication`]) instead of
    /// a static list.
    pub fn with_ring(replicator: crate::replication::Replicator, timeout: Duration) -> Self {
        Self {
            ingesters: Vec::new(),
            timeout,
            local: None,
            replicator: Some(Arc::new(replicator)),
        }
    }

    /// Reaches the only ingester by function call instead of gRPC (its address is still
    /// the one named in errors). Ignored, with a warning, unless there is exactly one
    /// ingester.
    pub fn with_local(mut self, local: Arc<dyn LocalIngester>) -> Self {
        if self.ingesters.len() == 1 {
            self.local = Some(local);
        } else {
            tracing::warn!(
                ingesters = self.ingesters.len(),
                "in-process ingester ignored: pushes are sharded over several ingesters"
            );
        }
        self
    }

    /// Tells whether pushes go to an in-process ingester ([`Forwarder::push_flat`]).
    pub fn is_local(&self) -> bool {
        self.local.is_some()
    }

    /// The ingester addresses, in shard order.
    pub fn addrs(&self) -> impl Iterator<Item = &str> {
        self.ingesters.iter().map(|c| c.addr.as_str())
    }

    /// Splits `req` by series and pushes every non-empty batch concurrently.
    pub async fn push(&self, tenant: &str, req: WriteRequest) -> ForwardOutcome {
        if let Some(r) = &self.replicator {
            return r.push(tenant, req).await;
        }
        let batches = split(tenant, req, self.ingesters.len());
        let calls = batches
            .into_iter()
            .zip(&self.ingesters)
            .filter(|(b, _)| !(b.timeseries.is_empty() && b.metadata.is_empty()))
            .map(|(batch, conn)| async move {
                let mut client = conn.client.clone();
                let mut request = tonic::Request::new(batch);
                request.set_timeout(self.timeout);
                let res = match tokio::time::timeout(self.timeout, client.push(request)).await {
                    Ok(Ok(resp)) => Ok(resp.into_inner()),
                    Ok(Err(status)) => Err(status_error(&conn.addr, &status)),
                    Err(_) => Err(PushError::IngesterUnavailable {
                        addr: conn.addr.clone(),
                        message: format!("timed out after {:?}", self.timeout),
                    }),
                };
                if let Err(e) = &res {
                    tracing::warn!(ingester = %conn.addr, tenant, error = %e, "push to ingester failed");
                }
                res
            });
        let mut outcome = ForwardOutcome::default();
        for res in join_all(calls).await {
            match res {
                Ok(resp) => outcome.add(resp),
                Err(e) => outcome.failures.push(e),
            }
        }
        outcome
    }
}

impl Forwarder {
    /// Pushes a validated borrowed request to the in-process ingester, with the same
    /// timeout and error mapping as a gRPC push. Without one (see
    /// [`Forwarder::is_local`]), converts it and pushes over gRPC.
    pub async fn push_flat(&self, tenant: &str, req: &FlatWriteRequest<'_>) -> ForwardOutcome {
        let (Some(local), Some(conn)) = (&self.local, self.ingesters.first()) else {
            return self.push(tenant, flat_to_owned(req)).await;
        };
        let mut outcome = ForwardOutcome::default();
        let res = match tokio::time::timeout(self.timeout, local.push(tenant, req)).await {
            Ok(Ok(resp)) => Ok(resp),
            Ok(Err(status)) => Err(status_error(&conn.addr, &status)),
            // What the gRPC client's own deadline answers, so both paths read alike.
            Err(_) => Err(status_error(
                &conn.addr,
                &tonic::Status::cancelled("Timeout expired"),
            )),
        };
        match res {
            Ok(resp) => outcome.add(resp),
            Err(e) => {
                tracing::warn!(ingester = %conn.addr, tenant, error = %e, "push to ingester failed");
                outcome.failures.push(e);
            }
        }
        outcome
    }
}

/// The owned request for a borrowed one (the series listed in `req.series`).
pub fn flat_to_owned(req: &FlatWriteRequest<'_>) -> WriteRequest {
    WriteRequest {
        timeseries: req
            .iter()
            .map(|(labels, samples)| TimeSeries {
                labels: labels
                    .iter()
                    .map(|&(n, v)| Label {
                        name: n.to_string(),
                        value: v.to_string(),
                    })
                    .collect(),
                samples: samples
                    .iter()
                    .map(|s| Sample {
                        value: s.value,
                        timestamp: s.timestamp,
                    })
                    .collect(),
                ..Default::default()
            })
            .collect(),
        metadata: Vec::new(),
    }
}

/// Maps a gRPC status to the push error a client acts on.
pub fn status_error(addr: &str, status: &tonic::Status) -> PushError {
    let addr = addr.to_string();
    let message = format!("{}: {}", code_name(status.code()), status.message());
    match status.code() {
        Code::Unavailable
        | Code::DeadlineExceeded
        | Code::Cancelled
        | Code::ResourceExhausted
        | Code::Aborted => PushError::IngesterUnavailable { addr, message },
        Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => {
            PushError::BadData(format!("push to ingester {addr}: {message}"))
        }
        _ => PushError::IngesterFailed { addr, message },
    }
}

fn code_name(code: Code) -> &'static str {
    match code {
        Code::Unavailable => "unavailable",
        Code::DeadlineExceeded => "deadline exceeded",
        Code::Cancelled => "cancelled",
        Code::ResourceExhausted => "resource exhausted",
        Code::Aborted => "aborted",
        Code::InvalidArgument => "invalid argument",
        Code::FailedPrecondition => "failed precondition",
        Code::OutOfRange => "out of range",
        Code::Unimplemented => "unimplemented",
        Code::Internal => "internal",
        _ => "error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata_model::Labels;
    use strata_proto::prometheus::MetricMetadata;

    fn ts(pairs: &[(&str, &str)]) -> TimeSeries {
        let labels = Labels::from_pairs(pairs.iter().copied());
        TimeSeries {
            labels: labels
                .iter()
                .map(|l| Label {
                    name: l.name.clone(),
                    value: l.value.clone(),
                })
                .collect(),
            samples: vec![Sample {
                value: 1.0,
                timestamp: 1,
            }],
            ..Default::default()
        }
    }

    #[test]
    fn series_hash_is_labels_stable_hash() {
        for pairs in [
            vec![("__name__", "up"), ("job", "a")],
            vec![("a", "b1")],
            vec![("ab", "1")],
            vec![],
        ] {
            let labels = Labels::from_pairs(pairs.iter().copied());
            assert_eq!(
                series_hash(&ts(&pairs).labels),
                labels.stable_hash(),
                "{pairs:?}"
            );
        }
    }

    #[test]
    fn split_is_deterministic_and_complete() {
        let series: Vec<TimeSeries> = (0..200)
            .map(|i| ts(&[("__name__", "m"), ("i", &i.to_string())]))
            .collect();
        let req = WriteRequest {
            timeseries: series.clone(),
            metadata: vec![MetricMetadata {
                metric_family_name: "m".into(),
                ..Default::default()
            }],
        };
        let parts = split("t1", req.clone(), 3);
        assert_eq!(parts.len(), 3);
        assert!(parts.iter().all(|p| p.tenant == "t1"));
        assert_eq!(parts.iter().map(|p| p.timeseries.len()).sum::<usize>(), 200);
        assert_eq!(parts.iter().map(|p| p.metadata.len()).sum::<usize>(), 1);
        // Every ingester gets a fair share of 200 series.
        assert!(
            parts.iter().all(|p| p.timeseries.len() > 30),
            "{:?}",
            parts.iter().map(|p| p.timeseries.len()).collect::<Vec<_>>()
        );
        // Same placement every time; each series where `shard` says.
        let th = tenant_hash("t1");
        for (i, p) in parts.iter().enumerate() {
            for s in &p.timeseries {
                assert_eq!(shard(th, series_hash(&s.labels), 3), i);
            }
        }
        assert_eq!(split("t1", req.clone(), 3), parts);
        // Another tenant places the same series differently.
        let other = split("t2", req.clone(), 3);
        assert_ne!(
            other.iter().map(|p| p.timeseries.len()).collect::<Vec<_>>(),
            parts.iter().map(|p| p.timeseries.len()).collect::<Vec<_>>()
        );
        // One ingester takes everything.
        let one = split("t1", req, 1);
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].timeseries, series);
    }

    #[test]
    fn statuses_map_to_http() {
        let e = status_error("i:1", &tonic::Status::unavailable("down"));
        assert_eq!(e.status().as_u16(), 503);
        assert_eq!(e.to_string(), "push to ingester i:1: unavailable: down");
        assert_eq!(
            status_error("i:1", &tonic::Status::internal("x"))
                .status()
                .as_u16(),
            500
        );
        assert_eq!(
            status_error("i:1", &tonic::Status::invalid_argument("x"))
                .status()
                .as_u16(),
            400
        );
    }

    #[tokio::test]
    async fn rejects_bad_addresses_and_no_ingesters() {
        assert!(matches!(
            Forwarder::new(vec![], Duration::from_secs(1)),
            Err(DistributorError::NoIngesters)
        ));
        assert!(matches!(
            Forwarder::new(vec!["bad host:1".into()], Duration::from_secs(1)),
            Err(DistributorError::InvalidIngesterAddr { .. })
        ));
    }

    #[test]
    fn outside_a_runtime_is_an_error_not_a_panic() {
        assert!(matches!(
            Forwarder::new(vec!["127.0.0.1:1".into()], Duration::from_secs(1)),
            Err(DistributorError::NoRuntime)
        ));
    }
}
