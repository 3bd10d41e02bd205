//! The file operations Strata's durable writers use (WAL segments and checkpoints, block
//! directories), behind one trait, so tests can put a power-loss simulator under them.
//!
//! Key types:
//! - [`Fs`]: create / open-for-write / create_dir / rename / remove / fsync a directory, and
//!   [`Fs::failpoint`], a named point in a write protocol; [`FsFile`]: write, seek,
//!   `set_len`, fsync.
//! - [`OsFs`]: the real file system, a thin shell over `std::fs` (one virtual call per
//!   operation; the WAL writes whole group buffers, so this costs nothing measurable).
//! - [`CrashFs`]: for tests. It works on the real files under one root but remembers, for
//!   every file, its content as of its last fsync and, for every directory, its entries as
//!   of its last directory fsync. [`CrashFs::crash`] rewinds the disk to exactly that: writes
//!   not fsynced are dropped, files created or renamed without a directory fsync disappear or
//!   go back to their old names, removals not made durable come back. It can also crash by
//!   itself after N operations or at a named failpoint, to cut a protocol at any step.
//! - [`SharedFs`]: a cloneable `Arc<dyn Fs>` that defaults to [`OsFs`], for options structs.
//! - [`failpoint`]: the named points and the process-wide switch (`-debug.failpoint`) that
//!   makes [`OsFs`] abort the process when one is reached.
//!
//! ```text
//! strata-wal (segments, checkpoints) ─┐
//! strata-block (block writer)        ─┼─> SharedFs ─> OsFs    (production)
//! strata-tsdb (tenant dirs)          ─┘            └> CrashFs (power-loss tests)
//! ```
//!
//! Reads do not go through [`Fs`]: [`CrashFs`] keeps the real files current (the page cache
//! view), so `std::fs` reads see what a running process would see.
//!
//! Invariant the writers keep (and [`CrashFs`] checks): data is durable only after an fsync
//! of the file, and a name only after an fsync of the directory holding it.

mod crash;
pub mod failpoint;
mod os;

use std::fmt;
use std::io::{self, Seek, Write};
use std::ops::Deref;
use std::path::Path;
use std::sync::Arc;

pub use crash::{CrashFs, CrashOptions, CrashReport};
pub use os::{OsFile, OsFs};

/// The file-system operations of Strata's durable writers.
pub trait Fs: Send + Sync + fmt::Debug {
    /// Creates `path` for writing, truncating it if it exists.
    fn create(&self, path: &Path) -> io::Result<Box<dyn FsFile>>;
    /// Opens an existing file for writing at offset 0, without truncating it.
    fn open_write(&self, path: &Path) -> io::Result<Box<dyn FsFile>>;
    /// Creates one directory (its parent must exist).
    fn create_dir(&self, path: &Path) -> io::Result<()>;
    /// Creates a directory and any missing parents.
    fn create_dir_all(&self, path: &Path) -> io::Result<()>;
    /// Renames a file or directory, replacing `to` if it is a file or an empty directory.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Removes a file.
    fn remove_file(&self, path: &Path) -> io::Result<()>;
    /// Removes a directory and everything in it.
    fn remove_dir_all(&self, path: &Path) -> io::Result<()>;
    /// Fsyncs a directory, making the creations, renames and removals in it durable.
    fn sync_dir(&self, path: &Path) -> io::Result<()>;
    /// Reached a named point of a write protocol (see [`failpoint`]). [`OsFs`] aborts the
    /// process when `-debug.failpoint` names it; [`CrashFs`] can simulate a crash there
    /// (the returned error then stops the caller, as a dead process would stop).
    fn failpoint(&self, name: &str) -> io::Result<()>;
}

/// A file opened for writing through an [`Fs`].
pub trait FsFile: Write + Seek + Send + fmt::Debug {
    /// Fsyncs the file's data (and the metadata needed to read it back, such as its size).
    fn sync_data(&mut self) -> io::Result<()>;
    /// Fsyncs the file's data and all its metadata.
    fn sync_all(&mut self) -> io::Result<()>;
    /// Truncates or extends the file to `len` bytes (the position is unchanged).
    fn set_len(&mut self, len: u64) -> io::Result<()>;
}

/// A shared [`Fs`] for options structs: `Default` is [`OsFs`].
#[derive(Clone)]
pub struct SharedFs(Arc<dyn Fs>);

impl SharedFs {
    /// Wraps a file system.
    pub fn new(fs: impl Fs + 'static) -> Self {
        Self(Arc::new(fs))
    }
}

impl Default for SharedFs {
    fn default() -> Self {
        Self(Arc::new(OsFs))
    }
}

impl From<Arc<dyn Fs>> for SharedFs {
    fn from(fs: Arc<dyn Fs>) -> Self {
        Self(fs)
    }
}

impl Deref for SharedFs {
    type Target = dyn Fs;

    fn deref(&self) -> &Self::Target {
        &*self.0
    }
}

impl fmt::Debug for SharedFs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Writes a whole file through `fs` and fsyncs it (the file, not its directory).
pub fn write_file_synced(fs: &dyn Fs, path: &Path, data: &[u8]) -> io::Result<()> {
    let mut f = fs.create(path)?;
    f.write_all(data)?;
    f.sync_all()
}

#[cfg(test)]
mod tests;
