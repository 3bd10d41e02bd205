use async_trait::async_trait;
use strata_model::Matcher;

use crate::Series;

/// Why a read failed. Says whether the fault is the caller's or the store's.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// A store the query needs could not be reached or answered with an error.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// Stored data could not be decoded.
    #[error("corrupt data: {0}")]
    Corrupt(String),
    /// The request itself is wrong (for example, a matcher set that selects everything).
    #[error("bad request: {0}")]
    BadRequest(String),
    /// The query was cancelled or ran out of time.
    #[error("query cancelled: {0}")]
    Cancelled(String),
}

/// What a selection is for, so a store can prune (times in milliseconds, inclusive).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SelectHints {
    /// Earliest sample time needed.
    pub start: i64,
    /// Latest sample time needed.
    pub end: i64,
    /// The query step, 0 for instant queries.
    pub step: i64,
    /// The range of a range selector, 0 for instant selectors.
    pub range: i64,
    /// The function wrapping the selector, if any (`rate`, …).
    pub func: Option<String>,
}

/// Reads one tenant's data over a time range. Cheap to create per query.
#[async_trait]
pub trait Querier: Send + Sync {
    /// The series matching every matcher that have samples in `[hints.start, hints.end]`,
    /// sorted by labels, with their chunks overlapping that range.
    async fn select(
        &self,
        hints: &SelectHints,
        matchers: &[Matcher],
    ) -> Result<Vec<Series>, StorageError>;

    /// Sorted, unique label names of series matching `matchers` (all series if empty) in the range.
    async fn label_names(
        &self,
        hints: &SelectHints,
        matchers: &[Matcher],
    ) -> Result<Vec<String>, StorageError>;

    /// Sorted, unique values of label `name` over series matching `matchers` in the range.
    async fn label_values(
        &self,
        name: &str,
        hints: &SelectHints,
        matchers: &[Matcher],
    ) -> Result<Vec<String>, StorageError>;
}
