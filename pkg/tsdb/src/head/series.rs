//! In-memory series (`MemSeries`) and the striped maps that find them by label hash or by
//! [`SeriesRef`].
//!
//! A series' samples live in chunks: closed chunks are immutable [`ChunkMeta`]s (cheap to
//! clone for queries), the open one is an XOR, histogram or float histogram appender
//! (`open_chunk`, which says when chunks are cut: never across a [`CHUNK_RANGE_MS`]-aligned
//! window, so that blocks cut later on those boundaries never split a chunk). The sample
//! state, out-of-order buffer included, is [`SeriesState`] (`state`).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;

use parking_lot::{Mutex, MutexGuard, RwLock};
use strata_model::Labels;
use strata_storage::ChunkMeta;

use super::value::SampleValue;
use crate::error::SampleRejectKind;

/// The width of the aligned windows chunks never straddle: two hours, the block range.
pub const CHUNK_RANGE_MS: i64 = 2 * 60 * 60 * 1000;

/// Identifies a series within one head. Refs are never reused while the head lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SeriesRef(pub u64);

/// What appending one sample did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppendResult {
    /// The sample was stored.
    Appended,
    /// The sample repeats the last one exactly (same timestamp, same value bits): a retry,
    /// accepted without storing anything.
    Unchanged,
}

/// A series' labels with strings shared through the head's symbol table (the postings
/// index keys), sorted by name.
pub type InternedLabels = Box<[(Arc<str>, Arc<str>)]>;

/// One series in the head: immutable identity plus mutable sample state behind its own lock.
#[derive(Debug)]
pub struct MemSeries {
    series_ref: SeriesRef,
    labels: InternedLabels,
    hash: u64,
    /// First sample's timestamp, `i64::MAX` while empty. Read without the lock by label queries.
    min_time: AtomicI64,
    /// Last sample's timestamp, `i64::MIN` while empty.
    max_time: AtomicI64,
    /// Set once the series record is known to be fsynced in the WAL, so commits stop
    /// logging it. Only a successful WAL commit (or replay) sets it.
    wal_logged: AtomicBool,
    state: Mutex<SeriesState>,
}

pub use super::state::SeriesState;

impl MemSeries {
    /// A new, empty series; `labels` must be sorted by name with unique names.
    pub(crate) fn new(series_ref: SeriesRef, labels: InternedLabels, hash: u64) -> Self {
        Self {
            series_ref,
            labels,
            hash,
            min_time: AtomicI64::new(i64::MAX),
            max_time: AtomicI64::new(i64::MIN),
            wal_logged: AtomicBool::new(false),
            state: Mutex::new(SeriesState::default()),
        }
    }

    /// Tells whether the series record is durable in the WAL.
    pub(crate) fn wal_logged(&self) -> bool {
        self.wal_logged.load(Ordering::Acquire)
    }

    /// Records that the series record is durable in the WAL.
    pub(crate) fn set_wal_logged(&self) {
        self.wal_logged.store(true, Ordering::Release);
    }

    /// Merges samples that replay met out of order into the series and re-encodes its
    /// chunks, so the result is what in-order appends would have built (out-of-order
    /// samples the head held apart end up in the in-order chunks).
    pub(crate) fn merge_replayed(&self, extra: Vec<(i64, SampleValue)>) {
        let mut st = self.state.lock();
        let mut all = st.all_samples();
        all.extend(extra);
        // Every logged sample of a timestamp carries the same value (the head accepts a
        // repeat only when identical), so keeping any one of them is exact.
        all.sort_by_key(|s| s.0);
        all.dedup_by_key(|s| s.0);
        let deleted = st.is_deleted();
        *st = SeriesState::default();
        if deleted {
            st.mark_deleted();
        }
        for (t, v) in &all {
            // Sorted and unique: every append succeeds.
            let _ = st.append_value(*t, v, None);
        }
        if let (Some(first), Some(last)) = (all.first(), all.last()) {
            self.min_time.store(first.0, Ordering::Release);
            self.max_time.store(last.0, Ordering::Release);
        }
    }

    /// The series' ref.
    pub fn series_ref(&self) -> SeriesRef {
        self.series_ref
    }

    /// The series' labels, as an owned set (copies the strings).
    pub fn labels(&self) -> Labels {
        Labels::from_sorted(
            self.labels
                .iter()
                .map(|(n, v)| strata_model::Label::new(&**n, &**v))
                .collect(),
        )
    }

