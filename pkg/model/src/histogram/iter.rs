//! Bucket iterators: walk spans and buckets, yielding [`Bucket`]s with bounds.

use super::{
    exponential_bound, is_exponential_schema, make_bucket, target_idx, Bucket, FloatHistogram, Span,
};

/// Walks spans and their buckets in index order, yielding `(bucket index, stored value)`.
/// Tolerates inconsistent spans and buckets by stopping at whichever ends first.
#[derive(Clone, Debug)]
pub(crate) struct SpanWalk<'a> {
    spans: &'a [Span],
    span_idx: usize,
    idx_in_span: u32,
    entered: bool,
    next_idx: i32,
    bucket_idx: usize,
}

impl<'a> SpanWalk<'a> {
    pub(crate) fn new(spans: &'a [Span]) -> Self {
        Self {
            spans,
            span_idx: 0,
            idx_in_span: 0,
            entered: false,
            next_idx: 0,
            bucket_idx: 0,
        }
    }

    /// The next bucket's index and its position in the bucket slice.
    #[inline]
    pub(crate) fn next_pos(&mut self, num_buckets: usize) -> Option<(i32, usize)> {
        loop {
            let span = *self.spans.get(self.span_idx)?;
            if !self.entered {
                self.next_idx = self.next_idx.wrapping_add(span.offset);
                self.entered = true;
            }
            if self.idx_in_span >= span.length {
                self.span_idx += 1;
                self.idx_in_span = 0;
                self.entered = false;
                continue;
            }
            if self.bucket_idx >= num_buckets {
                return None;
            }
            let idx = self.next_idx;
            let pos = self.bucket_idx;
            self.next_idx = self.next_idx.wrapping_add(1);
            self.idx_in_span += 1;
            self.bucket_idx += 1;
            return Some((idx, pos));
        }
    }
}

/// Iterates an integer histogram's buckets on one side, absolute counts, ascending by absolute
/// value (so negative buckets go downwards from zero).
#[derive(Clone, Debug)]
pub struct BucketIter<'a> {
    walk: SpanWalk<'a>,
    buckets: &'a [i64],
    schema: i32,
    positive: bool,
    custom_values: &'a [f64],
    current: i64,
}

impl<'a> BucketIter<'a> {
    pub(crate) fn new(
        spans: &'a [Span],
        buckets: &'a [i64],
        schema: i32,
        positive: bool,
        custom_values: &'a [f64],
    ) -> Self {
        Self {
            walk: SpanWalk::new(spans),
            buckets,
            schema,
            positive,
            custom_values,
            current: 0,
        }
    }
}

impl Iterator for BucketIter<'_> {
    type Item = Bucket<u64>;

    fn next(&mut self) -> Option<Bucket<u64>> {
        let (idx, pos) = self.walk.next_pos(self.buckets.len())?;
        self.current = self.current.wrapping_add(self.buckets[pos]);
        Some(make_bucket(
            idx,
            self.current as u64,
            self.schema,
            self.positive,
            self.custom_values,
        ))
    }
}

/// Iterates a float histogram's buckets on one side, optionally merged into a coarser target
/// schema and skipping buckets whose absolute upper bound is at or below a start value (as
/// Prometheus's `floatBucketIterator`).
#[derive(Clone, Debug)]
pub struct FloatBucketIter<'a> {
    spans: &'a [Span],
    buckets: &'a [f64],
    schema: i32,
    target_schema: i32,
    positive: bool,
    custom_values: &'a [f64],
    abs_start: f64,
    reached_start: bool,
    // Cursor over the original buckets; `pending` is a read-ahead bucket not yet merged.
    walk: SpanWalk<'a>,
    pending: Option<(i32, f64)>,
}

impl<'a> FloatBucketIter<'a> {
    /// `target_schema` must not exceed the histogram's schema and custom buckets cannot be
    /// merged; a target that breaks these rules iterates in the histogram's own schema.
    pub(crate) fn new(
        h: &'a FloatHistogram,
        positive: bool,
        abs_start: f64,
        target_schema: i32,
    ) -> Self {
        let target_schema = if h.uses_custom_buckets()
            || super::is_custom_buckets_schema(target_schema)
            || target_schema > h.schema
        {
            h.schema
        } else {
            target_schema
        };
        let (spans, buckets, custom_values): (&[Span], &[f64], &[f64]) = if positive {
            (&h.positive_spans, &h.positive_buckets, &h.custom_values)
        } else {
            (&h.negative_spans, &h.negative_buckets, &[])
        };
        Self {
            spans,
            buckets,
            schema: h.schema,
            target_schema,
            positive,
            custom_values,
            abs_start,
            reached_start: abs_start == 0.0,
            walk: SpanWalk::new(spans),
            pending: None,
        }
    }

    fn next_orig(&mut self) -> Option<(i32, f64)> {
        if let Some(p) = self.pending.take() {
            return Some(p);
        }
        let (idx, pos) = self.walk.next_pos(self.buckets.len())?;
        Some((idx, self.buckets[pos]))
    }

