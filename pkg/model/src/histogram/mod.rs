//! Native histograms, Prometheus's data model (`model/histogram`).
//!
//! - [`Histogram`]: integer counts, buckets delta-encoded (each bucket relative to the previous
//!   one), the form scrapes and chunks of encoding 2 carry.
//! - [`FloatHistogram`]: float counts, absolute buckets; what PromQL computes with.
//! - [`Span`]: a run of consecutive buckets; the first span's offset is the index of its first
//!   bucket, later offsets are gaps after the previous span.
//! - Schemas: -4..=8 are exponential (bucket `i` has upper bound `2^(i * 2^-schema)`);
//!   [`CUSTOM_BUCKETS_SCHEMA`] (-53) uses explicit `custom_values` upper bounds (NHCB).
//!
//! - Arithmetic with Prometheus's semantics on [`FloatHistogram`]: `add`, `sub`, `kahan_add`
//!   (PromQL's `sum`/`avg`), `mul`, `div`, `compact`, `reduce_resolution`, `detect_reset`,
//!   `equals`; bucket iterators yield [`Bucket`]s with bounds per schema ([`bucket_bound`]).
//! - Errors ([`HistogramError`]) carry Prometheus's messages word for word.
//!
//! Invariant after [`Histogram::validate`] / [`FloatHistogram::validate`]: spans and buckets agree,
//! no bucket count is negative, custom-bucket rules hold. Operations on unvalidated input never
//! panic; they may give meaningless results (add/sub/kahan_add refuse inconsistent spans).
//!
//! Tested by table-driven cases in `tests.rs` whose expected values are derived by hand from
//! the definitions above (bucket bounds per schema, Prometheus's documented semantics).

mod arith;
mod error;
mod exp_bounds;
mod float;
mod generic;
mod int;
mod iter;
mod merge;

#[cfg(test)]
mod tests;

pub use arith::AddInfo;
pub use error::HistogramError;
pub use float::FloatHistogram;
pub use int::Histogram;
pub use iter::{AllBucketIter, BucketIter, FloatBucketIter, ReverseFloatBucketIter};

/// The largest exponential schema Prometheus accepts.
pub const EXPONENTIAL_SCHEMA_MAX: i32 = 8;
/// The largest exponential schema Prometheus can read by reducing it to [`EXPONENTIAL_SCHEMA_MAX`].
pub const EXPONENTIAL_SCHEMA_MAX_RESERVED: i32 = 52;
/// The smallest exponential schema Prometheus accepts.
pub const EXPONENTIAL_SCHEMA_MIN: i32 = -4;
/// The smallest reserved exponential schema.
pub const EXPONENTIAL_SCHEMA_MIN_RESERVED: i32 = -9;
/// The schema of histograms with custom bucket bounds (NHCB).
pub const CUSTOM_BUCKETS_SCHEMA: i32 = -53;

/// Tells whether `s` is the custom-buckets schema.
pub fn is_custom_buckets_schema(s: i32) -> bool {
    s == CUSTOM_BUCKETS_SCHEMA
}

/// Tells whether `s` is an exponential schema Prometheus accepts (-4..=8).
pub fn is_exponential_schema(s: i32) -> bool {
    (EXPONENTIAL_SCHEMA_MIN..=EXPONENTIAL_SCHEMA_MAX).contains(&s)
}

/// Tells whether `s` is in the reserved exponential range (-9..=52).
pub fn is_exponential_schema_reserved(s: i32) -> bool {
    (EXPONENTIAL_SCHEMA_MIN_RESERVED..=EXPONENTIAL_SCHEMA_MAX_RESERVED).contains(&s)
}

/// Tells whether `s` is valid for ingestion: exponential or custom buckets.
pub fn is_valid_schema(s: i32) -> bool {
    is_custom_buckets_schema(s) || is_exponential_schema(s)
}

/// Tells whether `s` can be read (possibly after reducing the resolution).
pub fn is_known_schema(s: i32) -> bool {
    is_custom_buckets_schema(s) || is_exponential_schema_reserved(s)
}

/// Tells whether two sets of custom bounds are equal (by value, so `-0.0 == 0.0`).
pub fn custom_bucket_bounds_match(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

/// A run of consecutive buckets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Span {
    /// Gap to the previous span's end, or the first bucket's index for the first span.
    pub offset: i32,
    /// Number of consecutive buckets.
    pub length: u32,
}

impl Span {
    /// Makes a span.
    pub const fn new(offset: i32, length: u32) -> Self {
        Self { offset, length }
    }
}

/// What a histogram says about counter resets, as Prometheus's `CounterResetHint`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum CounterResetHint {
    /// It is not known whether this histogram follows a counter reset.
    #[default]
    Unknown = 0,
    /// There was a counter reset just before this histogram.
    CounterReset = 1,
    /// There was definitely no counter reset before this histogram.
    NotCounterReset = 2,
    /// A gauge histogram: counter resets do not apply.
    Gauge = 3,
}

/// One bucket with its bounds and absolute count. Negative-side buckets have negative bounds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bucket<C> {
    /// Lower bound.
    pub lower: f64,
    /// Upper bound.
    pub upper: f64,
    /// Whether the lower bound belongs to the bucket.
    pub lower_inclusive: bool,
    /// Whether the upper bound belongs to the bucket.
    pub upper_inclusive: bool,
    /// Observations in the bucket (cumulative for cumulative iteration).
    pub count: C,
    /// The bucket's index in its schema (irrelevant for the zero bucket).
    pub index: i32,
}

