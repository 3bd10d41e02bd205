//! End-to-end tests of the queue against fake receivers on 127.0.0.1.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{endpoint, metric, opts, wait_for, Mode, Receiver};
use prometheus_client::registry::Registry;
use strata_model::{Histogram, Labels, Span};
use strata_remote_queue::{Exemplar, MetricType, Protocol, Queue, QueueMetrics};

fn series(name: &str, i: usize) -> Labels {
    Labels::from_pairs([("__name__", name), ("i", &i.to_string())])
}

/// Appends `n_series` × `steps` samples (value = t), one commit per step.
async fn write(q: &Arc<Queue>, name: &str, n_series: usize, t0: i64, steps: i64) {
    for step in 0..steps {
        let mut app = q.appender();
        let t = t0 + step;
        for i in 0..n_series {
            app.append(&series(name, i), t, t as f64);
        }
        app.commit().await.expect("commit");
    }
}

fn caught_up(q: &Queue, name: &str) -> bool {
    q.status().iter().any(|s| s.name == name && s.caught_up)
}

fn by_series(got: &[common::Got]) -> HashMap<String, Vec<i64>> {
    let mut m: HashMap<String, Vec<i64>> = HashMap::new();
    for g in got {
        m.entry(g.series.clone()).or_default().push(g.t);
    }
    m
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_every_sample_in_order_per_series_with_rw1_headers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rx = Receiver::start().await;
    let mut ep = endpoint("a", &rx.url);
    ep.external_labels = Labels::from_pairs([("cluster", "c1"), ("i", "overridden-not")]);
    ep.headers = BTreeMap::from([("X-Scope-OrgID".to_string(), "team-a".to_string())]);
    let q = Queue::open(dir.path(), vec![ep], opts(None)).expect("open");
    wait_for("start", 5, || q.status()[0].shards == 2).await;
    let mut app = q.appender();
    app.append_metadata("m", MetricType::Gauge, "A gauge.", "seconds");
    app.commit().await.expect("commit metadata");
    write(&q, "m", 30, 1000, 40).await;
    wait_for("caught up", 10, || caught_up(&q, "a")).await;
    let md: Vec<_> = rx
        .state
        .v1
        .lock()
        .iter()
        .flat_map(|r| r.metadata.clone())
        .collect();
    assert_eq!(md.len(), 1, "metadata sent once: {md:?}");
    assert_eq!(
        (
            md[0].metric_family_name.as_str(),
            md[0].r#type,
            md[0].help.as_str(),
            md[0].unit.as_str()
        ),
        ("m", 2, "A gauge.", "seconds")
    );

    let got = rx.samples();
    assert_eq!(got.len(), 30 * 40);
    for (s, ts) in by_series(&got) {
        assert!(s.contains("cluster=c1"), "external label missing on {s}");
        assert!(
            !s.contains("overridden-not"),
            "external label must not override {s}"
        );
        let want: Vec<i64> = (1000..1040).collect();
        assert_eq!(ts, want, "series {s} out of order or incomplete");
    }
    let h = rx.state.headers.lock()[0].clone();
    assert_eq!(h["content-encoding"], "snappy");
    assert_eq!(h["content-type"], "application/x-protobuf");
    assert_eq!(h["x-prometheus-remote-write-version"], "0.1.0");
    assert!(h["user-agent"]
        .to_str()
        .expect("ua")
        .starts_with("Strata-Agent/"));
    assert_eq!(h["x-scope-orgid"], "team-a");
    let st = &q.status()[0];
    assert_eq!(st.highest_sent_timestamp_ms, Some(1039));
    assert_eq!(st.pending_samples, 0);
    q.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_5xx_and_429_with_backoff_then_delivers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rx = Receiver::start().await;
    let mut reg = Registry::default();
    let m = QueueMetrics::register(&mut reg);
    let mut ep = endpoint("a", &rx.url);
    ep.queue.min_shards = 1;
    ep.queue.max_shards = 1;
    let q = Queue::open(dir.path(), vec![ep], opts(Some(m))).expect("open");
    rx.set_mode(Mode::FailN(3, 503));
    let start = Instant::now();
    write(&q, "m", 5, 1, 1).await;
    wait_for("caught up after 5xx", 10, || caught_up(&q, "a")).await;
    // Three failures: backoff 5 + 10 + 20 ms at least.
    assert!(start.elapsed() >= Duration::from_millis(35));
    assert_eq!(rx.samples().len(), 5);
    assert!(q.status()[0]
        .last_error
        .as_deref()
        .unwrap_or("")
        .contains("503"));
    assert_eq!(
        metric(&reg, "prometheus_remote_storage_samples_retried_total"),
        15.0
    );

    rx.set_mode(Mode::Status(429, Some(0)));
    write(&q, "m", 5, 2, 1).await;
    wait_for("429 retried", 10, || {
        rx.state.requests.load(std::sync::atomic::Ordering::SeqCst) >= 8
    })
    .await;
    assert_eq!(rx.samples().len(), 5, "nothing accepted while 429");
    rx.set_mode(Mode::Ok);
    wait_for("caught up after 429", 10, || caught_up(&q, "a")).await;
    assert_eq!(rx.samples().len(), 10);
    assert_eq!(
        metric(&reg, "prometheus_remote_storage_samples_failed_total"),
        0.0
    );
    assert_eq!(
        metric(&reg, "prometheus_remote_storage_samples_total"),
        10.0
    );
    q.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drops_and_counts_400_and_429_when_not_retried() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rx = Receiver::start().await;
    let mut reg = Registry::default();
    let m = QueueMetrics::register(&mut reg);
    let mut ep = endpoint("a", &rx.url);
    ep.queue.retry_on_http_429 = false;
    let q = Queue::open(dir.path(), vec![ep], opts(Some(m))).expect("open");
    rx.set_mode(Mode::Status(400, None));
    write(&q, "m", 10, 1, 3).await;
    wait_for("caught up after 400", 10, || caught_up(&q, "a")).await;
    assert_eq!(
        metric(&reg, "prometheus_remote_storage_samples_failed_total"),
        30.0
    );
    assert_eq!(
        metric(&reg, "prometheus_remote_storage_samples_retried_total"),
        0.0
    );
    assert!(q.status()[0]
        .last_error
        .as_deref()
        .unwrap_or("")
        .contains("400"));

    rx.set_mode(Mode::Status(429, None));
    write(&q, "m", 10, 10, 1).await;
    wait_for("caught up after 429", 10, || caught_up(&q, "a")).await;
    assert_eq!(
        metric(&reg, "prometheus_remote_storage_samples_failed_total"),
        40.0
    );

    rx.set_mode(Mode::Ok);
    write(&q, "m", 10, 20, 1).await;
    wait_for("caught up", 10, || caught_up(&q, "a")).await;
    let got = rx.samples();
    assert_eq!(got.len(), 10, "only the batch after recovery is accepted");
    assert!(got.iter().all(|g| g.t == 20));
    q.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_endpoint_blocks_neither_appends_nor_the_other_endpoint() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dead = Receiver::start().await;
    dead.set_mode(Mode::Hang);
    let live = Receiver::start().await;
    let q = Queue::open(
        dir.path(),
        vec![endpoint("dead", &dead.url), endpoint("live", &live.url)],
        opts(None),
    )
    .expect("open");
    wait_for("start", 5, || q.status().iter().all(|s| s.shards == 2)).await;
    let start = Instant::now();
    write(&q, "m", 20, 1, 50).await;
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "appends were slowed down"
    );
    wait_for("live caught up", 10, || caught_up(&q, "live")).await;
    assert_eq!(live.samples().len(), 20 * 50);
    let dead_st = q
        .status()
        .into_iter()
        .find(|s| s.name == "dead")
        .expect("dead");
    assert!(!dead_st.caught_up);
    assert!(dead_st.pending_samples > 0);
    drop(q);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disk_cap_drops_oldest_data_of_that_endpoint_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dead = Receiver::start().await;
    dead.set_mode(Mode::Status(503, None));
    let live = Receiver::start().await;
    let mut reg = Registry::default();
    let m = QueueMetrics::register(&mut reg);
    let mut capped = endpoint("capped", &dead.url);
    capped.max_disk_bytes = 200 * 1024;
    let q = Queue::open(
        dir.path(),
        vec![capped, endpoint("live", &live.url)],
        opts(Some(m)),
    )
    .expect("open");
    wait_for("start", 5, || q.status().iter().all(|s| s.shards == 2)).await;
    // ~1 MiB of WAL: 16 segments of 64 KiB.
    let (n_series, steps) = (200usize, 300i64);
    write(&q, "m", n_series, 1, steps).await;
    wait_for("live caught up", 20, || caught_up(&q, "live")).await;
    assert_eq!(
        live.samples().len(),
        n_series * steps as usize,
        "the other endpoint keeps its data"
    );
    wait_for("cap drop", 10, || {
        metric(
            &reg,
            "strata_remote_queue_dropped_samples_total{endpoint=\"capped\",reason=\"disk_cap\"}",
        ) > 0.0
    })
    .await;
    // Truncation follows: the WAL on disk stays near the cap.
    wait_for("wal truncated", 10, || {
        let size: u64 = std::fs::read_dir(dir.path().join("wal"))
            .expect("ls")
            .filter_map(|e| e.ok()?.metadata().ok())
            .filter(|m| m.is_file())
            .map(|m| m.len())
            .sum();
        size <= 200 * 1024 + 2 * 64 * 1024
    })
    .await;
    let st = q
        .status()
        .into_iter()
        .find(|s| s.name == "capped")
        .expect("capped");
    assert!(
        st.backlog_bytes <= 200 * 1024 + 64 * 1024,
        "backlog {}",
        st.backlog_bytes
    );
    // Recovery: the newest data is still delivered, the oldest is gone for good.
    dead.set_mode(Mode::Ok);
    wait_for("capped caught up", 20, || caught_up(&q, "capped")).await;
    let got = dead.samples();
    assert!(got.iter().any(|g| g.t == steps), "newest data delivered");
    assert!(!got.iter().any(|g| g.t == 1), "oldest data dropped");
    let dropped = q
        .status()
        .into_iter()
        .find(|s| s.name == "capped")
        .expect("capped")
        .cap_dropped_samples;
    assert!(got.len() as u64 + dropped >= (n_series * steps as usize) as u64);
    q.shutdown().await;
}

