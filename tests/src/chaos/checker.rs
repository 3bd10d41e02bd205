//! The chaos checker: reads every sample of a writer's series back through the querier and
//! compares them with what the writer recorded as acknowledged.
//!
//! ```text
//!  querier /prometheus/api/v1/read  (one SAMPLES query per writer shard: {__name__, shard})
//!     ─► series id ─► (t, v) sorted ─► each acked sample (acked ≥ 5 s before the read):
//!        present with exactly the sent value?  found / missing / wrong value
//! ```
//!
//! Remote read is exact (bit-for-bit values, millisecond timestamps) and goes through the
//! same ring read path as PromQL (replica merge, failure tolerance, 5xx without a quorum).
//! [`promql_series_count`] additionally checks the PromQL path answers with every series.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use anyhow::Context;

use super::writer::{WriterConfig, WriterLog};
use crate::api::Auth;
use crate::remote_read::{self, eq};
use crate::{Strata, TimestampMs};

/// "Complete" means every sample acknowledged at least this long before the read.
pub const SETTLE: Duration = Duration::from_secs(5);

/// The samples a read found: series id to `(t, v)` in time order.
#[derive(Clone, Debug, Default)]
pub struct Found {
    /// Samples per series id.
    pub series: BTreeMap<usize, Vec<(TimestampMs, f64)>>,
    /// Label names seen on the series (to check what was stored, e.g. no `__replica__`).
    pub label_names: BTreeSet<String>,
}

impl Found {
    /// Samples found in total.
    pub fn samples(&self) -> usize {
        self.series.values().map(Vec::len).sum()
    }

    /// The value stored for series `i` at `t`.
    pub fn get(&self, i: usize, t: TimestampMs) -> Option<f64> {
        let s = self.series.get(&i)?;
        s.binary_search_by_key(&t, |&(t, _)| t)
            .ok()
            .map(|at| s[at].1)
    }
}

/// Reads every series of `cfg` over `[start, end]` through `querier`'s remote read.
/// `Ok(Err(status))` when the querier refused (5xx without enough ingesters).
pub async fn read_all(
    querier: &Strata,
    cfg: &WriterConfig,
    start: TimestampMs,
    end: TimestampMs,
) -> anyhow::Result<Result<Found, u16>> {
    let auth = Auth::org(&cfg.tenant);
    let mut found = Found::default();
    for s in 0..cfg.shards {
        let req = remote_read::request(
            vec![remote_read::query(
                start,
                end,
                vec![eq("__name__", &cfg.metric), eq("shard", &s.to_string())],
            )],
            &[],
        );
        let reply = querier.remote_read(&auth, &req).await?;
        if reply.status != 200 {
            return Ok(Err(reply.status));
        }
        let results = remote_read::decode_samples(&reply.body)?;
        let result = results
            .into_iter()
            .next()
            .context("one query, one result")?;
        for (labels, samples) in result {
            found.label_names.extend(labels.keys().cloned());
            let id: usize = labels
                .get("series")
                .with_context(|| format!("series without a series label: {labels:?}"))?
                .parse()
                .with_context(|| format!("series label of {labels:?}"))?;
            anyhow::ensure!(
                found.series.insert(id, samples).is_none(),
                "series {id} came back twice (replicas not merged?): {labels:?}"
            );
        }
    }
    Ok(Ok(found))
}

/// How the found samples compare with the acknowledged ones.
#[derive(Clone, Debug, Default)]
pub struct Check {
    /// Samples acknowledged (2xx other than 202) before the cut-off.
    pub acked: usize,
    /// Of those, found with exactly the sent value.
    pub found: usize,
    /// Up to 10 `(series, t)` acknowledged but absent.
    pub missing: Vec<(usize, TimestampMs)>,
    /// Acknowledged samples absent, in total.
    pub missing_total: usize,
    /// Up to 10 `(series, t, want, got)` found with another value.
    pub wrong: Vec<(usize, TimestampMs, f64, f64)>,
    /// Samples read back in total (acked, later, or from requests that failed).
    pub read_total: usize,
    /// Samples of requests answered 202 (not to be stored) that were found anyway.
    pub deduped_found: usize,
}

impl Check {
    /// True when every acknowledged sample was found with its value and nothing answered
    /// 202 was stored.
    pub fn complete(&self) -> bool {
        self.found == self.acked && self.wrong.is_empty() && self.deduped_found == 0
    }

    /// Fails with the details unless [`Check::complete`].
    pub fn ensure_complete(&self, what: &str) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.complete(),
            "{what}: {} of {} acknowledged samples found ({} missing, first {:?}; wrong values {:?}; {} samples answered 202 stored)",
            self.found,
            self.acked,
            self.missing_total,
            self.missing,
            self.wrong,
            self.deduped_found
        );
        Ok(())
    }
}

