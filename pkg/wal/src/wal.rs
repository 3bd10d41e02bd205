//! The WAL handle: open (replay + repair), group-committed appends from any thread, segment
//! cuts and checkpoints.
//!
//! Group commit: callers hand whole batches (lists of records) to [`Wal::log`], which only
//! queues them. One writer thread takes everything queued, frames and writes it with as
//! few `write(2)`s as the buffer allows, fsyncs once, then answers every batch of the group.
//! Batches queued while it writes form the next group, so N concurrent committers cause far
//! fewer than N fsyncs.
//!
//! Failure: when a write or fsync fails, the segment is cut back to where the group started
//! (and fsynced) so it never ends in a partial record, and every batch of the group gets the
//! error. If even that fails, later groups retry the truncation first and fail until it
//! works. Records of a failed group that reached an earlier segment (the group crossed a
//! segment boundary) stay: they are whole, only never acknowledged.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use parking_lot::{Condvar, Mutex};
use strata_vfs::{Fs, SharedFs};
use tokio::sync::oneshot;

use crate::error::WalError;
use crate::format::{max_record_len, DEFAULT_SEGMENT_SIZE, PAGE_SIZE};
use crate::recover::{recover, OpenReport};
use crate::writer::SegmentWriter;

/// Hooks for metrics; every method has a no-op default.
pub trait WalObserver: Send + Sync {
    /// One fsync of a segment finished (successfully) after `took`.
    fn fsync(&self, _took: Duration) {}
    /// `bytes` were written to a segment.
    fn bytes_written(&self, _bytes: u64) {}
    /// A write or fsync failed.
    fn write_error(&self) {}
}

/// How to open a WAL.
#[derive(Clone)]
pub struct WalOptions {
    /// Segment size in bytes; a positive multiple of 32 KiB. Default 128 MiB.
    pub segment_size: u64,
    /// Metrics hooks.
    pub observer: Option<Arc<dyn WalObserver>>,
    /// The file layer every write, fsync, rename and removal goes through: the real file
    /// system by default, a power-loss simulator in tests.
    pub fs: SharedFs,
}

impl Default for WalOptions {
    fn default() -> Self {
        Self {
            segment_size: DEFAULT_SEGMENT_SIZE,
            observer: None,
            fs: SharedFs::default(),
        }
    }
}

impl std::fmt::Debug for WalOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WalOptions")
            .field("segment_size", &self.segment_size)
            .field("observer", &self.observer.is_some())
            .field("fs", &self.fs)
            .finish()
    }
}

/// Waits for one batch to be durable.
#[derive(Debug)]
pub struct Pending(oneshot::Receiver<Result<(), WalError>>);

impl Pending {
    fn ready(r: Result<(), WalError>) -> Self {
        let (tx, rx) = oneshot::channel();
        let _ = tx.send(r);
        Self(rx)
    }

    /// Resolves once the batch is fsynced (or failed). Never blocks a thread.
    pub async fn wait(self) -> Result<(), WalError> {
        self.0.await.unwrap_or(Err(WalError::Closed))
    }

    /// Blocks the calling thread until the batch is fsynced. Must not be called from an
    /// async task (it would stall the runtime's worker).
    pub fn wait_blocking(self) -> Result<(), WalError> {
        self.0.blocking_recv().unwrap_or(Err(WalError::Closed))
    }
}

/// Answers one batch.
type Reply = oneshot::Sender<Result<(), WalError>>;

/// A queued batch: its records and who waits for them.
type Batch = (Vec<Vec<u8>>, Reply);

enum Item {
    Batch(Vec<Vec<u8>>, Reply),
    Cut(oneshot::Sender<Result<u32, WalError>>),
}

#[derive(Default)]
struct Queue {
    items: Vec<Item>,
    closed: bool,
}

struct Shared {
    dir: PathBuf,
    segment_size: u64,
    queue: Mutex<Queue>,
    cv: Condvar,
    current: AtomicU32,
    fsyncs: AtomicU64,
    groups: AtomicU64,
    bytes: AtomicU64,
    observer: Option<Arc<dyn WalObserver>>,
    checkpoint_lock: Mutex<()>,
    fs: SharedFs,
}

/// A write-ahead log in one directory. Dropping it writes what is queued and stops the
/// writer thread.
pub struct Wal {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Wal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wal")
            .field("dir", &self.shared.dir)
            .field("current_segment", &self.current_segment())
            .finish_non_exhaustive()
    }
}

