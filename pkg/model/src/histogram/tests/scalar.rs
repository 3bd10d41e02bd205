//! `mul` and `div` by scalars (IEEE 754 arithmetic on every count, the sum and each bucket; the
//! layout and zero threshold stay; a negative factor makes a gauge, since the result can no
//! longer be a counter), and `reduce_resolution`.

use super::super::*;
use super::{f, fc, identical, to_int, FloatBuild};
use CounterResetHint::{CounterReset, Gauge, NotCounterReset};

const INF: f64 = f64::INFINITY;
const NAN: f64 = f64::NAN;

/// A histogram with every field set, to scale.
fn full() -> FloatHistogram {
    f(1).zero(0.01, 5.5)
        .totals(23.5, -12.25)
        .pos(&[(-2, 1), (2, 3)], &[1.0, 3.5, 4.0, 0.0])
        .neg(&[(3, 2)], &[3.0, 6.5])
        .hint(NotCounterReset)
}

/// `full()` with counts, sum and buckets replaced by `g` of each (layout, threshold, hint kept).
fn full_mapped(g: impl Fn(f64) -> f64) -> FloatHistogram {
    let h = full();
    let pb: Vec<f64> = h.positive_buckets.iter().map(|&v| g(v)).collect();
    let nb: Vec<f64> = h.negative_buckets.iter().map(|&v| g(v)).collect();
    f(1).zero(0.01, g(5.5))
        .totals(g(23.5), g(-12.25))
        .pos(&[(-2, 1), (2, 3)], &pb)
        .neg(&[(3, 2)], &nb)
        .hint(NotCounterReset)
}

