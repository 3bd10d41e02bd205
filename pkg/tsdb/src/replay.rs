//! Rebuilding the heads from the WAL's records at open.
//!
//! Records come in log order. Series records recreate series under their logged refs;
//! samples are appended in order. A sample older than its series' last one is not refused
//! as a live append would be: two concurrent commits may reach the log in the opposite order
//! to the one they were applied in, so such samples are kept aside and merged into their
//! series once the log is read (each affected series is re-encoded once). Every logged
//! sample was accepted by the head, so nothing logged is dropped, and the rebuilt series
//! equal the ones that were in memory (minus samples whose WAL write failed). Samples the
//! head kept in its out-of-order buffer (logged in the same samples records) take the same
//! path: after replay they sit in the in-order chunks, which queries and block cutting
//! treat alike. Native histograms (records 7 and 8) go through the same code as floats.
//! Exemplars are re-added to the tenant's exemplar store; minimum-valid-time records raise
//! the head's minimum valid time, so samples older than the cut blocks stay refused after a
//! restart (unless within the out-of-order window).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use strata_model::TenantId;

use crate::error::SampleRejectKind;
use crate::head::exemplars::Exemplar;
use crate::head::series::{AppendResult, MemSeries, SeriesRef};
use crate::head::value::SampleValue;
use crate::head::Head;
use crate::options::TenantHeadOptions;
use crate::record::{decode, Record};

/// What replay did; exposed for metrics and logs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReplayStats {
    /// Records read from the checkpoint and segments.
    pub records: u64,
    /// Tenants restored.
    pub tenants: u64,
    /// Series records applied.
    pub series: u64,
    /// Samples restored (stored or identical repeats).
    pub samples: u64,
    /// Metadata entries restored.
    pub metadata: u64,
    /// Exemplars restored.
    pub exemplars: u64,
    /// Series whose samples came out of order in the log and were merged at the end.
    pub merged_series: u64,
    /// Samples skipped because their series record was lost (damaged log).
    pub unknown_series_samples: u64,
    /// Records (or entries) that could not be decoded or named an unknown tenant.
    pub bad_records: u64,
    /// Damage found in the log (torn tail included).
    pub corruptions: u64,
    /// Whether the only damage was a torn last record.
    pub torn_tail: bool,
    /// Bytes of log dropped by repairs.
    pub dropped_bytes: u64,
    /// The checkpoint replayed, if any.
    pub checkpoint: Option<u32>,
    /// How long replay took.
    pub duration: Duration,
}

/// Samples of one series met out of order, to merge at the end.
struct Late {
    series: Arc<MemSeries>,
    head: Arc<Head>,
    samples: Vec<(i64, SampleValue)>,
}

/// Replay state: heads by tenant and by WAL tenant id, ref aliases, out-of-order samples.
#[derive(Default)]
pub(crate) struct Replayer {
    pub(crate) heads: HashMap<TenantId, Arc<Head>>,
    pub(crate) by_ref: HashMap<u32, (TenantId, Arc<Head>)>,
    /// WAL refs whose labels already had a series under another ref.
    aliases: HashMap<(u32, u64), Arc<MemSeries>>,
    late: HashMap<(u32, u64), Late>,
    /// The highest tenant id in any record, known or not: new tenants get ids above it, so
    /// an id whose tenant record was lost to damage is never reused.
    pub(crate) max_tenant_ref: u32,
    pub(crate) stats: ReplayStats,
    /// Options for the heads replay creates.
    pub(crate) opts: TenantHeadOptions,
}