impl Wal {
    /// Opens the WAL in `dir` (created if missing): replays the latest checkpoint and the
    /// segments after it through `replay`, repairs damage (see the `recover` module), and
    /// starts a fresh segment for writing.
    pub fn open(
        dir: &Path,
        opts: WalOptions,
        replay: &mut dyn FnMut(&[u8]),
    ) -> Result<(Self, OpenReport), WalError> {
        if opts.segment_size == 0 || !opts.segment_size.is_multiple_of(PAGE_SIZE as u64) {
            return Err(WalError::BadSegmentSize(opts.segment_size));
        }
        let report = recover(&*opts.fs, dir, replay)?;
        let seg = SegmentWriter::create(&*opts.fs, dir, report.next_segment, opts.segment_size)?;
        let shared = Arc::new(Shared {
            dir: dir.to_path_buf(),
            segment_size: opts.segment_size,
            queue: Mutex::new(Queue::default()),
            cv: Condvar::new(),
            current: AtomicU32::new(report.next_segment),
            fsyncs: AtomicU64::new(0),
            groups: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            observer: opts.observer,
            checkpoint_lock: Mutex::new(()),
            fs: opts.fs,
        });
        let s2 = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("wal-writer".into())
            .spawn(move || Writer::new(s2, seg).run())
            .map_err(|e| WalError::io("start writer thread for", dir, e))?;
        tracing::info!(dir = %dir.display(), records = report.records, segment = report.next_segment,
            corruptions = report.corruptions.len(), "wal: opened");
        Ok((
            Self {
                shared,
                thread: Some(thread),
            },
            report,
        ))
    }

    /// The WAL directory.
    pub fn dir(&self) -> &Path {
        &self.shared.dir
    }

    /// The segment size.
    pub fn segment_size(&self) -> u64 {
        self.shared.segment_size
    }

    /// The largest record accepted.
    pub fn max_record_len(&self) -> usize {
        max_record_len(self.shared.segment_size)
    }

    /// Queues a batch of records (written in order, in one group) and returns a handle that
    /// resolves once they are fsynced. Records longer than [`Wal::max_record_len`] fail the
    /// batch at once.
    pub fn log(&self, records: Vec<Vec<u8>>) -> Pending {
        let max = self.max_record_len();
        if let Some(r) = records.iter().find(|r| r.len() > max) {
            return Pending::ready(Err(WalError::RecordTooLarge { len: r.len(), max }));
        }
        let (tx, rx) = oneshot::channel();
        if !self.push(Item::Batch(records, tx)) {
            return Pending::ready(Err(WalError::Closed));
        }
        Pending(rx)
    }

    fn push(&self, item: Item) -> bool {
        let mut q = self.shared.queue.lock();
        if q.closed {
            return false;
        }
        q.items.push(item);
        drop(q);
        self.shared.cv.notify_one();
        true
    }

    /// Closes the current segment (after the batches queued before) and starts the next;
    /// returns the new segment's number. Blocks until done.
    pub fn cut_segment(&self) -> Result<u32, WalError> {
        let (tx, rx) = oneshot::channel();
        if !self.push(Item::Cut(tx)) {
            return Err(WalError::Closed);
        }
        rx.blocking_recv().unwrap_or(Err(WalError::Closed))
    }

    /// The segment being written.
    pub fn current_segment(&self) -> u32 {
        self.shared.current.load(Ordering::Acquire)
    }

    /// Successful fsyncs of segments so far.
    pub fn fsyncs(&self) -> u64 {
        self.shared.fsyncs.load(Ordering::Relaxed)
    }

    /// Groups committed (successfully or not) so far.
    pub fn groups(&self) -> u64 {
        self.shared.groups.load(Ordering::Relaxed)
    }

    /// Bytes written to segments so far.
    pub fn bytes_written(&self) -> u64 {
        self.shared.bytes.load(Ordering::Relaxed)
    }

    /// The file layer the WAL writes through.
    pub(crate) fn fs(&self) -> &dyn Fs {
        &*self.shared.fs
    }

    pub(crate) fn checkpoint_lock(&self) -> parking_lot::MutexGuard<'_, ()> {
        self.shared.checkpoint_lock.lock()
    }
}

impl Drop for Wal {
    fn drop(&mut self) {
        self.shared.queue.lock().closed = true;
        self.shared.cv.notify_one();
        if let Some(t) = self.thread.take() {
            if t.join().is_err() {
                tracing::error!("wal: writer thread panicked");
            }
        }
    }
}

