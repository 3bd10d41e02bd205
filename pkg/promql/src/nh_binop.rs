//! Binary operators where a native histogram takes part (Prometheus's `vectorElemBinop`), and
//! the trim operators `</` and `>/` (`FloatHistogram.TrimBuckets`).
//!
//! Defined pairs: `histogram * float`, `float * histogram`, `histogram / float`,
//! `histogram + histogram`, `histogram - histogram` (a gauge result), `histogram ==/!= histogram`
//! (keeping the left histogram), and `histogram </ float`, `histogram >/ float`. Every other
//! pair yields nothing, with an "incompatible sample types" info annotation.

use std::sync::Arc;

use promql_parser::parser::PosRange;
use strata_model::histogram::{Bucket, CounterResetHint, FloatHistogram, HistogramError};

use crate::binop::Op;
use crate::eval::{Evaluator, Hist};

/// One operand: a float or a histogram.
#[derive(Clone, Copy)]
pub(crate) enum Operand<'a> {
    F(f64),
    H(&'a Hist),
}

/// The result of an element operation.
pub(crate) enum Elem {
    F(f64),
    H(Hist),
}

/// The operator as Prometheus prints it.
pub(crate) fn op_str(op: Op) -> &'static str {
    match op {
        Op::Add => "+",
        Op::Sub => "-",
        Op::Mul => "*",
        Op::Div => "/",
        Op::Mod => "%",
        Op::Pow => "^",
        Op::Atan2 => "atan2",
        Op::Eq => "==",
        Op::Ne => "!=",
        Op::Gt => ">",
        Op::Lt => "<",
        Op::Ge => ">=",
        Op::Le => "<=",
        Op::And => "and",
        Op::Or => "or",
        Op::Unless => "unless",
        Op::TrimUpper => "</",
        Op::TrimLower => ">/",
    }
}

/// Applies `op` to a pair of which at least one is a histogram: `Some((value, keep))`, or
/// `None` when the pair yields nothing (annotated at `pos`).
pub(crate) fn elem(
    ev: &Evaluator,
    pos: PosRange,
    op: Op,
    l: Operand,
    r: Operand,
) -> Option<(Elem, bool)> {
    let incompatible = |lt: &str, rt: &str| {
        let o = op_str(op);
        ev.info(
            pos,
            format!("PromQL info: incompatible sample types encountered for binary operator \"{o}\": {lt} {o} {rt}"),
        );
        None
    };
    let finish = |mut h: FloatHistogram| {
        h.compact(0);
        Some((Elem::H(Arc::new(h)), true))
    };
    match (l, r) {
        (Operand::F(x), Operand::H(h)) => match op {
            Op::Mul => {
                let mut h = FloatHistogram::clone(h);
                h.mul(x);
                finish(h)
            }
            _ => incompatible("float", "histogram"),
        },
        (Operand::H(h), Operand::F(x)) => match op {
            Op::Mul => {
                let mut h = FloatHistogram::clone(h);
                h.mul(x);
                finish(h)
            }
            Op::Div => {
                let mut h = FloatHistogram::clone(h);
                h.div(x);
                finish(h)
            }
            Op::TrimUpper | Op::TrimLower => Some((
                Elem::H(Arc::new(trim(
                    FloatHistogram::clone(h),
                    x,
                    op == Op::TrimUpper,
                ))),
                true,
            )),
            _ => incompatible("histogram", "float"),
        },
        (Operand::H(a), Operand::H(b)) => match op {
            Op::Add | Op::Sub => {
                let mut res = FloatHistogram::clone(a);
                let r = if op == Op::Add {
                    res.add(b)
                } else {
                    res.sub(b)
                };
                let what = if op == Op::Add {
                    "addition"
                } else {
                    "subtraction"
                };
                match r {
                    Err(e) => {
                        if matches!(e, HistogramError::IncompatibleSchema) {
                            ev.warn(pos, format!("PromQL warning: incompatible bucket layout encountered for binary operator {}", op_str(op)));
                        }
                        None
                    }
                    Ok(info) => {
                        if info.nhcb_bounds_reconciled {
                            ev.info(pos, format!("PromQL info: mismatched custom buckets were reconciled during {what}"));
                        }
                        if info.counter_reset_collision {
                            ev.warn(pos, format!("PromQL warning: conflicting counter resets during histogram {what}"));
                        }
                        if op == Op::Sub {
                            res.counter_reset_hint = CounterResetHint::Gauge;
                        }
                        finish(res)
                    }
                }
            }
            Op::Eq => Some((Elem::H(a.clone()), a.equals(b))),
            Op::Ne => Some((Elem::H(a.clone()), !a.equals(b))),
            _ => incompatible("histogram", "histogram"),
        },
        (Operand::F(_), Operand::F(_)) => None,
    }
}

