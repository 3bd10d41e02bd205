//! Remote write 2.0: conversion, written-count headers, bad symbol references.

use super::*;

fn rw2_fixture(t: i64) -> write_v2::Request {
    let symbols: Vec<String> = [
        "",
        "__name__",
        "http_requests_total",
        "job",
        "api",
        "Requests.",
        "trace_id",
        "abc",
        "bad name",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    write_v2::Request {
        symbols,
        timeseries: vec![
            write_v2::TimeSeries {
                labels_refs: vec![1, 2, 3, 4],
                samples: vec![
                    write_v2::Sample {
                        value: 1.0,
                        timestamp: t,
                    },
                    write_v2::Sample {
                        value: 2.0,
                        timestamp: t + 1,
                    },
                ],
                exemplars: vec![write_v2::Exemplar {
                    labels_refs: vec![6, 7],
                    value: 1.0,
                    timestamp: t,
                }],
                metadata: Some(write_v2::Metadata {
                    r#type: 1,
                    help_ref: 5,
                    unit_ref: 0,
                }),
                ..Default::default()
            },
            // Invalid label name: dropped.
            write_v2::TimeSeries {
                labels_refs: vec![1, 2, 8, 4],
                samples: vec![write_v2::Sample {
                    value: 1.0,
                    timestamp: t,
                }],
                ..Default::default()
            },
        ],
    }
}

#[tokio::test]
async fn rw2_push_is_converted_and_reports_written_counts() {
    let h = harness(Behaviour::Accept).await;
    let t = now_ms();
    let mut req = rw2_fixture(t);
    req.timeseries.truncate(1);
    let r = send(
        &h.router,
        request("/api/v1/push", snappy(&req.encode_to_vec()), RW2),
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    assert_eq!(r.headers[crate::SAMPLES_WRITTEN], "2");
    assert_eq!(r.headers[crate::HISTOGRAMS_WRITTEN], "0");
    assert_eq!(r.headers[crate::EXEMPLARS_WRITTEN], "1");
    let pushed = h.pushed();
    let ts = &pushed[0].timeseries[0];
    assert_eq!(ts.labels[0].value, "http_requests_total");
    assert_eq!(ts.labels[1].name, "job");
    assert_eq!(ts.samples.len(), 2);
    assert_eq!(ts.exemplars[0].labels[0].name, "trace_id");
    assert_eq!(
        pushed[0].metadata[0].metric_family_name,
        "http_requests_total"
    );
    assert_eq!(pushed[0].metadata[0].help, "Requests.");
}

#[tokio::test]
async fn rw2_partial_rejection_is_400_with_written_headers() {
    let h = harness(Behaviour::Accept).await;
    let req = rw2_fixture(now_ms());
    let r = send(
        &h.router,
        request("/api/v1/write", snappy(&req.encode_to_vec()), RW2),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert!(
        r.body.contains(r#"invalid label: "bad name""#),
        "{}",
        r.body
    );
    assert_eq!(r.headers[crate::SAMPLES_WRITTEN], "2");
}

#[tokio::test]
async fn rw2_bad_symbol_reference_is_400() {
    let h = harness(Behaviour::Accept).await;
    let mut req = rw2_fixture(now_ms());
    req.timeseries[0].labels_refs = vec![1, 42];
    let r = send(
        &h.router,
        request("/api/v1/push", snappy(&req.encode_to_vec()), RW2),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert!(
        r.body.contains("symbol reference 42 out of range"),
        "{}",
        r.body
    );
    assert_eq!(r.headers[crate::SAMPLES_WRITTEN], "0");
    assert!(h.pushed().is_empty());
}

#[tokio::test]
async fn rw2_metadata_only_series_is_204() {
    let h = harness(Behaviour::Accept).await;
    let mut req = rw2_fixture(now_ms());
    req.timeseries.truncate(1);
    req.timeseries[0].samples.clear();
    req.timeseries[0].exemplars.clear();
    let r = send(
        &h.router,
        request("/api/v1/push", snappy(&req.encode_to_vec()), RW2),
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    assert_eq!(r.headers[crate::SAMPLES_WRITTEN], "0");
    let pushed = h.pushed();
    assert_eq!(pushed.len(), 1);
    assert!(pushed[0].timeseries.is_empty());
    assert_eq!(
        pushed[0].metadata[0].metric_family_name,
        "http_requests_total"
    );
}
