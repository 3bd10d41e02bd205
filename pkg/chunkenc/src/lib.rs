//! Chunk encodings, byte for byte as Prometheus writes them (`tsdb/chunkenc`), so chunks move
//! unchanged between the head, gRPC, remote read and TSDB blocks.
//!
//! - [`Chunk`]: an immutable encoded chunk ([`Encoding`] + bytes), cheap to clone.
//! - [`XorAppender`]: builds an XOR chunk sample by sample (the head's open chunk).
//! - [`XorIterator`]: decodes an XOR chunk.
//! - [`HistogramAppender`] / [`HistogramIterator`]: integer native histogram chunks (encoding 2).
//! - [`FloatHistogramAppender`] / [`FloatHistogramIterator`]: float native histogram chunks
//!   (encoding 3). Appending reports [`AppendOutcome`]: appended, a new chunk was cut (counter
//!   reset, schema change, ...), or the chunk was recoded to a wider bucket layout.
//!
//! XOR layout: a big-endian `u16` sample count, then a bit stream: the first timestamp as a
//! signed varint and the first value as 64 raw bits; the second timestamp as an unsigned varint
//! delta; later timestamps as delta-of-delta in buckets of 14, 17, 20 or 64 bits; values as the
//! XOR with the previous value, reusing the previous leading/trailing-zero window when it fits.
//! See `docs/format/chunks.md`.
//! Histogram layouts are also summarised in the `histogram` and `float_histogram` modules.

mod bstream;
mod chunk;
mod float_histogram;
mod float_histogram_iter;
mod histogram;
mod histogram_iter;
mod histogram_meta;
mod varbit;
mod xor;

#[cfg(test)]
mod cross_check_tests;

pub use chunk::{Chunk, ChunkError, Encoding};
pub use float_histogram::FloatHistogramAppender;
pub use float_histogram_iter::FloatHistogramIterator;
pub use histogram::{AppendOutcome, HistogramAppendError, HistogramAppender};
pub use histogram_iter::HistogramIterator;
pub use histogram_meta::{CounterResetHeader, HistogramChunkError};
pub use xor::{encode_xor, XorAppender, XorIterator};

/// The number of samples after which the head cuts a new chunk, as Prometheus does.
pub const SAMPLES_PER_CHUNK: u16 = 120;
