use std::collections::BTreeMap;

use proptest::prelude::*;
use strata_model::histogram::{CounterResetHint, Histogram, Span};
use strata_model::STALE_NAN;

use super::*;
use crate::chunk::ChunkError;
use crate::histogram_meta::HistogramChunkError;

/// What a histogram means, independent of its bucket layout: widened layouts (recoding) add
/// empty buckets, which must not change this.
#[derive(Debug, PartialEq)]
pub(crate) struct Meaning {
    schema: i32,
    zero_threshold: u64,
    count: u64,
    zero_count: u64,
    sum: u64,
    positive: BTreeMap<i32, u64>,
    negative: BTreeMap<i32, u64>,
    custom: Vec<u64>,
}

pub(crate) fn meaning(h: &Histogram) -> Meaning {
    let side = |it: strata_model::histogram::BucketIter<'_>| {
        it.filter(|b| b.count != 0)
            .map(|b| (b.index, b.count))
            .collect::<BTreeMap<_, _>>()
    };
    Meaning {
        schema: h.schema,
        zero_threshold: h.zero_threshold.to_bits(),
        count: h.count,
        zero_count: h.zero_count,
        sum: h.sum.to_bits(),
        positive: side(h.positive_buckets_iter()),
        negative: side(h.negative_buckets_iter()),
        custom: h.custom_values.iter().map(|v| v.to_bits()).collect(),
    }
}

fn decode(c: &Chunk) -> Vec<(i64, Histogram)> {
    let mut it = c.histogram_iter().expect("histogram chunk");
    let out: Vec<_> = it.by_ref().collect();
    assert_eq!(it.err(), None);
    out
}

/// Builds a histogram from absolute bucket counts.
pub(crate) fn hist(
    schema: i32,
    zt: f64,
    zero: u64,
    sum: f64,
    pos: (&[Span], &[u64]),
    neg: (&[Span], &[u64]),
) -> Histogram {
    let deltas = |abs: &[u64]| {
        let mut prev = 0i64;
        abs.iter()
            .map(|&a| {
                let d = a as i64 - prev;
                prev = a as i64;
                d
            })
            .collect::<Vec<i64>>()
    };
    Histogram {
        counter_reset_hint: CounterResetHint::Unknown,
        schema,
        zero_threshold: zt,
        zero_count: zero,
        count: zero + pos.1.iter().sum::<u64>() + neg.1.iter().sum::<u64>(),
        sum,
        positive_spans: pos.0.to_vec(),
        negative_spans: neg.0.to_vec(),
        positive_buckets: deltas(pos.1),
        negative_buckets: deltas(neg.1),
        custom_values: Vec::new(),
    }
}

