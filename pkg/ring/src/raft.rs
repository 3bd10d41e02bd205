//! openraft wiring: the type configuration, log store, state machine and network.
//!
//! ```text
//!  propose ─► leader Raft ─► LogStore (fsync) ─► replicate (network.rs, tonic) ─► followers
//!                 │ committed
//!                 ▼
//!        StateMachineStore::apply ─► RingDesc ─► watch channel ─► lookups, Watch RPC
//! ```

pub(crate) mod fsutil;
pub mod log_store;
pub mod network;
pub mod state_machine;

use std::io::Cursor;

use openraft::BasicNode;

use crate::command::{Command, CommandResponse};

/// A voter's Raft node id.
pub type NodeId = u64;

openraft::declare_raft_types!(
    /// The ring's openraft type configuration.
    pub TypeConfig:
        D = Command,
        R = CommandResponse,
        NodeId = NodeId,
        Node = BasicNode,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = Cursor<Vec<u8>>,
        AsyncRuntime = openraft::TokioRuntime,
);

/// The Raft handle of a ring voter.
pub type RingRaft = openraft::Raft<TypeConfig>;
