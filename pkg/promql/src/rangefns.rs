//! Functions over range vectors (`rate`, `*_over_time`, `deriv`, ...): each series' samples are
//! decoded once and every step's window `(ref - range, ref]` slides over them.

use promql_parser::parser::Expr;
use strata_model::{Labels, Sample, METRIC_NAME};

use crate::error::QueryError;
use crate::eval::{hwindow, without_stale, Evaluator, Hist, StepSeries, Val, SAME_LABELSET};
use crate::extended::{anchored_samples, between, extended_rate, RangeMode};
use crate::functions::{absent_labels, scalar_arg, unparen};
use crate::mathx::{kahan_inc, quantile};

const RANGE_FUNCTIONS: &[&str] = &[
    "rate",
    "increase",
    "delta",
    "irate",
    "idelta",
    "avg_over_time",
    "min_over_time",
    "max_over_time",
    "sum_over_time",
    "count_over_time",
    "last_over_time",
    "first_over_time",
    "present_over_time",
    "quantile_over_time",
    "stddev_over_time",
    "stdvar_over_time",
    "mad_over_time",
    "changes",
    "resets",
    "deriv",
    "predict_linear",
    "double_exponential_smoothing",
    "holt_winters",
    "absent_over_time",
    "ts_of_min_over_time",
    "ts_of_max_over_time",
    "ts_of_first_over_time",
    "ts_of_last_over_time",
];

pub(crate) fn is_range_function(name: &str) -> bool {
    RANGE_FUNCTIONS.contains(&name)
}

/// Everything a window function may need besides the samples.
struct WindowCtx<'a> {
    range_start: i64,
    range_end: i64,
    range_secs: f64,
    eval_ts: i64,
    params: &'a [f64],
    /// Known: no sample in the window is below its predecessor, so `rate`/`increase` need
    /// not look for counter resets. `false` means unknown (look).
    no_counter_resets: bool,
}

type WindowFn = fn(&[Sample], &WindowCtx) -> Result<Option<f64>, QueryError>;

