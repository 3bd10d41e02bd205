//! Test doubles: an in-process fake ingester serving fixed series over real gRPC, and an
//! in-memory [`Querier`].

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use async_trait::async_trait;
use futures::Stream;
use strata_chunkenc::encode_xor;
use strata_model::{Labels, Matcher, Sample};
use strata_proto::ingester::ingester_server::{Ingester, IngesterServer};
use strata_proto::ingester::*;
use strata_proto::prometheus::{self as pb, MetricMetadata};
use strata_storage::{ChunkMeta, Querier, SelectHints, Series, StorageError};
use tokio_stream::wrappers::TcpListenerStream;
use tonic::{Request, Response, Status};

use crate::convert::{labels_to_proto, matchers_from_proto};

/// Samples per chunk in the fakes, small so ranges cut across chunks.
pub const FAKE_CHUNK_SAMPLES: usize = 3;

/// One tenant's series in a fake.
#[derive(Clone, Debug)]
pub struct FakeSeries {
    pub tenant: String,
    pub labels: Labels,
    pub samples: Vec<Sample>,
}

impl FakeSeries {
    pub fn new(tenant: &str, labels: &[(&str, &str)], samples: &[(i64, f64)]) -> Self {
        Self {
            tenant: tenant.to_string(),
            labels: Labels::from_pairs(labels.iter().copied()),
            samples: samples.iter().map(|&(t, v)| Sample::new(t, v)).collect(),
        }
    }

    /// The series cut into chunks of [`FAKE_CHUNK_SAMPLES`], keeping those overlapping
    /// `[start, end]`.
    pub fn chunks(&self, start: i64, end: i64) -> Vec<ChunkMeta> {
        self.samples
            .chunks(FAKE_CHUNK_SAMPLES)
            .map(|c| ChunkMeta {
                min_time: c[0].t,
                max_time: c[c.len() - 1].t,
                chunk: encode_xor(c),
            })
            .filter(|c| c.max_time >= start && c.min_time <= end)
            .collect()
    }
}

fn matches(ms: &[Matcher], l: &Labels) -> bool {
    ms.iter().all(|m| m.matches_labels(l))
}

/// A fake ingester: fixed series and metadata, optionally failing every call.
#[derive(Clone, Debug, Default)]
pub struct FakeIngester {
    pub series: Vec<FakeSeries>,
    pub metadata: Vec<(String, MetricMetadata)>,
    pub fail: bool,
    /// Chunk encoding to report (XOR unless set).
    pub encoding: Option<pb::chunk::Encoding>,
    /// Exemplars by tenant: series labels and exemplars.
    pub exemplars: Vec<(String, pb::TimeSeries)>,
}

impl FakeIngester {
    fn check(&self) -> Result<(), Status> {
        if self.fail {
            Err(Status::unavailable("fake ingester down"))
        } else {
            Ok(())
        }
    }

    fn select(&self, tenant: &str, start: i64, end: i64, ms: &[Matcher]) -> Vec<&FakeSeries> {
        self.series
            .iter()
            .filter(|s| s.tenant == tenant && matches(ms, &s.labels))
            .filter(|s| s.samples.iter().any(|p| p.t >= start && p.t <= end))
            .collect()
    }
}

fn bad(e: StorageError) -> Status {
    Status::invalid_argument(e.to_string())
}

type QueryStream = Pin<Box<dyn Stream<Item = Result<QueryStreamResponse, Status>> + Send>>;

#[async_trait]
impl Ingester for FakeIngester {
    async fn push(&self, _: Request<PushRequest>) -> Result<Response<PushResponse>, Status> {
        Err(Status::unimplemented("fake ingester is read-only"))
    }

    type QueryStreamStream = QueryStream;

    async fn query_stream(
        &self,
        req: Request<QueryRequest>,
    ) -> Result<Response<QueryStream>, Status> {
        self.check()?;
        let r = req.into_inner();
        let ms = matchers_from_proto(&r.matchers).map_err(bad)?;
        let encoding = self.encoding.unwrap_or(pb::chunk::Encoding::Xor) as i32;
        // One message per series, to exercise multi-message streams.
        let msgs: Vec<Result<QueryStreamResponse, Status>> = self
            .select(&r.tenant, r.start_ms, r.end_ms, &ms)
            .into_iter()
            .map(|s| {
                Ok(QueryStreamResponse {
                    series: vec![pb::ChunkedSeries {
                        labels: labels_to_proto(&s.labels),
                        chunks: s
                            .chunks(r.start_ms, r.end_ms)
                            .iter()
                            .map(|c| pb::Chunk {
                                min_time_ms: c.min_time,
                                max_time_ms: c.max_time,
                                r#type: encoding,
                                data: c.chunk.bytes().clone(),
                            })
                            .collect(),
                    }],
                })
            })
            .collect();
        Ok(Response::new(Box::pin(futures::stream::iter(msgs))))
    }

    async fn label_names(
        &self,
        req: Request<LabelNamesRequest>,
    ) -> Result<Response<LabelNamesResponse>, Status> {
        self.check()?;
        let r = req.into_inner();
        let ms = matchers_from_proto(&r.matchers).map_err(bad)?;
        let mut names: Vec<String> = self
            .select(&r.tenant, r.start_ms, r.end_ms, &ms)
            .iter()
            .flat_map(|s| s.labels.iter().map(|l| l.name.clone()))
            .collect();
        names.sort();
        names.dedup();
        if r.limit > 0 {
            names.truncate(r.limit as usize);
        }
        Ok(Response::new(LabelNamesResponse { names }))
    }

