//! A tenant's exemplars: one circular buffer of at most `max_exemplars` entries (Prometheus's
//! `CircularExemplarStorage`, default 100000), the oldest overwritten first, indexed by
//! series.
//!
//! Rules, as Prometheus's: an exemplar identical to its series' newest one is a no-op (a
//! retry); one older than its series' newest is refused as out of order; labels longer than
//! [`MAX_EXEMPLAR_LABELS_LENGTH`] characters in total (names and values) are refused. A
//! capacity of 0 stores nothing. Exemplars keep their series' labels, so they outlive the
//! series' removal from the head until overwritten.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use parking_lot::Mutex;
use strata_model::{Labels, Matcher};

use super::series::SeriesRef;

/// Prometheus's default exemplar buffer size.
pub const DEFAULT_MAX_EXEMPLARS: usize = 100_000;
/// Longest exemplar label set, in characters of names and values (Prometheus's
/// `ExemplarMaxLabelSetLength`).
pub const MAX_EXEMPLAR_LABELS_LENGTH: usize = 128;

/// One exemplar.
#[derive(Clone, Debug, PartialEq)]
pub struct Exemplar {
    /// The exemplar's own labels (a trace id, …).
    pub labels: Labels,
    /// The observed value.
    pub value: f64,
    /// Timestamp, ms.
    pub t: i64,
}

impl Exemplar {
    fn same_as(&self, o: &Exemplar) -> bool {
        self.t == o.t && self.value.to_bits() == o.value.to_bits() && self.labels == o.labels
    }
}

/// Why an exemplar was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ExemplarRejectKind {
    /// Older than the series' newest exemplar.
    #[error("out of order exemplar")]
    OutOfOrder,
    /// Its labels are too long.
    #[error("exemplar label set is longer than 128 characters")]
    LabelsTooLong,
}

/// What adding an exemplar did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExemplarAdded {
    /// Stored.
    Stored,
    /// Identical to the series' newest: nothing stored.
    Duplicate,
    /// The store keeps nothing (capacity 0).
    Disabled,
}

#[derive(Debug)]
struct SeriesEntry {
    labels: Labels,
    newest: Exemplar,
    /// Entries of this series in the ring.
    count: usize,
}

#[derive(Debug, Default)]
struct Inner {
    cap: usize,
    ring: VecDeque<(SeriesRef, Exemplar)>,
    series: HashMap<SeriesRef, SeriesEntry>,
}

impl Inner {
    fn evict_to(&mut self, n: usize) {
        while self.ring.len() > n {
            let Some((r, _)) = self.ring.pop_front() else {
                break;
            };
            if let Some(e) = self.series.get_mut(&r) {
                e.count -= 1;
                if e.count == 0 {
                    self.series.remove(&r);
                }
            }
        }
    }
}

/// A tenant's exemplar store. See the module docs.
#[derive(Debug)]
pub struct ExemplarStore {
    inner: Mutex<Inner>,
}

impl Default for ExemplarStore {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_EXEMPLARS)
    }
}

/// Checks an exemplar's labels against [`MAX_EXEMPLAR_LABELS_LENGTH`].
pub fn validate_exemplar(e: &Exemplar) -> Result<(), ExemplarRejectKind> {
    let len: usize = e
        .labels
        .iter()
        .map(|l| l.name.chars().count() + l.value.chars().count())
        .sum();
    if len > MAX_EXEMPLAR_LABELS_LENGTH {
        return Err(ExemplarRejectKind::LabelsTooLong);
    }
    Ok(())
}

impl ExemplarStore {
    /// A store keeping at most `cap` exemplars.
    pub fn new(cap: usize) -> Self {
        Self {
            inner: Mutex::new(Inner {
                cap,
                ..Default::default()
            }),
        }
    }

    /// Changes the capacity, dropping the oldest exemplars beyond it.
    pub fn set_capacity(&self, cap: usize) {
        let mut g = self.inner.lock();
        g.cap = cap;
        g.evict_to(cap);
    }

    /// The capacity.
    pub fn capacity(&self) -> usize {
        self.inner.lock().cap
    }

    /// The number of exemplars held.
    pub fn len(&self) -> usize {
        self.inner.lock().ring.len()
    }

