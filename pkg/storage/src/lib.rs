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
//!
//! Native histograms: a series' chunks may be XOR floats, integer histograms (encoding 2) or
//! float histograms (encoding 3). [`Series::iter`] reads XOR chunks only (and errors on others);
//! [`Series::decode_all`] (or [`Series::decode_range`], only samples in a time range; XOR chunks
//! that follow each other are decoded straight into one vector, anything else merged by time)
//! reads every encoding into [`DecodedSamples`] (floats and histograms
//! apart, as PromQL needs them).

mod decode;
mod querier;
mod series;

pub use decode::{DecodeError, DecodedSamples, HistogramSample};

pub use querier::{Querier, SelectHints, StorageError};
pub use series::{merge_series, merge_sorted_series, ChunkMeta, Series, SeriesIter};
