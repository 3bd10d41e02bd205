//! A ring voter: openraft plus the state machine, heartbeats and the leader-known watch.
//!
//! A process that holds the ring (an ingester configured as a voter, or the single-process
//! `-target=all`) opens a [`RingNode`], adds [`RingNode::service`] to its gRPC server, and
//! calls [`RingNode::bootstrap`] once the voters listen. Everything else reads the ring from
//! [`RingNode::subscribe`] and changes it with [`RingNode::propose`].

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use openraft::error::{ClientWriteError, RaftError};
use openraft::{BasicNode, Config, ServerState, SnapshotPolicy};
use strata_proto::ring::ring_client::RingClient;
use strata_proto::ring::ring_server::RingServer;
use strata_proto::ring::ProposeRequest;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::command::{Command, CommandResponse};
use crate::error::RingError;
use crate::health::{HealthView, HeartbeatTracker};
use crate::raft::log_store::LogStore;
use crate::raft::network::{channel, Network};
use crate::raft::state_machine::{AppliedRing, StateMachineStore};
use crate::raft::{NodeId, RingRaft};
use crate::ring::Ring;
use crate::service::RingService;

/// How a voter runs. Durations are kept short in tests.
#[derive(Clone, Debug)]
pub struct RingNodeConfig {
    /// This voter's Raft id (stable across restarts, unique among voters).
    pub node_id: NodeId,
    /// The gRPC address other voters reach this one at, `host:port`.
    pub advertise_addr: String,
    /// Where the log, vote and snapshot live.
    pub data_dir: PathBuf,
    /// The voter set used by [`RingNode::bootstrap`]: id to address, including this node.
    pub voters: BTreeMap<NodeId, String>,
    /// How often the leader sends Raft heartbeats.
    pub raft_heartbeat_interval: Duration,
    /// Election timeout range: a follower that hears nothing for a random time in it starts
    /// an election.
    pub election_timeout: (Duration, Duration),
    /// An instance without a heartbeat for this long is unhealthy (while a leader is known).
    pub instance_heartbeat_timeout: Duration,
    /// Build a snapshot (and purge the log before it) every this many applied entries.
    pub snapshot_every: u64,
    /// How long a proposal may wait to be committed before it fails.
    pub propose_timeout: Duration,
}

impl RingNodeConfig {
    /// A single-voter configuration with production defaults (Raft heartbeat 250 ms,
    /// elections after 1–2 s, instance heartbeat timeout 1 min, a snapshot every 200 entries).
    pub fn new(node_id: NodeId, advertise_addr: impl Into<String>, data_dir: PathBuf) -> Self {
        let advertise_addr = advertise_addr.into();
        Self {
            node_id,
            voters: [(node_id, advertise_addr.clone())].into(),
            advertise_addr,
            data_dir,
            raft_heartbeat_interval: Duration::from_millis(250),
            election_timeout: (Duration::from_millis(1000), Duration::from_millis(2000)),
            instance_heartbeat_timeout: Duration::from_secs(60),
            snapshot_every: 200,
            propose_timeout: Duration::from_secs(10),
        }
    }

    fn raft_config(&self) -> Result<Config, RingError> {
        let cfg = Config {
            cluster_name: "strata-ring".to_string(),
            heartbeat_interval: self.raft_heartbeat_interval.as_millis() as u64,
            election_timeout_min: self.election_timeout.0.as_millis() as u64,
            election_timeout_max: self.election_timeout.1.as_millis() as u64,
            snapshot_policy: SnapshotPolicy::LogsSinceLast(self.snapshot_every),
            max_in_snapshot_log_to_keep: 0,
            purge_batch_size: 1,
            ..Default::default()
        };
        cfg.validate()
            .map_err(|e| RingError::Raft(format!("invalid raft config: {e}")))
    }
}

