//! Checkpoints: the records still needed from the previous checkpoint and the segments
//! before a bound, compacted by the caller into `checkpoint.NNNNNNNN` (NNNNNNNN = the last
//! segment covered), after which the covered segments and older checkpoints are deleted.
//!
//! Crash safety: the checkpoint is written to `checkpoint.NNNNNNNN.tmp`, every file and the
//! directory fsynced, renamed, and the WAL directory fsynced before anything is deleted. A
//! crash leaves either the old state (the `.tmp` is removed at open) or the new checkpoint
//! plus segments it covers (deleted at open).

use std::path::Path;

use strata_vfs::{failpoint, Fs};

use crate::error::WalError;
use crate::reader::read_dir_segments;
use crate::segment::{checkpoint_name, list_checkpoints, list_segments, segment_path, sync_dir};
use crate::wal::Wal;
use crate::writer::SegmentWriter;

/// Decides which records a checkpoint keeps; record semantics are the caller's.
pub trait Compactor {
    /// Called for every record of the previous checkpoint, then of the covered segments, in
    /// order; pushes the records to keep (rewritten or as is) onto `out`.
    fn record(&mut self, rec: &[u8], out: &mut Vec<Vec<u8>>);
    /// Called once at the end; pushes any records held back (e.g. latest-value state).
    fn finish(&mut self, out: &mut Vec<Vec<u8>>);
}

/// What a checkpoint did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CheckpointStats {
    /// The last segment the checkpoint covers (its name's number).
    pub checkpoint: u32,
    /// Records read.
    pub records_in: u64,
    /// Records written.
    pub records_out: u64,
    /// Segments deleted.
    pub segments_deleted: usize,
}

struct Out<'a> {
    fs: &'a dyn Fs,
    dir: std::path::PathBuf,
    seg: SegmentWriter,
    segment_size: u64,
    max: usize,
    records: u64,
}

impl Out<'_> {
    fn write(&mut self, recs: &mut Vec<Vec<u8>>) -> Result<(), WalError> {
        for r in recs.drain(..) {
            if r.len() > self.max {
                return Err(WalError::RecordTooLarge {
                    len: r.len(),
                    max: self.max,
                });
            }
            if !self.seg.fits(r.len()) {
                self.seg.sync()?;
                let n = self.seg.segment() + 1;
                self.seg = SegmentWriter::create(self.fs, &self.dir, n, self.segment_size)?;
            }
            self.seg.append(&r)?;
            self.records += 1;
        }
        Ok(())
    }
}

impl Wal {
    /// Writes a checkpoint of everything before segment `before` (the previous checkpoint
    /// and segments `< before`), keeping what `compactor` keeps, then deletes those segments
    /// and older checkpoints. `before` may be at most the segment being written; cut a
    /// segment first ([`Wal::cut_segment`]) to cover everything written so far. Returns
    /// `Ok(None)` when there is nothing new to cover.
    pub fn checkpoint(
        &self,
        before: u32,
        compactor: &mut dyn Compactor,
    ) -> Result<Option<CheckpointStats>, WalError> {
        let _guard = self.checkpoint_lock();
        let current = self.current_segment();
        if before > current {
            return Err(WalError::CheckpointTooFar { before, current });
        }
        let dir = self.dir().to_path_buf();
        let (cps, _) = list_checkpoints(&dir)?;
        let prev = cps.last().copied();
        if before == 0 || prev.is_some_and(|p| p + 1 >= before) {
            return Ok(None);
        }
        let n = before - 1;
        let fs = self.fs();
        let tmp = dir.join(format!("{}.tmp", checkpoint_name(n)));
        if tmp.exists() {
            fs.remove_dir_all(&tmp)
                .map_err(|e| WalError::io("remove stale checkpoint", &tmp, e))?;
        }
        fs.create_dir(&tmp)
            .map_err(|e| WalError::io("create checkpoint", &tmp, e))?;
        let res = self.write_checkpoint(&dir, &tmp, prev, before, compactor);
        let (records_in, records_out) = match res {
            Ok(v) => v,
            Err(e) => {
                let _ = fs.remove_dir_all(&tmp);
                return Err(e);
            }
        };
        let fin = dir.join(checkpoint_name(n));
        fs.rename(&tmp, &fin)
            .map_err(|e| WalError::io("rename checkpoint", &fin, e))?;
        sync_dir(fs, &dir)?;
        // The new checkpoint is durable; what it covers is still there too.
        fs.failpoint(failpoint::WAL_CHECKPOINT_MIDDLE)
            .map_err(|e| WalError::io("checkpoint failpoint in", &dir, e))?;

        let mut deleted = 0;
        for s in list_segments(&dir)?.into_iter().filter(|&s| s < before) {
            let p = segment_path(&dir, s);
            fs.remove_file(&p)
                .map_err(|e| WalError::io("remove checkpointed segment", &p, e))?;
            deleted += 1;
        }
        for c in cps.into_iter().filter(|&c| c < n) {
            let p = dir.join(checkpoint_name(c));
            fs.remove_dir_all(&p)
                .map_err(|e| WalError::io("remove old checkpoint", &p, e))?;
        }
        sync_dir(fs, &dir)?;
        tracing::info!(
            checkpoint = n,
            records_in,
            records_out,
            segments_deleted = deleted,
            "wal: checkpoint written"
        );
        Ok(Some(CheckpointStats {
            checkpoint: n,
            records_in,
            records_out,
            segments_deleted: deleted,
        }))
    }

    fn write_checkpoint(
        &self,
        dir: &Path,
        tmp: &Path,
        prev: Option<u32>,
        before: u32,
        compactor: &mut dyn Compactor,
    ) -> Result<(u64, u64), WalError> {
        let mut out = Out {
            fs: self.fs(),
            dir: tmp.to_path_buf(),
            seg: SegmentWriter::create(self.fs(), tmp, 0, self.segment_size())?,
            segment_size: self.segment_size(),
            max: self.max_record_len(),
            records: 0,
        };
        let mut buf: Vec<Vec<u8>> = Vec::new();
        let mut records_in = 0u64;
        let mut feed = |rec: &[u8]| -> Result<(), WalError> {
            records_in += 1;
            compactor.record(rec, &mut buf);
            // Writing never yields `Corrupt`, so a `Corrupt` below is always the reader's.
            out.write(&mut buf)
        };
        if let Some(p) = prev {
            match read_dir_segments(&dir.join(checkpoint_name(p)), 0, None, &mut feed) {
                Ok(_) => {}
                // Keep what the damaged checkpoint still gives, as replay does.
                Err(WalError::Corrupt(c)) => {
                    tracing::error!(corruption = %c, "wal: previous checkpoint is damaged; carrying over its records up to the damage");
                }
                Err(e) => return Err(e),
            }
        }
        let first = prev.map_or(0, |p| p + 1);
        read_dir_segments(dir, first, Some(before), &mut feed)?;
        compactor.finish(&mut buf);
        out.write(&mut buf)?;
        out.seg.sync()?;
        sync_dir(self.fs(), tmp)?;
        Ok((records_in, out.records))
    }
}