    /// The next bucket as `(index in target schema, count)`, without bounds (cheaper).
    pub(crate) fn next_stripped(&mut self) -> Option<(i32, f64)> {
        loop {
            let (idx, mut count) = self.next_orig()?;
            let t = target_idx(idx, self.schema, self.target_schema);
            if self.schema != self.target_schema {
                while let Some((i2, c2)) = self.next_orig() {
                    if target_idx(i2, self.schema, self.target_schema) != t {
                        self.pending = Some((i2, c2));
                        break;
                    }
                    count += c2;
                }
            }
            if !self.reached_start
                && is_exponential_schema(self.target_schema)
                && exponential_bound(t, self.target_schema) <= self.abs_start
            {
                continue;
            }
            self.reached_start = true;
            return Some((t, count));
        }
    }

    #[allow(dead_code)]
    pub(crate) fn spans(&self) -> &'a [Span] {
        self.spans
    }
}

impl Iterator for FloatBucketIter<'_> {
    type Item = Bucket<f64>;

    fn next(&mut self) -> Option<Bucket<f64>> {
        let (idx, count) = self.next_stripped()?;
        Some(make_bucket(
            idx,
            count,
            self.target_schema,
            self.positive,
            self.custom_values,
        ))
    }
}

/// Iterates a float histogram's buckets on one side from the highest absolute value down.
#[derive(Clone, Debug)]
pub struct ReverseFloatBucketIter<'a> {
    items: std::iter::Rev<std::vec::IntoIter<(i32, f64)>>,
    schema: i32,
    positive: bool,
    custom_values: &'a [f64],
}

impl<'a> ReverseFloatBucketIter<'a> {
    pub(crate) fn new(
        spans: &'a [Span],
        buckets: &'a [f64],
        schema: i32,
        positive: bool,
        custom_values: &'a [f64],
    ) -> Self {
        // Spans are forward-linked, so collect the indices once; histograms are small.
        let mut walk = SpanWalk::new(spans);
        let mut items = Vec::with_capacity(buckets.len());
        while let Some((idx, pos)) = walk.next_pos(buckets.len()) {
            items.push((idx, buckets[pos]));
        }
        Self {
            items: items.into_iter().rev(),
            schema,
            positive,
            custom_values,
        }
    }
}

impl Iterator for ReverseFloatBucketIter<'_> {
    type Item = Bucket<f64>;

    fn next(&mut self) -> Option<Bucket<f64>> {
        let (idx, count) = self.items.next()?;
        Some(make_bucket(
            idx,
            count,
            self.schema,
            self.positive,
            self.custom_values,
        ))
    }
}

/// Iterates all buckets of a float histogram: negative, zero (if populated), positive, in
/// ascending (or, reversed, descending) order of bounds. Buckets overlapping the zero bucket are
/// clipped to the zero threshold.
#[derive(Clone, Debug)]
pub struct AllBucketIter<'a> {
    h: &'a FloatHistogram,
    left: ReverseFloatBucketIter<'a>,
    right: FloatBucketIter<'a>,
    state: i8,
}

impl<'a> AllBucketIter<'a> {
    pub(crate) fn new(h: &'a FloatHistogram, reverse: bool) -> Self {
        let (left, right) = if reverse {
            (
                ReverseFloatBucketIter::new(
                    &h.positive_spans,
                    &h.positive_buckets,
                    h.schema,
                    true,
                    &h.custom_values,
                ),
                FloatBucketIter::new(h, false, 0.0, h.schema),
            )
        } else {
            (
                ReverseFloatBucketIter::new(
                    &h.negative_spans,
                    &h.negative_buckets,
                    h.schema,
                    false,
                    &[],
                ),
                FloatBucketIter::new(h, true, 0.0, h.schema),
            )
        };
        Self {
            h,
            left,
            right,
            state: -1,
        }
    }

    fn clip(&self, mut b: Bucket<f64>) -> Bucket<f64> {
        let zt = self.h.zero_threshold;
        if b.upper < 0.0 && b.upper > -zt {
            b.upper = -zt;
        } else if b.lower > 0.0 && b.lower < zt {
            b.lower = zt;
        }
        b
    }
}

impl Iterator for AllBucketIter<'_> {
    type Item = Bucket<f64>;

    fn next(&mut self) -> Option<Bucket<f64>> {
        loop {
            match self.state {
                -1 => match self.left.next() {
                    Some(b) => return Some(self.clip(b)),
                    None => self.state = 0,
                },
                0 => {
                    self.state = 1;
                    if self.h.zero_count > 0.0 {
                        return Some(self.h.zero_bucket());
                    }
                }
                1 => match self.right.next() {
                    Some(b) => return Some(self.clip(b)),
                    None => {
                        self.state = 2;
                        return None;
                    }
                },
                _ => return None,
            }
        }
    }
}