pub(crate) fn eval_range_function(
    ev: &Evaluator,
    name: &str,
    args: &[&Expr],
) -> Result<Val, QueryError> {
    let n = ev.n();
    let midx = if name == "quantile_over_time" { 1 } else { 0 };
    let mut params: Vec<Vec<f64>> = Vec::new();
    for (i, a) in args.iter().enumerate() {
        if i != midx {
            params.push(scalar_arg(ev, a)?);
        }
    }
    let rv = match ev.eval(args[midx])? {
        Val::Range(r) => r,
        _ => {
            return Err(QueryError::exec(format!(
                "expected a range vector argument to {name}"
            )))
        }
    };
    crate::extended::check_function(name, rv.mode)?;
    let f: WindowFn = match name {
        "rate" => |w, c| Ok(extrapolated_rate(w, c, true, true)),
        "increase" => |w, c| Ok(extrapolated_rate(w, c, true, false)),
        "delta" => |w, c| Ok(extrapolated_rate(w, c, false, false)),
        "irate" => |w, _| Ok(instant_value(w, true)),
        "idelta" => |w, _| Ok(instant_value(w, false)),
        "avg_over_time" => |w, _| Ok(Some(avg(w))),
        "min_over_time" => |w, _| Ok(Some(compare_over_time(w, |cur, m| cur < m || m.is_nan()).0)),
        "max_over_time" => |w, _| Ok(Some(compare_over_time(w, |cur, m| cur > m || m.is_nan()).0)),
        "ts_of_min_over_time" => {
            |w, _| Ok(Some(compare_over_time(w, |cur, m| cur < m || m.is_nan()).1))
        }
        "ts_of_max_over_time" => {
            |w, _| Ok(Some(compare_over_time(w, |cur, m| cur > m || m.is_nan()).1))
        }
        "sum_over_time" => |w, _| {
            let (mut s, mut c) = (0.0, 0.0);
            for x in w {
                (s, c) = kahan_inc(x.v, s, c);
            }
            Ok(Some(if s.is_infinite() { s } else { s + c }))
        },
        "count_over_time" => |w, _| Ok(Some(w.len() as f64)),
        "last_over_time" => |w, _| Ok(w.last().map(|s| s.v)),
        "first_over_time" => |w, _| Ok(w.first().map(|s| s.v)),
        "ts_of_last_over_time" => |w, _| Ok(w.last().map(|s| s.t as f64 / 1000.0)),
        "ts_of_first_over_time" => |w, _| Ok(w.first().map(|s| s.t as f64 / 1000.0)),
        "present_over_time" | "absent_over_time" => |_, _| Ok(Some(1.0)),
        "quantile_over_time" => |w, c| {
            let mut vals: Vec<f64> = w.iter().map(|s| s.v).collect();
            Ok(Some(quantile(c.params[0], &mut vals)))
        },
        "stddev_over_time" => |w, _| Ok(Some(variance(w).sqrt())),
        "stdvar_over_time" => |w, _| Ok(Some(variance(w))),
        "mad_over_time" => |w, _| {
            if w.iter().any(|s| s.v.is_nan()) {
                return Ok(Some(f64::NAN));
            }
            let mut vals: Vec<f64> = w.iter().map(|s| s.v).collect();
            let median = quantile(0.5, &mut vals);
            for v in vals.iter_mut() {
                *v = (*v - median).abs();
            }
            Ok(Some(quantile(0.5, &mut vals)))
        },
        "changes" => |w, _| {
            let mut changes = 0;
            for p in w.windows(2) {
                let (prev, cur) = (p[0].v, p[1].v);
                if cur != prev && !(cur.is_nan() && prev.is_nan()) {
                    changes += 1;
                }
            }
            Ok(Some(changes as f64))
        },
        "resets" => |w, _| Ok(Some(w.windows(2).filter(|p| p[1].v < p[0].v).count() as f64)),
        "deriv" => |w, _| {
            if w.len() < 2 {
                return Ok(None);
            }
            Ok(Some(linear_regression(w, w[0].t).0))
        },
        "predict_linear" => |w, c| {
            if w.len() < 2 {
                return Ok(None);
            }
            let (slope, intercept) = linear_regression(w, c.eval_ts);
            Ok(Some(slope * c.params[0] + intercept))
        },
        _ => |w, c| double_exponential_smoothing(w, c.params[0], c.params[1]),
    };

    let keep_name = matches!(name, "last_over_time" | "first_over_time");
    let offset = rv.offset;
    let at = rv.at;
    let range = rv.range;
    let mut out: Vec<StepSeries> = Vec::new();
    let mut step_params = vec![0.0; params.len()];
    let mut non_counter: Vec<String> = Vec::new();
    // `rate` and `increase` over plain windows: per series, the number of counter resets
    // (a sample below its predecessor) up to each sample, so a window without any skips
    // the scan for them. The scan itself is unchanged where there are resets, so results
    // are bit for bit the same.
    let count_resets = rv.mode == RangeMode::Plain && matches!(name, "rate" | "increase");
    let mut resets_upto: Vec<u32> = Vec::new();
    for s in rv.series.iter() {
        ev.check_deadline()?;
        let samples = if rv.may_have_stale {
            without_stale(&s.samples)
        } else {
            std::borrow::Cow::Borrowed(s.samples.as_slice())
        };
        if count_resets {
            resets_upto.clear();
            let mut resets = 0u32;
            resets_upto.push(0);
            for p in samples.windows(2) {
                if p[1].v < p[0].v {
                    resets += 1;
                }
                resets_upto.push(resets);
            }
        }
        let mut vals = vec![None; n];
        let mut hvals: Vec<Option<Hist>> = Vec::new();
        let mut any = false;
        let mut any_float = false;
        let metric = s.labels.metric_name().unwrap_or("").to_string();
        let (mut lo, mut hi) = (0usize, 0usize);
        let mut last_ref = i64::MIN;
        for (i, val) in vals.iter_mut().enumerate() {
            let reft = ev.ref_time(i, offset, at);
            if rv.mode != RangeMode::Plain {
                let (start, end) = (reft - range, reft);
                let (wlo, whi) = rv.mode.bounds(start, end, rv.lookback);
                let w = between(&samples, wlo, whi);
                let smoothed = rv.mode == RangeMode::Smoothed;
                *val = match name {
                    "rate" | "increase" | "delta" => {
                        extended_rate(w, start, end, smoothed, name != "delta", name == "rate")
                    }
                    // changes and resets (the only other functions allowed) count from the
                    // anchor sample.
                    _ => match anchored_samples(w, start) {
                        Some(a) => {
                            let ctx = WindowCtx {
                                range_start: start,
                                range_end: end,
                                range_secs: range as f64 / 1000.0,
                                eval_ts: ev.ts(i),
                                params: &step_params,
                                no_counter_resets: false,
                            };
                            f(a, &ctx)?
                        }
                        None => None,
                    },
                };
                any |= val.is_some();
                continue;
            }
            if reft < last_ref {
                lo = 0;
                hi = 0;
            }
            last_ref = reft;
            while hi < samples.len() && samples[hi].t <= reft {
                hi += 1;
            }
            while lo < hi && samples[lo].t <= reft - range {
                lo += 1;
            }
            let hw = hwindow(&s.hists, reft, range);
            if !hw.is_empty() {
                let c = crate::nh_range::Ctx {
                    ev,
                    metric: &metric,
                    pos: args[midx].pos(),
                    range_start: reft - range,
                    range_end: reft,
                    range_secs: range as f64 / 1000.0,
                };
                let fw = if lo < hi { &samples[lo..hi] } else { &[][..] };
                match crate::nh_range::window(name, fw, hw, &c) {
                    crate::nh_range::Out::None => continue,
                    crate::nh_range::Out::F(v) => {
                        *val = Some(v);
                        any = true;
                        continue;
                    }
                    crate::nh_range::Out::H(h) => {
                        if hvals.is_empty() {
                            hvals = vec![None; n];
                        }
                        hvals[i] = Some(h);
                        any = true;
                        continue;
                    }
                    crate::nh_range::Out::Floats => {}
                }
            }
            if lo >= hi {
                continue;
            }
            for (k, p) in params.iter().enumerate() {
                step_params[k] = p[i];
            }
            // Resets among pairs (k-1, k), lo < k < hi: a difference of prefix counts.
            let no_counter_resets = count_resets && resets_upto[hi - 1] == resets_upto[lo];
            let ctx = WindowCtx {
                range_start: reft - range,
                range_end: reft,
                range_secs: range as f64 / 1000.0,
                eval_ts: ev.ts(i),
                params: &step_params,
                no_counter_resets,
            };
            if let Some(v) = f(&samples[lo..hi], &ctx)? {
                *val = Some(v);
                any = true;
                any_float = true;
            }
        }
        if !any {
            continue;
        }
        if any_float && matches!(name, "rate" | "increase") {
            if let Some(mn) = s.labels.get(METRIC_NAME) {
                let counter_like = ["_total", "_sum", "_count", "_bucket"]
                    .iter()
                    .any(|x| mn.ends_with(x));
                if !counter_like && !non_counter.iter().any(|x| x == mn) {
                    non_counter.push(mn.to_string());
                }
            }
        }
        let (labels, drop_name) = if keep_name {
            if s.drop_name && !ev.delayed {
                (crate::eval::drop_name(&s.labels), false)
            } else {
                (s.labels.clone(), s.drop_name)
            }
        } else {
            ev.dropped(&s.labels)
        };
        out.push(StepSeries {
            labels,
            vals,
            hists: hvals,
            drop_name,
        });
    }
    if name == "quantile_over_time" && !out.is_empty() {
        let mut bad: Vec<f64> = Vec::new();
        for (i, &q) in params[0].iter().enumerate() {
            if (q.is_nan() || !(0.0..=1.0).contains(&q)) && out.iter().any(|s| s.vals[i].is_some())
            {
                bad.push(q);
            }
        }
        for q in bad {
            ev.warn(
                args[0].pos(),
                format!(
                    "PromQL warning: quantile value should be between 0 and 1, got {}",
                    crate::mathx::fmt_g(q)
                ),
            );
        }
    }
    for mn in non_counter {
        ev.info(args[0].pos(), format!(
            "PromQL info: metric might not be a counter, name does not end in _total/_sum/_count/_bucket: {mn:?}"
        ));
    }
    if name == "absent_over_time" {
        let vals: Vec<Option<f64>> = (0..n)
            .map(|i| {
                if out.iter().any(|s| s.present(i)) {
                    None
                } else {
                    Some(1.0)
                }
            })
            .collect();
        if vals.iter().all(|v| v.is_none()) {
            return Ok(Val::Vector(Vec::new()));
        }
        let labels = match unparen(args[0]) {
            e @ Expr::MatrixSelector(_) => absent_labels(e),
            _ => Labels::empty(),
        };
        return Ok(Val::Vector(vec![StepSeries {
            labels,
            vals,
            hists: Vec::new(),
            drop_name: false,
        }]));
    }
    // A matrix function's output may not hold two series with the same labels.
    if ev.delayed {
        return Ok(Val::Vector(out));
    }
    let mut seen = std::collections::HashSet::with_capacity(out.len());
    for s in &out {
        if !seen.insert(&s.labels) {
            return Err(QueryError::exec(SAME_LABELSET));
        }
    }
    Ok(Val::Vector(out))
}

