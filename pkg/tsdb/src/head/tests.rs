use std::sync::Arc;

use strata_model::{Labels, MatchOp, Matcher, Sample, STALE_NAN};

use super::*;
use crate::error::SampleRejectKind;

fn lbl(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs.iter().copied())
}

fn samples(head: &Head, labels: &Labels) -> Vec<(i64, u64)> {
    let s = head.series_by_labels(labels).expect("series exists");
    let mut out = Vec::new();
    for c in s.chunks(i64::MIN, i64::MAX) {
        let mut it = c.chunk.xor_iter().expect("xor chunk");
        out.extend(it.by_ref().map(|s| (s.t, s.v.to_bits())));
        assert!(it.err().is_none());
    }
    out
}

#[test]
fn batch_keeps_valid_samples_and_reports_rejected() {
    let head = Head::new();
    let a = lbl(&[("__name__", "up"), ("job", "a")]);
    let b = lbl(&[("__name__", "up"), ("job", "b")]);
    let mut app = head.appender();
    app.append_series(&a, [Sample::new(10, 1.0), Sample::new(20, 2.0)])
        .expect("valid series");
    app.append_series(&b, [Sample::new(5, 1.0)])
        .expect("valid series");
    let out = app.commit_blocking().expect("commit");
    assert_eq!(out.appended, 3);
    assert!(out.rejected.is_empty());
    assert_eq!(head.num_series(), 2);
    assert_eq!((head.min_time(), head.max_time()), (Some(5), Some(20)));

    let mut app = head.appender();
    // index 0: ooo; 1: dup with other value; 2: identical retry; 3: ok; 4: ooo within batch
    app.append_series(
        &a,
        [
            Sample::new(15, 9.0),
            Sample::new(20, 9.0),
            Sample::new(20, 2.0),
            Sample::new(30, 3.0),
            Sample::new(25, 3.0),
        ],
    )
    .expect("valid series");
    // index 5: ok for b
    let rb = app.append(&b, 6, 1.0).expect("valid series");
    let out = app.commit_blocking().expect("commit");
    assert_eq!(out.appended, 2);
    assert_eq!(out.unchanged, 1);
    assert_eq!(out.accepted(), 3);
    let got: Vec<(usize, SampleRejectKind, i64)> = out
        .rejected
        .iter()
        .map(|r| (r.index, r.kind, r.t))
        .collect();
    assert_eq!(
        got,
        vec![
            (0, SampleRejectKind::OutOfOrder, 15),
            (1, SampleRejectKind::DuplicateTimestamp, 20),
            (4, SampleRejectKind::OutOfOrder, 25),
        ]
    );
    assert_eq!(
        out.rejected[0].series,
        head.series_by_labels(&a)
            .map(|s| s.series_ref())
            .expect("a")
    );
    assert_eq!(head.series_by_labels(&b).map(|s| s.series_ref()), Some(rb));
    assert_eq!(
        samples(&head, &a),
        vec![
            (10, 1f64.to_bits()),
            (20, 2f64.to_bits()),
            (30, 3f64.to_bits())
        ]
    );
}

#[test]
fn nan_and_stale_retries_are_accepted() {
    let head = Head::new();
    let a = lbl(&[("a", "1")]);
    let mut app = head.appender();
    app.append_series(&a, [Sample::new(1, f64::NAN), Sample::new(2, STALE_NAN)])
        .expect("valid series");
    assert_eq!(app.commit_blocking().expect("commit").appended, 2);
    let mut app = head.appender();
    app.append_series(&a, [Sample::new(2, STALE_NAN)])
        .expect("valid series");
    let out = app.commit_blocking().expect("commit");
    assert_eq!((out.appended, out.unchanged, out.rejected.len()), (0, 1, 0));
    // A plain NaN is not the stale marker: a duplicate.
    let mut app = head.appender();
    app.append(&a, 2, f64::NAN).expect("valid series");
    let out = app.commit_blocking().expect("commit");
    assert_eq!(out.rejected.len(), 1);
    assert_eq!(out.rejected[0].kind, SampleRejectKind::DuplicateTimestamp);
    let got = samples(&head, &a);
    assert_eq!(got.len(), 2);
    assert_eq!(got[1].1, STALE_NAN.to_bits());
}

#[test]
fn invalid_label_sets_are_refused() {
    let head = Head::new();
    let mut app = head.appender();
    assert_eq!(
        app.append(&Labels::empty(), 1, 1.0),
        Err(TsdbError::EmptyLabels)
    );
    let r = app.append(
        &Labels::from_sorted(vec![strata_model::Label::new("a", "")]),
        1,
        1.0,
    );
    assert!(matches!(r, Err(TsdbError::EmptyLabelValue { .. })));
    assert_eq!(app.commit_blocking().expect("commit").appended, 0);
    assert_eq!(head.num_series(), 0);
}

