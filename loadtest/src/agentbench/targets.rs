//! Scrape targets for the agent benchmark: each target is a few of the generator's simulated
//! node_exporter hosts ([`Host`]) rendered as one Prometheus text 0.0.4 exposition of exactly
//! `series` series, advanced one step on every scrape, so values change from scrape to scrape
//! as a live exporter's do.
//!
//! The hosts' own `instance` and `job` labels are left out (the scraper adds its own), and so
//! is their `up` gauge (it would shadow the scraper's synthetic `up`); `pod` and `node`
//! still tell the hosts of one target apart. Lines are grouped by family, each with one
//! `# HELP` and `# TYPE` line (counter, gauge, or histogram for the classic
//! `http_request_duration_seconds` buckets, `_sum` and `_count`), as exporters write them.
//!
//! [`ScrapeLog`] records every scrape served, by scraper (the `scraper` query parameter the
//! benchmark's scrape configs set), so the benchmark divides each scraper's CPU by the
//! samples it was actually served.

use std::collections::{BTreeMap, HashMap};

use parking_lot::Mutex;
use serde::Serialize;

use crate::host::{Host, HostParams, MetricKind};
use crate::openmetrics::{escape_into, push_value};

/// Labels of the simulated hosts that a scraper sets itself from the target.
const TARGET_LABELS: [&str; 2] = ["instance", "job"];

/// One sample line of a target: which host and series it renders, and its
/// `name{labels}` text.
#[derive(Debug)]
struct Line {
    host: usize,
    series: usize,
    prefix: String,
}

/// One scrape target: its hosts and the rendering order of their series.
#[derive(Debug)]
pub struct Target {
    hosts: Vec<Host>,
    /// Sample lines, grouped by family.
    lines: Vec<Line>,
    /// `(index into lines where a family starts, its # HELP and # TYPE lines)`.
    headers: Vec<(usize, String)>,
}

impl Target {
    /// Builds a target of exactly `series` series from hosts numbered `first_host`,
    /// `first_host + 1`, …; returns it and the first host number it did not use.
    pub fn new(params: &HostParams, first_host: u32, series: usize) -> (Self, u32) {
        // (family, kind, host, series, prefix) in host order, then grouped by family.
        let mut found: Vec<(String, MetricKind, Line)> = Vec::with_capacity(series + 1);
        let mut hosts = Vec::new();
        let mut index = first_host;
        while found.len() < series {
            // One more than needed: the host's `up`, if it has room for it, is skipped.
            let host = Host::new(params, index, 0, series - found.len() + 1);
            index += 1;
            for (i, s) in host.series().iter().enumerate() {
                let labels = s.labels();
                let name = labels.get(strata_model::METRIC_NAME).unwrap_or_default();
                if name == "up" {
                    continue;
                }
                let family = family_name(name, s.kind).to_string();
                let mut prefix = String::with_capacity(256);
                prefix.push_str(name);
                let mut first = true;
                for l in labels.iter() {
                    if l.name == strata_model::METRIC_NAME
                        || TARGET_LABELS.contains(&l.name.as_str())
                    {
                        continue;
                    }
                    prefix.push(if first { '{' } else { ',' });
                    first = false;
                    prefix.push_str(&l.name);
                    prefix.push_str("=\"");
                    escape_into(&mut prefix, &l.value);
                    prefix.push('"');
                }
                if !first {
                    prefix.push('}');
                }
                found.push((
                    family,
                    s.kind,
                    Line {
                        host: hosts.len(),
                        series: i,
                        prefix,
                    },
                ));
            }
            hosts.push(host);
        }
        found.truncate(series);
        // Stable: within a family, hosts stay in order and a histogram's buckets, `_sum` and
        // `_count` stay together.
        found.sort_by(|a, b| a.0.cmp(&b.0));
        let mut lines = Vec::with_capacity(found.len());
        let mut headers = Vec::new();
        let mut last_family = None;
        for (family, kind, line) in found {
            if last_family.as_ref() != Some(&family) {
                headers.push((lines.len(), header(&family, kind)));
                last_family = Some(family);
            }
            lines.push(line);
        }
        (
            Self {
                hosts,
                lines,
                headers,
            },
            index,
        )
    }

