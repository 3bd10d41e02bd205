//! End-to-end tests of the push path through the router, against fake ingesters served by
//! tonic on 127.0.0.1:0 (a test double for the gRPC seam). This file holds the harness;
//! [`push`] covers remote write 1.0, statuses and forwarding, [`rw2`] remote write 2.0,
//! [`local`] the in-process fast path against the gRPC path.

mod local;
mod push;
mod rw2;

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use http::{Request, StatusCode};
use http_body_util::BodyExt as _;
use prometheus_client::registry::Registry;
use prost::Message as _;
use strata_proto::ingester::ingester_server::{Ingester, IngesterServer};
use strata_proto::ingester::{
    ExemplarQueryRequest, ExemplarQueryResponse, LabelNamesRequest, LabelNamesResponse,
    LabelValuesRequest, LabelValuesResponse, MetricsMetadataRequest, MetricsMetadataResponse,
    PushRequest, PushResponse, QueryRequest, QueryStreamResponse, SampleError, SampleErrorKind,
    SeriesRequest, SeriesResponse,
};
use strata_proto::prometheus::{Label, MetricMetadata, Sample, TimeSeries, WriteRequest};
use strata_proto::write_v2;
use tonic::Status;
use tower::ServiceExt as _;

use crate::{Distributor, DistributorConfig};

/// How the fake answers a push.
#[derive(Clone)]
enum Behaviour {
    /// Store everything.
    Accept,
    /// Reject samples older than the given timestamp with an out-of-order error.
    RejectBefore(i64),
    /// Fail the RPC.
    Fail(Status),
    /// Never answer in time.
    Hang,
}

struct FakeIngester {
    pushes: Arc<Mutex<Vec<PushRequest>>>,
    behaviour: Behaviour,
}

/// What a fake ingester answers to a push (over gRPC or in process), recording it.
async fn fake_push(
    behaviour: &Behaviour,
    pushes: &Pushes,
    req: PushRequest,
) -> Result<PushResponse, Status> {
    match behaviour {
        Behaviour::Fail(s) => return Err(s.clone()),
        Behaviour::Hang => {
            tokio::time::sleep(Duration::from_secs(30)).await;
        }
        _ => {}
    }
    let mut resp = PushResponse::default();
    for ts in &req.timeseries {
        for s in &ts.samples {
            match behaviour {
                Behaviour::RejectBefore(min) if s.timestamp < *min => {
                    resp.samples_rejected += 1;
                    resp.errors.push(SampleError {
                        kind: SampleErrorKind::OutOfOrder as i32,
                        message: format!("out of order sample, timestamp: {}", s.timestamp),
                    });
                }
                _ => resp.samples_appended += 1,
            }
        }
        resp.histograms_appended += ts.histograms.len() as u64;
        resp.exemplars_appended += ts.exemplars.len() as u64;
    }
    pushes.lock().expect("lock").push(req);
    Ok(resp)
}

#[tonic::async_trait]
impl Ingester for FakeIngester {
    async fn push(
        &self,
        request: tonic::Request<PushRequest>,
    ) -> Result<tonic::Response<PushResponse>, Status> {
        fake_push(&self.behaviour, &self.pushes, request.into_inner())
            .await
            .map(tonic::Response::new)
    }

    type QueryStreamStream = futures::stream::Empty<Result<QueryStreamResponse, Status>>;

    async fn query_stream(
        &self,
        _: tonic::Request<QueryRequest>,
    ) -> Result<tonic::Response<Self::QueryStreamStream>, Status> {
        Err(Status::unimplemented("fake"))
    }
    async fn label_names(
        &self,
        _: tonic::Request<LabelNamesRequest>,
    ) -> Result<tonic::Response<LabelNamesResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }
    async fn label_values(
        &self,
        _: tonic::Request<LabelValuesRequest>,
    ) -> Result<tonic::Response<LabelValuesResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }
    async fn series(
        &self,
        _: tonic::Request<SeriesRequest>,
    ) -> Result<tonic::Response<SeriesResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }
    async fn metrics_metadata(
        &self,
        _: tonic::Request<MetricsMetadataRequest>,
    ) -> Result<tonic::Response<MetricsMetadataResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }
    async fn query_exemplars(
        &self,
        _: tonic::Request<ExemplarQueryRequest>,
    ) -> Result<tonic::Response<ExemplarQueryResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }
}

/// The same fake reached in process, as `-target=all` reaches its own ingester.
struct LocalFake {
    pushes: Pushes,
    behaviour: Behaviour,
}

