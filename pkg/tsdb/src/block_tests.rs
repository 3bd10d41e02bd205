//! Blocks in the database: cutting heads into blocks, truncation and WAL checkpoint, reopen,
//! quarantine, and queries merging head and blocks.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use strata_model::{Labels, Sample, TenantId};

use crate::head::series::CHUNK_RANGE_MS;
use crate::{Db, DbOptions, SampleRejectKind};

const H: i64 = CHUNK_RANGE_MS;
const STEP: i64 = 60_000;

fn open(dir: &Path) -> Db {
    Db::open(
        dir,
        DbOptions {
            wal_segment_size: 64 * 1024,
            ..Default::default()
        },
    )
    .expect("open db")
}

fn tenant(s: &str) -> TenantId {
    TenantId::new(s).expect("valid tenant")
}

fn series(job: &str) -> Labels {
    Labels::from_pairs([("__name__", "up"), ("job", job)])
}

fn push(db: &Db, t: &str, labels: &Labels, samples: &[(i64, f64)]) -> crate::CommitOutcome {
    let head = db.get_or_create_head(&tenant(t));
    let mut app = head.appender();
    app.append_series(labels, samples.iter().map(|&(t, v)| Sample::new(t, v)))
        .expect("valid series");
    app.commit_blocking().expect("commit")
}

type Samples = BTreeMap<String, Vec<(i64, u64)>>;

/// Every series of the tenant through the database querier (head and blocks merged).
fn query(db: &Db, t: &str) -> Samples {
    let q = db.querier(&tenant(t), i64::MIN, i64::MAX);
    let mut out = Samples::new();
    for s in q.select_series(i64::MIN, i64::MAX, &[]).expect("select") {
        let samples = s.samples().expect("decodes");
        let prev = out.insert(
            s.labels.to_string(),
            samples.iter().map(|x| (x.t, x.v.to_bits())).collect(),
        );
        assert!(prev.is_none(), "series {} returned twice", s.labels);
    }
    out
}

/// Pushes `a` and `b` of tenant `t` every minute over `[from, to)`, one commit per step.
fn fill(db: &Db, t: &str, from: i64, to: i64) {
    let mut ts = from;
    while ts < to {
        push(db, t, &series("a"), &[(ts, ts as f64)]);
        if (ts / STEP) % 2 == 0 {
            push(db, t, &series("b"), &[(ts, -(ts as f64))]);
        }
        ts += STEP;
    }
}

fn total(s: &Samples) -> usize {
    s.values().map(Vec::len).sum()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create dir");
    for e in std::fs::read_dir(from).expect("read dir") {
        let e = e.expect("entry");
        let dst = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &dst);
        } else {
            std::fs::copy(e.path(), dst).expect("copy");
        }
    }
}

fn tenant_dir(dir: &Path, t: &str) -> PathBuf {
    dir.join("tsdb").join(t)
}

#[test]
fn background_cut_truncates_and_reopen_gives_identical_samples() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (before, replayed_before) = {
        let db = open(dir.path());
        // 7.5 ranges (15h): the ranges ending by 1.5 ranges (3h) before the newest sample,
        // that is up to 10h = 5 ranges, are cut.
        fill(&db, "t1", 0, 7 * H + H / 2);
        fill(&db, "t2", H, 2 * H);
        let before = (query(&db, "t1"), query(&db, "t2"));
        let cut = db.compact_all().expect("compact");
        let t1 = &cut.iter().find(|(t, _)| t.as_str() == "t1").expect("t1").1;
        let ranges: Vec<(i64, i64)> = t1.blocks.iter().map(|m| (m.min_time, m.max_time)).collect();
        let want: Vec<(i64, i64)> = (0..5).map(|k| (k * H, (k + 1) * H)).collect();
        assert_eq!(ranges, want);
        assert_eq!(t1.truncated_before, Some(5 * H));
        assert!(t1.chunks_dropped > 0);
        // t2's newest sample is recent for t2: nothing of it is old enough.
        let t2 = &cut.iter().find(|(t, _)| t.as_str() == "t2").expect("t2").1;
        assert!(t2.blocks.is_empty() && t2.truncated_before.is_none());
        assert_eq!(db.blocks(&tenant("t1")).len(), 5);
        let head = db.head(&tenant("t1")).expect("head");
        assert!(head.min_time().expect("not empty") >= 5 * H);
        assert!(head
            .series_by_labels(&series("a"))
            .expect("a")
            .chunks(i64::MIN, 5 * H - 1)
            .is_empty());
        // Head and blocks answer exactly as the head did alone.
        assert_eq!((query(&db, "t1"), query(&db, "t2")), before);
        // Below the truncation time, appends are refused; after it they go on.
        let out = push(&db, "t1", &series("new"), &[(5 * H - 1, 1.0), (5 * H, 2.0)]);
        assert_eq!(out.rejected.len(), 1);
        assert_eq!(out.rejected[0].kind, SampleRejectKind::TooOld);
        let mut before = before;
        before
            .0
            .insert(series("new").to_string(), vec![(5 * H, 2.0f64.to_bits())]);
        assert_eq!(query(&db, "t1"), before.0);
        (before, db.replay_stats().samples)
    };
    assert_eq!(replayed_before, 0);
    let db = open(dir.path());
    assert_eq!(db.block_load_stats().loaded, 5);
    assert_eq!((query(&db, "t1"), query(&db, "t2")), before);
    // The checkpoint dropped what the blocks hold: replay is short.
    let in_blocks: u64 = db
        .blocks(&tenant("t1"))
        .iter()
        .map(|b| b.meta().stats.num_samples)
        .sum();
    assert!(in_blocks > 0);
    assert_eq!(
        db.replay_stats().samples as usize + in_blocks as usize,
        total(&before.0) + total(&before.1),
        "every sample is in exactly one of WAL and blocks"
    );
}

