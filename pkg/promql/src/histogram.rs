//! `histogram_quantile` over classic histograms (series with an `le` label).

use std::collections::HashMap;

use promql_parser::parser::{Expr, PosRange};
use strata_model::histogram::FloatHistogram;
use strata_model::Labels;

use crate::error::QueryError;
use crate::eval::{Collector, Evaluator, LabelsMap, StepSeries, Val};
use crate::functions::{scalar_arg, vector_arg};
use crate::mathx::{
    bucket_fraction, bucket_quantile, fmt_g, fmt_g_prec, format_openmetrics_float, rfc3339, Bucket,
};
use crate::nh_functions::{
    histogram_fraction as histogram_fraction_native,
    histogram_quantile as histogram_quantile_native, NativeAnnos,
};

const BUCKET_LABEL: &str = "le";

pub(crate) fn histogram_quantile(ev: &Evaluator, args: &[&Expr]) -> Result<Val, QueryError> {
    let qs = scalar_arg(ev, args[0])?;
    let input = vector_arg(ev, args[1])?;
    let pos = QuantilePos {
        quantile: args[0].pos(),
        input: args[1].pos(),
        monotonicity: args[1].pos(),
    };
    quantile_over_buckets(ev, &input, &qs, None, pos)
}

/// `histogram_quantiles(v, "label", q1, q2, ...)`: one output series per quantile, labelled.
pub(crate) fn histogram_quantiles(ev: &Evaluator, args: &[&Expr]) -> Result<Val, QueryError> {
    let input = vector_arg(ev, args[0])?;
    let label = crate::functions::string_arg(args[1])?;
    let mut c = Collector::new(ev.n());
    for a in &args[2..] {
        let qs = scalar_arg(ev, a)?;
        let pos = QuantilePos {
            quantile: a.pos(),
            input: args[0].pos(),
            monotonicity: args[0].pos(),
        };
        let Val::Vector(out) = quantile_over_buckets(ev, &input, &qs, Some(&label), pos)? else {
            continue;
        };
        for s in out {
            let id = c.index_flag(s.labels, s.drop_name);
            for (i, p) in s.vals.iter().enumerate() {
                if let Some(v) = p {
                    c.set(id, i, *v)?;
                }
            }
        }
    }
    Ok(Val::Vector(c.finish()))
}

/// Where the annotations of a bucket quantile point (Prometheus picks a different argument
/// for each function and annotation).
struct QuantilePos {
    quantile: PosRange,
    input: PosRange,
    monotonicity: PosRange,
}

fn quantile_over_buckets(
    ev: &Evaluator,
    input: &[StepSeries],
    qs: &[f64],
    label: Option<&str>,
    pos: QuantilePos,
) -> Result<Val, QueryError> {
    let mut warned_q = false;
    for &q in qs {
        if (q.is_nan() || !(0.0..=1.0).contains(&q)) && !warned_q {
            warned_q = true;
            ev.warn(
                pos.quantile,
                format!(
                    "PromQL warning: quantile value should be between 0 and 1, got {}",
                    fmt_g(q)
                ),
            );
        }
    }
    // Forced-monotonicity details, merged over all steps as Prometheus merges the annotation.
    let mut forced: Vec<(String, Forced)> = Vec::new();
    let quantile_label = label.map(|l| {
        (
            l,
            format_openmetrics_float(qs.first().copied().unwrap_or(f64::NAN)),
        )
    });
    let native_q = |i: usize, name: &str, h: &FloatHistogram| {
        let a = NativeAnnos {
            ev,
            metric: name,
            pos: pos.input,
        };
        histogram_quantile_native(qs[i], h, &a)
    };
    let out = classic_buckets(
        ev,
        input,
        pos.input,
        quantile_label,
        native_q,
        |i, name, buckets| {
            let q = qs[i];
            let (v, fix) = bucket_quantile(q, buckets);
            if fix.forced_monotonic {
                let ts = ev.ts(i);
                match forced.iter_mut().find(|(n, _)| n == name) {
                    None => forced.push((
                        name.to_string(),
                        (ts, ts, fix.min_bucket, fix.max_bucket, fix.max_diff, 0),
                    )),
                    Some((_, (a, b, mn, mx, d, cnt))) => {
                        *a = (*a).min(ts);
                        *b = (*b).max(ts);
                        *mn = mn.min(fix.min_bucket);
                        *mx = mx.max(fix.max_bucket);
                        *d = d.max(fix.max_diff);
                        *cnt += 1;
                    }
                }
            }
            v
        },
    )?;
    for (name, (min_ts, max_ts, min_b, max_b, diff, cnt)) in forced {
        ev.info(pos.monotonicity, format!(
            "PromQL info: input to histogram_quantile needed to be fixed for monotonicity (see https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile){}, from buckets {} to {}, with a max diff of {}, over {} samples from {} to {}",
            for_metric_name(&name),
            fmt_g(min_b),
            fmt_g(max_b),
            fmt_g_prec(diff, 2),
            cnt + 1,
            rfc3339(min_ts.div_euclid(1000)),
            rfc3339(max_ts.div_euclid(1000)),
        ));
    }
    Ok(out)
}

