//! Time-series storage for one ingester: the in-memory head of each tenant, as Prometheus's
//! TSDB head, made durable by one write-ahead log shared by all tenants. Knows nothing of
//! gRPC or HTTP. Later: blocks.
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
//! - Label strings are interned per head: series hold `Arc<str>`s shared with the postings
//!   index keys, so each distinct name and (per name) value is stored once.
//!
//! Not yet: block cutting and head truncation (the head only grows; [`Db::checkpoint_from`]
//! is the WAL side of truncation), series GC.

mod checkpoint;
mod db;
mod error;
pub mod head;
mod querier;
pub mod record;
mod replay;

#[cfg(test)]
mod durability_tests;

pub use db::{Db, DbOptions};
pub use error::{DbError, SampleRejectKind, TsdbError};
pub use head::appender::{CommitOutcome, HeadAppender, PendingCommit, RejectedSample};
pub use head::metadata::{MetadataStore, MetricMetadata, MetricType};
pub use head::postings::MemPostings;
pub use head::series::{AppendResult, MemSeries, SeriesRef, CHUNK_RANGE_MS};
pub use head::Head;
pub use querier::HeadQuerier;
pub use replay::ReplayStats;
pub use strata_wal::{CheckpointStats, WalError, WalObserver};
