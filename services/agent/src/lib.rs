//! The scraping agent (`-target=agent`): Prometheus's scrape manager, pools and loops over
//! discovered targets, writing samples to a [`SampleSink`] (the remote-write queue).
//!
//! ```text
//!  discovery (groups per job) ──► ScrapeManager ──► ScrapePool (per job) ──► scrape loop
//!                                   ▲ apply_config       (per target: offset, interval)
//!                                   │ (reload)              │ HTTP GET, gzip, limits
//!  pages: /targets, /api/v1/targets, /service-discovery,    ▼
//!         POST /-/reload                append: target labels, metric relabeling, limits,
//!                                       duplicates, staleness, report series
//!                                          ──► SeriesClock ──► SampleSink (commit per scrape)
//! ```
//!
//! - [`target`]: targets from groups (`populate_labels`), identity hash, scrape offset.
//! - [`append`]: one scrape's body into a batch, without I/O (the testable core).
//! - [`scrape_loop`], [`pool`], [`manager`]: the running parts; [`pages`]: HTTP.
//! - [`sink`]: where samples go, and the per-series clock refusing out-of-order samples.
//!
//! TLS (`scheme: https`, `tls_config`) for targets, SD and remote write goes through
//! strata-httpclient (rustls with ring; its crate docs list the differences from Go's TLS).
//!
//! Not yet: HTTP/2 to targets, OAuth2, `track_timestamps_staleness`, created timestamps.
//!
//! Invariants: a scrape's samples are committed together or not at all (a failed scrape
//! writes only stale markers and its report); each target is scraped by one loop, at a fixed
//! phase of its interval; with `-agent.shard=i/n`, each address belongs to exactly one agent.

pub mod agent;
pub mod append;
pub mod cache;
pub mod convert;
pub mod job;
pub mod manager;
pub mod metrics;
pub mod pages;
pub mod pool;
pub mod scrape_loop;
pub mod scraper;
pub mod sink;
pub mod target;

pub use agent::{Agent, AgentError, AgentOptions};
pub use job::{HttpOptions, JobConfig};
pub use manager::{Groups, ScrapeManager};
pub use metrics::ScrapeMetrics;
pub use pool::Shard;
pub use scrape_loop::LoopEnv;
pub use sink::{MemorySink, SampleSink, SeriesClock, SinkAppender};
pub use strata_discovery::SdOptions;
pub use strata_remote_queue::QueueOptions;
pub use target::{Target, TargetGroup};
