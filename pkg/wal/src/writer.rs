//! Writing one segment file: framing into a buffer, `write(2)` of the buffer, fsync, and
//! rolling back to a known good length after a failure.

use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use strata_vfs::{Fs, FsFile};

use crate::error::WalError;
use crate::format::{frame, framed_len};
use crate::segment::{segment_path, sync_dir};

/// Framed bytes buffered before a `write(2)`; bounds memory for large groups.
const FLUSH_AT: usize = 1 << 20;

/// The segment being written.
pub struct SegmentWriter {
    file: Box<dyn FsFile>,
    path: PathBuf,
    segment: u32,
    segment_size: u64,
    /// The logical end: written bytes plus `buf`.
    off: u64,
    /// Bytes handed to the kernel.
    written: u64,
    buf: Vec<u8>,
}

impl SegmentWriter {
    /// Creates segment `n` in `dir` (empty, replacing any file of that name, which only a
    /// failed earlier creation can leave) through `fs` and makes its directory entry durable.
    pub fn create(fs: &dyn Fs, dir: &Path, n: u32, segment_size: u64) -> Result<Self, WalError> {
        let path = segment_path(dir, n);
        let file = fs
            .create(&path)
            .map_err(|e| WalError::io("create segment", &path, e))?;
        sync_dir(fs, dir)?;
        Ok(Self {
            file,
            path,
            segment: n,
            segment_size,
            off: 0,
            written: 0,
            buf: Vec::new(),
        })
    }

    /// The segment number.
    pub fn segment(&self) -> u32 {
        self.segment
    }

    /// The segment file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes handed to the kernel so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Tells whether a record of `len` bytes still fits in this segment.
    pub fn fits(&self, len: usize) -> bool {
        self.off + framed_len(len, self.off) <= self.segment_size
    }

    /// Frames `rec` into the buffer; writes the buffer out when it grows large.
    pub fn append(&mut self, rec: &[u8]) -> Result<(), WalError> {
        self.off = frame(rec, self.off, &mut self.buf);
        if self.buf.len() >= FLUSH_AT {
            self.flush()?;
        }
        Ok(())
    }

    /// Writes the buffered bytes to the file; returns how many.
    pub fn flush(&mut self) -> Result<u64, WalError> {
        if self.buf.is_empty() {
            return Ok(0);
        }
        self.file
            .write_all(&self.buf)
            .map_err(|e| WalError::io("write segment", &self.path, e))?;
        let n = self.buf.len() as u64;
        self.written += n;
        self.buf.clear();
        Ok(n)
    }

    /// Flushes, then fsyncs the file; returns how long the fsync took.
    pub fn sync(&mut self) -> Result<Duration, WalError> {
        self.flush()?;
        let start = Instant::now();
        self.file
            .sync_data()
            .map_err(|e| WalError::io("fsync segment", &self.path, e))?;
        Ok(start.elapsed())
    }

    /// Drops everything past `len` (buffered or written) and makes the shorter file durable,
    /// so a failed write leaves no partial record behind.
    pub fn rollback(&mut self, len: u64) -> std::io::Result<()> {
        self.buf.clear();
        self.file.set_len(len)?;
        self.file.seek(SeekFrom::Start(len))?;
        self.file.sync_all()?;
        self.off = len;
        self.written = len;
        Ok(())
    }
}
