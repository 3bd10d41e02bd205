//! Functions over native histogram samples: `histogram_count`, `histogram_sum`,
//! `histogram_avg`, `histogram_stddev`, `histogram_stdvar`, and the native halves of
//! `histogram_quantile`, `histogram_quantiles` and `histogram_fraction` (Prometheus's
//! `HistogramQuantile` / `HistogramFraction` in `quantile.go`), whose classic halves live in
//! [`crate::histogram`].
//!
//! Exponential buckets interpolate on a log scale, custom (NHCB) buckets and the zero bucket
//! linearly; a histogram whose sum is NaN holds NaN observations, which the quantile and fraction
//! estimates note in info annotations.

use promql_parser::parser::{Expr, PosRange};
use strata_model::histogram::{Bucket, FloatHistogram};

use crate::error::QueryError;
use crate::eval::{Collector, Evaluator, Val};
use crate::functions::vector_arg;
use crate::mathx::kahan_inc;

/// Which single-histogram statistic to compute.
#[derive(Clone, Copy)]
pub(crate) enum Stat {
    Count,
    Sum,
    Avg,
    Stddev,
    Stdvar,
}

impl Stat {
    pub(crate) fn of(name: &str) -> Option<Stat> {
        Some(match name {
            "histogram_count" => Stat::Count,
            "histogram_sum" => Stat::Sum,
            "histogram_avg" => Stat::Avg,
            "histogram_stddev" => Stat::Stddev,
            "histogram_stdvar" => Stat::Stdvar,
            _ => return None,
        })
    }

    fn apply(self, h: &FloatHistogram) -> f64 {
        match self {
            Stat::Count => h.count,
            Stat::Sum => h.sum,
            Stat::Avg => h.sum / h.count,
            Stat::Stdvar => variance(h),
            Stat::Stddev => variance(h).sqrt(),
        }
    }
}

/// `histogram_count(v)` and friends: one float per histogram sample; float samples are dropped.
pub(crate) fn eval_stat(ev: &Evaluator, stat: Stat, args: &[&Expr]) -> Result<Val, QueryError> {
    let input = vector_arg(ev, args[0])?;
    let mut c = Collector::new(ev.n());
    for s in &input {
        if s.hists.iter().all(|h| h.is_none()) {
            continue;
        }
        let (l, d) = ev.dropped(&s.labels);
        let id = c.index_flag(l, d);
        for (i, h) in s.hists.iter().enumerate() {
            if let Some(h) = h {
                c.set(id, i, stat.apply(h))?;
            }
        }
    }
    Ok(Val::Vector(c.finish()))
}

/// The variance of the observations, each bucket represented by its (geometric, for
/// exponential buckets) mean, as Prometheus's `histogramVariance`.
fn variance(h: &FloatHistogram) -> f64 {
    let mean = h.sum / h.count;
    let (mut v, mut c) = (0.0, 0.0);
    for b in h.all_buckets_iter() {
        if b.count == 0.0 {
            continue;
        }
        let val = if h.uses_custom_buckets() {
            (b.upper + b.lower) / 2.0
        } else if b.lower <= 0.0 && b.upper >= 0.0 {
            0.0
        } else {
            let g = (b.upper * b.lower).sqrt();
            if b.upper < 0.0 {
                -g
            } else {
                g
            }
        };
        let delta = val - mean;
        (v, c) = kahan_inc(b.count * delta * delta, v, c);
    }
    (v + c) / h.count
}

/// Annotations a native estimate may raise, with the metric name (empty unless names are
/// kept) and where they point.
pub(crate) struct NativeAnnos<'a> {
    pub ev: &'a Evaluator<'a>,
    pub metric: &'a str,
    pub pos: PosRange,
}

impl NativeAnnos<'_> {
    fn info(&self, what: &str) {
        let suffix = if self.metric.is_empty() {
            String::new()
        } else {
            format!(" for metric name {:?}", self.metric)
        };
        self.ev
            .info(self.pos, format!("PromQL info: input to {what}{suffix}"));
    }
}

