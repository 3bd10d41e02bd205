//! Raft RPCs between voters over tonic.
//!
//! openraft's request and response types are serialized with serde (JSON) into the `payload`
//! bytes of a generic `RaftMessage`; a snapshot chunk's bytes travel in the `data` field
//! instead, so they are not inflated by JSON. The response payload is a
//! `Result<response, RaftError>`, so a remote Raft error (e.g. a higher vote) reaches openraft
//! as such, and transport failures become `Unreachable` (connection refused: back off) or
//! `Network` errors.

use std::time::Duration;

use openraft::error::{
    InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable,
};
use openraft::network::RPCOption;
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use openraft::{BasicNode, RaftNetwork, RaftNetworkFactory};
use serde::de::DeserializeOwned;
use serde::Serialize;
use strata_proto::ring::ring_client::RingClient;
use strata_proto::ring::RaftMessage;
use tonic::transport::{Channel, Endpoint};

use super::{NodeId, TypeConfig};
use crate::error::RingError;

/// Opens a lazily connected channel to `addr` (`host:port`).
pub(crate) fn channel(addr: &str, connect_timeout: Duration) -> Result<Channel, RingError> {
    let endpoint =
        Endpoint::from_shared(format!("http://{addr}")).map_err(|e| RingError::Connect {
            addr: addr.to_string(),
            detail: e.to_string(),
        })?;
    Ok(endpoint
        .connect_timeout(connect_timeout)
        .tcp_nodelay(true)
        .connect_lazy())
}

/// Creates a [`Peer`] per target voter.
#[derive(Clone, Debug)]
pub struct Network {
    connect_timeout: Duration,
}

impl Network {
    /// A factory whose connections time out after `connect_timeout`.
    pub fn new(connect_timeout: Duration) -> Self {
        Self { connect_timeout }
    }
}

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = Peer;

    async fn new_client(&mut self, target: NodeId, node: &BasicNode) -> Peer {
        let client = match channel(&node.addr, self.connect_timeout) {
            Ok(ch) => Some(RingClient::new(ch)),
            Err(e) => {
                tracing::warn!(target, addr = %node.addr, error = %e, "bad ring voter address");
                None
            }
        };
        Peer {
            target,
            addr: node.addr.clone(),
            client,
        }
    }
}

/// The connection to one voter.
#[derive(Debug)]
pub struct Peer {
    target: NodeId,
    addr: String,
    client: Option<RingClient<Channel>>,
}

type RpcResult<T, E> = Result<T, RPCError<NodeId, BasicNode, RaftError<NodeId, E>>>;

impl Peer {
    async fn call<Req, Resp, E>(
        &mut self,
        method: &'static str,
        req: &Req,
        data: Vec<u8>,
        option: &RPCOption,
    ) -> RpcResult<Resp, E>
    where
        Req: Serialize,
        Resp: DeserializeOwned,
        E: std::error::Error + DeserializeOwned,
    {
        let Some(client) = self.client.as_mut() else {
            let err = RingError::Connect {
                addr: self.addr.clone(),
                detail: "invalid address".to_string(),
            };
            return Err(RPCError::Unreachable(Unreachable::new(&err)));
        };
        let payload =
            serde_json::to_vec(req).map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        let msg = RaftMessage { payload, data };
        let fut = async {
            match method {
                "append_entries" => client.append_entries(msg).await,
                "vote" => client.vote(msg).await,
                _ => client.install_snapshot(msg).await,
            }
        };
        let resp = match tokio::time::timeout(option.hard_ttl(), fut).await {
            Err(_) => {
                let err = RingError::Connect {
                    addr: self.addr.clone(),
                    detail: format!("{method} timed out after {:?}", option.hard_ttl()),
                };
                return Err(RPCError::Network(NetworkError::new(&err)));
            }
            Ok(Err(status)) => {
                let err = RingError::Rpc {
                    method,
                    addr: self.addr.clone(),
                    status: Box::new(status),
                };
                return Err(RPCError::Unreachable(Unreachable::new(&err)));
            }
            Ok(Ok(r)) => r.into_inner(),
        };
        let result: Result<Resp, RaftError<NodeId, E>> = serde_json::from_slice(&resp.payload)
            .map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        result.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
    }
}

impl RaftNetwork<TypeConfig> for Peer {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> RpcResult<AppendEntriesResponse<NodeId>, openraft::error::Infallible> {
        self.call("append_entries", &rpc, Vec::new(), &option).await
    }

    async fn install_snapshot(
        &mut self,
        mut rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> RpcResult<InstallSnapshotResponse<NodeId>, InstallSnapshotError> {
        let data = std::mem::take(&mut rpc.data);
        self.call("install_snapshot", &rpc, data, &option).await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> RpcResult<VoteResponse<NodeId>, openraft::error::Infallible> {
        self.call("vote", &rpc, Vec::new(), &option).await
    }
}
