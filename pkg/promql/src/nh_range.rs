//! Range-vector functions over windows that hold native histograms (Prometheus's
//! `histogramRate`, `funcSumOverTime`/`funcAvgOverTime` on histograms, `funcChanges`,
//! `funcResets`, ...). [`crate::rangefns`] calls [`window`] for every step whose window holds at
//! least one histogram; windows of floats only never come here.
//!
//! Rules (as Prometheus 3): `rate`/`increase`/`delta`, `sum_over_time` and `avg_over_time`
//! refuse a window mixing floats and histograms (warning); counting functions and
//! `last`/`first_over_time` take both kinds; `changes` and `resets` walk both kinds in time
//! order, a switch of kind counting once; the float-only functions ignore the histograms
//! (with an info annotation when floats remain).

use std::sync::Arc;

use promql_parser::parser::PosRange;
use strata_model::histogram::{CounterResetHint, FloatHistogram, HistogramError};
use strata_model::Sample;

use crate::eval::{Evaluator, HPoint, Hist};
use crate::nh_aggregate::HistMean;

/// A window function's result: a float, a histogram, or nothing.
pub(crate) enum Out {
    None,
    F(f64),
    H(Hist),
    /// Not handled here: evaluate the float samples as usual.
    Floats,
}

/// Where annotations go and what they name.
pub(crate) struct Ctx<'a> {
    pub ev: &'a Evaluator<'a>,
    pub metric: &'a str,
    pub pos: PosRange,
    pub range_start: i64,
    pub range_end: i64,
    pub range_secs: f64,
}

impl Ctx<'_> {
    fn warn(&self, msg: String) {
        self.ev.warn(self.pos, format!("PromQL warning: {msg}"));
    }
    fn info(&self, msg: String) {
        self.ev.info(self.pos, format!("PromQL info: {msg}"));
    }
    fn mixed(&self) {
        self.warn(format!(
            "encountered a mix of histograms and floats for metric name {:?}",
            self.metric
        ));
    }
    fn mixed_schemas(&self) {
        self.warn(format!(
            "vector contains a mix of histograms with exponential and custom buckets schemas for metric name {:?}",
            self.metric
        ));
    }
    fn on_error(&self, e: &HistogramError) {
        if matches!(e, HistogramError::IncompatibleSchema) {
            self.mixed_schemas();
        }
    }
}

/// Evaluates `name` over a window with floats `f` and histograms `h` (`h` not empty).
pub(crate) fn window(name: &str, f: &[Sample], h: &[HPoint], c: &Ctx) -> Out {
    match name {
        "rate" | "increase" | "delta" => {
            if !f.is_empty() {
                c.mixed();
                return Out::None;
            }
            rate(h, c, name != "delta", name == "rate")
        }
        "sum_over_time" | "avg_over_time" => {
            if !f.is_empty() {
                c.mixed();
                return Out::None;
            }
            sum_or_avg(h, c, name == "avg_over_time")
        }
        "count_over_time" => Out::F((f.len() + h.len()) as f64),
        "present_over_time" | "absent_over_time" => Out::F(1.0),
        "last_over_time" => match (f.last(), h.last()) {
            (Some(x), Some(y)) if x.t > y.t => Out::F(x.v),
            (_, Some(y)) => Out::H(y.h.clone()),
            (Some(x), None) => Out::F(x.v),
            (None, None) => Out::None,
        },
        "first_over_time" => match (f.first(), h.first()) {
            (Some(x), Some(y)) if x.t < y.t => Out::F(x.v),
            (_, Some(y)) => Out::H(y.h.clone()),
            (Some(x), None) => Out::F(x.v),
            (None, None) => Out::None,
        },
        "ts_of_last_over_time" => {
            let t = f
                .last()
                .map(|x| x.t)
                .unwrap_or(i64::MIN)
                .max(h[h.len() - 1].t);
            Out::F(t as f64 / 1000.0)
        }
        "ts_of_first_over_time" => {
            let t = f.first().map(|x| x.t).unwrap_or(i64::MAX).min(h[0].t);
            Out::F(t as f64 / 1000.0)
        }
        "changes" | "resets" => Out::F(changes_or_resets(f, h, name == "resets")),
        "irate" | "idelta" => instant(f, h, c, name == "irate"),
        _ => {
            if f.is_empty() {
                Out::None
            } else {
                c.info(format!(
                    "ignored histograms in a range containing both floats and histograms for metric name {:?}",
                    c.metric
                ));
                Out::Floats
            }
        }
    }
}

