//! Head compaction: cutting a tenant's head into 2-hour blocks, truncating the head and
//! checkpointing the WAL, as Prometheus's `Compact` / `truncateMemory` / `truncateWAL`.
//!
//! Order, so that nothing acknowledged is lost and a crash at any point replays correctly:
//! 1. raise the head's minimum valid time to `t` (appends below it are refused from now on,
//!    except out-of-order samples within the tenant's window);
//! 2. collect, under each series' lock, the chunks ending before `t` (an open chunk ending
//!    before `t` is closed first, so later appends go to a new chunk), with the series'
//!    out-of-order samples before `t` merged in (sorted, one sample per timestamp);
//! 3. write one block per [`CHUNK_RANGE_MS`]-aligned range, fsynced and renamed into place;
//! 4. log the minimum valid time to the WAL (a record replay restores, so a restart keeps
//!    refusing samples below `t`; from then on checkpoints may drop them), then drop the
//!    collected chunks (and out-of-order samples) from the head and remove series
//!    left empty; out-of-order samples below `t` accepted after collection stay for the next
//!    cut, which writes them into a further block overlapping this one (reads merge them);
//! 5. cut a WAL segment and checkpoint the ones before it, keeping only samples at or after
//!    each head's minimum valid time.
//!
//! A crash before 3 completes leaves a `.tmp-for-creation` directory (removed at open) and
//! the WAL intact. A crash between 3 and 5 replays samples that are also in blocks: queries
//! merge head and blocks and drop duplicate timestamps, so results are identical.

use std::collections::BTreeMap;
use std::sync::Arc;

use strata_block::{write_block, Block, BlockMeta, BlockWriterOptions};
use strata_model::{Labels, TenantId};
use strata_storage::ChunkMeta;

use crate::blocks::{create_dir_durably, tenant_dir};
use crate::error::DbError;
use crate::head::series::CHUNK_RANGE_MS;
use crate::Db;

/// What one head compaction did.
#[derive(Clone, Debug, Default)]
pub struct CompactStats {
    /// The blocks written, in time order.
    pub blocks: Vec<BlockMeta>,
    /// The head's new minimum valid time, when it was truncated.
    pub truncated_before: Option<i64>,
    /// Chunks dropped from the head.
    pub chunks_dropped: usize,
    /// Series removed from the head because they were left empty.
    pub series_removed: usize,
}

/// Which data to cut from a head.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cut {
    /// Only whole ranges ending at least 1.5 ranges before the head's max time
    /// (Prometheus's head compaction condition).
    Background,
    /// Everything in the head (`/ingester/flush`, shutdown).
    All,
}

/// The start of the aligned range holding `t`.
fn range_start(t: i64) -> i64 {
    t.div_euclid(CHUNK_RANGE_MS) * CHUNK_RANGE_MS
}

impl Db {
    /// Cuts the tenant's head into blocks for every whole 2-hour range that ended at least
    /// 1.5 × 2h before the head's newest sample, then truncates the head. Does not checkpoint
    /// the WAL (see [`Db::compact_all`]). Blocking I/O. A database without a directory does
    /// nothing.
    pub fn compact_head(&self, tenant: &TenantId) -> Result<CompactStats, DbError> {
        let _guard = self.compaction_lock();
        self.cut_head(tenant, Cut::Background)
    }

    /// Cuts everything in the tenant's head into blocks (the last one's range still the
    /// aligned 2 hours holding the newest sample) and truncates the head. Samples at or
    /// before the head's newest sample are refused afterwards. Blocking I/O.
    pub fn flush_head(&self, tenant: &TenantId) -> Result<CompactStats, DbError> {
        let _guard = self.compaction_lock();
        self.cut_head(tenant, Cut::All)
    }

    /// [`Db::compact_head`] for every tenant, then a WAL checkpoint if any head was
    /// truncated. Stops at the first error (earlier tenants' blocks stay written).
    pub fn compact_all(&self) -> Result<Vec<(TenantId, CompactStats)>, DbError> {
        self.cut_all(Cut::Background)
    }

    /// [`Db::flush_head`] for every tenant, then a WAL checkpoint.
    pub fn flush_all(&self) -> Result<Vec<(TenantId, CompactStats)>, DbError> {
        self.cut_all(Cut::All)
    }

