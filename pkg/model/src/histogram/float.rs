//! The float histogram: absolute float counts, and the arithmetic PromQL needs.

use super::generic::{
    check_buckets, check_custom_bounds, check_spans, compact_buckets, reduce_resolution,
};
use super::iter::{AllBucketIter, FloatBucketIter, ReverseFloatBucketIter};
use super::{
    custom_bucket_bounds_match, fmt_g, is_custom_buckets_schema, is_exponential_schema,
    spans_match, Bucket, CounterResetHint, HistogramError, Span,
};

/// A native histogram with float counts and absolute (not delta-encoded) buckets, as PromQL
/// computes with and as stored in chunks of encoding 3.
#[derive(Clone, Debug, Default)]
pub struct FloatHistogram {
    /// What this histogram says about counter resets.
    pub counter_reset_hint: CounterResetHint,
    /// Bucket resolution; see the module docs.
    pub schema: i32,
    /// Width of the zero bucket.
    pub zero_threshold: f64,
    /// Observations in the zero bucket.
    pub zero_count: f64,
    /// Total observations.
    pub count: f64,
    /// Sum of observations.
    pub sum: f64,
    /// Spans of the positive buckets.
    pub positive_spans: Vec<Span>,
    /// Spans of the negative buckets.
    pub negative_spans: Vec<Span>,
    /// Positive bucket counts, absolute.
    pub positive_buckets: Vec<f64>,
    /// Negative bucket counts, absolute.
    pub negative_buckets: Vec<f64>,
    /// Upper bounds of custom buckets (schema -53 only).
    pub custom_values: Vec<f64>,
}

impl PartialEq for FloatHistogram {
    /// Prometheus's `Equals` (floats compared by bits, the hint ignored).
    fn eq(&self, other: &Self) -> bool {
        self.equals(other)
    }
}

impl FloatHistogram {
    /// Tells whether this histogram uses custom bucket bounds (schema -53).
    pub fn uses_custom_buckets(&self) -> bool {
        is_custom_buckets_schema(self.schema)
    }

    /// Checks spans against buckets, negative counts and the custom-bucket rules, with
    /// Prometheus's messages. Unlike [`super::Histogram::validate`], the count is not compared
    /// with the buckets (float rounding would give false alarms).
    pub fn validate(&self) -> Result<(), HistogramError> {
        if self.uses_custom_buckets() {
            check_custom_bounds(
                &self.custom_values,
                &self.positive_spans,
                self.positive_buckets.len(),
            )?;
            if self.zero_count != 0.0 {
                return Err(HistogramError::CustomBucketsZeroCount);
            }
            if self.zero_threshold != 0.0 {
                return Err(HistogramError::CustomBucketsZeroThreshold);
            }
            if !self.negative_spans.is_empty() {
                return Err(HistogramError::CustomBucketsNegativeSpans);
            }
            if !self.negative_buckets.is_empty() {
                return Err(HistogramError::CustomBucketsNegativeBuckets);
            }
        } else if is_exponential_schema(self.schema) {
            check_spans(
                "positive side: ",
                &self.positive_spans,
                self.positive_buckets.len(),
            )?;
            check_spans(
                "negative side: ",
                &self.negative_spans,
                self.negative_buckets.len(),
            )?;
            check_buckets("negative side: ", &self.negative_buckets, false, |_| {})?;
            if self.zero_count < 0.0 {
                return Err(HistogramError::NegativeZeroCount(self.zero_count));
            }
            if !self.custom_values.is_empty() {
                return Err(HistogramError::ExponentialSchemaCustomBounds);
            }
        } else {
            return Err(HistogramError::InvalidSchema(self.schema));
        }
        if self.count < 0.0 {
            return Err(HistogramError::NegativeCount(self.count));
        }
        check_buckets("positive side: ", &self.positive_buckets, false, |_| {})
    }

    /// The zero bucket, `[-zero_threshold, zero_threshold]`.
    pub fn zero_bucket(&self) -> Bucket<f64> {
        Bucket {
            lower: -self.zero_threshold,
            upper: self.zero_threshold,
            lower_inclusive: true,
            upper_inclusive: true,
            count: self.zero_count,
            index: 0,
        }
    }

