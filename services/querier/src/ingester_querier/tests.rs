use super::*;
use crate::test_support::{spawn_ingester, FakeIngester, FakeSeries};
use strata_model::{MatchOp, Sample};
use strata_proto::prometheus::metric_metadata::MetricType;

fn tenant(t: &str) -> TenantId {
    TenantId::new(t).expect("valid tenant")
}

fn all_time() -> SelectHints {
    SelectHints {
        start: i64::MIN / 2,
        end: i64::MAX / 2,
        ..Default::default()
    }
}

fn up(job: &str) -> Vec<(&'static str, String)> {
    vec![("__name__", "up".into()), ("job", job.to_string())]
}

async fn two_replicas() -> Arc<IngesterPool> {
    // Two ingesters holding overlapping replicas of series a, plus b only on the second,
    // and another tenant's series that must never leak.
    let a1 = FakeIngester {
        series: vec![
            FakeSeries::new(
                "t1",
                &[("__name__", "up"), ("job", "a")],
                &[(1, 1.0), (2, 2.0), (3, 3.0), (4, 4.0)],
            ),
            FakeSeries::new("t2", &[("__name__", "up"), ("job", "secret")], &[(1, 9.0)]),
        ],
        ..Default::default()
    };
    let a2 = FakeIngester {
        series: vec![
            FakeSeries::new(
                "t1",
                &[("__name__", "up"), ("job", "a")],
                &[(3, 3.0), (4, 4.0), (5, 5.0)],
            ),
            FakeSeries::new("t1", &[("__name__", "up"), ("job", "b")], &[(10, 10.0)]),
        ],
        ..Default::default()
    };
    let addrs = vec![spawn_ingester(a1).await, spawn_ingester(a2).await];
    Arc::new(IngesterPool::new(&addrs).expect("valid addresses"))
}

