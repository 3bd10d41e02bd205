use proptest::prelude::*;
use strata_model::histogram::{CounterResetHint, FloatHistogram, Span};
use strata_model::STALE_NAN;

use super::*;
use crate::histogram::tests::{any_hist, hist};

fn decode(c: &Chunk) -> Vec<(i64, FloatHistogram)> {
    let mut it = c.float_histogram_iter().expect("float histogram chunk");
    let out: Vec<_> = it.by_ref().collect();
    assert_eq!(it.err(), None);
    out
}

fn zero_only(count: f64, sum: f64) -> FloatHistogram {
    FloatHistogram {
        zero_threshold: 2f64.powi(-128),
        zero_count: count,
        count,
        sum,
        ..Default::default()
    }
}

#[test]
fn golden_bytes_from_format_doc() {
    // Derived by hand from tsdb/docs/format/chunks.md ("Float histogram chunk data"):
    //   header: 1 sample, flags 0
    //   zero_threshold 2^-128 → 0x74
    //   schema 0 → 0; no positive spans → 0; no negative spans → 0
    //   ts 1 → varbit_int 10 001
    //   (8 bits: 0001_0001 = 0x11)
    //   count 3.0, zero_count 3.0, sum 0.5 → 64 raw bits each, byte aligned
    let mut a = FloatHistogramAppender::new();
    a.append(1, &zero_only(3.0, 0.5));
    let mut want = vec![0x00, 0x01, 0x00, 0x74, 0x11];
    for v in [3.0f64, 3.0, 0.5] {
        want.extend_from_slice(&v.to_bits().to_be_bytes());
    }
    assert_eq!(a.to_chunk().bytes().as_ref(), want.as_slice());

    // Sample 1 at ts 2, count 4.0, zero count 3.0, sum 0.5:
    //   ts dod 1 - 0 = 1 → 10 001
    //   count XOR: 3.0 = 0x4008.., 4.0 = 0x4010.. → xor 0x0018_0000_0000_0000: 11 leading
    //     zeros, 51 trailing, 2 significant bits → 1 (changed) 1 (new window) 01011 000010 11
    //   zero count XOR 0 → 0; sum XOR 0 → 0
    //   22 bits: 10001110 10110000 101100(00 padding) = 0x8E 0xB0 0xB0
    let mut h2 = zero_only(4.0, 0.5);
    h2.zero_count = 3.0;
    a.append(2, &h2);
    want[1] = 2;
    want.extend_from_slice(&[0x8E, 0xB0, 0xB0]);
    let c = a.into_chunk();
    assert_eq!(c.bytes().as_ref(), want.as_slice());
    let got = decode(&c);
    assert_eq!(got[0], (1, zero_only(3.0, 0.5)));
    assert_eq!(got[1].1, h2);
}

#[test]
fn same_layout_as_integer_chunks() {
    // The layout part is shared: an integer and a float chunk of the same histogram agree on
    // every byte up to the first sample.
    let h = hist(
        2,
        0.001,
        1,
        3.25,
        (&[Span::new(-3, 2), Span::new(1, 1)], &[1, 2, 3]),
        (&[Span::new(0, 1)], &[4]),
    );
    let mut ia = crate::HistogramAppender::new();
    ia.append(7, &h);
    let mut fa = FloatHistogramAppender::new();
    fa.append(7, &h.to_float());
    let ib = ia.to_chunk();
    let fb = fa.to_chunk();
    // Header (3) + zero threshold (9) = 12 whole bytes; both then continue with the same
    // schema/spans/timestamp bits (the integer chunk writes count as varbit_uint next, the
    // float chunk 64 raw bits), so compare the first 12 bytes exactly.
    assert_eq!(ib.bytes()[..12], fb.bytes()[..12]);
    assert_eq!(decode(&fb)[0].1, h.to_float());
}

#[test]
fn counter_reset_and_recoding() {
    let sp = [Span::new(0, 2)];
    let mut a = FloatHistogramAppender::new();
    a.append(
        1,
        &hist(0, 0.0, 0, 1.0, (&sp, &[1, 2]), (&[], &[])).to_float(),
    );
    let reset = hist(0, 0.0, 0, 1.0, (&sp, &[0, 2]), (&[], &[])).to_float();
    let AppendOutcome::NewChunk(n) = a.append(2, &reset) else {
        panic!("reset must cut")
    };
    assert_eq!(n.counter_reset_header(), CounterResetHeader::CounterReset);
    let mut n = n;
    let wider = hist(0, 0.0, 0, 1.0, (&[Span::new(0, 3)], &[0, 2, 9]), (&[], &[])).to_float();
    let AppendOutcome::Recoded(r) = n.append(3, &wider) else {
        panic!("new bucket must recode")
    };
    assert_eq!(r.counter_reset_header(), CounterResetHeader::CounterReset);
    let got = decode(&r.to_chunk());
    assert_eq!(got[0].1.positive_buckets, vec![0.0, 2.0, 0.0]);
    assert_eq!(got[1].1, wider);
    assert_eq!(
        n.append_only(4, &wider),
        Err(HistogramAppendError::LayoutChange {
            kind: "float histogram",
            positive: 1,
            negative: 0,
            direction: "forwards"
        })
    );
}

