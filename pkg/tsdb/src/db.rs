//! Heads of all tenants, created on first write, and the one WAL they share.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::RwLock;
use strata_model::TenantId;
use strata_wal::{CheckpointStats, Wal, WalObserver, WalOptions};

use crate::blocks::{BlockLoadStats, TenantBlocks};
use crate::checkpoint::HeadCompactor;
use crate::db_querier::DbQuerier;
use crate::error::DbError;
use crate::head::Head;
use crate::options::TenantHeadOptions;
use crate::replay::{ReplayStats, Replayer};

/// How to open a [`Db`] on disk.
#[derive(Clone, Default)]
pub struct DbOptions {
    /// The WAL directory; `None` means `<dir>/wal`.
    pub wal_dir: Option<PathBuf>,
    /// WAL segment size in bytes (a positive multiple of 32 KiB); 0 means 128 MiB.
    pub wal_segment_size: u64,
    /// Metrics hooks for the WAL.
    pub wal_observer: Option<Arc<dyn WalObserver>>,
    /// The file layer the WAL, the block writer and block directory changes go through:
    /// the real file system by default; power-loss tests put `strata_vfs::CrashFs` here.
    pub fs: strata_vfs::SharedFs,
    /// Per-tenant head options (out-of-order window, exemplars).
    pub head: TenantHeadOptions,
}

impl std::fmt::Debug for DbOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DbOptions")
            .field("wal_dir", &self.wal_dir)
            .field("wal_segment_size", &self.wal_segment_size)
            .field("fs", &self.fs)
            .field("head", &self.head)
            .finish_non_exhaustive()
    }
}

/// Every tenant's [`Head`], and for a database opened on disk the WAL their commits go to.
/// A tenant's head appears on its first write and lives as long as the `Db` (no head
/// compaction or tenant eviction yet).
#[derive(Debug, Default)]
pub struct Db {
    heads: RwLock<HashMap<TenantId, Arc<Head>>>,
    wal: Option<Arc<Wal>>,
    /// The next tenant id for WAL records; taken under the `heads` write lock.
    next_tenant_ref: AtomicU32,
    replay: ReplayStats,
    /// `<dir>/tsdb`, holding `<tenant>/<ULID>/` blocks; `None` in memory.
    blocks_dir: Option<PathBuf>,
    /// Each tenant's open blocks, sorted by ULID (creation order).
    blocks: RwLock<TenantBlocks>,
    block_load: BlockLoadStats,
    /// Serialises head compactions.
    compaction: parking_lot::Mutex<()>,
    /// The file layer blocks are written through.
    fs: strata_vfs::SharedFs,
    /// Options of the heads created from now on.
    head_opts: TenantHeadOptions,
    /// Closed head chunks off the heap (`<dir>/chunks_head`); `None` in memory.
    arena: Option<Arc<crate::head::offheap::ChunkArena>>,
}

impl Db {
    /// An empty database kept only in memory.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty in-memory database whose heads take `opts`.
    pub fn with_head_options(opts: TenantHeadOptions) -> Self {
        Self {
            head_opts: opts,
            ..Self::default()
        }
    }

