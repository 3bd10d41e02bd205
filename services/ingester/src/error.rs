//! Errors of the ingester's request handling; all are the caller's fault.

use strata_model::{MatcherError, TenantIdError};

/// A request could not be understood.
#[derive(Debug, thiserror::Error)]
pub enum IngesterError {
    /// The tenant id is not valid.
    #[error("invalid tenant id in {op} request: {source}")]
    InvalidTenant {
        /// The RPC.
        op: &'static str,
        /// Why the id is invalid.
        #[source]
        source: TenantIdError,
    },
    /// A matcher's type is not one of `=`, `!=`, `=~`, `!~`.
    #[error("unknown label matcher type {0} for label {1:?}")]
    UnknownMatcherType(i32, String),
    /// A matcher's regex does not compile.
    #[error(transparent)]
    BadMatcher(#[from] MatcherError),
}

impl From<IngesterError> for tonic::Status {
    fn from(e: IngesterError) -> Self {
        tonic::Status::invalid_argument(e.to_string())
    }
}

/// A series' labels are unusable; the series' samples are rejected as invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LabelsError {
    /// No label with a non-empty value.
    #[error("series has no labels")]
    Empty,
    /// The same name twice.
    #[error("duplicate label name {0:?}")]
    DuplicateName(String),
}
