//! Runs Prometheus's own PromQL engine tests (`shared/promql-tests/*.test`, beside the
//! checkout; `STRATA_PROMQL_TESTS` overrides the folder) against Strata's engine and reports a
//! pass count per file. A missing corpus fails the test rather than passing silently.
//!
//! Native histogram series (`{{...}}` notation, `load_with_nhcb` conversions) are stored as
//! float histogram chunks in the in-memory querier (`common`), cut as Prometheus's head cuts
//! them. A case that reads a histogram series or expects a histogram counts for tier 2 when it
//! sits in a tier-1 file or `native_histograms`; tier-3 files count as tier 3 whatever they
//! read. The table prints float and native histogram cases per file; floors per tier catch
//! regressions, and every skipped case is listed with its reason.
//!
//! `cargo test -p strata-promql --test corpus -- --nocapture`

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use common::hist::{almost_equal, hist_matches, SeqHist};
use common::{
    parse_duration, parse_metric, parse_number, parse_points, reads_any, MemQuerier, SeqPoint,
    Stored,
};
use strata_model::{Labels, Sample};
use strata_promql::{Engine, EngineOptions, QueryResult, Value};

/// The corpus folder: `$STRATA_PROMQL_TESTS`, else `../shared/promql-tests` beside the workspace.
fn corpus_dir() -> std::path::PathBuf {
    match std::env::var_os("STRATA_PROMQL_TESTS") {
        Some(d) => d.into(),
        None => {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/promql-tests")
        }
    }
}

/// Tier-1 files, which must not regress below the floor.
const TIER1: &[&str] = &[
    "aggregators",
    "at_modifier",
    "collision",
    "functions",
    "histograms",
    "literals",
    "operators",
    "range_queries",
    "selectors",
    "staleness",
    "subquery",
    "trig_functions",
];

/// Cases Strata deliberately skips, with the reason (file stem, line of the `eval`).
const KNOWN_SKIPS: &[(&str, usize, &str)] = &[];

/// Regression floor: total tier-1 evals that must pass (and none may fail).
const TIER1_FLOOR: usize = 903;

/// Regression floor: tier-2 (native histogram) evals that must pass; every one passes today.
const TIER2_FLOOR: usize = 833;

/// The acceptance bar for tier 2: at least this share of its evals pass.
const TIER2_MIN_RATIO: f64 = 0.95;

/// Regression floor: evals passing over all files (tiers 1-3).
const TOTAL_FLOOR: usize = 2145;

/// The same floors with immediate name removal (Strata's and Prometheus's default); the
/// cases that differ expect annotations naming the metric, which that mode drops.
const TIER1_FLOOR_IMMEDIATE: usize = 897;
const TIER2_FLOOR_IMMEDIATE: usize = 814;
const TOTAL_FLOOR_IMMEDIATE: usize = 2108;

#[derive(Debug, Clone)]
enum Expect {
    Any,
    Msg(String),
    Regex(String),
}

#[derive(Debug, Default)]
struct EvalCase {
    line: usize,
    query: String,
    instant: bool,
    start: i64,
    end: i64,
    step: i64,
    fail: Option<Expect>,
    warn: Vec<Expect>,
    info: Vec<Expect>,
    no_warn: bool,
    no_info: bool,
    ordered: bool,
    expect_string: Option<String>,
    range_vector: Option<(i64, i64, i64)>,
    scalar: Option<f64>,
    series: Vec<(Labels, Vec<Option<SeqPoint>>)>,
    skip: Option<String>,
}

enum Cmd {
    Load {
        interval: i64,
        series: Vec<(Labels, Vec<Option<SeqPoint>>)>,
        /// `load_with_nhcb`: classic histograms are also loaded as NHCB series.
        nhcb: bool,
        /// Series whose values could not be parsed.
        unparsed: Vec<Labels>,
    },
    Clear,
    Eval(Box<EvalCase>),
}

fn parse_expect_body(rest: &str) -> Expect {
    let rest = rest.trim();
    if let Some(m) = rest.strip_prefix("msg:") {
        Expect::Msg(m.trim().to_string())
    } else if let Some(r) = rest.strip_prefix("regex:") {
        Expect::Regex(r.trim().to_string())
    } else {
        Expect::Any
    }
}

