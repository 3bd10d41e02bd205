//! The `strata.ring.v1.Ring` gRPC service of a voter.

use std::pin::Pin;

use futures::{Stream, StreamExt};
use openraft::raft::{AppendEntriesRequest, InstallSnapshotRequest, VoteRequest};
use serde::de::DeserializeOwned;
use serde::Serialize;
use strata_proto::ring::ring_server::Ring as RingRpc;
use strata_proto::ring::{
    HeartbeatRequest, HeartbeatResponse, ProposeRequest, ProposeResponse, RaftMessage, RingState,
    WatchRequest,
};
use tokio::time::Instant;
use tokio_stream::wrappers::WatchStream;
use tonic::{Request, Response, Status};

use crate::command::Command;
use crate::error::RingError;
use crate::instance::InstanceId;
use crate::node::RingNode;
use crate::raft::state_machine::AppliedRing;
use crate::raft::{NodeId, TypeConfig};

/// Serves Raft, propose, watch and heartbeat RPCs for one [`RingNode`].
#[derive(Clone)]
pub struct RingService {
    node: RingNode,
}

impl RingService {
    pub(crate) fn new(node: RingNode) -> Self {
        Self { node }
    }
}

fn decode<T: DeserializeOwned>(what: &'static str, bytes: &[u8]) -> Result<T, Status> {
    serde_json::from_slice(bytes).map_err(|source| RingError::Codec { what, source }.to_status())
}

fn encode<T: Serialize>(what: &'static str, v: &T) -> Result<Vec<u8>, Status> {
    serde_json::to_vec(v).map_err(|source| RingError::Codec { what, source }.to_status())
}

/// Encodes a ring state for the watch stream.
pub(crate) fn ring_state(
    applied: &AppliedRing,
    leader: Option<NodeId>,
    term: u64,
) -> Result<RingState, Status> {
    Ok(RingState {
        ring: applied.ring.encode_contents().map_err(|source| {
            RingError::Codec {
                what: "encode watched ring",
                source,
            }
            .to_status()
        })?,
        applied_index: applied.applied_index,
        leader_id: leader.unwrap_or(0),
        term,
    })
}

type WatchStreamOf = Pin<Box<dyn Stream<Item = Result<RingState, Status>> + Send>>;

#[tonic::async_trait]
impl RingRpc for RingService {
    async fn append_entries(
        &self,
        request: Request<RaftMessage>,
    ) -> Result<Response<RaftMessage>, Status> {
        let req: AppendEntriesRequest<TypeConfig> =
            decode("decode append entries", &request.into_inner().payload)?;
        let res = self.node.raft().append_entries(req).await;
        Ok(Response::new(RaftMessage {
            payload: encode("encode append entries response", &res)?,
            data: Vec::new(),
        }))
    }

    async fn vote(&self, request: Request<RaftMessage>) -> Result<Response<RaftMessage>, Status> {
        let req: VoteRequest<NodeId> = decode("decode vote", &request.into_inner().payload)?;
        let res = self.node.raft().vote(req).await;
        Ok(Response::new(RaftMessage {
            payload: encode("encode vote response", &res)?,
            data: Vec::new(),
        }))
    }

    async fn install_snapshot(
        &self,
        request: Request<RaftMessage>,
    ) -> Result<Response<RaftMessage>, Status> {
        let msg = request.into_inner();
        let mut req: InstallSnapshotRequest<TypeConfig> =
            decode("decode install snapshot", &msg.payload)?;
        req.data = msg.data;
        let res = self.node.raft().install_snapshot(req).await;
        Ok(Response::new(RaftMessage {
            payload: encode("encode install snapshot response", &res)?,
            data: Vec::new(),
        }))
    }

    async fn propose(
        &self,
        request: Request<ProposeRequest>,
    ) -> Result<Response<ProposeResponse>, Status> {
        let req = request.into_inner();
        let cmd: Command = decode("decode command", &req.command)?;
        let resp = match self.node.propose_inner(cmd, req.forwarded).await {
            Ok(r) => r,
            Err(RingError::Rejected(why)) => crate::CommandResponse::Rejected(why),
            Err(e) => return Err(e.to_status()),
        };
        Ok(Response::new(ProposeResponse {
            response: encode("encode propose response", &resp)?,
        }))
    }

    type WatchStream = WatchStreamOf;

    async fn watch(
        &self,
        _request: Request<WatchRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        let raft = self.node.raft().clone();
        let stream = WatchStream::new(self.node.subscribe()).map(move |applied| {
            let (leader, term) = {
                let m = raft.metrics();
                let m = m.borrow();
                (m.current_leader, m.current_term)
            };
            ring_state(&applied, leader, term)
        });
        // Ends when the process shuts down (see `RingNode::close_streams`).
        let stream = stream.take_until(self.node.closed());
        Ok(Response::new(Box::pin(stream)))
    }

    async fn heartbeat(
        &self,
        request: Request<HeartbeatRequest>,
    ) -> Result<Response<HeartbeatResponse>, Status> {
        let id = request.into_inner().instance_id;
        if id.is_empty() {
            return Err(Status::invalid_argument("heartbeat: empty instance id"));
        }
        self.node
            .heartbeats()
            .record(&InstanceId::new(id), Instant::now());
        Ok(Response::new(HeartbeatResponse {
            leader_known: self.node.status().can_commit,
        }))
    }
}
