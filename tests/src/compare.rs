//! Compares two query answers: same result type, same series, same timestamps, and values
//! equal exactly or within a relative tolerance (Prometheus versions differ in float
//! summation, e.g. Kahan-compensated sums in newer releases).

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::api::{LabelSet, Point, QueryData};
use crate::TimestampMs;

/// Counts from a successful comparison.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Agreement {
    /// Values compared.
    pub values: usize,
    /// Values that were bit-identical (or both NaN).
    pub exact: usize,
    /// Values that differed but within the tolerance.
    pub within_tolerance: usize,
}

impl std::ops::AddAssign for Agreement {
    fn add_assign(&mut self, o: Self) {
        self.values += o.values;
        self.exact += o.exact;
        self.within_tolerance += o.within_tolerance;
    }
}

/// How two values relate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueMatch {
    /// Equal (`==`, or both NaN).
    Exact,
    /// Relative difference at most the tolerance.
    Close,
    /// Different.
    Different,
}

/// Compares two floats: NaN equals NaN; otherwise `==`, else relative difference
/// `|a-b| / max(|a|,|b|) <= rel_tol`.
pub fn value_match(a: f64, b: f64, rel_tol: f64) -> ValueMatch {
    if (a.is_nan() && b.is_nan()) || a == b {
        return ValueMatch::Exact;
    }
    if a.is_finite() && b.is_finite() {
        let scale = a.abs().max(b.abs());
        if (a - b).abs() <= rel_tol * scale {
            return ValueMatch::Close;
        }
    }
    ValueMatch::Different
}

/// Compares `got` (Strata) against `want` (Prometheus). On mismatch, the error lists the
/// first differences.
pub fn compare(want: &QueryData, got: &QueryData, rel_tol: f64) -> Result<Agreement, String> {
    let mut agree = Agreement::default();
    let mut diffs = Vec::new();
    let check = |what: &str, a: Point, b: Point, agree: &mut Agreement, diffs: &mut Vec<String>| {
        agree.values += 1;
        if a.t != b.t {
            diffs.push(format!("{what}: timestamp {} vs {}", a.t, b.t));
            return;
        }
        match value_match(a.v, b.v, rel_tol) {
            ValueMatch::Exact => agree.exact += 1,
            ValueMatch::Close => agree.within_tolerance += 1,
            ValueMatch::Different => {
                diffs.push(format!("{what} @{}: want {:?}, got {:?}", a.t, a.v, b.v))
            }
        }
    };
    match (want, got) {
        (QueryData::Vector(a), QueryData::Vector(b)) => {
            let a: BTreeMap<&LabelSet, Point> = a.iter().map(|s| (&s.labels, s.point)).collect();
            let b: BTreeMap<&LabelSet, Point> = b.iter().map(|s| (&s.labels, s.point)).collect();
            series_sets(&a, &b)?;
            for (labels, pa) in &a {
                check(&fmt_labels(labels), *pa, b[labels], &mut agree, &mut diffs);
            }
        }
        (QueryData::Matrix(a), QueryData::Matrix(b)) => {
            let a: BTreeMap<&LabelSet, &Vec<Point>> =
                a.iter().map(|s| (&s.labels, &s.points)).collect();
            let b: BTreeMap<&LabelSet, &Vec<Point>> =
                b.iter().map(|s| (&s.labels, &s.points)).collect();
            series_sets(&a, &b)?;
            for (labels, pa) in &a {
                let pb = b[labels];
                let what = fmt_labels(labels);
                if pa.len() != pb.len() {
                    let ta: Vec<_> = pa.iter().map(|p| p.t).collect();
                    let tb: Vec<_> = pb.iter().map(|p| p.t).collect();
                    diffs.push(format!(
                        "{what}: {} points vs {}; timestamps {ta:?} vs {tb:?}",
                        pa.len(),
                        pb.len()
                    ));
                    continue;
                }
                for (x, y) in pa.iter().zip(pb.iter()) {
                    check(&what, *x, *y, &mut agree, &mut diffs);
                }
            }
        }
        (QueryData::Scalar(a), QueryData::Scalar(b)) => {
            check("scalar", *a, *b, &mut agree, &mut diffs)
        }
        (QueryData::String(ta, a), QueryData::String(tb, b)) => {
            agree.values += 1;
            if ta != tb || a != b {
                diffs.push(format!("string {ta}:{a:?} vs {tb}:{b:?}"));
            } else {
                agree.exact += 1;
            }
        }
        (a, b) => {
            return Err(format!(
                "result type {} vs {}",
                a.result_type(),
                b.result_type()
            ));
        }
    }
    if diffs.is_empty() {
        Ok(agree)
    } else {
        let n = diffs.len();
        diffs.truncate(10);
        Err(format!(
            "{n} value difference(s), first: {}",
            diffs.join("; ")
        ))
    }
}

