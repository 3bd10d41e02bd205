//! Compatibility with Prometheus's own tooling (Debian's Prometheus 2.42 `promtool`):
//! blocks Strata writes are listed, analyzed and dumped by promtool exactly, and blocks
//! promtool creates are read by Strata exactly.
//!
//! promtool must be installed (`apt-get install prometheus`, or `PROMTOOL=/path/to/promtool`);
//! these tests fail, loudly, when it is not, rather than pass without checking anything.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

use strata_block::{
    list_block_dirs, Block, BlockMeta, BlockQuerier, BlockWriter, BlockWriterOptions,
};
use strata_chunkenc::{encode_xor, SAMPLES_PER_CHUNK};
use strata_model::{Labels, Sample, TenantId, STALE_NAN};
use strata_storage::ChunkMeta;

/// Samples `(t, v)` keyed by the series' sorted `(name, value)` pairs.
type SamplesBySeries = BTreeMap<Vec<(String, String)>, Vec<(i64, f64)>>;
/// An OpenMetrics family: its name and label sets.
type Family<'a> = (&'a str, &'a [&'a [(&'a str, &'a str)]]);

fn promtool() -> PathBuf {
    let bin = std::env::var_os("PROMTOOL")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("promtool"));
    match Command::new(&bin).arg("--version").output() {
        Ok(o) if o.status.success() => bin,
        other => panic!(
            "promtool is required for the block compatibility tests but `{} --version` failed \
             ({other:?}); install Debian's `prometheus` package (CI does) or set PROMTOOL",
            bin.display()
        ),
    }
}