    async fn label_values(
        &self,
        req: Request<LabelValuesRequest>,
    ) -> Result<Response<LabelValuesResponse>, Status> {
        self.check()?;
        let r = req.into_inner();
        let ms = matchers_from_proto(&r.matchers).map_err(bad)?;
        let mut values: Vec<String> = self
            .select(&r.tenant, r.start_ms, r.end_ms, &ms)
            .iter()
            .filter_map(|s| s.labels.get(&r.name).map(str::to_string))
            .collect();
        values.sort();
        values.dedup();
        if r.limit > 0 {
            values.truncate(r.limit as usize);
        }
        Ok(Response::new(LabelValuesResponse { values }))
    }

    async fn series(
        &self,
        req: Request<SeriesRequest>,
    ) -> Result<Response<SeriesResponse>, Status> {
        self.check()?;
        let r = req.into_inner();
        let mut out: Vec<Labels> = Vec::new();
        for set in &r.matcher_sets {
            let ms = matchers_from_proto(&set.matchers).map_err(bad)?;
            out.extend(
                self.select(&r.tenant, r.start_ms, r.end_ms, &ms)
                    .iter()
                    .map(|s| s.labels.clone()),
            );
        }
        out.sort();
        out.dedup();
        if r.limit > 0 {
            out.truncate(r.limit as usize);
        }
        Ok(Response::new(SeriesResponse {
            series: out
                .iter()
                .map(|l| pb::Labels {
                    labels: labels_to_proto(l),
                })
                .collect(),
        }))
    }

    async fn metrics_metadata(
        &self,
        req: Request<MetricsMetadataRequest>,
    ) -> Result<Response<MetricsMetadataResponse>, Status> {
        self.check()?;
        let r = req.into_inner();
        let metadata = self
            .metadata
            .iter()
            .filter(|(t, m)| {
                *t == r.tenant && (r.metric.is_empty() || m.metric_family_name == r.metric)
            })
            .map(|(_, m)| m.clone())
            .collect();
        Ok(Response::new(MetricsMetadataResponse { metadata }))
    }

    async fn query_exemplars(
        &self,
        req: Request<ExemplarQueryRequest>,
    ) -> Result<Response<ExemplarQueryResponse>, Status> {
        self.check()?;
        let r = req.into_inner();
        let sets = r
            .matcher_sets
            .iter()
            .map(|s| matchers_from_proto(&s.matchers).map_err(bad))
            .collect::<Result<Vec<_>, _>>()?;
        let timeseries = self
            .exemplars
            .iter()
            .filter(|(t, ts)| {
                let l = crate::convert::labels_from_proto(ts.labels.clone());
                *t == r.tenant && sets.iter().any(|ms| matches(ms, &l))
            })
            .map(|(_, ts)| pb::TimeSeries {
                exemplars: ts
                    .exemplars
                    .iter()
                    .filter(|e| e.timestamp >= r.start_ms && e.timestamp <= r.end_ms)
                    .cloned()
                    .collect(),
                ..ts.clone()
            })
            .collect();
        Ok(Response::new(ExemplarQueryResponse { timeseries }))
    }
}

/// Serves `ingester` on 127.0.0.1 at an ephemeral port; returns `host:port`.
pub async fn spawn_ingester(ingester: FakeIngester) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind an ephemeral port");
    let addr: SocketAddr = listener.local_addr().expect("bound address");
    tokio::spawn(async move {
        let _ = tonic::transport::Server::builder()
            .add_service(IngesterServer::new(ingester))
            .serve_with_incoming(TcpListenerStream::new(listener))
            .await;
    });
    addr.to_string()
}

/// An in-memory [`Querier`] over fixed series (one tenant), with chunks as the fake ingester.
#[derive(Clone, Debug, Default)]
pub struct MemQuerier {
    pub series: Vec<FakeSeries>,
}

#[async_trait]
impl Querier for MemQuerier {
    async fn select(
        &self,
        hints: &SelectHints,
        ms: &[Matcher],
    ) -> Result<Vec<Series>, StorageError> {
        let mut out: Vec<Series> = self
            .series
            .iter()
            .filter(|s| matches(ms, &s.labels))
            .map(|s| Series {
                labels: s.labels.clone(),
                chunks: s.chunks(hints.start, hints.end),
            })
            .filter(|s| !s.chunks.is_empty())
            .collect();
        out.sort_by(|a, b| a.labels.cmp(&b.labels));
        Ok(out)
    }

    async fn label_names(
        &self,
        _: &SelectHints,
        _: &[Matcher],
    ) -> Result<Vec<String>, StorageError> {
        Ok(Vec::new())
    }

    async fn label_values(
        &self,
        _: &str,
        _: &SelectHints,
        _: &[Matcher],
    ) -> Result<Vec<String>, StorageError> {
        Ok(Vec::new())
    }
}

/// A shared handle for tests that need `Arc<dyn Querier>`.
pub fn mem_querier(series: Vec<FakeSeries>) -> Arc<dyn Querier> {
    Arc::new(MemQuerier { series })
}
