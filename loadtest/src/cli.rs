//! Command-line flags (`clap`) and their validation into a `Config`.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};

use crate::encode::Protocol;
use crate::error::{LoadgenError, Result};
use crate::host::{MAX_EXTRA_LABELS, MIN_EXTRA_LABELS};
use crate::timefmt::{parse_duration, parse_time};

/// `strata-loadgen`: sends realistic node_exporter-like series to a remote-write receiver.
#[derive(Debug, Parser)]
#[command(name = "strata-loadgen", version, about, long_about = None)]
pub struct Args {
    /// Remote write endpoint (Strata: /api/v1/push; Prometheus: /api/v1/write; VictoriaMetrics:
    /// /api/v1/write).
    #[arg(long, default_value = "http://127.0.0.1:8080/api/v1/push")]
    pub url: String,
    /// Number of tenants; hosts are dealt round-robin to `tenant-0`, `tenant-1`, ...
    #[arg(long, default_value_t = 1)]
    pub tenants: u32,
    /// Active series in total (over all tenants), at any moment.
    #[arg(long, default_value_t = 10_000)]
    pub series: u64,
    /// Spacing of samples within a series (the simulated scrape interval).
    #[arg(long, default_value = "15s")]
    pub interval: String,
    /// Fraction of series replaced per interval (whole hosts get a new instance/pod).
    #[arg(long, default_value_t = 0.0)]
    pub churn: f64,
    /// Remote write protocol.
    #[arg(long, value_enum, default_value_t = ProtocolArg::Rw1)]
    pub protocol: ProtocolArg,
    /// Send at this many samples per second (spread over the workers).
    #[arg(long, conflicts_with = "max")]
    pub rate: Option<f64>,
    /// Send as fast as the receiver acknowledges, `--concurrency` requests in flight.
    #[arg(long)]
    pub max: bool,
    /// Requests in flight (workers; each sends its own hosts in order).
    #[arg(long, default_value_t = 2)]
    pub concurrency: usize,
    /// Stop after this wall-clock time (e.g. 2m).
    #[arg(long)]
    pub duration: Option<String>,
    /// Stop after about this many samples sent (may overshoot by a request per worker).
    #[arg(long)]
    pub samples: Option<u64>,
    /// Series per request.
    #[arg(long, default_value_t = 2000)]
    pub batch: usize,
    /// Simulated clock start: now, now-2h, -2h, unix seconds/ms, or 2026-11-27T08:00:00Z.
    #[arg(long, default_value = "now")]
    pub sim_start: String,
    /// Advance the simulated hosts this many intervals from --sim-start before sending, without
    /// sending them: a second run with the same seed then continues exactly where an earlier
    /// one that sent those intervals stopped (used to split warm-up from measurement).
    #[arg(long, default_value_t = 0)]
    pub skip_intervals: u32,
    /// Simulated seconds per wall second when neither --rate nor --max/--backfill sets the pace.
    #[arg(long, default_value_t = 1.0)]
    pub sim_speed: f64,
    /// Send backdated history from --sim-start as fast as acknowledged, stopping when the
    /// simulated clock reaches now.
    #[arg(long)]
    pub backfill: bool,
    /// Append every acknowledged (tenant, series hash, t) to this binary file.
    #[arg(long)]
    pub ack_log: Option<PathBuf>,
    /// Send the tenant as basic-auth username instead of X-Scope-OrgID.
    #[arg(long, conflicts_with = "no_tenant")]
    pub basic_auth_tenant: bool,
    /// Send no tenant at all (Prometheus, VictoriaMetrics single-node).
    #[arg(long)]
    pub no_tenant: bool,
    /// Write the final report as JSON to this file (it is also printed on stdout).
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Extra labels per series (region, az, cluster, namespace, pod, ...), 7..=24, so every
    /// series has 10..=30 labels.
    #[arg(long, default_value_t = 10)]
    pub extra_labels: usize,
    /// Probability per scrape that a host restarts and its counters reset.
    #[arg(long, default_value_t = 0.0002)]
    pub reset_prob: f64,
    /// Seed of all series and values.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Timeout of one HTTP request.
    #[arg(long, default_value = "30s")]
    pub timeout: String,
    /// Retries of a request answered 5xx/429 or failing in transport, before it is dropped.
    #[arg(long, default_value_t = 10)]
    pub max_retries: u32,
    /// First retry backoff; doubles up to --max-backoff (Prometheus: 30ms, 5s).
    #[arg(long, default_value = "30ms")]
    pub min_backoff: String,
    /// Longest retry backoff.
    #[arg(long, default_value = "5s")]
    pub max_backoff: String,
    /// Runtime threads for the generator (1 keeps it on one core).
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// No progress line.
    #[arg(long)]
    pub quiet: bool,
    /// Print an ack log as text (`tenant series_hash t` per line) and exit.
    #[arg(long)]
    pub dump_ack_log: Option<PathBuf>,
}