    /// Opens a database on `dir`: opens every tenant's blocks under `<dir>/tsdb/<tenant>/`
    /// (removing `.tmp-for-creation` leftovers; a block that fails to open is moved to
    /// `<dir>/tsdb/<tenant>/quarantine/`, counted in [`Db::block_load_stats`], and the rest
    /// are served), replays the WAL (checkpoint, then segments; damage is repaired as
    /// `strata_wal` describes and counted in [`Db::replay_stats`]), rebuilding every
    /// tenant's head, then logs every later commit to it.
    pub fn open(dir: &Path, opts: DbOptions) -> Result<Self, DbError> {
        let start = Instant::now();
        let blocks_dir = dir.join("tsdb");
        let (blocks, block_load) = crate::blocks::load(&*opts.fs, &blocks_dir)?;
        tracing::info!(
            dir = %blocks_dir.display(),
            loaded = block_load.loaded,
            quarantined = block_load.quarantined,
            tmp_removed = block_load.tmp_removed,
            "tsdb: blocks opened"
        );
        let wal_dir = opts.wal_dir.clone().unwrap_or_else(|| dir.join("wal"));
        let wal_opts = WalOptions {
            segment_size: if opts.wal_segment_size == 0 {
                strata_wal::format::DEFAULT_SEGMENT_SIZE
            } else {
                opts.wal_segment_size
            },
            observer: opts.wal_observer.clone(),
            fs: opts.fs.clone(),
        };
        let arena = Arc::new(crate::head::offheap::ChunkArena::open(
            &dir.join("chunks_head"),
        )?);
        // Chunks closed during replay go off the heap too.
        let replay_arena = crate::head::offheap::enter(Some(&arena));
        tracing::info!(wal_dir = %wal_dir.display(), "tsdb: replaying WAL");
        let mut rp = Replayer::default();
        rp.opts = opts.head.clone();
        let (wal, report) = Wal::open(&wal_dir, wal_opts, &mut |rec| rp.record(rec))?;
        rp.finish();
        let wal = Arc::new(wal);
        let mut stats = rp.stats;
        stats.corruptions = report.corruptions.len() as u64;
        stats.torn_tail = report.torn_tail;
        stats.dropped_bytes = report.dropped_bytes;
        stats.checkpoint = report.checkpoint;
        stats.duration = start.elapsed();
        drop(replay_arena);
        for (id, (tenant, head)) in &rp.by_ref {
            head.attach_wal(Arc::clone(&wal), tenant.clone(), *id, true);
            head.attach_arena(Arc::clone(&arena));
        }
        let next = rp.max_tenant_ref.saturating_add(1);
        tracing::info!(
            tenants = stats.tenants,
            series = stats.series,
            samples = stats.samples,
            records = stats.records,
            merged_series = stats.merged_series,
            unknown_series_samples = stats.unknown_series_samples,
            bad_records = stats.bad_records,
            corruptions = stats.corruptions,
            took = ?stats.duration,
            "tsdb: WAL replayed"
        );
        Ok(Self {
            heads: RwLock::new(rp.heads),
            wal: Some(wal),
            next_tenant_ref: AtomicU32::new(next),
            replay: stats,
            blocks_dir: Some(blocks_dir),
            blocks: RwLock::new(blocks),
            block_load,
            compaction: parking_lot::Mutex::new(()),
            head_opts: opts.head,
            fs: opts.fs,
            arena: Some(arena),
        })
    }

    /// What opening the blocks found (all zero for an in-memory database).
    pub fn block_load_stats(&self) -> &BlockLoadStats {
        &self.block_load
    }

    /// The root of the blocks, `<dir>/tsdb`, for a database opened on disk.
    pub fn blocks_dir(&self) -> Option<PathBuf> {
        self.blocks_dir.clone()
    }

    /// The tenant's open blocks, oldest first.
    pub fn blocks(&self, tenant: &TenantId) -> Vec<Arc<strata_block::Block>> {
        self.blocks.read().get(tenant).cloned().unwrap_or_default()
    }

    pub(crate) fn add_blocks(&self, tenant: &TenantId, new: Vec<Arc<strata_block::Block>>) {
        if new.is_empty() {
            return;
        }
        let mut all = self.blocks.write();
        let list = all.entry(tenant.clone()).or_default();
        list.extend(new);
        list.sort_by_key(|b| b.ulid());
    }

    /// The file layer blocks are written through.
    pub(crate) fn fs(&self) -> &strata_vfs::SharedFs {
        &self.fs
    }

