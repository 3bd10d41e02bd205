//! The hash ring: which ingesters hold which series, replicated by Raft (openraft).
//!
//! The ring ([`RingDesc`]) lists every instance (id, address, zone, state
//! JOINING/ACTIVE/LEAVING/UNHEALTHY, tokens, registration time, read-only flag) and the HA
//! tracker's elected replicas. It is the state machine of a small Raft group of voters
//! (1, 3 or 5 ingesters); every other process follows it through a watch stream and changes
//! it through the leader. There is no Consul or etcd.
//!
//! ```text
//!  ingester / distributor / querier            voters (RingNode, one per voter process)
//!  ─────────────────────────────────           ─────────────────────────────────────────
//!  RemoteRing::propose(Command) ──gRPC──► any voter ──forward──► leader ─► log (fsync)
//!  RemoteRing::heartbeat(id)  ──gRPC──► every voter: HeartbeatTracker (memory only)
//!  RemoteRing::follow() ◄──Watch stream── committed RingDesc ◄─ apply ◄─ replicated log
//!        │
//!        ▼
//!  Ring::get(key, op, opts, &health) → ReplicationSet    Ring::shuffle_shard(tenant, size)
//! ```
//!
//! # Key types
//! - Pure model, no I/O: [`Ring`] (lookups on one committed state: [`Ring::get`],
//!   [`Ring::get_all`], [`Ring::shuffle_shard`], [`Ring::shuffle_shard_with_lookback`],
//!   [`Ring::ownership`]), [`Operation`] (which states serve writes and reads),
//!   [`ReplicationOptions`] (replication factor, zone awareness), [`spread_tokens`] (even,
//!   deterministic tokens), [`Command`] and [`command::apply`] (the state machine's logic).
//! - Liveness: [`HeartbeatTracker`] and [`HealthView`] (implements [`Health`]).
//! - Raft: [`RingNode`] (a voter: open, [`RingNode::service`] for the gRPC server,
//!   [`RingNode::bootstrap`], [`RingNode::propose`], [`RingNode::subscribe`],
//!   [`RingNode::health`], [`RingNode::status`], [`RingNode::change_voters`]); [`raft`] holds the openraft log store,
//!   state machine and network.
//! - Non-voters: [`RemoteRing`] (follow, propose, heartbeat).
//! - Distributors: registered beside the ring ([`RingContents`], [`Ring::distributors`]),
//!   marked UNHEALTHY by the leader when silent ([`distributor_housekeeping`]), counted by
//!   [`healthy_distributors`] to share the ingestion rate (see [`distributors`]).
//! - An instance's own lifecycle: [`Lifecycler`] (pure `step(&ring) -> Vec<Action>`) and
//!   [`InstanceFile`] (id and tokens persisted across restarts).
//!
//! # Wiring (for services)
//! - A voter process: `RingNode::open(RingNodeConfig { node_id, advertise_addr, data_dir,
//!   voters, .. })`, add `node.service()` to its tonic server, then `node.bootstrap()` (a
//!   no-op once initialized). `-target=all` runs one voter whose `voters` is itself.
//! - An ingester: load its [`InstanceFile`], build a [`Lifecycler`], and on every ring change
//!   (and every few seconds) carry out `step`'s actions: proposals through
//!   `RemoteRing::propose` (or `RingNode::propose`), tokens into the file. Without persisted
//!   tokens the state machine generates spread tokens at apply time. `set_state(Active)`
//!   when ready, `set_state(Leaving)` on graceful shutdown; `RemoteRing::heartbeat` (or
//!   `RingNode::heartbeats().record`) every few seconds.
//! - A distributor: `ring.shuffle_shard(tenant, shard_size, zone_aware)` then
//!   `.get(hash, Operation::Write, opts, &health)`; quorum is `min_success()`.
//! - A querier: `shuffle_shard_with_lookback(..)` then `get_all(Operation::Read, ..)`.
//! - HA tracker: propose `Command::HaElect` only when the cached election is about to expire
//!   (not per request); the answer says whether the asking replica is accepted.
//! - Pages: `Ring::ownership`, `HeartbeatTracker::age`, `RingNode::status`,
//!   `Command::Forget`.
//!
//! # Invariants
//! - The ring changes only by applying committed [`Command`]s in log order; [`command::apply`]
//!   reads nothing but the command and the ring (times come from the proposer), so every
//!   voter holds the same ring at the same index.
//! - Heartbeats never enter the log. Heartbeat age is judged only while the voter knows a
//!   leader that a quorum acknowledged within an election timeout; without one the last
//!   committed ring stays usable read-only, nobody is marked dead, and proposals fail with
//!   [`RingError::NoLeader`] or [`RingError::NoQuorum`].
//! - Log appends and the vote are fsynced before openraft is told; snapshots and small state
//!   files are replaced atomically (temp, fsync, rename, fsync dir); a torn log tail is cut.
//! - Tokens are unique across the ring; a join with clashing tokens is rejected unchanged.
//!
//! Known limits: the watch stream sends ring changes, not leader changes (its `leader_id` is
//! informative); heartbeats are kept for any id that sends one until
//! [`HeartbeatTracker::forget`].

mod client;
pub mod command;
pub mod distributors;
mod error;
mod hash;
mod health;
mod instance;
pub mod lifecycle;
mod node;
pub mod raft;
mod ring;
mod service;
mod tokens;

pub use client::RemoteRing;
pub use command::{Command, CommandResponse};
pub use distributors::{
    distributor_heartbeat_id, distributor_housekeeping, healthy_distributors, RingContents,
};
pub use error::RingError;
pub use health::{HealthView, HeartbeatTracker};
pub use instance::{HaElection, HaKey, InstanceDesc, InstanceId, InstanceState, RingDesc, Token};
pub use lifecycle::{Action, InstanceFile, Lifecycler, PersistedInstance};
pub use node::{RaftStatus, RingNode, RingNodeConfig};
pub use raft::state_machine::AppliedRing;
pub use ring::{AllHealthy, Health, Operation, ReplicationOptions, ReplicationSet, Ring};
pub use service::RingService;
pub use tokens::spread_tokens;
