//! Unit tests of the protobuf parser, on bodies encoded here with the `dto` messages.

#![allow(clippy::unwrap_used)] // in tests a failed unwrap is a failed test

use super::dto::{self, MetricType as T};
use super::*;

fn lp(name: &str, value: &str) -> dto::LabelPair {
    dto::LabelPair {
        name: name.into(),
        value: value.into(),
    }
}

fn ts(ms: i64) -> Option<dto::Timestamp> {
    Some(dto::Timestamp {
        seconds: ms.div_euclid(1000),
        nanos: (ms.rem_euclid(1000) * 1_000_000) as i32,
    })
}

fn family(name: &str, t: T, metric: Vec<dto::Metric>) -> dto::MetricFamily {
    dto::MetricFamily {
        name: name.into(),
        help: format!("help of {name}"),
        r#type: t as i32,
        metric,
        unit: String::new(),
    }
}

fn body(families: &[dto::MetricFamily]) -> Vec<u8> {
    let mut out = Vec::new();
    for f in families {
        f.encode_length_delimited(&mut out).unwrap();
    }
    out
}

fn float(s: &ProtoSample) -> f64 {
    match s.value {
        ProtoValue::Float(v) => v,
        ref other => panic!("not a float: {other:?}"),
    }
}

/// `name{labels}` of each sample, as a compact view of the series yielded.
fn series(f: &ProtoFamily) -> Vec<String> {
    f.samples
        .iter()
        .map(|s| {
            let l: Vec<String> = s.labels.iter().map(|(n, v)| format!("{n}={v}")).collect();
            format!("{}{{{}}}", s.name, l.join(","))
        })
        .collect()
}

fn exemplar(trace: &str, v: f64, ms: i64) -> dto::Exemplar {
    dto::Exemplar {
        label: vec![lp("trace_id", trace)],
        value: v,
        timestamp: ts(ms),
    }
}

#[test]
fn counters_gauges_untyped() {
    let mut counter = family(
        "http_requests_total",
        T::Counter,
        vec![dto::Metric {
            label: vec![lp("code", "200"), lp("method", "get")],
            counter: Some(dto::Counter {
                value: 1027.0,
                exemplar: Some(exemplar("abc", 1.0, 1_700_000_000_123)),
                created_timestamp: ts(1_600_000_000_500),
            }),
            timestamp_ms: 1_700_000_001_000,
            ..Default::default()
        }],
    );
    counter.unit = "requests".into();
    let gauge = family(
        "temperature",
        T::Gauge,
        vec![dto::Metric {
            gauge: Some(dto::Gauge { value: -3.5 }),
            ..Default::default()
        }],
    );
    let untyped = family(
        "thing",
        T::Untyped,
        vec![dto::Metric {
            untyped: Some(dto::Untyped { value: f64::NAN }),
            ..Default::default()
        }],
    );
    let fams = parse_protobuf(&body(&[counter, gauge, untyped]), false).unwrap();
    assert_eq!(fams.len(), 3);
    let c = &fams[0];
    assert_eq!(
        (c.name.as_str(), c.kind, c.unit.as_str()),
        ("http_requests_total", MetricType::Counter, "requests")
    );
    assert_eq!(c.help, "help of http_requests_total");
    let s = &c.samples[0];
    assert_eq!(float(s), 1027.0);
    assert_eq!(s.timestamp_ms, Some(1_700_000_001_000));
    assert_eq!(s.created_timestamp_ms, Some(1_600_000_000_500));
    assert_eq!(
        s.exemplars,
        vec![ProtoExemplar {
            labels: vec![("trace_id".into(), "abc".into())],
            value: 1.0,
            timestamp_ms: Some(1_700_000_000_123),
        }]
    );
    assert_eq!(
        s.to_labels().to_string(),
        r#"http_requests_total{code="200", method="get"}"#
    );
    assert_eq!(fams[1].kind, MetricType::Gauge);
    assert_eq!(float(&fams[1].samples[0]), -3.5);
    assert_eq!(fams[1].samples[0].timestamp_ms, None);
    assert_eq!(fams[2].kind, MetricType::Unknown);
    assert_eq!(float(&fams[2].samples[0]).to_bits(), NORMAL_NAN.to_bits());
}

