//! The state machine: the ring applied from the log, and its snapshots on disk.
//!
//! The applied [`RingContents`] (ring and distributors) live in memory; what survives a restart is the last snapshot
//! (`snapshot.json`, replaced atomically) plus the log after it, which openraft re-applies.
//! Every apply publishes the new committed ring on a `watch` channel: lookups, the watch
//! RPC and the ring pages read from there without touching Raft.

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use openraft::storage::RaftStateMachine;
use openraft::{
    AnyError, BasicNode, Entry, EntryPayload, LogId, OptionalSend, RaftSnapshotBuilder, Snapshot,
    SnapshotMeta, StorageError, StorageIOError, StoredMembership,
};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::fsutil::{atomic_write, read_optional};
use super::log_store::blocking;
use super::{NodeId, TypeConfig};
use crate::command::{apply_contents, CommandResponse};
use crate::distributors::RingContents;
use crate::error::RingError;
use crate::ring::Ring;

/// A committed ring with the index of the last log entry applied to it.
#[derive(Clone, Debug)]
pub struct AppliedRing {
    /// The ring, ready for lookups.
    pub ring: Ring,
    /// The last applied log index (0 before anything was applied).
    pub applied_index: u64,
}

#[derive(Debug, Serialize, Deserialize)]
struct StoredSnapshot {
    meta: SnapshotMeta<NodeId, BasicNode>,
    /// JSON of the [`RingContents`].
    data: Vec<u8>,
}

/// The ring state machine; clones share state (openraft builds snapshots through a clone).
#[derive(Clone, Debug)]
pub struct StateMachineStore {
    inner: Arc<Mutex<Inner>>,
    tx: Arc<watch::Sender<AppliedRing>>,
    /// The log id of the snapshot on disk; also serializes snapshot writes.
    disk: Arc<tokio::sync::Mutex<Option<LogId<NodeId>>>>,
}

#[derive(Debug)]
struct Inner {
    path: PathBuf,
    ring: RingContents,
    last_applied: Option<LogId<NodeId>>,
    last_membership: StoredMembership<NodeId, BasicNode>,
    snapshot: Option<StoredSnapshot>,
    snapshots_built: u64,
}

impl StateMachineStore {
    /// Opens the state machine from the snapshot in `dir`, if any.
    pub fn open(dir: &Path) -> Result<Self, RingError> {
        std::fs::create_dir_all(dir).map_err(|e| RingError::io("create directory", dir, e))?;
        let path = dir.join("snapshot.json");
        let snapshot: Option<StoredSnapshot> = match read_optional(&path)? {
            None => None,
            Some(b) => Some(serde_json::from_slice(&b).map_err(|e| RingError::Corrupt {
                path: path.clone(),
                detail: e.to_string(),
            })?),
        };
        let (ring, last_applied, last_membership) = match &snapshot {
            Some(s) => (
                decode_ring(&s.data).map_err(|e| RingError::Corrupt {
                    path: path.clone(),
                    detail: e.to_string(),
                })?,
                s.meta.last_log_id,
                s.meta.last_membership.clone(),
            ),
            None => (RingContents::default(), None, StoredMembership::default()),
        };
        let applied = AppliedRing {
            ring: Ring::from_contents(ring.clone()),
            applied_index: last_applied.map_or(0, |l| l.index),
        };
        let (tx, _) = watch::channel(applied);
        let disk = Arc::new(tokio::sync::Mutex::new(last_applied));
        Ok(Self {
            disk,
            inner: Arc::new(Mutex::new(Inner {
                path,
                ring,
                last_applied,
                last_membership,
                snapshot,
                snapshots_built: 0,
            })),
            tx: Arc::new(tx),
        })
    }

    /// Subscribes to committed ring states (the current one first).
    pub fn subscribe(&self) -> watch::Receiver<AppliedRing> {
        self.tx.subscribe()
    }

    /// The current committed ring.
    pub fn current(&self) -> AppliedRing {
        self.tx.borrow().clone()
    }

    fn publish(&self, inner: &Inner) {
        self.tx.send_replace(AppliedRing {
            ring: Ring::from_contents(inner.ring.clone()),
            applied_index: inner.last_applied.map_or(0, |l| l.index),
        });
    }
}

fn decode_ring(data: &[u8]) -> Result<RingContents, serde_json::Error> {
    serde_json::from_slice(data)
}

fn snapshot_err(e: &RingError) -> StorageError<NodeId> {
    StorageIOError::write_snapshot(None, AnyError::new(e)).into()
}

