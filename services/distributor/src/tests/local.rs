//! The in-process fast path (borrowed decode, in-place validation, function call) against
//! the gRPC path: the same requests must get the same answers, forward the same series and
//! count the same metrics.

use super::*;
use strata_proto::prometheus::Exemplar;

/// One request and how the ingester behaves.
struct Case {
    name: &'static str,
    behaviour: Behaviour,
    cfg: DistributorConfig,
    headers: &'static [(&'static str, &'static str)],
    body: Vec<u8>,
    /// Whether the fast path should take it (else the gRPC fallback does).
    fast: bool,
}

fn case(name: &'static str, behaviour: Behaviour, body: Vec<u8>, fast: bool) -> Case {
    Case {
        name,
        behaviour,
        cfg: DistributorConfig::default(),
        headers: RW1,
        body,
        fast,
    }
}

/// `text` with every `127.0.0.1:<port>` as `ADDR` (each harness has its own fake).
fn mask_addr(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("127.0.0.1:") {
        out.push_str(&rest[..i]);
        out.push_str("ADDR");
        rest = rest[i + "127.0.0.1:".len()..].trim_start_matches(|c: char| c.is_ascii_digit());
    }
    out.push_str(rest);
    out
}

/// Metrics text as a sorted list of sample lines (label sets print in hash-map order).
fn metric_lines(h: &Harness) -> Vec<String> {
    let mut lines: Vec<String> = h
        .metrics_text()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(str::to_string)
        .collect();
    lines.sort();
    lines
}

fn cases() -> Vec<Case> {
    let t = now_ms();
    let mut with_exemplar = series(&[("__name__", "ex")], t);
    with_exemplar.exemplars.push(Exemplar {
        labels: vec![Label {
            name: "trace_id".into(),
            value: "abc".into(),
        }],
        value: 1.0,
        timestamp: t,
    });
    let mut no_samples = series(&[("__name__", "none")], t);
    no_samples.samples.clear();
    let mut future = series(&[("__name__", "future")], t);
    future.samples[0].timestamp = t + 3_600_000;
    let long = "v".repeat(3000);
    let valid = || {
        rw1_body(vec![
            series(&[("job", "a"), ("__name__", "up"), ("empty", "")], t),
            series(&[("__name__", "up"), ("job", "b")], t),
        ])
    };
    let mixed = rw1_body(vec![
        series(&[("job", "nameless")], t),
        series(&[("__name__", "1bad")], t),
        series(&[("__name__", "m"), ("0x", "y")], t),
        series(&[("__name__", "m"), ("a", "1"), ("a", "2")], t),
        series(&[("__name__", "m"), ("a", &long)], t),
        future,
        no_samples,
        series(&[("__name__", "ok"), ("b", "2"), ("a", "1")], t),
    ]);
    let truncated = {
        let full = WriteRequest {
            timeseries: vec![series(&[("__name__", "some_metric")], t)],
            metadata: vec![],
        }
        .encode_to_vec();
        snappy(&full[..full.len() - 3])
    };
    let metadata_only = snappy(
        &WriteRequest {
            timeseries: vec![],
            metadata: vec![MetricMetadata {
                metric_family_name: "up".into(),
                ..Default::default()
            }],
        }
        .encode_to_vec(),
    );
    vec![
        case("valid", Behaviour::Accept, valid(), true),
        case("mixed", Behaviour::Accept, mixed, true),
        case(
            "only invalid",
            Behaviour::Accept,
            rw1_body(vec![series(&[("job", "x")], t)]),
            true,
        ),
        case(
            "ingester rejects",
            Behaviour::RejectBefore(t),
            rw1_body(vec![
                series(&[("job", "nameless")], t),
                series(&[("__name__", "old")], t - 1000),
                series(&[("__name__", "fresh")], t),
            ]),
            true,
        ),
        case(
            "unavailable",
            Behaviour::Fail(Status::unavailable("down")),
            valid(),
            true,
        ),
        case(
            "internal",
            Behaviour::Fail(Status::internal("disk full")),
            valid(),
            true,
        ),
        case(
            "invalid argument",
            Behaviour::Fail(Status::invalid_argument("bad tenant")),
            valid(),
            true,
        ),
        Case {
            cfg: DistributorConfig {
                remote_timeout: Duration::from_millis(200),
                ..Default::default()
            },
            ..case("timeout", Behaviour::Hang, valid(), true)
        },
        case(
            "exemplar",
            Behaviour::Accept,
            rw1_body(vec![with_exemplar, series(&[("__name__", "up")], t)]),
            false,
        ),
        case("metadata", Behaviour::Accept, metadata_only, false),
        case(
            "garbage",
            Behaviour::Accept,
            snappy(b"this is not a protobuf"),
            false,
        ),
        case("truncated", Behaviour::Accept, truncated, false),
        case("empty", Behaviour::Accept, snappy(&[]), true),
        Case {
            headers: RW2,
            // A 1.0 body sent as 2.0: decoded (or refused) by the 2.0 path either way.
            ..case("rw2", Behaviour::Accept, valid(), false)
        },
    ]
}

