//! The head with a WAL: reopen gives the same heads, concurrent commits, checkpoints, and
//! write failures.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use strata_model::{Labels, Sample, TenantId, STALE_NAN};
use strata_wal::{Wal, WalOptions};

use crate::record::{self, RefSample, SeriesRecords};
use crate::{Db, DbOptions, MetricMetadata, MetricType};

const SEG: u64 = 64 * 1024;

fn open(dir: &Path) -> Db {
    Db::open(
        dir,
        DbOptions {
            wal_segment_size: SEG,
            ..Default::default()
        },
    )
    .expect("open db")
}

fn tenant(s: &str) -> TenantId {
    TenantId::new(s).expect("valid tenant")
}

type Dump = BTreeMap<(String, String), (u64, Vec<(i64, u64)>)>;

/// Every series of every tenant with its ref and samples (value bits).
fn dump(db: &Db) -> Dump {
    let mut out = Dump::new();
    for t in db.tenants() {
        let head = db.head(&t).expect("head");
        for r in head.postings_for_matchers(&[]) {
            let s = head.series(r).expect("series");
            let mut samples = Vec::new();
            for c in s.chunks(i64::MIN, i64::MAX) {
                let mut it = c.chunk.xor_iter().expect("xor");
                samples.extend(it.by_ref().map(|x| (x.t, x.v.to_bits())));
                assert!(it.err().is_none());
            }
            out.insert((t.to_string(), s.labels().to_string()), (r.0, samples));
        }
    }
    out
}

fn push(db: &Db, t: &str, labels: &Labels, samples: &[(i64, f64)]) -> crate::CommitOutcome {
    let head = db.get_or_create_head(&tenant(t));
    let mut app = head.appender();
    app.append_series(labels, samples.iter().map(|&(t, v)| Sample::new(t, v)))
        .expect("valid series");
    app.commit_blocking().expect("commit")
}

#[test]
fn reopen_gives_identical_heads() {
    let dir = tempfile::tempdir().expect("tempdir");
    let before = {
        let db = open(dir.path());
        let a = Labels::from_pairs([("__name__", "up"), ("job", "a")]);
        let b = Labels::from_pairs([("__name__", "up"), ("job", "b")]);
        for i in 0..500i64 {
            push(&db, "t1", &a, &[(i * 1000, i as f64 * 0.25)]);
        }
        push(&db, "t2", &b, &[(5, 1.0), (6, f64::NAN), (7, STALE_NAN)]);
        // Retries and refused samples change nothing.
        let out = push(&db, "t2", &b, &[(7, STALE_NAN), (3, 9.0)]);
        assert_eq!((out.unchanged, out.rejected.len()), (1, 1));
        let head = db.get_or_create_head(&tenant("t1"));
        let mut app = head.appender();
        app.add_metadata(MetricMetadata {
            metric_family_name: "up".into(),
            metric_type: MetricType::Gauge,
            help: "is it up".into(),
            unit: String::new(),
        });
        app.commit_blocking().expect("metadata commit");
        // A series created but never given a sample.
        let mut app = head.appender();
        app.append_series(&Labels::from_pairs([("empty", "1")]), [])
            .expect("valid");
        app.commit_blocking().expect("commit");
        assert!(db.wal().expect("wal").fsyncs() > 0);
        dump(&db)
    };
    let db = open(dir.path());
    assert_eq!(dump(&db), before);
    let st = db.replay_stats();
    assert_eq!(st.tenants, 2);
    assert_eq!(st.corruptions, 0);
    assert!(st.samples >= 503);
    let h1 = db.head(&tenant("t1")).expect("t1");
    assert_eq!(h1.metadata().get(Some("up"), None)[0].help, "is it up");
    assert_eq!((h1.min_time(), h1.max_time()), (Some(0), Some(499_000)));
    // New series after a reopen get fresh refs; a third tenant gets a fresh WAL id.
    let c = Labels::from_pairs([("job", "c")]);
    push(&db, "t1", &c, &[(1, 1.0)]);
    push(&db, "t3", &c, &[(2, 2.0)]);
    let after = dump(&db);
    let refs: Vec<u64> = after
        .iter()
        .filter(|(k, _)| k.0 == "t1")
        .map(|(_, v)| v.0)
        .collect();
    let mut uniq = refs.clone();
    uniq.sort_unstable();
    uniq.dedup();
    assert_eq!(uniq.len(), refs.len(), "refs stay unique after reopen");
    drop(db);
    let db = open(dir.path());
    assert_eq!(dump(&db), after);
}

