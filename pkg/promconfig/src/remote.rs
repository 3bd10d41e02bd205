//! `remote_write` and `remote_read`, with Prometheus's defaults and checks.

use crate::http::HttpClientConfig;
use crate::yaml::Obj;
use crate::ConfigError;
use std::collections::BTreeMap;
use std::time::Duration;
use strata_relabel::RelabelConfig;

/// Remote write protocol 1.0's message name (`protobuf_message` default).
pub const RW1_MESSAGE: &str = "prometheus.WriteRequest";
/// Remote write protocol 2.0's message name.
pub const RW2_MESSAGE: &str = "io.prometheus.write.v2.Request";

/// Which remote write protocol an endpoint speaks (`protobuf_message`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ProtobufMessage {
    /// `prometheus.WriteRequest` (remote write 1.0), the default.
    #[default]
    V1,
    /// `io.prometheus.write.v2.Request` (remote write 2.0, with metadata per series).
    V2,
}

/// `remote_write[].queue_config`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueueConfig {
    /// `capacity`: samples buffered per shard, default 10000.
    pub capacity: u64,
    /// `max_shards`, default 50.
    pub max_shards: u64,
    /// `min_shards`, default 1.
    pub min_shards: u64,
    /// `max_samples_per_send`, default 2000.
    pub max_samples_per_send: u64,
    /// `batch_send_deadline`, default 5s.
    pub batch_send_deadline: Duration,
    /// `min_backoff`, default 30ms.
    pub min_backoff: Duration,
    /// `max_backoff`, default 5s.
    pub max_backoff: Duration,
    /// `retry_on_http_429`, default false.
    pub retry_on_http_429: bool,
    /// `sample_age_limit` (0 = none): older samples are dropped instead of sent.
    pub sample_age_limit: Duration,
}

impl Default for QueueConfig {
    /// Prometheus's `DefaultQueueConfig`.
    fn default() -> Self {
        Self {
            capacity: 10_000,
            max_shards: 50,
            min_shards: 1,
            max_samples_per_send: 2000,
            batch_send_deadline: Duration::from_secs(5),
            min_backoff: Duration::from_millis(30),
            max_backoff: Duration::from_secs(5),
            retry_on_http_429: false,
            sample_age_limit: Duration::ZERO,
        }
    }
}

/// `remote_write[].metadata_config`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetadataConfig {
    /// `send`, default true.
    pub send: bool,
    /// `send_interval`, default 1m.
    pub send_interval: Duration,
    /// `max_samples_per_send`, default 2000.
    pub max_samples_per_send: u64,
}

impl Default for MetadataConfig {
    fn default() -> Self {
        Self {
            send: true,
            send_interval: Duration::from_secs(60),
            max_samples_per_send: 2000,
        }
    }
}

/// One `remote_write` entry.
#[derive(Clone, Debug, PartialEq)]
pub struct RemoteWriteConfig {
    /// `url`.
    pub url: String,
    /// `name` (unique when set; empty names are allowed).
    pub name: String,
    /// `remote_timeout`, default 30s.
    pub remote_timeout: Duration,
    /// `headers` sent with every request.
    pub headers: BTreeMap<String, String>,
    /// The HTTP client settings (inline); `enable_http2` defaults to false here, as in
    /// Prometheus 3.
    pub http: HttpClientConfig,
    /// `write_relabel_configs`.
    pub write_relabel_configs: Vec<RelabelConfig>,
    /// `protobuf_message`.
    pub protobuf_message: ProtobufMessage,
    /// `send_exemplars`, default false.
    pub send_exemplars: bool,
    /// `send_native_histograms`, default false.
    pub send_native_histograms: bool,
    /// `round_robin_dns`, default false.
    pub round_robin_dns: bool,
    /// `queue_config`.
    pub queue_config: QueueConfig,
    /// `metadata_config`.
    pub metadata_config: MetadataConfig,
    /// Cloud auth blocks Prometheus knows (`sigv4`, `azuread`, `google_iam`), kept as
    /// written; the agent does not use them.
    pub cloud_auth: BTreeMap<String, serde_yaml::Value>,
}

/// One `remote_read` entry (not used by the agent).
#[derive(Clone, Debug, PartialEq)]
pub struct RemoteReadConfig {
    /// `url`.
    pub url: String,
    /// `name`.
    pub name: String,
    /// `remote_timeout`, default 1m.
    pub remote_timeout: Duration,
    /// `chunked_read_limit` in bytes, default 50 MB.
    pub chunked_read_limit: u64,
    /// `headers`.
    pub headers: BTreeMap<String, String>,
    /// `read_recent`, default false.
    pub read_recent: bool,
    /// `required_matchers`.
    pub required_matchers: BTreeMap<String, String>,
    /// `filter_external_labels`, default true.
    pub filter_external_labels: bool,
    /// The HTTP client settings (inline).
    pub http: HttpClientConfig,
}

const RESERVED_HEADERS: [&str; 16] = [
    "host",
    "content-encoding",
    "content-length",
    "content-type",
    "user-agent",
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "www-authenticate",
    "accept-encoding",
    "x-prometheus-remote-write-version",
    "x-prometheus-remote-read-version",
    "x-amz-date",
    "x-amz-security-token",
    "x-amz-content-sha256",
];