/// Raft facts for the `/ring/raft` page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RaftStatus {
    /// This voter's id.
    pub node_id: NodeId,
    /// The leader this voter knows, if any.
    pub leader: Option<NodeId>,
    /// Whether this voter is the leader.
    pub is_leader: bool,
    /// Whether the ring can commit as far as this voter knows (heartbeat age is judged).
    pub can_commit: bool,
    /// The current term.
    pub term: u64,
    /// The voter ids in the current membership.
    pub voters: BTreeSet<NodeId>,
    /// The last log index on this voter.
    pub last_log_index: Option<u64>,
    /// The last applied index.
    pub applied_index: Option<u64>,
    /// The index covered by the latest snapshot.
    pub snapshot_index: Option<u64>,
}

/// A running ring voter. Cheap to clone.
#[derive(Clone)]
pub struct RingNode {
    inner: Arc<NodeInner>,
}

struct NodeInner {
    cfg: RingNodeConfig,
    raft: RingRaft,
    sm: StateMachineStore,
    heartbeats: Arc<HeartbeatTracker>,
    liveness_task: JoinHandle<()>,
    /// Set when the process shuts down: ends the watch streams this voter serves, so the
    /// gRPC server's graceful shutdown does not wait for them (they never end on their own)
    /// and followers move to another voter at once.
    closing: tokio::sync::watch::Sender<bool>,
}

impl Drop for NodeInner {
    fn drop(&mut self) {
        self.liveness_task.abort();
    }
}

impl RingNode {
    /// Opens the voter's storage in `cfg.data_dir` and starts Raft (no RPC is served until
    /// [`RingNode::service`] is added to a gRPC server).
    pub async fn open(cfg: RingNodeConfig) -> Result<Self, RingError> {
        let raft_cfg = Arc::new(cfg.raft_config()?);
        let dir = cfg.data_dir.join("raft");
        let (log, sm) = crate::raft::log_store::blocking(move || {
            Ok((LogStore::open(&dir)?, StateMachineStore::open(&dir)?))
        })
        .await?;
        let network = Network::new(cfg.raft_heartbeat_interval.max(Duration::from_millis(200)));
        let raft = RingRaft::new(cfg.node_id, raft_cfg, network, log, sm.clone())
            .await
            .map_err(|e| RingError::Raft(format!("start raft node {}: {e}", cfg.node_id)))?;
        let heartbeats = Arc::new(HeartbeatTracker::new(cfg.instance_heartbeat_timeout));
        let liveness_task = tokio::spawn(watch_leader(
            raft.clone(),
            heartbeats.clone(),
            cfg.raft_heartbeat_interval,
            cfg.election_timeout.1,
        ));
        tracing::info!(node_id = cfg.node_id, addr = %cfg.advertise_addr, "ring voter started");
        Ok(Self {
            inner: Arc::new(NodeInner {
                cfg,
                raft,
                sm,
                heartbeats,
                liveness_task,
                closing: tokio::sync::watch::Sender::new(false),
            }),
        })
    }

    /// Initializes the cluster with the configured voters if this node has never been part of
    /// one; a no-op after a restart. Call it on one voter (the lowest id, by convention), or
    /// on every voter: only the first initialization takes effect.
    pub async fn bootstrap(&self) -> Result<(), RingError> {
        let raft = &self.inner.raft;
        let initialized = raft
            .is_initialized()
            .await
            .map_err(|e| RingError::Raft(format!("check initialized: {e}")))?;
        if initialized {
            return Ok(());
        }
        let members: BTreeMap<NodeId, BasicNode> = self
            .inner
            .cfg
            .voters
            .iter()
            .map(|(id, addr)| (*id, BasicNode::new(addr)))
            .collect();
        match raft.initialize(members).await {
            Ok(()) => Ok(()),
            // Another voter's initialization reached this one first.
            Err(RaftError::APIError(e)) => {
                tracing::info!(error = %e, "ring already initialized");
                Ok(())
            }
            Err(e) => Err(RingError::Raft(format!("initialize ring: {e}"))),
        }
    }

    /// This voter's Raft id.
    pub fn node_id(&self) -> NodeId {
        self.inner.cfg.node_id
    }

    /// The gRPC service to add to the process's tonic server.
    pub fn service(&self) -> RingServer<RingService> {
        RingServer::new(RingService::new(self.clone()))
    }

