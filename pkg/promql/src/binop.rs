//! Binary operators: arithmetic, comparison (with `bool`), `atan2`, and the set operators
//! `and`/`or`/`unless`, with `on`/`ignoring` and `group_left`/`group_right` matching.

use std::collections::{HashMap, HashSet};

use promql_parser::parser::{BinaryExpr, LabelModifier, PosRange, VectorMatchCardinality};
use strata_model::{Labels, METRIC_NAME};

use crate::error::QueryError;
use crate::eval::{Collector, Evaluator, LabelsMap, StepSeries, Val};
use crate::nh_binop::{elem as nh_elem, op_str as nh_op_str, Elem, Operand};

/// A binary operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    Atan2,
    Eq,
    Ne,
    Gt,
    Lt,
    Ge,
    Le,
    And,
    Or,
    Unless,
    /// `</`: trims a native histogram's buckets above a value.
    TrimUpper,
    /// `>/`: trims a native histogram's buckets below a value.
    TrimLower,
}

impl Op {
    fn parse(s: &str) -> Option<Op> {
        Some(match s {
            "+" => Op::Add,
            "-" => Op::Sub,
            "*" => Op::Mul,
            "/" => Op::Div,
            "%" => Op::Mod,
            "^" => Op::Pow,
            "atan2" => Op::Atan2,
            "==" => Op::Eq,
            "!=" => Op::Ne,
            ">" => Op::Gt,
            "<" => Op::Lt,
            ">=" => Op::Ge,
            "<=" => Op::Le,
            "and" => Op::And,
            "or" => Op::Or,
            "unless" => Op::Unless,
            "</" => Op::TrimUpper,
            ">/" => Op::TrimLower,
            _ => return None,
        })
    }

    pub fn is_comparison(self) -> bool {
        matches!(self, Op::Eq | Op::Ne | Op::Gt | Op::Lt | Op::Ge | Op::Le)
    }

    fn is_set(self) -> bool {
        matches!(self, Op::And | Op::Or | Op::Unless)
    }

    /// Arithmetic drops the metric name; comparisons without `bool` keep it.
    fn drops_name(self) -> bool {
        matches!(
            self,
            Op::Add | Op::Sub | Op::Mul | Op::Div | Op::Mod | Op::Pow | Op::Atan2
        )
    }
}

/// Applies `op` to two floats: the value, and whether a comparison holds (always true for arithmetic).
#[inline]
pub(crate) fn apply(op: Op, l: f64, r: f64) -> (f64, bool) {
    match op {
        Op::Add => (l + r, true),
        Op::Sub => (l - r, true),
        Op::Mul => (l * r, true),
        Op::Div => (l / r, true),
        Op::Mod => (l % r, true),
        Op::Pow => (l.powf(r), true),
        Op::Atan2 => (l.atan2(r), true),
        Op::Eq => (l, l == r),
        Op::Ne => (l, l != r),
        Op::Gt => (l, l > r),
        Op::Lt => (l, l < r),
        Op::Ge => (l, l >= r),
        Op::Le => (l, l <= r),
        Op::And | Op::Or | Op::Unless => (l, false),
        // Trimming applies to native histograms only; float pairs yield nothing.
        Op::TrimUpper | Op::TrimLower => (l, false),
    }
}

/// Scalar-scalar: comparisons yield 1 or 0.
fn scalar_op(op: Op, l: f64, r: f64) -> f64 {
    let (v, keep) = apply(op, l, r);
    if op.is_comparison() {
        if keep {
            1.0
        } else {
            0.0
        }
    } else {
        v
    }
}