fn unquote_simple(s: &str) -> String {
    let s = s.trim();
    if s.len() >= 2
        && (s.starts_with('"') && s.ends_with('"') || s.starts_with('`') && s.ends_with('`'))
    {
        s[1..s.len() - 1]
            .replace("\\\"", "\"")
            .replace("\\\\", "\\")
    } else {
        s.to_string()
    }
}

fn parse_file(text: &str) -> Vec<Cmd> {
    let lines: Vec<String> = text
        .lines()
        .map(|l| {
            let t = l.trim();
            if t.starts_with('#') {
                String::new()
            } else {
                t.to_string()
            }
        })
        .collect();
    let mut cmds = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = &lines[i];
        if line.is_empty() {
            i += 1;
            continue;
        }
        if line == "clear" {
            cmds.push(Cmd::Clear);
            i += 1;
            continue;
        }
        if let Some(rest) = line.strip_prefix("load") {
            let (nhcb, rest) = match rest.strip_prefix("_with_nhcb") {
                Some(r) => (true, r),
                None => (false, rest),
            };
            let interval = parse_duration(rest.trim()).unwrap_or(60_000);
            let mut series = Vec::new();
            let mut unparsed = Vec::new();
            i += 1;
            while i < lines.len() && !lines[i].is_empty() {
                let l = &lines[i];
                if let Some((labels, rest)) = parse_metric(l) {
                    match parse_points(rest) {
                        Some(v) => series.push((labels, v)),
                        None => unparsed.push(labels),
                    }
                }
                i += 1;
            }
            cmds.push(Cmd::Load {
                interval,
                series,
                nhcb,
                unparsed,
            });
            continue;
        }
        if line.starts_with("eval") {
            let (case, next) = parse_eval(&lines, i);
            cmds.push(Cmd::Eval(Box::new(case)));
            i = next;
            continue;
        }
        i += 1;
    }
    cmds
}

fn parse_eval(lines: &[String], start: usize) -> (EvalCase, usize) {
    let line = &lines[start];
    let mut c = EvalCase {
        line: start + 1,
        ..Default::default()
    };
    let (head, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
    match head {
        "eval_fail" => c.fail = Some(Expect::Any),
        "eval_warn" => c.warn.push(Expect::Any),
        "eval_info" => c.info.push(Expect::Any),
        "eval_ordered" => c.ordered = true,
        _ => {}
    }
    let rest = rest.trim();
    if let Some(r) = rest.strip_prefix("instant") {
        c.instant = true;
        let r = r.trim();
        let r = r.strip_prefix("at").unwrap_or(r).trim();
        let (t, q) = r.split_once(char::is_whitespace).unwrap_or((r, ""));
        let t = parse_duration(t).unwrap_or(0);
        c.start = t;
        c.end = t;
        c.query = q.trim().to_string();
    } else if let Some(r) = rest.strip_prefix("range") {
        let toks: Vec<&str> = r.split_whitespace().collect();
        // from A to B step C query...
        if toks.len() >= 7 && toks[0] == "from" && toks[2] == "to" && toks[4] == "step" {
            c.start = parse_duration(toks[1]).unwrap_or(0);
            c.end = parse_duration(toks[3]).unwrap_or(0);
            c.step = parse_duration(toks[5]).unwrap_or(0);
            let idx = r.find(toks[5]).map(|p| p + toks[5].len()).unwrap_or(0);
            // The step token may appear earlier in the line; find it after "step".
            let step_pos = r.find(" step ").map(|p| p + 6).unwrap_or(0);
            let after = &r[step_pos..];
            let q = after
                .trim_start()
                .split_once(char::is_whitespace)
                .map(|x| x.1)
                .unwrap_or("");
            let _ = idx;
            c.query = q.trim().to_string();
        } else {
            c.skip = Some("unparsed range eval".into());
        }
    }
    let mut i = start + 1;
    while i < lines.len() && !lines[i].is_empty() {
        let l = lines[i].as_str();
        i += 1;
        if let Some(m) = l.strip_prefix("expected_fail_message") {
            c.fail = Some(Expect::Msg(m.trim().to_string()));
            break;
        }
        if let Some(m) = l.strip_prefix("expected_fail_regexp") {
            c.fail = Some(Expect::Regex(m.trim().to_string()));
            break;
        }
        if let Some(r) = l.strip_prefix("expect range vector") {
            let toks: Vec<&str> = r.split_whitespace().collect();
            if toks.len() == 6 {
                let s = parse_duration(toks[1]).unwrap_or(0);
                let e = parse_duration(toks[3]).unwrap_or(0);
                let st = parse_duration(toks[5]).unwrap_or(1);
                c.range_vector = Some((s, e, st));
            }
            continue;
        }
        if let Some(r) = l.strip_prefix("expect string") {
            c.expect_string = Some(unquote_simple(r));
            continue;
        }
        if let Some(r) = l.strip_prefix("expect ") {
            let r = r.trim();
            let (kind, body) = r.split_once(char::is_whitespace).unwrap_or((r, ""));
            match kind {
                "fail" => c.fail = Some(parse_expect_body(body)),
                "warn" => c.warn.push(parse_expect_body(body)),
                "info" => c.info.push(parse_expect_body(body)),
                "no_warn" => c.no_warn = true,
                "no_info" => c.no_info = true,
                "ordered" => c.ordered = true,
                _ => c.skip = Some(format!("unknown expect {kind}")),
            }
            continue;
        }
        if let Some(v) = parse_number(l) {
            c.scalar = Some(v);
            break;
        }
        match parse_metric(l).and_then(|(lb, rest)| parse_points(rest).map(|v| (lb, v))) {
            Some(s) => c.series.push(s),
            None => {
                c.skip
                    .get_or_insert_with(|| format!("unparsed result line: {l}"));
            }
        }
    }
    (c, i)
}

fn matches_expect(e: &Expect, actual: &str) -> bool {
    match e {
        Expect::Any => true,
        Expect::Msg(m) => actual == m,
        Expect::Regex(r) => {
            let r = r.trim_matches('"');
            let ok = |pat: &str| {
                regex::Regex::new(pat)
                    .map(|re| re.is_match(actual))
                    .unwrap_or(false)
            };
            ok(r)
        }
    }
}

fn check_annos(
    kind: &str,
    expects: &[Expect],
    none: bool,
    actual: &[String],
) -> Result<(), String> {
    if none && !actual.is_empty() {
        return Err(format!("expected no {kind} annotations, got {actual:?}"));
    }
    if expects.is_empty() {
        return Ok(());
    }
    for e in expects {
        if !actual.iter().any(|a| matches_expect(e, a)) {
            return Err(format!("expected {kind} {e:?}, got {actual:?}"));
        }
    }
    for a in actual {
        if !expects.iter().any(|e| matches_expect(e, a)) {
            return Err(format!("unexpected {kind} annotation {a:?}"));
        }
    }
    Ok(())
}

/// A matrix series' expected float points and histogram points.
type ExpectedPoints<'a> = (Vec<Sample>, Vec<(i64, &'a SeqHist)>);