/// The `q`-quantile of the observations in `h` (Prometheus's `HistogramQuantile`).
pub(crate) fn histogram_quantile(q: f64, h: &FloatHistogram, a: &NativeAnnos) -> f64 {
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    if h.count == 0.0 || q.is_nan() {
        return f64::NAN;
    }
    let forward = h.sum.is_nan() || q < 0.5;
    let mut it: Box<dyn Iterator<Item = Bucket<f64>>> = if forward {
        Box::new(h.all_buckets_iter())
    } else {
        Box::new(h.all_reverse_buckets_iter())
    };
    let mut rank = if forward {
        q * h.count
    } else {
        (1.0 - q) * h.count
    };
    let mut count = 0.0;
    let mut bucket: Option<Bucket<f64>> = None;
    for b in it.by_ref() {
        if b.count == 0.0 {
            continue;
        }
        count += b.count;
        bucket = Some(b);
        if count >= rank {
            break;
        }
    }
    let Some(mut b) = bucket else {
        // No populated bucket: Prometheus's zero-valued bucket.
        return if h.sum.is_nan() {
            a.info("histogram_quantile has NaN observations, result is NaN");
            f64::NAN
        } else {
            0.0
        };
    };
    if !h.uses_custom_buckets() && b.lower < 0.0 && b.upper > 0.0 {
        if h.negative_buckets.is_empty() && !h.positive_buckets.is_empty() {
            b.lower = 0.0;
        } else if h.positive_buckets.is_empty() && !h.negative_buckets.is_empty() {
            b.upper = 0.0;
        }
    } else if h.uses_custom_buckets() {
        if b.lower == f64::NEG_INFINITY {
            if b.upper <= 0.0 {
                return b.upper;
            }
            b.lower = 0.0;
        } else if b.upper == f64::INFINITY {
            return b.lower;
        }
    }
    if count > h.count {
        count = h.count;
    }
    if count < rank {
        if h.sum.is_nan() {
            a.info("histogram_quantile has NaN observations, result is NaN");
            return f64::NAN;
        }
        return b.upper;
    }
    if forward {
        rank -= count - b.count;
    } else {
        rank = count - rank;
    }
    if h.sum.is_nan() {
        for rest in it {
            count += rest.count;
        }
        if count < h.count {
            a.info("histogram_quantile has NaN observations, result is skewed higher");
        }
    }
    let fraction = rank / b.count;
    if h.uses_custom_buckets() || (b.lower <= 0.0 && b.upper >= 0.0) {
        return b.lower + (b.upper - b.lower) * fraction;
    }
    let log_lower = b.lower.abs().log2();
    let log_upper = b.upper.abs().log2();
    if b.lower > 0.0 {
        (log_lower + (log_upper - log_lower) * fraction).exp2()
    } else {
        -(log_upper + (log_lower - log_upper) * (1.0 - fraction)).exp2()
    }
}

/// The fraction of `b`'s width at or below `v` (strictly inside the bucket), linear or on a
/// log scale (Prometheus's `Bucket.FractionBelow`).
fn fraction_below(b: &Bucket<f64>, v: f64, linear: bool) -> f64 {
    if linear {
        return (v - b.lower) / (b.upper - b.lower);
    }
    let log_lower = b.lower.abs().log2();
    let log_upper = b.upper.abs().log2();
    let log_v = v.abs().log2();
    if v > 0.0 {
        (log_v - log_lower) / (log_upper - log_lower)
    } else {
        1.0 - ((log_v - log_upper) / (log_lower - log_upper))
    }
}

