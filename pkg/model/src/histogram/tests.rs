//! Unit tests of the histogram types. Hand-written checks live here; the table-driven cases per
//! operation live in `tests/`, each expected value derived by hand from the definitions (schema-0
//! bucket `i` is `(2^(i-1), 2^i]`, schema 1 halves that in log space, and so on).

use super::*;

mod add_sub;
mod compact;
mod detect_reset;
mod scalar;
mod validation;

/// Builders so that table rows stay one histogram per line.
trait FloatBuild {
    fn zero(self, threshold: f64, count: f64) -> Self;
    fn totals(self, count: f64, sum: f64) -> Self;
    fn pos(self, spans: &[(i32, u32)], buckets: &[f64]) -> Self;
    fn neg(self, spans: &[(i32, u32)], buckets: &[f64]) -> Self;
    fn bounds(self, bounds: &[f64]) -> Self;
    fn hint(self, hint: CounterResetHint) -> Self;
}

impl FloatBuild for FloatHistogram {
    fn zero(mut self, threshold: f64, count: f64) -> Self {
        (self.zero_threshold, self.zero_count) = (threshold, count);
        self
    }
    fn totals(mut self, count: f64, sum: f64) -> Self {
        (self.count, self.sum) = (count, sum);
        self
    }
    fn pos(mut self, spans: &[(i32, u32)], buckets: &[f64]) -> Self {
        (self.positive_spans, self.positive_buckets) = (sp(spans), buckets.to_vec());
        self
    }
    fn neg(mut self, spans: &[(i32, u32)], buckets: &[f64]) -> Self {
        (self.negative_spans, self.negative_buckets) = (sp(spans), buckets.to_vec());
        self
    }
    fn bounds(mut self, bounds: &[f64]) -> Self {
        self.custom_values = bounds.to_vec();
        self
    }
    fn hint(mut self, hint: CounterResetHint) -> Self {
        self.counter_reset_hint = hint;
        self
    }
}

/// An empty float histogram of `schema` (the start of a builder chain).
fn f(schema: i32) -> FloatHistogram {
    FloatHistogram {
        schema,
        ..Default::default()
    }
}

/// An empty custom-buckets float histogram with `bounds`.
fn fc(bounds: &[f64]) -> FloatHistogram {
    f(CUSTOM_BUCKETS_SCHEMA).bounds(bounds)
}

/// Builders for integer histograms; buckets are deltas, as stored.
trait IntBuild {
    fn zero(self, threshold: f64, count: u64) -> Self;
    fn totals(self, count: u64, sum: f64) -> Self;
    fn pos(self, spans: &[(i32, u32)], deltas: &[i64]) -> Self;
    fn neg(self, spans: &[(i32, u32)], deltas: &[i64]) -> Self;
    fn bounds(self, bounds: &[f64]) -> Self;
}

impl IntBuild for Histogram {
    fn zero(mut self, threshold: f64, count: u64) -> Self {
        (self.zero_threshold, self.zero_count) = (threshold, count);
        self
    }
    fn totals(mut self, count: u64, sum: f64) -> Self {
        (self.count, self.sum) = (count, sum);
        self
    }
    fn pos(mut self, spans: &[(i32, u32)], deltas: &[i64]) -> Self {
        (self.positive_spans, self.positive_buckets) = (sp(spans), deltas.to_vec());
        self
    }
    fn neg(mut self, spans: &[(i32, u32)], deltas: &[i64]) -> Self {
        (self.negative_spans, self.negative_buckets) = (sp(spans), deltas.to_vec());
        self
    }
    fn bounds(mut self, bounds: &[f64]) -> Self {
        self.custom_values = bounds.to_vec();
        self
    }
}

/// An empty integer histogram of `schema`.
fn i(schema: i32) -> Histogram {
    Histogram {
        schema,
        ..Default::default()
    }
}

