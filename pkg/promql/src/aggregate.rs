//! Aggregation operators (`sum`, `avg`, `topk`, `count_values`, ...) with `by`/`without`.
//!
//! Groups are computed once per input series; each step then folds the present samples into
//! per-group state, with Prometheus's exact float algorithms (Kahan sums, incremental means,
//! Go's heap order for `topk`/`bottomk`).

use std::collections::HashMap;

use promql_parser::parser::{AggregateExpr, LabelModifier};
use strata_model::{Labels, METRIC_NAME};

use crate::error::QueryError;
use crate::eval::{Collector, Evaluator, LabelsMap, StepSeries, Val};
use crate::mathx::{fmt_g, format_float_label, kahan_inc, quantile};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Agg {
    Sum,
    Avg,
    Count,
    Min,
    Max,
    Group,
    Stddev,
    Stdvar,
    Quantile,
    Topk,
    Bottomk,
    CountValues,
    Limitk,
    LimitRatio,
}

fn parse_agg(s: &str) -> Option<Agg> {
    Some(match s {
        "sum" => Agg::Sum,
        "avg" => Agg::Avg,
        "count" => Agg::Count,
        "min" => Agg::Min,
        "max" => Agg::Max,
        "group" => Agg::Group,
        "stddev" => Agg::Stddev,
        "stdvar" => Agg::Stdvar,
        "quantile" => Agg::Quantile,
        "topk" => Agg::Topk,
        "bottomk" => Agg::Bottomk,
        "count_values" => Agg::CountValues,
        "limitk" => Agg::Limitk,
        "limit_ratio" => Agg::LimitRatio,
        _ => return None,
    })
}

/// The labels of the group a series falls in.
fn group_labels(l: &Labels, modifier: &Option<LabelModifier>) -> Labels {
    match modifier {
        Some(LabelModifier::Include(names)) => Labels::from_sorted(
            l.iter()
                .filter(|x| names.labels.contains(&x.name))
                .cloned()
                .collect(),
        ),
        Some(LabelModifier::Exclude(names)) => Labels::from_sorted(
            l.iter()
                .filter(|x| x.name != METRIC_NAME && !names.labels.contains(&x.name))
                .cloned()
                .collect(),
        ),
        None => Labels::empty(),
    }
}

#[derive(Clone, Default)]
struct GroupState {
    seen: bool,
    value: f64,
    mean: f64,
    kahan_c: f64,
    count: f64,
    incremental_mean: bool,
    values: Vec<f64>,
}

