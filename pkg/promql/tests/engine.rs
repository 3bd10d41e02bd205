//! Engine behaviour the HTTP layer relies on: result shapes, ordering, error types.

mod common;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use common::MemQuerier;
use strata_model::{Labels, Matcher, Sample};
use strata_promql::{Engine, EngineOptions, QueryError, Value};
use strata_storage::{Querier, SelectHints, Series, StorageError};

fn querier() -> Arc<dyn Querier> {
    let q = MemQuerier::new();
    for (job, inst, step) in [("api", "0", 1.0), ("api", "1", 2.0), ("db", "0", 3.0)] {
        let samples: Vec<Sample> = (0..=20)
            .map(|i| Sample::new(i * 15_000, i as f64 * step))
            .collect();
        q.add(
            Labels::from_pairs([("__name__", "reqs_total"), ("job", job), ("instance", inst)]),
            &samples,
        );
    }
    Arc::new(q)
}

fn engine() -> Engine {
    Engine::new(EngineOptions::default())
}

#[tokio::test]
async fn instant_vector_is_sorted_by_labels_and_keeps_sort_order() {
    let r = engine()
        .instant_query(querier(), "reqs_total", 300_000)
        .await
        .expect("query succeeds");
    let Value::Vector(v) = r.value else {
        panic!("expected a vector")
    };
    assert_eq!(v.len(), 3);
    assert!(v.windows(2).all(|w| w[0].labels < w[1].labels));
    assert_eq!(v[0].t, 300_000);
    assert_eq!(v[0].v, 20.0);

    let r = engine()
        .instant_query(querier(), "sort_desc(reqs_total)", 300_000)
        .await
        .expect("query succeeds");
    let Value::Vector(v) = r.value else {
        panic!("expected a vector")
    };
    let vals: Vec<f64> = v.iter().map(|s| s.v).collect();
    assert_eq!(vals, vec![60.0, 40.0, 20.0]);
}

#[tokio::test]
async fn rate_extrapolates_and_drops_the_name() {
    let r = engine()
        .instant_query(querier(), "rate(reqs_total{job=\"db\"}[1m])", 300_000)
        .await
        .expect("query succeeds");
    let Value::Vector(v) = r.value else {
        panic!("expected a vector")
    };
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].labels.metric_name(), None);
    // 3 per 15s sample, a perfect counter: 0.2/s.
    assert!((v[0].v - 0.2).abs() < 1e-12, "got {}", v[0].v);
    assert!(r.infos.is_empty());

    let r = engine()
        .instant_query(
            querier(),
            "rate(reqs_total{job=\"db\"}[1m]) > bool 0",
            300_000,
        )
        .await;
    assert!(r.is_ok());
}

#[tokio::test]
async fn range_query_of_scalar_is_a_matrix() {
    let r = engine()
        .range_query(querier(), "1 + 1", 0, 60_000, 30_000)
        .await
        .expect("query succeeds");
    let Value::Matrix(m) = r.value else {
        panic!("expected a matrix")
    };
    assert_eq!(m.len(), 1);
    assert!(m[0].labels.is_empty());
    assert_eq!(
        m[0].samples,
        vec![
            Sample::new(0, 2.0),
            Sample::new(30_000, 2.0),
            Sample::new(60_000, 2.0)
        ]
    );
}

#[tokio::test]
async fn instant_range_selector_is_a_left_open_matrix() {
    let r = engine()
        .instant_query(querier(), "reqs_total{instance=\"1\"}[30s]", 60_000)
        .await
        .expect("query succeeds");
    let Value::Matrix(m) = r.value else {
        panic!("expected a matrix")
    };
    assert_eq!(m.len(), 1);
    let ts: Vec<i64> = m[0].samples.iter().map(|s| s.t).collect();
    assert_eq!(ts, vec![45_000, 60_000]);
}