/// Prometheus's `extrapolatedRate` for float samples (v3 semantics).
fn extrapolated_rate(w: &[Sample], c: &WindowCtx, is_counter: bool, is_rate: bool) -> Option<f64> {
    if w.len() < 2 {
        return None;
    }
    let first = w[0];
    let last = w[w.len() - 1];
    let mut result = last.v - first.v;
    if is_counter && !c.no_counter_resets {
        for p in w.windows(2) {
            if p[1].v < p[0].v {
                result += p[0].v;
            }
        }
    }
    let mut duration_to_start = (first.t - c.range_start) as f64 / 1000.0;
    let mut duration_to_end = (c.range_end - last.t) as f64 / 1000.0;
    let sampled_interval = (last.t - first.t) as f64 / 1000.0;
    let avg_between = sampled_interval / (w.len() - 1) as f64;
    let threshold = avg_between * 1.1;
    if duration_to_start >= threshold {
        duration_to_start = avg_between / 2.0;
    }
    if is_counter {
        let mut duration_to_zero = duration_to_start;
        if result > 0.0 && first.v >= 0.0 {
            duration_to_zero = sampled_interval * (first.v / result);
        }
        if duration_to_zero < duration_to_start {
            duration_to_start = duration_to_zero;
        }
    }
    if duration_to_end >= threshold {
        duration_to_end = avg_between / 2.0;
    }
    let mut factor = if sampled_interval != 0.0 {
        (sampled_interval + duration_to_start + duration_to_end) / sampled_interval
    } else {
        1.0
    };
    if is_rate {
        factor /= c.range_secs;
    }
    Some(result * factor)
}

