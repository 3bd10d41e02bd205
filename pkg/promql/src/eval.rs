//! The evaluator: walks the AST once and produces, for every node, its values at every step
//! of the query (as Prometheus's `rangeEval`), so a range query does not re-walk the tree per step.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use promql_parser::parser::{AtModifier, Expr, Offset, PosRange, VectorSelector};
use strata_model::histogram::FloatHistogram;
use strata_model::{is_stale_nan, Labels, Sample, METRIC_NAME};

use crate::error::QueryError;
use crate::extended::{between, smoothed_value, RangeMode};

/// One step's float value of a series. Native histogram values sit beside the floats (see
/// [`StepSeries::hists`]), as Prometheus keeps `Floats` and `Histograms` apart: operators that
/// only know floats see a histogram point as absent, which is what Prometheus does for them.
pub(crate) type Point = Option<f64>;

/// A native histogram value, shared between steps that hold the same sample.
pub(crate) type Hist = Arc<FloatHistogram>;

/// A series evaluated at every step of the current evaluator. At each step at most one of
/// `vals[i]` and `hists[i]` is set.
#[derive(Debug, Clone)]
pub(crate) struct StepSeries {
    pub labels: Labels,
    pub vals: Vec<Point>,
    /// Histogram values per step; empty when the series has none (the common case).
    pub hists: Vec<Option<Hist>>,
    /// Delayed name removal: the metric name is dropped when the query finishes.
    pub drop_name: bool,
}

impl StepSeries {
    /// A series of float values only.
    pub fn floats(labels: Labels, vals: Vec<Point>, drop_name: bool) -> Self {
        Self {
            labels,
            vals,
            hists: Vec::new(),
            drop_name,
        }
    }

    /// The histogram at step `i`, if any.
    #[inline]
    pub fn h(&self, i: usize) -> Option<&Hist> {
        self.hists.get(i).and_then(|h| h.as_ref())
    }

    /// Whether step `i` holds a value of either kind.
    #[inline]
    pub fn present(&self, i: usize) -> bool {
        self.vals[i].is_some() || self.h(i).is_some()
    }

    /// Whether any step holds a value of either kind.
    pub fn any_present(&self) -> bool {
        self.vals.iter().any(|p| p.is_some()) || self.hists.iter().any(|h| h.is_some())
    }

    /// The number of steps holding a value.
    pub fn count_present(&self) -> usize {
        self.vals.iter().filter(|p| p.is_some()).count()
            + self.hists.iter().filter(|h| h.is_some()).count()
    }

    /// Sets the histogram at step `i`, allocating the histogram column on first use.
    pub fn set_h(&mut self, i: usize, h: Hist) {
        if self.hists.is_empty() {
            self.hists = vec![None; self.vals.len()];
        }
        self.hists[i] = Some(h);
    }
}

/// One histogram sample of a raw series.
#[derive(Debug, Clone)]
pub(crate) struct HPoint {
    pub t: i64,
    pub h: Hist,
}

/// A series' raw samples, as loaded from storage (stale markers included) or produced by a subquery.
/// Histogram stale markers are turned into float stale markers when loading, so `hists` holds
/// real histograms only.
#[derive(Debug, Clone)]
pub(crate) struct RawSeries {
    pub labels: Labels,
    pub samples: Vec<Sample>,
    /// Native histogram samples, sorted by time.
    pub hists: Vec<HPoint>,
    /// Set for subquery output whose name removal is delayed.
    pub drop_name: bool,
}

/// `h` with a `CounterReset`/`NotCounterReset` hint made unknown, as Prometheus does for
/// subquery output: the subquery may skip the sample with the reset, or return it repeatedly.
fn unknown_reset_hint(h: &Hist) -> Hist {
    use strata_model::histogram::CounterResetHint as C;
    match h.counter_reset_hint {
        C::CounterReset | C::NotCounterReset => {
            let mut c = FloatHistogram::clone(h);
            c.counter_reset_hint = C::Unknown;
            Arc::new(c)
        }
        _ => h.clone(),
    }
}

/// The histograms of `h` in the window `(reft - range, reft]`.
#[inline]
pub(crate) fn hwindow(h: &[HPoint], reft: i64, range: i64) -> &[HPoint] {
    let lo = h.partition_point(|s| s.t <= reft - range);
    let hi = h.partition_point(|s| s.t <= reft);
    &h[lo..hi.max(lo)]
}

