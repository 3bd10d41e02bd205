//! One simulated node_exporter host: its series' label sets (built once per generation) and
//! the evolution of their values from scrape to scrape.
//!
//! Values behave like real exporter output so that receivers compress them as they would in
//! production: CPU seconds in 1/100 s steps that add up to the interval per CPU, byte counters
//! in whole bytes (disk in 512-byte sectors), memory gauges in 4 KiB pages on a random walk,
//! load averages as smoothed walks with two decimals, constant gauges, rarely moving error
//! counters, and classic histograms whose buckets are cumulative and consistent with
//! `_count` and `_sum`. A host occasionally restarts (all its counters drop, a counter reset)
//! and churn replaces it by a new one (new `instance` and `pod`, fresh counters).

use strata_model::{Label, Labels};

use crate::rng::{mix64, Rng};

/// The metric type of a series, sent as remote write 2.0 metadata.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricKind {
    /// Monotonic counter (`_total`, histogram `_bucket`/`_count`/`_sum` use `Histogram`).
    Counter,
    /// Gauge.
    Gauge,
    /// Part of a classic histogram.
    Histogram,
}

/// Names of the optional labels added to every series of a host, in the order `--extra-labels`
/// takes them.
pub const EXTRA_LABEL_NAMES: [&str; 24] = [
    "region",
    "az",
    "cluster",
    "namespace",
    "pod",
    "container",
    "node",
    "env",
    "team",
    "service",
    "version",
    "datacenter",
    "rack",
    "os",
    "arch",
    "kernel",
    "instance_type",
    "owner",
    "tier",
    "app",
    "cost_center",
    "k8s_version",
    "provider",
    "shard",
];

/// Fewest extra labels: every series then has at least 10 labels (`__name__`, `instance`,
/// `job` and the extras).
pub const MIN_EXTRA_LABELS: usize = 7;
/// Most extra labels: the widest series (3 own labels) then has exactly 30, Strata's and
/// Mimir's default `max_label_names_per_series`.
pub const MAX_EXTRA_LABELS: usize = 24;
/// Fewest labels any generated series has at `MIN_EXTRA_LABELS`.
pub const MIN_LABELS: usize = 3 + MIN_EXTRA_LABELS;
/// Most labels any generated series has at `MAX_EXTRA_LABELS`.
pub const MAX_LABELS: usize = 6 + MAX_EXTRA_LABELS;

/// Settings shared by every host of a run.
#[derive(Clone, Debug)]
pub struct HostParams {
    /// Seed of the whole run; each host derives its own stream from it.
    pub seed: u64,
    /// How many of `EXTRA_LABEL_NAMES` each series carries.
    pub extra_labels: usize,
    /// Probability per scrape that a host restarts (its counters reset).
    pub reset_prob: f64,
    /// Scrape interval in milliseconds.
    pub interval_ms: i64,
}

/// One series of a host: identity, type, and its labels pre-encoded for remote write 1.0.
///
/// The labels are kept only in their encoded form (about half the memory of a `Labels`), since
/// the generator shares the machine with the receiver it measures; `labels()` decodes them.
#[derive(Clone, Debug)]
pub struct Series {
    /// `Labels::stable_hash`, the same hash Strata uses, recorded in the ack log.
    pub hash: u64,
    /// Counter, gauge or histogram part.
    pub kind: MetricKind,
    /// The `labels` field of a remote write 1.0 `TimeSeries` (repeated field 1), ready to copy.
    pub rw1_labels: Vec<u8>,
}

impl Series {
    /// The label set, decoded from `rw1_labels`.
    pub fn labels(&self) -> Labels {
        // The bytes are exactly a `TimeSeries` holding only its labels field.
        let ts = <strata_proto::prometheus::TimeSeries as prost::Message>::decode(
            self.rw1_labels.as_slice(),
        )
        .expect("rw1_labels is this crate's own valid encoding");
        Labels::from_sorted(
            ts.labels
                .into_iter()
                .map(|l| Label::new(l.name, l.value))
                .collect(),
        )
    }
}

const CPU_MODES: [&str; 8] = [
    "idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user",
];
/// Share of busy time per mode (idle is 1 - utilisation), indexed like `CPU_MODES`.
const CPU_BUSY_SHARE: [f64; 8] = [0.0, 0.05, 0.01, 0.02, 0.04, 0.03, 0.25, 0.60];
const HIST_LE: [f64; 12] = [
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    f64::INFINITY,
];
const HIST_LE_STR: [&str; 12] = [
    "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf",
];
const PAGE: f64 = 4096.0;

