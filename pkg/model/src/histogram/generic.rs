//! Algorithms shared by integer (delta-encoded) and float (absolute) buckets: validation,
//! compaction and resolution reduction, with Prometheus's semantics (`generic.go`).

use super::{target_idx, HistogramError, Span};

/// A bucket value: an `i64` delta for [`super::Histogram`] or an `f64` count for
/// [`super::FloatHistogram`]. Integer arithmetic wraps so garbage input cannot panic.
pub(crate) trait Count: Copy + PartialEq + PartialOrd + Default + std::fmt::Debug {
    fn plus(self, o: Self) -> Self;
    fn minus(self, o: Self) -> Self;
    fn negate(self) -> Self;
    fn is_zero(self) -> bool;
    fn fmt_count(self) -> String;
}

impl Count for i64 {
    #[inline]
    fn plus(self, o: Self) -> Self {
        self.wrapping_add(o)
    }
    #[inline]
    fn minus(self, o: Self) -> Self {
        self.wrapping_sub(o)
    }
    #[inline]
    fn negate(self) -> Self {
        self.wrapping_neg()
    }
    #[inline]
    fn is_zero(self) -> bool {
        self == 0
    }
    fn fmt_count(self) -> String {
        self.to_string()
    }
}

impl Count for f64 {
    #[inline]
    fn plus(self, o: Self) -> Self {
        self + o
    }
    #[inline]
    fn minus(self, o: Self) -> Self {
        self - o
    }
    #[inline]
    fn negate(self) -> Self {
        -self
    }
    #[inline]
    fn is_zero(self) -> bool {
        self == 0.0
    }
    fn fmt_count(self) -> String {
        self.to_string()
    }
}

/// Checks that spans describe `num_buckets` buckets and only the first has a negative offset.
pub(crate) fn check_spans(
    ctx: &'static str,
    spans: &[Span],
    num_buckets: usize,
) -> Result<(), HistogramError> {
    let mut need = 0usize;
    for (n, s) in spans.iter().enumerate() {
        if n > 0 && s.offset < 0 {
            return Err(HistogramError::SpanNegativeOffset {
                ctx,
                number: n + 1,
                offset: s.offset,
            });
        }
        need += s.length as usize;
    }
    if need != num_buckets {
        return Err(HistogramError::SpansBucketsMismatch {
            ctx,
            need,
            have: num_buckets,
        });
    }
    Ok(())
}

/// Checks that no absolute bucket count is negative; returns the absolute counts' sum via `add`.
pub(crate) fn check_buckets<C: Count>(
    ctx: &'static str,
    buckets: &[C],
    delta: bool,
    mut add: impl FnMut(C),
) -> Result<(), HistogramError> {
    let mut last = C::default();
    for (i, &b) in buckets.iter().enumerate() {
        let c = if delta { last.plus(b) } else { b };
        if c < C::default() {
            return Err(HistogramError::NegativeBucketCount {
                ctx,
                number: i + 1,
                count: c.fmt_count(),
            });
        }
        last = c;
        add(c);
    }
    Ok(())
}

/// Checks custom bounds (increasing, finite, not NaN) and that the spans fit them.
pub(crate) fn check_custom_bounds(
    bounds: &[f64],
    spans: &[Span],
    num_buckets: usize,
) -> Result<(), HistogramError> {
    let mut prev = f64::NEG_INFINITY;
    for (i, &curr) in bounds.iter().enumerate() {
        if curr.is_nan() {
            return Err(HistogramError::CustomBucketsNaN);
        }
        if i > 0 && curr <= prev {
            return Err(HistogramError::CustomBucketsInvalid { prev, curr });
        }
        prev = curr;
    }
    if prev == f64::INFINITY {
        return Err(HistogramError::CustomBucketsInfinite);
    }
    let mut need = 0usize;
    let mut total: i64 = 0;
    for (n, s) in spans.iter().enumerate() {
        if s.offset < 0 {
            return Err(HistogramError::SpanNegativeOffset {
                ctx: "custom buckets: ",
                number: n + 1,
                offset: s.offset,
            });
        }
        need += s.length as usize;
        total += i64::from(s.length) + i64::from(s.offset);
    }
    if need != num_buckets {
        return Err(HistogramError::SpansBucketsMismatch {
            ctx: "custom buckets: ",
            need,
            have: num_buckets,
        });
    }
    if (bounds.len() as i64 + 1) < total {
        return Err(HistogramError::CustomBucketsMismatch {
            bounds: bounds.len(),
            span_length: total as usize,
        });
    }
    Ok(())
}

