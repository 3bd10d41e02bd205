//! Native histograms, exemplars and the out-of-order window through the whole database:
//! append, WAL replay, block cutting, reopen, queries.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use strata_block::BlockQuerier;
use strata_chunkenc::{CounterResetHeader, Encoding};
use strata_model::histogram::Span;
use strata_model::{FloatHistogram, Histogram, Labels, Matcher, Sample, TenantId};
use strata_storage::Series;

use crate::head::open_chunk::decode_chunk;
use crate::head::series::CHUNK_RANGE_MS;
use crate::{
    Db, DbOptions, Exemplar, ExemplarRejectKind, HeadOptions, SampleRejectKind, SampleValue,
    TenantHeadOptions,
};

const STEP: i64 = 15_000;
const HOUR: i64 = 3_600_000;

fn tenant(s: &str) -> TenantId {
    TenantId::new(s).expect("valid tenant")
}

fn opts() -> TenantHeadOptions {
    let mut o = TenantHeadOptions::default();
    o.overrides.insert(
        "ooo".into(),
        HeadOptions {
            out_of_order_time_window_ms: HOUR,
            max_exemplars: 4,
        },
    );
    o
}

fn open(dir: &Path) -> Db {
    Db::open(
        dir,
        DbOptions {
            wal_segment_size: 64 * 1024,
            head: opts(),
            ..Default::default()
        },
    )
    .expect("open db")
}

fn hist(i: u64, reset: bool) -> Histogram {
    let base = if reset { 0 } else { i };
    Histogram {
        schema: 0,
        zero_threshold: 1e-128,
        zero_count: base,
        count: 4 * base + 4,
        sum: 2.5 * base as f64,
        positive_spans: vec![Span {
            offset: 0,
            length: 2,
        }],
        positive_buckets: vec![base as i64 + 1, 1],
        negative_spans: vec![Span {
            offset: 1,
            length: 1,
        }],
        negative_buckets: vec![base as i64 + 1],
        ..Default::default()
    }
}

fn float_hist(i: u64) -> FloatHistogram {
    let x = i as f64;
    FloatHistogram {
        schema: 2,
        count: x + 1.5,
        sum: -x,
        zero_count: 0.5,
        positive_spans: vec![Span {
            offset: -1,
            length: 3,
        }],
        positive_buckets: vec![x, 1.0, 0.0],
        ..Default::default()
    }
}

/// Every sample of a series, any encoding, sorted, one per timestamp.
fn decode(s: &Series) -> Vec<(i64, SampleValue)> {
    let mut all = Vec::new();
    for c in &s.chunks {
        let (v, err) = decode_chunk(&c.chunk);
        assert!(err.is_none(), "chunk of {} decodes: {err:?}", s.labels);
        all.extend(v);
    }
    all.sort_by_key(|x| x.0);
    all.dedup_by_key(|x| x.0);
    all
}

fn query(db: &Db, t: &str) -> HashMap<String, Vec<(i64, SampleValue)>> {
    let q = db.querier(&tenant(t), i64::MIN, i64::MAX);
    q.select_series(i64::MIN, i64::MAX, &[])
        .expect("select")
        .iter()
        .map(|s| (s.labels.to_string(), decode(s)))
        .collect()
}

fn same(a: &[(i64, SampleValue)], b: &[(i64, SampleValue)]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| x.0 == y.0 && x.1.same_as(&y.1))
}

fn labels(name: &str) -> Labels {
    Labels::from_pairs([("__name__", name), ("job", "x")])
}