/// Runs promtool, failing the test with its output unless it succeeds.
fn run(args: &[&str]) -> String {
    let out = Command::new(promtool())
        .args(args)
        .output()
        .expect("promtool runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "promtool {args:?} failed ({}):\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    stdout
}

fn chunked(samples: &[Sample]) -> Vec<ChunkMeta> {
    samples
        .chunks(usize::from(SAMPLES_PER_CHUNK))
        .map(|c| ChunkMeta {
            min_time: c[0].t,
            max_time: c[c.len() - 1].t,
            chunk: encode_xor(c),
        })
        .collect()
}

/// 300 series over 3 metric names and many label values (one with quotes, a backslash and
/// non-ASCII), 10 to 400 samples each (up to 4 chunks), with NaN, stale markers, infinities,
/// negative, tiny and huge values.
fn strata_series() -> Vec<(Labels, Vec<Sample>)> {
    let mut out: Vec<(Labels, Vec<Sample>)> = (0..300)
        .map(|i: i64| {
            let name = ["up", "http_requests_total", "node_cpu_seconds"][(i % 3) as usize];
            let job = format!("job-{}", i % 11);
            let inst = format!("10.0.{}.{}:9100", i / 256, i % 256);
            let mut pairs = vec![
                ("__name__", name.to_string()),
                ("job", job),
                ("instance", inst),
            ];
            if i % 4 == 0 {
                pairs.push((
                    "mode",
                    ["idle", "user", "system"][(i % 3) as usize].to_string(),
                ));
            }
            if i == 7 {
                pairs.push(("path", "/a \"quoted\" \\ value é".to_string()));
            }
            let labels = Labels::from_pairs(pairs.iter().map(|(n, v)| (*n, v.as_str())));
            let count = 10 + (i * 53) % 391;
            let samples = (0..count)
                .map(|k| {
                    let t = 1_700_000_000_000 + k * 15_000 + (i % 13) * 7;
                    let v = match k % 40 {
                        3 => f64::NAN,
                        5 => STALE_NAN,
                        9 => f64::INFINITY,
                        11 => f64::NEG_INFINITY,
                        17 => 1e-300 * (k as f64),
                        19 => 6.02e23 * (i as f64),
                        _ => (k as f64) * 0.25 - (i as f64) * 3.5,
                    };
                    Sample::new(t, v)
                })
                .collect();
            (labels, samples)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Parses a Go `strconv.Quote`d string at the start of `s`; returns it and the rest.
fn parse_go_quoted(s: &str) -> (String, &str) {
    let mut chars = s.char_indices();
    assert_eq!(
        chars.next().map(|c| c.1),
        Some('"'),
        "quoted string in {s:?}"
    );
    let mut out = String::new();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return (out, &s[i + 1..]),
            '\\' => {
                let (_, e) = chars.next().expect("escape");
                match e {
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    'r' => out.push('\r'),
                    'a' => out.push('\x07'),
                    'b' => out.push('\x08'),
                    'f' => out.push('\x0c'),
                    'v' => out.push('\x0b'),
                    '\\' => out.push('\\'),
                    '"' => out.push('"'),
                    'x' | 'u' | 'U' => {
                        let n = match e {
                            'x' => 2,
                            'u' => 4,
                            _ => 8,
                        };
                        let hex: String = (0..n).map(|_| chars.next().expect("hex").1).collect();
                        let code = u32::from_str_radix(&hex, 16).expect("hex escape");
                        out.push(char::from_u32(code).expect("valid code point"));
                    }
                    other => panic!("unknown escape \\{other} in {s:?}"),
                }
            }
            c => out.push(c),
        }
    }
    panic!("unterminated string in {s:?}")
}

/// One `promtool tsdb dump` line: `{a="b", c="d"} value timestamp`.
fn parse_dump_line(line: &str) -> (Vec<(String, String)>, f64, i64) {
    let mut rest = line.strip_prefix('{').expect("line starts with {");
    let mut labels = Vec::new();
    if let Some(r) = rest.strip_prefix('}') {
        rest = r;
    } else {
        loop {
            let eq = rest.find('=').expect("label =");
            let name = rest[..eq].to_string();
            let (value, r) = parse_go_quoted(&rest[eq + 1..]);
            labels.push((name, value));
            if let Some(r) = r.strip_prefix(", ") {
                rest = r;
            } else {
                rest = r.strip_prefix('}').expect("label set ends with }");
                break;
            }
        }
    }
    let mut f = rest.split_whitespace();
    let v: f64 = f.next().expect("value").parse().expect("float value");
    let t: i64 = f.next().expect("timestamp").parse().expect("int timestamp");
    assert!(f.next().is_none(), "trailing fields in {line:?}");
    (labels, v, t)
}

fn pairs(l: &Labels) -> Vec<(String, String)> {
    l.iter()
        .map(|l| (l.name.clone(), l.value.clone()))
        .collect()
}

/// Values as promtool prints them (`%g`): NaNs (stale or not) print as `NaN`, so they compare
/// as NaN; everything else must be bit-identical (`%g` is Go's shortest round-trip form).
fn same_value(text: f64, written: f64) -> bool {
    if written.is_nan() {
        text.is_nan()
    } else {
        text.to_bits() == written.to_bits()
    }
}

#[test]
fn promtool_reads_strata_blocks() {
    let data = tempfile::tempdir().expect("tempdir");
    let series = strata_series();
    let opts = BlockWriterOptions {
        tenant: Some(TenantId::new("tenant-1").expect("valid tenant")),
        external_labels: Labels::from_pairs([("cluster", "eu1")]),
        // Small segments, so promtool follows chunk refs into several segment files.
        segment_size: 32 * 1024,
        ..Default::default()
    };
    let mut w = BlockWriter::new(data.path(), opts).expect("start block");
    for (l, s) in &series {
        w.add_series(l, &chunked(s)).expect("add series");
    }
    let meta = w.finish().expect("finish block");
    let num_samples: usize = series.iter().map(|s| s.1.len()).sum();
    let num_chunks: usize = series
        .iter()
        .map(|s| s.1.len().div_ceil(usize::from(SAMPLES_PER_CHUNK)))
        .sum();
    assert!(num_chunks > series.len() * 2, "several chunks per series");
    let dir = data.path().to_str().expect("utf-8 path");
    let segments = data
        .path()
        .join(meta.ulid.to_string())
        .join("chunks/000003");
    assert!(segments.exists(), "expected at least 3 chunk segments");

    // list: one row with our ULID and stats.
    let list = run(&["tsdb", "list", dir]);
    let row = list
        .lines()
        .find(|l| l.starts_with(&meta.ulid.to_string()))
        .unwrap_or_else(|| panic!("block {} not listed:\n{list}", meta.ulid));
    let cols: Vec<&str> = row.split_whitespace().collect();
    // BLOCK ULID, MIN TIME, MAX TIME, DURATION, NUM SAMPLES, NUM CHUNKS, NUM SERIES, SIZE
    assert_eq!(cols[1], meta.min_time.to_string(), "{list}");
    assert_eq!(cols[2], meta.max_time.to_string(), "{list}");
    assert_eq!(cols[4], num_samples.to_string(), "{list}");
    assert_eq!(cols[5], num_chunks.to_string(), "{list}");
    assert_eq!(cols[6], series.len().to_string(), "{list}");

    // analyze: reads the whole index (postings, label values, series).
    let analysis = run(&["tsdb", "analyze", dir]);
    assert!(
        analysis.contains(&format!("Block ID: {}", meta.ulid)),
        "{analysis}"
    );
    assert!(
        analysis.lines().any(|l| l == "Label names: 5"),
        "{analysis}"
    );
    assert!(
        analysis
            .lines()
            .any(|l| l == format!("Series: {}", series.len())),
        "{analysis}"
    );

    // dump: every sample exactly. `dump` replays the head's WAL too, so it needs a (here
    // empty) `wal/` beside the blocks; `list` and `analyze` above ran without one.
    std::fs::create_dir(data.path().join("wal")).expect("create empty wal dir");
    let min = meta.min_time.to_string();
    let max = meta.max_time.to_string();
    let dump = run(&["tsdb", "dump", "--min-time", &min, "--max-time", &max, dir]);
    let mut got: SamplesBySeries = BTreeMap::new();
    for line in dump.lines().filter(|l| !l.is_empty()) {
        let (labels, v, t) = parse_dump_line(line);
        got.entry(labels).or_default().push((t, v));
    }
    assert_eq!(got.len(), series.len(), "series in dump");
    let mut checked = 0;
    for (l, samples) in &series {
        let g = got
            .get(&pairs(l))
            .unwrap_or_else(|| panic!("series {l} missing from dump"));
        assert_eq!(g.len(), samples.len(), "sample count of {l}");
        for ((t, v), s) in g.iter().zip(samples) {
            assert_eq!(*t, s.t, "timestamp in {l}");
            assert!(same_value(*v, s.v), "{l} at {t}: dump {v}, wrote {}", s.v);
            checked += 1;
        }
    }
    assert_eq!(checked, num_samples);
}

/// An OpenMetrics exposition of a few series; returns the text and what it holds.
fn openmetrics() -> (String, SamplesBySeries) {
    // Seconds; 1_700_000_000 s lies 800 s into a 2 h block, and 200 samples × 15 s stay in it.
    let base_s: i64 = 1_700_000_000;
    let mut text = String::new();
    let mut want: SamplesBySeries = BTreeMap::new();
    let families: [Family<'_>; 3] = [
        (
            "temperature_celsius",
            &[&[("room", "kitchen")], &[("room", "hall \"B\"")]],
        ),
        (
            "queue_depth",
            &[
                &[("queue", "a"), ("shard", "0")],
                &[("queue", "a\\b"), ("shard", "1")],
            ],
        ),
        ("ratio", &[&[]]),
    ];
    for (fi, (name, sets)) in families.iter().enumerate() {
        writeln!(text, "# TYPE {name} gauge").expect("write");
        for (si, set) in sets.iter().enumerate() {
            let mut labels: Vec<(String, String)> = set
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect();
            labels.push(("__name__".to_string(), name.to_string()));
            labels.sort();
            let rendered: Vec<String> = set
                .iter()
                .map(|(n, v)| format!("{n}=\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\"")))
                .collect();
            let selector = if rendered.is_empty() {
                name.to_string()
            } else {
                format!("{name}{{{}}}", rendered.join(","))
            };
            for k in 0..200i64 {
                let (v, txt) = match k % 50 {
                    10 => (f64::NAN, "NaN".to_string()),
                    20 => (f64::INFINITY, "+Inf".to_string()),
                    30 => (f64::NEG_INFINITY, "-Inf".to_string()),
                    _ => {
                        let v = (k as f64) * 1.25 - (fi * 10 + si) as f64 + 0.001;
                        (v, format!("{v:?}"))
                    }
                };
                // Quarter seconds are exact in binary, so ms conversion is exact.
                let ts_ms = (base_s + k * 15) * 1000 + (k % 4) * 250;
                writeln!(
                    text,
                    "{selector} {txt} {}.{:03}",
                    ts_ms / 1000,
                    ts_ms % 1000
                )
                .expect("write");
                want.entry(labels.clone()).or_default().push((ts_ms, v));
            }
        }
    }
    text.push_str("# EOF\n");
    (text, want)
}

#[test]
fn strata_reads_promtool_blocks() {
    let work = tempfile::tempdir().expect("tempdir");
    let (text, want) = openmetrics();
    let om = work.path().join("input.om");
    std::fs::write(&om, &text).expect("write openmetrics");
    let out = work.path().join("blocks");
    std::fs::create_dir(&out).expect("mkdir");
    run(&[
        "tsdb",
        "create-blocks-from",
        "openmetrics",
        om.to_str().expect("utf-8 path"),
        out.to_str().expect("utf-8 path"),
    ]);
    let dirs = list_block_dirs(&out).expect("list blocks");
    assert!(!dirs.is_empty(), "promtool wrote no block");

    let mut got: SamplesBySeries = BTreeMap::new();
    let mut names: std::collections::BTreeSet<String> = Default::default();
    let mut values: BTreeMap<String, std::collections::BTreeSet<String>> = BTreeMap::new();
    for d in &dirs {
        let meta = BlockMeta::read(d).expect("meta.json");
        let block = Arc::new(Block::open(d).expect("open promtool block"));
        assert!(block.meta().thanos.is_none());
        let q = BlockQuerier::new(block.clone());
        let mut block_samples = 0u64;
        for s in q.select_series(i64::MIN, i64::MAX, &[]).expect("select") {
            let samples = s.samples().expect("decode chunks");
            block_samples += samples.len() as u64;
            for x in &samples {
                assert!(x.t >= meta.min_time && x.t < meta.max_time);
            }
            got.entry(pairs(&s.labels))
                .or_default()
                .extend(samples.iter().map(|x| (x.t, x.v)));
        }
        assert_eq!(block_samples, meta.stats.num_samples);
        for n in q.label_names_sync(i64::MIN, i64::MAX, &[]).expect("names") {
            let vs = q
                .label_values_sync(&n, i64::MIN, i64::MAX, &[])
                .expect("values");
            values.entry(n.clone()).or_default().extend(vs);
            names.insert(n);
        }
    }
    assert_eq!(got.len(), want.len(), "series");
    for (labels, w) in &want {
        let g = got
            .get(labels)
            .unwrap_or_else(|| panic!("series {labels:?} missing"));
        assert_eq!(g.len(), w.len(), "samples of {labels:?}");
        for ((gt, gv), (wt, wv)) in g.iter().zip(w) {
            assert_eq!(gt, wt, "{labels:?}");
            assert!(
                if wv.is_nan() {
                    gv.is_nan()
                } else {
                    gv.to_bits() == wv.to_bits()
                },
                "{labels:?} at {wt}: read {gv}, file has {wv}"
            );
        }
    }
    // Every label name and value of the file, and nothing else.
    let mut want_values: BTreeMap<String, std::collections::BTreeSet<String>> = BTreeMap::new();
    for labels in want.keys() {
        for (n, v) in labels {
            want_values.entry(n.clone()).or_default().insert(v.clone());
        }
    }
    assert_eq!(names, want_values.keys().cloned().collect());
    assert_eq!(values, want_values);
}

/// Strata and promtool blocks side by side in one data dir: promtool lists both, and Strata
/// opens both.
#[test]
fn mixed_data_dir_lists_everywhere() {
    let data = tempfile::tempdir().expect("tempdir");
    let work = tempfile::tempdir().expect("tempdir");
    let (text, _) = openmetrics();
    let om = work.path().join("input.om");
    std::fs::write(&om, &text).expect("write openmetrics");
    run(&[
        "tsdb",
        "create-blocks-from",
        "openmetrics",
        om.to_str().expect("utf-8 path"),
        data.path().to_str().expect("utf-8 path"),
    ]);
    let theirs = list_block_dirs(data.path()).expect("list");
    let mut w = BlockWriter::new(data.path(), BlockWriterOptions::default()).expect("start");
    let s: Vec<Sample> = (0..5).map(|k| Sample::new(k * 1000, k as f64)).collect();
    w.add_series(&Labels::from_pairs([("__name__", "x")]), &chunked(&s))
        .expect("add");
    let meta = w.finish().expect("finish");
    let list = run(&["tsdb", "list", data.path().to_str().expect("utf-8 path")]);
    assert!(list.contains(&meta.ulid.to_string()), "{list}");
    for d in &theirs {
        let name = d.file_name().expect("name").to_string_lossy().into_owned();
        assert!(list.contains(&name), "{list}");
    }
    let all = list_block_dirs(data.path()).expect("list");
    assert_eq!(all.len(), theirs.len() + 1);
    for d in &all {
        Block::open(d).expect("every block opens");
    }
}

/// Rewriting a promtool-made block's series and chunks with Strata's writer yields the same
/// `index`, `chunks/` and `tombstones` bytes: the layout is Prometheus's, byte for byte.
#[test]
fn strata_rewrites_promtool_blocks_byte_for_byte() {
    let work = tempfile::tempdir().expect("tempdir");
    let (text, _) = openmetrics();
    let om = work.path().join("input.om");
    std::fs::write(&om, &text).expect("write openmetrics");
    let out = work.path().join("blocks");
    let ours = work.path().join("ours");
    std::fs::create_dir(&out).expect("mkdir");
    std::fs::create_dir(&ours).expect("mkdir");
    run(&[
        "tsdb",
        "create-blocks-from",
        "openmetrics",
        om.to_str().expect("utf-8 path"),
        out.to_str().expect("utf-8 path"),
    ]);
    let dirs = list_block_dirs(&out).expect("list blocks");
    assert!(!dirs.is_empty(), "promtool wrote no block");
    for d in &dirs {
        let block = Arc::new(Block::open(d).expect("open promtool block"));
        let meta = block.meta().clone();
        let q = BlockQuerier::new(block);
        let opts = BlockWriterOptions {
            time_range: Some((meta.min_time, meta.max_time)),
            ..Default::default()
        };
        let mut w = BlockWriter::new(&ours, opts).expect("start");
        for s in q.select_series(i64::MIN, i64::MAX, &[]).expect("select") {
            w.add_series(&s.labels, &s.chunks).expect("add");
        }
        let ulid = w.ulid();
        let m = w.finish().expect("finish");
        assert_eq!(m.stats.num_samples, meta.stats.num_samples);
        assert_eq!(m.stats.num_series, meta.stats.num_series);
        assert_eq!(m.stats.num_chunks, meta.stats.num_chunks);
        let mine = ours.join(ulid.to_string());
        for f in ["index", "chunks/000001", "tombstones"] {
            let a = std::fs::read(d.join(f)).expect("read promtool file");
            let b = std::fs::read(mine.join(f)).expect("read strata file");
            if let Some(i) = a.iter().zip(&b).position(|(x, y)| x != y) {
                let lo = i.saturating_sub(16);
                panic!(
                    "{f} differs at byte {i}: promtool {:02x?}, strata {:02x?}",
                    &a[lo..(i + 16).min(a.len())],
                    &b[lo..(i + 16).min(b.len())]
                );
            }
            assert_eq!(a.len(), b.len(), "{f} length");
        }
        assert!(!d.join("chunks/000002").exists() && !mine.join("chunks/000002").exists());
    }
}