/// (name, histogram, factor or divisor, expected).
type Case = (&'static str, FloatHistogram, f64, FloatHistogram);

fn mul_cases() -> Vec<Case> {
    vec![
        // 0 times anything is 0.
        ("empty", f(0), 7.25, f(0)),
        // Multiplying by 0 zeroes every count but keeps the buckets (now empty) and spans.
        ("by zero", full(), 0.0, full_mapped(|_| 0.0)),
        ("by one", full(), 1.0, full()),
        // Exact in binary: 5.5*2 = 11, -12.25*2 = -24.5, and so on.
        ("by two", full(), 2.0, full_mapped(|v| v * 2.0)),
        ("by a half", full(), 0.5, full_mapped(|v| v / 2.0)),
        // Negative: every sign flips and the result is a gauge.
        (
            "by minus one",
            full(),
            -1.0,
            full_mapped(|v| -v).hint(Gauge),
        ),
        (
            "by minus three",
            full(),
            -3.0,
            full_mapped(|v| v * -3.0).hint(Gauge),
        ),
        // NaN poisons everything; NaN < 0 is false, so the hint stays.
        ("by NaN", full(), NAN, full_mapped(|_| NAN)),
        // +Inf: positive values become +Inf, the negative sum -Inf, the empty bucket 0*Inf = NaN.
        (
            "by +Inf",
            full(),
            INF,
            full_mapped(|v| {
                if v == 0.0 {
                    NAN
                } else if v < 0.0 {
                    -INF
                } else {
                    INF
                }
            }),
        ),
        // -Inf: signs flip, 0*-Inf is NaN, and it is a gauge.
        (
            "by -Inf",
            full(),
            -INF,
            full_mapped(|v| {
                if v == 0.0 {
                    NAN
                } else if v < 0.0 {
                    INF
                } else {
                    -INF
                }
            })
            .hint(Gauge),
        ),
        // Custom bounds are bounds, not counts: unchanged.
        (
            "custom buckets",
            fc(&[1.0, 2.5])
                .totals(6.0, 7.0)
                .pos(&[(0, 1), (1, 1)], &[2.0, 4.0])
                .hint(CounterReset),
            3.0,
            fc(&[1.0, 2.5])
                .totals(18.0, 21.0)
                .pos(&[(0, 1), (1, 1)], &[6.0, 12.0])
                .hint(CounterReset),
        ),
    ]
}

fn div_cases() -> Vec<Case> {
    vec![
        ("empty", f(0), 7.25, f(0)),
        ("by one", full(), 1.0, full()),
        ("by two", full(), 2.0, full_mapped(|v| v / 2.0)),
        ("by a quarter", full(), 0.25, full_mapped(|v| v * 4.0)),
        (
            "by minus two",
            full(),
            -2.0,
            full_mapped(|v| v / -2.0).hint(Gauge),
        ),
        // Division by zero: counts become ±Inf (sign of the dividend) and all buckets go, as no
        // bucket count is meaningful any more. The hint stays.
        (
            "by zero",
            full(),
            0.0,
            f(1).zero(0.01, INF).totals(INF, -INF).hint(NotCounterReset),
        ),
        // -0.0 is zero too; the signs flip.
        (
            "by negative zero",
            full(),
            -0.0,
            f(1).zero(0.01, -INF)
                .totals(-INF, INF)
                .hint(NotCounterReset),
        ),
        // 0/0 is NaN.
        (
            "empty by zero",
            f(0),
            0.0,
            f(0).zero(0.0, NAN).totals(NAN, NAN),
        ),
        ("by NaN", full(), NAN, full_mapped(|_| NAN)),
        // Finite / Inf is 0 (with the dividend's sign, which compares equal to 0).
        ("by +Inf", full(), INF, full_mapped(|_| 0.0)),
        ("by -Inf", full(), -INF, full_mapped(|_| 0.0).hint(Gauge)),
        (
            "custom buckets",
            fc(&[1.0]).totals(6.0, 9.0).pos(&[(0, 2)], &[2.0, 4.0]),
            2.0,
            fc(&[1.0]).totals(3.0, 4.5).pos(&[(0, 2)], &[1.0, 2.0]),
        ),
    ]
}

#[test]
fn mul_cases_scale_everything() {
    let cases = mul_cases();
    assert!(cases.len() >= 11);
    for (name, mut h, factor, want) in cases {
        h.mul(factor);
        assert!(identical(&h, &want), "{name}: got {h:?}\nwant {want:?}");
    }
}

#[test]
fn div_cases_scale_everything() {
    let cases = div_cases();
    assert!(cases.len() >= 12);
    for (name, mut h, scalar, want) in cases {
        h.div(scalar);
        assert!(identical(&h, &want), "{name}: got {h:?}\nwant {want:?}");
    }
}

/// (name, histogram, target schema, expected, error message or "").
type ReduceCase = (
    &'static str,
    FloatHistogram,
    i32,
    Option<FloatHistogram>,
    &'static str,
);

/// From schema `s` to `t`, bucket `i` goes to `((i - 1) >> (s - t)) + 1`: for 2 -> 0 indices
/// -3..=0 go to 0, 1..=4 to 1, 5..=8 to 2 (e.g. schema-2 bucket 5 is (2^(4/4), 2^(5/4)] =
/// (2, 2.38], inside schema-0 bucket 2 = (2, 4]).
fn reduce_cases() -> Vec<ReduceCase> {
    let spans_need_more =
        "have 2 buckets but spans need more: histogram spans specify different number of buckets than provided";
    vec![
        // Positive -3..=0 sum to 10 at 0, 1 stays alone at 1, 5..=8 sum to 30 at 2. Negative -4
        // goes to -1: ((-5) >> 2) + 1. Counts, sum and zero bucket are untouched.
        (
            "schema 2 to 0",
            f(2).zero(0.001, 1.0)
                .totals(53.0, 8.0)
                .pos(&[(-3, 5), (3, 4)], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0])
                .neg(&[(-4, 1)], &[7.0]),
            0,
            Some(
                f(0).zero(0.001, 1.0)
                    .totals(53.0, 8.0)
                    .pos(&[(0, 3)], &[10.0, 5.0, 30.0])
                    .neg(&[(-1, 1)], &[7.0]),
            ),
            "",
        ),
        // Index 0 goes to 0 and 9 to ((9 - 1) >> 2) + 1 = 3: the gap shrinks from 8 to 2.
        (
            "gap shrinks",
            f(2).totals(3.0, 0.0).pos(&[(0, 1), (8, 1)], &[1.0, 2.0]),
            0,
            Some(f(0).totals(3.0, 0.0).pos(&[(0, 1), (2, 1)], &[1.0, 2.0])),
            "",
        ),
        // Schema 1 to -1 is also a shift by 2: indices 1..=4 all go to 1.
        (
            "schema 1 to -1",
            f(1).totals(4.0, 0.0).pos(&[(1, 4)], &[1.0, 1.0, 1.0, 1.0]),
            -1,
            Some(f(-1).totals(4.0, 0.0).pos(&[(1, 1)], &[4.0])),
            "",
        ),
        // One step: 0 goes to 0 and 1 to 1; adjacent spans join into one.
        (
            "schema 3 to 2, nothing merges",
            f(3).totals(3.0, 0.0).pos(&[(0, 1), (0, 1)], &[1.0, 2.0]),
            2,
            Some(f(2).totals(3.0, 0.0).pos(&[(0, 2)], &[1.0, 2.0])),
            "",
        ),
        // Schema 1 to 0: -2 -> -1, -1 -> 0; the zero-length span moves nothing; 3, 4 -> 2.
        (
            "negative indices and a zero-length span",
            f(1).totals(10.0, 0.0).pos(&[(-2, 2), (0, 0), (3, 2)], &[1.0, 2.0, 3.0, 4.0]),
            0,
            Some(f(0).totals(10.0, 0.0).pos(&[(-1, 2), (1, 1)], &[1.0, 2.0, 7.0])),
            "",
        ),
        // Reserved schema 12 (finer than Prometheus keeps) to 8: 16 buckets 1..=16 into 1.
        (
            "reserved schema 12 to 8",
            f(12).totals(16.0, 0.0).pos(&[(1, 16)], &[1.0; 16]),
            8,
            Some(f(8).totals(16.0, 0.0).pos(&[(1, 1)], &[16.0])),
            "",
        ),
        // Empty stays empty, only the schema changes.
        ("empty", f(3), 0, Some(f(0)), ""),
        ("same schema", f(0), 0, None, "cannot reduce resolution from schema 0 to 0"),
        ("higher schema", f(0), 1, None, "cannot reduce resolution from schema 0 to 1"),
        (
            "custom buckets",
            fc(&[1.0]).pos(&[(0, 1)], &[1.0]),
            0,
            None,
            "cannot reduce resolution when there are custom buckets",
        ),
        (
            "to custom buckets",
            f(2),
            CUSTOM_BUCKETS_SCHEMA,
            None,
            "cannot reduce resolution to custom buckets schema",
        ),
        (
            "not enough buckets",
            f(1).pos(&[(0, 3)], &[1.0, 2.0]),
            0,
            None,
            spans_need_more,
        ),
        (
            "too many buckets",
            f(1).pos(&[(0, 2)], &[1.0, 2.0, 3.0]),
            0,
            None,
            "spans need 2 buckets, have 3 buckets: histogram spans specify different number of buckets than provided",
        ),
        (
            "negative offset in a later span",
            f(1).pos(&[(0, 2), (-1, 1)], &[1.0, 2.0, 3.0]),
            0,
            None,
            "span number 2 with offset -1: histogram has a span whose offset is negative",
        ),
        // The negative side is checked too.
        (
            "negative side, not enough buckets",
            f(1).neg(&[(0, 3)], &[1.0, 2.0]),
            0,
            None,
            spans_need_more,
        ),
    ]
}

