//! Starting the `strata` binary (`-target=all`) for a test.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use strata_proto::prometheus::{ReadRequest, WriteRequest};

use crate::api::{Auth, PromApi, RawReply};
use crate::net::free_port;
use crate::process::Process;
use crate::remote_read::{self, ReadReply};
use crate::wait::wait_until;
use crate::write::{push_raw, RawPush};

/// How long Strata may take to answer `/ready`.
pub const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// A running Strata, all components in one process, on free loopback ports.
pub struct Strata {
    /// The child process (log in its dir).
    pub process: Process,
    /// The HTTP port.
    pub http_port: u16,
    /// The gRPC port.
    pub grpc_port: u16,
    http: reqwest::Client,
}

impl Strata {
    /// The binary: `$STRATA_BIN`, else `<workspace>/target/debug/strata`.
    pub fn binary() -> anyhow::Result<PathBuf> {
        let path = match std::env::var_os("STRATA_BIN") {
            Some(p) => PathBuf::from(p),
            None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/debug/strata"),
        };
        if !path.is_file() {
            anyhow::bail!(
                "strata binary not found at {}: run `cargo build --bin strata` first (or set STRATA_BIN)",
                path.display()
            );
        }
        Ok(path)
    }

    /// Starts Strata with its own data dir and waits until `/ready` answers 200.
    pub async fn start() -> anyhow::Result<Self> {
        Self::start_with_args(&[]).await
    }

    /// Like [`Strata::start`], with extra `-flag=value` arguments appended.
    pub async fn start_with_args(extra: &[&str]) -> anyhow::Result<Self> {
        let bin = Self::binary()?;
        let http_port = free_port()?;
        let grpc_port = free_port()?;
        let process = Process::spawn("strata", &bin, |dir| {
            let data = dir.join("data");
            std::fs::create_dir_all(&data).context("create data dir")?;
            let mut args = vec![
                "-server.http-listen-address=127.0.0.1".to_string(),
                format!("-server.http-listen-port={http_port}"),
                "-server.grpc-listen-address=127.0.0.1".to_string(),
                format!("-server.grpc-listen-port={grpc_port}"),
                format!("-data.dir={}", data.display()),
                "-log.level=info".to_string(),
            ];
            args.extend(extra.iter().map(|s| s.to_string()));
            Ok(args)
        })?;
        let mut s = Self {
            process,
            http_port,
            grpc_port,
            http: reqwest::Client::new(),
        };
        s.wait_ready().await?;
        Ok(s)
    }

    /// Starts one process of a cluster named `name`: HTTP and gRPC on 127.0.0.1 at the given
    /// ports (fixed, so a restart keeps its address) and exactly `args` besides; `data_dir`
    /// lives outside the process' temp dir, so a restart finds its WAL and ring state. Waits
    /// for `/ready`.
    pub async fn start_node(
        name: &str,
        http_port: u16,
        grpc_port: u16,
        data_dir: &std::path::Path,
        args: &[String],
    ) -> anyhow::Result<Self> {
        let bin = Self::binary()?;
        std::fs::create_dir_all(data_dir).context("create data dir")?;
        let data = data_dir.to_path_buf();
        let process = Process::spawn(name, &bin, |_| {
            let mut all = vec![
                "-server.http-listen-address=127.0.0.1".to_string(),
                format!("-server.http-listen-port={http_port}"),
                "-server.grpc-listen-address=127.0.0.1".to_string(),
                format!("-server.grpc-listen-port={grpc_port}"),
                format!("-data.dir={}", data.display()),
                "-log.level=info".to_string(),
            ];
            all.extend(args.iter().cloned());
            Ok(all)
        })?;
        let mut s = Self {
            process,
            http_port,
            grpc_port,
            http: reqwest::Client::new(),
        };
        s.wait_ready().await?;
        Ok(s)
    }

    /// Kills the process with SIGKILL (no graceful shutdown) and waits for it.
    pub fn kill(&mut self) -> anyhow::Result<()> {
        let pid = self.process.pid().context("process already stopped")?;
        let ok = std::process::Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        anyhow::ensure!(ok, "kill -KILL {pid} failed");
        self.process.stop(std::time::Duration::from_secs(5))?;
        Ok(())
    }

    async fn wait_ready(&mut self) -> anyhow::Result<()> {
        let url = self.url("/ready");
        let http = self.http.clone();
        let proc_ = &mut self.process;
        let res = wait_until("strata /ready", READY_TIMEOUT, || {
            let alive = proc_.check_running();
            let http = http.clone();
            let url = url.clone();
            async move {
                alive?;
                let r = http.get(&url).send().await?;
                Ok(r.status().as_u16() == 200)
            }
        })
        .await;
        res.map_err(|e| anyhow::anyhow!("{e:#}\nstrata log tail:\n{}", self.process.log_tail()))
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.http_port, path)
    }

    /// The remote write endpoint.
    pub fn push_url(&self) -> String {
        self.url("/api/v1/push")
    }

    /// The remote read endpoint.
    pub fn read_url(&self) -> String {
        self.url("/prometheus/api/v1/read")
    }

    /// The Prometheus query API under `auth`.
    pub fn api(&self, auth: Auth) -> PromApi {
        PromApi::new(self.url("/prometheus/api/v1"), auth)
    }

    /// Pushes `req` (remote write 1.0) as `auth`.
    pub async fn push(&self, auth: &Auth, req: &WriteRequest) -> anyhow::Result<RawReply> {
        push_raw(&self.http, &self.push_url(), auth, RawPush::of(req)).await
    }

    /// Pushes a hand-made body as `auth`.
    pub async fn push_raw(&self, auth: &Auth, push: RawPush) -> anyhow::Result<RawReply> {
        push_raw(&self.http, &self.push_url(), auth, push).await
    }

    /// Sends a remote read request as `auth`.
    pub async fn remote_read(&self, auth: &Auth, req: &ReadRequest) -> anyhow::Result<ReadReply> {
        remote_read::post(&self.http, &self.read_url(), auth, req).await
    }

    /// `GET <path>` without tenant, raw.
    pub async fn get(&self, path: &str) -> anyhow::Result<RawReply> {
        let url = self.url(path);
        let resp = self
            .http
            .get(&url)
            .send()
            .await
            .with_context(|| format!("GET {url}"))?;
        RawReply::read(resp)
            .await
            .with_context(|| format!("GET {url}"))
    }
}
