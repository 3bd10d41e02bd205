//! Staged appends: samples are collected per series, then applied in [`HeadAppender::commit`].
//!
//! Staging resolves (or creates) each series once per batch; commit takes each series' lock
//! once per run of its samples. Commit is where the WAL write will go, before the samples
//! become visible, so a crash never loses acknowledged samples.

use std::sync::Arc;

use strata_model::{Labels, Sample};

use super::series::{AppendResult, MemSeries, SeriesRef};
use super::Head;
use crate::error::{SampleRejectKind, TsdbError};

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
}

impl<'a> HeadAppender<'a> {
    pub(crate) fn new(head: &'a Head) -> Self {
        Self {
            head,
            runs: Vec::new(),
            samples: Vec::new(),
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

    /// The number of samples staged so far; the next sample staged gets this index.
    pub fn staged(&self) -> usize {
        self.samples.len()
    }

    /// Applies the staged samples. Valid samples are stored even when others are refused.
    pub fn commit(self) -> CommitOutcome {
        // The WAL write (series records, then samples) belongs here, before anything below.
        let mut out = CommitOutcome::default();
        let (mut mint, mut maxt) = (i64::MAX, i64::MIN);
        let mut start = 0;
        for (series, end) in &self.runs {
            let mut st = series.lock();
            for (i, s) in self.samples[start..*end].iter().enumerate() {
                match series.append_locked(&mut st, s.t, s.v) {
                    Ok(AppendResult::Appended) => {
                        out.appended += 1;
                        mint = mint.min(s.t);
                        maxt = maxt.max(s.t);
                    }
                    Ok(AppendResult::Unchanged) => out.unchanged += 1,
                    Err(kind) => out.rejected.push(RejectedSample {
                        index: start + i,
                        series: series.series_ref(),
                        t: s.t,
                        kind,
                    }),
                }
            }
            drop(st);
            start = *end;
        }
        if out.appended > 0 {
            self.head.extend_time_bounds(mint, maxt);
        }
        out
    }

    /// Discards the staged samples.
    pub fn rollback(self) {}
}
