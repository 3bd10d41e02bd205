//! [`BlockQuerier`]: the [`strata_storage::Querier`] over one block.

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use strata_chunkenc::{encode_xor, Encoding};
use strata_model::{MatchOp, Matcher, Sample};
use strata_storage::{ChunkMeta, Querier, SelectHints, Series, StorageError};

use crate::index::{ChunkRefMeta, SeriesEntry};
use crate::postings::postings_for_matchers;
use crate::tombstones::is_deleted;
use crate::{Block, BlockError, ChunkRef};

/// Series entries read (and held) at a time during a selection.
const SERIES_BATCH: usize = 512;

/// Reads one block. Cheap to create and clone; the block's files stay open in the [`Block`].
///
/// Reads are synchronous positional reads of a few KiB each; the async methods run them
/// inline.
#[derive(Clone, Debug)]
pub struct BlockQuerier {
    block: Arc<Block>,
}

impl BlockQuerier {
    /// A querier over `block`.
    pub fn new(block: Arc<Block>) -> Self {
        Self { block }
    }

    /// The series matching every matcher with their chunks overlapping `[mint, maxt]`
    /// (inclusive), sorted by labels; series without such chunks are left out. Deleted
    /// samples (tombstones) are removed.
    pub fn select_series(
        &self,
        mint: i64,
        maxt: i64,
        matchers: &[Matcher],
    ) -> Result<Vec<Series>, BlockError> {
        if !self.block.overlaps(mint, maxt) {
            return Ok(Vec::new());
        }
        let ix = self.block.index();
        let refs = postings_for_matchers(ix, matchers)?;
        let mut out = Vec::with_capacity(refs.len());
        for batch in refs.chunks(SERIES_BATCH) {
            for (&r, entry) in batch.iter().zip(ix.series_batch(batch)?) {
                let deleted = self.block.tombstones().get(r);
                let wanted: Vec<&ChunkRefMeta> = entry
                    .chunks
                    .iter()
                    .filter(|c| c.min_time <= maxt && c.max_time >= mint)
                    .collect();
                if wanted.is_empty() {
                    continue;
                }
                let chunk_refs: Vec<ChunkRef> = wanted.iter().map(|c| c.chunk_ref).collect();
                let data = self.block.chunks().chunks(&chunk_refs)?;
                let mut chunks = Vec::with_capacity(wanted.len());
                for (c, chunk) in wanted.into_iter().zip(data) {
                    let meta = ChunkMeta {
                        min_time: c.min_time,
                        max_time: c.max_time,
                        chunk,
                    };
                    match deleted {
                        Some(iv) if iv.iter().any(|&(a, b)| a <= c.max_time && b >= c.min_time) => {
                            if let Some(m) = self.without_deleted(&meta, iv)? {
                                chunks.push(m);
                            }
                        }
                        _ => chunks.push(meta),
                    }
                }
                if !chunks.is_empty() {
                    out.push(Series {
                        labels: entry.labels,
                        chunks,
                    });
                }
            }
        }
        Ok(out)
    }

    /// Re-encodes a chunk without its deleted samples; `None` when none remain.
    fn without_deleted(
        &self,
        c: &ChunkMeta,
        intervals: &[(i64, i64)],
    ) -> Result<Option<ChunkMeta>, BlockError> {
        if c.chunk.encoding() != Encoding::Xor {
            return Err(BlockError::Unsupported {
                block: self.block.dir().to_path_buf(),
                what: format!("tombstones over {:?} chunks", c.chunk.encoding()),
            });
        }
        let bad = |e: &dyn std::fmt::Display| {
            BlockError::corrupt(self.block.dir(), "chunks", format!("decode chunk: {e}"))
        };
        let mut it = c.chunk.xor_iter().map_err(|e| bad(&e))?;
        let kept: Vec<Sample> = it
            .by_ref()
            .filter(|s| !is_deleted(s.t, intervals))
            .collect();
        if let Some(e) = it.err() {
            return Err(bad(e));
        }
        match (kept.first(), kept.last()) {
            (Some(first), Some(last)) => Ok(Some(ChunkMeta {
                min_time: first.t,
                max_time: last.t,
                chunk: encode_xor(&kept),
            })),
            _ => Ok(None),
        }
    }

    /// Series entries matching `matchers` with a chunk in `[mint, maxt]`.
    fn matching_entries(
        &self,
        mint: i64,
        maxt: i64,
        matchers: &[Matcher],
    ) -> Result<Vec<SeriesEntry>, BlockError> {
        let ix = self.block.index();
        let mut out = Vec::new();
        let refs = postings_for_matchers(ix, matchers)?;
        for batch in refs.chunks(SERIES_BATCH) {
            for e in ix.series_batch(batch)? {
                if e.chunks
                    .iter()
                    .any(|c| c.min_time <= maxt && c.max_time >= mint)
                {
                    out.push(e);
                }
            }
        }
        Ok(out)
    }

    /// Sorted label names of series matching `matchers` (all of the block's if none) when
    /// the block overlaps `[mint, maxt]`.
    pub fn label_names_sync(
        &self,
        mint: i64,
        maxt: i64,
        matchers: &[Matcher],
    ) -> Result<Vec<String>, BlockError> {
        if !self.block.overlaps(mint, maxt) {
            return Ok(Vec::new());
        }
        if matchers.is_empty() {
            return Ok(self
                .block
                .index()
                .label_names()
                .into_iter()
                .map(str::to_string)
                .collect());
        }
        let mut names: BTreeSet<String> = BTreeSet::new();
        for e in self.matching_entries(mint, maxt, matchers)? {
            for l in &e.labels {
                if !names.contains(&l.name) {
                    names.insert(l.name.clone());
                }
            }
        }
        Ok(names.into_iter().collect())
    }

    /// Sorted values of label `name` over series matching `matchers` (all of the block's if
    /// none) when the block overlaps `[mint, maxt]`.
    pub fn label_values_sync(
        &self,
        name: &str,
        mint: i64,
        maxt: i64,
        matchers: &[Matcher],
    ) -> Result<Vec<String>, BlockError> {
        if !self.block.overlaps(mint, maxt) {
            return Ok(Vec::new());
        }
        if matchers.is_empty() {
            return self.block.index().label_values(name);
        }
        let mut ms = matchers.to_vec();
        ms.push(Matcher::new(MatchOp::NotEqual, name, "").expect("`!=` matchers always build"));
        let mut values: BTreeSet<String> = BTreeSet::new();
        for e in self.matching_entries(mint, maxt, &ms)? {
            if let Some(v) = e.labels.get(name) {
                if !values.contains(v) {
                    values.insert(v.to_string());
                }
            }
        }
        Ok(values.into_iter().collect())
    }
}

#[async_trait]
impl Querier for BlockQuerier {
    async fn select(
        &self,
        hints: &SelectHints,
        matchers: &[Matcher],
    ) -> Result<Vec<Series>, StorageError> {
        Ok(self.select_series(hints.start, hints.end, matchers)?)
    }

    async fn label_names(
        &self,
        hints: &SelectHints,
        matchers: &[Matcher],
    ) -> Result<Vec<String>, StorageError> {
        Ok(self.label_names_sync(hints.start, hints.end, matchers)?)
    }

    async fn label_values(
        &self,
        name: &str,
        hints: &SelectHints,
        matchers: &[Matcher],
    ) -> Result<Vec<String>, StorageError> {
        Ok(self.label_values_sync(name, hints.start, hints.end, matchers)?)
    }
}
