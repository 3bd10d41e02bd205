//! Block-level tests: write → open → query round trips, matcher semantics against a brute
//! force evaluation, crash safety of the write sequence, and corrupt input.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use proptest::prelude::*;
use strata_chunkenc::{encode_xor, SAMPLES_PER_CHUNK};
use strata_model::{Labels, MatchOp, Matcher, Sample, TenantId, STALE_NAN};
use strata_storage::{ChunkMeta, Series};

use crate::*;

/// A written block kept alive for a proptest run: its directory, a querier, what it holds.
type Fixture = (tempfile::TempDir, BlockQuerier, Vec<(Labels, Vec<Sample>)>);

/// Splits samples into XOR chunks of at most 120 samples, as the head does.
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

/// `n` series over a few metric names, jobs and instances, sorted by labels; series `i` has
/// `10 + i % 300` samples (so several chunks) including NaN and stale markers.
fn test_series(n: usize) -> Vec<(Labels, Vec<Sample>)> {
    let mut out: Vec<(Labels, Vec<Sample>)> = (0..n)
        .map(|i| {
            let name = ["up", "http_requests_total", "node_cpu"][i % 3];
            let job = format!("job-{}", i % 7);
            let inst = format!("host-{i}");
            let mut pairs = vec![
                ("__name__", name),
                ("job", job.as_str()),
                ("instance", inst.as_str()),
            ];
            if i % 5 == 0 {
                pairs.push(("env", "prod"));
            }
            let labels = Labels::from_pairs(pairs);
            let count = 10 + (i * 37) % 300;
            let samples = (0..count)
                .map(|k| {
                    let t = 1_000_000 + (k as i64) * 15_000 + i as i64;
                    let v = match k % 50 {
                        7 => f64::NAN,
                        13 => STALE_NAN,
                        21 => f64::INFINITY,
                        _ => (k as f64) * 0.5 - i as f64,
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

fn write_block(
    parent: &Path,
    series: &[(Labels, Vec<Sample>)],
    opts: BlockWriterOptions,
) -> (PathBuf, BlockMeta) {
    let mut w = BlockWriter::new(parent, opts).expect("start block");
    for (l, s) in series {
        w.add_series(l, &chunked(s)).expect("add series");
    }
    let ulid = w.ulid();
    let meta = w.finish().expect("finish block");
    (parent.join(ulid.to_string()), meta)
}

fn small_segments() -> BlockWriterOptions {
    BlockWriterOptions {
        tenant: Some(TenantId::new("team-a").expect("valid tenant")),
        external_labels: Labels::from_pairs([("cluster", "eu1")]),
        segment_size: 4096,
        ..Default::default()
    }
}

fn same_samples(a: &[Sample], b: &[Sample]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| x.t == y.t && x.v.to_bits() == y.v.to_bits())
}

fn samples_of(s: &Series) -> Vec<Sample> {
    s.samples().expect("chunks decode")
}

#[test]
fn round_trips_many_series() {
    let dir = tempfile::tempdir().expect("tempdir");
    let series = test_series(200);
    let (bdir, meta) = write_block(dir.path(), &series, small_segments());

    let total: usize = series.iter().map(|s| s.1.len()).sum();
    assert_eq!(meta.stats.num_series, 200);
    assert_eq!(meta.stats.num_samples, total as u64);
    let min = series.iter().map(|s| s.1[0].t).min().expect("series");
    let max = series
        .iter()
        .map(|s| s.1[s.1.len() - 1].t)
        .max()
        .expect("series");
    assert_eq!((meta.min_time, meta.max_time), (min, max + 1));
    let thanos = meta.thanos.as_ref().expect("thanos section");
    assert_eq!(thanos.tenant.as_deref(), Some("team-a"));
    assert_eq!(
        thanos.labels.get("cluster").map(String::as_str),
        Some("eu1")
    );
    assert_eq!(thanos.source, "receive");
    assert_eq!(meta.compaction.sources, vec![meta.ulid]);

    let block = Arc::new(Block::open(&bdir).expect("open block"));
    assert_eq!(block.meta(), &meta);
    assert!(block.chunks().num_segments() > 1, "small segments must cut");
    let q = BlockQuerier::new(block.clone());
    let got = q.select_series(i64::MIN, i64::MAX, &[]).expect("select");
    assert_eq!(got.len(), series.len());
    for ((l, s), g) in series.iter().zip(&got) {
        assert_eq!(&g.labels, l);
        assert!(same_samples(&samples_of(g), s), "samples of {l}");
    }
    assert_eq!(
        got.iter().map(|s| s.chunks.len() as u64).sum::<u64>(),
        meta.stats.num_chunks
    );

    // Index lookups.
    let ix = block.index();
    assert_eq!(ix.label_names(), vec!["__name__", "env", "instance", "job"]);
    assert_eq!(
        ix.label_values("__name__").expect("values"),
        vec!["http_requests_total", "node_cpu", "up"]
    );
    assert!(ix.label_values("nope").expect("values").is_empty());
    assert!(ix.label_values("").expect("values").is_empty());
    // Many values: lookups between the in-memory samples read the table from disk.
    let instances = ix.label_values("instance").expect("values");
    assert_eq!(instances.len(), 200);
    assert!(instances.windows(2).all(|w| w[0] < w[1]));
    for (i, v) in instances.iter().enumerate() {
        let p = ix.postings("instance", v).expect("postings");
        assert_eq!(p.len(), 1, "instance {v}");
        assert_eq!(
            ix.series(p[0]).expect("series").labels.get("instance"),
            Some(v.as_str())
        );
        // Values that sort between (or around) existing ones have no postings.
        assert!(
            ix.postings("instance", &format!("{v}!"))
                .expect("postings")
                .is_empty(),
            "{i}"
        );
    }
    assert!(ix.postings("instance", "").expect("postings").is_empty());
    assert!(ix.postings("instance", "zzz").expect("postings").is_empty());
    let some = ix
        .postings_where("instance", |v| v.ends_with('7'))
        .expect("postings");
    assert_eq!(some.len(), 20);
    let up = ix.postings("__name__", "up").expect("postings");
    assert_eq!(
        up.len(),
        series
            .iter()
            .filter(|s| s.0.get("__name__") == Some("up"))
            .count()
    );
    assert!(up.windows(2).all(|w| w[0] < w[1]));
    let e = ix.series(up[0]).expect("series");
    assert_eq!(e.labels.get("__name__"), Some("up"));
    assert!(ix.postings("job", "absent").expect("postings").is_empty());
    let syms: Vec<&str> = ix.symbols().collect();
    assert!(syms.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn write_block_helper_writes_a_block() {
    let dir = tempfile::tempdir().expect("tempdir");
    let series = test_series(5);
    let meta = crate::write_block(
        dir.path(),
        BlockWriterOptions::default(),
        series.iter().map(|(l, s)| (l.clone(), chunked(s))),
    )
    .expect("write");
    let b = Block::open(dir.path().join(meta.ulid.to_string())).expect("open");
    assert_eq!(b.meta().stats.num_series, 5);
    assert_eq!(list_block_dirs(dir.path()).expect("list").len(), 1);
}

#[test]
fn selects_by_time_range() {
    let dir = tempfile::tempdir().expect("tempdir");
    let series = test_series(20);
    let (bdir, meta) = write_block(dir.path(), &series, BlockWriterOptions::default());
    let q = BlockQuerier::new(Arc::new(Block::open(&bdir).expect("open")));
    // Outside the block: nothing, without touching the index.
    assert!(q
        .select_series(0, meta.min_time - 1, &[])
        .expect("select")
        .is_empty());
    assert!(q
        .select_series(meta.max_time, i64::MAX, &[])
        .expect("select")
        .is_empty());
    assert!(q
        .label_names_sync(meta.max_time, i64::MAX, &[])
        .expect("names")
        .is_empty());
    // A window inside: every returned chunk overlaps it, and every sample in it is returned.
    let (lo, hi) = (1_000_000 + 150 * 15_000, 1_000_000 + 160 * 15_000);
    let got = q.select_series(lo, hi, &[]).expect("select");
    let expected: Vec<&(Labels, Vec<Sample>)> = series
        .iter()
        .filter(|(_, s)| s.iter().any(|x| x.t >= lo && x.t <= hi))
        .collect();
    assert_eq!(got.len(), expected.len());
    for (g, (l, s)) in got.iter().zip(expected) {
        assert_eq!(&g.labels, l);
        assert!(g
            .chunks
            .iter()
            .all(|c| c.min_time <= hi && c.max_time >= lo));
        let inside: Vec<Sample> = samples_of(g)
            .into_iter()
            .filter(|x| x.t >= lo && x.t <= hi)
            .collect();
        let want: Vec<Sample> = s
            .iter()
            .copied()
            .filter(|x| x.t >= lo && x.t <= hi)
            .collect();
        assert!(same_samples(&inside, &want));
    }
}

fn m(op: MatchOp, n: &str, v: &str) -> Matcher {
    Matcher::new(op, n, v).expect("valid matcher")
}

/// What Prometheus selects: series whose labels satisfy every matcher, a missing label
/// matching as "".
fn brute_force(series: &[(Labels, Vec<Sample>)], ms: &[Matcher]) -> Vec<Labels> {
    series
        .iter()
        .filter(|(l, _)| ms.iter().all(|m| m.matches_labels(l)))
        .map(|(l, _)| l.clone())
        .collect()
}

#[test]
fn matchers_follow_prometheus_semantics() {
    let dir = tempfile::tempdir().expect("tempdir");
    let series = test_series(60);
    let (bdir, _) = write_block(dir.path(), &series, BlockWriterOptions::default());
    let q = BlockQuerier::new(Arc::new(Block::open(&bdir).expect("open")));
    let cases: Vec<Vec<Matcher>> = vec![
        vec![m(MatchOp::Equal, "__name__", "up")],
        vec![m(MatchOp::Equal, "env", "")],
        vec![m(MatchOp::NotEqual, "env", "")],
        vec![
            m(MatchOp::NotEqual, "env", "prod"),
            m(MatchOp::Equal, "job", "job-1"),
        ],
        vec![m(MatchOp::RegexMatch, "job", "job-[12]")],
        vec![m(MatchOp::RegexMatch, "env", "prod|")],
        vec![
            m(MatchOp::RegexMatch, "env", ".*"),
            m(MatchOp::Equal, "__name__", "up"),
        ],
        vec![m(MatchOp::RegexNoMatch, "__name__", "up|node_cpu")],
        vec![
            m(MatchOp::RegexMatch, "job", ".+"),
            m(MatchOp::NotEqual, "job", "job-3"),
        ],
        vec![m(MatchOp::Equal, "nope", "")],
        vec![m(MatchOp::Equal, "nope", "x")],
        vec![
            m(MatchOp::RegexMatch, "instance", "host-1.*"),
            m(MatchOp::RegexNoMatch, "env", ""),
        ],
    ];
    for ms in cases {
        let got: Vec<Labels> = q
            .select_series(i64::MIN, i64::MAX, &ms)
            .expect("select")
            .into_iter()
            .map(|s| s.labels)
            .collect();
        assert_eq!(got, brute_force(&series, &ms), "matchers {ms:?}");
    }
    // Label names and values under matchers.
    let ms = [m(MatchOp::Equal, "__name__", "up")];
    let names = q.label_names_sync(i64::MIN, i64::MAX, &ms).expect("names");
    assert_eq!(names, vec!["__name__", "env", "instance", "job"]);
    let vals = q
        .label_values_sync("__name__", i64::MIN, i64::MAX, &ms)
        .expect("values");
    assert_eq!(vals, vec!["up"]);
    let envs = q
        .label_values_sync("env", i64::MIN, i64::MAX, &[])
        .expect("values");
    assert_eq!(envs, vec!["prod"]);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn random_matchers_match_brute_force(
        specs in proptest::collection::vec(
            (0usize..4, 0usize..5, 0usize..8),
            1..4,
        )
    ) {
        thread_local! {
            static FIXTURE: RefCell<Option<Fixture>> = const { RefCell::new(None) };
        }
        let names = ["__name__", "job", "env", "missing"];
        let values = ["up", "job-1", "prod", "", "job-.*", "u.|node_cpu", ".*", ".+"];
        let ops = [MatchOp::Equal, MatchOp::NotEqual, MatchOp::RegexMatch, MatchOp::RegexNoMatch, MatchOp::RegexMatch];
        let ms: Vec<Matcher> = specs
            .iter()
            .map(|&(n, o, v)| m(ops[o], names[n], values[v]))
            .collect();
        FIXTURE.with(|f| {
            let mut f = f.borrow_mut();
            let (_, q, series) = f.get_or_insert_with(|| {
                let dir = tempfile::tempdir().expect("tempdir");
                let series = test_series(40);
                let (bdir, _) = write_block(dir.path(), &series, BlockWriterOptions::default());
                let q = BlockQuerier::new(Arc::new(Block::open(&bdir).expect("open")));
                (dir, q, series)
            });
            let got: Vec<Labels> = q
                .select_series(i64::MIN, i64::MAX, &ms)
                .expect("select")
                .into_iter()
                .map(|s| s.labels)
                .collect();
            assert_eq!(got, brute_force(series, &ms), "matchers {:?}", ms);
        });
    }
}

#[test]
fn writer_rejects_bad_input() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut w = BlockWriter::new(dir.path(), BlockWriterOptions::default()).expect("start");
    let c = chunked(&[Sample::new(1, 1.0)]);
    w.add_series(&Labels::from_pairs([("a", "2")]), &c)
        .expect("first");
    assert!(w.add_series(&Labels::from_pairs([("a", "1")]), &c).is_err());
    assert!(w.add_series(&Labels::from_pairs([("a", "2")]), &c).is_err());
    assert!(w.add_series(&Labels::from_pairs([("b", "")]), &c).is_err());
    assert!(w.add_series(&Labels::empty(), &c).is_err());
    let mut unsorted = chunked(&[Sample::new(5, 1.0)]);
    unsorted.extend(chunked(&[Sample::new(1, 1.0)]));
    assert!(w
        .add_series(&Labels::from_pairs([("c", "1")]), &unsorted)
        .is_err());
    drop(w);

    let opts = BlockWriterOptions {
        time_range: Some((0, 100)),
        ..Default::default()
    };
    let mut w = BlockWriter::new(dir.path(), opts).expect("start");
    assert!(w
        .add_series(
            &Labels::from_pairs([("a", "1")]),
            &chunked(&[Sample::new(100, 1.0)])
        )
        .is_err());
    w.add_series(
        &Labels::from_pairs([("a", "1")]),
        &chunked(&[Sample::new(99, 1.0)]),
    )
    .expect("inside the range");
    let meta = w.finish().expect("finish");
    assert_eq!((meta.min_time, meta.max_time), (0, 100));

    // An empty block is refused and leaves nothing behind.
    let w = BlockWriter::new(dir.path(), BlockWriterOptions::default()).expect("start");
    assert!(w.finish().is_err());
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .expect("list")
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .ends_with(TMP_FOR_CREATION_SUFFIX)
        })
        .collect();
    assert!(leftovers.is_empty());
}

#[test]
fn no_partial_block_is_ever_visible() {
    let series = test_series(10);
    for stop in [
        WriteStage::ChunksWritten,
        WriteStage::IndexWritten,
        WriteStage::BeforeRename,
        WriteStage::BeforeDirSync,
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut w = BlockWriter::new(dir.path(), BlockWriterOptions::default()).expect("start");
        for (l, s) in &series {
            w.add_series(l, &chunked(s)).expect("add");
        }
        let ulid = w.ulid();
        let tmp = dir.path().join(format!("{ulid}{TMP_FOR_CREATION_SUFFIX}"));
        let seen = RefCell::new(Vec::new());
        let hook = |stage: WriteStage| -> Result<(), BlockError> {
            seen.borrow_mut().push(stage);
            let visible = list_block_dirs(dir.path()).expect("list");
            if stage == WriteStage::BeforeDirSync {
                assert_eq!(visible.len(), 1);
                assert!(!tmp.exists());
            } else {
                assert!(visible.is_empty(), "visible at {stage:?}");
                assert!(tmp.join("chunks/000001").exists());
                assert_eq!(
                    tmp.join("index").exists(),
                    stage != WriteStage::ChunksWritten
                );
                assert_eq!(
                    tmp.join("meta.json").exists(),
                    stage == WriteStage::BeforeRename
                );
            }
            if stage == stop {
                Err(BlockError::Stopped(stage))
            } else {
                Ok(())
            }
        };
        let res = w.finish_with_hook(&hook);
        assert!(matches!(res, Err(BlockError::Stopped(s)) if s == stop));
        assert_eq!(seen.borrow().last(), Some(&stop));
        assert!(
            !tmp.exists(),
            "temporary directory removed after stop at {stop:?}"
        );
        let visible = list_block_dirs(dir.path()).expect("list");
        if stop == WriteStage::BeforeDirSync {
            // Renamed: the block is complete and readable.
            assert_eq!(visible.len(), 1);
            Block::open(&visible[0]).expect("complete block opens");
        } else {
            assert!(visible.is_empty());
        }
    }
}

#[test]
fn crash_leftovers_are_ignored_and_removed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (bdir, _) = write_block(dir.path(), &test_series(3), BlockWriterOptions::default());
    let stale = dir
        .path()
        .join(format!("{}{TMP_FOR_CREATION_SUFFIX}", Ulid::new()));
    std::fs::create_dir_all(stale.join("chunks")).expect("mkdir");
    std::fs::write(stale.join("index"), b"half").expect("write");
    assert_eq!(
        list_block_dirs(dir.path()).expect("list"),
        vec![bdir.clone()]
    );
    assert_eq!(remove_tmp_blocks(dir.path()).expect("cleanup"), 1);
    assert!(!stale.exists());
    assert!(bdir.exists());
}

#[test]
fn applies_tombstones() {
    let dir = tempfile::tempdir().expect("tempdir");
    let series = test_series(3);
    let (bdir, _) = write_block(dir.path(), &series, BlockWriterOptions::default());
    let first = Block::open(&bdir).expect("open");
    let refs = first.index().all_postings().expect("postings");
    let target = &series[1];
    let (del_lo, del_hi) = (target.1[3].t, target.1[8].t);
    let mut t = Tombstones::default();
    t.add(refs[1], del_lo, del_hi);
    // Delete the whole of series 0.
    t.add(refs[0], i64::MIN, i64::MAX);
    t.write(&bdir).expect("write tombstones");
    let q = BlockQuerier::new(Arc::new(Block::open(&bdir).expect("open")));
    let got = q.select_series(i64::MIN, i64::MAX, &[]).expect("select");
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].labels, target.0);
    let want: Vec<Sample> = target
        .1
        .iter()
        .copied()
        .filter(|s| s.t < del_lo || s.t > del_hi)
        .collect();
    assert!(same_samples(&samples_of(&got[0]), &want));
}

/// Reads everything a block holds; `Err` on the first problem.
fn read_all(dir: &Path) -> Result<Vec<(Labels, Vec<Sample>)>, String> {
    let b = Block::open(dir).map_err(|e| e.to_string())?;
    let q = BlockQuerier::new(Arc::new(b));
    let mut out = Vec::new();
    for s in q
        .select_series(i64::MIN, i64::MAX, &[])
        .map_err(|e| e.to_string())?
    {
        let samples = s.samples().map_err(|e| e.to_string())?;
        out.push((s.labels, samples));
    }
    q.label_names_sync(i64::MIN, i64::MAX, &[m(MatchOp::RegexMatch, "job", ".+")])
        .map_err(|e| e.to_string())?;
    Ok(out)
}

fn same_data(a: &[(Labels, Vec<Sample>)], b: &[(Labels, Vec<Sample>)]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| x.0 == y.0 && same_samples(&x.1, &y.1))
}

