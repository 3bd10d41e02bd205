//! The push handler: tenant → headers → body (capped) → snappy (capped) → protobuf →
//! (2.0 → 1.0) → validation → forwarding → one answer.
//!
//! Status precedence: an ingester failure (5xx, retryable) wins over rejected data (400),
//! since the client must resend; otherwise rejected series/samples give a 400 naming the
//! first errors (validation first, then the ingesters'), while the valid data is stored.

use std::sync::atomic::Ordering;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode};
use http_body_util::{BodyExt as _, LengthLimitError, Limited};
use strata_proto::ingester::SampleErrorKind;

use crate::decode::{self, RemoteWriteVersion};
use crate::error::PushError;
use crate::forward::ForwardOutcome;
use crate::ha::HaDecision;
use crate::limits::EffectiveLimits;
use crate::validate::{self, DiscardReason, ValidationReport, MAX_ERROR_MESSAGES};
use crate::Distributor;

/// Response header: float samples stored (remote write 2.0).
pub const SAMPLES_WRITTEN: &str = "X-Prometheus-Remote-Write-Samples-Written";
/// Response header: native histogram samples stored (remote write 2.0).
pub const HISTOGRAMS_WRITTEN: &str = "X-Prometheus-Remote-Write-Histograms-Written";
/// Response header: exemplars stored (remote write 2.0).
pub const EXEMPLARS_WRITTEN: &str = "X-Prometheus-Remote-Write-Exemplars-Written";

/// Counts written, reported to 2.0 clients.
#[derive(Clone, Copy, Debug, Default)]
struct Written {
    samples: u64,
    histograms: u64,
    exemplars: u64,
}

/// Runs a push end to end and builds the HTTP answer.
pub(crate) async fn handle(d: &Distributor, headers: &HeaderMap, body: Body) -> Response {
    let mut version = None;
    let mut written = Written::default();
    let result = push(d, headers, body, &mut version, &mut written).await;
    let mut resp = match result {
        Ok(()) => match version {
            Some(RemoteWriteVersion::V2) => StatusCode::NO_CONTENT.into_response(),
            _ => StatusCode::OK.into_response(),
        },
        Err(e) => error_response(&e),
    };
    if version == Some(RemoteWriteVersion::V2) {
        let h = resp.headers_mut();
        h.insert(SAMPLES_WRITTEN, HeaderValue::from(written.samples));
        h.insert(HISTOGRAMS_WRITTEN, HeaderValue::from(written.histograms));
        h.insert(EXEMPLARS_WRITTEN, HeaderValue::from(written.exemplars));
    }
    resp
}

