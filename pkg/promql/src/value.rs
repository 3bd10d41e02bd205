//! Query results as the HTTP layer sees them.

use strata_model::histogram::FloatHistogram;
use strata_model::{Labels, Sample};

/// A query's result value, shaped as Prometheus's `resultType`.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `resultType: scalar`.
    Scalar {
        /// Evaluation time in milliseconds.
        t: i64,
        /// The value.
        v: f64,
    },
    /// `resultType: string`.
    String {
        /// Evaluation time in milliseconds.
        t: i64,
        /// The value.
        v: String,
    },
    /// `resultType: vector` (instant queries).
    Vector(Vec<VectorSample>),
    /// `resultType: matrix` (range queries, and instant queries of range vectors).
    Matrix(Vec<RangeSeries>),
}

/// One element of an instant vector.
#[derive(Debug, Clone, PartialEq)]
pub struct VectorSample {
    /// The series' labels.
    pub labels: Labels,
    /// Evaluation time in milliseconds.
    pub t: i64,
    /// The float value; meaningless (0) when `h` is set.
    pub v: f64,
    /// The native histogram value, when the sample is a histogram (`"histogram"` in the API).
    pub h: Option<FloatHistogram>,
}

/// One native histogram point of a matrix series.
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramPoint {
    /// Milliseconds since the Unix epoch.
    pub t: i64,
    /// The histogram.
    pub h: FloatHistogram,
}

/// One series of a matrix.
#[derive(Debug, Clone, PartialEq)]
pub struct RangeSeries {
    /// The series' labels.
    pub labels: Labels,
    /// Float samples in increasing time order.
    pub samples: Vec<Sample>,
    /// Native histogram samples in increasing time order (`"histograms"` in the API).
    pub histograms: Vec<HistogramPoint>,
}

/// A successful query's result with its annotations.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryResult {
    /// The value.
    pub value: Value,
    /// `PromQL warning: ...` annotations.
    pub warnings: Vec<String>,
    /// `PromQL info: ...` annotations.
    pub infos: Vec<String>,
}
