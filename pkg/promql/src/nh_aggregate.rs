//! The native histogram side of aggregations, kept beside [`crate::aggregate`]'s float
//! state: `sum` and `avg` add histograms (Kahan-compensated), `count` and `group` count them,
//! and `min`, `max`, `stddev`, `stdvar` and `quantile` ignore them with an info annotation,
//! as Prometheus 3. A `sum`/`avg` group holding floats and histograms at one step yields
//! nothing, with a warning; so does a group mixing exponential and custom buckets.

use std::sync::Arc;

use promql_parser::parser::AggregateExpr;
use strata_model::histogram::{CounterResetHint, FloatHistogram, HistogramError};

use crate::aggregate::Agg;
use crate::eval::{Evaluator, Hist, StepSeries};

#[derive(Default)]
struct State {
    /// `avg`: the running mean.
    mean: Option<HistMean>,
    sum: Option<FloatHistogram>,
    comp: Option<FloatHistogram>,
    count: f64,
    has_float: bool,
    incompatible: bool,
    reset_seen: bool,
    not_reset_seen: bool,
}

/// What a group yields at a step once histograms are accounted for.
pub(crate) enum Finish {
    /// A histogram result.
    Hist(Hist),
    /// `count`/`group`: this many histograms, to add to the float count.
    Count(f64),
    /// Nothing (mixed or incompatible input).
    Drop,
    /// No histograms involved: the float result stands.
    Floats,
}

/// Per-group histogram state for one step.
pub(crate) struct HistGroups {
    st: Vec<State>,
}

impl HistGroups {
    pub(crate) fn new(ngroups: usize) -> Self {
        Self {
            st: (0..ngroups).map(|_| State::default()).collect(),
        }
    }

    /// Folds the histograms of step `i` into their groups.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn step(
        &mut self,
        ev: &Evaluator,
        op: Agg,
        a: &AggregateExpr,
        input: &[StepSeries],
        group_of: &[usize],
        i: usize,
        _seen: &mut [bool],
    ) {
        for s in self.st.iter_mut() {
            *s = State::default();
        }
        let incompatible = |ev: &Evaluator, e: &HistogramError, s: &StepSeries| {
            if matches!(e, HistogramError::IncompatibleSchema) {
                ev.warn(a.expr.pos(), format!(
                    "PromQL warning: vector contains a mix of histograms with exponential and custom buckets schemas for metric name {:?}",
                    s.labels.metric_name().unwrap_or("")
                ));
            }
        };
        for (si, s) in input.iter().enumerate() {
            let Some(h) = s.h(i) else { continue };
            let g = &mut self.st[group_of[si]];
            match op {
                Agg::Sum | Agg::Avg => {
                    g.count += 1.0;
                    match h.counter_reset_hint {
                        CounterResetHint::CounterReset => g.reset_seen = true,
                        CounterResetHint::NotCounterReset => g.not_reset_seen = true,
                        _ => {}
                    }
                    if g.incompatible {
                        continue;
                    }
                    if op == Agg::Avg {
                        match g.mean.as_mut() {
                            None => g.mean = Some(HistMean::new(h)),
                            Some(m) => match m.add(h) {
                                Ok(true) => ev.info(a.expr.pos(), "PromQL info: mismatched custom buckets were reconciled during aggregation".into()),
                                Ok(false) => {}
                                Err(e) => {
                                    incompatible(ev, &e, s);
                                    g.incompatible = true;
                                }
                            },
                        }
                        continue;
                    }
                    let Some(sum) = g.sum.as_mut() else {
                        g.sum = Some(FloatHistogram::clone(h));
                        continue;
                    };
                    match sum.kahan_add(h, g.comp.take()) {
                        Ok((c, info)) => {
                            g.comp = Some(c);
                            if info.nhcb_bounds_reconciled {
                                ev.info(a.expr.pos(), "PromQL info: mismatched custom buckets were reconciled during aggregation".into());
                            }
                        }
                        Err(e) => {
                            incompatible(ev, &e, s);
                            g.incompatible = true;
                        }
                    }
                }
                Agg::Count | Agg::Group => g.count += 1.0,
                Agg::Min | Agg::Max | Agg::Stddev | Agg::Stdvar | Agg::Quantile => {
                    let name = match op {
                        Agg::Min => "min",
                        Agg::Max => "max",
                        Agg::Stddev => "stddev",
                        Agg::Stdvar => "stdvar",
                        _ => "quantile",
                    };
                    ev.info(
                        a.expr.pos(),
                        format!("PromQL info: ignored histogram in {name} aggregation"),
                    );
                }
                _ => {}
            }
        }
    }

    /// Whether a float of group `g` must be kept out of the float state (it meets histograms
    /// in a `sum`/`avg`); records the mix.
    pub(crate) fn mixed_float(&mut self, g: usize, op: Agg) -> bool {
        let st = &mut self.st[g];
        if matches!(op, Agg::Sum | Agg::Avg) && st.count > 0.0 {
            st.has_float = true;
            return true;
        }
        false
    }

    /// The histogram side of group `g`'s result; `float_seen` tells whether floats were folded.
    pub(crate) fn finish(
        &mut self,
        ev: &Evaluator,
        op: Agg,
        a: &AggregateExpr,
        g: usize,
        float_seen: bool,
    ) -> Finish {
        let st = &mut self.st[g];
        if st.count == 0.0 {
            return Finish::Floats;
        }
        match op {
            Agg::Count | Agg::Group => Finish::Count(st.count),
            Agg::Sum | Agg::Avg => {
                if st.has_float || float_seen {
                    ev.warn(
                        a.expr.pos(),
                        "PromQL warning: encountered a mix of histograms and floats for aggregation"
                            .into(),
                    );
                    return Finish::Drop;
                }
                if st.incompatible {
                    return Finish::Drop;
                }
                if st.reset_seen && st.not_reset_seen {
                    ev.warn(
                        a.expr.pos(),
                        "PromQL warning: conflicting counter resets during histogram aggregation"
                            .into(),
                    );
                }
                if op == Agg::Avg {
                    return match st.mean.take().map(HistMean::finish) {
                        Some(Ok(m)) => Finish::Hist(Arc::new(m)),
                        _ => Finish::Drop,
                    };
                }
                let Some(mut sum) = st.sum.take() else {
                    return Finish::Drop;
                };
                if let Some(c) = st.comp.take() {
                    if sum.add(&c).is_err() {
                        return Finish::Drop;
                    }
                }
                sum.compact(0);
                Finish::Hist(Arc::new(sum))
            }
            _ => Finish::Floats,
        }
    }
}

