//! TSDB blocks in Prometheus's exact on-disk format (`tsdb/docs/format`): Strata cuts its
//! head into blocks that Prometheus, promtool and Thanos read, and reads blocks written by
//! either. See `docs/format/block.md` for the byte layout.
//!
//! ```text
//! <parent>/<ULID>/
//!   chunks/000001 …   segment files of encoded chunks            (chunks.rs)
//!   index             symbols, series, postings, offset tables   (index/)
//!   tombstones        deletion intervals (Strata writes none)    (tombstones.rs)
//!   meta.json         ULID, [minTime, maxTime), stats, thanos    (meta.rs)
//! ```
//!
//! Key types:
//! - [`BlockWriter`]: series in label order → a block directory. Chunks stream to disk as
//!   series arrive; [`BlockWriter::finish`] writes the index, tombstones and meta.json in
//!   `<ULID>.tmp-for-creation`, fsyncs every file, renames the directory into place and fsyncs
//!   the parent, so a crash never exposes half a block. All of it goes through a
//!   [`strata_vfs::Fs`] (`BlockWriterOptions::fs`). [`WriteStage`] names the points in
//!   between for fault-injection tests.
//! - [`Block`]: an open block ([`Block::open`] validates meta.json, the index TOC and the CRCs
//!   of the sections it loads); [`IndexReader`] (symbols, postings, series),
//!   [`ChunkReader`] (CRC-checked chunk reads).
//! - [`BlockQuerier`]: [`strata_storage::Querier`] over a block, with Prometheus's
//!   `PostingsForMatchers` semantics.
//!
//! Invariants: files are read with positional reads (`read_at`), never mmap, so a truncated
//! or corrupt file yields a [`BlockError`], never a fault; every decoder checks lengths and
//! CRCs before trusting a byte. Series refs are index offsets / 16 and increase with labels.

mod block;
mod chunks;
mod encoding;
mod error;
mod fileutil;
pub mod index;
pub mod meta;
mod postings;
mod querier;
mod tombstones;
mod writer;

pub use block::Block;
pub use chunks::{
    ChunkReader, ChunkRef, CHUNKS_FORMAT_V1, DEFAULT_SEGMENT_SIZE, MAGIC_CHUNKS,
    SEGMENT_HEADER_SIZE,
};
pub use error::BlockError;
pub use index::{ChunkRefMeta, IndexReader, SeriesEntry, SeriesRef};
pub use meta::{BlockMeta, BlockStats, ThanosMeta};
pub use querier::BlockQuerier;
pub use tombstones::{Tombstones, MAGIC_TOMBSTONES};
pub use ulid::Ulid;
pub use writer::{
    list_block_dirs, remove_tmp_blocks, remove_tmp_blocks_in, write_block, BlockWriter,
    BlockWriterOptions, WriteStage, TMP_FOR_CREATION_SUFFIX,
};

#[cfg(test)]
mod tests;
