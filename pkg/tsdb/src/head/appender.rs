//! Staged appends: samples are collected per series, then applied in [`HeadAppender::commit`].
//!
//! Staging resolves (or creates) each series once per batch; commit takes each series' lock
//! once per run of its samples.
//!
//! Durability: for a head with a WAL, commit applies the samples in memory, logs every
//! accepted sample (stored ones and identical repeats, so an acknowledged retry is durable
//! even when the first attempt's WAL write failed) plus the records of series and tenant not
//! yet durable, and succeeds only once the WAL has fsynced them. A sample is visible to
//! queries slightly before it is durable; it is acknowledged only after.
//!
//! Ordering: two appenders on one series may apply in memory in one order and reach the WAL
//! in the other. Replay does not depend on that order: samples that arrive out of order are
//! merged into their series at the end of replay (see `crate::replay`). The set of logged
//! samples of a series is exactly the set the head accepted, and all logged samples of one
//! timestamp carry the same value, so the merge rebuilds exactly the acknowledged series.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use strata_model::{Labels, Sample};
use strata_wal::Pending;

use super::exemplars::{Exemplar, ExemplarAdded, ExemplarRejectKind};
use super::metadata::MetricMetadata;
use super::series::{AppendResult, MemSeries, SeriesRef};
use super::value::SampleValue;
use super::Head;
use crate::error::{DbError, SampleRejectKind, TsdbError};
use crate::record::RefSample;
use crate::record::{self, RefExemplar, RefHistogram, SeriesRecords};

/// One sample refused at commit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RejectedSample {
    /// The sample's position in staging order (0 for the first sample staged).
    pub index: usize,
    /// The series it was for.
    pub series: SeriesRef,
    /// The sample's timestamp.
    pub t: i64,
    /// Why it was refused.
    pub kind: SampleRejectKind,
}

/// One exemplar refused at commit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RejectedExemplar {
    /// The exemplar's position in exemplar staging order.
    pub index: usize,
    /// The series it was for.
    pub series: SeriesRef,
    /// The exemplar's timestamp.
    pub t: i64,
    /// Why it was refused.
    pub kind: ExemplarRejectKind,
}

/// What a commit did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CommitOutcome {
    /// Float samples stored.
    pub appended: usize,
    /// Exact repeats of a series' last float sample, accepted without change (retries).
    pub unchanged: usize,
    /// Refused float samples, in staging order.
    pub rejected: Vec<RejectedSample>,
    /// Native histogram samples accepted (stored, or identical repeats).
    pub histograms_accepted: usize,
    /// Refused histogram samples; `index` counts histograms in their staging order.
    pub rejected_histograms: Vec<RejectedSample>,
    /// Exemplars accepted (stored, or identical to their series' newest).
    pub exemplars_accepted: usize,
    /// Refused exemplars.
    pub rejected_exemplars: Vec<RejectedExemplar>,
}

impl CommitOutcome {
    /// Samples accepted, stored or not: what a client counts as success.
    pub fn accepted(&self) -> usize {
        self.appended + self.unchanged
    }
}

/// Stages samples for one head; nothing is visible until [`HeadAppender::commit`]. Dropping
/// the appender discards the staged samples (series it created stay, empty).
pub struct HeadAppender<'a> {
    head: &'a Head,
    /// Runs of consecutive samples for one series: the series and the end of its run in
    /// `samples`.
    runs: Vec<(Arc<MemSeries>, usize)>,
    samples: Vec<Sample>,
    metadata: Vec<MetricMetadata>,
    /// Staged native histograms, in order.
    histograms: Vec<(Arc<MemSeries>, i64, SampleValue)>,
    /// Staged exemplars, in order.
    exemplars: Vec<(Arc<MemSeries>, Exemplar)>,
}

