//! History as an OpenMetrics text file: the generator's hosts scraped over a simulated time
//! range, written so that `promtool tsdb create-blocks-from openmetrics` turns it into
//! Prometheus blocks. The query benchmark (`bench-query.sh`) loads the same blocks into
//! Prometheus and into Strata, so both answer over identical data.
//!
//! The file is time-major (every host's scrape at interval 0, then interval 1, …), which
//! keeps each series' samples in increasing time order. No `# TYPE` lines are written: every
//! family is `unknown`, which lets counters keep their `_total` names unchanged (OpenMetrics
//! would otherwise strip the suffix from the family name). The file ends with `# EOF`.

use std::io::{self, Write};

use crate::host::{Host, HostParams};
use crate::run::build_hosts;

/// What [`write_history`] wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HistoryStats {
    /// Distinct series.
    pub series: u64,
    /// Sample lines.
    pub samples: u64,
    /// Scrape intervals simulated.
    pub intervals: u64,
}

/// Writes `series` series of the generator's hosts (one tenant) scraped every
/// `params.interval_ms` from `start_ms` until before `end_ms`, in OpenMetrics text.
pub fn write_history(
    out: &mut impl Write,
    params: &HostParams,
    series: u64,
    start_ms: i64,
    end_ms: i64,
) -> io::Result<HistoryStats> {
    let mut hosts = build_hosts(params, series, 1);
    // Each series' `name{labels}` is rendered once; only values and times change per line.
    let prefixes: Vec<Vec<String>> = hosts.iter().map(series_prefixes).collect();
    let mut stats = HistoryStats {
        series: prefixes.iter().map(|p| p.len() as u64).sum(),
        ..HistoryStats::default()
    };
    let interval = params.interval_ms.max(1);
    let mut tick_start = start_ms;
    let mut line = String::with_capacity(512);
    while tick_start < end_ms {
        for (h, prefix) in hosts.iter_mut().zip(&prefixes) {
            h.advance(tick_start, params);
            let t = h.timestamp();
            if t >= end_ms {
                continue;
            }
            for (p, v) in prefix.iter().zip(h.values()) {
                line.clear();
                line.push_str(p);
                line.push(' ');
                push_value(&mut line, *v);
                line.push(' ');
                push_seconds(&mut line, t);
                line.push('\n');
                out.write_all(line.as_bytes())?;
                stats.samples += 1;
            }
        }
        stats.intervals += 1;
        tick_start += interval;
    }
    out.write_all(b"# EOF\n")?;
    Ok(stats)
}

/// `name{a="x",b="y"}` for every series of the host, in its series order.
fn series_prefixes(h: &Host) -> Vec<String> {
    h.series()
        .iter()
        .map(|s| {
            let labels = s.labels();
            let mut name = "";
            let mut rest = String::new();
            for l in labels.iter() {
                if l.name == "__name__" {
                    name = &l.value;
                    continue;
                }
                if !rest.is_empty() {
                    rest.push(',');
                }
                rest.push_str(&l.name);
                rest.push_str("=\"");
                escape_into(&mut rest, &l.value);
                rest.push('"');
            }
            format!("{name}{{{rest}}}")
        })
        .collect()
}

/// Appends a label value with OpenMetrics escapes (`\\`, `\"`, `\n`).
pub(crate) fn escape_into(out: &mut String, v: &str) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// Appends a float as OpenMetrics expects (`NaN`, `+Inf`, `-Inf`, else shortest round trip).
pub(crate) fn push_value(out: &mut String, v: f64) {
    use std::fmt::Write as _;
    if v.is_nan() {
        out.push_str("NaN");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
    } else {
        let _ = write!(out, "{v}");
    }
}

/// Appends a millisecond timestamp as seconds with three decimals.
fn push_seconds(out: &mut String, ms: i64) {
    use std::fmt::Write as _;
    let sign = if ms < 0 { "-" } else { "" };
    let a = ms.unsigned_abs();
    let _ = write!(out, "{sign}{}.{:03}", a / 1000, a % 1000);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> HostParams {
        HostParams {
            seed: 7,
            extra_labels: 10,
            reset_prob: 0.0,
            interval_ms: 15_000,
        }
    }

    #[test]
    fn writes_every_series_once_per_interval_in_time_order() {
        let mut buf = Vec::new();
        let start = 1_700_000_000_000;
        let stats = write_history(&mut buf, &params(), 250, start, start + 10 * 15_000)
            .expect("write to memory");
        let text = String::from_utf8(buf).expect("utf-8");
        assert!(text.ends_with("# EOF\n"));
        assert_eq!(stats.series, 250);
        assert_eq!(stats.intervals, 10);
        // Host offsets are below one interval and jitter is ±2 ms, so a scrape can fall past
        // the end only in the last interval.
        assert!(
            stats.samples > 9 * 250 && stats.samples <= 10 * 250,
            "{stats:?}"
        );
        let mut last: std::collections::HashMap<&str, f64> = Default::default();
        let mut lines = 0;
        for l in text.lines().filter(|l| !l.starts_with('#')) {
            let (series, rest) = l.rsplit_once('}').expect("labels");
            let mut parts = rest.split_whitespace();
            let _value: f64 = parts.next().expect("value").parse().expect("float value");
            let t: f64 = parts.next().expect("time").parse().expect("float time");
            assert!(t * 1000.0 >= start as f64 - 3.0 && t * 1000.0 < (start + 150_000) as f64);
            if let Some(prev) = last.insert(series, t) {
                assert!(t > prev, "{series}: {t} after {prev}");
            }
            lines += 1;
        }
        assert_eq!(lines as u64, stats.samples);
        assert_eq!(last.len(), 250);
    }

    #[test]
    fn escapes_and_formats() {
        let mut s = String::new();
        escape_into(&mut s, "a\\b\"c\nd");
        assert_eq!(s, "a\\\\b\\\"c\\nd");
        let mut s = String::new();
        push_seconds(&mut s, 1_700_000_000_005);
        push_value(&mut s, f64::INFINITY);
        push_seconds(&mut s, -1_500);
        assert_eq!(s, "1700000000.005+Inf-1.500");
    }
}
