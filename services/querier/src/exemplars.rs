//! `query_exemplars`: which series a PromQL expression selects (every vector and matrix
//! selector in it, as Prometheus's `parser.ExtractSelectors`), merging the ingesters'
//! answers, and Prometheus's JSON for the result:
//!
//! ```text
//! [{"seriesLabels":{…},"exemplars":[{"labels":{…},"value":"6","timestamp":1600096945.479}]}]
//! ```

use std::collections::BTreeMap;

use promql_parser::parser::{Expr, VectorSelector};
use strata_model::{Labels, Matcher, METRIC_NAME};
use strata_proto::prometheus as pb;

use crate::convert::labels_from_proto;
use crate::error::ApiError;
use crate::json;
use crate::params::convert_parser_matcher;

/// One series' exemplars: `(labels, value, timestamp ms)` in time order.
pub type SeriesExemplars = (Labels, Vec<(Labels, f64, i64)>);

fn selector_sets(vs: &VectorSelector, out: &mut Vec<Vec<Matcher>>) -> Result<(), ApiError> {
    let groups: Vec<&Vec<promql_parser::label::Matcher>> = if vs.matchers.or_matchers.is_empty() {
        vec![&vs.matchers.matchers]
    } else {
        vs.matchers.or_matchers.iter().collect()
    };
    for g in groups {
        let mut set: Vec<Matcher> = vs
            .name
            .iter()
            .map(|n| Matcher::equal(METRIC_NAME, n.as_str()))
            .collect();
        for m in g {
            set.push(convert_parser_matcher(m)?);
        }
        out.push(set);
    }
    Ok(())
}

/// The matcher sets of every selector in `expr`, in the order they appear.
pub fn extract_selectors(expr: &Expr) -> Result<Vec<Vec<Matcher>>, ApiError> {
    let mut out = Vec::new();
    let mut stack: Vec<&Expr> = vec![expr];
    while let Some(e) = stack.pop() {
        match e {
            Expr::VectorSelector(vs) => selector_sets(vs, &mut out)?,
            Expr::MatrixSelector(ms) => selector_sets(&ms.vs, &mut out)?,
            Expr::Aggregate(a) => {
                stack.push(&a.expr);
                if let Some(p) = &a.param {
                    stack.push(p);
                }
            }
            Expr::Unary(u) => stack.push(&u.expr),
            Expr::Binary(b) => {
                stack.push(&b.rhs);
                stack.push(&b.lhs);
            }
            Expr::Paren(p) => stack.push(&p.expr),
            Expr::Subquery(s) => stack.push(&s.expr),
            Expr::Call(c) => stack.extend(c.args.args.iter().rev().map(|a| &**a)),
            _ => {}
        }
    }
    Ok(out)
}

/// Merges ingesters' answers: grouped by series labels (sorted), each series' exemplars
/// sorted by time, identical ones kept once.
pub fn merge(series: impl IntoIterator<Item = pb::TimeSeries>) -> Vec<SeriesExemplars> {
    let mut by: BTreeMap<Labels, Vec<(Labels, f64, i64)>> = BTreeMap::new();
    for ts in series {
        let entry = by.entry(labels_from_proto(ts.labels)).or_default();
        for e in ts.exemplars {
            entry.push((labels_from_proto(e.labels), e.value, e.timestamp));
        }
    }
    by.into_iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(l, mut v)| {
            v.sort_by(|a, b| a.2.cmp(&b.2).then_with(|| a.0.cmp(&b.0)));
            v.dedup_by(|a, b| a.2 == b.2 && a.1.to_bits() == b.1.to_bits() && a.0 == b.0);
            (l, v)
        })
        .collect()
}

/// Writes the `data` array of a `query_exemplars` answer.
pub fn write(out: &mut String, series: &[SeriesExemplars]) {
    out.push('[');
    for (i, (labels, exemplars)) in series.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"seriesLabels\":");
        json::write_labels(out, labels);
        out.push_str(",\"exemplars\":[");
        for (j, (el, v, t)) in exemplars.iter().enumerate() {
            if j > 0 {
                out.push(',');
            }
            out.push_str("{\"labels\":");
            json::write_labels(out, el);
            out.push_str(",\"value\":");
            json::write_string(out, &json::format_sample_value(*v));
            out.push_str(",\"timestamp\":");
            json::write_timestamp(out, *t);
            out.push('}');
        }
        out.push_str("]}");
    }
    out.push(']');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_every_selector() {
        let e = promql_parser::parser::parse(
            r#"sum by (job) (rate(a{job="x"}[5m])) / on() b or c{d=~"e.*"} + histogram_quantile(0.9, f)"#,
        )
        .expect("parses");
        let sets = extract_selectors(&e).expect("matchers");
        let names: Vec<String> = sets
            .iter()
            .map(|s| {
                s.iter()
                    .map(|m| m.to_string())
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .collect();
        assert_eq!(names.len(), 4, "{names:?}");
        assert!(names[0].contains("__name__=\"a\"") && names[0].contains("job=\"x\""));
        assert!(names[3].contains("__name__=\"f\""), "{names:?}");
        assert!(
            extract_selectors(&promql_parser::parser::parse("1 + 2").expect("parses"))
                .expect("none")
                .is_empty()
        );
    }

    #[test]
    fn writes_prometheus_json() {
        let s = vec![(
            Labels::from_pairs([("__name__", "m"), ("job", "j")]),
            vec![(
                Labels::from_pairs([("trace_id", "abc")]),
                6.0,
                1_600_096_945_479,
            )],
        )];
        let mut out = String::new();
        write(&mut out, &s);
        assert_eq!(
            out,
            r#"[{"seriesLabels":{"__name__":"m","job":"j"},"exemplars":[{"labels":{"trace_id":"abc"},"value":"6","timestamp":1600096945.479}]}]"#
        );
    }
}
