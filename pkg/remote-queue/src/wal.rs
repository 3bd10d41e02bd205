//! The queue's write-ahead log: appenders' commits become records in `<dir>/wal`, in
//! Strata's WAL framing (`strata-wal`) and the head's record encoding
//! (`strata_tsdb::record`, always tenant 0), as Prometheus's agent writes its WAL.
//!
//! ```text
//! Appender::commit ─> QueueWal::commit ─(series once per ref, samples, histograms,
//!                      │                  exemplars, metadata when changed)─> segment file
//!                      └─> head watch (segment, committed length) ─> endpoint readers
//! truncate(keep_from) ─> checkpoint.(keep_from-1) = live series + metadata,
//!                        then segments < keep_from deleted
//! ```
//!
//! Writing goes straight through a [`SegmentWriter`] (one `write(2)` per commit, no
//! writer thread) so that fsync can be optional: by default a commit is in the page cache
//! when it returns, which a SIGKILL does not lose (Prometheus's agent does not fsync per
//! scrape either); `QueueOptions::fsync` fsyncs every commit. Opening reuses
//! `strata_wal::Wal::open` for replay and repair of a torn tail.
//!
//! Invariants:
//! - A series record for a ref precedes every sample of that ref in the log, or sits in the
//!   checkpoint that replaced the segments holding it.
//! - Readers see only whole records: the published head length always ends a commit.
//! - A series stays in the map (and so in every new checkpoint) while a segment at or after
//!   its last sample's segment still exists.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use parking_lot::{Mutex, RwLock};
use strata_model::Labels;
use strata_tsdb::record::{
    self, exemplar_records, histogram_records, metadata_record, samples_records, Record,
    RefExemplar, RefHistogram, RefSample, SeriesRecords,
};
use strata_tsdb::{MetricMetadata, SampleValue};
use strata_vfs::SharedFs;
use strata_wal::segment::{
    checkpoint_name, list_checkpoints, list_segments, segment_path, sync_dir,
};
use strata_wal::{SegmentWriter, Wal, WalError, WalOptions};
use tokio::sync::watch;

use crate::error::QueueError;
use crate::position::Position;

/// The tenant id every record of the queue's WAL carries.
pub(crate) const TENANT: u32 = 0;

/// Metadata entries per record at most.
const METADATA_PER_RECORD: usize = 256;

/// Where the writer is: readers may read up to here.
pub type Head = Position;

/// What one appender commit holds.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    pub samples: Vec<(Labels, i64, f64)>,
    pub histograms: Vec<(Labels, i64, SampleValue)>,
    pub exemplars: Vec<(Labels, strata_tsdb::Exemplar)>,
    pub metadata: Vec<MetricMetadata>,
}

impl Batch {
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
            && self.histograms.is_empty()
            && self.exemplars.is_empty()
            && self.metadata.is_empty()
    }

    /// The highest sample or histogram timestamp.
    pub fn max_t(&self) -> Option<i64> {
        let a = self.samples.iter().map(|s| s.1);
        a.chain(self.histograms.iter().map(|h| h.1)).max()
    }
}

struct SeriesEntry {
    series_ref: u64,
    /// The segment of its latest sample (or of its series record).
    last_segment: u32,
}

struct Writer {
    seg: SegmentWriter,
    series: HashMap<Labels, SeriesEntry>,
    metadata: HashMap<String, MetricMetadata>,
    next_ref: u64,
}

/// The queue's WAL (see the module docs).
pub(crate) struct QueueWal {
    dir: PathBuf,
    fs: SharedFs,
    segment_size: u64,
    fsync: bool,
    max_record: usize,
    writer: Mutex<Writer>,
    head: watch::Sender<Head>,
    /// Held (read) by readers rebuilding their series from the checkpoint and old
    /// segments, (write) by truncation, so neither sees the other half done.
    truncation: RwLock<()>,
}

