//! The crate's error type.

use std::path::PathBuf;

/// Everything that can go wrong in the ring: lookups, storage, Raft and RPCs.
#[derive(Debug, thiserror::Error)]
pub enum RingError {
    /// The ring has no instance with tokens.
    #[error("the ring is empty")]
    EmptyRing,
    /// Fewer healthy instances than a quorum of the replication factor.
    #[error("{op}: at least {needed} live replicas required, could only find {found}")]
    TooFewHealthy {
        /// `read` or `write`.
        op: &'static str,
        /// The quorum needed.
        needed: usize,
        /// The healthy instances found.
        found: usize,
    },
    /// Too many zones hold an unhealthy instance for a zone-aware read.
    #[error("{op}: {unavailable} zones unavailable, at most {allowed} allowed")]
    TooManyZonesUnavailable {
        /// `read` or `write`.
        op: &'static str,
        /// Zones with at least one unhealthy instance.
        unavailable: usize,
        /// The most that may be lost.
        allowed: usize,
    },
    /// A disk operation failed.
    #[error("{op} {}: {source}", path.display())]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A file on disk does not hold what it should.
    #[error("corrupt {}: {detail}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// Encoding or decoding a message failed.
    #[error("{what}: {source}")]
    Codec {
        /// What was being encoded or decoded.
        what: &'static str,
        /// The cause.
        source: serde_json::Error,
    },
    /// No leader is known, so the ring cannot change; the last committed ring stays readable.
    #[error("no raft leader: the ring is read-only until a leader is elected")]
    NoLeader,
    /// The leader this voter knows could not be reached to forward a proposal.
    #[error("raft leader {leader} at {addr} unreachable ({detail}): the ring is read-only until a leader is reachable")]
    LeaderUnreachable {
        /// The leader's node id.
        leader: u64,
        /// Its address.
        addr: String,
        /// The transport error.
        detail: String,
    },
    /// A proposal was not committed in time: no quorum of voters is reachable.
    #[error("ring change not committed within {0:?}: no quorum of voters reachable; the ring is read-only")]
    NoQuorum(std::time::Duration),
    /// The state machine refused a command.
    #[error("ring change rejected: {0}")]
    Rejected(String),
    /// openraft reported an error.
    #[error("raft: {0}")]
    Raft(String),
    /// A gRPC call to another ring member failed.
    #[error("ring rpc {method} to {addr}: {status}")]
    Rpc {
        /// The method called.
        method: &'static str,
        /// The peer's address.
        addr: String,
        /// The gRPC status.
        status: Box<tonic::Status>,
    },
    /// Connecting to a peer failed or its address is unusable.
    #[error("connect to ring member {addr}: {detail}")]
    Connect {
        /// The peer's address.
        addr: String,
        /// What went wrong.
        detail: String,
    },
}

impl RingError {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            op,
            path: path.into(),
            source,
        }
    }

    /// The gRPC status a service answers with for this error.
    pub fn to_status(&self) -> tonic::Status {
        match self {
            Self::NoLeader
            | Self::NoQuorum(_)
            | Self::TooFewHealthy { .. }
            | Self::TooManyZonesUnavailable { .. } => tonic::Status::unavailable(self.to_string()),
            Self::Rejected(_) => tonic::Status::failed_precondition(self.to_string()),
            Self::Codec { .. } => tonic::Status::invalid_argument(self.to_string()),
            Self::Rpc { status, .. } => tonic::Status::new(status.code(), self.to_string()),
            _ => tonic::Status::internal(self.to_string()),
        }
    }
}
