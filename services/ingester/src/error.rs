//! Errors of the ingester: bad requests (the caller's fault) and storage failures (ours).

use std::path::PathBuf;

use strata_model::{MatcherError, TenantIdError};
use strata_tsdb::DbError;

/// A request could not be understood, or storage failed.
#[derive(Debug, thiserror::Error)]
pub enum IngesterError {
    /// The database (WAL replay) could not be opened at start-up.
    #[error("open ingester database in {}: {source}", dir.display())]
    Open {
        /// The WAL directory.
        dir: PathBuf,
        /// Why.
        #[source]
        source: DbError,
    },
    /// A push could not be made durable (WAL write or fsync failed): nothing of it is
    /// acknowledged; the client should retry.
    #[error("push not stored: {0}")]
    Storage(#[source] DbError),
    /// A read failed: a block could not be read (corrupt chunk, I/O error).
    #[error("query failed: {0}")]
    Query(#[from] strata_storage::StorageError),
    /// Cutting heads into blocks failed.
    #[error("cut blocks: {0}")]
    Flush(#[source] DbError),
    /// The blocking task cutting blocks did not finish (it panicked or was cancelled).
    #[error("cut blocks: task failed: {0}")]
    FlushTask(String),
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
        match e {
            // Retryable server-side failures: the distributor answers 5xx.
            IngesterError::Open { .. } | IngesterError::Storage(_) => {
                tonic::Status::unavailable(e.to_string())
            }
            IngesterError::Query(strata_storage::StorageError::BadRequest(_)) => {
                tonic::Status::invalid_argument(e.to_string())
            }
            IngesterError::Query(strata_storage::StorageError::Unavailable(_))
            | IngesterError::Flush(_)
            | IngesterError::FlushTask(_) => tonic::Status::unavailable(e.to_string()),
            IngesterError::Query(_) => tonic::Status::internal(e.to_string()),
            _ => tonic::Status::invalid_argument(e.to_string()),
        }
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