    fn cut_all(&self, cut: Cut) -> Result<Vec<(TenantId, CompactStats)>, DbError> {
        // One compaction (and checkpoint) at a time: the background loop and a flush may
        // overlap.
        let _guard = self.compaction_lock();
        let mut out = Vec::new();
        let mut truncated = false;
        for t in self.tenants() {
            let st = self.cut_head(&t, cut)?;
            truncated |= st.truncated_before.is_some();
            out.push((t, st));
        }
        if truncated {
            self.checkpoint_locked()?;
        }
        Ok(out)
    }

    /// Cuts a WAL segment and checkpoints everything before it, dropping samples each head
    /// no longer holds (call after [`Db::compact_head`] / [`Db::flush_head`]).
    pub fn checkpoint_after_truncation(&self) -> Result<(), DbError> {
        let _guard = self.compaction_lock();
        self.checkpoint_locked()
    }

    fn checkpoint_locked(&self) -> Result<(), DbError> {
        if let Some(seg) = self.cut_wal_segment()? {
            if let Some(st) = self.checkpoint_from(seg, i64::MIN)? {
                tracing::info!(checkpoint = ?st, "tsdb: WAL checkpointed after head truncation");
            }
        }
        Ok(())
    }

    /// Cuts one head; the caller holds the compaction lock.
    fn cut_head(&self, tenant: &TenantId, cut: Cut) -> Result<CompactStats, DbError> {
        let mut stats = CompactStats::default();
        let Some(root) = self.blocks_dir() else {
            return Ok(stats);
        };
        let Some(head) = self.head(tenant) else {
            return Ok(stats);
        };
        let (Some(mint), Some(maxt)) = (head.min_time(), head.max_time()) else {
            return Ok(stats);
        };
        if mint > maxt {
            return Ok(stats);
        }
        let t = match cut {
            Cut::All => maxt.saturating_add(1),
            Cut::Background => {
                let cutoff = maxt.saturating_sub(CHUNK_RANGE_MS / 2 * 3);
                range_start(cutoff)
            }
        };
        if t <= mint {
            return Ok(stats);
        }
        head.raise_min_valid_time(t);
        let series = head.chunks_before(t);
        if !series.is_empty() {
            let dir = tenant_dir(&root, tenant);
            create_dir_durably(&**self.fs(), &dir)?;
            // Chunks never cross an aligned boundary, so each falls in one range.
            let mut by_range: BTreeMap<i64, Vec<(Labels, Vec<ChunkMeta>)>> = BTreeMap::new();
            for (labels, chunks) in series {
                let mut cur: Option<(i64, Vec<ChunkMeta>)> = None;
                for c in chunks {
                    let k = range_start(c.min_time);
                    match &mut cur {
                        Some((ck, v)) if *ck == k => v.push(c),
                        _ => {
                            if let Some((ck, v)) = cur.take() {
                                by_range.entry(ck).or_default().push((labels.clone(), v));
                            }
                            cur = Some((k, vec![c]));
                        }
                    }
                }
                if let Some((ck, v)) = cur {
                    by_range.entry(ck).or_default().push((labels, v));
                }
            }
            let mut written = Vec::new();
            for (lo, series) in by_range {
                let hi = lo.saturating_add(CHUNK_RANGE_MS);
                let opts = BlockWriterOptions {
                    tenant: Some(tenant.clone()),
                    time_range: Some((lo, hi)),
                    fs: self.fs().clone(),
                    ..Default::default()
                };
                let meta = write_block(&dir, opts, series).map_err(|e| {
                    DbError::block(format!("write block [{lo}, {hi}) of tenant {tenant}"), e)
                })?;
                let bdir = dir.join(meta.ulid.to_string());
                let block = Block::open(&bdir)
                    .map_err(|e| DbError::block(format!("open new block of tenant {tenant}"), e))?;
                tracing::info!(
                    tenant = %tenant,
                    block = %meta.ulid,
                    min_time = lo,
                    max_time = hi,
                    series = meta.stats.num_series,
                    samples = meta.stats.num_samples,
                    "tsdb: head cut into block"
                );
                written.push(Arc::new(block));
                stats.blocks.push(meta);
            }
            self.add_blocks(tenant, written);
        }
        // Only once the blocks are durable: a restart keeps refusing samples below `t`, and
        // WAL checkpoints may drop them.
        head.log_min_valid_time()?;
        let (chunks, removed) = head.truncate_before(t);
        stats.chunks_dropped = chunks;
        stats.series_removed = removed;
        stats.truncated_before = Some(t);
        Ok(stats)
    }
}