/// Regression: after a cap drop the disk was freed only by the next periodic truncation
/// (every 60 s by default, far past a small cap), and the position stayed before the
/// dropped data until the (dead) endpoint acknowledged the data read after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disk_cap_drop_frees_the_disk_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dead = Receiver::start().await;
    dead.set_mode(Mode::Status(503, None));
    let live = Receiver::start().await;
    let mut reg = Registry::default();
    let m = QueueMetrics::register(&mut reg);
    let mut o = opts(Some(m));
    o.truncate_interval = Duration::from_secs(3600);
    let mut capped = endpoint("capped", &dead.url);
    capped.max_disk_bytes = 200 * 1024;
    let q = Queue::open(dir.path(), vec![capped, endpoint("live", &live.url)], o).expect("open");
    wait_for("start", 5, || q.status().iter().all(|s| s.shards == 2)).await;
    // ~1 MiB of WAL: 16 segments of 64 KiB.
    write(&q, "m", 200, 1, 300).await;
    wait_for("live caught up", 20, || caught_up(&q, "live")).await;
    wait_for("cap drop", 10, || {
        metric(
            &reg,
            "strata_remote_queue_dropped_samples_total{endpoint=\"capped\",reason=\"disk_cap\"}",
        ) > 0.0
    })
    .await;
    wait_for("wal truncated without waiting for the interval", 10, || {
        let size: u64 = std::fs::read_dir(dir.path().join("wal"))
            .expect("ls")
            .filter_map(|e| e.ok()?.metadata().ok())
            .filter(|m| m.is_file())
            .map(|m| m.len())
            .sum();
        size <= 200 * 1024 + 2 * 64 * 1024
    })
    .await;
    q.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn age_cap_drops_data_older_than_max_age() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dead = Receiver::start().await;
    dead.set_mode(Mode::Status(500, None));
    let mut reg = Registry::default();
    let m = QueueMetrics::register(&mut reg);
    let mut ep = endpoint("old", &dead.url);
    ep.max_age = Duration::from_millis(300);
    let q = Queue::open(dir.path(), vec![ep], opts(Some(m))).expect("open");
    write(&q, "m", 10, 1, 5).await;
    wait_for("age drop", 10, || {
        metric(
            &reg,
            "strata_remote_queue_dropped_samples_total{endpoint=\"old\",reason=\"age\"}",
        ) >= 50.0
    })
    .await;
    assert_eq!(
        metric(
            &reg,
            "strata_remote_queue_dropped_samples_total{endpoint=\"old\",reason=\"disk_cap\"}"
        ),
        0.0
    );
    dead.set_mode(Mode::Ok);
    write(&q, "m", 10, 100, 1).await;
    wait_for("caught up", 10, || caught_up(&q, "old")).await;
    let got = dead.samples();
    assert_eq!(got.len(), 10);
    assert!(got.iter().all(|g| g.t == 100));
    q.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_after_kill_resumes_from_position_without_loss() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rx = Receiver::start().await;
    let mut o = opts(None);
    o.truncate_interval = Duration::from_secs(3600);
    let q = Queue::open(dir.path(), vec![endpoint("a", &rx.url)], o.clone()).expect("open");
    // Part 1: several segments, all sent, then truncated behind a checkpoint.
    write(&q, "m", 100, 1, 100).await;
    wait_for("part 1 sent", 10, || caught_up(&q, "a")).await;
    let pos_file = dir.path().join("endpoints/a/position");
    let head = q.head();
    wait_for("position stored", 5, || {
        std::fs::read_to_string(&pos_file)
            .is_ok_and(|s| s == format!("v1 {} {}\n", head.segment, head.offset))
    })
    .await;
    assert!(
        q.truncate().await.expect("truncate") > 0,
        "segments deleted"
    );
    // Part 2: written while the receiver fails, then the process is "killed".
    rx.set_mode(Mode::Status(503, None));
    write(&q, "m", 100, 101, 20).await;
    drop(q);
    rx.set_mode(Mode::Ok);
    let before = rx.samples().len();
    assert_eq!(before, 100 * 100);

    let q = Queue::open(dir.path(), vec![endpoint("a", &rx.url)], o).expect("reopen");
    write(&q, "m", 100, 121, 10).await;
    wait_for("everything sent", 10, || caught_up(&q, "a")).await;
    let got = rx.samples();
    let per = by_series(&got);
    assert_eq!(per.len(), 100, "series known from the checkpoint");
    for (s, ts) in per {
        let mut uniq = ts.clone();
        uniq.sort_unstable();
        uniq.dedup();
        let want: Vec<i64> = (1..=130).collect();
        assert_eq!(uniq, want, "series {s}: lost samples");
        // Part 1 was acknowledged and its position stored: sent exactly once, in order.
        // Part 2 may be sent twice (a request in flight at the kill), which is allowed.
        let part1: Vec<i64> = ts.iter().copied().filter(|&t| t <= 100).collect();
        assert_eq!(
            part1,
            (1..=100).collect::<Vec<i64>>(),
            "series {s}: part 1 resent"
        );
        let after: Vec<i64> = ts.iter().copied().skip(100).collect();
        let tail = &after[after.len() - 30..];
        assert_eq!(
            tail,
            &want[100..],
            "series {s}: resent in order after the restart"
        );
    }
    // The WAL kept its series refs: no new series records for known series.
    assert_eq!(q.series_count(), 100);
    q.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rw2_request_carries_symbols_metadata_histograms_and_exemplars() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rx = Receiver::start().await;
    let mut ep = endpoint("v2", &rx.url);
    ep.protocol = Protocol::V2;
    ep.send_exemplars = true;
    ep.send_native_histograms = true;
    let q = Queue::open(dir.path(), vec![ep], opts(None)).expect("open");
    wait_for("start", 5, || q.status()[0].shards == 2).await;
    let c = Labels::from_pairs([("__name__", "reqs_total"), ("path", "/")]);
    let h = Labels::from_pairs([("__name__", "lat"), ("path", "/")]);
    let mut app = q.appender();
    app.append_metadata("reqs", MetricType::Counter, "Requests.", "");
    app.append(&c, 1000, 7.0);
    app.append_exemplar(
        &c,
        Exemplar {
            labels: Labels::from_pairs([("trace_id", "abc")]),
            value: 7.0,
            t: 1000,
        },
    );
    let hist = Histogram {
        schema: 0,
        count: 3,
        sum: 4.5,
        zero_count: 1,
        positive_spans: vec![Span {
            offset: 0,
            length: 2,
        }],
        positive_buckets: vec![1, 0],
        ..Histogram::default()
    };
    app.append_histogram(&h, 1000, &hist);
    app.commit().await.expect("commit");
    wait_for("sent", 10, || caught_up(&q, "v2")).await;

    let hdr = rx.state.headers.lock().clone();
    assert!(hdr
        .iter()
        .all(|h| h["x-prometheus-remote-write-version"] == "2.0.0"));
    assert!(hdr.iter().all(
        |h| h["content-type"] == "application/x-protobuf;proto=io.prometheus.write.v2.Request"
    ));
    let reqs = rx.state.v2.lock().clone();
    let mut seen_counter = false;
    let mut seen_hist = false;
    for r in &reqs {
        assert_eq!(r.symbols[0], "");
        for ts in &r.timeseries {
            let name_ref = ts
                .labels_refs
                .chunks(2)
                .find(|p| r.symbols[p[0] as usize] == "__name__")
                .expect("name");
            match r.symbols[name_ref[1] as usize].as_str() {
                "reqs_total" => {
                    seen_counter = true;
                    assert_eq!(ts.samples.len(), 1);
                    let md = ts.metadata.expect("metadata");
                    assert_eq!(md.r#type, 1);
                    assert_eq!(r.symbols[md.help_ref as usize], "Requests.");
                    assert_eq!(ts.exemplars.len(), 1);
                    let e = &ts.exemplars[0];
                    assert_eq!(r.symbols[e.labels_refs[0] as usize], "trace_id");
                    assert_eq!(r.symbols[e.labels_refs[1] as usize], "abc");
                }
                "lat" => {
                    seen_hist = true;
                    assert_eq!(ts.histograms.len(), 1);
                    let ph = &ts.histograms[0];
                    assert_eq!(ph.sum, 4.5);
                    assert_eq!(ph.positive_deltas, vec![1, 0]);
                    assert_eq!(ph.timestamp, 1000);
                }
                other => panic!("unexpected series {other}"),
            }
        }
    }
    assert!(seen_counter && seen_hist);
    q.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_relabel_drop_keeps_series_out_and_counts_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rx = Receiver::start().await;
    let mut reg = Registry::default();
    let m = QueueMetrics::register(&mut reg);
    let mut ep = endpoint("a", &rx.url);
    ep.write_relabel_configs = vec![strata_relabel::RelabelConfig {
        source_labels: vec!["__name__".into()],
        regex: strata_relabel::Regexp::new("secret_.*").expect("regex"),
        action: strata_relabel::Action::Drop,
        ..Default::default()
    }];
    let q = Queue::open(dir.path(), vec![ep], opts(Some(m))).expect("open");
    wait_for("start", 5, || q.status()[0].shards == 2).await;
    write(&q, "secret_m", 5, 1, 4).await;
    write(&q, "public_m", 5, 1, 4).await;
    wait_for("caught up", 10, || caught_up(&q, "a")).await;
    let got = rx.samples();
    assert_eq!(got.len(), 20);
    assert!(got.iter().all(|g| g.series.contains("public_m")));
    assert_eq!(
        metric(&reg, "prometheus_remote_storage_samples_dropped_total"),
        20.0
    );
    q.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shards_scale_up_with_backlog_against_a_slow_receiver() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rx = Receiver::start().await;
    rx.state
        .delay_ms
        .store(30, std::sync::atomic::Ordering::SeqCst);
    let mut ep = endpoint("a", &rx.url);
    ep.queue.min_shards = 1;
    ep.queue.max_shards = 8;
    ep.queue.max_samples_per_send = 50;
    let mut o = opts(None);
    o.reshard_interval = Duration::from_millis(200);
    let q = Queue::open(dir.path(), vec![ep], o).expect("open");
    write(&q, "m", 200, 1, 20).await;
    wait_for("more shards", 15, || q.status()[0].shards > 1).await;
    wait_for("caught up", 20, || caught_up(&q, "a")).await;
    let per = by_series(&rx.samples());
    for (s, ts) in per {
        assert_eq!(
            ts,
            (1..=20).collect::<Vec<i64>>(),
            "series {s} after resharding"
        );
    }
    q.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_and_clean_shutdown_keep_positions_by_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rx = Receiver::start().await;
    let q = Queue::open(dir.path(), vec![endpoint("a", &rx.url)], opts(None)).expect("open");
    write(&q, "m", 10, 1, 10).await;
    wait_for("part 1", 10, || caught_up(&q, "a")).await;

    let mut changed = endpoint("a", &rx.url);
    changed.headers = BTreeMap::from([("X-Test".to_string(), "2".to_string())]);
    q.apply_endpoints(vec![changed.clone()]);
    write(&q, "m", 10, 11, 10).await;
    wait_for("part 2", 10, || caught_up(&q, "a")).await;
    let hdrs = rx.state.headers.lock().clone();
    assert!(
        hdrs.last().is_some_and(|h| h["x-test"] == "2"),
        "reloaded config in use"
    );
    q.shutdown().await;
    drop(q);

    let q = Queue::open(dir.path(), vec![changed], opts(None)).expect("reopen");
    write(&q, "m", 10, 21, 5).await;
    wait_for("part 3", 10, || caught_up(&q, "a")).await;
    for (s, ts) in by_series(&rx.samples()) {
        assert_eq!(
            ts,
            (1..=25).collect::<Vec<i64>>(),
            "series {s}: each sample exactly once"
        );
    }
    q.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn segments_stay_until_every_endpoint_has_passed_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let slow = Receiver::start().await;
    slow.set_mode(Mode::Status(503, None));
    let fast = Receiver::start().await;
    let mut o = opts(None);
    o.truncate_interval = Duration::from_secs(3600);
    let q = Queue::open(
        dir.path(),
        vec![endpoint("slow", &slow.url), endpoint("fast", &fast.url)],
        o,
    )
    .expect("open");
    write(&q, "m", 100, 1, 300).await;
    wait_for("fast caught up", 10, || caught_up(&q, "fast")).await;
    assert!(q.head().segment >= 3, "several segments written");
    assert_eq!(
        q.truncate().await.expect("truncate"),
        0,
        "slow still needs them"
    );
    slow.set_mode(Mode::Ok);
    wait_for("slow caught up", 10, || caught_up(&q, "slow")).await;
    assert_eq!(slow.samples().len(), 100 * 300);
    assert!(q.truncate().await.expect("truncate") >= 3);
    // Series stay known after truncation: new samples of old series still go out.
    write(&q, "m", 100, 301, 1).await;
    wait_for("both caught up", 10, || {
        caught_up(&q, "slow") && caught_up(&q, "fast")
    })
    .await;
    assert_eq!(slow.samples().len(), 100 * 301);
    assert_eq!(fast.samples().len(), 100 * 301);
    q.shutdown().await;
}