#[test]
fn native_histograms_survive_replay_and_block_cut() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = open(dir.path());
    let head = db.get_or_create_head(&tenant("t"));
    let mut want: HashMap<String, Vec<(i64, SampleValue)>> = HashMap::new();
    let mut app = head.appender();
    let mut mixed = Vec::new();
    for i in 0..40u64 {
        let t = i as i64 * STEP;
        // A counter reset at 25: its chunk must say so.
        let h: SampleValue = hist(i, i == 25).into();
        app.append_histogram(&labels("h"), t, h.clone())
            .expect("stage");
        want.entry(labels("h").to_string())
            .or_default()
            .push((t, h));
        if i < 15 {
            let f: SampleValue = float_hist(i).into();
            app.append_histogram(&labels("fh"), t, f.clone())
                .expect("stage");
            want.entry(labels("fh").to_string())
                .or_default()
                .push((t, f));
        }
        // Floats, then histograms, then floats again.
        let m: SampleValue = if (5..10).contains(&i) {
            hist(i, false).into()
        } else {
            (i as f64).into()
        };
        if i < 15 {
            mixed.push((t, m.clone()));
            want.entry(labels("mixed").to_string())
                .or_default()
                .push((t, m));
        }
    }
    // Floats and histograms of one commit are applied floats first (as Prometheus's
    // appender): the mixed series gets one commit per sample.
    for (t, m) in &mixed {
        let mut one = head.appender();
        match m {
            SampleValue::Float(v) => {
                one.append_series(&labels("mixed"), [Sample::new(*t, *v)])
                    .expect("stage");
            }
            _ => {
                one.append_histogram(&labels("mixed"), *t, m.clone())
                    .expect("stage");
            }
        }
        one.commit_blocking().expect("commit");
    }
    // A histogram at an existing timestamp: identical is a no-op, different a duplicate.
    let last = 39 * STEP;
    app.append_histogram(&labels("h"), last, hist(39, false).into())
        .expect("stage");
    app.append_histogram(&labels("h"), last, hist(7, false).into())
        .expect("stage");
    // An invalid one is refused when staged.
    let mut bad = hist(3, false);
    bad.count = 1;
    assert!(matches!(
        app.append_histogram(&labels("h"), last + 1, bad.into()),
        Err(crate::TsdbError::InvalidHistogram(_))
    ));
    // An older one: histograms are never accepted out of order.
    app.append_histogram(&labels("h"), STEP, hist(1, false).into())
        .expect("stage");
    let out = app.commit_blocking().expect("commit");
    assert_eq!(out.histograms_accepted, 40 + 15 + 1);
    let kinds: Vec<SampleRejectKind> = out.rejected_histograms.iter().map(|r| r.kind).collect();
    assert_eq!(
        kinds,
        vec![
            SampleRejectKind::DuplicateTimestamp,
            SampleRejectKind::OutOfOrder
        ]
    );

    let check = |db: &Db, when: &str| {
        let got = query(db, "t");
        for (k, v) in &want {
            assert!(same(&got[k], v), "{when}: series {k} differs");
        }
    };
    check(&db, "in memory");

    let chunks = head
        .series_by_labels(&labels("mixed"))
        .expect("series")
        .chunks(i64::MIN, i64::MAX);
    let encodings: Vec<Encoding> = chunks.iter().map(|c| c.chunk.encoding()).collect();
    assert_eq!(
        encodings,
        vec![Encoding::Xor, Encoding::Histogram, Encoding::Xor]
    );
    let headers = |db: &Db| -> Vec<CounterResetHeader> {
        let q = db.querier(&tenant("t"), i64::MIN, i64::MAX);
        let s = q
            .select_series(i64::MIN, i64::MAX, &[Matcher::equal("__name__", "h")])
            .expect("select");
        s[0].chunks
            .iter()
            .map(|c| {
                c.chunk
                    .histogram_iter()
                    .expect("histogram chunk")
                    .counter_reset_header()
            })
            .collect()
    };
    let before = headers(&db);
    assert!(
        before.contains(&CounterResetHeader::CounterReset),
        "a chunk is cut at the reset: {before:?}"
    );
    drop(head);
    drop(db);

    let db = open(dir.path());
    check(&db, "after replay");
    assert_eq!(
        headers(&db),
        before,
        "replay rebuilds the same chunk headers"
    );
    let st = db.flush_head(&tenant("t")).expect("flush");
    assert!(!st.blocks.is_empty());
    assert_eq!(db.head(&tenant("t")).map(|h| h.num_series()), Some(0));
    check(&db, "from blocks");
    // The block holds the histogram chunks as they were.
    let block = Arc::clone(&db.blocks(&tenant("t"))[0]);
    let bs = BlockQuerier::new(block)
        .select_series(i64::MIN, i64::MAX, &[Matcher::equal("__name__", "fh")])
        .expect("block select");
    assert!(bs[0]
        .chunks
        .iter()
        .all(|c| c.chunk.encoding() == Encoding::FloatHistogram));
    drop(db);
    let db = open(dir.path());
    check(&db, "blocks after reopen");
}