/// `--protocol` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ProtocolArg {
    /// Remote write 1.0.
    Rw1,
    /// Remote write 2.0.
    Rw2,
}

/// How sending is paced.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Pace {
    /// Each interval is sent when the simulated clock, running `speed` times wall time,
    /// reaches its end.
    Clock {
        /// Simulated seconds per wall second.
        speed: f64,
    },
    /// A fixed number of samples per second over all workers.
    Rate(f64),
    /// As fast as acknowledged.
    Max,
}

/// How the tenant is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TenantMode {
    /// `X-Scope-OrgID: tenant-N`.
    Header,
    /// Basic auth with username `tenant-N` and an empty password.
    BasicAuth,
    /// Nothing.
    None,
}

/// A validated run configuration.
#[derive(Clone, Debug)]
pub struct Config {
    /// Receiver URL.
    pub url: String,
    /// Number of tenants (≥ 1).
    pub tenants: u32,
    /// Active series (≥ 1).
    pub series: u64,
    /// Sample spacing, ms (≥ 1).
    pub interval_ms: i64,
    /// Fraction of series replaced per interval.
    pub churn: f64,
    /// Wire protocol.
    pub protocol: Protocol,
    /// Pacing.
    pub pace: Pace,
    /// Workers (≥ 1).
    pub concurrency: usize,
    /// Wall-clock limit.
    pub duration: Option<Duration>,
    /// Sample limit.
    pub samples: Option<u64>,
    /// Series per request (≥ 1).
    pub batch: usize,
    /// First simulated timestamp, ms.
    pub sim_start_ms: i64,
    /// Stop once the simulated clock reaches the wall clock.
    pub stop_at_now: bool,
    /// Intervals simulated but not sent at the start.
    pub skip_intervals: u32,
    /// Ack log path.
    pub ack_log: Option<PathBuf>,
    /// Tenant transport.
    pub tenant_mode: TenantMode,
    /// Report path.
    pub report: Option<PathBuf>,
    /// Extra labels per series.
    pub extra_labels: usize,
    /// Host restart probability per scrape.
    pub reset_prob: f64,
    /// Seed.
    pub seed: u64,
    /// HTTP timeout.
    pub timeout: Duration,
    /// Retries before dropping.
    pub max_retries: u32,
    /// First backoff.
    pub min_backoff: Duration,
    /// Longest backoff.
    pub max_backoff: Duration,
    /// Runtime threads.
    pub threads: usize,
    /// Print progress.
    pub progress: bool,
}

fn bad(flag: &'static str, reason: impl Into<String>) -> LoadgenError {
    LoadgenError::Flag {
        flag,
        reason: reason.into(),
    }
}

