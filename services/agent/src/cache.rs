//! A scrape loop's memory between scrapes (Prometheus's `scrapeCache`): the final labels of
//! every series text seen, the texts metric relabeling dropped, the series of the previous
//! and current scrape (for staleness), and the metadata last sent.
//!
//! Series texts (`name{labels}` as exposed) map to final labels so relabeling and checks
//! run once per new series, not once per scrape. Staleness compares the previous scrape's
//! series with the current one's, keyed by the hash of the exposed labels.

use std::collections::{HashMap, HashSet};

use strata_model::Labels;

use crate::sink::Metadata;

/// A series text's final labels.
#[derive(Clone, Debug)]
pub(crate) struct CacheEntry {
    /// The labels after target labels and metric relabeling.
    pub labels: Labels,
    /// The hash of the labels as exposed (the staleness key).
    pub hash: u64,
    /// The last scrape (iteration) that saw it.
    pub last_iter: u64,
}

/// See the module docs.
#[derive(Default)]
pub struct ScrapeCache {
    iter: u64,
    successful_count: usize,
    series: HashMap<String, CacheEntry>,
    dropped: HashMap<String, u64>,
    /// Exposed-label hashes of this scrape's and the previous scrape's series.
    series_cur: HashSet<u64>,
    series_prev: HashSet<u64>,
    /// Final labels of every hash in `series_cur` or `series_prev`: cloned once per new
    /// series, not once per scrape.
    series_labels: HashMap<u64, Labels>,
    metadata: HashMap<String, Metadata>,
}

impl ScrapeCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// Looks a series text up, marking it seen in this scrape.
    pub(crate) fn get(&mut self, met: &str) -> Option<&CacheEntry> {
        let iter = self.iter;
        self.series.get_mut(met).map(|e| {
            e.last_iter = iter;
            &*e
        })
    }

    /// Remembers a new series text's final labels.
    pub(crate) fn add(&mut self, met: &str, labels: Labels, hash: u64) {
        self.series.insert(
            met.to_string(),
            CacheEntry {
                labels,
                hash,
                last_iter: self.iter,
            },
        );
    }

    /// Tells whether relabeling dropped this series text, marking it seen.
    pub(crate) fn is_dropped(&mut self, met: &str) -> bool {
        let iter = self.iter;
        match self.dropped.get_mut(met) {
            Some(i) => {
                *i = iter;
                true
            }
            None => false,
        }
    }

    /// Remembers that relabeling dropped this series text.
    pub(crate) fn add_dropped(&mut self, met: &str) {
        self.dropped.insert(met.to_string(), self.iter);
    }

    /// Counts a series as present in this scrape.
    pub(crate) fn track_staleness(&mut self, hash: u64, labels: &Labels) {
        if self.series_cur.insert(hash) {
            self.series_labels
                .entry(hash)
                .or_insert_with(|| labels.clone());
        }
    }

    /// The series of the previous scrape that this one did not have.
    pub(crate) fn stale(&self) -> Vec<Labels> {
        self.series_prev
            .difference(&self.series_cur)
            .filter_map(|h| self.series_labels.get(h).cloned())
            .collect()
    }

    /// The metadata last sent for a family.
    pub(crate) fn metadata(&self, family: &str) -> Option<&Metadata> {
        self.metadata.get(family)
    }

    /// Records the metadata sent for a family.
    pub(crate) fn set_metadata(&mut self, m: Metadata) {
        self.metadata.insert(m.family.clone(), m);
    }

    /// Ends a scrape: the current series become the previous ones. After a non-empty scrape
    /// (or when the cache has grown past twice its last good size) entries not seen in it
    /// are forgotten.
    pub(crate) fn iter_done(&mut self, mut flush: bool) {
        let count = self.series.len() + self.dropped.len() + self.metadata.len();
        if flush {
            self.successful_count = count;
        } else if count > self.successful_count * 2 + 1000 {
            flush = true;
        }
        if flush {
            let iter = self.iter;
            self.series.retain(|_, e| e.last_iter == iter);
            self.dropped.retain(|_, i| *i == iter);
        }
        std::mem::swap(&mut self.series_prev, &mut self.series_cur);
        self.series_cur.clear();
        let prev = &self.series_prev;
        self.series_labels.retain(|h, _| prev.contains(h));
        self.iter += 1;
    }

    /// The number of series texts cached (tests).
    pub fn len(&self) -> usize {
        self.series.len()
    }

    /// Tells whether no series text is cached.
    pub fn is_empty(&self) -> bool {
        self.series.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use strata_model::Label;

    use super::*;

    fn labels(name: &str) -> Labels {
        Labels::new(vec![Label::new("__name__", name)])
    }

    #[test]
    fn stale_series_are_the_previous_scrapes_missing_ones_and_labels_are_not_kept_longer() {
        let mut c = ScrapeCache::new();
        c.track_staleness(1, &labels("a"));
        c.track_staleness(2, &labels("b"));
        c.track_staleness(2, &labels("b"));
        assert!(c.stale().is_empty());
        c.iter_done(true);
        c.track_staleness(1, &labels("a"));
        assert_eq!(c.stale(), vec![labels("b")]);
        c.iter_done(true);
        // `b` was reported stale once; it is not kept (or reported) again.
        c.track_staleness(1, &labels("a"));
        assert!(c.stale().is_empty());
        assert_eq!(c.series_labels.len(), 1);
        c.iter_done(true);
        // A scrape with nothing (a failed one): everything of the last one goes stale.
        assert_eq!(c.stale(), vec![labels("a")]);
        c.iter_done(false);
        assert!(c.series_labels.is_empty());
    }
}