#[test]
fn exemplars_dedup_wrap_and_survive_replay() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = open(dir.path());
    let ex = |t: i64, v: f64, id: &str| Exemplar {
        labels: Labels::from_pairs([("trace_id", id)]),
        value: v,
        t,
    };
    let head = db.get_or_create_head(&tenant("ooo"));
    assert_eq!(head.exemplars().capacity(), 4, "per-tenant override");
    let mut app = head.appender();
    for i in 0..3 {
        app.add_exemplar(&labels("a"), ex(i * 10, i as f64, "x"))
            .expect("stage");
    }
    app.add_exemplar(&labels("a"), ex(20, 2.0, "x"))
        .expect("stage"); // duplicate
    app.add_exemplar(&labels("a"), ex(5, 9.0, "y"))
        .expect("stage"); // out of order
    app.add_exemplar(&labels("b"), ex(7, 1.0, "z"))
        .expect("stage");
    let out = app.commit_blocking().expect("commit");
    assert_eq!(out.exemplars_accepted, 5);
    assert_eq!(out.rejected_exemplars.len(), 1);
    assert_eq!(
        out.rejected_exemplars[0].kind,
        ExemplarRejectKind::OutOfOrder
    );
    assert_eq!(head.exemplars().len(), 4);
    let all = vec![Matcher::equal("job", "x")];
    let before = head.exemplars().query(std::slice::from_ref(&all), 0, 100);
    assert_eq!(before.len(), 2);
    assert_eq!(before[0].1.len(), 3);
    // One more wraps the buffer: the oldest goes.
    let mut app = head.appender();
    app.add_exemplar(&labels("b"), ex(30, 3.0, "w"))
        .expect("stage");
    app.commit_blocking().expect("commit");
    let after = head.exemplars().query(std::slice::from_ref(&all), 0, 100);
    assert_eq!(
        after[0].1.iter().map(|e| e.t).collect::<Vec<_>>(),
        vec![10, 20]
    );
    drop(head);
    drop(db);
    let db = open(dir.path());
    let head = db.head(&tenant("ooo")).expect("replayed head");
    assert_eq!(head.exemplars().query(&[all], 0, 100), after);
    assert!(db.replay_stats().exemplars >= 4);
    // The default tenant keeps Prometheus's 100000.
    assert_eq!(
        db.get_or_create_head(&tenant("other"))
            .exemplars()
            .capacity(),
        100_000
    );
}

fn push(db: &Db, t: &str, l: &Labels, samples: &[(i64, f64)]) -> crate::CommitOutcome {
    let head = db.get_or_create_head(&tenant(t));
    let mut app = head.appender();
    app.append_series(l, samples.iter().map(|&(t, v)| Sample::new(t, v)))
        .expect("stage");
    app.commit_blocking().expect("commit")
}

fn floats(got: &[(i64, SampleValue)]) -> Vec<(i64, f64)> {
    got.iter()
        .map(|(t, v)| (*t, v.as_float().expect("float")))
        .collect()
}