fn series_sets<V>(a: &BTreeMap<&LabelSet, V>, b: &BTreeMap<&LabelSet, V>) -> Result<(), String> {
    let only_a: Vec<_> = a
        .keys()
        .filter(|k| !b.contains_key(*k))
        .map(|k| fmt_labels(k))
        .collect();
    let only_b: Vec<_> = b
        .keys()
        .filter(|k| !a.contains_key(*k))
        .map(|k| fmt_labels(k))
        .collect();
    if only_a.is_empty() && only_b.is_empty() {
        return Ok(());
    }
    let mut msg = String::from("series sets differ;");
    if !only_a.is_empty() {
        let _ = write!(
            msg,
            " missing from Strata ({}): {}",
            only_a.len(),
            head(&only_a)
        );
    }
    if !only_b.is_empty() {
        let _ = write!(msg, " only in Strata ({}): {}", only_b.len(), head(&only_b));
    }
    Err(msg)
}

fn head(v: &[String]) -> String {
    let mut s = v.iter().take(5).cloned().collect::<Vec<_>>().join(", ");
    if v.len() > 5 {
        s.push_str(", ...");
    }
    s
}

/// Formats labels like Prometheus: `name{a="b", ...}`.
pub fn fmt_labels(l: &LabelSet) -> String {
    let name = l.get("__name__").map(String::as_str).unwrap_or("");
    let rest: Vec<String> = l
        .iter()
        .filter(|(k, _)| *k != "__name__")
        .map(|(k, v)| format!("{k}={v:?}"))
        .collect();
    format!("{name}{{{}}}", rest.join(", "))
}

/// A query answer cut into one instant vector per evaluation time (a vector answer is one
/// step; a matrix is regrouped by timestamp).
pub fn per_step(d: &QueryData) -> BTreeMap<TimestampMs, Vec<(LabelSet, f64)>> {
    let mut out: BTreeMap<TimestampMs, Vec<(LabelSet, f64)>> = BTreeMap::new();
    match d {
        QueryData::Vector(v) => {
            for s in v {
                out.entry(s.point.t)
                    .or_default()
                    .push((s.labels.clone(), s.point.v));
            }
        }
        QueryData::Matrix(m) => {
            for s in m {
                for p in &s.points {
                    out.entry(p.t).or_default().push((s.labels.clone(), p.v));
                }
            }
        }
        QueryData::Scalar(_) | QueryData::String(..) => {}
    }
    out
}

/// Checks a `topk(k, inner)` answer from Strata against Prometheus's answer for the same
/// `topk` and for `inner` alone: per step, the returned values match Prometheus's returned
/// values (as sorted lists), each returned series carries its true `inner` value, and no
/// series left out beats one returned. Ties may legitimately pick different series.
pub fn check_topk(
    k: usize,
    want_topk: &QueryData,
    got_topk: &QueryData,
    want_inner: &QueryData,
    rel_tol: f64,
) -> Result<Agreement, String> {
    if want_topk.result_type() != got_topk.result_type() {
        return Err(format!(
            "result type {} vs {}",
            want_topk.result_type(),
            got_topk.result_type()
        ));
    }
    let want = per_step(want_topk);
    let got = per_step(got_topk);
    let inner = per_step(want_inner);
    let mut agree = Agreement::default();
    let steps: std::collections::BTreeSet<_> = want.keys().chain(got.keys()).copied().collect();
    for t in steps {
        let empty = Vec::new();
        let w = want.get(&t).unwrap_or(&empty);
        let g = got.get(&t).unwrap_or(&empty);
        if w.len() != g.len() || g.len() > k {
            return Err(format!(
                "@{t}: {} series returned, Prometheus returned {}",
                g.len(),
                w.len()
            ));
        }
        let mut wv: Vec<f64> = w.iter().map(|x| x.1).collect();
        let mut gv: Vec<f64> = g.iter().map(|x| x.1).collect();
        wv.sort_by(f64::total_cmp);
        gv.sort_by(f64::total_cmp);
        for (a, b) in wv.iter().zip(&gv) {
            agree.values += 1;
            match value_match(*a, *b, rel_tol) {
                ValueMatch::Exact => agree.exact += 1,
                ValueMatch::Close => agree.within_tolerance += 1,
                ValueMatch::Different => return Err(format!("@{t}: values {wv:?} vs {gv:?}")),
            }
        }
        let all = inner.get(&t).unwrap_or(&empty);
        let min_returned = gv
            .iter()
            .copied()
            .filter(|v| !v.is_nan())
            .fold(f64::INFINITY, f64::min);
        for (labels, v) in g {
            let truth = all.iter().find(|(l, _)| l == labels).map(|x| x.1);
            match truth {
                Some(tv) if value_match(tv, *v, rel_tol) != ValueMatch::Different => {}
                other => {
                    return Err(format!(
                        "@{t}: {} returned with {v}, its value is {other:?}",
                        fmt_labels(labels)
                    ));
                }
            }
        }
        for (labels, v) in all {
            let returned = g.iter().any(|(l, _)| l == labels);
            if !returned
                && *v > min_returned
                && value_match(*v, min_returned, rel_tol) == ValueMatch::Different
            {
                return Err(format!(
                    "@{t}: {} ({v}) left out although it beats a returned value {min_returned}",
                    fmt_labels(labels)
                ));
            }
        }
    }
    Ok(agree)
}

