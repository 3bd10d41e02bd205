//! `validate`: the exact messages, first problem found wins. Integer histograms also check the
//! count against the buckets; float histograms do not (rounding), and `to_float` drops the
//! fields custom buckets may not have, so some rules can only be broken in the integer form.

use super::super::*;
use super::{f, fc, i, FloatBuild, IntBuild};

const SPANS: &str = "histogram spans specify different number of buckets than provided";
const NEG_OFFSET: &str = "histogram has a span whose offset is negative";
const NEG_BUCKET: &str = "histogram has a bucket whose observation count is negative";
const SCHEMA: &str = "histogram has an invalid schema, which must be between -4 and 8 for exponential buckets, or -53 for custom buckets, got schema";
const COUNT_EQ: &str = "histogram's observation count should equal the number of observations found in the buckets (in absence of NaN)";

/// (name, histogram, error of the integer form, error of its float form; "" for none).
type Case = (&'static str, Histogram, String, String);

fn ok(name: &'static str, h: Histogram) -> Case {
    (name, h, String::new(), String::new())
}

fn both(name: &'static str, h: Histogram, err: String) -> Case {
    (name, h, err.clone(), err)
}

fn int_only(name: &'static str, h: Histogram, err: String) -> Case {
    (name, h, err, String::new())
}

fn cases() -> Vec<Case> {
    let custom = || i(CUSTOM_BUCKETS_SCHEMA).totals(5, 19.4);
    vec![
        // Positive deltas 1,1,-1,0 are counts 1,2,1,1 (5); negative 1,1 are 1,2 (3); zero 2.
        ok(
            "valid exponential",
            i(1).zero(0.001, 2)
                .totals(10, 19.4)
                .pos(&[(0, 2), (1, 2)], &[1, 1, -1, 0])
                .neg(&[(0, 1), (2, 1)], &[1, 1]),
        ),
        ok("empty", i(0)),
        ok("lowest schema", i(-4).totals(1, 1.0).pos(&[(0, 1)], &[1])),
        ok("highest schema", i(8).totals(1, 1.0).pos(&[(0, 1)], &[1])),
        // Only the first span's offset is an index, which may be negative.
        ok("first span offset negative", i(0).totals(1, 1.0).pos(&[(-3, 1)], &[1])),
        // A NaN observation counts but lands in no bucket: count 4 > 2 + 1 is fine.
        ok(
            "NaN sum, count above buckets",
            i(0).zero(0.0, 2).totals(4, f64::NAN).pos(&[(0, 1)], &[1]),
        ),
        // Without NaN the buckets (2 + 1) must hold every observation.
        int_only(
            "count above buckets",
            i(0).zero(0.0, 2).totals(4, 333.0).pos(&[(0, 1)], &[1]),
            format!("3 observations found in buckets, but the Count field is 4: {COUNT_EQ}"),
        ),
        int_only(
            "count below buckets",
            i(0).zero(0.0, 2).totals(2, 333.0).pos(&[(0, 1)], &[1]),
            format!("3 observations found in buckets, but the Count field is 2: {COUNT_EQ}"),
        ),
        // Even with a NaN sum, the count cannot be below the buckets.
        int_only(
            "NaN sum, count below buckets",
            i(0).zero(0.0, 2).totals(2, f64::NAN).pos(&[(0, 1)], &[1]),
            "3 observations found in buckets, but the Count field is 2: histogram's observation count should be at least the number of observations found in the buckets".into(),
        ),
        // The zero bucket counts: 1 + 1 + 1 = 3, not 2.
        int_only(
            "zero bucket not in count",
            i(0).zero(0.001, 1).totals(2, 1.0).pos(&[(0, 1)], &[1]).neg(&[(0, 1)], &[1]),
            format!("3 observations found in buckets, but the Count field is 2: {COUNT_EQ}"),
        ),
        both(
            "too few positive buckets",
            i(0).totals(1, 1.0).pos(&[(0, 2)], &[1]),
            format!("positive side: spans need 2 buckets, have 1 buckets: {SPANS}"),
        ),
        both(
            "too many positive buckets",
            i(0).totals(3, 1.0).pos(&[(0, 1)], &[1, 1]),
            format!("positive side: spans need 1 buckets, have 2 buckets: {SPANS}"),
        ),
        both(
            "too few negative buckets",
            i(0).neg(&[(0, 1)], &[]),
            format!("negative side: spans need 1 buckets, have 0 buckets: {SPANS}"),
        ),
        both(
            "too many negative buckets",
            i(0).totals(3, 1.0).neg(&[(0, 1), (1, 0)], &[1, 1]),
            format!("negative side: spans need 1 buckets, have 2 buckets: {SPANS}"),
        ),
        both(
            "later positive span with negative offset",
            i(0).totals(3, 1.0).pos(&[(-1, 1), (-1, 1)], &[1, 1]),
            format!("positive side: span number 2 with offset -1: {NEG_OFFSET}"),
        ),
        both(
            "later negative span with negative offset",
            i(0).totals(3, 1.0).neg(&[(0, 1), (2, 1), (-2, 1)], &[1, 0, 0]),
            format!("negative side: span number 3 with offset -2: {NEG_OFFSET}"),
        ),
        // Deltas 2, -3: the second bucket holds -1.
        both(
            "negative positive-bucket count",
            i(0).totals(1, 1.0).pos(&[(0, 2)], &[2, -3]),
            format!("positive side: bucket number 2 has observation count of -1: {NEG_BUCKET}"),
        ),
        both(
            "negative negative-bucket count",
            i(0).neg(&[(-1, 1)], &[-1]),
            format!("negative side: bucket number 1 has observation count of -1: {NEG_BUCKET}"),
        ),
        // The positive spans are checked before the negative buckets.
        both(
            "first problem wins",
            i(0).pos(&[(0, 1)], &[]).neg(&[(0, 1)], &[-1]),
            format!("positive side: spans need 1 buckets, have 0 buckets: {SPANS}"),
        ),
        both("schema too high", i(9), format!("{SCHEMA} 9")),
        both("schema too low", i(-5), format!("{SCHEMA} -5")),
        both("reserved schema is not valid", i(52), format!("{SCHEMA} 52")),
        // `to_float` keeps custom values only for custom buckets, so the float form is valid.
        int_only(
            "exponential schema with custom bounds",
            i(0).bounds(&[1.0]),
            "histogram with exponential schema must not have custom bounds".into(),
        ),
        // Span covers indices 0,1 and 3,4 (total length 5 with the gap) for 4 bounds + +Inf.
        ok(
            "valid custom",
            custom().pos(&[(0, 2), (1, 2)], &[1, 1, -1, 0]).bounds(&[1.0, 2.0, 3.0, 4.0]),
        ),
        ok(
            "valid custom with unused bounds",
            custom()
                .pos(&[(0, 2), (1, 2)], &[1, 1, -1, 0])
                .bounds(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]),
        ),
        // Two buckets need just one bound: (-Inf,1] and (1,+Inf).
        ok("custom, one bound, two buckets", custom().totals(2, 1.0).pos(&[(0, 2)], &[1, 0]).bounds(&[1.0])),
        // -Inf as the first bound makes an empty first bucket, which is allowed.
        ok("custom, -Inf first bound", i(CUSTOM_BUCKETS_SCHEMA).bounds(&[f64::NEG_INFINITY, 1.0])),
        ok("custom, no buckets", i(CUSTOM_BUCKETS_SCHEMA)),
        both(
            "custom, too few bounds",
            custom().pos(&[(0, 2), (1, 2)], &[1, 1, -1, 0]).bounds(&[1.0, 2.0, 3.0]),
            "custom buckets: only 3 custom bounds defined which is insufficient to cover total span length of 5: histogram custom bounds are too few".into(),
        ),
        // Custom bucket indices start at 0: even the first offset may not be negative.
        both(
            "custom, negative first offset",
            custom().pos(&[(-1, 2), (1, 2)], &[1, 1, -1, 0]).bounds(&[1.0, 2.0, 3.0, 4.0]),
            format!("custom buckets: span number 1 with offset -1: {NEG_OFFSET}"),
        ),
        both(
            "custom, negative later offset",
            custom().pos(&[(0, 2), (-1, 2)], &[1, 1, -1, 0]).bounds(&[1.0, 2.0, 3.0, 4.0]),
            format!("custom buckets: span number 2 with offset -1: {NEG_OFFSET}"),
        ),
        both(
            "custom, spans and buckets disagree",
            custom().pos(&[(0, 2), (1, 2)], &[1, 1, -1]).bounds(&[1.0, 2.0, 3.0, 4.0]),
            format!("custom buckets: spans need 4 buckets, have 3 buckets: {SPANS}"),
        ),
        both(
            "custom, equal bounds",
            i(CUSTOM_BUCKETS_SCHEMA).bounds(&[1.0, 1.0]),
            "custom buckets: previous bound is 1.000000 and current is 1.000000: histogram custom bounds must be in strictly increasing order".into(),
        ),
        both(
            "custom, decreasing bounds",
            i(CUSTOM_BUCKETS_SCHEMA).bounds(&[-1.0, 0.5, -0.25]),
            "custom buckets: previous bound is 0.500000 and current is -0.250000: histogram custom bounds must be in strictly increasing order".into(),
        ),
        // The last bucket always ends at +Inf, so writing it is a mistake.
        both(
            "custom, +Inf bound",
            i(CUSTOM_BUCKETS_SCHEMA).bounds(&[1.0, f64::INFINITY]),
            "custom buckets: last +Inf bound must not be explicitly defined: histogram custom bounds must be finite".into(),
        ),
        both(
            "custom, NaN bound",
            i(CUSTOM_BUCKETS_SCHEMA).bounds(&[1.0, f64::NAN, 3.0]),
            "custom buckets: histogram custom bounds must not be NaN".into(),
        ),
        // Custom buckets have no zero bucket and no negative side; `to_float` drops those
        // fields, so only the integer form can break these rules.
        int_only(
            "custom, zero count",
            custom().zero(0.0, 1).totals(1, 1.0),
            "custom buckets: must have zero count of 0".into(),
        ),
        int_only(
            "custom, zero threshold",
            custom().zero(0.001, 0).totals(0, 1.0),
            "custom buckets: must have zero threshold of 0".into(),
        ),
        int_only(
            "custom, negative spans",
            custom().neg(&[(0, 0)], &[]),
            "custom buckets: must not have negative spans".into(),
        ),
        int_only(
            "custom, negative buckets",
            custom().neg(&[], &[1]),
            "custom buckets: must not have negative buckets".into(),
        ),
        both(
            "custom, negative bucket count",
            custom().totals(0, 1.0).pos(&[(0, 2)], &[1, -2]).bounds(&[1.0]),
            format!("positive side: bucket number 2 has observation count of -1: {NEG_BUCKET}"),
        ),
        int_only(
            "custom, count mismatch",
            custom().totals(3, 1.0).pos(&[(0, 2)], &[1, 0]).bounds(&[1.0]),
            format!("2 observations found in buckets, but the Count field is 3: {COUNT_EQ}"),
        ),
    ]
}

