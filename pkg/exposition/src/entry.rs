//! What the parsers produce: one [`Entry`] per metadata line or sample.

use std::borrow::Cow;

/// A metric family's type, from a `# TYPE` line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MetricType {
    /// `counter`
    Counter,
    /// `gauge`
    Gauge,
    /// `histogram`
    Histogram,
    /// `gaugehistogram` (OpenMetrics only)
    GaugeHistogram,
    /// `summary`
    Summary,
    /// `info` (OpenMetrics only)
    Info,
    /// `stateset` (OpenMetrics only)
    StateSet,
    /// `untyped` (Prometheus text) or `unknown` (OpenMetrics)
    Unknown,
}

impl MetricType {
    /// The type's name as Prometheus's metadata API writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
            MetricType::Histogram => "histogram",
            MetricType::GaugeHistogram => "gaugehistogram",
            MetricType::Summary => "summary",
            MetricType::Info => "info",
            MetricType::StateSet => "stateset",
            MetricType::Unknown => "unknown",
        }
    }

    /// Tells whether the family may carry a `<name>_created` series (OpenMetrics).
    pub fn has_created(self) -> bool {
        matches!(
            self,
            MetricType::Counter
                | MetricType::Histogram
                | MetricType::GaugeHistogram
                | MetricType::Summary
        )
    }
}

/// One label of a sample or exemplar: the name borrowed from the input, the value borrowed
/// unless it held escapes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Label<'a> {
    /// The label name.
    pub name: &'a str,
    /// The label value, unescaped.
    pub value: Cow<'a, str>,
}

/// An OpenMetrics exemplar attached to a sample (`… # {trace_id="x"} 1.0 1700000000.5`).
#[derive(Clone, Debug, PartialEq)]
pub struct Exemplar<'a> {
    /// The exemplar's labels.
    pub labels: Vec<Label<'a>>,
    /// Its value.
    pub value: f64,
    /// Its timestamp in milliseconds, if given (OpenMetrics writes seconds).
    pub timestamp_ms: Option<i64>,
}

/// One sample line.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample<'a> {
    /// The metric name (`__name__`).
    pub name: &'a str,
    /// The labels in the order written (not sorted, duplicates not removed).
    pub labels: Vec<Label<'a>>,
    /// The value; every NaN is Prometheus's canonical NaN (`0x7ff8000000000001`).
    pub value: f64,
    /// The timestamp in milliseconds, if the line has one.
    pub timestamp_ms: Option<i64>,
    /// The exemplar (OpenMetrics only).
    pub exemplar: Option<Exemplar<'a>>,
    /// Tells that this is the `<family>_created` series of the current counter, histogram,
    /// gauge histogram or summary family in OpenMetrics: its value is the family's creation
    /// time in seconds, not a sample Prometheus 2 treats differently (it ingests it as a
    /// series), but a scraper may want to.
    pub created: bool,
}

impl Sample<'_> {
    /// The sample's series as a sorted [`strata_model::Labels`], `__name__` included. A
    /// label with an empty value is left out (empty is the same as absent in Prometheus);
    /// of two labels with one name the later wins, so a `__name__` written inside the
    /// braces replaces the metric name (the scrape loop should refuse duplicate names
    /// before this, as Prometheus does).
    pub fn to_labels(&self) -> strata_model::Labels {
        let mut v = Vec::with_capacity(self.labels.len() + 1);
        v.push(strata_model::Label::new(
            strata_model::METRIC_NAME,
            self.name,
        ));
        for l in self.labels.iter().filter(|l| !l.value.is_empty()) {
            v.push(strata_model::Label::new(l.name, l.value.as_ref()));
        }
        strata_model::Labels::new(v)
    }
}

/// One parsed entry.
#[derive(Clone, Debug, PartialEq)]
pub enum Entry<'a> {
    /// `# HELP name text`; the text unescaped.
    Help {
        /// The metric family name.
        metric: &'a str,
        /// The help text.
        text: Cow<'a, str>,
    },
    /// `# TYPE name type`.
    Type {
        /// The metric family name.
        metric: &'a str,
        /// The type.
        kind: MetricType,
    },
    /// `# UNIT name unit` (OpenMetrics only).
    Unit {
        /// The metric family name.
        metric: &'a str,
        /// The unit (a suffix of the name, or empty).
        unit: &'a str,
    },
    /// Any other comment line (Prometheus text only), as written, `#` included.
    Comment(Cow<'a, str>),
    /// A sample.
    Sample(Sample<'a>),
}
