//! Prometheus remote read (`POST /api/v1/read`): a snappy-compressed `prometheus.ReadRequest`,
//! answered in the first response type the client accepts that Strata supports:
//!
//! - `STREAMED_XOR_CHUNKS`: `application/x-streamed-protobuf; proto=prometheus.ChunkedReadResponse`,
//!   a sequence of frames `uvarint(len) | crc32c(msg) as u32 BE | msg`, each holding one
//!   series (a large series is split over several frames of at most ~1 MiB), with whole XOR
//!   chunks overlapping the query range, as Prometheus sends them;
//! - `SAMPLES`: a snappy-compressed `ReadResponse` with every sample in `[start, end]`.
//!
//! Errors are plain text, as Prometheus answers remote read: 400 for a bad request, 503 when
//! an ingester is unreachable, 500 otherwise.

use std::sync::Arc;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{header, HeaderValue, StatusCode};
use prost::Message;
use strata_proto::prometheus::read_request::ResponseType;
use strata_proto::prometheus::{
    self as pb, ChunkedReadResponse, ChunkedSeries, QueryResult, ReadRequest, ReadResponse,
    TimeSeries,
};
use strata_storage::{Querier, SelectHints, Series, StorageError};

use crate::convert::{chunk_to_proto, labels_to_proto, matchers_from_proto};

/// The content type of a streamed chunked answer.
pub const STREAMED_CONTENT_TYPE: &str =
    "application/x-streamed-protobuf; proto=prometheus.ChunkedReadResponse";
/// The largest frame Strata aims for, as Prometheus's default.
pub const MAX_BYTES_IN_FRAME: usize = 1 << 20;

