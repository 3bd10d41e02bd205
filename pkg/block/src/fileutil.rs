//! File helpers: positional reads that report the file, durable writes (fsync of files and
//! directories) through a [`strata_vfs::Fs`], and a buffered writer that tracks its position
//! for section offsets.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use strata_vfs::{Fs, FsFile};

use crate::BlockError;

/// Reads exactly `buf.len()` bytes at `off`; a short file is an I/O error (`UnexpectedEof`).
pub(crate) fn read_exact_at(
    file: &File,
    path: &Path,
    buf: &mut [u8],
    off: u64,
) -> Result<(), BlockError> {
    file.read_exact_at(buf, off)
        .map_err(|e| BlockError::io("read", path, e))
}

/// Reads `len` bytes at `off` into a new vector.
pub(crate) fn read_vec_at(
    file: &File,
    path: &Path,
    off: u64,
    len: usize,
) -> Result<Vec<u8>, BlockError> {
    let mut v = vec![0u8; len];
    read_exact_at(file, path, &mut v, off)?;
    Ok(v)
}

/// Opens a file for reading, returning it with its length.
pub(crate) fn open_read(path: &Path) -> Result<(File, u64), BlockError> {
    let f = File::open(path).map_err(|e| BlockError::io("open", path, e))?;
    let len = f
        .metadata()
        .map_err(|e| BlockError::io("stat", path, e))?
        .len();
    Ok((f, len))
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
