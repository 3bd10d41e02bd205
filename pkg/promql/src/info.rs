//! `info(v, [data-label-selector])`: joins data labels of info metrics (`target_info` by
//! default) onto series sharing their identifying labels (`instance`, `job`).
//!
//! The info series are loaded in phase one with the name and data-label matchers only; the
//! identifying-label restriction Prometheus pushes into its select is applied here, so the
//! joined set is the same.

use std::collections::{BTreeSet, HashMap};

use promql_parser::parser::{Call, Expr};
use strata_model::{is_stale_nan, Labels, MatchOp, Matcher, METRIC_NAME};

use crate::binop::go_labels;
use crate::error::QueryError;
use crate::eval::{at_ms, offset_ms, Collector, Evaluator, Val};
use crate::functions::vector_arg;
use crate::plan::selector_matchers;

const TARGET_INFO: &str = "target_info";
const IDENTIFYING_LABELS: [&str; 2] = ["instance", "job"];

/// The `@` time and offset of the first selector of `base`, inheriting enclosing subqueries'
/// modifiers until one sets `@` (Prometheus's `infoSelectTimestampAndOffset`).
pub(crate) fn info_time(base: &Expr, query_start: i64, query_end: i64) -> (Option<i64>, i64) {
    fn walk<'e>(
        e: &'e Expr,
        path: &mut Vec<&'e promql_parser::parser::SubqueryExpr>,
    ) -> Option<(
        &'e promql_parser::parser::VectorSelector,
        Vec<&'e promql_parser::parser::SubqueryExpr>,
    )> {
        match e {
            Expr::VectorSelector(vs) => Some((vs, path.clone())),
            Expr::MatrixSelector(ms) => Some((&ms.vs, path.clone())),
            Expr::Subquery(sq) => {
                path.push(sq);
                let r = walk(&sq.expr, path);
                path.pop();
                r
            }
            Expr::Aggregate(a) => {
                if let Some(p) = &a.param {
                    if let Some(r) = walk(p, path) {
                        return Some(r);
                    }
                }
                walk(&a.expr, path)
            }
            Expr::Unary(u) => walk(&u.expr, path),
            Expr::Binary(b) => walk(&b.lhs, path).or_else(|| walk(&b.rhs, path)),
            Expr::Paren(p) => walk(&p.expr, path),
            Expr::Call(c) => c.args.args.iter().find_map(|a| walk(a, path)),
            _ => None,
        }
    }
    let Some((vs, path)) = walk(base, &mut Vec::new()) else {
        return (None, 0);
    };
    let mut at = at_ms(&vs.at, query_start, query_end);
    let mut off = offset_ms(&vs.offset);
    for sq in path.iter().rev() {
        if at.is_some() {
            break;
        }
        off += offset_ms(&sq.offset);
        at = at_ms(&sq.at, query_start, query_end);
    }
    (at, off)
}

