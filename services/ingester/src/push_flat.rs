//! The in-process push path: float-only series borrowed from the distributor's request
//! buffer ([`FlatWriteRequest`]) → head appender, without copying a label of an existing
//! series.
//!
//! Used when the distributor runs in the same process ([`crate::Ingester::push_flat`]);
//! answers exactly as the gRPC push ([`crate::push`]) does for the same float-only series:
//! same checks, counts, metrics and messages, in the same order. Each series' labels are
//! checked with [`convert::labels_from_pairs`], hashed in place
//! ([`Labels::stable_hash_of_pairs`]) and looked up by hash and borrowed comparison
//! ([`strata_tsdb::HeadAppender::append_series_pairs`]); only a new series allocates.

use strata_model::{Labels, Sample, TenantId};
use strata_proto::flat::FlatWriteRequest;
use strata_proto::ingester::{PushResponse, SampleError, SampleErrorKind};
use strata_tsdb::{Db, SampleRejectKind};

use crate::convert;
use crate::error::IngesterError;
use crate::limits::{check_new_series, SeriesLimits};
use crate::metrics::IngesterMetrics;
use crate::push::MAX_REPORTED_ERRORS;

/// A refused sample to report, keyed by (series index, sample index) in the request.
struct Reported {
    key: (usize, usize),
    kind: SampleErrorKind,
    message: String,
}

fn message(what: &str, t: i64, series: &dyn std::fmt::Display) -> String {
    format!("{what} (timestamp: {t}, series: {series})")
}

fn error_kind(k: SampleRejectKind) -> SampleErrorKind {
    match k {
        SampleRejectKind::OutOfOrder => SampleErrorKind::OutOfOrder,
        SampleRejectKind::DuplicateTimestamp => SampleErrorKind::DuplicateTimestamp,
        SampleRejectKind::TooOld => SampleErrorKind::TooOld,
    }
}

