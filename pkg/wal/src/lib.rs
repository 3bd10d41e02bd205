//! A write-ahead log with Prometheus's wlog framing, knowing nothing of what its records mean.
//!
//! Key types:
//! - [`Wal`]: one log directory. [`Wal::open`] replays the latest checkpoint and the segments
//!   after it through a callback and repairs what a crash or damage left (see [`OpenReport`]);
//!   [`Wal::log`] queues a batch of records and returns a [`Pending`] that resolves once they
//!   are fsynced; [`Wal::cut_segment`] starts a new segment; [`Wal::checkpoint`] compacts
//!   old segments through a [`Compactor`].
//! - [`SegmentReader`]: records of one segment, with exact damage positions ([`Corruption`]).
//! - [`WalObserver`]: metrics hooks (fsyncs and their duration, bytes written).
//!
//! Layout: `<dir>/00000000`, `00000001`, … (segments, at most `segment_size` bytes each,
//! default 128 MiB) and `<dir>/checkpoint.NNNNNNNN/` (a compacted log of everything up to
//! segment NNNNNNNN, itself made of segments). Each segment is a run of 32 KiB pages holding
//! record fragments behind 7-byte headers (see [`format`]); records never cross segments.
//!
//! Data path: caller encodes records → [`Wal::log`] queues the batch → the writer thread
//! takes every queued batch, frames them into the current segment with `write(2)`, fsyncs
//! once and answers all of them (group commit).
//!
//! Every write, fsync, truncation, creation, rename and removal goes through the
//! [`strata_vfs::Fs`] in [`WalOptions::fs`] (the real file system by default), so tests can
//! simulate a power loss under the log; [`Wal::checkpoint`] passes the
//! `wal-checkpoint-middle` failpoint between renaming a checkpoint and deleting what it covers.
//!
//! Invariants:
//! - A batch is acknowledged only after an fsync that covers all its records.
//! - A new segment, checkpoint or WAL directory is in use only after the directory holding it
//!   is fsynced.
//! - A segment never ends in a partial record after a failed write: the writer cuts it back
//!   (or refuses further writes until it can).
//! - Records are replayed in the order they were queued.
//!
//! The record format Strata's head writes on top of this is in `docs/format/wal.md`.

mod checkpoint;
mod error;
pub mod format;
mod reader;
mod recover;
pub mod segment;
mod wal;
mod writer;

pub use checkpoint::{CheckpointStats, Compactor};
pub use error::{Corruption, CorruptionKind, WalError};
pub use reader::{read_dir_segments, SegmentReader};
pub use recover::OpenReport;
pub use wal::{Pending, Wal, WalObserver, WalOptions};
pub use writer::SegmentWriter;

#[cfg(test)]
mod tests;
