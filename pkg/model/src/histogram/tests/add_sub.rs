//! `add`, `sub` and `kahan_add`. Schema-0 bucket `i` is `(2^(i-1), 2^i]`; schema 1 splits each
//! in two, so schema-1 indices `2k-1, 2k` fall into schema-0 index `k`; schema 2 maps
//! `4k-3..=4k` to `k`. Results are compared after `compact(0)`, since where a sum leaves empty
//! buckets or adjacent spans is layout detail, not meaning.

use super::super::*;
use super::{f, fc, identical, FloatBuild};
use CounterResetHint::{CounterReset, Gauge, NotCounterReset, Unknown};

/// (name, a, b, expected a+b (None on error), error message, collision, bounds reconciled).
type Case = (
    &'static str,
    FloatHistogram,
    FloatHistogram,
    Option<FloatHistogram>,
    &'static str,
    bool,
    bool,
);

const MIXED: &str =
    "cannot apply this operation on histograms with a mix of exponential and custom bucket schemas";

fn ok(name: &'static str, a: FloatHistogram, b: FloatHistogram, want: FloatHistogram) -> Case {
    (name, a, b, Some(want), "", false, false)
}

/// Cases for `add`; each also runs with the operands swapped, since addition commutes (the
/// resulting hint rules are symmetric too).
fn add_cases() -> Vec<Case> {
    vec![
        // Bucket by bucket: 1+3, 2+4; negative 3+1; zero 1+2; count and sum add.
        ok(
            "same layout",
            f(0).zero(0.01, 1.0)
                .totals(7.0, 2.5)
                .pos(&[(0, 2)], &[1.0, 2.0])
                .neg(&[(0, 1)], &[3.0]),
            f(0).zero(0.01, 2.0)
                .totals(10.0, 1.5)
                .pos(&[(0, 2)], &[3.0, 4.0])
                .neg(&[(0, 1)], &[1.0]),
            f(0).zero(0.01, 3.0)
                .totals(17.0, 4.0)
                .pos(&[(0, 2)], &[4.0, 6.0])
                .neg(&[(0, 1)], &[4.0]),
        ),
        // Indices 0,1,3 in both, written with split and zero-length spans in b.
        ok(
            "same layout, spans written differently",
            f(0).totals(6.0, 1.0)
                .pos(&[(0, 2), (1, 1)], &[1.0, 2.0, 3.0]),
            f(0).totals(3.0, 1.0)
                .pos(&[(0, 1), (0, 1), (0, 0), (1, 1)], &[1.0, 1.0, 1.0]),
            f(0).totals(9.0, 2.0)
                .pos(&[(0, 2), (1, 1)], &[2.0, 3.0, 4.0]),
        ),
        // a holds -2,-1 and b holds 1,2: the union has a gap of one bucket (index 0).
        ok(
            "disjoint spans",
            f(0).totals(3.0, 1.0).pos(&[(-2, 2)], &[1.0, 2.0]),
            f(0).totals(7.0, 2.0).pos(&[(1, 2)], &[3.0, 4.0]),
            f(0).totals(10.0, 3.0)
                .pos(&[(-2, 2), (1, 2)], &[1.0, 2.0, 3.0, 4.0]),
        ),
        // a: 0,1,2; b: -1,0 and 3,4. Union -1..4 without gaps: 2, 1+2, 1, 1, 2, 2.
        ok(
            "overlapping spans",
            f(0).totals(3.0, 0.0).pos(&[(0, 3)], &[1.0, 1.0, 1.0]),
            f(0).totals(8.0, 0.0)
                .pos(&[(-1, 2), (2, 2)], &[2.0, 2.0, 2.0, 2.0]),
            f(0).totals(11.0, 0.0)
                .pos(&[(-1, 6)], &[2.0, 3.0, 1.0, 1.0, 2.0, 2.0]),
        ),
        // b's index 1 fills a's gap between 0 and 2: one span.
        ok(
            "bucket fills the gap",
            f(0).totals(11.0, 0.0).pos(&[(0, 1), (1, 1)], &[5.0, 6.0]),
            f(0).totals(7.0, 0.0).pos(&[(1, 1)], &[7.0]),
            f(0).totals(18.0, 0.0).pos(&[(0, 3)], &[5.0, 7.0, 6.0]),
        ),
        // b's buckets land before, between and after a's: -3, (-1 a), 1, (3 a), 5.
        ok(
            "insertions everywhere",
            f(0).totals(2.0, 0.0).pos(&[(-1, 1), (3, 1)], &[1.0, 1.0]),
            f(0).totals(3.0, 0.0)
                .pos(&[(-3, 1), (3, 1), (3, 1)], &[1.0, 1.0, 1.0]),
            f(0).totals(5.0, 0.0).pos(
                &[(-3, 1), (1, 1), (1, 1), (1, 1), (1, 1)],
                &[1.0, 1.0, 1.0, 1.0, 1.0],
            ),
        ),
        // Negative buckets merge the same way: indices 0 and 2.
        ok(
            "negative side",
            f(0).totals(1.0, -1.0).neg(&[(0, 1)], &[1.0]),
            f(0).totals(2.0, -8.0).neg(&[(2, 1)], &[2.0]),
            f(0).totals(3.0, -9.0).neg(&[(0, 1), (1, 1)], &[1.0, 2.0]),
        ),
        // Adding to an empty histogram gives the other one; its zero threshold 0 widens to 0.001
        // (no buckets of the empty one fall inside).
        ok(
            "empty plus something",
            f(0),
            f(0).zero(0.001, 2.0)
                .totals(5.0, 3.0)
                .pos(&[(1, 1)], &[3.0]),
            f(0).zero(0.001, 2.0)
                .totals(5.0, 3.0)
                .pos(&[(1, 1)], &[3.0]),
        ),
        // Schema 1 indices 0..3 hold 1,2,3,4; at schema 0: index 0 <- {-1,0}, 1 <- {1,2},
        // 2 <- {3,4}, so [1, 2+3, 4] at 0..2; plus b's 10 and 20 at 1,2. Negative: schema-1
        // indices -1,0 both go to 0: 1+1, plus b's 3.
        ok(
            "different schemas reduce to the lower",
            f(1).totals(13.0, 1.0)
                .pos(&[(0, 4)], &[1.0, 2.0, 3.0, 4.0])
                .neg(&[(-1, 2)], &[1.0, 1.0]),
            f(0).totals(33.0, 2.0)
                .pos(&[(1, 2)], &[10.0, 20.0])
                .neg(&[(0, 1)], &[3.0]),
            f(0).totals(46.0, 3.0)
                .pos(&[(0, 3)], &[1.0, 15.0, 24.0])
                .neg(&[(0, 1)], &[5.0]),
        ),
        // Schema 2 index 1 goes to schema-0 index 1 and index 8 to 2 (4k-3..=4k -> k); a span
        // gap at schema 2 closes at schema 0.
        ok(
            "schema 2 and schema 0",
            f(2).totals(7.0, 0.0).pos(&[(1, 1), (6, 1)], &[3.0, 4.0]),
            f(0).totals(1.0, 0.0).pos(&[(2, 1)], &[1.0]),
            f(0).totals(8.0, 0.0).pos(&[(1, 2)], &[3.0, 5.0]),
        ),
        // a's zero bucket [-1,1] swallows b's buckets with upper bound <= 1: positive -1 (0.25,
        // 0.5] and 0 (0.5,1], negative 0 [-1,-0.5). Zero count 5 + 1 + 1 + 2 + 4 = 13; b's
        // bucket 1 (1,2] adds to a's: 1+3.
        ok(
            "wider zero bucket absorbs buckets",
            f(0).zero(1.0, 5.0)
                .totals(8.0, 0.0)
                .pos(&[(1, 2)], &[1.0, 2.0]),
            f(0).zero(0.01, 1.0)
                .totals(11.0, 0.0)
                .pos(&[(-1, 3)], &[1.0, 2.0, 3.0])
                .neg(&[(0, 1)], &[4.0]),
            f(0).zero(1.0, 13.0)
                .totals(19.0, 0.0)
                .pos(&[(1, 2)], &[4.0, 2.0]),
        ),
        // a's threshold 0.8 cuts b's populated bucket (0.5,1], so the common threshold grows to
        // its upper bound 1; zero count 2 + (1 + 2 + 1) = 6 (b's zero count, buckets -1 and 0).
        ok(
            "zero threshold inside a populated bucket grows to its bound",
            f(0).zero(0.8, 2.0).totals(3.0, 0.0).pos(&[(1, 1)], &[1.0]),
            f(0).zero(0.01, 1.0)
                .totals(7.0, 0.0)
                .pos(&[(-1, 3)], &[1.0, 2.0, 3.0]),
            f(0).zero(1.0, 6.0).totals(10.0, 0.0).pos(&[(1, 1)], &[4.0]),
        ),
        // Negative side: threshold 0.3 cuts [-0.5,-0.25) holding 2, so it grows to 0.5; the
        // zero count becomes 1 + 2 and bucket 0 [-1,-0.5) stays.
        ok(
            "zero threshold grows on the negative side",
            f(0).zero(0.3, 1.0).totals(1.0, 0.0),
            f(0).totals(7.0, 0.0).neg(&[(-1, 2)], &[2.0, 5.0]),
            f(0).zero(0.5, 3.0).totals(8.0, 0.0).neg(&[(0, 1)], &[5.0]),
        ),
        // An empty bucket cut by the threshold does not widen it: 0.8 stays, and the empty
        // bucket (0.5,1] is not counted.
        ok(
            "empty bucket does not widen the zero bucket",
            f(0).zero(0.8, 2.0).totals(2.0, 0.0),
            f(0).totals(3.0, 0.0).pos(&[(0, 2)], &[0.0, 3.0]),
            f(0).zero(0.8, 2.0).totals(5.0, 0.0).pos(&[(1, 1)], &[3.0]),
        ),
        // Schema 1 with threshold 0.01 meets schema 0 with threshold 1. Schema-1 buckets -1
        // (0.5,0.71] and 0 (0.71,1] go into the zero bucket (4 = 1+1+2), 1 and 2 merge into
        // schema-0 bucket 1: 3+4, plus b's 5.
        ok(
            "schema change and wider zero bucket",
            f(1).zero(0.01, 1.0)
                .totals(11.0, 0.0)
                .pos(&[(-1, 4)], &[1.0, 2.0, 3.0, 4.0]),
            f(0).zero(1.0, 2.0).totals(7.0, 0.0).pos(&[(1, 1)], &[5.0]),
            f(0).zero(1.0, 6.0)
                .totals(18.0, 0.0)
                .pos(&[(1, 1)], &[12.0]),
        ),
        // Hints: Gauge wins over anything.
        ok(
            "gauge and unknown",
            f(0).hint(Gauge).totals(1.0, 1.0),
            f(0).hint(Unknown).totals(1.0, 1.0),
            f(0).hint(Gauge).totals(2.0, 2.0),
        ),
        ok(
            "gauge and not-counter-reset",
            f(0).hint(Gauge),
            f(0).hint(NotCounterReset),
            f(0).hint(Gauge),
        ),
        // Unknown wins over the counter hints, without a collision.
        ok(
            "counter reset and unknown",
            f(0).hint(CounterReset),
            f(0).hint(Unknown),
            f(0).hint(Unknown),
        ),
        // Equal hints stay.
        ok(
            "both counter reset",
            f(0).hint(CounterReset),
            f(0).hint(CounterReset),
            f(0).hint(CounterReset),
        ),
        ok(
            "both not counter reset",
            f(0).hint(NotCounterReset),
            f(0).hint(NotCounterReset),
            f(0).hint(NotCounterReset),
        ),
        // CounterReset meets NotCounterReset: they contradict, so Unknown and a collision.
        (
            "counter reset hint collision",
            f(0).hint(CounterReset).totals(1.0, 0.0),
            f(0).hint(NotCounterReset).totals(2.0, 0.0),
            Some(f(0).hint(Unknown).totals(3.0, 0.0)),
            "",
            true,
            false,
        ),
        // Same bounds: plain bucket addition at indices 0,1,3 + 1,2,3.
        ok(
            "custom buckets, same bounds",
            fc(&[1.0, 2.0, 3.0])
                .totals(6.0, 3.0)
                .pos(&[(0, 2), (1, 1)], &[1.0, 2.0, 3.0]),
            fc(&[1.0, 2.0, 3.0])
                .totals(3.0, 4.0)
                .pos(&[(1, 3)], &[1.0, 1.0, 1.0]),
            fc(&[1.0, 2.0, 3.0])
                .totals(9.0, 7.0)
                .pos(&[(0, 4)], &[1.0, 3.0, 1.0, 4.0]),
        ),
        // Same bounds, disjoint buckets: 0 and 3,4.
        ok(
            "custom buckets, same bounds, disjoint spans",
            fc(&[1.0, 2.0, 3.0, 4.0])
                .totals(2.0, 1.0)
                .pos(&[(0, 1)], &[2.0]),
            fc(&[1.0, 2.0, 3.0, 4.0])
                .totals(9.0, 20.0)
                .pos(&[(3, 2)], &[4.0, 5.0]),
            fc(&[1.0, 2.0, 3.0, 4.0])
                .totals(11.0, 21.0)
                .pos(&[(0, 1), (2, 2)], &[2.0, 4.0, 5.0]),
        ),
        // Bounds {1,2,4} and {2,3,4} share {2,4}: buckets (-Inf,2], (2,4], (4,+Inf). a: 1+2, 3,
        // 4; b: 10, 20+30, 40.
        (
            "custom buckets, partly shared bounds",
            fc(&[1.0, 2.0, 4.0])
                .totals(10.0, 1.0)
                .pos(&[(0, 4)], &[1.0, 2.0, 3.0, 4.0]),
            fc(&[2.0, 3.0, 4.0])
                .totals(100.0, 2.0)
                .pos(&[(0, 4)], &[10.0, 20.0, 30.0, 40.0]),
            Some(
                fc(&[2.0, 4.0])
                    .totals(110.0, 3.0)
                    .pos(&[(0, 3)], &[13.0, 53.0, 44.0]),
            ),
            "",
            false,
            true,
        ),
        // {1,2,3} and {2}: only 2 is shared; a rolls up to 1+1 and 1+1, b stays 5 and 6.
        (
            "custom buckets, one bound set inside the other",
            fc(&[1.0, 2.0, 3.0])
                .totals(4.0, 0.0)
                .pos(&[(0, 4)], &[1.0, 1.0, 1.0, 1.0]),
            fc(&[2.0]).totals(11.0, 0.0).pos(&[(0, 2)], &[5.0, 6.0]),
            Some(fc(&[2.0]).totals(15.0, 0.0).pos(&[(0, 2)], &[7.0, 8.0])),
            "",
            false,
            true,
        ),
        // {1} and {5} share nothing: everything lands in the single (-Inf,+Inf) bucket.
        (
            "custom buckets, no shared bound",
            fc(&[1.0]).totals(3.0, 0.0).pos(&[(0, 2)], &[1.0, 2.0]),
            fc(&[5.0]).totals(3.0, 0.0).pos(&[(0, 1)], &[3.0]),
            Some(fc(&[]).totals(6.0, 0.0).pos(&[(0, 1)], &[6.0])),
            "",
            false,
            true,
        ),
        // Shared {2}: a's bucket (-Inf,1] rolls into (-Inf,2]; b's (3,+Inf] (index 2) into
        // (2,+Inf).
        (
            "custom buckets, shared bound, sparse buckets",
            fc(&[1.0, 2.0]).totals(1.0, 0.0).pos(&[(0, 1)], &[1.0]),
            fc(&[2.0, 3.0]).totals(4.0, 0.0).pos(&[(2, 1)], &[4.0]),
            Some(fc(&[2.0]).totals(5.0, 0.0).pos(&[(0, 2)], &[1.0, 4.0])),
            "",
            false,
            true,
        ),
        // Exponential and custom buckets cannot be combined.
        (
            "exponential and custom",
            f(0).totals(1.0, 0.0).pos(&[(0, 1)], &[1.0]),
            fc(&[1.0]).totals(1.0, 0.0).pos(&[(0, 1)], &[1.0]),
            None,
            MIXED,
            false,
            false,
        ),
    ]
}

