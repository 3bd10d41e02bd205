//! Phase one of a query: find every selector, the absolute time range it needs (offset, `@`,
//! lookback, subquery ranges), and load its series from the querier, concurrently.

use std::sync::Arc;

use futures::future::try_join_all;
use promql_parser::label::MatchOp as PMatchOp;
use promql_parser::parser::{Expr, VectorSelector};
use strata_model::{MatchOp, Matcher, METRIC_NAME};
use strata_storage::{Querier, SelectHints};

use crate::error::QueryError;
use crate::eval::{
    at_ms, node_key, offset_ms, subquery_range, RawSeries, SelectorData, DEFAULT_SUBQUERY_STEP_MS,
};
use crate::extended::RangeMode;

/// One selector to load: its node and the inclusive time range it needs.
pub(crate) struct SelectorPlan<'a> {
    pub source: Source<'a>,
    pub hints: SelectHints,
    /// Evaluation steps of an instant selector (bounds the samples it holds at once).
    pub steps: usize,
}

/// What a plan loads.
pub(crate) enum Source<'a> {
    /// A selector of the query.
    Selector(&'a VectorSelector),
    /// The info series an `info()` call may join, keyed by the call's address.
    Info { key: usize, matchers: Vec<Matcher> },
}

/// The query-wide parameters selectors are resolved against.
#[derive(Clone, Copy)]
pub(crate) struct PlanParams {
    pub query_start: i64,
    pub query_end: i64,
    pub lookback: i64,
}

/// Collects the selectors of `e` evaluated over steps `[start, end]` by `step`.
pub(crate) fn collect<'a>(
    e: &'a Expr,
    start: i64,
    end: i64,
    step: i64,
    p: PlanParams,
    func: Option<&str>,
    out: &mut Vec<SelectorPlan<'a>>,
) {
    match e {
        Expr::VectorSelector(vs) => {
            let (lo, hi) = ref_range(vs, start, end, p);
            let steps = if vs.at.is_some() {
                1
            } else {
                ((end - start) / step.max(1)) as usize + 1
            };
            // A smoothed selector interpolates towards the next sample, up to a lookback later.
            let hi = if vs.smoothed { hi + p.lookback } else { hi };
            out.push(SelectorPlan {
                steps,
                source: Source::Selector(vs),
                hints: SelectHints {
                    start: lo - p.lookback + 1,
                    end: hi,
                    step,
                    range: 0,
                    func: func.map(str::to_string),
                },
            });
        }
        Expr::MatrixSelector(ms) => {
            let range = ms.range.as_millis() as i64;
            let (lo, hi) = ref_range(&ms.vs, start, end, p);
            let mode = RangeMode::of(ms.vs.anchored, ms.vs.smoothed);
            let (first, last) = mode.bounds(lo - range, hi, p.lookback);
            out.push(SelectorPlan {
                steps: usize::MAX,
                source: Source::Selector(&ms.vs),
                hints: SelectHints {
                    start: first + 1,
                    end: last,
                    step,
                    range,
                    func: func.map(str::to_string),
                },
            });
        }
        Expr::Subquery(sq) => {
            let offset = offset_ms(&sq.offset);
            let range = sq.range.as_millis() as i64;
            let sstep = sq
                .step
                .map(|d| d.as_millis() as i64)
                .filter(|s| *s > 0)
                .unwrap_or(DEFAULT_SUBQUERY_STEP_MS);
            let (os, oe) = match at_ms(&sq.at, p.query_start, p.query_end) {
                Some(a) => (a, a),
                None => (start, end),
            };
            let (s, e2) = subquery_range(os, oe, offset, range, sstep);
            if s <= e2 {
                collect(&sq.expr, s, e2, sstep, p, None, out);
            } else {
                // Still register the selectors so evaluation finds (empty) data.
                collect(&sq.expr, s, s, sstep, p, None, out);
            }
        }
        Expr::Aggregate(a) => {
            collect(&a.expr, start, end, step, p, func, out);
            if let Some(pe) = &a.param {
                collect(pe, start, end, step, p, func, out);
            }
        }
        Expr::Unary(u) => collect(&u.expr, start, end, step, p, func, out),
        Expr::Binary(b) => {
            collect(&b.lhs, start, end, step, p, func, out);
            collect(&b.rhs, start, end, step, p, func, out);
        }
        Expr::Paren(x) => collect(&x.expr, start, end, step, p, func, out),
        Expr::Call(c) => {
            for a in &c.args.args {
                collect(a, start, end, step, p, Some(c.func.name), out);
            }
            if c.func.name == "info" {
                if let Some(base) = c.args.args.first() {
                    let (at, off) = crate::info::info_time(base, p.query_start, p.query_end);
                    let (lo, hi) = match at {
                        Some(a) => (a - off, a - off),
                        None => (start - off, end - off),
                    };
                    out.push(SelectorPlan {
                        steps: usize::MAX,
                        source: Source::Info {
                            key: c as *const promql_parser::parser::Call as usize,
                            matchers: crate::info::info_select_matchers(c),
                        },
                        hints: SelectHints {
                            start: lo - p.lookback + 1,
                            end: hi,
                            step,
                            range: 0,
                            func: Some("info".into()),
                        },
                    });
                }
            }
        }
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => {}
    }
}