pub(crate) fn histogram_fraction(ev: &Evaluator, args: &[&Expr]) -> Result<Val, QueryError> {
    let lo = scalar_arg(ev, args[0])?;
    let hi = scalar_arg(ev, args[1])?;
    let input = vector_arg(ev, args[2])?;
    let pos = args[2].pos();
    let native = |i: usize, name: &str, h: &FloatHistogram| {
        let a = NativeAnnos {
            ev,
            metric: name,
            pos,
        };
        histogram_fraction_native(lo[i], hi[i], h, &a)
    };
    classic_buckets(ev, &input, pos, None, native, |i, _, buckets| {
        bucket_fraction(lo[i], hi[i], buckets)
    })
}

/// Groups classic bucket series (by labels without `le`) and computes `f` over each group's
/// buckets at each step; the result drops `le` and the metric name. Native histogram samples
/// go through `native` instead (with the metric name when names are kept, for annotations);
/// a native histogram with the labels of a classic group at the same step voids both, with a
/// warning, as in Prometheus.
fn classic_buckets(
    ev: &Evaluator,
    input: &[StepSeries],
    input_pos: PosRange,
    extra_label: Option<(&str, String)>,
    mut native: impl FnMut(usize, &str, &FloatHistogram) -> f64,
    mut f: impl FnMut(usize, &str, &mut Vec<Bucket>) -> f64,
) -> Result<Val, QueryError> {
    let n = ev.n();
    let mut group_index: LabelsMap<usize> = LabelsMap::default();
    let mut group_labels: Vec<Labels> = Vec::new();
    let mut series_group: Vec<Option<(usize, f64)>> = Vec::with_capacity(input.len());
    let mut bad_le: Vec<(String, String)> = Vec::new();
    let mut group_names: Vec<String> = Vec::new();
    let has_native = input.iter().any(|s| !s.hists.is_empty());
    let mut native_idx: HashMap<usize, usize> = HashMap::new();
    for s in input {
        if s.vals.iter().all(|v| v.is_none()) {
            // Only native histograms: no classic bucket, and no `le` to complain about.
            series_group.push(None);
            continue;
        }
        let le = s.labels.get(BUCKET_LABEL).unwrap_or("");
        match parse_go_float(le) {
            Some(upper) => {
                let key = s.labels.without(&[BUCKET_LABEL]);
                let next = group_labels.len();
                let id = *group_index.entry(key).or_insert_with(|| {
                    let mut l = if ev.delayed {
                        s.labels.without(&[BUCKET_LABEL])
                    } else {
                        s.labels.without(&[BUCKET_LABEL, strata_model::METRIC_NAME])
                    };
                    if let Some((name, value)) = &extra_label {
                        let mut b = l.builder();
                        b.set(name, value);
                        l = b.build();
                    }
                    group_labels.push(l);
                    group_names.push(if ev.delayed {
                        s.labels.metric_name().unwrap_or("").to_string()
                    } else {
                        String::new()
                    });
                    next
                });
                series_group.push(Some((id, upper)));
            }
            None => {
                series_group.push(None);
                let name = if ev.delayed {
                    s.labels.metric_name().unwrap_or("").to_string()
                } else {
                    String::new()
                };
                if !bad_le.iter().any(|(b, n)| b == le && *n == name) {
                    bad_le.push((le.to_string(), name));
                }
            }
        }
    }
    for (le, name) in bad_le {
        ev.warn(
            input_pos,
            format!(
            "PromQL warning: bucket label \"le\" is missing or has a malformed value of {le:?}{}",
            for_metric_name(&name)
        ),
        );
    }
    let mut c = Collector::new(n);
    let mut out_idx: Vec<Option<usize>> = vec![None; group_labels.len()];
    let mut buckets: Vec<Vec<Bucket>> = vec![Vec::new(); group_labels.len()];
    for i in 0..n {
        if !input.iter().any(|s| s.present(i)) {
            continue;
        }
        for b in buckets.iter_mut() {
            b.clear();
        }
        for (si, s) in input.iter().enumerate() {
            if let (Some(v), Some((g, upper))) = (s.vals[i], series_group[si]) {
                buckets[g].push(Bucket { upper, count: v });
            }
        }
        if has_native {
            for (si, s) in input.iter().enumerate() {
                let Some(h) = s.h(i) else { continue };
                let name = if ev.delayed {
                    s.labels.metric_name().unwrap_or("")
                } else {
                    ""
                };
                if let Some(&g) = group_index.get(&s.labels) {
                    if !buckets[g].is_empty() {
                        ev.warn(
                            input_pos,
                            format!(
                                "PromQL warning: vector contains a mix of classic and native histograms{}",
                                for_metric_name(name)
                            ),
                        );
                        buckets[g].clear();
                        continue;
                    }
                }
                let v = native(i, name, h);
                let id = *native_idx.entry(si).or_insert_with(|| {
                    let (mut l, d) = ev.dropped(&s.labels);
                    if let Some((name, value)) = &extra_label {
                        let mut b = l.builder();
                        b.set(name, value);
                        l = b.build();
                    }
                    c.index_flag(l, d)
                });
                c.set(id, i, v)?;
            }
        }
        for g in 0..buckets.len() {
            if buckets[g].is_empty() {
                continue;
            }
            let v = f(i, &group_names[g], &mut buckets[g]);
            let id = *out_idx[g].get_or_insert_with(|| c.index_flag(group_labels[g].clone(), true));
            c.set(id, i, v)?;
        }
    }
    Ok(Val::Vector(c.finish()))
}

/// Go's `strconv.ParseFloat` for the forms bucket bounds use (decimal, exponent, ±Inf, NaN).
pub(crate) fn parse_go_float(s: &str) -> Option<f64> {
    if s.is_empty() || s.contains('_') {
        return None;
    }
    let lower = s.to_ascii_lowercase();
    let body = lower.trim_start_matches(['+', '-']);
    if body == "inf" || body == "infinity" {
        return Some(if lower.starts_with('-') {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        });
    }
    if body == "nan" {
        return Some(f64::NAN);
    }
    s.parse::<f64>().ok()
}

/// Merged forced-monotonicity details: min/max time, min/max bucket, max diff, merge count.
type Forced = (i64, i64, f64, f64, f64, usize);

/// Prometheus's `maybeAddMetricName` suffix.
fn for_metric_name(name: &str) -> String {
    if name.is_empty() {
        String::new()
    } else {
        format!(" for metric name {name:?}")
    }
}