fn error_response(e: &PushError) -> Response {
    let status = e.status();
    if status.is_server_error() {
        tracing::warn!(%status, error = %e, "push failed");
    } else {
        tracing::debug!(%status, error = %e, "push rejected");
    }
    (
        status,
        [(http::header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        e.to_string(),
    )
        .into_response()
}

async fn push(
    d: &Distributor,
    headers: &HeaderMap,
    body: Body,
    version_out: &mut Option<RemoteWriteVersion>,
    written: &mut Written,
) -> Result<(), PushError> {
    let tenant = strata_auth::tenant_from_headers(headers, d.multitenancy_enabled)?;
    let tenant = tenant.as_str();
    let version = decode::negotiate(headers)?;

    let limit = d.cfg.max_recv_msg_size;
    let declared = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(PushError::BodyTooLarge { limit });
    }
    let body = match Limited::new(body, limit).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => {
            return Err(PushError::BodyTooLarge { limit })
        }
        Err(e) => return Err(PushError::ReadBody(e.to_string())),
    };
    d.metrics.request(tenant, body.len() as u64);

    let limits = d.overrides.get(tenant);
    let raw = decode::decompress(&body, d.cfg.max_decompressed_size)?;
    drop(body);
    // The fast path: float-only 1.0 requests to an in-process ingester are decoded
    // borrowing their labels and handed over without a copy. Anything else, and anything
    // the walker does not decode, takes the general path (prost, gRPC).
    let flat = match version {
        RemoteWriteVersion::V1 if d.forwarder.is_local() => {
            strata_proto::flat::decode_write_request(&raw).ok()
        }
        _ => None,
    };
    let (report, outcome) = match flat {
        Some(mut req) => {
            *version_out = Some(version);
            let ha = req
                .series
                .first()
                .and_then(|s| ha_labels(&limits, req.series_labels(s).iter().copied()));
            if let Some((cluster, replica)) = ha {
                ha_check(d, tenant, cluster, replica, req.num_samples() as u64).await?;
                crate::ha::strip_label_flat(&mut req, &limits.limits.ha_replica_label);
            }
            let report = validate::validate_flat_request(&mut req, &limits.validation, now_ms());
            account_validation(d, tenant, &report, req.num_samples() as u64);
            rate_limit(d, tenant, &limits, req.num_samples() as u64)?;
            let outcome = if req.series.is_empty() {
                ForwardOutcome::default()
            } else {
                d.forwarder.push_flat(tenant, &req).await
            };
            (report, outcome)
        }
        None => {
            let mut req = match version {
                RemoteWriteVersion::V1 => decode::decode_v1(&raw)?,
                RemoteWriteVersion::V2 => {
                    // From here on a 2.0 client gets the written-counts headers, even on
                    // errors.
                    *version_out = Some(version);
                    crate::rw2::convert(decode::decode_v2(&raw)?)?
                }
            };
            *version_out = Some(version);
            drop(raw);
            let ha = req.timeseries.first().and_then(|t| {
                ha_labels(
                    &limits,
                    t.labels.iter().map(|l| (l.name.as_str(), l.value.as_str())),
                )
                .map(|(c, r)| (c.to_string(), r.to_string()))
            });
            if let Some((cluster, replica)) = ha {
                let n = req
                    .timeseries
                    .iter()
                    .map(|t| (t.samples.len() + t.histograms.len()) as u64)
                    .sum();
                ha_check(d, tenant, &cluster, &replica, n).await?;
                let name = limits.limits.ha_replica_label.as_str();
                for t in &mut req.timeseries {
                    t.labels.retain(|l| l.name != name);
                }
            }
            let report = validate::validate_request(&mut req, &limits.validation, now_ms());
            let received: u64 = req
                .timeseries
                .iter()
                .map(|t| (t.samples.len() + t.histograms.len()) as u64)
                .sum();
            account_validation(d, tenant, &report, received);
            let items = received
                + req
                    .timeseries
                    .iter()
                    .map(|t| t.exemplars.len() as u64)
                    .sum::<u64>()
                + req.metadata.len() as u64;
            rate_limit(d, tenant, &limits, items)?;
            let outcome = if req.timeseries.is_empty() && req.metadata.is_empty() {
                ForwardOutcome::default()
            } else {
                d.forwarder.push(tenant, req).await
            };
            (report, outcome)
        }
    };
    written.samples = outcome.samples_appended;
    written.histograms = outcome.histograms_appended;
    written.exemplars = outcome.exemplars_appended;
    account_ingester_rejections(d, tenant, &outcome);

    if let Some(failure) = outcome
        .failures
        .iter()
        .max_by_key(|e| e.status().as_u16())
        .cloned()
    {
        return Err(failure);
    }

    let mut messages: Vec<String> = report.messages;
    let mut total = report.rejected as u64;
    messages.extend(
        outcome
            .sample_errors
            .iter()
            .take(MAX_ERROR_MESSAGES)
            .map(|e| e.message.clone()),
    );
    total += outcome
        .samples_rejected
        .max(outcome.sample_errors.len() as u64);
    if messages.is_empty() {
        if total > 0 {
            return Err(PushError::BadData(format!(
                "ingesters rejected {total} samples without naming an error"
            )));
        }
        return Ok(());
    }
    let shown = messages.len() as u64;
    let mut text = messages.join("\n");
    if total > shown {
        text.push_str(&format!("\n(and {} more errors)", total - shown));
    }
    Err(PushError::BadData(text))
}

