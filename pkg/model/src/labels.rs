use std::fmt;

/// The label that holds a series' metric name.
pub const METRIC_NAME: &str = "__name__";

/// One label pair.
#[derive(
    Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct Label {
    /// The label name.
    pub name: String,
    /// The label value; never empty inside stored series.
    pub value: String,
}

impl Label {
    /// Makes a label pair.
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            value: value.into(),
        }
    }
}

/// A series' identity: labels sorted by name, names unique.
///
/// Ordering compares label by label (name, then value), then length, as Prometheus's
/// `labels.Compare` does, so sorted series come out in Prometheus's order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Labels(Vec<Label>);

impl Labels {
    /// Builds a label set from pairs in any order. Later duplicates of a name win.
    pub fn new(mut labels: Vec<Label>) -> Self {
        labels.sort_by(|a, b| a.name.cmp(&b.name));
        // Keep the last of each run of equal names.
        let mut out: Vec<Label> = Vec::with_capacity(labels.len());
        for l in labels {
            match out.last_mut() {
                Some(prev) if prev.name == l.name => *prev = l,
                _ => out.push(l),
            }
        }
        Self(out)
    }

    /// Builds a label set from pairs already sorted by name with unique names.
    ///
    /// The caller guarantees the order; debug builds check it.
    pub fn from_sorted(labels: Vec<Label>) -> Self {
        debug_assert!(labels.windows(2).all(|w| w[0].name < w[1].name));
        Self(labels)
    }

    /// Builds a label set from `(name, value)` string pairs in any order.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Self::new(pairs.into_iter().map(|(n, v)| Label::new(n, v)).collect())
    }

    /// The empty label set.
    pub fn empty() -> Self {
        Self(Vec::new())
    }

    /// The value of label `name`, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .binary_search_by(|l| l.name.as_str().cmp(name))
            .ok()
            .map(|i| self.0[i].value.as_str())
    }

    /// Tells whether label `name` is present.
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// The metric name (`__name__`), if present.
    pub fn metric_name(&self) -> Option<&str> {
        self.get(METRIC_NAME)
    }

    /// The labels in name order.
    pub fn iter(&self) -> std::slice::Iter<'_, Label> {
        self.0.iter()
    }

    /// The labels as a slice, in name order.
    pub fn as_slice(&self) -> &[Label] {
        &self.0
    }

    /// Consumes the set, returning its labels in name order.
    pub fn into_vec(self) -> Vec<Label> {
        self.0
    }

    /// The number of labels.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Tells whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// A stable 64-bit hash of the set (xxh3 over `name\xffvalue\xff…`), the same in every
    /// process and version: it places series on the ring, so it must never change.
    pub fn stable_hash(&self) -> u64 {
        let mut h = xxhash_rust::xxh3::Xxh3::new();
        for l in &self.0 {
            h.update(l.name.as_bytes());
            h.update(&[0xff]);
            h.update(l.value.as_bytes());
            h.update(&[0xff]);
        }
        h.digest()
    }

    /// [`Labels::stable_hash`] of `(name, value)` pairs already sorted by name with unique
    /// names, without building a label set (the push path hashes wire labels this way).
    ///
    /// The bytes are gathered into a per-thread buffer and hashed in one call, several
    /// times faster than feeding the streaming hasher four pieces per label; xxh3's
    /// one-shot and streaming forms give the same digest for the same bytes.
    pub fn stable_hash_of_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> u64 {
        thread_local! {
            static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        SCRATCH.with(|cell| {
            let Ok(mut buf) = cell.try_borrow_mut() else {
                // Only reachable if the iterator itself hashes labels: stream instead.
                return Self::stream_hash(pairs);
            };
            buf.clear();
            for (n, v) in pairs {
                buf.extend_from_slice(n.as_bytes());
                buf.push(0xff);
                buf.extend_from_slice(v.as_bytes());
                buf.push(0xff);
            }
            let h = xxhash_rust::xxh3::xxh3_64(&buf);
            if buf.capacity() > 64 << 10 {
                // Do not keep a huge series' buffer around.
                *buf = Vec::new();
            }
            h
        })
    }

    fn stream_hash<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> u64 {
        let mut h = xxhash_rust::xxh3::Xxh3::new();
        for (n, v) in pairs {
            h.update(n.as_bytes());
            h.update(&[0xff]);
            h.update(v.as_bytes());
            h.update(&[0xff]);
        }
        h.digest()
    }

    /// A copy without the named labels.
    pub fn without(&self, names: &[&str]) -> Labels {
        Labels(
            self.0
                .iter()
                .filter(|l| !names.contains(&l.name.as_str()))
                .cloned()
                .collect(),
        )
    }

    /// A copy holding only the named labels.
    pub fn keep_only(&self, names: &[&str]) -> Labels {
        Labels(
            self.0
                .iter()
                .filter(|l| names.contains(&l.name.as_str()))
                .cloned()
                .collect(),
        )
    }

    /// A builder starting from this set.
    pub fn builder(&self) -> LabelsBuilder {
        LabelsBuilder {
            labels: self.0.clone(),
        }
    }
}