    pub(crate) fn compaction_lock(&self) -> parking_lot::MutexGuard<'_, ()> {
        self.compaction.lock()
    }

    /// A querier over the tenant's head and its blocks overlapping `[mint, maxt]`; empty
    /// when the tenant has neither.
    pub fn querier(&self, tenant: &TenantId, mint: i64, maxt: i64) -> DbQuerier {
        let blocks = self
            .blocks
            .read()
            .get(tenant)
            .map(|l| {
                l.iter()
                    .filter(|b| b.overlaps(mint, maxt))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        DbQuerier::new(self.head(tenant), blocks)
    }

    /// What replay found at open (all zero for an in-memory database).
    pub fn replay_stats(&self) -> &ReplayStats {
        &self.replay
    }

    /// The WAL, for a database opened on disk.
    pub fn wal(&self) -> Option<&Wal> {
        self.wal.as_deref()
    }

    /// The tenant's head, if it has written anything.
    pub fn head(&self, tenant: &TenantId) -> Option<Arc<Head>> {
        self.heads.read().get(tenant).cloned()
    }

    /// The tenant's head, created if new.
    pub fn get_or_create_head(&self, tenant: &TenantId) -> Arc<Head> {
        if let Some(h) = self.head(tenant) {
            return h;
        }
        let mut heads = self.heads.write();
        let h = heads.entry(tenant.clone()).or_insert_with(|| {
            tracing::info!(tenant = %tenant, "created tenant head");
            let h = match &self.wal {
                // One id per tenant per process; 2^32 tenants cannot fit in memory.
                Some(wal) => Head::with_wal(
                    Arc::clone(wal),
                    tenant.clone(),
                    self.next_tenant_ref.fetch_add(1, Ordering::Relaxed),
                    false,
                ),
                None => Head::new(),
            };
            h.set_options(&self.head_opts.for_tenant(tenant));
            if let Some(a) = &self.arena {
                h.attach_arena(Arc::clone(a));
            }
            Arc::new(h)
        });
        Arc::clone(h)
    }

    /// Tenants with a head, sorted (tenants with only blocks are not listed).
    pub fn tenants(&self) -> Vec<TenantId> {
        let mut t: Vec<TenantId> = self.heads.read().keys().cloned().collect();
        t.sort();
        t
    }

    /// The number of head series per tenant, sorted by tenant.
    pub fn series_per_tenant(&self) -> Vec<(TenantId, usize)> {
        let mut out: Vec<(TenantId, usize)> = self
            .heads
            .read()
            .iter()
            .map(|(t, h)| (t.clone(), h.num_series()))
            .collect();
        out.sort();
        out
    }

    /// Closes the WAL segment being written and starts the next; returns its number. Use
    /// it before [`Db::checkpoint`] to cover everything logged so far. `Ok(None)` without
    /// a WAL. Blocks on an fsync: call from a blocking context.
    pub fn cut_wal_segment(&self) -> Result<Option<u32>, DbError> {
        match &self.wal {
            Some(w) => Ok(Some(w.cut_segment()?)),
            None => Ok(None),
        }
    }

    /// Checkpoints the WAL segments before `before_segment`, keeping every record the heads
    /// still need (all tenants, all series, all samples, the latest metadata), then deletes
    /// those segments. `Ok(None)` when there is nothing to do or no WAL. Blocking I/O.
    pub fn checkpoint(&self, before_segment: u32) -> Result<Option<CheckpointStats>, DbError> {
        self.checkpoint_from(before_segment, i64::MIN)
    }

    /// Like [`Db::checkpoint`], dropping samples older than `mint` (the head truncation
    /// hook: call it once the heads no longer hold data before `mint`).
    pub fn checkpoint_from(
        &self,
        before_segment: u32,
        mint: i64,
    ) -> Result<Option<CheckpointStats>, DbError> {
        let Some(wal) = &self.wal else {
            return Ok(None);
        };
        let heads: HashMap<u32, Arc<Head>> = self
            .heads
            .read()
            .values()
            .filter_map(|h| h.wal().map(|w| (w.tenant_ref, Arc::clone(h))))
            .collect();
        let mut c = HeadCompactor::new(heads, mint);
        let stats = wal.checkpoint(before_segment, &mut c)?;
        Ok(stats)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_are_per_tenant_and_created_once() {
        let db = Db::new();
        let a = TenantId::new("a").expect("valid tenant");
        let b = TenantId::new("b").expect("valid tenant");
        assert!(db.head(&a).is_none());
        let ha = db.get_or_create_head(&a);
        assert!(Arc::ptr_eq(&ha, &db.get_or_create_head(&a)));
        let mut app = ha.appender();
        app.append(&strata_model::Labels::from_pairs([("x", "1")]), 1, 1.0)
            .expect("valid series");
        app.commit_blocking().expect("in-memory commit");
        db.get_or_create_head(&b);
        assert_eq!(db.tenants(), vec![a.clone(), b.clone()]);
        assert_eq!(db.series_per_tenant(), vec![(a, 1), (b, 0)]);
    }
}
