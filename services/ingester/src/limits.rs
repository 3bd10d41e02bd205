//! Series limits: a tenant may hold at most so many in-memory series, in all and per metric
//! name. The limits are global (for the whole cluster, before replication); each ingester
//! enforces its local share, `global × replication factor / ingesters in the tenant's
//! shard` (Mimir's formula), computed by the binary ([`SeriesLimitsFn`]).
//!
//! Only a series that does not exist yet is checked, so existing series keep accepting
//! samples at the limit. The per-user check costs nothing below the limit (a counter
//! compare); at or over it, and for the per-metric limit when set, a new series is looked
//! up by borrowed labels (no allocation) and the metric's series are counted through the
//! postings index.

use std::sync::Arc;

use strata_model::Matcher;
use strata_proto::ingester::SampleErrorKind;
use strata_tsdb::Head;

/// A tenant's series limits on this ingester.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SeriesLimits {
    /// The tenant's global per-user limit (0: no limit), named in errors.
    pub global_per_user: usize,
    /// This ingester's share of it.
    pub local_per_user: usize,
    /// The tenant's global per-metric limit (0: no limit), named in errors.
    pub global_per_metric: usize,
    /// This ingester's share of it.
    pub local_per_metric: usize,
}

impl SeriesLimits {
    /// Limits with local = global (one ingester, no replication).
    pub fn single(per_user: usize, per_metric: usize) -> Self {
        Self {
            global_per_user: per_user,
            local_per_user: per_user,
            global_per_metric: per_metric,
            local_per_metric: per_metric,
        }
    }
}

/// The local share of a global limit: `global × rf / shard ingesters`, rounded up, never
/// above the global limit; 0 stays 0 (disabled).
pub fn local_limit(global: usize, replication_factor: usize, shard_ingesters: usize) -> usize {
    if global == 0 || shard_ingesters == 0 {
        return global;
    }
    let rf = replication_factor.max(1);
    if rf >= shard_ingesters {
        return global;
    }
    (global.saturating_mul(rf)).div_ceil(shard_ingesters).max(1)
}

/// Gives a tenant's limits on this ingester (called once per push).
pub type SeriesLimitsFn = Arc<dyn Fn(&str) -> SeriesLimits + Send + Sync>;

