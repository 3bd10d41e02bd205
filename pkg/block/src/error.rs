use std::path::PathBuf;

use crate::ChunkRef;

/// Why reading or writing a block failed.
#[derive(Debug, thiserror::Error)]
pub enum BlockError {
    /// A file system operation failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done ("open", "read", "fsync", ...).
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A file of the block does not hold what the format says.
    #[error("corrupt block {block}: {file}: {what}")]
    Corrupt {
        /// The block directory.
        block: PathBuf,
        /// The file inside it ("index", "chunks/000001", "meta.json", ...).
        file: String,
        /// What is wrong.
        what: String,
    },
    /// A chunk's CRC32C does not match its bytes.
    #[error("corrupt block {block}: chunk {chunk} ({file}): checksum mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    ChunkChecksum {
        /// The block directory.
        block: PathBuf,
        /// The segment file.
        file: String,
        /// The chunk's reference.
        chunk: ChunkRef,
        /// The checksum in the file.
        stored: u32,
        /// The checksum of the bytes read.
        computed: u32,
    },
    /// The block uses a format version or feature Strata does not read.
    #[error("unsupported block {block}: {what}")]
    Unsupported {
        /// The block directory.
        block: PathBuf,
        /// What is not supported.
        what: String,
    },
    /// The caller passed something a block cannot hold (series out of order, empty label, ...).
    #[error("invalid input for block writer: {0}")]
    InvalidInput(String),
    /// A write-stage hook asked the writer to stop (tests use this to simulate a crash).
    #[error("block write stopped at stage {0:?}")]
    Stopped(crate::WriteStage),
}

impl BlockError {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        BlockError::Io {
            op,
            path: path.into(),
            source,
        }
    }

    pub(crate) fn corrupt(
        block: impl Into<PathBuf>,
        file: impl Into<String>,
        what: impl Into<String>,
    ) -> Self {
        BlockError::Corrupt {
            block: block.into(),
            file: file.into(),
            what: what.into(),
        }
    }
}

impl From<BlockError> for strata_storage::StorageError {
    fn from(e: BlockError) -> Self {
        match e {
            BlockError::Io { .. } => strata_storage::StorageError::Unavailable(e.to_string()),
            BlockError::InvalidInput(_) => strata_storage::StorageError::BadRequest(e.to_string()),
            _ => strata_storage::StorageError::Corrupt(e.to_string()),
        }
    }
}

/// A decoding step ran past its buffer or met a malformed number; the caller adds the context.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum DecodeError {
    #[error("unexpected end of data")]
    Short,
    #[error("varint overflows 64 bits")]
    VarintOverflow,
    #[error("string is not valid UTF-8")]
    Utf8,
}