pub(crate) fn eval_binary(ev: &Evaluator, b: &BinaryExpr) -> Result<Val, QueryError> {
    let op_str = b.op.to_string();
    let op = Op::parse(&op_str)
        .ok_or_else(|| QueryError::exec(format!("unsupported binary operator {op_str:?}")))?;
    let return_bool = b.modifier.as_ref().is_some_and(|m| m.return_bool);
    let lhs = ev.eval(&b.lhs)?;
    let rhs = ev.eval(&b.rhs)?;
    let has_hists = |v: &Val| match v {
        Val::Vector(vs) => vs.iter().any(|s| s.hists.iter().any(|h| h.is_some())),
        _ => false,
    };
    if matches!(op, Op::TrimUpper | Op::TrimLower) && !has_hists(&lhs) && !has_hists(&rhs) {
        return trim_floats(ev, b, &op_str, lhs, rhs);
    }
    match (lhs, rhs) {
        (Val::Scalar(l), Val::Scalar(r)) => Ok(Val::Scalar(
            l.iter()
                .zip(&r)
                .map(|(a, b)| scalar_op(op, *a, *b))
                .collect(),
        )),
        (Val::Vector(v), Val::Scalar(s)) => vector_scalar(ev, b.pos, op, v, &s, false, return_bool),
        (Val::Scalar(s), Val::Vector(v)) => vector_scalar(ev, b.pos, op, v, &s, true, return_bool),
        (Val::Vector(l), Val::Vector(r)) => {
            let (on, names) = match b.modifier.as_ref().and_then(|m| m.matching.as_ref()) {
                Some(LabelModifier::Include(ls)) => (true, ls.labels.clone()),
                Some(LabelModifier::Exclude(ls)) => (false, ls.labels.clone()),
                None => (false, Vec::new()),
            };
            let m = Matching { on, names };
            if op.is_set() {
                return Ok(Val::Vector(set_op(ev, op, l, r, &m)?));
            }
            let card = b
                .modifier
                .as_ref()
                .map(|m| m.card.clone())
                .unwrap_or(VectorMatchCardinality::OneToOne);
            let fill = b
                .modifier
                .as_ref()
                .map(|m| Fill {
                    lhs: m.fill_values.lhs,
                    rhs: m.fill_values.rhs,
                })
                .unwrap_or_default();
            Ok(Val::Vector(vector_vector(
                ev,
                b.pos,
                op,
                l,
                r,
                &m,
                &card,
                return_bool,
                fill,
            )?))
        }
        _ => Err(QueryError::exec(format!(
            "binary operator {op_str:?} is not defined for these operand types"
        ))),
    }
}

/// The trim operators over floats: Prometheus drops every pair with an info annotation
/// (they only act on native histograms, which Strata does not store yet), and refuses them
/// between scalars.
fn trim_floats(
    ev: &Evaluator,
    b: &BinaryExpr,
    op_str: &str,
    lhs: Val,
    rhs: Val,
) -> Result<Val, QueryError> {
    let has_samples = |v: &Val| match v {
        Val::Vector(vs) => vs.iter().any(|s| s.vals.iter().any(|p| p.is_some())),
        Val::Scalar(_) => true,
        _ => false,
    };
    if let (Val::Scalar(_), Val::Scalar(_)) = (&lhs, &rhs) {
        return Err(QueryError::exec(format!(
            "operator {op_str:?} not allowed for Scalar operations"
        )));
    }
    if has_samples(&lhs) && has_samples(&rhs) {
        ev.info(
            b.pos,
            format!(
                "PromQL info: incompatible sample types encountered for binary operator {op_str:?}: float {op_str} float"
            ),
        );
    }
    Ok(Val::Vector(Vec::new()))
}

/// A trim operator between two floats yields nothing, with an info annotation.
fn trim_float_info(ev: &Evaluator, pos: PosRange, op: Op) {
    let o = nh_op_str(op);
    ev.info(
        pos,
        format!("PromQL info: incompatible sample types encountered for binary operator \"{o}\": float {o} float"),
    );
}

fn vector_scalar(
    ev: &Evaluator,
    pos: PosRange,
    op: Op,
    v: Vec<StepSeries>,
    s: &[f64],
    swap: bool,
    return_bool: bool,
) -> Result<Val, QueryError> {
    let mut c = Collector::new(ev.n());
    let drop = op.drops_name() || return_bool;
    for series in v {
        let mut idx = None;
        for (i, h) in series.hists.iter().enumerate() {
            let Some(h) = h else { continue };
            let (l, r) = if swap {
                (Operand::F(s[i]), Operand::H(h))
            } else {
                (Operand::H(h), Operand::F(s[i]))
            };
            let Some((mut val, mut keep)) = nh_elem(ev, pos, op, l, r) else {
                continue;
            };
            if return_bool {
                val = Elem::F(if keep { 1.0 } else { 0.0 });
                keep = true;
            }
            if keep {
                let id = *idx.get_or_insert_with(|| {
                    let (labels, flag) = if drop {
                        ev.dropped(&series.labels)
                    } else {
                        (series.labels.clone(), series.drop_name)
                    };
                    c.index_flag(labels, flag)
                });
                match val {
                    Elem::F(f) => c.set(id, i, f)?,
                    Elem::H(h) => c.set_h(id, i, h)?,
                }
            }
        }
        for (i, p) in series.vals.iter().enumerate() {
            let Some(x) = *p else { continue };
            let (l, r) = if swap { (s[i], x) } else { (x, s[i]) };
            if matches!(op, Op::TrimUpper | Op::TrimLower) {
                trim_float_info(ev, pos, op);
                continue;
            }
            let (mut val, mut keep) = apply(op, l, r);
            if op.is_comparison() && swap {
                val = x;
            }
            if return_bool {
                val = if keep { 1.0 } else { 0.0 };
                keep = true;
            }
            if keep {
                let id = match idx {
                    Some(id) => id,
                    None => {
                        let (labels, flag) = if drop {
                            ev.dropped(&series.labels)
                        } else {
                            (series.labels.clone(), series.drop_name)
                        };
                        let id = c.index_flag(labels, flag);
                        idx = Some(id);
                        id
                    }
                };
                c.set(id, i, val)?;
            }
        }
    }
    Ok(Val::Vector(c.finish()))
}

