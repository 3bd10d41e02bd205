//! Crash-safe file writes.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::Path;

use crate::error::RingError;

/// Replaces `path` with `bytes` atomically: writes `path.tmp`, fsyncs it, renames it over
/// `path`, then fsyncs the directory so the rename itself survives a crash.
pub(crate) fn atomic_write(path: &Path, bytes: &[u8]) -> Result<(), RingError> {
    let tmp = path.with_extension("tmp");
    {
        let mut f = File::create(&tmp).map_err(|e| RingError::io("create", &tmp, e))?;
        f.write_all(bytes)
            .map_err(|e| RingError::io("write", &tmp, e))?;
        f.sync_all().map_err(|e| RingError::io("fsync", &tmp, e))?;
    }
    fs::rename(&tmp, path).map_err(|e| RingError::io("rename to", path, e))?;
    sync_dir(path)
}

/// Fsyncs the directory holding `path`.
pub(crate) fn sync_dir(path: &Path) -> Result<(), RingError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let d = OpenOptions::new()
        .read(true)
        .open(dir)
        .map_err(|e| RingError::io("open directory", dir, e))?;
    d.sync_all()
        .map_err(|e| RingError::io("fsync directory", dir, e))
}

/// Reads `path`, or `None` if it does not exist.
pub(crate) fn read_optional(path: &Path) -> Result<Option<Vec<u8>>, RingError> {
    match fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(RingError::io("read", path, e)),
    }
}
