//! Test helpers: an in-memory `Querier` and the promqltest series notation.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use parking_lot::RwLock;
use strata_chunkenc::{encode_xor, AppendOutcome, FloatHistogramAppender, SAMPLES_PER_CHUNK};
use strata_model::histogram::FloatHistogram;
use strata_model::{Label, Labels, Matcher, Sample, STALE_NAN};

pub mod hist;
pub mod nhcb;
use strata_storage::{ChunkMeta, Querier, SelectHints, Series, StorageError};

/// A stored sample: a float or a native histogram.
#[derive(Clone, Debug)]
pub enum Stored {
    F(f64),
    H(Box<FloatHistogram>),
}

/// Each series' samples, sorted by time.
type SeriesMap = BTreeMap<Labels, Vec<(i64, Stored)>>;

/// Series held in memory, encoded on every select: runs of floats to XOR chunks, runs of
/// histograms to float histogram chunks (cut as Prometheus's head cuts them: counter resets,
/// layout changes, 120 samples).
#[derive(Default, Clone)]
pub struct MemQuerier {
    series: Arc<RwLock<SeriesMap>>,
}

impl MemQuerier {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds float samples (kept sorted by time, later duplicates win).
    pub fn add(&self, labels: Labels, samples: &[Sample]) {
        self.add_points(
            labels,
            samples.iter().map(|s| (s.t, Stored::F(s.v))).collect(),
        );
    }

    /// Adds histogram samples.
    pub fn add_histograms(&self, labels: Labels, samples: Vec<(i64, FloatHistogram)>) {
        self.add_points(
            labels,
            samples
                .into_iter()
                .map(|(t, h)| (t, Stored::H(Box::new(h))))
                .collect(),
        );
    }

    /// Adds samples of either kind.
    pub fn add_points(&self, labels: Labels, samples: Vec<(i64, Stored)>) {
        let mut m = self.series.write();
        let v = m.entry(labels).or_default();
        v.extend(samples);
        v.sort_by_key(|s| s.0);
        let mut out: Vec<(i64, Stored)> = Vec::with_capacity(v.len());
        for s in v.drain(..) {
            match out.last_mut() {
                Some(l) if l.0 == s.0 => *l = s,
                _ => out.push(s),
            }
        }
        *v = out;
    }

    pub fn clear(&self) {
        self.series.write().clear();
    }
}

/// Encodes a run of histograms (stale markers included) as the head does.
fn histogram_chunks(run: &[(i64, FloatHistogram)], out: &mut Vec<ChunkMeta>) {
    let finish = |app: FloatHistogramAppender, out: &mut Vec<ChunkMeta>| {
        if app.num_samples() > 0 {
            out.push(ChunkMeta {
                min_time: app.min_time(),
                max_time: app.max_time(),
                chunk: app.into_chunk(),
            });
        }
    };
    let mut app = FloatHistogramAppender::new();
    for (t, h) in run {
        if app.num_samples() >= SAMPLES_PER_CHUNK {
            let mut next = FloatHistogramAppender::new();
            next.append_after(Some(&app), *t, h);
            finish(std::mem::replace(&mut app, next), out);
            continue;
        }
        match app.append(*t, h) {
            AppendOutcome::Appended => {}
            AppendOutcome::NewChunk(next) => finish(std::mem::replace(&mut app, next), out),
            AppendOutcome::Recoded(next) => app = next,
        }
    }
    finish(app, out);
}

#[async_trait]
impl Querier for MemQuerier {
    async fn select(
        &self,
        hints: &SelectHints,
        matchers: &[Matcher],
    ) -> Result<Vec<Series>, StorageError> {
        let m = self.series.read();
        let mut out = Vec::new();
        for (labels, samples) in m.iter() {
            if !matchers.iter().all(|mm| mm.matches_labels(labels)) {
                continue;
            }
            let mut chunks = Vec::new();
            let mut floats: Vec<Sample> = Vec::new();
            let mut hists: Vec<(i64, FloatHistogram)> = Vec::new();
            // A stale marker after a histogram is a histogram stale marker, as in the head.
            let mut last_was_hist = false;
            let flush_floats = |f: &mut Vec<Sample>, chunks: &mut Vec<ChunkMeta>| {
                for c in f.chunks(SAMPLES_PER_CHUNK as usize) {
                    chunks.push(ChunkMeta {
                        min_time: c[0].t,
                        max_time: c[c.len() - 1].t,
                        chunk: encode_xor(c),
                    });
                }
                f.clear();
            };
            // Chunks are cut over the whole series, as the head cuts them, and those
            // overlapping the range are returned: counter reset hints then depend on the
            // stored data only, not on the query's range.
            for (t, v) in samples {
                match v {
                    Stored::F(x) if last_was_hist && strata_model::is_stale_nan(*x) => {
                        hists.push((
                            *t,
                            FloatHistogram {
                                sum: *x,
                                ..Default::default()
                            },
                        ));
                    }
                    Stored::F(x) => {
                        if !hists.is_empty() {
                            histogram_chunks(&hists, &mut chunks);
                            hists.clear();
                        }
                        last_was_hist = false;
                        floats.push(Sample::new(*t, *x));
                    }
                    Stored::H(h) => {
                        if !floats.is_empty() {
                            flush_floats(&mut floats, &mut chunks);
                        }
                        last_was_hist = true;
                        hists.push((*t, FloatHistogram::clone(h)));
                    }
                }
            }
            flush_floats(&mut floats, &mut chunks);
            histogram_chunks(&hists, &mut chunks);
            chunks.retain(|c| c.max_time >= hints.start && c.min_time <= hints.end);
            if chunks.is_empty() {
                continue;
            }
            chunks.sort_by_key(|c| c.min_time);
            out.push(Series {
                labels: labels.clone(),
                chunks,
            });
        }
        Ok(out)
    }