/// Every single-byte corruption and every truncation of the index, the chunk segment and the
/// tombstones is either reported as an error or harmless (padding, unused sections): the
/// data read back is never silently different.
#[test]
fn corruption_is_detected_or_harmless() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (bdir, _) = write_block(dir.path(), &test_series(3), BlockWriterOptions::default());
    let good = read_all(&bdir).expect("intact block reads");
    let mut errors = 0;
    for file in ["index", "chunks/000001", "tombstones"] {
        let p = bdir.join(file);
        let orig = std::fs::read(&p).expect("read");
        for i in 0..orig.len() {
            let mut b = orig.clone();
            b[i] ^= 0x5a;
            std::fs::write(&p, &b).expect("write");
            match read_all(&bdir) {
                Ok(d) => assert!(same_data(&d, &good), "{file}: flip at {i} read wrong data"),
                Err(_) => errors += 1,
            }
        }
        for n in (0..orig.len()).step_by(7) {
            std::fs::write(&p, &orig[..n]).expect("write");
            match read_all(&bdir) {
                Ok(d) => assert!(
                    same_data(&d, &good),
                    "{file}: truncated to {n} read wrong data"
                ),
                Err(_) => errors += 1,
            }
        }
        std::fs::write(&p, &orig).expect("restore");
    }
    assert!(
        errors > 1000,
        "most corruptions must be reported, got {errors}"
    );
    assert!(same_data(&read_all(&bdir).expect("restored"), &good));
}