#[test]
fn flush_cuts_everything_and_survives_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let before = {
        let db = open(dir.path());
        fill(&db, "t1", H / 2, 3 * H);
        let before = query(&db, "t1");
        let cut = db.flush_all().expect("flush");
        let ranges: Vec<(i64, i64)> = cut[0]
            .1
            .blocks
            .iter()
            .map(|m| (m.min_time, m.max_time))
            .collect();
        assert_eq!(ranges, vec![(0, H), (H, 2 * H), (2 * H, 3 * H)]);
        let head = db.head(&tenant("t1")).expect("head");
        assert_eq!(head.num_series(), 0, "series left empty are removed");
        assert!(head.postings_for_matchers(&[]).is_empty());
        assert!(head.index_label_names().is_empty());
        assert_eq!(query(&db, "t1"), before);
        // Newer samples go to the head and are read with the blocks.
        push(&db, "t1", &series("a"), &[(3 * H, 1.0)]);
        let mut before = before;
        before
            .get_mut(&series("a").to_string())
            .expect("a")
            .push((3 * H, 1.0f64.to_bits()));
        assert_eq!(query(&db, "t1"), before);
        let q = db.querier(&tenant("t1"), 0, 4 * H);
        assert_eq!(
            q.label_values_sync("job", 0, 4 * H, &[]).expect("values"),
            vec!["a", "b"]
        );
        assert_eq!(
            q.label_names_sync(0, 4 * H, &[]).expect("names"),
            vec!["__name__", "job"]
        );
        assert_eq!(
            q.series_labels(0, 4 * H, &[vec![]]).expect("series").len(),
            2
        );
        before
    };
    let db = open(dir.path());
    assert_eq!(query(&db, "t1"), before);
}

#[test]
fn crash_between_block_write_and_checkpoint_replays_without_duplicates() {
    let dir = tempfile::tempdir().expect("tempdir");
    let snapshot = tempfile::tempdir().expect("tempdir");
    let before = {
        let db = open(dir.path());
        fill(&db, "t1", 0, 2 * H + H / 2);
        let before = query(&db, "t1");
        // The WAL as it was before the cut: every sample still logged.
        copy_dir(&dir.path().join("wal"), snapshot.path());
        db.flush_all().expect("flush");
        before
    };
    std::fs::remove_dir_all(dir.path().join("wal")).expect("remove wal");
    copy_dir(snapshot.path(), &dir.path().join("wal"));
    let db = open(dir.path());
    assert_eq!(db.block_load_stats().loaded, 3);
    assert_eq!(db.replay_stats().samples as usize, total(&before));
    // Blocks and the replayed head overlap completely; queries see each sample once.
    assert_eq!(query(&db, "t1"), before);
    // Cutting again is harmless.
    db.flush_all().expect("flush again");
    assert_eq!(query(&db, "t1"), before);
    drop(db);
    assert_eq!(query(&open(dir.path()), "t1"), before);
}

