//! Errors of the WAL: I/O failures (with the operation and file) and corruption (with the
//! segment and byte offset).

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;

/// What is wrong at a corrupt position.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CorruptionKind {
    /// The data ends inside a fragment header, a fragment or a record (a torn write when at
    /// the end of the last segment).
    UnexpectedEof,
    /// A fragment's CRC32C does not match its data.
    BadChecksum,
    /// A fragment header's type byte is not a known type.
    InvalidType(u8),
    /// A fragment is longer than the room left in its page.
    FragmentTooLong,
    /// A fragment type out of sequence (e.g. a middle fragment with no first one).
    UnexpectedFragment(u8),
    /// Non-zero bytes in a page's zero padding.
    NonZeroPadding,
    /// A segment number is missing between two segments.
    MissingSegment,
}

impl fmt::Display for CorruptionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnexpectedEof => f.write_str("unexpected end of data"),
            Self::BadChecksum => f.write_str("checksum mismatch"),
            Self::InvalidType(t) => write!(f, "invalid fragment type {t}"),
            Self::FragmentTooLong => f.write_str("fragment longer than its page"),
            Self::UnexpectedFragment(t) => write!(f, "fragment type {t} out of sequence"),
            Self::NonZeroPadding => f.write_str("non-zero bytes in page padding"),
            Self::MissingSegment => f.write_str("missing segment"),
        }
    }
}

/// Where and why the log is corrupt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Corruption {
    /// The directory holding the segment (the WAL's or a checkpoint's).
    pub dir: PathBuf,
    /// The segment number.
    pub segment: u32,
    /// Offset of the start of the first record that could not be read: everything before
    /// it is good.
    pub offset: u64,
    /// Offset where the problem was found.
    pub at: u64,
    /// What is wrong.
    pub kind: CorruptionKind,
}

impl fmt::Display for Corruption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} in segment {:08} of {} at offset {} (last good record ends at {})",
            self.kind,
            self.segment,
            self.dir.display(),
            self.at,
            self.offset
        )
    }
}

/// A WAL operation failed.
#[derive(Clone, Debug, thiserror::Error)]
pub enum WalError {
    /// A file system operation failed.
    #[error("wal: {op} {}: {source}", path.display())]
    Io {
        /// The operation (`write segment`, `fsync segment`, `create segment`, …).
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: Arc<io::Error>,
    },
    /// The log is corrupt.
    #[error("wal: corruption: {0}")]
    Corrupt(Box<Corruption>),
    /// A record is bigger than an empty segment can hold.
    #[error("wal: record of {len} bytes exceeds the largest record a segment holds ({max} bytes)")]
    RecordTooLarge {
        /// The record's length.
        len: usize,
        /// The largest record that fits.
        max: usize,
    },
    /// The segment size is not a positive multiple of the page size.
    #[error("wal: segment size {0} is not a positive multiple of the 32 KiB page size")]
    BadSegmentSize(u64),
    /// The checkpoint asked for covers segments that are still being written.
    #[error("wal: cannot checkpoint before segment {before}: segment {current} is the one being written")]
    CheckpointTooFar {
        /// The requested bound.
        before: u32,
        /// The segment being written.
        current: u32,
    },
    /// The writer is gone (the WAL was closed or its thread died).
    #[error("wal: the log is closed")]
    Closed,
    /// An earlier failure could not be undone, so the segment may end in a partial record;
    /// writes fail until the truncation succeeds.
    #[error("wal: segment {} needs repair after an earlier write failure: {source}", path.display())]
    NeedsRepair {
        /// The segment file.
        path: PathBuf,
        /// Why the repair failed.
        #[source]
        source: Arc<io::Error>,
    },
}

impl WalError {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        Self::Io {
            op,
            path: path.into(),
            source: Arc::new(source),
        }
    }
}