/// A range vector: raw series plus how each step's window is placed.
#[derive(Debug, Clone)]
pub(crate) struct RangeVal {
    pub series: Arc<Vec<RawSeries>>,
    pub range: i64,
    pub offset: i64,
    pub at: Option<i64>,
    /// Whether stale markers may be present (selectors) and must be dropped from windows.
    pub may_have_stale: bool,
    /// `anchored`/`smoothed` selectors read around the range (see [`crate::extended`]).
    pub mode: RangeMode,
    /// The lookback delta the extended modes widen the window by.
    pub lookback: i64,
}

/// A node's value over all steps.
#[derive(Debug)]
pub(crate) enum Val {
    Scalar(Vec<f64>),
    Str(String),
    Vector(Vec<StepSeries>),
    Range(RangeVal),
}

/// Annotations collected during evaluation, deduplicated, in first-seen order.
#[derive(Debug, Default)]
pub(crate) struct Annotations {
    pub warnings: Vec<String>,
    pub infos: Vec<String>,
}

impl Annotations {
    pub fn warn(&mut self, msg: String) {
        if !self.warnings.contains(&msg) {
            self.warnings.push(msg);
        }
    }
    pub fn info(&mut self, msg: String) {
        if !self.infos.contains(&msg) {
            self.infos.push(msg);
        }
    }
}

/// Selector data loaded in phase one, keyed by the selector node's address.
pub(crate) type SelectorData = HashMap<usize, Arc<Vec<RawSeries>>>;

/// A map keyed by label sets, hashed with foldhash (seeded per process) rather than SipHash:
/// grouping and joining hash every input series' labels, a visible share of a query's CPU.
pub(crate) type LabelsMap<V> = HashMap<Labels, V, foldhash::fast::RandomState>;

/// The node key of a selector: its address in the (immutable, alive for the whole query) AST.
pub(crate) fn node_key(vs: &VectorSelector) -> usize {
    vs as *const VectorSelector as usize
}

/// Evaluates expressions over the steps `start, start+step, ..., end`.
pub(crate) struct Evaluator<'a> {
    pub data: &'a SelectorData,
    pub start: i64,
    pub end: i64,
    pub step: i64,
    pub query_start: i64,
    pub query_end: i64,
    /// The top-level query step, 0 for instant queries (`step()`).
    pub query_step: i64,
    pub lookback: i64,
    pub annos: &'a RefCell<Annotations>,
    /// Prometheus's delayed name removal: names are dropped at the end, not per operator.
    pub delayed: bool,
    pub deadline: Instant,
    pub max_samples: usize,
    /// The query text, for the `(line:col)` suffix of annotations.
    pub query: &'a str,
}

/// The default subquery resolution when none is given, as Prometheus's default evaluation interval.
pub(crate) const DEFAULT_SUBQUERY_STEP_MS: i64 = 60_000;

pub(crate) fn offset_ms(o: &Option<Offset>) -> i64 {
    match o {
        None => 0,
        Some(Offset::Pos(d)) => d.as_millis() as i64,
        Some(Offset::Neg(d)) => -(d.as_millis() as i64),
    }
}

pub(crate) fn at_ms(at: &Option<AtModifier>, query_start: i64, query_end: i64) -> Option<i64> {
    match at {
        None => None,
        Some(AtModifier::Start) => Some(query_start),
        Some(AtModifier::End) => Some(query_end),
        Some(AtModifier::At(t)) => Some(match t.duration_since(std::time::UNIX_EPOCH) {
            Ok(d) => d.as_millis() as i64,
            Err(e) => -(e.duration().as_millis() as i64),
        }),
    }
}

/// Computes the steps of a subquery evaluated at outer steps `[start, end]`: the first
/// timestamp after `start - offset - range` that is a multiple of the step, through `end - offset`.
pub(crate) fn subquery_range(
    start: i64,
    end: i64,
    offset: i64,
    range: i64,
    step: i64,
) -> (i64, i64) {
    let lo = start - offset - range;
    let mut s = step * (lo / step);
    if s <= lo {
        s += step;
    }
    (s, end - offset)
}

