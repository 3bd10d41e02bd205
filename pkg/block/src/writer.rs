//! Writes a block: chunks stream to segment files as series arrive; the index, tombstones and
//! meta.json follow at [`BlockWriter::finish`]. Everything goes into
//! `<ulid>.tmp-for-creation`, is fsynced, then renamed to `<ulid>` and the parent directory
//! fsynced, so a crash never leaves a half-written block under a block name.

use std::path::{Path, PathBuf};

use strata_model::{Labels, TenantId};
use strata_storage::ChunkMeta;
use strata_vfs::{failpoint, Fs, SharedFs};
use tracing::{debug, warn};
use ulid::Ulid;

use crate::chunks::{ChunkWriter, DEFAULT_SEGMENT_SIZE};
use crate::fileutil::fsync_dir;
use crate::index::{ChunkRefMeta, IndexBuilder};
use crate::meta::{
    source, BlockMeta, BlockMetaCompaction, BlockStats, Downsample, ThanosMeta, META_VERSION_1,
};
use crate::tombstones::Tombstones;
use crate::BlockError;

/// The suffix of a block directory still being written.
pub const TMP_FOR_CREATION_SUFFIX: &str = ".tmp-for-creation";

/// The points between the steps of [`BlockWriter::finish`], where a hook may stop the write
/// (tests use this to check that no partial block ever becomes visible).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteStage {
    /// All chunk segments are written and fsynced.
    ChunksWritten,
    /// The index is written and fsynced.
    IndexWritten,
    /// Tombstones and meta.json are written and fsynced, as is the temporary directory.
    BeforeRename,
    /// The directory has been renamed to its final name; the parent is not yet fsynced.
    BeforeDirSync,
}

impl WriteStage {
    /// The [`strata_vfs::failpoint`] at this stage.
    pub fn failpoint(self) -> &'static str {
        match self {
            Self::ChunksWritten => failpoint::BLOCK_AFTER_CHUNKS,
            Self::IndexWritten => failpoint::BLOCK_AFTER_INDEX,
            Self::BeforeRename => failpoint::BLOCK_BEFORE_RENAME,
            Self::BeforeDirSync => failpoint::BLOCK_BEFORE_DIR_FSYNC,
        }
    }
}

/// Settings for one block.
#[derive(Clone, Debug)]
pub struct BlockWriterOptions {
    /// The tenant whose data this is, recorded in `thanos.tenant`.
    pub tenant: Option<TenantId>,
    /// External labels recorded in `thanos.labels`.
    pub external_labels: Labels,
    /// `thanos.source`: [`source::RECEIVE`] for blocks cut from a head.
    pub source: String,
    /// The block's `[min_time, max_time)`; by default the span of the chunks written
    /// (max = last sample + 1). When set, every chunk must lie inside it.
    pub time_range: Option<(i64, i64)>,
    /// Chunk segment size; at most (and by default) 512 MiB. Smaller values are for tests.
    pub segment_size: u64,
    /// The file layer every write, fsync and rename goes through (the real file system by
    /// default). Each [`WriteStage`] is also reported to it as a failpoint.
    pub fs: SharedFs,
}

impl Default for BlockWriterOptions {
    fn default() -> Self {
        Self {
            tenant: None,
            external_labels: Labels::empty(),
            source: source::RECEIVE.to_string(),
            time_range: None,
            segment_size: DEFAULT_SEGMENT_SIZE,
            fs: SharedFs::default(),
        }
    }
}

/// Writes one block from series given in label order.
pub struct BlockWriter {
    ulid: Ulid,
    parent: PathBuf,
    tmp: PathBuf,
    opts: BlockWriterOptions,
    chunks: Option<ChunkWriter>,
    index: IndexBuilder,
    /// The last series added, to check the order.
    last_labels: Option<Labels>,
    stats: BlockStats,
    min_time: i64,
    max_time: i64,
    /// Set once the directory has its final name; until then dropping removes it.
    renamed: bool,
    /// Set when writing a chunk failed: the segment may hold a partial write, so the block
    /// must not be finished.
    poisoned: bool,
}

impl BlockWriter {
    /// Starts a block with a new ULID under `parent` (which must exist).
    pub fn new(parent: &Path, opts: BlockWriterOptions) -> Result<Self, BlockError> {
        let ulid = Ulid::new();
        let tmp = parent.join(format!("{ulid}{TMP_FOR_CREATION_SUFFIX}"));
        opts.fs
            .create_dir(&tmp)
            .map_err(|e| BlockError::io("create directory", &tmp, e))?;
        let chunks =
            match ChunkWriter::create(opts.fs.clone(), &tmp.join("chunks"), opts.segment_size) {
                Ok(c) => c,
                Err(e) => {
                    remove_quietly(&*opts.fs, &tmp);
                    return Err(e);
                }
            };
        Ok(Self {
            ulid,
            parent: parent.to_path_buf(),
            tmp,
            opts,
            chunks: Some(chunks),
            index: IndexBuilder::new(),
            last_labels: None,
            stats: BlockStats::default(),
            min_time: i64::MAX,
            max_time: i64::MIN,
            renamed: false,
            poisoned: false,
        })
    }

