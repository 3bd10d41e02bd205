//! Time-series storage for one ingester: the in-memory head of each tenant, as Prometheus's
//! TSDB head, made durable by one write-ahead log shared by all tenants, and each tenant's
//! blocks (Prometheus's on-disk format, `strata_block`) cut from its head. Knows nothing of
//! gRPC or HTTP.
//!
//! On-disk layout of [`Db::open`]`(dir)` (the tenant directories as Mimir's ingester):
//! ```text
//! <dir>/wal/                          the WAL of all tenants (or DbOptions::wal_dir)
//! <dir>/tsdb/<tenant>/<ULID>/         the tenant's blocks
//! <dir>/tsdb/<tenant>/quarantine/     blocks that failed to open, moved aside
//! ```
//!
//! Key types:
//! - [`Db`]: tenant → [`Head`], heads created on first write. [`Db::new`] keeps everything
//!   in memory; [`Db::open`] replays the WAL in a directory first ([`ReplayStats`]) and logs
//!   every later commit to it.
//! - [`Head`]: series ([`MemSeries`], keyed by label hash with collision handling, addressed by
//!   [`SeriesRef`]), the postings index ([`MemPostings`]) and metric metadata.
//! - [`HeadAppender`]: stages samples, then [`HeadAppender::commit`] applies them, logs them
//!   and resolves once they are fsynced, reporting refused samples ([`RejectedSample`]).
//! - [`HeadQuerier`]: [`strata_storage::Querier`] over a head, plus the `series` API.
//! - [`DbQuerier`] ([`Db::querier`]): a tenant's head and the blocks overlapping the range,
//!   merged with [`strata_storage::merge_series`]; what the ingester serves reads from.
//! - Head compaction (`compact`): [`Db::compact_head`] / [`Db::compact_all`] cut 2-hour
//!   ranges that ended 1.5 ranges before the head's newest sample into blocks,
//!   [`Db::flush_head`] / [`Db::flush_all`] cut everything; then the head is truncated and
//!   the WAL checkpointed ([`CompactStats`]).
//!
//! Data path: `Db::get_or_create_head` → `Head::appender` → `append_series(labels, samples)` →
//! `commit` → per series, under its own lock, samples go into the open XOR chunk, cut at
//! [`strata_chunkenc::SAMPLES_PER_CHUNK`] samples or at a [`CHUNK_RANGE_MS`]-aligned boundary;
//! then the accepted samples (and new series, and the tenant on its first commit) are
//! queued to the WAL as records (`record`, format in `docs/format/wal.md`), the WAL
//! writer fsyncs a whole group of commits at once, and the commit resolves.
//!
//! Invariants:
//! - Within a series, stored timestamps strictly increase. A lower timestamp is refused as
//!   out of order; an equal one as a duplicate unless its value bits are identical (a retry,
//!   accepted as a no-op). Stale markers are stored like any value.
//! - Postings lists are sorted by ref and hold every series of the head.
//! - No chunk crosses a [`CHUNK_RANGE_MS`] boundary, so blocks can be cut on them later.
//! - A commit that returns `Ok` has all its accepted samples fsynced in the WAL, after the
//!   records of their series and tenant. Replay rebuilds every such sample, whatever order
//!   concurrent commits reached the log in (see `replay`).
//!
//! - Samples below a head's minimum valid time ([`Head::min_valid_time`], raised by head
//!   compaction before it collects chunks) are refused as [`SampleRejectKind::TooOld`], so
//!   a range written to a block never gains samples in the head afterwards. Each sample is
//!   in the WAL (checkpoint + segments), in a block, or both (after a crash between block
//!   write and checkpoint); reads deduplicate, so results are the same.
//! - Label strings are interned per head: series hold `Arc<str>`s shared with the postings
//!   index keys, so each distinct name and (per name) value is stored once.
//!
//! Not yet: block compaction (merging level-1 blocks), retention, shipping; the minimum
//! valid time is not persisted, so after a restart samples older than the cut blocks are
//! accepted again (they are cut into further, overlapping blocks; reads merge them).

mod blocks;
mod checkpoint;
mod compact;
mod db;
mod db_querier;
mod error;
pub mod head;
mod querier;
pub mod record;
mod replay;

#[cfg(test)]
mod block_tests;
#[cfg(test)]
mod durability_tests;

pub use blocks::{BlockLoadStats, QUARANTINE_DIR};
pub use compact::CompactStats;
pub use db::{Db, DbOptions};
pub use db_querier::DbQuerier;
pub use error::{DbError, SampleRejectKind, TsdbError};
pub use head::appender::{CommitOutcome, HeadAppender, PendingCommit, RejectedSample};
pub use head::metadata::{MetadataStore, MetricMetadata, MetricType};
pub use head::postings::MemPostings;
pub use head::series::{AppendResult, MemSeries, SeriesRef, CHUNK_RANGE_MS};
pub use head::Head;
pub use querier::HeadQuerier;
pub use replay::ReplayStats;
pub use strata_wal::{CheckpointStats, WalError, WalObserver};
