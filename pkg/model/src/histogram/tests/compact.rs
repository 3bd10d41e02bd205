//! `compact`: empty buckets at span edges go, long empty runs inside spans split the span,
//! adjacent and zero-length spans merge, and spans at most `max_empty` apart join. Every case runs
//! on the float histogram and on the integer histogram with the same counts (delta-encoded),
//! since the delta form must stay consistent when buckets are removed or inserted.

use super::super::*;
use super::{f, identical, to_int, FloatBuild};

/// (name, input, max_empty_buckets, expected).
type Case = (&'static str, FloatHistogram, usize, FloatHistogram);

fn cases() -> Vec<Case> {
    vec![
        // Nothing to remove, no spans at all.
        ("empty", f(0), 0, f(0)),
        // No empty bucket and every gap wider than max_empty: untouched.
        (
            "already compact",
            f(0).pos(&[(-3, 2), (2, 1)], &[1.0, 2.0, 3.0])
                .neg(&[(1, 1), (4, 2)], &[4.0, 5.0, 6.0]),
            1,
            f(0).pos(&[(-3, 2), (2, 1)], &[1.0, 2.0, 3.0])
                .neg(&[(1, 1), (4, 2)], &[4.0, 5.0, 6.0]),
        ),
        // Spans with offset 0 continue the previous one: one span of 1+3+1 buckets from -2.
        (
            "adjacent spans merge",
            f(0).pos(&[(-2, 1), (0, 3), (0, 1)], &[1.0, 2.0, 3.0, 4.0, 5.0]),
            0,
            f(0).pos(&[(-2, 5)], &[1.0, 2.0, 3.0, 4.0, 5.0]),
        ),
        // Same on the negative side, with a later span kept apart by a real gap.
        (
            "adjacent negative spans merge",
            f(0).neg(&[(0, 2), (0, 2), (2, 1)], &[1.0, 2.0, 3.0, 4.0, 5.0]),
            0,
            f(0).neg(&[(0, 4), (2, 1)], &[1.0, 2.0, 3.0, 4.0, 5.0]),
        ),
        // A zero-length span only moves the next span: its offset adds to the next one (2+3).
        (
            "zero-length span in the middle",
            f(0).pos(&[(-2, 2), (2, 0), (3, 3)], &[1.0, 2.0, 3.0, 4.0, 5.0]),
            0,
            f(0).pos(&[(-2, 2), (5, 3)], &[1.0, 2.0, 3.0, 4.0, 5.0]),
        ),
        // Three zero-length spans of offset 2 plus the offset 3: gap of 9.
        (
            "several zero-length spans",
            f(0).pos(
                &[(-2, 2), (2, 0), (2, 0), (2, 0), (3, 3)],
                &[1.0, 2.0, 3.0, 4.0, 5.0],
            ),
            0,
            f(0).pos(&[(-2, 2), (9, 3)], &[1.0, 2.0, 3.0, 4.0, 5.0]),
        ),
        // A leading zero-length span folds into the first real one: first index 3+2 = 5.
        (
            "zero-length span first",
            f(0).pos(&[(3, 0), (2, 2)], &[1.0, 2.0]),
            0,
            f(0).pos(&[(5, 2)], &[1.0, 2.0]),
        ),
        // A trailing zero-length span describes nothing and goes.
        (
            "zero-length span last",
            f(0).pos(&[(1, 2), (4, 0)], &[1.0, 2.0]),
            0,
            f(0).pos(&[(1, 2)], &[1.0, 2.0]),
        ),
        // Only zero-length spans: no buckets, so no spans.
        (
            "only zero-length spans",
            f(0).pos(&[(1, 0), (2, 0)], &[]).neg(&[(0, 0)], &[]),
            0,
            f(0),
        ),
        // Zero-length span between adjacent spans: 2 + 0 + 1 buckets in one run.
        (
            "zero-length span between adjacent spans",
            f(0).pos(&[(0, 2), (0, 0), (0, 1)], &[1.0, 2.0, 3.0]),
            0,
            f(0).pos(&[(0, 3)], &[1.0, 2.0, 3.0]),
        ),
        // Indices -4,-3 are empty: the span starts two later, at -2.
        (
            "empty buckets at span start",
            f(0).pos(&[(-4, 4)], &[0.0, 0.0, 1.0, 2.0]),
            0,
            f(0).pos(&[(-2, 2)], &[1.0, 2.0]),
        ),
        // Trailing empties shorten the span.
        (
            "empty buckets at span end",
            f(0).pos(&[(0, 4)], &[1.0, 2.0, 0.0, 0.0]),
            0,
            f(0).pos(&[(0, 2)], &[1.0, 2.0]),
        ),
        // Both ends: indices -1 and 2,3 are empty, 0 and 1 remain.
        (
            "empty buckets at both ends",
            f(0).neg(&[(-1, 5)], &[0.0, 3.0, 4.0, 0.0, 0.0]),
            0,
            f(0).neg(&[(0, 2)], &[3.0, 4.0]),
        ),
        // Edges are cut even when max_empty would allow keeping them: they bound nothing.
        (
            "edge empties cut whatever max_empty",
            f(0).pos(&[(0, 4)], &[0.0, 1.0, 0.0, 1.0]),
            3,
            f(0).pos(&[(1, 3)], &[1.0, 0.0, 1.0]),
        ),
        // Spans at 0..1, 5..6 (all empty) and 8..9: the middle span vanishes and the last span's
        // gap grows to 6 (from index 2 to index 8).
        (
            "whole empty span removed",
            f(0).pos(&[(0, 2), (3, 2), (1, 2)], &[1.0, 2.0, 0.0, 0.0, 5.0, 6.0]),
            0,
            f(0).pos(&[(0, 2), (6, 2)], &[1.0, 2.0, 5.0, 6.0]),
        ),
        // The first span (indices -3,-2) is empty; the second starts at -3+2+2 = 1.
        (
            "empty first span removed",
            f(0).pos(&[(-3, 2), (2, 1)], &[0.0, 0.0, 7.0]),
            0,
            f(0).pos(&[(1, 1)], &[7.0]),
        ),
        // All buckets empty: nothing left.
        (
            "all buckets empty",
            f(0).pos(&[(0, 3)], &[0.0, 0.0, 0.0]).neg(&[(2, 1)], &[0.0]),
            0,
            f(0),
        ),
        // One empty bucket inside a span (index 7) exceeds max_empty 0: the span splits into
        // 5..6 and 8 (gap 1).
        (
            "empty run splits span",
            f(0).pos(&[(5, 4)], &[1.0, 3.0, 0.0, 2.0]),
            0,
            f(0).pos(&[(5, 2), (1, 1)], &[1.0, 3.0, 2.0]),
        ),
        // The same single empty bucket is within max_empty 1: kept.
        (
            "empty run kept",
            f(0).pos(&[(5, 4)], &[1.0, 3.0, 0.0, 2.0]),
            1,
            f(0).pos(&[(5, 4)], &[1.0, 3.0, 0.0, 2.0]),
        ),
        // Two empty buckets (1,2) exceed max_empty 1: split into 0 and 3..4.
        (
            "longer empty run splits span",
            f(0).neg(&[(0, 5)], &[1.0, 0.0, 0.0, 2.0, 3.0]),
            1,
            f(0).neg(&[(0, 1), (2, 2)], &[1.0, 2.0, 3.0]),
        ),
        // A gap of 2 between spans is within max_empty 2: filled with two empty buckets.
        (
            "small gap filled",
            f(0).pos(&[(0, 2), (2, 1)], &[1.0, 2.0, 3.0]),
            2,
            f(0).pos(&[(0, 5)], &[1.0, 2.0, 0.0, 0.0, 3.0]),
        ),
        // A gap of 3 is too wide for max_empty 2.
        (
            "wide gap kept",
            f(0).pos(&[(0, 2), (3, 1)], &[1.0, 2.0, 3.0]),
            2,
            f(0).pos(&[(0, 2), (3, 1)], &[1.0, 2.0, 3.0]),
        ),
        // Three spans one apart around a negative start: all join into -5..-1.
        (
            "several gaps filled",
            f(0).pos(&[(-5, 1), (1, 1), (1, 1)], &[1.0, 2.0, 3.0]),
            1,
            f(0).pos(&[(-5, 5)], &[1.0, 0.0, 2.0, 0.0, 3.0]),
        ),
        // Buckets 0 and 6 remain after cutting the empties at 1,2 and 4,5; their gap is 5, wider
        // than max_empty 1.
        (
            "cut edges, gap stays",
            f(0).pos(&[(0, 3), (1, 3)], &[1.0, 0.0, 0.0, 0.0, 0.0, 4.0]),
            1,
            f(0).pos(&[(0, 1), (5, 1)], &[1.0, 4.0]),
        ),
        // Same, but max_empty 5 lets the gap of 5 fill: one span 0..6.
        (
            "cut edges, then gap filled",
            f(0).pos(&[(0, 3), (1, 3)], &[1.0, 0.0, 0.0, 0.0, 0.0, 4.0]),
            5,
            f(0).pos(&[(0, 7)], &[1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 4.0]),
        ),
        // Both sides at once, other fields untouched.
        (
            "both sides, other fields kept",
            f(2).zero(0.001, 3.0)
                .totals(14.0, -7.5)
                .pos(&[(-1, 3), (0, 0), (1, 1)], &[0.0, 4.0, 0.0, 2.0])
                .neg(&[(2, 2), (0, 2)], &[1.0, 0.0, 0.0, 4.0]),
            0,
            f(2).zero(0.001, 3.0)
                .totals(14.0, -7.5)
                .pos(&[(0, 1), (2, 1)], &[4.0, 2.0])
                .neg(&[(2, 1), (2, 1)], &[1.0, 4.0]),
        ),
        // Custom buckets compact the same way; the bounds stay.
        (
            "custom buckets",
            f(CUSTOM_BUCKETS_SCHEMA)
                .bounds(&[1.0, 2.0, 5.0])
                .pos(&[(0, 2), (0, 2)], &[0.0, 2.0, 0.0, 3.0]),
            0,
            f(CUSTOM_BUCKETS_SCHEMA)
                .bounds(&[1.0, 2.0, 5.0])
                .pos(&[(1, 1), (1, 1)], &[2.0, 3.0]),
        ),
    ]
}

#[test]
fn compact_cases() {
    let cases = cases();
    assert!(cases.len() >= 25);
    for (name, h, max, want) in cases {
        let mut got = h.clone();
        got.compact(max);
        assert!(identical(&got, &want), "{name}: got {got:?}, want {want:?}");

        // The integer form must give the same buckets, re-deltaed across removed buckets.
        let mut got = to_int(&h);
        got.compact(max);
        let want = to_int(&want);
        assert_eq!(got.positive_spans, want.positive_spans, "{name} (int)");
        assert_eq!(got.positive_buckets, want.positive_buckets, "{name} (int)");
        assert_eq!(got.negative_spans, want.negative_spans, "{name} (int)");
        assert_eq!(got.negative_buckets, want.negative_buckets, "{name} (int)");
        assert_eq!(
            (got.count, got.zero_count, got.schema),
            (want.count, want.zero_count, want.schema),
            "{name} (int)"
        );
    }
}
