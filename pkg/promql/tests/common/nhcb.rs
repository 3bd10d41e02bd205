//! `load_with_nhcb`: classic histogram series (`_bucket{le=..}`, `_count`, `_sum`) converted to
//! native histograms with custom buckets (schema -53), as the upstream harness does.

use std::collections::BTreeMap;

use strata_model::histogram::{FloatHistogram, Span, CUSTOM_BUCKETS_SCHEMA};
use strata_model::{is_stale_nan, Labels};

#[derive(Default)]
struct Temp {
    /// Cumulative counts by upper bound, sorted.
    buckets: Vec<(f64, f64)>,
    count: Option<f64>,
    sum: f64,
    bad: bool,
}

impl Temp {
    fn set_bucket(&mut self, le: f64, count: f64) {
        if le.is_nan() || count < 0.0 {
            self.bad = true;
            return;
        }
        match self.buckets.iter().position(|(b, _)| *b >= le) {
            Some(i) if self.buckets[i].0 == le => {}
            Some(i) => self.buckets.insert(i, (le, count)),
            None => self.buckets.push((le, count)),
        }
        if self.buckets.windows(2).any(|w| w[1].1 < w[0].1) {
            self.bad = true;
        }
    }

    fn convert(mut self) -> Option<FloatHistogram> {
        if self.bad {
            return None;
        }
        let count = match self.count {
            Some(c) => c,
            None => self.buckets.last()?.1,
        };
        if self.buckets.last().is_none_or(|b| b.0 != f64::INFINITY) {
            self.buckets.push((f64::INFINITY, count));
        }
        if self.buckets.last().map(|b| b.1) != Some(count) {
            return None;
        }
        let integral = self.buckets.iter().all(|b| b.1.fract() == 0.0) && count.fract() == 0.0;
        let mut prev = 0.0;
        let mut h = FloatHistogram {
            schema: CUSTOM_BUCKETS_SCHEMA,
            count,
            sum: self.sum,
            positive_spans: vec![Span::new(0, self.buckets.len() as u32)],
            ..Default::default()
        };
        for (le, c) in &self.buckets {
            h.positive_buckets.push(c - prev);
            prev = *c;
            if le.is_finite() {
                h.custom_values.push(*le);
            }
        }
        h.compact(if integral { 2 } else { 0 });
        Some(h)
    }
}

/// Converts the classic histogram series among `series` (`(labels, [(t, v)])`) to NHCB series.
pub fn convert(series: &[(Labels, Vec<(i64, f64)>)]) -> Vec<(Labels, Vec<(i64, FloatHistogram)>)> {
    let mut by_base: BTreeMap<Labels, BTreeMap<i64, Temp>> = BTreeMap::new();
    for (labels, samples) in series {
        let name = labels.metric_name().unwrap_or("");
        let (kind, base) = if let Some(b) = name.strip_suffix("_bucket") {
            (0, b)
        } else if let Some(b) = name.strip_suffix("_sum") {
            (1, b)
        } else if let Some(b) = name.strip_suffix("_count") {
            (2, b)
        } else {
            continue;
        };
        let le = if kind == 0 {
            match labels.get("le").and_then(parse_le) {
                Some(le) => Some(le),
                None => continue,
            }
        } else {
            None
        };
        let mut b = labels.builder();
        b.set("__name__", base);
        b.del("le");
        let by_t = by_base.entry(b.build()).or_default();
        for &(t, v) in samples {
            if is_stale_nan(v) {
                continue;
            }
            let temp = by_t.entry(t).or_default();
            match (kind, le) {
                (0, Some(le)) => temp.set_bucket(le, v),
                (1, _) => temp.sum = v,
                _ => {
                    if v < 0.0 {
                        temp.bad = true;
                    }
                    temp.count = Some(v);
                }
            }
        }
    }
    by_base
        .into_iter()
        .map(|(l, by_t)| {
            let hs = by_t
                .into_iter()
                .filter_map(|(t, temp)| temp.convert().map(|h| (t, h)))
                .collect();
            (l, hs)
        })
        .collect()
}

fn parse_le(s: &str) -> Option<f64> {
    match s.to_ascii_lowercase().trim_start_matches('+') {
        "inf" => Some(f64::INFINITY),
        "-inf" => Some(f64::NEG_INFINITY),
        _ => s.parse().ok(),
    }
}