/// `irate`/`idelta`: from the last two samples.
fn instant_value(w: &[Sample], is_rate: bool) -> Option<f64> {
    if w.len() < 2 {
        return None;
    }
    let (prev, last) = (w[w.len() - 2], w[w.len() - 1]);
    let interval = last.t - prev.t;
    if interval == 0 {
        return None;
    }
    // A counter reset leaves the last value as the increase.
    let reset = last.v < prev.v;
    let mut v = if !is_rate || !reset {
        last.v - prev.v
    } else {
        last.v
    };
    if is_rate {
        v /= interval as f64 / 1000.0;
    }
    Some(v)
}

/// Prometheus's `avg_over_time`: direct Kahan mean, switching to an incremental mean on overflow.
fn avg(w: &[Sample]) -> f64 {
    let mut sum = w[0].v;
    let mut count = 1.0;
    let (mut mean, mut c) = (0.0, 0.0);
    let mut incremental = false;
    for (i, s) in w[1..].iter().enumerate() {
        count = (i + 2) as f64;
        if !incremental {
            let (ns, nc) = kahan_inc(s.v, sum, c);
            if !ns.is_infinite() {
                sum = ns;
                c = nc;
                continue;
            }
            incremental = true;
            mean = sum / (count - 1.0);
            c /= count - 1.0;
        }
        let q = (count - 1.0) / count;
        (mean, c) = kahan_inc(s.v / count, q * mean, q * c);
    }
    if incremental {
        mean + c
    } else {
        sum / count + c / count
    }
}