/// The data-label matchers of the optional second argument.
fn data_matchers(c: &Call) -> Vec<Matcher> {
    match c.args.args.get(1).map(|a| a.as_ref()) {
        Some(Expr::VectorSelector(vs)) => selector_matchers(vs)
            .ok()
            .and_then(|mut s| s.drain(..).next())
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

/// Prometheus's `effectiveInfoNameMatchers`.
fn effective_name_matchers(name_matchers: Vec<Matcher>) -> Vec<Matcher> {
    if name_matchers
        .iter()
        .any(|m| matches!(m.op, MatchOp::Equal | MatchOp::RegexMatch))
    {
        return name_matchers;
    }
    if !name_matchers.is_empty() {
        let mut out = Vec::with_capacity(name_matchers.len() + 1);
        if let Ok(m) = Matcher::new(MatchOp::RegexMatch, METRIC_NAME, ".+_info") {
            out.push(m);
        }
        out.extend(name_matchers);
        return out;
    }
    vec![Matcher::equal(METRIC_NAME, TARGET_INFO)]
}

fn name_matchers(c: &Call, data: &[Matcher]) -> Vec<Matcher> {
    if c.args.args.len() > 1 {
        data.iter()
            .filter(|m| m.name == METRIC_NAME)
            .cloned()
            .collect()
    } else {
        vec![Matcher::equal(METRIC_NAME, TARGET_INFO)]
    }
}

/// The matchers phase one loads info series with.
pub(crate) fn info_select_matchers(c: &Call) -> Vec<Matcher> {
    let data = data_matchers(c);
    let names: Vec<Matcher> = data
        .iter()
        .filter(|m| m.name == METRIC_NAME)
        .cloned()
        .collect();
    let mut out: Vec<Matcher> = data.into_iter().filter(|m| m.name != METRIC_NAME).collect();
    out.extend(effective_name_matchers(names));
    out
}

pub(crate) fn eval_info(ev: &Evaluator, c: &Call, args: &[&Expr]) -> Result<Val, QueryError> {
    let n = ev.n();
    let base = vector_arg(ev, args[0])?;
    let data = data_matchers(c);
    let eff = effective_name_matchers(name_matchers(c, &data));
    let ignored: Vec<bool> = base
        .iter()
        .map(|s| {
            let name = s.labels.metric_name().unwrap_or("");
            eff.iter().all(|m| m.matches(name))
        })
        .collect();
    let data_labels: Vec<&Matcher> = data.iter().filter(|m| m.name != METRIC_NAME).collect();
    let all_match_empty = data_labels.iter().all(|m| m.matches(""));

    // Identifying label values of the series to join.
    let mut id_vals: HashMap<&str, BTreeSet<&str>> = HashMap::new();
    for (s, ign) in base.iter().zip(&ignored) {
        if *ign {
            continue;
        }
        for l in IDENTIFYING_LABELS {
            if let Some(v) = s.labels.get(l).filter(|v| !v.is_empty()) {
                id_vals.entry(l).or_default().insert(v);
            }
        }
    }
    let raw = if id_vals.is_empty() {
        Vec::new()
    } else {
        let key = c as *const Call as usize;
        let loaded = ev.data.get(&key).ok_or_else(|| {
            QueryError::Internal("info series were not loaded before evaluation".into())
        })?;
        loaded
            .iter()
            .filter(|s| {
                id_vals
                    .iter()
                    .all(|(l, vals)| s.labels.get(l).is_some_and(|v| vals.contains(v)))
            })
            .collect::<Vec<_>>()
    };

    // Each info series' newest sample time per step (Prometheus evaluates info series to
    // their original sample timestamps to break ties).
    let (at, off) = info_time(args[0], ev.query_start, ev.query_end);
    let mut info_pts: Vec<Vec<Option<i64>>> = Vec::with_capacity(raw.len());
    for s in &raw {
        let mut pts = vec![None; n];
        let mut idx = 0usize;
        let mut prev = i64::MIN;
        for (i, p) in pts.iter_mut().enumerate() {
            let t = ev.ref_time(i, off, at);
            if t < prev {
                idx = 0;
            }
            prev = t;
            while idx < s.samples.len() && s.samples[idx].t <= t {
                idx += 1;
            }
            if idx > 0 {
                let smp = s.samples[idx - 1];
                if smp.t > t - ev.lookback && !is_stale_nan(smp.v) {
                    *p = Some(smp.t);
                }
            }
        }
        info_pts.push(pts);
    }
    let sig = |name: &str, l: &Labels| -> String {
        let mut k = String::from(name);
        for id in IDENTIFYING_LABELS {
            k.push('\u{ff}');
            k.push_str(l.get(id).unwrap_or(""));
        }
        k
    };
    let info_names: BTreeSet<&str> = raw
        .iter()
        .zip(&info_pts)
        .filter(|(_, p)| p.iter().any(|x| x.is_some()))
        .map(|(s, _)| s.labels.metric_name().unwrap_or(""))
        .collect();
    let info_sigs: Vec<String> = raw
        .iter()
        .map(|s| sig(s.labels.metric_name().unwrap_or(""), &s.labels))
        .collect();
    let base_sigs: Vec<Vec<(&str, String)>> = base
        .iter()
        .map(|s| {
            info_names
                .iter()
                .map(|nm| (*nm, sig(nm, &s.labels)))
                .collect()
        })
        .collect();

    let mut c_out = Collector::new(n);
    let mut right: HashMap<&str, usize> = HashMap::new();
    for i in 0..n {
        if !base.iter().any(|s| s.vals[i].is_some()) {
            continue;
        }
        right.clear();
        for (k, pts) in info_pts.iter().enumerate() {
            let Some(t) = pts[i] else { continue };
            match right.get(info_sigs[k].as_str()) {
                Some(&e) => {
                    let et = info_pts[e][i].unwrap_or(i64::MIN);
                    if et < t {
                        right.insert(&info_sigs[k], k);
                    } else if et == t {
                        return Err(QueryError::exec(format!(
                            "found duplicate series for info metric: existing {} @ {}, new {} @ {}",
                            go_labels(&raw[e].labels),
                            et,
                            go_labels(&raw[k].labels),
                            t
                        )));
                    }
                }
                None => {
                    right.insert(&info_sigs[k], k);
                }
            }
        }
        for (j, s) in base.iter().enumerate() {
            let Some(v) = s.vals[i] else { continue };
            if ignored[j] {
                let id = c_out.index_flag(s.labels.clone(), s.drop_name);
                c_out.set(id, i, v)?;
                continue;
            }
            let mut add = Labels::empty().builder();
            let mut added: Vec<(String, String)> = Vec::new();
            let mut seen = 0;
            for (_, bsig) in &base_sigs[j] {
                let Some(&k) = right.get(bsig.as_str()) else {
                    continue;
                };
                for l in raw[k].labels.iter() {
                    if l.name == METRIC_NAME {
                        continue;
                    }
                    if !data_labels.is_empty() && !data_labels.iter().any(|m| m.name == l.name) {
                        continue;
                    }
                    if let Some((_, v)) = added.iter().find(|(nm, _)| *nm == l.name) {
                        if *v != l.value {
                            return Err(QueryError::exec(format!("conflicting label: {}", l.name)));
                        }
                    }
                    if s.labels.contains(&l.name) {
                        continue;
                    }
                    add.set(&l.name, &l.value);
                    added.push((l.name.clone(), l.value.clone()));
                }
                seen += 1;
            }
            if seen == 0 && !all_match_empty {
                continue;
            }
            let mut b = s.labels.builder();
            for l in add.build().iter() {
                b.set(&l.name, &l.value);
            }
            let id = c_out.index_flag(b.build(), s.drop_name);
            c_out.set(id, i, v)?;
        }
    }
    Ok(Val::Vector(c_out.finish()))
}