/// Removes empty buckets at the start and end of spans and runs of more than `max_empty` empty
/// buckets inside spans, drops zero-length spans, and merges spans at most `max_empty` apart.
/// `delta` says whether buckets are deltas (integer histograms) or absolute counts. `comp`, for
/// Kahan summation of float buckets, holds compensation terms kept aligned with `buckets`; a
/// bucket is empty only if its compensation is zero too.
pub(crate) fn compact_buckets<C: Count>(
    buckets: &mut Vec<C>,
    mut comp: Option<&mut Vec<f64>>,
    spans: &mut Vec<Span>,
    max_empty: usize,
    delta: bool,
) {
    if let Some(c) = comp.as_deref() {
        if delta || c.len() != buckets.len() {
            // Compensation only exists for absolute float buckets in the same layout.
            comp = None;
        }
    }
    let zero = C::default();
    // Cheap check first: nothing empty, no small gaps, no zero-length spans.
    let mut nothing_to_do = true;
    let mut abs = zero;
    for &b in buckets.iter() {
        abs = if delta { abs.plus(b) } else { b };
        if abs.is_zero() {
            nothing_to_do = false;
            break;
        }
    }
    if nothing_to_do
        && spans
            .iter()
            .all(|s| i64::from(s.offset) > max_empty as i64 && s.length != 0)
    {
        return;
    }

    // Merge spans that directly follow each other.
    if spans.len() > 1 {
        let mut w = 0;
        for r in 1..spans.len() {
            let s = spans[r];
            if s.offset == 0 {
                spans[w].length = spans[w].length.wrapping_add(s.length);
                continue;
            }
            w += 1;
            spans[w] = s;
        }
        spans.truncate(w + 1);
    }
    // Fold zero-length spans into the next one.
    let mut w = 0;
    for r in 0..spans.len() {
        let s = spans[r];
        if s.length == 0 {
            if r + 1 < spans.len() {
                spans[r + 1].offset = spans[r + 1].offset.wrapping_add(s.offset);
            }
            continue;
        }
        spans[w] = s;
        w += 1;
    }
    spans.truncate(w);
    if spans.is_empty() {
        buckets.clear();
        if let Some(c) = comp.as_deref_mut() {
            c.clear();
        }
        return;
    }

    let mut i_bucket = 0usize;
    let mut i_span = 0usize;
    let mut pos: u32 = 0;
    let mut cur = zero;
    while i_bucket < buckets.len() && i_span < spans.len() {
        cur = if delta {
            cur.plus(buckets[i_bucket])
        } else {
            buckets[i_bucket]
        };
        // How many empty buckets start here, within the current span.
        let mut n_empty = 0usize;
        {
            let comp_at = |i: usize| comp.as_deref().map_or(0.0, |c| c[i]);
            let mut a = cur;
            let mut ca = comp_at(i_bucket);
            while (n_empty as u64 + u64::from(pos)) < u64::from(spans[i_span].length)
                && a.is_zero()
                && ca == 0.0
            {
                n_empty += 1;
                if n_empty + i_bucket >= buckets.len() {
                    break;
                }
                a = buckets[n_empty + i_bucket];
                ca = comp_at(n_empty + i_bucket);
            }
        }
        if n_empty > 0 {
            let remaining = (spans[i_span].length - pos) as usize;
            if pos > 0 && n_empty < remaining && n_empty <= max_empty {
                // Few empty buckets inside a span: keep them.
                i_bucket += n_empty;
                if delta {
                    cur = zero;
                }
                pos += n_empty as u32;
                continue;
            }
            if delta && i_bucket + n_empty < buckets.len() {
                // The bucket after the cut must be relative to the one before it.
                cur = buckets[i_bucket].negate();
                let d = buckets[i_bucket];
                buckets[i_bucket + n_empty] = buckets[i_bucket + n_empty].plus(d);
            }
            let end = (i_bucket + n_empty).min(buckets.len());
            buckets.drain(i_bucket..end);
            if let Some(c) = comp.as_deref_mut() {
                c.drain(i_bucket..end);
            }
            if pos == 0 {
                if n_empty == spans[i_span].length as usize {
                    let offset = spans[i_span].offset;
                    spans.remove(i_span);
                    if i_span < spans.len() {
                        spans[i_span].offset = spans[i_span]
                            .offset
                            .wrapping_add(offset)
                            .wrapping_add(n_empty as i32);
                    }
                    continue;
                }
                spans[i_span].length -= n_empty as u32;
                spans[i_span].offset = spans[i_span].offset.wrapping_add(n_empty as i32);
                continue;
            }
            // Empty run in the middle or at the end of the span: split it.
            let new_span = Span::new(n_empty as i32, spans[i_span].length - pos - n_empty as u32);
            spans[i_span].length = pos;
            i_span += 1;
            pos = 0;
            if new_span.length == 0 {
                if i_span < spans.len() {
                    spans[i_span].offset = spans[i_span].offset.wrapping_add(n_empty as i32);
                }
                continue;
            }
            spans.insert(i_span, new_span);
            continue;
        }
        i_bucket += 1;
        pos += 1;
        if pos >= spans[i_span].length {
            pos = 0;
            i_span += 1;
        }
    }
    if max_empty == 0 || buckets.is_empty() || spans.is_empty() {
        return;
    }

    // Merge spans separated by at most max_empty buckets, filling the gap with empty buckets.
    let sum = |b: &[C], from: usize, len: usize| -> C {
        b.get(from..(from + len).min(b.len()))
            .unwrap_or(&[])
            .iter()
            .fold(zero, |a, &x| a.plus(x))
    };
    let mut i_bucket = spans[0].length as usize;
    let mut cur = if delta {
        sum(buckets, 0, i_bucket)
    } else {
        zero
    };
    let mut i_span = 1;
    while i_span < spans.len() {
        let s = spans[i_span];
        if s.offset < 0 || i64::from(s.offset) > max_empty as i64 {
            let l = s.length as usize;
            if delta {
                cur = cur.plus(sum(buckets, i_bucket, l));
            }
            i_bucket += l;
            i_span += 1;
            continue;
        }
        let offset = s.offset as usize;
        let l = s.length as usize;
        spans[i_span - 1].length = spans[i_span - 1]
            .length
            .wrapping_add(offset as u32)
            .wrapping_add(s.length);
        spans.remove(i_span);
        let at = i_bucket.min(buckets.len());
        buckets.splice(at..at, std::iter::repeat_n(zero, offset));
        if let Some(c) = comp.as_deref_mut() {
            c.splice(at..at, std::iter::repeat_n(0.0, offset));
        }
        if delta && offset > 0 {
            buckets[at] = cur.negate();
            if let Some(b) = buckets.get_mut(at + offset) {
                *b = b.plus(cur);
            }
        }
        i_bucket += offset;
        if delta {
            cur = sum(buckets, i_bucket, l);
        }
        i_bucket += l;
    }
}