/// A commit applied in memory whose WAL records may still be on their way to disk. Wait on
/// it ([`PendingCommit::wait`] in async code) before acknowledging anything.
#[must_use = "a commit is durable only once waited for"]
pub struct PendingCommit<'a> {
    head: &'a Head,
    outcome: CommitOutcome,
    wal: Option<WalWait>,
}

struct WalWait {
    pending: Pending,
    /// Series whose records this commit logged: durable once it succeeds.
    series: Vec<Arc<MemSeries>>,
    /// Whether this commit logged the tenant record.
    tenant: bool,
}

impl PendingCommit<'_> {
    /// What the commit did in memory (valid whether or not the WAL write succeeds).
    pub fn outcome(&self) -> &CommitOutcome {
        &self.outcome
    }

    fn finish(
        self,
        res: Result<(), strata_wal::WalError>,
        series: Vec<Arc<MemSeries>>,
        tenant: bool,
    ) -> Result<CommitOutcome, DbError> {
        res?;
        for s in &series {
            s.set_wal_logged();
        }
        if tenant {
            if let Some(hw) = self.head.wal() {
                hw.tenant_logged.store(true, Ordering::Release);
            }
        }
        Ok(self.outcome)
    }

    /// Resolves once the commit's records are fsynced; fails (and nothing may be
    /// acknowledged) when the WAL write failed. Never blocks the thread.
    pub async fn wait(mut self) -> Result<CommitOutcome, DbError> {
        match self.wal.take() {
            None => Ok(self.outcome),
            Some(WalWait {
                pending,
                series,
                tenant,
            }) => {
                let res = pending.wait().await;
                self.finish(res, series, tenant)
            }
        }
    }

    /// Like [`PendingCommit::wait`], blocking the calling thread: not for async tasks.
    pub fn wait_blocking(mut self) -> Result<CommitOutcome, DbError> {
        match self.wal.take() {
            None => Ok(self.outcome),
            Some(WalWait {
                pending,
                series,
                tenant,
            }) => {
                let res = pending.wait_blocking();
                self.finish(res, series, tenant)
            }
        }
    }
}

impl<'a> HeadAppender<'a> {
    pub(crate) fn new(head: &'a Head) -> Self {
        Self {
            head,
            runs: Vec::new(),
            samples: Vec::new(),
            metadata: Vec::new(),
            histograms: Vec::new(),
            exemplars: Vec::new(),
        }
    }

    /// Stages a native histogram sample (a [`SampleValue::Histogram`] or
    /// [`SampleValue::FloatHistogram`]; a float is staged like [`HeadAppender::append`]
    /// would, but counted with the histograms) for the series with `labels`, creating the
    /// series if new. Invalid histograms (`Histogram::validate`) are refused, as
    /// Prometheus's `AppendHistogram` does.
    pub fn append_histogram(
        &mut self,
        labels: &Labels,
        t: i64,
        v: SampleValue,
    ) -> Result<SeriesRef, TsdbError> {
        let valid = match &v {
            SampleValue::Histogram(h) => h.validate(),
            SampleValue::FloatHistogram(h) => h.validate(),
            SampleValue::Float(_) => Ok(()),
        };
        valid.map_err(|e| TsdbError::InvalidHistogram(e.to_string()))?;
        let series = self.head.get_or_create_series(labels)?;
        let r = series.series_ref();
        self.histograms.push((series, t, v));
        Ok(r)
    }

    /// The number of histograms staged so far; the next one staged gets this index.
    pub fn staged_histograms(&self) -> usize {
        self.histograms.len()
    }

    /// Stages an exemplar for the series with `labels`, creating the series if new.
    pub fn add_exemplar(&mut self, labels: &Labels, e: Exemplar) -> Result<SeriesRef, TsdbError> {
        let series = self.head.get_or_create_series(labels)?;
        let r = series.series_ref();
        self.exemplars.push((series, e));
        Ok(r)
    }

    /// The number of exemplars staged so far.
    pub fn staged_exemplars(&self) -> usize {
        self.exemplars.len()
    }