    /// The new block's id.
    pub fn ulid(&self) -> Ulid {
        self.ulid
    }

    /// Adds a series and writes its chunks. Series must come in strictly increasing label
    /// order; chunks sorted by `min_time`. A series without chunks is skipped, as Prometheus
    /// does not keep empty series in blocks.
    pub fn add_series(&mut self, labels: &Labels, chunks: &[ChunkMeta]) -> Result<(), BlockError> {
        if chunks.is_empty() {
            return Ok(());
        }
        if labels.is_empty() {
            return Err(BlockError::InvalidInput("series without labels".into()));
        }
        if let Some(l) = labels
            .iter()
            .find(|l| l.name.is_empty() || l.value.is_empty())
        {
            return Err(BlockError::InvalidInput(format!(
                "series {labels} has an empty label name or value ({:?}={:?})",
                l.name, l.value
            )));
        }
        if let Some(prev) = &self.last_labels {
            if labels <= prev {
                return Err(BlockError::InvalidInput(format!(
                    "series {labels} added after {prev}: series must be in label order"
                )));
            }
        }
        if chunks.windows(2).any(|w| w[1].min_time < w[0].min_time) {
            return Err(BlockError::InvalidInput(format!(
                "chunks of series {labels} are not sorted by min time"
            )));
        }
        if let Some((lo, hi)) = self.opts.time_range {
            if let Some(c) = chunks.iter().find(|c| c.min_time < lo || c.max_time >= hi) {
                return Err(BlockError::InvalidInput(format!(
                    "chunk [{}, {}] of series {labels} is outside the block range [{lo}, {hi})",
                    c.min_time, c.max_time
                )));
            }
        }
        let w = self
            .chunks
            .as_mut()
            .expect("chunk writer lives until finish consumes the writer");
        let mut metas = Vec::with_capacity(chunks.len());
        if self.poisoned {
            return Err(BlockError::InvalidInput(
                "an earlier chunk write failed; the block cannot be completed".into(),
            ));
        }
        for c in chunks {
            let chunk_ref = w.write(&c.chunk).inspect_err(|_| self.poisoned = true)?;
            metas.push(ChunkRefMeta {
                min_time: c.min_time,
                max_time: c.max_time,
                chunk_ref,
            });
            self.stats.num_chunks += 1;
            self.stats.num_samples += u64::from(c.chunk.num_samples());
            self.min_time = self.min_time.min(c.min_time);
            self.max_time = self.max_time.max(c.max_time);
        }
        self.stats.num_series += 1;
        self.index.add(labels, metas);
        self.last_labels = Some(labels.clone());
        Ok(())
    }

    /// Finishes the block and makes it visible; returns its meta.
    pub fn finish(self) -> Result<BlockMeta, BlockError> {
        self.finish_with_hook(&|_| Ok(()))
    }

    /// [`BlockWriter::finish`], calling `hook` at each [`WriteStage`]; an error from the hook
    /// stops the write there. Before the rename, any failure removes the temporary directory
    /// (a crash leaves it for [`remove_tmp_blocks`]); after it, the block is complete.
    pub fn finish_with_hook(
        mut self,
        hook: &dyn Fn(WriteStage) -> Result<(), BlockError>,
    ) -> Result<BlockMeta, BlockError> {
        let res = self.write_files(hook);
        let meta = match res {
            Ok(m) => m,
            Err(e) => {
                warn!(block = %self.ulid, error = %e, "block write failed, removing temporary directory");
                remove_quietly(&*self.opts.fs, &self.tmp);
                return Err(e);
            }
        };
        let dst = self.parent.join(self.ulid.to_string());
        let fs = self.opts.fs.clone();
        fs.rename(&self.tmp, &dst).map_err(|e| {
            remove_quietly(&*fs, &self.tmp);
            BlockError::io("rename", &self.tmp, e)
        })?;
        self.renamed = true;
        self.stage(hook, WriteStage::BeforeDirSync)?;
        fsync_dir(&*fs, &self.parent)?;
        debug!(block = %self.ulid, series = meta.stats.num_series, chunks = meta.stats.num_chunks, "block written");
        Ok(meta)
    }

    /// Runs the hook and the failpoint of `stage`.
    fn stage(
        &self,
        hook: &dyn Fn(WriteStage) -> Result<(), BlockError>,
        stage: WriteStage,
    ) -> Result<(), BlockError> {
        hook(stage)?;
        self.opts
            .fs
            .failpoint(stage.failpoint())
            .map_err(|e| BlockError::io("failpoint", &self.tmp, e))
    }