impl<'a> Evaluator<'a> {
    /// The number of steps.
    pub fn n(&self) -> usize {
        ((self.end - self.start) / self.step) as usize + 1
    }

    /// The timestamp of step `i`.
    pub fn ts(&self, i: usize) -> i64 {
        self.start + i as i64 * self.step
    }

    pub fn check_deadline(&self) -> Result<(), QueryError> {
        if Instant::now() > self.deadline {
            return Err(QueryError::Timeout("expression evaluation"));
        }
        Ok(())
    }

    /// The labels of a result whose metric name an operator drops: without the name now, or
    /// kept and flagged under delayed name removal.
    pub fn dropped(&self, l: &Labels) -> (Labels, bool) {
        if self.delayed {
            (l.clone(), true)
        } else {
            (drop_name(l), false)
        }
    }

    /// Adds a warning about the node at `pos`, suffixed with its `(line:col)` as Prometheus
    /// prints annotations.
    pub fn warn(&self, pos: PosRange, msg: String) {
        let msg = self.with_pos(pos, msg);
        self.annos.borrow_mut().warn(msg);
    }

    /// Adds an info annotation about the node at `pos` (see [`Evaluator::warn`]).
    pub fn info(&self, pos: PosRange, msg: String) {
        let msg = self.with_pos(pos, msg);
        self.annos.borrow_mut().info(msg);
    }

    fn with_pos(&self, pos: PosRange, msg: String) -> String {
        if pos.is_known() {
            format!("{msg} ({})", pos.start_pos_input(self.query))
        } else {
            msg
        }
    }

    /// Evaluates `e` at every step, bounding the points any one node may hold.
    pub fn eval(&self, e: &Expr) -> Result<Val, QueryError> {
        self.check_deadline()?;
        let v = self.eval_node(e)?;
        if let Val::Vector(vs) = &v {
            let points: usize = vs.iter().map(|s| s.count_present()).sum();
            if points > self.max_samples {
                return Err(too_many_samples());
            }
        }
        Ok(v)
    }

    fn eval_node(&self, e: &Expr) -> Result<Val, QueryError> {
        match e {
            Expr::NumberLiteral(n) => Ok(Val::Scalar(vec![n.val; self.n()])),
            Expr::StringLiteral(s) => Ok(Val::Str(s.val.clone())),
            Expr::Paren(p) => self.eval(&p.expr),
            Expr::Unary(u) => {
                let v = self.eval(&u.expr)?;
                match v {
                    Val::Scalar(mut s) => {
                        for x in &mut s {
                            *x = -*x;
                        }
                        Ok(Val::Scalar(s))
                    }
                    Val::Vector(vs) => {
                        let mut c = Collector::new(self.n());
                        for s in vs {
                            let (l, d) = self.dropped(&s.labels);
                            let idx = c.index_flag(l, d);
                            for (i, p) in s.vals.iter().enumerate() {
                                if let Some(x) = p {
                                    c.set(idx, i, -x)?;
                                }
                            }
                            for (i, h) in s.hists.iter().enumerate() {
                                if let Some(h) = h {
                                    let mut neg = FloatHistogram::clone(h);
                                    neg.mul(-1.0);
                                    c.set_h(idx, i, Arc::new(neg))?;
                                }
                            }
                        }
                        Ok(Val::Vector(c.finish()))
                    }
                    _ => Err(QueryError::exec(
                        "unary minus applied to a non-numeric value",
                    )),
                }
            }
            Expr::VectorSelector(vs) => Ok(Val::Vector(self.eval_vector_selector(vs)?)),
            Expr::MatrixSelector(ms) => {
                let vs = &ms.vs;
                Ok(Val::Range(RangeVal {
                    series: self.selector_series(vs)?,
                    range: ms.range.as_millis() as i64,
                    offset: offset_ms(&vs.offset),
                    at: at_ms(&vs.at, self.query_start, self.query_end),
                    may_have_stale: true,
                    mode: RangeMode::of(vs.anchored, vs.smoothed),
                    lookback: self.lookback,
                }))
            }
            Expr::Subquery(sq) => self.eval_subquery(sq),
            Expr::Binary(b) => crate::binop::eval_binary(self, b),
            Expr::Aggregate(a) => crate::aggregate::eval_aggregate(self, a),
            Expr::Call(c) => crate::functions::eval_call(self, c),
            Expr::Extension(_) => Err(QueryError::BadData(
                "unsupported expression extension".into(),
            )),
        }
    }