    /// Positive buckets in ascending order.
    pub fn positive_buckets_iter(&self) -> FloatBucketIter<'_> {
        FloatBucketIter::new(self, true, 0.0, self.schema)
    }

    /// Negative buckets from zero downwards.
    pub fn negative_buckets_iter(&self) -> FloatBucketIter<'_> {
        FloatBucketIter::new(self, false, 0.0, self.schema)
    }

    /// Positive buckets from the highest down.
    pub fn positive_reverse_buckets_iter(&self) -> ReverseFloatBucketIter<'_> {
        ReverseFloatBucketIter::new(
            &self.positive_spans,
            &self.positive_buckets,
            self.schema,
            true,
            &self.custom_values,
        )
    }

    /// Negative buckets from the lowest up towards zero.
    pub fn negative_reverse_buckets_iter(&self) -> ReverseFloatBucketIter<'_> {
        ReverseFloatBucketIter::new(
            &self.negative_spans,
            &self.negative_buckets,
            self.schema,
            false,
            &[],
        )
    }

    /// All buckets (negative, zero if populated, positive) in ascending order.
    pub fn all_buckets_iter(&self) -> AllBucketIter<'_> {
        AllBucketIter::new(self, false)
    }

    /// All buckets in descending order.
    pub fn all_reverse_buckets_iter(&self) -> AllBucketIter<'_> {
        AllBucketIter::new(self, true)
    }

    /// Scales counts, zero count, sum and buckets by `factor`; a negative factor makes it a
    /// gauge. Returns `self`.
    pub fn mul(&mut self, factor: f64) -> &mut Self {
        self.zero_count *= factor;
        self.count *= factor;
        self.sum *= factor;
        self.positive_buckets.iter_mut().for_each(|b| *b *= factor);
        self.negative_buckets.iter_mut().for_each(|b| *b *= factor);
        if factor < 0.0 {
            self.counter_reset_hint = CounterResetHint::Gauge;
        }
        self
    }

    /// Divides like [`Self::mul`] multiplies; dividing by zero removes all buckets.
    pub fn div(&mut self, scalar: f64) -> &mut Self {
        self.zero_count /= scalar;
        self.count /= scalar;
        self.sum /= scalar;
        if scalar == 0.0 {
            self.positive_buckets.clear();
            self.negative_buckets.clear();
            self.positive_spans.clear();
            self.negative_spans.clear();
            return self;
        }
        self.positive_buckets.iter_mut().for_each(|b| *b /= scalar);
        self.negative_buckets.iter_mut().for_each(|b| *b /= scalar);
        if scalar < 0.0 {
            self.counter_reset_hint = CounterResetHint::Gauge;
        }
        self
    }

    /// Prometheus's `Equals`: schema, count, sum, zero bucket and buckets (floats by bits), custom
    /// bounds, and the same bucket layout; the counter reset hint is ignored.
    pub fn equals(&self, o: &FloatHistogram) -> bool {
        let bits = |a: &[f64], b: &[f64]| {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
        };
        if self.schema != o.schema
            || self.count.to_bits() != o.count.to_bits()
            || self.sum.to_bits() != o.sum.to_bits()
        {
            return false;
        }
        if self.uses_custom_buckets()
            && !custom_bucket_bounds_match(&self.custom_values, &o.custom_values)
        {
            return false;
        }
        self.zero_threshold == o.zero_threshold
            && self.zero_count.to_bits() == o.zero_count.to_bits()
            && spans_match(&self.negative_spans, &o.negative_spans)
            && bits(&self.negative_buckets, &o.negative_buckets)
            && spans_match(&self.positive_spans, &o.positive_spans)
            && bits(&self.positive_buckets, &o.positive_buckets)
    }

    /// Removes empty buckets at span edges and runs of more than `max_empty_buckets` inside spans,
    /// and merges spans at most that far apart (Prometheus's `Compact`). Returns `self`.
    pub fn compact(&mut self, max_empty_buckets: usize) -> &mut Self {
        compact_buckets(
            &mut self.positive_buckets,
            None,
            &mut self.positive_spans,
            max_empty_buckets,
            false,
        );
        compact_buckets(
            &mut self.negative_buckets,
            None,
            &mut self.negative_spans,
            max_empty_buckets,
            false,
        );
        self
    }

    /// Lowers the resolution to `target_schema`, merging buckets.
    pub fn reduce_resolution(&mut self, target_schema: i32) -> Result<(), HistogramError> {
        if self.uses_custom_buckets() {
            return Err(HistogramError::ReduceResolution(
                "cannot reduce resolution when there are custom buckets".into(),
            ));
        }
        if is_custom_buckets_schema(target_schema) {
            return Err(HistogramError::ReduceResolution(
                "cannot reduce resolution to custom buckets schema".into(),
            ));
        }
        if target_schema >= self.schema {
            return Err(HistogramError::ReduceResolution(format!(
                "cannot reduce resolution from schema {} to {}",
                self.schema, target_schema
            )));
        }
        let (ps, pb) = reduce_resolution(
            &self.positive_spans,
            &self.positive_buckets,
            self.schema,
            target_schema,
            false,
        )?;
        let (ns, nb) = reduce_resolution(
            &self.negative_spans,
            &self.negative_buckets,
            self.schema,
            target_schema,
            false,
        )?;
        self.positive_spans = ps;
        self.positive_buckets = pb;
        self.negative_spans = ns;
        self.negative_buckets = nb;
        self.schema = target_schema;
        Ok(())
    }

    /// Tells whether a count, the sum, a bucket or a custom bound is infinite.
    pub fn has_overflow(&self) -> bool {
        [self.zero_count, self.count, self.sum]
            .iter()
            .chain(&self.positive_buckets)
            .chain(&self.negative_buckets)
            .chain(&self.custom_values)
            .any(|v| v.is_infinite())
    }

    /// Tells whether `self` follows a counter reset relative to `previous` (Prometheus's
    /// `DetectReset`): honours the hint if it is CounterReset or NotCounterReset; otherwise a
    /// smaller count, zero count or bucket, a populated bucket gone, a higher resolution or a
    /// smaller zero threshold mean a reset. The sum is not considered.
    pub fn detect_reset(&self, previous: &FloatHistogram) -> bool {
        match self.counter_reset_hint {
            CounterResetHint::CounterReset => return true,
            CounterResetHint::NotCounterReset => return false,
            _ => {}
        }
        if self.count < previous.count {
            return true;
        }
        if self.uses_custom_buckets() {
            if !previous.uses_custom_buckets() {
                return true;
            }
            if !custom_bucket_bounds_match(&self.custom_values, &previous.custom_values) {
                return self.detect_reset_with_mismatched_custom_bounds(previous);
            }
        }
        if self.schema > previous.schema {
            return true;
        }
        if self.zero_threshold < previous.zero_threshold {
            return true;
        }
        let (prev_zero, new_threshold, _) =
            previous.zero_count_for_larger_threshold(self.zero_threshold, None);
        if new_threshold != self.zero_threshold {
            return true;
        }
        if self.zero_count < prev_zero {
            return true;
        }
        for positive in [true, false] {
            let curr = FloatBucketIter::new(self, positive, self.zero_threshold, self.schema);
            let prev = FloatBucketIter::new(previous, positive, self.zero_threshold, self.schema);
            if detect_bucket_reset(curr, prev) {
                return true;
            }
        }
        false
    }

    /// Reset detection for custom-bucket histograms with different bounds: compares cumulative
    /// counts at each bound both have.
    fn detect_reset_with_mismatched_custom_bounds(&self, previous: &FloatHistogram) -> bool {
        // Sums of bucket counts up to each shared bound, rolling up buckets in between.
        fn rollup(it: &mut std::iter::Peekable<FloatBucketIter<'_>>, bound: f64) -> f64 {
            let mut sum = 0.0;
            while let Some(b) = it.next_if(|b| b.upper <= bound) {
                sum += b.count;
            }
            sum
        }
        let cb = &self.custom_values;
        let pb = &previous.custom_values;
        let mut curr = self.positive_buckets_iter().peekable();
        let mut prev = previous.positive_buckets_iter().peekable();
        let (mut ci, mut pi) = (0usize, 0usize);
        while ci <= cb.len() && pi <= pb.len() {
            let c = cb.get(ci).copied().unwrap_or(f64::INFINITY);
            let p = pb.get(pi).copied().unwrap_or(f64::INFINITY);
            if c == p {
                if rollup(&mut curr, c) < rollup(&mut prev, c) {
                    return true;
                }
                ci += 1;
                pi += 1;
            } else if c < p {
                ci += 1;
            } else {
                pi += 1;
            }
        }
        false
    }
}