#[tokio::test]
async fn invalid_parameters_are_bad_data() {
    let e = engine();
    let q = querier();
    let err = e
        .range_query(q.clone(), "up", 0, 10, 0)
        .await
        .expect_err("step 0 fails");
    assert_eq!(err.error_type(), "bad_data");
    let err = e
        .range_query(q.clone(), "up", 10, 0, 1)
        .await
        .expect_err("end before start fails");
    assert_eq!(err.error_type(), "bad_data");
    let err = e
        .range_query(q.clone(), "up", 0, 11_001_000, 1000)
        .await
        .expect_err("too many points fails");
    assert_eq!(err.error_type(), "bad_data");
    assert!(err
        .to_string()
        .starts_with("exceeded maximum resolution of 11,000 points per timeseries"));
    let err = e
        .instant_query(q.clone(), "sum(", 0)
        .await
        .expect_err("parse error");
    assert_eq!(err.error_type(), "bad_data");
    let err = e
        .range_query(q, "up[5m]", 0, 10, 1)
        .await
        .expect_err("range vector in range query");
    assert_eq!(err.error_type(), "bad_data");
}

#[tokio::test]
async fn runtime_errors_are_execution() {
    let err = engine()
        .instant_query(querier(), "rate({__name__=~\"reqs_total|other\"}[1m]) or label_replace(rate(reqs_total[1m]), \"x\", \"y\", \"\", \"\")", 300_000)
        .await
        .map(|_| ())
        .err();
    // `or` keeps the left side; no error expected here.
    assert!(err.is_none());
    let err = engine()
        .instant_query(querier(), "reqs_total + ignoring(job) reqs_total", 300_000)
        .await;
    // instance 0 exists for two jobs: duplicate match group on the right.
    let err = err.expect_err("many-to-many fails");
    assert_eq!(err.error_type(), "execution");
    let err = engine()
        .instant_query(
            querier(),
            "label_replace(reqs_total, \"job\", \"x\", \"\", \"\")",
            300_000,
        )
        .await
        .expect_err("duplicate labelset fails");
    assert_eq!(
        err.to_string(),
        "vector cannot contain metrics with the same labelset"
    );
    assert_eq!(err.error_type(), "execution");
}

#[tokio::test]
async fn max_samples_is_enforced() {
    let e = Engine::new(EngineOptions {
        max_samples: 10,
        ..EngineOptions::default()
    });
    let err = e
        .range_query(querier(), "reqs_total", 0, 300_000, 15_000)
        .await
        .expect_err("too many samples");
    assert_eq!(
        err.to_string(),
        "query processing would load too many samples into memory in query execution"
    );
    assert_eq!(err.error_type(), "execution");
}

struct Failing(Option<Duration>);

#[async_trait]
impl Querier for Failing {
    async fn select(&self, _: &SelectHints, _: &[Matcher]) -> Result<Vec<Series>, StorageError> {
        match self.0 {
            Some(d) => {
                tokio::time::sleep(d).await;
                Ok(Vec::new())
            }
            None => Err(StorageError::Unavailable("ingester down".into())),
        }
    }
    async fn label_names(
        &self,
        _: &SelectHints,
        _: &[Matcher],
    ) -> Result<Vec<String>, StorageError> {
        Ok(Vec::new())
    }
    async fn label_values(
        &self,
        _: &str,
        _: &SelectHints,
        _: &[Matcher],
    ) -> Result<Vec<String>, StorageError> {
        Ok(Vec::new())
    }
}

#[tokio::test]
async fn storage_failures_and_timeouts_map_to_their_error_types() {
    let err = engine()
        .instant_query(Arc::new(Failing(None)), "up", 0)
        .await
        .expect_err("storage down");
    assert_eq!(err.error_type(), "unavailable");
    let e = Engine::new(EngineOptions {
        timeout: Duration::from_millis(50),
        ..EngineOptions::default()
    });
    let err = e
        .instant_query(Arc::new(Failing(Some(Duration::from_secs(5)))), "up", 0)
        .await
        .expect_err("timeout");
    assert!(matches!(err, QueryError::Timeout(_)));
    assert_eq!(err.error_type(), "timeout");
}

#[tokio::test]
async fn topk_keeps_descending_order_in_instant_queries() {
    let r = engine()
        .instant_query(querier(), "topk(2, reqs_total)", 300_000)
        .await
        .expect("query succeeds");
    let Value::Vector(v) = r.value else {
        panic!("expected a vector")
    };
    let vals: Vec<f64> = v.iter().map(|s| s.v).collect();
    assert_eq!(vals, vec![60.0, 40.0]);
    assert_eq!(v[0].labels.metric_name(), Some("reqs_total"));
}