/// How one series' value moves from scrape to scrape.
#[derive(Clone, Debug)]
enum Evo {
    /// `node_cpu_seconds_total` for one CPU and mode (index into `CPU_MODES`).
    Cpu { mode: u8 },
    /// Counter growing at about `per_s`, in steps of `quantum`.
    Rate { per_s: f64, quantum: f64 },
    /// Counter that rarely moves (error counters).
    Rare { prob: f64 },
    /// Gauge on a bounded random walk in steps of `quantum`.
    Walk {
        min: f64,
        max: f64,
        sd: f64,
        quantum: f64,
    },
    /// Gauge that never changes.
    Const,
    /// `node_load1/5/15`.
    Load(u8),
    /// `node_time_seconds`.
    Time,
    /// `node_boot_time_seconds`.
    Boot,
    /// A classic histogram part: bucket `idx < HIST_LE.len()`, then `_sum`, then `_count`.
    Hist { group: u16, idx: u8 },
}

/// State of one classic histogram (all cumulative since the last reset).
#[derive(Clone, Debug)]
struct HistGroup {
    median_s: f64,
    per_s: f64,
    buckets: [f64; 12],
    sum: f64,
}

/// One simulated host. Owns its series and values; `advance` moves it one scrape forward.
#[derive(Clone, Debug)]
pub struct Host {
    index: u32,
    tenant: u32,
    generation: u32,
    rng: Rng,
    offset_ms: i64,
    cpus: u16,
    max_series: usize,
    util: f64,
    load: [f64; 3],
    boot_s: f64,
    /// Uptime at the first scrape, until that scrape fixes `boot_s` on the simulated clock.
    boot_pending: Option<f64>,
    series: Vec<Series>,
    evo: Vec<Evo>,
    values: Vec<f64>,
    hist: Vec<HistGroup>,
    timestamp: i64,
}

impl Host {
    /// Builds host `index` of `tenant` with at most `max_series` series, its values as if it
    /// had been up for days. The same `(params.seed, index)` always gives the same host.
    pub fn new(params: &HostParams, index: u32, tenant: u32, max_series: usize) -> Self {
        let mut rng = Rng::new(params.seed ^ mix64(u64::from(index)));
        let cpus = [2u16, 4, 4, 8][rng.below(4) as usize];
        let offset_ms = rng.below(params.interval_ms.max(1) as u64) as i64;
        let mut h = Host {
            index,
            tenant,
            generation: 0,
            rng,
            offset_ms,
            cpus,
            max_series,
            util: 0.0,
            load: [0.0; 3],
            boot_s: 0.0,
            boot_pending: None,
            series: Vec::new(),
            evo: Vec::new(),
            values: Vec::new(),
            hist: Vec::new(),
            timestamp: 0,
        };
        h.build(params, true);
        h
    }

    /// The host's number in the run.
    pub fn index(&self) -> u32 {
        self.index
    }

    /// The tenant (index into `tenant-0…`) the host belongs to.
    pub fn tenant(&self) -> u32 {
        self.tenant
    }

    /// How many times churn replaced this host.
    pub fn generation(&self) -> u32 {
        self.generation
    }

    /// The host's series, in a fixed order matching `values`.
    pub fn series(&self) -> &[Series] {
        &self.series
    }

    /// The values of the last scrape, one per series.
    pub fn values(&self) -> &[f64] {
        &self.values
    }

    /// The timestamp (ms) of the last scrape.
    pub fn timestamp(&self) -> i64 {
        self.timestamp
    }

    /// Replaces the host by a new one (churn): new `instance`/`pod`, so new series, with fresh
    /// counters. The old series simply stop, as when a pod is rescheduled.
    pub fn replace(&mut self, params: &HostParams) {
        self.generation += 1;
        self.rng = Rng::new(
            params.seed ^ mix64(u64::from(self.index)) ^ mix64(u64::from(self.generation) << 32),
        );
        self.build(params, false);
    }

