//! Function calls over instant vectors and scalars; range-vector functions live in
//! [`crate::rangefns`], classic `histogram_quantile` in [`crate::histogram`].

use promql_parser::parser::{Call, Expr};
use promql_parser::util::raw_byte;
use strata_model::{Labels, LabelsBuilder, MatchOp, METRIC_NAME};

use crate::error::QueryError;
use crate::eval::{Collector, Evaluator, StepSeries, Val};
use crate::mathx::{civil_from_days, days_in_month, is_leap};

/// Unwraps parentheses around an argument.
/// Whether `s` is a valid label name for Prometheus 3 (any non-empty UTF-8): a string
/// literal with bytes that are not UTF-8 (`"\xff"`) is not.
pub(crate) fn valid_label_name(s: &str) -> bool {
    !s.is_empty() && !s.chars().any(|c| raw_byte(c).is_some())
}

/// `s` as Go prints it with `%s`: raw bytes from `\x` escapes as `\xNN`.
pub(crate) fn go_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match raw_byte(c) {
            Some(b) => out.push_str(&format!("\\x{b:02x}")),
            None => out.push(c),
        }
    }
    out
}

/// `s` as Go prints it with `%q`.
pub(crate) fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match (raw_byte(c), c) {
            (Some(b), _) => out.push_str(&format!("\\x{b:02x}")),
            (None, '"') => out.push_str("\\\""),
            (None, '\\') => out.push_str("\\\\"),
            (None, c) if c.is_control() => out.extend(c.escape_debug()),
            (None, c) => out.push(c),
        }
    }
    out.push('"');
    out
}

pub(crate) fn unparen(mut e: &Expr) -> &Expr {
    while let Expr::Paren(p) = e {
        e = &p.expr;
    }
    e
}

pub(crate) fn string_arg(e: &Expr) -> Result<String, QueryError> {
    match unparen(e) {
        Expr::StringLiteral(s) => Ok(s.val.clone()),
        _ => Err(QueryError::exec("expected a string literal argument")),
    }
}