fn changes_or_resets(f: &[Sample], h: &[HPoint], resets: bool) -> f64 {
    enum P<'a> {
        F(f64),
        H(&'a FloatHistogram),
    }
    let (mut i, mut j) = (0, 0);
    let mut prev: Option<P> = None;
    let mut n = 0;
    while i < f.len() || j < h.len() {
        let cur = if j >= h.len() || (i < f.len() && f[i].t < h[j].t) {
            i += 1;
            P::F(f[i - 1].v)
        } else {
            j += 1;
            P::H(&h[j - 1].h)
        };
        if let Some(p) = &prev {
            let hit = match (p, &cur) {
                (P::F(a), P::F(b)) => {
                    if resets {
                        b < a
                    } else {
                        b != a && !(a.is_nan() && b.is_nan())
                    }
                }
                (P::H(a), P::H(b)) => {
                    if resets {
                        b.detect_reset(a)
                    } else {
                        !b.equals(a)
                    }
                }
                _ => true,
            };
            n += usize::from(hit);
        }
        prev = Some(cur);
    }
    n as f64
}

/// `histogramRate`: the increase between the first and last histogram, counter resets added back.
fn rate(h: &[HPoint], c: &Ctx, is_counter: bool, is_rate: bool) -> Out {
    if h.len() < 2 {
        return Out::None;
    }
    let first = &h[0].h;
    let last = &h[h.len() - 1].h;
    let gauge = |x: &FloatHistogram| x.counter_reset_hint == CounterResetHint::Gauge;
    let not_counter = || {
        c.warn(format!(
            "this native histogram metric is not a counter: {:?}",
            c.metric
        ))
    };
    if is_counter && (gauge(first) || gauge(last)) {
        not_counter();
    }
    let empty;
    let mut prev: &FloatHistogram = first;
    let mut custom = first.uses_custom_buckets();
    if is_counter && h[1].h.detect_reset(first) {
        empty = FloatHistogram {
            schema: h[1].h.schema,
            custom_values: h[1].h.custom_values.clone(),
            ..Default::default()
        };
        prev = &empty;
        custom = h[1].h.uses_custom_buckets();
    }
    if last.uses_custom_buckets() != custom {
        c.mixed_schemas();
        return Out::None;
    }
    let mut min_schema = last.schema.min(prev.schema);
    for p in &h[1..h.len() - 1] {
        if !is_counter {
            continue;
        }
        if gauge(&p.h) {
            not_counter();
        }
        min_schema = min_schema.min(p.h.schema);
        if p.h.uses_custom_buckets() != custom {
            c.mixed_schemas();
            return Out::None;
        }
    }
    let mut res = FloatHistogram::clone(last);
    if res.schema > min_schema
        && !res.uses_custom_buckets()
        && res.reduce_resolution(min_schema).is_err()
    {
        return Out::None;
    }
    match res.sub(prev) {
        Err(e) => {
            c.on_error(&e);
            return Out::None;
        }
        Ok(info) if info.nhcb_bounds_reconciled => {
            c.info("mismatched custom buckets were reconciled during subtraction".into())
        }
        Ok(_) => {}
    }
    if is_counter {
        for p in &h[1..] {
            if p.h.detect_reset(prev) {
                match res.add(prev) {
                    Err(e) => {
                        c.on_error(&e);
                        return Out::None;
                    }
                    Ok(info) if info.nhcb_bounds_reconciled => {
                        c.info("mismatched custom buckets were reconciled during addition".into())
                    }
                    Ok(_) => {}
                }
            }
            prev = &p.h;
        }
    } else if !gauge(first) || !gauge(last) {
        c.warn(format!(
            "this native histogram metric is not a gauge: {:?}",
            c.metric
        ));
    }
    res.counter_reset_hint = CounterResetHint::Gauge;
    res.compact(0);

    // Extrapolation, as for floats.
    let (first_t, last_t) = (h[0].t, h[h.len() - 1].t);
    let mut to_start = (first_t - c.range_start) as f64 / 1000.0;
    let mut to_end = (c.range_end - last_t) as f64 / 1000.0;
    let sampled = (last_t - first_t) as f64 / 1000.0;
    let avg = sampled / (h.len() - 1) as f64;
    let threshold = avg * 1.1;
    if to_start >= threshold {
        to_start = avg / 2.0;
    }
    if is_counter && res.count > 0.0 && h[0].h.count >= 0.0 {
        let to_zero = sampled * (h[0].h.count / res.count);
        if to_zero < to_start {
            to_start = to_zero;
        }
    }
    if to_end >= threshold {
        to_end = avg / 2.0;
    }
    let mut factor = if sampled != 0.0 {
        (sampled + to_start + to_end) / sampled
    } else {
        1.0
    };
    if is_rate {
        factor /= c.range_secs;
    }
    res.mul(factor);
    Out::H(Arc::new(res))
}