#[test]
fn stale_marker_round_trips() {
    let mut a = FloatHistogramAppender::new();
    a.append(1, &zero_only(3.0, 0.5));
    let stale = FloatHistogram {
        sum: STALE_NAN,
        ..Default::default()
    };
    a.append(2, &stale);
    let got = decode(&a.to_chunk());
    assert!(strata_model::is_stale_nan(got[1].1.sum));
    assert!(matches!(
        a.append(3, &zero_only(4.0, 1.0)),
        AppendOutcome::NewChunk(_)
    ));
}

fn append_all(hs: &[(i64, FloatHistogram)]) -> Vec<Chunk> {
    let mut chunks = Vec::new();
    let mut app = FloatHistogramAppender::new();
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

/// Non-empty buckets by index, with bit patterns, so NaN and -0.0 compare exactly.
fn populated(it: impl Iterator<Item = strata_model::histogram::Bucket<f64>>) -> Vec<(i32, u64)> {
    it.filter(|b| b.count != 0.0)
        .map(|b| (b.index, b.count.to_bits()))
        .collect()
}

proptest! {
    #[test]
    fn any_sequence_round_trips_across_chunks(hs in prop::collection::vec(any_hist(), 1..30), scale in prop_oneof![Just(1.0), Just(0.1), Just(1e300)]) {
        let series: Vec<(i64, FloatHistogram)> = hs.iter().enumerate().map(|(i, h)| {
            let mut f = h.to_float();
            if !strata_model::is_stale_nan(f.sum) { f.mul(scale); }
            f.counter_reset_hint = h.counter_reset_hint;
            (i as i64 * 1000 - 5000, f)
        }).collect();
        let chunks = append_all(&series);
        let got: Vec<(i64, FloatHistogram)> = chunks.iter().flat_map(decode).collect();
        prop_assert_eq!(got.len(), series.len());
        for ((gt, gh), (wt, wh)) in got.iter().zip(&series) {
            prop_assert_eq!(gt, wt);
            if strata_model::is_stale_nan(wh.sum) {
                prop_assert!(strata_model::is_stale_nan(gh.sum));
                continue;
            }
            prop_assert_eq!(gh.count.to_bits(), wh.count.to_bits());
            prop_assert_eq!(gh.zero_count.to_bits(), wh.zero_count.to_bits());
            prop_assert_eq!(gh.sum.to_bits(), wh.sum.to_bits());
            prop_assert_eq!(gh.schema, wh.schema);
            prop_assert_eq!(populated(gh.positive_buckets_iter()), populated(wh.positive_buckets_iter()));
            prop_assert_eq!(populated(gh.negative_buckets_iter()), populated(wh.negative_buckets_iter()));
        }
    }

    #[test]
    fn same_layout_stays_in_one_chunk(n in 1usize..60, buckets in prop::collection::vec(0.0f64..1e6, 3)) {
        let sp = [Span::new(1, 3)];
        let mut series = Vec::new();
        let mut b = buckets.clone();
        for i in 0..n {
            b.iter_mut().for_each(|x| *x += i as f64 * 0.5);
            let h = FloatHistogram {
                schema: 3,
                count: b.iter().sum(),
                sum: i as f64,
                positive_spans: sp.to_vec(),
                positive_buckets: b.clone(),
                ..Default::default()
            };
            series.push((i as i64 * 60_000, h));
        }
        let chunks = append_all(&series);
        prop_assert_eq!(chunks.len(), 1);
        let got = decode(&chunks[0]);
        for (i, ((gt, gh), (wt, wh))) in got.iter().zip(&series).enumerate() {
            prop_assert_eq!(gt, wt);
            prop_assert_eq!(gh, wh);
            let hint = if i == 0 { CounterResetHint::Unknown } else { CounterResetHint::NotCounterReset };
            prop_assert_eq!(gh.counter_reset_hint, hint);
        }
    }
}