pub(crate) fn eval_call(ev: &Evaluator, c: &Call) -> Result<Val, QueryError> {
    let name = c.func.name;
    let args: Vec<&Expr> = c.args.args.iter().map(|b| b.as_ref()).collect();
    // The parser checks arity; re-check so argument indexing below can never panic.
    let declared = c.func.arg_types.len();
    let min_args = if c.func.variadic == 0 {
        declared
    } else {
        declared.saturating_sub(1)
    };
    if args.len() < min_args {
        return Err(QueryError::BadData(format!(
            "expected at least {min_args} argument(s) in call to {name:?}, got {}",
            args.len()
        )));
    }
    let n = ev.n();
    if crate::rangefns::is_range_function(name) {
        return crate::rangefns::eval_range_function(ev, name, &args);
    }
    if matches!(
        name,
        "sort" | "sort_desc" | "sort_by_label" | "sort_by_label_desc"
    ) && ev.start != ev.end
    {
        ev.warn(c.pos, "PromQL warning: sort is ineffective for range queries since results are always ordered by labels".into());
    }
    match name {
        "time" => Ok(Val::Scalar(
            (0..n).map(|i| ev.ts(i) as f64 / 1000.0).collect(),
        )),
        "pi" => Ok(Val::Scalar(vec![std::f64::consts::PI; n])),
        // Query-context functions fold to the top-level query's parameters.
        "start" => Ok(Val::Scalar(vec![ev.query_start as f64 / 1000.0; n])),
        "end" => Ok(Val::Scalar(vec![ev.query_end as f64 / 1000.0; n])),
        "range" => Ok(Val::Scalar(vec![
            (ev.query_end - ev.query_start) as f64
                / 1000.0;
            n
        ])),
        "step" => Ok(Val::Scalar(vec![ev.query_step as f64 / 1000.0; n])),
        "min_of" | "max_of" => {
            let a = scalar_arg(ev, args[0])?;
            let b = scalar_arg(ev, args[1])?;
            let f = if name == "min_of" { go_min } else { go_max };
            Ok(Val::Scalar(
                a.iter().zip(&b).map(|(x, y)| f(*x, *y)).collect(),
            ))
        }
        "vector" => {
            let s = scalar_arg(ev, args[0])?;
            Ok(Val::Vector(vec![StepSeries {
                labels: Labels::empty(),
                vals: s.into_iter().map(Some).collect(),
                hists: Vec::new(),
                drop_name: false,
            }]))
        }
        "scalar" => {
            let v = vector_arg(ev, args[0])?;
            Ok(Val::Scalar(
                (0..n)
                    .map(|i| {
                        let mut it = v.iter().filter_map(|s| s.vals[i]);
                        match (it.next(), it.next()) {
                            (Some(x), None) => x,
                            _ => f64::NAN,
                        }
                    })
                    .collect(),
            ))
        }
        "timestamp" => {
            if let Expr::VectorSelector(vs) = unparen(args[0]) {
                return timestamp_of_selector(ev, vs);
            }
            let v = vector_arg(ev, args[0])?;
            map_vector(ev, v, true, |i, _| Some(ev.ts(i) as f64 / 1000.0))
        }
        "label_replace" => label_replace(ev, &args),
        "info" => crate::info::eval_info(ev, c, &args),
        "label_join" => label_join(ev, &args),
        "absent" => {
            let v = vector_arg(ev, args[0])?;
            let labels = absent_labels(args[0]);
            let vals = (0..n)
                .map(|i| {
                    if v.iter().any(|s| s.present(i)) {
                        None
                    } else {
                        Some(1.0)
                    }
                })
                .collect::<Vec<_>>();
            let out = StepSeries {
                labels,
                vals,
                hists: Vec::new(),
                drop_name: false,
            };
            Ok(Val::Vector(if out.vals.iter().any(|p| p.is_some()) {
                vec![out]
            } else {
                vec![]
            }))
        }
        "sort" | "sort_desc" => {
            let mut v = vector_arg(ev, args[0])?;
            // Sorting by value leaves native histograms out, as Prometheus.
            for s in v.iter_mut() {
                s.hists.clear();
            }
            v.retain(|s| s.any_present());
            if n == 1 {
                let desc = name == "sort_desc";
                // NaN sorts last in both directions, as Prometheus.
                v.sort_by(|a, b| {
                    let (x, y) = (a.vals[0].unwrap_or(f64::NAN), b.vals[0].unwrap_or(f64::NAN));
                    match (x.is_nan(), y.is_nan()) {
                        (true, true) => std::cmp::Ordering::Equal,
                        (true, false) => std::cmp::Ordering::Greater,
                        (false, true) => std::cmp::Ordering::Less,
                        _ => {
                            let o = x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal);
                            if desc {
                                o.reverse()
                            } else {
                                o
                            }
                        }
                    }
                });
            }
            Ok(Val::Vector(v))
        }
        "sort_by_label" | "sort_by_label_desc" => {
            let mut v = vector_arg(ev, args[0])?;
            let names: Vec<String> = args[1..]
                .iter()
                .map(|a| string_arg(a))
                .collect::<Result<_, _>>()?;
            let desc = name == "sort_by_label_desc";
            v.sort_by(|a, b| {
                for l in &names {
                    let o =
                        natural_cmp(a.labels.get(l).unwrap_or(""), b.labels.get(l).unwrap_or(""));
                    if o != std::cmp::Ordering::Equal {
                        return if desc { o.reverse() } else { o };
                    }
                }
                let o = a.labels.cmp(&b.labels);
                if desc {
                    o.reverse()
                } else {
                    o
                }
            });
            Ok(Val::Vector(v))
        }
        "histogram_quantile" => crate::histogram::histogram_quantile(ev, &args),
        "histogram_quantiles" => crate::histogram::histogram_quantiles(ev, &args),
        "histogram_fraction" => crate::histogram::histogram_fraction(ev, &args),
        "histogram_count" | "histogram_sum" | "histogram_avg" | "histogram_stddev"
        | "histogram_stdvar" => match crate::nh_functions::Stat::of(name) {
            // Native histograms only: float samples are ignored.
            Some(stat) => crate::nh_functions::eval_stat(ev, stat, &args),
            None => Err(QueryError::Internal(format!("no statistic for {name}"))),
        },
        "round" => {
            let v = vector_arg(ev, args[0])?;
            let to = match args.get(1) {
                Some(a) => scalar_arg(ev, a)?,
                None => vec![1.0; n],
            };
            map_vector(ev, v, true, |i, f| {
                let inv = 1.0 / to[i];
                Some((f * inv + 0.5).floor() / inv)
            })
        }
        "clamp" => {
            let v = vector_arg(ev, args[0])?;
            let lo = scalar_arg(ev, args[1])?;
            let hi = scalar_arg(ev, args[2])?;
            map_vector(ev, v, true, |i, f| {
                if hi[i] < lo[i] {
                    None
                } else {
                    Some(go_max(lo[i], go_min(hi[i], f)))
                }
            })
        }
        "clamp_min" => {
            let v = vector_arg(ev, args[0])?;
            let lo = scalar_arg(ev, args[1])?;
            map_vector(ev, v, true, |i, f| Some(go_max(lo[i], f)))
        }
        "clamp_max" => {
            let v = vector_arg(ev, args[0])?;
            let hi = scalar_arg(ev, args[1])?;
            map_vector(ev, v, true, |i, f| Some(go_min(hi[i], f)))
        }
        "days_in_month" | "day_of_month" | "day_of_week" | "day_of_year" | "hour" | "minute"
        | "month" | "year" => {
            let f = date_fn(name);
            match args.first() {
                None => Ok(Val::Vector(vec![StepSeries {
                    labels: Labels::empty(),
                    vals: (0..n).map(|i| Some(f(ev.ts(i).div_euclid(1000)))).collect(),
                    hists: Vec::new(),
                    drop_name: false,
                }])),
                Some(a) => {
                    let v = vector_arg(ev, a)?;
                    map_vector(ev, v, true, |_, x| Some(f(go_f64_to_i64(x))))
                }
            }
        }
        _ => {
            let Some(f) = simple_fn(name) else {
                return Err(QueryError::BadData(format!(
                    "function {name:?} is not supported"
                )));
            };
            let v = vector_arg(ev, args[0])?;
            map_vector(ev, v, true, |_, x| Some(f(x)))
        }
    }
}

