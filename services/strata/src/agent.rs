//! Target `agent`: the scraping agent (`strata-agent`) in this process. It reads a
//! `prometheus.yml` (`-agent.config-file`), keeps its remote-write queue in
//! `-agent.data-dir` (default `<data.dir>/agent`), scrapes its share of targets
//! (`-agent.shard=i/n`), reloads on SIGHUP and `POST /-/reload`, and serves `/targets`,
//! `/api/v1/targets` and `/service-discovery` on the HTTP server.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use prometheus_client::registry::Registry;
use strata_agent::{Agent, AgentOptions, Shard};
use tracing::{error, info};

use crate::config::Config;

/// Starts the agent and its SIGHUP reloader; returns it with its routes.
pub async fn start(
    cfg: &Config,
    registry: &mut Registry,
) -> anyhow::Result<(Arc<Agent>, axum::Router)> {
    let a = &cfg.agent;
    if a.config_file.is_empty() {
        anyhow::bail!("invalid config at agent.config_file: target agent needs -agent.config-file (a prometheus.yml)");
    }
    let shard = if a.shard.is_empty() {
        None
    } else {
        Some(
            Shard::parse(&a.shard)
                .map_err(|e| anyhow::anyhow!("invalid config at agent.shard: {e}"))?,
        )
    };
    let data_dir = if a.data_dir.is_empty() {
        PathBuf::from(&cfg.data_dir).join("agent")
    } else {
        PathBuf::from(&a.data_dir)
    };
    let host = std::fs::read_to_string("/etc/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".into());
    let opts = AgentOptions {
        config_file: PathBuf::from(&a.config_file),
        data_dir,
        shard,
        external_host: format!("{host}:{}", cfg.server.http_listen_port),
        max_disk_bytes_per_endpoint: a.max_disk_bytes_per_endpoint,
        max_age_per_endpoint: a.max_age_per_endpoint,
        sd: strata_agent::SdOptions::default(),
        queue: strata_agent::QueueOptions::default(),
    };
    let agent = Agent::start(opts, registry).await.context("start agent")?;
    spawn_sighup_reloader(Arc::clone(&agent));
    let router = agent.router();
    Ok((agent, router))
}

/// Reloads the agent's configuration on every SIGHUP, as Prometheus does.
fn spawn_sighup_reloader(agent: Arc<Agent>) {
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(mut hup) = signal(SignalKind::hangup()) else {
        error!("cannot install the SIGHUP handler; reload with POST /-/reload");
        return;
    };
    tokio::spawn(async move {
        while hup.recv().await.is_some() {
            info!(signal = "SIGHUP", "reloading agent configuration");
            // Errors are logged by the agent; the running configuration stays.
            let _ = agent.reload().await;
        }
    });
}