/// The integer histogram with the same content as `h` (whose counts must be whole numbers):
/// absolute bucket counts turned into deltas. Lets one table check both types.
fn to_int(h: &FloatHistogram) -> Histogram {
    let deltas = |b: &[f64]| {
        let mut prev = 0i64;
        b.iter()
            .map(|&v| {
                let d = v as i64 - prev;
                prev = v as i64;
                d
            })
            .collect::<Vec<i64>>()
    };
    Histogram {
        counter_reset_hint: h.counter_reset_hint,
        schema: h.schema,
        zero_threshold: h.zero_threshold,
        zero_count: h.zero_count as u64,
        count: h.count as u64,
        sum: h.sum,
        positive_spans: h.positive_spans.clone(),
        negative_spans: h.negative_spans.clone(),
        positive_buckets: deltas(&h.positive_buckets),
        negative_buckets: deltas(&h.negative_buckets),
        custom_values: h.custom_values.clone(),
    }
}

/// Field-by-field equality with floats compared by value (`-0.0 == 0.0`) and NaN equal to NaN;
/// unlike [`FloatHistogram::equals`], the hint counts and spans must be written identically.
fn identical(a: &FloatHistogram, b: &FloatHistogram) -> bool {
    let eq = |p: f64, q: f64| p == q || (p.is_nan() && q.is_nan());
    let all = |x: &[f64], y: &[f64]| x.len() == y.len() && x.iter().zip(y).all(|(p, q)| eq(*p, *q));
    a.counter_reset_hint == b.counter_reset_hint
        && a.schema == b.schema
        && eq(a.zero_threshold, b.zero_threshold)
        && eq(a.zero_count, b.zero_count)
        && eq(a.count, b.count)
        && eq(a.sum, b.sum)
        && a.positive_spans == b.positive_spans
        && a.negative_spans == b.negative_spans
        && all(&a.positive_buckets, &b.positive_buckets)
        && all(&a.negative_buckets, &b.negative_buckets)
        && all(&a.custom_values, &b.custom_values)
}

fn sp(v: &[(i32, u32)]) -> Vec<Span> {
    v.iter().map(|&(o, l)| Span::new(o, l)).collect()
}

fn fh(schema: i32, pos: &[(i32, u32)], buckets: &[f64]) -> FloatHistogram {
    FloatHistogram {
        schema,
        count: buckets.iter().sum(),
        positive_spans: sp(pos),
        positive_buckets: buckets.to_vec(),
        ..Default::default()
    }
}

fn ih(schema: i32, pos: &[(i32, u32)], deltas: &[i64]) -> Histogram {
    let mut abs = 0i64;
    let count = deltas
        .iter()
        .map(|d| {
            abs += d;
            abs
        })
        .sum::<i64>() as u64;
    Histogram {
        schema,
        count,
        sum: 1.0,
        positive_spans: sp(pos),
        positive_buckets: deltas.to_vec(),
        ..Default::default()
    }
}

