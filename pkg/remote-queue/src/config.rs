//! Endpoint and queue configuration: what the agent's `remote_write` section becomes once
//! parsed (the config crate maps `RemoteWriteConfig` onto [`EndpointConfig`]).

use std::collections::BTreeMap;
use std::time::Duration;

use strata_model::Labels;
use strata_relabel::RelabelConfig;

/// The remote-write protocol version an endpoint speaks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// Remote write 1.0: `prometheus.WriteRequest`, version header `0.1.0`.
    #[default]
    V1,
    /// Remote write 2.0: `io.prometheus.write.v2.Request` (symbols, metadata per series),
    /// version header `2.0.0`.
    V2,
}

/// Sending parameters, Prometheus's `queue_config` (defaults of Prometheus 3.x).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct QueueParams {
    /// Samples buffered per shard before reading from the WAL pauses (`capacity`).
    pub capacity: usize,
    /// Shards at most.
    pub max_shards: usize,
    /// Shards at least (and at start).
    pub min_shards: usize,
    /// Samples per request at most.
    pub max_samples_per_send: usize,
    /// Kept for configuration parity: the queue sends what it has read at once rather
    /// than waiting for a batch to fill, so this only bounds nothing.
    pub batch_send_deadline: Duration,
    /// First retry delay.
    pub min_backoff: Duration,
    /// Longest retry delay (the delay doubles up to it).
    pub max_backoff: Duration,
    /// Retry on HTTP 429 (honouring `Retry-After`) instead of dropping the batch.
    pub retry_on_http_429: bool,
}

impl Default for QueueParams {
    fn default() -> Self {
        Self {
            capacity: 10_000,
            max_shards: 50,
            min_shards: 1,
            max_samples_per_send: 2_000,
            batch_send_deadline: Duration::from_secs(5),
            min_backoff: Duration::from_millis(30),
            max_backoff: Duration::from_secs(5),
            retry_on_http_429: true,
        }
    }
}

/// TLS settings of an endpoint (`tls_config`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct TlsConfig {
    /// CA bundle file.
    pub ca_file: Option<String>,
    /// Client certificate file.
    pub cert_file: Option<String>,
    /// Client key file.
    pub key_file: Option<String>,
    /// Server name to verify.
    pub server_name: Option<String>,
    /// Skip verification.
    pub insecure_skip_verify: bool,
}

impl TlsConfig {
    /// Tells whether any TLS option is set.
    pub fn is_set(&self) -> bool {
        *self != Self::default()
    }
}

/// One remote-write endpoint.
#[derive(Clone, Debug, PartialEq)]
pub struct EndpointConfig {
    /// The endpoint's name: its metrics' `remote_name` and its position directory. Empty
    /// means "derive one from the configuration" ([`EndpointConfig::effective_name`]).
    pub name: String,
    /// The URL requests are POSTed to.
    pub url: String,
    /// Extra request headers.
    pub headers: BTreeMap<String, String>,
    /// Basic auth user and password.
    pub basic_auth: Option<(String, String)>,
    /// Bearer token (`authorization` with type Bearer).
    pub bearer_token: Option<String>,
    /// TLS settings (only `http://` URLs are supported by this build; see the crate docs).
    pub tls: TlsConfig,
    /// Timeout of one request.
    pub remote_timeout: Duration,
    /// The protocol.
    pub protocol: Protocol,
    /// Sending parameters.
    pub queue: QueueParams,
    /// `write_relabel_configs`, applied after the external labels.
    pub write_relabel_configs: Vec<RelabelConfig>,
    /// `global.external_labels`: added to every series that lacks the label.
    pub external_labels: Labels,
    /// Bytes of WAL behind this endpoint's position at most; past it the oldest data is
    /// dropped for this endpoint. 0 = no cap.
    pub max_disk_bytes: u64,
    /// Age of the oldest data behind this endpoint's position at most; older data is
    /// dropped for this endpoint. Zero = no cap.
    pub max_age: Duration,
    /// Send exemplars.
    pub send_exemplars: bool,
    /// Send native histograms.
    pub send_native_histograms: bool,
}