impl<C: std::fmt::Display> std::fmt::Display for Bucket<C> {
    /// Prometheus's notation, e.g. `(0.5,1]:3`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}{},{}{}:{}",
            if self.lower_inclusive { '[' } else { '(' },
            fmt_g(self.lower),
            fmt_g(self.upper),
            if self.upper_inclusive { ']' } else { ')' },
            self.count
        )
    }
}

/// Formats a float roughly as Go's `%g` does for the bounds Prometheus prints.
fn fmt_g(v: f64) -> String {
    if v.is_infinite() {
        return if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    let a = v.abs();
    if a != 0.0 && !(1e-4..1e21).contains(&a) {
        let s = format!("{v:e}");
        // Go writes the exponent with a sign and at least two digits: 1e-05, 1.5e+21.
        if let Some((m, e)) = s.split_once('e') {
            let (sign, digits) = match e.strip_prefix('-') {
                Some(d) => ('-', d),
                None => ('+', e),
            };
            return format!("{m}e{sign}{digits:0>2}");
        }
        return s;
    }
    format!("{v}")
}

/// Multiplies `frac` by `2^exp` exactly (barring subnormal results), as Go's `math.Ldexp`.
pub(crate) fn ldexp(frac: f64, exp: i64) -> f64 {
    let mut x = frac;
    let mut e = exp.clamp(-2200, 2200);
    while e > 1023 {
        x *= f64::from_bits(0x7fe0_0000_0000_0000); // 2^1023
        e -= 1023;
    }
    while e < -1022 {
        x *= f64::from_bits(0x0010_0000_0000_0000); // 2^-1022
        e += 1022;
    }
    x * f64::from_bits(((e + 1023) as u64) << 52)
}

/// The upper bound of bucket `idx` in an exponential schema, as Prometheus's
/// `getBoundExponential`: the last finite bucket ends at `f64::MAX` so that ±Inf observations get
/// a bucket of their own.
pub fn exponential_bound(idx: i32, schema: i32) -> f64 {
    if schema < 0 {
        let exp = i64::from(idx) << schema.checked_neg().unwrap_or(i32::MAX).min(62);
        if exp == 1024 {
            return f64::MAX;
        }
        return ldexp(1.0, exp);
    }
    if schema > EXPONENTIAL_SCHEMA_MAX {
        // Only reachable for histograms not yet reduced from a reserved schema; computed rather
        // than tabled since Prometheus never reports such bounds.
        let exp = f64::from(idx) / f64::from(1u32 << schema.min(31));
        return exp.exp2();
    }
    let n = 1i32 << schema;
    let frac_idx = idx & (n - 1);
    let frac = exp_bounds::EXPONENTIAL_BOUNDS[(n - 1 + frac_idx) as usize];
    let exp = i64::from(idx >> schema) + 1;
    if frac == 0.5 && exp == 1025 {
        return f64::MAX;
    }
    ldexp(frac, exp)
}

/// The upper bound of bucket `idx`: from `custom_values` for custom buckets (−Inf below the first
/// bucket, +Inf past the last bound), from the schema otherwise.
pub fn bucket_bound(idx: i32, schema: i32, custom_values: &[f64]) -> f64 {
    if is_custom_buckets_schema(schema) {
        if idx < 0 {
            return f64::NEG_INFINITY;
        }
        return custom_values
            .get(idx as usize)
            .copied()
            .unwrap_or(f64::INFINITY);
    }
    exponential_bound(idx, schema)
}

/// The bucket index in `target` schema holding bucket `idx` of `origin` schema (`target <= origin`).
pub(crate) fn target_idx(idx: i32, origin: i32, target: i32) -> i32 {
    let shift = (origin - target).clamp(0, 31);
    (idx.wrapping_sub(1) >> shift).wrapping_add(1)
}

/// Builds a [`Bucket`] for index `idx` on one side.
pub(crate) fn make_bucket<C>(
    idx: i32,
    count: C,
    schema: i32,
    positive: bool,
    custom_values: &[f64],
) -> Bucket<C> {
    let (lower, upper) = if positive {
        (
            bucket_bound(idx.wrapping_sub(1), schema, custom_values),
            bucket_bound(idx, schema, custom_values),
        )
    } else {
        (
            -bucket_bound(idx, schema, custom_values),
            -bucket_bound(idx.wrapping_sub(1), schema, custom_values),
        )
    };
    let (lower_inclusive, upper_inclusive) = if is_custom_buckets_schema(schema) {
        (idx == 0, true)
    } else {
        (lower < 0.0, upper > 0.0)
    };
    Bucket {
        lower,
        upper,
        lower_inclusive,
        upper_inclusive,
        count,
        index: idx,
    }
}

/// Tells whether two span lists describe the same buckets, ignoring zero-length spans, as
/// Prometheus's `spansMatch`.
pub(crate) fn spans_match(s1: &[Span], s2: &[Span]) -> bool {
    // Normalise: fold zero-length spans' offsets into the next span. Adjacent spans (offset 0)
    // are deliberately not merged: Prometheus tells [{0,2},{0,1}] and [{0,3}] apart.
    fn norm(s: &[Span]) -> Vec<Span> {
        let mut out: Vec<Span> = Vec::with_capacity(s.len());
        let mut carry: i64 = 0;
        for sp in s {
            let off = carry + i64::from(sp.offset);
            if sp.length == 0 {
                carry = off;
                continue;
            }
            carry = 0;
            out.push(Span::new(off as i32, sp.length));
        }
        out
    }
    norm(s1) == norm(s2)
}
