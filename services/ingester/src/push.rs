//! The push path: wire series → head appender → a response naming the first refused samples.

use strata_model::{Sample, TenantId};
use strata_proto::ingester::{PushRequest, PushResponse, SampleError, SampleErrorKind};
use strata_tsdb::{Db, SampleRejectKind};

use crate::convert;
use crate::error::IngesterError;
use crate::limits::{check_new_series, SeriesLimits};
use crate::metrics::IngesterMetrics;

/// How many refused samples a push response names.
pub const MAX_REPORTED_ERRORS: usize = 10;

/// A refused sample to report, keyed by its place in the request.
struct Reported {
    /// (series index in the request, sample position within the series: floats, then
    /// histograms, then exemplars).
    key: (usize, usize),
    kind: SampleErrorKind,
    message: String,
}

/// A series staged in the appender: where its samples start in staging order. Labels for
/// messages come from the head series, so nothing is copied per series.
struct Staged {
    start: usize,
    ts: usize,
}

/// Refused counts by reason.
#[derive(Default)]
struct Refused {
    out_of_order: u64,
    duplicate: u64,
    too_old: u64,
    histograms: u64,
    exemplars: u64,
    invalid: u64,
}

impl Refused {
    fn total(&self) -> u64 {
        self.out_of_order
            + self.duplicate
            + self.too_old
            + self.histograms
            + self.exemplars
            + self.invalid
    }
}

/// Samples refused by the series limits.
#[derive(Default)]
pub(crate) struct Limited {
    per_user: u64,
    per_metric: u64,
}

impl Limited {
    pub(crate) fn count(&mut self, kind: SampleErrorKind, n: u64) {
        match kind {
            SampleErrorKind::PerMetricSeriesLimit => self.per_metric += n,
            _ => self.per_user += n,
        }
    }

    pub(crate) fn total(&self) -> u64 {
        self.per_user + self.per_metric
    }

    pub(crate) fn account(&self, metrics: &IngesterMetrics, tenant: &str) {
        metrics.fail(tenant, "per_user_series_limit", self.per_user);
        metrics.fail(tenant, "per_metric_series_limit", self.per_metric);
    }
}

fn message(what: &str, t: i64, series: &dyn std::fmt::Display) -> String {
    format!("{what} (timestamp: {t}, series: {series})")
}

/// [`push_limited`] without series limits.
#[cfg(test)]
pub(crate) async fn push(
    db: &Db,
    metrics: &IngesterMetrics,
    req: PushRequest,
) -> Result<PushResponse, IngesterError> {
    push_limited(db, metrics, req, None).await
}