/// Why a new series is refused: the error kind and the message naming the limit.
pub(crate) fn check_new_series(
    head: &Head,
    limits: &SeriesLimits,
    exists: impl Fn() -> bool,
    metric_name: Option<&str>,
) -> Option<(SampleErrorKind, String)> {
    if limits.local_per_user > 0 && head.num_series() >= limits.local_per_user && !exists() {
        return Some((
            SampleErrorKind::PerUserSeriesLimit,
            format!(
                "per-user series limit of {} exceeded (err-mimir-max-series-per-user; local limit: {}). To adjust the related per-tenant limit, configure -ingester.max-global-series-per-user, or contact your service administrator.",
                limits.global_per_user, limits.local_per_user
            ),
        ));
    }
    if limits.local_per_metric > 0 {
        if let Some(name) = metric_name {
            if !exists() {
                let n = head
                    .postings_for_matchers(&[Matcher::equal("__name__", name)])
                    .len();
                if n >= limits.local_per_metric {
                    return Some((
                        SampleErrorKind::PerMetricSeriesLimit,
                        format!(
                            "per-metric series limit of {} exceeded for metric {name} (err-mimir-max-series-per-metric; local limit: {}). To adjust the related per-tenant limit, configure -ingester.max-global-series-per-metric, or contact your service administrator.",
                            limits.global_per_metric, limits.local_per_metric
                        ),
                    ));
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use prometheus_client::registry::Registry;
    use prost::Message as _;
    use strata_proto::ingester::PushRequest;
    use strata_proto::prometheus as pb;

    use super::*;
    use crate::{Ingester, IngesterConfig};

    fn series(name: &str, i: usize, t: i64) -> pb::TimeSeries {
        pb::TimeSeries {
            labels: vec![
                pb::Label {
                    name: "__name__".into(),
                    value: name.into(),
                },
                pb::Label {
                    name: "i".into(),
                    value: i.to_string(),
                },
            ],
            samples: vec![pb::Sample {
                value: 1.0,
                timestamp: t,
            }],
            ..Default::default()
        }
    }

    /// Pushes through the gRPC path and the in-process path of two ingesters with the same
    /// limits; both must answer alike. Returns the answer.
    async fn push_both(
        a: &Ingester,
        b: &Ingester,
        ts: Vec<pb::TimeSeries>,
    ) -> strata_proto::ingester::PushResponse {
        let buf = pb::WriteRequest {
            timeseries: ts.clone(),
            metadata: vec![],
        }
        .encode_to_vec();
        let flat = strata_proto::flat::decode_write_request(&buf).expect("flat");
        let got = b.push_flat("t", &flat).await.expect("flat push");
        let want = crate::push::push_limited(
            &a.db,
            &a.metrics,
            PushRequest {
                tenant: "t".into(),
                timeseries: ts,
                metadata: vec![],
            },
            a.series_limits_for("t"),
        )
        .await
        .expect("grpc push");
        assert_eq!(got, want);
        got
    }

    #[tokio::test]
    async fn new_series_over_the_limits_are_refused_existing_ones_accepted() {
        let dirs = (
            tempfile::tempdir().expect("dir"),
            tempfile::tempdir().expect("dir"),
        );
        let mut reg = Registry::default();
        let a = Ingester::new(IngesterConfig::default(), dirs.0.path(), &mut reg).expect("a");
        let b = Ingester::new(IngesterConfig::default(), dirs.1.path(), &mut reg).expect("b");
        for ing in [&a, &b] {
            ing.set_series_limits(Arc::new(|_: &str| SeriesLimits {
                global_per_user: 9,
                local_per_user: 3,
                global_per_metric: 4,
                local_per_metric: 2,
            }));
        }
        // Per metric: m gets 2 of 3.
        let r = push_both(&a, &b, (0..3).map(|i| series("m", i, 10)).collect()).await;
        assert_eq!((r.samples_appended, r.samples_rejected), (2, 1));
        assert_eq!(
            r.errors[0].kind,
            SampleErrorKind::PerMetricSeriesLimit as i32
        );
        assert!(
            r.errors[0]
                .message
                .starts_with("per-metric series limit of 4 exceeded for metric m"),
            "{}",
            r.errors[0].message
        );
        // Per user: one more series fits (3 in all), then only existing ones are accepted.
        let mut ts: Vec<_> = (0..3).map(|i| series("n", i, 10)).collect();
        ts.push(series("m", 0, 20));
        let r = push_both(&a, &b, ts).await;
        assert_eq!((r.samples_appended, r.samples_rejected), (2, 2));
        assert_eq!(r.errors[0].kind, SampleErrorKind::PerUserSeriesLimit as i32);
        assert!(
            r.errors[0]
                .message
                .contains("per-user series limit of 9 exceeded")
                && r.errors[0].message.contains("local limit: 3"),
            "{}",
            r.errors[0].message
        );
        let tenant = strata_model::TenantId::new("t").expect("tenant");
        assert_eq!(b.db().head(&tenant).expect("head").num_series(), 3);
    }

    #[test]
    fn local_share_of_a_global_limit() {
        assert_eq!(local_limit(150_000, 3, 6), 75_000);
        assert_eq!(local_limit(150_000, 1, 1), 150_000);
        assert_eq!(
            local_limit(100, 3, 3),
            100,
            "every ingester holds every series"
        );
        assert_eq!(local_limit(10, 3, 7), 5, "rounded up");
        assert_eq!(local_limit(0, 3, 6), 0, "disabled stays disabled");
        assert_eq!(local_limit(10, 3, 0), 10, "no ring: the global limit");
    }
}
