//! The agent's remote-write queue: a WAL on disk between scraping and sending, a persisted
//! read position per endpoint, per-endpoint disk caps, sharded senders with retries — the
//! part of Prometheus's agent mode after the scrape loop.
//!
//! ```text
//! scrape ─> Appender::commit ─> <dir>/wal (segments, checkpoint.N)
//!                                  │ tailed by one reader per endpoint
//!             ┌────────────────────┴──────────────────────┐
//!        endpoint "a"                                endpoint "b"
//!  external labels + write relabel              (same, its own position)
//!  series hashed to shards ─> POST (RW 1.0/2.0, snappy), retries
//!  acked position ─> <dir>/endpoints/a/position
//! truncation: segments before every endpoint's position go, behind a checkpoint of the
//! series still referenced
//! ```
//!
//! Key types: [`Queue`] ([`Queue::open`], [`Queue::apply_endpoints`], [`Queue::status`],
//! [`Queue::shutdown`]), [`Appender`], [`EndpointConfig`], [`QueueOptions`],
//! [`QueueMetrics`].
//!
//! Durability: [`Appender::commit`] returns once the records are written to the segment
//! file (page cache), which a SIGKILL does not lose; Prometheus's agent does not fsync per
//! scrape either. [`QueueOptions::fsync`] fsyncs every commit for power-loss safety.
//! Sending is at least once: a position is stored (atomically, at most every
//! `position_sync_interval`) only for data every shard has acknowledged, so after a kill the
//! data acknowledged since the last store is sent again; the receiver accepts identical
//! resends.
//!
//! Invariants:
//! - A dead endpoint never blocks appends nor another endpoint: each reads on its own and
//!   appends never wait for readers; its backlog is bounded only by its caps.
//! - A segment is deleted only when every endpoint's acknowledged position is past it (a
//!   cap moves one endpoint's position forward, counted in
//!   `strata_remote_queue_dropped_samples_total`).
//! - Samples of one series are sent in WAL order (one shard per series, one request at a
//!   time per shard).
//!
//! `https://` endpoints take Prometheus's `tls_config` (strata-httpclient: rustls, ring).
//! Limits of this build: the shard count follows a simple version of Prometheus's `desiredShards` (see `endpoint`).

mod config;
mod endpoint;
mod error;
mod metrics;
mod position;
mod queue;
mod reader;
mod request;
mod shard;
mod wal;

pub use config::{
    EndpointConfig, Protocol, QueueOptions, QueueParams, TlsConfig, MIN_CAPPED_SEGMENT_SIZE,
};
pub use error::QueueError;
pub use metrics::{DropLabels, EndpointLabels, QueueMetrics};
pub use position::Position;
pub use queue::{Appender, EndpointStatus, Queue};
pub use strata_tsdb::{Exemplar, MetricMetadata, MetricType};