/// The estimated fraction of observations in `[lower, upper]` (Prometheus's `HistogramFraction`).
pub(crate) fn histogram_fraction(
    lower: f64,
    upper: f64,
    h: &FloatHistogram,
    a: &NativeAnnos,
) -> f64 {
    if h.count == 0.0 || lower.is_nan() || upper.is_nan() {
        return f64::NAN;
    }
    if lower >= upper {
        return 0.0;
    }
    let (mut count, mut rank, mut lower_rank, mut upper_rank) = (0.0, 0.0, 0.0, 0.0);
    let (mut lower_set, mut upper_set) = (false, false);
    let mut it = h.all_buckets_iter();
    for mut b in it.by_ref() {
        count += b.count;
        let mut zero_bucket = false;
        if b.lower <= 0.0 && b.upper >= 0.0 {
            zero_bucket = true;
            if h.negative_buckets.is_empty() && !h.positive_buckets.is_empty() {
                b.lower = 0.0;
            } else if h.positive_buckets.is_empty() && !h.negative_buckets.is_empty() {
                b.upper = 0.0;
            }
        }
        let linear = h.uses_custom_buckets() || zero_bucket;
        let interpolate = |v: f64| {
            if linear && b.lower == f64::NEG_INFINITY {
                b.count
            } else {
                rank + b.count * fraction_below(&b, v, linear)
            }
        };
        if !lower_set && b.lower >= lower {
            lower_rank = rank;
            lower_set = true;
        }
        if !upper_set && b.lower >= upper {
            upper_rank = rank;
            upper_set = true;
        }
        if lower_set && upper_set {
            break;
        }
        if !lower_set && b.lower < lower && b.upper > lower {
            lower_rank = interpolate(lower);
            lower_set = true;
        }
        if !upper_set && b.lower < upper && b.upper > upper {
            upper_rank = interpolate(upper);
            upper_set = true;
        }
        if lower_set && upper_set {
            break;
        }
        rank += b.count;
    }
    if h.sum.is_nan() {
        for b in it {
            count += b.count;
        }
        if count < h.count {
            a.info(
                "histogram_fraction has NaN observations, which are excluded from all fractions",
            );
        }
    } else {
        count = h.count;
    }
    if !lower_set || lower_rank > count {
        lower_rank = count;
    }
    if !upper_set || upper_rank > count {
        upper_rank = count;
    }
    (upper_rank - lower_rank) / h.count
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata_model::histogram::Span;

    fn exp_hist() -> FloatHistogram {
        // Schema 0: buckets (0.5,1]:1, (1,2]:2, (2,4]:1.
        FloatHistogram {
            count: 4.0,
            sum: 6.0,
            positive_spans: vec![Span::new(0, 3)],
            positive_buckets: vec![1.0, 2.0, 1.0],
            ..Default::default()
        }
    }

    #[test]
    fn quantile_interpolates_exponentially() {
        let h = exp_hist();
        // Rank 2 of 4 is the middle of bucket (1,2]: 2^(0 + 1*0.5) = sqrt(2).
        assert!((quantile_plain(0.5, &h) - 2f64.sqrt()).abs() < 1e-12);
        assert_eq!(quantile_plain(1.5, &h), f64::INFINITY);
        assert!(quantile_plain(f64::NAN, &h).is_nan());
    }

    fn quantile_plain(q: f64, h: &FloatHistogram) -> f64 {
        // The quantile without annotations: only NaN sums annotate, and these have none.
        assert!(!h.sum.is_nan());
        let mut out = f64::NAN;
        with_annos(|a| out = histogram_quantile(q, h, a));
        out
    }

    fn with_annos(f: impl FnOnce(&NativeAnnos)) {
        let annos = std::cell::RefCell::new(crate::eval::Annotations::default());
        let data = crate::eval::SelectorData::new();
        let ev = crate::eval::tests_support::evaluator(&data, &annos);
        f(&NativeAnnos {
            ev: &ev,
            metric: "",
            pos: PosRange::default(),
        });
    }

    #[test]
    fn fraction_covers_whole_and_partial_buckets() {
        let h = exp_hist();
        let mut all = 0.0;
        let mut half = 0.0;
        with_annos(|a| {
            all = histogram_fraction(0.0, 4.0, &h, a);
            half = histogram_fraction(1.0, 2.0, &h, a);
        });
        assert!((all - 1.0).abs() < 1e-12);
        assert!((half - 0.5).abs() < 1e-12);
    }

    #[test]
    fn variance_uses_geometric_bucket_means() {
        let h = FloatHistogram {
            count: 2.0,
            sum: 2.0 * 2f64.sqrt(),
            positive_spans: vec![Span::new(1, 1)],
            positive_buckets: vec![2.0],
            ..Default::default()
        };
        // Both observations sit at the geometric mean sqrt(2) of (1,2]: no spread.
        assert!(variance(&h).abs() < 1e-12);
    }
}