    /// Ends every watch stream this voter serves, now and from now on (shutdown).
    pub fn close_streams(&self) {
        self.inner.closing.send_replace(true);
    }

    /// Resolves once [`RingNode::close_streams`] was called.
    pub(crate) fn closed(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut rx = self.inner.closing.subscribe();
        async move {
            let _ = rx.wait_for(|c| *c).await;
        }
    }

    /// The Raft handle (for the service and for status pages).
    pub fn raft(&self) -> &RingRaft {
        &self.inner.raft
    }

    /// The latest committed ring with its log index.
    pub fn applied(&self) -> AppliedRing {
        self.inner.sm.current()
    }

    /// The latest committed ring.
    pub fn ring(&self) -> Ring {
        self.applied().ring
    }

    /// Committed ring states as they are applied (the current one first).
    pub fn subscribe(&self) -> watch::Receiver<AppliedRing> {
        self.inner.sm.subscribe()
    }

    /// This voter's heartbeat tracker.
    pub fn heartbeats(&self) -> &HeartbeatTracker {
        &self.inner.heartbeats
    }

    /// Heartbeat health for lookups, now.
    pub fn health(&self) -> HealthView {
        self.inner.heartbeats.view(Instant::now())
    }

    /// Applies `cmd` through the leader: directly when this voter leads, otherwise forwarded
    /// once to the leader it knows. Fails with [`RingError::NoLeader`] when no leader is known
    /// and times out (the ring stays readable) when the change cannot commit.
    pub async fn propose(&self, cmd: Command) -> Result<CommandResponse, RingError> {
        let timeout = self.inner.cfg.propose_timeout;
        match tokio::time::timeout(timeout, self.propose_inner(cmd, false)).await {
            Ok(r) => r,
            Err(_) => Err(RingError::NoQuorum(timeout)),
        }
    }

    pub(crate) async fn propose_inner(
        &self,
        cmd: Command,
        forwarded: bool,
    ) -> Result<CommandResponse, RingError> {
        let result = match self.inner.raft.client_write(cmd.clone()).await {
            Ok(resp) => resp.data,
            Err(RaftError::APIError(ClientWriteError::ForwardToLeader(f))) => {
                let (Some(leader), Some(node)) = (f.leader_id, f.leader_node) else {
                    return Err(RingError::NoLeader);
                };
                if forwarded {
                    // The leader that forwarded here is no longer leader: do not bounce.
                    return Err(RingError::NoLeader);
                }
                return match forward(&node.addr, &cmd, self.inner.cfg.raft_heartbeat_interval).await
                {
                    Err(RingError::Rpc { status, .. })
                        if status.code() == tonic::Code::Unavailable
                            && !status.message().contains("read-only") =>
                    {
                        Err(RingError::LeaderUnreachable {
                            leader,
                            addr: node.addr,
                            detail: status.message().to_string(),
                        })
                    }
                    other => other,
                };
            }
            Err(e) => return Err(RingError::Raft(format!("propose: {e}"))),
        };
        match result {
            CommandResponse::Rejected(why) => Err(RingError::Rejected(why)),
            other => Ok(other),
        }
    }

