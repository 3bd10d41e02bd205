//! The agent over TLS (`scheme: https`, `tls_config`), with certificates made by the
//! `openssl` CLI: node_exporter serving TLS (`--web.config.file`), one instance requiring a
//! client certificate, and Prometheus 2.42 receiving remote write over TLS. Shows that a
//! scrape trusting the CA file is up, one trusting an unrelated CA is down with the
//! certificate error on `/api/v1/targets`, `insecure_skip_verify` is up, a client certificate
//! passes a server requiring one (and its absence fails), and remote write to an `https`
//! endpoint with `ca_file` delivers: every `up` is read back from Prometheus over TLS.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use serde_json::Value;
use strata_httpclient::testing::Pki;
use strata_httpclient::TlsConfig;
use strata_tests::net::free_port;
use strata_tests::wait::wait_for;
use strata_tests::{Process, Strata};

fn bin(env: &str, default: &str) -> PathBuf {
    std::env::var_os(env).map_or_else(|| PathBuf::from(default), PathBuf::from)
}

/// Waits until `url` answers 200 through a client trusting `tls`.
async fn wait_https(process: &mut Process, tls: &TlsConfig, url: &str) -> anyhow::Result<()> {
    let http = strata_httpclient::builder(tls)?.build()?;
    wait_for(
        &format!("{} at {url}", process.name()),
        Duration::from_secs(30),
        || {
            let alive = process.check_running();
            let req = http.get(url).send();
            async move {
                alive?;
                let r = req.await?;
                Ok((r.status() == 200).then_some(()))
            }
        },
    )
    .await
}

/// Writes exporter-toolkit's web config: TLS with the server certificate, and with
/// `client_ca` a client certificate signed by the CA is required.
fn web_config(dir: &Path, pki: &Pki, client_ca: bool) -> anyhow::Result<PathBuf> {
    let mut yaml = format!(
        "tls_server_config:\n  cert_file: {}\n  key_file: {}\n",
        pki.server_cert.display(),
        pki.server_key.display()
    );
    if client_ca {
        yaml.push_str(&format!(
            "  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: {}\n",
            pki.ca_cert.display()
        ));
    }
    let path = dir.join("web.yml");
    std::fs::write(&path, yaml)?;
    Ok(path)
}

/// node_exporter over TLS on a free port; `127.0.0.1:<port>`.
async fn node_exporter(pki: &Pki, client_ca: bool) -> anyhow::Result<(Process, String)> {
    let port = free_port()?;
    let exe = bin("NODE_EXPORTER_BIN", "/usr/bin/prometheus-node-exporter");
    let mut p = Process::spawn("node_exporter_tls", &exe, |dir| {
        Ok(vec![
            format!("--web.listen-address=127.0.0.1:{port}"),
            format!(
                "--web.config.file={}",
                web_config(dir, pki, client_ca)?.display()
            ),
            "--collector.disable-defaults".into(),
            "--collector.loadavg".into(),
        ])
    })?;
    let client = TlsConfig {
        ca_file: pki.ca_cert.display().to_string(),
        cert_file: pki.client_cert.display().to_string(),
        key_file: pki.client_key.display().to_string(),
        ..TlsConfig::default()
    };
    let url = format!("https://127.0.0.1:{port}/metrics");
    wait_https(&mut p, &client, &url).await?;
    Ok((p, format!("127.0.0.1:{port}")))
}