/// Removes the observations above (`upper`) or below `rhs`, interpolating within the bucket
/// `rhs` falls in, and re-estimates count and sum from bucket midpoints (`TrimBuckets`).
pub(crate) fn trim(mut h: FloatHistogram, rhs: f64, upper: bool) -> FloatHistogram {
    let custom = h.uses_custom_buckets();
    let (mut count, mut sum) = (0.0, 0.0);
    let mut trimmed = false;
    let (mut has_pos, mut has_neg) = (false, false);
    for positive in [true, false] {
        let buckets: Vec<Bucket<f64>> = if positive {
            h.positive_buckets_iter().collect()
        } else {
            h.negative_buckets_iter().collect()
        };
        for (i, b) in buckets.iter().enumerate() {
            if b.count == 0.0 {
                continue;
            }
            if positive {
                has_pos = true;
            } else {
                has_neg = true;
            }
            let whole = if upper {
                b.upper <= rhs
            } else {
                b.lower >= rhs
            };
            let partial = if upper { b.lower < rhs } else { b.upper > rhs };
            let slot = if positive {
                &mut h.positive_buckets[i]
            } else {
                &mut h.negative_buckets[i]
            };
            if whole {
                count += b.count;
                sum += midpoint(b.lower, b.upper, positive, custom) * b.count;
            } else if partial {
                let (keep, mid) = bucket_trim(b, rhs, upper, positive, custom);
                count += keep;
                sum += mid * keep;
                if *slot != keep {
                    *slot = keep;
                    trimmed = true;
                }
            } else {
                *slot = 0.0;
                trimmed = true;
            }
        }
    }
    if h.zero_count > 0.0 {
        let (keep, mid) = zero_trim(&h.zero_bucket(), rhs, has_neg, has_pos, upper);
        if h.zero_count != keep {
            h.zero_count = keep;
            trimmed = true;
        }
        sum += mid * keep;
        count += keep;
    }
    if trimmed {
        h.count = count;
        h.sum = sum;
        h.compact(0);
    }
    h
}

fn fraction_below(b: &Bucket<f64>, v: f64, linear: bool) -> f64 {
    if linear {
        return (v - b.lower) / (b.upper - b.lower);
    }
    let (ll, lu, lv) = (b.lower.abs().log2(), b.upper.abs().log2(), v.abs().log2());
    if v > 0.0 {
        (lv - ll) / (lu - ll)
    } else {
        1.0 - ((lv - lu) / (ll - lu))
    }
}

fn midpoint(lo: f64, hi: f64, positive: bool, linear: bool) -> f64 {
    if lo.is_infinite() {
        if hi.is_infinite() {
            return 0.0;
        }
        return if hi > 0.0 { hi / 2.0 } else { hi };
    }
    if hi.is_infinite() {
        return lo;
    }
    if linear {
        return (lo + hi) / 2.0;
    }
    let g = (lo * hi).abs().sqrt();
    if positive {
        g
    } else {
        -g
    }
}