/// The largest `|a-b| / max(|a|,|b|)` over finite values at the same labels and time: how
/// close the tolerated values come to the tolerance.
pub fn max_rel_diff(want: &QueryData, got: &QueryData) -> f64 {
    let g = per_step(got);
    let mut max = 0.0f64;
    for (t, w) in per_step(want) {
        let Some(gs) = g.get(&t) else { continue };
        for (labels, a) in &w {
            if let Some((_, b)) = gs.iter().find(|(l, _)| l == labels) {
                if a.is_finite() && b.is_finite() && a != b {
                    max = max.max((a - b).abs() / a.abs().max(b.abs()));
                }
            }
        }
    }
    max
}

/// The answer without `__name__` on any series.
pub fn drop_name(d: &QueryData) -> QueryData {
    let mut d = d.clone();
    match &mut d {
        QueryData::Vector(v) => v.iter_mut().for_each(|s| {
            s.labels.remove("__name__");
        }),
        QueryData::Matrix(m) => m.iter_mut().for_each(|s| {
            s.labels.remove("__name__");
        }),
        QueryData::Scalar(_) | QueryData::String(..) => {}
    }
    d
}

/// For `sort`/`sort_desc`: the value sequence of an instant vector must be the same (ties may
/// swap series, not values).
pub fn same_order(want: &QueryData, got: &QueryData, rel_tol: f64) -> Result<(), String> {
    if let (QueryData::Vector(w), QueryData::Vector(g)) = (want, got) {
        let wv: Vec<f64> = w.iter().map(|s| s.point.v).collect();
        let gv: Vec<f64> = g.iter().map(|s| s.point.v).collect();
        let same = wv.len() == gv.len()
            && wv
                .iter()
                .zip(&gv)
                .all(|(a, b)| value_match(*a, *b, rel_tol) != ValueMatch::Different);
        if !same {
            return Err(format!("order differs: {wv:?} vs {gv:?}"));
        }
    }
    Ok(())
}

