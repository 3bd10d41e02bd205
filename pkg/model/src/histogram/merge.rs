//! Merging bucket lists: adding one histogram's buckets into another's layout, reducing the
//! resolution with Kahan compensation, and mapping custom buckets onto shared bounds
//! (Prometheus's `addBuckets`, `kahanAddBuckets`, `kahanReduceResolution`,
//! `addCustomBucketsWithMismatches`).

use super::arith::kahan_inc;
use super::{exponential_bound, is_exponential_schema, target_idx, Span};

/// Adds (or subtracts) buckets B into buckets A of the same schema, inserting buckets A lacks
/// with Prometheus's span layout rules (extend the previous span, else the next, else a new
/// span). Buckets of B whose upper bound is at most `threshold` (inside the zero bucket) are
/// skipped for exponential schemas. With `comp_a`, sums are Kahan-compensated into it (and
/// `comp_b`, B's compensation, is added too).
pub(crate) fn add_buckets(
    schema: i32,
    threshold: f64,
    negative: bool,
    (spans_a, buckets_a): (&mut Vec<Span>, &mut Vec<f64>),
    mut comp_a: Option<&mut Vec<f64>>,
    (spans_b, buckets_b): (&[Span], &[f64]),
    comp_b: Option<&[f64]>,
) {
    if comp_a
        .as_deref()
        .is_some_and(|c| c.len() != buckets_a.len())
    {
        comp_a = None;
    }
    let mut i_span: isize = -1;
    let mut i_bucket: isize = -1;
    let mut i_in_span: i64 = 0;
    let mut index_a: i64 = 0;
    let mut index_b: i64 = 0;
    let mut b_pos = 0usize;
    let mut below_threshold = true;
    // Adds B's bucket (and compensation) into A's bucket at `at`.
    let add_at = |buckets_a: &mut Vec<f64>,
                  comp_a: &mut Option<&mut Vec<f64>>,
                  at: usize,
                  vb: f64,
                  cb: f64| {
        let Some(a) = buckets_a.get_mut(at) else {
            return false;
        };
        match comp_a.as_deref_mut().and_then(|c| c.get_mut(at)) {
            Some(ca) => {
                (*a, *ca) = kahan_inc(vb, *a, *ca);
                if cb != 0.0 {
                    (*a, *ca) = kahan_inc(cb, *a, *ca);
                }
            }
            None => *a += vb,
        }
        true
    };
    for sb in spans_b {
        index_b += i64::from(sb.offset);
        for _ in 0..sb.length {
            'one: {
                if below_threshold
                    && is_exponential_schema(schema)
                    && exponential_bound(index_b as i32, schema) <= threshold
                {
                    break 'one;
                }
                below_threshold = false;
                let Some(&vb) = buckets_b.get(b_pos) else {
                    return;
                };
                let mut cb = comp_b.and_then(|c| c.get(b_pos)).copied().unwrap_or(0.0);
                let vb = if negative {
                    cb = -cb;
                    -vb
                } else {
                    vb
                };
                if i_span == -1 {
                    if spans_a.is_empty() || i64::from(spans_a[0].offset) > index_b {
                        // Goes before all of A's buckets.
                        buckets_a.insert(0, vb);
                        if let Some(c) = comp_a.as_deref_mut() {
                            c.insert(0, cb);
                        }
                        if !spans_a.is_empty() && i64::from(spans_a[0].offset) == index_b + 1 {
                            spans_a[0].length += 1;
                            spans_a[0].offset -= 1;
                            break 'one;
                        }
                        spans_a.insert(0, Span::new(index_b as i32, 1));
                        if spans_a.len() > 1 {
                            spans_a[1].offset =
                                (i64::from(spans_a[1].offset) - (index_b + 1)) as i32;
                        }
                        break 'one;
                    } else if i64::from(spans_a[0].offset) == index_b {
                        add_at(buckets_a, &mut comp_a, 0, vb, cb);
                        break 'one;
                    }
                    i_span = 0;
                    i_bucket = 0;
                    i_in_span = 0;
                    index_a = i64::from(spans_a[0].offset);
                }
                let mut delta = index_b - index_a;
                loop {
                    let remaining = i64::from(spans_a[i_span as usize].length) - i_in_span;
                    if delta < remaining {
                        i_bucket += delta as isize;
                        i_in_span += delta;
                        if !add_at(buckets_a, &mut comp_a, i_bucket as usize, vb, cb) {
                            return;
                        }
                        break 'one;
                    }
                    delta -= remaining;
                    i_bucket += remaining as isize;
                    i_span += 1;
                    let n = spans_a.len() as isize;
                    if i_span == n || delta < i64::from(spans_a[i_span as usize].offset) {
                        // In the gap after the previous span (or past the last span).
                        let at = (i_bucket.max(0) as usize).min(buckets_a.len());
                        buckets_a.insert(at, vb);
                        if let Some(c) = comp_a.as_deref_mut() {
                            c.insert(at, cb);
                        }
                        if delta == 0 {
                            // Right after the previous span: extend it.
                            if i_span < n {
                                spans_a[i_span as usize].offset -= 1;
                            }
                            i_span -= 1;
                            i_in_span = i64::from(spans_a[i_span as usize].length);
                            spans_a[i_span as usize].length += 1;
                        } else if i_span < n
                            && delta == i64::from(spans_a[i_span as usize].offset) - 1
                        {
                            // Right before the next span: extend that.
                            i_in_span = 0;
                            spans_a[i_span as usize].offset -= 1;
                            spans_a[i_span as usize].length += 1;
                        } else {
                            i_in_span = 0;
                            if i_span < n {
                                let s = &mut spans_a[i_span as usize];
                                s.offset = (i64::from(s.offset) - (delta + 1)) as i32;
                            }
                            spans_a.insert(i_span as usize, Span::new(delta as i32, 1));
                        }
                        break 'one;
                    }
                    // Try the start of the next span.
                    delta -= i64::from(spans_a[i_span as usize].offset);
                    i_in_span = 0;
                }
            }
            index_a = index_b;
            index_b += 1;
            b_pos += 1;
        }
    }
}