    pub fn selector_series(&self, vs: &VectorSelector) -> Result<Arc<Vec<RawSeries>>, QueryError> {
        self.data
            .get(&node_key(vs))
            .cloned()
            .ok_or_else(|| QueryError::Internal("selector was not loaded before evaluation".into()))
    }

    /// The reference time of step `i` for a node with `offset` and `@` modifiers.
    #[inline]
    pub fn ref_time(&self, i: usize, offset: i64, at: Option<i64>) -> i64 {
        at.unwrap_or_else(|| self.ts(i)) - offset
    }

    fn eval_vector_selector(&self, vs: &VectorSelector) -> Result<Vec<StepSeries>, QueryError> {
        let data = self.selector_series(vs)?;
        let offset = offset_ms(&vs.offset);
        let at = at_ms(&vs.at, self.query_start, self.query_end);
        let n = self.n();
        let mut out = Vec::with_capacity(data.len());
        let mut total = 0usize;
        for s in data.iter() {
            if vs.smoothed {
                // Interpolated between the samples around each step, stale markers dropped.
                let clean = without_stale(&s.samples);
                let vals: Vec<Point> = (0..n)
                    .map(|i| {
                        let t = self.ref_time(i, offset, at);
                        smoothed_value(between(&clean, t - self.lookback, t + self.lookback), t)
                    })
                    .collect();
                if vals.iter().any(|p| p.is_some()) {
                    total += vals.iter().filter(|p| p.is_some()).count();
                    out.push(StepSeries::floats(s.labels.clone(), vals, false));
                }
                continue;
            }
            let mut vals = Vec::with_capacity(n);
            let mut hists: Vec<Option<Hist>> = Vec::new();
            if !s.hists.is_empty() {
                hists.reserve(n);
            }
            let mut any = false;
            // Reference times only grow with the step, so one cursor walks the samples once.
            let samples = &s.samples;
            let hs = &s.hists;
            let (mut idx, mut hidx) = (0usize, 0usize);
            let mut prev = i64::MIN;
            for i in 0..n {
                let t = self.ref_time(i, offset, at);
                if t < prev {
                    idx = 0;
                    hidx = 0;
                }
                prev = t;
                while idx < samples.len() && samples[idx].t <= t {
                    idx += 1;
                }
                while hidx < hs.len() && hs[hidx].t <= t {
                    hidx += 1;
                }
                let f = (idx > 0).then(|| samples[idx - 1]);
                let h = (hidx > 0).then(|| &hs[hidx - 1]);
                // The newest sample of either kind wins.
                let (p, hp) = match (f, h) {
                    (Some(f), Some(h)) if h.t > f.t => (None, Some(h)),
                    (None, Some(h)) => (None, Some(h)),
                    (Some(f), _) => (Some(f), None),
                    (None, None) => (None, None),
                };
                let p = p.and_then(|smp| {
                    (smp.t > t - self.lookback && !is_stale_nan(smp.v)).then_some(smp.v)
                });
                let hp = hp.and_then(|h| (h.t > t - self.lookback).then(|| h.h.clone()));
                any |= p.is_some() || hp.is_some();
                vals.push(p);
                if !hs.is_empty() {
                    hists.push(hp);
                }
            }
            if any {
                let series = StepSeries {
                    labels: s.labels.clone(),
                    vals,
                    hists,
                    drop_name: false,
                };
                total += series.count_present();
                out.push(series);
            }
        }
        if total > self.max_samples {
            return Err(too_many_samples());
        }
        Ok(out)
    }

