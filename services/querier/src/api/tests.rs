use super::*;
use crate::test_support::{spawn_ingester, FakeIngester, FakeSeries};
use crate::QuerierConfig;
use axum::body::Body;
use http::{Method, Request};
use http_body_util::BodyExt;
use prometheus_client::registry::Registry;
use prost::Message;
use strata_proto::prometheus::metric_metadata::MetricType;
use strata_proto::prometheus::{self as pb, MetricMetadata};
use tower::ServiceExt;

const T0: i64 = 1_700_000_000_000;

async fn fixture(multitenancy: bool) -> (Arc<Querier>, Router) {
    let tenant = if multitenancy { "team-a" } else { "anonymous" };
    let samples: Vec<(i64, f64)> = (0..10).map(|i| (T0 + i * 15_000, i as f64)).collect();
    let ingester = FakeIngester {
        series: vec![
            FakeSeries::new(
                tenant,
                &[("__name__", "up"), ("job", "api"), ("instance", "a")],
                &samples,
            ),
            FakeSeries::new(
                tenant,
                &[("__name__", "up"), ("job", "db"), ("instance", "b")],
                &samples,
            ),
            FakeSeries::new("other", &[("__name__", "up"), ("job", "secret")], &samples),
        ],
        metadata: vec![(
            tenant.to_string(),
            MetricMetadata {
                r#type: MetricType::Gauge as i32,
                metric_family_name: "up".into(),
                help: "Target is up.".into(),
                unit: String::new(),
            },
        )],
        exemplars: vec![
            (
                tenant.to_string(),
                exemplar_series(
                    &[("__name__", "up"), ("job", "api"), ("instance", "a")],
                    &[(T0, 0.5, "abc"), (T0 + 1500, 6.0, "def")],
                ),
            ),
            (
                tenant.to_string(),
                exemplar_series(
                    &[("__name__", "rpc_seconds_bucket"), ("le", "1")],
                    &[(T0 + 7, 0.25, "x")],
                ),
            ),
            (
                "other".to_string(),
                exemplar_series(
                    &[("__name__", "up"), ("job", "secret")],
                    &[(T0, 1.0, "leak")],
                ),
            ),
        ],
        ..Default::default()
    };
    let addr = spawn_ingester(ingester).await;
    let mut reg = Registry::default();
    let q = Querier::new(QuerierConfig::default(), vec![addr], multitenancy, &mut reg)
        .expect("querier");
    let router = q.router();
    (q, router)
}

fn exemplar_series(series: &[(&str, &str)], ex: &[(i64, f64, &str)]) -> pb::TimeSeries {
    let l = |pairs: &[(&str, &str)]| -> Vec<pb::Label> {
        pairs
            .iter()
            .map(|&(n, v)| pb::Label {
                name: n.into(),
                value: v.into(),
            })
            .collect()
    };
    pb::TimeSeries {
        labels: l(series),
        exemplars: ex
            .iter()
            .map(|&(t, v, id)| pb::Exemplar {
                labels: l(&[("trace_id", id)]),
                value: v,
                timestamp: t,
            })
            .collect(),
        ..Default::default()
    }
}

async fn call(router: &Router, req: Request<Body>) -> (StatusCode, HeaderMap, Bytes) {
    let resp = router
        .clone()
        .oneshot(req)
        .await
        .expect("infallible router");
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    (status, headers, body)
}

async fn get(router: &Router, uri: &str) -> (StatusCode, String) {
    let req = Request::get(uri).body(Body::empty()).expect("request");
    let (s, _, b) = call(router, req).await;
    (s, String::from_utf8(b.to_vec()).expect("utf-8 body"))
}

async fn post_form(router: &Router, uri: &str, form: &str) -> (StatusCode, String) {
    let req = Request::builder()
        .method(Method::POST)
        .uri(uri)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(form.to_string()))
        .expect("request");
    let (s, _, b) = call(router, req).await;
    (s, String::from_utf8(b.to_vec()).expect("utf-8 body"))
}

fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn instant_query_answers_prometheus_json() {
    let (_, r) = fixture(false).await;
    let t = (T0 + 30_000) as f64 / 1000.0;
    let (s, body) = get(
        &r,
        &format!(
            "/prometheus/api/v1/query?query={}&time={t}",
            enc("up{job=\"api\"}")
        ),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"up","instance":"a","job":"api"},"value":[1700000030,"2"]}]}}"#
    );
    let (s, body) = post_form(
        &r,
        "/prometheus/api/v1/query",
        &format!("query=1%2B1&time={t}"),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        body,
        r#"{"status":"success","data":{"resultType":"scalar","result":[1700000030,"2"]}}"#
    );
}

