//! Parser tests: valid expositions entry by entry, every error with its position, and
//! property tests (arbitrary bytes never panic; generated expositions read back exactly).

use crate::*;
use std::borrow::Cow;

fn text(s: &str) -> Result<Vec<Entry<'_>>, ParseError> {
    parse(s.as_bytes(), Format::PrometheusText, Limits::default())
}

fn om(s: &str) -> Result<Vec<Entry<'_>>, ParseError> {
    parse(s.as_bytes(), Format::OpenMetrics, Limits::default())
}

fn sample<'a>(name: &'a str, labels: &[(&'a str, &'a str)], value: f64) -> Sample<'a> {
    Sample {
        name,
        labels: labels
            .iter()
            .map(|&(n, v)| Label {
                name: n,
                value: Cow::Borrowed(v),
            })
            .collect(),
        value,
        timestamp_ms: None,
        exemplar: None,
        created: false,
    }
}

fn samples<'a>(entries: &'a [Entry<'a>]) -> Vec<&'a Sample<'a>> {
    entries
        .iter()
        .filter_map(|e| match e {
            Entry::Sample(s) => Some(s),
            _ => None,
        })
        .collect()
}

#[test]
fn text_format_entries() {
    let input = "# HELP go_gc_duration_seconds A summary of \\\\ the \\n GC \\\"pause\\\".\n\
                 # TYPE go_gc_duration_seconds summary\n\
                 go_gc_duration_seconds{quantile=\"0\"} 4.5e-05\n\
                 go_gc_duration_seconds_sum 0.1\n\
                 \n\
                 # a free comment\n\
                 #no space comment\n\
                 http_requests_total{method=\"post\",code=\"200\",} 1027 1395066363000\n\
                 \tspaced  {  a = \"1\" b=\"2\"  }  3   42\n\
                 esc{path=\"C:\\\\dir\\\"x\\\"\\n\\t\"} +Inf\n\
                 multi{v=\"line1\nline2\"} -1\n\
                 nan NaN\n\
                 a:b:c{} 1e3";
    let got = text(input).expect("valid");
    assert_eq!(
        got[0],
        Entry::Help {
            metric: "go_gc_duration_seconds",
            text: Cow::Owned("A summary of \\ the \n GC \\\"pause\\\".".into()),
        }
    );
    assert_eq!(
        got[1],
        Entry::Type {
            metric: "go_gc_duration_seconds",
            kind: MetricType::Summary
        }
    );
    assert_eq!(got[4], Entry::Comment(Cow::Borrowed("# a free comment")));
    assert_eq!(got[5], Entry::Comment(Cow::Borrowed("#no space comment")));
    let s = samples(&got);
    assert_eq!(s.len(), 8);
    assert_eq!(
        *s[0],
        sample("go_gc_duration_seconds", &[("quantile", "0")], 4.5e-05)
    );
    assert_eq!(*s[1], sample("go_gc_duration_seconds_sum", &[], 0.1));
    let mut want = sample(
        "http_requests_total",
        &[("method", "post"), ("code", "200")],
        1027.0,
    );
    want.timestamp_ms = Some(1_395_066_363_000);
    assert_eq!(*s[2], want);
    // Regression (side by side with Prometheus 2.42, `tests/tests/agent_compat.rs`): the
    // blanks before a name are part of it, as in Prometheus's text parser; the scrape then
    // fails the metric name check (`invalid metric name or label names: {__name__="\tspaced"`).
    let mut want = sample("\tspaced", &[("a", "1"), ("b", "2")], 3.0);
    want.timestamp_ms = Some(42);
    assert_eq!(*s[3], want);
    assert_eq!(s[4].labels[0].value, "C:\\dir\"x\"\n\\t");
    assert_eq!(s[4].value, f64::INFINITY);
    assert_eq!(s[5].labels[0].value, "line1\nline2");
    assert_eq!(s[6].value.to_bits(), NORMAL_NAN.to_bits());
    assert_eq!(*s[7], sample("a:b:c", &[], 1000.0));
    // Borrowed unless escaped.
    assert!(matches!(s[0].labels[0].value, Cow::Borrowed(_)));
    assert!(matches!(s[4].labels[0].value, Cow::Owned(_)));
    assert_eq!(
        s[2].to_labels(),
        strata_model::Labels::from_pairs([
            ("__name__", "http_requests_total"),
            ("code", "200"),
            ("method", "post")
        ])
    );
}