    /// Scrapes the host once for the interval starting at `tick_start_ms`: the sample time is
    /// that plus the host's fixed offset (targets are spread over the interval, as Prometheus
    /// spreads scrapes), with an occasional millisecond of jitter. Returns whether the host
    /// restarted, i.e. every counter was reset, in this scrape.
    pub fn advance(&mut self, tick_start_ms: i64, params: &HostParams) -> bool {
        let jitter = if self.rng.chance(0.1) {
            self.rng.below(5) as i64 - 2
        } else {
            0
        };
        self.timestamp = tick_start_ms + self.offset_ms + jitter;
        let dt = params.interval_ms as f64 / 1000.0;
        if let Some(up) = self.boot_pending.take() {
            self.boot_s = (self.timestamp / 1000) as f64 - up.round();
        }
        let reset = self.rng.chance(params.reset_prob);
        if reset {
            self.boot_s = (self.timestamp / 1000) as f64 - 20.0 - self.rng.below(30) as f64;
            for g in &mut self.hist {
                g.buckets = [0.0; 12];
                g.sum = 0.0;
            }
        }
        self.util = (self.util + 0.03 * self.rng.normal()).clamp(0.02, 0.95);
        let l1 = (self.load[0] + 0.15 * self.rng.normal()).clamp(0.0, f64::from(self.cpus) * 1.5);
        self.load[0] = round2(l1);
        self.load[1] = round2(self.load[1] + (l1 - self.load[1]) * (dt / 300.0).min(1.0));
        self.load[2] = round2(self.load[2] + (l1 - self.load[2]) * (dt / 900.0).min(1.0));
        for g in &mut self.hist {
            step_histogram(g, dt, &mut self.rng);
        }
        for i in 0..self.values.len() {
            let prev = if reset && self.series[i].kind != MetricKind::Gauge {
                0.0
            } else {
                self.values[i]
            };
            self.values[i] = self.next_value(i, prev, dt);
        }
        reset
    }

    fn next_value(&mut self, i: usize, prev: f64, dt: f64) -> f64 {
        let rng = &mut self.rng;
        match self.evo[i] {
            Evo::Cpu { mode } => {
                let share = if mode == 0 {
                    1.0 - self.util
                } else {
                    self.util * CPU_BUSY_SHARE[mode as usize]
                };
                let inc = (dt * share * (1.0 + 0.1 * rng.normal())).max(0.0);
                round2(prev + inc)
            }
            Evo::Rate { per_s, quantum } => {
                let inc = per_s * dt * (0.3 * rng.normal()).exp();
                prev + (inc / quantum).round() * quantum
            }
            Evo::Rare { prob } => {
                if rng.chance(prob) {
                    prev + 1.0 + rng.below(3) as f64
                } else {
                    prev
                }
            }
            Evo::Walk {
                min,
                max,
                sd,
                quantum,
            } => {
                let v = (prev + sd * rng.normal()).clamp(min, max);
                (v / quantum).round() * quantum
            }
            Evo::Const => prev,
            Evo::Load(k) => self.load[k as usize],
            Evo::Time => (self.timestamp as f64) / 1000.0,
            Evo::Boot => self.boot_s,
            Evo::Hist { group, idx } => {
                let g = &self.hist[group as usize];
                match idx as usize {
                    i if i < HIST_LE.len() => g.buckets[i],
                    i if i == HIST_LE.len() => g.sum,
                    _ => g.buckets[HIST_LE.len() - 1],
                }
            }
        }
    }