/// Compares buckets of the current and previous histogram (same target schema).
fn detect_bucket_reset(mut curr: FloatBucketIter<'_>, mut prev: FloatBucketIter<'_>) -> bool {
    let Some(mut p) = prev.next_stripped() else {
        return false;
    };
    let Some(mut c) = curr.next_stripped() else {
        // Any populated bucket in prev is gone.
        return p.1 != 0.0 || std::iter::from_fn(|| prev.next_stripped()).any(|b| b.1 != 0.0);
    };
    loop {
        while c.0 < p.0 {
            match curr.next_stripped() {
                Some(n) => c = n,
                None => {
                    return p.1 != 0.0
                        || std::iter::from_fn(|| prev.next_stripped()).any(|b| b.1 != 0.0);
                }
            }
        }
        if c.0 > p.0 {
            if p.1 != 0.0 {
                return true;
            }
        } else if c.1 < p.1 {
            return true;
        }
        match prev.next_stripped() {
            Some(n) => p = n,
            None => return false,
        }
    }
}

impl std::fmt::Display for FloatHistogram {
    /// Prometheus's `String()`: `{count:N, sum:S, <populated buckets low to high>}`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{{count:{}, sum:{}", fmt_g(self.count), fmt_g(self.sum))?;
        let neg: Vec<Bucket<f64>> = self
            .negative_buckets_iter()
            .filter(|b| b.count != 0.0)
            .collect();
        for b in neg.iter().rev() {
            write!(f, ", {}", FmtBucket(b))?;
        }
        if self.zero_count != 0.0 {
            write!(f, ", {}", FmtBucket(&self.zero_bucket()))?;
        }
        for b in self.positive_buckets_iter().filter(|b| b.count != 0.0) {
            write!(f, ", {}", FmtBucket(&b))?;
        }
        write!(f, "}}")
    }
}

/// Formats a float bucket with `%g`-style numbers.
struct FmtBucket<'a>(&'a Bucket<f64>);

impl std::fmt::Display for FmtBucket<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let b = self.0;
        write!(
            f,
            "{}{},{}{}:{}",
            if b.lower_inclusive { '[' } else { '(' },
            fmt_g(b.lower),
            fmt_g(b.upper),
            if b.upper_inclusive { ']' } else { ')' },
            fmt_g(b.count)
        )
    }
}