/// Maps spans and buckets from `origin` schema to the coarser `target` schema, merging buckets.
pub(crate) fn reduce_resolution<C: Count>(
    spans: &[Span],
    buckets: &[C],
    origin: i32,
    target: i32,
    delta: bool,
) -> Result<(Vec<Span>, Vec<C>), HistogramError> {
    let zero = C::default();
    let mut t_spans: Vec<Span> = Vec::with_capacity(spans.len());
    let mut t_buckets: Vec<C> = Vec::with_capacity(buckets.len());
    let mut idx: i32 = 0;
    let mut bi = 0usize;
    let mut last_count = zero; // Absolute count of the last origin bucket (delta mode).
    let mut last_t_idx: i32 = 0;
    let mut last_t_count = zero; // Absolute count of the last target bucket (delta mode).
    for (n, s) in spans.iter().enumerate() {
        if n > 0 && s.offset < 0 {
            return Err(HistogramError::SpanNegativeOffset {
                ctx: "",
                number: n + 1,
                offset: s.offset,
            });
        }
        idx = idx.wrapping_add(s.offset);
        for _ in 0..s.length {
            let Some(&b) = buckets.get(bi) else {
                return Err(HistogramError::ReduceResolution(format!(
                    "have {} buckets but spans need more: histogram spans specify different number of buckets than provided",
                    buckets.len()
                )));
            };
            let t = target_idx(idx, origin, target);
            if t_spans.is_empty() {
                t_spans.push(Span::new(t, 1));
                t_buckets.push(b);
                last_t_idx = t;
                last_count = b;
                last_t_count = b;
            } else if last_t_idx == t {
                if delta {
                    last_count = last_count.plus(b);
                    if let Some(l) = t_buckets.last_mut() {
                        *l = l.plus(last_count);
                    }
                    last_t_count = last_t_count.plus(last_count);
                } else if let Some(l) = t_buckets.last_mut() {
                    *l = l.plus(b);
                }
            } else {
                if last_t_idx.wrapping_add(1) == t {
                    if let Some(l) = t_spans.last_mut() {
                        l.length += 1;
                    }
                } else {
                    t_spans.push(Span::new(t.wrapping_sub(last_t_idx).wrapping_sub(1), 1));
                }
                last_t_idx = t;
                if delta {
                    last_count = last_count.plus(b);
                    t_buckets.push(last_count.minus(last_t_count));
                    last_t_count = last_count;
                } else {
                    t_buckets.push(b);
                }
            }
            idx = idx.wrapping_add(1);
            bi += 1;
        }
    }
    if bi != buckets.len() {
        return Err(HistogramError::SpansBucketsMismatch {
            ctx: "",
            need: bi,
            have: buckets.len(),
        });
    }
    Ok((t_spans, t_buckets))
}