#[test]
fn golden_bytes_from_format_doc() {
    // Derived by hand from tsdb/docs/format/chunks.md ("Histogram chunk data") and the varbit
    // rules in crate::varbit:
    //   header: num_samples u16 BE = 1, flags = 0 (unknown counter reset)
    //   zero_threshold 2^-128 = 0.5 * 2^-127 → one byte -127 + 243 = 116 = 0x74
    //   schema 0                 → 0
    //   pos spans: 1 span        → 10 001
    //     length 2               → 10 010
    //     offset 0               → 0
    //   neg spans: 0 spans       → 0
    //   ts 1000 (fits ±2048)     → 11110 001111101000
    //   count 5 (uint ≤ 7)       → 10 101
    //   zero_count 2             → 10 010
    //   (40 bits so far: 01000110 01000111 10001111 10100010 10110010)
    //   sum 18.4                 → 64 raw bits, byte aligned here
    //   buckets (deltas) 1, 1    → 10 001, 10 001 → 10001100 01(000000 padding)
    let h = hist(
        0,
        2f64.powi(-128),
        2,
        18.4,
        (&[Span::new(0, 2)], &[1, 2]),
        (&[], &[]),
    );
    let mut a = HistogramAppender::new();
    assert!(matches!(a.append(1000, &h), AppendOutcome::Appended));
    let mut want = vec![0x00, 0x01, 0x00, 0x74, 0x46, 0x47, 0x8F, 0xA2, 0xB2];
    want.extend_from_slice(&18.4f64.to_bits().to_be_bytes());
    want.extend_from_slice(&[0x8C, 0x40]);
    assert_eq!(a.to_chunk().bytes().as_ref(), want.as_slice());

    // Second sample at 2000: count 7, zero count 2, same sum, buckets 2, 3 (deltas 2, 1):
    //   ts dod 1000 - 0          → 11110 001111101000
    //   count dod (7-5) - 0 = 2  → 10 010
    //   zero count dod 0         → 0
    //   sum XOR 0                → 0
    //   bucket 0: delta 2-1 = 1, dod 1 → 10 001; bucket 1: delta 1-1 = 0, dod 0 → 0
    // appended to the 10 bits of sample 0's buckets: exactly 40 bits.
    let h2 = hist(
        0,
        2f64.powi(-128),
        2,
        18.4,
        (&[Span::new(0, 2)], &[2, 3]),
        (&[], &[]),
    );
    assert!(matches!(a.append(2000, &h2), AppendOutcome::Appended));
    let c = a.into_chunk();
    want[1] = 0x02;
    want.truncate(want.len() - 2);
    want.extend_from_slice(&[0x8C, 0x7C, 0x7D, 0x12, 0x22]);
    assert_eq!(c.bytes().as_ref(), want.as_slice());

    let got = decode(&c);
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].0, 1000);
    assert_eq!(got[1].0, 2000);
    assert_eq!(got[0].1, h);
    assert_eq!(got[1].1, h2);
    assert_eq!(got[0].1.counter_reset_hint, CounterResetHint::Unknown);
    assert_eq!(
        got[1].1.counter_reset_hint,
        CounterResetHint::NotCounterReset
    );
}

#[test]
fn counter_reset_cuts_chunk_with_reset_header() {
    let sp = [Span::new(0, 2)];
    let mut a = HistogramAppender::new();
    a.append(1, &hist(0, 0.0, 0, 3.0, (&sp, &[1, 2]), (&[], &[])));
    a.append(2, &hist(0, 0.0, 0, 4.0, (&sp, &[2, 2]), (&[], &[])));
    // Bucket 1 drops from 2 to 1.
    let reset = hist(0, 0.0, 0, 1.0, (&sp, &[3, 1]), (&[], &[]));
    let AppendOutcome::NewChunk(next) = a.append(3, &reset) else {
        panic!("a reset must cut a new chunk");
    };
    assert_eq!(
        next.counter_reset_header(),
        CounterResetHeader::CounterReset
    );
    assert_eq!(a.num_samples(), 2);
    let got = decode(&next.to_chunk());
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].1, reset);
    assert_eq!(
        next.to_chunk()
            .histogram_iter()
            .expect("hist")
            .counter_reset_header(),
        CounterResetHeader::CounterReset
    );
}

#[test]
fn schema_change_cuts_chunk_with_unknown_header() {
    let mut a = HistogramAppender::new();
    a.append(
        1,
        &hist(1, 0.0, 0, 1.0, (&[Span::new(0, 1)], &[1]), (&[], &[])),
    );
    let h = hist(0, 0.0, 0, 1.0, (&[Span::new(0, 1)], &[1]), (&[], &[]));
    let AppendOutcome::NewChunk(next) = a.append(2, &h) else {
        panic!("a schema change must cut a new chunk");
    };
    assert_eq!(next.counter_reset_header(), CounterResetHeader::Unknown);
    // Append-only refuses instead.
    let mut a2 = HistogramAppender::new();
    a2.append(
        1,
        &hist(1, 0.0, 0, 1.0, (&[Span::new(0, 1)], &[1]), (&[], &[])),
    );
    assert_eq!(
        a2.append_only(2, &h),
        Err(HistogramAppendError::SchemaChange { kind: "histogram" })
    );
    assert_eq!(a2.num_samples(), 1);
}