/// The expected float and histogram points of a matrix series at `start + j * step`.
fn expected_points(vals: &[Option<SeqPoint>], start: i64, step: i64) -> ExpectedPoints<'_> {
    let (mut fs, mut hs) = (Vec::new(), Vec::new());
    for (j, v) in vals.iter().enumerate() {
        let t = start + j as i64 * step;
        match v {
            Some(SeqPoint::F(x)) => fs.push(Sample::new(t, *x)),
            Some(SeqPoint::H(h)) => hs.push((t, h)),
            None => {}
        }
    }
    (fs, hs)
}

fn compare_matrix(
    c: &EvalCase,
    got: &[strata_promql::RangeSeries],
    start: i64,
    step: i64,
) -> Result<(), String> {
    let mut exp: BTreeMap<&Labels, ExpectedPoints> = BTreeMap::new();
    for (l, v) in &c.series {
        exp.insert(l, expected_points(v, start, step));
    }
    for w in got.windows(2) {
        if w[0].labels >= w[1].labels {
            return Err("matrix is not sorted by labels".into());
        }
    }
    for s in got {
        let Some((e, eh)) = exp.get(&s.labels) else {
            return Err(format!("unexpected metric {} in result", s.labels));
        };
        if e.len() != s.samples.len()
            || e.iter()
                .zip(&s.samples)
                .any(|(a, b)| a.t != b.t || !almost_equal(a.v, b.v))
        {
            return Err(format!(
                "series {}: expected {:?}, got {:?}",
                s.labels, e, s.samples
            ));
        }
        if eh.len() != s.histograms.len()
            || eh
                .iter()
                .zip(&s.histograms)
                .any(|((t, h), g)| *t != g.t || !hist_matches(h, &g.h))
        {
            return Err(format!(
                "series {}: expected histograms {:?}, got {:?}",
                s.labels,
                eh.iter()
                    .map(|(t, h)| format!("{} @{t}", h.h))
                    .collect::<Vec<_>>(),
                s.histograms
                    .iter()
                    .map(|p| format!("{} @{}", p.h, p.t))
                    .collect::<Vec<_>>()
            ));
        }
    }
    let got_n = got.len();
    if got_n != exp.len() {
        return Err(format!("expected {} series, got {}", exp.len(), got_n));
    }
    Ok(())
}

