//! The integer histogram: counts as `u64`, buckets delta-encoded.

use super::generic::{check_buckets, check_custom_bounds, check_spans, compact_buckets};
use super::{
    custom_bucket_bounds_match, is_custom_buckets_schema, is_exponential_schema, spans_match,
    Bucket, BucketIter, CounterResetHint, FloatHistogram, HistogramError, Span,
};

/// A native histogram with integer counts, as scraped and as stored in chunks of encoding 2.
///
/// Bucket slices hold deltas: the first bucket's count, then each bucket's count minus the
/// previous bucket's (across span gaps). For [`super::CUSTOM_BUCKETS_SCHEMA`], the zero bucket and
/// negative side are unused and `custom_values` holds the upper bounds (the last bucket's upper
/// bound, +Inf, is implicit).
#[derive(Clone, Debug, Default)]
pub struct Histogram {
    /// What this histogram says about counter resets.
    pub counter_reset_hint: CounterResetHint,
    /// Bucket resolution; see the module docs.
    pub schema: i32,
    /// Width of the zero bucket (observations with `|v| <= zero_threshold`).
    pub zero_threshold: f64,
    /// Observations in the zero bucket.
    pub zero_count: u64,
    /// Total observations.
    pub count: u64,
    /// Sum of observations.
    pub sum: f64,
    /// Spans of the positive buckets.
    pub positive_spans: Vec<Span>,
    /// Spans of the negative buckets.
    pub negative_spans: Vec<Span>,
    /// Positive bucket counts, delta-encoded.
    pub positive_buckets: Vec<i64>,
    /// Negative bucket counts, delta-encoded.
    pub negative_buckets: Vec<i64>,
    /// Upper bounds of custom buckets (schema -53 only).
    pub custom_values: Vec<f64>,
}

impl PartialEq for Histogram {
    /// Prometheus's `Equals`: data equality (the sum compared by bits), ignoring the counter
    /// reset hint and zero-length spans.
    fn eq(&self, other: &Self) -> bool {
        self.equals(other)
    }
}

impl Histogram {
    /// Tells whether this histogram uses custom bucket bounds (schema -53).
    pub fn uses_custom_buckets(&self) -> bool {
        is_custom_buckets_schema(self.schema)
    }

