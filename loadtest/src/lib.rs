//! `strata-loadtest`: the load generator behind `strata-loadgen` and the ingestion benchmark
//! scripts in this directory; [`agentbench`] holds the scrape targets and the discarding
//! receiver of the agent benchmark (`strata-agentbench`).
//!
//! The generator simulates node_exporter hosts ([`host::Host`]): per host, CPU/network/disk
//! counters, memory/load/filesystem gauges and classic histograms, 10–30 labels per series,
//! values that evolve like real data (monotonic counters with occasional resets, random-walk
//! gauges in realistic quanta). Hosts are dealt to tenants (`tenant-0…`) and to workers.
//!
//! Data path per worker and scrape interval: churn replaces whole hosts → every host
//! `advance`s one scrape on the simulated clock → its series are cut into requests of
//! `--batch` series of one tenant ([`encode::RequestEncoder`], labels pre-encoded, samples
//! encoded with prost into a reused buffer, snappy block compression) → sent with the remote
//! write retry rules → acknowledged samples go to the optional [`acklog`] and the
//! [`stats::Stats`] behind the progress line and the final [`stats::Report`].
//!
//! Invariants: a seed fully determines series and values; a worker has at most one request
//! in flight and sends a host's scrapes in timestamp order, so receivers that refuse
//! out-of-order samples see none; 4xx other than 429 are never retried.

pub mod acklog;
pub mod agentbench;
pub mod cli;
pub mod encode;
pub mod error;
pub mod host;
pub mod openmetrics;
pub mod querybench;
pub mod rng;
pub mod run;
pub mod stats;
pub mod timefmt;

pub use error::{LoadgenError, Result};