#[test]
fn rollback_discards_samples() {
    let head = Head::new();
    let a = lbl(&[("a", "1")]);
    let mut app = head.appender();
    app.append(&a, 1, 1.0).expect("valid series");
    assert_eq!(app.staged(), 1);
    app.rollback();
    assert!(samples(&head, &a).is_empty());
    assert_eq!(head.min_time(), None);
}

#[test]
fn head_cuts_chunks() {
    let head = Head::new();
    let a = lbl(&[("a", "1")]);
    let mut app = head.appender();
    app.append_series(&a, (0..300).map(|i| Sample::new(i * 15_000, i as f64)))
        .expect("valid series");
    assert_eq!(app.commit_blocking().expect("commit").appended, 300);
    let s = head.series_by_labels(&a).expect("series");
    let chunks = s.chunks(i64::MIN, i64::MAX);
    // 300 samples at 15s span 75 minutes, within one 2h window: cut on count only.
    let counts: Vec<u16> = chunks.iter().map(|c| c.chunk.num_samples()).collect();
    assert_eq!(counts, vec![120, 120, 60]);
    assert!(chunks.windows(2).all(|w| w[0].max_time < w[1].min_time));
    assert_eq!((s.min_time(), s.max_time()), (0, 299 * 15_000));
}

#[test]
fn select_by_matchers() {
    let head = Head::new();
    let mut app = head.appender();
    for (i, job) in ["a", "b", "c"].iter().enumerate() {
        app.append(&lbl(&[("__name__", "up"), ("job", job)]), i as i64, 1.0)
            .expect("valid series");
    }
    app.append(&lbl(&[("__name__", "down")]), 100, 1.0)
        .expect("valid series");
    app.commit_blocking().expect("commit");
    let m = |op, n: &str, v: &str| Matcher::new(op, n, v).expect("valid matcher");
    let names = |ms: &[Matcher], mint, maxt| -> Vec<String> {
        let mut v: Vec<String> = head
            .select_series(ms, mint, maxt)
            .iter()
            .map(|s| s.labels().to_string())
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        names(
            &[
                m(MatchOp::Equal, "__name__", "up"),
                m(MatchOp::RegexMatch, "job", "a|c")
            ],
            0,
            1000
        ),
        vec![r#"up{job="a"}"#, r#"up{job="c"}"#]
    );
    assert_eq!(
        names(&[m(MatchOp::Equal, "job", "")], 0, 1000),
        vec!["down"]
    );
    // Time filtering by each series' span.
    assert_eq!(
        names(&[m(MatchOp::Equal, "__name__", "up")], 1, 1),
        vec![r#"up{job="b"}"#]
    );
}

#[test]
fn concurrent_appends_are_all_stored() {
    let head = Arc::new(Head::new());
    let threads: Vec<_> = (0..8)
        .map(|w| {
            let head = Arc::clone(&head);
            std::thread::spawn(move || {
                for step in 0..200i64 {
                    let mut app = head.appender();
                    // Every worker writes the shared series (racing on creation and order)
                    // and 10 series of its own.
                    for s in 0..10 {
                        let l = Labels::from_pairs([
                            ("w", w.to_string().as_str()),
                            ("s", s.to_string().as_str()),
                        ]);
                        app.append(&l, step, step as f64).expect("valid series");
                    }
                    app.append(&Labels::from_pairs([("shared", "1")]), step, 0.0)
                        .expect("valid series");
                    let out = app.commit_blocking().expect("commit");
                    assert_eq!(out.appended + out.unchanged + out.rejected.len(), 11);
                    assert!(out.appended >= 10);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("worker panicked");
    }
    assert_eq!(head.num_series(), 8 * 10 + 1);
    assert_eq!(head.postings_for_matchers(&[]).len(), 81);
    for w in 0..8 {
        let l = Labels::from_pairs([("w", w.to_string().as_str()), ("s", "3")]);
        assert_eq!(samples(&head, &l).len(), 200);
    }
    // The shared series saw every step at least once, in order, with no duplicates.
    let shared = samples(&head, &Labels::from_pairs([("shared", "1")]));
    assert!(shared.windows(2).all(|w| w[0].0 < w[1].0));
    assert_eq!(shared.last().map(|s| s.0), Some(199));
}

#[test]
fn label_strings_are_interned() {
    let head = Head::new();
    let mut app = head.appender();
    let a = lbl(&[("__name__", "up"), ("job", "node")]);
    let b = lbl(&[("__name__", "up"), ("job", "db")]);
    app.append(&a, 1, 1.0).expect("valid series");
    app.append(&b, 1, 1.0).expect("valid series");
    app.commit_blocking().expect("commit");
    let sa = head.series_by_labels(&a).expect("a");
    let sb = head.series_by_labels(&b).expect("b");
    let pa: Vec<(&str, &str)> = sa.label_pairs().collect();
    let pb: Vec<(&str, &str)> = sb.label_pairs().collect();
    // Same name and value strings share one allocation; different values do not.
    assert!(std::ptr::eq(pa[0].0.as_ptr(), pb[0].0.as_ptr()));
    assert!(std::ptr::eq(pa[0].1.as_ptr(), pb[0].1.as_ptr()));
    assert!(std::ptr::eq(pa[1].0.as_ptr(), pb[1].0.as_ptr()));
    assert!(!std::ptr::eq(pa[1].1.as_ptr(), pb[1].1.as_ptr()));
    assert_eq!(sa.labels(), a);
}

#[test]
fn borrowed_pairs_find_and_create_the_same_series() {
    let head = Head::new();
    let a = lbl(&[("__name__", "up"), ("job", "a")]);
    let pairs_a = [("__name__", "up"), ("job", "a")];
    let pairs_b = [("__name__", "up"), ("job", "b")];
    let hash = |p: &[(&str, &str)]| Labels::stable_hash_of_pairs(p.iter().copied());
    let mut app = head.appender();
    let ra = app
        .append_series(&a, [Sample::new(10, 1.0)])
        .expect("valid series");
    // An existing series is found by its pairs; a new one is created from them.
    let ra2 = app
        .append_series_pairs(hash(&pairs_a), &pairs_a, [Sample::new(20, 2.0)])
        .expect("valid pairs");
    let rb = app
        .append_series_pairs(hash(&pairs_b), &pairs_b, [Sample::new(5, 3.0)])
        .expect("valid pairs");
    assert_eq!(ra, ra2);
    assert_ne!(ra, rb);
    let out = app.commit_blocking().expect("commit");
    assert_eq!(out.appended, 3);
    assert_eq!(head.num_series(), 2);
    assert_eq!(
        samples(&head, &a),
        vec![(10, 1.0f64.to_bits()), (20, 2.0f64.to_bits())]
    );
    let b = head.series(rb).expect("created");
    assert_eq!(b.labels(), lbl(&pairs_b));
    assert!(b.has_label_pairs(&pairs_b) && !b.has_label_pairs(&pairs_a));
    assert!(!b.has_label_pairs(&pairs_b[..1]));
    // Pairs are refused as labels are: an empty value.
    let bad = [("__name__", "up"), ("job", "")];
    let mut app = head.appender();
    assert!(app
        .append_series_pairs(hash(&bad), &bad, [Sample::new(1, 1.0)])
        .is_err());
}

/// Every sample the state holds, as (t, value bits), in chunk order.
fn state_samples(st: &state::SeriesState) -> Vec<(i64, u64)> {
    st.chunks(i64::MIN, i64::MAX)
        .iter()
        .flat_map(|c| open_chunk::decode_chunk(&c.chunk).0)
        .map(|(t, v)| (t, v.as_float().map(f64::to_bits).unwrap_or(0)))
        .collect()
}

#[test]
fn cut_point_inside_the_open_chunk_splits_it() {
    // A flush chose t = 1_050 while commits appended past it: the open chunk holds samples
    // on both sides and must be split, or the ones before t go to neither block nor WAL.
    let mut st = state::SeriesState::default();
    for i in 0..100 {
        st.append(1_000 + i, i as f64).expect("in order");
    }
    let all = state_samples(&st);
    st.close_open_before(1_050);
    let before = st.closed_before(1_050);
    let got: Vec<i64> = before
        .iter()
        .flat_map(|c| open_chunk::decode_chunk(&c.chunk).0)
        .map(|(t, _)| t)
        .collect();
    assert_eq!(got, (1_000..1_050).collect::<Vec<_>>());
    assert!(before.iter().all(|c| c.max_time < 1_050));
    assert_eq!(state_samples(&st), all, "splitting changed the samples");
    st.drop_closed_before(1_050);
    assert_eq!(state_samples(&st), all[50..].to_vec());
    // Appends continue after the split.
    st.append(2_000, 1.0).expect("in order");
}

#[test]
fn cut_point_inside_a_closed_chunk_splits_it() {
    // 200 samples: the first chunk (120 samples) is closed, the rest open; cut inside the
    // closed one.
    let mut st = state::SeriesState::default();
    for i in 0..200 {
        st.append(i * 10, i as f64).expect("in order");
    }
    let all = state_samples(&st);
    st.close_open_before(505);
    let before = st.closed_before(505);
    let n: usize = before.iter().map(|c| c.chunk.num_samples() as usize).sum();
    assert_eq!(n, 51, "samples 0..=500 go to the block");
    assert!(before.iter().all(|c| c.max_time < 505));
    assert_eq!(state_samples(&st), all);
    st.drop_closed_before(505);
    assert_eq!(state_samples(&st), all[51..].to_vec());
}
