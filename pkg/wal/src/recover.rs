//! Opening a WAL directory: replay the latest checkpoint and the segments after it, and
//! repair what a crash or damage left behind so the log can be appended to again.
//!
//! Outcomes (each logged with segment and offset, and listed in [`OpenReport`]):
//! - torn last record (the last segment ends inside a record): truncated there, warning;
//! - damage anywhere else (bad checksum, bad header, garbage appended, a segment cut short
//!   before later ones): the segment is truncated at the end of its last good record and
//!   every later segment is deleted; the records dropped are lost (counted in bytes);
//! - a missing segment: replay stops at the gap, the segments after it are deleted;
//! - a damaged checkpoint: its records up to the damage are replayed, the segments after it
//!   are still replayed (records that need lost ones are the caller's to skip); the
//!   checkpoint is left as is and replaced by the next one.
//!
//! Writing always resumes in a fresh segment after the last one kept.

use std::path::Path;

use strata_vfs::Fs;

use crate::error::{Corruption, CorruptionKind, WalError};
use crate::reader::{read_dir_segments, SegmentReader};
use crate::segment::{checkpoint_name, list_checkpoints, list_segments, segment_path, sync_dir};

/// What opening the WAL found and did.
#[derive(Clone, Debug, Default)]
pub struct OpenReport {
    /// Records replayed (checkpoint and segments).
    pub records: u64,
    /// The checkpoint replayed first (the last segment it covers), if any.
    pub checkpoint: Option<u32>,
    /// Segments replayed after the checkpoint.
    pub segments: u32,
    /// Damage found, in the order met. A torn tail is listed here too (see `torn_tail`).
    pub corruptions: Vec<Corruption>,
    /// Whether the only damage was a torn last record, the mark of a crash mid-write.
    pub torn_tail: bool,
    /// Bytes of log thrown away by repairs (truncated tails and deleted segments).
    pub dropped_bytes: u64,
    /// Segments deleted by repairs.
    pub dropped_segments: Vec<u32>,
    /// The segment new records go to.
    pub next_segment: u32,
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// Deletes `segments` of `dir`, adding their sizes to the report.
fn drop_segments(
    fs: &dyn Fs,
    dir: &Path,
    segments: &[u32],
    report: &mut OpenReport,
) -> Result<(), WalError> {
    for &s in segments {
        let p = segment_path(dir, s);
        report.dropped_bytes += file_len(&p);
        fs.remove_file(&p)
            .map_err(|e| WalError::io("remove segment", &p, e))?;
        report.dropped_segments.push(s);
        tracing::error!(segment = s, path = %p.display(), "wal: deleted segment after damage; its records are lost");
    }
    Ok(())
}

/// Replays and repairs `dir` (created if missing), calling `replay` for every record in
/// order. Returns what was found; the caller opens segment `next_segment` for writing.
/// Every change goes through `fs`.
pub fn recover(
    fs: &dyn Fs,
    dir: &Path,
    replay: &mut dyn FnMut(&[u8]),
) -> Result<OpenReport, WalError> {
    if !dir.is_dir() {
        fs.create_dir_all(dir)
            .map_err(|e| WalError::io("create wal directory", dir, e))?;
        // The new directory's own entry must survive a power loss, or every segment in it
        // goes with it.
        if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            sync_dir(fs, parent)?;
        }
    }
    let mut report = OpenReport::default();
    let (checkpoints, tmps) = list_checkpoints(dir)?;
    for t in tmps {
        tracing::info!(path = %t.display(), "wal: removing unfinished checkpoint");
        fs.remove_dir_all(&t)
            .map_err(|e| WalError::io("remove unfinished checkpoint", &t, e))?;
    }
    let cp = checkpoints.last().copied();
    if let Some(n) = cp {
        let cp_dir = dir.join(checkpoint_name(n));
        tracing::info!(checkpoint = n, "wal: replaying checkpoint");
        let mut count = 0u64;
        let res = read_dir_segments(&cp_dir, 0, None, &mut |rec| {
            replay(rec);
            count += 1;
            Ok(())
        });
        report.records += count;
        report.checkpoint = Some(n);
        match res {
            Ok(_) => {}
            Err(WalError::Corrupt(c)) => {
                tracing::error!(checkpoint = n, corruption = %c, records_read = count,
                    "wal: checkpoint is damaged; keeping its records up to the damage and replaying the segments after it");
                report.corruptions.push(*c);
            }
            Err(e) => return Err(e),
        }
    }

    let all = list_segments(dir)?;
    let (covered, segs): (Vec<u32>, Vec<u32>) =
        all.into_iter().partition(|&s| cp.is_some_and(|n| s <= n));
    for s in covered {
        // A crash between writing a checkpoint and deleting what it covers leaves these.
        let p = segment_path(dir, s);
        fs.remove_file(&p)
            .map_err(|e| WalError::io("remove checkpointed segment", &p, e))?;
    }
    let mut expected = cp.map(|n| n + 1);
    let mut next = expected.unwrap_or(0);
    let total = segs.len();
    for (i, &s) in segs.iter().enumerate() {
        if let Some(e) = expected.filter(|&e| e != s) {
            let c = Corruption {
                dir: dir.to_path_buf(),
                segment: e,
                offset: 0,
                at: 0,
                kind: CorruptionKind::MissingSegment,
            };
            tracing::error!(missing = e, found = s, "wal: segment missing; replay stops at the gap and the segments after it are deleted");
            report.corruptions.push(c);
            drop_segments(fs, dir, &segs[i..], &mut report)?;
            break;
        }
        let mut r = SegmentReader::open(dir, s)?;
        let mut count = 0u64;
        let res = loop {
            match r.next_record() {
                Ok(Some(rec)) => {
                    replay(rec);
                    count += 1;
                }
                Ok(None) => break Ok(()),
                Err(e) => break Err(e),
            }
        };
        report.records += count;
        report.segments += 1;
        next = s + 1;
        expected = Some(s + 1);
        if i % 16 == 15 || i + 1 == total {
            tracing::info!(segment = s, progress = %format!("{}/{}", i + 1, total), records = report.records, "wal: replay progress");
        }
        match res {
            Ok(()) => {}
            Err(WalError::Corrupt(c)) => {
                let path = segment_path(dir, s);
                let last = i + 1 == total;
                let torn = last && c.kind == CorruptionKind::UnexpectedEof;
                let len = file_len(&path);
                if torn {
                    tracing::warn!(corruption = %c, "wal: torn last record (crash mid-write); truncating it");
                } else {
                    tracing::error!(corruption = %c, dropped_bytes = len.saturating_sub(c.offset), later_segments = total - i - 1,
                        "wal: damage in the log; keeping the records before it and dropping everything after");
                }
                report.torn_tail = torn && report.corruptions.is_empty();
                report.dropped_bytes += len.saturating_sub(c.offset);
                let mut f = fs
                    .open_write(&path)
                    .map_err(|e| WalError::io("open segment for repair", &path, e))?;
                f.set_len(c.offset)
                    .and_then(|_| f.sync_all())
                    .map_err(|e| WalError::io("truncate damaged segment", &path, e))?;
                report.corruptions.push(*c);
                drop_segments(fs, dir, &segs[i + 1..], &mut report)?;
                break;
            }
            Err(e) => return Err(e),
        }
    }
    sync_dir(fs, dir)?;
    report.next_segment = next;
    Ok(report)
}