#[test]
fn validate_reports_prometheus_messages() {
    let mut h = ih(0, &[(0, 2)], &[1, 1]);
    assert_eq!(h.validate(), Ok(()));
    h.positive_buckets.push(1);
    assert_eq!(
        h.validate().map_err(|e| e.to_string()),
        Err("positive side: spans need 2 buckets, have 3 buckets: histogram spans specify different number of buckets than provided".into())
    );
    let mut h = ih(0, &[(0, 2)], &[1, -2]);
    h.count = 0;
    assert_eq!(
        h.validate().map_err(|e| e.to_string()),
        Err("positive side: bucket number 2 has observation count of -1: histogram has a bucket whose observation count is negative".into())
    );
    let mut h = ih(0, &[(0, 2), (-1, 1)], &[1, 1, 0]);
    h.count = 5;
    assert_eq!(
        h.validate().map_err(|e| e.to_string()),
        Err("positive side: span number 2 with offset -1: histogram has a span whose offset is negative".into())
    );
    let mut h = ih(0, &[(0, 2)], &[1, 1]);
    h.count = 5;
    assert_eq!(
        h.validate().map_err(|e| e.to_string()),
        Err("3 observations found in buckets, but the Count field is 5: histogram's observation count should equal the number of observations found in the buckets (in absence of NaN)".into())
    );
    // With a NaN sum, more observations than in the buckets is fine, fewer is not.
    h.sum = f64::NAN;
    assert_eq!(h.validate(), Ok(()));
    h.count = 2;
    assert!(matches!(
        h.validate(),
        Err(HistogramError::CountNotBigEnough { found: 3, count: 2 })
    ));
    let h = ih(9, &[], &[]);
    assert_eq!(
        h.validate().map_err(|e| e.to_string()),
        Err("histogram has an invalid schema, which must be between -4 and 8 for exponential buckets, or -53 for custom buckets, got schema 9".into())
    );
    let mut h = ih(0, &[], &[]);
    h.custom_values = vec![1.0];
    assert_eq!(
        h.validate(),
        Err(HistogramError::ExponentialSchemaCustomBounds)
    );
}

#[test]
fn validate_custom_buckets_rules() {
    let mut h = ih(CUSTOM_BUCKETS_SCHEMA, &[(0, 3)], &[1, 0, 1]);
    h.custom_values = vec![1.0, 2.0];
    assert_eq!(h.validate(), Ok(()));
    h.custom_values = vec![1.0];
    assert_eq!(
        h.validate().map_err(|e| e.to_string()),
        Err("custom buckets: only 1 custom bounds defined which is insufficient to cover total span length of 3: histogram custom bounds are too few".into())
    );
    h.custom_values = vec![2.0, 1.0];
    assert_eq!(
        h.validate().map_err(|e| e.to_string()),
        Err("custom buckets: previous bound is 2.000000 and current is 1.000000: histogram custom bounds must be in strictly increasing order".into())
    );
    h.custom_values = vec![1.0, f64::INFINITY];
    assert_eq!(h.validate(), Err(HistogramError::CustomBucketsInfinite));
    h.custom_values = vec![1.0, f64::NAN];
    assert_eq!(h.validate(), Err(HistogramError::CustomBucketsNaN));
    h.custom_values = vec![1.0, 2.0];
    h.zero_count = 1;
    h.count += 1;
    assert_eq!(
        h.validate().map_err(|e| e.to_string()),
        Err("custom buckets: must have zero count of 0".into())
    );
    let mut f = fh(CUSTOM_BUCKETS_SCHEMA, &[(0, 1)], &[1.0]);
    f.custom_values = vec![1.0];
    f.negative_spans = sp(&[(0, 1)]);
    f.negative_buckets = vec![1.0];
    assert_eq!(
        f.validate(),
        Err(HistogramError::CustomBucketsNegativeSpans)
    );
    let mut f = fh(0, &[(0, 1)], &[-1.0]);
    f.count = 1.0;
    assert!(matches!(
        f.validate(),
        Err(HistogramError::NegativeBucketCount { number: 1, .. })
    ));
    f.positive_buckets = vec![1.0];
    f.count = -1.0;
    assert_eq!(
        f.validate().map_err(|e| e.to_string()),
        Err("observation count is  -1: histogram's observation count is negative".into())
    );
}

