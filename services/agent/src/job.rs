//! [`JobConfig`]: what the scrape side needs of one `scrape_config`, with defaults already
//! applied (the config crate fills it from `prometheus.yml`, tests build it directly).

use std::collections::BTreeMap;
use std::time::Duration;

use strata_exposition::ScrapeProtocol;
use strata_relabel::RelabelConfig;

/// How a job's HTTP client authenticates and connects.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HttpOptions {
    /// `basic_auth`: user name and password (a password file already read).
    pub basic_auth: Option<(String, String)>,
    /// `authorization`: type (default `Bearer`) and credentials (a file already read).
    pub authorization: Option<(String, String)>,
    /// `tls_config`, its files already read (so a changed file is a changed config).
    pub tls: strata_httpclient::TlsConfig,
    /// `follow_redirects` (default true).
    pub follow_redirects: bool,
    /// `enable_http2` (default true).
    pub enable_http2: bool,
    /// `proxy_url`, empty for none.
    pub proxy_url: String,
    /// Extra request headers (`http_headers`), first value of each.
    pub headers: BTreeMap<String, String>,
}

/// One scrape job's settings (a `scrape_config` with `global` defaults applied).
#[derive(Clone, Debug, PartialEq)]
pub struct JobConfig {
    /// `job_name`: the scrape pool's name and the default `job` label.
    pub job_name: String,
    /// `scrape_interval`.
    pub scrape_interval: Duration,
    /// `scrape_timeout` (at most the interval).
    pub scrape_timeout: Duration,
    /// `metrics_path` (default `/metrics`).
    pub metrics_path: String,
    /// `scheme` (default `http`).
    pub scheme: String,
    /// `params`: URL query parameters.
    pub params: BTreeMap<String, Vec<String>>,
    /// `honor_labels`.
    pub honor_labels: bool,
    /// `honor_timestamps` (default true).
    pub honor_timestamps: bool,
    /// Client settings.
    pub http: HttpOptions,
    /// `body_size_limit` in bytes; 0 is none.
    pub body_size_limit: u64,
    /// `sample_limit`; 0 is none.
    pub sample_limit: u64,
    /// `label_limit`; 0 is none.
    pub label_limit: u64,
    /// `label_name_length_limit`; 0 is none.
    pub label_name_length_limit: u64,
    /// `label_value_length_limit`; 0 is none.
    pub label_value_length_limit: u64,
    /// `target_limit`; 0 is none.
    pub target_limit: u64,
    /// `always_scrape_classic_histograms`: from the protobuf format, keep a native
    /// histogram's classic `_bucket`/`_sum`/`_count` series too.
    pub always_scrape_classic_histograms: bool,
    /// `scrape_protocols`, in order of preference.
    pub scrape_protocols: Vec<ScrapeProtocol>,
    /// `relabel_configs`, applied to discovered targets.
    pub relabel_configs: Vec<RelabelConfig>,
    /// `metric_relabel_configs`, applied to scraped series.
    pub metric_relabel_configs: Vec<RelabelConfig>,
}

impl JobConfig {
    /// A job with Prometheus's defaults (1m interval, 10s timeout, `/metrics`, `http`).
    pub fn new(job_name: impl Into<String>) -> Self {
        Self {
            job_name: job_name.into(),
            scrape_interval: Duration::from_secs(60),
            scrape_timeout: Duration::from_secs(10),
            metrics_path: "/metrics".into(),
            scheme: "http".into(),
            params: BTreeMap::new(),
            honor_labels: false,
            honor_timestamps: true,
            http: HttpOptions {
                follow_redirects: true,
                enable_http2: true,
                ..HttpOptions::default()
            },
            body_size_limit: 0,
            sample_limit: 0,
            label_limit: 0,
            label_name_length_limit: 0,
            label_value_length_limit: 0,
            target_limit: 0,
            always_scrape_classic_histograms: false,
            scrape_protocols: ScrapeProtocol::DEFAULT.to_vec(),
            relabel_configs: Vec::new(),
            metric_relabel_configs: Vec::new(),
        }
    }

    /// Tells whether a loop's series cache stays valid under `other` (Prometheus's
    /// `reusableCache`): only settings that change no series' labels may differ.
    pub fn cache_reusable_with(&self, other: &JobConfig) -> bool {
        self.honor_labels == other.honor_labels
            && self.metric_relabel_configs == other.metric_relabel_configs
            && self.relabel_configs == other.relabel_configs
            && self.label_limit == other.label_limit
            && self.label_name_length_limit == other.label_name_length_limit
            && self.label_value_length_limit == other.label_value_length_limit
            && self.always_scrape_classic_histograms == other.always_scrape_classic_histograms
            && self.job_name == other.job_name
    }
}