#[test]
fn new_bucket_recodes_chunk() {
    let mut a = HistogramAppender::new();
    let h1 = hist(
        0,
        0.0,
        0,
        1.0,
        (&[Span::new(0, 1), Span::new(2, 1)], &[1, 2]),
        (&[], &[]),
    );
    let h2 = hist(
        0,
        0.0,
        0,
        2.0,
        (&[Span::new(0, 1), Span::new(2, 1)], &[2, 3]),
        (&[], &[]),
    );
    a.append(10, &h1);
    a.append(20, &h2);
    // Buckets 0 and 3 stay; bucket 1 (between the spans) and bucket 5 (after them) appear.
    let h3 = hist(
        0,
        0.0,
        0,
        3.0,
        (
            &[Span::new(0, 2), Span::new(1, 1), Span::new(1, 1)],
            &[2, 1, 3, 4],
        ),
        (&[], &[]),
    );
    let AppendOutcome::Recoded(r) = a.append(30, &h3) else {
        panic!("new buckets must recode");
    };
    assert_eq!(r.num_samples(), 3);
    let got = decode(&r.to_chunk());
    assert_eq!(got.len(), 3);
    // The recoded chunk takes the new histogram's layout (buckets 0, 1, 3, 5).
    assert_eq!(got[0].1.positive_spans, h3.positive_spans);
    for ((t, h), (wt, w)) in got.iter().zip([(10, &h1), (20, &h2), (30, &h3)]) {
        assert_eq!(*t, wt);
        assert_eq!(meaning(h), meaning(w));
    }
    // A later histogram missing the (empty) new bucket still fits: backward insert.
    let mut r = r;
    let h4 = hist(
        0,
        0.0,
        0,
        4.0,
        (
            &[Span::new(0, 2), Span::new(1, 1), Span::new(1, 1)],
            &[2, 1, 3, 4],
        ),
        (&[], &[]),
    );
    assert!(matches!(r.append(40, &h4), AppendOutcome::Appended));
}

#[test]
fn stale_marker_round_trips_and_only_stale_may_follow() {
    let sp = [Span::new(0, 1)];
    let mut a = HistogramAppender::new();
    a.append(1, &hist(0, 0.0, 0, 1.0, (&sp, &[1]), (&[], &[])));
    let stale = Histogram {
        sum: STALE_NAN,
        ..Default::default()
    };
    assert!(matches!(a.append(2, &stale), AppendOutcome::Appended));
    assert!(matches!(a.append(3, &stale), AppendOutcome::Appended));
    let got = decode(&a.to_chunk());
    assert_eq!(got.len(), 3);
    assert!(strata_model::is_stale_nan(got[1].1.sum));
    assert!(got[1].1.positive_buckets.is_empty());
    assert!(matches!(
        a.append(4, &hist(0, 0.0, 0, 1.0, (&sp, &[1]), (&[], &[]))),
        AppendOutcome::NewChunk(_)
    ));
}

#[test]
fn gauge_histograms_share_a_chunk_despite_decreases() {
    let mut a = HistogramAppender::new();
    let mut g1 = hist(0, 0.0, 3, 5.0, (&[Span::new(0, 2)], &[4, 1]), (&[], &[]));
    g1.counter_reset_hint = CounterResetHint::Gauge;
    let mut g2 = hist(0, 0.0, 1, -2.0, (&[Span::new(1, 2)], &[1, 7]), (&[], &[]));
    g2.counter_reset_hint = CounterResetHint::Gauge;
    a.append(1, &g1);
    assert_eq!(a.counter_reset_header(), CounterResetHeader::Gauge);
    // g2 lacks bucket 0 and adds bucket 2: both ways, so the chunk is recoded.
    let AppendOutcome::Recoded(r) = a.append(2, &g2) else {
        panic!("new gauge buckets recode")
    };
    assert_eq!(r.counter_reset_header(), CounterResetHeader::Gauge);
    let got = decode(&r.to_chunk());
    assert_eq!(meaning(&got[0].1), meaning(&g1));
    assert_eq!(meaning(&got[1].1), meaning(&g2));
    assert!(got
        .iter()
        .all(|(_, h)| h.counter_reset_hint == CounterResetHint::Gauge));
    // A counter histogram after gauges starts a new chunk.
    let mut r = r;
    assert!(matches!(
        r.append(3, &hist(0, 0.0, 0, 1.0, (&[], &[]), (&[], &[]))),
        AppendOutcome::NewChunk(_)
    ));
}