/// `on(...)`/`ignoring(...)` label matching.
pub(crate) struct Matching {
    pub on: bool,
    pub names: Vec<String>,
}

impl Matching {
    /// The labels a series is matched by (Prometheus's `MatchLabels`).
    fn match_labels(&self, l: &Labels) -> Labels {
        if self.on {
            Labels::from_sorted(
                l.iter()
                    .filter(|x| self.names.contains(&x.name))
                    .cloned()
                    .collect(),
            )
        } else {
            Labels::from_sorted(
                l.iter()
                    .filter(|x| x.name != METRIC_NAME && !self.names.contains(&x.name))
                    .cloned()
                    .collect(),
            )
        }
    }

    /// Interns each series' signature; returns a signature id per series and the id count.
    fn sig_ids(&self, sides: &[&[StepSeries]]) -> (Vec<Vec<usize>>, usize) {
        let mut map: LabelsMap<usize> = LabelsMap::default();
        let mut out = Vec::new();
        for side in sides {
            let ids = side
                .iter()
                .map(|s| {
                    let k = self.match_labels(&s.labels);
                    let next = map.len();
                    *map.entry(k).or_insert(next)
                })
                .collect();
            out.push(ids);
        }
        (out, map.len())
    }
}

fn set_op(
    ev: &Evaluator,
    op: Op,
    l: Vec<StepSeries>,
    r: Vec<StepSeries>,
    m: &Matching,
) -> Result<Vec<StepSeries>, QueryError> {
    let n = ev.n();
    let (ids, nsig) = m.sig_ids(&[&l, &r]);
    let (lid, rid) = (&ids[0], &ids[1]);
    match op {
        Op::And | Op::Unless => {
            let mut stamp = vec![usize::MAX; nsig];
            let mut out: Vec<StepSeries> = l
                .iter()
                .map(|s| StepSeries {
                    labels: s.labels.clone(),
                    vals: vec![None; n],
                    hists: Vec::new(),
                    drop_name: s.drop_name,
                })
                .collect();
            for i in 0..n {
                for (j, s) in r.iter().enumerate() {
                    if s.present(i) {
                        stamp[rid[j]] = i;
                    }
                }
                for (j, s) in l.iter().enumerate() {
                    if !s.present(i) || (stamp[lid[j]] == i) != (op == Op::And) {
                        continue;
                    }
                    match (s.vals[i], s.h(i)) {
                        (Some(v), _) => out[j].vals[i] = Some(v),
                        (None, Some(h)) => out[j].set_h(i, h.clone()),
                        (None, None) => {}
                    }
                }
            }
            Ok(out.into_iter().filter(|s| s.any_present()).collect())
        }
        _ => {
            // `or`: everything on the left, plus right-hand series whose group is absent on the left.
            let mut stamp = vec![usize::MAX; nsig];
            let mut c = Collector::new(n);
            let lidx: Vec<usize> = l
                .iter()
                .map(|s| c.index_flag(s.labels.clone(), s.drop_name))
                .collect();
            let mut ridx: Vec<Option<usize>> = vec![None; r.len()];
            for i in 0..n {
                for (j, s) in l.iter().enumerate() {
                    if let Some(v) = s.vals[i] {
                        stamp[lid[j]] = i;
                        c.set(lidx[j], i, v)?;
                    } else if let Some(h) = s.h(i) {
                        stamp[lid[j]] = i;
                        c.set_h(lidx[j], i, h.clone())?;
                    }
                }
                for (j, s) in r.iter().enumerate() {
                    if !s.present(i) || stamp[rid[j]] == i {
                        continue;
                    }
                    let id =
                        *ridx[j].get_or_insert_with(|| c.index_flag(s.labels.clone(), s.drop_name));
                    match (s.vals[i], s.h(i)) {
                        (Some(v), _) => c.set(id, i, v)?,
                        (None, Some(h)) => c.set_h(id, i, h.clone())?,
                        (None, None) => {}
                    }
                }
            }
            Ok(c.finish())
        }
    }
}

