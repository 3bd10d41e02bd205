//! The read side of storage, as Prometheus's `storage` package: the one interface the PromQL
//! engine, the Prometheus API and remote read go through, whether the data sits in an
//! ingester's head, in blocks, or across the network.
//!
//! ```text
//!   promql / HTTP API ──► Querier (one tenant, one time range)
//!                            ├─ select(hints, matchers) ─► Vec<Series> (labels + encoded chunks)
//!                            ├─ label_names / label_values
//!                            └─ implemented by: the ingester head, remote ingesters (gRPC),
//!                               later blocks and store-gateways; merged by `merge_series`
//! ```
//!
//! Invariants: a [`Series`]' chunks are sorted by `min_time`; [`Series::iter`] yields samples in
//! strictly increasing time order, deduplicating overlapping chunks (replicas).

mod querier;
mod series;

pub use querier::{Querier, SelectHints, StorageError};
pub use series::{merge_series, ChunkMeta, Series, SeriesIter};