#[test]
fn out_of_order_window_accepts_merges_cuts_and_restarts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = open(dir.path());
    let base = 10 * CHUNK_RANGE_MS;
    let a = labels("a");
    let in_order: Vec<(i64, f64)> = (0..240).map(|i| (base + i * 60_000, i as f64)).collect();
    let newest = in_order[in_order.len() - 1].0;
    for t in ["ooo", "strict"] {
        push(&db, t, &a, &in_order);
    }
    // Odd half-minutes within the last hour, and one too old for the window.
    let late: Vec<(i64, f64)> = (0..50)
        .map(|i| (newest - 30_000 - i * 60_000, -(i as f64)))
        .collect();
    let too_old = (newest - HOUR - 1, 0.5);
    let strict = push(&db, "strict", &a, &late);
    assert_eq!(strict.appended, 0);
    assert!(strict
        .rejected
        .iter()
        .all(|r| r.kind == SampleRejectKind::OutOfOrder));
    let mut batch = late.clone();
    batch.push(too_old);
    batch.push(in_order[200]); // identical to a stored in-order sample: a no-op
    batch.push((in_order[201].0, 99.0)); // another value there: a duplicate
    batch.push(late[3]); // identical repeat of an out-of-order one
    let out = push(&db, "ooo", &a, &batch);
    assert_eq!(out.appended, late.len());
    assert_eq!(out.unchanged, 2);
    let kinds: Vec<SampleRejectKind> = out.rejected.iter().map(|r| r.kind).collect();
    assert_eq!(
        kinds,
        vec![
            SampleRejectKind::OutOfOrder,
            SampleRejectKind::DuplicateTimestamp
        ]
    );
    let mut merged = in_order.clone();
    merged.extend(&late);
    merged.sort_by_key(|s| s.0);
    let key = a.to_string();
    assert_eq!(
        floats(&query(&db, "ooo")[&key]),
        merged,
        "queries merge both"
    );
    // Through the storage iterator too (what PromQL reads).
    let q = db.querier(&tenant("ooo"), i64::MIN, i64::MAX);
    let s = q.select_series(i64::MIN, i64::MAX, &[]).expect("select");
    let it: Vec<(i64, f64)> = s[0]
        .samples()
        .expect("xor")
        .iter()
        .map(|x| (x.t, x.v))
        .collect();
    assert_eq!(it, merged);
    drop(q);
    drop(db);

    let db = open(dir.path());
    assert_eq!(
        floats(&query(&db, "ooo")[&key]),
        merged,
        "replay keeps them"
    );
    db.flush_all().expect("flush");
    assert_eq!(floats(&query(&db, "ooo")[&key]), merged, "from blocks");
    // Each block holds one sorted run per series: no overlapping chunks.
    for b in db.blocks(&tenant("ooo")) {
        for s in BlockQuerier::new(b)
            .select_series(i64::MIN, i64::MAX, &[])
            .expect("select")
        {
            for w in s.chunks.windows(2) {
                assert!(w[0].max_time < w[1].min_time, "chunks overlap in a block");
            }
            let ts: Vec<i64> = decode(&s).iter().map(|x| x.0).collect();
            let n = s
                .chunks
                .iter()
                .map(|c| usize::from(c.chunk.num_samples()))
                .sum::<usize>();
            assert_eq!(ts.len(), n, "no duplicate timestamps in a block");
        }
    }
    drop(db);

    // After a restart the cut range stays closed, except within the window.
    let db = open(dir.path());
    for t in ["ooo", "strict"] {
        let h = db.head(&tenant(t)).expect("head replayed");
        assert_eq!(
            h.min_valid_time(),
            newest + 1,
            "minimum valid time persisted"
        );
    }
    let strict = push(&db, "strict", &a, &[(newest - 1000, 1.0)]);
    assert_eq!(strict.rejected[0].kind, SampleRejectKind::TooOld);
    let ooo = push(
        &db,
        "ooo",
        &a,
        &[(newest - 1000, 1.0), (newest - 2 * HOUR, 1.0)],
    );
    assert_eq!(ooo.appended, 1, "{ooo:?}");
    assert_eq!(ooo.rejected[0].kind, SampleRejectKind::TooOld);
    merged.push((newest - 1000, 1.0));
    merged.sort_by_key(|s| s.0);
    assert_eq!(floats(&query(&db, "ooo")[&key]), merged);
    // A further cut writes it into an overlapping block; reads merge.
    db.flush_all().expect("flush");
    assert_eq!(floats(&query(&db, "ooo")[&key]), merged);
    drop(db);
    let db = open(dir.path());
    assert_eq!(floats(&query(&db, "ooo")[&key]), merged);
}