    /// The series' label pairs in name order, without copying.
    pub fn label_pairs(&self) -> impl ExactSizeIterator<Item = (&str, &str)> + '_ {
        self.labels.iter().map(|(n, v)| (&**n, &**v))
    }

    /// The value of label `name`, if present.
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .binary_search_by(|(n, _)| (**n).cmp(name))
            .ok()
            .map(|i| &*self.labels[i].1)
    }

    /// Tells whether the series' labels are exactly `labels`.
    pub fn has_labels(&self, labels: &Labels) -> bool {
        self.labels.len() == labels.len()
            && self
                .labels
                .iter()
                .zip(labels)
                .all(|((n, v), l)| **n == *l.name && **v == *l.value)
    }

    /// Tells whether the series' labels are exactly `pairs` (`(name, value)` in name
    /// order), compared in place: the borrowed twin of [`MemSeries::has_labels`].
    pub fn has_label_pairs(&self, pairs: &[(&str, &str)]) -> bool {
        self.labels.len() == pairs.len()
            && self
                .labels
                .iter()
                .zip(pairs)
                .all(|((n, v), (pn, pv))| **n == **pn && **v == **pv)
    }

    /// The label set's [`Labels::stable_hash`].
    pub fn hash(&self) -> u64 {
        self.hash
    }

    /// First sample's timestamp (`i64::MAX` while empty).
    pub fn min_time(&self) -> i64 {
        self.min_time.load(Ordering::Acquire)
    }

    /// Last sample's timestamp (`i64::MIN` while empty).
    pub fn max_time(&self) -> i64 {
        self.max_time.load(Ordering::Acquire)
    }

    /// Tells whether the series has samples within `[mint, maxt]`'s span (by its first and
    /// last timestamps; a gap inside the series may still leave it without samples there).
    pub fn overlaps(&self, mint: i64, maxt: i64) -> bool {
        self.min_time() <= maxt && self.max_time() >= mint
    }

    /// Locks the sample state. Appends go through [`MemSeries::append_value_locked`] so the time
    /// bounds stay in step.
    pub(crate) fn lock(&self) -> MutexGuard<'_, SeriesState> {
        self.state.lock()
    }

    /// Appends a sample of any kind under an already held lock and updates the lock-free
    /// time bounds. `ooo_min`: see [`SeriesState::append_value`].
    pub(crate) fn append_value_locked(
        &self,
        state: &mut SeriesState,
        t: i64,
        v: &SampleValue,
        ooo_min: Option<i64>,
    ) -> Result<AppendResult, SampleRejectKind> {
        let r = state.append_value(t, v, ooo_min)?;
        if r == AppendResult::Appended {
            // Writers hold the series lock, so load-then-store cannot lose an update.
            if t < self.min_time.load(Ordering::Relaxed) {
                self.min_time.store(t, Ordering::Release);
            }
            if t > self.max_time.load(Ordering::Relaxed) {
                self.max_time.store(t, Ordering::Release);
            }
        }
        Ok(r)
    }

    /// The chunks overlapping `[mint, maxt]`.
    pub fn chunks(&self, mint: i64, maxt: i64) -> Vec<ChunkMeta> {
        self.state.lock().chunks(mint, maxt)
    }

    /// Resets the lock-free first timestamp after truncation (`None`: the series is empty).
    pub(crate) fn set_min_time(&self, t: Option<i64>) {
        self.min_time
            .store(t.unwrap_or(i64::MAX), Ordering::Release);
    }
}

/// Mixes a u64 key (a label hash or a sequential ref) into a well-spread hash. Cheaper than
/// SipHash; the keys are not attacker-chosen strings.
#[derive(Default, Clone, Copy)]
pub(crate) struct U64Hasher(u64);

impl Hasher for U64Hasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }

    fn write_u64(&mut self, x: u64) {
        // Fibonacci hashing then a fold, so both high and low bits vary.
        let m = (self.0 ^ x).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        self.0 = m ^ (m >> 29);
    }
}

type U64Map<K, V> = HashMap<K, V, BuildHasherDefault<U64Hasher>>;

/// One stripe of the ref → series map.
type RefStripe = RwLock<U64Map<u64, Arc<MemSeries>>>;

/// Series with the same label hash: one in the common case, more on a collision.
#[derive(Default)]
struct HashStripe {
    unique: U64Map<u64, Arc<MemSeries>>,
    conflicts: U64Map<u64, Vec<Arc<MemSeries>>>,
}

impl HashStripe {
    fn get(&self, hash: u64, labels: &Labels) -> Option<&Arc<MemSeries>> {
        if let Some(s) = self.unique.get(&hash) {
            if s.has_labels(labels) {
                return Some(s);
            }
            return self
                .conflicts
                .get(&hash)
                .and_then(|v| v.iter().find(|s| s.has_labels(labels)));
        }
        None
    }

    /// [`HashStripe::get`] for borrowed `(name, value)` pairs.
    fn get_pairs(&self, hash: u64, pairs: &[(&str, &str)]) -> Option<&Arc<MemSeries>> {
        let s = self.unique.get(&hash)?;
        if s.has_label_pairs(pairs) {
            return Some(s);
        }
        self.conflicts
            .get(&hash)
            .and_then(|v| v.iter().find(|s| s.has_label_pairs(pairs)))
    }

