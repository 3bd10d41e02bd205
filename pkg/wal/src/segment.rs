//! Segment and checkpoint files: names, listing, and fsyncs of directories.

use std::path::{Path, PathBuf};

use strata_vfs::Fs;

use crate::error::WalError;

/// A segment's file name: eight decimal digits.
pub fn segment_name(n: u32) -> String {
    format!("{n:08}")
}

/// The path of segment `n` in `dir`.
pub fn segment_path(dir: &Path, n: u32) -> PathBuf {
    dir.join(segment_name(n))
}

/// The name of the checkpoint holding everything up to and including segment `n`.
pub fn checkpoint_name(n: u32) -> String {
    format!("checkpoint.{n:08}")
}

/// Parses a segment file name.
fn parse_segment(name: &str) -> Option<u32> {
    (name.len() == 8 && name.bytes().all(|b| b.is_ascii_digit()))
        .then(|| name.parse().ok())
        .flatten()
}

/// Parses a checkpoint directory name (`checkpoint.NNNNNNNN`, no suffix).
fn parse_checkpoint(name: &str) -> Option<u32> {
    name.strip_prefix("checkpoint.").and_then(parse_segment)
}

/// The segment numbers in `dir`, sorted.
pub fn list_segments(dir: &Path) -> Result<Vec<u32>, WalError> {
    let mut out = Vec::new();
    let rd = std::fs::read_dir(dir).map_err(|e| WalError::io("list segments in", dir, e))?;
    for entry in rd {
        let entry = entry.map_err(|e| WalError::io("list segments in", dir, e))?;
        let is_file = entry.file_type().map(|t| t.is_file()).unwrap_or(false);
        if let (true, Some(n)) = (is_file, entry.file_name().to_str().and_then(parse_segment)) {
            out.push(n);
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// The checkpoints in `dir` (by the last segment each covers), sorted; also returns the
/// names of unfinished (`.tmp`) checkpoint directories.
pub fn list_checkpoints(dir: &Path) -> Result<(Vec<u32>, Vec<PathBuf>), WalError> {
    let mut done = Vec::new();
    let mut tmp = Vec::new();
    let rd = std::fs::read_dir(dir).map_err(|e| WalError::io("list checkpoints in", dir, e))?;
    for entry in rd {
        let entry = entry.map_err(|e| WalError::io("list checkpoints in", dir, e))?;
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        if !name.starts_with("checkpoint.") {
            continue;
        }
        if name.ends_with(".tmp") {
            tmp.push(entry.path());
        } else if let Some(n) = parse_checkpoint(&name) {
            done.push(n);
        }
    }
    done.sort_unstable();
    Ok((done, tmp))
}

/// Fsyncs a directory so that file creations, renames and removals in it are durable.
pub fn sync_dir(fs: &dyn Fs, dir: &Path) -> Result<(), WalError> {
    fs.sync_dir(dir)
        .map_err(|e| WalError::io("fsync directory", dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_back() {
        assert_eq!(segment_name(12), "00000012");
        assert_eq!(parse_segment("00000012"), Some(12));
        assert_eq!(parse_segment("0000001"), None);
        assert_eq!(parse_segment("0000001a"), None);
        assert_eq!(parse_checkpoint(&checkpoint_name(7)), Some(7));
        assert_eq!(parse_checkpoint("checkpoint.00000007.tmp"), None);
    }

    #[test]
    fn lists_only_segments_and_checkpoints() {
        let dir = tempfile::tempdir().expect("tempdir");
        for n in [3u32, 1, 2] {
            std::fs::write(segment_path(dir.path(), n), b"").expect("write");
        }
        std::fs::write(dir.path().join("notes"), b"").expect("write");
        std::fs::create_dir(dir.path().join(checkpoint_name(0))).expect("mkdir");
        std::fs::create_dir(dir.path().join("checkpoint.00000002.tmp")).expect("mkdir");
        assert_eq!(list_segments(dir.path()).expect("list"), vec![1, 2, 3]);
        let (done, tmp) = list_checkpoints(dir.path()).expect("list");
        assert_eq!(done, vec![0]);
        assert_eq!(tmp.len(), 1);
    }
}