#[test]
fn corrupt_block_is_quarantined_and_the_rest_served() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (blocks, in_good) = {
        let db = open(dir.path());
        fill(&db, "t1", 0, 2 * H);
        db.flush_all().expect("flush");
        let blocks: Vec<PathBuf> = db
            .blocks(&tenant("t1"))
            .iter()
            .map(|b| b.dir().to_path_buf())
            .collect();
        assert_eq!(blocks.len(), 2);
        let q = db.querier(&tenant("t1"), H, 2 * H - 1);
        let in_good = total(&{
            let mut m = Samples::new();
            for s in q.select_series(H, 2 * H - 1, &[]).expect("select") {
                m.insert(
                    s.labels.to_string(),
                    s.samples()
                        .expect("decodes")
                        .iter()
                        .map(|x| (x.t, x.v.to_bits()))
                        .collect(),
                );
            }
            m
        });
        (blocks, in_good)
    };
    // Damage the first block's index and leave an interrupted write behind.
    let index = blocks[0].join("index");
    let len = std::fs::metadata(&index).expect("index").len();
    std::fs::write(&index, vec![0u8; len as usize]).expect("overwrite index");
    let tmp = tenant_dir(dir.path(), "t1").join("01ARZ3NDEKTSV4RRFFQ69G5FAV.tmp-for-creation");
    std::fs::create_dir(&tmp).expect("tmp dir");

    let db = open(dir.path());
    let st = db.block_load_stats();
    assert_eq!((st.loaded, st.quarantined, st.tmp_removed), (1, 1, 1));
    assert!(!tmp.exists());
    let name = blocks[0].file_name().expect("name");
    assert!(tenant_dir(dir.path(), "t1")
        .join(crate::QUARANTINE_DIR)
        .join(name)
        .join("index")
        .exists());
    assert!(!blocks[0].exists());
    // The good block is served (the WAL was checkpointed, so its range comes from it).
    let got = query(&db, "t1");
    assert_eq!(total(&got), in_good);
    assert!(got
        .values()
        .flatten()
        .all(|&(t, _)| (H..2 * H).contains(&t)));
}

#[test]
fn chunk_checksum_failure_is_a_query_error_naming_the_block() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = open(dir.path());
    fill(&db, "t1", 0, H / 2);
    db.flush_all().expect("flush");
    let blocks = db.blocks(&tenant("t1"));
    assert_eq!(blocks.len(), 1);
    let seg = blocks[0].dir().join("chunks").join("000001");
    let mut bytes = std::fs::read(&seg).expect("segment");
    // Past the 8-byte segment header, the length varint and the encoding byte: chunk data.
    bytes[8 + 4] ^= 0xff;
    std::fs::write(&seg, bytes).expect("write segment");
    let err = db
        .querier(&tenant("t1"), 0, H)
        .select_series(0, H, &[])
        .expect_err("corrupt chunk");
    let msg = err.to_string();
    assert!(
        msg.contains(&blocks[0].dir().display().to_string()),
        "error names the block: {msg}"
    );
    assert!(msg.contains("checksum"), "{msg}");
}

#[test]
fn appender_holding_a_truncated_series_recreates_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = open(dir.path());
    push(&db, "t1", &series("a"), &[(0, 1.0), (STEP, 2.0)]);
    let head = db.get_or_create_head(&tenant("t1"));
    let mut app = head.appender();
    let old_ref = app
        .append_series(&series("a"), [Sample::new(H, 3.0)])
        .expect("valid series");
    // The flush empties and removes the series the appender staged into.
    db.flush_all().expect("flush");
    assert!(head.series(old_ref).is_none());
    let out = app.commit_blocking().expect("commit");
    assert_eq!((out.appended, out.rejected.len()), (1, 0));
    let s = head.series_by_labels(&series("a")).expect("recreated");
    assert_ne!(s.series_ref(), old_ref);
    let want: Vec<(i64, u64)> = [(0, 1.0f64), (STEP, 2.0), (H, 3.0)]
        .iter()
        .map(|&(t, v)| (t, v.to_bits()))
        .collect();
    assert_eq!(query(&db, "t1")[&series("a").to_string()], want);
    drop(head);
    drop(db);
    // The new series record was logged: the sample survives a restart.
    assert_eq!(
        query(&open(dir.path()), "t1")[&series("a").to_string()],
        want
    );
}

#[test]
fn in_memory_db_cuts_nothing() {
    let db = Db::new();
    push(&db, "t1", &series("a"), &[(0, 1.0), (10 * H, 2.0)]);
    let out = db.flush_all().expect("flush");
    assert!(out.iter().all(|(_, s)| s.blocks.is_empty()));
    assert_eq!(total(&query(&db, "t1")), 2);
}

