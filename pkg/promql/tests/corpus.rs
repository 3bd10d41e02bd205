//! Runs Prometheus's own PromQL engine tests (`shared/promql-tests/*.test`, beside the
//! checkout; `STRATA_PROMQL_TESTS` overrides the folder) against Strata's engine and reports a
//! pass count per file. A missing corpus fails the test rather than passing silently.
//!
//! `cargo test -p strata-promql --test corpus -- --nocapture`

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use common::{parse_duration, parse_metric, parse_number, parse_values, MemQuerier, SeqValue};
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

/// Regression floor: total tier-1 evals that must pass.
const TIER1_FLOOR: usize = 903;

/// Regression floor: evals passing over all files (tiers 1-3).
const TOTAL_FLOOR: usize = 1272;

/// The same floors with immediate name removal (Strata's and Prometheus's default).
const TIER1_FLOOR_IMMEDIATE: usize = 897;
const TOTAL_FLOOR_IMMEDIATE: usize = 1252;

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
    series: Vec<(Labels, Vec<SeqValue>)>,
    skip: Option<String>,
}

enum Cmd {
    Load {
        interval: i64,
        series: Vec<(Labels, Vec<SeqValue>)>,
        hist_series: Vec<Labels>,
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
            let mut hist_series = Vec::new();
            i += 1;
            while i < lines.len() && !lines[i].is_empty() {
                let l = &lines[i];
                if let Some((labels, rest)) = parse_metric(l) {
                    let name = labels.metric_name().unwrap_or("").to_string();
                    if nhcb {
                        for suf in ["_bucket", "_count", "_sum"] {
                            if let Some(b) = name.strip_suffix(suf) {
                                let mut lb = labels.builder();
                                lb.set("__name__", b);
                                lb.del("le");
                                hist_series.push(lb.build());
                            }
                        }
                    }
                    match parse_values(rest).filter(|_| !l.contains("{{")) {
                        Some(v) => series.push((labels, v)),
                        None => hist_series.push(labels),
                    }
                }
                i += 1;
            }
            cmds.push(Cmd::Load {
                interval,
                series,
                hist_series,
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
        if l.contains("{{") {
            c.skip
                .get_or_insert_with(|| "native histogram result".into());
            continue;
        }
        match parse_metric(l).and_then(|(lb, rest)| parse_values(rest).map(|v| (lb, v))) {
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

fn almost_equal(a: f64, b: f64) -> bool {
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

fn expected_points(vals: &[SeqValue], start: i64, step: i64) -> Vec<Sample> {
    vals.iter()
        .enumerate()
        .filter_map(|(j, v)| v.map(|x| Sample::new(start + j as i64 * step, x)))
        .collect()
}

fn compare_matrix(
    c: &EvalCase,
    got: &[strata_promql::RangeSeries],
    start: i64,
    step: i64,
) -> Result<(), String> {
    let mut exp: BTreeMap<&Labels, Vec<Sample>> = BTreeMap::new();
    for (l, v) in &c.series {
        exp.insert(l, expected_points(v, start, step));
    }
    for w in got.windows(2) {
        if w[0].labels >= w[1].labels {
            return Err("matrix is not sorted by labels".into());
        }
    }
    for s in got {
        let Some(e) = exp.get(&s.labels) else {
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
            let exp: Vec<(&Labels, f64)> = c
                .series
                .iter()
                .filter_map(|(l, v)| v.first().copied().flatten().map(|x| (l, x)))
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
                if !almost_equal(exp[ei].1, s.v) {
                    return Err(format!("{}: expected {}, got {}", s.labels, exp[ei].1, s.v));
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

/// The first of `series` that a selector of `query` selects, if any.
fn reads_any<'a>(query: &str, series: &'a [Labels]) -> Option<&'a Labels> {
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

#[derive(Default)]
struct FileStats {
    passed: usize,
    failed: usize,
    skipped: usize,
    /// Skips by reason category.
    reasons: BTreeMap<String, usize>,
}

async fn run_file(engine: &Engine, name: &str, text: &str, verbose: bool) -> FileStats {
    let mut st = FileStats::default();
    let q = MemQuerier::new();
    let querier: Arc<dyn strata_storage::Querier> = Arc::new(q.clone());
    let mut hist_series: Vec<Labels> = Vec::new();
    for cmd in parse_file(text) {
        match cmd {
            Cmd::Clear => {
                q.clear();
                hist_series.clear();
            }
            Cmd::Load {
                interval,
                series,
                hist_series: h,
            } => {
                hist_series.extend(h);
                for (labels, vals) in series {
                    let samples: Vec<Sample> = vals
                        .iter()
                        .enumerate()
                        .filter_map(|(j, v)| v.map(|x| Sample::new(j as i64 * interval, x)))
                        .collect();
                    q.add(labels, &samples);
                }
            }
            Cmd::Eval(c) => {
                let hist_skip = reads_any(&c.query, &hist_series)
                    .map(|l| format!("reads native histogram series {l}"));
                let known = KNOWN_SKIPS
                    .iter()
                    .find(|(f, l, _)| *f == name && *l == c.line)
                    .map(|(_, _, r)| r.to_string());
                if let Some(reason) = c.skip.as_ref().or(hist_skip.as_ref()).or(known.as_ref()) {
                    st.skipped += 1;
                    let category = if reason.contains("histogram") {
                        "native histograms (not implemented yet)".to_string()
                    } else {
                        reason.clone()
                    };
                    *st.reasons.entry(category).or_default() += 1;
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
                    Ok(()) => st.passed += 1,
                    Err(e) => {
                        st.failed += 1;
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

/// Runs every corpus file; returns (tier-1 passes, all passes), or None when `CORPUS_FILE`
/// restricts the run to one file (floors then do not apply).
async fn run_corpus(delayed: bool) -> Option<(usize, usize)> {
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
    println!("== delayed name removal: {delayed}");
    let (mut tp, mut tf, mut ts) = (0, 0, 0);
    let mut tier1_passed = 0;
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
        let tier = if TIER1.contains(&name.as_str()) {
            "tier1"
        } else {
            "     "
        };
        println!(
            "{tier} {name:<22} passed {:>4} / {:>4}   (failed {:>3}, skipped {:>3})",
            st.passed,
            st.passed + st.failed,
            st.failed,
            st.skipped
        );
        if TIER1.contains(&name.as_str()) {
            tier1_passed += st.passed;
        }
        tp += st.passed;
        tf += st.failed;
        ts += st.skipped;
        for (r, n) in st.reasons {
            *reasons.entry(r).or_default() += n;
        }
    }
    for (r, n) in &reasons {
        println!("skipped {n:>4}: {r}");
    }
    println!(
        "TOTAL passed {tp} / {} (failed {tf}, skipped {ts}); tier-1 passed {tier1_passed}",
        tp + tf
    );
    if only.is_some() {
        return None;
    }
    Some((tier1_passed, tp))
}

/// The corpus as Prometheus's own harness runs it: delayed name removal on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_corpus() {
    if let Some((tier1, total)) = run_corpus(true).await {
        assert!(
            tier1 >= TIER1_FLOOR,
            "tier-1 passes {tier1} fell below the floor {TIER1_FLOOR}"
        );
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
    if let Some((tier1, total)) = run_corpus(false).await {
        assert!(
            tier1 >= TIER1_FLOOR_IMMEDIATE,
            "tier-1 passes {tier1} fell below {TIER1_FLOOR_IMMEDIATE}"
        );
        assert!(
            total >= TOTAL_FLOOR_IMMEDIATE,
            "total passes {total} fell below {TOTAL_FLOOR_IMMEDIATE}"
        );
    }
}