fn compare_over_time(w: &[Sample], better: fn(f64, f64) -> bool) -> (f64, f64) {
    let mut best = w[0].v;
    let mut ts = w[0].t;
    for s in w {
        if better(s.v, best) {
            best = s.v;
            ts = s.t;
        }
    }
    (best, ts as f64 / 1000.0)
}

fn variance(w: &[Sample]) -> f64 {
    let mut count = 0.0;
    let (mut mean, mut c_mean) = (0.0, 0.0);
    let (mut aux, mut c_aux) = (0.0, 0.0);
    for s in w {
        count += 1.0;
        let delta = s.v - (mean + c_mean);
        (mean, c_mean) = kahan_inc(delta / count, mean, c_mean);
        (aux, c_aux) = kahan_inc(delta * (s.v - (mean + c_mean)), aux, c_aux);
    }
    (aux + c_aux) / count
}

/// Least-squares slope and intercept at `intercept_time`, as Prometheus's `linearRegression`.
fn linear_regression(w: &[Sample], intercept_time: i64) -> (f64, f64) {
    let mut n = 0.0;
    let (mut sx, mut cx, mut sy, mut cy, mut sxy, mut cxy, mut sx2, mut cx2) =
        (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    let init_y = w[0].v;
    let mut const_y = true;
    for (i, s) in w.iter().enumerate() {
        if const_y && i > 0 && s.v != init_y {
            const_y = false;
        }
        n += 1.0;
        let x = (s.t - intercept_time) as f64 / 1e3;
        (sx, cx) = kahan_inc(x, sx, cx);
        (sy, cy) = kahan_inc(s.v, sy, cy);
        (sxy, cxy) = kahan_inc(x * s.v, sxy, cxy);
        (sx2, cx2) = kahan_inc(x * x, sx2, cx2);
    }
    if const_y {
        if init_y.is_infinite() {
            return (f64::NAN, f64::NAN);
        }
        return (0.0, init_y);
    }
    sx += cx;
    sy += cy;
    sxy += cxy;
    sx2 += cx2;
    let cov_xy = sxy - sx * sy / n;
    let var_x = sx2 - sx * sx / n;
    let slope = cov_xy / var_x;
    (slope, sy / n - slope * sx / n)
}

fn double_exponential_smoothing(w: &[Sample], sf: f64, tf: f64) -> Result<Option<f64>, QueryError> {
    if sf <= 0.0 || sf >= 1.0 {
        return Err(QueryError::exec(format!(
            "invalid smoothing factor. Expected: 0 < sf < 1, got: {sf:.6}"
        )));
    }
    if tf <= 0.0 || tf >= 1.0 {
        return Err(QueryError::exec(format!(
            "invalid trend factor. Expected: 0 < tf < 1, got: {tf:.6}"
        )));
    }
    if w.len() < 2 {
        return Ok(None);
    }
    let trend = |i: usize, s0: f64, s1: f64, b: f64| {
        if i == 0 {
            b
        } else {
            tf * (s1 - s0) + (1.0 - tf) * b
        }
    };
    let mut s0 = 0.0;
    let mut s1 = w[0].v;
    let mut b = w[1].v - w[0].v;
    for (i, s) in w.iter().enumerate().skip(1) {
        let x = sf * s.v;
        b = trend(i - 1, s0, s1, b);
        let y = (1.0 - sf) * (s1 + b);
        s0 = s1;
        s1 = x + y;
    }
    Ok(Some(s1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(start: i64, end: i64) -> WindowCtx<'static> {
        WindowCtx {
            range_start: start,
            range_end: end,
            range_secs: (end - start) as f64 / 1000.0,
            eval_ts: end,
            params: &[],
            no_counter_resets: false,
        }
    }

    #[test]
    fn rate_extrapolates_to_the_window_edges() {
        // Samples every 10s over (0, 60]; a perfect counter of 1/s.
        let w: Vec<Sample> = (1..=6)
            .map(|i| Sample::new(i * 10_000, (i * 10) as f64))
            .collect();
        let r = extrapolated_rate(&w, &ctx(0, 60_000), true, true).expect("two samples");
        // 50 over 50s sampled; extrapolated 10s to the start (limited by the zero point) and 0s to the end.
        assert!((r - 1.0).abs() < 1e-12, "{r}");
        let inc = extrapolated_rate(&w, &ctx(0, 60_000), true, false).expect("two samples");
        assert!((inc - 60.0).abs() < 1e-9, "{inc}");
    }

    #[test]
    fn the_no_reset_shortcut_gives_the_same_bits() {
        let w: Vec<Sample> = (1..=20)
            .map(|i| Sample::new(i * 15_000, 1e9 + (i * i) as f64 * 0.37))
            .collect();
        let mut c = ctx(0, 300_000);
        let scanned = extrapolated_rate(&w, &c, true, true).expect("samples");
        c.no_counter_resets = true;
        let skipped = extrapolated_rate(&w, &c, true, true).expect("samples");
        assert_eq!(scanned.to_bits(), skipped.to_bits());
    }

    #[test]
    fn counter_resets_add_the_previous_value() {
        let w = vec![
            Sample::new(10_000, 5.0),
            Sample::new(20_000, 1.0),
            Sample::new(30_000, 3.0),
        ];
        let inc = extrapolated_rate(&w, &ctx(0, 30_000), true, false).expect("samples");
        // Raw increase 3 - 5 + 5 = 3 over 20s sampled, extrapolated the full 10s to the start
        // (within 1.1 average intervals, and before the extrapolated zero point).
        assert!((inc - 3.0 * 30.0 / 20.0).abs() < 1e-12, "{inc}");
    }

    #[test]
    fn irate_uses_the_last_two_samples() {
        let w = vec![
            Sample::new(0, 1.0),
            Sample::new(10_000, 5.0),
            Sample::new(20_000, 2.0),
        ];
        assert_eq!(instant_value(&w, true), Some(2.0 / 10.0));
        assert_eq!(instant_value(&w, false), Some(-3.0));
        assert_eq!(instant_value(&w[..1], true), None);
    }

    #[test]
    fn deriv_of_a_line_is_its_slope() {
        let w: Vec<Sample> = (0..5)
            .map(|i| Sample::new(i * 1000, 2.0 * i as f64 + 1.0))
            .collect();
        let (slope, intercept) = linear_regression(&w, 0);
        assert!((slope - 2.0).abs() < 1e-12 && (intercept - 1.0).abs() < 1e-12);
    }
}