/// Regression (fuzzing): a `__name__` label inside the braces and empty values.
#[test]
fn to_labels_drops_empty_values_and_lets_a_braced_name_win() {
    let got = text("up{__name__=\"x\",a=\"\",b=\"1\"} 1\n").expect("valid");
    assert_eq!(
        samples(&got)[0].to_labels(),
        strata_model::Labels::from_pairs([("__name__", "x"), ("b", "1")])
    );
}

#[test]
fn text_help_forms() {
    let got = text("# HELP\n# HELP b   \n# HELP c  two spaces\n# TYPE d untyped\n# HELP e\n")
        .expect("valid");
    assert_eq!(got[0], Entry::Comment(Cow::Borrowed("# HELP")));
    assert_eq!(
        got[4],
        Entry::Help {
            metric: "e",
            text: Cow::Borrowed("")
        }
    );
    assert_eq!(
        got[1],
        Entry::Help {
            metric: "b",
            text: Cow::Borrowed("")
        }
    );
    assert_eq!(
        got[2],
        Entry::Help {
            metric: "c",
            text: Cow::Borrowed(" two spaces")
        }
    );
    assert_eq!(
        got[3],
        Entry::Type {
            metric: "d",
            kind: MetricType::Unknown
        }
    );
}

#[test]
fn openmetrics_entries() {
    let input = "# TYPE foo_seconds counter\n\
                 # UNIT foo_seconds seconds\n\
                 # HELP foo_seconds Help with \\\"quotes\\\" and \\n.\n\
                 foo_seconds_total{a=\"b\"} 17.0 1520879607.789 # {trace_id=\"KOO5S4vxi0o\"} 0.67 1520879602.890\n\
                 foo_seconds_created{a=\"b\"} 1520430000.123\n\
                 foo_seconds_total 1 # {} 2\n\
                 # TYPE bar gaugehistogram\n\
                 bar_bucket{le=\"+Inf\"} 3\n\
                 # TYPE baz stateset\n\
                 # TYPE q info\n\
                 # TYPE u unknown\n\
                 u 1.5e3 1.5\n\
                 # EOF\n";
    let got = om(input).expect("valid");
    assert_eq!(
        got[1],
        Entry::Unit {
            metric: "foo_seconds",
            unit: "seconds"
        }
    );
    assert_eq!(
        got[2],
        Entry::Help {
            metric: "foo_seconds",
            text: Cow::Owned("Help with \"quotes\" and \n.".into())
        }
    );
    let s = samples(&got);
    assert_eq!(s[0].timestamp_ms, Some(1_520_879_607_789));
    let ex = s[0].exemplar.as_ref().expect("exemplar");
    assert_eq!(ex.labels[0].name, "trace_id");
    assert_eq!(ex.labels[0].value, "KOO5S4vxi0o");
    assert_eq!(ex.value, 0.67);
    assert_eq!(ex.timestamp_ms, Some(1_520_879_602_890));
    assert!(s[1].created && !s[0].created);
    assert_eq!(s[1].value, 1_520_430_000.123);
    let ex = s[2].exemplar.as_ref().expect("exemplar");
    assert!(ex.labels.is_empty() && ex.timestamp_ms.is_none() && ex.value == 2.0);
    assert_eq!(s[3].labels[0].value, "+Inf");
    assert_eq!(s[4].timestamp_ms, Some(1500));
    assert!(got.contains(&Entry::Type {
        metric: "baz",
        kind: MetricType::StateSet
    }));
    // `# EOF` without a final newline is fine.
    om("a 1\n# EOF").expect("valid");
}