impl QueueWal {
    /// Opens (or creates) the WAL in `dir`, replaying it to restore series refs and
    /// metadata, and starts a fresh segment.
    pub fn open(dir: &Path, segment_size: u64, fsync: bool) -> Result<Self, QueueError> {
        let fs = SharedFs::default();
        fs.create_dir_all(dir)
            .map_err(|e| QueueError::io("create wal directory", dir, e))?;
        let mut series: HashMap<Labels, SeriesEntry> = HashMap::new();
        let mut metadata = HashMap::new();
        let mut next_ref = 1u64;
        let mut bad = 0u64;
        let opts = WalOptions {
            segment_size,
            observer: None,
            fs: fs.clone(),
        };
        let (wal, report) = Wal::open(dir, opts, &mut |rec| match record::decode(rec) {
            Ok(Record::Series { series: list, .. }) => {
                for (r, labels) in list {
                    next_ref = next_ref.max(r + 1);
                    series.insert(
                        labels,
                        SeriesEntry {
                            series_ref: r,
                            last_segment: 0,
                        },
                    );
                }
            }
            Ok(Record::Metadata { entries, .. }) => {
                for m in entries {
                    metadata.insert(m.metric_family_name.clone(), m);
                }
            }
            Ok(_) => {}
            Err(_) => bad += 1,
        })?;
        drop(wal);
        if bad > 0 {
            tracing::warn!(dir = %dir.display(), records = bad, "remote queue: undecodable wal records skipped at open");
        }
        // Series seen before the restart live until truncation passes the old segments.
        let last = report.next_segment.saturating_sub(1);
        for e in series.values_mut() {
            e.last_segment = last;
        }
        // `Wal::open` left an empty segment `next_segment`; take it over.
        let seg = SegmentWriter::create(&*fs, dir, report.next_segment, segment_size)?;
        let (head, _) = watch::channel(Position {
            segment: report.next_segment,
            offset: 0,
        });
        tracing::info!(dir = %dir.display(), series = series.len(), segment = report.next_segment, "remote queue: wal opened");
        Ok(Self {
            dir: dir.to_path_buf(),
            fs,
            segment_size,
            fsync,
            max_record: strata_wal::format::max_record_len(segment_size),
            writer: Mutex::new(Writer {
                seg,
                series,
                metadata,
                next_ref,
            }),
            head,
            truncation: RwLock::new(()),
        })
    }

    /// The WAL directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The current head.
    pub fn head(&self) -> Head {
        *self.head.borrow()
    }

    /// A receiver that changes on every commit.
    pub fn subscribe(&self) -> watch::Receiver<Head> {
        self.head.subscribe()
    }

