//! Real peers from Debian's packages: Prometheus (2.42 on Debian 12), node_exporter and the
//! blackbox exporter. Binaries come from `$PROMETHEUS_BIN` / `$NODE_EXPORTER_BIN` /
//! `$BLACKBOX_EXPORTER_BIN`, else `/usr/bin`.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;

use crate::api::{Auth, PromApi};
use crate::net::free_port;
use crate::process::Process;
use crate::wait::wait_until;

/// How long a peer may take to become ready.
pub const PEER_READY_TIMEOUT: Duration = Duration::from_secs(30);

fn binary(env: &str, default: &str, package: &str) -> anyhow::Result<PathBuf> {
    let path = std::env::var_os(env).map_or_else(|| PathBuf::from(default), PathBuf::from);
    if !path.is_file() {
        anyhow::bail!(
            "{} not found: install Debian's `{package}` package (or set {env})",
            path.display()
        );
    }
    Ok(path)
}

async fn wait_http_ok(process: &mut Process, url: &str) -> anyhow::Result<()> {
    crate::install_tls();
    let http = reqwest::Client::new();
    let what = format!("{} at {url}", process.name());
    let res = wait_until(&what, PEER_READY_TIMEOUT, || {
        let alive = process.check_running();
        let http = http.clone();
        let url = url.to_string();
        async move {
            alive?;
            let resp = http.get(&url).send().await?;
            let ok = resp.status().as_u16() == 200;
            // Read the body so the server does not log a broken pipe.
            resp.bytes().await?;
            Ok(ok)
        }
    })
    .await;
    res.map_err(|e| {
        anyhow::anyhow!(
            "{e:#}\n{} log tail:\n{}",
            process.name(),
            process.log_tail()
        )
    })
}

/// A running Prometheus with its own TSDB dir.
pub struct Prometheus {
    /// The child process; `prometheus.yml` and `data/` are in its dir.
    pub process: Process,
    /// The web port.
    pub port: u16,
}

impl Prometheus {
    /// Allocates a port for a Prometheus started later with [`Prometheus::start_on`], for
    /// configs that must name Prometheus's own address (self-scrape).
    pub fn reserve_port() -> anyhow::Result<u16> {
        free_port()
    }

    /// Starts Prometheus with `config_yaml` on a free port and waits for `/-/ready`.
    pub async fn start(config_yaml: &str) -> anyhow::Result<Self> {
        Self::start_on(free_port()?, config_yaml).await
    }

    /// Starts Prometheus on `port` (see [`Prometheus::reserve_port`]).
    pub async fn start_on(port: u16, config_yaml: &str) -> anyhow::Result<Self> {
        Self::start_on_with_flags(port, config_yaml, &[]).await
    }

    /// Like [`Prometheus::start_on`], with extra command-line flags.
    pub async fn start_on_with_flags(
        port: u16,
        config_yaml: &str,
        flags: &[&str],
    ) -> anyhow::Result<Self> {
        let bin = binary("PROMETHEUS_BIN", "/usr/bin/prometheus", "prometheus")?;
        let mut process = Process::spawn("prometheus", &bin, |dir| {
            let cfg = dir.join("prometheus.yml");
            std::fs::write(&cfg, config_yaml).context("write prometheus.yml")?;
            let data = dir.join("data");
            let mut args = vec![
                format!("--config.file={}", cfg.display()),
                format!("--storage.tsdb.path={}", data.display()),
                format!("--web.listen-address=127.0.0.1:{port}"),
                "--web.enable-lifecycle".to_string(),
                "--log.level=info".to_string(),
            ];
            args.extend(flags.iter().map(|f| f.to_string()));
            Ok(args)
        })?;
        wait_http_ok(&mut process, &format!("http://127.0.0.1:{port}/-/ready")).await?;
        Ok(Self { process, port })
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Its query API (`/api/v1`).
    pub fn api(&self) -> PromApi {
        PromApi::new(format!("{}/api/v1", self.url()), Auth::None)
    }

    /// The value of one of Prometheus's own metrics, read from its `/metrics` page: the sum
    /// over all series of `name` (absent: `None`).
    pub async fn self_metric(&self, name: &str) -> anyhow::Result<Option<f64>> {
        let body = reqwest::get(format!("{}/metrics", self.url()))
            .await?
            .text()
            .await?;
        Ok(sum_metric(&body, name))
    }
}

/// Sums the samples of `name` in a text exposition page.
pub fn sum_metric(page: &str, name: &str) -> Option<f64> {
    let mut found = None;
    for line in page.lines() {
        let Some(rest) = line.strip_prefix(name) else {
            continue;
        };
        if !(rest.starts_with('{') || rest.starts_with(' ')) {
            continue;
        }
        let value = rest.rsplit(' ').next()?;
        let v = crate::api::parse_value(value).ok()?;
        *found.get_or_insert(0.0) += v;
    }
    found
}

/// A running node_exporter: by default with only the collectors the tests query (cpu,
/// loadavg, meminfo, netdev): fast scrapes and few series.
pub struct NodeExporter {
    /// The child process.
    pub process: Process,
    /// The web port.
    pub port: u16,
}

impl NodeExporter {
    /// Starts node_exporter on a free port and waits for `/metrics`.
    pub async fn start() -> anyhow::Result<Self> {
        Self::start_with(&[
            "--collector.disable-defaults",
            "--collector.cpu",
            "--collector.loadavg",
            "--collector.meminfo",
            "--collector.netdev",
        ])
        .await
    }

