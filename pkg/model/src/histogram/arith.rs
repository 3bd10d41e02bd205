//! Adding and subtracting float histograms, plain and Kahan-compensated, with Prometheus's
//! bucket-merging rules (`float_histogram.go`: `Add`, `Sub`, `KahanAdd`).

use super::generic::{check_spans, compact_buckets, reduce_resolution};
use super::merge::{
    add_buckets, add_custom_buckets_with_mismatches, intersect_custom_bounds,
    kahan_reduce_resolution,
};
use super::{custom_bucket_bounds_match, CounterResetHint, FloatHistogram, HistogramError, Span};

/// What [`FloatHistogram::add`], [`FloatHistogram::sub`] and [`FloatHistogram::kahan_add`] had
/// to reconcile, for PromQL to turn into annotations.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AddInfo {
    /// One side said `CounterReset`, the other `NotCounterReset`; the result says `Unknown`.
    pub counter_reset_collision: bool,
    /// Custom bounds differed and were reduced to their intersection.
    pub nhcb_bounds_reconciled: bool,
}

/// Kahan–Neumaier step, as Prometheus's `kahansum.Inc`: returns the plain sum and the updated
/// compensation.
pub(crate) fn kahan_inc(inc: f64, sum: f64, c: f64) -> (f64, f64) {
    let t = sum + inc;
    let c = if t.is_infinite() {
        0.0
    } else if sum.abs() >= inc.abs() {
        c + ((sum - t) + inc)
    } else {
        c + ((inc - t) + sum)
    };
    (t, c)
}

/// Positive spans and buckets (and compensations), then negative, after a resolution reduction.
type Reduced = (Vec<Span>, Vec<f64>, Vec<f64>, Vec<Span>, Vec<f64>, Vec<f64>);

/// Positive spans and buckets, then negative, after a resolution reduction.
type ReducedPlain = (Vec<Span>, Vec<f64>, Vec<Span>, Vec<f64>);

impl FloatHistogram {
    /// Adds `other` into `self` (Prometheus's `Add`): reconciles zero thresholds and schemas
    /// (to the coarser), inserts missing buckets, and for custom buckets with different bounds
    /// maps both onto the intersection of the bounds. The result may hold empty buckets or
    /// adjacent spans; call [`Self::compact`] to normalise. `other` is never changed; on error
    /// neither is `self`.
    pub fn add(&mut self, other: &FloatHistogram) -> Result<AddInfo, HistogramError> {
        self.add_or_sub(other, false)
    }

    /// Subtracts `other` from `self`, like [`Self::add`]. PromQL's `-` must set the result's hint
    /// to [`CounterResetHint::Gauge`] afterwards.
    pub fn sub(&mut self, other: &FloatHistogram) -> Result<AddInfo, HistogramError> {
        self.add_or_sub(other, true)
    }

