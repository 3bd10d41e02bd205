//! Errors of the remote-write queue.

use std::path::PathBuf;

/// A queue operation failed.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// The queue's WAL failed (open, write, checkpoint).
    #[error("remote queue: wal: {0}")]
    Wal(#[from] strata_wal::WalError),
    /// A file operation outside the WAL failed (positions, directories).
    #[error("remote queue: {op} {}: {source}", path.display())]
    Io {
        /// The operation.
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// An endpoint's configuration is unusable.
    #[error("remote queue: endpoint {name}: {what}")]
    Config {
        /// The endpoint's name.
        name: String,
        /// What is wrong.
        what: String,
    },
    /// The queue was shut down.
    #[error("remote queue: closed")]
    Closed,
}

impl QueueError {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            op,
            path: path.into(),
            source,
        }
    }
}