#[test]
fn bucket_bounds_per_schema() {
    let h = fh(0, &[(0, 2)], &[1.0, 2.0]);
    let b: Vec<_> = h.positive_buckets_iter().collect();
    assert_eq!((b[0].lower, b[0].upper, b[0].count), (0.5, 1.0, 1.0));
    assert_eq!((b[1].lower, b[1].upper), (1.0, 2.0));
    assert!(!b[0].lower_inclusive && b[0].upper_inclusive);
    assert_eq!(exponential_bound(1, 3), 2.0 * 0.5452538663326288);
    assert_eq!(exponential_bound(-1, 3), 0.9170040432046711);
    assert_eq!(exponential_bound(1, -1), 4.0);
    assert_eq!(exponential_bound(-3, -2), 2f64.powi(-12));
    // The last finite bucket ends at f64::MAX; the next one holds ±Inf.
    assert_eq!(exponential_bound(1024, 0), f64::MAX);
    assert_eq!(exponential_bound(1025, 0), f64::INFINITY);
    assert_eq!(exponential_bound(1024 * 256, 8), f64::MAX);
    assert_eq!(exponential_bound(256, -2), f64::MAX);
    // The smallest subnormal, exactly (powi would round it to 0).
    assert_eq!(exponential_bound(-1074, 0), f64::from_bits(1));
    // Negative buckets mirror the positive ones.
    let mut n = fh(0, &[], &[]);
    n.negative_spans = sp(&[(0, 1)]);
    n.negative_buckets = vec![3.0];
    let b = n.negative_buckets_iter().next().expect("bucket");
    assert_eq!((b.lower, b.upper), (-1.0, -0.5));
    assert!(b.lower_inclusive && !b.upper_inclusive);
    // Custom buckets: the first bucket starts at -Inf, the last ends at +Inf, all inclusive above.
    let mut c = fh(CUSTOM_BUCKETS_SCHEMA, &[(0, 3)], &[1.0, 2.0, 3.0]);
    c.custom_values = vec![1.0, 2.0];
    let b: Vec<_> = c.positive_buckets_iter().collect();
    assert_eq!((b[0].lower, b[0].upper), (f64::NEG_INFINITY, 1.0));
    assert!(b[0].lower_inclusive);
    assert_eq!((b[2].lower, b[2].upper), (2.0, f64::INFINITY));
    assert!(!b[2].lower_inclusive && b[2].upper_inclusive);
    // The integer iterator accumulates deltas.
    let h = ih(0, &[(-1, 2), (1, 1)], &[2, 3, -4]);
    let got: Vec<(i32, u64)> = h
        .positive_buckets_iter()
        .map(|b| (b.index, b.count))
        .collect();
    assert_eq!(got, vec![(-1, 2), (0, 5), (2, 1)]);
}

#[test]
fn to_float_makes_buckets_absolute() {
    let mut h = ih(1, &[(0, 3)], &[1, 2, -1]);
    h.zero_count = 4;
    h.count += 4;
    h.zero_threshold = 0.5;
    h.negative_spans = sp(&[(2, 1)]);
    h.negative_buckets = vec![7];
    h.count += 7;
    h.counter_reset_hint = CounterResetHint::NotCounterReset;
    let f = h.to_float();
    assert_eq!(f.positive_buckets, vec![1.0, 3.0, 2.0]);
    assert_eq!(f.negative_buckets, vec![7.0]);
    assert_eq!((f.count, f.zero_count, f.zero_threshold), (17.0, 4.0, 0.5));
    assert_eq!(f.counter_reset_hint, CounterResetHint::NotCounterReset);
    assert_eq!(f.validate(), Ok(()));
}