#[test]
fn prev_appender_decides_new_chunk_header() {
    let sp = [Span::new(0, 1)];
    let mut a = HistogramAppender::new();
    a.append(1, &hist(0, 0.0, 0, 1.0, (&sp, &[5]), (&[], &[])));
    let mut b = HistogramAppender::new();
    b.append_after(Some(&a), 2, &hist(0, 0.0, 0, 1.0, (&sp, &[6]), (&[], &[])));
    assert_eq!(
        b.counter_reset_header(),
        CounterResetHeader::NotCounterReset
    );
    let mut c = HistogramAppender::new();
    c.append_after(Some(&a), 2, &hist(0, 0.0, 0, 1.0, (&sp, &[4]), (&[], &[])));
    assert_eq!(c.counter_reset_header(), CounterResetHeader::CounterReset);
}

#[test]
fn custom_buckets_layout_round_trips() {
    let mut h = hist(
        -53,
        0.0,
        0,
        7.5,
        (&[Span::new(0, 3)], &[1, 0, 4]),
        (&[], &[]),
    );
    // 1e-7 * 1000 is not whole: stored as raw float bits rather than a varbit.
    h.custom_values = vec![1e-7, 0.25, 1.0];
    h.validate().expect("valid nhcb");
    let mut a = HistogramAppender::new();
    a.append(5, &h);
    let mut h2 = h.clone();
    h2.custom_values = vec![1e-7, 0.5, 1.0];
    // Different bounds are a counter reset (Prometheus's rule).
    let AppendOutcome::NewChunk(n) = a.append(6, &h2) else {
        panic!("bounds change must cut")
    };
    assert_eq!(n.counter_reset_header(), CounterResetHeader::CounterReset);
    assert_eq!(decode(&a.to_chunk())[0].1, h);
    assert_eq!(
        decode(&n.to_chunk())[0].1.custom_values,
        vec![1e-7, 0.5, 1.0]
    );
}

#[test]
fn reserved_schema_is_reduced_and_unknown_rejected() {
    // Schema 9 buckets 0..4 reduce to schema 8 buckets (idx-1)>>1 + 1: 0→0, 1→1, 2→1, 3→2.
    let h = hist(
        9,
        0.0,
        0,
        1.0,
        (&[Span::new(0, 4)], &[1, 2, 3, 4]),
        (&[], &[]),
    );
    let mut a = HistogramAppender::new();
    a.append(1, &h);
    let got = decode(&a.to_chunk());
    assert_eq!(got[0].1.schema, 8);
    let m = meaning(&got[0].1);
    assert_eq!(m.positive, BTreeMap::from([(0, 1), (1, 5), (2, 4)]));
    // Schema 60 is not known: the iterator reports it.
    let mut a = HistogramAppender::new();
    a.append(1, &hist(60, 0.0, 0, 1.0, (&[], &[]), (&[], &[])));
    let c = a.to_chunk();
    let mut it = c.histogram_iter().expect("hist");
    assert!(it.next().is_none());
    assert!(matches!(it.err(), Some(HistogramChunkError::Schema(_))));
}

#[test]
fn next_into_reuses_buffers_and_matches_next() {
    let sp = [Span::new(-2, 3)];
    let mut a = HistogramAppender::new();
    for i in 0..5u64 {
        a.append(
            i as i64 * 10,
            &hist(2, 0.0, i, i as f64, (&sp, &[i, i + 1, 2 * i]), (&[], &[])),
        );
    }
    a.append(
        50,
        &Histogram {
            sum: STALE_NAN,
            ..Default::default()
        },
    );
    let c = a.into_chunk();
    let want = decode(&c);
    let mut it = c.histogram_iter().expect("hist");
    let mut h = Histogram::default();
    let mut fit = c.histogram_iter().expect("hist");
    let mut f = strata_model::FloatHistogram::default();
    for (wt, wh) in &want {
        assert_eq!(it.next_into(&mut h), Some(*wt));
        assert_eq!(&h, wh);
        assert_eq!(h.counter_reset_hint, wh.counter_reset_hint);
        assert_eq!(fit.next_float_into(&mut f), Some(*wt));
        if strata_model::is_stale_nan(wh.sum) {
            assert!(strata_model::is_stale_nan(f.sum) && f.positive_buckets.is_empty());
        } else {
            assert_eq!(f, wh.to_float());
            assert_eq!(f.counter_reset_hint, wh.counter_reset_hint);
        }
    }
    assert_eq!(it.next_into(&mut h), None);
    assert_eq!(it.err(), None);
}