/// Rough throughput check: 2,000 series × 1,000 steps of `rate` must stay well under a second
/// in debug builds of dependencies at opt-level 2.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_range_query_is_fast() {
    let q = MemQuerier::new();
    for s in 0..2_000 {
        let samples: Vec<Sample> = (0..=1_000)
            .map(|i| Sample::new(i * 15_000, (i * (s % 7 + 1)) as f64))
            .collect();
        q.add(
            Labels::from_pairs([("__name__", "big_total"), ("series", &s.to_string())]),
            &samples,
        );
    }
    let q: Arc<dyn Querier> = Arc::new(q);
    let started = std::time::Instant::now();
    let r = engine()
        .range_query(q, "sum by (x) (rate(big_total[1m]))", 0, 15_000_000, 15_000)
        .await
        .expect("query succeeds");
    let took = started.elapsed();
    let Value::Matrix(m) = r.value else {
        panic!("expected a matrix")
    };
    assert_eq!(m.len(), 1);
    // Step 0 sees a single sample, too few for a rate.
    assert_eq!(m[0].samples.len(), 1_000);
    println!("2000 series x 1001 steps sum(rate) took {took:?}");
}

#[tokio::test]
async fn annotations_end_with_the_position_of_their_node() {
    let q = MemQuerier::new();
    let samples: Vec<Sample> = (0..=20)
        .map(|i| Sample::new(i * 15_000, i as f64))
        .collect();
    q.add(Labels::from_pairs([("__name__", "foo")]), &samples);
    let r = engine()
        .instant_query(Arc::new(q), "sum(\n  rate(foo[1m]))", 300_000)
        .await
        .expect("query succeeds");
    assert_eq!(
        r.infos,
        vec![
            "PromQL info: metric might not be a counter, name does not end in _total/_sum/_count/_bucket: \"foo\" (2:8)"
                .to_string()
        ]
    );
}

#[tokio::test]
async fn duration_expressions_resolve_against_the_query_step() {
    let q = MemQuerier::new();
    let samples: Vec<Sample> = (0..=100)
        .map(|i| Sample::new(i * 1_000, i as f64))
        .collect();
    q.add(Labels::from_pairs([("__name__", "m")]), &samples);
    let q: Arc<dyn Querier> = Arc::new(q);
    let r = engine()
        .range_query(
            q.clone(),
            "count_over_time(m[step()+1ms])",
            50_000,
            60_000,
            10_000,
        )
        .await
        .expect("query succeeds");
    let Value::Matrix(m) = r.value else {
        panic!("expected a matrix")
    };
    let vals: Vec<f64> = m[0].samples.iter().map(|s| s.v).collect();
    assert_eq!(vals, vec![11.0, 11.0]);

    let err = engine()
        .instant_query(q, "count_over_time(m[step()])", 50_000)
        .await
        .expect_err("an instant query has no step");
    assert_eq!(err.error_type(), "bad_data");
}

#[tokio::test]
async fn anchored_and_smoothed_ranges_use_boundary_values() {
    let q = MemQuerier::new();
    let vals = [1.0, 2.0, 3.0, 4.0, 5.0, 9.0, 10.0, 11.0, 12.0, 13.0];
    let samples: Vec<Sample> = vals
        .iter()
        .enumerate()
        .map(|(i, v)| Sample::new(i as i64 * 15_000, *v))
        .collect();
    q.add(Labels::from_pairs([("__name__", "metric")]), &samples);
    let q: Arc<dyn Querier> = Arc::new(q);
    let value = |r: strata_promql::QueryResult| match r.value {
        Value::Vector(v) => v[0].v,
        other => panic!("expected a vector, got {other:?}"),
    };
    let anchored = engine()
        .instant_query(q.clone(), "increase(metric[1m] anchored)", 80_000)
        .await
        .expect("query succeeds");
    assert_eq!(value(anchored), 7.0);
    let smoothed = engine()
        .instant_query(q.clone(), "increase(metric[1m] smoothed)", 20_000)
        .await
        .expect("query succeeds");
    assert!((value(smoothed) - 4.0 / 3.0).abs() < 1e-9);
    let err = engine()
        .instant_query(q, "max_over_time(metric[1m] smoothed)", 20_000)
        .await
        .expect_err("max_over_time does not accept smoothed ranges");
    assert_eq!(
        err.to_string(),
        "smoothed modifier can only be used with: delta, increase, rate - not with max_over_time"
    );
}
