//! What one stored sample holds: a float, an integer native histogram or a float native
//! histogram, as Prometheus's head appends them (`Append`, `AppendHistogram` with `h` or `fh`).

use strata_model::{FloatHistogram, Histogram};

/// One sample's value.
#[derive(Clone, Debug)]
pub enum SampleValue {
    /// A float (stale markers included).
    Float(f64),
    /// An integer native histogram (chunk encoding 2).
    Histogram(Box<Histogram>),
    /// A float native histogram (chunk encoding 3).
    FloatHistogram(Box<FloatHistogram>),
}

impl SampleValue {
    /// Tells whether `other` is the same value: floats by bits, histograms by Prometheus's
    /// `Equals` (which ignores the counter reset hint). Values of different kinds differ.
    pub fn same_as(&self, other: &SampleValue) -> bool {
        match (self, other) {
            (SampleValue::Float(a), SampleValue::Float(b)) => a.to_bits() == b.to_bits(),
            (SampleValue::Histogram(a), SampleValue::Histogram(b)) => a.equals(b),
            (SampleValue::FloatHistogram(a), SampleValue::FloatHistogram(b)) => a.equals(b),
            _ => false,
        }
    }

    /// The float, if this is one.
    pub fn as_float(&self) -> Option<f64> {
        match self {
            SampleValue::Float(v) => Some(*v),
            _ => None,
        }
    }
}

impl From<f64> for SampleValue {
    fn from(v: f64) -> Self {
        SampleValue::Float(v)
    }
}

impl From<Histogram> for SampleValue {
    fn from(h: Histogram) -> Self {
        SampleValue::Histogram(Box::new(h))
    }
}

impl From<FloatHistogram> for SampleValue {
    fn from(h: FloatHistogram) -> Self {
        SampleValue::FloatHistogram(Box::new(h))
    }
}
