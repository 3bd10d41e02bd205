//! Tailing the WAL for one endpoint (Prometheus's WAL watcher): the checkpoint's series
//! first, then every segment in order, reading the segment being written only up to the
//! committed length the writer publishes, so a record is never seen half written.
//!
//! ```text
//! checkpoint.N/ ─series, metadata─┐
//! segment N+1 … head.segment ─────┴─> WalReader::next ─> (Record, end Position)
//! ```

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use strata_model::Labels;
use strata_tsdb::record::{self, Record};
use strata_tsdb::MetricMetadata;
use strata_wal::segment::{checkpoint_name, list_checkpoints, list_segments, segment_path};
use strata_wal::{read_dir_segments, SegmentReader, WalError};

use crate::error::QueueError;
use crate::position::Position;
use crate::wal::{Head, QueueWal};

/// A file read no further than a limit that the reader raises as the writer commits.
struct Tail {
    file: File,
    pos: u64,
    limit: Arc<AtomicU64>,
}

impl Read for Tail {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let limit = self.limit.load(Ordering::Acquire);
        let room = limit.saturating_sub(self.pos);
        if room == 0 {
            return Ok(0);
        }
        let n = buf.len().min(usize::try_from(room).unwrap_or(usize::MAX));
        let got = self.file.read(&mut buf[..n])?;
        self.pos += got as u64;
        Ok(got)
    }
}

/// Reads the WAL forward, keeping every series' labels and the latest metadata.
pub(crate) struct WalReader {
    dir: PathBuf,
    segment: u32,
    reader: Option<SegmentReader<BufReader<Tail>>>,
    limit: Arc<AtomicU64>,
    /// Labels by series ref.
    pub series: HashMap<u64, Labels>,
    /// Metadata by family name.
    pub metadata: HashMap<String, MetricMetadata>,
}

impl WalReader {
    /// Starts a reader: loads the latest checkpoint and positions before the first
    /// segment after it. Blocking.
    pub fn start(wal: &QueueWal) -> Result<Self, QueueError> {
        let dir = wal.dir().to_path_buf();
        let _guard = wal.truncation_lock();
        let mut r = Self {
            segment: 0,
            reader: None,
            limit: Arc::new(AtomicU64::new(0)),
            series: HashMap::new(),
            metadata: HashMap::new(),
            dir,
        };
        if let Some(cp) = r.load_checkpoint()? {
            r.segment = cp + 1;
        }
        if let Some(&first) = list_segments(&r.dir)?.first() {
            r.segment = r.segment.max(first);
        }
        Ok(r)
    }

    /// Adds the latest checkpoint's series and metadata; returns its number.
    fn load_checkpoint(&mut self) -> Result<Option<u32>, QueueError> {
        let (cps, _) = list_checkpoints(&self.dir)?;
        let Some(&cp) = cps.last() else {
            return Ok(None);
        };
        let cp_dir = self.dir.join(checkpoint_name(cp));
        let mut apply = |rec: &[u8]| -> Result<(), WalError> {
            if let Ok(rec) = record::decode(rec) {
                self.apply(&rec);
            }
            Ok(())
        };
        if let Err(e) = read_dir_segments(&cp_dir, 0, None, &mut apply) {
            tracing::error!(err = %e, "remote queue: checkpoint unreadable; series defined only there are lost");
        }
        Ok(Some(cp))
    }

    /// Keeps series labels and metadata from a record.
    fn apply(&mut self, rec: &Record) {
        match rec {
            Record::Series { series, .. } => {
                for (r, l) in series {
                    self.series.insert(*r, l.clone());
                }
            }
            Record::Metadata { entries, .. } => {
                for m in entries {
                    self.metadata
                        .insert(m.metric_family_name.clone(), m.clone());
                }
            }
            _ => {}
        }
    }

    /// The next record up to `head` and the position just past it; `Ok(None)` when
    /// everything committed has been read. Series and metadata records are applied to
    /// the reader's maps before being returned. Blocking.
    pub fn next(&mut self, head: Head) -> Result<Option<(Record, Position)>, QueueError> {
        loop {
            if self.segment > head.segment {
                return Ok(None);
            }
            let limit = if self.segment == head.segment {
                head.offset
            } else {
                u64::MAX
            };
            self.limit.store(limit, Ordering::Release);
            if self.reader.is_none() && !self.open()? {
                continue;
            }
            let Some(reader) = self.reader.as_mut() else {
                continue;
            };
            match reader.next_record() {
                Ok(Some(rec)) => {
                    let decoded = record::decode(rec);
                    let pos = Position {
                        segment: self.segment,
                        offset: reader.offset(),
                    };
                    match decoded {
                        Ok(rec) => {
                            self.apply(&rec);
                            return Ok(Some((rec, pos)));
                        }
                        Err(e) => {
                            tracing::warn!(err = %e, position = %pos, "remote queue: undecodable wal record skipped");
                        }
                    }
                }
                Ok(None) => {
                    if self.segment < head.segment {
                        self.segment += 1;
                        self.reader = None;
                        continue;
                    }
                    return Ok(None);
                }
                Err(WalError::Corrupt(c)) => {
                    if self.segment < head.segment {
                        tracing::error!(corruption = %c, "remote queue: damaged wal segment; skipping to the next");
                        self.segment += 1;
                        self.reader = None;
                        continue;
                    }
                    // The segment being written looks damaged at the committed length:
                    // wait for the next segment rather than spin.
                    tracing::error!(corruption = %c, "remote queue: damaged tail of the wal segment being written");
                    return Ok(None);
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Opens `self.segment`; when it is gone, moves to the next existing one and returns
    /// `false`.
    fn open(&mut self) -> Result<bool, QueueError> {
        let path = segment_path(&self.dir, self.segment);
        match File::open(&path) {
            Ok(file) => {
                let tail = Tail {
                    file,
                    pos: 0,
                    limit: Arc::clone(&self.limit),
                };
                self.reader = Some(SegmentReader::new(
                    BufReader::with_capacity(64 * 1024, tail),
                    &self.dir,
                    self.segment,
                ));
                Ok(true)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let next = list_segments(&self.dir)?
                    .into_iter()
                    .find(|&s| s > self.segment);
                match next {
                    Some(s) => {
                        // Truncated under us: the series of the deleted segments that are
                        // still used are in the checkpoint that replaced them.
                        self.load_checkpoint()?;
                        tracing::warn!(
                            missing = self.segment,
                            next = s,
                            "remote queue: wal segment gone; reading on from the next"
                        );
                        self.segment = s;
                    }
                    None => self.segment += 1,
                }
                Ok(false)
            }
            Err(e) => Err(QueueError::io("open wal segment", path, e)),
        }
    }
}