#[test]
fn checksum_error_names_block_and_chunk() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (bdir, _) = write_block(dir.path(), &test_series(2), BlockWriterOptions::default());
    let p = bdir.join("chunks/000001");
    let mut b = std::fs::read(&p).expect("read");
    b[20] ^= 0xff;
    std::fs::write(&p, &b).expect("write");
    let err = read_all(&bdir).expect_err("corrupt chunk");
    assert!(err.contains("checksum mismatch"), "{err}");
    assert!(err.contains(&bdir.display().to_string()), "{err}");
    assert!(
        err.contains("chunk 0x8 (segment 000001, offset 8)"),
        "{err}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Garbage files in place of a block's parts never panic the reader.
    #[test]
    fn garbage_never_panics(
        which in 0usize..4,
        garbage in proptest::collection::vec(any::<u8>(), 0..600),
        keep_prefix in 0usize..64,
    ) {
        let dir = tempfile::tempdir().expect("tempdir");
        let (bdir, _) = write_block(dir.path(), &test_series(4), BlockWriterOptions::default());
        let file = ["index", "chunks/000001", "tombstones", "meta.json"][which];
        let p = bdir.join(file);
        let orig = std::fs::read(&p).expect("read");
        // Keep a valid-looking prefix (magic, header) so decoding goes past the first check.
        let mut b = orig[..keep_prefix.min(orig.len())].to_vec();
        b.extend_from_slice(&garbage);
        std::fs::write(&p, &b).expect("write");
        let _ = read_all(&bdir);
    }
}