    /// The lock readers hold while rebuilding from the checkpoint and old segments.
    pub fn truncation_lock(&self) -> parking_lot::RwLockReadGuard<'_, ()> {
        self.truncation.read()
    }

    /// Live series in the writer's map.
    pub fn series_count(&self) -> usize {
        self.writer.lock().series.len()
    }

    /// Writes a batch: series records for new series, then samples, histograms,
    /// exemplars and changed metadata. Blocking (file I/O).
    pub fn commit(&self, batch: Batch) -> Result<Head, QueueError> {
        let mut w = self.writer.lock();
        let w = &mut *w;
        let mut new_series = SeriesRecords::new(TENANT);
        let mut any_new = false;
        let mut added: Vec<Labels> = Vec::new();
        let seg_now = w.seg.segment();
        let mut resolve = |labels: &Labels, w: &mut Writer| -> u64 {
            if let Some(e) = w.series.get_mut(labels) {
                e.last_segment = seg_now;
                return e.series_ref;
            }
            let r = w.next_ref;
            w.next_ref += 1;
            new_series.add(
                r,
                labels.iter().map(|l| (l.name.as_str(), l.value.as_str())),
            );
            any_new = true;
            added.push(labels.clone());
            w.series.insert(
                labels.clone(),
                SeriesEntry {
                    series_ref: r,
                    last_segment: seg_now,
                },
            );
            r
        };
        let samples: Vec<RefSample> = batch
            .samples
            .iter()
            .map(|(l, t, v)| RefSample {
                series_ref: resolve(l, w),
                t: *t,
                v: *v,
            })
            .collect();
        let hists: Vec<RefHistogram> = batch
            .histograms
            .iter()
            .map(|(l, t, h)| RefHistogram {
                series_ref: resolve(l, w),
                t: *t,
                h: h.clone(),
            })
            .collect();
        let exemplars: Vec<RefExemplar> = batch
            .exemplars
            .iter()
            .map(|(l, e)| RefExemplar {
                series_ref: resolve(l, w),
                t: e.t,
                v: e.value,
                labels: e.labels.clone(),
            })
            .collect();
        let mut recs = Vec::new();
        if any_new {
            new_series.finish(&mut recs);
        }
        if !samples.is_empty() {
            samples_records(TENANT, &samples, &mut recs);
        }
        if !hists.is_empty() {
            histogram_records(TENANT, &hists, &mut recs);
        }
        if !exemplars.is_empty() {
            exemplar_records(TENANT, &exemplars, &mut recs);
        }
        let changed: Vec<MetricMetadata> = batch
            .metadata
            .iter()
            .filter(|m| w.metadata.get(&m.metric_family_name) != Some(*m))
            .cloned()
            .collect();
        if !changed.is_empty() {
            for m in &changed {
                w.metadata.insert(m.metric_family_name.clone(), m.clone());
            }
            // In parts, so a target with thousands of families never writes a record
            // larger than a small segment (see `QueueOptions::fit_segments_to_cap`).
            for part in changed.chunks(METADATA_PER_RECORD) {
                recs.push(metadata_record(TENANT, part));
            }
        }
        let head = match self.write(w, &recs) {
            Ok(h) => h,
            Err(e) => {
                // The series records never made it: forget the new refs.
                for l in &added {
                    w.series.remove(l);
                }
                return Err(e);
            }
        };
        if head.segment != seg_now {
            // The commit crossed into a new segment: its series live at least as long.
            let touched = batch.samples.iter().map(|x| &x.0);
            let touched = touched
                .chain(batch.histograms.iter().map(|x| &x.0))
                .chain(batch.exemplars.iter().map(|x| &x.0));
            for l in touched {
                if let Some(e) = w.series.get_mut(l) {
                    e.last_segment = head.segment;
                }
            }
        }
        Ok(head)
    }

    fn write(&self, w: &mut Writer, recs: &[Vec<u8>]) -> Result<Head, QueueError> {
        let (start_seg, start) = (w.seg.segment(), w.seg.written());
        let res = self.write_records(w, recs);
        if res.is_err() {
            // Never leave a partial record for readers: cut back to the last commit.
            let len = if w.seg.segment() == start_seg {
                start
            } else {
                0
            };
            if let Err(e) = w.seg.rollback(len) {
                tracing::error!(err = %e, "remote queue: cannot roll back a failed wal write; starting a new segment");
                if let Err(e) = self.cut(w) {
                    tracing::error!(err = %e, "remote queue: cannot start a new wal segment");
                }
            }
        }
        res
    }

    fn write_records(&self, w: &mut Writer, recs: &[Vec<u8>]) -> Result<Head, QueueError> {
        for r in recs {
            if r.len() > self.max_record {
                return Err(WalError::RecordTooLarge {
                    len: r.len(),
                    max: self.max_record,
                }
                .into());
            }
            if !w.seg.fits(r.len()) {
                self.cut(w)?;
            }
            w.seg.append(r)?;
        }
        w.seg.flush()?;
        if self.fsync {
            w.seg.sync()?;
        }
        let head = Position {
            segment: w.seg.segment(),
            offset: w.seg.written(),
        };
        self.head.send_replace(head);
        Ok(head)
    }

    /// Seals the current segment (fsynced, so a sealed segment is whole on disk) and starts
    /// the next.
    fn cut(&self, w: &mut Writer) -> Result<(), QueueError> {
        w.seg.sync()?;
        let n = w.seg.segment() + 1;
        w.seg = SegmentWriter::create(&*self.fs, &self.dir, n, self.segment_size)?;
        self.head.send_replace(Position {
            segment: n,
            offset: 0,
        });
        Ok(())
    }

    /// Deletes the segments before `keep_from` behind a checkpoint of the series still
    /// referenced at or after it (and all metadata). Returns the segments deleted.
    /// Blocking.
    pub fn truncate(&self, keep_from: u32) -> Result<usize, QueueError> {
        let segs = list_segments(&self.dir)?;
        let Some(&first) = segs.first() else {
            return Ok(0);
        };
        let keep_from = keep_from.min(self.head().segment);
        if keep_from <= first {
            return Ok(0);
        }
        let _guard = self.truncation.write();
        let recs = {
            let mut w = self.writer.lock();
            let before = w.series.len();
            w.series.retain(|_, e| e.last_segment >= keep_from);
            let gone = before - w.series.len();
            if gone > 0 {
                tracing::debug!(series = gone, "remote queue: series dropped from the wal");
            }
            let mut sr = SeriesRecords::new(TENANT);
            let mut live: Vec<(&Labels, u64)> =
                w.series.iter().map(|(l, e)| (l, e.series_ref)).collect();
            live.sort_by_key(|(_, r)| *r);
            for (l, r) in live {
                sr.add(r, l.iter().map(|l| (l.name.as_str(), l.value.as_str())));
            }
            let mut recs = Vec::new();
            sr.finish(&mut recs);
            let md: Vec<MetricMetadata> = w.metadata.values().cloned().collect();
            if !md.is_empty() {
                recs.push(metadata_record(TENANT, &md));
            }
            recs
        };
        self.write_checkpoint(keep_from - 1, &recs)?;
        let mut deleted = 0;
        for s in segs.into_iter().filter(|&s| s < keep_from) {
            let p = segment_path(&self.dir, s);
            self.fs
                .remove_file(&p)
                .map_err(|e| QueueError::io("remove wal segment", &p, e))?;
            deleted += 1;
        }
        let (cps, _) = list_checkpoints(&self.dir)?;
        for c in cps.into_iter().filter(|&c| c < keep_from - 1) {
            let p = self.dir.join(checkpoint_name(c));
            self.fs
                .remove_dir_all(&p)
                .map_err(|e| QueueError::io("remove wal checkpoint", &p, e))?;
        }
        sync_dir(&*self.fs, &self.dir)?;
        tracing::debug!(keep_from, deleted, "remote queue: wal truncated");
        Ok(deleted)
    }

    fn write_checkpoint(&self, n: u32, recs: &[Vec<u8>]) -> Result<(), QueueError> {
        let fin = self.dir.join(checkpoint_name(n));
        if fin.exists() {
            return Ok(());
        }
        let tmp = self.dir.join(format!("{}.tmp", checkpoint_name(n)));
        if tmp.exists() {
            self.fs
                .remove_dir_all(&tmp)
                .map_err(|e| QueueError::io("remove stale checkpoint", &tmp, e))?;
        }
        self.fs
            .create_dir(&tmp)
            .map_err(|e| QueueError::io("create checkpoint", &tmp, e))?;
        let mut seg = SegmentWriter::create(&*self.fs, &tmp, 0, self.segment_size)?;
        for r in recs {
            if !seg.fits(r.len()) {
                seg.sync()?;
                let next = seg.segment() + 1;
                seg = SegmentWriter::create(&*self.fs, &tmp, next, self.segment_size)?;
            }
            seg.append(r)?;
        }
        seg.sync()?;
        sync_dir(&*self.fs, &tmp)?;
        self.fs
            .rename(&tmp, &fin)
            .map_err(|e| QueueError::io("rename checkpoint", &fin, e))?;
        sync_dir(&*self.fs, &self.dir)?;
        Ok(())
    }

    /// Sizes of the segments from `from` on, in order (missing ones skipped).
    pub fn segment_sizes(&self, from: u32) -> Vec<(u32, u64, std::time::SystemTime)> {
        let Ok(segs) = list_segments(&self.dir) else {
            return Vec::new();
        };
        segs.into_iter()
            .filter(|&s| s >= from)
            .filter_map(|s| {
                let m = std::fs::metadata(segment_path(&self.dir, s)).ok()?;
                Some((s, m.len(), m.modified().ok()?))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use strata_wal::read_dir_segments;

    use super::*;

    fn series_records(dir: &Path) -> Vec<(u64, Labels)> {
        let mut out = Vec::new();
        let mut f = |rec: &[u8]| -> Result<(), WalError> {
            if let Ok(Record::Series { series, .. }) = record::decode(rec) {
                out.extend(series);
            }
            Ok(())
        };
        read_dir_segments(dir, 0, None, &mut f).expect("read");
        out
    }

    fn batch(labels: &[&Labels], t: i64) -> Batch {
        Batch {
            samples: labels.iter().map(|l| ((*l).clone(), t, 1.0)).collect(),
            ..Batch::default()
        }
    }

    #[test]
    fn series_written_once_kept_by_checkpoint_and_gced_when_unused() {
        let d = tempfile::tempdir().expect("tempdir");
        let a = Labels::from_pairs([("__name__", "a")]);
        let b = Labels::from_pairs([("__name__", "b")]);
        let wal = QueueWal::open(d.path(), 64 * 1024, false).expect("open");
        wal.commit(batch(&[&a, &b], 1)).expect("commit");
        wal.commit(batch(&[&a, &b], 2)).expect("commit");
        assert_eq!(
            series_records(d.path()).len(),
            2,
            "one series record per series"
        );
        // Only `a` from now on, across several segments.
        let mut t = 3;
        while wal.head().segment < 3 {
            wal.commit(batch(&[&a], t)).expect("commit");
            t += 1;
        }
        let keep_from = wal.head().segment;
        assert!(wal.truncate(keep_from).expect("truncate") >= 3);
        assert_eq!(wal.series_count(), 1, "b is referenced by no kept segment");
        let cp = d.path().join(checkpoint_name(keep_from - 1));
        let kept = series_records(&cp);
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].1, a);
        drop(wal);

        let wal = QueueWal::open(d.path(), 64 * 1024, false).expect("reopen");
        assert_eq!(wal.series_count(), 1);
        let head = wal.head();
        wal.commit(batch(&[&a], t)).expect("commit");
        let after: Vec<_> = series_records(d.path())
            .into_iter()
            .filter(|(_, l)| *l == a)
            .collect();
        assert!(
            after.is_empty(),
            "a keeps its ref across a restart: {after:?}"
        );
        assert!(wal.head() > head);
    }

    /// Regression: all changed metadata of a commit went into one record, which a target
    /// with many families made larger than a small segment (`RecordTooLarge`, the scrape
    /// lost), now that a disk cap makes segments small.
    #[test]
    fn metadata_of_many_families_fits_small_segments() {
        let d = tempfile::tempdir().expect("tempdir");
        let wal = QueueWal::open(d.path(), 64 * 1024, false).expect("open");
        let help = "h".repeat(200);
        let metadata: Vec<MetricMetadata> = (0..1000)
            .map(|i| MetricMetadata {
                metric_family_name: format!("family_{i}"),
                metric_type: strata_tsdb::MetricType::Counter,
                help: help.clone(),
                unit: String::new(),
            })
            .collect();
        wal.commit(Batch {
            metadata,
            ..Batch::default()
        })
        .expect("about 200 KiB of metadata commits into 64 KiB segments");
        let mut families = 0;
        let mut f = |rec: &[u8]| -> Result<(), WalError> {
            if let Ok(Record::Metadata { entries, .. }) = record::decode(rec) {
                families += entries.len();
            }
            Ok(())
        };
        strata_wal::read_dir_segments(d.path(), 0, None, &mut f).expect("read");
        assert_eq!(families, 1000);
    }
}
