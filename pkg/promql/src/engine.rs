//! The public engine: parses, plans and loads selectors (async), then evaluates (sync).

use std::cell::RefCell;
use std::sync::Arc;
use std::time::{Duration, Instant};

use promql_parser::parser::value::ValueType;
use promql_parser::parser::{AggregateExpr, Expr};
use strata_model::histogram::FloatHistogram;
use strata_model::Sample;
use strata_storage::Querier;

use crate::error::QueryError;
use crate::eval::{
    drop_name, hwindow, too_many_samples, window, without_stale, Annotations, Collector, Evaluator,
    SelectorData, Val,
};
use crate::extended::{between, extend_samples, RangeMode};
use crate::functions::unparen;
use crate::plan::{collect, load, PlanParams};
use crate::value::{HistogramPoint, QueryResult, RangeSeries, Value, VectorSample};

/// The most points a range query may return per series, as Prometheus.
const MAX_POINTS_PER_SERIES: i64 = 11_000;

/// Work (series × steps) above which evaluation moves to a blocking thread.
const INLINE_WORK_LIMIT: usize = 200_000;

/// Engine limits.
#[derive(Clone, Debug)]
pub struct EngineOptions {
    /// How far back an instant selector looks for a sample (Prometheus's `--query.lookback-delta`).
    pub lookback_delta_ms: i64,
    /// The most samples a query may hold in memory.
    pub max_samples: usize,
    /// The longest a query may run.
    pub timeout: Duration,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            lookback_delta_ms: 300_000,
            max_samples: 50_000_000,
            timeout: Duration::from_secs(120),
        }
    }
}

/// A PromQL engine. Cheap to clone; shares nothing mutable between queries.
#[derive(Clone, Debug)]
pub struct Engine {
    opts: Arc<EngineOptions>,
    delayed_name_removal: bool,
}

impl Engine {
    /// Makes an engine with `opts`.
    pub fn new(opts: EngineOptions) -> Self {
        Self {
            opts: Arc::new(opts),
            delayed_name_removal: false,
        }
    }

    /// Enables Prometheus's delayed name removal (`promql-delayed-name-removal`): operators
    /// that drop the metric name only flag it, and names are dropped when the query ends.
    /// Off by default, as in Prometheus; Prometheus's own test corpus runs with it on.
    pub fn with_delayed_name_removal(mut self, on: bool) -> Self {
        self.delayed_name_removal = on;
        self
    }

    /// Evaluates `query` at `time_ms`.
    pub async fn instant_query(
        &self,
        querier: Arc<dyn Querier>,
        query: &str,
        time_ms: i64,
    ) -> Result<QueryResult, QueryError> {
        self.run(querier, query, time_ms, time_ms, 0).await
    }

    /// Evaluates `query` at every step from `start_ms` to `end_ms`; the result is always a matrix.
    pub async fn range_query(
        &self,
        querier: Arc<dyn Querier>,
        query: &str,
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
    ) -> Result<QueryResult, QueryError> {
        if step_ms <= 0 {
            return Err(QueryError::BadData(
                "zero or negative query resolution step widths are not accepted. Try a positive integer".into(),
            ));
        }
        if end_ms < start_ms {
            return Err(QueryError::BadData(
                "end timestamp must not be before start time".into(),
            ));
        }
        if (end_ms - start_ms) / step_ms > MAX_POINTS_PER_SERIES {
            return Err(QueryError::BadData(
                "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)"
                    .into(),
            ));
        }
        self.run(querier, query, start_ms, end_ms, step_ms).await
    }