/// Cases for `sub`; each also runs as `b - a`, expected to be the negation (same hint).
fn sub_cases() -> Vec<Case> {
    vec![
        // Bucket by bucket: 4-1, 6-2; negative 3-1; zero 5-2.
        ok(
            "same layout",
            f(0).zero(0.01, 5.0)
                .totals(18.0, 10.0)
                .pos(&[(0, 2)], &[4.0, 6.0])
                .neg(&[(0, 1)], &[3.0]),
            f(0).zero(0.01, 2.0)
                .totals(6.0, 4.0)
                .pos(&[(0, 2)], &[1.0, 2.0])
                .neg(&[(0, 1)], &[1.0]),
            f(0).zero(0.01, 3.0)
                .totals(12.0, 6.0)
                .pos(&[(0, 2)], &[3.0, 4.0])
                .neg(&[(0, 1)], &[2.0]),
        ),
        // 3-3 leaves an empty bucket, gone after compaction.
        ok(
            "difference leaves an empty bucket",
            f(0).totals(7.0, 0.0).pos(&[(0, 2)], &[3.0, 4.0]),
            f(0).totals(4.0, 0.0).pos(&[(0, 2)], &[3.0, 1.0]),
            f(0).totals(3.0, 0.0).pos(&[(1, 1)], &[3.0]),
        ),
        // b's bucket 1 is missing in a: it appears with a negative count.
        ok(
            "bucket only in the subtrahend",
            f(0).totals(2.0, 0.0).pos(&[(0, 1)], &[2.0]),
            f(0).totals(1.0, 0.0).pos(&[(1, 1)], &[1.0]),
            f(0).totals(1.0, 0.0).pos(&[(0, 2)], &[2.0, -1.0]),
        ),
        // b at schema 1 reduces to [1, 2+3, 4] at 0..2; a - b = 10-1, 10-5, 0-4.
        ok(
            "different schemas reduce to the lower",
            f(0).totals(20.0, 0.0).pos(&[(0, 2)], &[10.0, 10.0]),
            f(1).totals(10.0, 0.0).pos(&[(0, 4)], &[1.0, 2.0, 3.0, 4.0]),
            f(0).totals(10.0, 0.0).pos(&[(0, 3)], &[9.0, 5.0, -4.0]),
        ),
        // b's zero count at a's threshold 1 is 1 + 2 (bucket (0.5,1]): 10 - 3.
        ok(
            "zero threshold widening",
            f(0).zero(1.0, 10.0).totals(10.0, 0.0),
            f(0).zero(0.01, 1.0).totals(3.0, 0.0).pos(&[(0, 1)], &[2.0]),
            f(0).zero(1.0, 7.0).totals(7.0, 0.0),
        ),
        // Same custom bounds: only bucket 1 changes, 5-2.
        ok(
            "custom buckets, same bounds",
            fc(&[1.0, 2.0])
                .totals(15.0, 0.0)
                .pos(&[(0, 3)], &[5.0, 5.0, 5.0]),
            fc(&[1.0, 2.0]).totals(2.0, 0.0).pos(&[(1, 1)], &[2.0]),
            fc(&[1.0, 2.0])
                .totals(13.0, 0.0)
                .pos(&[(0, 3)], &[5.0, 3.0, 5.0]),
        ),
        // Shared bound {2}: a rolls up to 4+4 and 4+4; minus b's 1 and 1.
        (
            "custom buckets, different bounds",
            fc(&[1.0, 2.0, 3.0])
                .totals(16.0, 0.0)
                .pos(&[(0, 4)], &[4.0, 4.0, 4.0, 4.0]),
            fc(&[2.0]).totals(2.0, 0.0).pos(&[(0, 2)], &[1.0, 1.0]),
            Some(fc(&[2.0]).totals(14.0, 0.0).pos(&[(0, 2)], &[7.0, 7.0])),
            "",
            false,
            true,
        ),
        (
            "counter reset hint collision",
            f(0).hint(NotCounterReset).totals(5.0, 0.0),
            f(0).hint(CounterReset).totals(2.0, 0.0),
            Some(f(0).hint(Unknown).totals(3.0, 0.0)),
            "",
            true,
            false,
        ),
        (
            "custom and exponential",
            fc(&[1.0]).totals(1.0, 0.0).pos(&[(0, 1)], &[1.0]),
            f(0).totals(1.0, 0.0).pos(&[(0, 1)], &[1.0]),
            None,
            MIXED,
            false,
            false,
        ),
    ]
}