    /// Tells whether no exemplar is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Adds `e` for the series `series` with labels `labels` (see the module docs).
    pub fn add(
        &self,
        series: SeriesRef,
        labels: impl FnOnce() -> Labels,
        e: Exemplar,
    ) -> Result<ExemplarAdded, ExemplarRejectKind> {
        validate_exemplar(&e)?;
        let mut g = self.inner.lock();
        if g.cap == 0 {
            return Ok(ExemplarAdded::Disabled);
        }
        match g.series.get_mut(&series) {
            Some(s) if s.newest.same_as(&e) => return Ok(ExemplarAdded::Duplicate),
            Some(s) if e.t < s.newest.t => return Err(ExemplarRejectKind::OutOfOrder),
            Some(s) => {
                s.newest = e.clone();
                s.count += 1;
            }
            None => {
                g.series.insert(
                    series,
                    SeriesEntry {
                        labels: labels(),
                        newest: e.clone(),
                        count: 1,
                    },
                );
            }
        }
        g.ring.push_back((series, e));
        let cap = g.cap;
        g.evict_to(cap);
        Ok(ExemplarAdded::Stored)
    }

    /// The exemplars in `[start, end]` of series matching every matcher of at least one set,
    /// grouped by series labels (sorted), each group in time order.
    pub fn query(
        &self,
        matcher_sets: &[Vec<Matcher>],
        start: i64,
        end: i64,
    ) -> Vec<(Labels, Vec<Exemplar>)> {
        let g = self.inner.lock();
        let picked: HashSet<SeriesRef> = g
            .series
            .iter()
            .filter(|(_, s)| {
                matcher_sets
                    .iter()
                    .any(|set| set.iter().all(|m| m.matches_labels(&s.labels)))
            })
            .map(|(r, _)| *r)
            .collect();
        let mut out: BTreeMap<Labels, Vec<Exemplar>> = BTreeMap::new();
        for (r, e) in &g.ring {
            if e.t < start || e.t > end || !picked.contains(r) {
                continue;
            }
            if let Some(s) = g.series.get(r) {
                out.entry(s.labels.clone()).or_default().push(e.clone());
            }
        }
        out.into_iter()
            .map(|(l, mut v)| {
                v.sort_by_key(|e| e.t);
                (l, v)
            })
            .collect()
    }

    /// Every exemplar held with its series ref, oldest first (for WAL checkpoints).
    pub fn all(&self) -> Vec<(SeriesRef, Exemplar)> {
        self.inner.lock().ring.iter().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata_model::MatchOp;

    fn ex(t: i64, v: f64, trace: &str) -> Exemplar {
        Exemplar {
            labels: Labels::from_pairs([("trace_id", trace)]),
            value: v,
            t,
        }
    }

    #[test]
    fn dedups_refuses_out_of_order_and_wraps() {
        let st = ExemplarStore::new(3);
        let a = Labels::from_pairs([("__name__", "a")]);
        let b = Labels::from_pairs([("__name__", "b")]);
        let la = || a.clone();
        assert_eq!(
            st.add(SeriesRef(1), la, ex(10, 1.0, "x")),
            Ok(ExemplarAdded::Stored)
        );
        assert_eq!(
            st.add(SeriesRef(1), la, ex(10, 1.0, "x")),
            Ok(ExemplarAdded::Duplicate)
        );
        assert_eq!(
            st.add(SeriesRef(1), la, ex(5, 1.0, "y")),
            Err(ExemplarRejectKind::OutOfOrder)
        );
        let long = "x".repeat(200);
        assert_eq!(
            st.add(SeriesRef(1), la, ex(20, 1.0, &long)),
            Err(ExemplarRejectKind::LabelsTooLong)
        );
        st.add(SeriesRef(1), la, ex(20, 2.0, "y"))
            .expect("in order");
        st.add(SeriesRef(2), || b.clone(), ex(15, 3.0, "z"))
            .expect("other series");
        assert_eq!(st.len(), 3);
        // A fourth overwrites the oldest.
        st.add(SeriesRef(1), la, ex(30, 4.0, "w"))
            .expect("in order");
        assert_eq!(st.len(), 3);
        let all = [Matcher::new(MatchOp::RegexMatch, "__name__", ".+").expect("regex")];
        let got = st.query(&[all.to_vec()], i64::MIN, i64::MAX);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].0, a);
        assert_eq!(
            got[0].1.iter().map(|e| e.t).collect::<Vec<_>>(),
            vec![20, 30]
        );
        assert_eq!(got[1].1, vec![ex(15, 3.0, "z")]);
        let only_b = [Matcher::equal("__name__", "b")];
        let got = st.query(&[only_b.to_vec()], 16, 100);
        assert!(got.is_empty(), "time range filters: {got:?}");
        st.set_capacity(1);
        assert_eq!(st.all().len(), 1);
        let off = ExemplarStore::new(0);
        assert_eq!(
            off.add(SeriesRef(1), la, ex(1, 1.0, "x")),
            Ok(ExemplarAdded::Disabled)
        );
        assert!(off.is_empty());
    }
}