/// Appends a push to the tenant's head and waits until it is durable in the WAL. Valid
/// samples, native histograms and exemplars are stored even when others are refused.
/// `samples_rejected` counts refused float samples, native histograms and exemplars, so it
/// is never below the errors named. A WAL failure fails the whole push
/// ([`IngesterError::Storage`]).
/// Under `limits`, a new series over the tenant's series limits is refused (see
/// [`crate::limits`]).
pub(crate) async fn push_limited(
    db: &Db,
    metrics: &IngesterMetrics,
    req: PushRequest,
    limits: Option<SeriesLimits>,
) -> Result<PushResponse, IngesterError> {
    let tenant = TenantId::new(&req.tenant)
        .map_err(|source| IngesterError::InvalidTenant { op: "push", source })?;
    let head = db.get_or_create_head(&tenant);
    let mut app = head.appender();
    for md in req.metadata {
        app.add_metadata(convert::metadata_from_proto(md));
    }

    let mut staged: Vec<Staged> = Vec::new();
    let mut early: Vec<Reported> = Vec::new();
    let mut refused = Refused::default();
    let mut staged_native = StagedNative::default();
    let mut limited = Limited::default();
    for (ts_idx, mut ts) in req.timeseries.into_iter().enumerate() {
        let n_samples = ts.samples.len();
        let labels = match convert::labels_from_proto(&mut ts.labels) {
            Ok(l) => l,
            Err(e) => {
                let n = n_samples + ts.histograms.len() + ts.exemplars.len();
                refused.invalid += n as u64;
                if n > 0 && early.len() < MAX_REPORTED_ERRORS {
                    early.push(Reported {
                        key: (ts_idx, 0),
                        kind: SampleErrorKind::Invalid,
                        message: format!(
                            "{e} (series: {})",
                            convert::proto_labels_to_string(&ts.labels)
                        ),
                    });
                }
                continue;
            }
        };
        if let Some(lim) = &limits {
            let refusal = check_new_series(
                &head,
                lim,
                || head.series_by_labels(&labels).is_some(),
                labels.get(strata_model::METRIC_NAME),
            );
            if let Some((kind, msg)) = refusal {
                let n = n_samples + ts.histograms.len() + ts.exemplars.len();
                limited.count(kind, n as u64);
                if n > 0 && early.len() < MAX_REPORTED_ERRORS {
                    early.push(Reported {
                        key: (ts_idx, 0),
                        kind,
                        message: format!("{msg} (series: {labels})"),
                    });
                }
                continue;
            }
        }
        if n_samples > 0 {
            let start = app.staged();
            let samples = ts.samples.iter().map(|s| Sample::new(s.timestamp, s.value));
            match app.append_series(&labels, samples) {
                Ok(_) => staged.push(Staged { start, ts: ts_idx }),
                Err(e) => {
                    // Conversion already refuses what the head refuses; kept for safety.
                    refused.invalid += n_samples as u64;
                    if early.len() < MAX_REPORTED_ERRORS {
                        early.push(Reported {
                            key: (ts_idx, 0),
                            kind: SampleErrorKind::Invalid,
                            message: e.to_string(),
                        });
                    }
                }
            }
        }
        stage_native(
            &mut app,
            &labels,
            &mut ts,
            ts_idx,
            &mut staged_native,
            &mut early,
            &mut refused,
        );
    }

    let outcome = app.commit().await.map_err(IngesterError::Storage)?;
    let mut late: Vec<Reported> = Vec::new();
    for r in &outcome.rejected {
        match r.kind {
            SampleRejectKind::OutOfOrder => refused.out_of_order += 1,
            SampleRejectKind::DuplicateTimestamp => refused.duplicate += 1,
            SampleRejectKind::TooOld => refused.too_old += 1,
        }
        if late.len() < MAX_REPORTED_ERRORS {
            // `staged` is sorted by start; the last series starting at or before the index
            // holds the sample.
            let (ts, pos) = match staged
                .partition_point(|s| s.start <= r.index)
                .checked_sub(1)
            {
                Some(i) => (staged[i].ts, r.index - staged[i].start),
                None => (usize::MAX, r.index),
            };
            late.push(Reported {
                key: (ts, pos),
                kind: match r.kind {
                    SampleRejectKind::OutOfOrder => SampleErrorKind::OutOfOrder,
                    SampleRejectKind::DuplicateTimestamp => SampleErrorKind::DuplicateTimestamp,
                    SampleRejectKind::TooOld => SampleErrorKind::TooOld,
                },
                message: match head.series(r.series) {
                    Some(series) => message(r.kind.message(), r.t, &series.labels()),
                    None => message(r.kind.message(), r.t, &"<unknown>"),
                },
            });
        }
    }
    report_native(&head, &outcome, &staged_native, &mut refused, &mut late);
    let mut reported = early;
    reported.extend(late);
    reported.sort_by_key(|r| r.key);
    reported.truncate(MAX_REPORTED_ERRORS);

    let accepted = outcome.accepted() as u64;
    let t = tenant.as_str();
    let tl = crate::metrics::TenantLabels {
        tenant: t.to_string(),
    };
    metrics.ingested_samples.get_or_create(&tl).inc_by(accepted);
    metrics
        .memory_series
        .get_or_create(&tl)
        .set(head.num_series() as i64);
    metrics.fail(
        t,
        SampleRejectKind::OutOfOrder.reason(),
        refused.out_of_order,
    );
    metrics.fail(
        t,
        SampleRejectKind::DuplicateTimestamp.reason(),
        refused.duplicate,
    );
    metrics.fail(t, SampleRejectKind::TooOld.reason(), refused.too_old);
    metrics
        .ingested_samples
        .get_or_create(&tl)
        .inc_by(outcome.histograms_accepted as u64);
    metrics.fail(t, "invalid_native_histogram", refused.histograms);
    metrics.fail(t, "invalid_exemplar", refused.exemplars);
    metrics.fail(t, "invalid_labels", refused.invalid);
    limited.account(metrics, t);
    refused.invalid += limited.total();
    if refused.total() > 0 {
        tracing::debug!(
            tenant = t,
            accepted,
            rejected = refused.total(),
            first_error = reported.first().map(|r| r.message.as_str()).unwrap_or(""),
            "push partially rejected"
        );
    }

    Ok(PushResponse {
        samples_appended: accepted,
        samples_rejected: refused.total(),
        errors: reported
            .into_iter()
            .map(|r| SampleError {
                kind: r.kind as i32,
                message: r.message,
            })
            .collect(),
        histograms_appended: outcome.histograms_accepted as u64,
        exemplars_appended: outcome.exemplars_accepted as u64,
    })
}