#[test]
fn validation_cases() {
    let cases = cases();
    assert!(cases.len() >= 40);
    for (name, h, int_err, float_err) in cases {
        let got = h
            .validate()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert_eq!(got, int_err, "{name}");
        let got = h
            .to_float()
            .validate()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert_eq!(got, float_err, "{name} (float)");
    }
}

/// Rules only float histograms can break: their counts are signed.
#[test]
fn float_only_validation_cases() {
    let cases: Vec<(&str, FloatHistogram, &str)> = vec![
        (
            "negative zero count",
            f(0).zero(0.001, -1.0),
            "zero bucket has observation count of -1: histogram has a bucket whose observation count is negative",
        ),
        (
            "negative count",
            f(0).totals(-2.5, 0.0),
            "observation count is  -2.5: histogram's observation count is negative",
        ),
        (
            "negative fractional bucket",
            f(0).totals(1.0, 0.0).pos(&[(0, 2)], &[1.0, -0.5]),
            "positive side: bucket number 2 has observation count of -0.5: histogram has a bucket whose observation count is negative",
        ),
        // Fractional counts are fine (rates); a count below the buckets too (rounding).
        ("fractional counts", f(0).totals(0.1, 0.0).pos(&[(0, 2)], &[0.5, 0.25]), ""),
        (
            "custom, negative buckets",
            fc(&[1.0]).neg(&[], &[1.0]),
            "custom buckets: must not have negative buckets",
        ),
    ];
    for (name, h, want) in cases {
        let got = h
            .validate()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert_eq!(got, want, "{name}");
    }
}
