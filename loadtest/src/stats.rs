//! Run statistics shared by the workers, the once-a-second progress line and the final
//! report (printed as JSON, and written to `--report FILE`).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use parking_lot::Mutex;
use serde::Serialize;

/// Counters updated by the workers.
#[derive(Debug, Default)]
pub struct Stats {
    /// Samples put into a request (counted once, however often it is retried).
    pub samples_sent: AtomicU64,
    /// Samples in requests answered 2xx.
    pub samples_acked: AtomicU64,
    /// Samples given up on: 4xx other than 429, or retries exhausted or cut short at the end.
    pub samples_dropped: AtomicU64,
    /// HTTP attempts, retries included.
    pub requests: AtomicU64,
    /// Attempts that were retries.
    pub retries: AtomicU64,
    /// Series created, the initial set plus every churned-in one.
    pub series_created: AtomicU64,
    /// Highest sample timestamp acknowledged so far (ms).
    pub max_acked_t: AtomicI64,
    errors: Mutex<BTreeMap<String, u64>>,
    latencies_us: Mutex<Vec<u32>>,
}

impl Stats {
    /// Empty statistics.
    pub fn new() -> Self {
        Self {
            max_acked_t: AtomicI64::new(i64::MIN),
            ..Self::default()
        }
    }

    /// Counts a failed attempt under `status` (an HTTP code, or `conn`/`timeout`).
    pub fn error(&self, status: &str) {
        *self.errors.lock().entry(status.to_string()).or_insert(0) += 1;
    }

    /// Records the latency of one HTTP attempt.
    pub fn latency(&self, d: Duration) {
        let us = d.as_micros().min(u128::from(u32::MAX)) as u32;
        self.latencies_us.lock().push(us);
    }

    /// Errors by status so far.
    pub fn errors(&self) -> BTreeMap<String, u64> {
        self.errors.lock().clone()
    }

    /// Latency quantiles (`q` in 0..=1) in milliseconds over all attempts so far.
    pub fn latency_quantiles_ms(&self, qs: &[f64]) -> Vec<f64> {
        let mut v = self.latencies_us.lock().clone();
        v.sort_unstable();
        qs.iter().map(|q| quantile_ms(&v, *q)).collect()
    }
}

/// The `q` quantile (nearest rank) of sorted microsecond latencies, in milliseconds.
pub fn quantile_ms(sorted_us: &[u32], q: f64) -> f64 {
    if sorted_us.is_empty() {
        return 0.0;
    }
    let rank = ((q.clamp(0.0, 1.0) * sorted_us.len() as f64).ceil() as usize).max(1);
    f64::from(sorted_us[rank - 1]) / 1000.0
}

/// CPU time (user + system) this process has used, from `/proc/self/stat`; `None` off Linux.
pub fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are the 14th and 15th
    // fields overall, i.e. the 12th and 13th after it. /proc reports in USER_HZ = 100.
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut f = rest.split_whitespace().skip(11);
    let utime: f64 = f.next()?.parse().ok()?;
    let stime: f64 = f.next()?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

/// The final report of a run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Receiver URL.
    pub url: String,
    /// `rw1` or `rw2`.
    pub protocol: &'static str,
    /// Number of tenants.
    pub tenants: u32,
    /// Active series at any time.
    pub active_series: u64,
    /// Series created over the run (initial + churned in).
    pub series_created: u64,
    /// Sample spacing per series, seconds.
    pub interval_seconds: f64,
    /// Samples sent (each once).
    pub samples_sent: u64,
    /// Samples acknowledged with 2xx.
    pub samples_acked: u64,
    /// Samples given up on.
    pub samples_dropped: u64,
    /// HTTP attempts, retries included.
    pub requests: u64,
    /// Retried attempts.
    pub retries: u64,
    /// Failed attempts by HTTP status (`conn`, `timeout` for transport errors).
    pub errors_by_status: BTreeMap<String, u64>,
    /// Median request latency, ms.
    pub latency_p50_ms: f64,
    /// 99th percentile request latency, ms.
    pub latency_p99_ms: f64,
    /// Slowest request, ms.
    pub latency_max_ms: f64,
    /// Wall time of the run, seconds.
    pub elapsed_seconds: f64,
    /// `samples_acked / elapsed_seconds`.
    pub acked_samples_per_second: f64,
    /// First simulated timestamp, ms.
    pub sim_start_ms: i64,
    /// Highest acknowledged timestamp, ms (absent if nothing was acked).
    pub sim_max_acked_ms: Option<i64>,
    /// CPU seconds (user + system) the generator used while sending.
    pub generator_cpu_seconds: Option<f64>,
    /// CPU seconds the generator used building its hosts before sending.
    pub generator_setup_cpu_seconds: Option<f64>,
    /// Generator CPU seconds per million samples sent.
    pub generator_cpu_seconds_per_million_samples: Option<f64>,
}

impl Report {
    /// Human summary for stderr.
    pub fn summary(&self) -> String {
        format!(
            "done in {:.1}s: sent {} acked {} dropped {} samples ({:.0}/s acked), {} requests \
             ({} retries), errors {:?}, latency p50 {:.2}ms p99 {:.2}ms max {:.2}ms, generator \
             cpu {}",
            self.elapsed_seconds,
            self.samples_sent,
            self.samples_acked,
            self.samples_dropped,
            self.acked_samples_per_second,
            self.requests,
            self.retries,
            self.errors_by_status,
            self.latency_p50_ms,
            self.latency_p99_ms,
            self.latency_max_ms,
            self.generator_cpu_seconds
                .map_or("n/a".to_string(), |c| format!("{c:.2}s")),
        )
    }
}

/// Formats a count compactly (`1.23M`, `45.6k`) for the progress line.
pub fn human(n: f64) -> String {
    if n >= 1e9 {
        format!("{:.2}G", n / 1e9)
    } else if n >= 1e6 {
        format!("{:.2}M", n / 1e6)
    } else if n >= 1e4 {
        format!("{:.1}k", n / 1e3)
    } else {
        format!("{n:.0}")
    }
}

/// Loads a counter.
pub fn get(a: &AtomicU64) -> u64 {
    a.load(Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_use_nearest_rank() {
        let v: Vec<u32> = (1..=100).map(|x| x * 1000).collect();
        assert_eq!(quantile_ms(&v, 0.5), 50.0);
        assert_eq!(quantile_ms(&v, 0.99), 99.0);
        assert_eq!(quantile_ms(&v, 1.0), 100.0);
        assert_eq!(quantile_ms(&[], 0.5), 0.0);
    }

    #[test]
    fn errors_and_latencies_accumulate() {
        let s = Stats::new();
        s.error("503");
        s.error("503");
        s.error("conn");
        assert_eq!(s.errors().get("503"), Some(&2));
        assert_eq!(s.errors().get("conn"), Some(&1));
        s.latency(Duration::from_millis(3));
        s.latency(Duration::from_millis(1));
        assert_eq!(s.latency_quantiles_ms(&[0.5, 1.0]), vec![1.0, 3.0]);
    }

    #[test]
    fn reads_own_cpu_time() {
        if cfg!(target_os = "linux") {
            let c = process_cpu_seconds().expect("cpu time");
            assert!(c >= 0.0);
        }
        assert_eq!(human(1_234_567.0), "1.23M");
        assert_eq!(human(45_600.0), "45.6k");
    }
}