/// `irate`/`idelta` over the last two samples (Prometheus's `instantValue`): both must be
/// histograms here, a float among them is a mix.
fn instant(f: &[Sample], h: &[HPoint], c: &Ctx, is_rate: bool) -> Out {
    if f.len() + h.len() < 2 {
        return Out::None;
    }
    // The last two samples of either kind, oldest first: None stands for a float.
    let mut last: Vec<(i64, Option<&HPoint>)> = f[f.len().saturating_sub(2)..]
        .iter()
        .map(|x| (x.t, None))
        .collect();
    for p in &h[h.len().saturating_sub(2)..] {
        match last.len() {
            0 => last.push((p.t, Some(p))),
            1 => {
                if p.t < last[0].0 {
                    last.insert(0, (p.t, Some(p)));
                } else {
                    last.push((p.t, Some(p)));
                }
            }
            _ if p.t < last[0].0 => {}
            _ if p.t > last[1].0 => {
                last[0] = last[1];
                last[1] = (p.t, Some(p));
            }
            _ => last[0] = (p.t, Some(p)),
        }
    }
    let dt = last[1].0 - last[0].0;
    if dt == 0 {
        return Out::None;
    }
    let (Some(p), Some(l)) = (last[0].1, last[1].1) else {
        if last[0].1.is_none() && last[1].1.is_none() {
            // Two floats: the float path computes it.
            return Out::Floats;
        }
        c.mixed();
        return Out::None;
    };
    let gauge = |x: &FloatHistogram| x.counter_reset_hint == CounterResetHint::Gauge;
    if is_rate && (gauge(&l.h) || gauge(&p.h)) {
        c.warn(format!(
            "this native histogram metric is not a counter: {:?}",
            c.metric
        ));
    }
    if !is_rate && (!gauge(&l.h) || !gauge(&p.h)) {
        c.warn(format!(
            "this native histogram metric is not a gauge: {:?}",
            c.metric
        ));
    }
    let mut res = FloatHistogram::clone(&l.h);
    if !is_rate || !l.h.detect_reset(&p.h) {
        match res.sub(&p.h) {
            Err(HistogramError::IncompatibleSchema) => {
                c.mixed_schemas();
                return Out::None;
            }
            Err(_) => return Out::None,
            Ok(info) if info.nhcb_bounds_reconciled => {
                c.info("mismatched custom buckets were reconciled during subtraction".into())
            }
            Ok(_) => {}
        }
    }
    res.counter_reset_hint = CounterResetHint::Gauge;
    res.compact(0);
    if is_rate {
        res.div(dt as f64 / 1000.0);
    }
    Out::H(Arc::new(res))
}

/// `sum_over_time` / `avg_over_time` of histograms (Kahan-compensated; the mean switches to
/// incremental computation when the sum would overflow).
fn sum_or_avg(h: &[HPoint], c: &Ctx, avg: bool) -> Out {
    let (mut reset_seen, mut not_reset_seen, mut reconciled) = (false, false, false);
    let mut track = |x: &FloatHistogram| match x.counter_reset_hint {
        CounterResetHint::CounterReset => reset_seen = true,
        CounterResetHint::NotCounterReset => not_reset_seen = true,
        _ => {}
    };
    for p in h {
        track(&p.h);
    }
    let result = if avg {
        let mut m = HistMean::new(&h[0].h);
        let mut r = Ok(());
        for p in &h[1..] {
            match m.add(&p.h) {
                Ok(x) => reconciled |= x,
                Err(e) => {
                    r = Err(e);
                    break;
                }
            }
        }
        r.and_then(|_| m.finish())
    } else {
        let mut sum = FloatHistogram::clone(&h[0].h);
        let mut comp: Option<FloatHistogram> = None;
        let mut r = Ok(());
        for p in &h[1..] {
            match sum.kahan_add(&p.h, comp.take()) {
                Ok((cc, info)) => {
                    reconciled |= info.nhcb_bounds_reconciled;
                    comp = Some(cc);
                }
                Err(e) => {
                    r = Err(e);
                    break;
                }
            }
        }
        r.and_then(|_| match comp {
            Some(cc) => sum.add(&cc).map(|_| sum),
            None => Ok(sum),
        })
        .map(|mut s| {
            s.compact(0);
            s
        })
    };
    if reset_seen && not_reset_seen {
        c.warn("conflicting counter resets during histogram aggregation".into());
    }
    if reconciled {
        c.info("mismatched custom buckets were reconciled during aggregation".into());
    }
    match result {
        Ok(s) => Out::H(Arc::new(s)),
        Err(e) => {
            c.on_error(&e);
            Out::None
        }
    }
}
