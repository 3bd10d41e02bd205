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
//! Data path: `Db::get_or_create_head` → `Head::appender` → `append_series(labels, samples)`
//! (and `append_histogram`, `add_exemplar`) → `commit` → per series, under its own lock,
//! samples go into the open chunk (`head::open_chunk`: XOR for floats, cut at
//! [`strata_chunkenc::SAMPLES_PER_CHUNK`] samples; integer or float histogram chunks for
//! native histograms, cut by size and where the encoder asks, with Prometheus's
//! counter-reset headers; a float↔histogram switch cuts too; no chunk crosses a
//! [`CHUNK_RANGE_MS`]-aligned boundary); floats and histograms of one commit are applied
//! floats first, as Prometheus's appender; exemplars go to the tenant's
//! [`ExemplarStore`]; then the accepted samples, histograms and exemplars (and new series,
//! and the tenant on its first commit) are queued to the WAL as records (`record`, format
//! in `docs/format/wal.md`), the WAL writer fsyncs a whole group of commits at once, and
//! the commit resolves.
//!
//! Per-tenant options ([`HeadOptions`], [`TenantHeadOptions`] in [`DbOptions::head`]):
//! - the out-of-order window: float samples older than their series' last but not older
//!   than the newest sample known (head or cut blocks) minus the window are kept in a
//!   per-series sorted buffer ([`SeriesState`]), also below the minimum valid time; queries
//!   see them as extra XOR chunks ([`strata_storage::Series::iter`] merges overlapping
//!   chunks), block cutting merges them into the in-order chunks (sorted, one sample per
//!   timestamp). Native histograms are never accepted out of order.
//! - the exemplar buffer size (Prometheus's default 100000; 0 keeps none).
//!
//! Invariants:
//! - Within a series' in-order chunks, stored timestamps strictly increase. A lower
//!   timestamp is refused as out of order (or kept in the out-of-order buffer, see above);
//!   an equal one as a duplicate unless its value is identical (float bits, or histogram
//!   `equals`: a retry, accepted as a no-op). A series holds each timestamp once, in order
//!   or out of order. Stale markers are stored like any value (in a histogram chunk as a
//!   histogram stale marker when the series holds histograms).
//! - Postings lists are sorted by ref and hold every series of the head.
//! - No chunk crosses a [`CHUNK_RANGE_MS`] boundary, so blocks can be cut on them later.
//! - A commit that returns `Ok` has all its accepted samples fsynced in the WAL, after the
//!   records of their series and tenant. Replay rebuilds every such sample, whatever order
//!   concurrent commits reached the log in (see `replay`).
//!
//! - Samples below a head's minimum valid time ([`Head::min_valid_time`], raised by head
//!   compaction before it collects chunks) are refused as [`SampleRejectKind::TooOld`]
//!   unless within the out-of-order window, so with a window of 0 a range written to a
//!   block never gains samples in the head afterwards (with a window, later cuts write
//!   such samples to further, overlapping blocks; reads merge them). Once a cut's blocks
//!   are durable the minimum valid time is logged (a WAL record replay restores, so it
//!   survives restarts), and only then may WAL checkpoints drop samples before it. Each
//!   sample is in the WAL (checkpoint + segments), in a block, or both (after a crash
//!   between block write and checkpoint); reads deduplicate, so results are the same.
//! - Label strings are interned per head: series hold `Arc<str>`s shared with the postings
//!   index keys, so each distinct name and (per name) value is stored once.
//! - Closed chunks of a database on disk live in memory-mapped segment files
//!   (`<dir>/chunks_head/`, `head::offheap`), not on the heap; they are a cache of what the
//!   WAL holds, rebuilt by replay.
//!
//! Not yet: block compaction (merging level-1 blocks, e.g. the overlapping ones out-of-order
//! samples produce), retention, shipping; out-of-order native histograms; exemplars are
//! not written to blocks (they live in the WAL and the head's buffer, as in Prometheus).

mod blocks;
mod checkpoint;
mod compact;
mod db;
mod db_querier;
mod error;
pub mod head;
mod options;
mod querier;
pub mod record;
mod replay;

#[cfg(test)]
mod block_tests;
#[cfg(test)]
mod durability_tests;
#[cfg(test)]
mod native_tests;

pub use blocks::{BlockLoadStats, QUARANTINE_DIR};
pub use compact::CompactStats;
pub use db::{Db, DbOptions};
pub use db_querier::DbQuerier;
pub use error::{DbError, SampleRejectKind, TsdbError};
pub use head::appender::{
    CommitOutcome, HeadAppender, PendingCommit, RejectedExemplar, RejectedSample,
};
pub use head::exemplars::{
    Exemplar, ExemplarAdded, ExemplarRejectKind, ExemplarStore, DEFAULT_MAX_EXEMPLARS,
};
pub use head::metadata::{MetadataStore, MetricMetadata, MetricType};
pub use head::postings::MemPostings;
pub use head::series::{AppendResult, MemSeries, SeriesRef, CHUNK_RANGE_MS};
pub use head::state::SeriesState;
pub use head::value::SampleValue;
pub use head::Head;
pub use options::{HeadOptions, TenantHeadOptions};
pub use querier::HeadQuerier;
pub use replay::ReplayStats;
pub use strata_wal::{CheckpointStats, WalError, WalObserver};
