//! Remote write 1.0: statuses, validation, forwarding and sharding.

use super::*;

#[tokio::test]
async fn valid_rw1_push_is_forwarded_and_answered_200() {
    let h = harness(Behaviour::Accept).await;
    let t = now_ms();
    let body = rw1_body(vec![series(&[("job", "a"), ("__name__", "up")], t)]);
    for path in ["/api/v1/push", "/api/v1/write"] {
        let r = send(&h.router, request(path, body.clone(), RW1)).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.body);
        assert!(r.body.is_empty());
    }
    let pushed = h.pushed();
    assert_eq!(pushed.len(), 2);
    assert_eq!(pushed[0].tenant, "tenant-a");
    // Labels arrive sorted.
    let names: Vec<&str> = pushed[0].timeseries[0]
        .labels
        .iter()
        .map(|l| l.name.as_str())
        .collect();
    assert_eq!(names, ["__name__", "job"]);
    let m = h.metrics_text();
    assert!(
        m.contains(r#"strata_distributor_received_samples_total{tenant="tenant-a"} 2"#),
        "{m}"
    );
    assert!(
        m.contains(r#"strata_distributor_received_requests_total{tenant="tenant-a"} 2"#),
        "{m}"
    );
    assert!(
        m.contains(r#"strata_distributor_received_bytes_total{tenant="tenant-a"}"#),
        "{m}"
    );
}

#[tokio::test]
async fn no_content_type_is_rw1() {
    let h = harness(Behaviour::Accept).await;
    let body = rw1_body(vec![series(&[("__name__", "up")], now_ms())]);
    let r = send(
        &h.router,
        request("/api/v1/push", body, &[("x-scope-orgid", "t")]),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(h.pushed().len(), 1);
}

#[tokio::test]
async fn tenant_missing_is_401_and_invalid_is_400() {
    let h = harness(Behaviour::Accept).await;
    let body = rw1_body(vec![series(&[("__name__", "up")], now_ms())]);
    let r = send(&h.router, request("/api/v1/push", body.clone(), &RW1[1..])).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    let r = send(
        &h.router,
        request(
            "/api/v1/push",
            body,
            &[("x-scope-orgid", "a/b"), ("content-encoding", "snappy")],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert!(r.body.contains("invalid tenant id"), "{}", r.body);
    assert!(h.pushed().is_empty());
}

#[tokio::test]
async fn multitenancy_disabled_uses_anonymous() {
    let h = harness_with(DistributorConfig::default(), vec![Behaviour::Accept], false).await;
    let body = rw1_body(vec![series(&[("__name__", "up")], now_ms())]);
    let r = send(&h.router, request("/api/v1/push", body, &[])).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(h.pushed()[0].tenant, "anonymous");
}

#[tokio::test]
async fn bad_bodies_and_headers_get_exact_statuses() {
    let h = harness(Behaviour::Accept).await;
    let good = rw1_body(vec![series(&[("__name__", "up")], now_ms())]);
    let raw_proto = WriteRequest {
        timeseries: vec![series(&[("__name__", "up")], now_ms())],
        metadata: vec![],
    }
    .encode_to_vec();
    let truncated = snappy(&raw_proto[..raw_proto.len() - 4]);
    let mut huge_header = vec![0x80, 0x80, 0x80, 0x80, 0x10];
    huge_header.extend_from_slice(b"tail");
    type Case<'a> = (&'a str, Vec<u8>, Vec<(&'a str, &'a str)>, StatusCode);
    let cases: Vec<Case> = vec![
        ("empty body", vec![], RW1.to_vec(), StatusCode::BAD_REQUEST),
        (
            "not snappy",
            raw_proto.clone(),
            RW1.to_vec(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "snappy of garbage",
            snappy(b"\xff\xff\xff garbage"),
            RW1.to_vec(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "truncated protobuf",
            truncated,
            RW1.to_vec(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "declared 4 GiB",
            huge_header,
            RW1.to_vec(),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
        (
            "wrong content type",
            good.clone(),
            vec![("x-scope-orgid", "t"), ("content-type", "application/json")],
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            "unknown proto",
            good.clone(),
            vec![
                ("x-scope-orgid", "t"),
                ("content-type", "application/x-protobuf;proto=x.Y"),
            ],
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            "unknown encoding",
            good.clone(),
            vec![("x-scope-orgid", "t"), ("content-encoding", "gzip")],
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
    ];
    for (name, body, headers, want) in cases {
        let r = send(&h.router, request("/api/v1/push", body, &headers)).await;
        assert_eq!(r.status, want, "{name}: {}", r.body);
        assert!(!r.body.is_empty(), "{name}: error body names the problem");
    }
    assert!(h.pushed().is_empty());
}

#[tokio::test]
async fn body_over_limit_is_413_with_and_without_content_length() {
    let cfg = DistributorConfig {
        max_recv_msg_size: 64,
        ..Default::default()
    };
    let h = harness_with(cfg, vec![Behaviour::Accept], true).await;
    let big = vec![0u8; 1000];
    // Body::from sets no content-length header on the request itself; add it explicitly.
    let mut req = request("/api/v1/push", big.clone(), RW1);
    req.headers_mut().insert(
        http::header::CONTENT_LENGTH,
        http::HeaderValue::from(1000u64),
    );
    let r = send(&h.router, req).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.body);
    // Streamed without a length: the cap applies while reading.
    let stream = futures::stream::iter(
        big.chunks(100)
            .map(|c| Ok::<_, std::io::Error>(bytes::Bytes::copy_from_slice(c)))
            .collect::<Vec<_>>(),
    );
    let mut b = Request::post("/api/v1/push");
    for (k, v) in RW1 {
        b = b.header(*k, *v);
    }
    let req = b.body(Body::from_stream(stream)).expect("request");
    let r = send(&h.router, req).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.body);
}

#[tokio::test]
async fn decompressed_over_limit_is_413() {
    let cfg = DistributorConfig {
        max_decompressed_size: 100,
        ..Default::default()
    };
    let h = harness_with(cfg, vec![Behaviour::Accept], true).await;
    let many: Vec<TimeSeries> = (0..20)
        .map(|i| series(&[("__name__", "up"), ("i", &i.to_string())], now_ms()))
        .collect();
    let r = send(&h.router, request("/api/v1/push", rw1_body(many), RW1)).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.body);
}

#[tokio::test]
async fn mixed_valid_and_invalid_series_forward_the_valid_ones_and_answer_400() {
    let h = harness(Behaviour::Accept).await;
    let t = now_ms();
    let names: Vec<String> = (0..30).map(|i| format!("l{i:02}")).collect();
    let mut many: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "v")).collect();
    many.push(("__name__", "many"));
    let long = "x".repeat(3000);
    let body = rw1_body(vec![
        series(&[("__name__", "good_one")], t),
        series(&[("job", "nameless")], t),
        series(&[("__name__", "foo"), ("0abc", "x")], t),
        series(&[("__name__", "dup"), ("a", "1"), ("a", "2")], t),
        series(&many, t),
        series(&[("__name__", "long"), ("v", &long)], t),
        series(&[("__name__", "future")], t + 3_600_000),
        series(&[("__name__", "good_two"), ("job", "x")], t),
    ]);
    let r = send(&h.router, request("/api/v1/push", body, RW1)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    let lines: Vec<&str> = r.body.lines().collect();
    assert_eq!(lines.len(), 6, "{}", r.body);
    assert_eq!(lines[0], "received a series without metric name");
    assert_eq!(
        lines[1],
        r#"received a series with an invalid label: "0abc" series: "foo{0abc=\"x\"}""#
    );
    assert!(
        lines[2].starts_with(r#"received a series with duplicate label name, label: "a""#),
        "{}",
        lines[2]
    );
    assert!(
        lines[3].starts_with(
            "received a series whose number of labels exceeds the limit (actual: 31, limit: 30)"
        ),
        "{}",
        lines[3]
    );
    assert!(
        lines[4].starts_with("received a series whose label value length exceeds the limit"),
        "{}",
        lines[4]
    );
    assert!(
        lines[5].starts_with("received a sample whose timestamp is too far in the future"),
        "{}",
        lines[5]
    );

    let pushed = h.pushed();
    assert_eq!(pushed.len(), 1);
    let kept: Vec<&str> = pushed[0]
        .timeseries
        .iter()
        .map(|t| t.labels[0].value.as_str())
        .collect();
    assert_eq!(kept, ["good_one", "good_two"]);

    let m = h.metrics_text();
    assert!(
        m.contains(r#"strata_distributor_received_samples_total{tenant="tenant-a"} 2"#),
        "{m}"
    );
    for reason in [
        "missing_metric_name",
        "label_invalid",
        "duplicate_label_names",
        "max_label_names_per_series",
        "label_value_too_long",
        "too_far_in_future",
    ] {
        let line =
            format!(r#"strata_discarded_samples_total{{reason="{reason}",tenant="tenant-a"}} 1"#);
        assert!(m.contains(&line), "missing {line} in\n{m}");
    }
}

#[tokio::test]
async fn only_invalid_series_never_reach_the_ingester() {
    let h = harness(Behaviour::Accept).await;
    let body = rw1_body(vec![series(&[("job", "nameless")], now_ms())]);
    let r = send(&h.router, request("/api/v1/push", body, RW1)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(h.pushed().is_empty());
}

#[tokio::test]
async fn metadata_only_request_succeeds() {
    let h = harness(Behaviour::Accept).await;
    let req = WriteRequest {
        timeseries: vec![],
        metadata: vec![MetricMetadata {
            r#type: 1,
            metric_family_name: "http_requests_total".into(),
            help: "Requests.".into(),
            unit: String::new(),
        }],
    };
    let r = send(
        &h.router,
        request("/api/v1/push", snappy(&req.encode_to_vec()), RW1),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let pushed = h.pushed();
    assert_eq!(pushed.len(), 1);
    assert_eq!(pushed[0].metadata, req.metadata);
}

#[tokio::test]
async fn ingester_sample_errors_are_400_after_validation_errors() {
    let t = now_ms();
    let h = harness(Behaviour::RejectBefore(t)).await;
    let body = rw1_body(vec![
        series(&[("job", "nameless")], t),
        series(&[("__name__", "old")], t - 1000),
        series(&[("__name__", "fresh")], t),
    ]);
    let r = send(&h.router, request("/api/v1/push", body, RW1)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    let lines: Vec<&str> = r.body.lines().collect();
    assert_eq!(
        lines,
        [
            "received a series without metric name".to_string(),
            format!("out of order sample, timestamp: {}", t - 1000)
        ]
    );
    // Both valid series went to the ingester.
    assert_eq!(h.pushed()[0].timeseries.len(), 2);
    let m = h.metrics_text();
    assert!(
        m.contains(
            r#"strata_discarded_samples_total{reason="sample_out_of_order",tenant="tenant-a"} 1"#
        ),
        "{m}"
    );
}

#[tokio::test]
async fn ingester_down_is_503_naming_it() {
    // A port nothing listens on.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    drop(listener);
    let mut registry = Registry::default();
    let d = Distributor::new(
        DistributorConfig::default(),
        vec![addr.clone()],
        true,
        &mut registry,
    )
    .expect("distributor");
    let body = rw1_body(vec![series(&[("__name__", "up")], now_ms())]);
    let r = send(&d.router(), request("/api/v1/push", body, RW1)).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.body);
    assert!(r.body.contains(&addr), "{}", r.body);
}

#[tokio::test]
async fn ingester_errors_map_to_5xx_and_win_over_bad_data() {
    let h = harness(Behaviour::Fail(Status::internal("disk full"))).await;
    let body = rw1_body(vec![
        series(&[("job", "nameless")], now_ms()),
        series(&[("__name__", "up")], now_ms()),
    ]);
    let r = send(&h.router, request("/api/v1/push", body, RW1)).await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR, "{}", r.body);
    assert!(r.body.contains("disk full"), "{}", r.body);
}

#[tokio::test]
async fn push_timeout_is_503() {
    let cfg = DistributorConfig {
        remote_timeout: Duration::from_millis(200),
        ..Default::default()
    };
    let h = harness_with(cfg, vec![Behaviour::Hang], true).await;
    let body = rw1_body(vec![series(&[("__name__", "up")], now_ms())]);
    let r = send(&h.router, request("/api/v1/push", body, RW1)).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.body);
}

#[tokio::test]
async fn series_are_sharded_across_ingesters() {
    let h = harness_with(
        DistributorConfig::default(),
        vec![Behaviour::Accept, Behaviour::Accept, Behaviour::Accept],
        true,
    )
    .await;
    let t = now_ms();
    let many: Vec<TimeSeries> = (0..60)
        .map(|i| series(&[("__name__", "up"), ("i", &i.to_string())], t))
        .collect();
    let r = send(&h.router, request("/api/v1/push", rw1_body(many), RW1)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let per: Vec<usize> = h
        .pushes
        .iter()
        .map(|p| {
            p.lock()
                .expect("lock")
                .iter()
                .map(|r| r.timeseries.len())
                .sum()
        })
        .collect();
    assert_eq!(per.iter().sum::<usize>(), 60);
    assert!(per.iter().all(|&n| n > 0), "{per:?}");
    // Each ingester got exactly the series `shard` assigns it.
    let th = crate::forward::tenant_hash("tenant-a");
    for (i, p) in h.pushes.iter().enumerate() {
        for req in p.lock().expect("lock").iter() {
            for ts in &req.timeseries {
                assert_eq!(
                    crate::forward::shard(th, crate::forward::series_hash(&ts.labels), 3),
                    i
                );
            }
        }
    }
}

#[tokio::test]
async fn bodies_past_axums_default_limit_are_accepted() {
    let h = harness(Behaviour::Accept).await;
    // Pseudo-random label values snappy cannot shrink: a compressed body of several MiB,
    // past axum's 2 MiB default body limit.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let alphabet = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let t = now_ms();
    let values: Vec<String> = (0..1500)
        .map(|_| {
            (0..2000)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    alphabet[(x % alphabet.len() as u64) as usize] as char
                })
                .collect()
        })
        .collect();
    let many: Vec<TimeSeries> = values
        .iter()
        .map(|v| series(&[("__name__", "big"), ("v", v)], t))
        .collect();
    let body = rw1_body(many);
    assert!(body.len() > 2 << 20, "{}", body.len());
    let r = send(&h.router, request("/api/v1/push", body, RW1)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(h.pushed()[0].timeseries.len(), 1500);
}