#[test]
fn summaries_expand_to_count_sum_quantiles() {
    let f = family(
        "rpc_seconds",
        T::Summary,
        vec![dto::Metric {
            label: vec![lp("svc", "a")],
            summary: Some(dto::Summary {
                sample_count: 10,
                sample_sum: 2.5,
                quantile: vec![
                    dto::Quantile {
                        quantile: 0.5,
                        value: 0.2,
                    },
                    dto::Quantile {
                        quantile: 0.99,
                        value: 0.9,
                    },
                    dto::Quantile {
                        quantile: 1.0,
                        value: 1.2,
                    },
                ],
                created_timestamp: ts(5000),
            }),
            ..Default::default()
        }],
    );
    let fams = parse_protobuf(&body(&[f]), false).unwrap();
    let f = &fams[0];
    assert_eq!(
        series(f),
        [
            "rpc_seconds_count{svc=a}",
            "rpc_seconds_sum{svc=a}",
            "rpc_seconds{svc=a,quantile=0.5}",
            "rpc_seconds{svc=a,quantile=0.99}",
            "rpc_seconds{svc=a,quantile=1.0}",
        ]
    );
    let values: Vec<f64> = f.samples.iter().map(float).collect();
    assert_eq!(values, [10.0, 2.5, 0.2, 0.9, 1.2]);
    assert!(f
        .samples
        .iter()
        .all(|s| s.created_timestamp_ms == Some(5000)));
}

fn bucket(le: f64, count: u64) -> dto::Bucket {
    dto::Bucket {
        cumulative_count: count,
        upper_bound: le,
        ..Default::default()
    }
}

#[test]
fn classic_histograms_get_an_inf_bucket() {
    let mut with_ex = bucket(0.5, 3);
    with_ex.exemplar = Some(exemplar("t1", 0.3, 1000));
    let no_inf = family(
        "latency_seconds",
        T::Histogram,
        vec![dto::Metric {
            histogram: Some(dto::Histogram {
                sample_count: 7,
                sample_sum: 4.25,
                bucket: vec![bucket(0.1, 1), with_ex, bucket(1000000.0, 6)],
                ..Default::default()
            }),
            ..Default::default()
        }],
    );
    let f = &parse_protobuf(&body(&[no_inf]), false).unwrap()[0];
    assert_eq!(
        series(f),
        [
            "latency_seconds_count{}",
            "latency_seconds_sum{}",
            "latency_seconds_bucket{le=0.1}",
            "latency_seconds_bucket{le=0.5}",
            "latency_seconds_bucket{le=1e+06}",
            "latency_seconds_bucket{le=+Inf}",
        ]
    );
    let values: Vec<f64> = f.samples.iter().map(float).collect();
    assert_eq!(values, [7.0, 4.25, 1.0, 3.0, 6.0, 7.0]);
    assert_eq!(f.samples[3].exemplars[0].labels[0].1, "t1");
    assert!(f.samples[2].exemplars.is_empty());

    // An explicit +Inf bucket is not repeated; float counts override integer ones.
    let mut inf = bucket(f64::INFINITY, 0);
    inf.cumulative_count_float = 9.5;
    let with_inf = family(
        "sizes",
        T::GaugeHistogram,
        vec![dto::Metric {
            histogram: Some(dto::Histogram {
                sample_count_float: 9.5,
                bucket: vec![bucket(1.0, 2), inf],
                ..Default::default()
            }),
            ..Default::default()
        }],
    );
    let f = &parse_protobuf(&body(&[with_inf]), true).unwrap()[0];
    assert_eq!(f.kind, MetricType::GaugeHistogram);
    assert_eq!(
        series(f),
        [
            "sizes_count{}",
            "sizes_sum{}",
            "sizes_bucket{le=1.0}",
            "sizes_bucket{le=+Inf}"
        ]
    );
    assert_eq!(float(&f.samples[0]), 9.5);
    assert_eq!(float(&f.samples[3]), 9.5);
}

