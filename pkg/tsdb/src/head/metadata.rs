//! Metric metadata per metric family: the latest type, help and unit a tenant sent.

use std::collections::HashMap;

use parking_lot::RwLock;

/// A metric family's type, as in Prometheus's remote write metadata.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum MetricType {
    /// Not given.
    #[default]
    Unknown,
    /// A counter.
    Counter,
    /// A gauge.
    Gauge,
    /// A classic or native histogram.
    Histogram,
    /// A gauge histogram.
    GaugeHistogram,
    /// A summary.
    Summary,
    /// An info metric.
    Info,
    /// A state set.
    StateSet,
}

/// Metadata of one metric family.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MetricMetadata {
    /// The family name (the metric name without `_bucket`, `_total`, … suffixes as sent).
    pub metric_family_name: String,
    /// The family's type.
    pub metric_type: MetricType,
    /// The help text.
    pub help: String,
    /// The unit.
    pub unit: String,
}

/// The latest metadata per metric family of one tenant.
#[derive(Debug, Default)]
pub struct MetadataStore {
    m: RwLock<HashMap<String, MetricMetadata>>,
}

impl MetadataStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records `md` as the family's latest metadata. Entries without a family name are ignored.
    pub fn add(&self, md: MetricMetadata) {
        if md.metric_family_name.is_empty() {
            return;
        }
        // Metadata is resent with every scrape and rarely changes: avoid the write lock then.
        if self.m.read().get(&md.metric_family_name) == Some(&md) {
            return;
        }
        let mut m = self.m.write();
        match m.get_mut(&md.metric_family_name) {
            Some(cur) => *cur = md,
            None => {
                m.insert(md.metric_family_name.clone(), md);
            }
        }
    }

    /// The metadata of `metric` only, or of every family when `None`, sorted by family name,
    /// at most `limit` entries (`None` for all).
    pub fn get(&self, metric: Option<&str>, limit: Option<usize>) -> Vec<MetricMetadata> {
        let m = self.m.read();
        let mut out: Vec<MetricMetadata> = match metric {
            Some(name) => m.get(name).cloned().into_iter().collect(),
            None => m.values().cloned().collect(),
        };
        drop(m);
        out.sort_by(|a, b| a.metric_family_name.cmp(&b.metric_family_name));
        if let Some(limit) = limit {
            out.truncate(limit);
        }
        out
    }

    /// The number of families with metadata.
    pub fn len(&self) -> usize {
        self.m.read().len()
    }

    /// Tells whether no metadata is stored.
    pub fn is_empty(&self) -> bool {
        self.m.read().is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn md(name: &str, t: MetricType, help: &str) -> MetricMetadata {
        MetricMetadata {
            metric_family_name: name.into(),
            metric_type: t,
            help: help.into(),
            unit: String::new(),
        }
    }

    #[test]
    fn keeps_latest_per_family_and_limits() {
        let s = MetadataStore::new();
        s.add(md("b", MetricType::Gauge, "old"));
        s.add(md("b", MetricType::Counter, "new"));
        s.add(md("a", MetricType::Gauge, "x"));
        s.add(md("", MetricType::Gauge, "ignored"));
        assert_eq!(s.len(), 2);
        let all = s.get(None, None);
        assert_eq!(
            all,
            vec![
                md("a", MetricType::Gauge, "x"),
                md("b", MetricType::Counter, "new")
            ]
        );
        assert_eq!(s.get(None, Some(1)).len(), 1);
        assert_eq!(
            s.get(Some("b"), None),
            vec![md("b", MetricType::Counter, "new")]
        );
        assert!(s.get(Some("zzz"), None).is_empty());
    }
}