    fn write_files(
        &mut self,
        hook: &dyn Fn(WriteStage) -> Result<(), BlockError>,
    ) -> Result<BlockMeta, BlockError> {
        if self.poisoned {
            return Err(BlockError::InvalidInput(
                "an earlier chunk write failed; the block cannot be completed".into(),
            ));
        }
        if self.index.len() == 0 {
            return Err(BlockError::InvalidInput("block without series".into()));
        }
        if let Some(w) = self.chunks.take() {
            w.finish()?;
        }
        self.stage(hook, WriteStage::ChunksWritten)?;
        self.index.write(&*self.opts.fs, &self.tmp.join("index"))?;
        self.stage(hook, WriteStage::IndexWritten)?;
        Tombstones::default().write_in(&*self.opts.fs, &self.tmp)?;
        let (min_time, max_time) = self
            .opts
            .time_range
            .unwrap_or((self.min_time, self.max_time.saturating_add(1)));
        let meta = BlockMeta {
            ulid: self.ulid,
            min_time,
            max_time,
            stats: self.stats.clone(),
            compaction: BlockMetaCompaction {
                level: 1,
                sources: vec![self.ulid],
                ..Default::default()
            },
            version: META_VERSION_1,
            thanos: Some(ThanosMeta {
                labels: self
                    .opts
                    .external_labels
                    .iter()
                    .map(|l| (l.name.clone(), l.value.clone()))
                    .collect(),
                downsample: Downsample { resolution: 0 },
                source: self.opts.source.clone(),
                tenant: self.opts.tenant.as_ref().map(|t| t.to_string()),
            }),
        };
        meta.write(&*self.opts.fs, &self.tmp)?;
        fsync_dir(&*self.opts.fs, &self.tmp)?;
        self.stage(hook, WriteStage::BeforeRename)?;
        Ok(meta)
    }
}

/// Writes one block under `parent` from series in label order (each with its chunks sorted by
/// `min_time`) and returns its meta; the block is `parent/<meta.ulid>`.
pub fn write_block<I>(
    parent: &Path,
    opts: BlockWriterOptions,
    series: I,
) -> Result<BlockMeta, BlockError>
where
    I: IntoIterator<Item = (Labels, Vec<ChunkMeta>)>,
{
    let mut w = BlockWriter::new(parent, opts)?;
    for (labels, chunks) in series {
        w.add_series(&labels, &chunks)?;
    }
    w.finish()
}

/// An abandoned writer (dropped before finishing) removes its temporary directory.
impl Drop for BlockWriter {
    fn drop(&mut self) {
        if !self.renamed {
            remove_quietly(&*self.opts.fs, &self.tmp);
        }
    }
}

fn remove_quietly(fs: &dyn Fs, dir: &Path) {
    if let Err(e) = fs.remove_dir_all(dir) {
        if e.kind() != std::io::ErrorKind::NotFound {
            warn!(dir = %dir.display(), error = %e, "cannot remove temporary block directory");
        }
    }
}

/// Removes leftovers of interrupted block writes (`*.tmp-for-creation`) under `parent`;
/// run at startup. Returns how many were removed.
pub fn remove_tmp_blocks(parent: &Path) -> Result<usize, BlockError> {
    remove_tmp_blocks_in(&strata_vfs::OsFs, parent)
}

/// [`remove_tmp_blocks`] through the file layer `fs`; the removals are made durable (the
/// parent is fsynced) when there were any.
pub fn remove_tmp_blocks_in(fs: &dyn Fs, parent: &Path) -> Result<usize, BlockError> {
    let rd = std::fs::read_dir(parent).map_err(|e| BlockError::io("list", parent, e))?;
    let mut n = 0;
    for ent in rd {
        let ent = ent.map_err(|e| BlockError::io("list", parent, e))?;
        if ent
            .file_name()
            .to_string_lossy()
            .ends_with(TMP_FOR_CREATION_SUFFIX)
        {
            let p = ent.path();
            fs.remove_dir_all(&p)
                .map_err(|e| BlockError::io("remove", &p, e))?;
            n += 1;
        }
    }
    if n > 0 {
        fsync_dir(fs, parent)?;
    }
    Ok(n)
}

/// The block directories under `parent` (names that parse as ULIDs), sorted by ULID.
pub fn list_block_dirs(parent: &Path) -> Result<Vec<PathBuf>, BlockError> {
    let rd = std::fs::read_dir(parent).map_err(|e| BlockError::io("list", parent, e))?;
    let mut out: Vec<(Ulid, PathBuf)> = Vec::new();
    for ent in rd {
        let ent = ent.map_err(|e| BlockError::io("list", parent, e))?;
        if let Ok(u) = Ulid::from_string(&ent.file_name().to_string_lossy()) {
            if ent.path().is_dir() {
                out.push((u, ent.path()));
            }
        }
    }
    out.sort();
    Ok(out.into_iter().map(|(_, p)| p).collect())
}