    fn insert(&mut self, s: Arc<MemSeries>) {
        use std::collections::hash_map::Entry;
        match self.unique.entry(s.hash) {
            Entry::Vacant(e) => {
                e.insert(s);
            }
            Entry::Occupied(_) => self.conflicts.entry(s.hash).or_default().push(s),
        }
    }
}

/// The number of lock stripes; a power of two.
const STRIPES: usize = 128;

/// All series of a head, findable by label hash and by ref, each map split into
/// [`STRIPES`] separately locked parts so parallel pushes rarely contend.
pub(crate) struct StripeSeries {
    by_hash: Box<[RwLock<HashStripe>]>,
    by_ref: Box<[RefStripe]>,
}

impl StripeSeries {
    pub(crate) fn new() -> Self {
        Self {
            by_hash: (0..STRIPES)
                .map(|_| RwLock::new(HashStripe::default()))
                .collect(),
            by_ref: (0..STRIPES)
                .map(|_| RwLock::new(U64Map::default()))
                .collect(),
        }
    }

    fn hash_stripe(&self, hash: u64) -> &RwLock<HashStripe> {
        // The low bits of xxh3 are as good as any.
        &self.by_hash[(hash as usize) & (STRIPES - 1)]
    }

    fn ref_stripe(&self, r: SeriesRef) -> &RefStripe {
        &self.by_ref[(r.0 as usize) & (STRIPES - 1)]
    }

    /// The series with exactly these labels, if it exists.
    pub(crate) fn get_by_labels(&self, hash: u64, labels: &Labels) -> Option<Arc<MemSeries>> {
        self.hash_stripe(hash).read().get(hash, labels).cloned()
    }

    /// The series with exactly these `(name, value)` pairs (name order), if it exists.
    pub(crate) fn get_by_pairs(&self, hash: u64, pairs: &[(&str, &str)]) -> Option<Arc<MemSeries>> {
        self.hash_stripe(hash)
            .read()
            .get_pairs(hash, pairs)
            .cloned()
    }

    /// The series with this ref.
    pub(crate) fn get_by_ref(&self, r: SeriesRef) -> Option<Arc<MemSeries>> {
        self.ref_stripe(r).read().get(&r.0).cloned()
    }

    /// Finds the series or creates it with `create` (which must index it and give it a
    /// fresh ref), under the hash stripe's lock so two pushes never create the same series.
    /// Returns whether it was created.
    pub(crate) fn get_or_create(
        &self,
        hash: u64,
        labels: &Labels,
        create: impl FnOnce() -> MemSeries,
    ) -> (Arc<MemSeries>, bool) {
        if let Some(s) = self.get_by_labels(hash, labels) {
            return (s, false);
        }
        let mut stripe = self.hash_stripe(hash).write();
        // Another push may have created it between the two locks.
        if let Some(s) = stripe.get(hash, labels) {
            return (Arc::clone(s), false);
        }
        let s = Arc::new(create());
        debug_assert!(s.has_labels(labels) && s.hash == hash);
        stripe.insert(Arc::clone(&s));
        // Lock order: hash stripe, then (in `create`) postings, then ref stripe; nothing takes
        // them the other way round.
        self.ref_stripe(s.series_ref)
            .write()
            .insert(s.series_ref.0, Arc::clone(&s));
        (s, true)
    }