    async fn label_names(
        &self,
        _: &SelectHints,
        _: &[Matcher],
    ) -> Result<Vec<String>, StorageError> {
        Ok(Vec::new())
    }

    async fn label_values(
        &self,
        _: &str,
        _: &SelectHints,
        _: &[Matcher],
    ) -> Result<Vec<String>, StorageError> {
        Ok(Vec::new())
    }
}

/// Parses a Prometheus duration (`1h30m`, `10s`, `0`, `-5m`) to milliseconds.
pub fn parse_duration(s: &str) -> Option<i64> {
    let s = s.trim();
    if s == "0" {
        return Some(0);
    }
    let (neg, s) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s),
    };
    if let Ok(n) = s.parse::<i64>() {
        // Plain numbers are seconds.
        return Some(if neg { -n * 1000 } else { n * 1000 });
    }
    let b = s.as_bytes();
    let mut i = 0;
    let mut total: i64 = 0;
    while i < b.len() {
        let st = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if st == i {
            return None;
        }
        let n: i64 = s[st..i].parse().ok()?;
        let us = i;
        while i < b.len() && b[i].is_ascii_alphabetic() {
            i += 1;
        }
        let mul = match &s[us..i] {
            "ms" => 1,
            "s" => 1000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 604_800_000,
            "y" => 31_536_000_000,
            _ => return None,
        };
        total += n * mul;
    }
    Some(if neg { -total } else { total })
}

/// Parses a float as promqltest does (decimal, exponent, hex integers, Inf, NaN).
pub fn parse_number(s: &str) -> Option<f64> {
    let t = s.trim();
    let (neg, body) = match t.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let v = match body.to_ascii_lowercase().as_str() {
        "inf" => f64::INFINITY,
        "nan" => f64::NAN,
        _ => {
            if !body
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_digit() || c == '.')
            {
                return None;
            }
            body.parse::<f64>().ok()?
        }
    };
    Some(if neg { -v } else { v })
}

/// One point of a series description: a value, or omitted (`_`).
pub type SeqValue = Option<f64>;

/// One point of a series description that may hold native histograms.
#[derive(Clone, Debug)]
pub enum SeqPoint {
    F(f64),
    H(hist::SeqHist),
}

/// Expands series notation with native histograms (`1 {{schema:0 sum:1 count:1}}x2 _`).
pub fn parse_points(s: &str) -> Option<Vec<Option<SeqPoint>>> {
    let mut out = Vec::new();
    for tok in hist::tokenize(s) {
        if tok.starts_with("{{") {
            out.extend(
                hist::expand_hist_token(tok)?
                    .into_iter()
                    .map(|h| Some(SeqPoint::H(h))),
            );
        } else {
            out.extend(parse_values(tok)?.into_iter().map(|v| v.map(SeqPoint::F)));
        }
    }
    Some(out)
}

/// Expands series notation (`1 2 _ stale 0+10x3 _x2 5x2`).
pub fn parse_values(s: &str) -> Option<Vec<SeqValue>> {
    let mut out = Vec::new();
    for tok in s.split_whitespace() {
        if tok == "_" {
            out.push(None);
            continue;
        }
        if tok == "stale" {
            out.push(Some(STALE_NAN));
            continue;
        }
        if let Some(v) = parse_number(tok) {
            out.push(Some(v));
            continue;
        }
        let xpos = tok.rfind('x')?;
        let times: u64 = tok[xpos + 1..].parse().ok()?;
        let body = &tok[..xpos];
        if body == "_" {
            out.extend(std::iter::repeat_n(None, times as usize));
            continue;
        }
        // Find the sign that separates start and step (not a leading sign or exponent sign).
        let bb = body.as_bytes();
        let mut split = None;
        for i in 1..bb.len() {
            if (bb[i] == b'+' || bb[i] == b'-') && !matches!(bb[i - 1], b'e' | b'E') {
                split = Some(i);
                break;
            }
        }
        match split {
            None => {
                let v = if body == "stale" {
                    STALE_NAN
                } else {
                    parse_number(body)?
                };
                out.extend(std::iter::repeat_n(Some(v), times as usize + 1));
            }
            Some(i) => {
                let mut start = if &body[..i] == "stale" {
                    STALE_NAN
                } else {
                    parse_number(&body[..i])?
                };
                let step = parse_number(&body[i..])?;
                for _ in 0..=times {
                    out.push(Some(start));
                    start += step;
                }
            }
        }
    }
    Some(out)
}