fn native_metric() -> dto::Histogram {
    dto::Histogram {
        sample_count: 12,
        sample_sum: 18.4,
        bucket: vec![bucket(1.0, 4), bucket(10.0, 10)],
        schema: 1,
        zero_threshold: 0.001,
        zero_count: 2,
        negative_span: vec![dto::BucketSpan {
            offset: 0,
            length: 1,
        }],
        negative_delta: vec![1],
        positive_span: vec![
            dto::BucketSpan {
                offset: 0,
                length: 2,
            },
            dto::BucketSpan {
                offset: 1,
                length: 2,
            },
        ],
        positive_delta: vec![2, -1, 3, -2],
        exemplars: vec![exemplar("n1", 2.0, 3000)],
        created_timestamp: ts(100),
        ..Default::default()
    }
}

#[test]
fn native_histograms_decode_to_model_histograms() {
    let f = family(
        "req_size",
        T::Histogram,
        vec![dto::Metric {
            label: vec![lp("path", "/")],
            histogram: Some(native_metric()),
            ..Default::default()
        }],
    );
    let b = body(&[f]);
    let fams = parse_protobuf(&b, false).unwrap();
    let f = &fams[0];
    assert_eq!(series(f), ["req_size{path=/}"]);
    let s = &f.samples[0];
    let ProtoValue::Histogram(h) = &s.value else {
        panic!("not an integer histogram: {:?}", s.value)
    };
    assert_eq!((h.schema, h.count, h.zero_count), (1, 12, 2));
    assert_eq!(h.sum, 18.4);
    assert_eq!(h.zero_threshold, 0.001);
    assert_eq!(h.counter_reset_hint, CounterResetHint::Unknown);
    assert_eq!(
        h.positive_spans,
        vec![
            Span {
                offset: 0,
                length: 2
            },
            Span {
                offset: 1,
                length: 2
            }
        ]
    );
    assert_eq!(h.positive_buckets, vec![2, -1, 3, -2]);
    assert_eq!(h.negative_buckets, vec![1]);
    h.validate().unwrap();
    assert_eq!(s.exemplars[0].labels[0].1, "n1");
    assert_eq!(s.created_timestamp_ms, Some(100));

    // Keeping classic histograms yields the native one first, then the classic series.
    let f = &parse_protobuf(&b, true).unwrap()[0];
    assert_eq!(
        series(f),
        [
            "req_size{path=/}",
            "req_size_count{path=/}",
            "req_size_sum{path=/}",
            "req_size_bucket{path=/,le=1.0}",
            "req_size_bucket{path=/,le=10.0}",
            "req_size_bucket{path=/,le=+Inf}",
        ]
    );
}

#[test]
fn float_and_gauge_native_histograms() {
    let h = dto::Histogram {
        sample_count_float: 3.5,
        sample_sum: 7.0,
        schema: 0,
        zero_threshold: 0.5,
        zero_count_float: 0.5,
        positive_span: vec![dto::BucketSpan {
            offset: 1,
            length: 2,
        }],
        positive_count: vec![1.0, 2.0],
        ..Default::default()
    };
    let f = family(
        "queue_fill",
        T::GaugeHistogram,
        vec![dto::Metric {
            histogram: Some(h),
            ..Default::default()
        }],
    );
    let fams = parse_protobuf(&body(&[f]), false).unwrap();
    let ProtoValue::FloatHistogram(fh) = &fams[0].samples[0].value else {
        panic!("not a float histogram")
    };
    assert_eq!(fh.counter_reset_hint, CounterResetHint::Gauge);
    assert_eq!((fh.count, fh.zero_count), (3.5, 0.5));
    assert_eq!(fh.positive_buckets, vec![1.0, 2.0]);
    fh.validate().unwrap();
}

