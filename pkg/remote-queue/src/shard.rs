//! One shard of an endpoint: takes batches in order, builds a request, sends it, retries
//! recoverable failures (5xx, 429 when allowed, network errors) with exponential backoff
//! between `min_backoff` and `max_backoff` (or `Retry-After`) forever, drops the rest, and
//! acknowledges every batch to the endpoint. A series always goes to the same shard and a
//! shard sends one request at a time, so each series' samples arrive in order.
//!
//! A batch whose generation is older than the endpoint's current one (bumped when a disk
//! cap drops data, and to `u64::MAX` on shutdown) is abandoned, even mid-retry.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::{HeaderName, HeaderValue, CONTENT_ENCODING, CONTENT_TYPE, USER_AGENT};
use strata_tsdb::MetricMetadata;
use tokio::sync::{mpsc, watch};

use crate::config::EndpointConfig;
use crate::endpoint::EndpointShared;
use crate::metrics::{EndpointLabels, QueueMetrics};
use crate::request::{content_headers, encode, Item};

/// What a shard is given to send.
#[derive(Debug)]
pub(crate) struct ShardBatch {
    pub chunk: u64,
    pub gen: u64,
    pub items: Vec<Item>,
    pub metadata: Vec<MetricMetadata>,
}

/// How a batch ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Accepted by the receiver.
    Sent,
    /// Refused for good (4xx other than a retried 429, or unencodable).
    Dropped,
    /// Abandoned because its generation ended.
    Cancelled,
}

/// A shard's report on one batch.
#[derive(Debug)]
pub(crate) struct Ack {
    pub chunk: u64,
    pub gen: u64,
    pub outcome: Outcome,
    pub samples: u64,
    pub max_t: Option<i64>,
    /// Time spent in successful requests.
    pub send_time: Duration,
}

/// What every shard of an endpoint shares.
pub(crate) struct Sender {
    pub client: reqwest::Client,
    pub cfg: Arc<EndpointConfig>,
    pub shared: Arc<EndpointShared>,
    pub metrics: Arc<QueueMetrics>,
    pub labels: EndpointLabels,
}

/// The result of one attempt.
enum Attempt {
    Ok,
    Retry(String, Option<Duration>),
    Fail(String),
}

impl Sender {
    async fn attempt(&self, body: &[u8]) -> Attempt {
        let (ct, version) = content_headers(self.cfg.protocol);
        let mut req = self
            .client
            .post(&self.cfg.url)
            .timeout(self.cfg.remote_timeout)
            .header(CONTENT_ENCODING, "snappy")
            .header(CONTENT_TYPE, ct)
            .header("X-Prometheus-Remote-Write-Version", version)
            .header(
                USER_AGENT,
                concat!("Strata-Agent/", env!("CARGO_PKG_VERSION")),
            );
        for (k, v) in &self.cfg.headers {
            match (
                HeaderName::from_bytes(k.as_bytes()),
                HeaderValue::from_str(v),
            ) {
                (Ok(k), Ok(v)) => req = req.header(k, v),
                _ => tracing::warn!(header = %k, "remote queue: invalid header skipped"),
            }
        }
        if let Some((u, p)) = &self.cfg.basic_auth {
            req = req.basic_auth(u, Some(p));
        }
        if let Some(t) = &self.cfg.bearer_token {
            req = req.bearer_auth(t);
        }
        let resp = match req.body(body.to_vec()).send().await {
            Ok(r) => r,
            Err(e) => return Attempt::Retry(format!("send: {e}"), None),
        };
        let status = resp.status();
        if status.is_success() {
            return Attempt::Ok;
        }
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let text = resp.text().await.unwrap_or_default();
        let msg = format!("server returned HTTP status {status}: {}", text.trim());
        let code = status.as_u16();
        if status.is_server_error() || (code == 429 && self.cfg.queue.retry_on_http_429) {
            Attempt::Retry(msg, retry_after)
        } else {
            Attempt::Fail(msg)
        }
    }

    fn set_error(&self, e: &str) {
        *self.shared.last_error.lock() = Some(e.to_string());
    }

    /// Sends one batch until it is sent, dropped or cancelled.
    async fn send(&self, b: &ShardBatch, cancel: &mut watch::Receiver<u64>) -> (Outcome, Duration) {
        let samples = b.items.iter().filter(|i| i.is_sample()).count() as u64;
        let body = match encode(self.cfg.protocol, &b.items, &b.metadata) {
            Ok(body) => body,
            Err(e) => {
                self.set_error(&format!("encode: {e}"));
                self.metrics
                    .samples_failed
                    .get_or_create(&self.labels)
                    .inc_by(samples);
                return (Outcome::Dropped, Duration::ZERO);
            }
        };
        let mut backoff = self.cfg.queue.min_backoff;
        loop {
            if *cancel.borrow() > b.gen {
                return (Outcome::Cancelled, Duration::ZERO);
            }
            let start = Instant::now();
            let attempt = tokio::select! {
                a = self.attempt(&body) => a,
                _ = wait_cancel(cancel, b.gen) => return (Outcome::Cancelled, Duration::ZERO),
            };
            self.metrics
                .bytes
                .get_or_create(&self.labels)
                .inc_by(body.len() as u64);
            match attempt {
                Attempt::Ok => return (Outcome::Sent, start.elapsed()),
                Attempt::Fail(e) => {
                    tracing::error!(endpoint = %self.labels.remote_name, samples, err = %e, "remote queue: non-recoverable error, dropping batch");
                    self.set_error(&e);
                    self.metrics
                        .samples_failed
                        .get_or_create(&self.labels)
                        .inc_by(samples);
                    return (Outcome::Dropped, Duration::ZERO);
                }
                Attempt::Retry(e, after) => {
                    tracing::warn!(endpoint = %self.labels.remote_name, samples, err = %e, "remote queue: recoverable error, retrying");
                    self.set_error(&e);
                    self.metrics
                        .samples_retried
                        .get_or_create(&self.labels)
                        .inc_by(samples);
                    self.shared
                        .retries
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let wait = after.unwrap_or(backoff);
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = wait_cancel(cancel, b.gen) => return (Outcome::Cancelled, Duration::ZERO),
                    }
                    backoff = (backoff * 2).min(self.cfg.queue.max_backoff);
                }
            }
        }
    }
}

/// Resolves once the generation passes `gen` (or the endpoint is gone).
async fn wait_cancel(cancel: &mut watch::Receiver<u64>, gen: u64) {
    let _ = cancel.wait_for(|g| *g > gen).await;
}

/// Runs one shard until its channel closes.
pub(crate) async fn run(
    sender: Arc<Sender>,
    mut rx: mpsc::UnboundedReceiver<ShardBatch>,
    acks: mpsc::UnboundedSender<Ack>,
    mut cancel: watch::Receiver<u64>,
) {
    while let Some(b) = rx.recv().await {
        let (outcome, send_time) = sender.send(&b, &mut cancel).await;
        let samples = b.items.iter().filter(|i| i.is_sample()).count() as u64;
        let max_t = b.items.iter().filter(|i| i.is_sample()).map(Item::t).max();
        if outcome == Outcome::Sent {
            sender
                .metrics
                .samples
                .get_or_create(&sender.labels)
                .inc_by(samples);
        }
        let ack = Ack {
            chunk: b.chunk,
            gen: b.gen,
            outcome,
            samples,
            max_t,
            send_time,
        };
        if acks.send(ack).is_err() {
            return;
        }
    }
}
