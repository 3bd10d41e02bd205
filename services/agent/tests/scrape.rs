//! The scrape manager against real HTTP targets on 127.0.0.1 (axum servers the tests start),
//! writing into a `MemorySink`: values of the synthetic series, staleness, limits, gzip,
//! timeouts, content negotiation, reload, and the target pages.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use parking_lot::Mutex;
use strata_agent::pages::{self, PagesState};
use strata_agent::{
    Groups, JobConfig, LoopEnv, MemorySink, ScrapeManager, ScrapeMetrics, SeriesClock, TargetGroup,
};
use strata_model::is_stale_nan;
use tokio::sync::watch;

/// What a test target answers.
#[derive(Clone)]
struct Exposed {
    body: String,
    content_type: String,
    gzip: bool,
    delay: Duration,
    status: u16,
    /// Headers of every request, newest last.
    requests: Vec<HeaderMap>,
}

struct TestTarget {
    addr: String,
    state: Arc<Mutex<Exposed>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TestTarget {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TestTarget {
    async fn start(body: &str) -> Self {
        let state = Arc::new(Mutex::new(Exposed {
            body: body.to_string(),
            content_type: "text/plain; version=0.0.4".into(),
            gzip: false,
            delay: Duration::ZERO,
            status: 200,
            requests: Vec::new(),
        }));
        let st = Arc::clone(&state);
        let app = axum::Router::new().route(
            "/metrics",
            axum::routing::get(move |headers: HeaderMap| {
                let st = Arc::clone(&st);
                async move { serve(st, headers).await }
            }),
        );
        let l = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = l.local_addr().expect("addr").to_string();
        let task = tokio::spawn(async move {
            let _ = axum::serve(l, app).await;
        });
        Self { addr, state, task }
    }

    fn set(&self, f: impl FnOnce(&mut Exposed)) {
        f(&mut self.state.lock());
    }

    fn requests(&self) -> Vec<HeaderMap> {
        self.state.lock().requests.clone()
    }
}

async fn serve(st: Arc<Mutex<Exposed>>, headers: HeaderMap) -> Response {
    let e = {
        let mut s = st.lock();
        s.requests.push(headers.clone());
        s.clone()
    };
    tokio::time::sleep(e.delay).await;
    // OpenMetrics only for clients that ask for it, as client libraries negotiate.
    let accept = headers
        .get("accept")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let mut ct = e.content_type.clone();
    let mut body = e.body.clone();
    if ct.starts_with("application/openmetrics-text") && !accept.contains("openmetrics") {
        // The text format has neither exemplars nor `# EOF`.
        ct = "text/plain; version=0.0.4".into();
        body = body
            .lines()
            .filter(|l| *l != "# EOF")
            .map(|l| format!("{}\n", l.split(" # ").next().unwrap_or_default()))
            .collect();
    }
    let status = StatusCode::from_u16(e.status).expect("status");
    if e.gzip {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(body.as_bytes()).expect("gzip");
        let b = enc.finish().expect("gzip");
        return (
            status,
            [("content-type", ct), ("content-encoding", "gzip".into())],
            b,
        )
            .into_response();
    }
    (status, [("content-type", ct)], body).into_response()
}

struct Agent {
    manager: Arc<ScrapeManager>,
    sink: MemorySink,
    groups: watch::Sender<Groups>,
    shutdown: watch::Sender<bool>,
    metrics: ScrapeMetrics,
}

impl Agent {
    fn start() -> Self {
        let sink = MemorySink::new();
        let (shutdown, rx) = watch::channel(false);
        let metrics = ScrapeMetrics::default();
        let env = LoopEnv {
            sink: Arc::new(sink.clone()),
            clock: Arc::new(SeriesClock::new()),
            metrics: metrics.clone(),
            offset_seed: 0,
            shutdown: rx,
        };
        let manager = ScrapeManager::new(env, None);
        let (groups, grx) = watch::channel(Groups::default());
        manager.run(grx);
        Self {
            manager,
            sink,
            groups,
            shutdown,
            metrics,
        }
    }

    fn set_targets(&self, job: &str, addrs: &[&str]) {
        let mut m: BTreeMap<String, Vec<TargetGroup>> = (**self.groups.borrow()).clone();
        m.insert(
            job.to_string(),
            vec![TargetGroup {
                source: "static/0".into(),
                targets: addrs
                    .iter()
                    .map(|a| BTreeMap::from([("__address__".to_string(), a.to_string())]))
                    .collect(),
                labels: BTreeMap::new(),
            }],
        );
        self.groups.send_replace(Arc::new(m));
    }

    /// Values of `name` for the target at `addr`, in commit order.
    fn values(&self, name: &str, addr: &str) -> Vec<(i64, f64)> {
        self.sink.series(name, &[("instance", addr)])
    }

    async fn wait(&self, what: &str, mut f: impl FnMut(&Self) -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while !f(self) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {what}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

fn job(name: &str) -> JobConfig {
    let mut j = JobConfig::new(name);
    j.scrape_interval = Duration::from_millis(200);
    j.scrape_timeout = Duration::from_millis(150);
    j
}

#[tokio::test]
async fn synthetic_series_and_target_labels() {
    let t = TestTarget::start("a{x=\"1\"} 1\nb 2\n").await;
    let a = Agent::start();
    a.set_targets("j", &[&t.addr]);
    assert!(a.manager.apply_config(vec![job("j")]).await.is_empty());
    a.wait("two scrapes", |a| a.values("up", &t.addr).len() >= 2)
        .await;
    let up = a.values("up", &t.addr);
    assert!(up.iter().all(|(_, v)| *v == 1.0), "{up:?}");
    assert_eq!(a.values("scrape_samples_scraped", &t.addr)[0].1, 2.0);
    assert_eq!(
        a.values("scrape_samples_post_metric_relabeling", &t.addr)[0].1,
        2.0
    );
    let added = a.values("scrape_series_added", &t.addr);
    assert_eq!((added[0].1, added[1].1), (2.0, 0.0));
    let d = a.values("scrape_duration_seconds", &t.addr)[0].1;
    assert!(d > 0.0 && d < 0.15, "{d}");
    let s = a.sink.samples();
    let sa = s
        .iter()
        .find(|w| w.labels.metric_name() == Some("a"))
        .expect("a scraped");
    assert_eq!(sa.labels.get("job"), Some("j"));
    assert_eq!(sa.labels.get("x"), Some("1"));
    // Samples of one scrape share the report's timestamp; scrapes are an interval apart.
    assert_eq!(sa.t_ms, up[0].0);
    let gap = up[1].0 - up[0].0;
    assert!((195..=600).contains(&gap), "{gap}");
    // Prometheus's request headers.
    let h = &t.requests()[0];
    assert_eq!(h["x-prometheus-scrape-timeout-seconds"], "0.15");
    assert_eq!(h["accept-encoding"], "gzip");
    assert!(h["accept"]
        .to_str()
        .expect("ascii")
        .starts_with("application/openmetrics-text;version=1.0.0"));
}

#[tokio::test]
async fn staleness_on_series_gone_and_target_removed() {
    let t = TestTarget::start("a 1\nb 2\n").await;
    let a = Agent::start();
    a.set_targets("j", &[&t.addr]);
    a.manager.apply_config(vec![job("j")]).await;
    a.wait("first scrape", |a| !a.values("b", &t.addr).is_empty())
        .await;
    t.set(|e| e.body = "a 1\n".into());
    a.wait("b stale", |a| {
        a.values("b", &t.addr).iter().any(|(_, v)| is_stale_nan(*v))
    })
    .await;
    // Target removed: every series and the report series get a marker after the last scrape.
    let before = a.values("up", &t.addr).last().expect("scraped").0;
    a.set_targets("j", &[]);
    a.wait("a stale", |a| {
        a.values("a", &t.addr).iter().any(|(_, v)| is_stale_nan(*v))
    })
    .await;
    a.wait("up stale", |a| {
        a.values("up", &t.addr)
            .iter()
            .any(|(_, v)| is_stale_nan(*v))
    })
    .await;
    let up = a.values("up", &t.addr);
    let (ts, _) = up.iter().find(|(_, v)| is_stale_nan(*v)).expect("marker");
    assert!(*ts > before, "marker at {ts}, last scrape {before}");
    for name in [
        "scrape_duration_seconds",
        "scrape_samples_scraped",
        "scrape_series_added",
    ] {
        assert!(
            is_stale_nan(a.values(name, &t.addr).last().expect("series").1),
            "{name}"
        );
    }
}

#[tokio::test]
async fn failures_limits_and_gzip() {
    let ok = TestTarget::start("a 1\nb 2\nc 3\n").await;
    ok.set(|e| e.gzip = true);
    let big = TestTarget::start(&"x 1\n".repeat(100)).await;
    let slow = TestTarget::start("s 1\n").await;
    slow.set(|e| e.delay = Duration::from_millis(400));
    let broken = TestTarget::start("a 1\n").await;
    broken.set(|e| e.status = 500);
    let a = Agent::start();
    let mut gz = job("gz");
    gz.sample_limit = 3;
    let mut limited = job("big");
    limited.body_size_limit = 100;
    a.set_targets("gz", &[&ok.addr]);
    a.set_targets("big", &[&big.addr]);
    a.set_targets("slow", &[&slow.addr]);
    a.set_targets("broken", &[&broken.addr]);
    a.manager
        .apply_config(vec![gz, limited, job("slow"), job("broken")])
        .await;
    a.wait("all scraped", |a| {
        [&ok, &big, &slow, &broken]
            .iter()
            .all(|t| !a.values("up", &t.addr).is_empty())
    })
    .await;
    assert_eq!(a.values("up", &ok.addr)[0].1, 1.0);
    assert_eq!(a.values("c", &ok.addr)[0].1, 3.0);
    for t in [&big, &slow, &broken] {
        assert_eq!(a.values("up", &t.addr)[0].1, 0.0);
        assert_eq!(a.values("scrape_samples_scraped", &t.addr)[0].1, 0.0);
    }
    let views = a.manager.views();
    let err = |job: &str| views[job].active[0].status.lock().last_error.clone();
    assert_eq!(err("big"), "body size limit exceeded");
    assert_eq!(
        err("broken"),
        "server returned HTTP status 500 Internal Server Error"
    );
    assert!(
        err("slow").ends_with("context deadline exceeded"),
        "{}",
        err("slow")
    );
    assert!(a.metrics.exceeded_body_size_limit.get() >= 1);

    // One more sample than the limit: the scrape fails and is counted. As in Prometheus,
    // series appended before the limit was hit count as present (no stale marker).
    ok.set(|e| e.body = "a 1\nb 2\nc 3\nd 4\n".into());
    a.wait("limit hit", |a| {
        a.values("up", &ok.addr)
            .last()
            .is_some_and(|(_, v)| *v == 0.0)
    })
    .await;
    assert_eq!(err_of(&a, "gz"), "sample limit exceeded");
    assert_eq!(
        a.values("scrape_samples_scraped", &ok.addr)
            .last()
            .expect("report")
            .1,
        4.0
    );
    assert!(a
        .values("a", &ok.addr)
        .iter()
        .all(|(_, v)| !is_stale_nan(*v)));
    assert!(a.values("d", &ok.addr).is_empty());
    // An HTTP failure marks every series of the last good scrape stale.
    a.wait("broken target series", |a| {
        a.values("up", &broken.addr).len() >= 2
    })
    .await;
    broken.set(|e| e.status = 200);
    a.wait("recovered", |a| !a.values("a", &broken.addr).is_empty())
        .await;
    broken.set(|e| e.status = 503);
    a.wait("stale after failure", |a| {
        a.values("a", &broken.addr)
            .last()
            .is_some_and(|(_, v)| is_stale_nan(*v))
    })
    .await;
    assert!(a.metrics.exceeded_sample_limit.get() >= 1);
}

fn err_of(a: &Agent, job: &str) -> String {
    a.manager.views()[job].active[0]
        .status
        .lock()
        .last_error
        .clone()
}

#[tokio::test]
async fn openmetrics_negotiated_and_duplicates_counted() {
    let body = "# TYPE c counter\nc_total 5 # {trace_id=\"abc\"} 1 1.0\nd 1\nd 2\n# EOF\n";
    let t = TestTarget::start(body).await;
    t.set(|e| e.content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8".into());
    let a = Agent::start();
    a.set_targets("om", &[&t.addr]);
    let mut text_only = job("text");
    text_only.scrape_protocols = vec![strata_exposition::ScrapeProtocol::PrometheusText0_0_4];
    a.set_targets("text", &[&t.addr]);
    a.manager.apply_config(vec![job("om"), text_only]).await;
    a.wait("scraped", |a| {
        !a.sink.series("up", &[("job", "om")]).is_empty()
            && !a.sink.series("up", &[("job", "text")]).is_empty()
    })
    .await;
    // OpenMetrics: parsed with exemplars; `d` twice is a duplicate, the scrape still up.
    assert_eq!(a.sink.series("up", &[("job", "om")])[0].1, 1.0);
    assert_eq!(a.sink.series("c_total", &[("job", "om")])[0].1, 5.0);
    assert_eq!(a.sink.series("d", &[("job", "om")])[0].1, 1.0);
    assert!(a.metrics.sample_duplicate.get() >= 1);
    let ex = a.sink.exemplars();
    assert!(ex.iter().any(|(l, e)| l.get("job") == Some("om")
        && e.labels.get("trace_id") == Some("abc")
        && e.t_ms == 1000));
    // Text-only job: the server fell back to the text format, where `# EOF` is a comment.
    assert_eq!(a.sink.series("up", &[("job", "text")])[0].1, 1.0);
    let accepts: Vec<String> = t
        .requests()
        .iter()
        .map(|h| h["accept"].to_str().expect("ascii").to_string())
        .collect();
    assert!(
        accepts.contains(&"text/plain;version=0.0.4;q=0.5,*/*;q=0.4".to_string()),
        "{accepts:?}"
    );
}

#[tokio::test]
async fn reload_keeps_loops_and_caches() {
    let t = TestTarget::start("a 1\n").await;
    let t2 = TestTarget::start("z 1\n").await;
    let a = Agent::start();
    a.set_targets("j", &[&t.addr]);
    a.set_targets("gone", &[&t2.addr]);
    a.manager.apply_config(vec![job("j"), job("gone")]).await;
    a.wait("scraped", |a| {
        a.values("up", &t.addr).len() >= 2 && !a.values("up", &t2.addr).is_empty()
    })
    .await;
    // Same config: nothing restarts. A changed header (not part of the target's labels): the
    // loop restarts under the new config with its cache.
    assert!(a
        .manager
        .apply_config(vec![job("j"), job("gone")])
        .await
        .is_empty());
    let mut changed = job("j");
    changed.http.headers.insert("x-test".into(), "2".into());
    a.manager.apply_config(vec![changed]).await;
    let n = a.values("up", &t.addr).len();
    a.wait("scrapes after reload", |a| {
        a.values("up", &t.addr).len() >= n + 2
    })
    .await;
    assert_eq!(t.requests().last().expect("requests")["x-test"], "2");
    // The cache survived: no series counted as new again, and `a` never went stale.
    let added = a.values("scrape_series_added", &t.addr);
    assert_eq!(
        added.iter().filter(|(_, v)| *v > 0.0).count(),
        1,
        "{added:?}"
    );
    assert!(a
        .values("a", &t.addr)
        .iter()
        .all(|(_, v)| !is_stale_nan(*v)));
    // The removed job's target got its markers.
    a.wait("removed job stale", |a| {
        a.values("z", &t2.addr)
            .iter()
            .any(|(_, v)| is_stale_nan(*v))
    })
    .await;
}

#[tokio::test]
async fn target_pages() {
    let t = TestTarget::start("a 1\n").await;
    let a = Agent::start();
    let mut j = job("j");
    j.relabel_configs = serde_json::from_str(
        r#"[{"source_labels":["__address__"],"regex":"drop.*","action":"drop"}]"#,
    )
    .expect("rules");
    a.set_targets("j", &[&t.addr, "drop.me:1"]);
    a.manager.apply_config(vec![j]).await;
    a.wait("scraped", |a| !a.values("up", &t.addr).is_empty())
        .await;
    let reloads = Arc::new(Mutex::new(0));
    let r2 = Arc::clone(&reloads);
    let app = pages::router(PagesState {
        manager: Arc::clone(&a.manager),
        reload: Arc::new(move || {
            *r2.lock() += 1;
            Box::pin(async { Err("bad config".to_string()) })
        }),
        external_host: "agent:9090".into(),
    });
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", l.local_addr().expect("addr"));
    let srv = tokio::spawn(async move {
        let _ = axum::serve(l, app).await;
    });
    strata_httpclient::install_crypto_provider();
    let c = reqwest::Client::new();
    let v: serde_json::Value = c
        .get(format!("{base}/api/v1/targets"))
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(v["status"], "success");
    let at = &v["data"]["activeTargets"][0];
    assert_eq!(at["health"], "up");
    assert_eq!(at["scrapePool"], "j");
    assert_eq!(at["labels"]["instance"], t.addr.as_str());
    assert_eq!(at["discoveredLabels"]["__address__"], t.addr.as_str());
    assert_eq!(at["scrapeUrl"], format!("http://{}/metrics", t.addr));
    assert_eq!(
        at["globalUrl"],
        format!(
            "http://agent:{}/metrics",
            t.addr.rsplit_once(':').expect("port").1
        )
    );
    assert_eq!(at["scrapeInterval"], "200ms");
    assert_eq!(at["lastError"], "");
    assert_eq!(
        v["data"]["droppedTargets"][0]["discoveredLabels"]["__address__"],
        "drop.me:1"
    );
    let v: serde_json::Value = c
        .get(format!("{base}/api/v1/targets?state=dropped"))
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(v["data"]["activeTargets"].as_array().map(Vec::len), Some(0));
    assert_eq!(
        v["data"]["droppedTargets"].as_array().map(Vec::len),
        Some(1)
    );
    let html = c
        .get(format!("{base}/targets"))
        .send()
        .await
        .expect("get")
        .text()
        .await
        .expect("text");
    assert!(
        html.contains("j (1/1 up)") && html.contains(&t.addr),
        "{html}"
    );
    let html = c
        .get(format!("{base}/service-discovery"))
        .send()
        .await
        .expect("get")
        .text()
        .await
        .expect("text");
    assert!(
        html.contains("Dropped") && html.contains("drop.me:1"),
        "{html}"
    );
    let r = c
        .post(format!("{base}/-/reload"))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 500);
    assert_eq!(
        r.text().await.expect("text"),
        "failed to reload config: bad config\n"
    );
    assert_eq!(*reloads.lock(), 1);
    srv.abort();
}

#[tokio::test]
async fn target_limit_fails_every_target_of_the_pool() {
    let t1 = TestTarget::start("a 1\n").await;
    let t2 = TestTarget::start("a 1\n").await;
    let a = Agent::start();
    let mut j = job("lim");
    j.target_limit = 1;
    a.set_targets("lim", &[&t1.addr, &t2.addr]);
    a.manager.apply_config(vec![j.clone()]).await;
    a.wait("both reported", |a| {
        !a.values("up", &t1.addr).is_empty() && !a.values("up", &t2.addr).is_empty()
    })
    .await;
    for t in [&t1, &t2] {
        assert_eq!(a.values("up", &t.addr)[0].1, 0.0);
        assert!(a.values("a", &t.addr).is_empty());
    }
    assert_eq!(
        err_of(&a, "lim"),
        "target_limit exceeded (number of targets: 2, limit: 1)"
    );
    // Within the limit again: scraping resumes.
    a.set_targets("lim", &[&t1.addr]);
    a.wait("scraped after the limit", |a| {
        !a.values("a", &t1.addr).is_empty()
    })
    .await;
}

#[tokio::test]
async fn connection_refused_reads_as_in_prometheus() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = l.local_addr().expect("addr").to_string();
    drop(l);
    let a = Agent::start();
    a.set_targets("dead", &[&addr]);
    a.manager.apply_config(vec![job("dead")]).await;
    a.wait("reported", |a| !a.values("up", &addr).is_empty())
        .await;
    assert_eq!(a.values("up", &addr)[0].1, 0.0);
    assert_eq!(
        err_of(&a, "dead"),
        format!("Get \"http://{addr}/metrics\": dial tcp {addr}: connect: connection refused")
    );
}
