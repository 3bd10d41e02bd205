//! Query results as the HTTP layer sees them.

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
    /// The value.
    pub v: f64,
}

/// One series of a matrix.
#[derive(Debug, Clone, PartialEq)]
pub struct RangeSeries {
    /// The series' labels.
    pub labels: Labels,
    /// Samples in increasing time order.
    pub samples: Vec<Sample>,
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