#[test]
fn empty_native_histogram_is_marked_by_a_noop_span() {
    let h = dto::Histogram {
        schema: 3,
        positive_span: vec![dto::BucketSpan {
            offset: 0,
            length: 0,
        }],
        ..Default::default()
    };
    let f = family(
        "empty",
        T::Histogram,
        vec![dto::Metric {
            histogram: Some(h),
            ..Default::default()
        }],
    );
    let fams = parse_protobuf(&body(&[f]), false).unwrap();
    let ProtoValue::Histogram(h) = &fams[0].samples[0].value else {
        panic!("not native")
    };
    // Compacting drops the no-op span.
    assert_eq!((h.schema, h.count), (3, 0));
    assert!(h.positive_spans.is_empty());
    // Without the span it is an (empty) classic histogram.
    let f = family(
        "empty",
        T::Histogram,
        vec![dto::Metric {
            histogram: Some(dto::Histogram {
                schema: 3,
                ..Default::default()
            }),
            ..Default::default()
        }],
    );
    let fams = parse_protobuf(&body(&[f]), false).unwrap();
    assert_eq!(
        series(&fams[0]),
        ["empty_count{}", "empty_sum{}", "empty_bucket{le=+Inf}"]
    );
}

#[test]
fn errors_stop_the_iterator() {
    let good = family(
        "up",
        T::Gauge,
        vec![dto::Metric {
            gauge: Some(dto::Gauge { value: 1.0 }),
            ..Default::default()
        }],
    );
    let good_len = body(std::slice::from_ref(&good)).len();
    let bad_name = family("0up", T::Gauge, vec![]);
    let b = body(&[good.clone(), bad_name, good.clone()]);
    let mut p = ProtobufParser::new(&b, false);
    assert!(p.next().unwrap().is_ok());
    let e = p.next().unwrap().unwrap_err();
    assert_eq!(e.offset, good_len);
    assert_eq!(e.message, "invalid metric name: 0up");
    assert!(p.next().is_none());

    let bad_label = family(
        "up",
        T::Gauge,
        vec![dto::Metric {
            label: vec![lp("a-b", "x")],
            ..Default::default()
        }],
    );
    let e = parse_protobuf(&body(&[bad_label]), false).unwrap_err();
    assert_eq!(e.message, "invalid label name: a-b");

    let mut unknown_type = good.clone();
    unknown_type.r#type = 9;
    let e = parse_protobuf(&body(&[unknown_type]), false).unwrap_err();
    assert_eq!(e.message, r#"unknown metric type for metric "up": 9"#);

    // A length beyond the body.
    let mut b = body(std::slice::from_ref(&good));
    b.truncate(b.len() - 1);
    let e = parse_protobuf(&b, false).unwrap_err();
    assert!(
        e.message.contains("insufficient length of buffer"),
        "{}",
        e.message
    );
    // A varint longer than 5 bytes.
    let e = parse_protobuf(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x01], false).unwrap_err();
    assert_eq!(e.message, "protobufparse: invalid varint encountered");
    // Bytes that are no MetricFamily.
    let e = parse_protobuf(&[0x02, 0xff, 0xff], false).unwrap_err();
    assert!(e.message.starts_with("protobufparse: "), "{}", e.message);
    // An empty body has no families.
    assert_eq!(parse_protobuf(&[], false).unwrap(), vec![]);
}

#[test]
fn native_exemplars_need_timestamps() {
    let mut h = native_metric();
    h.exemplars = vec![
        dto::Exemplar {
            timestamp: None,
            ..exemplar("untimed", 1.0, 0)
        },
        exemplar("timed", 2.0, 4000),
    ];
    let mut b = bucket(1.0, 4);
    b.exemplar = Some(exemplar("from-bucket", 0.5, 5000));
    h.bucket = vec![b];
    let f = family(
        "h",
        T::Histogram,
        vec![dto::Metric {
            histogram: Some(h.clone()),
            ..Default::default()
        }],
    );
    let fams = parse_protobuf(&body(&[f]), true).unwrap();
    let names = |s: &ProtoSample| -> Vec<String> {
        s.exemplars.iter().map(|e| e.labels[0].1.clone()).collect()
    };
    assert_eq!(names(&fams[0].samples[0]), ["timed"]);
    // The classic bucket series keeps its own exemplar.
    assert_eq!(names(&fams[0].samples[3]), ["from-bucket"]);
    // Without a list of its own, the native histogram takes the buckets' timed exemplars.
    h.exemplars.clear();
    let f = family(
        "h",
        T::Histogram,
        vec![dto::Metric {
            histogram: Some(h),
            ..Default::default()
        }],
    );
    let fams = parse_protobuf(&body(&[f]), false).unwrap();
    assert_eq!(names(&fams[0].samples[0]), ["from-bucket"]);
}