    /// Adds `other` with Kahan compensation (Prometheus's `KahanAdd`, used by PromQL's `sum` and
    /// `avg`). `c` holds the compensation terms from earlier calls in `self`'s layout; pass
    /// `None` the first time and the returned histogram afterwards. The compensated result is
    /// `self.add(&c)` at the end.
    pub fn kahan_add(
        &mut self,
        other: &FloatHistogram,
        c: Option<FloatHistogram>,
    ) -> Result<(FloatHistogram, AddInfo), HistogramError> {
        self.check_compatible(other)?;
        let mut c = match c {
            Some(c)
                if c.positive_buckets.len() == self.positive_buckets.len()
                    && c.negative_buckets.len() == self.negative_buckets.len() =>
            {
                c
            }
            // A compensation histogram out of step with `self` cannot be applied.
            _ => self.new_compensation(),
        };
        let mut info = AddInfo {
            counter_reset_collision: self.adjust_counter_reset(other),
            nhcb_bounds_reconciled: false,
        };
        if !self.uses_custom_buckets() {
            let (oz, ocz) = self.reconcile_zero_buckets(other, Some(&mut c));
            (self.zero_count, c.zero_count) = kahan_inc(oz, self.zero_count, c.zero_count);
            (self.zero_count, c.zero_count) = kahan_inc(ocz, self.zero_count, c.zero_count);
        }
        (self.count, c.count) = kahan_inc(other.count, self.count, c.count);
        (self.sum, c.sum) = kahan_inc(other.sum, self.sum, c.sum);

        if self.uses_custom_buckets() {
            if custom_bucket_bounds_match(&self.custom_values, &other.custom_values) {
                add_buckets(
                    self.schema,
                    self.zero_threshold,
                    false,
                    (&mut self.positive_spans, &mut self.positive_buckets),
                    Some(&mut c.positive_buckets),
                    (&other.positive_spans, &other.positive_buckets),
                    None,
                );
            } else {
                info.nhcb_bounds_reconciled = true;
                let bounds = intersect_custom_bounds(&self.custom_values, &other.custom_values);
                let (spans, buckets, comp) = add_custom_buckets_with_mismatches(
                    false,
                    (
                        &self.positive_spans,
                        &self.positive_buckets,
                        &self.custom_values,
                    ),
                    Some(&c.positive_buckets),
                    (
                        &other.positive_spans,
                        &other.positive_buckets,
                        &other.custom_values,
                    ),
                    &bounds,
                );
                self.positive_spans = spans;
                self.positive_buckets = buckets;
                c.positive_buckets = comp;
                self.custom_values = bounds.clone();
                c.custom_values = bounds;
            }
            c.positive_spans = self.positive_spans.clone();
            return Ok((c, info));
        }

        let mut reduced_other: Option<Reduced> = None;
        if other.schema < self.schema {
            let (ps, pb, pc) = kahan_reduce_resolution(
                &self.positive_spans,
                &self.positive_buckets,
                &c.positive_buckets,
                self.schema,
                other.schema,
            );
            let (ns, nb, nc) = kahan_reduce_resolution(
                &self.negative_spans,
                &self.negative_buckets,
                &c.negative_buckets,
                self.schema,
                other.schema,
            );
            (
                self.positive_spans,
                self.positive_buckets,
                c.positive_buckets,
            ) = (ps, pb, pc);
            (
                self.negative_spans,
                self.negative_buckets,
                c.negative_buckets,
            ) = (ns, nb, nc);
            self.schema = other.schema;
        } else if other.schema > self.schema {
            let reduce = |spans: &[Span], buckets: &[f64]| {
                if buckets.is_empty() {
                    (spans.to_vec(), Vec::new(), Vec::new())
                } else {
                    let zeros = vec![0.0; buckets.len()];
                    kahan_reduce_resolution(spans, buckets, &zeros, other.schema, self.schema)
                }
            };
            let (ps, pb, pc) = reduce(&other.positive_spans, &other.positive_buckets);
            let (ns, nb, nc) = reduce(&other.negative_spans, &other.negative_buckets);
            reduced_other = Some((ps, pb, pc, ns, nb, nc));
        }
        let (ops, opb, opc, ons, onb, onc) = match &reduced_other {
            Some((ps, pb, pc, ns, nb, nc)) => (
                ps.as_slice(),
                pb.as_slice(),
                Some(pc.as_slice()),
                ns.as_slice(),
                nb.as_slice(),
                Some(nc.as_slice()),
            ),
            None => (
                other.positive_spans.as_slice(),
                other.positive_buckets.as_slice(),
                None,
                other.negative_spans.as_slice(),
                other.negative_buckets.as_slice(),
                None,
            ),
        };
        add_buckets(
            self.schema,
            self.zero_threshold,
            false,
            (&mut self.positive_spans, &mut self.positive_buckets),
            Some(&mut c.positive_buckets),
            (ops, opb),
            opc,
        );
        add_buckets(
            self.schema,
            self.zero_threshold,
            false,
            (&mut self.negative_spans, &mut self.negative_buckets),
            Some(&mut c.negative_buckets),
            (ons, onb),
            onc,
        );
        c.schema = self.schema;
        c.zero_threshold = self.zero_threshold;
        c.positive_spans = self.positive_spans.clone();
        c.negative_spans = self.negative_spans.clone();
        Ok((c, info))
    }

    /// Both exponential or both custom, and spans consistent with buckets (Prometheus would
    /// panic on the latter; Strata refuses before changing anything).
    fn check_compatible(&self, other: &FloatHistogram) -> Result<(), HistogramError> {
        if self.uses_custom_buckets() != other.uses_custom_buckets() {
            return Err(HistogramError::IncompatibleSchema);
        }
        for h in [self, other] {
            check_spans(
                "positive side: ",
                &h.positive_spans,
                h.positive_buckets.len(),
            )?;
            check_spans(
                "negative side: ",
                &h.negative_spans,
                h.negative_buckets.len(),
            )?;
        }
        Ok(())
    }