fn check_add_case(name: &str, a: &FloatHistogram, b: &FloatHistogram, want: &Case, sub: bool) {
    let (_, _, _, want, err, collision, reconciled) = want;
    assert_eq!(a.validate(), Ok(()), "{name}: a");
    assert_eq!(b.validate(), Ok(()), "{name}: b");
    let mut res = a.clone();
    let b_copy = b.clone();
    let got = if sub { res.sub(b) } else { res.add(b) };
    match got {
        Err(e) => {
            assert_eq!(e.to_string(), *err, "{name}");
            assert!(identical(&res, a), "{name}: changed on error");
        }
        Ok(info) => {
            assert_eq!(*err, "", "{name}: expected an error");
            assert_eq!(
                info.counter_reset_collision, *collision,
                "{name}: collision"
            );
            assert_eq!(
                info.nhcb_bounds_reconciled, *reconciled,
                "{name}: reconciled"
            );
        }
    }
    assert!(identical(b, &b_copy), "{name}: argument changed");
    if let Some(w) = want {
        let mut w = w.clone();
        w.compact(0);
        res.compact(0);
        assert!(identical(&res, &w), "{name}:\n got {res:?}\nwant {w:?}");
    }
}

#[test]
fn add_cases_both_orders() {
    let cases = add_cases();
    assert!(cases.len() >= 28);
    for case in &cases {
        check_add_case(case.0, &case.1, &case.2, case, false);
        check_add_case(
            &format!("{} (swapped)", case.0),
            &case.2,
            &case.1,
            case,
            false,
        );
    }
}