    /// Removes the series from both maps (head truncation); it must be marked deleted first.
    pub(crate) fn remove(&self, s: &MemSeries) {
        {
            let mut guard = self.hash_stripe(s.hash).write();
            let stripe = &mut *guard;
            if let Some(u) = stripe.unique.get(&s.hash) {
                if u.series_ref == s.series_ref {
                    stripe.unique.remove(&s.hash);
                    // Promote a colliding series so lookups by hash still find it.
                    if let Some(list) = stripe.conflicts.get_mut(&s.hash) {
                        if let Some(next) = list.pop() {
                            stripe.unique.insert(s.hash, next);
                        }
                        if list.is_empty() {
                            stripe.conflicts.remove(&s.hash);
                        }
                    }
                } else if let Some(list) = stripe.conflicts.get_mut(&s.hash) {
                    list.retain(|c| c.series_ref != s.series_ref);
                    if list.is_empty() {
                        stripe.conflicts.remove(&s.hash);
                    }
                }
            }
        }
        self.ref_stripe(s.series_ref)
            .write()
            .remove(&s.series_ref.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples_of(st: &SeriesState) -> Vec<(i64, f64)> {
        let mut out = Vec::new();
        for c in st.chunks(i64::MIN, i64::MAX) {
            let mut it = c.chunk.xor_iter().expect("xor chunk");
            out.extend(it.by_ref().map(|s| (s.t, s.v)));
            assert!(it.err().is_none());
        }
        out
    }

    #[test]
    fn cuts_every_120_samples() {
        let mut st = SeriesState::default();
        for i in 0..250 {
            assert_eq!(st.append(i * 1000, i as f64), Ok(AppendResult::Appended));
        }
        let chunks = st.chunks(i64::MIN, i64::MAX);
        let counts: Vec<u16> = chunks.iter().map(|c| c.chunk.num_samples()).collect();
        assert_eq!(counts, vec![120, 120, 10]);
        assert_eq!(chunks[0].min_time, 0);
        assert_eq!(chunks[0].max_time, 119_000);
        assert_eq!(chunks[1].min_time, 120_000);
        assert_eq!(chunks[2].max_time, 249_000);
        assert_eq!(samples_of(&st).len(), 250);
    }

    #[test]
    fn cuts_at_aligned_two_hour_boundary() {
        let mut st = SeriesState::default();
        let b = CHUNK_RANGE_MS;
        for t in [b - 2000, b - 1000, b, b + 1000] {
            st.append(t, 1.0).expect("in order");
        }
        let chunks = st.chunks(i64::MIN, i64::MAX);
        assert_eq!(chunks.len(), 2);
        assert_eq!(
            (chunks[0].min_time, chunks[0].max_time),
            (b - 2000, b - 1000)
        );
        assert_eq!((chunks[1].min_time, chunks[1].max_time), (b, b + 1000));
        // Negative times align too (floor division).
        let mut st = SeriesState::default();
        st.append(-1, 1.0).expect("in order");
        st.append(0, 1.0).expect("in order");
        assert_eq!(st.num_chunks(), 2);
    }

    #[test]
    fn append_rules() {
        let mut st = SeriesState::default();
        assert_eq!(st.append(10, 1.0), Ok(AppendResult::Appended));
        assert_eq!(st.append(5, 1.0), Err(SampleRejectKind::OutOfOrder));
        assert_eq!(
            st.append(10, 2.0),
            Err(SampleRejectKind::DuplicateTimestamp)
        );
        assert_eq!(st.append(10, 1.0), Ok(AppendResult::Unchanged));
        assert_eq!(st.append(20, f64::NAN), Ok(AppendResult::Appended));
        assert_eq!(st.append(20, f64::NAN), Ok(AppendResult::Unchanged));
        assert_eq!(
            st.append(20, strata_model::STALE_NAN),
            Err(SampleRejectKind::DuplicateTimestamp)
        );
        assert_eq!(
            st.append(30, strata_model::STALE_NAN),
            Ok(AppendResult::Appended)
        );
        assert_eq!(
            st.append(30, strata_model::STALE_NAN),
            Ok(AppendResult::Unchanged)
        );
        let got = samples_of(&st);
        assert_eq!(got.len(), 3);
        assert!(strata_model::is_stale_nan(got[2].1));
    }

    #[test]
    fn chunks_filter_by_time() {
        let mut st = SeriesState::default();
        for i in 0..240 {
            st.append(i, 0.0).expect("in order");
        }
        assert_eq!(st.chunks(0, 10).len(), 1);
        assert_eq!(st.chunks(119, 120).len(), 2);
        assert_eq!(st.chunks(200, 1000).len(), 1);
        assert!(st.chunks(1000, 2000).is_empty());
    }

    #[test]
    fn hash_collisions_keep_series_apart() {
        let ss = StripeSeries::new();
        let a = Labels::from_pairs([("a", "1")]);
        let b = Labels::from_pairs([("a", "2")]);
        let make = |r: u64, l: &Labels| {
            let interned: InternedLabels = l
                .iter()
                .map(|l| (Arc::from(&*l.name), Arc::from(&*l.value)))
                .collect();
            move || MemSeries::new(SeriesRef(r), interned, 42)
        };
        // Force both under the same hash.
        let (sa, created_a) = ss.get_or_create(42, &a, make(1, &a));
        let (sb, created_b) = ss.get_or_create(42, &b, make(2, &b));
        assert!(created_a && created_b);
        assert_ne!(sa.series_ref(), sb.series_ref());
        let (sa2, created) = ss.get_or_create(42, &a, make(3, &a));
        assert!(!created);
        assert_eq!(sa2.series_ref(), sa.series_ref());
        assert_eq!(
            ss.get_by_labels(42, &b).map(|s| s.series_ref()),
            Some(SeriesRef(2))
        );
        assert_eq!(
            ss.get_by_ref(SeriesRef(2)).map(|s| s.labels()),
            Some(b.clone())
        );
        let s = ss.get_by_ref(SeriesRef(2)).expect("series 2");
        assert_eq!(s.label("a"), Some("2"));
        assert_eq!(s.label("b"), None);
        assert!(s.has_labels(&b) && !s.has_labels(&a));
    }
}