#[test]
fn batched_reads_match_single_reads() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut series = test_series(50);
    // A series whose index entry (300 chunk metas) outgrows the first read of a batch.
    let long = Labels::from_pairs([("__name__", "long"), ("job", "x")]);
    let mut w = BlockWriter::new(dir.path(), BlockWriterOptions::default()).expect("start");
    let long_chunks: Vec<ChunkMeta> = (0..300)
        .flat_map(|k| chunked(&[Sample::new(k * 1000, k as f64)]))
        .collect();
    series.push((long.clone(), Vec::new()));
    series.sort_by(|a, b| a.0.cmp(&b.0));
    for (l, s) in &series {
        if *l == long {
            w.add_series(l, &long_chunks).expect("add");
        } else {
            w.add_series(l, &chunked(s)).expect("add");
        }
    }
    let ulid = w.ulid();
    w.finish().expect("finish");
    let b = Block::open(dir.path().join(ulid.to_string())).expect("open");
    let ix = b.index();
    let refs = ix.all_postings().expect("postings");
    assert_eq!(refs.len(), 51);
    let batch = ix.series_batch(&refs).expect("batch");
    let single: Vec<SeriesEntry> = refs
        .iter()
        .map(|r| ix.series(*r).expect("series"))
        .collect();
    assert_eq!(batch, single);
    let long_entry = batch
        .iter()
        .find(|e| e.labels == long)
        .expect("long series");
    assert_eq!(long_entry.chunks.len(), 300);
    // Chunks of all series, batched, equal single reads.
    let crefs: Vec<ChunkRef> = batch
        .iter()
        .flat_map(|e| e.chunks.iter().map(|c| c.chunk_ref))
        .collect();
    let many = b.chunks().chunks(&crefs).expect("chunks");
    for (r, c) in crefs.iter().zip(&many) {
        assert_eq!(&b.chunks().chunk(*r).expect("chunk"), c);
    }
    // Unsorted and repeated refs still work.
    let odd = vec![refs[5], refs[2], refs[2], refs[40]];
    let got = ix.series_batch(&odd).expect("batch");
    assert_eq!(got[1], got[2]);
    assert_eq!(got[0], single[5]);
}
