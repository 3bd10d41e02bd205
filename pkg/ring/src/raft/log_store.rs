//! The Raft log and vote on disk.
//!
//! Layout of the store's directory (byte-level notes in `docs/format/ring.md`):
//!
//! ```text
//! log          append-only records: [len u32 LE][crc32c u32 LE][JSON of one Entry]
//! vote.json    the vote, replaced atomically (temp file, fsync, rename, fsync dir)
//! purged.json  the last purged log id, replaced atomically
//! committed.json  the last known committed log id, replaced atomically
//! ```
//!
//! Appends are fsynced before openraft is told they are durable. On open, records are read
//! until the first short or corrupt one; that torn tail (a crash mid-append) is cut off, since
//! openraft had not been told those entries were durable. Truncating a conflicting suffix or
//! purging a prefix rewrites the whole file atomically: the log stays small because the
//! state machine snapshots often and the ring changes rarely.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::ops::RangeBounds;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use openraft::storage::{LogFlushed, RaftLogStorage};
use openraft::{
    AnyError, Entry, LogId, LogState, OptionalSend, RaftLogReader, StorageError, StorageIOError,
    Vote,
};
use parking_lot::Mutex;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::fsutil::{atomic_write, read_optional};
use super::{NodeId, TypeConfig};
use crate::error::RingError;

const HEADER: usize = 8;

/// The on-disk log store; clones share one log (openraft reads through a clone).
///
/// Entries are served from memory; the file is only written. Disk work runs on tokio's
/// blocking pool so fsyncs never stall the async workers, and the memory lock is never held
/// across it.
#[derive(Clone, Debug)]
pub struct LogStore {
    dir: Arc<PathBuf>,
    mem: Arc<Mutex<Mem>>,
    file: Arc<Mutex<File>>,
}

#[derive(Debug)]
struct Mem {
    entries: BTreeMap<u64, Entry<TypeConfig>>,
    last_purged: Option<LogId<NodeId>>,
    vote: Option<Vote<NodeId>>,
    committed: Option<LogId<NodeId>>,
}

impl LogStore {
    /// Opens (or creates) the log in `dir`, dropping a torn tail. Blocking: call it from
    /// `spawn_blocking` or before the runtime is busy.
    pub fn open(dir: &Path) -> Result<Self, RingError> {
        std::fs::create_dir_all(dir).map_err(|e| RingError::io("create directory", dir, e))?;
        let path = dir.join("log");
        let mut raw = Vec::new();
        if let Some(mut f) = open_existing(&path)? {
            f.read_to_end(&mut raw)
                .map_err(|e| RingError::io("read", &path, e))?;
        }
        let (entries, valid_len) = decode_records(&raw);
        if valid_len < raw.len() {
            tracing::warn!(
                path = %path.display(),
                dropped_bytes = raw.len() - valid_len,
                "ring log has a torn or corrupt tail; cutting it off"
            );
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| RingError::io("open", &path, e))?;
        file.set_len(valid_len as u64)
            .map_err(|e| RingError::io("truncate", &path, e))?;
        file.sync_all()
            .map_err(|e| RingError::io("fsync", &path, e))?;
        let last_purged: Option<LogId<NodeId>> = read_json(&dir.join("purged.json"))?;
        let vote = read_json(&dir.join("vote.json"))?;
        let committed = read_json(&dir.join("committed.json"))?;
        let mut map = BTreeMap::new();
        for e in entries {
            if last_purged.is_some_and(|p| e.log_id.index <= p.index) {
                continue;
            }
            map.insert(e.log_id.index, e);
        }
        Ok(Self {
            dir: Arc::new(dir.to_path_buf()),
            mem: Arc::new(Mutex::new(Mem {
                entries: map,
                last_purged,
                vote,
                committed,
            })),
            file: Arc::new(Mutex::new(file)),
        })
    }

    /// Replaces the log file with `buf` (all retained entries) and reopens it for appends.
    async fn rewrite(&self, buf: Vec<u8>) -> Result<(), RingError> {
        let path = self.dir.join("log");
        let file = self.file.clone();
        blocking(move || {
            // Hold the file lock so no append lands in the old file during the swap.
            let mut f = file.lock();
            atomic_write(&path, &buf)?;
            *f = OpenOptions::new()
                .append(true)
                .open(&path)
                .map_err(|e| RingError::io("reopen", &path, e))?;
            Ok(())
        })
        .await
    }

    fn encode_all(&self) -> Result<Vec<u8>, RingError> {
        let mem = self.mem.lock();
        let mut buf = Vec::new();
        for e in mem.entries.values() {
            encode_record(&mut buf, e)?;
        }
        Ok(buf)
    }
}

/// Runs blocking disk work on tokio's blocking pool.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, RingError> + Send + 'static,
) -> Result<T, RingError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| RingError::Raft(format!("storage task failed: {e}")))?
}