impl Replayer {
    pub(crate) fn record(&mut self, rec: &[u8]) {
        self.stats.records += 1;
        let rec = match decode(rec) {
            Ok(r) => r,
            Err(e) => {
                self.stats.bad_records += 1;
                tracing::warn!(err = %e, "wal replay: skipping undecodable record");
                return;
            }
        };
        self.max_tenant_ref = self.max_tenant_ref.max(rec.tenant());
        match rec {
            Record::Tenants(list) => {
                for (id, name) in list {
                    let Ok(tenant) = TenantId::new(&name) else {
                        self.stats.bad_records += 1;
                        tracing::warn!(tenant = %name, "wal replay: invalid tenant id");
                        continue;
                    };
                    if self.by_ref.contains_key(&id) {
                        continue;
                    }
                    let opts = self.opts.for_tenant(&tenant);
                    let head = Arc::clone(self.heads.entry(tenant.clone()).or_insert_with(|| {
                        let h = Head::new();
                        h.set_options(&opts);
                        Arc::new(h)
                    }));
                    self.by_ref.insert(id, (tenant, head));
                    self.stats.tenants += 1;
                }
            }
            Record::Series { tenant, series } => {
                let Some((_, head)) = self.by_ref.get(&tenant) else {
                    self.stats.bad_records += 1;
                    return;
                };
                for (r, labels) in series {
                    match head.replay_series(SeriesRef(r), &labels) {
                        Ok(s) => {
                            if s.series_ref().0 != r {
                                self.aliases.insert((tenant, r), s);
                            }
                            self.stats.series += 1;
                        }
                        Err(e) => {
                            self.stats.bad_records += 1;
                            tracing::warn!(err = %e, "wal replay: bad series record");
                        }
                    }
                }
            }
            Record::Samples { tenant, samples } => {
                let values: Vec<(u64, i64, SampleValue)> = samples
                    .into_iter()
                    .map(|s| (s.series_ref, s.t, SampleValue::Float(s.v)))
                    .collect();
                self.samples(tenant, values);
            }
            Record::Histograms { tenant, samples } => {
                let n = samples.len();
                // The head only logs valid histograms; anything else is damage the chunk
                // encoder must not see.
                let values: Vec<(u64, i64, SampleValue)> = samples
                    .into_iter()
                    .filter(|s| match &s.h {
                        SampleValue::Histogram(h) => h.validate().is_ok(),
                        SampleValue::FloatHistogram(h) => h.validate().is_ok(),
                        SampleValue::Float(_) => true,
                    })
                    .map(|s| (s.series_ref, s.t, s.h))
                    .collect();
                if values.len() < n {
                    self.stats.bad_records += (n - values.len()) as u64;
                    tracing::warn!(
                        dropped = n - values.len(),
                        "wal replay: skipping invalid native histograms"
                    );
                }
                self.samples(tenant, values);
            }
            Record::Exemplars { tenant, exemplars } => {
                let Some((_, head)) = self.by_ref.get(&tenant) else {
                    self.stats.bad_records += 1;
                    return;
                };
                for e in exemplars {
                    let series = match self.aliases.get(&(tenant, e.series_ref)) {
                        Some(s) => Some(Arc::clone(s)),
                        None => head.series(SeriesRef(e.series_ref)),
                    };
                    let Some(series) = series else {
                        self.stats.unknown_series_samples += 1;
                        continue;
                    };
                    let ex = Exemplar {
                        labels: e.labels,
                        value: e.v,
                        t: e.t,
                    };
                    // Refusals (out of order after a reordered log) just lose the exemplar.
                    if head
                        .exemplars()
                        .add(series.series_ref(), || series.labels(), ex)
                        .is_ok()
                    {
                        self.stats.exemplars += 1;
                    }
                }
            }
            Record::MinValidTime { tenant, t } => {
                let Some((_, head)) = self.by_ref.get(&tenant) else {
                    self.stats.bad_records += 1;
                    return;
                };
                head.restore_blocks_cover(t);
            }
            Record::Metadata { tenant, entries } => {
                let Some((_, head)) = self.by_ref.get(&tenant) else {
                    self.stats.bad_records += 1;
                    return;
                };
                for md in entries {
                    head.metadata().add(md);
                    self.stats.metadata += 1;
                }
            }
        }
    }

    /// Appends samples of one tenant (`(ref, t, value)`, in log order).
    fn samples(&mut self, tenant: u32, samples: Vec<(u64, i64, SampleValue)>) {
        let Some((_, head)) = self.by_ref.get(&tenant) else {
            self.stats.bad_records += 1;
            return;
        };
        let head = Arc::clone(head);
        let (mut mint, mut maxt) = (i64::MAX, i64::MIN);
        let mut i = 0;
        while i < samples.len() {
            let r = samples[i].0;
            // Runs of one series take its lock once.
            let mut j = i + 1;
            while j < samples.len() && samples[j].0 == r {
                j += 1;
            }
            let series = match self.aliases.get(&(tenant, r)) {
                Some(s) => Some(Arc::clone(s)),
                None => head.series(SeriesRef(r)),
            };
            let Some(series) = series else {
                self.stats.unknown_series_samples += (j - i) as u64;
                head.bump_last_ref(SeriesRef(r));
                i = j;
                continue;
            };
            let mut st = series.lock();
            for (_, t, v) in &samples[i..j] {
                match series.append_value_locked(&mut st, *t, v, None) {
                    Ok(res) => {
                        self.stats.samples += 1;
                        if res == AppendResult::Appended {
                            mint = mint.min(*t);
                            maxt = maxt.max(*t);
                        }
                    }
                    Err(SampleRejectKind::OutOfOrder) => {
                        // Reordered concurrent commits, or a sample the head kept in its
                        // out-of-order buffer: merged into the series at the end.
                        self.stats.samples += 1;
                        self.late
                            .entry((tenant, r))
                            .or_insert_with(|| Late {
                                series: Arc::clone(&series),
                                head: Arc::clone(&head),
                                samples: Vec::new(),
                            })
                            .samples
                            .push((*t, v.clone()));
                    }
                    Err(SampleRejectKind::DuplicateTimestamp | SampleRejectKind::TooOld) => {
                        // Cannot come from a head (a repeat is logged only when identical);
                        // keep the first value, as the head did.
                        self.stats.bad_records += 1;
                    }
                }
            }
            drop(st);
            i = j;
        }
        if mint <= maxt {
            head.extend_time_bounds(mint, maxt);
        }
    }

    /// Merges the samples met out of order into their series.
    pub(crate) fn finish(&mut self) {
        for (
            _,
            Late {
                series,
                head,
                samples: extra,
            },
        ) in self.late.drain()
        {
            let lo = extra.iter().map(|s| s.0).min();
            let hi = extra.iter().map(|s| s.0).max();
            series.merge_replayed(extra);
            if let (Some(lo), Some(hi)) = (lo, hi) {
                head.extend_time_bounds(lo, hi);
            }
            self.stats.merged_series += 1;
        }
        self.aliases.clear();
    }
}