/// Writes `snap` to `path` atomically, on the blocking pool, unless a newer snapshot is
/// already on disk (a build and an install may race; the file must never go back).
async fn persist(
    disk: &tokio::sync::Mutex<Option<LogId<NodeId>>>,
    path: PathBuf,
    snap: &StoredSnapshot,
) -> Result<bool, RingError> {
    let mut on_disk = disk.lock().await;
    if on_disk.is_some() && snap.meta.last_log_id < *on_disk {
        return Ok(false);
    }
    let bytes = serde_json::to_vec(snap).map_err(|source| RingError::Codec {
        what: "encode snapshot",
        source,
    })?;
    blocking(move || atomic_write(&path, &bytes)).await?;
    *on_disk = snap.meta.last_log_id;
    Ok(true)
}

impl RaftSnapshotBuilder<TypeConfig> for StateMachineStore {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError<NodeId>> {
        let (path, snap) = {
            let mut inner = self.inner.lock();
            let data = serde_json::to_vec(&inner.ring).map_err(|source| {
                snapshot_err(&RingError::Codec {
                    what: "encode ring",
                    source,
                })
            })?;
            inner.snapshots_built += 1;
            let snapshot_id = match inner.last_applied {
                Some(l) => format!("{}-{}-{}", l.leader_id.term, l.index, inner.snapshots_built),
                None => format!("0-0-{}", inner.snapshots_built),
            };
            let meta = SnapshotMeta {
                last_log_id: inner.last_applied,
                last_membership: inner.last_membership.clone(),
                snapshot_id,
            };
            (inner.path.clone(), StoredSnapshot { meta, data })
        };
        persist(&self.disk, path, &snap)
            .await
            .map_err(|e| snapshot_err(&e))?;
        tracing::info!(index = ?snap.meta.last_log_id, "built ring snapshot");
        let out = Snapshot {
            meta: snap.meta.clone(),
            snapshot: Box::new(Cursor::new(snap.data.clone())),
        };
        let mut inner = self.inner.lock();
        // Keep the newest: an install may have raced ahead of this build.
        if inner
            .snapshot
            .as_ref()
            .is_none_or(|s| s.meta.last_log_id <= snap.meta.last_log_id)
        {
            inner.snapshot = Some(snap);
        }
        Ok(out)
    }
}

impl RaftStateMachine<TypeConfig> for StateMachineStore {
    type SnapshotBuilder = Self;

    async fn applied_state(
        &mut self,
    ) -> Result<(Option<LogId<NodeId>>, StoredMembership<NodeId, BasicNode>), StorageError<NodeId>>
    {
        let inner = self.inner.lock();
        Ok((inner.last_applied, inner.last_membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<CommandResponse>, StorageError<NodeId>>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut inner = self.inner.lock();
        let mut out = Vec::new();
        for entry in entries {
            inner.last_applied = Some(entry.log_id);
            let resp = match entry.payload {
                EntryPayload::Blank => CommandResponse::None,
                EntryPayload::Normal(cmd) => apply_contents(&mut inner.ring, &cmd),
                EntryPayload::Membership(m) => {
                    inner.last_membership = StoredMembership::new(Some(entry.log_id), m);
                    CommandResponse::None
                }
            };
            out.push(resp);
        }
        self.publish(&inner);
        Ok(out)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn begin_receiving_snapshot(
        &mut self,
    ) -> Result<Box<Cursor<Vec<u8>>>, StorageError<NodeId>> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<NodeId, BasicNode>,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError<NodeId>> {
        let data = snapshot.into_inner();
        let ring = decode_ring(&data).map_err(|e| {
            StorageIOError::read_snapshot(Some(meta.signature()), AnyError::new(&e))
        })?;
        let snap = StoredSnapshot {
            meta: meta.clone(),
            data,
        };
        let path = self.inner.lock().path.clone();
        persist(&self.disk, path, &snap)
            .await
            .map_err(|e| snapshot_err(&e))?;
        let mut inner = self.inner.lock();
        inner.snapshot = Some(snap);
        inner.ring = ring;
        inner.last_applied = meta.last_log_id;
        inner.last_membership = meta.last_membership.clone();
        self.publish(&inner);
        tracing::info!(index = ?meta.last_log_id, "installed ring snapshot");
        Ok(())
    }

    async fn get_current_snapshot(
        &mut self,
    ) -> Result<Option<Snapshot<TypeConfig>>, StorageError<NodeId>> {
        let inner = self.inner.lock();
        Ok(inner.snapshot.as_ref().map(|s| Snapshot {
            meta: s.meta.clone(),
            snapshot: Box::new(Cursor::new(s.data.clone())),
        }))
    }
}