impl<'a> IntoIterator for &'a Labels {
    type Item = &'a Label;
    type IntoIter = std::slice::Iter<'a, Label>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// Prints the set as Prometheus does: `name{a="b", c="d"}`, values escaped.
impl fmt::Display for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self.metric_name();
        if let Some(n) = name {
            f.write_str(n)?;
        }
        let rest: Vec<&Label> = self.0.iter().filter(|l| l.name != METRIC_NAME).collect();
        if name.is_some() && rest.is_empty() {
            return Ok(());
        }
        f.write_str("{")?;
        for (i, l) in rest.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{}={:?}", l.name, l.value)?;
        }
        f.write_str("}")
    }
}

/// Changes a label set: set and delete labels, then [`LabelsBuilder::build`].
#[derive(Clone, Debug, Default)]
pub struct LabelsBuilder {
    labels: Vec<Label>,
}

impl LabelsBuilder {
    /// Sets `name` to `value`; an empty value deletes the label, as in Prometheus.
    pub fn set(&mut self, name: &str, value: &str) -> &mut Self {
        if value.is_empty() {
            return self.del(name);
        }
        match self.labels.iter_mut().find(|l| l.name == name) {
            Some(l) => l.value = value.to_string(),
            None => self.labels.push(Label::new(name, value)),
        }
        self
    }

    /// Deletes `name` if present.
    pub fn del(&mut self, name: &str) -> &mut Self {
        self.labels.retain(|l| l.name != name);
        self
    }

    /// Finishes the set, sorted.
    pub fn build(&self) -> Labels {
        Labels::new(self.labels.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_sorts_and_dedups() {
        let l = Labels::from_pairs([("b", "1"), ("a", "2"), ("b", "3")]);
        assert_eq!(l.len(), 2);
        assert_eq!(l.get("a"), Some("2"));
        assert_eq!(l.get("b"), Some("3"));
        assert_eq!(l.get("c"), None);
    }

    #[test]
    fn display_matches_prometheus() {
        let l = Labels::from_pairs([("__name__", "up"), ("job", "a\"b")]);
        assert_eq!(l.to_string(), r#"up{job="a\"b"}"#);
        assert_eq!(Labels::from_pairs([("__name__", "up")]).to_string(), "up");
        assert_eq!(Labels::from_pairs([("a", "1")]).to_string(), r#"{a="1"}"#);
    }

    const PINNED_HASH_A1_B2: u64 = 13_304_895_480_425_519_395;

    #[test]
    fn hash_is_stable_and_order_independent() {
        let a = Labels::from_pairs([("a", "1"), ("b", "2")]);
        let b = Labels::from_pairs([("b", "2"), ("a", "1")]);
        assert_eq!(a.stable_hash(), b.stable_hash());
        // Pinned: ring placement depends on this value never changing across versions.
        assert_eq!(a.stable_hash(), PINNED_HASH_A1_B2);
        let c = Labels::from_pairs([("ab", "1")]);
        let d = Labels::from_pairs([("a", "b1")]);
        assert_ne!(c.stable_hash(), d.stable_hash());
    }

    #[test]
    fn hash_of_pairs_is_stable_hash() {
        assert_eq!(
            Labels::stable_hash_of_pairs([("a", "1"), ("b", "2")]),
            PINNED_HASH_A1_B2
        );
        let long = "x".repeat(100_000);
        let many: Vec<(String, String)> = (0..300)
            .map(|i| {
                (
                    format!("label_{i:03}"),
                    format!("value-{i}-{}", "y".repeat(i)),
                )
            })
            .collect();
        for pairs in [
            vec![],
            vec![("a", "b1")],
            vec![("__name__", "up"), ("job", "x")],
            vec![("__name__", long.as_str())],
            many.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect(),
        ] {
            assert_eq!(
                Labels::stable_hash_of_pairs(pairs.iter().copied()),
                Labels::from_pairs(pairs.iter().copied()).stable_hash(),
                "{pairs:?}"
            );
        }
    }

    #[test]
    fn ordering_is_prometheus_compare() {
        let a = Labels::from_pairs([("a", "1")]);
        let b = Labels::from_pairs([("a", "1"), ("b", "1")]);
        let c = Labels::from_pairs([("a", "2")]);
        assert!(a < b && b < c);
    }
}
