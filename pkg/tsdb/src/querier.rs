//! Reading a head: [`HeadQuerier`] implements [`strata_storage::Querier`] and the
//! Prometheus `series` API over one tenant's head.

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use strata_model::{Labels, MatchOp, Matcher};
use strata_storage::{Querier, SelectHints, Series, StorageError};

use crate::head::postings::merge;
use crate::head::series::SeriesRef;
use crate::head::Head;

/// Reads one head. Cheap to create per query; holds no locks between calls.
#[derive(Clone, Debug)]
pub struct HeadQuerier {
    head: Arc<Head>,
}

impl HeadQuerier {
    /// A querier over `head`.
    pub fn new(head: Arc<Head>) -> Self {
        Self { head }
    }

    /// The series matching every matcher with their chunks overlapping `[mint, maxt]`, sorted
    /// by labels; series without a chunk there are left out. Closed chunks are shared, the
    /// open chunk is copied.
    pub fn select_series(&self, mint: i64, maxt: i64, matchers: &[Matcher]) -> Vec<Series> {
        let mut out: Vec<Series> = self
            .head
            .select_series(matchers, mint, maxt)
            .into_iter()
            .filter_map(|s| {
                let chunks = s.chunks(mint, maxt);
                (!chunks.is_empty()).then(|| Series {
                    labels: s.labels(),
                    chunks,
                })
            })
            .collect();
        out.sort_unstable_by(|a, b| a.labels.cmp(&b.labels));
        out
    }

    /// Sorted label names of series matching `matchers` with samples in `[mint, maxt]`.
    pub fn label_names_sync(&self, mint: i64, maxt: i64, matchers: &[Matcher]) -> Vec<String> {
        if matchers.is_empty() && self.head.within(mint, maxt) {
            return self.head.index_label_names();
        }
        let mut names: BTreeSet<String> = BTreeSet::new();
        for s in self.head.select_series(matchers, mint, maxt) {
            for (name, _) in s.label_pairs() {
                if !names.contains(name) {
                    names.insert(name.to_string());
                }
            }
        }
        names.into_iter().collect()
    }

    /// Sorted values of label `name` over series matching `matchers` with samples in
    /// `[mint, maxt]`.
    pub fn label_values_sync(
        &self,
        name: &str,
        mint: i64,
        maxt: i64,
        matchers: &[Matcher],
    ) -> Vec<String> {
        if matchers.is_empty() && self.head.within(mint, maxt) {
            return self.head.index_label_values(name);
        }
        // Only series carrying the label can contribute a value.
        let mut ms: Vec<Matcher> = matchers.to_vec();
        ms.push(Matcher::new(MatchOp::NotEqual, name, "").expect("`!=` matchers always build"));
        let mut values: BTreeSet<String> = BTreeSet::new();
        for s in self.head.select_series(&ms, mint, maxt) {
            if let Some(v) = s.label(name) {
                if !values.contains(v) {
                    values.insert(v.to_string());
                }
            }
        }
        values.into_iter().collect()
    }

    /// The Prometheus `series` API: label sets of series matching any of the matcher sets
    /// with samples in `[mint, maxt]`, sorted and unique. No sets select nothing; an empty
    /// set selects every series.
    pub fn series_labels(
        &self,
        mint: i64,
        maxt: i64,
        matcher_sets: &[Vec<Matcher>],
    ) -> Vec<Labels> {
        let per_set: Vec<Vec<SeriesRef>> = matcher_sets
            .iter()
            .map(|ms| self.head.postings_for_matchers(ms))
            .collect();
        let lists: Vec<&[SeriesRef]> = per_set.iter().map(Vec::as_slice).collect();
        let refs = merge(&lists);
        let mut out: Vec<Labels> = self
            .head
            .resolve(&refs, mint, maxt)
            .into_iter()
            .map(|s| s.labels())
            .collect();
        out.sort_unstable();
        out
    }
}

#[async_trait]
impl Querier for HeadQuerier {
    async fn select(
        &self,
        hints: &SelectHints,
        matchers: &[Matcher],
    ) -> Result<Vec<Series>, StorageError> {
        Ok(self.select_series(hints.start, hints.end, matchers))
    }

    async fn label_names(
        &self,
        hints: &SelectHints,
        matchers: &[Matcher],
    ) -> Result<Vec<String>, StorageError> {
        Ok(self.label_names_sync(hints.start, hints.end, matchers))
    }

