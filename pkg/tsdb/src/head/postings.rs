//! The head's inverted index: for each label name and value, the sorted refs of the series
//! carrying it; and Prometheus's `PostingsForMatchers` over it.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use strata_model::{Labels, MatchOp, Matcher};

use super::series::{InternedLabels, SeriesRef};

/// Postings lists keyed by label name, then value. Every list is sorted and unique.
///
/// The keys double as the head's symbol table: series hold clones of these `Arc<str>`s, so
/// each distinct name, and each distinct value of a name, is stored once.
#[derive(Debug, Default)]
pub struct MemPostings {
    m: HashMap<Arc<str>, HashMap<Arc<str>, Vec<SeriesRef>>>,
    all: Vec<SeriesRef>,
}

/// Inserts `r` into a sorted list. Refs are handed out in increasing order, so this is almost
/// always a push; concurrent creators may index slightly out of order.
fn insert_sorted(list: &mut Vec<SeriesRef>, r: SeriesRef) {
    match list.last() {
        Some(&last) if last >= r => {
            if let Err(pos) = list.binary_search(&r) {
                list.insert(pos, r);
            }
        }
        _ => list.push(r),
    }
}

impl MemPostings {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// Indexes series `r` under each of its labels and returns the labels with interned
    /// strings, for the series to keep.
    pub fn add(&mut self, r: SeriesRef, labels: &Labels) -> InternedLabels {
        let mut interned = Vec::with_capacity(labels.len());
        for l in labels {
            let name: Arc<str> = match self.m.get_key_value(l.name.as_str()) {
                Some((k, _)) => Arc::clone(k),
                None => {
                    let k: Arc<str> = Arc::from(l.name.as_str());
                    self.m.insert(Arc::clone(&k), HashMap::new());
                    k
                }
            };
            let values = self.m.get_mut(&*name).expect("name inserted above");
            let value: Arc<str> = match values.get_key_value(l.value.as_str()) {
                Some((k, _)) => Arc::clone(k),
                None => {
                    let k: Arc<str> = Arc::from(l.value.as_str());
                    values.insert(Arc::clone(&k), Vec::new());
                    k
                }
            };
            let list = values.get_mut(&*value).expect("value inserted above");
            insert_sorted(list, r);
            interned.push((name, value));
        }
        insert_sorted(&mut self.all, r);
        interned.into_boxed_slice()
    }

    /// Removes series `r` from the lists of its labels, dropping lists, values and names
    /// left empty (head truncation).
    pub fn delete<'a>(
        &mut self,
        r: SeriesRef,
        labels: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) {
        for (name, value) in labels {
            let Some(values) = self.m.get_mut(name) else {
                continue;
            };
            if let Some(list) = values.get_mut(value) {
                if let Ok(i) = list.binary_search(&r) {
                    list.remove(i);
                }
                if list.is_empty() {
                    values.remove(value);
                }
            }
            if values.is_empty() {
                self.m.remove(name);
            }
        }
        if let Ok(i) = self.all.binary_search(&r) {
            self.all.remove(i);
        }
    }

    /// Every indexed series, sorted.
    pub fn all(&self) -> &[SeriesRef] {
        &self.all
    }

    /// The series with label `name="value"`, sorted.
    pub fn get(&self, name: &str, value: &str) -> &[SeriesRef] {
        self.m
            .get(name)
            .and_then(|v| v.get(value))
            .map_or(&[], Vec::as_slice)
    }

    /// Sorted label names present in the index.
    pub fn label_names(&self) -> Vec<String> {
        let mut out: Vec<String> = self.m.keys().map(|k| k.to_string()).collect();
        out.sort_unstable();
        out
    }

    /// Sorted values of label `name`.
    pub fn label_values(&self, name: &str) -> Vec<String> {
        let mut out: Vec<String> = self
            .m
            .get(name)
            .map(|v| v.keys().map(|k| k.to_string()).collect())
            .unwrap_or_default();
        out.sort_unstable();
        out
    }

    /// The union of the postings of `name`'s values for which `keep` holds. The predicate runs
    /// once per distinct value, never per series.
    fn union_where(&self, name: &str, keep: impl Fn(&str) -> bool) -> Cow<'_, [SeriesRef]> {
        let Some(values) = self.m.get(name) else {
            return Cow::Borrowed(&[]);
        };
        let lists: Vec<&[SeriesRef]> = values
            .iter()
            .filter(|(v, _)| keep(v))
            .map(|(_, l)| l.as_slice())
            .collect();
        merge(&lists)
    }

    /// The sorted refs of series matching every matcher, as Prometheus's
    /// `PostingsForMatchers`: a missing label counts as the empty value, so a matcher that
    /// matches `""` also selects series without the label. With no matchers, every series.
    pub fn postings_for_matchers(&self, matchers: &[Matcher]) -> Vec<SeriesRef> {
        let mut positive: Vec<Cow<'_, [SeriesRef]>> = Vec::new();
        let mut negative: Vec<Cow<'_, [SeriesRef]>> = Vec::new();
        for m in matchers {
            if m.matches_empty() {
                // Keeping series that lack the label or match means removing those whose
                // value does not match.
                let inverse = self.union_where(&m.name, |v| !m.matches(v));
                if !inverse.is_empty() {
                    negative.push(inverse);
                }
            } else if m.op == MatchOp::Equal {
                positive.push(Cow::Borrowed(self.get(&m.name, &m.value)));
            } else {
                positive.push(self.union_where(&m.name, |v| m.matches(v)));
            }
        }
        let mut result: Vec<SeriesRef> = if positive.is_empty() {
            self.all.clone()
        } else {
            // Smallest first keeps the intermediate results small.
            positive.sort_by_key(|p| p.len());
            let mut it = positive.into_iter();
            let mut acc = it.next().map(Cow::into_owned).unwrap_or_default();
            for p in it {
                if acc.is_empty() {
                    break;
                }
                acc = intersect(&acc, &p);
            }
            acc
        };
        for n in &negative {
            if result.is_empty() {
                break;
            }
            result = without(&result, n);
        }
        result
    }
}