/// Go's `math.Max`: NaN wins, +0 beats -0.
fn go_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        return f64::NAN;
    }
    if a == 0.0 && b == 0.0 {
        return if a.is_sign_negative() { b } else { a };
    }
    if a > b {
        a
    } else {
        b
    }
}

/// Go's `math.Min`: NaN wins, -0 beats +0.
fn go_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        return f64::NAN;
    }
    if a == 0.0 && b == 0.0 {
        return if a.is_sign_negative() { a } else { b };
    }
    if a < b {
        a
    } else {
        b
    }
}

/// Go's `int64(f)` on amd64: out-of-range and NaN give the minimum int64.
fn go_f64_to_i64(f: f64) -> i64 {
    if f.is_nan() || !(-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&f) {
        i64::MIN
    } else {
        f as i64
    }
}

fn date_fn(name: &str) -> fn(i64) -> f64 {
    fn parts(secs: i64) -> (i64, u32, u32, i64) {
        let days = secs.div_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        (y, m, d, days)
    }
    match name {
        "days_in_month" => |s| {
            let (y, m, _, _) = parts(s);
            days_in_month(y, m) as f64
        },
        "day_of_month" => |s| parts(s).2 as f64,
        "day_of_week" => |s| (s.div_euclid(86_400) + 4).rem_euclid(7) as f64,
        "day_of_year" => |s| {
            let (y, m, d, _) = parts(s);
            let mut doy = d;
            for mm in 1..m {
                doy += days_in_month(y, mm);
            }
            let _ = is_leap(y);
            doy as f64
        },
        "hour" => |s| (s.rem_euclid(86_400) / 3600) as f64,
        "minute" => |s| (s.rem_euclid(3600) / 60) as f64,
        "month" => |s| parts(s).1 as f64,
        _ => |s| parts(s).0 as f64,
    }
}

