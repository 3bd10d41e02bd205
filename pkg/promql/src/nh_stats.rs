//! Histogram statistics decoding, as Prometheus's `HistogramStatsIterator`: selectors read
//! only for `histogram_count`, `histogram_sum` or `histogram_avg` (no subquery, bucket
//! function or trim operator on the way up) get their counter reset hints from explicit
//! counter reset detection while decoding. A histogram whose hint is unknown becomes a
//! `CounterReset` when it is a reset relative to the previous sample read, else a
//! `NotCounterReset`; the first sample read stays unknown. Prometheus's results (and its
//! "conflicting counter resets" warnings) depend on these hints, so Strata derives them alike.

use std::collections::HashSet;
use std::sync::Arc;

use promql_parser::parser::{Expr, VectorSelector};
use strata_model::histogram::{CounterResetHint, FloatHistogram};

use crate::eval::{node_key, SelectorData};

/// What the nearest deciding ancestor says about a selector's buckets.
#[derive(Clone, Copy, PartialEq)]
enum Need {
    /// No ancestor decided: buckets are read.
    Undecided,
    /// A statistics function is above, and nothing needing buckets.
    StatsOnly,
    /// Buckets are needed.
    Buckets,
}

/// The node keys of the selectors of `e` that Prometheus would read with statistics decoding.
pub(crate) fn stats_selectors(e: &Expr) -> HashSet<usize> {
    let mut out = HashSet::new();
    walk(e, Need::Undecided, &mut out);
    out
}

fn mark(vs: &VectorSelector, need: Need, out: &mut HashSet<usize>) {
    if need == Need::StatsOnly {
        out.insert(node_key(vs));
    }
}

fn walk(e: &Expr, need: Need, out: &mut HashSet<usize>) {
    match e {
        Expr::VectorSelector(vs) => mark(vs, need, out),
        Expr::MatrixSelector(ms) => mark(&ms.vs, need, out),
        // A subquery above always reads buckets (its counter reset detection needs them).
        Expr::Subquery(sq) => walk(&sq.expr, Need::Buckets, out),
        Expr::Call(c) => {
            let next = match (need, c.func.name) {
                (Need::Buckets, _) => Need::Buckets,
                (_, "histogram_count" | "histogram_sum" | "histogram_avg") => Need::StatsOnly,
                (_, "histogram_quantile" | "histogram_quantiles" | "histogram_fraction") => {
                    Need::Buckets
                }
                (n, _) => n,
            };
            for a in &c.args.args {
                walk(a, next, out);
            }
        }
        Expr::Binary(b) => {
            let op = b.op.to_string();
            let next = if op == "</" || op == ">/" {
                Need::Buckets
            } else {
                need
            };
            walk(&b.lhs, next, out);
            walk(&b.rhs, next, out);
        }
        Expr::Aggregate(a) => {
            walk(&a.expr, need, out);
            if let Some(p) = &a.param {
                walk(p, need, out);
            }
        }
        Expr::Unary(u) => walk(&u.expr, need, out),
        Expr::Paren(p) => walk(&p.expr, need, out),
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => {}
    }
}

/// Re-derives the counter reset hints of the selectors in `keys` (see the module docs).
pub(crate) fn apply(data: &mut SelectorData, keys: &HashSet<usize>) {
    for k in keys {
        let Some(series) = data.get_mut(k) else {
            continue;
        };
        if series.iter().all(|s| s.hists.is_empty()) {
            continue;
        }
        for s in Arc::make_mut(series).iter_mut() {
            let mut prev: Option<Arc<FloatHistogram>> = None;
            for p in s.hists.iter_mut() {
                let raw = p.h.clone();
                if raw.counter_reset_hint == CounterResetHint::Unknown {
                    if let Some(last) = &prev {
                        let mut h = FloatHistogram::clone(&raw);
                        h.counter_reset_hint = if raw.detect_reset(last) {
                            CounterResetHint::CounterReset
                        } else {
                            CounterResetHint::NotCounterReset
                        };
                        p.h = Arc::new(h);
                    }
                }
                prev = Some(raw);
            }
        }
    }
}