/// The refs in both sorted lists.
pub fn intersect(a: &[SeriesRef], b: &[SeriesRef]) -> Vec<SeriesRef> {
    let mut out = Vec::with_capacity(a.len().min(b.len()));
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                out.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out
}

/// The refs of sorted list `a` that are not in sorted list `b`.
pub fn without(a: &[SeriesRef], b: &[SeriesRef]) -> Vec<SeriesRef> {
    let mut out = Vec::with_capacity(a.len());
    let mut j = 0;
    for &r in a {
        while j < b.len() && b[j] < r {
            j += 1;
        }
        if j < b.len() && b[j] == r {
            continue;
        }
        out.push(r);
    }
    out
}

/// The sorted union of sorted lists.
pub fn merge<'a>(lists: &[&'a [SeriesRef]]) -> Cow<'a, [SeriesRef]> {
    match lists {
        [] => Cow::Borrowed(&[]),
        [one] => Cow::Borrowed(one),
        _ => {
            let mut out: Vec<SeriesRef> = Vec::with_capacity(lists.iter().map(|l| l.len()).sum());
            for l in lists {
                out.extend_from_slice(l);
            }
            out.sort_unstable();
            out.dedup();
            Cow::Owned(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refs(v: &[u64]) -> Vec<SeriesRef> {
        v.iter().map(|&r| SeriesRef(r)).collect()
    }

    /// 1: a=1,b=1  2: a=1,b=2  3: a=2  4: b=3  5: a=""-free, c=x
    fn index() -> MemPostings {
        let mut p = MemPostings::new();
        p.add(SeriesRef(1), &Labels::from_pairs([("a", "1"), ("b", "1")]));
        p.add(SeriesRef(2), &Labels::from_pairs([("a", "1"), ("b", "2")]));
        p.add(SeriesRef(3), &Labels::from_pairs([("a", "2")]));
        p.add(SeriesRef(4), &Labels::from_pairs([("b", "3")]));
        p.add(SeriesRef(5), &Labels::from_pairs([("c", "x")]));
        p
    }

    fn sel(p: &MemPostings, ms: &[(MatchOp, &str, &str)]) -> Vec<SeriesRef> {
        let ms: Vec<Matcher> = ms
            .iter()
            .map(|&(op, n, v)| Matcher::new(op, n, v).expect("valid matcher"))
            .collect();
        p.postings_for_matchers(&ms)
    }

    #[test]
    fn equal_and_intersection() {
        let p = index();
        assert_eq!(sel(&p, &[(MatchOp::Equal, "a", "1")]), refs(&[1, 2]));
        assert_eq!(
            sel(
                &p,
                &[(MatchOp::Equal, "a", "1"), (MatchOp::Equal, "b", "2")]
            ),
            refs(&[2])
        );
        assert_eq!(sel(&p, &[(MatchOp::Equal, "a", "9")]), refs(&[]));
        assert_eq!(sel(&p, &[(MatchOp::Equal, "zzz", "1")]), refs(&[]));
    }

    #[test]
    fn equal_empty_selects_series_without_label() {
        let p = index();
        assert_eq!(sel(&p, &[(MatchOp::Equal, "a", "")]), refs(&[4, 5]));
        assert_eq!(
            sel(&p, &[(MatchOp::Equal, "a", ""), (MatchOp::Equal, "b", "3")]),
            refs(&[4])
        );
    }

    #[test]
    fn not_equal() {
        let p = index();
        // `a!="1"` matches "" so includes series without `a`.
        assert_eq!(sel(&p, &[(MatchOp::NotEqual, "a", "1")]), refs(&[3, 4, 5]));
        // `a!=""` means "has label a".
        assert_eq!(sel(&p, &[(MatchOp::NotEqual, "a", "")]), refs(&[1, 2, 3]));
        assert_eq!(
            sel(
                &p,
                &[(MatchOp::Equal, "a", "1"), (MatchOp::NotEqual, "b", "1")]
            ),
            refs(&[2])
        );
    }

    #[test]
    fn regex_match() {
        let p = index();
        assert_eq!(sel(&p, &[(MatchOp::RegexMatch, "b", "1|3")]), refs(&[1, 4]));
        assert_eq!(
            sel(&p, &[(MatchOp::RegexMatch, "a", ".+")]),
            refs(&[1, 2, 3])
        );
        // Matches empty: series without `a` plus a=2.
        assert_eq!(
            sel(&p, &[(MatchOp::RegexMatch, "a", "2|")]),
            refs(&[3, 4, 5])
        );
        assert_eq!(
            sel(&p, &[(MatchOp::RegexMatch, "a", ".*")]),
            refs(&[1, 2, 3, 4, 5])
        );
        // `c=~""` selects the series without `c`.
        assert_eq!(
            sel(&p, &[(MatchOp::RegexMatch, "c", "")]),
            refs(&[1, 2, 3, 4])
        );
    }

    #[test]
    fn regex_no_match() {
        let p = index();
        assert_eq!(
            sel(&p, &[(MatchOp::RegexNoMatch, "a", "1")]),
            refs(&[3, 4, 5])
        );
        // `!~".*"` matches nothing; `!~""` means "has the label".
        assert_eq!(sel(&p, &[(MatchOp::RegexNoMatch, "a", ".*")]), refs(&[]));
        assert_eq!(
            sel(&p, &[(MatchOp::RegexNoMatch, "b", "")]),
            refs(&[1, 2, 4])
        );
        assert_eq!(
            sel(
                &p,
                &[
                    (MatchOp::RegexNoMatch, "b", "1|2"),
                    (MatchOp::NotEqual, "b", "")
                ]
            ),
            refs(&[4])
        );
    }

    #[test]
    fn no_matchers_selects_all() {
        let p = index();
        assert_eq!(p.postings_for_matchers(&[]), refs(&[1, 2, 3, 4, 5]));
        assert_eq!(p.label_names(), vec!["a", "b", "c"]);
        assert_eq!(p.label_values("b"), vec!["1", "2", "3"]);
        assert!(p.label_values("nope").is_empty());
    }

    #[test]
    fn list_ops() {
        assert_eq!(
            intersect(&refs(&[1, 3, 5]), &refs(&[3, 4, 5])),
            refs(&[3, 5])
        );
        assert_eq!(without(&refs(&[1, 3, 5]), &refs(&[3, 4])), refs(&[1, 5]));
        let a = refs(&[1, 4]);
        let b = refs(&[2, 4, 6]);
        assert_eq!(merge(&[&a, &b]).into_owned(), refs(&[1, 2, 4, 6]));
        let mut l = refs(&[1, 5]);
        insert_sorted(&mut l, SeriesRef(3));
        insert_sorted(&mut l, SeriesRef(3));
        insert_sorted(&mut l, SeriesRef(9));
        assert_eq!(l, refs(&[1, 3, 5, 9]));
    }
}
