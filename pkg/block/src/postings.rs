//! Set operations on sorted postings lists, and Prometheus's `PostingsForMatchers` over a
//! block index.

use std::collections::HashSet;

use strata_model::{MatchOp, Matcher};

use crate::index::{IndexReader, SeriesRef};
use crate::BlockError;

/// The sorted union of sorted lists, without duplicates.
pub(crate) fn merge(mut lists: Vec<Vec<SeriesRef>>) -> Vec<SeriesRef> {
    match lists.len() {
        0 => Vec::new(),
        1 => lists.pop().unwrap_or_default(),
        _ => {
            let mut out: Vec<SeriesRef> = lists.concat();
            out.sort_unstable();
            out.dedup();
            out
        }
    }
}

/// The sorted intersection of sorted lists.
pub(crate) fn intersect(mut lists: Vec<Vec<SeriesRef>>) -> Vec<SeriesRef> {
    lists.sort_by_key(Vec::len);
    let mut it = lists.into_iter();
    let Some(mut acc) = it.next() else {
        return Vec::new();
    };
    for l in it {
        if acc.is_empty() {
            break;
        }
        let mut j = 0;
        acc.retain(|r| {
            while j < l.len() && l[j] < *r {
                j += 1;
            }
            j < l.len() && l[j] == *r
        });
    }
    acc
}

/// `a` without the refs in sorted `b`.
pub(crate) fn without(mut a: Vec<SeriesRef>, b: &[SeriesRef]) -> Vec<SeriesRef> {
    let mut j = 0;
    a.retain(|r| {
        while j < b.len() && b[j] < *r {
            j += 1;
        }
        !(j < b.len() && b[j] == *r)
    });
    a
}

/// The series matching every matcher, sorted, with Prometheus's semantics: a label that is
/// absent matches as the empty string, so `a=""`, `a!="x"` and `a=~"x|"` also select series
/// without `a`. No matchers select every series.
pub(crate) fn postings_for_matchers(
    ix: &IndexReader,
    matchers: &[Matcher],
) -> Result<Vec<SeriesRef>, BlockError> {
    // A name whose matchers include one rejecting "" must be set on every selected series;
    // then a matcher on it that accepts "" only has to subtract the values it rejects.
    let must_be_set: HashSet<&str> = matchers
        .iter()
        .filter(|m| !m.matches_empty())
        .map(|m| m.name.as_str())
        .collect();
    let mut its: Vec<Vec<SeriesRef>> = Vec::new();
    let mut not_its: Vec<Vec<SeriesRef>> = Vec::new();
    for m in matchers {
        let matches_empty = m.matches_empty();
        if must_be_set.contains(m.name.as_str()) {
            if matches_empty {
                // e.g. a!="x" next to a=~".+": drop the series whose value is rejected.
                not_its.push(ix.postings_where(&m.name, |v| !m.matches(v))?);
            } else {
                let p = match m.op {
                    MatchOp::Equal => ix.postings(&m.name, &m.value)?,
                    _ => ix.postings_where(&m.name, |v| m.matches(v))?,
                };
                if p.is_empty() {
                    return Ok(Vec::new());
                }
                its.push(p);
            }
        } else {
            // Accepts "": keep series without the label, remove those with a rejected value.
            not_its.push(ix.postings_where(&m.name, |v| !m.matches(v))?);
        }
    }
    if its.is_empty() {
        its.push(ix.all_postings()?);
    }
    let mut out = intersect(its);
    for n in &not_its {
        if out.is_empty() {
            break;
        }
        out = without(out, n);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    fn refs(v: &[u64]) -> Vec<SeriesRef> {
        v.iter().map(|&x| SeriesRef(x)).collect()
    }

    #[test]
    fn set_operations() {
        assert_eq!(merge(vec![refs(&[1, 3]), refs(&[2, 3])]), refs(&[1, 2, 3]));
        assert_eq!(
            intersect(vec![refs(&[1, 2, 3, 5]), refs(&[2, 5, 7]), refs(&[2, 5])]),
            refs(&[2, 5])
        );
        assert_eq!(intersect(vec![]), refs(&[]));
        assert_eq!(
            without(refs(&[1, 2, 3, 4]), &refs(&[2, 4, 9])),
            refs(&[1, 3])
        );
    }

    proptest! {
        #[test]
        fn set_operations_match_btreeset(
            a in proptest::collection::btree_set(0u64..64, 0..20),
            b in proptest::collection::btree_set(0u64..64, 0..20),
        ) {
            let av: Vec<SeriesRef> = a.iter().map(|&x| SeriesRef(x)).collect();
            let bv: Vec<SeriesRef> = b.iter().map(|&x| SeriesRef(x)).collect();
            let i: BTreeSet<u64> = a.intersection(&b).copied().collect();
            let u: BTreeSet<u64> = a.union(&b).copied().collect();
            let d: BTreeSet<u64> = a.difference(&b).copied().collect();
            prop_assert_eq!(intersect(vec![av.clone(), bv.clone()]), i.iter().map(|&x| SeriesRef(x)).collect::<Vec<_>>());
            prop_assert_eq!(merge(vec![av.clone(), bv.clone()]), u.iter().map(|&x| SeriesRef(x)).collect::<Vec<_>>());
            prop_assert_eq!(without(av, &bv), d.iter().map(|&x| SeriesRef(x)).collect::<Vec<_>>());
        }
    }
}