/// Appends the series of `req` to `tenant`'s head and waits until they are durable in the
/// WAL; see [`crate::push`] for the contract (valid samples are stored even when others
/// are refused; a WAL failure fails the whole push).
pub(crate) async fn push_flat(
    db: &Db,
    metrics: &IngesterMetrics,
    tenant: &str,
    req: &FlatWriteRequest<'_>,
    limits: Option<SeriesLimits>,
) -> Result<PushResponse, IngesterError> {
    let tenant = TenantId::new(tenant)
        .map_err(|source| IngesterError::InvalidTenant { op: "push", source })?;
    let head = db.get_or_create_head(&tenant);
    let mut app = head.appender();

    // (first staged sample, series index), in staging order.
    let mut staged: Vec<(usize, usize)> = Vec::with_capacity(req.series.len());
    let mut early: Vec<Reported> = Vec::new();
    let mut invalid = 0u64;
    let mut scratch = Vec::new();
    let mut limited = crate::push::Limited::default();
    for (ts_idx, s) in req.series.iter().enumerate() {
        let raw_labels = req.series_labels(s);
        let samples = req.series_samples(s);
        let labels = match convert::labels_from_pairs(raw_labels, &mut scratch) {
            Ok(l) => l,
            Err(e) => {
                invalid += samples.len() as u64;
                if !samples.is_empty() && early.len() < MAX_REPORTED_ERRORS {
                    early.push(Reported {
                        key: (ts_idx, 0),
                        kind: SampleErrorKind::Invalid,
                        message: format!("{e} (series: {})", convert::pairs_to_string(raw_labels)),
                    });
                }
                continue;
            }
        };
        if samples.is_empty() {
            continue;
        }
        let hash = Labels::stable_hash_of_pairs(labels.iter().copied());
        if let Some(lim) = &limits {
            let name = labels
                .iter()
                .find(|p| p.0 == strata_model::METRIC_NAME)
                .map(|p| p.1);
            let refusal =
                check_new_series(&head, lim, || head.has_series_pairs(hash, labels), name);
            if let Some((kind, msg)) = refusal {
                limited.count(kind, samples.len() as u64);
                if early.len() < MAX_REPORTED_ERRORS {
                    early.push(Reported {
                        key: (ts_idx, 0),
                        kind,
                        message: format!("{msg} (series: {})", convert::pairs_to_string(labels)),
                    });
                }
                continue;
            }
        }
        let start = app.staged();
        let samples_iter = samples.iter().map(|s| Sample::new(s.timestamp, s.value));
        match app.append_series_pairs(hash, labels, samples_iter) {
            Ok(_) => staged.push((start, ts_idx)),
            Err(e) => {
                // Conversion already refuses what the head refuses; kept for safety.
                invalid += samples.len() as u64;
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

    let outcome = app.commit().await.map_err(IngesterError::Storage)?;
    let (mut out_of_order, mut duplicate, mut too_old) = (0u64, 0u64, 0u64);
    let mut late: Vec<Reported> = Vec::new();
    for r in &outcome.rejected {
        match r.kind {
            SampleRejectKind::OutOfOrder => out_of_order += 1,
            SampleRejectKind::DuplicateTimestamp => duplicate += 1,
            SampleRejectKind::TooOld => too_old += 1,
        }
        if late.len() < MAX_REPORTED_ERRORS {
            // `staged` is sorted by start; the last series starting at or before the index
            // holds the sample.
            let key = match staged.partition_point(|s| s.0 <= r.index).checked_sub(1) {
                Some(i) => (staged[i].1, r.index - staged[i].0),
                None => (usize::MAX, r.index),
            };
            late.push(Reported {
                key,
                kind: error_kind(r.kind),
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
    let rejected = out_of_order + duplicate + too_old + invalid + limited.total();
    let t = tenant.as_str();
    let tl = crate::metrics::TenantLabels {
        tenant: t.to_string(),
    };
    metrics.ingested_samples.get_or_create(&tl).inc_by(accepted);
    metrics
        .memory_series
        .get_or_create(&tl)
        .set(head.num_series() as i64);
    metrics.fail(t, SampleRejectKind::OutOfOrder.reason(), out_of_order);
    metrics.fail(t, SampleRejectKind::DuplicateTimestamp.reason(), duplicate);
    metrics.fail(t, SampleRejectKind::TooOld.reason(), too_old);
    metrics.fail(t, "invalid_labels", invalid);
    limited.account(metrics, t);
    if rejected > 0 {
        tracing::debug!(
            tenant = t,
            accepted,
            rejected,
            first_error = reported.first().map(|r| r.message.as_str()).unwrap_or(""),
            "push partially rejected"
        );
    }

    Ok(PushResponse {
        samples_appended: accepted,
        samples_rejected: rejected,
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

#[cfg(test)]
mod tests {
    use prometheus_client::registry::Registry;
    use prost::Message as _;
    use strata_proto::ingester::PushRequest;
    use strata_proto::prometheus as pb;

    use crate::{Ingester, IngesterConfig};

    fn series(pairs: &[(&str, &str)], samples: &[(i64, f64)]) -> pb::TimeSeries {
        pb::TimeSeries {
            labels: pairs
                .iter()
                .map(|&(n, v)| pb::Label {
                    name: n.into(),
                    value: v.into(),
                })
                .collect(),
            samples: samples
                .iter()
                .map(|&(timestamp, value)| pb::Sample { value, timestamp })
                .collect(),
            ..Default::default()
        }
    }

    struct Side {
        ingester: Ingester,
        registry: Registry,
        _dir: tempfile::TempDir,
    }

    fn side() -> Side {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut registry = Registry::default();
        let ingester = Ingester::new(IngesterConfig::default(), dir.path(), &mut registry)
            .expect("open ingester");
        Side {
            ingester,
            registry,
            _dir: dir,
        }
    }

    /// The ingester's sample and failure counters, sorted (label sets print in hash order).
    fn counters(s: &Side) -> Vec<String> {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &s.registry).expect("encode");
        let mut lines: Vec<String> = out
            .lines()
            .filter(|l| {
                l.starts_with("strata_ingester_ingested_samples")
                    || l.starts_with("strata_ingester_memory_series")
            })
            .map(str::to_string)
            .collect();
        lines.sort();
        lines
    }

    /// Every series in the tenant's head with its samples, in label order.
    fn contents(s: &Side) -> Vec<(String, Vec<(i64, u64)>)> {
        let tenant = strata_model::TenantId::new("t").expect("tenant");
        let Some(head) = s.ingester.db.head(&tenant) else {
            return Vec::new();
        };
        let mut out: Vec<(String, Vec<(i64, u64)>)> = head
            .select_series(&[], i64::MIN, i64::MAX)
            .iter()
            .map(|m| {
                let mut samples = Vec::new();
                for c in m.chunks(i64::MIN, i64::MAX) {
                    let mut it = c.chunk.xor_iter().expect("xor chunk");
                    samples.extend(it.by_ref().map(|s| (s.t, s.v.to_bits())));
                }
                (m.labels().to_string(), samples)
            })
            .collect();
        out.sort();
        out
    }

    #[tokio::test]
    async fn answers_and_stores_as_the_grpc_push() {
        let requests: Vec<Vec<pb::TimeSeries>> = vec![
            vec![
                series(&[("__name__", "up"), ("job", "a")], &[(10, 1.0), (20, 2.0)]),
                series(&[("job", "b"), ("__name__", "up"), ("x", "")], &[(5, 1.0)]),
                series(&[("__name__", "up"), ("job", "none")], &[]),
            ],
            vec![
                // Out of order, duplicate with another value, identical retry, fine.
                series(
                    &[("__name__", "up"), ("job", "a")],
                    &[(15, 1.0), (20, 3.0), (20, 2.0), (30, 4.0)],
                ),
                series(&[("__name__", "dup"), ("a", "1"), ("a", "2")], &[(1, 1.0)]),
                series(&[("b", "2"), ("a", "1"), ("b", "3")], &[(1, 1.0)]),
                series(&[("a", "")], &[(1, 1.0)]),
                series(&[("__name__", "up"), ("job", "b")], &[(1, 1.0), (2, 1.0)]),
            ],
            // More errors than are named.
            (0..14)
                .map(|i| series(&[("__name__", "up"), ("job", "a")], &[(i, 0.5)]))
                .collect(),
        ];
        let (grpc, local) = (side(), side());
        for (i, timeseries) in requests.into_iter().enumerate() {
            let buf = pb::WriteRequest {
                timeseries: timeseries.clone(),
                metadata: vec![],
            }
            .encode_to_vec();
            let flat = strata_proto::flat::decode_write_request(&buf).expect("flat");
            let want = crate::push::push(
                &grpc.ingester.db,
                &grpc.ingester.metrics,
                PushRequest {
                    tenant: "t".into(),
                    timeseries,
                    metadata: vec![],
                },
            )
            .await
            .expect("grpc push");
            let got = local.ingester.push_flat("t", &flat).await.expect("push");
            assert_eq!(got, want, "request {i}");
            assert_eq!(contents(&local), contents(&grpc), "request {i}");
            assert_eq!(counters(&local), counters(&grpc), "request {i}");
        }
        assert_eq!(contents(&local).len(), 2);
        let bad = strata_proto::flat::FlatWriteRequest::default();
        assert!(matches!(
            local.ingester.push_flat("", &bad).await,
            Err(crate::IngesterError::InvalidTenant { .. })
        ));
    }
}