#[test]
fn wrong_encoding_and_short_chunks_are_errors() {
    let x = crate::encode_xor(&[strata_model::Sample::new(1, 1.0)]);
    assert!(matches!(
        x.histogram_iter(),
        Err(ChunkError::WrongEncoding { .. })
    ));
    let c = Chunk::new(Encoding::Histogram, Bytes::from_static(&[0, 1])).expect("2 bytes");
    let mut it = c.histogram_iter().expect("hist");
    assert!(it.next().is_none());
    assert_eq!(it.err(), Some(&HistogramChunkError::TooShort(2)));
}

/// Spans with the given gaps and lengths; the first offset may be negative.
pub(crate) fn spans_strategy() -> impl Strategy<Value = Vec<Span>> {
    prop::collection::vec((0i32..4, 0u32..5), 0..4).prop_flat_map(|v| {
        (-20i32..20).prop_map(move |first| {
            v.iter()
                .enumerate()
                .map(|(i, &(o, l))| Span::new(if i == 0 { first } else { o }, l))
                .collect::<Vec<Span>>()
        })
    })
}

fn n_buckets(s: &[Span]) -> usize {
    s.iter().map(|x| x.length as usize).sum()
}

/// A layout: schema, zero threshold, positive and negative spans.
pub(crate) fn layout_strategy() -> impl Strategy<Value = (i32, f64, Vec<Span>, Vec<Span>)> {
    (
        -4i32..=8,
        prop_oneof![Just(0.0), Just(2f64.powi(-128)), Just(0.001)],
        spans_strategy(),
        spans_strategy(),
    )
}

/// Histograms with one layout whose counts never decrease (so they all fit one chunk).
fn growing_series() -> impl Strategy<Value = Vec<Histogram>> {
    layout_strategy().prop_flat_map(|(schema, zt, ps, ns)| {
        let np = n_buckets(&ps);
        let nn = n_buckets(&ns);
        let step = (
            prop::collection::vec(0u64..50, np),
            prop::collection::vec(0u64..50, nn),
            0u64..10,
            any::<f64>(),
        );
        prop::collection::vec(step, 1..40).prop_map(move |steps| {
            let mut pos = vec![0u64; np];
            let mut neg = vec![0u64; nn];
            let mut zero = 0;
            steps
                .into_iter()
                .map(|(dp, dn, dz, sum)| {
                    pos.iter_mut().zip(&dp).for_each(|(a, d)| *a += d);
                    neg.iter_mut().zip(&dn).for_each(|(a, d)| *a += d);
                    zero += dz;
                    hist(schema, zt, zero, sum, (&ps, &pos), (&ns, &neg))
                })
                .collect()
        })
    })
}

/// Arbitrary valid histograms with random layouts (counts may go down).
pub(crate) fn any_hist() -> impl Strategy<Value = Histogram> {
    layout_strategy().prop_flat_map(|(schema, zt, ps, ns)| {
        let np = n_buckets(&ps);
        let nn = n_buckets(&ns);
        (
            prop::collection::vec(0u64..1000, np),
            prop::collection::vec(0u64..1000, nn),
            0u64..100,
            prop_oneof![any::<f64>(), Just(STALE_NAN)],
            prop::sample::select(vec![
                CounterResetHint::Unknown,
                CounterResetHint::NotCounterReset,
                CounterResetHint::CounterReset,
                CounterResetHint::Gauge,
            ]),
        )
            .prop_map(move |(p, n, z, sum, hint)| {
                let mut h = hist(schema, zt, z, sum, (&ps, &p), (&ns, &n));
                h.counter_reset_hint = hint;
                h
            })
    })
}