/// Resolution reduction of buckets with their compensation terms (Prometheus's
/// `kahanReduceResolution`); spans must be consistent with buckets.
pub(crate) fn kahan_reduce_resolution(
    spans: &[Span],
    buckets: &[f64],
    comp: &[f64],
    origin: i32,
    target: i32,
) -> (Vec<Span>, Vec<f64>, Vec<f64>) {
    let mut t_spans: Vec<Span> = Vec::new();
    let mut t_buckets: Vec<f64> = Vec::with_capacity(buckets.len());
    let mut t_comp: Vec<f64> = Vec::with_capacity(buckets.len());
    let mut idx: i32 = 0;
    let mut pos = 0usize;
    let mut last_t: i32 = 0;
    for s in spans {
        idx = idx.wrapping_add(s.offset);
        for _ in 0..s.length {
            let (Some(&b), c) = (buckets.get(pos), comp.get(pos).copied().unwrap_or(0.0)) else {
                return (t_spans, t_buckets, t_comp);
            };
            let t = target_idx(idx, origin, target);
            if t_spans.is_empty() {
                t_spans.push(Span::new(t, 1));
                t_buckets.push(b);
                t_comp.push(c);
                last_t = t;
            } else if last_t == t {
                let (Some(lb), Some(lc)) = (t_buckets.last_mut(), t_comp.last_mut()) else {
                    return (t_spans, t_buckets, t_comp);
                };
                (*lb, *lc) = kahan_inc(b, *lb, *lc);
                (*lb, *lc) = kahan_inc(c, *lb, *lc);
            } else {
                if last_t.wrapping_add(1) == t {
                    if let Some(l) = t_spans.last_mut() {
                        l.length += 1;
                    }
                } else {
                    t_spans.push(Span::new(t.wrapping_sub(last_t).wrapping_sub(1), 1));
                }
                last_t = t;
                t_buckets.push(b);
                t_comp.push(c);
            }
            idx = idx.wrapping_add(1);
            pos += 1;
        }
    }
    (t_spans, t_buckets, t_comp)
}

/// The bounds present in both sorted bound lists.
pub(crate) fn intersect_custom_bounds(a: &[f64], b: &[f64]) -> Vec<f64> {
    let mut out = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        if a[i] == b[j] {
            out.push(a[i]);
            i += 1;
            j += 1;
        } else if a[i] < b[j] {
            i += 1;
        } else {
            j += 1;
        }
    }
    out
}

/// Maps two custom-bucket histograms onto `bounds` (their intersection), adding or subtracting
/// with Kahan compensation (A's own compensation `comp_a` included), and returns spans, buckets
/// and compensations without buckets that are zero in both.
pub(crate) fn add_custom_buckets_with_mismatches(
    negative: bool,
    a: (&[Span], &[f64], &[f64]),
    comp_a: Option<&[f64]>,
    b: (&[Span], &[f64], &[f64]),
    bounds: &[f64],
) -> (Vec<Span>, Vec<f64>, Vec<f64>) {
    let mut target = vec![0.0; bounds.len() + 1];
    let mut comp = vec![0.0; bounds.len() + 1];
    let mut map = |(spans, buckets, src_bounds): (&[Span], &[f64], &[f64]),
                   neg: bool,
                   own_comp: Option<&[f64]>| {
        let mut src_idx: i64 = 0;
        let mut pos = 0usize;
        let mut inter = 0usize;
        for s in spans {
            src_idx += i64::from(s.offset);
            for _ in 0..s.length {
                if let Some(&v) = buckets.get(pos) {
                    let mut t = target.len() - 1;
                    if src_idx >= 0 && (src_idx as usize) < src_bounds.len() {
                        let bound = src_bounds[src_idx as usize];
                        while inter < bounds.len() {
                            if bounds[inter] >= bound {
                                t = inter;
                                break;
                            }
                            inter += 1;
                        }
                    }
                    let v = if neg { -v } else { v };
                    (target[t], comp[t]) = kahan_inc(v, target[t], comp[t]);
                    if let Some(&cv) = own_comp.and_then(|c| c.get(pos)) {
                        (target[t], comp[t]) = kahan_inc(cv, target[t], comp[t]);
                    }
                }
                src_idx += 1;
                pos += 1;
            }
        }
    };
    map(a, false, comp_a);
    map(b, negative, None);
    let mut spans: Vec<Span> = Vec::new();
    let mut out = Vec::new();
    let mut out_comp = Vec::new();
    let mut last: i64 = -1;
    for (i, (&v, &c)) in target.iter().zip(&comp).enumerate() {
        if v == 0.0 && c == 0.0 {
            continue;
        }
        out.push(v);
        out_comp.push(c);
        let i = i as i64;
        match spans.last_mut() {
            Some(s) if i == last + 1 => s.length += 1,
            Some(_) => spans.push(Span::new((i - last - 1) as i32, 1)),
            None => spans.push(Span::new(i as i32, 1)),
        }
        last = i;
    }
    (spans, out, out_comp)
}