fn compare(c: &EvalCase, r: &QueryResult) -> Result<(), String> {
    if let Some(s) = &c.expect_string {
        return match &r.value {
            Value::String { v, .. } if v == s => Ok(()),
            other => Err(format!("expected string {s:?}, got {other:?}")),
        };
    }
    match &r.value {
        Value::Matrix(m) => {
            if c.ordered {
                return Err("expected ordered result, but query returned a matrix".into());
            }
            if c.scalar.is_some() {
                return Err("expected scalar, got matrix".into());
            }
            if c.instant {
                let (s, _, st) = c.range_vector.unwrap_or((c.start, c.end, 1));
                compare_matrix(c, m, s, st)
            } else {
                compare_matrix(c, m, c.start, c.step)
            }
        }
        Value::Vector(v) => {
            if c.scalar.is_some() {
                return Err("expected scalar, got vector".into());
            }
            let exp: Vec<(&Labels, &SeqPoint)> = c
                .series
                .iter()
                .filter_map(|(l, v)| v.first().and_then(|p| p.as_ref()).map(|x| (l, x)))
                .collect();
            if exp.len() != v.len() {
                return Err(format!(
                    "expected {} samples, got {}: {:?}",
                    exp.len(),
                    v.len(),
                    v
                ));
            }
            for (pos, s) in v.iter().enumerate() {
                let Some(ei) = exp.iter().position(|(l, _)| **l == s.labels) else {
                    return Err(format!("unexpected metric {} in result", s.labels));
                };
                if c.ordered && ei != pos {
                    return Err(format!(
                        "expected {} at position {ei}, got position {pos}",
                        s.labels
                    ));
                }
                match (exp[ei].1, &s.h) {
                    (SeqPoint::F(x), None) if almost_equal(*x, s.v) => {}
                    (SeqPoint::H(e), Some(h)) if hist_matches(e, h) => {}
                    (e, h) => {
                        return Err(format!(
                            "{}: expected {e:?}, got {} {:?}",
                            s.labels,
                            s.v,
                            h.as_ref()
                                .map(|h| format!("{h} {:?}", h.counter_reset_hint))
                        ))
                    }
                }
            }
            Ok(())
        }
        Value::Scalar { v, .. } => match c.scalar {
            Some(e) if almost_equal(e, *v) => Ok(()),
            other => Err(format!("expected {other:?}, got scalar {v}")),
        },
        Value::String { v, .. } => Err(format!("unexpected string result {v:?}")),
    }
}

#[derive(Default)]
struct FileStats {
    passed: usize,
    failed: usize,
    skipped: usize,
    /// Native histogram cases (tier 2 wherever they sit): passed and failed.
    nh_passed: usize,
    nh_failed: usize,
    /// Skips by reason category.
    reasons: BTreeMap<String, usize>,
}