#[test]
fn flushes_racing_pushes_lose_no_acknowledged_sample() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = std::sync::Arc::new(open(dir.path()));
    const WRITERS: usize = 4;
    const SERIES: usize = 8;
    const STEPS: i64 = 400;
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let db = std::sync::Arc::clone(&db);
            std::thread::spawn(move || {
                let mut acked: Vec<(String, i64, u64)> = Vec::new();
                let head = db.get_or_create_head(&tenant("t1"));
                for i in 0..STEPS {
                    // Series shared by writers, so commits race on one series too.
                    let t = i * (H / 50) + w as i64;
                    let mut app = head.appender();
                    let mut staged = Vec::new();
                    for s in 0..SERIES {
                        let l = series(&format!("s{s}"));
                        let v = (i * 100 + w as i64) as f64;
                        app.append_series(&l, [Sample::new(t, v)])
                            .expect("valid series");
                        staged.push((l.to_string(), t, v.to_bits()));
                    }
                    let out = app.commit_blocking().expect("commit");
                    let refused: std::collections::HashSet<usize> =
                        out.rejected.iter().map(|r| r.index).collect();
                    acked.extend(
                        staged
                            .into_iter()
                            .enumerate()
                            .filter(|(i, _)| !refused.contains(i))
                            .map(|(_, x)| x),
                    );
                }
                acked
            })
        })
        .collect();
    let flusher = {
        let db = std::sync::Arc::clone(&db);
        std::thread::spawn(move || {
            for _ in 0..20 {
                db.flush_all().expect("flush");
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
        })
    };
    let mut acked: Vec<(String, i64, u64)> = Vec::new();
    for w in writers {
        acked.extend(w.join().expect("writer"));
    }
    flusher.join().expect("flusher");
    assert!(!acked.is_empty());
    assert!(!db.blocks(&tenant("t1")).is_empty(), "flushes cut blocks");
    let check = |db: &Db| {
        let got = query(db, "t1");
        for (l, t, bits) in &acked {
            let s = got.get(l).unwrap_or_else(|| panic!("series {l} lost"));
            let i = s
                .binary_search_by_key(t, |x| x.0)
                .unwrap_or_else(|_| panic!("acknowledged sample {l}@{t} lost"));
            assert_eq!(s[i].1, *bits, "{l}@{t}");
        }
        // Nothing that was refused shows up either.
        assert_eq!(total(&got), acked.len());
    };
    check(&db);
    drop(db);
    check(&open(dir.path()));
}

/// Each kind of damage to one of two blocks: the database opens, the damaged block is moved
/// to the quarantine directory, the other block is served.
#[test]
fn every_kind_of_block_damage_is_quarantined_and_the_rest_served() {
    type Damage = fn(&Path);
    let cases: [(&str, Damage); 5] = [
        ("corrupt meta.json", |b| {
            std::fs::write(b.join("meta.json"), b"{\"ulid\": 7,").expect("write")
        }),
        ("missing meta.json (half-written block)", |b| {
            std::fs::remove_file(b.join("meta.json")).expect("remove")
        }),
        ("missing index", |b| {
            std::fs::remove_file(b.join("index")).expect("remove")
        }),
        ("truncated index", |b| {
            let f = std::fs::OpenOptions::new()
                .write(true)
                .open(b.join("index"))
                .expect("open");
            f.set_len(40).expect("truncate");
        }),
        ("missing chunk segment", |b| {
            std::fs::remove_file(b.join("chunks").join("000001")).expect("remove")
        }),
    ];
    for (name, damage) in cases {
        let dir = tempfile::tempdir().expect("tempdir");
        let blocks: Vec<PathBuf> = {
            let db = open(dir.path());
            fill(&db, "t1", 0, 2 * H);
            db.flush_all().expect("flush");
            db.blocks(&tenant("t1"))
                .iter()
                .map(|b| b.dir().to_path_buf())
                .collect()
        };
        assert_eq!(blocks.len(), 2, "{name}");
        damage(&blocks[0]);
        let db = open(dir.path());
        let st = db.block_load_stats();
        assert_eq!((st.loaded, st.quarantined), (1, 1), "{name}: {st:?}");
        let moved = tenant_dir(dir.path(), "t1")
            .join(crate::QUARANTINE_DIR)
            .join(blocks[0].file_name().expect("name"));
        assert!(moved.exists(), "{name}: not in quarantine");
        assert!(!blocks[0].exists(), "{name}: still in place");
        // The second hour is served from the good block.
        let got = query(&db, "t1");
        assert!(total(&got) > 0, "{name}: nothing served");
        assert!(
            got.values()
                .flatten()
                .all(|&(t, _)| (H..2 * H).contains(&t)),
            "{name}: samples outside the good block"
        );
    }
}
