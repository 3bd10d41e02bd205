use super::*;
use strata_model::Sample;
use strata_promql::{RangeSeries, VectorSample};

#[test]
fn format_float_matches_go_f_minus_one() {
    let cases: &[(f64, &str)] = &[
        (0.0, "0"),
        (-0.0, "-0"),
        (1.0, "1"),
        (-1.0, "-1"),
        (0.1, "0.1"),
        (1.5, "1.5"),
        (123456.789, "123456.789"),
        (1e21, "1000000000000000000000"),
        (1e20, "100000000000000000000"),
        (1e-7, "0.0000001"),
        (1.5e-10, "0.00000000015"),
        (0.1 + 0.2, "0.30000000000000004"),
        (1.0 / 3.0, "0.3333333333333333"),
        (9007199254740993.0, "9007199254740992"),
        (123456789012345680000.0, "123456789012345680000"),
        (f64::NAN, "NaN"),
        (f64::INFINITY, "+Inf"),
        (f64::NEG_INFINITY, "-Inf"),
        (strata_model::STALE_NAN, "NaN"),
    ];
    for &(v, want) in cases {
        assert_eq!(format_float(v), want, "format_float({v:e})");
    }
    assert_eq!(format_float(5e-324), format!("0.{}5", "0".repeat(323)));
    let max = format_float(f64::MAX);
    assert!(max.starts_with("17976931348623157") && max.len() == 309 && !max.contains('.'));
}

#[test]
fn sample_values_switch_to_exponent_like_jsonutil() {
    let cases: &[(f64, &str)] = &[
        (1.0, "1"),
        (0.000001, "0.000001"),
        (0.00000099, "9.9e-07"),
        (1e-7, "1e-07"),
        (-1.5e-7, "-1.5e-07"),
        (1e21, "1e+21"),
        (1.234e25, "1.234e+25"),
        (999999999999999900000.0, "999999999999999900000"),
        (1e100, "1e+100"),
        (5e-324, "5e-324"),
        (f64::MAX, "1.7976931348623157e+308"),
        (0.0, "0"),
        (f64::NAN, "NaN"),
        (f64::NEG_INFINITY, "-Inf"),
    ];
    for &(v, want) in cases {
        assert_eq!(format_sample_value(v), want, "format_sample_value({v:e})");
    }
}

#[test]
fn timestamps_match_marshal_timestamp() {
    let cases: &[(i64, &str)] = &[
        (1_700_000_000_123, "1700000000.123"),
        (1_700_000_000_120, "1700000000.120"),
        (1_700_000_000_100, "1700000000.100"),
        (1_700_000_000_001, "1700000000.001"),
        (1_700_000_000_010, "1700000000.010"),
        (1_700_000_000_000, "1700000000"),
        (0, "0"),
        (5, "0.005"),
        (-1500, "-1.500"),
        (-1, "-0.001"),
        (-1000, "-1"),
        (i64::MAX, "9223372036854775.807"),
        (i64::MIN, "-9223372036854775.808"),
    ];
    for &(t, want) in cases {
        let mut s = String::new();
        write_timestamp(&mut s, t);
        assert_eq!(s, want, "write_timestamp({t})");
    }
}

#[test]
fn float_seconds_match_encoding_json() {
    let cases: &[(i64, &str)] = &[
        (1_700_000_000_123, "1700000000.123"),
        (1_700_000_000_120, "1700000000.12"),
        (1_700_000_000_000, "1700000000"),
        (0, "0"),
        (-1500, "-1.5"),
        (1, "0.001"),
    ];
    for &(t, want) in cases {
        let mut s = String::new();
        write_float_seconds(&mut s, t);
        assert_eq!(s, want, "write_float_seconds({t})");
    }
}

#[test]
fn strings_escape_like_go() {
    let mut s = String::new();
    write_string(&mut s, "a\"b\\c\nd\re\tf\u{1}g<h>&i\u{2028}j\u{8}k\u{c}ü€");
    assert_eq!(
        s,
        r#""a\"b\\c\nd\re\tf\u0001g\u003ch\u003e\u0026i\u2028j\u0008k\u000cü€""#
    );
    let mut s = String::new();
    write_labels(
        &mut s,
        &Labels::from_pairs([("a", "\u{8}\u{c}<"), ("__name__", "x")]),
    );
    assert_eq!(s, r#"{"__name__":"x","a":"\b\f\u003c"}"#);
    // Whatever we escape, it must stay valid JSON that decodes to the original.
    let original = "\u{0}\u{1f}\u{7f}\"\\/<>&\u{2029}😀";
    let mut s = String::new();
    write_string(&mut s, original);
    assert_eq!(
        serde_json::from_str::<String>(&s).expect("valid json"),
        original
    );
}

fn result(value: Value) -> QueryResult {
    QueryResult {
        value,
        warnings: vec![],
        infos: vec![],
    }
}

#[test]
fn vector_shape() {
    let body = query_body(&result(Value::Vector(vec![
        VectorSample {
            labels: Labels::from_pairs([("job", "x"), ("__name__", "up")]),
            t: 1_700_000_000_123,
            v: 1.0,
            h: None,
        },
        VectorSample {
            labels: Labels::from_pairs([("job", "y")]),
            t: 1_700_000_000_120,
            v: f64::NAN,
            h: None,
        },
    ])));
    assert_eq!(
        body,
        r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"up","job":"x"},"value":[1700000000.123,"1"]},{"metric":{"job":"y"},"value":[1700000000.120,"NaN"]}]}}"#
    );
    assert_eq!(
        query_body(&result(Value::Vector(vec![]))),
        r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#
    );
}