impl Args {
    /// Validates the flags against `now_ms` (for relative `--sim-start`).
    pub fn into_config(self, now_ms: i64) -> Result<Config> {
        if self.tenants == 0 {
            return Err(bad("tenants", "must be at least 1"));
        }
        if self.series == 0 {
            return Err(bad("series", "must be at least 1"));
        }
        if self.batch == 0 {
            return Err(bad("batch", "must be at least 1"));
        }
        if self.concurrency == 0 {
            return Err(bad("concurrency", "must be at least 1"));
        }
        if self.threads == 0 {
            return Err(bad("threads", "must be at least 1"));
        }
        if !(0.0..=1.0).contains(&self.churn) {
            return Err(bad("churn", "must be a fraction in [0, 1]"));
        }
        if !(0.0..=1.0).contains(&self.reset_prob) {
            return Err(bad("reset-prob", "must be a probability in [0, 1]"));
        }
        if !(MIN_EXTRA_LABELS..=MAX_EXTRA_LABELS).contains(&self.extra_labels) {
            return Err(bad(
                "extra-labels",
                format!("must be in {MIN_EXTRA_LABELS}..={MAX_EXTRA_LABELS} (10 to 30 labels per series)"),
            ));
        }
        let interval = parse_duration(&self.interval)?;
        if interval.as_millis() == 0 {
            return Err(bad("interval", "must be positive"));
        }
        let pace = match (self.rate, self.max || self.backfill) {
            (Some(r), _) if !(r.is_finite() && r > 0.0) => {
                return Err(bad(
                    "rate",
                    "must be a positive number of samples per second",
                ))
            }
            (Some(r), _) => Pace::Rate(r),
            (None, true) => Pace::Max,
            (None, false) => {
                if !(self.sim_speed.is_finite() && self.sim_speed > 0.0) {
                    return Err(bad("sim-speed", "must be positive"));
                }
                Pace::Clock {
                    speed: self.sim_speed,
                }
            }
        };
        let sim_start_ms = parse_time(&self.sim_start, now_ms)?;
        if self.backfill && sim_start_ms >= now_ms {
            return Err(bad("backfill", "needs a --sim-start in the past"));
        }
        let duration = self.duration.as_deref().map(parse_duration).transpose()?;
        let tenant_mode = if self.no_tenant {
            TenantMode::None
        } else if self.basic_auth_tenant {
            TenantMode::BasicAuth
        } else {
            TenantMode::Header
        };
        Ok(Config {
            url: self.url,
            tenants: self.tenants,
            series: self.series,
            interval_ms: interval.as_millis() as i64,
            churn: self.churn,
            protocol: match self.protocol {
                ProtocolArg::Rw1 => Protocol::Rw1,
                ProtocolArg::Rw2 => Protocol::Rw2,
            },
            pace,
            concurrency: self.concurrency,
            duration,
            samples: self.samples,
            batch: self.batch,
            sim_start_ms,
            stop_at_now: self.backfill,
            skip_intervals: self.skip_intervals,
            ack_log: self.ack_log,
            tenant_mode,
            report: self.report,
            extra_labels: self.extra_labels,
            reset_prob: self.reset_prob,
            seed: self.seed,
            timeout: parse_duration(&self.timeout)?,
            max_retries: self.max_retries,
            min_backoff: parse_duration(&self.min_backoff)?,
            max_backoff: parse_duration(&self.max_backoff)?,
            threads: self.threads,
            progress: !self.quiet,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Config> {
        let mut v = vec!["strata-loadgen"];
        v.extend_from_slice(args);
        Args::try_parse_from(v)
            .map_err(|e| bad("args", e.to_string()))?
            .into_config(1_000_000_000_000)
    }

    #[test]
    fn defaults_are_a_realtime_run() {
        let c = parse(&[]).expect("defaults");
        assert_eq!(c.pace, Pace::Clock { speed: 1.0 });
        assert_eq!(c.interval_ms, 15_000);
        assert_eq!(c.sim_start_ms, 1_000_000_000_000);
        assert_eq!(c.tenant_mode, TenantMode::Header);
        assert_eq!(c.protocol, Protocol::Rw1);
    }

    #[test]
    fn pacing_and_tenant_modes() {
        let c = parse(&["--rate", "5000", "--no-tenant", "--protocol", "rw2"]).expect("rate");
        assert_eq!(c.pace, Pace::Rate(5000.0));
        assert_eq!(c.tenant_mode, TenantMode::None);
        assert_eq!(c.protocol, Protocol::Rw2);
        let c = parse(&["--backfill", "--sim-start", "now-2h"]).expect("backfill");
        assert_eq!(c.pace, Pace::Max);
        assert!(c.stop_at_now);
        assert_eq!(c.sim_start_ms, 1_000_000_000_000 - 7_200_000);
        assert_eq!(
            parse(&["--basic-auth-tenant"]).expect("basic").tenant_mode,
            TenantMode::BasicAuth
        );
    }

    #[test]
    fn refuses_bad_values() {
        for args in [
            &["--rate", "1", "--max"][..],
            &["--basic-auth-tenant", "--no-tenant"],
            &["--backfill"],
            &["--extra-labels", "3"],
            &["--extra-labels", "25"],
            &["--churn", "1.5"],
            &["--interval", "0"],
            &["--series", "0"],
            &["--rate", "-1"],
            &["--protocol", "rw3"],
        ] {
            assert!(parse(args).is_err(), "{args:?} accepted");
        }
    }
}