    /// Starts node_exporter with its default collectors (hundreds of series, info metrics
    /// with empty and quoted label values), as users run it.
    pub async fn start_default_collectors() -> anyhow::Result<Self> {
        Self::start_with(&[]).await
    }

    async fn start_with(flags: &[&str]) -> anyhow::Result<Self> {
        let bin = binary(
            "NODE_EXPORTER_BIN",
            "/usr/bin/prometheus-node-exporter",
            "prometheus-node-exporter",
        )?;
        let port = free_port()?;
        let mut process = Process::spawn("node_exporter", &bin, |_| {
            let mut args = vec![format!("--web.listen-address=127.0.0.1:{port}")];
            args.extend(flags.iter().map(|f| f.to_string()));
            Ok(args)
        })?;
        wait_http_ok(&mut process, &format!("http://127.0.0.1:{port}/metrics")).await?;
        Ok(Self { process, port })
    }

    /// `127.0.0.1:<port>`, as a scrape target.
    pub fn target(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

/// The blackbox exporter's config: one `http_2xx` module, as Prometheus users name it
/// (IPv4 first, so a `127.0.0.1` URL never waits on an IPv6 attempt).
pub const BLACKBOX_CONFIG: &str = "modules:\n  http_2xx:\n    prober: http\n    timeout: 5s\n    http:\n      preferred_ip_protocol: ip4\n";

/// A running blackbox exporter with its own `blackbox.yml` ([`BLACKBOX_CONFIG`]); probes are
/// asked for at `/probe?module=http_2xx&target=<url>`.
pub struct BlackboxExporter {
    /// The child process; `blackbox.yml` is in its dir.
    pub process: Process,
    /// The web port.
    pub port: u16,
}

impl BlackboxExporter {
    /// Starts the blackbox exporter on a free port and waits for `/metrics`.
    pub async fn start() -> anyhow::Result<Self> {
        let bin = binary(
            "BLACKBOX_EXPORTER_BIN",
            "/usr/bin/prometheus-blackbox-exporter",
            "prometheus-blackbox-exporter",
        )?;
        let port = free_port()?;
        let mut process = Process::spawn("blackbox_exporter", &bin, |dir| {
            let cfg = dir.join("blackbox.yml");
            std::fs::write(&cfg, BLACKBOX_CONFIG).context("write blackbox.yml")?;
            Ok(vec![
                format!("--config.file={}", cfg.display()),
                format!("--web.listen-address=127.0.0.1:{port}"),
            ])
        })?;
        wait_http_ok(&mut process, &format!("http://127.0.0.1:{port}/metrics")).await?;
        Ok(Self { process, port })
    }

    /// `127.0.0.1:<port>`, the address probe jobs relabel `__address__` to.
    pub fn target(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_a_metric_from_an_exposition_page() {
        let page = "# HELP x y\nfoo_total{a=\"1\"} 2\nfoo_total{a=\"2\"} 3.5\nfoo_total_other 9\nfoo 1e3\n";
        assert_eq!(sum_metric(page, "foo_total"), Some(5.5));
        assert_eq!(sum_metric(page, "foo"), Some(1000.0));
        assert_eq!(sum_metric(page, "bar"), None);
    }
}