fn simple_fn(name: &str) -> Option<fn(f64) -> f64> {
    Some(match name {
        "abs" => f64::abs,
        "ceil" => f64::ceil,
        "floor" => f64::floor,
        "exp" => f64::exp,
        "sqrt" => f64::sqrt,
        "ln" => f64::ln,
        "log2" => f64::log2,
        "log10" => f64::log10,
        "sin" => f64::sin,
        "cos" => f64::cos,
        "tan" => f64::tan,
        "asin" => f64::asin,
        "acos" => f64::acos,
        "atan" => f64::atan,
        "sinh" => f64::sinh,
        "cosh" => f64::cosh,
        "tanh" => f64::tanh,
        "asinh" => f64::asinh,
        "acosh" => f64::acosh,
        "atanh" => f64::atanh,
        "deg" => |x| x * (180.0 / std::f64::consts::PI),
        "rad" => |x| x * (std::f64::consts::PI / 180.0),
        "sgn" => |x| {
            if x < 0.0 {
                -1.0
            } else if x > 0.0 {
                1.0
            } else {
                x
            }
        },
        _ => return None,
    })
}

pub(crate) fn scalar_arg(ev: &Evaluator, e: &Expr) -> Result<Vec<f64>, QueryError> {
    match ev.eval(e)? {
        Val::Scalar(s) => Ok(s),
        _ => Err(QueryError::exec("expected a scalar argument")),
    }
}

pub(crate) fn vector_arg(ev: &Evaluator, e: &Expr) -> Result<Vec<StepSeries>, QueryError> {
    match ev.eval(e)? {
        Val::Vector(v) => Ok(v),
        _ => Err(QueryError::exec("expected an instant vector argument")),
    }
}

/// Applies `f` to every present value; merges series whose labels collide after dropping the name.
fn map_vector(
    ev: &Evaluator,
    v: Vec<StepSeries>,
    drop: bool,
    f: impl Fn(usize, f64) -> Option<f64>,
) -> Result<Val, QueryError> {
    let mut c = Collector::new(ev.n());
    for s in v {
        let mut idx = None;
        for (i, p) in s.vals.iter().enumerate() {
            let Some(x) = *p else { continue };
            if let Some(y) = f(i, x) {
                let id = *idx.get_or_insert_with(|| {
                    let (l, d) = if drop {
                        ev.dropped(&s.labels)
                    } else {
                        (s.labels.clone(), s.drop_name)
                    };
                    c.index_flag(l, d)
                });
                c.set(id, i, y)?;
            }
        }
    }
    Ok(Val::Vector(c.finish()))
}

fn timestamp_of_selector(
    ev: &Evaluator,
    vs: &promql_parser::parser::VectorSelector,
) -> Result<Val, QueryError> {
    let data = ev.selector_series(vs)?;
    let offset = crate::eval::offset_ms(&vs.offset);
    let at = crate::eval::at_ms(&vs.at, ev.query_start, ev.query_end);
    let mut c = Collector::new(ev.n());
    for s in data.iter() {
        let mut idx = None;
        for i in 0..ev.n() {
            let t = ev.ref_time(i, offset, at);
            let k = s.samples.partition_point(|x| x.t <= t);
            let hk = s.hists.partition_point(|x| x.t <= t);
            // The newest sample of either kind; a histogram is never a stale marker here.
            let ft = (k > 0).then(|| s.samples[k - 1]);
            let ht = (hk > 0).then(|| s.hists[hk - 1].t);
            let smp = match (ft, ht) {
                (Some(f), Some(h)) if h > f.t => strata_model::Sample::new(h, 0.0),
                (Some(f), _) => f,
                (None, Some(h)) => strata_model::Sample::new(h, 0.0),
                (None, None) => continue,
            };
            if smp.t <= t - ev.lookback || strata_model::is_stale_nan(smp.v) {
                continue;
            }
            let id = *idx.get_or_insert_with(|| {
                let (l, d) = ev.dropped(&s.labels);
                c.index_flag(l, d)
            });
            c.set(id, i, smp.t as f64 / 1000.0)?;
        }
    }
    Ok(Val::Vector(c.finish()))
}

