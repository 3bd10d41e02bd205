//! The tonic `Ingester` service: decodes requests, runs them on the tenant's head and blocks
//! ([`strata_tsdb::DbQuerier`]), encodes the answers.

use strata_model::TenantId;
use strata_proto::ingester::ingester_server::Ingester as IngesterService;
use strata_proto::ingester::{
    ExemplarQueryRequest, ExemplarQueryResponse, LabelNamesRequest, LabelNamesResponse,
    LabelValuesRequest, LabelValuesResponse, MetricsMetadataRequest, MetricsMetadataResponse,
    PushRequest, PushResponse, QueryRequest, QueryStreamResponse, SeriesRequest, SeriesResponse,
};
use strata_proto::prometheus as pb;
use strata_storage::{Series, StorageError};
use strata_tsdb::DbQuerier;
use tonic::{Request, Response, Status};

use crate::error::IngesterError;
use crate::{convert, push, Ingester};

fn tenant(op: &'static str, id: &str) -> Result<TenantId, IngesterError> {
    TenantId::new(id).map_err(|source| IngesterError::InvalidTenant { op, source })
}

/// A wire limit: zero or negative means none.
fn limit(v: i64) -> Option<usize> {
    usize::try_from(v).ok().filter(|&n| n > 0)
}

fn truncate<T>(mut v: Vec<T>, lim: i64) -> Vec<T> {
    if let Some(n) = limit(lim) {
        v.truncate(n);
    }
    v
}

/// Runs a read: inline when only the head is involved (memory only), in `spawn_blocking`
/// when blocks are, since block reads are file reads.
async fn read<T: Send + 'static>(
    q: &DbQuerier,
    f: impl FnOnce(&DbQuerier) -> Result<T, StorageError> + Send + 'static,
) -> Result<T, IngesterError> {
    if !q.has_blocks() {
        return f(q).map_err(IngesterError::Query);
    }
    let q = q.clone();
    match tokio::task::spawn_blocking(move || f(&q)).await {
        Ok(r) => r.map_err(IngesterError::Query),
        Err(e) => Err(IngesterError::Query(StorageError::Unavailable(format!(
            "block read task failed: {e}"
        )))),
    }
}

/// Cuts selected series into stream messages lazily, so only one batch is encoded at a time.
pub struct SeriesBatches {
    series: std::vec::IntoIter<Series>,
    batch_size: usize,
}

impl Iterator for SeriesBatches {
    type Item = Result<QueryStreamResponse, Status>;

    fn next(&mut self) -> Option<Self::Item> {
        let batch: Vec<pb::ChunkedSeries> = self
            .series
            .by_ref()
            .take(self.batch_size)
            .map(convert::series_to_proto)
            .collect();
        (!batch.is_empty()).then_some(Ok(QueryStreamResponse { series: batch }))
    }
}

impl Ingester {
    /// A tenant's series matching `matchers` with their chunks overlapping `[start, end]`,
    /// head and blocks merged: what `QueryStream` sends, for in-process readers too (a
    /// querier in the same process calls this instead of crossing gRPC).
    pub async fn select(
        &self,
        tenant: &TenantId,
        start: i64,
        end: i64,
        matchers: Vec<strata_model::Matcher>,
    ) -> Result<Vec<Series>, IngesterError> {
        self.metrics.queries.inc();
        let q = self.db.querier(tenant, start, end);
        let series = read(&q, move |q| q.select_series(start, end, &matchers)).await?;
        tracing::debug!(tenant = %tenant, series = series.len(), "select");
        Ok(series)
    }
}

#[tonic::async_trait]
impl IngesterService for Ingester {
    async fn push(&self, request: Request<PushRequest>) -> Result<Response<PushResponse>, Status> {
        let req = request.into_inner();
        let limits = self.series_limits_for(&req.tenant);
        let resp = push::push_limited(&self.db, &self.metrics, req, limits).await?;
        Ok(Response::new(resp))
    }

    type QueryStreamStream = tokio_stream::Iter<SeriesBatches>;

    async fn query_stream(
        &self,
        request: Request<QueryRequest>,
    ) -> Result<Response<Self::QueryStreamStream>, Status> {
        let req = request.into_inner();
        let tenant = tenant("query_stream", &req.tenant)?;
        let matchers = convert::matchers_from_proto(&req.matchers)?;
        let series = self
            .select(&tenant, req.start_ms, req.end_ms, matchers)
            .await?;
        Ok(Response::new(tokio_stream::iter(SeriesBatches {
            series: series.into_iter(),
            batch_size: self.cfg.query_stream_batch_size.max(1),
        })))
    }

