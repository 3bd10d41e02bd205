//! The scraping agent end to end: `strata -target=all` stores, `strata -target=agent` scrapes
//! a served exposition from a real `prometheus.yml` and remote-writes it; the series, their
//! target labels, the report series and the agent's `/api/v1/targets` are checked.

use std::time::Duration;

use anyhow::Context as _;
use strata_tests::api::{Auth, QueryData};
use strata_tests::wait::wait_for;
use strata_tests::{now_ms, Strata};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

const EXPOSITION: &str = "# HELP e2e_requests_total Requests served.\n\
# TYPE e2e_requests_total counter\n\
e2e_requests_total{code=\"200\"} 42\n\
e2e_requests_total{code=\"500\"} 3\n\
# TYPE e2e_temperature gauge\n\
e2e_temperature 21.5\n";

/// Serves `EXPOSITION` on 127.0.0.1 at every path, one HTTP/1.1 answer per connection.
async fn serve_exposition() -> anyhow::Result<(String, tokio::task::JoinHandle<()>)> {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = l.local_addr()?.to_string();
    let task = tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 1024];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let resp = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{EXPOSITION}",
                    EXPOSITION.len()
                );
                let _ = s.write_all(resp.as_bytes()).await;
                let _ = s.shutdown().await;
            });
        }
    });
    Ok((addr, task))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_scrapes_and_remote_writes_into_strata() {
    strata_tests::e2e(agent_body()).await;
}

