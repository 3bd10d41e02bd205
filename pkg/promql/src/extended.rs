//! Prometheus's extended range selectors: the `anchored` and `smoothed` modifiers.
//!
//! An anchored range `foo[1m] anchored` also sees the newest sample at or before the range
//! start (up to the lookback delta earlier) and uses it as the value at the start, so
//! `increase` is the exact difference between the boundary values, without extrapolation.
//! A smoothed range additionally looks up to the lookback delta past the range end and
//! interpolates linearly at both boundaries; a smoothed instant selector `foo smoothed`
//! interpolates between the samples around each step instead of taking the newest one.
//!
//! Only functions whose meaning survives the extra boundary samples accept the modifiers;
//! the others fail with Prometheus's message.

use strata_model::Sample;

use crate::error::QueryError;

/// How a range selector picks its samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum RangeMode {
    /// `(t - range, t]`.
    #[default]
    Plain,
    /// `anchored`: `(t - range - lookback, t]`, the newest sample at or before the start
    /// standing for the start.
    Anchored,
    /// `smoothed`: `(t - range - lookback, t + lookback]`, interpolated at both ends.
    Smoothed,
}

impl RangeMode {
    /// The mode of a selector with the given modifiers.
    pub fn of(anchored: bool, smoothed: bool) -> Self {
        match (anchored, smoothed) {
            (true, _) => RangeMode::Anchored,
            (_, true) => RangeMode::Smoothed,
            _ => RangeMode::Plain,
        }
    }

    /// The samples a step with range `(start, end]` reads: `(lo, hi]`.
    pub fn bounds(self, start: i64, end: i64, lookback: i64) -> (i64, i64) {
        match self {
            RangeMode::Plain => (start, end),
            RangeMode::Anchored => (start - lookback, end),
            RangeMode::Smoothed => (start - lookback, end + lookback),
        }
    }
}

const ANCHORED_SAFE: &[&str] = &["changes", "delta", "increase", "rate", "resets"];
const SMOOTHED_SAFE: &[&str] = &["delta", "increase", "rate"];

/// Fails unless range function `name` accepts selectors in `mode`.
pub(crate) fn check_function(name: &str, mode: RangeMode) -> Result<(), QueryError> {
    let (modifier, safe) = match mode {
        RangeMode::Plain => return Ok(()),
        RangeMode::Anchored => ("anchored", ANCHORED_SAFE),
        RangeMode::Smoothed => ("smoothed", SMOOTHED_SAFE),
    };
    if safe.contains(&name) {
        return Ok(());
    }
    Err(QueryError::exec(format!(
        "{modifier} modifier can only be used with: {} - not with {name}",
        safe.join(", ")
    )))
}

/// The samples `(lo, hi]` of sorted `samples`.
pub(crate) fn between(samples: &[Sample], lo: i64, hi: i64) -> &[Sample] {
    let a = samples.partition_point(|s| s.t <= lo);
    let b = samples.partition_point(|s| s.t <= hi);
    &samples[a..b.max(a)]
}

/// Linear interpolation at `t` between `p1` and `p2`; a counter that reset in between is
/// taken to have restarted from zero.
fn interpolate(p1: Sample, p2: Sample, t: i64, is_counter: bool) -> f64 {
    let y1 = if is_counter && p2.v < p1.v { 0.0 } else { p1.v };
    y1 + (p2.v - y1) * (t - p1.t) as f64 / (p2.t - p1.t) as f64
}

/// Index of the first sample in `f[..limit]` with `pred`, else `limit` (Go's `sort.Search`).
fn search(f: &[Sample], limit: usize, pred: impl Fn(&Sample) -> bool) -> usize {
    f[..limit].partition_point(|s| !pred(s))
}

/// The boundary samples of a window: the first and last index used and the values at the
/// range start and end, or None when the window has nothing inside the range.
fn boundaries(
    f: &[Sample],
    start: i64,
    end: i64,
    smoothed: bool,
    is_counter: bool,
) -> Option<(usize, usize, f64, f64)> {
    if f.is_empty() {
        return None;
    }
    let mut last = f.len() - 1;
    let first = search(f, last, |s| s.t > start).saturating_sub(1);
    if smoothed {
        last = search(f, last, |s| s.t >= end);
    }
    if f[last].t <= start || (smoothed && f[first].t > end) {
        return None;
    }
    let left = if smoothed && f[first].t < start {
        interpolate(f[first], f[first + 1], start, is_counter)
    } else {
        f[first].v
    };
    let right = if smoothed && last > 0 && f[last].t > end {
        interpolate(f[last - 1], f[last], end, is_counter)
    } else {
        f[last].v
    };
    Some((first, last, left, right))
}

/// `rate`, `increase` or `delta` over an anchored or smoothed window `f` (already widened by
/// [`RangeMode::bounds`], stale markers removed) of the range `(start, end]`.
pub(crate) fn extended_rate(
    f: &[Sample],
    start: i64,
    end: i64,
    smoothed: bool,
    is_counter: bool,
    is_rate: bool,
) -> Option<f64> {
    let (first, last, left, right) = boundaries(f, start, end, smoothed, is_counter)?;
    let mut result = right - left;
    if is_counter {
        // The boundary values already account for resets at the edges; correct for the
        // resets among the samples strictly inside the range.
        let mut prev = left;
        for p in strictly_inside(f, first, last, start, end) {
            if p.v < prev {
                result += prev;
            }
            prev = p.v;
        }
        if right < prev {
            result += prev;
        }
    }
    Some(finish(result, is_rate, start, end))
}