async fn run_file(engine: &Engine, name: &str, text: &str, verbose: bool) -> FileStats {
    let mut st = FileStats::default();
    let q = MemQuerier::new();
    let querier: Arc<dyn strata_storage::Querier> = Arc::new(q.clone());
    // Series holding native histograms (loaded or converted by `load_with_nhcb`): a case
    // reading any of them, or expecting a histogram, is a native histogram case.
    let mut hist_series: Vec<Labels> = Vec::new();
    // Series whose load line the runner does not understand (start timestamps' `@st`).
    let mut unparsed: Vec<Labels> = Vec::new();
    for cmd in parse_file(text) {
        match cmd {
            Cmd::Clear => {
                q.clear();
                hist_series.clear();
                unparsed.clear();
            }
            Cmd::Load {
                interval,
                series,
                nhcb,
                unparsed: u,
            } => {
                unparsed.extend(u);
                let mut classic: Vec<(Labels, Vec<(i64, f64)>)> = Vec::new();
                for (labels, vals) in series {
                    let points: Vec<(i64, Stored)> = vals
                        .into_iter()
                        .enumerate()
                        .filter_map(|(j, v)| {
                            let t = j as i64 * interval;
                            match v? {
                                SeqPoint::F(x) => Some((t, Stored::F(x))),
                                SeqPoint::H(h) => Some((t, Stored::H(Box::new(h.h)))),
                            }
                        })
                        .collect();
                    if points.iter().any(|(_, v)| matches!(v, Stored::H(_))) {
                        hist_series.push(labels.clone());
                    }
                    if nhcb {
                        let floats = points
                            .iter()
                            .filter_map(|(t, v)| match v {
                                Stored::F(x) => Some((*t, *x)),
                                Stored::H(_) => None,
                            })
                            .collect();
                        classic.push((labels.clone(), floats));
                    }
                    q.add_points(labels, points);
                }
                for (labels, hs) in common::nhcb::convert(&classic) {
                    hist_series.push(labels.clone());
                    q.add_histograms(labels, hs);
                }
            }
            Cmd::Eval(c) => {
                let native = reads_any(&c.query, &hist_series).is_some()
                    || c.series
                        .iter()
                        .any(|(_, v)| v.iter().any(|p| matches!(p, Some(SeqPoint::H(_)))));
                let known = KNOWN_SKIPS
                    .iter()
                    .find(|(f, l, _)| *f == name && *l == c.line)
                    .map(|(_, _, r)| r.to_string());
                let unparsed_skip = reads_any(&c.query, &unparsed).map(|_| {
                    "reads a series whose load line the runner does not parse (start timestamps `@st`)"
                        .to_string()
                });
                if let Some(reason) = c
                    .skip
                    .as_ref()
                    .or(known.as_ref())
                    .or(unparsed_skip.as_ref())
                {
                    st.skipped += 1;
                    *st.reasons.entry(reason.clone()).or_default() += 1;
                    if verbose {
                        println!("  SKIP {name}:{} ({reason}): {}", c.line, c.query);
                    }
                    continue;
                }
                let res = if c.instant {
                    engine
                        .instant_query(querier.clone(), &c.query, c.start)
                        .await
                } else {
                    engine
                        .range_query(querier.clone(), &c.query, c.start, c.end, c.step)
                        .await
                };
                let outcome = match (&c.fail, res) {
                    (Some(e), Err(err)) => {
                        if matches_expect(e, &err.to_string()) {
                            Ok(())
                        } else {
                            Err(format!("expected error {e:?}, got {err}"))
                        }
                    }
                    (Some(_), Ok(r)) => Err(format!("expected failure, got {:?}", r.value)),
                    (None, Err(err)) => Err(format!("unexpected error: {err}")),
                    (None, Ok(r)) => compare(&c, &r)
                        .and_then(|_| check_annos("warn", &c.warn, c.no_warn, &r.warnings))
                        .and_then(|_| check_annos("info", &c.info, c.no_info, &r.infos)),
                };
                match outcome {
                    Ok(()) => {
                        st.passed += 1;
                        st.nh_passed += usize::from(native);
                    }
                    Err(e) => {
                        st.failed += 1;
                        st.nh_failed += usize::from(native);
                        if verbose {
                            println!("  FAIL {name}:{}: {}\n       {e}", c.line, c.query);
                        }
                    }
                }
            }
        }
    }
    st
}

/// Pass and fail counts per tier over the whole corpus.
#[derive(Default, Debug, Clone, Copy)]
struct Totals {
    /// Tier 1: float cases of the tier-1 files.
    t1: (usize, usize),
    /// Tier 2: `native_histograms` and the native histogram cases of the tier-1 files.
    t2: (usize, usize),
    /// Tier 3: the experimental files (their native histogram cases included).
    t3: (usize, usize),
    skipped: usize,
}

