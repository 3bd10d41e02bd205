//! The head: one tenant's recent samples in memory, as Prometheus's TSDB head.
//!
//! ```text
//!   HeadAppender ──stage──► StripeSeries (hash → MemSeries, created on first sight,
//!        │                                indexed in MemPostings)
//!        └─commit─► MemSeries lock ─► XorAppender (open chunk) ─cut─► closed ChunkMeta
//!   queries ─► MemPostings::postings_for_matchers ─► refs ─► MemSeries ─► chunks
//! ```
//!
//! Locking: series live in striped maps; each series has its own mutex held only while
//! appending to or copying its chunks; the postings index is one `RwLock` taken for writing
//! only when a series is created. No lock is held across series.

pub mod appender;
pub mod metadata;
pub mod postings;
pub mod series;

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::RwLock;
use strata_model::{Labels, Matcher, TenantId};
use strata_wal::Wal;

use crate::error::TsdbError;
use appender::HeadAppender;
use metadata::MetadataStore;
use postings::MemPostings;
use series::{MemSeries, SeriesRef, StripeSeries};

/// One tenant's in-memory head: series, their chunks, the postings index and metadata.
pub struct Head {
    series: StripeSeries,
    postings: RwLock<MemPostings>,
    /// The last ref handed out; refs start at 1.
    last_ref: AtomicU64,
    num_series: AtomicUsize,
    /// Lowest sample timestamp appended, `i64::MAX` while empty.
    min_time: AtomicI64,
    /// Highest sample timestamp appended, `i64::MIN` while empty.
    max_time: AtomicI64,
    /// Samples before this are refused ([`crate::SampleRejectKind::TooOld`]): their range
    /// has been (or is being) written to blocks. `i64::MIN` until the first cut.
    min_valid_time: AtomicI64,
    metadata: MetadataStore,
    /// Where commits log, for heads of a [`crate::Db`] opened on a directory. Set at
    /// creation, or right after replay (replay builds heads before the WAL is open).
    wal: std::sync::OnceLock<HeadWal>,
}

/// A head's link to the ingester's shared WAL.
pub(crate) struct HeadWal {
    pub(crate) wal: Arc<Wal>,
    /// The tenant's id in WAL records.
    pub(crate) tenant_ref: u32,
    pub(crate) tenant: TenantId,
    /// Set once the tenant record is known to be fsynced.
    pub(crate) tenant_logged: AtomicBool,
}

impl Default for Head {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Head {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Head")
            .field("num_series", &self.num_series())
            .field("min_time", &self.min_time())
            .field("max_time", &self.max_time())
            .finish_non_exhaustive()
    }
}

impl Head {
    /// An empty head that keeps nothing on disk.
    pub fn new() -> Self {
        Self::build()
    }

    /// An empty head whose commits are logged to `wal` under `tenant_ref`.
    /// `tenant_logged` tells whether the tenant record is already durable (replay).
    pub(crate) fn with_wal(
        wal: Arc<Wal>,
        tenant: TenantId,
        tenant_ref: u32,
        tenant_logged: bool,
    ) -> Self {
        let h = Self::build();
        h.attach_wal(wal, tenant, tenant_ref, tenant_logged);
        h
    }

    /// Links a replayed head to the WAL (once; later calls do nothing).
    pub(crate) fn attach_wal(
        &self,
        wal: Arc<Wal>,
        tenant: TenantId,
        tenant_ref: u32,
        tenant_logged: bool,
    ) {
        let _ = self.wal.set(HeadWal {
            wal,
            tenant_ref,
            tenant,
            tenant_logged: AtomicBool::new(tenant_logged),
        });
    }

    fn build() -> Self {
        Self {
            series: StripeSeries::new(),
            postings: RwLock::new(MemPostings::new()),
            last_ref: AtomicU64::new(0),
            num_series: AtomicUsize::new(0),
            min_time: AtomicI64::new(i64::MAX),
            max_time: AtomicI64::new(i64::MIN),
            min_valid_time: AtomicI64::new(i64::MIN),
            metadata: MetadataStore::new(),
            wal: std::sync::OnceLock::new(),
        }
    }

