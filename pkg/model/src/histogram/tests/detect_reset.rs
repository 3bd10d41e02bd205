//! `detect_reset`: whether the current histogram can only be explained by a counter reset since
//! the previous one. Counters only grow, so any count, zero count or bucket going down is a
//! reset; so is a finer schema or a narrower zero bucket (buckets cannot be split). The sum is
//! ignored (observations may be negative). Hints CounterReset/NotCounterReset are trusted;
//! Gauge and Unknown are detected like counters.

use super::super::*;
use super::{f, fc, FloatBuild};
use CounterResetHint::{CounterReset, Gauge, NotCounterReset};

/// (name, previous, current, reset expected).
type Case = (&'static str, FloatHistogram, FloatHistogram, bool);

/// A counter histogram in schema 0 to vary: zero bucket, two positive and one negative bucket.
fn base() -> FloatHistogram {
    f(0).zero(0.01, 2.0)
        .totals(10.0, 20.0)
        .pos(&[(0, 2)], &[3.0, 4.0])
        .neg(&[(1, 1)], &[1.0])
}

fn cases() -> Vec<Case> {
    vec![
        ("both empty", f(0), f(0), false),
        ("identical", base(), base(), false),
        // Count 10 -> 9 with buckets unchanged.
        ("count down", base(), base().totals(9.0, 20.0), true),
        ("count up", base(), base().totals(11.0, 20.0), false),
        // The sum may fall (negative observations) without a reset.
        ("sum down", base(), base().totals(10.0, -5.0), false),
        (
            "zero count down",
            base(),
            base().zero(0.01, 1.0).totals(11.0, 20.0),
            true,
        ),
        (
            "zero count up",
            base(),
            base().zero(0.01, 3.0).totals(11.0, 20.0),
            false,
        ),
        (
            "positive bucket up",
            base(),
            base().totals(11.0, 20.0).pos(&[(0, 2)], &[3.0, 5.0]),
            false,
        ),
        // Bucket 1 falls 4 -> 3 while the count still grows (a reset plus new observations).
        (
            "positive bucket down, count up",
            base(),
            base().totals(12.0, 20.0).pos(&[(0, 2)], &[5.0, 3.0]),
            true,
        ),
        (
            "negative bucket down",
            base(),
            base().totals(12.0, 20.0).neg(&[(1, 1)], &[0.0]),
            true,
        ),
        (
            "negative bucket up",
            base(),
            base().totals(12.0, 20.0).neg(&[(1, 1)], &[3.0]),
            false,
        ),
        // A new bucket at index 2 is new observations.
        (
            "new positive bucket",
            base(),
            base().totals(11.0, 20.0).pos(&[(0, 3)], &[3.0, 4.0, 1.0]),
            false,
        ),
        (
            "new negative bucket before the others",
            base(),
            base().totals(11.0, 20.0).neg(&[(0, 2)], &[1.0, 1.0]),
            false,
        ),
        // New bucket at index -3, in front of the first span.
        (
            "new bucket in front",
            base(),
            base()
                .totals(11.0, 20.0)
                .pos(&[(-3, 1), (2, 2)], &[1.0, 3.0, 4.0]),
            false,
        ),
        // Index 1 (count 4) is gone although the count grew.
        (
            "populated positive bucket gone",
            base(),
            base()
                .totals(20.0, 20.0)
                .pos(&[(0, 1), (5, 1)], &[3.0, 14.0]),
            true,
        ),
        (
            "populated negative bucket gone",
            base(),
            base().totals(11.0, 20.0).neg(&[(3, 1)], &[2.0]),
            true,
        ),
        // The previous bucket at index 1 held nothing, so losing it loses nothing.
        (
            "empty bucket gone",
            base().pos(&[(0, 3)], &[3.0, 0.0, 4.0]),
            base().pos(&[(0, 1), (1, 1)], &[3.0, 4.0]),
            false,
        ),
        // The same buckets in a differently written layout.
        (
            "same buckets, different spans",
            base(),
            base().pos(&[(0, 1), (0, 0), (0, 1)], &[3.0, 4.0]),
            false,
        ),
        // Counts moved from index 1 to 2: index 1 is gone.
        (
            "count moved to another bucket",
            base(),
            base().pos(&[(0, 1), (1, 1)], &[3.0, 4.0]),
            true,
        ),
        // A gap in the previous layout filled by the current one.
        (
            "gap filled",
            base().pos(&[(0, 1), (1, 1)], &[3.0, 4.0]),
            base().totals(11.0, 20.0).pos(&[(0, 3)], &[3.0, 1.0, 4.0]),
            false,
        ),
        // Everything gone, count 0: a reset.
        ("all gone", base(), f(0).zero(0.01, 0.0), true),
        // Hints: CounterReset says reset even if nothing fell; NotCounterReset overrides a fall.
        (
            "hint counter reset",
            base(),
            base().hint(CounterReset),
            true,
        ),
        (
            "hint not counter reset",
            base(),
            base().hint(NotCounterReset).totals(1.0, 0.0),
            false,
        ),
        // A gauge is judged by its values like a counter.
        (
            "gauge, values fall",
            base(),
            base().hint(Gauge).totals(9.0, 20.0),
            true,
        ),
        (
            "gauge, values grow",
            base(),
            base().hint(Gauge).totals(11.0, 20.0),
            false,
        ),
        // Finer resolution cannot follow from a coarser one without a reset, whatever the counts.
        (
            "schema up",
            base(),
            FloatHistogram {
                schema: 1,
                ..base()
                    .totals(100.0, 20.0)
                    .pos(&[(0, 4)], &[9.0, 9.0, 9.0, 9.0])
            },
            true,
        ),
        // Schema 1 indices 0..3 = 1,2,3,4 at schema 0 are [1, 2+3, 4] at 0..2 (and negative index
        // -1 goes to 0); the current schema-0 histogram has exactly those.
        (
            "schema down, merged buckets equal",
            f(1).totals(12.0, 0.0)
                .pos(&[(0, 4)], &[1.0, 2.0, 3.0, 4.0])
                .neg(&[(-1, 1)], &[2.0]),
            f(0).totals(12.0, 0.0)
                .pos(&[(0, 3)], &[1.0, 5.0, 4.0])
                .neg(&[(0, 1)], &[2.0]),
            false,
        ),
        // Merged bucket 1 was 5, now 4.
        (
            "schema down, merged bucket falls",
            f(1).totals(12.0, 0.0)
                .pos(&[(0, 4)], &[1.0, 2.0, 3.0, 4.0])
                .neg(&[(-1, 1)], &[2.0]),
            f(0).totals(12.0, 0.0)
                .pos(&[(0, 3)], &[1.0, 4.0, 5.0])
                .neg(&[(0, 1)], &[2.0]),
            true,
        ),
        // Schema 2 indices 1 and 4 (different spans) both lie in schema-0 bucket 1: 3+4 = 7.
        (
            "schema down, buckets merge across a span gap",
            f(2).totals(7.0, 0.0).pos(&[(1, 1), (2, 1)], &[3.0, 4.0]),
            f(0).totals(7.0, 0.0).pos(&[(1, 1)], &[7.0]),
            false,
        ),
        (
            "schema down, merged across a gap falls",
            f(2).totals(7.0, 0.0).pos(&[(1, 1), (2, 1)], &[3.0, 4.0]),
            f(0).totals(7.0, 0.0).pos(&[(1, 1)], &[6.0]),
            true,
        ),
        // A narrower zero bucket cannot give back what it held.
        ("zero threshold down", base(), base().zero(0.001, 2.0), true),
        // Threshold 0.01 -> 1 takes in buckets -1 and 0 (2 + 3 besides the zero count 1): the new
        // zero count 6 holds all of them.
        (
            "zero threshold up, zero count holds absorbed buckets",
            f(0).zero(0.01, 1.0)
                .totals(6.0, 0.0)
                .pos(&[(-1, 2)], &[2.0, 3.0]),
            f(0).zero(1.0, 6.0).totals(6.0, 0.0),
            false,
        ),
        (
            "zero threshold up, zero count short",
            f(0).zero(0.01, 1.0)
                .totals(6.0, 0.0)
                .pos(&[(-1, 2)], &[2.0, 3.0]),
            f(0).zero(1.0, 5.0).totals(6.0, 0.0),
            true,
        ),
        // Threshold 0.7 would cut the populated bucket (0.5,1]: the previous zero bucket could
        // only have been widened to 1, so 0.7 cannot follow without a reset.
        (
            "zero threshold up into a populated bucket",
            f(0).zero(0.01, 0.0).totals(2.0, 0.0).pos(&[(0, 1)], &[2.0]),
            f(0).zero(0.7, 10.0).totals(10.0, 0.0),
            true,
        ),
        // The bucket cut by 0.7 is empty, so 0.7 is reachable.
        (
            "zero threshold up into an empty bucket",
            f(0).zero(0.01, 0.0).pos(&[(0, 1)], &[0.0]),
            f(0).zero(0.7, 0.0),
            false,
        ),
        // Threshold 0.01 -> 1: the zero counts agree (0 + 1 = 1), but bucket 1 (1,2] falls 5 -> 4.
        (
            "zero threshold up, bucket above falls",
            f(0).zero(0.01, 0.0)
                .totals(6.0, 0.0)
                .pos(&[(0, 2)], &[1.0, 5.0]),
            f(0).zero(1.0, 1.0)
                .totals(10.0, 0.0)
                .pos(&[(1, 1)], &[4.0])
                .neg(&[(1, 1)], &[5.0]),
            true,
        ),
        // Schema 1 -> 0 and threshold 0.01 -> 1 at once: schema-1 buckets -1, 0 (1 + 2) join the
        // zero count 0 -> 3, buckets 1, 2 (3 + 4) merge into schema-0 bucket 1 = 7.
        (
            "schema down and zero threshold up",
            f(1).zero(0.01, 0.0)
                .totals(10.0, 0.0)
                .pos(&[(-1, 4)], &[1.0, 2.0, 3.0, 4.0]),
            f(0).zero(1.0, 3.0).totals(10.0, 0.0).pos(&[(1, 1)], &[7.0]),
            false,
        ),
        (
            "schema down and zero threshold up, merged bucket falls",
            f(1).zero(0.01, 0.0)
                .totals(10.0, 0.0)
                .pos(&[(-1, 4)], &[1.0, 2.0, 3.0, 4.0]),
            f(0).zero(1.0, 4.0).totals(10.0, 0.0).pos(&[(1, 1)], &[6.0]),
            true,
        ),
        // Custom buckets with the same bounds compare bucket by bucket.
        (
            "custom, same bounds, up",
            fc(&[1.0, 2.0])
                .totals(3.0, 0.0)
                .pos(&[(0, 3)], &[1.0, 1.0, 1.0]),
            fc(&[1.0, 2.0])
                .totals(4.0, 0.0)
                .pos(&[(0, 3)], &[1.0, 2.0, 1.0]),
            false,
        ),
        (
            "custom, same bounds, bucket falls",
            fc(&[1.0, 2.0])
                .totals(3.0, 0.0)
                .pos(&[(0, 3)], &[1.0, 1.0, 1.0]),
            fc(&[1.0, 2.0])
                .totals(4.0, 0.0)
                .pos(&[(0, 3)], &[3.0, 0.0, 1.0]),
            true,
        ),
        // Bounds {1,2,3} -> {2,3}: at the shared bounds the previous buckets are (-Inf,2] = 2,
        // (2,3] = 1, (3,+Inf) = 1; the current ones 2, 1, 1.
        (
            "custom, bounds changed, shared buckets equal",
            fc(&[1.0, 2.0, 3.0])
                .totals(4.0, 0.0)
                .pos(&[(0, 4)], &[1.0, 1.0, 1.0, 1.0]),
            fc(&[2.0, 3.0])
                .totals(4.0, 0.0)
                .pos(&[(0, 3)], &[2.0, 1.0, 1.0]),
            false,
        ),
        // (-Inf,2] falls from 2 to 1 while the count stays.
        (
            "custom, bounds changed, shared bucket falls",
            fc(&[1.0, 2.0, 3.0])
                .totals(4.0, 0.0)
                .pos(&[(0, 4)], &[1.0, 1.0, 1.0, 1.0]),
            fc(&[2.0, 3.0])
                .totals(4.0, 0.0)
                .pos(&[(0, 3)], &[1.0, 2.0, 1.0]),
            true,
        ),
        // Bounds {1} -> {5}: only +Inf is shared, and (-Inf,+Inf) holds 6 in both.
        (
            "custom, no shared bound",
            fc(&[1.0]).totals(6.0, 0.0).pos(&[(0, 2)], &[3.0, 3.0]),
            fc(&[5.0]).totals(6.0, 0.0).pos(&[(0, 2)], &[6.0, 0.0]),
            false,
        ),
        // From exponential to custom buckets (or back) is a new series layout: a reset.
        (
            "exponential to custom",
            base(),
            fc(&[1.0]).totals(20.0, 0.0).pos(&[(0, 2)], &[10.0, 10.0]),
            true,
        ),
        (
            "custom to exponential",
            fc(&[1.0]).totals(2.0, 0.0).pos(&[(0, 2)], &[1.0, 1.0]),
            base(),
            true,
        ),
        (
            "custom, not counter reset hint",
            fc(&[1.0]).totals(2.0, 0.0).pos(&[(0, 2)], &[1.0, 1.0]),
            fc(&[1.0]).hint(NotCounterReset).pos(&[(0, 2)], &[0.0, 1.0]),
            false,
        ),
    ]
}

#[test]
fn detect_reset_cases() {
    let cases = cases();
    assert!(cases.len() >= 45);
    for (name, prev, cur, want) in cases {
        assert_eq!(cur.detect_reset(&prev), want, "{name}");
    }
}