    /// Changes the voter set to `voters` (id to address): new voters are first added as
    /// learners and caught up, then the membership switches (joint consensus), and voters not
    /// listed are removed. Must run on the leader; elsewhere it fails naming the leader.
    pub async fn change_voters(&self, voters: BTreeMap<NodeId, String>) -> Result<(), RingError> {
        let raft = &self.inner.raft;
        let not_leader = |e: &RaftError<NodeId, ClientWriteError<NodeId, BasicNode>>| match e {
            RaftError::APIError(ClientWriteError::ForwardToLeader(f)) => match f.leader_id {
                Some(l) => RingError::Raft(format!("change voters: not the leader; node {l} is")),
                None => RingError::NoLeader,
            },
            other => RingError::Raft(format!("change voters: {other}")),
        };
        let (state, leader, current) = {
            let m = raft.metrics();
            let m = m.borrow();
            let voters: BTreeSet<NodeId> = m.membership_config.membership().voter_ids().collect();
            (m.state, m.current_leader, voters)
        };
        if state != ServerState::Leader {
            return Err(match leader {
                Some(l) => RingError::Raft(format!("change voters: not the leader; node {l} is")),
                None => RingError::NoLeader,
            });
        }
        let timeout = self.inner.cfg.propose_timeout;
        for (id, addr) in &voters {
            if current.contains(id) {
                continue;
            }
            match tokio::time::timeout(timeout, raft.add_learner(*id, BasicNode::new(addr), true))
                .await
            {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => return Err(not_leader(&e)),
                Err(_) => return Err(RingError::NoQuorum(timeout)),
            }
        }
        let ids: BTreeSet<NodeId> = voters.keys().copied().collect();
        match tokio::time::timeout(timeout, raft.change_membership(ids, false)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(not_leader(&e)),
            Err(_) => Err(RingError::NoQuorum(timeout)),
        }
    }

    /// Raft facts for status pages.
    pub fn status(&self) -> RaftStatus {
        let m = self.inner.raft.metrics().borrow().clone();
        RaftStatus {
            node_id: m.id,
            leader: m.current_leader,
            is_leader: m.state == ServerState::Leader,
            can_commit: self.inner.heartbeats.leader_known(),
            term: m.current_term,
            voters: m.membership_config.membership().voter_ids().collect(),
            last_log_index: m.last_log_index,
            applied_index: m.last_applied.map(|l| l.index),
            snapshot_index: m.snapshot.map(|l| l.index),
        }
    }

    /// Stops Raft. The service answers errors afterwards; drop it from the server.
    pub async fn shutdown(&self) -> Result<(), RingError> {
        self.inner.liveness_task.abort();
        self.inner
            .raft
            .shutdown()
            .await
            .map_err(|e| RingError::Raft(format!("shutdown: {e}")))
    }
}

/// Sends a proposal to the leader at `addr`.
pub(crate) async fn forward(
    addr: &str,
    cmd: &Command,
    connect_timeout: Duration,
) -> Result<CommandResponse, RingError> {
    let mut client = RingClient::new(channel(
        addr,
        connect_timeout.max(Duration::from_millis(200)),
    )?);
    let command = serde_json::to_vec(cmd).map_err(|source| RingError::Codec {
        what: "encode command",
        source,
    })?;
    let resp = client
        .propose(ProposeRequest {
            command,
            forwarded: true,
        })
        .await
        .map_err(|status| RingError::Rpc {
            method: "propose",
            addr: addr.to_string(),
            status: Box::new(status),
        })?
        .into_inner();
    let resp: CommandResponse =
        serde_json::from_slice(&resp.response).map_err(|source| RingError::Codec {
            what: "decode propose response",
            source,
        })?;
    match resp {
        CommandResponse::Rejected(why) => Err(RingError::Rejected(why)),
        other => Ok(other),
    }
}

/// Keeps the heartbeat tracker told whether the ring can commit: a follower trusts the
/// leader it hears from (it forgets it after an election timeout without contact); a leader
/// needs a quorum acknowledgement within the last election timeout.
async fn watch_leader(
    raft: RingRaft,
    heartbeats: Arc<HeartbeatTracker>,
    interval: Duration,
    election_timeout: Duration,
) {
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let (state, leader, quorum_ack) = {
            let m = raft.metrics();
            let m = m.borrow();
            (m.state, m.current_leader, m.millis_since_quorum_ack)
        };
        // A leader counts only while a quorum acknowledged it recently (openraft refreshes
        // this metric on every tick), so a leader cut off from the others stops judging.
        let known = match state {
            ServerState::Leader => {
                quorum_ack.is_some_and(|ms| u128::from(ms) <= election_timeout.as_millis())
            }
            _ => leader.is_some(),
        };
        if heartbeats.leader_known() != known {
            tracing::info!(can_commit = known, "ring commit ability changed");
        }
        heartbeats.set_leader_known(known, Instant::now());
    }
}