    /// Series in every scrape.
    pub fn series(&self) -> usize {
        self.lines.len()
    }

    /// Advances every host one scrape (at `now_ms`) and writes the exposition into `out`
    /// (cleared first).
    pub fn scrape(&mut self, params: &HostParams, now_ms: i64, out: &mut String) {
        for h in &mut self.hosts {
            h.advance(now_ms, params);
        }
        out.clear();
        let mut headers = self.headers.iter().peekable();
        for (i, line) in self.lines.iter().enumerate() {
            if let Some((_, text)) = headers.next_if(|(start, _)| *start == i) {
                out.push_str(text);
            }
            out.push_str(&line.prefix);
            out.push(' ');
            push_value(out, self.hosts[line.host].values()[line.series]);
            out.push('\n');
        }
    }
}

/// The family a series belongs to: its name, without `_bucket`, `_sum` or `_count` for a
/// classic histogram's parts.
fn family_name(name: &str, kind: MetricKind) -> &str {
    if kind != MetricKind::Histogram {
        return name;
    }
    ["_bucket", "_sum", "_count"]
        .iter()
        .find_map(|s| name.strip_suffix(s))
        .unwrap_or(name)
}

fn header(family: &str, kind: MetricKind) -> String {
    let kind = match kind {
        MetricKind::Counter => "counter",
        MetricKind::Gauge => "gauge",
        MetricKind::Histogram => "histogram",
    };
    format!("# HELP {family} Simulated node_exporter {kind}.\n# TYPE {family} {kind}\n")
}

/// What one scraper was served.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ServedCounts {
    /// Scrapes answered.
    pub scrapes: u64,
    /// Sample lines in them.
    pub samples: u64,
    /// Response body bytes (after gzip, when the scraper asked for it).
    pub bytes: u64,
}

/// One served scrape.
#[derive(Clone, Copy, Debug)]
struct Served {
    at_ms: i64,
    samples: u32,
    bytes: u32,
}

/// Every scrape served, by scraper name.
#[derive(Debug, Default)]
pub struct ScrapeLog {
    served: Mutex<HashMap<String, Vec<Served>>>,
}

impl ScrapeLog {
    /// Records a scrape of `samples` samples in `bytes` bytes served to `scraper` at `at_ms`.
    pub fn record(&self, scraper: &str, at_ms: i64, samples: usize, bytes: usize) {
        let s = Served {
            at_ms,
            samples: u32::try_from(samples).unwrap_or(u32::MAX),
            bytes: u32::try_from(bytes).unwrap_or(u32::MAX),
        };
        let mut served = self.served.lock();
        match served.get_mut(scraper) {
            Some(v) => v.push(s),
            None => {
                served.insert(scraper.to_string(), vec![s]);
            }
        }
    }

