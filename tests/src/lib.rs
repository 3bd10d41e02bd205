//! End-to-end test harness: starts Strata and its real peers (Prometheus, node_exporter, the
//! blackbox exporter from Debian's packages) on free loopback ports, each in its own temporary
//! directory, and talks to them over HTTP.
//!
//! - [`process::Process`]: a spawned child with its own temp dir and log file; SIGTERM then
//!   SIGKILL on drop; prints its log tail when the test panics.
//! - [`strata::Strata`], [`peers::Prometheus`], [`peers::NodeExporter`],
//!   [`peers::BlackboxExporter`]: start a server, wait until it is ready, expose its URLs.
//! - [`api::PromApi`]: Prometheus's HTTP query API (on Prometheus or on Strata's
//!   `/prometheus/api/v1`), answers parsed into [`api::QueryData`].
//! - [`write`]: remote write pushes (snappy protobuf) and raw pushes for bad-input tests.
//! - [`remote_read`]: remote read requests, SAMPLES and STREAMED_XOR_CHUNKS responses.
//! - [`compare`]: compares two parsed answers (exact, or within a relative tolerance).
//! - [`compat`]: compares two tenants' raw samples as value sequences (scrapers side by side).
//! - [`fixtures`]: builders for write requests, valid and deliberately broken.
//! - [`synthetic`]: a deterministic data set for PromQL comparisons across versions.
//! - [`target`]: a scrape target the test controls: pages it sets and changes, raw or
//!   endless bodies, a target that never answers, and a log of every scrape served.
//! - [`wait`]: polls a predicate until a deadline; tests never sleep to synchronise.
//! - [`compose`]: docker images, a `docker-compose.yml` project per test, network cuts, and a
//!   steady remote-write load with retries.
//! - [`e2e`]: wraps a test body so a failure prints the servers' log tails.
//! - [`chaos`]: a recording remote-write writer, its checker, and a cluster of separate
//!   processes to kill, stop and restart under load.
//!
//! Invariants: every server binds 127.0.0.1 on a port from [`net::free_port`] and keeps its
//! data in its own temp dir, so tests never collide with each other or with system services
//! the packages may have started.

pub mod api;
pub mod chaos;
pub mod compare;
pub mod compat;
pub mod compose;
pub mod fixtures;
pub mod net;
pub mod peers;
pub mod process;
pub mod remote_read;
pub mod strata;
pub mod synthetic;
pub mod target;
pub mod wait;
pub mod write;

pub use api::{Auth, PromApi, QueryData};
pub use peers::{NodeExporter, Prometheus};
pub use process::Process;
pub use strata::Strata;

/// Runs an end-to-end test body. On error, prints the log tails of the processes the body
/// started (they are stopped by then) and panics with the error chain, so a failure always
/// comes with the servers' side of the story.
pub async fn e2e(body: impl std::future::Future<Output = anyhow::Result<()>>) {
    process::take_recent_logs();
    if let Err(e) = body.await {
        for tail in process::take_recent_logs() {
            eprintln!("{tail}");
        }
        panic!("{e:?}");
    }
}

/// Installs ring as rustls's crypto provider for this process (idempotent). reqwest's TLS
/// (`rustls-no-provider`) panics when building any client without one; the harness calls
/// this wherever it starts something, and a test building its first client before
/// starting anything calls it itself.
pub fn install_tls() {
    strata_httpclient::install_crypto_provider();
}

/// Milliseconds since the Unix epoch, as Prometheus timestamps are.
pub type TimestampMs = i64;

/// The wall clock in milliseconds since the Unix epoch.
pub fn now_ms() -> TimestampMs {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("the clock is after 1970");
    i64::try_from(d.as_millis()).expect("milliseconds since 1970 fit in i64")
}

/// Formats a millisecond timestamp as the seconds string Prometheus's API accepts (`123.456`).
pub fn format_ts(t: TimestampMs) -> String {
    format!("{}.{:03}", t.div_euclid(1000), t.rem_euclid(1000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_timestamps_with_millisecond_precision() {
        assert_eq!(format_ts(1_700_000_000_500), "1700000000.500");
        assert_eq!(format_ts(1_700_000_000_007), "1700000000.007");
        assert_eq!(format_ts(-1), "-1.999");
    }
}