/// A running mean of histograms as Prometheus computes `avg` and `avg_over_time`: a
/// Kahan-compensated sum divided at the end, switching to an incremental mean once the sum
/// would overflow.
pub(crate) struct HistMean {
    sum: FloatHistogram,
    comp: Option<FloatHistogram>,
    mean: Option<FloatHistogram>,
    count: f64,
}

impl HistMean {
    /// Starts with one histogram.
    pub(crate) fn new(h: &FloatHistogram) -> Self {
        Self {
            sum: h.clone(),
            comp: None,
            mean: None,
            count: 1.0,
        }
    }

    /// Adds a histogram; returns whether custom bounds were reconciled.
    pub(crate) fn add(&mut self, h: &FloatHistogram) -> Result<bool, HistogramError> {
        self.count += 1.0;
        let n = self.count;
        if self.mean.is_none() {
            let mut v = self.sum.clone();
            let (c, info) = v.kahan_add(h, self.comp.clone())?;
            if !v.has_overflow() {
                self.sum = v;
                self.comp = Some(c);
                return Ok(info.nhcb_bounds_reconciled);
            }
            let mut m = self.sum.clone();
            m.div(n - 1.0);
            self.mean = Some(m);
            if let Some(c) = self.comp.as_mut() {
                c.div(n - 1.0);
            }
        }
        let q = (n - 1.0) / n;
        if let Some(c) = self.comp.as_mut() {
            c.mul(q);
        }
        let mut to_add = h.clone();
        to_add.div(n);
        let Some(mean) = self.mean.as_mut() else {
            return Ok(false);
        };
        mean.mul(q);
        let (c, info) = mean.kahan_add(&to_add, self.comp.take())?;
        self.comp = Some(c);
        Ok(info.nhcb_bounds_reconciled)
    }

    /// The mean, compacted.
    pub(crate) fn finish(self) -> Result<FloatHistogram, HistogramError> {
        let mut out = match self.mean {
            Some(mut m) => {
                if let Some(c) = &self.comp {
                    m.add(c)?;
                }
                m
            }
            None => {
                let mut s = self.sum;
                s.div(self.count);
                if let Some(mut c) = self.comp {
                    c.div(self.count);
                    s.add(&c)?;
                }
                s
            }
        };
        out.compact(0);
        Ok(out)
    }
}