#[tokio::test]
async fn range_query_answers_matrix() {
    let (_, r) = fixture(false).await;
    let (s, body) = get(
        &r,
        &format!(
            "/prometheus/api/v1/query_range?query={}&start=1700000000&end=2023-11-14T22:14:05Z&step=15s",
            enc("up{job=\"db\"}")
        ),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"__name__":"up","instance":"b","job":"db"},"values":[[1700000000,"0"],[1700000015,"1"],[1700000030,"2"],[1700000045,"3"]]}]}}"#
    );
}

#[tokio::test]
async fn range_query_checks_parameters_like_prometheus() {
    let (_, r) = fixture(false).await;
    let cases = [
        (
            "start=10&end=20&step=0",
            "zero or negative query resolution step widths are not accepted. Try a positive integer",
        ),
        ("start=20&end=10&step=1", "end timestamp must not be before start time"),
        (
            "start=0&end=11001&step=1",
            "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)",
        ),
        ("start=x&end=10&step=1", "invalid parameter \\\"start\\\": cannot parse \\\"x\\\" to a valid timestamp"),
        ("start=0&end=10&step=1q", "invalid parameter \\\"step\\\": cannot parse \\\"1q\\\" to a valid duration"),
    ];
    for (qs, msg) in cases {
        let (s, body) = get(&r, &format!("/prometheus/api/v1/query_range?query=up&{qs}")).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{qs}");
        assert_eq!(
            body,
            format!(r#"{{"status":"error","errorType":"bad_data","error":"{msg}"}}"#),
            "{qs}"
        );
    }
    let (s, _) = get(
        &r,
        "/prometheus/api/v1/query_range?query=up&start=0&end=11000&step=1",
    )
    .await;
    assert_eq!(s, StatusCode::OK, "exactly 11,000 steps are allowed");
}

#[tokio::test]
async fn query_errors_map_to_statuses() {
    let (_, r) = fixture(false).await;
    let (s, body) = get(&r, "/prometheus/api/v1/query?query=up{").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(
        body.starts_with(r#"{"status":"error","errorType":"bad_data","error":"#),
        "{body}"
    );
    let (s, body) = get(&r, "/prometheus/api/v1/query?query=up&time=abc").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(body.contains("Invalid time value for 'time'"), "{body}");
}

#[tokio::test]
async fn tenant_is_required_and_isolated() {
    let (_, r) = fixture(true).await;
    for uri in [
        "/prometheus/api/v1/query?query=up",
        "/prometheus/api/v1/labels",
        "/prometheus/api/v1/series?match[]=up",
        "/prometheus/api/v1/label/job/values",
        "/prometheus/api/v1/metadata",
    ] {
        let (s, _) = get(&r, uri).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{uri}");
    }
    let req = Request::get("/prometheus/api/v1/labels")
        .header("X-Scope-OrgID", "a/b")
        .body(Body::empty())
        .expect("request");
    assert_eq!(call(&r, req).await.0, StatusCode::BAD_REQUEST);
    let req = Request::get("/prometheus/api/v1/label/job/values")
        .header("X-Scope-OrgID", "team-a")
        .body(Body::empty())
        .expect("request");
    let (s, _, b) = call(&r, req).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(&b[..], br#"{"status":"success","data":["api","db"]}"#);
    let req = Request::post("/prometheus/api/v1/read")
        .body(Body::empty())
        .expect("request");
    assert_eq!(call(&r, req).await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn series_endpoint() {
    let (_, r) = fixture(false).await;
    let (s, body) = get(&r, "/prometheus/api/v1/series").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        r#"{"status":"error","errorType":"bad_data","error":"no match[] parameter provided"}"#
    );
    let form = format!(
        "match[]={}&match[]={}",
        enc("up{job=\"db\"}"),
        enc("{instance=\"a\"}")
    );
    let (s, body) = post_form(&r, "/prometheus/api/v1/series", &form).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        r#"{"status":"success","data":[{"__name__":"up","instance":"a","job":"api"},{"__name__":"up","instance":"b","job":"db"}]}"#
    );
    let (s, body) = get(&r, "/prometheus/api/v1/series?match[]=up&limit=1").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        body,
        r#"{"status":"success","data":[{"__name__":"up","instance":"a","job":"api"}],"warnings":["results truncated due to limit"]}"#
    );
    let (s, body) = get(
        &r,
        &format!("/prometheus/api/v1/series?match[]={}", enc("{job=~\".*\"}")),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(
        body.contains("must contain at least one non-empty matcher"),
        "{body}"
    );
}

#[tokio::test]
async fn labels_and_values_endpoints() {
    let (_, r) = fixture(false).await;
    let (s, body) = get(&r, "/prometheus/api/v1/labels").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        body,
        r#"{"status":"success","data":["__name__","instance","job"]}"#
    );
    let (_, body) = get(&r, "/prometheus/api/v1/labels?limit=2").await;
    assert_eq!(
        body,
        r#"{"status":"success","data":["__name__","instance"],"warnings":["results truncated due to limit"]}"#
    );
    let (_, body) = get(
        &r,
        &format!(
            "/prometheus/api/v1/label/instance/values?match[]={}",
            enc("up{job=\"db\"}")
        ),
    )
    .await;
    assert_eq!(body, r#"{"status":"success","data":["b"]}"#);
    let (_, body) = get(&r, "/prometheus/api/v1/label/nope/values").await;
    assert_eq!(body, r#"{"status":"success","data":[]}"#);
    // Outside the data's time range nothing matches.
    let (_, body) = get(&r, "/prometheus/api/v1/labels?start=0&end=100").await;
    assert_eq!(body, r#"{"status":"success","data":[]}"#);
    let (s, _) = get(&r, "/prometheus/api/v1/labels?limit=-1").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn metadata_exemplars_and_buildinfo() {
    let (_, r) = fixture(false).await;
    let (s, body) = get(&r, "/prometheus/api/v1/metadata").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        body,
        r#"{"status":"success","data":{"up":[{"type":"gauge","help":"Target is up.","unit":""}]}}"#
    );
    let (_, body) = get(&r, "/prometheus/api/v1/metadata?metric=down").await;
    assert_eq!(body, r#"{"status":"success","data":{}}"#);
    let (s, _) = get(&r, "/prometheus/api/v1/metadata?limit=x").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, body) = get(
        &r,
        "/prometheus/api/v1/query_exemplars?query=up&start=0&end=10",
    )
    .await;
    assert_eq!(
        (s, body.as_str()),
        (StatusCode::OK, r#"{"status":"success","data":[]}"#)
    );
    // Every selector of the expression counts; grouped by series, Prometheus's JSON.
    let (s, body) = get(
        &r,
        "/prometheus/api/v1/query_exemplars?query=sum(rate(rpc_seconds_bucket[5m]))%20%2B%20up%7Bjob%3D%22api%22%7D&start=1700000000&end=1700000001.5",
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        concat!(
            r#"{"status":"success","data":["#,
            r#"{"seriesLabels":{"__name__":"rpc_seconds_bucket","le":"1"},"exemplars":[{"labels":{"trace_id":"x"},"value":"0.25","timestamp":1700000000.007}]},"#,
            r#"{"seriesLabels":{"__name__":"up","instance":"a","job":"api"},"exemplars":[{"labels":{"trace_id":"abc"},"value":"0.5","timestamp":1700000000},{"labels":{"trace_id":"def"},"value":"6","timestamp":1700000001.500}]}"#,
            "]}"
        )
    );
    // The time range filters; a bad query is bad data.
    let (_, body) = get(
        &r,
        "/prometheus/api/v1/query_exemplars?query=up&start=1700000001&end=1700000002",
    )
    .await;
    assert!(
        body.contains("def") && !body.contains("abc") && !body.contains("leak"),
        "{body}"
    );
    let (s, _) = get(&r, "/prometheus/api/v1/query_exemplars?query=up(").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, body) = get(&r, "/prometheus/api/v1/status/buildinfo").await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        body.starts_with(r#"{"status":"success","data":{"version":"3.0.0","revision":"#),
        "{body}"
    );
}

#[tokio::test]
async fn remote_read_over_http() {
    let (_, r) = fixture(false).await;
    let req = pb::ReadRequest {
        queries: vec![pb::Query {
            start_timestamp_ms: T0,
            end_timestamp_ms: T0 + 20_000,
            matchers: vec![pb::LabelMatcher {
                r#type: 0,
                name: "job".into(),
                value: "api".into(),
            }],
            hints: None,
        }],
        accepted_response_types: vec![],
    };
    let body = snap::raw::Encoder::new()
        .compress_vec(&req.encode_to_vec())
        .expect("snappy");
    let http_req = Request::post("/prometheus/api/v1/read")
        .header(header::CONTENT_TYPE, "application/x-protobuf")
        .body(Body::from(body))
        .expect("request");
    let (s, h, b) = call(&r, http_req).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(h[header::CONTENT_ENCODING], "snappy");
    let raw = snap::raw::Decoder::new()
        .decompress_vec(&b)
        .expect("snappy");
    let resp = pb::ReadResponse::decode(raw.as_slice()).expect("protobuf");
    let ts: Vec<i64> = resp.results[0].timeseries[0]
        .samples
        .iter()
        .map(|s| s.timestamp)
        .collect();
    assert_eq!(ts, vec![T0, T0 + 15_000]);
}

#[tokio::test]
async fn unreachable_ingesters_are_503() {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = l.local_addr().expect("addr").to_string();
    drop(l);
    let mut reg = Registry::default();
    let q = Querier::new(QuerierConfig::default(), vec![addr], false, &mut reg).expect("querier");
    let r = q.router();
    let (s, body) = get(&r, "/prometheus/api/v1/query?query=up").await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(body.contains(r#""errorType":"unavailable""#), "{body}");
    let (s, _) = get(&r, "/prometheus/api/v1/labels").await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn metrics_count_requests() {
    let mut reg = Registry::default();
    let q = Querier::new(QuerierConfig::default(), vec![], false, &mut reg).expect("querier");
    let r = q.router();
    get(&r, "/prometheus/api/v1/query?query=1").await;
    get(&r, "/prometheus/api/v1/query?query=(").await;
    let mut out = String::new();
    prometheus_client::encoding::text::encode(&mut out, &reg).expect("encode");
    assert!(
        out.contains(r#"strata_querier_queries_total{endpoint="query"} 2"#),
        "{out}"
    );
    assert!(
        out.contains(
            r#"strata_querier_query_failures_total{endpoint="query",error_type="bad_data"} 1"#
        ),
        "{out}"
    );
    assert!(
        out.contains(r#"strata_querier_query_duration_seconds_count{endpoint="query"} 2"#),
        "{out}"
    );
}

#[test]
fn label_name_unescaping() {
    assert_eq!(unescape_label_name("job"), "job");
    assert_eq!(unescape_label_name("U__my_2e_label"), "my.label");
    assert_eq!(unescape_label_name("U__a__b"), "a_b");
    assert_eq!(unescape_label_name("U__bad_zz_"), "U__bad_zz_");
}

#[test]
fn check_range_order_matches_prometheus() {
    let p = Params::from_pairs([("start", "10"), ("end", "5"), ("step", "0")]);
    assert_eq!(
        check_range(&p).expect_err("end before start").message,
        "end timestamp must not be before start time"
    );
    let p = Params::from_pairs([("start", "0"), ("end", "60"), ("step", "1m")]);
    assert_eq!(check_range(&p).expect("valid"), (0, 60_000, 60_000));
}

#[tokio::test]
async fn queries_queue_for_a_slot_instead_of_failing() {
    let addr = spawn_ingester(FakeIngester {
        series: vec![FakeSeries::new(
            "anonymous",
            &[("__name__", "up")],
            &[(T0, 1.0)],
        )],
        ..Default::default()
    })
    .await;
    let mut reg = Registry::default();
    let cfg = QuerierConfig {
        max_concurrent: 1,
        ..Default::default()
    };
    let q = Querier::new(cfg, vec![addr], false, &mut reg).expect("querier");
    let r = q.router();
    let uri = format!("/prometheus/api/v1/query?query=up&time={}", T0 / 1000);
    let answers = futures::future::join_all((0..8).map(|_| get(&r, &uri))).await;
    for (s, body) in answers {
        assert_eq!(s, StatusCode::OK, "{body}");
        assert!(body.contains(r#""value":[1700000000,"1"]"#), "{body}");
    }
}

#[tokio::test]
async fn get_bodies_are_not_parameters() {
    let (_, r) = fixture(false).await;
    let req = Request::get("/prometheus/api/v1/series")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from("match[]=up"))
        .expect("request");
    assert_eq!(call(&r, req).await.0, StatusCode::BAD_REQUEST);
}