pub(crate) fn eval_aggregate(ev: &Evaluator, a: &AggregateExpr) -> Result<Val, QueryError> {
    let op_str = a.op.to_string();
    let op = parse_agg(&op_str)
        .ok_or_else(|| QueryError::exec(format!("unsupported aggregation {op_str:?}")))?;
    let n = ev.n();
    let param = match &a.param {
        Some(p) => Some(ev.eval(p)?),
        None => None,
    };
    let input = match ev.eval(&a.expr)? {
        // The input series are freed in the background once aggregated.
        Val::Vector(v) => {
            let len = v.len();
            crate::free::FreeLater::new(v, len)
        }
        _ => return Err(QueryError::exec("aggregation over a non-vector expression")),
    };
    // Annotations about the parameter point at it, as in Prometheus.
    let ppos = a.param.as_ref().map(|p| p.pos()).unwrap_or_default();
    let fparams: Option<Vec<f64>> = match &param {
        Some(Val::Scalar(v)) => Some(v.clone()),
        _ => None,
    };

    if op == Agg::CountValues {
        let label = match &param {
            Some(Val::Str(s)) => s.clone(),
            _ => return Err(QueryError::exec("count_values requires a string parameter")),
        };
        if !crate::functions::valid_label_name(&label) {
            return Err(QueryError::exec(format!(
                "invalid label name {}",
                crate::functions::go_quote(&label)
            )));
        }
        return count_values(ev, &input, &label, &a.modifier);
    }

    match op {
        Agg::Topk | Agg::Bottomk | Agg::Limitk => {
            let ps = fparams.as_deref().unwrap_or(&[]);
            let max = ps.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            if max < 1.0 && !ps.iter().any(|p| p.is_nan()) {
                return Ok(Val::Vector(Vec::new()));
            }
            if ps.iter().any(|p| p.is_nan()) {
                return Err(QueryError::exec("Parameter value is NaN"));
            }
            let min = ps.iter().copied().fold(f64::INFINITY, f64::min);
            if min <= i64::MIN as f64 {
                return Err(QueryError::exec(format!(
                    "Scalar value {} underflows int64",
                    fmt_g(min)
                )));
            }
            if max >= i64::MAX as f64 {
                return Err(QueryError::exec(format!(
                    "Scalar value {} overflows int64",
                    fmt_g(max)
                )));
            }
        }
        Agg::LimitRatio => {
            let ps = fparams.as_deref().unwrap_or(&[]);
            let max = ps.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let min = ps.iter().copied().fold(f64::INFINITY, f64::min);
            if ps.iter().all(|p| *p == 0.0) {
                return Ok(Val::Vector(Vec::new()));
            }
            if ps.iter().any(|p| p.is_nan()) {
                return Err(QueryError::exec("Ratio value is NaN"));
            }
            if max > 1.0 {
                ev.warn(
                    ppos,
                    format!(
                    "PromQL warning: ratio value should be between -1 and 1, got {}, capping to 1",
                    fmt_g(max)
                ),
                );
            }
            if min < -1.0 {
                ev.warn(
                    ppos,
                    format!(
                    "PromQL warning: ratio value should be between -1 and 1, got {}, capping to -1",
                    fmt_g(min)
                ),
                );
            }
        }
        Agg::Quantile => {
            let ps = fparams.as_deref().unwrap_or(&[]);
            if ps.iter().any(|p| p.is_nan()) {
                ev.warn(
                    ppos,
                    format!(
                        "PromQL warning: quantile value should be between 0 and 1, got {}",
                        fmt_g(f64::NAN)
                    ),
                );
            }
            let max = ps.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let min = ps.iter().copied().fold(f64::INFINITY, f64::min);
            if max > 1.0 {
                ev.warn(
                    ppos,
                    format!(
                        "PromQL warning: quantile value should be between 0 and 1, got {}",
                        fmt_g(max)
                    ),
                );
            }
            if min < 0.0 {
                ev.warn(
                    ppos,
                    format!(
                        "PromQL warning: quantile value should be between 0 and 1, got {}",
                        fmt_g(min)
                    ),
                );
            }
        }
        _ => {}
    }

    // Group every input series once.
    let mut group_of: Vec<usize> = Vec::with_capacity(input.len());
    let mut group_index: LabelsMap<usize> = LabelsMap::default();
    let mut group_lbls: Vec<Labels> = Vec::new();
    for s in input.iter() {
        let g = group_labels(&s.labels, &a.modifier);
        let id = match group_index.get(&g) {
            Some(&id) => id,
            None => {
                let id = group_lbls.len();
                group_index.insert(g.clone(), id);
                group_lbls.push(g);
                id
            }
        };
        group_of.push(id);
    }
    let ngroups = group_lbls.len();

    if op == Agg::LimitRatio {
        return limit_ratio(ev, &input, fparams.as_deref().unwrap_or(&[]));
    }
    if matches!(op, Agg::Topk | Agg::Bottomk | Agg::Limitk) {
        return topk(
            ev,
            a.pos,
            op,
            &input,
            &group_of,
            ngroups,
            fparams.as_deref().unwrap_or(&[]),
        );
    }

    let mut out: Vec<StepSeries> = group_lbls
        .into_iter()
        .map(|labels| StepSeries {
            labels,
            vals: vec![None; n],
            hists: Vec::new(),
            drop_name: false,
        })
        .collect();
    for (si, s) in input.iter().enumerate() {
        out[group_of[si]].drop_name |= s.drop_name;
    }
    let mut groups = vec![GroupState::default(); ngroups];
    let has_hists = input.iter().any(|s| !s.hists.is_empty());
    let mut hist_groups = crate::nh_aggregate::HistGroups::new(ngroups);
    let mut groups_seen_hist = vec![false; ngroups];
    for i in 0..n {
        ev.check_deadline()?;
        for g in groups.iter_mut() {
            g.seen = false;
        }
        if has_hists {
            hist_groups.step(ev, op, a, &input, &group_of, i, &mut groups_seen_hist);
        }
        for (si, s) in input.iter().enumerate() {
            let Some(f) = s.vals[i] else { continue };
            let g = &mut groups[group_of[si]];
            if hist_groups.mixed_float(group_of[si], op) {
                continue;
            }
            if !g.seen {
                g.seen = true;
                g.value = f;
                g.mean = f;
                g.count = 1.0;
                g.kahan_c = 0.0;
                g.incremental_mean = false;
                match op {
                    Agg::Stddev | Agg::Stdvar => {
                        g.value = if f.is_nan() || f.is_infinite() {
                            f64::NAN
                        } else {
                            0.0
                        };
                    }
                    Agg::Quantile => {
                        g.values.clear();
                        g.values.push(f);
                    }
                    Agg::Group => g.value = 1.0,
                    _ => {}
                }
                continue;
            }
            match op {
                Agg::Sum => {
                    let (v, c) = kahan_inc(f, g.value, g.kahan_c);
                    g.value = v;
                    g.kahan_c = c;
                }
                Agg::Avg => {
                    g.count += 1.0;
                    if !g.incremental_mean {
                        let (nv, nc) = kahan_inc(f, g.value, g.kahan_c);
                        if !nv.is_infinite() {
                            g.value = nv;
                            g.kahan_c = nc;
                            continue;
                        }
                        g.incremental_mean = true;
                        g.mean = g.value / (g.count - 1.0);
                        g.kahan_c /= g.count - 1.0;
                    }
                    let q = (g.count - 1.0) / g.count;
                    let (m, c) = kahan_inc(f / g.count, q * g.mean, q * g.kahan_c);
                    g.mean = m;
                    g.kahan_c = c;
                }
                Agg::Group => {}
                Agg::Max if g.value < f || g.value.is_nan() => g.value = f,
                Agg::Min if g.value > f || g.value.is_nan() => g.value = f,
                Agg::Count => g.count += 1.0,
                Agg::Stddev | Agg::Stdvar => {
                    g.count += 1.0;
                    let delta = f - g.mean;
                    g.mean += delta / g.count;
                    g.value += delta * (f - g.mean);
                }
                Agg::Quantile => g.values.push(f),
                _ => {}
            }
        }
        for (gi, g) in groups.iter_mut().enumerate() {
            if has_hists {
                match hist_groups.finish(ev, op, a, gi, g.seen) {
                    crate::nh_aggregate::Finish::Hist(h) => {
                        out[gi].set_h(i, h);
                        continue;
                    }
                    crate::nh_aggregate::Finish::Count(c) => {
                        let base = if g.seen { g.count } else { 0.0 };
                        out[gi].vals[i] = Some(match op {
                            Agg::Group => 1.0,
                            _ => base + c,
                        });
                        continue;
                    }
                    crate::nh_aggregate::Finish::Drop => continue,
                    crate::nh_aggregate::Finish::Floats => {}
                }
            }
            if !g.seen {
                continue;
            }
            let v = match op {
                Agg::Avg => {
                    if g.incremental_mean {
                        g.mean + g.kahan_c
                    } else {
                        g.value / g.count + g.kahan_c / g.count
                    }
                }
                Agg::Count => g.count,
                Agg::Stdvar => g.value / g.count,
                Agg::Stddev => (g.value / g.count).sqrt(),
                Agg::Quantile => {
                    let q = fparams.as_ref().map(|p| p[i]).unwrap_or(f64::NAN);
                    quantile(q, &mut g.values)
                }
                Agg::Sum => {
                    if g.value.is_infinite() {
                        g.value
                    } else {
                        g.value + g.kahan_c
                    }
                }
                _ => g.value,
            };
            out[gi].vals[i] = Some(v);
        }
    }
    Ok(Val::Vector(
        out.into_iter().filter(|s| s.any_present()).collect(),
    ))
}