    /// The live series for a staged one: head truncation may have removed it since
    /// staging, then the series now holding these labels (created again if need be).
    fn live(&self, staged: &Arc<MemSeries>) -> Arc<MemSeries> {
        let mut series = Arc::clone(staged);
        loop {
            if !series.lock().is_deleted() {
                return series;
            }
            let next = self
                .head
                .get_or_create_series(&series.labels())
                .expect("labels of a staged series were valid when it was created");
            if next.series_ref() == series.series_ref() {
                std::thread::yield_now();
            }
            series = next;
        }
    }

    /// Stages one sample for the series with `labels`, creating the series if new.
    pub fn append(&mut self, labels: &Labels, t: i64, v: f64) -> Result<SeriesRef, TsdbError> {
        self.append_series(labels, [Sample::new(t, v)])
    }

    /// Stages samples (in the order given) for the series with `labels`, creating the series
    /// if new, even when `samples` is empty. Looks the series up by hash first, so an existing
    /// series costs no label copy.
    pub fn append_series(
        &mut self,
        labels: &Labels,
        samples: impl IntoIterator<Item = Sample>,
    ) -> Result<SeriesRef, TsdbError> {
        let series = self.head.get_or_create_series(labels)?;
        let r = series.series_ref();
        self.samples.extend(samples);
        let end = self.samples.len();
        match self.runs.last_mut() {
            Some((prev, prev_end)) if Arc::ptr_eq(prev, &series) => *prev_end = end,
            _ => self.runs.push((series, end)),
        }
        Ok(r)
    }

    /// [`HeadAppender::append_series`] for borrowed `(name, value)` pairs, sorted by name
    /// with unique names and non-empty values, whose [`Labels::stable_hash`] is `hash`
    /// ([`Labels::stable_hash_of_pairs`]). An existing series is found without allocating;
    /// only a new series copies its labels. The push hot path.
    pub fn append_series_pairs(
        &mut self,
        hash: u64,
        pairs: &[(&str, &str)],
        samples: impl IntoIterator<Item = Sample>,
    ) -> Result<SeriesRef, TsdbError> {
        let series = self.head.get_or_create_series_pairs(hash, pairs)?;
        let r = series.series_ref();
        self.samples.extend(samples);
        let end = self.samples.len();
        match self.runs.last_mut() {
            Some((prev, prev_end)) if Arc::ptr_eq(prev, &series) => *prev_end = end,
            _ => self.runs.push((series, end)),
        }
        Ok(r)
    }

    /// Stages metric metadata, stored (and logged) at commit. Entries without a family
    /// name are ignored.
    pub fn add_metadata(&mut self, md: MetricMetadata) {
        if !md.metric_family_name.is_empty() {
            self.metadata.push(md);
        }
    }

    /// The number of samples staged so far; the next sample staged gets this index.
    pub fn staged(&self) -> usize {
        self.samples.len()
    }