    /// (Re)builds labels and initial values. `long_running` hosts start with counters of a
    /// host up for days; churned-in ones start near zero.
    fn build(&mut self, params: &HostParams, long_running: bool) {
        let rng = &mut self.rng;
        let uptime_s = if long_running {
            3600.0 * (24.0 + rng.below(24 * 60) as f64)
        } else {
            10.0 + rng.below(50) as f64
        };
        self.boot_pending = Some(uptime_s);
        self.util = 0.05 + 0.5 * rng.f64();
        let l = round2(self.util * f64::from(self.cpus));
        self.load = [l, l, l];
        self.series.clear();
        self.evo.clear();
        self.values.clear();
        self.hist.clear();

        let common = common_labels(
            params.seed,
            self.index,
            self.generation,
            params.extra_labels,
        );
        let mem_total = f64::from(self.cpus) * 4.0 * 1024.0 * 1024.0 * 1024.0;
        let mut b = Builder {
            host: self,
            common: &common,
            uptime_s,
        };
        for cpu in 0..b.host.cpus {
            let cpu_s = cpu.to_string();
            for (m, mode) in CPU_MODES.iter().enumerate() {
                let share = if m == 0 { 0.7 } else { 0.3 * CPU_BUSY_SHARE[m] };
                let init = round2(uptime_s * share);
                b.push(
                    "node_cpu_seconds_total",
                    &[("cpu", &cpu_s), ("mode", mode)],
                    MetricKind::Counter,
                    Evo::Cpu { mode: m as u8 },
                    init,
                );
            }
        }
        for (dev, scale) in [("eth0", 1.0), ("lo", 0.05)] {
            let bytes_s = scale * 2.0e6 * (0.2 + b.host.rng.f64());
            for dir in ["receive", "transmit"] {
                let per_s = bytes_s * if dir == "receive" { 1.0 } else { 0.6 };
                b.counter(
                    &format!("node_network_{dir}_bytes_total"),
                    &[("device", dev)],
                    per_s,
                    1.0,
                );
                b.counter(
                    &format!("node_network_{dir}_packets_total"),
                    &[("device", dev)],
                    per_s / 800.0,
                    1.0,
                );
            }
            b.push(
                "node_network_receive_errs_total",
                &[("device", dev)],
                MetricKind::Counter,
                Evo::Rare { prob: 0.002 },
                0.0,
            );
        }
        for (dev, scale) in [("nvme0n1", 1.0), ("sda", 0.2)] {
            let rd = scale * 3.0e5 * (0.2 + b.host.rng.f64());
            b.counter("node_disk_read_bytes_total", &[("device", dev)], rd, 512.0);
            b.counter(
                "node_disk_written_bytes_total",
                &[("device", dev)],
                rd * 2.5,
                512.0,
            );
            b.counter(
                "node_disk_io_time_seconds_total",
                &[("device", dev)],
                0.02 * scale,
                0.001,
            );
        }
        b.push(
            "node_memory_MemTotal_bytes",
            &[],
            MetricKind::Gauge,
            Evo::Const,
            mem_total,
        );
        for (name, frac, sd) in [
            ("node_memory_MemFree_bytes", 0.2, 0.002),
            ("node_memory_MemAvailable_bytes", 0.5, 0.002),
            ("node_memory_Cached_bytes", 0.3, 0.001),
            ("node_memory_Buffers_bytes", 0.02, 0.0002),
            ("node_memory_SwapFree_bytes", 0.1, 0.0),
        ] {
            let init = (mem_total * frac / PAGE).round() * PAGE;
            let evo = if sd == 0.0 {
                Evo::Const
            } else {
                Evo::Walk {
                    min: mem_total * frac * 0.5,
                    max: mem_total * (frac * 1.5).min(0.95),
                    sd: mem_total * sd,
                    quantum: PAGE,
                }
            };
            b.push(name, &[], MetricKind::Gauge, evo, init);
        }
        for (k, name) in ["node_load1", "node_load5", "node_load15"]
            .iter()
            .enumerate()
        {
            b.push(name, &[], MetricKind::Gauge, Evo::Load(k as u8), l);
        }
        for (dev, mnt, fs, size_gb) in [
            ("/dev/nvme0n1p1", "/", "ext4", 100.0),
            ("/dev/nvme0n1p2", "/var/lib/docker", "xfs", 500.0),
        ] {
            let size = size_gb * 1024.0 * 1024.0 * 1024.0;
            let own = [("device", dev), ("fstype", fs), ("mountpoint", mnt)];
            let free = (size * (0.3 + 0.4 * b.host.rng.f64()) / PAGE).round() * PAGE;
            b.push(
                "node_filesystem_size_bytes",
                &own,
                MetricKind::Gauge,
                Evo::Const,
                size,
            );
            for name in ["node_filesystem_free_bytes", "node_filesystem_avail_bytes"] {
                b.push(
                    name,
                    &own,
                    MetricKind::Gauge,
                    Evo::Walk {
                        min: size * 0.05,
                        max: size,
                        sd: size * 1e-5,
                        quantum: PAGE,
                    },
                    free,
                );
            }
        }
        b.counter("node_context_switches_total", &[], 4000.0, 1.0);
        b.counter("node_intr_total", &[], 2500.0, 1.0);
        b.counter("node_forks_total", &[], 5.0, 1.0);
        for name in ["node_procs_running", "node_procs_blocked"] {
            b.push(
                name,
                &[],
                MetricKind::Gauge,
                Evo::Walk {
                    min: 0.0,
                    max: 40.0,
                    sd: 1.0,
                    quantum: 1.0,
                },
                2.0,
            );
        }
        let boot = b.host.boot_s;
        b.push(
            "node_boot_time_seconds",
            &[],
            MetricKind::Gauge,
            Evo::Boot,
            boot,
        );
        b.push("node_time_seconds", &[], MetricKind::Gauge, Evo::Time, 0.0);
        b.push("up", &[], MetricKind::Gauge, Evo::Const, 1.0);
        for (handler, median, per_s) in [("/api/v1/query", 0.04, 5.0), ("/metrics", 0.004, 0.07)] {
            b.histogram(handler, median, per_s);
        }
    }
}

