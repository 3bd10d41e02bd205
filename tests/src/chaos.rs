//! Chaos testing under load: a writer that records every acknowledged sample, a checker that
//! finds them again through the querier, and a cluster of separate processes to break.
//!
//! ```text
//!  Writer (2,000 series/s, retries 429/5xx) ──push──► distributor-0/1 ──► ingester-a/b/c
//!     │ acks (series, t, v)                                                  ▲ SIGKILL,
//!     ▼                                                                      │ SIGSTOP, SIGTERM,
//!  checker ──remote read / PromQL──► querier ──────────────────────────────────┘ restart, add
//! ```
//!
//! - [`writer::Writer`]: one sample per series per interval through the distributors
//!   (round robin), remote-write retry rules, an [`writer::WriterLog`] of acknowledgements,
//!   statuses and client-visible failures.
//! - [`checker`]: every sample acknowledged at least [`checker::SETTLE`] before a read must
//!   come back with its exact value ("complete").
//! - [`cluster::Cluster`]: 3 ingesters (zones a/b/c, Raft voters), 2 distributors, 1
//!   querier on 127.0.0.1 with short timeouts; kill, stop, terminate, restart, add.
//! - [`Report`]: the one line per scenario (acknowledged, found, client errors, recovery).

pub mod checker;
pub mod cluster;
pub mod writer;

use std::time::Duration;

/// Series per writer: `$CHAOS_SERIES` (the 10,000-series run of `loadtest/chaos.sh`), else
/// 2,000.
pub fn series_count() -> usize {
    std::env::var("CHAOS_SERIES")
        .ok()
        .and_then(|s| s.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(2000)
}

/// The outcome of one scenario, printed as one line (a Markdown table row, prefixed
/// `[chaos-report]` so scripts can collect it).
#[derive(Clone, Debug)]
pub struct Report {
    /// Scenario number and name.
    pub scenario: String,
    /// Series the writer sent.
    pub series: usize,
    /// Samples acknowledged (2xx, 202 excluded).
    pub acked: usize,
    /// Of those, found with their value at the final check.
    pub found: usize,
    /// Requests that failed at the client (gave up or non-retryable 4xx).
    pub client_errors: usize,
    /// The scenario's recovery time (what it measures is in `recover_what`).
    pub recover: Duration,
    /// What `recover` measures.
    pub recover_what: String,
    /// Anything else worth a column.
    pub notes: String,
}

impl Report {
    /// Prints the line.
    pub fn print(&self) {
        eprintln!(
            "[chaos-report] | {} | {} | {} | {} | {} | {:.2} s ({}) | {} |",
            self.scenario,
            self.series,
            self.acked,
            self.found,
            self.client_errors,
            self.recover.as_secs_f64(),
            self.recover_what,
            self.notes
        );
    }
}