fn open_existing(path: &Path) -> Result<Option<File>, RingError> {
    match File::open(path) {
        Ok(f) => Ok(Some(f)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(RingError::io("open", path, e)),
    }
}

/// Decodes records until the first bad one; returns them and the length of the good prefix.
fn decode_records(raw: &[u8]) -> (Vec<Entry<TypeConfig>>, usize) {
    let mut out = Vec::new();
    let mut pos = 0;
    while raw.len() - pos >= HEADER {
        let len = u32::from_le_bytes([raw[pos], raw[pos + 1], raw[pos + 2], raw[pos + 3]]) as usize;
        let crc = u32::from_le_bytes([raw[pos + 4], raw[pos + 5], raw[pos + 6], raw[pos + 7]]);
        let Some(body) = raw.get(pos + HEADER..pos + HEADER + len) else {
            break;
        };
        if crc32c::crc32c(body) != crc {
            break;
        }
        let Ok(entry) = serde_json::from_slice::<Entry<TypeConfig>>(body) else {
            break;
        };
        out.push(entry);
        pos += HEADER + len;
    }
    (out, pos)
}

fn encode_record(buf: &mut Vec<u8>, entry: &Entry<TypeConfig>) -> Result<(), RingError> {
    let body = serde_json::to_vec(entry).map_err(|source| RingError::Codec {
        what: "encode log entry",
        source,
    })?;
    buf.extend_from_slice(&(body.len() as u32).to_le_bytes());
    buf.extend_from_slice(&crc32c::crc32c(&body).to_le_bytes());
    buf.extend_from_slice(&body);
    Ok(())
}

fn read_json<T: DeserializeOwned>(path: &Path) -> Result<Option<T>, RingError> {
    match read_optional(path)? {
        None => Ok(None),
        Some(b) => serde_json::from_slice(&b)
            .map(Some)
            .map_err(|e| RingError::Corrupt {
                path: path.to_path_buf(),
                detail: e.to_string(),
            }),
    }
}

#[cfg(test)]
fn write_json<T: Serialize>(path: &Path, v: &T) -> Result<(), RingError> {
    let bytes = serde_json::to_vec(v).map_err(|source| RingError::Codec {
        what: "encode ring state file",
        source,
    })?;
    atomic_write(path, &bytes)
}

async fn write_json_async<T: Serialize>(path: PathBuf, v: &T) -> Result<(), RingError> {
    let bytes = serde_json::to_vec(v).map_err(|source| RingError::Codec {
        what: "encode ring state file",
        source,
    })?;
    blocking(move || atomic_write(&path, &bytes)).await
}

fn write_err(e: RingError) -> StorageError<NodeId> {
    StorageIOError::write_logs(AnyError::new(&e)).into()
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry<TypeConfig>>, StorageError<NodeId>> {
        let mem = self.mem.lock();
        Ok(mem.entries.range(range).map(|(_, e)| e.clone()).collect())
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = Self;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError<NodeId>> {
        let mem = self.mem.lock();
        let last = mem
            .entries
            .values()
            .next_back()
            .map(|e| e.log_id)
            .or(mem.last_purged);
        Ok(LogState {
            last_purged_log_id: mem.last_purged,
            last_log_id: last,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<NodeId>) -> Result<(), StorageError<NodeId>> {
        write_json_async(self.dir.join("vote.json"), vote)
            .await
            .map_err(|e| StorageIOError::write_vote(AnyError::new(&e)))?;
        self.mem.lock().vote = Some(*vote);
        Ok(())
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<NodeId>>, StorageError<NodeId>> {
        Ok(self.mem.lock().vote)
    }

    async fn save_committed(
        &mut self,
        committed: Option<LogId<NodeId>>,
    ) -> Result<(), StorageError<NodeId>> {
        if self.mem.lock().committed == committed {
            return Ok(());
        }
        write_json_async(self.dir.join("committed.json"), &committed)
            .await
            .map_err(write_err)?;
        self.mem.lock().committed = committed;
        Ok(())
    }

    async fn read_committed(&mut self) -> Result<Option<LogId<NodeId>>, StorageError<NodeId>> {
        Ok(self.mem.lock().committed)
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), StorageError<NodeId>>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let entries: Vec<Entry<TypeConfig>> = entries.into_iter().collect();
        let mut buf = Vec::new();
        for e in &entries {
            encode_record(&mut buf, e).map_err(write_err)?;
        }
        let path = self.dir.join("log");
        let file = self.file.clone();
        let res = blocking(move || {
            let mut f = file.lock();
            f.write_all(&buf)
                .and_then(|()| f.sync_data())
                .map_err(|e| RingError::io("append to", &path, e))
        })
        .await;
        if let Err(err) = res {
            callback.log_io_completed(Err(std::io::Error::other(err.to_string())));
            return Err(write_err(err));
        }
        {
            let mut mem = self.mem.lock();
            for e in entries {
                mem.entries.insert(e.log_id.index, e);
            }
        }
        callback.log_io_completed(Ok(()));
        Ok(())
    }

    async fn truncate(&mut self, log_id: LogId<NodeId>) -> Result<(), StorageError<NodeId>> {
        self.mem.lock().entries.retain(|idx, _| *idx < log_id.index);
        let buf = self.encode_all().map_err(write_err)?;
        self.rewrite(buf).await.map_err(write_err)
    }

    async fn purge(&mut self, log_id: LogId<NodeId>) -> Result<(), StorageError<NodeId>> {
        // Record the purge point first: a crash between the two leaves extra entries that
        // open() drops, never a gap.
        write_json_async(self.dir.join("purged.json"), &log_id)
            .await
            .map_err(write_err)?;
        {
            let mut mem = self.mem.lock();
            mem.last_purged = Some(log_id);
            mem.entries.retain(|idx, _| *idx > log_id.index);
        }
        let buf = self.encode_all().map_err(write_err)?;
        self.rewrite(buf).await.map_err(write_err)
    }
}

#[cfg(test)]
mod tests {
    use openraft::{CommittedLeaderId, EntryPayload};

    use super::*;
    use crate::command::Command;
    use crate::instance::InstanceId;

    fn entry(index: u64) -> Entry<TypeConfig> {
        Entry {
            log_id: LogId::new(CommittedLeaderId::new(1, 1), index),
            payload: EntryPayload::Normal(Command::Leave {
                id: InstanceId::new(format!("i{index}")),
            }),
        }
    }

    fn encoded(n: u64) -> (Vec<u8>, Vec<usize>) {
        let mut buf = Vec::new();
        let mut ends = Vec::new();
        for i in 1..=n {
            encode_record(&mut buf, &entry(i)).expect("encode");
            ends.push(buf.len());
        }
        (buf, ends)
    }

    #[test]
    fn torn_tail_is_cut_at_the_last_whole_record() {
        let (mut buf, ends) = encoded(3);
        let good = buf.len();
        buf.extend_from_slice(&[40, 0, 0, 0, 1, 2]);
        let (entries, valid) = decode_records(&buf);
        assert_eq!(entries.len(), 3);
        assert_eq!(valid, good);
        // A record cut in its body is dropped too.
        let (entries, valid) = decode_records(&buf[..ends[2] - 3]);
        assert_eq!((entries.len(), valid), (2, ends[1]));
    }

    #[test]
    fn crc_mismatch_stops_decoding() {
        let (mut buf, ends) = encoded(3);
        buf[ends[0] + HEADER + 2] ^= 0xff;
        let (entries, valid) = decode_records(&buf);
        assert_eq!((entries.len(), valid), (1, ends[0]));
    }

    #[test]
    fn reopen_drops_torn_tail_and_purged_entries() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut buf, _) = encoded(4);
        buf.extend_from_slice(&[9, 9, 9]);
        std::fs::write(dir.path().join("log"), &buf).expect("write log");
        let purged = LogId::new(CommittedLeaderId::new(1, 1), 2);
        write_json(&dir.path().join("purged.json"), &purged).expect("write purged");
        let store = LogStore::open(dir.path()).expect("open");
        let mem = store.mem.lock();
        assert_eq!(mem.entries.keys().copied().collect::<Vec<_>>(), vec![3, 4]);
        assert_eq!(mem.last_purged, Some(purged));
        let len = std::fs::metadata(dir.path().join("log"))
            .expect("stat")
            .len();
        assert_eq!(len as usize, buf.len() - 3);
    }

    #[tokio::test]
    async fn truncate_purge_and_vote_survive_reopen() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (buf, _) = encoded(6);
        std::fs::write(dir.path().join("log"), &buf).expect("write log");
        let mut store = LogStore::open(dir.path()).expect("open");
        store
            .truncate(LogId::new(CommittedLeaderId::new(1, 1), 5))
            .await
            .expect("truncate");
        store
            .purge(LogId::new(CommittedLeaderId::new(1, 1), 2))
            .await
            .expect("purge");
        let vote = Vote::new(3, 2);
        store.save_vote(&vote).await.expect("save vote");
        drop(store);

        let mut store = LogStore::open(dir.path()).expect("reopen");
        let state = store.get_log_state().await.expect("log state");
        assert_eq!(state.last_purged_log_id.map(|l| l.index), Some(2));
        assert_eq!(state.last_log_id.map(|l| l.index), Some(4));
        let got = store.try_get_log_entries(0..).await.expect("entries");
        assert_eq!(
            got.iter().map(|e| e.log_id.index).collect::<Vec<_>>(),
            vec![3, 4]
        );
        assert_eq!(store.read_vote().await.expect("vote"), Some(vote));
    }
}