fn bucket_trim(b: &Bucket<f64>, rhs: f64, upper: bool, positive: bool, custom: bool) -> (f64, f64) {
    if b.lower == f64::NEG_INFINITY || b.upper == f64::INFINITY {
        return infinity_trim(upper, b, rhs);
    }
    let under = if rhs <= b.lower {
        0.0
    } else if rhs >= b.upper {
        b.count
    } else {
        b.count * fraction_below(b, rhs, custom)
    };
    if upper {
        (under, midpoint(b.lower, rhs, positive, custom))
    } else {
        (b.count - under, midpoint(rhs, b.upper, positive, custom))
    }
}

fn infinity_trim(upper: bool, b: &Bucket<f64>, rhs: f64) -> (f64, f64) {
    let zero_if_inf = |x: f64| if x.is_infinite() { 0.0 } else { x };
    if b.lower == f64::NEG_INFINITY {
        if upper {
            if rhs >= b.upper {
                return (b.count, 0.0);
            }
            if rhs > 0.0 && b.upper > 0.0 && b.upper != f64::INFINITY {
                return (b.count * rhs / b.upper, rhs / 2.0);
            }
            if b.upper <= 0.0 {
                return (b.count, rhs);
            }
            return (0.0, zero_if_inf(b.upper));
        }
        if rhs <= b.lower {
            return (b.count, 0.0);
        }
        if rhs >= 0.0 && b.upper > rhs && b.upper != f64::INFINITY {
            return (b.count * (1.0 - rhs / b.upper), (rhs + b.upper) / 2.0);
        }
        return (0.0, zero_if_inf(b.upper));
    }
    // The upper bound is +Inf.
    if upper {
        return (0.0, zero_if_inf(b.lower));
    }
    if rhs >= b.lower {
        return (b.count, rhs);
    }
    (0.0, zero_if_inf(b.lower))
}

fn zero_trim(z: &Bucket<f64>, rhs: f64, has_neg: bool, has_pos: bool, upper: bool) -> (f64, f64) {
    let (mut lo, mut hi) = (z.lower, z.upper);
    if has_neg && !has_pos {
        hi = 0.0;
    }
    if has_pos && !has_neg {
        lo = 0.0;
    }
    if upper {
        if rhs <= lo {
            return (0.0, 0.0);
        }
        if rhs >= hi {
            return (z.count, (lo + hi) / 2.0);
        }
        (z.count * (rhs - lo) / (hi - lo), (lo + rhs) / 2.0)
    } else {
        if rhs <= lo {
            return (z.count, (lo + hi) / 2.0);
        }
        if rhs >= hi {
            return (0.0, 0.0);
        }
        (z.count * (hi - rhs) / (hi - lo), (rhs + hi) / 2.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata_model::histogram::Span;

    fn h() -> FloatHistogram {
        // Schema 0: (0.5,1]:2, (1,2]:4, (2,4]:8.
        FloatHistogram {
            count: 14.0,
            sum: 30.0,
            positive_spans: vec![Span::new(0, 3)],
            positive_buckets: vec![2.0, 4.0, 8.0],
            ..Default::default()
        }
    }

    #[test]
    fn trim_at_a_bucket_boundary_drops_whole_buckets() {
        let t = trim(h(), 2.0, true);
        assert_eq!(t.count, 6.0);
        assert_eq!(t.positive_buckets, vec![2.0, 4.0]);
        // Sum from geometric midpoints: 2*sqrt(0.5) + 4*sqrt(2).
        let want = 2.0 * 0.5f64.sqrt() + 4.0 * 2f64.sqrt();
        assert!((t.sum - want).abs() < 1e-12);
    }

    #[test]
    fn trim_inside_a_bucket_interpolates_on_a_log_scale() {
        // 2^1.5 is half-way through (2,4] on a log scale: half of its 8 observations stay.
        let t = trim(h(), 2f64.powf(1.5), false);
        assert!((t.count - 4.0).abs() < 1e-9);
        assert_eq!(t.positive_buckets.len(), 1);
    }

    #[test]
    fn trimming_outside_the_range_changes_nothing() {
        let t = trim(h(), 100.0, true);
        assert_eq!(t.count, 14.0);
        assert_eq!(t.sum, 30.0);
    }
}
