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

use super::metadata::MetricMetadata;
use super::series::{AppendResult, MemSeries, SeriesRef};
use super::Head;
use crate::error::{DbError, SampleRejectKind, TsdbError};
use crate::record::{self, RefSample, SeriesRecords};

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

/// What a commit did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CommitOutcome {
    /// Samples stored.
    pub appended: usize,
    /// Exact repeats of a series' last sample, accepted without change (retries).
    pub unchanged: usize,
    /// Refused samples, in staging order.
    pub rejected: Vec<RejectedSample>,
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
                for (i, s) in self.samples[start..*end].iter().enumerate() {
                    if s.t < min_valid {
                        out.rejected.push(RejectedSample {
                            index: start + i,
                            series: series.series_ref(),
                            t: s.t,
                            kind: SampleRejectKind::TooOld,
                        });
                        continue;
                    }
                    match series.append_locked(&mut st, s.t, s.v) {
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
        if out.appended > 0 {
            self.head.extend_time_bounds(mint, maxt);
        }
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
        if logged.is_empty() && new_series.is_empty() && self.metadata.is_empty() {
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
