//! The querier's errors: [`QuerierError`] when building it, [`ApiError`] for HTTP answers in
//! Prometheus's error shape and status codes.

use axum::response::{IntoResponse, Response};
use http::{header, HeaderValue, StatusCode};
use strata_promql::QueryError;
use strata_storage::StorageError;

/// Building a querier failed.
#[derive(Debug, thiserror::Error)]
pub enum QuerierError {
    /// An ingester address is not a valid URI.
    #[error("invalid ingester address {addr:?}: {reason}")]
    InvalidIngesterAddress {
        /// The address as configured.
        addr: String,
        /// Why it is invalid.
        reason: String,
    },
    /// The configuration is unusable.
    #[error("invalid querier config: {0}")]
    InvalidConfig(String),
}

/// An API error: Prometheus's `errorType` and message, answered with the matching status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// Prometheus's error type: `bad_data`, `execution`, `timeout`, `canceled`, `internal`,
    /// `unavailable`, `not_found`.
    pub error_type: &'static str,
    /// The message shown to the user.
    pub message: String,
    /// An explicit status, overriding the one implied by `error_type` (tenant errors).
    pub status: Option<StatusCode>,
}

impl ApiError {
    /// A `bad_data` error (400).
    pub fn bad_data(message: impl Into<String>) -> Self {
        Self::new("bad_data", message)
    }

    /// An `internal` error (500).
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new("internal", message)
    }

    /// An error of the given Prometheus type.
    pub fn new(error_type: &'static str, message: impl Into<String>) -> Self {
        Self {
            error_type,
            message: message.into(),
            status: None,
        }
    }

    /// The HTTP status Prometheus answers this error type with.
    pub fn status(&self) -> StatusCode {
        if let Some(s) = self.status {
            return s;
        }
        match self.error_type {
            "bad_data" => StatusCode::BAD_REQUEST,
            "execution" => StatusCode::UNPROCESSABLE_ENTITY,
            // Prometheus answers a cancelled query with 499 (client closed request).
            "canceled" => StatusCode::from_u16(499).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY),
            "timeout" | "unavailable" => StatusCode::SERVICE_UNAVAILABLE,
            "not_found" => StatusCode::NOT_FOUND,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.error_type, self.message)
    }
}

impl From<StorageError> for ApiError {
    fn from(e: StorageError) -> Self {
        let t = match &e {
            StorageError::Unavailable(_) => "unavailable",
            StorageError::Corrupt(_) => "internal",
            StorageError::BadRequest(_) => "bad_data",
            StorageError::Cancelled(_) => "canceled",
        };
        Self::new(t, e.to_string())
    }
}

impl From<QueryError> for ApiError {
    fn from(e: QueryError) -> Self {
        Self::new(e.error_type(), e.to_string())
    }
}

impl From<strata_auth::TenantError> for ApiError {
    fn from(e: strata_auth::TenantError) -> Self {
        let status = e.status();
        let t = if status == StatusCode::UNAUTHORIZED {
            "unauthorized"
        } else {
            "bad_data"
        };
        Self {
            error_type: t,
            message: e.to_string(),
            status: Some(status),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = crate::json::error_body(self.error_type, &self.message);
        let mut resp = (self.status(), body).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_follow_prometheus() {
        assert_eq!(ApiError::bad_data("x").status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            ApiError::new("execution", "x").status(),
            StatusCode::UNPROCESSABLE_ENTITY
        );
        assert_eq!(
            ApiError::new("timeout", "x").status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(
            ApiError::new("unavailable", "x").status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(ApiError::new("canceled", "x").status().as_u16(), 499);
        assert_eq!(
            ApiError::internal("x").status(),
            StatusCode::INTERNAL_SERVER_ERROR
        );
        let e: ApiError = StorageError::Unavailable("ingester down".into()).into();
        assert_eq!(
            (e.error_type, e.status()),
            ("unavailable", StatusCode::SERVICE_UNAVAILABLE)
        );
        let e: ApiError = strata_auth::TenantError::Missing.into();
        assert_eq!(e.status(), StatusCode::UNAUTHORIZED);
    }
}