/// The HA cluster and replica of a request (from its first series, as Mimir does), when the
/// tenant accepts HA samples and the tracker is on.
fn ha_labels<'a>(
    limits: &EffectiveLimits,
    labels: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Option<(&'a str, &'a str)> {
    let l = &limits.limits;
    if !l.accept_ha_samples {
        return None;
    }
    crate::ha::find_ha_labels(labels, &l.ha_cluster_label, &l.ha_replica_label)
}

/// Asks the HA tracker (when on) whether `replica` may write; a non-elected replica's push
/// is dropped with 202 and its `samples` counted as deduplicated.
async fn ha_check(
    d: &Distributor,
    tenant: &str,
    cluster: &str,
    replica: &str,
    samples: u64,
) -> Result<(), PushError> {
    let Some(tracker) = d.ha.get() else {
        return Ok(());
    };
    match tracker.check(tenant, cluster, replica).await {
        Ok(HaDecision::Accept) => Ok(()),
        Ok(HaDecision::Reject { elected }) => {
            d.metrics.deduped(tenant, cluster, samples);
            Err(PushError::HaDeduplicated {
                replica: replica.to_string(),
                elected,
            })
        }
        Err(e) => Err(PushError::HaTracker(e)),
    }
}

/// Takes `items` (samples, exemplars, metadata) from the tenant's bucket, this
/// distributor's share of the global rate and burst; 429 when it does not hold them.
fn rate_limit(
    d: &Distributor,
    tenant: &str,
    limits: &EffectiveLimits,
    items: u64,
) -> Result<(), PushError> {
    let l = &limits.limits;
    let n = d.instances.load(Ordering::Relaxed).max(1) as f64;
    let (rate, burst) = (l.ingestion_rate / n, l.ingestion_burst_size as f64 / n);
    if d.rate.allow(tenant, items, rate, burst, Instant::now()) {
        return Ok(());
    }
    d.metrics.discard(tenant, DiscardReason::RateLimited, items);
    Err(PushError::RateLimited {
        rate: l.ingestion_rate,
        burst: l.ingestion_burst_size,
    })
}

/// Counts what validation discarded and the samples it kept (`received`).
fn account_validation(d: &Distributor, tenant: &str, report: &ValidationReport, received: u64) {
    for (reason, n) in &report.discarded {
        d.metrics.discard(tenant, *reason, *n);
    }
    d.metrics.samples(tenant, received);
}

/// Counts ingester-refused samples: each named error under its kind, the unnamed remainder
/// under the kind of the first named one (the ingester reports only the first few).
fn account_ingester_rejections(d: &Distributor, tenant: &str, outcome: &ForwardOutcome) {
    for e in &outcome.sample_errors {
        d.metrics.discard(tenant, reason_of(e.kind), 1);
    }
    let rest = outcome
        .samples_rejected
        .saturating_sub(outcome.sample_errors.len() as u64);
    let reason = outcome
        .sample_errors
        .first()
        .map_or(DiscardReason::InvalidSample, |e| reason_of(e.kind));
    d.metrics.discard(tenant, reason, rest);
}

fn reason_of(kind: i32) -> DiscardReason {
    match SampleErrorKind::try_from(kind) {
        Ok(SampleErrorKind::OutOfOrder) => DiscardReason::SampleOutOfOrder,
        Ok(SampleErrorKind::DuplicateTimestamp) => DiscardReason::SampleDuplicateTimestamp,
        Ok(SampleErrorKind::TooOld) => DiscardReason::SampleTooOld,
        Ok(SampleErrorKind::Unsupported) => DiscardReason::Unsupported,
        Ok(SampleErrorKind::PerUserSeriesLimit) => DiscardReason::PerUserSeriesLimit,
        Ok(SampleErrorKind::PerMetricSeriesLimit) => DiscardReason::PerMetricSeriesLimit,
        _ => DiscardReason::InvalidSample,
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis().min(i64::MAX as u128) as i64)
}