#[test]
fn compact_removes_empty_buckets_as_prometheus() {
    // Absolute [0,1,0,3 | 0,0] at indices -2..=1 and 5..=6.
    let mut f = fh(0, &[(-2, 4), (3, 2)], &[0.0, 1.0, 0.0, 3.0, 0.0, 0.0]);
    let mut i = ih(0, &[(-2, 4), (3, 2)], &[0, 1, -1, 3, -3, 0]);
    let mut f1 = f.clone();
    let mut i1 = i.clone();
    f.compact(0);
    i.compact(0);
    assert_eq!(f.positive_spans, sp(&[(-1, 1), (1, 1)]));
    assert_eq!(f.positive_buckets, vec![1.0, 3.0]);
    assert_eq!(i.positive_spans, sp(&[(-1, 1), (1, 1)]));
    assert_eq!(i.positive_buckets, vec![1, 2]);
    // Allowing one empty bucket keeps the gap inside the span.
    f1.compact(1);
    i1.compact(1);
    assert_eq!(f1.positive_spans, sp(&[(-1, 3)]));
    assert_eq!(f1.positive_buckets, vec![1.0, 0.0, 3.0]);
    assert_eq!(i1.positive_spans, sp(&[(-1, 3)]));
    assert_eq!(i1.positive_buckets, vec![1, -1, 3]);
    // Spans close enough merge, filling the gap with empty buckets.
    let mut i = ih(0, &[(0, 1), (2, 1)], &[1, 0]);
    i.compact(2);
    assert_eq!(i.positive_spans, sp(&[(0, 4)]));
    assert_eq!(i.positive_buckets, vec![1, -1, 0, 1]);
    let mut f = fh(0, &[(0, 1), (0, 0), (2, 1)], &[1.0, 1.0]);
    f.compact(2);
    assert_eq!(f.positive_spans, sp(&[(0, 4)]));
    assert_eq!(f.positive_buckets, vec![1.0, 0.0, 0.0, 1.0]);
    // Nothing to do: unchanged.
    let mut f = fh(0, &[(0, 1), (5, 1)], &[1.0, 1.0]);
    f.compact(2);
    assert_eq!(f.positive_spans, sp(&[(0, 1), (5, 1)]));
}

#[test]
fn add_inserts_missing_buckets() {
    let mut a = fh(0, &[(0, 2)], &[1.0, 2.0]);
    a.sum = 1.5;
    let mut b = fh(0, &[(1, 2)], &[3.0, 4.0]);
    b.sum = 2.0;
    let info = a.add(&b).expect("compatible");
    assert_eq!(info, AddInfo::default());
    assert_eq!(a.positive_spans, sp(&[(0, 3)]));
    assert_eq!(a.positive_buckets, vec![1.0, 5.0, 4.0]);
    assert_eq!((a.count, a.sum), (10.0, 3.5));
    // A bucket before all others and one in a gap.
    let mut a = fh(0, &[(0, 1), (3, 1)], &[1.0, 1.0]);
    let b = fh(0, &[(-3, 1), (4, 1)], &[2.0, 2.0]);
    a.add(&b).expect("compatible");
    assert_eq!(a.positive_spans, sp(&[(-3, 1), (2, 1), (1, 1), (1, 1)]));
    assert_eq!(a.positive_buckets, vec![2.0, 1.0, 2.0, 1.0]);
    // Sub mirrors add.
    let mut a = fh(0, &[(0, 2)], &[5.0, 5.0]);
    a.sub(&fh(0, &[(1, 1)], &[2.0])).expect("compatible");
    assert_eq!(a.positive_buckets, vec![5.0, 3.0]);
    assert_eq!(a.count, 8.0);
}

#[test]
fn add_reduces_to_the_coarser_schema() {
    // Schema 1 buckets 1, 2 (upper bounds √2, 2) fall into schema 0 bucket 1 (upper 2).
    let mut a = fh(1, &[(1, 2)], &[1.0, 2.0]);
    let b = fh(0, &[(1, 1)], &[4.0]);
    a.add(&b).expect("compatible");
    assert_eq!(a.schema, 0);
    assert_eq!(a.positive_spans, sp(&[(1, 1)]));
    assert_eq!(a.positive_buckets, vec![7.0]);
    // And the other way round, leaving `other` untouched.
    let mut c = fh(0, &[(1, 1)], &[4.0]);
    let d = fh(1, &[(1, 2)], &[1.0, 2.0]);
    c.add(&d).expect("compatible");
    assert_eq!((c.schema, c.positive_buckets.clone()), (0, vec![7.0]));
    assert_eq!(d.schema, 1);
    // Integer reduction keeps delta encoding: schema 1 abs [1,2,3] at 0..=2 → schema 0: idx 0
    // ← {0}, idx 1 ← {1, 2}: abs [1, 5] → deltas [1, 4].
    let mut h = ih(1, &[(0, 3)], &[1, 1, 1]);
    h.reduce_resolution(0).expect("reduce");
    assert_eq!(h.positive_spans, sp(&[(0, 2)]));
    assert_eq!(h.positive_buckets, vec![1, 4]);
}

