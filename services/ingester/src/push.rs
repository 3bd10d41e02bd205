//! The push path: wire series → head appender → a response naming the first refused samples.

use strata_model::{Sample, TenantId};
use strata_proto::ingester::{PushRequest, PushResponse, SampleError, SampleErrorKind};
use strata_tsdb::{Db, SampleRejectKind};

use crate::convert;
use crate::error::IngesterError;
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

fn message(what: &str, t: i64, series: &dyn std::fmt::Display) -> String {
    format!("{what} (timestamp: {t}, series: {series})")
}

/// Appends a push to the tenant's head and waits until it is durable in the WAL. Valid
/// samples are stored even when others are refused. `samples_rejected` counts refused float
/// samples, native histograms and exemplars (the latter two are not stored yet), so it is
/// never below the errors named. A WAL failure fails the whole push
/// ([`IngesterError::Storage`]).
pub(crate) async fn push(
    db: &Db,
    metrics: &IngesterMetrics,
    req: PushRequest,
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
        for (i, h) in ts.histograms.iter().enumerate() {
            refused.histograms += 1;
            if early.len() < MAX_REPORTED_ERRORS {
                early.push(Reported {
                    key: (ts_idx, n_samples + i),
                    kind: SampleErrorKind::Unsupported,
                    message: message(
                        "native histograms are not supported yet",
                        h.timestamp,
                        &labels,
                    ),
                });
            }
        }
        for (i, ex) in ts.exemplars.iter().enumerate() {
            refused.exemplars += 1;
            if early.len() < MAX_REPORTED_ERRORS {
                early.push(Reported {
                    key: (ts_idx, n_samples + ts.histograms.len() + i),
                    kind: SampleErrorKind::Unsupported,
                    message: message("exemplars are not supported yet", ex.timestamp, &labels),
                });
            }
        }
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
    metrics.fail(t, "native_histogram_unsupported", refused.histograms);
    metrics.fail(t, "exemplar_unsupported", refused.exemplars);
    metrics.fail(t, "invalid_labels", refused.invalid);
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
        histograms_appended: 0,
        exemplars_appended: 0,
    })
}