/// Compares `found` with the acknowledgements of `log` that arrived at or before `cutoff`.
pub fn check(cfg: &WriterConfig, log: &WriterLog, found: &Found, cutoff: Instant) -> Check {
    let mut c = Check {
        read_total: found.samples(),
        ..Check::default()
    };
    for ack in log.acks.iter().filter(|a| a.at <= cutoff) {
        for i in ack.batch.series.clone() {
            for &(k, t) in &ack.batch.ticks {
                let got = found.get(i, t);
                if ack.status == 202 {
                    // A replica that was not elected: none of its values may be stored.
                    if got == Some(cfg.value(i, k)) {
                        c.deduped_found += 1;
                    }
                    continue;
                }
                c.acked += 1;
                let want = cfg.value(i, k);
                match got {
                    Some(v) if v.to_bits() == want.to_bits() => c.found += 1,
                    Some(v) => {
                        if c.wrong.len() < 10 {
                            c.wrong.push((i, t, want, v));
                        }
                    }
                    None => {
                        c.missing_total += 1;
                        if c.missing.len() < 10 {
                            c.missing.push((i, t));
                        }
                    }
                }
            }
        }
    }
    c
}

/// Reads now and checks every sample acknowledged at least [`SETTLE`] ago. `Ok(Err(status))`
/// when the querier refused the read.
pub async fn verify(
    querier: &Strata,
    cfg: &WriterConfig,
    log: &WriterLog,
    start: TimestampMs,
) -> anyhow::Result<Result<Check, u16>> {
    let cutoff = Instant::now()
        .checked_sub(SETTLE)
        .unwrap_or_else(Instant::now);
    let end = crate::now_ms() + 60_000;
    Ok(read_all(querier, cfg, start, end)
        .await?
        .map(|found| check(cfg, log, &found, cutoff)))
}

/// `count(<metric>)` through the querier's PromQL API at `t`: the number of series with a
/// sample in the lookback window, or the refusing status.
pub async fn promql_series_count(
    querier: &Strata,
    cfg: &WriterConfig,
    t: TimestampMs,
) -> anyhow::Result<Result<usize, u16>> {
    let r = querier
        .api(Auth::org(&cfg.tenant))
        .query_raw(&format!("count({})", cfg.metric), t)
        .await?;
    if r.status != 200 {
        return Ok(Err(r.status));
    }
    let data = r.data()?;
    let Some(v) = data["result"][0]["value"][1].as_str() else {
        return Ok(Ok(0));
    };
    Ok(Ok(v.parse::<f64>().context("count value")? as usize))
}

#[cfg(test)]
mod tests {
    use super::super::writer::{Ack, Batch};
    use super::*;

    fn ack(series: std::ops::Range<usize>, ticks: &[(u64, i64)], status: u16) -> Ack {
        Ack {
            batch: Batch {
                shard: 0,
                series,
                ticks: ticks.to_vec(),
            },
            status,
            at: Instant::now(),
            latency: Duration::ZERO,
            attempts: 1,
        }
    }

    #[test]
    fn counts_found_missing_wrong_and_deduped() {
        let cfg = WriterConfig::new("t", 3);
        let log = WriterLog {
            acks: vec![
                ack(0..3, &[(0, 1000), (1, 2000)], 200),
                ack(0..1, &[(2, 3000)], 202),
            ],
            ..WriterLog::default()
        };
        let mut found = Found::default();
        found
            .series
            .insert(0, vec![(1000, cfg.value(0, 0)), (2000, cfg.value(0, 1))]);
        found
            .series
            .insert(1, vec![(1000, cfg.value(1, 0)), (2000, 7.0)]);
        found.series.insert(2, vec![(1000, cfg.value(2, 0))]);
        let c = check(&cfg, &log, &found, Instant::now());
        assert_eq!((c.acked, c.found, c.missing_total), (6, 4, 1));
        assert_eq!(c.missing, vec![(2, 2000)]);
        assert_eq!(c.wrong.len(), 1);
        assert!(!c.complete());

        // The 202 sample stored would also be a failure.
        found
            .series
            .get_mut(&0)
            .expect("series 0")
            .push((3000, cfg.value(0, 2)));
        let c = check(&cfg, &log, &found, Instant::now());
        assert_eq!(c.deduped_found, 1);
    }

    #[test]
    fn later_acks_are_not_required() {
        let cfg = WriterConfig::new("t", 1);
        let before = Instant::now();
        let log = WriterLog {
            acks: vec![ack(0..1, &[(0, 1000)], 200)],
            ..WriterLog::default()
        };
        let c = check(&cfg, &log, &Found::default(), before);
        assert_eq!(c.acked, 0);
        assert!(c.complete());
    }
}
