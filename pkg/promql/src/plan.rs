//! Phase one of a query: find every selector, the absolute time range it needs (offset, `@`,
//! lookback, subquery ranges), and load its series from the querier, concurrently.

use std::sync::Arc;

use futures::future::try_join_all;
use promql_parser::label::MatchOp as PMatchOp;
use promql_parser::parser::{Expr, VectorSelector};
use strata_model::{is_stale_nan, MatchOp, Matcher, Sample, METRIC_NAME, STALE_NAN};
use strata_storage::{Querier, SelectHints, Series};

use crate::error::QueryError;
use crate::eval::{
    at_ms, node_key, offset_ms, subquery_range, HPoint, RawSeries, SelectorData,
    DEFAULT_SUBQUERY_STEP_MS,
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

/// Series per decoding task at least: smaller selections are decoded by one task.
const DECODE_BATCH: usize = 512;

/// Decodes a selection's series (samples in `[start, end]`), split over the machine's cores
/// when it is large: each part in a blocking task, the parts joined in order, so the result
/// and the first error reported are those of decoding in one go.
async fn decode_selection(
    series: Vec<Series>,
    start: i64,
    end: i64,
) -> Result<Vec<RawSeries>, QueryError> {
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
    let parts_wanted = workers.min(series.len() / DECODE_BATCH).max(1);
    if parts_wanted == 1 {
        return decode_series(series, start, end);
    }
    let total = series.len();
    let per = total.div_ceil(parts_wanted).max(1);
    let mut parts: Vec<Vec<Series>> = Vec::with_capacity(parts_wanted);
    let mut rest = series;
    while rest.len() > per {
        let tail = rest.split_off(per);
        parts.push(rest);
        rest = tail;
    }
    parts.push(rest);
    let tasks: Vec<_> = parts
        .into_iter()
        .map(|p| tokio::task::spawn_blocking(move || decode_series(p, start, end)))
        .collect();
    let mut out = Vec::with_capacity(total);
    for t in tasks {
        let part = t
            .await
            .map_err(|e| QueryError::Internal(format!("decoding task failed: {e}")))??;
        out.extend(part);
    }
    Ok(out)
}

/// Decodes series into the engine's form: floats and histograms in `[start, end]`, a
/// histogram stale marker turned into a float one.
fn decode_series(series: Vec<Series>, start: i64, end: i64) -> Result<Vec<RawSeries>, QueryError> {
    let mut all = Vec::with_capacity(series.len());
    for s in series {
        // Only the samples in the selector's range, chunks outside it skipped.
        let decoded = s
            .decode_range(start, end)
            .map_err(|e| QueryError::Internal(format!("decoding series {}: {e}", s.labels)))?;
        let mut samples: Vec<Sample> = decoded.floats;
        let mut hists: Vec<HPoint> = Vec::new();
        let mut stale_hist = false;
        for h in decoded.histograms {
            if is_stale_nan(h.h.sum) {
                // A histogram stale marker ends the series as a float one does.
                samples.push(Sample::new(h.t, STALE_NAN));
                stale_hist = true;
            } else {
                hists.push(HPoint {
                    t: h.t,
                    h: Arc::new(h.h),
                });
            }
        }
        if stale_hist {
            samples.sort_by_key(|x| x.t);
        }
        all.push(RawSeries {
            labels: s.labels,
            samples,
            hists,
            drop_name: false,
        });
    }
    Ok(all)
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
                all.extend(decode_selection(series, plan.hints.start, plan.hints.end).await?);
            }
            if sets.len() > 1 {
                all.sort_by(|a, b| a.labels.cmp(&b.labels));
                all.dedup_by(|a, b| a.labels == b.labels);
            }
            all.retain(|s| !s.samples.is_empty() || !s.hists.is_empty());
            // Count as Prometheus's sample limit does: a range selector holds its windows'
            // samples, an instant selector at most one sample per step.
            let counted: usize = all
                .iter()
                .map(|s| (s.samples.len() + s.hists.len()).min(plan.steps))
                .sum();
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