    async fn run(
        &self,
        querier: Arc<dyn Querier>,
        query: &str,
        start: i64,
        end: i64,
        step: i64,
    ) -> Result<QueryResult, QueryError> {
        let mut expr = promql_parser::parser::parse(query).map_err(QueryError::Parse)?;
        crate::durations::resolve(&mut expr, step, end - start)?;
        let expr = Arc::new(expr);
        let text: Arc<str> = Arc::from(query);
        if step > 0 {
            match expr.value_type() {
                ValueType::Scalar | ValueType::Vector => {}
                t => {
                    let name = if t == ValueType::Matrix {
                        "range vector"
                    } else {
                        "string"
                    };
                    return Err(QueryError::BadData(format!(
                        "invalid expression type \"{name}\" for range query, must be Scalar or instant Vector"
                    )));
                }
            }
        }
        let opts = self.opts.clone();
        let delayed = self.delayed_name_removal;
        let deadline = Instant::now() + opts.timeout;
        let fut = async move {
            let params = PlanParams {
                query_start: start,
                query_end: end,
                lookback: opts.lookback_delta_ms,
            };
            let mut plans = Vec::new();
            collect(&expr, start, end, step.max(1), params, None, &mut plans);
            let loaded_at = Instant::now();
            let mut data = load(querier, &plans, opts.max_samples).await?;
            crate::nh_stats::apply(&mut data, &crate::nh_stats::stats_selectors(&expr));
            tracing::debug!(
                selectors = plans.len(),
                series = data.values().map(|s| s.len()).sum::<usize>(),
                load_ms = loaded_at.elapsed().as_millis() as u64,
                "loaded query selectors"
            );
            let work: usize = data.values().map(|s| s.len()).sum::<usize>()
                * (((end - start) / step.max(1)) as usize + 1);
            drop(plans);
            if work > INLINE_WORK_LIMIT {
                let expr = expr.clone();
                let text = text.clone();
                tokio::task::spawn_blocking(move || {
                    let r = evaluate(
                        &expr, &text, &data, start, end, step, &opts, delayed, deadline,
                    );
                    drop_later(data);
                    r
                })
                .await
                .map_err(|e| QueryError::Internal(format!("evaluation task failed: {e}")))?
            } else {
                let r = evaluate(
                    &expr, &text, &data, start, end, step, &opts, delayed, deadline,
                );
                drop_later(data);
                r
            }
        };
        match tokio::time::timeout(self.opts.timeout, fut).await {
            Ok(r) => r,
            Err(_) => Err(QueryError::Timeout("query execution")),
        }
    }
}

/// Frees the loaded selector data off the query's path when it is large (see
/// [`crate::free`]).
fn drop_later(data: SelectorData) {
    let series: usize = data.values().map(|s| s.len()).sum();
    drop(crate::free::FreeLater::new(data, series));
}

/// Evaluates the whole expression and shapes the result as Prometheus's API does.
#[allow(clippy::too_many_arguments)]
fn evaluate(
    expr: &Expr,
    query: &str,
    data: &SelectorData,
    start: i64,
    end: i64,
    step: i64,
    opts: &EngineOptions,
    delayed: bool,
    deadline: Instant,
) -> Result<QueryResult, QueryError> {
    let annos = RefCell::new(Annotations::default());
    let ev = Evaluator {
        data,
        start,
        end,
        step: step.max(1),
        query_start: start,
        query_end: end,
        query_step: step,
        lookback: opts.lookback_delta_ms,
        annos: &annos,
        delayed,
        deadline,
        max_samples: opts.max_samples,
        query,
    };
    let mut val = ev.eval(expr)?;
    if let (true, Val::Vector(vs)) = (delayed, &mut val) {
        // Delayed name removal: drop flagged names now; equal label sets must not overlap.
        if vs.iter().any(|s| s.drop_name) {
            let mut c = Collector::new(ev.n());
            for s in std::mem::take(vs) {
                let labels = if s.drop_name {
                    drop_name(&s.labels)
                } else {
                    s.labels
                };
                let id = c.index(labels);
                for (i, p) in s.vals.iter().enumerate() {
                    if let Some(v) = p {
                        c.set(id, i, *v)?;
                    }
                }
                for (i, h) in s.hists.iter().enumerate() {
                    if let Some(h) = h {
                        c.set_h(id, i, h.clone())?;
                    }
                }
            }
            *vs = c.finish();
        }
    }
    let value = if step == 0 {
        instant_value(expr, val, start)?
    } else {
        range_value(&ev, val)
    };
    let n = match &value {
        Value::Vector(v) => v.len(),
        Value::Matrix(m) => m.iter().map(|s| s.samples.len() + s.histograms.len()).sum(),
        _ => 1,
    };
    if n > opts.max_samples {
        return Err(too_many_samples());
    }
    let a = annos.into_inner();
    Ok(QueryResult {
        value,
        warnings: a.warnings,
        infos: a.infos,
    })
}

