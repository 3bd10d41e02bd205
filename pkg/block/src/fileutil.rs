//! File helpers: positional reads that report the file, durable writes (fsync of files and
//! directories) through a [`strata_vfs::Fs`], and a buffered writer that tracks its position
//! for section offsets.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use strata_vfs::{Fs, FsFile};

use crate::BlockError;

/// A finished block file opened for reading: memory-mapped when the kernel allows it (reads
/// are then slices of the map: no system call, no copy, no zeroed buffer), else read with
/// positional reads.
pub(crate) struct BlockFile {
    file: File,
    /// The whole file, when mapped. Slices of it keep the map alive (a chunk handed to a
    /// query outlives neither its map nor, on Linux, a deleted file's pages).
    map: Option<Bytes>,
}

impl BlockFile {
    /// Whether reads are slices of a memory map.
    pub(crate) fn is_mapped(&self) -> bool {
        self.map.is_some()
    }

    fn map(file: &File, len: u64) -> Option<Bytes> {
        if len == 0 {
            return None;
        }
        match map_read_only(file) {
            Ok(m) => Some(Bytes::from_owner(m)),
            Err(e) => {
                tracing::debug!(error = %e, "mmap failed; reading the block file with pread");
                None
            }
        }
    }
}

/// Maps a finished block file read-only.
#[allow(unsafe_code)]
fn map_read_only(file: &File) -> std::io::Result<memmap2::Mmap> {
    // SAFETY: block files are immutable once their block directory is renamed into place:
    // Strata never writes, truncates or rewrites them (a block is replaced by writing a new
    // directory and removing the old one, and removing unlinks without touching the pages a
    // map still references). Like Prometheus, which maps the same files, this relies on no
    // other process truncating a block's files while it is served.
    unsafe { memmap2::Mmap::map(file) }
}

/// Reads exactly `buf.len()` bytes at `off`; a short file is an I/O error (`UnexpectedEof`).
pub(crate) fn read_exact_at(
    file: &BlockFile,
    path: &Path,
    buf: &mut [u8],
    off: u64,
) -> Result<(), BlockError> {
    if let Some(map) = &file.map {
        let src = usize::try_from(off)
            .ok()
            .and_then(|o| Some(o..o.checked_add(buf.len())?))
            .and_then(|r| map.get(r))
            .ok_or_else(|| {
                BlockError::io(
                    "read",
                    path,
                    std::io::Error::from(std::io::ErrorKind::UnexpectedEof),
                )
            })?;
        buf.copy_from_slice(src);
        return Ok(());
    }
    file.file
        .read_exact_at(buf, off)
        .map_err(|e| BlockError::io("read", path, e))
}

/// The `len` bytes at `off`: a slice of the map, or a new buffer read from the file.
pub(crate) fn read_vec_at(
    file: &BlockFile,
    path: &Path,
    off: u64,
    len: usize,
) -> Result<Bytes, BlockError> {
    if let Some(map) = &file.map {
        let range = usize::try_from(off)
            .ok()
            .and_then(|o| Some(o..o.checked_add(len)?))
            .filter(|r| r.end <= map.len())
            .ok_or_else(|| {
                BlockError::io(
                    "read",
                    path,
                    std::io::Error::from(std::io::ErrorKind::UnexpectedEof),
                )
            })?;
        return Ok(map.slice(range));
    }
    let mut v = vec![0u8; len];
    read_exact_at(file, path, &mut v, off)?;
    Ok(Bytes::from(v))
}

/// Opens a finished block file for reading (mapped when possible), with its length.
pub(crate) fn open_read(path: &Path) -> Result<(BlockFile, u64), BlockError> {
    let f = File::open(path).map_err(|e| BlockError::io("open", path, e))?;
    let len = f
        .metadata()
        .map_err(|e| BlockError::io("stat", path, e))?
        .len();
    let map = BlockFile::map(&f, len);
    Ok((BlockFile { file: f, map }, len))
}

/// Flushes a directory's entries (new, renamed or removed files) to disk.
pub(crate) fn fsync_dir(fs: &dyn Fs, dir: &Path) -> Result<(), BlockError> {
    fs.sync_dir(dir)
        .map_err(|e| BlockError::io("fsync directory", dir, e))
}

/// Writes a whole small file and fsyncs it.
pub(crate) fn write_file_synced(fs: &dyn Fs, path: &Path, data: &[u8]) -> Result<(), BlockError> {
    let mut f = fs
        .create(path)
        .map_err(|e| BlockError::io("create", path, e))?;
    f.write_all(data)
        .map_err(|e| BlockError::io("write", path, e))?;
    f.sync_all().map_err(|e| BlockError::io("fsync", path, e))
}

/// A buffered file writer that knows its offset, for sections that reference each other.
pub(crate) struct PosWriter {
    w: BufWriter<Box<dyn FsFile>>,
    path: PathBuf,
    pos: u64,
}

impl PosWriter {
    pub(crate) fn create(fs: &dyn Fs, path: &Path) -> Result<Self, BlockError> {
        let f = fs
            .create(path)
            .map_err(|e| BlockError::io("create", path, e))?;
        Ok(Self {
            w: BufWriter::with_capacity(1 << 20, f),
            path: path.to_path_buf(),
            pos: 0,
        })
    }

    pub(crate) fn pos(&self) -> u64 {
        self.pos
    }

    pub(crate) fn write(&mut self, b: &[u8]) -> Result<(), BlockError> {
        self.w
            .write_all(b)
            .map_err(|e| BlockError::io("write", &self.path, e))?;
        self.pos += b.len() as u64;
        Ok(())
    }

    /// Writes zero bytes until the position is a multiple of `align`.
    pub(crate) fn pad(&mut self, align: u64) -> Result<(), BlockError> {
        let rem = self.pos % align;
        if rem != 0 {
            const ZEROS: [u8; 16] = [0; 16];
            let n = (align - rem) as usize;
            debug_assert!(n <= ZEROS.len());
            self.write(&ZEROS[..n])?;
        }
        Ok(())
    }

    /// Flushes the buffer and fsyncs the file, then closes it.
    pub(crate) fn finish(self) -> Result<(), BlockError> {
        let path = self.path;
        let mut f = self
            .w
            .into_inner()
            .map_err(|e| BlockError::io("flush", &path, e.into_error()))?;
        f.sync_all().map_err(|e| BlockError::io("fsync", &path, e))
    }
}