/// The writer thread's state.
struct Writer {
    shared: Arc<Shared>,
    seg: SegmentWriter,
    /// Set when a rollback failed: the segment may end in a partial record past this length.
    needs_repair: Option<u64>,
}

impl Writer {
    fn new(shared: Arc<Shared>, seg: SegmentWriter) -> Self {
        Self {
            shared,
            seg,
            needs_repair: None,
        }
    }

    fn run(mut self) {
        loop {
            let items = {
                let mut q = self.shared.queue.lock();
                while q.items.is_empty() && !q.closed {
                    self.shared.cv.wait(&mut q);
                }
                if q.items.is_empty() {
                    break;
                }
                std::mem::take(&mut q.items)
            };
            let mut group: Vec<Batch> = Vec::new();
            for item in items {
                match item {
                    Item::Batch(recs, tx) => group.push((recs, tx)),
                    Item::Cut(tx) => {
                        self.commit(std::mem::take(&mut group));
                        let _ = tx.send(self.cut());
                    }
                }
            }
            self.commit(group);
        }
        if let Err(e) = self.seg.sync() {
            tracing::error!(err = %e, "wal: final fsync failed");
        }
    }

    fn observe_fsync(&self, took: Duration) {
        self.shared.fsyncs.fetch_add(1, Ordering::Relaxed);
        if let Some(o) = &self.shared.observer {
            o.fsync(took);
        }
    }

    fn observe_bytes(&self, n: u64) {
        if n == 0 {
            return;
        }
        self.shared.bytes.fetch_add(n, Ordering::Relaxed);
        if let Some(o) = &self.shared.observer {
            o.bytes_written(n);
        }
    }

    /// Writes and fsyncs a group, then answers every batch in it.
    fn commit(&mut self, group: Vec<Batch>) {
        if group.is_empty() {
            return;
        }
        self.shared.groups.fetch_add(1, Ordering::Relaxed);
        let res = self.write_group(&group);
        if let Err(e) = &res {
            tracing::error!(err = %e, batches = group.len(), "wal: group commit failed");
            if let Some(o) = &self.shared.observer {
                o.write_error();
            }
        }
        for (_, tx) in group {
            let _ = tx.send(res.clone());
        }
    }

    fn repair(&mut self) -> Result<(), WalError> {
        if let Some(len) = self.needs_repair {
            self.seg.rollback(len).map_err(|e| WalError::NeedsRepair {
                path: self.seg.path().to_path_buf(),
                source: Arc::new(e),
            })?;
            tracing::info!(
                segment = self.seg.segment(),
                len,
                "wal: segment repaired after earlier write failure"
            );
            self.needs_repair = None;
        }
        Ok(())
    }

    fn write_group(&mut self, group: &[Batch]) -> Result<(), WalError> {
        self.repair()?;
        let (start_segment, start) = (self.seg.segment(), self.seg.written());
        let res = self.write_records(group);
        if res.is_err() {
            // Only the segment being written can end in a partial record; a segment the
            // group moved into holds nothing older than the group.
            let len = if self.seg.segment() == start_segment {
                start
            } else {
                0
            };
            if let Err(e) = self.seg.rollback(len) {
                tracing::error!(err = %e, segment = self.seg.segment(), "wal: cannot cut back a failed write; writes fail until it can");
                self.needs_repair = Some(len);
            }
        }
        res
    }

    fn write_records(&mut self, group: &[Batch]) -> Result<(), WalError> {
        for rec in group.iter().flat_map(|(recs, _)| recs) {
            if !self.seg.fits(rec.len()) {
                self.next_segment()?;
            }
            let before = self.seg.written();
            self.seg.append(rec)?;
            self.observe_bytes(self.seg.written() - before);
        }
        let before = self.seg.written();
        let took = self.seg.sync()?;
        self.observe_bytes(self.seg.written() - before);
        self.observe_fsync(took);
        Ok(())
    }

    /// Fsyncs the current segment and starts the next.
    fn next_segment(&mut self) -> Result<u32, WalError> {
        let before = self.seg.written();
        let took = self.seg.sync()?;
        self.observe_bytes(self.seg.written() - before);
        self.observe_fsync(took);
        let n = self.seg.segment() + 1;
        self.seg = SegmentWriter::create(
            &*self.shared.fs,
            &self.shared.dir,
            n,
            self.shared.segment_size,
        )?;
        self.shared.current.store(n, Ordering::Release);
        tracing::debug!(segment = n, "wal: new segment");
        Ok(n)
    }

    fn cut(&mut self) -> Result<u32, WalError> {
        self.repair()?;
        self.next_segment()
    }
}
