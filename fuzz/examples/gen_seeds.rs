//! Writes the seed corpora under `fuzz/corpus/<target>/`: a few small, valid inputs per
//! target so the fuzzers start from real requests instead of learning snappy and protobuf
//! framing from nothing. The files are checked in; rerun this after changing an input
//! layout:
//!
//! ```sh
//! scripts/fuzz.sh --seeds
//! ```
//!
//! It is built like the targets, with coverage instrumentation, so it reuses their compiled
//! dependencies; instrumented code must link libFuzzer, so this is a libFuzzer binary that
//! does its work in the init hook and exits before fuzzing anything.
#![no_main]
// The init hook exits on purpose, so the fuzz loop the macro emits after it is unreachable.
#![allow(unreachable_code)]

use std::fs;
use std::path::{Path, PathBuf};

use prost::Message;
use strata_chunkenc::encode_xor;
use strata_fuzz::{flags, PushInput};
use strata_model::{Sample, STALE_NAN};
use strata_proto::prometheus::{
    self as pb, histogram, label_matcher, metric_metadata, read_request, BucketSpan, Histogram,
    LabelMatcher, MetricMetadata, Query, ReadRequest, TimeSeries, WriteRequest,
};
use strata_proto::write_v2 as v2;

libfuzzer_sys::fuzz_target!(
    init: {
        match generate() {
            Ok(()) => std::process::exit(0),
            Err(e) => {
                eprintln!("gen_seeds: {e}");
                std::process::exit(1);
            }
        }
    },
    |_data: &[u8]| {}
);

/// Writes every target's seeds under `$FUZZ_SEEDS_DIR`, or `fuzz/corpus/` when unset.
fn generate() -> std::io::Result<()> {
    let root = std::env::var_os("FUZZ_SEEDS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus"));
    write(&root, "remote_write", remote_write_seeds())?;
    write(&root, "remote_read", remote_read_seeds())?;
    write(&root, "xor_chunk", xor_chunk_seeds())?;
    write(&root, "promql_parse", promql_seeds())?;
    write(&root, "exposition_text", exposition_text_seeds())?;
    write(
        &root,
        "exposition_openmetrics",
        exposition_openmetrics_seeds(),
    )?;
    write(&root, "relabel", relabel_seeds())?;
    Ok(())
}

fn write(root: &Path, target: &str, seeds: Vec<(&str, Vec<u8>)>) -> std::io::Result<()> {
    let dir = root.join(target);
    fs::create_dir_all(&dir)?;
    for (name, bytes) in seeds {
        fs::write(dir.join(name), bytes)?;
    }
    Ok(())
}

fn snappy(raw: &[u8]) -> Vec<u8> {
    snap::raw::Encoder::new()
        .compress_vec(raw)
        .expect("snappy compresses any small buffer")
}

fn label(name: &str, value: &str) -> pb::Label {
    pb::Label {
        name: name.into(),
        value: value.into(),
    }
}

