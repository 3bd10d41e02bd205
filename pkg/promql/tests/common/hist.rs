//! The promqltest notation for native histograms (`{{schema:0 sum:5 count:4 buckets:[1 2 1]}}`),
//! its repetition and expansion forms (`{{...}}x3`, `{{...}}+{{...}}x3`, `{{...}}-{{...}}x3`),
//! and the comparison the upstream harness applies to histogram results.

use strata_model::histogram::{CounterResetHint, FloatHistogram, Span};

use super::parse_number;

/// A parsed histogram and whether its counter reset hint was written out (only then is the
/// hint compared).
#[derive(Clone, Debug)]
pub struct SeqHist {
    pub h: FloatHistogram,
    pub hint_set: bool,
}

/// Splits a series description into tokens: whitespace-separated, except that `{{...}}` (with
/// its spaces) belongs to the token around it.
pub fn tokenize(s: &str) -> Vec<&str> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= b.len() {
            break;
        }
        let start = i;
        while i < b.len() && !b[i].is_ascii_whitespace() {
            if b[i..].starts_with(b"{{") {
                match s[i..].find("}}") {
                    Some(e) => i += e + 2,
                    None => i = b.len(),
                }
            } else {
                i += 1;
            }
        }
        out.push(&s[start..i]);
    }
    out
}

/// Parses one `{{...}}` (including the braces).
pub fn parse_hist(s: &str) -> Option<SeqHist> {
    let body = s.strip_prefix("{{")?.strip_suffix("}}")?;
    let mut h = FloatHistogram::default();
    let mut hint_set = false;
    let (mut pb, mut nb) = (Vec::new(), Vec::new());
    let (mut po, mut no) = (0i32, 0i32);
    let mut rest = body.trim();
    while !rest.is_empty() {
        let (key, after) = rest.split_once(':')?;
        let key = key.trim();
        let after = after.trim_start();
        let (val, next) = if let Some(a) = after.strip_prefix('[') {
            let e = a.find(']')?;
            (&a[..e], &a[e + 1..])
        } else {
            match after.find(char::is_whitespace) {
                Some(e) => (&after[..e], &after[e..]),
                None => (after, ""),
            }
        };
        rest = next.trim_start();
        let list = || -> Option<Vec<f64>> { val.split_whitespace().map(parse_number).collect() };
        match key {
            "schema" => h.schema = val.parse().ok()?,
            "sum" => h.sum = parse_number(val)?,
            "count" => h.count = parse_number(val)?,
            "z_bucket" => h.zero_count = parse_number(val)?,
            "z_bucket_w" => h.zero_threshold = parse_number(val)?,
            "offset" => po = val.parse().ok()?,
            "n_offset" => no = val.parse().ok()?,
            "buckets" => pb = list()?,
            "n_buckets" => nb = list()?,
            "custom_values" => h.custom_values = list()?,
            "counter_reset_hint" => {
                hint_set = true;
                h.counter_reset_hint = match val {
                    "unknown" => CounterResetHint::Unknown,
                    "reset" => CounterResetHint::CounterReset,
                    "not_reset" => CounterResetHint::NotCounterReset,
                    "gauge" => CounterResetHint::Gauge,
                    _ => return None,
                };
            }
            _ => return None,
        }
    }
    if !pb.is_empty() {
        h.positive_spans = vec![Span::new(po, pb.len() as u32)];
    }
    if !nb.is_empty() {
        h.negative_spans = vec![Span::new(no, nb.len() as u32)];
    }
    h.positive_buckets = pb;
    h.negative_buckets = nb;
    Some(SeqHist { h, hint_set })
}

/// Expands a histogram token: `{{..}}`, `{{..}}xN`, `{{..}}+{{..}}xN`, `{{..}}-{{..}}xN`.
pub fn expand_hist_token(tok: &str) -> Option<Vec<SeqHist>> {
    let end = tok.find("}}")? + 2;
    let base = parse_hist(&tok[..end])?;
    let rest = &tok[end..];
    if rest.is_empty() {
        return Some(vec![base]);
    }
    if let Some(n) = rest.strip_prefix('x') {
        let n: usize = n.parse().ok()?;
        return Some(vec![base; n + 1]);
    }
    let sub = rest.starts_with('-');
    let rest = rest.strip_prefix(['+', '-'])?;
    let iend = rest.find("}}")? + 2;
    let inc = parse_hist(&rest[..iend])?;
    let n: usize = rest[iend..].strip_prefix('x')?.parse().ok()?;
    let hint_set = inc.hint_set;
    let mut out = Vec::with_capacity(n + 1);
    let mut cur = base.h;
    out.push(SeqHist {
        h: cur.clone(),
        hint_set,
    });
    for _ in 0..n {
        if cur.schema > inc.h.schema {
            return None;
        }
        let mut next = cur.clone();
        let r = if sub {
            next.sub(&inc.h)
        } else {
            next.add(&inc.h)
        };
        r.ok()?;
        out.push(SeqHist {
            h: next.clone(),
            hint_set,
        });
        cur = next;
    }
    Some(out)
}