    /// A child evaluator over other steps (subqueries), sharing data and annotations.
    pub fn child(&self, start: i64, end: i64, step: i64) -> Evaluator<'a> {
        Evaluator {
            data: self.data,
            start,
            end,
            step,
            query_start: self.query_start,
            query_end: self.query_end,
            query_step: self.query_step,
            lookback: self.lookback,
            annos: self.annos,
            delayed: self.delayed,
            deadline: self.deadline,
            max_samples: self.max_samples,
            query: self.query,
        }
    }

    fn eval_subquery(&self, sq: &promql_parser::parser::SubqueryExpr) -> Result<Val, QueryError> {
        let offset = offset_ms(&sq.offset);
        let at = at_ms(&sq.at, self.query_start, self.query_end);
        let range = sq.range.as_millis() as i64;
        let step = sq
            .step
            .map(|d| d.as_millis() as i64)
            .filter(|s| *s > 0)
            .unwrap_or(DEFAULT_SUBQUERY_STEP_MS);
        let (os, oe) = match at {
            Some(a) => (a, a),
            None => (self.start, self.end),
        };
        let (s, e) = subquery_range(os, oe, offset, range, step);
        let mut series = Vec::new();
        if s <= e {
            let child = self.child(s, e, step);
            match child.eval(&sq.expr)? {
                Val::Scalar(vals) => {
                    let samples = vals
                        .iter()
                        .enumerate()
                        .map(|(i, v)| Sample::new(child.ts(i), *v))
                        .collect();
                    series.push(RawSeries {
                        labels: Labels::empty(),
                        samples,
                        hists: Vec::new(),
                        drop_name: false,
                    });
                }
                Val::Vector(vs) => {
                    for s in vs {
                        let samples: Vec<Sample> = s
                            .vals
                            .iter()
                            .enumerate()
                            .filter_map(|(i, p)| p.map(|v| Sample::new(child.ts(i), v)))
                            .collect();
                        let hists: Vec<HPoint> = s
                            .hists
                            .iter()
                            .enumerate()
                            .filter_map(|(i, h)| {
                                h.as_ref().map(|h| HPoint {
                                    t: child.ts(i),
                                    h: unknown_reset_hint(h),
                                })
                            })
                            .collect();
                        if !samples.is_empty() || !hists.is_empty() {
                            series.push(RawSeries {
                                labels: s.labels,
                                samples,
                                hists,
                                drop_name: s.drop_name,
                            });
                        }
                    }
                }
                _ => {
                    return Err(QueryError::exec(
                        "subquery must be over an instant vector or scalar",
                    ))
                }
            }
        }
        let total: usize = series.iter().map(|s| s.samples.len() + s.hists.len()).sum();
        if total > self.max_samples {
            return Err(too_many_samples());
        }
        Ok(Val::Range(RangeVal {
            series: Arc::new(series),
            range,
            offset,
            at,
            may_have_stale: false,
            mode: RangeMode::Plain,
            lookback: self.lookback,
        }))
    }
}

pub(crate) fn too_many_samples() -> QueryError {
    QueryError::exec("query processing would load too many samples into memory in query execution")
}

pub(crate) const SAME_LABELSET: &str = "vector cannot contain metrics with the same labelset";

/// The labels Prometheus drops with the metric name (`schema.IsMetadataLabel`).
pub(crate) const METADATA_LABELS: [&str; 3] = [METRIC_NAME, "__type__", "__unit__"];

/// A copy of `l` without the metric name (and the `__type__`/`__unit__` metadata labels).
pub(crate) fn drop_name(l: &Labels) -> Labels {
    if METADATA_LABELS.iter().any(|n| l.contains(n)) {
        l.without(&METADATA_LABELS)
    } else {
        l.clone()
    }
}

/// Builds output series keyed by labels: hashing each label set once, erroring when two
/// results with the same labels land on the same step (as Prometheus's rangeEval).
pub(crate) struct Collector {
    n: usize,
    index: LabelsMap<usize>,
    series: Vec<StepSeries>,
}

impl Collector {
    pub fn new(n: usize) -> Self {
        Self {
            n,
            index: LabelsMap::default(),
            series: Vec::new(),
        }
    }

    pub fn index(&mut self, labels: Labels) -> usize {
        self.index_flag(labels, false)
    }

    /// The output series for `labels`, flagged for delayed name removal if `drop`.
    pub fn index_flag(&mut self, labels: Labels, drop: bool) -> usize {
        if let Some(&i) = self.index.get(&labels) {
            self.series[i].drop_name |= drop;
            return i;
        }
        let i = self.series.len();
        self.series.push(StepSeries {
            labels: labels.clone(),
            vals: vec![None; self.n],
            hists: Vec::new(),
            drop_name: drop,
        });
        self.index.insert(labels, i);
        i
    }