    /// A zero compensation histogram in `self`'s layout.
    fn new_compensation(&self) -> FloatHistogram {
        FloatHistogram {
            counter_reset_hint: self.counter_reset_hint,
            schema: self.schema,
            zero_threshold: self.zero_threshold,
            custom_values: self.custom_values.clone(),
            positive_spans: self.positive_spans.clone(),
            positive_buckets: vec![0.0; self.positive_buckets.len()],
            negative_spans: self.negative_spans.clone(),
            negative_buckets: if self.uses_custom_buckets() {
                Vec::new()
            } else {
                vec![0.0; self.negative_buckets.len()]
            },
            ..Default::default()
        }
    }

    fn add_or_sub(
        &mut self,
        other: &FloatHistogram,
        negative: bool,
    ) -> Result<AddInfo, HistogramError> {
        self.check_compatible(other)?;
        let mut info = AddInfo {
            counter_reset_collision: self.adjust_counter_reset(other),
            nhcb_bounds_reconciled: false,
        };
        let sign = if negative { -1.0 } else { 1.0 };
        if !self.uses_custom_buckets() {
            let (other_zero, _) = self.reconcile_zero_buckets(other, None);
            self.zero_count += sign * other_zero;
        }
        self.count += sign * other.count;
        self.sum += sign * other.sum;

        if self.uses_custom_buckets() {
            if custom_bucket_bounds_match(&self.custom_values, &other.custom_values) {
                add_buckets(
                    self.schema,
                    self.zero_threshold,
                    negative,
                    (&mut self.positive_spans, &mut self.positive_buckets),
                    None,
                    (&other.positive_spans, &other.positive_buckets),
                    None,
                );
            } else {
                info.nhcb_bounds_reconciled = true;
                let bounds = intersect_custom_bounds(&self.custom_values, &other.custom_values);
                let (spans, buckets, _) = add_custom_buckets_with_mismatches(
                    negative,
                    (
                        &self.positive_spans,
                        &self.positive_buckets,
                        &self.custom_values,
                    ),
                    None,
                    (
                        &other.positive_spans,
                        &other.positive_buckets,
                        &other.custom_values,
                    ),
                    &bounds,
                );
                self.positive_spans = spans;
                self.positive_buckets = buckets;
                self.custom_values = bounds;
            }
            return Ok(info);
        }

        let mut reduced_other: Option<ReducedPlain> = None;
        if other.schema < self.schema {
            let (ps, pb) = reduce_resolution(
                &self.positive_spans,
                &self.positive_buckets,
                self.schema,
                other.schema,
                false,
            )?;
            let (ns, nb) = reduce_resolution(
                &self.negative_spans,
                &self.negative_buckets,
                self.schema,
                other.schema,
                false,
            )?;
            (self.positive_spans, self.positive_buckets) = (ps, pb);
            (self.negative_spans, self.negative_buckets) = (ns, nb);
            self.schema = other.schema;
        } else if other.schema > self.schema {
            let (ps, pb) = reduce_resolution(
                &other.positive_spans,
                &other.positive_buckets,
                other.schema,
                self.schema,
                false,
            )?;
            let (ns, nb) = reduce_resolution(
                &other.negative_spans,
                &other.negative_buckets,
                other.schema,
                self.schema,
                false,
            )?;
            reduced_other = Some((ps, pb, ns, nb));
        }
        let (ops, opb, ons, onb): (&[Span], &[f64], &[Span], &[f64]) = match &reduced_other {
            Some((ps, pb, ns, nb)) => (ps, pb, ns, nb),
            None => (
                &other.positive_spans,
                &other.positive_buckets,
                &other.negative_spans,
                &other.negative_buckets,
            ),
        };
        add_buckets(
            self.schema,
            self.zero_threshold,
            negative,
            (&mut self.positive_spans, &mut self.positive_buckets),
            None,
            (ops, opb),
            None,
        );
        add_buckets(
            self.schema,
            self.zero_threshold,
            negative,
            (&mut self.negative_spans, &mut self.negative_buckets),
            None,
            (ons, onb),
            None,
        );
        Ok(info)
    }

    /// Sets the hint for a sum or difference; returns true on a CounterReset/NotCounterReset
    /// collision (the hint becomes Unknown).
    fn adjust_counter_reset(&mut self, other: &FloatHistogram) -> bool {
        use CounterResetHint::*;
        let (a, b) = (self.counter_reset_hint, other.counter_reset_hint);
        match () {
            _ if a == b => false,
            _ if a == Gauge => false,
            _ if b == Gauge => {
                self.counter_reset_hint = Gauge;
                false
            }
            _ if a == Unknown => false,
            _ if b == Unknown => {
                self.counter_reset_hint = Unknown;
                false
            }
            _ => {
                self.counter_reset_hint = Unknown;
                true
            }
        }
    }