/// (input, line, column, message start).
const TEXT_ERRORS: &[(&str, usize, usize, &str)] = &[
    (
        "a{b!=\"c\"} 1\n",
        1,
        4,
        "expected equal, got \"INVALID\" (\"!=\") while parsing: \"a{b!=\"",
    ),
    ("a{b=c} 1\n", 1, 5, "expected label value, got \"INVALID\""),
    (
        "a{1=\"c\"} 1\n",
        1,
        3,
        "expected label name, got \"INVALID\"",
    ),
    (
        "ok 1\na{b=\"c\"\n",
        2,
        8,
        "expected label name, got \"INVALID\" (\"\\n\")",
    ),
    ("a\n", 1, 2, "expected value after metric, got \"INVALID\""),
    (
        "a 1 2 3\n",
        1,
        7,
        "expected next entry after timestamp, got \"TIMESTAMP\"",
    ),
    (
        "a 1 -2\n",
        1,
        5,
        "expected timestamp or new record, got \"INVALID\"",
    ),
    (
        "a abc\n",
        1,
        3,
        "strconv.ParseFloat: parsing \"abc\": invalid syntax while parsing: \"a abc\"",
    ),
    ("a 0x1p3\n", 1, 3, "unsupported character in float"),
    (
        "a 1 99999999999999999999\n",
        1,
        5,
        "strconv.ParseInt: parsing \"99999999999999999999\": value out of range",
    ),
    ("# TYPE a nope\n", 1, 9, "invalid metric type \"nope\""),
    (
        "# TYPE a gaugehistogram\n",
        1,
        9,
        "invalid metric type \"gaugehistogram\"",
    ),
    (
        "# HELP 1a x\n",
        1,
        8,
        "expected metric name after HELP, got \"INVALID\"",
    ),
    (
        "1a 1\n",
        1,
        1,
        "expected a valid start token, got \"INVALID\"",
    ),
    (
        "{a=\"b\"} 1\n",
        1,
        1,
        "expected a valid start token, got \"INVALID\"",
    ),
    (
        "a{b=\"\\\n\"} 1\n",
        1,
        5,
        "expected label value, got \"INVALID\"",
    ),
    (
        "a{b=\"unterminated} 1\n",
        1,
        5,
        "expected label value, got \"INVALID\"",
    ),
];

#[test]
fn text_errors_name_position_and_token() {
    for &(input, line, column, msg) in TEXT_ERRORS {
        let err = text(input).expect_err(input);
        assert!(
            err.message.starts_with(msg) && (err.line, err.column) == (line, column),
            "{input:?}: got {err:?}, want {line}:{column} {msg:?}"
        );
    }
}

#[test]
fn invalid_utf8_is_an_error() {
    let err = parse(
        b"a{b=\"\xff\"} 1\n",
        Format::PrometheusText,
        Limits::default(),
    )
    .expect_err("invalid utf-8 value");
    assert!(
        err.message.starts_with("invalid UTF-8 label value"),
        "{err}"
    );
    let err = parse(
        b"# HELP a \xfe\n",
        Format::PrometheusText,
        Limits::default(),
    )
    .expect_err("invalid utf-8 help");
    assert!(err.message.contains("is not a valid utf8 string"), "{err}");
    let err = parse(b"a \xff\n", Format::OpenMetrics, Limits::default()).expect_err("value");
    assert!(err.message.contains("invalid syntax"), "{err}");
    // Comments are not checked, as in Prometheus.
    parse(
        b"# \xff\xfe\na 1\n",
        Format::PrometheusText,
        Limits::default(),
    )
    .expect("valid");
}

