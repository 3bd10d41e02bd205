//! Closed head chunks off the heap: once a chunk is full it is written (write(2)) to a
//! segment file under `<data_dir>/chunks_head/` and read back through a read-only memory map,
//! as Prometheus's head does with `chunks_head/`. The bytes then count against the page cache
//! (reclaimable, RssFile when touched), not the process's anonymous memory.
//!
//! ```text
//!   commit ─► offheap::enter(head's arena) ─► open chunk full ─► close ─► relocate
//!                                                      ChunkArena::store ─► pwrite at the
//!                                                      segment's end ─► Bytes over the map
//! ```
//!
//! The files are not a source of truth: the WAL is. They are never fsynced, and
//! [`ChunkArena::open`] deletes whatever a previous process left. A segment is a sparse file
//! of [`SEGMENT_SIZE`] bytes mapped once; chunks are appended and never rewritten, so every
//! byte a reader sees through the map was written before the `Bytes` pointing at it existed.
//! Each chunk's `Bytes` holds its segment alive; when the last chunk of a segment is dropped
//! (head truncation), the map is released and the file removed. Where a write fails (disk
//! full), the chunk simply stays on the heap.

use std::cell::RefCell;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use memmap2::Mmap;
use parking_lot::Mutex;
use strata_storage::ChunkMeta;

use crate::error::DbError;

/// Bytes per segment file (sparse: only written chunks take disk space).
pub const SEGMENT_SIZE: u64 = 64 << 20;

/// One mapped segment file; removed from disk when the last chunk in it is dropped.
struct Segment {
    path: PathBuf,
    file: File,
    map: Mmap,
}

impl Drop for Segment {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_file(&self.path) {
            tracing::warn!(path = %self.path.display(), error = %e, "head chunks: remove segment");
        }
    }
}

/// A chunk's bytes inside a segment's map.
struct MappedChunk {
    seg: Arc<Segment>,
    off: usize,
    len: usize,
}

impl AsRef<[u8]> for MappedChunk {
    fn as_ref(&self) -> &[u8] {
        &self.seg.map[self.off..self.off + self.len]
    }
}

struct Active {
    seg: Arc<Segment>,
    used: u64,
}

/// The closed-chunk store of one database (all its tenants' heads).
pub struct ChunkArena {
    dir: PathBuf,
    next_segment: AtomicU64,
    active: Mutex<Option<Active>>,
    /// Bytes written to segments so far (a metric's source).
    written: AtomicU64,
}