#[tokio::test]
async fn fast_path_answers_as_the_grpc_path() {
    for c in cases() {
        let grpc = harness_with(c.cfg.clone(), vec![c.behaviour.clone()], true).await;
        let local = local_harness(c.cfg.clone(), c.behaviour.clone()).await;
        let want = send(
            &grpc.router,
            request("/api/v1/push", c.body.clone(), c.headers),
        )
        .await;
        let got = send(
            &local.router,
            request("/api/v1/push", c.body.clone(), c.headers),
        )
        .await;
        assert_eq!(got.status, want.status, "{}: {}", c.name, got.body);
        if c.name == "timeout" {
            // Over gRPC, the client's deadline and the forwarder's timer race: either
            // message may come first.
            assert!(got.body.starts_with("push to ingester "), "{}", got.body);
        } else {
            assert_eq!(mask_addr(&got.body), mask_addr(&want.body), "{}", c.name);
        }
        if c.name == "timeout" {
            // Which message wins the race also decides the body's length and the error's
            // label in the metrics; the rest must agree.
            assert_eq!(
                got.headers.get("content-type"),
                want.headers.get("content-type"),
                "{}",
                c.name
            );
        } else {
            assert_eq!(got.headers, want.headers, "{}", c.name);
            assert_eq!(metric_lines(&local), metric_lines(&grpc), "{}", c.name);
        }
        assert_eq!(local.pushed(), grpc.pushed(), "{}", c.name);
        let (via_grpc, in_process) = (
            local.pushes[0].lock().expect("lock").len(),
            local.pushes[1].lock().expect("lock").len(),
        );
        if c.fast {
            assert_eq!(via_grpc, 0, "{}: went over gRPC", c.name);
        } else {
            assert_eq!(in_process, 0, "{}: took the fast path", c.name);
        }
        // Something was recorded in the cases built to forward something to a fake that
        // answers (a failing or hanging fake records nothing).
        let answers = matches!(c.behaviour, Behaviour::Accept | Behaviour::RejectBefore(_));
        if answers
            && !matches!(
                c.name,
                "only invalid" | "garbage" | "truncated" | "empty" | "rw2"
            )
        {
            assert_eq!(via_grpc + in_process, 1, "{}", c.name);
        }
    }
}

#[tokio::test]
async fn fast_path_is_off_with_several_ingesters() {
    let (a, _) = start_fake(Behaviour::Accept).await;
    let (b, _) = start_fake(Behaviour::Accept).await;
    let fwd = crate::Forwarder::new(vec![a, b], Duration::from_secs(1))
        .expect("forwarder")
        .with_local(Arc::new(LocalFake {
            pushes: Pushes::default(),
            behaviour: Behaviour::Accept,
        }));
    assert!(!fwd.is_local());
}
