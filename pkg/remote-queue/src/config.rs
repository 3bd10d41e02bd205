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

/// TLS settings of an endpoint (`tls_config`), for `https://` URLs.
pub use strata_httpclient::TlsConfig;

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
    /// TLS settings of `https://` URLs.
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
        if url.scheme() != "http" && url.scheme() != "https" {
            return Err(err(format!(
                "url scheme {} is not supported (http or https)",
                url.scheme()
            )));
        }
        strata_httpclient::rustls_config(&self.tls).map_err(|e| err(e.to_string()))?;
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
    /// How often segments every endpoint has passed are deleted (behind a checkpoint); after
    /// a disk cap dropped data, also as soon as every endpoint has passed it (checked every
    /// `tick_interval`).
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

/// The smallest segment [`QueueOptions::fit_segments_to_cap`] chooses: a record never
/// spans segments, and the largest ones the queue writes (4,096 samples, 64 KiB of series)
/// stay well below it.
pub const MIN_CAPPED_SEGMENT_SIZE: u64 = 1024 * 1024;

impl QueueOptions {
    /// Lowers `segment_size` so that a per-endpoint disk cap of `max_disk_bytes` drops data
    /// (and frees disk) in steps of about an eighth of the cap, since the caps drop whole
    /// segments: with the default 32 MiB segments a cap of a few MiB would drop all unsent
    /// data at once and leave it on disk until the segment filled. Never below
    /// [`MIN_CAPPED_SEGMENT_SIZE`], always a multiple of 32 KiB, never raised; 0 (no cap)
    /// changes nothing.
    pub fn fit_segments_to_cap(&mut self, max_disk_bytes: u64) {
        if max_disk_bytes == 0 {
            return;
        }
        const PAGE: u64 = 32 * 1024;
        let fit = (max_disk_bytes / 8 / PAGE * PAGE).max(MIN_CAPPED_SEGMENT_SIZE);
        self.segment_size = self.segment_size.min(fit);
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_fit_an_eighth_of_the_disk_cap_within_bounds() {
        let fit = |cap: u64| {
            let mut o = QueueOptions::default();
            o.fit_segments_to_cap(cap);
            o.segment_size
        };
        assert_eq!(fit(0), 32 * 1024 * 1024, "no cap: default kept");
        assert_eq!(fit(1024 * 1024 * 1024), 32 * 1024 * 1024, "never raised");
        assert_eq!(fit(64 * 1024 * 1024), 8 * 1024 * 1024);
        assert_eq!(fit(2 * 1024 * 1024), MIN_CAPPED_SEGMENT_SIZE, "floor");
        let odd = fit(100_000_000);
        assert_eq!(odd % (32 * 1024), 0);
        assert!(odd <= 100_000_000 / 8 && odd > 100_000_000 / 8 - 32 * 1024);
    }
}