    /// Applies the staged samples in memory (valid samples are stored even when others are
    /// refused) and hands the WAL records to the log. The result must be waited on before
    /// acknowledging.
    pub fn commit_pending(self) -> PendingCommit<'a> {
        // Chunks this commit closes go off the heap (no await below: the guard stays on
        // this thread).
        let _arena = super::offheap::enter(self.head.arena());
        let wal = self.head.wal();
        let mut out = CommitOutcome::default();
        let mut logged: Vec<RefSample> = Vec::new();
        let mut new_series: Vec<Arc<MemSeries>> = Vec::new();
        let (mut mint, mut maxt) = (i64::MAX, i64::MIN);
        let mut start = 0;
        for (staged, end) in &self.runs {
            // Head truncation may have removed the series since staging: append to the
            // series now holding these labels (created again if need be).
            let mut series = Arc::clone(staged);
            loop {
                let mut st = series.lock();
                if st.is_deleted() {
                    drop(st);
                    let next = self
                        .head
                        .get_or_create_series(&series.labels())
                        .expect("labels of a staged series were valid when it was created");
                    if next.series_ref() == series.series_ref() {
                        // Truncation is between marking and unlinking it: let it finish.
                        std::thread::yield_now();
                    }
                    series = next;
                    continue;
                }
                if wal.is_some() && !series.wal_logged() {
                    new_series.push(Arc::clone(&series));
                }
                let r = series.series_ref().0;
                // Read under the series lock: truncation raises it before it collects a series'
                // chunks under that lock, so nothing below it is appended after collection.
                let min_valid = self.head.min_valid_time();
                // Out-of-order samples within the window are kept, even below min_valid
                // (block cutting collects them later into an overlapping block).
                let ooo_min = self.head.ooo_min_time();
                for (i, s) in self.samples[start..*end].iter().enumerate() {
                    if s.t < min_valid && ooo_min.is_none_or(|m| s.t < m) {
                        out.rejected.push(RejectedSample {
                            index: start + i,
                            series: series.series_ref(),
                            t: s.t,
                            kind: SampleRejectKind::TooOld,
                        });
                        continue;
                    }
                    match series.append_value_locked(
                        &mut st,
                        s.t,
                        &SampleValue::Float(s.v),
                        ooo_min,
                    ) {
                        Ok(res) => {
                            if res == AppendResult::Appended {
                                out.appended += 1;
                                mint = mint.min(s.t);
                                maxt = maxt.max(s.t);
                            } else {
                                out.unchanged += 1;
                            }
                            if wal.is_some() {
                                logged.push(RefSample {
                                    series_ref: r,
                                    t: s.t,
                                    v: s.v,
                                });
                            }
                        }
                        Err(kind) => out.rejected.push(RejectedSample {
                            index: start + i,
                            series: series.series_ref(),
                            t: s.t,
                            kind,
                        }),
                    }
                }
                drop(st);
                break;
            }
            start = *end;
        }
        let logged_hists = self.apply_histograms(&mut out, &mut new_series, &mut mint, &mut maxt);
        if mint <= maxt {
            self.head.extend_time_bounds(mint, maxt);
        }
        let logged_exemplars = self.apply_exemplars(&mut out, &mut new_series);
        for md in &self.metadata {
            self.head.metadata().add(md.clone());
        }
        let Some(hw) = wal else {
            return PendingCommit {
                head: self.head,
                outcome: out,
                wal: None,
            };
        };
        if logged.is_empty()
            && new_series.is_empty()
            && self.metadata.is_empty()
            && logged_hists.is_empty()
            && logged_exemplars.is_empty()
        {
            return PendingCommit {
                head: self.head,
                outcome: out,
                wal: None,
            };
        }
        let mut records: Vec<Vec<u8>> = Vec::new();
        let tenant = !hw.tenant_logged.load(Ordering::Acquire);
        if tenant {
            records.push(record::tenants_record(&[(
                hw.tenant_ref,
                hw.tenant.as_str(),
            )]));
        }
        if !new_series.is_empty() {
            let mut sr = SeriesRecords::new(hw.tenant_ref);
            for s in &new_series {
                sr.add(s.series_ref().0, s.label_pairs());
            }
            sr.finish(&mut records);
        }
        if !logged.is_empty() {
            record::samples_records(hw.tenant_ref, &logged, &mut records);
        }
        if !logged_hists.is_empty() {
            record::histogram_records(hw.tenant_ref, &logged_hists, &mut records);
        }
        if !logged_exemplars.is_empty() {
            record::exemplar_records(hw.tenant_ref, &logged_exemplars, &mut records);
        }
        if !self.metadata.is_empty() {
            records.push(record::metadata_record(hw.tenant_ref, &self.metadata));
        }
        let pending = hw.wal.log(records);
        PendingCommit {
            head: self.head,
            outcome: out,
            wal: Some(WalWait {
                pending,
                series: new_series,
                tenant,
            }),
        }
    }

    /// Applies the staged histograms; returns the ones to log.
    fn apply_histograms(
        &self,
        out: &mut CommitOutcome,
        new_series: &mut Vec<Arc<MemSeries>>,
        mint: &mut i64,
        maxt: &mut i64,
    ) -> Vec<RefHistogram> {
        let log = self.head.wal().is_some();
        let mut logged = Vec::new();
        let mut known = known_refs(new_series, !self.histograms.is_empty());
        for (i, (staged, t, v)) in self.histograms.iter().enumerate() {
            let mut series = Arc::clone(staged);
            let res = loop {
                let mut st = series.lock();
                if st.is_deleted() {
                    drop(st);
                    series = self.live(&series);
                    continue;
                }
                if log && !series.wal_logged() && known.insert(series.series_ref().0) {
                    new_series.push(Arc::clone(&series));
                }
                // Read under the series lock, as for floats.
                break if *t < self.head.min_valid_time() {
                    Err(SampleRejectKind::TooOld)
                } else {
                    series.append_value_locked(&mut st, *t, v, None)
                };
            };
            match res {
                Ok(r) => {
                    out.histograms_accepted += 1;
                    if r == AppendResult::Appended {
                        *mint = (*mint).min(*t);
                        *maxt = (*maxt).max(*t);
                    }
                    if log {
                        logged.push(RefHistogram {
                            series_ref: series.series_ref().0,
                            t: *t,
                            h: v.clone(),
                        });
                    }
                }
                Err(kind) => out.rejected_histograms.push(RejectedSample {
                    index: i,
                    series: series.series_ref(),
                    t: *t,
                    kind,
                }),
            }
        }
        logged
    }

    /// Adds the staged exemplars to the head's store; returns the ones to log.
    fn apply_exemplars(
        &self,
        out: &mut CommitOutcome,
        new_series: &mut Vec<Arc<MemSeries>>,
    ) -> Vec<RefExemplar> {
        let log = self.head.wal().is_some();
        let mut logged = Vec::new();
        let mut known = known_refs(new_series, !self.exemplars.is_empty());
        for (i, (staged, e)) in self.exemplars.iter().enumerate() {
            let series = self.live(staged);
            let r = series.series_ref();
            match self.head.exemplars().add(r, || series.labels(), e.clone()) {
                Ok(ExemplarAdded::Disabled) => {}
                Ok(ExemplarAdded::Stored | ExemplarAdded::Duplicate) => {
                    out.exemplars_accepted += 1;
                    if log {
                        if !series.wal_logged() && known.insert(series.series_ref().0) {
                            new_series.push(Arc::clone(&series));
                        }
                        logged.push(RefExemplar {
                            series_ref: r.0,
                            t: e.t,
                            v: e.value,
                            labels: e.labels.clone(),
                        });
                    }
                }
                Err(kind) => out.rejected_exemplars.push(RejectedExemplar {
                    index: i,
                    series: r,
                    t: e.t,
                    kind,
                }),
            }
        }
        logged
    }

    /// Applies the staged samples and waits until they are durable (for a head with a WAL).
    /// On `Err`, nothing of this batch may be acknowledged.
    pub async fn commit(self) -> Result<CommitOutcome, DbError> {
        self.commit_pending().wait().await
    }

    /// Like [`HeadAppender::commit`], blocking the calling thread: for threads outside an
    /// async runtime (tools, tests).
    pub fn commit_blocking(self) -> Result<CommitOutcome, DbError> {
        self.commit_pending().wait_blocking()
    }

    /// Discards the staged samples.
    pub fn rollback(self) {}
}

/// The refs of `series` (empty unless `needed`), to log each new series once.
fn known_refs(series: &[Arc<MemSeries>], needed: bool) -> std::collections::HashSet<u64> {
    if !needed {
        return Default::default();
    }
    series.iter().map(|s| s.series_ref().0).collect()
}