    pub(crate) fn wal(&self) -> Option<&HeadWal> {
        self.wal.get()
    }

    /// Starts a batch of appends.
    pub fn appender(&self) -> HeadAppender<'_> {
        HeadAppender::new(self)
    }

    /// The number of series in the head.
    pub fn num_series(&self) -> usize {
        self.num_series.load(Ordering::Relaxed)
    }

    /// The lowest sample timestamp, if any sample was appended.
    pub fn min_time(&self) -> Option<i64> {
        let t = self.min_time.load(Ordering::Acquire);
        (t != i64::MAX).then_some(t)
    }

    /// The highest sample timestamp, if any sample was appended.
    pub fn max_time(&self) -> Option<i64> {
        let t = self.max_time.load(Ordering::Acquire);
        (t != i64::MIN).then_some(t)
    }

    /// Samples before this time are refused as too old (`i64::MIN` until blocks are cut).
    pub fn min_valid_time(&self) -> i64 {
        self.min_valid_time.load(Ordering::Acquire)
    }

    /// Raises the minimum valid time to `t` (never lowers it). Head compaction calls this
    /// before collecting chunks, so no sample below `t` can be appended after collection.
    pub(crate) fn raise_min_valid_time(&self, t: i64) {
        self.min_valid_time.fetch_max(t, Ordering::AcqRel);
    }

    /// Every series' chunks whose samples all lie before `t`, as `(labels, chunks)` sorted by
    /// labels; a series' open chunk ending before `t` is closed first. Series without such
    /// chunks are left out. Call after [`Head::raise_min_valid_time`]`(t)`.
    pub(crate) fn chunks_before(&self, t: i64) -> Vec<(Labels, Vec<strata_storage::ChunkMeta>)> {
        let refs = self.postings_for_matchers(&[]);
        let mut out = Vec::new();
        for r in refs {
            let Some(s) = self.series.get_by_ref(r) else {
                continue;
            };
            let chunks = {
                let mut st = s.lock();
                st.close_open_before(t);
                st.closed_before(t)
            };
            if !chunks.is_empty() {
                out.push((s.labels(), chunks));
            }
        }
        out.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// Drops every closed chunk whose samples all lie before `t` (they are in blocks now)
    /// and removes series left without samples from the maps and the postings index.
    /// Returns `(chunks dropped, series removed)`.
    pub(crate) fn truncate_before(&self, t: i64) -> (usize, usize) {
        let (mut chunks, mut removed) = (0, 0);
        for r in self.postings_for_matchers(&[]) {
            let Some(s) = self.series.get_by_ref(r) else {
                continue;
            };
            let empty = {
                let mut st = s.lock();
                chunks += st.drop_closed_before(t);
                s.set_min_time(st.first_timestamp());
                let empty = st.is_empty();
                if empty {
                    // Appenders holding the series see this under its lock and re-resolve.
                    st.mark_deleted();
                }
                empty
            };
            if empty {
                self.postings.write().delete(r, s.label_pairs());
                self.series.remove(&s);
                self.num_series.fetch_sub(1, Ordering::Relaxed);
                removed += 1;
            }
        }
        // Every sample from now on is at or after the minimum valid time, itself ≥ `t`.
        self.min_time.fetch_max(t, Ordering::AcqRel);
        (chunks, removed)
    }

    /// Tells whether every sample in the head lies within `[mint, maxt]`, so time filtering
    /// can be skipped.
    pub fn within(&self, mint: i64, maxt: i64) -> bool {
        match (self.min_time(), self.max_time()) {
            (Some(lo), Some(hi)) => mint <= lo && hi <= maxt,
            _ => true,
        }
    }

    pub(crate) fn extend_time_bounds(&self, mint: i64, maxt: i64) {
        self.min_time.fetch_min(mint, Ordering::AcqRel);
        self.max_time.fetch_max(maxt, Ordering::AcqRel);
    }

    /// The tenant's metric metadata.
    pub fn metadata(&self) -> &MetadataStore {
        &self.metadata
    }

    /// The series with this ref.
    pub fn series(&self, r: SeriesRef) -> Option<Arc<MemSeries>> {
        self.series.get_by_ref(r)
    }

    /// The series with exactly these labels.
    pub fn series_by_labels(&self, labels: &Labels) -> Option<Arc<MemSeries>> {
        self.series.get_by_labels(labels.stable_hash(), labels)
    }

    /// Finds the series or creates and indexes it. Refuses empty label sets and empty values.
    pub(crate) fn get_or_create_series(
        &self,
        labels: &Labels,
    ) -> Result<Arc<MemSeries>, TsdbError> {
        let hash = labels.stable_hash();
        if let Some(s) = self.series.get_by_labels(hash, labels) {
            return Ok(s);
        }
        if labels.is_empty() {
            return Err(TsdbError::EmptyLabels);
        }
        if let Some(l) = labels.iter().find(|l| l.value.is_empty()) {
            return Err(TsdbError::EmptyLabelValue {
                labels: labels.to_string(),
                name: l.name.clone(),
            });
        }
        let (s, created) = self.series.get_or_create(hash, labels, || {
            // Handing out the ref under the postings lock keeps postings appends in order.
            let mut postings = self.postings.write();
            let r = SeriesRef(self.last_ref.fetch_add(1, Ordering::Relaxed) + 1);
            let interned = postings.add(r, labels);
            MemSeries::new(r, interned, hash)
        });
        if created {
            self.num_series.fetch_add(1, Ordering::Relaxed);
            tracing::trace!(series = %labels, series_ref = s.series_ref().0, "created head series");
        }
        Ok(s)
    }

    /// Recreates a series from a WAL series record under its logged ref (or finds the series
    /// with these labels, which may have another ref). Later refs are handed out above it.
    pub(crate) fn replay_series(
        &self,
        r: SeriesRef,
        labels: &Labels,
    ) -> Result<Arc<MemSeries>, TsdbError> {
        if labels.is_empty() {
            return Err(TsdbError::EmptyLabels);
        }
        let hash = labels.stable_hash();
        let (s, created) = self.series.get_or_create(hash, labels, || {
            let mut postings = self.postings.write();
            let interned = postings.add(r, labels);
            MemSeries::new(r, interned, hash)
        });
        if created {
            self.num_series.fetch_add(1, Ordering::Relaxed);
        }
        self.bump_last_ref(r);
        s.set_wal_logged();
        Ok(s)
    }

    /// Makes sure refs handed out later are above `r` (refs seen in the WAL).
    pub(crate) fn bump_last_ref(&self, r: SeriesRef) {
        self.last_ref.fetch_max(r.0, Ordering::Relaxed);
    }

    /// Sorted refs of the series matching every matcher (every series with no matchers).
    pub fn postings_for_matchers(&self, matchers: &[Matcher]) -> Vec<SeriesRef> {
        self.postings.read().postings_for_matchers(matchers)
    }

    /// The series matching every matcher whose first-to-last sample span overlaps
    /// `[mint, maxt]`, in ref order.
    pub fn select_series(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Vec<Arc<MemSeries>> {
        self.resolve(&self.postings_for_matchers(matchers), mint, maxt)
    }

    /// The live series for `refs` overlapping `[mint, maxt]`.
    pub(crate) fn resolve(&self, refs: &[SeriesRef], mint: i64, maxt: i64) -> Vec<Arc<MemSeries>> {
        refs.iter()
            .filter_map(|&r| self.series.get_by_ref(r))
            .filter(|s| s.overlaps(mint, maxt))
            .collect()
    }

    /// Sorted label names in the index (ignores time).
    pub fn index_label_names(&self) -> Vec<String> {
        self.postings.read().label_names()
    }

    /// Sorted values of label `name` in the index (ignores time).
    pub fn index_label_values(&self, name: &str) -> Vec<String> {
        self.postings.read().label_values(name)
    }
}

#[cfg(test)]
mod tests;