impl std::fmt::Debug for ChunkArena {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChunkArena")
            .field("dir", &self.dir)
            .field("written", &self.written.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl ChunkArena {
    /// Creates (or empties) `dir` for this process's head chunks.
    pub fn open(dir: &Path) -> Result<Self, DbError> {
        if dir.exists() {
            std::fs::remove_dir_all(dir)
                .map_err(|e| DbError::io("remove old head chunks", dir, e))?;
        }
        std::fs::create_dir_all(dir).map_err(|e| DbError::io("create", dir, e))?;
        Ok(Self {
            dir: dir.to_path_buf(),
            next_segment: AtomicU64::new(1),
            active: Mutex::new(None),
            written: AtomicU64::new(0),
        })
    }

    /// Bytes of chunks written off the heap since open.
    pub fn bytes_written(&self) -> u64 {
        self.written.load(Ordering::Relaxed)
    }

    fn new_segment(&self) -> std::io::Result<Arc<Segment>> {
        let n = self.next_segment.fetch_add(1, Ordering::Relaxed);
        let path = self.dir.join(format!("{n:06}"));
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)?;
        file.set_len(SEGMENT_SIZE)?;
        let map = map_read_only(&file)?;
        Ok(Arc::new(Segment { path, file, map }))
    }

    /// Writes `data` to the active segment and returns it as `Bytes` over the map, or `None`
    /// if it cannot (the caller keeps its heap copy).
    fn store(&self, data: &[u8]) -> Option<Bytes> {
        let len = data.len() as u64;
        if len == 0 || len > SEGMENT_SIZE {
            return None;
        }
        let mut active = self.active.lock();
        if active.as_ref().is_none_or(|a| a.used + len > SEGMENT_SIZE) {
            match self.new_segment() {
                Ok(seg) => *active = Some(Active { seg, used: 0 }),
                Err(e) => {
                    tracing::warn!(dir = %self.dir.display(), error = %e, "head chunks: new segment; keeping chunks on the heap");
                    *active = None;
                    return None;
                }
            }
        }
        let a = active.as_mut()?;
        if let Err(e) = a.seg.file.write_all_at(data, a.used) {
            tracing::warn!(path = %a.seg.path.display(), error = %e, "head chunks: write; keeping the chunk on the heap");
            return None;
        }
        let chunk = MappedChunk {
            seg: Arc::clone(&a.seg),
            off: a.used as usize,
            len: data.len(),
        };
        a.used += len;
        self.written.fetch_add(len, Ordering::Relaxed);
        Some(Bytes::from_owner(chunk))
    }
}

/// Maps the whole (pre-sized) segment file for reading.
#[allow(unsafe_code)]
fn map_read_only(file: &File) -> std::io::Result<Mmap> {
    // SAFETY: the file is this process's own (created with `create_new` in a directory it
    // emptied at start-up), never truncated while mapped (removed only when the last
    // `MappedChunk` drops the map), and only appended to: a byte is read through the map only
    // after `write_all_at` returned for it, and is never written again.
    unsafe { Mmap::map(file) }
}

thread_local! {
    static CURRENT: RefCell<Option<Arc<ChunkArena>>> = const { RefCell::new(None) };
}

/// Makes chunks closed on this thread go to `arena` until the guard drops.
pub(crate) fn enter(arena: Option<&Arc<ChunkArena>>) -> ArenaGuard {
    let prev = CURRENT.with(|c| c.replace(arena.cloned()));
    ArenaGuard { prev }
}

/// Restores the previous arena of the thread.
pub(crate) struct ArenaGuard {
    prev: Option<Arc<ChunkArena>>,
}

impl Drop for ArenaGuard {
    fn drop(&mut self) {
        let prev = self.prev.take();
        CURRENT.with(|c| *c.borrow_mut() = prev);
    }
}

/// Moves a just-closed chunk's bytes off the heap when this thread has an arena.
pub(crate) fn relocate(meta: ChunkMeta) -> ChunkMeta {
    CURRENT.with(|c| {
        let cur = c.borrow();
        let Some(arena) = cur.as_ref() else {
            return meta;
        };
        match arena.store(meta.chunk.bytes()) {
            Some(data) => match strata_chunkenc::Chunk::new(meta.chunk.encoding(), data) {
                Ok(chunk) => ChunkMeta {
                    min_time: meta.min_time,
                    max_time: meta.max_time,
                    chunk,
                },
                Err(_) => meta,
            },
            None => meta,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata_chunkenc::{encode_xor, Encoding};
    use strata_model::Sample;

    fn chunk(n: i64) -> ChunkMeta {
        let s: Vec<Sample> = (0..n)
            .map(|i| Sample::new(i * 1000, i as f64 * 1.5))
            .collect();
        ChunkMeta {
            min_time: 0,
            max_time: (n - 1) * 1000,
            chunk: encode_xor(&s),
        }
    }

    #[test]
    fn relocated_chunks_read_the_same_and_free_their_segment() {
        let dir = tempfile::tempdir().expect("tempdir");
        let arena = Arc::new(ChunkArena::open(&dir.path().join("chunks_head")).expect("open"));
        let originals: Vec<ChunkMeta> = (1..50).map(chunk).collect();
        let moved: Vec<ChunkMeta> = {
            let _g = enter(Some(&arena));
            originals.iter().cloned().map(relocate).collect()
        };
        for (a, b) in originals.iter().zip(&moved) {
            assert_eq!(a.chunk.bytes(), b.chunk.bytes());
            assert_eq!(b.chunk.encoding(), Encoding::Xor);
            // Not the heap copy: a different address.
            assert_ne!(a.chunk.bytes().as_ptr(), b.chunk.bytes().as_ptr());
        }
        assert!(arena.bytes_written() > 0);
        let seg = dir.path().join("chunks_head").join("000001");
        assert!(seg.exists());
        // Without an arena on the thread nothing moves.
        let c = chunk(3);
        let same = relocate(c.clone());
        assert_eq!(same.chunk.bytes().as_ptr(), c.chunk.bytes().as_ptr());
        // Dropping every chunk (and the arena's active handle) removes the file.
        drop(moved);
        drop(arena);
        assert!(!seg.exists(), "segment file left behind");
    }

    #[test]
    fn open_clears_a_previous_process_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path().join("chunks_head");
        std::fs::create_dir_all(&d).expect("mkdir");
        std::fs::write(d.join("000007"), b"old").expect("write");
        let _arena = ChunkArena::open(&d).expect("open");
        assert!(!d.join("000007").exists());
    }
}