struct Builder<'a> {
    host: &'a mut Host,
    common: &'a [Label],
    uptime_s: f64,
}

impl Builder<'_> {
    fn full(&self) -> bool {
        self.host.series.len() >= self.host.max_series
    }

    fn push(&mut self, name: &str, own: &[(&str, &str)], kind: MetricKind, evo: Evo, init: f64) {
        if self.full() {
            return;
        }
        let mut v = Vec::with_capacity(self.common.len() + own.len() + 1);
        v.push(Label::new(strata_model::METRIC_NAME, name));
        v.extend(self.common.iter().cloned());
        v.extend(own.iter().map(|(n, val)| Label::new(*n, *val)));
        let labels = Labels::new(v);
        let rw1_labels = encode_rw1_labels(&labels);
        self.host.series.push(Series {
            hash: labels.stable_hash(),
            kind,
            rw1_labels,
        });
        self.host.evo.push(evo);
        self.host.values.push(init);
    }

    fn counter(&mut self, name: &str, own: &[(&str, &str)], per_s: f64, quantum: f64) {
        let init = (per_s * self.uptime_s / quantum).round() * quantum;
        self.push(
            name,
            own,
            MetricKind::Counter,
            Evo::Rate { per_s, quantum },
            init,
        );
    }

    fn histogram(&mut self, handler: &str, median_s: f64, per_s: f64) {
        let group = self.host.hist.len() as u16;
        let mut g = HistGroup {
            median_s,
            per_s,
            buckets: [0.0; 12],
            sum: 0.0,
        };
        // Start from the cumulative state of a long-running process.
        let n = (per_s * self.uptime_s).round();
        fill_histogram(&mut g, n, median_s);
        self.host.hist.push(g.clone());
        for (i, le) in HIST_LE_STR.iter().enumerate() {
            self.push(
                "http_request_duration_seconds_bucket",
                &[("handler", handler), ("le", le), ("method", "GET")],
                MetricKind::Histogram,
                Evo::Hist {
                    group,
                    idx: i as u8,
                },
                g.buckets[i],
            );
        }
        let own = [("handler", handler), ("method", "GET")];
        let sum_idx = HIST_LE.len() as u8;
        self.push(
            "http_request_duration_seconds_sum",
            &own,
            MetricKind::Histogram,
            Evo::Hist {
                group,
                idx: sum_idx,
            },
            g.sum,
        );
        self.push(
            "http_request_duration_seconds_count",
            &own,
            MetricKind::Histogram,
            Evo::Hist {
                group,
                idx: sum_idx + 1,
            },
            g.buckets[HIST_LE.len() - 1],
        );
    }
}

/// Adds `n` requests with latencies log-normally distributed around `median_s`.
fn fill_histogram(g: &mut HistGroup, n: f64, median_s: f64) {
    const SIGMA: f64 = 1.0;
    for (i, le) in HIST_LE.iter().enumerate() {
        let frac = if le.is_infinite() {
            1.0
        } else {
            normal_cdf((le / median_s).ln() / SIGMA)
        };
        g.buckets[i] += (n * frac).round();
    }
    // Rounding per bucket keeps each bucket monotone in `le` because `frac` is.
    let mean = median_s * (SIGMA * SIGMA / 2.0).exp();
    g.sum += n * mean;
}

fn step_histogram(g: &mut HistGroup, dt: f64, rng: &mut Rng) {
    let n = (g.per_s * dt * (1.0 + 0.2 * rng.normal())).max(0.0).round();
    let median = g.median_s * (0.1 * rng.normal()).exp();
    fill_histogram(g, n, median);
    // Keep `_sum` at millisecond precision, as instrumented code's float sums look.
    g.sum = (g.sum * 1000.0).round() / 1000.0;
}

/// Standard normal CDF (Abramowitz–Stegun 7.1.26 for erf, error < 1.5e-7).
fn normal_cdf(x: f64) -> f64 {
    let z = x / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * z.abs());
    let y = 1.0
        - (((((1.061_405_429 * t - 1.453_152_027) * t) + 1.421_413_741) * t - 0.284_496_736) * t
            + 0.254_829_592)
            * t
            * (-z * z).exp();
    let erf = if z >= 0.0 { y } else { -y };
    0.5 * (1.0 + erf)
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