#[test]
fn units_must_be_name_suffixes() {
    let with_unit = |name: &str, t: T, unit: &str| {
        let mut f = family(name, t, vec![]);
        f.unit = unit.into();
        parse_protobuf(&body(&[f]), false).map(|_| ())
    };
    assert!(with_unit("req_seconds_total", T::Counter, "seconds").is_ok());
    assert!(with_unit("size_bytes", T::Gauge, "bytes").is_ok());
    assert_eq!(
        with_unit("req_total", T::Counter, "seconds")
            .unwrap_err()
            .message,
        r#"unit "seconds" not a suffix of counter "req_total""#
    );
    assert_eq!(
        with_unit("sizebytes", T::Gauge, "bytes")
            .unwrap_err()
            .message,
        r#"unit "bytes" not a suffix of metric "sizebytes""#
    );
    // `_total` is only stripped for counters.
    assert!(with_unit("x_seconds_total", T::Gauge, "seconds").is_err());
}

#[test]
fn floats_format_like_prometheus() {
    for (f, want) in [
        (1.0, "1.0"),
        (0.0, "0.0"),
        (-1.0, "-1.0"),
        (0.25, "0.25"),
        (0.99, "0.99"),
        (10.0, "10.0"),
        (123456.0, "123456.0"),
        (1e6, "1e+06"),
        (2.5e6, "2.5e+06"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        (1.5e-7, "1.5e-07"),
        (1e21, "1e+21"),
        (f64::INFINITY, "+Inf"),
        (f64::NEG_INFINITY, "-Inf"),
        (f64::NAN, "NaN"),
    ] {
        assert_eq!(format_openmetrics_float(f), want, "{f}");
    }
}

proptest::proptest! {
    /// Gauges and counters with any valid labels and any values come back as sent, one
    /// sample per metric, in order.
    #[test]
    fn simple_families_round_trip(
        metrics in proptest::collection::vec(
            (
                proptest::collection::vec(("[a-z_][a-z0-9_]{0,8}", "\\PC{0,12}"), 0..4),
                proptest::num::f64::ANY,
                0i64..2_000_000_000_000,
            ),
            0..6,
        ),
        counter in proptest::bool::ANY,
    ) {
        let t = if counter { T::Counter } else { T::Gauge };
        let dto_metrics: Vec<dto::Metric> = metrics
            .iter()
            .map(|(labels, v, ts)| dto::Metric {
                label: labels.iter().map(|(n, v)| lp(n, v)).collect(),
                gauge: (!counter).then_some(dto::Gauge { value: *v }),
                counter: counter.then(|| dto::Counter { value: *v, ..Default::default() }),
                timestamp_ms: *ts,
                ..Default::default()
            })
            .collect();
        let b = body(&[family("m", t, dto_metrics)]);
        let fams = parse_protobuf(&b, false).unwrap();
        proptest::prop_assert_eq!(fams.len(), 1);
        let got = &fams[0].samples;
        proptest::prop_assert_eq!(got.len(), metrics.len());
        for (s, (labels, v, ts)) in got.iter().zip(&metrics) {
            proptest::prop_assert_eq!(&s.name, "m");
            proptest::prop_assert_eq!(&s.labels, labels);
            // NaN comes back canonical; -0.0 is not sent by these proto3-style structs
            // (a zero is the field's default), so it reads back as 0.0.
            let want = if v.is_nan() {
                NORMAL_NAN
            } else if *v == 0.0 {
                0.0
            } else {
                *v
            };
            proptest::prop_assert_eq!(float(s).to_bits(), want.to_bits());
            proptest::prop_assert_eq!(s.timestamp_ms, (*ts != 0).then_some(*ts));
        }
    }
}