    async fn label_values(
        &self,
        name: &str,
        hints: &SelectHints,
        matchers: &[Matcher],
    ) -> Result<Vec<String>, StorageError> {
        Ok(self.label_values_sync(name, hints.start, hints.end, matchers))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata_model::Sample;

    fn m(op: MatchOp, n: &str, v: &str) -> Matcher {
        Matcher::new(op, n, v).expect("valid matcher")
    }

    /// up{job="a"} at 0..=290 step 10 (30 samples); up{job="b",env="p"} at 1000, 2000;
    /// other{} at 5000.
    fn querier() -> HeadQuerier {
        let head = Arc::new(Head::new());
        let mut app = head.appender();
        app.append_series(
            &Labels::from_pairs([("__name__", "up"), ("job", "a")]),
            (0..30).map(|i| Sample::new(i * 10, i as f64)),
        )
        .expect("valid series");
        app.append_series(
            &Labels::from_pairs([("__name__", "up"), ("job", "b"), ("env", "p")]),
            [Sample::new(1000, 1.0), Sample::new(2000, 2.0)],
        )
        .expect("valid series");
        app.append(&Labels::from_pairs([("__name__", "other")]), 5000, 1.0)
            .expect("valid series");
        assert!(app.commit_blocking().expect("commit").rejected.is_empty());
        HeadQuerier::new(head)
    }

    fn hints(start: i64, end: i64) -> SelectHints {
        SelectHints {
            start,
            end,
            ..SelectHints::default()
        }
    }

    #[tokio::test]
    async fn select_returns_sorted_series_with_chunks() {
        let q = querier();
        let got = q
            .select(&hints(0, 10_000), &[m(MatchOp::Equal, "__name__", "up")])
            .await
            .expect("select");
        assert_eq!(got.len(), 2);
        // Prometheus order: compared label by label, so `env` sorts before `job`.
        assert_eq!(got[0].labels.to_string(), r#"up{env="p", job="b"}"#);
        assert_eq!(got[1].labels.to_string(), r#"up{job="a"}"#);
        let s = got[1].samples().expect("decodes");
        assert_eq!(s.len(), 30);
        assert_eq!(s[29], Sample::new(290, 29.0));
        // Out of range: nothing; partly in range: the overlapping chunk.
        assert!(q
            .select(&hints(300, 999), &[])
            .await
            .expect("select")
            .is_empty());
        let got = q.select(&hints(1500, 1600), &[]).await.expect("select");
        assert_eq!(got.len(), 1, "job=b's span covers 1500");
    }

    #[tokio::test]
    async fn label_names_and_values_respect_matchers_and_time() {
        let q = querier();
        assert_eq!(
            q.label_names(&hints(i64::MIN, i64::MAX), &[])
                .await
                .expect("names"),
            vec!["__name__", "env", "job"]
        );
        assert_eq!(
            q.label_names(&hints(0, 500), &[]).await.expect("names"),
            vec!["__name__", "job"]
        );
        assert_eq!(
            q.label_names(&hints(0, 10_000), &[m(MatchOp::Equal, "__name__", "other")])
                .await
                .expect("names"),
            vec!["__name__"]
        );
        assert_eq!(
            q.label_values("__name__", &hints(i64::MIN, i64::MAX), &[])
                .await
                .expect("values"),
            vec!["other", "up"]
        );
        assert_eq!(
            q.label_values(
                "job",
                &hints(0, 10_000),
                &[m(MatchOp::RegexMatch, "env", "p|q")]
            )
            .await
            .expect("values"),
            vec!["b"]
        );
        assert_eq!(
            q.label_values("__name__", &hints(4000, 6000), &[])
                .await
                .expect("values"),
            vec!["other"]
        );
    }

    #[test]
    fn series_api_ors_matcher_sets() {
        let q = querier();
        let got = q.series_labels(
            0,
            10_000,
            &[
                vec![m(MatchOp::Equal, "job", "b")],
                vec![m(MatchOp::Equal, "__name__", "other")],
                vec![m(MatchOp::Equal, "__name__", "other")],
            ],
        );
        let got: Vec<String> = got.iter().map(|l| l.to_string()).collect();
        assert_eq!(got, vec!["other", r#"up{env="p", job="b"}"#]);
        assert!(q.series_labels(0, 10_000, &[]).is_empty());
        assert_eq!(q.series_labels(0, 100, &[vec![]]).len(), 1);
    }
}