    /// Checks spans against buckets, negative counts, the count against the buckets, and the
    /// custom-bucket rules, with Prometheus's error messages.
    pub fn validate(&self) -> Result<(), HistogramError> {
        let mut n_count: u64 = 0;
        let mut p_count: u64 = 0;
        if self.uses_custom_buckets() {
            check_custom_bounds(
                &self.custom_values,
                &self.positive_spans,
                self.positive_buckets.len(),
            )?;
            if self.zero_count != 0 {
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
            check_buckets("negative side: ", &self.negative_buckets, true, |c| {
                n_count = n_count.wrapping_add(c as u64)
            })?;
            if !self.custom_values.is_empty() {
                return Err(HistogramError::ExponentialSchemaCustomBounds);
            }
        } else {
            return Err(HistogramError::InvalidSchema(self.schema));
        }
        check_buckets("positive side: ", &self.positive_buckets, true, |c| {
            p_count = p_count.wrapping_add(c as u64)
        })?;
        let found = n_count.wrapping_add(p_count).wrapping_add(self.zero_count);
        if self.sum.is_nan() {
            if found > self.count {
                return Err(HistogramError::CountNotBigEnough {
                    found,
                    count: self.count,
                });
            }
        } else if found != self.count {
            return Err(HistogramError::CountMismatch {
                found,
                count: self.count,
            });
        }
        Ok(())
    }

    /// Converts to a float histogram with absolute bucket counts.
    pub fn to_float(&self) -> FloatHistogram {
        let abs = |b: &[i64]| {
            let mut cur = 0.0;
            b.iter()
                .map(|&d| {
                    cur += d as f64;
                    cur
                })
                .collect::<Vec<f64>>()
        };
        let custom = self.uses_custom_buckets();
        FloatHistogram {
            counter_reset_hint: self.counter_reset_hint,
            schema: self.schema,
            zero_threshold: if custom { 0.0 } else { self.zero_threshold },
            zero_count: if custom { 0.0 } else { self.zero_count as f64 },
            count: self.count as f64,
            sum: self.sum,
            positive_spans: self.positive_spans.clone(),
            negative_spans: if custom {
                Vec::new()
            } else {
                self.negative_spans.clone()
            },
            positive_buckets: abs(&self.positive_buckets),
            negative_buckets: if custom {
                Vec::new()
            } else {
                abs(&self.negative_buckets)
            },
            custom_values: if custom {
                self.custom_values.clone()
            } else {
                Vec::new()
            },
        }
    }

    /// Prometheus's `Equals`: schema, count, zero bucket, sum (by bits), custom bounds, and the
    /// same bucket layout and values; the counter reset hint is ignored.
    pub fn equals(&self, o: &Histogram) -> bool {
        if self.schema != o.schema || self.count != o.count || self.sum.to_bits() != o.sum.to_bits()
        {
            return false;
        }
        if self.uses_custom_buckets()
            && !custom_bucket_bounds_match(&self.custom_values, &o.custom_values)
        {
            return false;
        }
        self.zero_threshold == o.zero_threshold
            && self.zero_count == o.zero_count
            && spans_match(&self.negative_spans, &o.negative_spans)
            && self.negative_buckets == o.negative_buckets
            && spans_match(&self.positive_spans, &o.positive_spans)
            && self.positive_buckets == o.positive_buckets
    }

    /// Removes empty buckets at span edges and runs of more than `max_empty_buckets` inside spans,
    /// and merges spans at most that far apart (Prometheus's `Compact`). Returns `self`.
    pub fn compact(&mut self, max_empty_buckets: usize) -> &mut Self {
        compact_buckets(
            &mut self.positive_buckets,
            None,
            &mut self.positive_spans,
            max_empty_buckets,
            true,
        );
        compact_buckets(
            &mut self.negative_buckets,
            None,
            &mut self.negative_spans,
            max_empty_buckets,
            true,
        );
        self
    }

    /// Lowers the resolution to `target_schema` (smaller than the current exponential schema),
    /// merging buckets.
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
        let (ps, pb) = super::generic::reduce_resolution(
            &self.positive_spans,
            &self.positive_buckets,
            self.schema,
            target_schema,
            true,
        )?;
        let (ns, nb) = super::generic::reduce_resolution(
            &self.negative_spans,
            &self.negative_buckets,
            self.schema,
            target_schema,
            true,
        )?;
        self.positive_spans = ps;
        self.positive_buckets = pb;
        self.negative_spans = ns;
        self.negative_buckets = nb;
        self.schema = target_schema;
        Ok(())
    }

    /// The zero bucket, `[-zero_threshold, zero_threshold]`.
    pub fn zero_bucket(&self) -> Bucket<u64> {
        Bucket {
            lower: -self.zero_threshold,
            upper: self.zero_threshold,
            lower_inclusive: true,
            upper_inclusive: true,
            count: self.zero_count,
            index: 0,
        }
    }

    /// Positive buckets in ascending order, absolute counts.
    pub fn positive_buckets_iter(&self) -> BucketIter<'_> {
        BucketIter::new(
            &self.positive_spans,
            &self.positive_buckets,
            self.schema,
            true,
            &self.custom_values,
        )
    }

    /// Negative buckets from zero downwards, absolute counts.
    pub fn negative_buckets_iter(&self) -> BucketIter<'_> {
        BucketIter::new(
            &self.negative_spans,
            &self.negative_buckets,
            self.schema,
            false,
            &[],
        )
    }
}

impl std::fmt::Display for Histogram {
    /// Prometheus's `String()`: `{count:N, sum:S, <populated buckets low to high>}`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.to_float())
    }
}