/// The upstream harness's float comparison (`almost.Equal` with epsilon 1e-6).
pub fn almost_equal(a: f64, b: f64) -> bool {
    let stale = strata_model::is_stale_nan;
    if stale(a) || stale(b) {
        return stale(a) && stale(b);
    }
    if a.is_nan() && b.is_nan() {
        return true;
    }
    if a == b {
        return true;
    }
    let abs_sum = a.abs() + b.abs();
    let diff = (a - b).abs();
    let eps = 1e-6;
    if a == 0.0 || b == 0.0 || abs_sum < f64::MIN_POSITIVE {
        return diff < eps * f64::MIN_POSITIVE;
    }
    diff / abs_sum.min(f64::MAX) < eps
}

fn buckets_match(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| almost_equal(*x, *y))
}

/// Span lists equal once zero-length spans are folded into their neighbours.
fn spans_match(a: &[Span], b: &[Span]) -> bool {
    fn norm(s: &[Span]) -> Vec<Span> {
        let mut out = Vec::new();
        let mut carry = 0i32;
        for sp in s {
            if sp.length == 0 {
                carry += sp.offset;
                continue;
            }
            out.push(Span::new(sp.offset + carry, sp.length));
            carry = 0;
        }
        out
    }
    norm(a) == norm(b)
}

/// Compares an expected and an actual histogram as the upstream harness does: both compacted,
/// floats within 1e-6, the hint only when the expectation spelled it out.
pub fn hist_matches(exp: &SeqHist, got: &FloatHistogram) -> bool {
    let mut e = exp.h.clone();
    e.compact(0);
    let mut g = got.clone();
    g.compact(0);
    if e.schema != g.schema || !almost_equal(e.count, g.count) || !almost_equal(e.sum, g.sum) {
        return false;
    }
    if e.uses_custom_buckets()
        && !strata_model::histogram::custom_bucket_bounds_match(&e.custom_values, &g.custom_values)
    {
        return false;
    }
    if e.zero_threshold != g.zero_threshold || !almost_equal(e.zero_count, g.zero_count) {
        return false;
    }
    if !spans_match(&e.negative_spans, &g.negative_spans)
        || !buckets_match(&e.negative_buckets, &g.negative_buckets)
        || !spans_match(&e.positive_spans, &g.positive_spans)
        || !buckets_match(&e.positive_buckets, &g.positive_buckets)
    {
        return false;
    }
    !exp.hint_set || e.counter_reset_hint == g.counter_reset_hint
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_keep_histograms_whole() {
        let t = tokenize("1 {{schema:0 sum:1 count:1}}x2 _ {{a:1}}+{{b:2}}x3");
        assert_eq!(
            t,
            vec![
                "1",
                "{{schema:0 sum:1 count:1}}x2",
                "_",
                "{{a:1}}+{{b:2}}x3"
            ]
        );
    }

    #[test]
    fn parses_every_key() {
        let h = parse_hist("{{schema:1 sum:5 count:4 z_bucket:1 z_bucket_w:0.001 buckets:[1 2] offset:1 n_buckets:[3] n_offset:-1 counter_reset_hint:gauge}}")
            .expect("parses");
        assert_eq!(h.h.schema, 1);
        assert_eq!(h.h.positive_spans, vec![Span::new(1, 2)]);
        assert_eq!(h.h.negative_buckets, vec![3.0]);
        assert_eq!(h.h.negative_spans, vec![Span::new(-1, 1)]);
        assert_eq!(h.h.counter_reset_hint, CounterResetHint::Gauge);
        assert!(h.hint_set);
    }

    #[test]
    fn expands_increasing_series() {
        let v = expand_hist_token("{{sum:1 count:1 buckets:[1]}}+{{sum:2 count:2 buckets:[2]}}x2")
            .expect("expands");
        assert_eq!(v.len(), 3);
        assert_eq!(v[2].h.count, 5.0);
        assert_eq!(v[2].h.positive_buckets, vec![5.0]);
    }
}