fn remote_write_seeds() -> Vec<(&'static str, Vec<u8>)> {
    let v1 = WriteRequest {
        timeseries: vec![
            TimeSeries {
                labels: vec![
                    label("__name__", "up"),
                    label("job", "node"),
                    label("empty", ""),
                ],
                samples: vec![
                    pb::Sample {
                        value: 1.0,
                        timestamp: 1_699_999_990_000,
                    },
                    pb::Sample {
                        value: f64::from_bits(0x7ff0_0000_0000_0002),
                        timestamp: 1_700_000_000_000,
                    },
                ],
                ..Default::default()
            },
            TimeSeries {
                // Invalid: a label name starting with a digit, and a duplicate.
                labels: vec![label("__name__", "bad"), label("0x", "a"), label("0x", "b")],
                samples: vec![pb::Sample {
                    value: 2.0,
                    timestamp: 1,
                }],
                ..Default::default()
            },
            TimeSeries {
                labels: vec![label("__name__", "rpc_seconds"), label("le", "+Inf")],
                histograms: vec![Histogram {
                    count: Some(histogram::Count::CountInt(3)),
                    sum: 1.5,
                    schema: 3,
                    zero_threshold: 1e-128,
                    zero_count: Some(histogram::ZeroCount::ZeroCountInt(1)),
                    positive_spans: vec![BucketSpan {
                        offset: 0,
                        length: 2,
                    }],
                    positive_deltas: vec![1, 0],
                    timestamp: 1_700_000_000_000,
                    ..Default::default()
                }],
                ..Default::default()
            },
        ],
        metadata: vec![MetricMetadata {
            r#type: metric_metadata::MetricType::Gauge as i32,
            metric_family_name: "up".into(),
            help: "1 if the target is up".into(),
            unit: String::new(),
        }],
    }
    .encode_to_vec();

    let symbols = [
        "",
        "__name__",
        "http_requests_total",
        "job",
        "api",
        "requests",
        "count",
    ];
    let v2 = v2::Request {
        symbols: symbols.iter().map(|s| s.to_string()).collect(),
        timeseries: vec![v2::TimeSeries {
            labels_refs: vec![1, 2, 3, 4],
            samples: vec![v2::Sample {
                value: 42.0,
                timestamp: 1_700_000_000_000,
            }],
            exemplars: vec![v2::Exemplar {
                labels_refs: vec![3, 4],
                value: 1.0,
                timestamp: 1_700_000_000_000,
            }],
            metadata: Some(v2::Metadata {
                r#type: v2::metadata::MetricType::Counter as i32,
                help_ref: 5,
                unit_ref: 6,
            }),
            ..Default::default()
        }],
    }
    .encode_to_vec();

    let ct_v1 = 1;
    let ct_v2 = 2;
    let ct_custom = 3;
    vec![
        (
            "v1_snappy",
            PushInput::encode(ct_v1 | flags::ENCODING_SNAPPY, b"", &snappy(&v1)),
        ),
        (
            "v1_tight_limits",
            PushInput::encode(ct_v1 | flags::TIGHT_LIMITS, b"", &snappy(&v1)),
        ),
        (
            "v2_tenant",
            PushInput::encode(
                ct_v2 | flags::ENCODING_SNAPPY | flags::ORG_ID | flags::MULTITENANT,
                b"tenant-1",
                &snappy(&v2),
            ),
        ),
        (
            "v1_custom_content_type",
            PushInput::encode(
                ct_custom,
                b"application/x-protobuf; proto=\"prometheus.WriteRequest\"",
                &snappy(&v1),
            ),
        ),
        (
            "v2_basic_auth_raw_body",
            PushInput::encode(
                ct_v2 | flags::AUTHORIZATION | flags::MULTITENANT,
                b"Basic dGVuYW50LTI6c2VjcmV0",
                &v2,
            ),
        ),
    ]
}

fn remote_read_seeds() -> Vec<(&'static str, Vec<u8>)> {
    let matcher = |t: label_matcher::Type, name: &str, value: &str| LabelMatcher {
        r#type: t as i32,
        name: name.into(),
        value: value.into(),
    };
    let req = ReadRequest {
        queries: vec![
            Query {
                start_timestamp_ms: 1_699_996_400_000,
                end_timestamp_ms: 1_700_000_000_000,
                matchers: vec![
                    matcher(label_matcher::Type::Eq, "__name__", "up"),
                    matcher(label_matcher::Type::Re, "job", "api|node.*"),
                    matcher(label_matcher::Type::Nre, "instance", "(a|b)+"),
                    matcher(label_matcher::Type::Neq, "env", ""),
                ],
                hints: Some(pb::ReadHints {
                    step_ms: 15_000,
                    func: "rate".into(),
                    start_ms: 1_699_996_400_000,
                    end_ms: 1_700_000_000_000,
                    grouping: vec!["job".into()],
                    by: true,
                    range_ms: 300_000,
                }),
            },
            Query {
                start_timestamp_ms: 0,
                end_timestamp_ms: i64::MAX,
                matchers: vec![matcher(label_matcher::Type::Re, "__name__", ".+")],
                hints: None,
            },
        ],
        accepted_response_types: vec![
            read_request::ResponseType::StreamedXorChunks as i32,
            read_request::ResponseType::Samples as i32,
        ],
    }
    .encode_to_vec();
    vec![("read_two_queries", snappy(&req))]
}

fn xor_chunk_seeds() -> Vec<(&'static str, Vec<u8>)> {
    let steady: Vec<Sample> = (0..120)
        .map(|i| Sample::new(1_700_000_000_000 + i * 15_000, (i % 7) as f64 * 0.25))
        .collect();
    let jittery: Vec<Sample> = [
        (1_000, 1.0),
        (2_000, 1.0),
        (2_001, -0.0),
        (9_000_000, f64::NAN),
        (9_000_500, f64::from_bits(STALE_NAN.to_bits())),
        (i64::MAX / 2, f64::INFINITY),
        (i64::MAX, 1e300),
    ]
    .into_iter()
    .map(|(t, v)| Sample::new(t, v))
    .collect();
    let negative: Vec<Sample> = (0..5)
        .map(|i| Sample::new(-5_000 + i * 1_000, -(i as f64)))
        .collect();
    vec![
        ("steady_120", encode_xor(&steady).bytes().to_vec()),
        ("jittery_specials", encode_xor(&jittery).bytes().to_vec()),
        ("negative_times", encode_xor(&negative).bytes().to_vec()),
        ("one_sample", encode_xor(&steady[..1]).bytes().to_vec()),
    ]
}

