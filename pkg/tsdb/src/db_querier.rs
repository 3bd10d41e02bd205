//! [`DbQuerier`]: one tenant's head and blocks read as one store.
//!
//! Every read asks the head and each block overlapping the range, then merges: series by
//! [`strata_storage::merge_sorted_series`] (a k-way merge of the sorted answers; chunks of
//! equal label sets joined; overlapping chunks,
//! such as a block and the head replayed after a crash before truncation, are deduplicated
//! by the series iterator), names and values by sorted union. A block read error (a chunk
//! checksum mismatch, a short file) fails the whole read and names the block.

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use strata_block::{Block, BlockQuerier};
use strata_model::{Labels, Matcher};
use strata_storage::{merge_sorted_series, Querier, SelectHints, Series, StorageError};

use crate::head::Head;
use crate::querier::HeadQuerier;

/// Reads one tenant's head and blocks. Cheap to create per query.
#[derive(Clone, Debug)]
pub struct DbQuerier {
    head: Option<HeadQuerier>,
    blocks: Vec<BlockQuerier>,
}

impl DbQuerier {
    /// A querier over `head` (if the tenant has one) and `blocks`.
    pub fn new(head: Option<Arc<Head>>, blocks: Vec<Arc<Block>>) -> Self {
        Self {
            head: head.map(HeadQuerier::new),
            blocks: blocks.into_iter().map(BlockQuerier::new).collect(),
        }
    }

    /// Tells whether any block is read (reads then touch files).
    pub fn has_blocks(&self) -> bool {
        !self.blocks.is_empty()
    }

    /// The series matching every matcher with their chunks overlapping `[mint, maxt]`,
    /// sorted by labels, head and blocks merged.
    pub fn select_series(
        &self,
        mint: i64,
        maxt: i64,
        matchers: &[Matcher],
    ) -> Result<Vec<Series>, StorageError> {
        let head = self
            .head
            .as_ref()
            .map(|h| h.select_series(mint, maxt, matchers))
            .unwrap_or_default();
        if self.blocks.is_empty() {
            return Ok(head);
        }
        // Head and every block answer sorted by labels: merged k-way.
        let mut lists = Vec::with_capacity(self.blocks.len() + 1);
        lists.push(head);
        for b in &self.blocks {
            lists.push(b.select_series(mint, maxt, matchers)?);
        }
        Ok(merge_sorted_series(lists))
    }

    /// Sorted, unique label names over head and blocks.
    pub fn label_names_sync(
        &self,
        mint: i64,
        maxt: i64,
        matchers: &[Matcher],
    ) -> Result<Vec<String>, StorageError> {
        let head = self
            .head
            .as_ref()
            .map(|h| h.label_names_sync(mint, maxt, matchers))
            .unwrap_or_default();
        if self.blocks.is_empty() {
            return Ok(head);
        }
        let mut all: BTreeSet<String> = head.into_iter().collect();
        for b in &self.blocks {
            all.extend(b.label_names_sync(mint, maxt, matchers)?);
        }
        Ok(all.into_iter().collect())
    }

    /// Sorted, unique values of label `name` over head and blocks.
    pub fn label_values_sync(
        &self,
        name: &str,
        mint: i64,
        maxt: i64,
        matchers: &[Matcher],
    ) -> Result<Vec<String>, StorageError> {
        let head = self
            .head
            .as_ref()
            .map(|h| h.label_values_sync(name, mint, maxt, matchers))
            .unwrap_or_default();
        if self.blocks.is_empty() {
            return Ok(head);
        }
        let mut all: BTreeSet<String> = head.into_iter().collect();
        for b in &self.blocks {
            all.extend(b.label_values_sync(name, mint, maxt, matchers)?);
        }
        Ok(all.into_iter().collect())
    }

    /// The Prometheus `series` API over head and blocks: label sets of series matching any
    /// matcher set with samples in `[mint, maxt]`, sorted and unique.
    pub fn series_labels(
        &self,
        mint: i64,
        maxt: i64,
        matcher_sets: &[Vec<Matcher>],
    ) -> Result<Vec<Labels>, StorageError> {
        let head = self
            .head
            .as_ref()
            .map(|h| h.series_labels(mint, maxt, matcher_sets))
            .unwrap_or_default();
        if self.blocks.is_empty() {
            return Ok(head);
        }
        let mut all: BTreeSet<Labels> = head.into_iter().collect();
        for b in &self.blocks {
            for ms in matcher_sets {
                // Blocks have no label-only series lookup; the chunk reads are the price.
                all.extend(
                    b.select_series(mint, maxt, ms)?
                        .into_iter()
                        .map(|s| s.labels),
                );
            }
        }
        Ok(all.into_iter().collect())
    }
}

#[async_trait]
impl Querier for DbQuerier {
    async fn select(
        &self,
        hints: &SelectHints,
        matchers: &[Matcher],
    ) -> Result<Vec<Series>, StorageError> {
        self.select_series(hints.start, hints.end, matchers)
    }

    async fn label_names(
        &self,
        hints: &SelectHints,
        matchers: &[Matcher],
    ) -> Result<Vec<String>, StorageError> {
        self.label_names_sync(hints.start, hints.end, matchers)
    }

    async fn label_values(
        &self,
        name: &str,
        hints: &SelectHints,
        matchers: &[Matcher],
    ) -> Result<Vec<String>, StorageError> {
        self.label_values_sync(name, hints.start, hints.end, matchers)
    }
}