    async fn label_names(
        &self,
        request: Request<LabelNamesRequest>,
    ) -> Result<Response<LabelNamesResponse>, Status> {
        self.metrics.queries.inc();
        let req = request.into_inner();
        let tenant = tenant("label_names", &req.tenant)?;
        let matchers = convert::matchers_from_proto(&req.matchers)?;
        let q = self.db.querier(&tenant, req.start_ms, req.end_ms);
        let (start, end) = (req.start_ms, req.end_ms);
        let names = read(&q, move |q| q.label_names_sync(start, end, &matchers)).await?;
        Ok(Response::new(LabelNamesResponse {
            names: truncate(names, req.limit),
        }))
    }

    async fn label_values(
        &self,
        request: Request<LabelValuesRequest>,
    ) -> Result<Response<LabelValuesResponse>, Status> {
        self.metrics.queries.inc();
        let req = request.into_inner();
        let tenant = tenant("label_values", &req.tenant)?;
        let matchers = convert::matchers_from_proto(&req.matchers)?;
        let q = self.db.querier(&tenant, req.start_ms, req.end_ms);
        let (start, end, name) = (req.start_ms, req.end_ms, req.name);
        let values = read(&q, move |q| {
            q.label_values_sync(&name, start, end, &matchers)
        })
        .await?;
        Ok(Response::new(LabelValuesResponse {
            values: truncate(values, req.limit),
        }))
    }

    async fn series(
        &self,
        request: Request<SeriesRequest>,
    ) -> Result<Response<SeriesResponse>, Status> {
        self.metrics.queries.inc();
        let req = request.into_inner();
        let tenant = tenant("series", &req.tenant)?;
        let sets = req
            .matcher_sets
            .iter()
            .map(|s| convert::matchers_from_proto(&s.matchers))
            .collect::<Result<Vec<_>, _>>()?;
        let q = self.db.querier(&tenant, req.start_ms, req.end_ms);
        let (start, end) = (req.start_ms, req.end_ms);
        let series = read(&q, move |q| q.series_labels(start, end, &sets)).await?;
        Ok(Response::new(SeriesResponse {
            series: truncate(series, req.limit)
                .iter()
                .map(|l| pb::Labels {
                    labels: convert::labels_to_proto(l),
                })
                .collect(),
        }))
    }

    async fn metrics_metadata(
        &self,
        request: Request<MetricsMetadataRequest>,
    ) -> Result<Response<MetricsMetadataResponse>, Status> {
        self.metrics.queries.inc();
        let req = request.into_inner();
        let tenant = tenant("metrics_metadata", &req.tenant)?;
        // One entry per family is kept, so `limit_per_metric` (≥ 1) never cuts anything.
        let metric = (!req.metric.is_empty()).then_some(req.metric.as_str());
        let metadata = match self.db.head(&tenant) {
            Some(h) if req.limit_per_metric >= 0 => h.metadata().get(metric, limit(req.limit)),
            _ => Vec::new(),
        };
        Ok(Response::new(MetricsMetadataResponse {
            metadata: metadata
                .into_iter()
                .map(convert::metadata_to_proto)
                .collect(),
        }))
    }

    async fn query_exemplars(
        &self,
        request: Request<ExemplarQueryRequest>,
    ) -> Result<Response<ExemplarQueryResponse>, Status> {
        self.metrics.queries.inc();
        let req = request.into_inner();
        let tenant = tenant("query_exemplars", &req.tenant)?;
        let sets = req
            .matcher_sets
            .iter()
            .map(|s| convert::matchers_from_proto(&s.matchers))
            .collect::<Result<Vec<_>, _>>()?;
        let found = match self.db.head(&tenant) {
            Some(h) => h.exemplars().query(&sets, req.start_ms, req.end_ms),
            None => Vec::new(),
        };
        Ok(Response::new(ExemplarQueryResponse {
            timeseries: found
                .into_iter()
                .map(|(labels, exemplars)| pb::TimeSeries {
                    labels: convert::labels_to_proto(&labels),
                    exemplars: exemplars
                        .into_iter()
                        .map(|e| pb::Exemplar {
                            labels: convert::labels_to_proto(&e.labels),
                            value: e.value,
                            timestamp: e.t,
                        })
                        .collect(),
                    ..Default::default()
                })
                .collect(),
        }))
    }
}