fn unquote(s: &str) -> Option<(String, usize)> {
    // s starts with a quote; returns the unescaped string and bytes consumed.
    let q = s.chars().next()?;
    let mut out = String::new();
    let mut chars = s.char_indices().skip(1);
    while let Some((i, c)) = chars.next() {
        if c == q {
            return Some((out, i + 1));
        }
        if c == '\\' && q != '`' {
            let (_, e) = chars.next()?;
            match e {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                '\\' => out.push('\\'),
                '"' => out.push('"'),
                '\'' => out.push('\''),
                'u' => {
                    let hex: String = (0..4).filter_map(|_| chars.next().map(|x| x.1)).collect();
                    out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
                }
                other => {
                    out.push('\\');
                    out.push(other);
                }
            }
        } else {
            out.push(c);
        }
    }
    None
}

/// Parses `name{a="b", ...}` (name optional, quoted UTF-8 names allowed); returns labels and the rest.
pub fn parse_metric(line: &str) -> Option<(Labels, &str)> {
    let line = line.trim_start();
    let mut labels = Vec::new();
    let mut i = 0;
    let b = line.as_bytes();
    while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b':') {
        i += 1;
    }
    if i > 0 {
        labels.push(Label::new("__name__", &line[..i]));
    }
    if i < b.len() && b[i] == b'{' {
        i += 1;
        loop {
            while i < b.len() && (b[i] == b' ' || b[i] == b',') {
                i += 1;
            }
            if i >= b.len() {
                return None;
            }
            if b[i] == b'}' {
                i += 1;
                break;
            }
            let name = if b[i] == b'"' {
                let (n, used) = unquote(&line[i..])?;
                i += used;
                n
            } else {
                let st = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                    i += 1;
                }
                line[st..i].to_string()
            };
            while i < b.len() && b[i] == b' ' {
                i += 1;
            }
            if i < b.len() && b[i] == b'=' {
                i += 1;
                while i < b.len() && b[i] == b' ' {
                    i += 1;
                }
                let (v, used) = unquote(&line[i..])?;
                i += used;
                labels.push(Label::new(name, v));
            } else {
                // A bare quoted name inside braces is the metric name.
                labels.push(Label::new("__name__", name));
            }
        }
    }
    if i == 0 {
        return None;
    }
    Some((Labels::new(labels), &line[i..]))
}

/// The first of `series` that a selector of `query` selects, if any.
pub fn reads_any<'a>(query: &str, series: &'a [Labels]) -> Option<&'a Labels> {
    use promql_parser::label::MatchOp as P;
    use promql_parser::parser::{Expr, VectorSelector};
    fn walk<'e>(e: &'e Expr, out: &mut Vec<&'e VectorSelector>) {
        match e {
            Expr::VectorSelector(v) => out.push(v),
            Expr::MatrixSelector(m) => out.push(&m.vs),
            Expr::Subquery(s) => walk(&s.expr, out),
            Expr::Aggregate(a) => {
                walk(&a.expr, out);
                if let Some(p) = &a.param {
                    walk(p, out);
                }
            }
            Expr::Unary(u) => walk(&u.expr, out),
            Expr::Binary(b) => {
                walk(&b.lhs, out);
                walk(&b.rhs, out);
            }
            Expr::Paren(p) => walk(&p.expr, out),
            Expr::Call(c) => c.args.args.iter().for_each(|a| walk(a, out)),
            _ => {}
        }
    }
    if series.is_empty() {
        return None;
    }
    let expr = promql_parser::parser::parse(query).ok()?;
    let mut sels = Vec::new();
    walk(&expr, &mut sels);
    series.iter().find(|l| {
        sels.iter().any(|vs| {
            let name_ok = vs
                .name
                .as_ref()
                .is_none_or(|n| l.metric_name() == Some(n.as_str()));
            let sets: Vec<&Vec<promql_parser::label::Matcher>> =
                if vs.matchers.or_matchers.is_empty() {
                    vec![&vs.matchers.matchers]
                } else {
                    vs.matchers.or_matchers.iter().collect()
                };
            name_ok
                && sets.iter().any(|ms| {
                    ms.iter().all(|m| {
                        let v = l.get(&m.name).unwrap_or("");
                        match &m.op {
                            P::Equal => v == m.value,
                            P::NotEqual => v != m.value,
                            P::Re(r) => r.is_match(v),
                            P::NotRe(r) => !r.is_match(v),
                        }
                    })
                })
        })
    })
}