fn label_replace(ev: &Evaluator, args: &[&Expr]) -> Result<Val, QueryError> {
    let dst = string_arg(args[1])?;
    let repl = string_arg(args[2])?;
    let src = string_arg(args[3])?;
    let re_str = string_arg(args[4])?;
    let re = regex::Regex::new(&format!("^(?s:{re_str})$")).map_err(|_| {
        QueryError::exec(format!(
            "invalid regular expression in label_replace(): {re_str}"
        ))
    })?;
    if !valid_label_name(&dst) {
        return Err(QueryError::exec(format!(
            "invalid destination label name in label_replace(): {}",
            go_string(&dst)
        )));
    }
    let v = vector_arg(ev, args[0])?;
    let mut c = Collector::new(ev.n());
    for s in v {
        let src_val = s.labels.get(&src).unwrap_or("");
        let labels = match re.captures(src_val) {
            Some(caps) => {
                let mut res = String::new();
                caps.expand(&repl, &mut res);
                let mut b: LabelsBuilder = s.labels.builder();
                b.set(&dst, &res);
                b.build()
            }
            None => s.labels.clone(),
        };
        let id = c.index_flag(labels, s.drop_name && dst != METRIC_NAME);
        for (i, p) in s.vals.iter().enumerate() {
            if let Some(x) = p {
                c.set(id, i, *x)?;
            }
        }
    }
    Ok(Val::Vector(c.finish()))
}

fn label_join(ev: &Evaluator, args: &[&Expr]) -> Result<Val, QueryError> {
    let dst = string_arg(args[1])?;
    let sep = string_arg(args[2])?;
    let srcs: Vec<String> = args[3..]
        .iter()
        .map(|a| string_arg(a))
        .collect::<Result<_, _>>()?;
    for s in &srcs {
        if !valid_label_name(s) {
            return Err(QueryError::exec(format!(
                "invalid source label name in label_join(): {}",
                go_string(s)
            )));
        }
    }
    if !valid_label_name(&dst) {
        return Err(QueryError::exec(format!(
            "invalid destination label name in label_join(): {}",
            go_string(&dst)
        )));
    }
    let v = vector_arg(ev, args[0])?;
    let mut c = Collector::new(ev.n());
    for s in v {
        let joined: Vec<&str> = srcs.iter().map(|l| s.labels.get(l).unwrap_or("")).collect();
        let mut b = s.labels.builder();
        b.set(&dst, &joined.join(&sep));
        let id = c.index_flag(b.build(), s.drop_name && dst != METRIC_NAME);
        for (i, p) in s.vals.iter().enumerate() {
            if let Some(x) = p {
                c.set(id, i, *x)?;
            }
        }
    }
    Ok(Val::Vector(c.finish()))
}

/// The labels `absent`/`absent_over_time` report: the selector's equality matchers, except
/// names matched more than once.
pub(crate) fn absent_labels(e: &Expr) -> Labels {
    let vs = match e {
        Expr::VectorSelector(vs) => vs,
        Expr::MatrixSelector(ms) => &ms.vs,
        _ => return Labels::empty(),
    };
    let matchers = crate::plan::selector_matchers(vs).unwrap_or_default();
    let mut b = Labels::empty().builder();
    let mut has: Vec<String> = Vec::new();
    for m in matchers.first().map(|v| v.as_slice()).unwrap_or(&[]) {
        if m.name == METRIC_NAME {
            continue;
        }
        if m.op == MatchOp::Equal && !has.contains(&m.name) {
            b.set(&m.name, &m.value);
            has.push(m.name.clone());
        } else {
            b.del(&m.name);
        }
    }
    b.build()
}

/// Natural ordering of label values (digit runs compared numerically), as `sort_by_label`.
fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let (ab, bb) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < ab.len() && j < bb.len() {
        if ab[i].is_ascii_digit() && bb[j].is_ascii_digit() {
            let si = i;
            while i < ab.len() && ab[i].is_ascii_digit() {
                i += 1;
            }
            let sj = j;
            while j < bb.len() && bb[j].is_ascii_digit() {
                j += 1;
            }
            let na = a[si..i].trim_start_matches('0');
            let nb = b[sj..j].trim_start_matches('0');
            let o = na.len().cmp(&nb.len()).then_with(|| na.cmp(nb));
            if o != Ordering::Equal {
                return o;
            }
        } else {
            if ab[i] != bb[j] {
                return ab[i].cmp(&bb[j]);
            }
            i += 1;
            j += 1;
        }
    }
    (ab.len() - i).cmp(&(bb.len() - j))
}