#[test]
fn add_reconciles_zero_buckets() {
    // `a` has buckets (0.5,1] and (1,2]; `b` has a zero threshold of 1, so a's first bucket
    // moves into the zero bucket.
    let mut a = fh(0, &[(0, 2)], &[2.0, 3.0]);
    let mut b = fh(0, &[(1, 1)], &[1.0]);
    b.zero_threshold = 1.0;
    b.zero_count = 4.0;
    b.count += 4.0;
    a.add(&b).expect("compatible");
    assert_eq!((a.zero_threshold, a.zero_count), (1.0, 6.0));
    assert_eq!(a.positive_spans, sp(&[(1, 1)]));
    assert_eq!(a.positive_buckets, vec![4.0]);
    assert_eq!(a.count, 10.0);
}

#[test]
fn add_custom_buckets() {
    let mut a = fh(CUSTOM_BUCKETS_SCHEMA, &[(0, 3)], &[1.0, 2.0, 3.0]);
    a.custom_values = vec![1.0, 2.0];
    let mut b = a.clone();
    a.add(&b).expect("same bounds");
    assert_eq!(a.positive_buckets, vec![2.0, 4.0, 6.0]);
    // Different bounds: both map onto the shared bounds [2.0].
    b.custom_values = vec![2.0, 3.0];
    let mut a = fh(CUSTOM_BUCKETS_SCHEMA, &[(0, 3)], &[1.0, 2.0, 3.0]);
    a.custom_values = vec![1.0, 2.0];
    let info = a.add(&b).expect("both nhcb");
    assert!(info.nhcb_bounds_reconciled);
    assert_eq!(a.custom_values, vec![2.0]);
    // a: (-Inf,1]+(1,2] → (-Inf,2] = 3, (2,Inf] = 3; b: (-Inf,2] = 1, (2,3]+(3,Inf] = 5.
    assert_eq!(a.positive_spans, sp(&[(0, 2)]));
    assert_eq!(a.positive_buckets, vec![4.0, 8.0]);
    let mut e = fh(0, &[], &[]);
    assert_eq!(e.add(&b), Err(HistogramError::IncompatibleSchema));
}

#[test]
fn add_adjusts_counter_reset_hint() {
    use CounterResetHint::*;
    for (x, y, want, collision) in [
        (Gauge, NotCounterReset, Gauge, false),
        (NotCounterReset, Gauge, Gauge, false),
        (Unknown, CounterReset, Unknown, false),
        (CounterReset, Unknown, Unknown, false),
        (CounterReset, NotCounterReset, Unknown, true),
        (CounterReset, CounterReset, CounterReset, false),
    ] {
        let mut a = fh(0, &[], &[]);
        a.counter_reset_hint = x;
        let mut b = fh(0, &[], &[]);
        b.counter_reset_hint = y;
        let info = a.add(&b).expect("compatible");
        assert_eq!(
            (a.counter_reset_hint, info.counter_reset_collision),
            (want, collision)
        );
    }
}

#[test]
fn mul_div_scale_everything() {
    let mut a = fh(0, &[(0, 2)], &[1.0, 2.0]);
    a.sum = 3.0;
    a.zero_count = 1.0;
    a.mul(2.0);
    assert_eq!((a.count, a.sum, a.zero_count), (6.0, 6.0, 2.0));
    assert_eq!(a.positive_buckets, vec![2.0, 4.0]);
    a.mul(-1.0);
    assert_eq!(a.counter_reset_hint, CounterResetHint::Gauge);
    let mut b = fh(0, &[(0, 2)], &[1.0, 2.0]);
    b.div(0.0);
    assert!(b.positive_buckets.is_empty() && b.positive_spans.is_empty());
    assert_eq!(b.count, f64::INFINITY);
}