async fn agent_body() -> anyhow::Result<()> {
    let strata = Strata::start().await?;
    let (target, server) = serve_exposition().await?;
    let dir = tempfile::tempdir()?;
    let cfg = dir.path().join("prometheus.yml");
    std::fs::write(
        &cfg,
        format!(
            "global:\n  scrape_interval: 1s\n  external_labels: {{ agent: a1 }}\n\
             rule_files: []\n\
             scrape_configs:\n  - job_name: e2e\n    static_configs:\n      - targets: ['{target}']\n        labels: {{ team: core }}\n\
             remote_write:\n  - url: http://127.0.0.1:{}/api/v1/push\n    headers: {{ X-Scope-OrgID: agent-tenant }}\n    queue_config: {{ batch_send_deadline: 100ms }}\n",
            strata.http_port
        ),
    )?;
    let agent = Strata::start_with_args(&[
        "-target=agent",
        &format!("-agent.config-file={}", cfg.display()),
    ])
    .await
    .context("start the agent")?;
    let api = strata.api(Auth::org("agent-tenant"));

    let got = wait_for("scraped series in strata", Duration::from_secs(30), || {
        let api = api.clone();
        async move {
            match api.query("e2e_requests_total", now_ms()).await? {
                QueryData::Vector(v) if v.len() == 2 => Ok(Some(v)),
                _ => Ok(None),
            }
        }
    })
    .await?;
    for s in &got {
        let code = s.labels.get("code").map(String::as_str);
        let want = if code == Some("200") { 42.0 } else { 3.0 };
        assert_eq!(s.point.v, want, "{s:?}");
        assert_eq!(s.labels.get("job").map(String::as_str), Some("e2e"));
        assert_eq!(s.labels.get("instance"), Some(&target));
        assert_eq!(s.labels.get("team").map(String::as_str), Some("core"));
        assert_eq!(
            s.labels.get("agent").map(String::as_str),
            Some("a1"),
            "external label"
        );
    }
    for (q, want) in [
        ("e2e_temperature", 21.5),
        ("up{job=\"e2e\"}", 1.0),
        ("scrape_samples_scraped{job=\"e2e\"}", 3.0),
        ("scrape_samples_post_metric_relabeling{job=\"e2e\"}", 3.0),
    ] {
        let v = wait_for(q, Duration::from_secs(20), || {
            let api = api.clone();
            async move {
                match api.query(q, now_ms()).await? {
                    QueryData::Vector(v) if v.len() == 1 => Ok(Some(v[0].point.v)),
                    _ => Ok(None),
                }
            }
        })
        .await?;
        assert_eq!(v, want, "{q}");
    }
    // The agent's own target page, as Prometheus's API.
    let r = agent.get("/api/v1/targets").await?;
    let v = r.json()?;
    let t = &v["data"]["activeTargets"][0];
    assert_eq!(t["scrapePool"], "e2e");
    assert_eq!(t["health"], "up", "{v}");
    assert_eq!(t["scrapeUrl"], format!("http://{target}/metrics"));

    // A second job by reload: the new job's series arrive; a broken file is refused (500)
    // and the running configuration stays.
    let text = std::fs::read_to_string(&cfg)?;
    let two_jobs = text.replace(
        "remote_write:",
        &format!("  - job_name: second\n    static_configs:\n      - targets: ['{target}']\nremote_write:"),
    );
    std::fs::write(&cfg, &two_jobs)?;
    let http = reqwest::Client::new();
    let r = http.post(agent.url("/-/reload")).send().await?;
    assert_eq!(r.status(), 200, "{}", r.text().await?);
    let n = wait_for("second job's series", Duration::from_secs(20), || {
        let api = api.clone();
        async move {
            match api
                .query("e2e_temperature{job=\"second\"}", now_ms())
                .await?
            {
                QueryData::Vector(v) if v.len() == 1 => Ok(Some(v[0].point.v)),
                _ => Ok(None),
            }
        }
    })
    .await?;
    assert_eq!(n, 21.5);
    std::fs::write(&cfg, "scrape_configs:\n  - job_name: [broken\n")?;
    let r = http.post(agent.url("/-/reload")).send().await?;
    assert_eq!(r.status(), 500);
    let v = agent.get("/api/v1/targets").await?.json()?;
    let pools: Vec<&str> = v["data"]["activeTargets"]
        .as_array()
        .context("activeTargets")?
        .iter()
        .filter_map(|t| t["scrapePool"].as_str())
        .collect();
    assert_eq!(pools, ["e2e", "second"]);
    // SIGHUP reloads too: only the second job remains.
    std::fs::write(
        &cfg,
        two_jobs.replace("job_name: e2e\n", "job_name: third\n"),
    )?;
    let pid = agent.process.pid().context("agent pid")?;
    let ok = std::process::Command::new("kill")
        .args(["-HUP", &pid.to_string()])
        .status()?;
    assert!(ok.success());
    wait_for("reload by SIGHUP", Duration::from_secs(20), || {
        let agent = &agent;
        async move {
            let v = agent.get("/api/v1/targets").await?.json()?;
            let pools: Vec<String> = v["data"]["activeTargets"]
                .as_array()
                .context("activeTargets")?
                .iter()
                .filter_map(|t| t["scrapePool"].as_str().map(str::to_string))
                .collect();
            Ok((pools == ["second", "third"]).then_some(()))
        }
    })
    .await?;
    // The agent's metrics are on the process' /metrics.
    let m = agent.get("/metrics").await?;
    let body = m.body;
    assert!(body.contains("prometheus_target_scrape_pools 2"), "{body}");
    assert!(
        body.contains("prometheus_config_last_reload_successful 1"),
        "{body}"
    );
    server.abort();
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sharded_agents_split_targets() {
    strata_tests::e2e(sharded_body()).await;
}

/// Two agents with `-agent.shard=0/2` and `1/2` over six targets: each target is scraped by
/// exactly one of them, and together they scrape all.
async fn sharded_body() -> anyhow::Result<()> {
    let strata = Strata::start().await?;
    let mut servers = Vec::new();
    for _ in 0..6 {
        servers.push(serve_exposition().await?);
    }
    let targets: Vec<String> = servers.iter().map(|(a, _)| format!("'{a}'")).collect();
    let dir = tempfile::tempdir()?;
    let cfg = dir.path().join("prometheus.yml");
    std::fs::write(
        &cfg,
        format!(
            "global:\n  scrape_interval: 1s\n\
             scrape_configs:\n  - job_name: sharded\n    static_configs:\n      - targets: [{}]\n\
             remote_write:\n  - url: http://127.0.0.1:{}/api/v1/push\n    headers: {{ X-Scope-OrgID: shards }}\n",
            targets.join(", "),
            strata.http_port
        ),
    )?;
    let mut agents = Vec::new();
    for i in 0..2 {
        agents.push(
            Strata::start_with_args(&[
                "-target=agent",
                &format!("-agent.config-file={}", cfg.display()),
                &format!("-agent.shard={i}/2"),
            ])
            .await?,
        );
    }
    let mut owned: Vec<String> = Vec::new();
    for a in &agents {
        let v = a.get("/api/v1/targets").await?.json()?;
        let active = v["data"]["activeTargets"].as_array().context("active")?;
        let dropped = v["data"]["droppedTargets"].as_array().context("dropped")?;
        assert_eq!(active.len() + dropped.len(), 6, "{v}");
        owned.extend(
            active
                .iter()
                .filter_map(|t| t["labels"]["instance"].as_str().map(str::to_string)),
        );
    }
    // Each target is active on exactly one agent.
    owned.sort();
    let mut all: Vec<String> = servers.iter().map(|(a, _)| a.clone()).collect();
    all.sort();
    assert_eq!(owned, all);
    let api = strata.api(Auth::org("shards"));
    wait_for("every target up once", Duration::from_secs(30), || {
        let api = api.clone();
        async move {
            match api
                .query("count(up{job=\"sharded\"} == 1)", now_ms())
                .await?
            {
                QueryData::Vector(v) if v.len() == 1 && v[0].point.v == 6.0 => Ok(Some(())),
                _ => Ok(None),
            }
        }
    })
    .await?;
    for (_, t) in servers {
        t.abort();
    }
    Ok(())
}