/// Runs every corpus file and prints the per-file table; returns the totals, or None when
/// `CORPUS_FILE` restricts the run to one file (floors then do not apply).
async fn run_corpus(delayed: bool) -> Option<Totals> {
    let engine = Engine::new(EngineOptions::default()).with_delayed_name_removal(delayed);
    let verbose = std::env::var("CORPUS_VERBOSE").is_ok();
    let only = std::env::var("CORPUS_FILE").ok();
    let dir = corpus_dir();
    let mut files: Vec<_> = match std::fs::read_dir(&dir) {
        Ok(d) => d
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "test"))
            .collect(),
        Err(e) => {
            panic!(
                "PromQL corpus folder {} unavailable ({e}): it must sit beside the checkout as ../shared/promql-tests, or set STRATA_PROMQL_TESTS",
                dir.display()
            );
        }
    };
    files.sort();
    let mut out = format!("== delayed name removal: {delayed}\n");
    out.push_str(
        "tier  file                   float cases       native histogram cases   skipped\n",
    );
    let mut tot = Totals::default();
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    for f in files {
        let name = f
            .file_stem()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_default();
        if only.as_ref().is_some_and(|o| *o != name) {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&f) else {
            continue;
        };
        let st = run_file(&engine, &name, &text, verbose).await;
        let (fp, ff) = (st.passed - st.nh_passed, st.failed - st.nh_failed);
        let (np, nf) = (st.nh_passed, st.nh_failed);
        let tier = if TIER1.contains(&name.as_str()) {
            tot.t1.0 += fp;
            tot.t1.1 += ff;
            tot.t2.0 += np;
            tot.t2.1 += nf;
            "1"
        } else if name == "native_histograms" {
            tot.t2.0 += fp + np;
            tot.t2.1 += ff + nf;
            "2"
        } else {
            tot.t3.0 += st.passed;
            tot.t3.1 += st.failed;
            "3"
        };
        tot.skipped += st.skipped;
        out.push_str(&format!(
            "{tier:<5} {name:<22} {fp:>4} / {:>4}       {np:>4} / {:>4}             {:>4}\n",
            fp + ff,
            np + nf,
            st.skipped
        ));
        for (r, n) in st.reasons {
            *reasons.entry(r).or_default() += n;
        }
    }
    for (r, n) in &reasons {
        out.push_str(&format!("skipped {n:>4}: {r}\n"));
    }
    let pct = |(p, f): (usize, usize)| 100.0 * p as f64 / (p + f).max(1) as f64;
    out.push_str(&format!(
        "TIER 1 passed {} / {} | TIER 2 passed {} / {} ({:.1}%) | TIER 3 passed {} / {} | skipped {}\n",
        tot.t1.0,
        tot.t1.0 + tot.t1.1,
        tot.t2.0,
        tot.t2.0 + tot.t2.1,
        pct(tot.t2),
        tot.t3.0,
        tot.t3.0 + tot.t3.1,
        tot.skipped
    ));
    // One print, so the two tests' tables do not interleave.
    print!("{out}");
    if only.is_some() {
        return None;
    }
    Some(tot)
}

/// The corpus as Prometheus's own harness runs it: delayed name removal on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_corpus() {
    if let Some(t) = run_corpus(true).await {
        assert_eq!(
            t.t1.1, 0,
            "tier-1 cases failed: every tier-1 case must pass"
        );
        assert!(
            t.t1.0 >= TIER1_FLOOR,
            "tier-1 passes {} fell below the floor {TIER1_FLOOR}",
            t.t1.0
        );
        assert!(
            t.t2.0 >= TIER2_FLOOR,
            "tier-2 passes {} fell below the floor {TIER2_FLOOR}",
            t.t2.0
        );
        let ratio = t.t2.0 as f64 / (t.t2.0 + t.t2.1).max(1) as f64;
        assert!(
            ratio >= TIER2_MIN_RATIO,
            "tier-2 pass rate {ratio:.3} is below {TIER2_MIN_RATIO}"
        );
        let total = t.t1.0 + t.t2.0 + t.t3.0;
        assert!(
            total >= TOTAL_FLOOR,
            "total passes {total} fell below the floor {TOTAL_FLOOR}"
        );
    }
}

/// The corpus with Prometheus's default (immediate) name removal, Strata's default: only
/// annotations naming the metric differ in tier 1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_corpus_immediate_name_removal() {
    if let Some(t) = run_corpus(false).await {
        assert!(
            t.t1.0 >= TIER1_FLOOR_IMMEDIATE,
            "tier-1 passes {} fell below {TIER1_FLOOR_IMMEDIATE}",
            t.t1.0
        );
        assert!(
            t.t2.0 >= TIER2_FLOOR_IMMEDIATE,
            "tier-2 passes {} fell below {TIER2_FLOOR_IMMEDIATE}",
            t.t2.0
        );
        let total = t.t1.0 + t.t2.0 + t.t3.0;
        assert!(
            total >= TOTAL_FLOOR_IMMEDIATE,
            "total passes {total} fell below {TOTAL_FLOOR_IMMEDIATE}"
        );
    }
}