    pub fn set(&mut self, idx: usize, step: usize, v: f64) -> Result<(), QueryError> {
        let s = &mut self.series[idx];
        if s.present(step) {
            return Err(QueryError::exec(SAME_LABELSET));
        }
        s.vals[step] = Some(v);
        Ok(())
    }

    /// Sets a histogram value; like [`Collector::set`], a second value at one step is an error.
    pub fn set_h(&mut self, idx: usize, step: usize, h: Hist) -> Result<(), QueryError> {
        let s = &mut self.series[idx];
        if s.present(step) {
            return Err(QueryError::exec(SAME_LABELSET));
        }
        s.set_h(step, h);
        Ok(())
    }

    pub fn finish(self) -> Vec<StepSeries> {
        self.series
            .into_iter()
            .filter(|s| s.any_present())
            .collect()
    }
}

/// The window `(ref - range, ref]` of `samples` (sorted by time).
#[inline]
pub(crate) fn window(samples: &[Sample], reft: i64, range: i64) -> &[Sample] {
    let lo = samples.partition_point(|s| s.t <= reft - range);
    let hi = samples.partition_point(|s| s.t <= reft);
    &samples[lo..hi.max(lo)]
}

/// Drops stale markers, which never take part in range computations.
pub(crate) fn without_stale(samples: &[Sample]) -> std::borrow::Cow<'_, [Sample]> {
    if samples.iter().any(|s| is_stale_nan(s.v)) {
        std::borrow::Cow::Owned(
            samples
                .iter()
                .copied()
                .filter(|s| !is_stale_nan(s.v))
                .collect(),
        )
    } else {
        std::borrow::Cow::Borrowed(samples)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subquery_steps_start_after_the_range_start_aligned_to_the_step() {
        // Outer step at 10m, range 5m, step 1m: first inner step after 5m is 6m.
        assert_eq!(
            subquery_range(600_000, 600_000, 0, 300_000, 60_000),
            (360_000, 600_000)
        );
        // Offsets shift both ends.
        assert_eq!(
            subquery_range(600_000, 600_000, 60_000, 300_000, 60_000),
            (300_000, 540_000)
        );
        // Negative starts align as Go's truncating division does.
        assert_eq!(subquery_range(0, 0, 0, 15_000, 10_000), (-10_000, 0));
    }

    #[test]
    fn windows_are_left_open() {
        let s: Vec<Sample> = (0..5).map(|i| Sample::new(i * 10, i as f64)).collect();
        let w = window(&s, 40, 20);
        assert_eq!(w.iter().map(|x| x.t).collect::<Vec<_>>(), vec![30, 40]);
        assert!(window(&s, -5, 10).is_empty());
    }

    #[test]
    fn collector_rejects_two_values_for_one_label_set_at_one_step() {
        let mut c = Collector::new(2);
        let a = c.index(Labels::from_pairs([("a", "1")]));
        let b = c.index(Labels::from_pairs([("a", "1")]));
        assert_eq!(a, b);
        c.set(a, 0, 1.0).expect("first value");
        c.set(a, 1, 2.0).expect("other step");
        assert!(c.set(b, 0, 3.0).is_err());
    }

    #[test]
    fn drop_name_removes_metadata_labels() {
        let l = Labels::from_pairs([("__name__", "x"), ("__type__", "counter"), ("a", "b")]);
        assert_eq!(drop_name(&l), Labels::from_pairs([("a", "b")]));
    }
}

/// An evaluator over one step at time 0 for unit tests of other modules.
#[cfg(test)]
pub(crate) mod tests_support {
    use super::*;

    pub(crate) fn evaluator<'a>(
        data: &'a SelectorData,
        annos: &'a RefCell<Annotations>,
    ) -> Evaluator<'a> {
        Evaluator {
            data,
            start: 0,
            end: 0,
            step: 1,
            query_start: 0,
            query_end: 0,
            query_step: 0,
            lookback: 300_000,
            annos,
            delayed: false,
            deadline: Instant::now() + std::time::Duration::from_secs(60),
            max_samples: 1_000_000,
            query: "",
        }
    }
}
