//! Test helpers: an in-memory `Querier` and the promqltest series notation.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use parking_lot::RwLock;
use strata_chunkenc::{encode_xor, SAMPLES_PER_CHUNK};
use strata_model::{Label, Labels, Matcher, Sample, STALE_NAN};
use strata_storage::{ChunkMeta, Querier, SelectHints, Series, StorageError};

/// Series held in memory, encoded to XOR chunks on every select.
#[derive(Default, Clone)]
pub struct MemQuerier {
    series: Arc<RwLock<BTreeMap<Labels, Vec<Sample>>>>,
}

impl MemQuerier {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds samples (kept sorted by time, later duplicates win).
    pub fn add(&self, labels: Labels, samples: &[Sample]) {
        let mut m = self.series.write();
        let v = m.entry(labels).or_default();
        v.extend_from_slice(samples);
        v.sort_by_key(|s| s.t);
        let mut out: Vec<Sample> = Vec::with_capacity(v.len());
        for s in v.drain(..) {
            match out.last_mut() {
                Some(l) if l.t == s.t => *l = s,
                _ => out.push(s),
            }
        }
        *v = out;
    }

    pub fn clear(&self) {
        self.series.write().clear();
    }
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
            let inr: Vec<Sample> = samples
                .iter()
                .copied()
                .filter(|s| s.t >= hints.start && s.t <= hints.end)
                .collect();
            if inr.is_empty() {
                continue;
            }
            let chunks = inr
                .chunks(SAMPLES_PER_CHUNK as usize)
                .map(|c| ChunkMeta {
                    min_time: c[0].t,
                    max_time: c[c.len() - 1].t,
                    chunk: encode_xor(c),
                })
                .collect();
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