#[test]
fn matrix_shape() {
    let body = query_body(&result(Value::Matrix(vec![
        RangeSeries {
            labels: Labels::from_pairs([("__name__", "up")]),
            samples: vec![
                Sample::new(1000, 1.0),
                Sample::new(16_000, 2.5),
                Sample::new(31_000, f64::INFINITY),
            ],
            histograms: vec![],
        },
        RangeSeries {
            labels: Labels::empty(),
            samples: vec![],
            histograms: vec![],
        },
    ])));
    assert_eq!(
        body,
        r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"__name__":"up"},"values":[[1,"1"],[16,"2.5"],[31,"+Inf"]]},{"metric":{}}]}}"#
    );
}

#[test]
fn scalar_and_string_shapes() {
    assert_eq!(
        query_body(&result(Value::Scalar {
            t: 1_700_000_000_120,
            v: 1e21
        })),
        r#"{"status":"success","data":{"resultType":"scalar","result":[1700000000.12,"1000000000000000000000"]}}"#
    );
    assert_eq!(
        query_body(&result(Value::String {
            t: 1_700_000_000_000,
            v: "a\"b".into()
        })),
        r#"{"status":"success","data":{"resultType":"string","result":[1700000000,"a\"b"]}}"#
    );
}

#[test]
fn warnings_and_infos_only_when_present() {
    let mut r = result(Value::Scalar { t: 0, v: 1.0 });
    r.warnings = vec!["PromQL warning: w".into()];
    assert_eq!(
        query_body(&r),
        r#"{"status":"success","data":{"resultType":"scalar","result":[0,"1"]},"warnings":["PromQL warning: w"]}"#
    );
    r.infos = vec!["PromQL info: i".into()];
    assert!(query_body(&r)
        .ends_with(r#","warnings":["PromQL warning: w"],"infos":["PromQL info: i"]}"#));
}

#[test]
fn error_shape() {
    assert_eq!(
        error_body("bad_data", "invalid parameter \"query\""),
        r#"{"status":"error","errorType":"bad_data","error":"invalid parameter \"query\""}"#
    );
}

#[test]
fn series_labels_and_metadata_shapes() {
    let mut s = String::new();
    write_label_sets(
        &mut s,
        &[
            Labels::from_pairs([("__name__", "up"), ("job", "a")]),
            Labels::from_pairs([("b", "1")]),
        ],
    );
    assert_eq!(
        success_body(&s, &[], &[]),
        r#"{"status":"success","data":[{"__name__":"up","job":"a"},{"b":"1"}]}"#
    );
    let mut s = String::new();
    write_string_list(&mut s, &["__name__".into(), "job".into()]);
    assert_eq!(s, r#"["__name__","job"]"#);
    let mut s = String::new();
    write_string_list(&mut s, &[]);
    assert_eq!(s, "[]");

    let mut s = String::new();
    write_metadata(
        &mut s,
        &[
            (
                "http_requests_total".into(),
                vec![MetricMetadata {
                    r#type: MetricType::Counter as i32,
                    metric_family_name: "http_requests_total".into(),
                    help: "Requests.".into(),
                    unit: String::new(),
                }],
            ),
            (
                "temp".into(),
                vec![MetricMetadata {
                    r#type: MetricType::Gauge as i32,
                    metric_family_name: "temp".into(),
                    help: "T".into(),
                    unit: "celsius".into(),
                }],
            ),
        ],
    );
    assert_eq!(
        s,
        r#"{"http_requests_total":[{"type":"counter","help":"Requests.","unit":""}],"temp":[{"type":"gauge","help":"T","unit":"celsius"}]}"#
    );
    assert_eq!(metric_type_name(99), "unknown");
    assert_eq!(
        metric_type_name(MetricType::Gaugehistogram as i32),
        "gaugehistogram"
    );
}

#[test]
fn native_histogram_shape() {
    use strata_model::histogram::{FloatHistogram, Span};
    use strata_promql::HistogramPoint;
    // Schema 0, zero bucket [-0.001, 0.001]:1, (0.5,1]:2, (1,2]:0 (left out), (2,4]:3.
    let h = FloatHistogram {
        count: 6.0,
        sum: 9.5,
        zero_threshold: 0.001,
        zero_count: 1.0,
        positive_spans: vec![Span::new(0, 3)],
        positive_buckets: vec![2.0, 0.0, 3.0],
        ..Default::default()
    };
    let body = query_body(&result(Value::Vector(vec![VectorSample {
        labels: Labels::from_pairs([("__name__", "h")]),
        t: 60_000,
        v: 0.0,
        h: Some(h.clone()),
    }])));
    assert_eq!(
        body,
        r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"h"},"histogram":[60,{"count":"6","sum":"9.5","buckets":[[3,"-0.001","0.001","1"],[0,"0.5","1","2"],[0,"2","4","3"]]}]}]}}"#
    );
    let empty = FloatHistogram::default();
    let body = query_body(&result(Value::Matrix(vec![RangeSeries {
        labels: Labels::empty(),
        samples: vec![Sample::new(1000, 1.0)],
        histograms: vec![HistogramPoint { t: 2000, h: empty }],
    }])));
    assert_eq!(
        body,
        r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,"1"]],"histograms":[[2,{"count":"0","sum":"0"}]]}]}}"#
    );
}