/// Go's `container/heap` over series indices, so ties resolve exactly as Prometheus.
struct GoHeap<'a> {
    items: Vec<(usize, f64)>,
    /// `less(a, b)` for the heap order.
    less: &'a dyn Fn(f64, f64) -> bool,
}

impl GoHeap<'_> {
    fn less_at(&self, i: usize, j: usize) -> bool {
        (self.less)(self.items[i].1, self.items[j].1)
    }
    fn up(&mut self, mut j: usize) {
        while j > 0 {
            let i = (j - 1) / 2;
            if !self.less_at(j, i) {
                break;
            }
            self.items.swap(i, j);
            j = i;
        }
    }
    fn down(&mut self, i0: usize) -> bool {
        let n = self.items.len();
        let mut i = i0;
        loop {
            let j1 = 2 * i + 1;
            if j1 >= n {
                break;
            }
            let mut j = j1;
            let j2 = j1 + 1;
            if j2 < n && self.less_at(j2, j1) {
                j = j2;
            }
            if !self.less_at(j, i) {
                break;
            }
            self.items.swap(i, j);
            i = j;
        }
        i > i0
    }
    fn push(&mut self, item: (usize, f64)) {
        self.items.push(item);
        let last = self.items.len() - 1;
        self.up(last);
    }
    fn fix0(&mut self) {
        if !self.down(0) {
            self.up(0);
        }
    }
}

