//! The `index` file, format version 2 (Prometheus `tsdb/index`).
//!
//! ```text
//! magic 0xBAAAD700 <BE32> | version 2 <1b>
//! symbols          len <BE32> | count <BE32> | (len <uvarint> | bytes)* | CRC32C
//! series           each 16-byte aligned; ref = offset / 16:
//!                  len <uvarint> | #labels | (name sym, value sym <uvarint32>)* | #chunks |
//!                  mint <varint> | maxt-mint | ref | (mint-prev maxt | maxt-mint | ref delta <varint>)* | CRC32C
//! label indices    per name, 4-byte aligned: len | 1 <BE32> | #values <BE32> | value sym <BE32>* | CRC32C
//! postings         4-byte aligned; first ("", "") = every series:  len | #refs <BE32> | ref <BE32>* | CRC32C
//! label offset tbl len | #entries | (1 <uvarint> | name <uvarint str> | offset <uvarint>)* | CRC32C
//! postings offset  len | #entries | (2 <uvarint> | name | value | offset <uvarint>)* | CRC32C, sorted
//! TOC              6 × BE64 offsets (symbols, series, label indices, label offset table,
//!                  postings, postings offset table) | CRC32C
//! ```
//! Symbol references are positions in the sorted symbol table. `len` fields count the bytes
//! between themselves and the CRC, which covers exactly those bytes.

mod reader;
mod writer;

pub use reader::IndexReader;
pub(crate) use writer::IndexBuilder;

use strata_model::Labels;

use crate::ChunkRef;

/// Magic number at the start of an index file.
pub const MAGIC_INDEX: u32 = 0xBAAA_D700;
/// The index format version Strata writes and reads.
pub const INDEX_FORMAT_V2: u8 = 2;
/// Magic and version.
pub(crate) const HEADER_LEN: u64 = 5;
/// Six offsets and a CRC.
pub(crate) const TOC_LEN: u64 = 6 * 8 + 4;

/// A series' identity inside one block's index: its byte offset divided by 16. Refs increase
/// with the series' labels, so sorted refs mean sorted series.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SeriesRef(pub u64);

/// A chunk as the index describes it: its time range (inclusive) and where its bytes are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChunkRefMeta {
    /// First sample's timestamp.
    pub min_time: i64,
    /// Last sample's timestamp.
    pub max_time: i64,
    /// Where the chunk lives in `chunks/`.
    pub chunk_ref: ChunkRef,
}

/// One series as the index stores it: labels and chunk references, sorted by `min_time`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeriesEntry {
    /// The series' labels.
    pub labels: Labels,
    /// The chunks, sorted by `min_time`.
    pub chunks: Vec<ChunkRefMeta>,
}

/// Where each index section starts; 0 means absent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Toc {
    /// The symbol table.
    pub symbols: u64,
    /// The first series (before alignment padding).
    pub series: u64,
    /// The first label index (before alignment padding).
    pub label_indices: u64,
    /// The label offset table.
    pub label_indices_table: u64,
    /// The postings lists (before alignment padding).
    pub postings: u64,
    /// The postings offset table.
    pub postings_table: u64,
}