#[test]
fn detect_reset_cases() {
    let prev = fh(0, &[(0, 2)], &[2.0, 3.0]);
    let same = prev.clone();
    assert!(!same.detect_reset(&prev));
    let grown = fh(0, &[(0, 3)], &[2.0, 3.0, 1.0]);
    assert!(!grown.detect_reset(&prev));
    let mut shrunk = fh(0, &[(0, 3)], &[1.0, 4.0, 1.0]);
    assert!(shrunk.detect_reset(&prev));
    shrunk.counter_reset_hint = CounterResetHint::NotCounterReset;
    assert!(!shrunk.detect_reset(&prev));
    let gone = fh(0, &[(1, 1)], &[10.0]);
    assert!(gone.detect_reset(&prev));
    // Higher resolution means a reset; lower resolution merges the previous buckets.
    let finer = fh(1, &[(0, 1)], &[100.0]);
    assert!(finer.detect_reset(&prev));
    let coarser = fh(-1, &[(0, 1), (0, 1)], &[2.0, 3.0]);
    assert!(!coarser.detect_reset(&prev));
    // Custom buckets with different bounds compare at shared bounds.
    let mut p = fh(CUSTOM_BUCKETS_SCHEMA, &[(0, 3)], &[1.0, 2.0, 3.0]);
    p.custom_values = vec![1.0, 2.0];
    let mut c = fh(CUSTOM_BUCKETS_SCHEMA, &[(0, 2)], &[3.0, 3.0]);
    c.custom_values = vec![2.0];
    assert!(!c.detect_reset(&p));
    c.positive_buckets = vec![2.0, 4.0];
    assert!(c.detect_reset(&p));
}

#[test]
fn equals_ignores_empty_spans_and_compares_bits() {
    let mut a = fh(0, &[(0, 2)], &[1.0, 2.0]);
    a.sum = f64::NAN;
    let mut b = fh(0, &[(0, 0), (0, 2), (3, 0)], &[1.0, 2.0]);
    b.sum = f64::NAN;
    b.counter_reset_hint = CounterResetHint::Gauge;
    assert_eq!(a, b);
    let c = fh(0, &[(0, 1), (0, 1)], &[1.0, 2.0]);
    assert!(!a.equals(&c), "adjacent spans are a different layout");
    b.positive_buckets[1] = -0.0;
    assert_ne!(a, b);
    let i = ih(0, &[(0, 2)], &[1, 1]);
    assert_eq!(i, i.clone());
}

#[test]
fn display_like_prometheus() {
    let mut h = ih(0, &[(0, 2)], &[1, 1]);
    h.zero_count = 3;
    h.zero_threshold = 0.001;
    h.count += 3;
    h.sum = 12.5;
    assert_eq!(
        h.to_string(),
        "{count:6, sum:12.5, [-0.001,0.001]:3, (0.5,1]:1, (1,2]:2}"
    );
}

#[test]
fn all_buckets_iter_orders_and_clips() {
    let mut f = fh(0, &[(0, 1)], &[2.0]);
    f.negative_spans = sp(&[(0, 2)]);
    f.negative_buckets = vec![1.0, 3.0];
    f.zero_threshold = 0.7;
    f.zero_count = 5.0;
    let got: Vec<(f64, f64, f64)> = f
        .all_buckets_iter()
        .map(|b| (b.lower, b.upper, b.count))
        .collect();
    assert_eq!(
        got,
        vec![
            (-2.0, -1.0, 3.0),
            (-1.0, -0.7, 1.0),
            (-0.7, 0.7, 5.0),
            (0.7, 1.0, 2.0)
        ]
    );
    let rev: Vec<f64> = f.all_reverse_buckets_iter().map(|b| b.count).collect();
    assert_eq!(rev, vec![2.0, 5.0, 1.0, 3.0]);
}