fn check_headers(path: &str, headers: &BTreeMap<String, String>) -> Result<(), ConfigError> {
    for name in headers.keys() {
        let lower = name.to_lowercase();
        if lower == "authorization" {
            return Err(ConfigError::invalid(
                path,
                "authorization header must be changed via the basic_auth, authorization, oauth2, sigv4, or azuread parameter",
            ));
        }
        if RESERVED_HEADERS.contains(&lower.as_str()) {
            return Err(ConfigError::invalid(
                path,
                format!("{name} is a reserved header. It must not be changed"),
            ));
        }
    }
    Ok(())
}

fn check_url(path: &str, url: &str, what: &str) -> Result<(), ConfigError> {
    if url.is_empty() {
        return Err(ConfigError::invalid(
            path,
            format!("url for {what} is empty"),
        ));
    }
    Ok(())
}

impl RemoteWriteConfig {
    pub(crate) fn parse(mut o: Obj) -> Result<Self, ConfigError> {
        let path = o.path().to_string();
        let msg_path = o.at("protobuf_message");
        let protobuf_message = match o.str("protobuf_message")?.as_deref() {
            None | Some(RW1_MESSAGE) => ProtobufMessage::V1,
            Some(RW2_MESSAGE) => ProtobufMessage::V2,
            Some(other) => {
                return Err(ConfigError::invalid(
                    &msg_path,
                    format!("invalid protobuf_message value: unknown remote write protobuf message {other}, supported: {RW1_MESSAGE}, {RW2_MESSAGE}"),
                ))
            }
        };
        let queue_config = match o.obj("queue_config", "config.QueueConfig")? {
            None => QueueConfig::default(),
            Some(mut q) => {
                let d = QueueConfig::default();
                let qc = QueueConfig {
                    capacity: q.u64("capacity")?.unwrap_or(d.capacity),
                    max_shards: q.u64("max_shards")?.unwrap_or(d.max_shards),
                    min_shards: q.u64("min_shards")?.unwrap_or(d.min_shards),
                    max_samples_per_send: q
                        .u64("max_samples_per_send")?
                        .unwrap_or(d.max_samples_per_send),
                    batch_send_deadline: q
                        .duration_or("batch_send_deadline", d.batch_send_deadline)?,
                    min_backoff: q.duration_or("min_backoff", d.min_backoff)?,
                    max_backoff: q.duration_or("max_backoff", d.max_backoff)?,
                    retry_on_http_429: q.bool_or("retry_on_http_429", d.retry_on_http_429)?,
                    sample_age_limit: q.duration_or("sample_age_limit", d.sample_age_limit)?,
                };
                q.finish()?;
                qc
            }
        };
        let metadata_config = match o.obj("metadata_config", "config.MetadataConfig")? {
            None => MetadataConfig::default(),
            Some(mut m) => {
                let d = MetadataConfig::default();
                let mc = MetadataConfig {
                    send: m.bool_or("send", d.send)?,
                    send_interval: m.duration_or("send_interval", d.send_interval)?,
                    max_samples_per_send: m
                        .u64("max_samples_per_send")?
                        .unwrap_or(d.max_samples_per_send),
                };
                m.finish()?;
                mc
            }
        };
        // Prometheus 3 turns HTTP/2 off for remote write unless asked (2.x had it on).
        let http2_set = o.has("enable_http2");
        let mut cloud_auth = BTreeMap::new();
        for k in ["sigv4", "azuread", "google_iam"] {
            if let Some(v) = o.take(k) {
                cloud_auth.insert(k.to_string(), v);
            }
        }
        let c = RemoteWriteConfig {
            url: o.str_or("url", "")?,
            name: o.str_or("name", "")?,
            remote_timeout: o.duration_or("remote_timeout", Duration::from_secs(30))?,
            headers: o.str_map("headers")?,
            write_relabel_configs: o.relabel_configs(
                "write_relabel_configs",
                "empty or null relabeling rule in remote write config",
            )?,
            protobuf_message,
            send_exemplars: o.bool_or("send_exemplars", false)?,
            send_native_histograms: o.bool_or("send_native_histograms", false)?,
            round_robin_dns: o.bool_or("round_robin_dns", false)?,
            queue_config,
            metadata_config,
            http: HttpClientConfig::parse(&mut o)?,
            cloud_auth,
        };
        o.finish()?;
        let mut c = c;
        if !http2_set {
            c.http.enable_http2 = false;
        }
        check_url(&path, &c.url, "remote_write")?;
        check_headers(&path, &c.headers)?;
        let http_auth = c.http.basic_auth.is_some()
            || c.http.authorization.is_some()
            || c.http.oauth2.is_some();
        if c.cloud_auth.len() > 1 || (http_auth && !c.cloud_auth.is_empty()) {
            return Err(ConfigError::invalid(
                &path,
                "at most one of basic_auth, authorization, oauth2, sigv4, azuread or google_iam must be configured",
            ));
        }
        Ok(c)
    }
}

impl RemoteReadConfig {
    pub(crate) fn parse(mut o: Obj) -> Result<Self, ConfigError> {
        let path = o.path().to_string();
        let c = RemoteReadConfig {
            url: o.str_or("url", "")?,
            name: o.str_or("name", "")?,
            remote_timeout: o.duration_or("remote_timeout", Duration::from_secs(60))?,
            chunked_read_limit: o.u64("chunked_read_limit")?.unwrap_or(50_000_000),
            headers: o.str_map("headers")?,
            read_recent: o.bool_or("read_recent", false)?,
            required_matchers: o.str_map("required_matchers")?,
            filter_external_labels: o.bool_or("filter_external_labels", true)?,
            http: HttpClientConfig::parse(&mut o)?,
        };
        o.finish()?;
        check_url(&path, &c.url, "remote_read")?;
        check_headers(&path, &c.headers)?;
        Ok(c)
    }
}