/// Each case runs on the float histogram and on the integer one with the same counts, whose
/// merged deltas must describe the same merged counts. On error neither changes.
#[test]
fn reduce_resolution_cases() {
    let cases = reduce_cases();
    assert!(cases.len() >= 15);
    for (name, h, target, want, err) in cases {
        let mut got = h.clone();
        match got.reduce_resolution(target) {
            Err(e) => {
                assert_eq!(e.to_string(), err, "{name}");
                assert!(identical(&got, &h), "{name}: changed on error");
            }
            Ok(()) => {
                assert_eq!(err, "", "{name}: expected an error");
                let want = want.as_ref().expect("a result");
                assert!(identical(&got, want), "{name}: got {got:?}\nwant {want:?}");
            }
        }

        let orig = to_int(&h);
        let mut got = orig.clone();
        match got.reduce_resolution(target) {
            Err(e) => {
                assert_eq!(e.to_string(), err, "{name} (int)");
                assert_eq!(got.positive_buckets, orig.positive_buckets, "{name} (int)");
                assert_eq!(got.schema, orig.schema, "{name} (int)");
            }
            Ok(()) => {
                let want = to_int(&want.expect("a result"));
                assert_eq!(got.schema, want.schema, "{name} (int)");
                assert_eq!(got.positive_spans, want.positive_spans, "{name} (int)");
                assert_eq!(got.positive_buckets, want.positive_buckets, "{name} (int)");
                assert_eq!(got.negative_spans, want.negative_spans, "{name} (int)");
                assert_eq!(got.negative_buckets, want.negative_buckets, "{name} (int)");
                assert_eq!(
                    (got.count, got.zero_count, got.sum),
                    (want.count, want.zero_count, want.sum),
                    "{name} (int)"
                );
            }
        }
    }
}
