//! An open block: its meta, index, chunk segments and tombstones.

use std::path::{Path, PathBuf};

use tracing::debug;
use ulid::Ulid;

use crate::chunks::ChunkReader;
use crate::index::IndexReader;
use crate::meta::BlockMeta;
use crate::tombstones::Tombstones;
use crate::BlockError;

/// A block opened for reading. Reads are positional, so one `Block` serves many threads.
#[derive(Debug)]
pub struct Block {
    dir: PathBuf,
    meta: BlockMeta,
    index: IndexReader,
    chunks: ChunkReader,
    tombstones: Tombstones,
}

impl Block {
    /// Opens the block in `dir`, validating meta.json, the index header, TOC, symbol table and
    /// postings offset table, the chunk segment headers and the tombstones.
    pub fn open(dir: impl AsRef<Path>) -> Result<Block, BlockError> {
        let dir = dir.as_ref();
        let meta = BlockMeta::read(dir)?;
        let index = IndexReader::open(dir)?;
        let chunks = ChunkReader::open(dir)?;
        // A block whose index refers to chunks must have at least one segment: a missing
        // segment file would otherwise only surface as a query error.
        if meta.stats.num_chunks > 0 && chunks.num_segments() == 0 {
            return Err(BlockError::corrupt(
                dir,
                "chunks/",
                format!(
                    "meta.json counts {} chunks but there is no chunk segment",
                    meta.stats.num_chunks
                ),
            ));
        }
        let tombstones = Tombstones::read(dir)?;
        debug!(
            block = %meta.ulid,
            dir = %dir.display(),
            segments = chunks.num_segments(),
            index_bytes = index.size(),
            tombstones = tombstones.len(),
            "block opened"
        );
        Ok(Block {
            dir: dir.to_path_buf(),
            meta,
            index,
            chunks,
            tombstones,
        })
    }

    /// The block directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The parsed meta.json.
    pub fn meta(&self) -> &BlockMeta {
        &self.meta
    }

    /// The block's id.
    pub fn ulid(&self) -> Ulid {
        self.meta.ulid
    }

    /// The index.
    pub fn index(&self) -> &IndexReader {
        &self.index
    }

    /// The chunk segments.
    pub fn chunks(&self) -> &ChunkReader {
        &self.chunks
    }

    /// The deletion intervals.
    pub fn tombstones(&self) -> &Tombstones {
        &self.tombstones
    }

    /// Tells whether the block's `[minTime, maxTime)` meets the inclusive range `[mint, maxt]`.
    pub fn overlaps(&self, mint: i64, maxt: i64) -> bool {
        mint < self.meta.max_time && maxt >= self.meta.min_time
    }
}