/// Per step, the same multiset of values (labels not compared: ties may pick any series).
pub fn values_per_step(
    want: &QueryData,
    got: &QueryData,
    rel_tol: f64,
) -> Result<Agreement, String> {
    if want.result_type() != got.result_type() {
        return Err(format!(
            "result type {} vs {}",
            want.result_type(),
            got.result_type()
        ));
    }
    let w = per_step(want);
    let g = per_step(got);
    let mut agree = Agreement::default();
    let steps: std::collections::BTreeSet<_> = w.keys().chain(g.keys()).copied().collect();
    for t in steps {
        let mut wv: Vec<f64> = w
            .get(&t)
            .map_or(vec![], |v| v.iter().map(|x| x.1).collect());
        let mut gv: Vec<f64> = g
            .get(&t)
            .map_or(vec![], |v| v.iter().map(|x| x.1).collect());
        wv.sort_by(f64::total_cmp);
        gv.sort_by(f64::total_cmp);
        if wv.len() != gv.len() {
            return Err(format!("@{t}: values {wv:?} vs {gv:?}"));
        }
        for (a, b) in wv.iter().zip(&gv) {
            agree.values += 1;
            match value_match(*a, *b, rel_tol) {
                ValueMatch::Exact => agree.exact += 1,
                ValueMatch::Close => agree.within_tolerance += 1,
                ValueMatch::Different => return Err(format!("@{t}: values {wv:?} vs {gv:?}")),
            }
        }
    }
    Ok(agree)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{InstantSample, RangeSeries};

    fn ls(pairs: &[(&str, &str)]) -> LabelSet {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn vec(items: &[(&str, f64)]) -> QueryData {
        QueryData::Vector(
            items
                .iter()
                .map(|(n, v)| InstantSample {
                    labels: ls(&[("x", n)]),
                    point: Point { t: 1000, v: *v },
                })
                .collect(),
        )
    }

    #[test]
    fn counts_exact_and_tolerated_values_and_rejects_others() {
        let a = vec(&[("a", 1.0), ("b", f64::NAN), ("c", 0.1 + 0.2)]);
        let b = vec(&[("c", 0.3), ("a", 1.0), ("b", f64::NAN)]);
        let agree = compare(&a, &b, 1e-12).expect("agree");
        assert_eq!(
            agree,
            Agreement {
                values: 3,
                exact: 2,
                within_tolerance: 1
            }
        );
        assert!(compare(&a, &vec(&[("a", 1.0), ("b", f64::NAN), ("c", 0.31)]), 1e-12).is_err());
        let err = compare(&a, &vec(&[("a", 1.0)]), 1e-12).expect_err("missing series");
        assert!(err.contains("missing from Strata"), "{err}");
    }

    #[test]
    fn matrices_must_have_the_same_timestamps() {
        let m = |ts: &[i64]| {
            QueryData::Matrix(vec![RangeSeries {
                labels: ls(&[("a", "b")]),
                points: ts.iter().map(|t| Point { t: *t, v: 1.0 }).collect(),
            }])
        };
        assert!(compare(&m(&[1, 2]), &m(&[1, 2]), 0.0).is_ok());
        assert!(compare(&m(&[1, 2]), &m(&[1, 3]), 0.0).is_err());
        assert!(compare(&m(&[1, 2]), &m(&[1]), 0.0).is_err());
        assert!(compare(&m(&[1]), &vec(&[]), 0.0).is_err());
    }

    #[test]
    fn topk_accepts_ties_and_rejects_a_better_omitted_series() {
        let inner = vec(&[("a", 5.0), ("b", 1.0), ("c", 1.0), ("d", 0.0)]);
        let want = vec(&[("a", 5.0), ("b", 1.0)]);
        let tie = vec(&[("a", 5.0), ("c", 1.0)]);
        assert!(check_topk(2, &want, &tie, &inner, 0.0).is_ok());
        let wrong = vec(&[("b", 1.0), ("c", 1.0)]);
        assert!(check_topk(2, &want, &wrong, &inner, 0.0).is_err());
        let lying = vec(&[("a", 5.0), ("d", 1.0)]);
        assert!(check_topk(2, &want, &lying, &inner, 0.0).is_err());
    }

    #[test]
    fn order_multisets_names_and_relative_differences() {
        let a = vec(&[("a", 1.0), ("b", 2.0)]);
        let swapped_tie = vec(&[("b", 1.0), ("a", 2.0)]);
        assert!(same_order(&a, &swapped_tie, 0.0).is_ok());
        assert!(same_order(&a, &vec(&[("b", 2.0), ("a", 1.0)]), 0.0).is_err());
        let agree = values_per_step(&a, &swapped_tie, 0.0).expect("same values");
        assert_eq!(agree.values, 2);
        assert!(values_per_step(&a, &vec(&[("a", 1.0), ("b", 3.0)]), 0.0).is_err());
        assert!(values_per_step(&a, &vec(&[("a", 1.0)]), 0.0).is_err());

        let named = QueryData::Vector(vec![InstantSample {
            labels: ls(&[("__name__", "m"), ("x", "a")]),
            point: Point { t: 1000, v: 1.0 },
        }]);
        assert_eq!(drop_name(&named), vec(&[("a", 1.0)]));

        assert_eq!(max_rel_diff(&a, &a), 0.0);
        let d = max_rel_diff(&a, &vec(&[("a", 1.0), ("b", 2.0 + 2e-12)]));
        assert!((d - 1e-12).abs() < 1e-15, "{d}");
    }
}
