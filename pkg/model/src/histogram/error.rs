/// A histogram failed validation or an operation could not combine two histograms.
///
/// Messages follow Prometheus's (`model/histogram/generic.go`) word for word, including the
/// context prefix (`positive side: `, `custom buckets: `, ...), so they can be returned to
/// clients exactly as Prometheus would.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum HistogramError {
    /// The spans describe more or fewer buckets than there are.
    #[error("{ctx}spans need {need} buckets, have {have} buckets: histogram spans specify different number of buckets than provided")]
    SpansBucketsMismatch {
        /// Where the problem is, e.g. `positive side: ` (empty for none).
        ctx: &'static str,
        /// Buckets the spans describe.
        need: usize,
        /// Buckets present.
        have: usize,
    },
    /// A span after the first (or any span, for custom buckets) has a negative offset.
    #[error("{ctx}span number {number} with offset {offset}: histogram has a span whose offset is negative")]
    SpanNegativeOffset {
        /// Where the problem is.
        ctx: &'static str,
        /// One-based span number.
        number: usize,
        /// The offending offset.
        offset: i32,
    },
    /// A bucket's absolute count is negative.
    #[error("{ctx}bucket number {number} has observation count of {count}: histogram has a bucket whose observation count is negative")]
    NegativeBucketCount {
        /// Where the problem is.
        ctx: &'static str,
        /// One-based bucket number.
        number: usize,
        /// The count, formatted.
        count: String,
    },
    /// A float histogram's zero bucket count is negative.
    #[error("zero bucket has observation count of {0}: histogram has a bucket whose observation count is negative")]
    NegativeZeroCount(f64),
    /// A float histogram's count is negative.
    #[error("observation count is  {0}: histogram's observation count is negative")]
    NegativeCount(f64),
    /// The buckets hold a different number of observations than the count (sum not NaN).
    #[error("{found} observations found in buckets, but the Count field is {count}: histogram's observation count should equal the number of observations found in the buckets (in absence of NaN)")]
    CountMismatch {
        /// Observations in the buckets.
        found: u64,
        /// The count field.
        count: u64,
    },
    /// The buckets hold more observations than the count (sum is NaN).
    #[error("{found} observations found in buckets, but the Count field is {count}: histogram's observation count should be at least the number of observations found in the buckets")]
    CountNotBigEnough {
        /// Observations in the buckets.
        found: u64,
        /// The count field.
        count: u64,
    },
    /// A custom bound is NaN.
    #[error("custom buckets: histogram custom bounds must not be NaN")]
    CustomBucketsNaN,
    /// Custom bounds do not increase strictly.
    #[error("custom buckets: previous bound is {prev:.6} and current is {curr:.6}: histogram custom bounds must be in strictly increasing order")]
    CustomBucketsInvalid {
        /// The earlier bound.
        prev: f64,
        /// The bound that is not larger.
        curr: f64,
    },
    /// The last custom bound is +Inf, which is implicit.
    #[error("custom buckets: last +Inf bound must not be explicitly defined: histogram custom bounds must be finite")]
    CustomBucketsInfinite,
    /// The spans reach past the custom bounds.
    #[error("custom buckets: only {bounds} custom bounds defined which is insufficient to cover total span length of {span_length}: histogram custom bounds are too few")]
    CustomBucketsMismatch {
        /// Number of custom bounds.
        bounds: usize,
        /// Buckets spanned, gaps included.
        span_length: usize,
    },
    /// A custom-bucket histogram has a zero count.
    #[error("custom buckets: must have zero count of 0")]
    CustomBucketsZeroCount,
    /// A custom-bucket histogram has a zero threshold.
    #[error("custom buckets: must have zero threshold of 0")]
    CustomBucketsZeroThreshold,
    /// A custom-bucket histogram has negative spans.
    #[error("custom buckets: must not have negative spans")]
    CustomBucketsNegativeSpans,
    /// A custom-bucket histogram has negative buckets.
    #[error("custom buckets: must not have negative buckets")]
    CustomBucketsNegativeBuckets,
    /// An exponential histogram carries custom bounds.
    #[error("histogram with exponential schema must not have custom bounds")]
    ExponentialSchemaCustomBounds,
    /// The schema is neither -4..=8 nor -53.
    #[error("histogram has an invalid schema, which must be between -4 and 8 for exponential buckets, or -53 for custom buckets, got schema {0}")]
    InvalidSchema(i32),
    /// The schema is not one Prometheus can even reduce (-9..=52 or -53).
    #[error("histogram has an unknown schema, which must be between -9 and 52 for exponential buckets, or -53 for custom buckets, got schema {0}")]
    UnknownSchema(i32),
    /// An operation mixed exponential and custom-bucket histograms.
    #[error("cannot apply this operation on histograms with a mix of exponential and custom bucket schemas")]
    IncompatibleSchema,
    /// Resolution reduction was asked for something it cannot do.
    #[error("{0}")]
    ReduceResolution(String),
}
