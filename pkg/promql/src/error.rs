//! The engine's error type and how each error maps to the HTTP API's `errorType`.

use strata_storage::StorageError;

/// Why a query failed.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The query text does not parse.
    #[error("{0}")]
    Parse(String),
    /// A query parameter (time range, step, ...) is invalid.
    #[error("{0}")]
    BadData(String),
    /// Evaluation failed (duplicate label sets, too many samples, invalid arguments, ...).
    #[error("{0}")]
    Execution(String),
    /// The query ran longer than the engine's timeout.
    #[error("query timed out in {0}")]
    Timeout(&'static str),
    /// The query was cancelled.
    #[error("query was canceled in {0}")]
    Canceled(&'static str),
    /// Storage could not be reached.
    #[error("{0}")]
    Unavailable(String),
    /// A bug or corrupt data.
    #[error("{0}")]
    Internal(String),
}

impl QueryError {
    /// The Prometheus HTTP API `errorType` for this error.
    pub fn error_type(&self) -> &'static str {
        match self {
            QueryError::Parse(_) | QueryError::BadData(_) => "bad_data",
            QueryError::Execution(_) => "execution",
            QueryError::Timeout(_) => "timeout",
            QueryError::Canceled(_) => "canceled",
            QueryError::Unavailable(_) => "unavailable",
            QueryError::Internal(_) => "internal",
        }
    }

    pub(crate) fn exec(msg: impl Into<String>) -> Self {
        QueryError::Execution(msg.into())
    }
}

impl From<StorageError> for QueryError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::Unavailable(m) => {
                QueryError::Unavailable(format!("storage unavailable: {m}"))
            }
            StorageError::Corrupt(m) => QueryError::Internal(format!("corrupt data: {m}")),
            StorageError::BadRequest(m) => QueryError::BadData(m),
            StorageError::Cancelled(_) => QueryError::Canceled("query execution"),
        }
    }
}