/// The samples of `f[first..=last]` strictly inside `(start, end)`: the boundary samples are
/// represented by the values at the range start and end.
fn strictly_inside(f: &[Sample], first: usize, last: usize, start: i64, end: i64) -> &[Sample] {
    let lo = if f[first].t <= start {
        first + 1
    } else {
        first
    };
    let hi = if f[last].t >= end { last } else { last + 1 };
    if lo < hi {
        &f[lo..hi]
    } else {
        &[]
    }
}

fn finish(v: f64, is_rate: bool, start: i64, end: i64) -> f64 {
    if is_rate {
        v / ((end - start) as f64 / 1000.0)
    } else {
        v
    }
}

/// The samples `changes`/`resets` see in an anchored window: the newest sample at or
/// before the range start (the anchor) and every sample after it; None when no sample lies
/// after the range start.
pub(crate) fn anchored_samples(f: &[Sample], start: i64) -> Option<&[Sample]> {
    let after = f.partition_point(|s| s.t <= start);
    if after >= f.len() {
        return None;
    }
    Some(&f[after.saturating_sub(1)..])
}

/// A range selector's samples as an anchored or smoothed query returns them: the value at
/// the range start, the samples strictly inside, and the value at the range end.
pub(crate) fn extend_samples(f: &[Sample], start: i64, end: i64, smoothed: bool) -> Vec<Sample> {
    let Some((first, last, left, right)) = boundaries(f, start, end, smoothed, false) else {
        return Vec::new();
    };
    let inner = strictly_inside(f, first, last, start, end);
    let mut out = Vec::with_capacity(inner.len() + 2);
    out.push(Sample::new(start, left));
    out.extend_from_slice(inner);
    out.push(Sample::new(end, right));
    out
}

/// The value of a smoothed instant selector at `t` from the samples `(t - lookback,
/// t + lookback]`: the sample at `t`, else the interpolation between its neighbours, else
/// the newest earlier sample.
pub(crate) fn smoothed_value(f: &[Sample], t: i64) -> Option<f64> {
    let i = f.partition_point(|s| s.t < t);
    match (f.get(i), i) {
        (Some(s), _) if s.t == t => Some(s.v),
        (Some(next), i) if i > 0 => Some(interpolate(f[i - 1], *next, t, false)),
        (None, i) if i > 0 => Some(f[i - 1].v),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(t: i64, v: f64) -> Sample {
        Sample::new(t, v)
    }

    // `metric 1+1x4 9+1x4` loaded every 15s, as in Prometheus's extended_vectors.test.
    fn metric() -> Vec<Sample> {
        let vals = [1.0, 2.0, 3.0, 4.0, 5.0, 9.0, 10.0, 11.0, 12.0, 13.0];
        vals.iter()
            .enumerate()
            .map(|(i, v)| s(i as i64 * 15_000, *v))
            .collect()
    }

    fn increase(at: i64, mode: RangeMode) -> Option<f64> {
        let m = metric();
        let (start, end) = (at - 60_000, at);
        let (lo, hi) = mode.bounds(start, end, 300_000);
        extended_rate(
            between(&m, lo, hi),
            start,
            end,
            mode == RangeMode::Smoothed,
            true,
            false,
        )
    }

    #[test]
    fn anchored_increase_is_the_difference_of_boundary_values() {
        assert_eq!(increase(5_000, RangeMode::Anchored), Some(0.0));
        assert_eq!(increase(20_000, RangeMode::Anchored), Some(1.0));
        assert_eq!(increase(80_000, RangeMode::Anchored), Some(7.0));
    }

    #[test]
    fn smoothed_increase_interpolates_at_both_ends() {
        let v = increase(20_000, RangeMode::Smoothed).expect("value");
        assert!((v - 1.333333333).abs() < 1e-6, "{v}");
        let v = increase(5_000, RangeMode::Smoothed).expect("value");
        assert!((v - 0.333333333).abs() < 1e-6, "{v}");
    }

    #[test]
    fn modifiers_are_checked_against_the_function() {
        assert!(check_function("rate", RangeMode::Smoothed).is_ok());
        let err = check_function("deriv", RangeMode::Anchored).expect_err("not allowed");
        assert_eq!(
            err.to_string(),
            "anchored modifier can only be used with: changes, delta, increase, rate, resets - not with deriv"
        );
    }

    #[test]
    fn smoothed_instant_value_interpolates() {
        let f = [s(0, 0.0), s(10_000, 10.0)];
        assert_eq!(smoothed_value(&f, 5_000), Some(5.0));
        assert_eq!(smoothed_value(&f, 10_000), Some(10.0));
        assert_eq!(smoothed_value(&f, 12_000), Some(10.0));
        assert_eq!(smoothed_value(&f[1..], 5_000), None);
    }
}