fn topk(
    ev: &Evaluator,
    pos: promql_parser::parser::PosRange,
    op: Agg,
    input: &[StepSeries],
    group_of: &[usize],
    ngroups: usize,
    params: &[f64],
) -> Result<Val, QueryError> {
    let n = ev.n();
    let asc = |a: f64, b: f64| a.is_nan() || a < b;
    let desc = |a: f64, b: f64| a.is_nan() || a > b;
    let less: &dyn Fn(f64, f64) -> bool = if op == Agg::Bottomk { &desc } else { &asc };
    let mut c = Collector::new(n);
    let mut out_idx: Vec<Option<usize>> = vec![None; input.len()];
    let mut heaps: Vec<GoHeap> = (0..ngroups)
        .map(|_| GoHeap {
            items: Vec::new(),
            less,
        })
        .collect();
    let mut seen = vec![false; ngroups];
    for i in 0..n {
        let k = (params.get(i).copied().unwrap_or(0.0) as i64).min(input.len() as i64);
        if k < 1 {
            continue;
        }
        let k = k as usize;
        for h in heaps.iter_mut() {
            h.items.clear();
        }
        seen.iter_mut().for_each(|s| *s = false);
        for (si, s) in input.iter().enumerate() {
            let f = match (s.vals[i], s.h(i)) {
                (Some(f), _) => f,
                // limitk keeps histograms (their value plays no part); topk and bottomk
                // ignore them.
                (None, Some(_)) if op == Agg::Limitk => f64::NAN,
                (None, Some(_)) => {
                    let name = if op == Agg::Topk { "topk" } else { "bottomk" };
                    ev.info(
                        pos,
                        format!("PromQL info: ignored histogram in {name} aggregation"),
                    );
                    continue;
                }
                (None, None) => continue,
            };
            let g = group_of[si];
            let h = &mut heaps[g];
            if !seen[g] {
                seen[g] = true;
                h.push((si, f));
                continue;
            }
            match op {
                Agg::Limitk => {
                    if h.items.len() < k {
                        h.push((si, f));
                    }
                }
                Agg::Topk => {
                    if h.items.len() < k {
                        h.push((si, f));
                    } else if h.items[0].1 < f || (h.items[0].1.is_nan() && !f.is_nan()) {
                        h.items[0] = (si, f);
                        if k > 1 {
                            h.fix0();
                        }
                    }
                }
                _ => {
                    if h.items.len() < k {
                        h.push((si, f));
                    } else if h.items[0].1 > f || (h.items[0].1.is_nan() && !f.is_nan()) {
                        h.items[0] = (si, f);
                        if k > 1 {
                            h.fix0();
                        }
                    }
                }
            }
        }
        for (g, h) in heaps.iter_mut().enumerate() {
            if !seen[g] {
                continue;
            }
            let mut items = std::mem::take(&mut h.items);
            if op != Agg::Limitk && items.len() > 1 {
                // Reverse of the heap order: largest first for topk, smallest first for bottomk.
                let l = h.less;
                items.sort_by(|a, b| {
                    if l(b.1, a.1) {
                        std::cmp::Ordering::Less
                    } else if l(a.1, b.1) {
                        std::cmp::Ordering::Greater
                    } else {
                        std::cmp::Ordering::Equal
                    }
                });
            }
            for (si, f) in &items {
                let id = *out_idx[*si].get_or_insert_with(|| {
                    c.index_flag(input[*si].labels.clone(), input[*si].drop_name)
                });
                match (input[*si].vals[i], input[*si].h(i)) {
                    (None, Some(hh)) => c.set_h(id, i, hh.clone())?,
                    _ => c.set(id, i, *f)?,
                }
            }
            h.items = items;
        }
    }
    Ok(Val::Vector(c.finish()))
}

