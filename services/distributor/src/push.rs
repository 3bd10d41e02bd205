//! The push handler: tenant → headers → body (capped) → snappy (capped) → protobuf →
//! (2.0 → 1.0) → validation → forwarding → one answer.
//!
//! Status precedence: an ingester failure (5xx, retryable) wins over rejected data (400),
//! since the client must resend; otherwise rejected series/samples give a 400 naming the
//! first errors (validation first, then the ingesters'), while the valid data is stored.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode};
use http_body_util::{BodyExt as _, LengthLimitError, Limited};
use strata_proto::ingester::SampleErrorKind;

use crate::decode::{self, RemoteWriteVersion};
use crate::error::PushError;
use crate::forward::ForwardOutcome;
use crate::validate::{self, DiscardReason, MAX_ERROR_MESSAGES};
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

    let raw = decode::decompress(&body, d.cfg.max_decompressed_size)?;
    drop(body);
    let mut req = match version {
        RemoteWriteVersion::V1 => decode::decode_v1(&raw)?,
        RemoteWriteVersion::V2 => {
            // From here on a 2.0 client gets the written-counts headers, even on errors.
            *version_out = Some(version);
            crate::rw2::convert(decode::decode_v2(&raw)?)?
        }
    };
    *version_out = Some(version);
    drop(raw);

    let report = validate::validate_request(&mut req, &d.cfg.limits, now_ms());
    for (reason, n) in &report.discarded {
        d.metrics.discard(tenant, *reason, *n);
    }

    let received: u64 = req
        .timeseries
        .iter()
        .map(|t| (t.samples.len() + t.histograms.len()) as u64)
        .sum();
    d.metrics.samples(tenant, received);

    let outcome = if req.timeseries.is_empty() && req.metadata.is_empty() {
        ForwardOutcome::default()
    } else {
        d.forwarder.push(tenant, req).await
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
        _ => DiscardReason::InvalidSample,
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis().min(i64::MAX as u128) as i64)
}