    /// Totals per scraper over scrapes served at `from_ms <= t < to_ms`.
    pub fn counts(&self, from_ms: i64, to_ms: i64) -> BTreeMap<String, ServedCounts> {
        let served = self.served.lock();
        served
            .iter()
            .map(|(name, v)| {
                let mut c = ServedCounts::default();
                for s in v.iter().filter(|s| s.at_ms >= from_ms && s.at_ms < to_ms) {
                    c.scrapes += 1;
                    c.samples += u64::from(s.samples);
                    c.bytes += u64::from(s.bytes);
                }
                (name.clone(), c)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use strata_exposition::{Entry, Format, Limits, MetricType};

    use super::*;

    fn params() -> HostParams {
        HostParams {
            seed: 11,
            extra_labels: 10,
            reset_prob: 0.0,
            interval_ms: 15_000,
        }
    }

    /// Parses an exposition with the agent's own parser: (series text → value), types.
    fn parse(text: &str) -> (HashMap<String, f64>, HashMap<String, MetricType>) {
        let mut values = HashMap::new();
        let mut types = HashMap::new();
        for e in
            strata_exposition::parse(text.as_bytes(), Format::PrometheusText, Limits::default())
                .expect("the exposition parses")
        {
            match e {
                Entry::Type { metric, kind } => {
                    assert!(
                        types.insert(metric.to_string(), kind).is_none(),
                        "second TYPE line for {metric}"
                    );
                }
                Entry::Sample(s) => {
                    let mut labels: Vec<String> = s
                        .labels
                        .iter()
                        .map(|l| format!("{}={}", l.name, l.value))
                        .collect();
                    labels.sort();
                    assert!(
                        !s.labels
                            .iter()
                            .any(|l| l.name == "instance" || l.name == "job"),
                        "{}: target labels are the scraper's",
                        s.name
                    );
                    let key = format!("{}{{{}}}", s.name, labels.join(","));
                    assert!(values.insert(key, s.value).is_none(), "duplicate series");
                }
                _ => {}
            }
        }
        (values, types)
    }

    #[test]
    fn a_target_serves_exactly_its_series_and_they_move() {
        let p = params();
        let (mut t, next) = Target::new(&p, 0, 1000);
        assert_eq!(t.series(), 1000);
        assert!(next >= 8, "about 100 series per host: {next} hosts");
        let mut text = String::new();
        t.scrape(&p, 1_700_000_000_000, &mut text);
        let (first, types) = parse(&text);
        assert_eq!(first.len(), 1000);
        assert!(!first.keys().any(|k| k.starts_with("up{")));
        assert_eq!(
            types.get("http_request_duration_seconds"),
            Some(&MetricType::Histogram)
        );
        assert_eq!(
            types.get("node_cpu_seconds_total"),
            Some(&MetricType::Counter)
        );
        assert_eq!(types.get("node_load1"), Some(&MetricType::Gauge));
        t.scrape(&p, 1_700_000_015_000, &mut text);
        let (second, _) = parse(&text);
        assert_eq!(
            first.keys().collect::<HashSet<_>>(),
            second.keys().collect::<HashSet<_>>()
        );
        let changed = first.iter().filter(|(k, v)| second[*k] != **v).count();
        assert!(changed > 500, "only {changed} of 1000 values changed");
        for (k, v) in &first {
            if k.starts_with("node_cpu_seconds_total") || k.contains("_bucket{") {
                assert!(second[k] >= *v, "{k} went down: {v} -> {}", second[k]);
            }
        }
    }

    #[test]
    fn targets_do_not_share_series() {
        let p = params();
        let (mut a, next) = Target::new(&p, 0, 300);
        let (mut b, _) = Target::new(&p, next, 300);
        let (mut ta, mut tb) = (String::new(), String::new());
        a.scrape(&p, 0, &mut ta);
        b.scrape(&p, 0, &mut tb);
        let (va, _) = parse(&ta);
        let (vb, _) = parse(&tb);
        assert_eq!((va.len(), vb.len()), (300, 300));
        assert!(va.keys().all(|k| !vb.contains_key(k)));
    }

    #[test]
    fn the_log_counts_per_scraper_within_the_window() {
        let log = ScrapeLog::default();
        log.record("agent", 1_000, 1000, 50);
        log.record("agent", 2_000, 1000, 60);
        log.record("prometheus", 2_500, 999, 70);
        log.record("agent", 3_000, 1000, 80);
        let c = log.counts(2_000, 3_000);
        assert_eq!(
            c["agent"],
            ServedCounts {
                scrapes: 1,
                samples: 1000,
                bytes: 60
            }
        );
        assert_eq!(c["prometheus"].samples, 999);
        assert_eq!(log.counts(0, i64::MAX)["agent"].scrapes, 3);
    }
}