#[tokio::test]
async fn select_merges_replicas_across_ingesters() {
    let pool = two_replicas().await;
    let q = pool.querier(tenant("t1"));
    let series = q
        .select(&all_time(), &[Matcher::equal("__name__", "up")])
        .await
        .expect("select succeeds");
    let labels: Vec<String> = series.iter().map(|s| s.labels.to_string()).collect();
    assert_eq!(labels, vec![r#"up{job="a"}"#, r#"up{job="b"}"#]);
    let a: Vec<Sample> = series[0].samples().expect("decodes");
    assert_eq!(
        a.iter().map(|s| s.t).collect::<Vec<_>>(),
        vec![1, 2, 3, 4, 5]
    );
    assert_eq!(
        series[1].samples().expect("decodes"),
        vec![Sample::new(10, 10.0)]
    );

    let only_b = q
        .select(
            &all_time(),
            &[Matcher::new(MatchOp::RegexMatch, "job", "b|c").expect("valid regex")],
        )
        .await
        .expect("select succeeds");
    assert_eq!(only_b.len(), 1);
}

#[tokio::test]
async fn tenants_are_isolated() {
    let pool = two_replicas().await;
    let series = pool
        .querier(tenant("t2"))
        .select(&all_time(), &[Matcher::equal("__name__", "up")])
        .await
        .expect("select succeeds");
    assert_eq!(series.len(), 1);
    assert_eq!(series[0].labels.get("job"), Some("secret"));
    let none = pool
        .querier(tenant("t3"))
        .select(&all_time(), &[Matcher::equal("__name__", "up")])
        .await
        .expect("select succeeds");
    assert!(none.is_empty());
}

#[tokio::test]
async fn labels_merge_sort_dedup_and_limit() {
    let pool = two_replicas().await;
    let q = pool.querier(tenant("t1"));
    assert_eq!(
        q.label_names(&all_time(), &[]).await.expect("names"),
        vec!["__name__".to_string(), "job".to_string()]
    );
    assert_eq!(
        q.label_values("job", &all_time(), &[])
            .await
            .expect("values"),
        vec!["a".to_string(), "b".to_string()]
    );
    assert_eq!(
        q.label_values_limited("job", &all_time(), &[], 1)
            .await
            .expect("values"),
        vec!["a".to_string()]
    );
    let series = pool
        .series(
            &tenant("t1"),
            &[
                vec![Matcher::equal("job", "b")],
                vec![Matcher::equal("job", "a")],
            ],
            0,
            100,
            0,
        )
        .await
        .expect("series");
    let want: Vec<Labels> = [up("a"), up("b")]
        .iter()
        .map(|l| Labels::from_pairs(l.iter().map(|(k, v)| (*k, v.as_str()))))
        .collect();
    assert_eq!(series, want);
}

#[tokio::test]
async fn any_failing_ingester_fails_the_read() {
    let ok = spawn_ingester(FakeIngester {
        series: vec![FakeSeries::new("t1", &[("__name__", "up")], &[(1, 1.0)])],
        ..Default::default()
    })
    .await;
    let down = spawn_ingester(FakeIngester {
        fail: true,
        ..Default::default()
    })
    .await;
    let pool = Arc::new(IngesterPool::new(&[ok, down]).expect("valid addresses"));
    let q = pool.querier(tenant("t1"));
    let err = q
        .select(&all_time(), &[Matcher::equal("__name__", "up")])
        .await
        .expect_err("partial answers are refused");
    assert!(matches!(err, StorageError::Unavailable(_)), "{err}");
    assert!(matches!(
        q.label_names(&all_time(), &[]).await,
        Err(StorageError::Unavailable(_))
    ));
    assert!(matches!(
        pool.metadata(&tenant("t1"), "", None, None).await,
        Err(StorageError::Unavailable(_))
    ));
}

#[tokio::test]
async fn unreachable_ingester_is_unavailable() {
    // Bind then drop a listener to get a port nobody listens on.
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = l.local_addr().expect("addr").to_string();
    drop(l);
    let pool = Arc::new(IngesterPool::new(&[addr]).expect("valid address"));
    let err = pool
        .querier(tenant("t1"))
        .select(&all_time(), &[Matcher::equal("__name__", "up")])
        .await
        .expect_err("nobody listens");
    assert!(matches!(err, StorageError::Unavailable(_)));
}

#[tokio::test]
async fn unknown_chunk_encoding_is_corrupt() {
    let addr = spawn_ingester(FakeIngester {
        series: vec![FakeSeries::new("t1", &[("__name__", "up")], &[(1, 1.0)])],
        encoding: Some(strata_proto::prometheus::chunk::Encoding::Unknown),
        ..Default::default()
    })
    .await;
    let pool = Arc::new(IngesterPool::new(&[addr]).expect("valid address"));
    let err = pool
        .querier(tenant("t1"))
        .select(&all_time(), &[Matcher::equal("__name__", "up")])
        .await
        .expect_err("encoding 0 is not a chunk encoding");
    assert!(matches!(err, StorageError::Corrupt(_)), "{err}");
}

fn meta(name: &str, t: MetricType, help: &str) -> (String, MetricMetadata) {
    (
        "t1".to_string(),
        MetricMetadata {
            r#type: t as i32,
            metric_family_name: name.to_string(),
            help: help.to_string(),
            unit: String::new(),
        },
    )
}

#[tokio::test]
async fn metadata_groups_dedups_and_limits() {
    let i1 = FakeIngester {
        metadata: vec![
            meta("b_total", MetricType::Counter, "B."),
            meta("a", MetricType::Gauge, "A."),
        ],
        ..Default::default()
    };
    let i2 = FakeIngester {
        metadata: vec![
            meta("a", MetricType::Gauge, "A."),
            meta("a", MetricType::Gauge, "A, older help."),
        ],
        ..Default::default()
    };
    let addrs = vec![spawn_ingester(i1).await, spawn_ingester(i2).await];
    let pool = Arc::new(IngesterPool::new(&addrs).expect("valid addresses"));
    let t = tenant("t1");
    let all = pool.metadata(&t, "", None, None).await.expect("metadata");
    let names: Vec<(&str, usize)> = all.iter().map(|(n, e)| (n.as_str(), e.len())).collect();
    assert_eq!(names, vec![("a", 2), ("b_total", 1)]);
    let limited = pool
        .metadata(&t, "", Some(1), Some(1))
        .await
        .expect("metadata");
    assert_eq!(limited.len(), 1);
    assert_eq!(limited[0].1.len(), 1);
    let one = pool
        .metadata(&t, "b_total", None, None)
        .await
        .expect("metadata");
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].0, "b_total");
}

#[tokio::test]
async fn empty_pool_answers_empty() {
    let pool = Arc::new(IngesterPool::new(&[]).expect("no addresses"));
    assert!(pool.is_empty());
    let q = pool.querier(tenant("t1"));
    assert!(q.select(&all_time(), &[]).await.expect("select").is_empty());
}
