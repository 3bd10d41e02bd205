//! Errors of the head: why a sample or a series was refused.

use std::fmt;

/// Why one sample was not appended. The batch goes on without it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SampleRejectKind {
    /// The timestamp is lower than the series' last timestamp.
    OutOfOrder,
    /// The timestamp equals the series' last timestamp but the value bits differ.
    DuplicateTimestamp,
    /// The timestamp is before the head's minimum valid time: that range has been cut into
    /// blocks already (Prometheus's "out of bounds").
    TooOld,
}

impl SampleRejectKind {
    /// The message Prometheus uses for this rejection.
    pub fn message(self) -> &'static str {
        match self {
            SampleRejectKind::OutOfOrder => "out of order sample",
            SampleRejectKind::DuplicateTimestamp => "duplicate sample for timestamp",
            SampleRejectKind::TooOld => "out of bounds",
        }
    }

    /// A short, stable name for metrics (`reason` label).
    pub fn reason(self) -> &'static str {
        match self {
            SampleRejectKind::OutOfOrder => "sample_out_of_order",
            SampleRejectKind::DuplicateTimestamp => "sample_duplicate_timestamp",
            SampleRejectKind::TooOld => "sample_out_of_bounds",
        }
    }
}

impl fmt::Display for SampleRejectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

/// An operation on the head failed as a whole.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TsdbError {
    /// A series must have at least one label.
    #[error("cannot create series with an empty label set")]
    EmptyLabels,
    /// A series label has an empty value, which Prometheus treats as an absent label.
    #[error("cannot create series {labels}: label {name:?} has an empty value")]
    EmptyLabelValue {
        /// The series as given.
        labels: String,
        /// The label with the empty value.
        name: String,
    },
    /// A native histogram is not valid (spans and buckets disagree, negative counts, …).
    #[error("invalid native histogram: {0}")]
    InvalidHistogram(String),
}

/// A database operation that touches the disk failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum DbError {
    /// The write-ahead log failed (write, fsync, open, checkpoint). A commit that fails
    /// with this is not durable and must not be acknowledged.
    #[error("tsdb: {0}")]
    Wal(#[from] strata_wal::WalError),
    /// Writing, opening or listing blocks failed.
    #[error("tsdb: {op}: {source}")]
    Block {
        /// What was being done ("write block for tenant t", "list blocks", ...).
        op: String,
        /// Why (shared: block errors hold `io::Error`s, which do not clone).
        #[source]
        source: std::sync::Arc<strata_block::BlockError>,
    },
    /// A file system operation on the block directories failed.
    #[error("tsdb: {op} {}: {source}", path.display())]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file or directory.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: std::sync::Arc<std::io::Error>,
    },
}

impl DbError {
    pub(crate) fn block(op: impl Into<String>, e: strata_block::BlockError) -> Self {
        DbError::Block {
            op: op.into(),
            source: std::sync::Arc::new(e),
        }
    }

    pub(crate) fn io(op: &'static str, path: &std::path::Path, e: std::io::Error) -> Self {
        DbError::Io {
            op,
            path: path.to_path_buf(),
            source: std::sync::Arc::new(e),
        }
    }
}