fn promql_seeds() -> Vec<(&'static str, Vec<u8>)> {
    [
        (
            "binop_group_left",
            r#"sum by (job) (rate(http_requests_total{job=~"api.*",code!="500"}[5m])) / on (job) group_left (env) sum by (job, env) (up)"#,
        ),
        (
            "histogram_at_offset",
            "histogram_quantile(0.9, sum by (le) (rate(rpc_seconds_bucket[1m] offset 5m @ 1700000000)))",
        ),
        (
            "subquery_or",
            r#"max_over_time(deriv(foo{a="b"}[10m])[1h:30s]) or vector(1) unless on() absent(bar)"#,
        ),
        (
            "topk_strings",
            r#"topk(3, label_replace(x, "dst", "$1", "src", "(.*)")) > bool -1.5e3"#,
        ),
        ("selector_or", r#"{__name__=~"a.+", job="x" or instance!~"y|z"}"#),
        ("time_rfc3339", "2023-11-14T22:13:20.123+01:00"),
        ("duration", "1y2w3d4h5m6s7ms"),
        (
            "form",
            "query=up&time=1700000000.5&start=2023-11-14T22:13:20Z&step=15s&limit=10&match[]=up%7Bjob%3D%22a%22%7D",
        ),
    ]
    .into_iter()
    .map(|(n, s)| (n, s.as_bytes().to_vec()))
    .collect()
}

fn exposition_text_seeds() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        (
            "summary",
            b"# HELP rpc_seconds RPC latency \\ in \\n seconds.\n# TYPE rpc_seconds summary\n\
rpc_seconds{quantile=\"0.5\"} 4.5e-05\nrpc_seconds_sum 1.5\nrpc_seconds_count 3 1700000000000\n"
                .to_vec(),
        ),
        (
            "escapes_spacing",
            b"# free comment\n\n  up { job = \"a\\\"b\\n\" instance=\"x\",} +Inf\nnan NaN\n"
                .to_vec(),
        ),
    ]
}

fn exposition_openmetrics_seeds() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        (
            "counter_exemplar",
            b"# TYPE req_seconds counter\n# UNIT req_seconds seconds\n# HELP req_seconds Time.\n\
req_seconds_total{a=\"b\"} 17.0 1520879607.789 # {trace_id=\"abc\"} 0.67 1520879602.89\n\
req_seconds_created{a=\"b\"} 1520430000.123\n# EOF\n"
                .to_vec(),
        ),
        (
            "histogram",
            b"# TYPE h histogram\nh_bucket{le=\"1.0\"} 1 # {} 0.5\nh_bucket{le=\"+Inf\"} 2\nh_count 2\nh_sum 3.5\n# EOF"
                .to_vec(),
        ),
    ]
}

fn relabel_seeds() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        (
            "every_action",
            b"- {source_labels: [__address__], regex: '([^:]+):\\d+', target_label: instance}\n\
- {source_labels: [job], regex: 'node|api', action: keep}\n\
- {source_labels: [env], regex: dev, action: drop}\n\
- {source_labels: [a], target_label: b, action: keepequal}\n\
- {source_labels: [a], target_label: c, action: dropequal}\n\
- {source_labels: [__address__], modulus: 4, target_label: __tmp_hash, action: hashmod}\n\
- {regex: '__meta_(.+)', replacement: 'm_$1', action: labelmap}\n\
- {regex: '__tmp_.*', action: labeldrop}\n\
- {regex: '.*', action: labelkeep}\n\
- {source_labels: [job], target_label: job_lc, action: lowercase}\n\
- {source_labels: [job], target_label: job_uc, action: uppercase}\n\
\0__address__=10.0.0.1:9100\njob=node\na=1\nb=1\nc=2\n__meta_zone=eu\n"
                .to_vec(),
        ),
        (
            "templates",
            b"- {source_labels: [x], regex: '(?P<k>\\w+)-(\\d+)', target_label: '${k}_$2', replacement: '$$${1}'}\n\0x=abc-12\n"
                .to_vec(),
        ),
    ]
}