/// `limit_ratio(r, v)`: a deterministic sample of series chosen by their label hash.
fn limit_ratio(ev: &Evaluator, input: &[StepSeries], params: &[f64]) -> Result<Val, QueryError> {
    let n = ev.n();
    let offsets: Vec<f64> = input
        .iter()
        .map(|s| prometheus_hash(&s.labels) as f64 / u64::MAX as f64)
        .collect();
    let mut c = Collector::new(n);
    for (si, s) in input.iter().enumerate() {
        let mut id = None;
        for i in 0..n {
            if !s.present(i) {
                continue;
            }
            let r = params.get(i).copied().unwrap_or(0.0).clamp(-1.0, 1.0);
            if r == 0.0 {
                continue;
            }
            let keep = (r >= 0.0 && offsets[si] < r) || (r < 0.0 && offsets[si] >= 1.0 + r);
            if keep {
                let idx = *id.get_or_insert_with(|| c.index_flag(s.labels.clone(), s.drop_name));
                match (s.vals[i], s.h(i)) {
                    (Some(v), _) => c.set(idx, i, v)?,
                    (None, Some(h)) => c.set_h(idx, i, h.clone())?,
                    (None, None) => {}
                }
            }
        }
    }
    Ok(Val::Vector(c.finish()))
}

/// Prometheus's `labels.Labels.Hash()`: xxhash64 over `name\xffvalue\xff...`.
fn prometheus_hash(l: &Labels) -> u64 {
    let mut h = xxhash_rust::xxh64::Xxh64::new(0);
    for x in l.iter() {
        h.update(x.name.as_bytes());
        h.update(&[0xff]);
        h.update(x.value.as_bytes());
        h.update(&[0xff]);
    }
    h.digest()
}

fn count_values(
    ev: &Evaluator,
    input: &[StepSeries],
    label: &str,
    modifier: &Option<LabelModifier>,
) -> Result<Val, QueryError> {
    let n = ev.n();
    let mut c = Collector::new(n);
    let base: Vec<Labels> = input
        .iter()
        .map(|s| {
            let mut m = modifier.clone();
            if let Some(LabelModifier::Include(ls)) = &mut m {
                ls.labels.push(label.to_string());
            }
            group_labels(&s.labels, &m)
        })
        .collect();
    let mut counts: HashMap<Labels, f64> = HashMap::new();
    let mut order: Vec<Labels> = Vec::new();
    for i in 0..n {
        counts.clear();
        order.clear();
        for (si, s) in input.iter().enumerate() {
            // A histogram's value label is its string form, as Prometheus's `String()`.
            let value = match (s.vals[i], s.h(i)) {
                (Some(f), _) => format_float_label(f),
                (None, Some(h)) => h.to_string(),
                (None, None) => continue,
            };
            let mut b = base[si].builder();
            b.set(label, &value);
            let l = b.build();
            match counts.get_mut(&l) {
                Some(cnt) => *cnt += 1.0,
                None => {
                    counts.insert(l.clone(), 1.0);
                    order.push(l);
                }
            }
        }
        for l in order.drain(..) {
            let v = counts[&l];
            let id = c.index(l);
            c.set(id, i, v)?;
        }
    }
    Ok(Val::Vector(c.finish()))
}
