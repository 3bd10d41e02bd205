//! Time-series storage for one ingester: the in-memory head of each tenant, as Prometheus's
//! TSDB head. Knows nothing of gRPC or HTTP. Later: a WAL and blocks.
//!
//! Key types:
//! - [`Db`]: tenant → [`Head`], heads created on first write.
//! - [`Head`]: series ([`MemSeries`], keyed by label hash with collision handling, addressed by
//!   [`SeriesRef`]), the postings index ([`MemPostings`]) and metric metadata.
//! - [`HeadAppender`]: stages samples, then [`HeadAppender::commit`] applies them and reports
//!   refused samples ([`RejectedSample`]); the future WAL write goes into commit.
//! - [`HeadQuerier`]: [`strata_storage::Querier`] over a head, plus the `series` API.
//!
//! Data path: `Db::get_or_create_head` → `Head::appender` → `append_series(labels, samples)` →
//! `commit` → per series, under its own lock, samples go into the open XOR chunk, cut at
//! [`strata_chunkenc::SAMPLES_PER_CHUNK`] samples or at a [`CHUNK_RANGE_MS`]-aligned boundary.
//!
//! Invariants:
//! - Within a series, stored timestamps strictly increase. A lower timestamp is refused as
//!   out of order; an equal one as a duplicate unless its value bits are identical (a retry,
//!   accepted as a no-op). Stale markers are stored like any value.
//! - Postings lists are sorted by ref and hold every series of the head.
//! - No chunk crosses a [`CHUNK_RANGE_MS`] boundary, so blocks can be cut on them later.
//!
//! - Label strings are interned per head: series hold `Arc<str>`s shared with the postings
//!   index keys, so each distinct name and (per name) value is stored once.
//!
//! Not yet: WAL, block cutting and head truncation (the head only grows), series GC.

mod db;
mod error;
pub mod head;
mod querier;

pub use db::Db;
pub use error::{SampleRejectKind, TsdbError};
pub use head::appender::{CommitOutcome, HeadAppender, RejectedSample};
pub use head::metadata::{MetadataStore, MetricMetadata, MetricType};
pub use head::postings::MemPostings;
pub use head::series::{AppendResult, MemSeries, SeriesRef, CHUNK_RANGE_MS};
pub use head::Head;
pub use querier::HeadQuerier;