/// Where each staged histogram and exemplar came from: `(series index, position)`.
#[derive(Default)]
struct StagedNative {
    histograms: Vec<(usize, usize)>,
    exemplars: Vec<(usize, usize)>,
}

/// Stages a series' native histograms and exemplars; invalid ones are reported now.
fn stage_native(
    app: &mut strata_tsdb::HeadAppender<'_>,
    labels: &strata_model::Labels,
    ts: &mut strata_proto::prometheus::TimeSeries,
    ts_idx: usize,
    staged: &mut StagedNative,
    early: &mut Vec<Reported>,
    refused: &mut Refused,
) {
    let n_samples = ts.samples.len();
    let report = |early: &mut Vec<Reported>, pos: usize, message: String| {
        if early.len() < MAX_REPORTED_ERRORS {
            early.push(Reported {
                key: (ts_idx, pos),
                kind: SampleErrorKind::Invalid,
                message,
            });
        }
    };
    for (i, h) in ts.histograms.iter().enumerate() {
        let pos = n_samples + i;
        let res = crate::native::histogram_from_proto(h).and_then(|v| {
            app.append_histogram(labels, h.timestamp, v)
                .map_err(|e| e.to_string())
        });
        match res {
            Ok(_) => staged.histograms.push((ts_idx, pos)),
            Err(e) => {
                refused.histograms += 1;
                let what = format!("invalid native histogram: {e}");
                report(early, pos, message(&what, h.timestamp, labels));
            }
        }
    }
    let base = n_samples + ts.histograms.len();
    for (i, ex) in ts.exemplars.iter_mut().enumerate() {
        let pos = base + i;
        let t = ex.timestamp;
        let res = crate::native::exemplar_from_proto(ex)
            .map_err(|e| e.to_string())
            .and_then(|e| app.add_exemplar(labels, e).map_err(|e| e.to_string()));
        match res {
            Ok(_) => staged.exemplars.push((ts_idx, pos)),
            Err(e) => {
                refused.exemplars += 1;
                report(
                    early,
                    pos,
                    message(&format!("invalid exemplar: {e}"), t, labels),
                );
            }
        }
    }
}

/// Counts and names the histograms and exemplars the head refused.
fn report_native(
    head: &strata_tsdb::Head,
    outcome: &strata_tsdb::CommitOutcome,
    staged: &StagedNative,
    refused: &mut Refused,
    late: &mut Vec<Reported>,
) {
    let labels_of = |r: strata_tsdb::SeriesRef| -> String {
        head.series(r)
            .map(|s| s.labels().to_string())
            .unwrap_or_else(|| "<unknown>".into())
    };
    for r in &outcome.rejected_histograms {
        match r.kind {
            SampleRejectKind::OutOfOrder => refused.out_of_order += 1,
            SampleRejectKind::DuplicateTimestamp => refused.duplicate += 1,
            SampleRejectKind::TooOld => refused.too_old += 1,
        }
        if late.len() < MAX_REPORTED_ERRORS {
            let key = staged
                .histograms
                .get(r.index)
                .copied()
                .unwrap_or((usize::MAX, 0));
            late.push(Reported {
                key,
                kind: match r.kind {
                    SampleRejectKind::OutOfOrder => SampleErrorKind::OutOfOrder,
                    SampleRejectKind::DuplicateTimestamp => SampleErrorKind::DuplicateTimestamp,
                    SampleRejectKind::TooOld => SampleErrorKind::TooOld,
                },
                message: message(r.kind.message(), r.t, &labels_of(r.series)),
            });
        }
    }
    for r in &outcome.rejected_exemplars {
        refused.exemplars += 1;
        if late.len() < MAX_REPORTED_ERRORS {
            let key = staged
                .exemplars
                .get(r.index)
                .copied()
                .unwrap_or((usize::MAX, 0));
            late.push(Reported {
                key,
                kind: match r.kind {
                    strata_tsdb::ExemplarRejectKind::OutOfOrder => SampleErrorKind::OutOfOrder,
                    strata_tsdb::ExemplarRejectKind::LabelsTooLong => SampleErrorKind::Invalid,
                },
                message: message(&r.kind.to_string(), r.t, &labels_of(r.series)),
            });
        }
    }
}