#[test]
fn sub_cases_both_orders() {
    let cases = sub_cases();
    assert!(cases.len() >= 9);
    for case in &cases {
        check_add_case(case.0, &case.1, &case.2, case, true);
        // b - a is the negation of a - b; the hint rules are symmetric.
        let mut neg = case.clone();
        neg.3 = neg.3.map(|mut w| {
            let hint = w.counter_reset_hint;
            w.mul(-1.0).counter_reset_hint = hint;
            w
        });
        check_add_case(
            &format!("{} (swapped)", case.0),
            &case.2,
            &case.1,
            &neg,
            true,
        );
    }
}

/// Kahan-adds `b` into `sum` with compensation `c`, checks the compensation is in `sum`'s layout,
/// and returns it.
fn kahan_step(
    name: &str,
    sum: &mut FloatHistogram,
    b: &FloatHistogram,
    c: Option<FloatHistogram>,
) -> Result<(FloatHistogram, AddInfo), HistogramError> {
    let b_copy = b.clone();
    let before = sum.clone();
    let got = sum.kahan_add(b, c);
    assert!(identical(b, &b_copy), "{name}: argument changed");
    match &got {
        Ok((comp, _)) => {
            assert_eq!(comp.schema, sum.schema, "{name}");
            assert_eq!(comp.zero_threshold, sum.zero_threshold, "{name}");
            assert_eq!(comp.positive_spans, sum.positive_spans, "{name}");
            assert_eq!(comp.negative_spans, sum.negative_spans, "{name}");
            assert_eq!(comp.custom_values, sum.custom_values, "{name}");
            assert_eq!(
                comp.positive_buckets.len(),
                sum.positive_buckets.len(),
                "{name}"
            );
            assert_eq!(
                comp.negative_buckets.len(),
                sum.negative_buckets.len(),
                "{name}"
            );
        }
        Err(_) => assert!(identical(sum, &before), "{name}: changed on error"),
    }
    got
}