#[test]
fn concurrent_appenders_then_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let before = {
        let db = Arc::new(open(dir.path()));
        let threads: Vec<_> = (0..8)
            .map(|w| {
                let db = Arc::clone(&db);
                std::thread::spawn(move || {
                    let t = if w % 2 == 0 { "even" } else { "odd" };
                    let mut acked = 0usize;
                    for step in 0..150i64 {
                        let head = db.get_or_create_head(&tenant(t));
                        let mut app = head.appender();
                        for s in 0..5 {
                            let l = Labels::from_pairs([
                                ("w", w.to_string().as_str()),
                                ("s", s.to_string().as_str()),
                            ]);
                            app.append(&l, step, (step * w) as f64).expect("valid");
                        }
                        // Every worker of the tenant races on one shared series.
                        app.append(&Labels::from_pairs([("shared", "1")]), step, step as f64)
                            .expect("valid");
                        acked += app.commit_blocking().expect("commit").accepted();
                    }
                    acked
                })
            })
            .collect();
        let acked: usize = threads.into_iter().map(|t| t.join().expect("worker")).sum();
        assert!(acked >= 8 * 150 * 5);
        let wal = db.wal().expect("wal");
        eprintln!(
            "8 threads, 1200 commits: {} fsyncs in {} groups",
            wal.fsyncs(),
            wal.groups()
        );
        dump(&db)
    };
    let db = open(dir.path());
    assert_eq!(dump(&db), before);
}

#[test]
fn replay_merges_samples_logged_out_of_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let wal_dir = dir.path().join("wal");
    {
        // What two racing commits can leave: the later sample logged first.
        let (wal, _) = Wal::open(&wal_dir, WalOptions::default(), &mut |_| {}).expect("open wal");
        let mut recs = vec![record::tenants_record(&[(1, "t")])];
        let mut sr = SeriesRecords::new(1);
        sr.add(1, [("a", "1")].into_iter());
        sr.finish(&mut recs);
        for t in [30i64, 10, 20, 40, 20] {
            record::samples_records(
                1,
                &[RefSample {
                    series_ref: 1,
                    t,
                    v: t as f64,
                }],
                &mut recs,
            );
        }
        wal.log(recs).wait_blocking().expect("log");
    }
    let db = open(dir.path());
    let d = dump(&db);
    let (_, samples) = &d[&("t".to_string(), "{a=\"1\"}".to_string())];
    let ts: Vec<i64> = samples.iter().map(|s| s.0).collect();
    assert_eq!(ts, vec![10, 20, 30, 40]);
    assert_eq!(db.replay_stats().merged_series, 1);
    let head = db.head(&tenant("t")).expect("head");
    assert_eq!((head.min_time(), head.max_time()), (Some(10), Some(40)));
    // The series goes on taking appends after the merge.
    let out = push(&db, "t", &Labels::from_pairs([("a", "1")]), &[(50, 5.0)]);
    assert_eq!(out.appended, 1);
}

#[test]
fn checkpoint_then_reopen_gives_the_same_heads() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = open(dir.path());
    let l = |i: usize| Labels::from_pairs([("__name__", "m"), ("i", i.to_string().as_str())]);
    for step in 0..60i64 {
        for i in 0..40 {
            push(&db, "a", &l(i), &[(step * 100, (step + i as i64) as f64)]);
        }
    }
    let seg_before = db.wal().expect("wal").current_segment();
    assert!(seg_before >= 1, "the test needs several segments");
    let cut = db.cut_wal_segment().expect("cut").expect("wal");
    let stats = db.checkpoint(cut).expect("checkpoint").expect("done");
    assert_eq!(stats.checkpoint, cut - 1);
    assert!(stats.records_out > 0 && stats.records_out <= stats.records_in);
    for step in 60..70i64 {
        for i in 0..40 {
            push(&db, "a", &l(i), &[(step * 100, 0.5)]);
        }
    }
    push(&db, "b", &l(0), &[(1, 1.0)]);
    let before = dump(&db);
    drop(db);
    let db = open(dir.path());
    assert_eq!(db.replay_stats().checkpoint, Some(cut - 1));
    assert_eq!(dump(&db), before);

    // A truncating checkpoint drops samples before mint but keeps every series.
    let cut = db.cut_wal_segment().expect("cut").expect("wal");
    db.checkpoint_from(cut, 6500)
        .expect("checkpoint")
        .expect("done");
    drop(db);
    let db = open(dir.path());
    let d = dump(&db);
    assert_eq!(d.len(), before.len());
    let (_, s) = &d[&("a".to_string(), l(3).to_string())];
    assert_eq!(s.first().map(|x| x.0), Some(6500));
    assert_eq!(s.len(), 5);
}