    /// Widens the zero buckets of `self` (and `c` with it) and, virtually, `other` to a common
    /// threshold that does not cut a populated bucket; returns `other`'s zero count at that
    /// threshold and the compensation term of summing it.
    fn reconcile_zero_buckets(
        &mut self,
        other: &FloatHistogram,
        mut c: Option<&mut FloatHistogram>,
    ) -> (f64, f64) {
        let mut other_zero_count = other.zero_count;
        let mut other_c = 0.0;
        let mut other_threshold = other.zero_threshold;
        // Each round only widens; the bound guards against NaN thresholds.
        for _ in 0..10_000 {
            if other_threshold == self.zero_threshold
                || self.zero_threshold.is_nan()
                || other_threshold.is_nan()
            {
                break;
            }
            if self.zero_threshold > other_threshold {
                (other_zero_count, other_threshold, other_c) =
                    other.zero_count_for_larger_threshold(self.zero_threshold, None);
            }
            if other_threshold > self.zero_threshold {
                let (zc, zt, czc) =
                    self.zero_count_for_larger_threshold(other_threshold, c.as_deref());
                self.zero_count = zc;
                self.zero_threshold = zt;
                if let Some(c) = c.as_deref_mut() {
                    c.zero_count = czc;
                }
                self.trim_buckets_in_zero_bucket(c.as_deref_mut());
            }
        }
        (other_zero_count, other_c)
    }

    /// The zero count if the threshold were `larger` (with its Kahan compensation, seeded from
    /// `c`), and the threshold actually needed: if `larger` falls inside a populated bucket, it
    /// grows to that bucket's outer bound.
    pub(crate) fn zero_count_for_larger_threshold(
        &self,
        mut larger: f64,
        c: Option<&FloatHistogram>,
    ) -> (f64, f64, f64) {
        let mut czc = c.map_or(0.0, |c| c.zero_count);
        // Prometheus panics for a smaller threshold; callers never ask for one.
        if larger <= self.zero_threshold || larger.is_nan() {
            return (self.zero_count, self.zero_threshold, czc);
        }
        'outer: loop {
            let mut zc = self.zero_count;
            for (i, b) in self.positive_buckets_iter().enumerate() {
                if b.lower >= larger {
                    break;
                }
                (zc, czc) = kahan_inc(b.count, zc, czc);
                if let Some(cb) = c.and_then(|c| c.positive_buckets.get(i)) {
                    (zc, czc) = kahan_inc(*cb, zc, czc);
                }
                if b.upper > larger {
                    if b.count != 0.0 {
                        larger = b.upper;
                    }
                    break;
                }
            }
            for (i, b) in self.negative_buckets_iter().enumerate() {
                if b.upper <= -larger {
                    break;
                }
                (zc, czc) = kahan_inc(b.count, zc, czc);
                if let Some(cb) = c.and_then(|c| c.negative_buckets.get(i)) {
                    (zc, czc) = kahan_inc(*cb, zc, czc);
                }
                if b.lower < -larger {
                    if b.count != 0.0 {
                        larger = -b.lower;
                        continue 'outer;
                    }
                    break;
                }
            }
            return (zc, larger, czc);
        }
    }

    /// Drops buckets inside the zero bucket (their counts already moved into the zero count),
    /// keeping `c` aligned.
    fn trim_buckets_in_zero_bucket(&mut self, mut c: Option<&mut FloatHistogram>) {
        let zt = self.zero_threshold;
        let n = self
            .positive_buckets_iter()
            .take_while(|b| b.lower < zt)
            .count();
        self.positive_buckets
            .iter_mut()
            .take(n)
            .for_each(|b| *b = 0.0);
        if let Some(c) = c.as_deref_mut() {
            c.positive_buckets.iter_mut().take(n).for_each(|b| *b = 0.0);
        }
        let n = self
            .negative_buckets_iter()
            .take_while(|b| b.upper > -zt)
            .count();
        self.negative_buckets
            .iter_mut()
            .take(n)
            .for_each(|b| *b = 0.0);
        match c {
            Some(c) => {
                c.negative_buckets.iter_mut().take(n).for_each(|b| *b = 0.0);
                compact_buckets(
                    &mut self.positive_buckets,
                    Some(&mut c.positive_buckets),
                    &mut self.positive_spans,
                    0,
                    false,
                );
                compact_buckets(
                    &mut self.negative_buckets,
                    Some(&mut c.negative_buckets),
                    &mut self.negative_spans,
                    0,
                    false,
                );
                c.positive_spans = self.positive_spans.clone();
                c.negative_spans = self.negative_spans.clone();
            }
            None => {
                self.compact(0);
            }
        }
    }
}
