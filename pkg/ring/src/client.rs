//! Following and changing the ring from a process that is not a voter.
//!
//! [`RemoteRing`] knows the voters' addresses. [`RemoteRing::follow`] keeps a `watch`
//! channel with the latest committed ring: it streams from one voter and moves to the next
//! when that one fails, never going back to an older log index. Proposals go to any voter
//! (which forwards to the leader); heartbeats go to every voter.

use std::time::Duration;

use futures::StreamExt;
use strata_proto::ring::ring_client::RingClient;
use strata_proto::ring::{HeartbeatRequest, ProposeRequest, RingState, WatchRequest};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tonic::Code;

use crate::command::{Command, CommandResponse};
use crate::distributors::RingContents;
use crate::error::RingError;
use crate::instance::{InstanceId, RingDesc};
use crate::raft::network::channel;
use crate::raft::state_machine::AppliedRing;
use crate::ring::Ring;

/// The ring's voters as seen from outside.
#[derive(Clone, Debug)]
pub struct RemoteRing {
    voters: Vec<String>,
    timeout: Duration,
}

impl RemoteRing {
    /// A client of the voters at `voters` (`host:port` each); `timeout` bounds each RPC.
    pub fn new(voters: Vec<String>, timeout: Duration) -> Self {
        Self { voters, timeout }
    }

    fn client(&self, addr: &str) -> Result<RingClient<tonic::transport::Channel>, RingError> {
        Ok(RingClient::new(channel(addr, self.timeout)?))
    }

    /// Proposes `cmd`, trying each voter until one answers. Fails with the last error when
    /// none can (e.g. no leader: `Unavailable`).
    pub async fn propose(&self, cmd: &Command) -> Result<CommandResponse, RingError> {
        let command = serde_json::to_vec(cmd).map_err(|source| RingError::Codec {
            what: "encode command",
            source,
        })?;
        let mut last = RingError::NoLeader;
        for addr in &self.voters {
            let mut client = self.client(addr)?;
            let req = ProposeRequest {
                command: command.clone(),
                forwarded: false,
            };
            match tokio::time::timeout(self.timeout, client.propose(req)).await {
                Ok(Ok(resp)) => {
                    let resp: CommandResponse = serde_json::from_slice(&resp.into_inner().response)
                        .map_err(|source| RingError::Codec {
                            what: "decode propose response",
                            source,
                        })?;
                    return match resp {
                        CommandResponse::Rejected(why) => Err(RingError::Rejected(why)),
                        other => Ok(other),
                    };
                }
                Ok(Err(status)) => {
                    last = RingError::Rpc {
                        method: "propose",
                        addr: addr.clone(),
                        status: Box::new(status),
                    }
                }
                Err(_) => {
                    last = RingError::Connect {
                        addr: addr.clone(),
                        detail: format!("propose timed out after {:?}", self.timeout),
                    }
                }
            }
        }
        Err(last)
    }

    /// Sends a heartbeat for `id` to every voter; returns how many received it.
    pub async fn heartbeat(&self, id: &InstanceId) -> usize {
        let calls = self.voters.iter().map(|addr| async move {
            let mut client = self.client(addr).ok()?;
            let req = HeartbeatRequest {
                instance_id: id.as_str().to_string(),
            };
            tokio::time::timeout(self.timeout, client.heartbeat(req))
                .await
                .ok()?
                .ok()
        });
        futures::future::join_all(calls)
            .await
            .into_iter()
            .filter(Option::is_some)
            .count()
    }

    /// Starts following the ring: the receiver holds the newest committed ring seen from any
    /// voter (empty, index 0, until the first arrives). The task runs until aborted.
    pub fn follow(&self) -> (watch::Receiver<AppliedRing>, JoinHandle<()>) {
        let (tx, rx) = watch::channel(AppliedRing {
            ring: Ring::new(RingDesc::default()),
            applied_index: 0,
        });
        let this = self.clone();
        let task = tokio::spawn(async move {
            if this.voters.is_empty() {
                tracing::warn!("no ring voters configured; the ring stays empty");
                return;
            }
            let mut next = 0usize;
            loop {
                let addr = this.voters[next % this.voters.len()].clone();
                next += 1;
                if let Err(e) = this.stream_from(&addr, &tx).await {
                    tracing::debug!(voter = %addr, error = %e, "ring watch ended; trying the next voter");
                }
                if tx.is_closed() {
                    return;
                }
                tokio::time::sleep(this.timeout / 4).await;
            }
        });
        (rx, task)
    }

    async fn stream_from(
        &self,
        addr: &str,
        tx: &watch::Sender<AppliedRing>,
    ) -> Result<(), RingError> {
        let mut client = self.client(addr)?;
        let rpc_err = |status: tonic::Status| RingError::Rpc {
            method: "watch",
            addr: addr.to_string(),
            status: Box::new(status),
        };
        let mut stream = tokio::time::timeout(self.timeout, client.watch(WatchRequest {}))
            .await
            .map_err(|_| {
                rpc_err(tonic::Status::new(
                    Code::DeadlineExceeded,
                    "watch timed out",
                ))
            })?
            .map_err(rpc_err)?
            .into_inner();
        while let Some(msg) = stream.next().await {
            let state: RingState = msg.map_err(rpc_err)?;
            let contents: RingContents =
                serde_json::from_slice(&state.ring).map_err(|source| RingError::Codec {
                    what: "decode watched ring",
                    source,
                })?;
            tx.send_if_modified(|cur| {
                if state.applied_index < cur.applied_index {
                    return false;
                }
                *cur = AppliedRing {
                    ring: Ring::from_contents(contents),
                    applied_index: state.applied_index,
                };
                true
            });
            if tx.is_closed() {
                return Ok(());
            }
        }
        Ok(())
    }
}