/// Every add case through `kahan_add` (both orders): with nothing to compensate, folding the
/// compensation in gives the plain sum.
#[test]
fn kahan_add_matches_add_cases() {
    for case in &add_cases() {
        let (name, a, b, want, err, collision, reconciled) = case;
        for (x, y) in [(a, b), (b, a)] {
            let mut sum = x.clone();
            match kahan_step(name, &mut sum, y, None) {
                Err(e) => assert_eq!(e.to_string(), *err, "{name}"),
                Ok((comp, info)) => {
                    assert_eq!(*err, "", "{name}: expected an error");
                    assert_eq!(info.counter_reset_collision, *collision, "{name}");
                    assert_eq!(info.nhcb_bounds_reconciled, *reconciled, "{name}");
                    sum.add(&comp).expect("compensation has the sum's layout");
                    let mut w = want.clone().expect("a result");
                    w.compact(0);
                    sum.compact(0);
                    assert!(identical(&sum, &w), "{name}:\n got {sum:?}\nwant {w:?}");
                }
            }
        }
    }
}

/// (name, start, histograms to Kahan-add in turn, expected after folding the compensation in).
type KahanCase = (
    &'static str,
    FloatHistogram,
    Vec<FloatHistogram>,
    FloatHistogram,
);

/// Sums whose small terms plain addition loses: at 1e16 the spacing of doubles is 2, so 1e16 + 1
/// rounds back to 1e16 (ties to even), and only compensation keeps the ones.
fn kahan_cases() -> Vec<KahanCase> {
    let one = || f(0).totals(1.0, 1.0).pos(&[(0, 1)], &[1.0]);
    vec![
        // Bucket, count and sum: 1e16 + 1 + 1.
        (
            "same bucket",
            f(0).totals(1e16, 1e16).pos(&[(0, 1)], &[1e16]),
            vec![one(), one()],
            f(0).totals(1e16 + 2.0, 1e16 + 2.0)
                .pos(&[(0, 1)], &[1e16 + 2.0]),
        ),
        // Zero count: 1e16 + 1 + 1.
        (
            "zero count",
            f(0).zero(0.001, 1e16),
            vec![f(0).zero(0.001, 1.0), f(0).zero(0.001, 1.0)],
            f(0).zero(0.001, 1e16 + 2.0),
        ),
        // 1e100 + 1 - 1e100: plain addition gives 0, the compensation keeps the 1.
        (
            "cancellation in the sum",
            f(0).totals(0.0, 1e100),
            vec![f(0).totals(0.0, 1.0), f(0).totals(0.0, -1e100)],
            f(0).totals(0.0, 1.0),
        ),
        // A new bucket (index 1) is inserted between steps; the compensation of bucket 0 must
        // stay with bucket 0: 1e16 + 1 + 1 there, 5 at index 1.
        (
            "layout grows between steps",
            f(0).pos(&[(0, 1)], &[1e16]),
            vec![
                f(0).pos(&[(0, 2)], &[1.0, 5.0]),
                f(0).pos(&[(0, 1)], &[1.0]),
            ],
            f(0).pos(&[(0, 2)], &[1e16 + 2.0, 5.0]),
        ),
        // Schema 1 indices 1 and 2 merge into schema-0 index 1 when the schema-0 histogram
        // arrives; the compensation (1) merges with them: 1e16 + 0 + 1 + 1.
        (
            "schema reduction keeps the compensation",
            f(1).pos(&[(1, 2)], &[1e16, 0.0]),
            vec![f(1).pos(&[(1, 1)], &[1.0]), f(0).pos(&[(1, 1)], &[1.0])],
            f(0).pos(&[(1, 1)], &[1e16 + 2.0]),
        ),
        // Widening the zero bucket to 0.5 moves bucket -1 (0.25,0.5] into it, compensation
        // included: 1e16 + 1 (second zero count) + 1 (bucket) + 2 (third zero count).
        (
            "zero bucket widening keeps the compensation",
            f(0).zero(0.001, 1e16).pos(&[(-1, 1)], &[1.0]),
            vec![f(0).zero(0.001, 1.0), f(0).zero(0.5, 2.0)],
            f(0).zero(0.5, 1e16 + 4.0),
        ),
        // Custom bounds {1,2} then {1}: the compensation of bucket (-Inf,1] survives the mapping
        // onto the shared bounds {1}.
        (
            "custom bounds reconciliation keeps the compensation",
            fc(&[1.0, 2.0]).pos(&[(0, 1)], &[1e16]),
            vec![
                fc(&[1.0, 2.0]).pos(&[(0, 1)], &[1.0]),
                fc(&[1.0]).pos(&[(0, 1)], &[1.0]),
            ],
            fc(&[1.0]).pos(&[(0, 1)], &[1e16 + 2.0]),
        ),
        // Negative buckets are compensated too.
        (
            "negative bucket",
            f(0).neg(&[(2, 1)], &[1e16]),
            vec![f(0).neg(&[(2, 1)], &[1.0]), f(0).neg(&[(2, 1)], &[1.0])],
            f(0).neg(&[(2, 1)], &[1e16 + 2.0]),
        ),
    ]
}

#[test]
fn kahan_add_compensation_cases() {
    let cases = kahan_cases();
    assert!(cases.len() >= 8);
    for (name, start, adds, want) in cases {
        let mut sum = start.clone();
        let mut plain = start.clone();
        let mut c = None;
        for b in &adds {
            let (comp, _) = kahan_step(name, &mut sum, b, c).expect(name);
            c = Some(comp);
            plain.add(b).expect(name);
        }
        sum.add(&c.expect("at least one step")).expect(name);
        sum.compact(0);
        plain.compact(0);
        let mut want = want;
        want.compact(0);
        assert!(
            identical(&sum, &want),
            "{name}:\n got {sum:?}\nwant {want:?}"
        );
        assert!(
            !identical(&plain, &want),
            "{name}: plain addition should lose precision"
        );
    }
    // Mixing schemas is refused before anything changes.
    let mut sum = f(0).pos(&[(0, 1)], &[1.0]);
    let err = kahan_step("mixed", &mut sum, &fc(&[1.0]), None).expect_err("mixed schemas");
    assert_eq!(err.to_string(), MIXED);
}