/// Fill values for `fill(...)`, `fill_left(...)`, `fill_right(...)`.
#[derive(Clone, Copy, Default)]
struct Fill {
    lhs: Option<f64>,
    rhs: Option<f64>,
}

#[allow(clippy::too_many_arguments)]
fn vector_vector(
    ev: &Evaluator,
    pos: PosRange,
    op: Op,
    l: Vec<StepSeries>,
    r: Vec<StepSeries>,
    m: &Matching,
    card: &VectorMatchCardinality,
    return_bool: bool,
    fill: Fill,
) -> Result<Vec<StepSeries>, QueryError> {
    let n = ev.n();
    let one_to_many = matches!(card, VectorMatchCardinality::OneToMany(_));
    let include: Vec<String> = card
        .labels()
        .map(|ls| ls.labels.clone())
        .unwrap_or_default();
    // For one-to-many, swap sides so the right side is always the "one" side.
    let (l, r) = if one_to_many { (r, l) } else { (l, r) };
    let (ids, nsig) = m.sig_ids(&[&l, &r]);
    let (lid, rid) = (&ids[0], &ids[1]);
    let one_to_one = matches!(card, VectorMatchCardinality::OneToOne);
    let has_fill = fill.lhs.is_some() || fill.rhs.is_some();
    let mut c = Collector::new(n);
    let mut right_at = vec![(usize::MAX, 0usize); nsig];
    let matched_at = vec![std::cell::Cell::new(usize::MAX); nsig];
    let mut inserted: HashSet<(usize, usize)> = HashSet::new();
    // Output series per (left index, right index); `usize::MAX` marks a filled side.
    let mut result_idx: HashMap<(usize, usize), usize> = HashMap::new();
    for i in 0..n {
        let l_any = l.iter().any(|s| s.present(i));
        let r_any = r.iter().any(|s| s.present(i));
        if (!l_any && !r_any) || ((!l_any || !r_any) && !has_fill) {
            continue;
        }
        for (j, s) in r.iter().enumerate() {
            if !s.present(i) {
                continue;
            }
            let sig = rid[j];
            if right_at[sig].0 == i {
                let side = if one_to_many { "left" } else { "right" };
                let dup = &r[right_at[sig].1];
                let (mut d1, mut d2) = (go_labels(&s.labels), go_labels(&dup.labels));
                if d1 > d2 {
                    std::mem::swap(&mut d1, &mut d2);
                }
                return Err(QueryError::exec(format!(
                    "found duplicate series for the match group {} on the {side} hand-side of the operation: [{d1}, {d2}];many-to-many matching not allowed: matching labels must be unique on one side",
                    go_labels(&m.match_labels(&s.labels)),
                )));
            }
            right_at[sig] = (i, j);
        }
        inserted.clear();
        let mut do_op = |lj: usize,
                         rj: usize,
                         lv: Operand,
                         rv: Operand,
                         sig: usize|
         -> Result<(), QueryError> {
            let (fl, fr) = if one_to_many { (rv, lv) } else { (lv, rv) };
            let (mut val, keep) = match (fl, fr) {
                (Operand::F(_), Operand::F(_)) if matches!(op, Op::TrimUpper | Op::TrimLower) => {
                    trim_float_info(ev, pos, op);
                    return Ok(());
                }
                (Operand::F(a), Operand::F(b)) => {
                    let (v, k) = apply(op, a, b);
                    (Elem::F(v), k)
                }
                _ => match nh_elem(ev, pos, op, fl, fr) {
                    Some(r) => r,
                    None => return Ok(()),
                },
            };
            if return_bool {
                val = Elem::F(if keep { 1.0 } else { 0.0 });
            }
            let out = match result_idx.get(&(lj, rj)) {
                Some(&o) => o,
                None => {
                    let filled;
                    let (ll, rl) = match (lj, rj) {
                        (usize::MAX, _) => {
                            filled = m.match_labels(&r[rj].labels);
                            (&filled, &r[rj].labels)
                        }
                        (_, usize::MAX) => {
                            filled = m.match_labels(&l[lj].labels);
                            (&l[lj].labels, &filled)
                        }
                        _ => (&l[lj].labels, &r[rj].labels),
                    };
                    let drop_bool = return_bool && !ev.delayed;
                    let labels = result_metric(ll, rl, op, m, one_to_one, &include, drop_bool);
                    let o = c.index_flag(labels, return_bool);
                    result_idx.insert((lj, rj), o);
                    o
                }
            };
            // Match errors are raised before comparisons filter, as Prometheus does.
            if one_to_one {
                if matched_at[sig].get() == i {
                    return Err(QueryError::exec(
                        "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)",
                    ));
                }
            } else if !inserted.insert((sig, out)) {
                return Err(QueryError::exec(
                    "multiple matches for labels: grouping labels must ensure unique matches",
                ));
            }
            matched_at[sig].set(i);
            if !keep && !return_bool {
                return Ok(());
            }
            match val {
                Elem::F(f) => c.set(out, i, f),
                Elem::H(h) => c.set_h(out, i, h),
            }
        };
        fn operand(s: &StepSeries, i: usize) -> Option<Operand<'_>> {
            match (s.vals[i], s.h(i)) {
                (Some(f), _) => Some(Operand::F(f)),
                (None, Some(h)) => Some(Operand::H(h)),
                (None, None) => None,
            }
        }
        for (j, s) in l.iter().enumerate() {
            let Some(lv) = operand(s, i) else { continue };
            let sig = lid[j];
            if right_at[sig].0 == i {
                let rj = right_at[sig].1;
                if let Some(rv) = operand(&r[rj], i) {
                    do_op(j, rj, lv, rv, sig)?;
                }
            } else if let Some(fr) = fill.rhs {
                do_op(j, usize::MAX, lv, Operand::F(fr), sig)?;
            }
        }
        if let Some(fl) = fill.lhs {
            for (j, s) in r.iter().enumerate() {
                let Some(rv) = operand(s, i) else { continue };
                let sig = rid[j];
                if matched_at[sig].get() == i {
                    continue;
                }
                do_op(usize::MAX, j, Operand::F(fl), rv, sig)?;
            }
        }
    }
    Ok(c.finish())
}