/// The labels every series of a host carries besides `__name__` and its own. Another seed
/// gives other hosts (so runs with different seeds never collide in one receiver); within a
/// seed, `instance` is unique per host index.
fn common_labels(seed: u64, index: u32, generation: u32, extra: usize) -> Vec<Label> {
    let h = mix64(u64::from(index) ^ mix64(seed ^ 0x5eed));
    let g = mix64(h ^ u64::from(generation).wrapping_mul(0x9e37_79b9));
    let pick = |list: &[&str], salt: u32| -> String {
        list[(mix64(h ^ u64::from(salt)) % list.len() as u64) as usize].to_string()
    };
    let regions = [
        "us-east-1",
        "us-west-2",
        "eu-west-1",
        "eu-central-1",
        "ap-southeast-1",
        "ap-northeast-1",
    ];
    let region = regions[(h % regions.len() as u64) as usize];
    let ip = if generation == 0 {
        (u64::from(index) + mix64(seed)) & 0x00ff_ffff
    } else {
        g & 0x00ff_ffff
    };
    let mut out = vec![
        Label::new(
            "instance",
            format!(
                "10.{}.{}.{}:9100",
                (ip >> 16) & 255,
                (ip >> 8) & 255,
                ip & 255
            ),
        ),
        Label::new("job", "node"),
    ];
    for name in EXTRA_LABEL_NAMES.iter().take(extra) {
        let value = match *name {
            "region" => region.to_string(),
            "az" => format!("{region}{}", ["a", "b", "c"][((h >> 8) % 3) as usize]),
            "cluster" => format!("{region}-prod-{}", (h >> 12) % 4),
            "namespace" => pick(
                &[
                    "monitoring",
                    "kube-system",
                    "default",
                    "payments",
                    "search",
                    "ingest",
                ],
                1,
            ),
            "pod" => format!(
                "node-exporter-{:05x}-{:05x}",
                (h >> 20) & 0xfffff,
                g & 0xfffff
            ),
            "container" => "node-exporter".to_string(),
            "node" => format!(
                "ip-10-{}-{}-{}.{region}.compute.internal",
                (ip >> 16) & 255,
                (ip >> 8) & 255,
                ip & 255
            ),
            "env" => pick(&["prod", "prod", "prod", "staging", "dev"], 2),
            "team" => pick(&["sre", "platform", "data", "checkout", "search"], 3),
            "service" => pick(&["api", "web", "worker", "db", "cache", "queue"], 4),
            "version" => pick(&["1.5.0", "1.6.1", "1.7.0"], 5),
            "datacenter" => format!("dc{}", (h >> 24) % 8),
            "rack" => format!("r{:02}", (h >> 28) % 40),
            "os" => "linux".to_string(),
            "arch" => pick(&["amd64", "amd64", "arm64"], 6),
            "kernel" => pick(
                &["5.10.0-28-amd64", "6.1.0-18-amd64", "6.1.0-21-cloud-amd64"],
                7,
            ),
            "instance_type" => pick(&["m5.xlarge", "c6i.2xlarge", "r6g.large", "m7g.4xlarge"], 8),
            "owner" => pick(
                &["alice@example.com", "bob@example.com", "ops@example.com"],
                9,
            ),
            "tier" => pick(&["frontend", "backend", "data"], 10),
            "app" => "node-exporter".to_string(),
            "cost_center" => format!("cc-{}", 1000 + (h >> 32) % 50),
            "k8s_version" => pick(&["v1.28.5", "v1.29.2", "v1.30.1"], 11),
            "provider" => "aws".to_string(),
            "shard" => ((h >> 40) % 16).to_string(),
            _ => unreachable!("EXTRA_LABEL_NAMES lists only names handled here"),
        };
        out.push(Label::new(*name, value));
    }
    out
}

/// Encodes `Labels` as the `labels` field (repeated field 1) of a remote write 1.0
/// `TimeSeries`: the bytes `Series::rw1_labels` holds.
pub fn encode_rw1_labels(labels: &Labels) -> Vec<u8> {
    let mut out = Vec::with_capacity(labels.len() * 40);
    for l in labels.iter() {
        let pb = strata_proto::prometheus::Label {
            name: l.name.clone(),
            value: l.value.clone(),
        };
        prost::encoding::message::encode(1, &pb, &mut out);
    }
    out
}

#[cfg(test)]
mod tests;