const OM_ERRORS: &[(&str, usize, usize, &str)] = &[
    ("a 1\n", 2, 1, "data does not end with # EOF"),
    ("a 1", 1, 4, "data does not end with # EOF"),
    (
        "a 1\n\n# EOF\n",
        2,
        1,
        "expected a valid start token, got \"INVALID\"",
    ),
    ("# EOF\na 1\n", 2, 1, "unexpected data after # EOF"),
    (
        "# a comment\n# EOF\n",
        1,
        1,
        "expected a valid start token, got \"INVALID\"",
    ),
    (
        "a{b=\"c\" d=\"e\"} 1\n# EOF\n",
        1,
        8,
        "expected comma or brace close, got \"INVALID\"",
    ),
    (
        "a  1\n# EOF\n",
        1,
        2,
        "expected value after metric, got \"INVALID\"",
    ),
    ("a 1 NaN\n# EOF\n", 1, 4, "invalid timestamp NaN"),
    (
        "a 1 #{x=\"y\"} 1\n# EOF\n",
        1,
        4,
        "strconv.ParseFloat: parsing \"#{x=\\\"y\\\"}\": invalid syntax",
    ),
    (
        "a 1  2\n# EOF\n",
        1,
        4,
        "expected timestamp or # symbol, got \"INVALID\"",
    ),
    (
        "a 1 # {x=\"y\"} 1 +Inf\n# EOF\n",
        1,
        16,
        "invalid exemplar timestamp +Inf",
    ),
    (
        "a 1 # {x=\"y\"}\n# EOF\n",
        1,
        14,
        "expected value after exemplar labels, got \"INVALID\"",
    ),
    (
        "a 1 # {x=\"y\" z=\"1\"} 1\n# EOF\n",
        1,
        13,
        "expected comma or brace close",
    ),
    (
        "a 1 # {x=\"y\"} 1 2 3\n# EOF\n",
        1,
        18,
        "expected next entry after exemplar timestamp",
    ),
    (
        "# UNIT a_seconds bytes\n# EOF\n",
        1,
        17,
        "unit \"bytes\" not a suffix of metric \"a_seconds\"",
    ),
    (
        "# UNIT seconds seconds\n# EOF\n",
        1,
        15,
        "unit \"seconds\" not a suffix of metric \"seconds\"",
    ),
    (
        "# TYPE a untyped\n# EOF\n",
        1,
        9,
        "invalid metric type \"untyped\"",
    ),
    ("# HELP a\n# EOF\n", 1, 9, "expected text in HELP"),
    (
        "a{b=\"c\nd\"} 1\n# EOF\n",
        1,
        5,
        "expected label value, got \"INVALID\"",
    ),
];

#[test]
fn openmetrics_errors_name_position_and_token() {
    for &(input, line, column, msg) in OM_ERRORS {
        let err = om(input).expect_err(input);
        assert!(
            err.message.starts_with(msg) && (err.line, err.column) == (line, column),
            "{input:?}: got {err:?}, want {line}:{column} {msg:?}"
        );
    }
}

#[test]
fn display_names_the_position() {
    let err = text("ok 1\nbad{x!} 1\n").expect_err("bad");
    assert_eq!(
        err.to_string(),
        "line 2, column 6: expected equal, got \"INVALID\" (\"!}\") while parsing: \"bad{x!}\""
    );
}

#[test]
fn line_limit() {
    let limits = Limits { max_line_bytes: 16 };
    let ok = "a 1\nbbbbbbbbbbbbb 1\n";
    parse(ok.as_bytes(), Format::PrometheusText, limits).expect("lines of 16 bytes pass");
    let long = format!("a 1\n{} 1\n", "b".repeat(20));
    let err = parse(long.as_bytes(), Format::PrometheusText, limits).expect_err("too long");
    assert_eq!((err.line, err.column), (2, 17));
    assert_eq!(err.message, "line longer than the limit of 16 bytes");
    // A huge line with no newline at all is refused without scanning all of it.
    let huge = vec![b'x'; 10 << 20];
    let err = parse(&huge, Format::OpenMetrics, limits).expect_err("too long");
    assert_eq!(err.column, 17);
}

#[test]
fn nul_starts_end_text_input_as_in_prometheus() {
    let got = text("a 1\n\0b 2\n").expect("valid");
    assert_eq!(samples(&got).len(), 1);
    // Inside a label value a NUL is just a byte.
    let got = text("a{b=\"x\0y\"} 1\n").expect("valid");
    assert_eq!(samples(&got)[0].labels[0].value, "x\0y");
}

#[test]
fn protobuf_is_refused_for_now() {
    let err = parse(b"\x00\x01", Format::PrometheusProto, Limits::default()).expect_err("proto");
    assert!(err.message.contains("not supported yet"));
}

#[test]
fn iteration_stops_after_an_error() {
    let mut p = Parser::new(
        b"a 1\nb{ 2\nc 3\n",
        Format::PrometheusText,
        Limits::default(),
    );
    assert!(matches!(p.next(), Some(Ok(Entry::Sample(_)))));
    assert!(matches!(p.next(), Some(Err(_))));
    assert!(p.next().is_none());
}