impl crate::LocalIngester for LocalFake {
    fn push<'a>(
        &'a self,
        tenant: &'a str,
        req: &'a strata_proto::flat::FlatWriteRequest<'a>,
    ) -> futures::future::BoxFuture<'a, Result<PushResponse, Status>> {
        let req = PushRequest {
            tenant: tenant.to_string(),
            timeseries: crate::forward::flat_to_owned(req).timeseries,
            metadata: vec![],
        };
        Box::pin(fake_push(&self.behaviour, &self.pushes, req))
    }
}

type Pushes = Arc<Mutex<Vec<PushRequest>>>;

async fn start_fake(behaviour: Behaviour) -> (String, Pushes) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let pushes: Pushes = Arc::default();
    let svc = IngesterServer::new(FakeIngester {
        pushes: pushes.clone(),
        behaviour,
    });
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(svc)
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    (addr, pushes)
}

struct Harness {
    router: axum::Router,
    pushes: Vec<Pushes>,
    registry: Registry,
}

async fn harness_with(
    cfg: DistributorConfig,
    behaviours: Vec<Behaviour>,
    multitenancy: bool,
) -> Harness {
    let mut addrs = Vec::new();
    let mut pushes = Vec::new();
    for b in behaviours {
        let (a, p) = start_fake(b).await;
        addrs.push(a);
        pushes.push(p);
    }
    let mut registry = Registry::default();
    let d = Distributor::new(cfg, addrs, multitenancy, &mut registry).expect("distributor");
    Harness {
        router: d.router(),
        pushes,
        registry,
    }
}

/// A distributor whose only ingester is in process (`LocalFake`), with `behaviour`; the
/// same fake also serves gRPC at the ingester's address for what the fast path leaves to
/// gRPC. `pushes[0]` records what came over gRPC, `pushes[1]` what came in process.
async fn local_harness(cfg: DistributorConfig, behaviour: Behaviour) -> Harness {
    let (addr, grpc_pushes) = start_fake(behaviour.clone()).await;
    let local_pushes = Pushes::default();
    let local = Arc::new(LocalFake {
        pushes: local_pushes.clone(),
        behaviour,
    });
    let mut registry = Registry::default();
    let d = Distributor::with_local_ingester(cfg, addr, local, true, &mut registry)
        .expect("distributor");
    Harness {
        router: d.router(),
        pushes: vec![grpc_pushes, local_pushes],
        registry,
    }
}

async fn harness(behaviour: Behaviour) -> Harness {
    harness_with(DistributorConfig::default(), vec![behaviour], true).await
}

impl Harness {
    fn pushed(&self) -> Vec<PushRequest> {
        self.pushes
            .iter()
            .flat_map(|p| p.lock().expect("lock").clone())
            .collect()
    }

    fn metrics_text(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry).expect("encode");
        out
    }
}

struct Resp {
    status: StatusCode,
    headers: http::HeaderMap,
    body: String,
}

async fn send(router: &axum::Router, req: Request<Body>) -> Resp {
    let resp = router.clone().oneshot(req).await.expect("infallible");
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    Resp {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

fn request(path: &str, body: Vec<u8>, headers: &[(&str, &str)]) -> Request<Body> {
    let mut b = Request::post(path);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(Body::from(body)).expect("request")
}

const RW1: &[(&str, &str)] = &[
    ("x-scope-orgid", "tenant-a"),
    ("content-type", "application/x-protobuf"),
    ("content-encoding", "snappy"),
    ("x-prometheus-remote-write-version", "0.1.0"),
];

const RW2: &[(&str, &str)] = &[
    ("x-scope-orgid", "tenant-a"),
    (
        "content-type",
        "application/x-protobuf;proto=io.prometheus.write.v2.Request",
    ),
    ("content-encoding", "snappy"),
    ("x-prometheus-remote-write-version", "2.0.0"),
];

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as i64
}

fn series(pairs: &[(&str, &str)], t: i64) -> TimeSeries {
    TimeSeries {
        labels: pairs
            .iter()
            .map(|(n, v)| Label {
                name: n.to_string(),
                value: v.to_string(),
            })
            .collect(),
        samples: vec![Sample {
            value: 1.0,
            timestamp: t,
        }],
        ..Default::default()
    }
}

fn snappy(buf: &[u8]) -> Vec<u8> {
    snap::raw::Encoder::new()
        .compress_vec(buf)
        .expect("compress")
}

fn rw1_body(timeseries: Vec<TimeSeries>) -> Vec<u8> {
    snappy(
        &WriteRequest {
            timeseries,
            metadata: vec![],
        }
        .encode_to_vec(),
    )
}

#[test]
fn distributor_config_defaults_match_mimir() {
    let cfg = DistributorConfig::default();
    assert_eq!(cfg.max_recv_msg_size, 100 << 20);
    assert_eq!(cfg.max_decompressed_size, 100 << 20);
    assert_eq!(cfg.limits.max_label_names_per_series, 30);
    assert_eq!(cfg.limits.creation_grace_period, Duration::from_secs(600));
}