fn result_metric(
    l: &Labels,
    r: &Labels,
    op: Op,
    m: &Matching,
    one_to_one: bool,
    include: &[String],
    return_bool: bool,
) -> Labels {
    let mut b = l.builder();
    if op.drops_name() || return_bool {
        for n in crate::eval::METADATA_LABELS {
            b.del(n);
        }
    }
    if one_to_one {
        if m.on {
            for x in l.iter() {
                if !m.names.contains(&x.name) {
                    b.del(&x.name);
                }
            }
        } else {
            for name in &m.names {
                b.del(name);
            }
        }
    }
    for name in include {
        match r.get(name) {
            Some(v) if !v.is_empty() => {
                b.set(name, v);
            }
            _ => {
                b.del(name);
            }
        }
    }
    b.build()
}

/// Go's `labels.Labels.String()`: `{a="b", c="d"}` with every label, the name included.
pub(crate) fn go_labels(l: &Labels) -> String {
    let parts: Vec<String> = l
        .iter()
        .map(|x| format!("{}={:?}", x.name, x.value))
        .collect();
    format!("{{{}}}", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparisons_keep_the_left_value_and_report_truth() {
        assert_eq!(apply(Op::Gt, 3.0, 2.0), (3.0, true));
        assert_eq!(apply(Op::Le, 3.0, 2.0), (3.0, false));
        assert!(!apply(Op::Eq, f64::NAN, f64::NAN).1);
        assert_eq!(scalar_op(Op::Ne, 1.0, 2.0), 1.0);
    }

    #[test]
    fn arithmetic_follows_go_float_semantics() {
        assert_eq!(apply(Op::Mod, -7.0, 3.0).0, -1.0);
        assert_eq!(apply(Op::Pow, 2.0, 10.0).0, 1024.0);
        assert!(apply(Op::Div, 0.0, 0.0).0.is_nan());
        assert_eq!(apply(Op::Div, 1.0, 0.0).0, f64::INFINITY);
    }

    #[test]
    fn matching_signatures_ignore_the_name_unless_on() {
        let l = Labels::from_pairs([("__name__", "x"), ("a", "1"), ("b", "2")]);
        let ign = Matching {
            on: false,
            names: vec!["b".into()],
        };
        assert_eq!(ign.match_labels(&l), Labels::from_pairs([("a", "1")]));
        let on = Matching {
            on: true,
            names: vec!["b".into(), "__name__".into()],
        };
        assert_eq!(
            on.match_labels(&l),
            Labels::from_pairs([("__name__", "x"), ("b", "2")])
        );
        assert_eq!(go_labels(&l), r#"{__name__="x", a="1", b="2"}"#);
    }
}
