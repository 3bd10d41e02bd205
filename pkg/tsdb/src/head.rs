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
pub mod exemplars;
pub mod metadata;
pub mod offheap;
pub(crate) mod open_chunk;
pub mod postings;
pub mod series;
pub mod state;
pub mod value;

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::RwLock;
use strata_model::{Labels, Matcher, TenantId};
use strata_wal::Wal;

use crate::error::TsdbError;
use appender::HeadAppender;
use exemplars::ExemplarStore;
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
    /// Data before this is known to be in durable blocks (set once a cut's blocks are
    /// written, and by replay of a minimum-valid-time record): what WAL checkpoints may
    /// drop. `i64::MIN` until then.
    blocks_cover: AtomicI64,
    metadata: MetadataStore,
    /// The out-of-order window, ms (0: none); see [`crate::HeadOptions`].
    ooo_window_ms: AtomicI64,
    exemplars: ExemplarStore,
    /// Where commits log, for heads of a [`crate::Db`] opened on a directory. Set at
    /// creation, or right after replay (replay builds heads before the WAL is open).
    wal: std::sync::OnceLock<HeadWal>,
    /// Where closed chunks go off the heap, for heads of a [`crate::Db`] on a directory.
    arena: std::sync::OnceLock<Arc<offheap::ChunkArena>>,
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
            blocks_cover: AtomicI64::new(i64::MIN),
            metadata: MetadataStore::new(),
            ooo_window_ms: AtomicI64::new(0),
            exemplars: ExemplarStore::default(),
            wal: std::sync::OnceLock::new(),
            arena: std::sync::OnceLock::new(),
        }
    }

    /// Applies a tenant's options (out-of-order window, exemplar buffer size).
    pub fn set_options(&self, opts: &crate::HeadOptions) {
        self.ooo_window_ms
            .store(opts.out_of_order_time_window_ms.max(0), Ordering::Release);
        self.exemplars.set_capacity(opts.max_exemplars);
    }

    /// The out-of-order window in ms (0: out-of-order samples are refused).
    pub fn out_of_order_window_ms(&self) -> i64 {
        self.ooo_window_ms.load(Ordering::Acquire)
    }

    /// The oldest timestamp an out-of-order float sample may have now: the newest sample
    /// known (the head's, or just below the minimum valid time when blocks were cut since,
    /// e.g. after a flush and restart left the head empty) minus the window; `None` when
    /// the window is 0 or nothing is known.
    pub(crate) fn ooo_min_time(&self) -> Option<i64> {
        let w = self.out_of_order_window_ms();
        if w <= 0 {
            return None;
        }
        let mvt = self.min_valid_time();
        let cut = (mvt != i64::MIN).then(|| mvt - 1);
        let newest = match (self.max_time(), cut) {
            (Some(a), Some(b)) => a.max(b),
            (a, b) => a.or(b)?,
        };
        Some(newest.saturating_sub(w))
    }

    /// The tenant's exemplars.
    pub fn exemplars(&self) -> &ExemplarStore {
        &self.exemplars
    }

    pub(crate) fn wal(&self) -> Option<&HeadWal> {
        self.wal.get()
    }

    /// Sends this head's closed chunks to `arena` from now on (once; later calls do nothing).
    pub(crate) fn attach_arena(&self, arena: Arc<offheap::ChunkArena>) {
        let _ = self.arena.set(arena);
    }

    /// The store closed chunks go to, if any.
    pub(crate) fn arena(&self) -> Option<&Arc<offheap::ChunkArena>> {
        self.arena.get()
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

    /// Data before this time is in durable blocks (`i64::MIN`: nothing known).
    pub(crate) fn blocks_cover(&self) -> i64 {
        self.blocks_cover.load(Ordering::Acquire)
    }

    /// Records that data before `t` is in durable blocks (replay of a minimum-valid-time
    /// record): raises the minimum valid time too.
    pub(crate) fn restore_blocks_cover(&self, t: i64) {
        self.raise_min_valid_time(t);
        self.blocks_cover.fetch_max(t, Ordering::AcqRel);
    }

    /// Once a cut's blocks are durable: logs the minimum valid time to the WAL (with the
    /// tenant record if that is not yet durable), waits for the fsync, then lets WAL
    /// checkpoints drop what lies before it. A head without a WAL only records it.
    pub(crate) fn log_min_valid_time(&self) -> Result<(), crate::error::DbError> {
        let Some(hw) = self.wal() else {
            self.blocks_cover
                .fetch_max(self.min_valid_time(), Ordering::AcqRel);
            return Ok(());
        };
        let mut recs = Vec::new();
        if !hw.tenant_logged.load(Ordering::Acquire) {
            recs.push(crate::record::tenants_record(&[(
                hw.tenant_ref,
                hw.tenant.as_str(),
            )]));
        }
        recs.push(crate::record::min_valid_time_record(
            hw.tenant_ref,
            self.min_valid_time(),
        ));
        let t = self.min_valid_time();
        hw.wal.log(recs).wait_blocking()?;
        self.blocks_cover.fetch_max(t, Ordering::AcqRel);
        Ok(())
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
        // The lowest timestamp left: out-of-order samples accepted after collection may
        // lie below `t`.
        let mut lowest = t;
        for r in self.postings_for_matchers(&[]) {
            let Some(s) = self.series.get_by_ref(r) else {
                continue;
            };
            let empty = {
                let mut st = s.lock();
                chunks += st.drop_closed_before(t);
                let first = st.first_timestamp();
                s.set_min_time(first);
                if let Some(f) = first {
                    lowest = lowest.min(f);
                }
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
        // Every in-order sample from now on is at or after the minimum valid time, itself
        // ≥ `t`; out-of-order ones lower are counted in `lowest` (or lower it themselves).
        self.min_time.fetch_max(lowest, Ordering::AcqRel);
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

    /// Whether a series with these borrowed, sorted `(name, value)` pairs exists (`hash` is
    /// their [`Labels::stable_hash_of_pairs`]); allocates nothing.
    pub fn has_series_pairs(&self, hash: u64, pairs: &[(&str, &str)]) -> bool {
        self.series.get_by_pairs(hash, pairs).is_some()
    }

    /// [`Head::get_or_create_series`] for borrowed `(name, value)` pairs sorted by name with
    /// unique names, whose [`Labels::stable_hash`] the caller passes (see
    /// [`Labels::stable_hash_of_pairs`]). An existing series is found without allocating; only a new
    /// one copies the labels.
    pub(crate) fn get_or_create_series_pairs(
        &self,
        hash: u64,
        pairs: &[(&str, &str)],
    ) -> Result<Arc<MemSeries>, TsdbError> {
        debug_assert_eq!(hash, Labels::stable_hash_of_pairs(pairs.iter().copied()));
        if let Some(s) = self.series.get_by_pairs(hash, pairs) {
            return Ok(s);
        }
        let labels = Labels::new(
            pairs
                .iter()
                .map(|&(n, v)| strata_model::Label::new(n, v))
                .collect(),
        );
        self.get_or_create_series(&labels)
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