/// Whether the top-level expression fixes the order of an instant vector result.
fn keeps_order(expr: &Expr) -> bool {
    match unparen(expr) {
        Expr::Call(c) => matches!(
            c.func.name,
            "sort" | "sort_desc" | "sort_by_label" | "sort_by_label_desc"
        ),
        Expr::Aggregate(AggregateExpr { op, .. }) => {
            matches!(op.to_string().as_str(), "topk" | "bottomk" | "limitk")
        }
        _ => false,
    }
}

fn instant_value(expr: &Expr, val: Val, t: i64) -> Result<Value, QueryError> {
    Ok(match val {
        Val::Scalar(s) => Value::Scalar { t, v: s[0] },
        Val::Str(s) => Value::String { t, v: s },
        Val::Vector(vs) => {
            let mut out: Vec<VectorSample> = vs
                .into_iter()
                .filter_map(|s| {
                    if let Some(h) = s.h(0) {
                        return Some(VectorSample {
                            labels: s.labels.clone(),
                            t,
                            v: 0.0,
                            h: Some(FloatHistogram::clone(h)),
                        });
                    }
                    s.vals[0].map(|v| VectorSample {
                        labels: s.labels,
                        t,
                        v,
                        h: None,
                    })
                })
                .collect();
            if !keeps_order(expr) {
                out.sort_by(|a, b| a.labels.cmp(&b.labels));
            }
            Value::Vector(out)
        }
        Val::Range(r) => {
            let reft = r.at.unwrap_or(t) - r.offset;
            let mut out: Vec<RangeSeries> = r
                .series
                .iter()
                .filter_map(|s| {
                    let clean = if r.may_have_stale {
                        without_stale(&s.samples)
                    } else {
                        (&s.samples[..]).into()
                    };
                    let w: Vec<Sample> = match r.mode {
                        RangeMode::Plain => window(&clean, reft, r.range).to_vec(),
                        mode => {
                            let (lo, hi) = mode.bounds(reft - r.range, reft, r.lookback);
                            extend_samples(
                                between(&clean, lo, hi),
                                reft - r.range,
                                reft,
                                mode == RangeMode::Smoothed,
                            )
                        }
                    };
                    let histograms: Vec<HistogramPoint> = match r.mode {
                        RangeMode::Plain => hwindow(&s.hists, reft, r.range)
                            .iter()
                            .map(|p| HistogramPoint {
                                t: p.t,
                                h: FloatHistogram::clone(&p.h),
                            })
                            .collect(),
                        // The extended modes are defined over floats only.
                        _ => Vec::new(),
                    };
                    (!w.is_empty() || !histograms.is_empty()).then(|| RangeSeries {
                        labels: s.labels.clone(),
                        samples: w,
                        histograms,
                    })
                })
                .collect();
            out.sort_by(|a, b| a.labels.cmp(&b.labels));
            Value::Matrix(out)
        }
    })
}

fn range_value(ev: &Evaluator, val: Val) -> Value {
    let mut out: Vec<RangeSeries> = match val {
        Val::Scalar(s) => vec![RangeSeries {
            labels: strata_model::Labels::empty(),
            samples: s
                .iter()
                .enumerate()
                .map(|(i, v)| Sample::new(ev.ts(i), *v))
                .collect(),
            histograms: Vec::new(),
        }],
        Val::Vector(vs) => vs
            .into_iter()
            .map(|s| RangeSeries {
                labels: s.labels,
                samples: s
                    .vals
                    .iter()
                    .enumerate()
                    .filter_map(|(i, p)| p.map(|v| Sample::new(ev.ts(i), v)))
                    .collect(),
                histograms: s
                    .hists
                    .iter()
                    .enumerate()
                    .filter_map(|(i, h)| {
                        h.as_ref().map(|h| HistogramPoint {
                            t: ev.ts(i),
                            h: FloatHistogram::clone(h),
                        })
                    })
                    .collect(),
            })
            .filter(|s| !s.samples.is_empty() || !s.histograms.is_empty())
            .collect(),
        // Rejected before evaluation.
        Val::Str(_) | Val::Range(_) => Vec::new(),
    };
    out.sort_by(|a, b| a.labels.cmp(&b.labels));
    Value::Matrix(out)
}