impl Default for EndpointConfig {
    fn default() -> Self {
        Self {
            name: String::new(),
            url: String::new(),
            headers: BTreeMap::new(),
            basic_auth: None,
            bearer_token: None,
            tls: TlsConfig::default(),
            remote_timeout: Duration::from_secs(30),
            protocol: Protocol::V1,
            queue: QueueParams::default(),
            write_relabel_configs: Vec::new(),
            external_labels: Labels::empty(),
            max_disk_bytes: 0,
            max_age: Duration::ZERO,
            send_exemplars: false,
            send_native_histograms: false,
        }
    }
}

impl EndpointConfig {
    /// The configured name, or (as Prometheus) the first 6 hex digits of a hash of the
    /// configuration when none is set.
    pub fn effective_name(&self) -> String {
        if !self.name.is_empty() {
            return self.name.clone();
        }
        // FNV-1a over a canonical rendering: stable across builds, so a restart finds the
        // same position directory.
        let canonical = format!(
            "{}|{:?}|{:?}|{:?}|{}|{:?}",
            self.url,
            self.headers,
            self.protocol,
            self.queue,
            self.external_labels,
            self.write_relabel_configs
        );
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in canonical.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        format!("{:06x}", h & 0xff_ffff)
    }

    /// Checks what can be checked before sending.
    pub fn validate(&self) -> Result<(), crate::QueueError> {
        let err = |what: String| crate::QueueError::Config {
            name: self.effective_name(),
            what,
        };
        let url =
            reqwest::Url::parse(&self.url).map_err(|e| err(format!("url {}: {e}", self.url)))?;
        if url.scheme() != "http" {
            return Err(err(format!(
                "url scheme {} is not supported: this build sends over plain http only",
                url.scheme()
            )));
        }
        if self.tls.is_set() {
            return Err(err("tls_config is not supported by this build".into()));
        }
        if self.queue.min_shards == 0 || self.queue.max_shards < self.queue.min_shards {
            return Err(err(format!(
                "shards: need 1 <= min_shards ({}) <= max_shards ({})",
                self.queue.min_shards, self.queue.max_shards
            )));
        }
        if self.queue.max_samples_per_send == 0 {
            return Err(err("max_samples_per_send must be positive".into()));
        }
        let name = self.effective_name();
        if name.contains(['/', '\\']) || name == "." || name == ".." {
            return Err(err("name must not contain path separators".into()));
        }
        Ok(())
    }
}

/// Queue-wide options.
#[derive(Clone, Debug)]
pub struct QueueOptions {
    /// WAL segment size (a positive multiple of 32 KiB; the disk caps drop whole segments,
    /// so keep it well below `max_disk_bytes`). Default 32 MiB.
    pub segment_size: u64,
    /// fsync the WAL on every commit. Off by default, as Prometheus's agent: a commit is
    /// written to the page cache, which survives a killed process but not a power loss.
    pub fsync: bool,
    /// How often acknowledged positions are written to disk at most.
    pub position_sync_interval: Duration,
    /// How often segments every endpoint has passed are deleted (behind a checkpoint).
    pub truncate_interval: Duration,
    /// How often endpoints check their disk caps and wake up without new data.
    pub tick_interval: Duration,
    /// How often an endpoint recomputes its shard count.
    pub reshard_interval: Duration,
    /// How long `shutdown` lets endpoints finish sending what they read.
    pub flush_deadline: Duration,
    /// The metrics to update; unregistered ones when `None`.
    pub metrics: Option<std::sync::Arc<crate::QueueMetrics>>,
}

impl Default for QueueOptions {
    fn default() -> Self {
        Self {
            segment_size: 32 * 1024 * 1024,
            fsync: false,
            position_sync_interval: Duration::from_secs(1),
            truncate_interval: Duration::from_secs(60),
            tick_interval: Duration::from_secs(1),
            reshard_interval: Duration::from_secs(10),
            flush_deadline: Duration::from_secs(5),
            metrics: None,
        }
    }
}