/// Feeds histograms through appenders as the head would, returning the finished chunks.
fn append_all(hs: &[(i64, Histogram)]) -> Vec<Chunk> {
    let mut chunks = Vec::new();
    let mut app = HistogramAppender::new();
    for (t, h) in hs {
        match app.append(*t, h) {
            AppendOutcome::Appended => {}
            AppendOutcome::NewChunk(n) => chunks.push(std::mem::replace(&mut app, n).into_chunk()),
            AppendOutcome::Recoded(r) => app = r,
        }
    }
    chunks.push(app.into_chunk());
    chunks
}

proptest! {
    #[test]
    fn constant_layout_round_trips_in_one_chunk(hs in growing_series(), start in -1_000_000i64..1_000_000, gaps in prop::collection::vec(1i64..100_000, 40)) {
        let mut t = start;
        let series: Vec<(i64, Histogram)> = hs.into_iter().enumerate().map(|(i, h)| { t += gaps[i]; (t, h) }).collect();
        for (_, h) in &series { prop_assert_eq!(h.validate(), Ok(())); }
        let chunks = append_all(&series);
        prop_assert_eq!(chunks.len(), 1);
        let got = decode(&chunks[0]);
        prop_assert_eq!(got.len(), series.len());
        for (i, ((gt, gh), (wt, wh))) in got.iter().zip(&series).enumerate() {
            prop_assert_eq!(gt, wt);
            prop_assert_eq!(gh, wh);
            let want_hint = if i == 0 { CounterResetHint::Unknown } else { CounterResetHint::NotCounterReset };
            prop_assert_eq!(gh.counter_reset_hint, want_hint);
        }
    }

    #[test]
    fn any_sequence_round_trips_across_chunks(hs in prop::collection::vec(any_hist(), 1..30)) {
        // Drop samples after a stale marker that the appender would move to a new chunk anyway;
        // keep everything: the appender must never lose a sample.
        let series: Vec<(i64, Histogram)> = hs.into_iter().enumerate().map(|(i, h)| (i as i64 * 15_000, h)).collect();
        let chunks = append_all(&series);
        let got: Vec<(i64, Histogram)> = chunks.iter().flat_map(decode).collect();
        prop_assert_eq!(got.len(), series.len());
        for ((gt, gh), (wt, wh)) in got.iter().zip(&series) {
            prop_assert_eq!(gt, wt);
            if strata_model::is_stale_nan(wh.sum) {
                prop_assert!(strata_model::is_stale_nan(gh.sum));
            } else {
                prop_assert_eq!(meaning(gh), meaning(wh));
            }
        }
        // Every chunk starts where a sample could not join the previous one.
        for c in &chunks { prop_assert!(c.num_samples() > 0); }
    }

    #[test]
    fn garbage_never_panics(data in prop::collection::vec(any::<u8>(), 0..300)) {
        if let Ok(c) = Chunk::new(Encoding::Histogram, Bytes::from(data.clone())) {
            let _ = c.histogram_iter().expect("hist").count();
        }
        if let Ok(c) = Chunk::new(Encoding::FloatHistogram, Bytes::from(data)) {
            let _ = c.float_histogram_iter().expect("float hist").count();
        }
    }

    #[test]
    fn truncation_is_reported(hs in growing_series()) {
        let series: Vec<(i64, Histogram)> = hs.into_iter().enumerate().map(|(i, h)| (i as i64, h)).collect();
        let c = append_all(&series).remove(0);
        let cut = Chunk::new(Encoding::Histogram, c.bytes().slice(..c.bytes().len() - 1)).expect("header");
        let mut it = cut.histogram_iter().expect("hist");
        let n = it.by_ref().count();
        // Losing the last byte loses at least the last sample unless it was padding-only.
        if n < series.len() {
            let truncated = matches!(it.err(), Some(HistogramChunkError::Truncated { .. }));
            prop_assert!(truncated, "want a truncation error, got {:?}", it.err());
        }
    }
}