#[test]
fn group_commit_shares_fsyncs_between_async_pushers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Arc::new(open(dir.path()));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("runtime");
    const PUSHERS: usize = 32;
    const EACH: i64 = 20;
    rt.block_on(async {
        let tasks: Vec<_> = (0..PUSHERS)
            .map(|p| {
                let db = Arc::clone(&db);
                tokio::spawn(async move {
                    for i in 0..EACH {
                        let head = db.get_or_create_head(&tenant(&format!("tenant-{}", p % 4)));
                        let mut app = head.appender();
                        app.append(&Labels::from_pairs([("p", p.to_string().as_str())]), i, 1.0)
                            .expect("valid");
                        app.commit().await.expect("commit");
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.expect("task");
        }
    });
    let wal = db.wal().expect("wal");
    let commits = (PUSHERS as u64) * EACH as u64;
    eprintln!(
        "group commit: {PUSHERS} concurrent async pushers, {commits} commits, {} fsyncs",
        wal.fsyncs()
    );
    assert!(wal.fsyncs() < commits / 2, "{} fsyncs", wal.fsyncs());
}

#[test]
fn wal_write_error_fails_the_commit_and_later_commits_succeed() {
    let Some(fs) = SmallFs::mount("1m") else {
        eprintln!("skipping: cannot mount a tmpfs here");
        return;
    };
    let db = Db::open(
        fs.path(),
        DbOptions {
            wal_segment_size: 4 * 32 * 1024,
            ..Default::default()
        },
    )
    .expect("open");
    let l = Labels::from_pairs([("a", "1")]);
    push(&db, "t", &l, &[(1, 1.0)]);
    // Fill the file system.
    let filler = fs.path().join("filler");
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&filler).expect("filler");
        let block = vec![1u8; 64 * 1024];
        while f.write_all(&block).is_ok() {}
        let _ = f.sync_all();
    }
    let head = db.get_or_create_head(&tenant("t"));
    let big: Vec<(i64, f64)> = (2..20_000).map(|t| (t, t as f64)).collect();
    let mut app = head.appender();
    app.append_series(&l, big.iter().map(|&(t, v)| Sample::new(t, v)))
        .expect("valid");
    let err = app.commit_blocking().expect_err("disk is full");
    assert!(err.to_string().contains("wal"), "{err}");
    std::fs::remove_file(&filler).expect("free space");
    // The failed batch was applied in memory but is not durable: later pushes succeed.
    let out = push(&db, "t", &l, &[(30_000, 3.0)]);
    assert_eq!(out.appended, 1);
    let new_head = db.get_or_create_head(&tenant("new"));
    let mut app = new_head.appender();
    app.append(&l, 5, 5.0).expect("valid");
    app.commit_blocking()
        .expect("a new tenant and series after the failure");
    drop(db);
    let db = Db::open(fs.path(), DbOptions::default()).expect("reopen");
    assert_eq!(db.replay_stats().corruptions, 0);
    let d = dump(&db);
    let (_, got) = &d[&("t".to_string(), l.to_string())];
    let ts: Vec<i64> = got.iter().map(|s| s.0).collect();
    // Every acknowledged sample is back; of the failed batch, at most whole records that
    // reached an earlier segment before the failure (never acknowledged, harmless).
    assert_eq!(ts.first(), Some(&1));
    assert_eq!(ts.last(), Some(&30_000));
    assert!(ts
        .iter()
        .all(|t| *t == 1 || *t == 30_000 || (2..20_000).contains(t)));
    assert_eq!(
        d[&("new".to_string(), l.to_string())].1,
        vec![(5, 5f64.to_bits())]
    );
}

#[test]
fn damaged_checkpoint_loses_its_records_but_never_reuses_their_ids() {
    let dir = tempfile::tempdir().expect("tempdir");
    let x = Labels::from_pairs([("x", "1")]);
    {
        let db = open(dir.path());
        for t in 0..10 {
            push(&db, "a", &x, &[(t, 1.0)]);
        }
        let cut = db.cut_wal_segment().expect("cut").expect("wal");
        db.checkpoint(cut).expect("checkpoint").expect("done");
        // Logged after the checkpoint, referring to the tenant and series records in it.
        push(&db, "a", &x, &[(100, 2.0)]);
    }
    let cp = std::fs::read_dir(dir.path().join("wal"))
        .expect("ls")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| p.is_dir())
        .expect("checkpoint dir");
    let seg = cp.join("00000000");
    let mut b = std::fs::read(&seg).expect("read");
    b[9] ^= 0xff;
    std::fs::write(&seg, b).expect("write");

    let db = open(dir.path());
    let st = db.replay_stats().clone();
    assert_eq!(st.corruptions, 1);
    assert!(
        st.bad_records >= 1,
        "the later sample names a lost tenant: {st:?}"
    );
    assert!(db.head(&tenant("a")).is_none());
    push(&db, "a", &x, &[(200, 3.0)]);
    let head = db.head(&tenant("a")).expect("head");
    assert_eq!(
        head.wal().map(|w| w.tenant_ref),
        Some(2),
        "id 1 is never reused"
    );
    drop(head);
    drop(db);
    let db = open(dir.path());
    let d = dump(&db);
    assert_eq!(
        d[&("a".to_string(), x.to_string())].1,
        vec![(200, 3f64.to_bits())]
    );
}

/// A small tmpfs mounted on a fresh directory, if this process may mount; unmounted on drop.
struct SmallFs {
    dir: tempfile::TempDir,
}

impl SmallFs {
    fn mount(size: &str) -> Option<Self> {
        let dir = tempfile::tempdir().ok()?;
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .stderr(std::process::Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        ok.then_some(Self { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(self.dir.path())
            .status();
    }
}
