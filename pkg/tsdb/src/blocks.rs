//! The blocks of every tenant on disk: loading them at open (leftovers of interrupted writes
//! removed, unreadable blocks moved aside), and the in-memory list queries read.
//!
//! Layout (as Mimir's ingester): `<dir>/tsdb/<tenant>/<ULID>/` for each block, with
//! `<dir>/tsdb/<tenant>/quarantine/<ULID>/` for blocks that failed to open. The WAL stays in
//! its own directory (`<dir>/wal` by default), shared by all tenants.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use strata_block::{list_block_dirs, remove_tmp_blocks_in, Block};
use strata_model::TenantId;

use crate::error::DbError;

/// The directory holding a tenant's blocks' quarantined copies.
pub const QUARANTINE_DIR: &str = "quarantine";

/// What loading the blocks found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BlockLoadStats {
    /// Blocks opened and served.
    pub loaded: u64,
    /// Blocks that failed to open and were moved to `<tenant>/quarantine/`.
    pub quarantined: u64,
    /// `*.tmp-for-creation` directories removed.
    pub tmp_removed: u64,
}

/// Each tenant's open blocks, sorted by ULID.
pub(crate) type TenantBlocks = HashMap<TenantId, Vec<Arc<Block>>>;

/// The directory of `tenant`'s blocks under the blocks root.
pub(crate) fn tenant_dir(root: &Path, tenant: &TenantId) -> PathBuf {
    root.join(tenant.as_str())
}

/// Opens every tenant's blocks under `root` (created, durably, through `fs` if missing).
pub(crate) fn load(
    fs: &dyn strata_vfs::Fs,
    root: &Path,
) -> Result<(TenantBlocks, BlockLoadStats), DbError> {
    create_dir_durably(fs, root)?;
    let mut out = TenantBlocks::new();
    let mut stats = BlockLoadStats::default();
    let rd = std::fs::read_dir(root).map_err(|e| DbError::io("list", root, e))?;
    for ent in rd {
        let ent = ent.map_err(|e| DbError::io("list", root, e))?;
        let path = ent.path();
        if !path.is_dir() {
            continue;
        }
        let name = ent.file_name().to_string_lossy().into_owned();
        let Ok(tenant) = TenantId::new(&name) else {
            tracing::warn!(dir = %path.display(), "tsdb: ignoring directory that is not a tenant id");
            continue;
        };
        stats.tmp_removed += remove_tmp_blocks_in(fs, &path).map_err(|e| {
            DbError::block(format!("remove unfinished blocks of tenant {tenant}"), e)
        })? as u64;
        let dirs = list_block_dirs(&path)
            .map_err(|e| DbError::block(format!("list blocks of tenant {tenant}"), e))?;
        let mut blocks = Vec::with_capacity(dirs.len());
        for dir in dirs {
            match Block::open(&dir) {
                Ok(b) => {
                    stats.loaded += 1;
                    blocks.push(Arc::new(b));
                }
                Err(e) => {
                    stats.quarantined += 1;
                    quarantine(&path, &dir, &tenant, &e);
                }
            }
        }
        if !blocks.is_empty() {
            out.insert(tenant, blocks);
        }
    }
    Ok((out, stats))
}

/// Creates `dir` (and missing parents) if it does not exist, and fsyncs its parent so the
/// new entry survives a power loss (blocks inside it are only as durable as their path).
pub(crate) fn create_dir_durably(fs: &dyn strata_vfs::Fs, dir: &Path) -> Result<(), DbError> {
    if dir.is_dir() {
        return Ok(());
    }
    fs.create_dir_all(dir)
        .map_err(|e| DbError::io("create directory", dir, e))?;
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs.sync_dir(parent)
            .map_err(|e| DbError::io("fsync directory", parent, e))?;
    }
    Ok(())
}

/// Moves an unreadable block to `<tenant dir>/quarantine/`, so the tenant's other blocks are
/// served and an operator can inspect it. A failed move is logged; the block stays unserved.
fn quarantine(tenant_dir: &Path, block: &Path, tenant: &TenantId, err: &strata_block::BlockError) {
    let qdir = tenant_dir.join(QUARANTINE_DIR);
    let dst = match block.file_name() {
        Some(n) => qdir.join(n),
        None => return,
    };
    let moved = std::fs::create_dir_all(&qdir).and_then(|()| std::fs::rename(block, &dst));
    match moved {
        Ok(()) => tracing::warn!(
            tenant = %tenant,
            block = %block.display(),
            moved_to = %dst.display(),
            error = %err,
            "tsdb: block failed to open, quarantined"
        ),
        Err(e) => tracing::error!(
            tenant = %tenant,
            block = %block.display(),
            error = %err,
            move_error = %e,
            "tsdb: block failed to open and could not be moved to quarantine; not served"
        ),
    }
}