/// Why a remote read failed.
#[derive(Debug, thiserror::Error)]
pub enum RemoteReadError {
    /// The body is not snappy-compressed protobuf.
    #[error("decode remote read request: {0}")]
    Decode(String),
    /// A query is invalid.
    #[error("remote read query: {0}")]
    BadQuery(String),
    /// The answer would hold more samples than allowed.
    #[error("remote read: exceeded sample limit ({0})")]
    TooManySamples(usize),
    /// Storage failed.
    #[error("remote read: {0}")]
    Storage(#[from] StorageError),
}

impl RemoteReadError {
    /// The HTTP status to answer with.
    pub fn status_code(&self) -> StatusCode {
        match self {
            RemoteReadError::Decode(_)
            | RemoteReadError::BadQuery(_)
            | RemoteReadError::TooManySamples(_) => StatusCode::BAD_REQUEST,
            RemoteReadError::Storage(StorageError::BadRequest(_)) => StatusCode::BAD_REQUEST,
            RemoteReadError::Storage(StorageError::Unavailable(_)) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            RemoteReadError::Storage(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for RemoteReadError {
    fn into_response(self) -> Response {
        (self.status_code(), self.to_string()).into_response()
    }
}

/// Decodes a snappy-compressed `ReadRequest`.
pub fn decode_request(body: &[u8]) -> Result<ReadRequest, RemoteReadError> {
    let raw = snap::raw::Decoder::new()
        .decompress_vec(body)
        .map_err(|e| RemoteReadError::Decode(format!("snappy: {e}")))?;
    ReadRequest::decode(raw.as_slice())
        .map_err(|e| RemoteReadError::Decode(format!("protobuf: {e}")))
}

/// The response type to answer with: the first accepted type Strata supports, else SAMPLES.
pub fn negotiate(req: &ReadRequest) -> ResponseType {
    req.accepted_response_types
        .iter()
        .find_map(|t| ResponseType::try_from(*t).ok())
        .unwrap_or(ResponseType::Samples)
}

/// Serves a remote read request against `querier`. `max_samples` caps the SAMPLES answer.
pub async fn serve(
    querier: Arc<dyn Querier>,
    body: &[u8],
    max_samples: usize,
) -> Result<Response, RemoteReadError> {
    let req = decode_request(body)?;
    match negotiate(&req) {
        ResponseType::StreamedXorChunks => {
            let frames = streamed_frames(querier.as_ref(), &req).await?;
            let mut resp = Response::new(Body::from_stream(futures::stream::iter(
                frames.into_iter().map(Ok::<Bytes, std::io::Error>),
            )));
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(STREAMED_CONTENT_TYPE),
            );
            Ok(resp)
        }
        ResponseType::Samples => {
            let out = samples_response(querier.as_ref(), &req, max_samples).await?;
            let compressed = snap::raw::Encoder::new()
                .compress_vec(&out.encode_to_vec())
                .map_err(|e| {
                    RemoteReadError::Storage(StorageError::Corrupt(format!("snappy encode: {e}")))
                })?;
            let mut resp = Response::new(Body::from(compressed));
            let h = resp.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/x-protobuf"),
            );
            h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("snappy"));
            Ok(resp)
        }
    }
}

async fn select(querier: &dyn Querier, q: &pb::Query) -> Result<Vec<Series>, RemoteReadError> {
    let matchers =
        matchers_from_proto(&q.matchers).map_err(|e| RemoteReadError::BadQuery(e.to_string()))?;
    let hints = SelectHints {
        start: q.start_timestamp_ms,
        end: q.end_timestamp_ms,
        step: q.hints.as_ref().map_or(0, |h| h.step_ms),
        range: q.hints.as_ref().map_or(0, |h| h.range_ms),
        func: q
            .hints
            .as_ref()
            .map(|h| h.func.clone())
            .filter(|f| !f.is_empty()),
    };
    Ok(querier.select(&hints, &matchers).await?)
}

/// Runs every query and encodes the streamed answer's frames.
pub async fn streamed_frames(
    querier: &dyn Querier,
    req: &ReadRequest,
) -> Result<Vec<Bytes>, RemoteReadError> {
    let mut frames = Vec::new();
    for (i, q) in req.queries.iter().enumerate() {
        let series = select(querier, q).await?;
        let query_index = i as i64;
        for s in &series {
            let labels = labels_to_proto(&s.labels);
            let label_bytes: usize = labels.iter().map(Message::encoded_len).sum();
            let mut chunks = Vec::new();
            let mut frame_bytes = label_bytes;
            for c in s
                .chunks
                .iter()
                .filter(|c| c.max_time >= q.start_timestamp_ms && c.min_time <= q.end_timestamp_ms)
            {
                let pc = chunk_to_proto(c);
                let size = pc.encoded_len() + 8;
                if !chunks.is_empty() && frame_bytes + size > MAX_BYTES_IN_FRAME {
                    frames.push(encode_frame(&ChunkedReadResponse {
                        chunked_series: vec![ChunkedSeries {
                            labels: labels.clone(),
                            chunks: std::mem::take(&mut chunks),
                        }],
                        query_index,
                    }));
                    frame_bytes = label_bytes;
                }
                frame_bytes += size;
                chunks.push(pc);
            }
            if !chunks.is_empty() {
                frames.push(encode_frame(&ChunkedReadResponse {
                    chunked_series: vec![ChunkedSeries { labels, chunks }],
                    query_index,
                }));
            }
        }
    }
    Ok(frames)
}

/// Encodes one frame: the message length as a uvarint, the CRC32 (Castagnoli) of the message
/// as a big-endian u32, then the message.
pub fn encode_frame(msg: &ChunkedReadResponse) -> Bytes {
    let body = msg.encode_to_vec();
    let mut out = Vec::with_capacity(body.len() + 14);
    prost::encoding::encode_varint(body.len() as u64, &mut out);
    out.extend_from_slice(&crc32c::crc32c(&body).to_be_bytes());
    out.extend_from_slice(&body);
    Bytes::from(out)
}

/// Runs every query and collects its samples in `[start, end]`.
pub async fn samples_response(
    querier: &dyn Querier,
    req: &ReadRequest,
    max_samples: usize,
) -> Result<ReadResponse, RemoteReadError> {
    let mut results = Vec::with_capacity(req.queries.len());
    let mut total = 0usize;
    for q in &req.queries {
        let series = select(querier, q).await?;
        let mut timeseries = Vec::with_capacity(series.len());
        for s in &series {
            let mut it = s.iter();
            let samples: Vec<pb::Sample> = it
                .by_ref()
                .skip_while(|p| p.t < q.start_timestamp_ms)
                .take_while(|p| p.t <= q.end_timestamp_ms)
                .map(|p| pb::Sample {
                    value: p.v,
                    timestamp: p.t,
                })
                .collect();
            if let Some(e) = it.err() {
                return Err(StorageError::Corrupt(format!("series {}: {e}", s.labels)).into());
            }
            if samples.is_empty() {
                continue;
            }
            total += samples.len();
            if max_samples > 0 && total > max_samples {
                return Err(RemoteReadError::TooManySamples(max_samples));
            }
            timeseries.push(TimeSeries {
                labels: labels_to_proto(&s.labels),
                samples,
                ..Default::default()
            });
        }
        results.push(QueryResult { timeseries });
    }
    Ok(ReadResponse { results })
}

#[cfg(test)]
mod tests;