#[test]
fn kahan_add_compensates_rounding() {
    // 1e16 + 1 + 1 loses both ones in plain addition; Kahan keeps them.
    let big = fh(0, &[(0, 1)], &[1e16]);
    let one = fh(0, &[(0, 1)], &[1.0]);
    let mut plain = big.clone();
    plain.add(&one).expect("add");
    plain.add(&one).expect("add");
    assert_eq!(plain.positive_buckets, vec![1e16]);
    let mut k = big.clone();
    let (c, _) = k.kahan_add(&one, None).expect("kahan");
    let (c, _) = k.kahan_add(&one, Some(c)).expect("kahan");
    k.add(&c).expect("fold");
    assert_eq!(k.positive_buckets, vec![1e16 + 2.0]);
    assert_eq!(k.count, 1e16 + 2.0);
}

/// A tiny deterministic generator, so this crate needs no fuzzing dependency.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % (hi - lo) as u64) as i64
    }
    fn float(&mut self) -> f64 {
        match self.next() % 8 {
            0 => f64::NAN,
            1 => f64::INFINITY,
            2 => -1.0,
            3 => 0.0,
            _ => self.range(0, 100) as f64,
        }
    }
    fn spans(&mut self) -> Vec<Span> {
        (0..self.range(0, 4))
            .map(|_| Span::new(self.range(-5, 5) as i32, self.range(0, 4) as u32))
            .collect()
    }
    fn fh(&mut self) -> FloatHistogram {
        let schema = [-53, -9, -4, 0, 3, 8, 9, 52, 60][self.range(0, 9) as usize];
        FloatHistogram {
            schema,
            zero_threshold: [0.0, 0.001, 1.0, f64::NAN][self.range(0, 4) as usize],
            zero_count: self.float(),
            count: self.float(),
            sum: self.float(),
            positive_spans: self.spans(),
            negative_spans: self.spans(),
            positive_buckets: (0..self.range(0, 8)).map(|_| self.float()).collect(),
            negative_buckets: (0..self.range(0, 8)).map(|_| self.float()).collect(),
            custom_values: (0..self.range(0, 4)).map(|_| self.float()).collect(),
            ..Default::default()
        }
    }
}

#[test]
fn garbage_histograms_never_panic() {
    let mut r = Lcg(1);
    for _ in 0..20_000 {
        let a = r.fh();
        let b = r.fh();
        let _ = a.validate();
        let _ = a.positive_buckets_iter().count() + a.negative_buckets_iter().count();
        let _ = a.all_buckets_iter().count() + a.all_reverse_buckets_iter().count();
        let _ = a.detect_reset(&b);
        let _ = a.equals(&b);
        let _ = a.to_string();
        let mut c = a.clone();
        let _ = c.add(&b);
        c.compact(r.range(0, 3) as usize);
        let mut c = a.clone();
        let _ = c.sub(&b);
        let mut c = a.clone();
        if let Ok((k, _)) = c.kahan_add(&b, None) {
            let _ = c.kahan_add(&a, Some(k));
        }
        let mut c = a.clone();
        let _ = c.reduce_resolution(r.range(-10, 10) as i32);
        c.mul(-2.0).div(0.0);
        let mut i = Histogram {
            schema: a.schema,
            positive_spans: a.positive_spans.clone(),
            positive_buckets: (0..r.range(0, 8)).map(|_| r.range(-5, 5)).collect(),
            count: r.next(),
            ..Default::default()
        };
        let _ = i.validate();
        let _ = i.to_float();
        let _ = i.positive_buckets_iter().count();
        i.compact(1);
        let _ = i.reduce_resolution(r.range(-10, 10) as i32);
    }
}