/// Prometheus receiving remote write over TLS; its port.
async fn prometheus_tls(pki: &Pki) -> anyhow::Result<(Process, u16)> {
    let port = free_port()?;
    let exe = bin("PROMETHEUS_BIN", "/usr/bin/prometheus");
    let mut p = Process::spawn("prometheus_tls", &exe, |dir| {
        let cfg = dir.join("prometheus.yml");
        std::fs::write(&cfg, "global:\n  scrape_interval: 1m\n")?;
        Ok(vec![
            format!("--config.file={}", cfg.display()),
            format!("--storage.tsdb.path={}", dir.join("data").display()),
            format!("--web.listen-address=127.0.0.1:{port}"),
            format!(
                "--web.config.file={}",
                web_config(dir, pki, false)?.display()
            ),
            "--web.enable-remote-write-receiver".into(),
        ])
    })?;
    let tls = TlsConfig {
        ca_file: pki.ca_cert.display().to_string(),
        ..TlsConfig::default()
    };
    wait_https(&mut p, &tls, &format!("https://127.0.0.1:{port}/-/ready")).await?;
    Ok((p, port))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_scrapes_and_remote_writes_over_tls() {
    strata_tests::e2e(body()).await;
}

async fn body() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let pki = Pki::generate(dir.path())?;
    let (_plain_tls, server) = node_exporter(&pki, false).await?;
    let (_mtls, mtls_server) = node_exporter(&pki, true).await?;
    let (_prom, prom_port) = prometheus_tls(&pki).await?;

    let ca = pki.ca_cert.display();
    let job = |name: &str, target: &str, tls: &str| {
        format!(
            "  - job_name: {name}\n    scheme: https\n    tls_config: {{ {tls} }}\n    \
             static_configs: [{{ targets: ['{target}'] }}]\n"
        )
    };
    let client = format!(
        "ca_file: {ca}, cert_file: {}, key_file: {}",
        pki.client_cert.display(),
        pki.client_key.display()
    );
    let cfg = dir.path().join("prometheus.yml");
    std::fs::write(
        &cfg,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n{}{}{}{}{}\
             remote_write:\n  - url: https://127.0.0.1:{prom_port}/api/v1/write\n    \
             tls_config: {{ ca_file: {ca} }}\n    queue_config: {{ batch_send_deadline: 100ms }}\n",
            job("ca", &server, &format!("ca_file: {ca}")),
            job(
                "wrong-ca",
                &server,
                &format!("ca_file: {}", pki.other_ca_cert.display())
            ),
            job("insecure", &server, "insecure_skip_verify: true"),
            job("client-cert", &mtls_server, &client),
            job("no-client-cert", &mtls_server, &format!("ca_file: {ca}")),
        ),
    )?;
    let agent = Strata::start_with_args(&[
        "-target=agent",
        &format!("-agent.config-file={}", cfg.display()),
    ])
    .await
    .context("start the agent")?;

    // Every target's health and last error, as the agent's API shows them.
    let targets = wait_for("five scraped targets", Duration::from_secs(30), || async {
        let v = agent.get("/api/v1/targets").await?.json()?;
        let Some(active) = v["data"]["activeTargets"].as_array() else {
            return Ok(None);
        };
        let seen: Vec<(String, String, String)> = active
            .iter()
            .map(|t| {
                let s = |k: &str| t[k].as_str().unwrap_or_default().to_string();
                (s("scrapePool"), s("health"), s("lastError"))
            })
            .collect();
        Ok((seen.len() == 5 && seen.iter().all(|t| t.1 != "unknown")).then_some(seen))
    })
    .await?;
    let health = |pool: &str| {
        targets
            .iter()
            .find(|t| t.0 == pool)
            .cloned()
            .unwrap_or_default()
    };
    for pool in ["ca", "insecure", "client-cert"] {
        let (_, h, err) = health(pool);
        assert_eq!((h.as_str(), err.as_str()), ("up", ""), "{pool}");
    }
    let (_, h, err) = health("wrong-ca");
    assert_eq!(h, "down");
    assert!(
        err.starts_with(&format!("Get \"https://{server}/metrics\": "))
            && err.contains("invalid peer certificate: UnknownIssuer"),
        "wrong CA: {err}"
    );
    let (_, h, err) = health("no-client-cert");
    assert_eq!(h, "down", "a server requiring a client certificate: {err}");

    // Remote write over TLS: Prometheus has every job's `up`, read back over TLS.
    let prom = strata_httpclient::builder(&TlsConfig {
        ca_file: ca.to_string(),
        ..TlsConfig::default()
    })?
    .build()?;
    let url = format!("https://127.0.0.1:{prom_port}/api/v1/query");
    let ups = wait_for(
        "up of five jobs in Prometheus",
        Duration::from_secs(30),
        || {
            let req = prom.get(&url).query(&[("query", "up")]).send();
            async move {
                let v: Value = req.await?.json().await?;
                let Some(r) = v["data"]["result"].as_array() else {
                    return Ok(None);
                };
                let mut ups: Vec<(String, String)> = r
                    .iter()
                    .map(|s| {
                        let job = s["metric"]["job"].as_str().unwrap_or_default().to_string();
                        (job, s["value"][1].as_str().unwrap_or_default().to_string())
                    })
                    .collect();
                ups.sort();
                Ok((ups.len() == 5).then_some(ups))
            }
        },
    )
    .await?;
    let want: Vec<(String, String)> = [
        ("ca", "1"),
        ("client-cert", "1"),
        ("insecure", "1"),
        ("no-client-cert", "0"),
        ("wrong-ca", "0"),
    ]
    .iter()
    .map(|(j, v)| (j.to_string(), v.to_string()))
    .collect();
    assert_eq!(ups, want);
    Ok(())
}
