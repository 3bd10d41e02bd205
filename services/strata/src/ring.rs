//! The process' handle on the Raft-backed ring (`strata-ring`): a voter when this process
//! runs target `ring`, a follower of the voters otherwise.
//!
//! ```text
//!  -ring.voters empty, target ring  ─► one voter (Raft id 1) in <data.dir>/ring, bootstrapped
//!  -ring.voters set,   target ring  ─► voter (Raft id = position of -server.advertise-address
//!                                      in -ring.voters, from 1); bootstraps with all voters
//!  -ring.voters set,   no ring      ─► follower: RemoteRing::follow() from any voter
//!  -ring.voters empty, no ring      ─► no ring (static -ingester.addresses)
//! ```
//!
//! Health: a voter judges heartbeat age itself ([`RingNode::health`]). A follower holds no
//! heartbeats, so its view never judges age: only stored states count, and a dead ingester
//! shows up as a failed push or read, which replication tolerates.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use strata_ring::{
    AppliedRing, Command, CommandResponse, HealthView, HeartbeatTracker, InstanceId, RaftStatus,
    RemoteRing, Ring, RingError, RingNode, RingNodeConfig,
};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::config::Config;
use crate::modules::Target;

/// The ring as this process sees it. Cheap to share (`Arc`).
pub struct RingHandle {
    node: Option<RingNode>,
    remote: RemoteRing,
    rx: watch::Receiver<AppliedRing>,
    follow_task: Option<JoinHandle<()>>,
    /// Whether this process is the only voter (heartbeats are recorded locally).
    single: bool,
    /// A tracker that never judges age, for followers.
    follower_health: Arc<HeartbeatTracker>,
    voters: Vec<String>,
}

impl Drop for RingHandle {
    fn drop(&mut self) {
        if let Some(t) = &self.follow_task {
            t.abort();
        }
    }
}

impl RingHandle {
    /// Opens the ring for this process as the module docs describe, or `None` when this
    /// process has no ring.
    pub async fn open(cfg: &Config, targets: &[Target]) -> anyhow::Result<Option<Arc<Self>>> {
        let r = &cfg.ring;
        let runs_ring = targets.contains(&Target::Ring);
        let me = cfg.server.advertised_grpc_address();
        let rpc_timeout = (r.election_timeout * 2).max(Duration::from_secs(2));
        let follower_health = Arc::new(HeartbeatTracker::new(r.heartbeat_timeout));
        if r.voters.is_empty() && !runs_ring {
            return Ok(None);
        }
        if !runs_ring {
            let remote = RemoteRing::new(r.voters.clone(), rpc_timeout);
            let (rx, task) = remote.follow();
            tracing::info!(voters = ?r.voters, "following the ring");
            return Ok(Some(Arc::new(Self {
                node: None,
                remote,
                rx,
                follow_task: Some(task),
                single: false,
                follower_health,
                voters: r.voters.clone(),
            })));
        }
        let voters: Vec<String> = if r.voters.is_empty() {
            vec![me.clone()]
        } else {
            r.voters.clone()
        };
        let position = voters
            .iter()
            .position(|v| *v == me)
            .with_context(|| format!("ring voter: {me} is not in -ring.voters {voters:?}"))?;
        let node_id = position as u64 + 1;
        let mut node_cfg =
            RingNodeConfig::new(node_id, me.clone(), Path::new(&cfg.data_dir).join("ring"));
        node_cfg.voters = voters
            .iter()
            .enumerate()
            .map(|(i, a)| (i as u64 + 1, a.clone()))
            .collect::<BTreeMap<_, _>>();
        node_cfg.election_timeout = (r.election_timeout, r.election_timeout * 2);
        node_cfg.raft_heartbeat_interval = (r.election_timeout / 4).max(Duration::from_millis(50));
        node_cfg.instance_heartbeat_timeout = r.heartbeat_timeout;
        node_cfg.propose_timeout = rpc_timeout;
        let node = RingNode::open(node_cfg)
            .await
            .with_context(|| format!("open ring voter {node_id} in {}/ring", cfg.data_dir))?;
        let rx = node.subscribe();
        Ok(Some(Arc::new(Self {
            node: Some(node),
            remote: RemoteRing::new(voters.clone(), rpc_timeout),
            rx,
            follow_task: None,
            single: voters.len() == 1,
            follower_health,
            voters,
        })))
    }

    /// The voter, when this process is one.
    pub fn node(&self) -> Option<&RingNode> {
        self.node.as_ref()
    }

    /// The voters' addresses.
    pub fn voters(&self) -> &[String] {
        &self.voters
    }

    /// Initializes the Raft group if it never was (voters only; a no-op after a restart).
    /// Call once this process' gRPC server listens.
    pub async fn bootstrap(&self) -> Result<(), RingError> {
        match &self.node {
            Some(n) => n.bootstrap().await,
            None => Ok(()),
        }
    }

    /// Committed rings as they change.
    pub fn subscribe(&self) -> watch::Receiver<AppliedRing> {
        self.rx.clone()
    }

    /// The latest committed ring and its log index.
    pub fn applied(&self) -> AppliedRing {
        self.rx.borrow().clone()
    }

    /// The latest committed ring.
    pub fn ring(&self) -> Ring {
        self.rx.borrow().ring.clone()
    }

    /// Heartbeat health now (a follower's view judges nothing).
    pub fn health(&self) -> HealthView {
        match &self.node {
            Some(n) => n.health(),
            None => self.follower_health.view(Instant::now()),
        }
    }

    /// A health function for the distributor and querier.
    pub fn health_fn(self: &Arc<Self>) -> Arc<dyn Fn() -> HealthView + Send + Sync> {
        let me = Arc::clone(self);
        Arc::new(move || me.health())
    }

    /// The time since `id`'s last heartbeat, on a voter.
    pub fn heartbeat_age(&self, id: &InstanceId) -> Option<Duration> {
        self.node
            .as_ref()
            .and_then(|n| n.heartbeats().age(id, Instant::now()))
    }

    /// Raft facts, on a voter.
    pub fn status(&self) -> Option<RaftStatus> {
        self.node.as_ref().map(RingNode::status)
    }

    /// Applies `cmd` through the leader.
    pub async fn propose(&self, cmd: Command) -> Result<CommandResponse, RingError> {
        match &self.node {
            Some(n) => n.propose(cmd).await,
            None => self.remote.propose(&cmd).await,
        }
    }

    /// Sends a heartbeat for `id` to every voter; returns how many received it.
    pub async fn heartbeat(&self, id: &InstanceId) -> usize {
        match (&self.node, self.single) {
            (Some(n), true) => {
                n.heartbeats().record(id, Instant::now());
                1
            }
            _ => self.remote.heartbeat(id).await,
        }
    }

    /// Stops Raft on a voter.
    pub async fn shutdown(&self) {
        if let Some(n) = &self.node {
            if let Err(e) = n.shutdown().await {
                tracing::warn!(error = %e, "ring voter shutdown");
            }
        }
    }
}
