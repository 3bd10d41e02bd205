//! Errors of the distributor: construction failures ([`DistributorError`]) and the reasons a
//! push request fails ([`PushError`]), each mapped to the HTTP status a remote-write client
//! acts on (4xx: drop the batch; 5xx: retry it).

use http::StatusCode;
use strata_auth::TenantError;

/// Why a [`crate::Distributor`] could not be built.
#[derive(Debug, thiserror::Error)]
pub enum DistributorError {
    /// An ingester address is not a usable `host:port`.
    #[error("invalid ingester address {addr:?}: {reason}")]
    InvalidIngesterAddr {
        /// The address as configured.
        addr: String,
        /// What is wrong with it.
        reason: String,
    },
    /// No ingester address was configured.
    #[error("no ingester addresses configured: the distributor needs at least one")]
    NoIngesters,
    /// Built outside a Tokio runtime: gRPC channels spawn their workers on it.
    #[error("create distributor: must be called inside a tokio runtime")]
    NoRuntime,
}

/// Why a push request failed as a whole, or partly (for [`PushError::BadData`]).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PushError {
    /// No tenant or an invalid one.
    #[error(transparent)]
    Tenant(#[from] TenantError),
    /// `Content-Type` is neither remote write 1.0 nor 2.0 protobuf.
    #[error("unsupported content type {0:?}: expected application/x-protobuf with proto=prometheus.WriteRequest or proto=io.prometheus.write.v2.Request")]
    UnsupportedContentType(String),
    /// `Content-Encoding` is not snappy.
    #[error("unsupported content encoding {0:?}: only snappy is supported")]
    UnsupportedContentEncoding(String),
    /// The compressed body is over `max_recv_msg_size`.
    #[error("request body too large: more than the limit of {limit} bytes")]
    BodyTooLarge {
        /// The configured limit in bytes.
        limit: usize,
    },
    /// The body could not be read from the connection.
    #[error("read request body: {0}")]
    ReadBody(String),
    /// The body is empty.
    #[error("empty request body")]
    EmptyBody,
    /// The snappy header declares more bytes than `max_decompressed_size`.
    #[error("decompressed request too large: snappy header declares {declared} bytes, more than the limit of {limit} bytes")]
    DecompressedTooLarge {
        /// The length the snappy header declares.
        declared: u64,
        /// The configured limit in bytes.
        limit: usize,
    },
    /// The body is not a valid snappy block.
    #[error("decompress snappy request body: {0}")]
    Snappy(String),
    /// The decompressed body is not a valid protobuf message.
    #[error("decode {proto} request: {reason}")]
    Decode {
        /// The message type expected (`prometheus.WriteRequest`, ...).
        proto: &'static str,
        /// What prost reported.
        reason: String,
    },
    /// A remote write 2.0 request is structurally invalid (bad symbol references).
    #[error("invalid remote write 2.0 request: {0}")]
    InvalidRw2(String),
    /// Some series or samples were rejected (by validation or by the ingesters); the valid
    /// ones were stored. The message lists the first errors, one a line.
    #[error("{0}")]
    BadData(String),
    /// An ingester could not be reached or timed out: nothing is known to be durable there.
    #[error("push to ingester {addr}: {message}")]
    IngesterUnavailable {
        /// The ingester's address.
        addr: String,
        /// The gRPC status message.
        message: String,
    },
    /// The tenant is over its ingestion rate (this distributor's share of it): 429.
    #[error("the request has been rejected because the tenant exceeded the ingestion rate limit, set to {rate} items/s with a maximum allowed burst of {burst}. This limit is applied on the total number of samples, exemplars and metadata received across all distributors (err-mimir-tenant-max-ingestion-rate). To adjust the related per-tenant limits, configure -distributor.ingestion-rate-limit and -distributor.ingestion-burst-size, or contact your service administrator.")]
    RateLimited {
        /// The tenant's global rate limit, samples per second.
        rate: f64,
        /// The tenant's global burst size.
        burst: u64,
    },
    /// The HA tracker dropped the push: another replica of its cluster is elected. Answered
    /// 202 (as Mimir does), so the sender neither retries nor reports an error.
    #[error("replicas did not match, rejecting sample: replica={replica}, elected={elected}")]
    HaDeduplicated {
        /// The replica that sent.
        replica: String,
        /// The elected replica.
        elected: String,
    },
    /// The HA tracker could not reach a decision (the ring cannot commit): retryable.
    #[error("HA tracker: {0}")]
    HaTracker(String),
    /// An ingester failed the push with an internal error.
    #[error("push to ingester {addr}: {message}")]
    IngesterFailed {
        /// The ingester's address.
        addr: String,
        /// The gRPC status message.
        message: String,
    },
}

impl PushError {
    /// The HTTP status to answer with.
    pub fn status(&self) -> StatusCode {
        match self {
            PushError::Tenant(e) => e.status(),
            PushError::UnsupportedContentType(_) | PushError::UnsupportedContentEncoding(_) => {
                StatusCode::UNSUPPORTED_MEDIA_TYPE
            }
            PushError::BodyTooLarge { .. } | PushError::DecompressedTooLarge { .. } => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            PushError::ReadBody(_)
            | PushError::EmptyBody
            | PushError::Snappy(_)
            | PushError::Decode { .. }
            | PushError::InvalidRw2(_)
            | PushError::BadData(_) => StatusCode::BAD_REQUEST,
            PushError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            PushError::HaDeduplicated { .. } => StatusCode::ACCEPTED,
            PushError::IngesterUnavailable { .. } | PushError::HaTracker(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            PushError::IngesterFailed { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Whether the client should retry the same request: only for server-side failures, as
    /// Prometheus's remote-write client does (it retries 5xx, never 4xx).
    pub fn retryable(&self) -> bool {
        self.status().is_server_error()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_retry() {
        let cases = [
            (PushError::Tenant(TenantError::Missing), 401, false),
            (
                PushError::UnsupportedContentType("text/plain".into()),
                415,
                false,
            ),
            (
                PushError::UnsupportedContentEncoding("gzip".into()),
                415,
                false,
            ),
            (PushError::BodyTooLarge { limit: 1 }, 413, false),
            (
                PushError::DecompressedTooLarge {
                    declared: 2,
                    limit: 1,
                },
                413,
                false,
            ),
            (PushError::EmptyBody, 400, false),
            (PushError::BadData("x".into()), 400, false),
            (
                PushError::RateLimited {
                    rate: 1.0,
                    burst: 2,
                },
                429,
                false,
            ),
            (
                PushError::HaDeduplicated {
                    replica: "b".into(),
                    elected: "a".into(),
                },
                202,
                false,
            ),
            (PushError::HaTracker("no leader".into()), 503, true),
            (
                PushError::IngesterUnavailable {
                    addr: "a:1".into(),
                    message: "down".into(),
                },
                503,
                true,
            ),
            (
                PushError::IngesterFailed {
                    addr: "a:1".into(),
                    message: "boom".into(),
                },
                500,
                true,
            ),
        ];
        for (err, status, retry) in cases {
            assert_eq!(err.status().as_u16(), status, "{err}");
            assert_eq!(err.retryable(), retry, "{err}");
        }
    }
}