fn ref_range(vs: &VectorSelector, start: i64, end: i64, p: PlanParams) -> (i64, i64) {
    let off = offset_ms(&vs.offset);
    match at_ms(&vs.at, p.query_start, p.query_end) {
        Some(a) => (a - off, a - off),
        None => (start - off, end - off),
    }
}

/// The selector's matchers as storage matchers: one set per `or` alternative.
pub(crate) fn selector_matchers(vs: &VectorSelector) -> Result<Vec<Vec<Matcher>>, QueryError> {
    let convert = |ms: &[promql_parser::label::Matcher]| -> Result<Vec<Matcher>, QueryError> {
        let mut out = Vec::with_capacity(ms.len() + 1);
        if let Some(name) = &vs.name {
            out.push(Matcher::equal(METRIC_NAME, name.clone()));
        }
        for m in ms {
            let op = match m.op {
                PMatchOp::Equal => MatchOp::Equal,
                PMatchOp::NotEqual => MatchOp::NotEqual,
                PMatchOp::Re(_) => MatchOp::RegexMatch,
                PMatchOp::NotRe(_) => MatchOp::RegexNoMatch,
            };
            let mm = Matcher::new(op, m.name.clone(), m.value.clone())
                .or_else(|_| Matcher::new(op, m.name.clone(), escape_braces(&m.value)))
                .map_err(|e| QueryError::BadData(e.to_string()))?;
            out.push(mm);
        }
        Ok(out)
    };
    let mut sets = Vec::new();
    if vs.matchers.or_matchers.is_empty() {
        sets.push(convert(&vs.matchers.matchers)?);
    } else {
        for alt in &vs.matchers.or_matchers {
            sets.push(convert(alt)?);
        }
    }
    Ok(sets)
}

/// Escapes `{` that does not open a repetition, which Go's regexp accepts literally.
fn escape_braces(re: &str) -> String {
    let b = re.as_bytes();
    let mut out = String::with_capacity(re.len() + 4);
    for (i, ch) in re.char_indices() {
        if ch == '{' && (i == 0 || b[i - 1] != b'\\') {
            let rest = &re[i + 1..];
            let end = rest.find('}');
            let is_rep = end.is_some_and(|e| {
                let inner = &rest[..e];
                !inner.is_empty()
                    && !inner.starts_with(',')
                    && inner.split(',').count() <= 2
                    && inner.chars().all(|c| c.is_ascii_digit() || c == ',')
            });
            if !is_rep {
                out.push('\\');
            }
        }
        out.push(ch);
    }
    out
}

/// Loads every planned selector, decoding each series once; counts samples against `max_samples`.
pub(crate) async fn load(
    querier: Arc<dyn Querier>,
    plans: &[SelectorPlan<'_>],
    max_samples: usize,
) -> Result<SelectorData, QueryError> {
    let futs = plans.iter().map(|plan| {
        let querier = querier.clone();
        async move {
            let (key, sets) = match &plan.source {
                Source::Selector(vs) => (node_key(vs), selector_matchers(vs)?),
                Source::Info { key, matchers } => (*key, vec![matchers.clone()]),
            };
            let mut all: Vec<RawSeries> = Vec::new();
            for ms in &sets {
                let series = querier.select(&plan.hints, ms).await?;
                for s in series {
                    let mut it = s.iter();
                    let samples: Vec<_> = it
                        .by_ref()
                        .filter(|x| x.t >= plan.hints.start && x.t <= plan.hints.end)
                        .collect();
                    if let Some(e) = it.err() {
                        return Err(QueryError::Internal(format!(
                            "decoding series {}: {e}",
                            s.labels
                        )));
                    }
                    all.push(RawSeries {
                        labels: s.labels,
                        samples,
                        drop_name: false,
                    });
                }
            }
            if sets.len() > 1 {
                all.sort_by(|a, b| a.labels.cmp(&b.labels));
                all.dedup_by(|a, b| a.labels == b.labels);
            }
            all.retain(|s| !s.samples.is_empty());
            // Count as Prometheus's sample limit does: a range selector holds its windows'
            // samples, an instant selector at most one sample per step.
            let counted: usize = all.iter().map(|s| s.samples.len().min(plan.steps)).sum();
            Ok::<_, QueryError>((key, all, counted))
        }
    });
    let loaded = try_join_all(futs).await?;
    let mut total = 0usize;
    let mut data = SelectorData::with_capacity(loaded.len());
    for (k, series, counted) in loaded {
        total += counted;
        if total > max_samples {
            return Err(crate::eval::too_many_samples());
        }
        data.insert(k, Arc::new(series));
    }
    Ok(data)
}
