//! `http_sd_configs`: a GET of `url` every `refresh_interval`, answered with 200,
//! `Content-Type: application/json` and a JSON list of static configs.
//!
//! Groups get source `<url>:<index>` and the label `__meta_url`. A failed refresh (transport
//! error, other status, other content type, bad body) keeps the last good groups and counts
//! `prometheus_sd_http_failures_total`.

use std::time::Duration;

use strata_promconfig::sd::HttpSdConfig;
use tracing::error;

use crate::error::DiscoveryError;
use crate::http_client::HttpClient;
use crate::metrics::SdMetrics;
use crate::provider::{GroupSink, ProviderContext};
use crate::target_group::{parse_static_groups, GroupFormat, TargetGroup};

/// The label naming the URL a target came from.
pub const URL_LABEL: &str = "__meta_url";

/// One HTTP SD provider.
#[derive(Debug)]
pub struct HttpDiscovery {
    url: reqwest::Url,
    raw_url: String,
    client: HttpClient,
    refresh_interval: Duration,
    metrics: SdMetrics,
    last_count: usize,
}

impl HttpDiscovery {
    /// Checks the URL and builds the client.
    pub fn new(cfg: &HttpSdConfig, ctx: &ProviderContext) -> Result<Self, DiscoveryError> {
        let url = HttpClient::check_url(&cfg.url, "http")?;
        let client = HttpClient::new(&cfg.http, Some(ctx.options.request_timeout), "http")?;
        Ok(Self {
            url,
            raw_url: cfg.url.clone(),
            client,
            refresh_interval: cfg.refresh_interval,
            metrics: ctx.metrics.clone(),
            last_count: 0,
        })
    }

    /// Refreshes now and every `refresh_interval` until aborted.
    pub async fn run(mut self, sink: GroupSink) {
        let mut tick = tokio::time::interval(self.refresh_interval.max(Duration::from_millis(10)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match self.fetch().await {
                Ok(mut groups) => {
                    let n = groups.len();
                    for i in n..self.last_count {
                        groups.push(TargetGroup::empty(format!("{}:{i}", self.raw_url)));
                    }
                    self.last_count = n;
                    sink.send(groups);
                }
                Err(err) => {
                    self.metrics.http_failures.inc();
                    self.metrics.refresh_failed("http");
                    error!(url = %self.raw_url, err = %err, "http service discovery refresh failed");
                }
            }
        }
    }

    /// One request: the groups of the answer, or why it is not usable.
    pub async fn fetch(&self) -> Result<Vec<TargetGroup>, DiscoveryError> {
        let resp = self
            .client
            .get(self.url.clone())?
            .header("Accept", "application/json")
            .header(
                "X-Prometheus-Refresh-Interval-Seconds",
                self.refresh_interval.as_secs_f64().to_string(),
            )
            .send()
            .await
            .map_err(|e| DiscoveryError::http(&self.raw_url, format!("{e:#}")))?;
        if resp.status() != reqwest::StatusCode::OK {
            return Err(DiscoveryError::http(
                &self.raw_url,
                format!("server returned HTTP status {}", resp.status()),
            ));
        }
        let ct = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        if !is_json_content_type(&ct) {
            return Err(DiscoveryError::http(
                &self.raw_url,
                format!("unsupported content type {ct:?}"),
            ));
        }
        let body = resp
            .bytes()
            .await
            .map_err(|e| DiscoveryError::http(&self.raw_url, format!("read body: {e}")))?;
        let mut groups = parse_static_groups(&body, GroupFormat::Json)?;
        for (i, g) in groups.iter_mut().enumerate() {
            g.source = format!("{}:{i}", self.raw_url);
            g.labels.insert(URL_LABEL.to_string(), self.raw_url.clone());
        }
        Ok(groups)
    }
}

/// Prometheus accepts `^application/json(;.*)?$`.
fn is_json_content_type(ct: &str) -> bool {
    ct == "application/json" || ct.starts_with("application/json;")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // in tests a failed unwrap is a failed test
mod tests {
    #[test]
    fn content_type_check_is_prometheus_regex() {
        assert!(super::is_json_content_type("application/json"));
        assert!(super::is_json_content_type(
            "application/json; charset=utf-8"
        ));
        assert!(!super::is_json_content_type("application/jsonx"));
        assert!(!super::is_json_content_type("text/plain"));
    }
}