mod props {
    use super::*;
    use proptest::prelude::*;

    /// Writes a sample in either format; values are escaped as Prometheus's clients do.
    fn write_sample(out: &mut String, s: &GenSample, om: bool) {
        out.push_str(&s.name);
        if !s.labels.is_empty() {
            out.push('{');
            for (i, (n, v)) in s.labels.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let esc = v
                    .replace('\\', "\\\\")
                    .replace('"', "\\\"")
                    .replace('\n', "\\n");
                out.push_str(&format!("{n}=\"{esc}\""));
            }
            out.push('}');
        }
        out.push_str(&format!(" {:?}", s.value));
        if let Some(ts) = s.ts {
            if om {
                out.push_str(&format!(" {}.{:03}", ts / 1000, ts % 1000));
            } else {
                out.push_str(&format!(" {ts}"));
            }
        }
        out.push('\n');
    }

    #[derive(Debug, Clone)]
    struct GenSample {
        name: String,
        labels: Vec<(String, String)>,
        value: f64,
        ts: Option<i64>,
    }

    fn gen_sample() -> impl Strategy<Value = GenSample> {
        (
            "[a-zA-Z_:][a-zA-Z0-9_:]{0,8}",
            proptest::collection::vec(("[a-zA-Z_][a-zA-Z0-9_]{0,5}", "\\PC{0,6}"), 0..4),
            proptest::num::f64::NORMAL | proptest::num::f64::ZERO,
            proptest::option::of(0i64..4_000_000_000_000),
        )
            .prop_map(|(name, labels, value, ts)| GenSample {
                name,
                labels,
                value,
                ts,
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..256)) {
            for f in [Format::PrometheusText, Format::OpenMetrics] {
                for e in Parser::new(&data, f, Limits { max_line_bytes: 64 }) {
                    if let Err(err) = e {
                        prop_assert!(err.line >= 1 && err.column >= 1);
                    }
                }
            }
        }

        #[test]
        fn near_valid_text_never_panics(
            data in proptest::collection::vec(
                prop_oneof![
                    Just(b'a'), Just(b'{'), Just(b'}'), Just(b'"'), Just(b'='), Just(b','),
                    Just(b' '), Just(b'\n'), Just(b'#'), Just(b'\\'), Just(b'1'), Just(b'.'),
                    Just(b'\t'), Just(0u8), Just(0xff),
                ],
                0..64,
            )
        ) {
            for f in [Format::PrometheusText, Format::OpenMetrics] {
                let _ = parse(&data, f, Limits::default());
            }
        }

        #[test]
        fn generated_expositions_read_back(samples in proptest::collection::vec(gen_sample(), 0..8)) {
            for om_format in [false, true] {
                let mut body = String::new();
                for s in &samples {
                    write_sample(&mut body, s, om_format);
                }
                if om_format {
                    body.push_str("# EOF\n");
                }
                let f = if om_format { Format::OpenMetrics } else { Format::PrometheusText };
                let got = parse(body.as_bytes(), f, Limits::default())
                    .map_err(|e| TestCaseError::fail(format!("{e}\n{body}")))?;
                prop_assert_eq!(got.len(), samples.len());
                for (e, want) in got.iter().zip(&samples) {
                    let Entry::Sample(s) = e else {
                        return Err(TestCaseError::fail("not a sample"));
                    };
                    prop_assert_eq!(s.name, want.name.as_str());
                    prop_assert_eq!(s.value, want.value);
                    // OpenMetrics seconds become milliseconds as in Prometheus,
                    // `int64(seconds * 1000)`, which can truncate one millisecond away.
                    let want_ts = want.ts.map(|ts| if om_format {
                        (format!("{}.{:03}", ts / 1000, ts % 1000).parse::<f64>().unwrap_or(0.0) * 1000.0) as i64
                    } else {
                        ts
                    });
                    prop_assert_eq!(s.timestamp_ms, want_ts);
                    let labels: Vec<(&str, &str)> =
                        s.labels.iter().map(|l| (l.name, l.value.as_ref())).collect();
                    let want_labels: Vec<(&str, &str)> =
                        want.labels.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
                    prop_assert_eq!(labels, want_labels);
                }
            }
        }
    }
}
