//! Protobuf code: the generated messages and services, and one hand-written decoder.
//!
//! - [`prometheus`]: remote write 1.0 (`WriteRequest`) and remote read messages.
//! - [`write_v2`]: remote write 2.0 (`io.prometheus.write.v2.Request`).
//! - [`ingester`]: Strata's internal `Ingester` gRPC service (push, query stream, labels, series, metadata).
//! - [`ring`]: the `Ring` gRPC service (Raft between voters, watch, propose, heartbeat).
//! - [`flat`] (hand-written): a remote write 1.0 decoder that borrows labels from the buffer
//! (the push hot path; prost's decoder stays the reference and the fallback).

#![allow(missing_docs, clippy::all, clippy::pedantic)]

pub mod flat;

/// Prometheus's `prometheus` package: remote write 1.0 and remote read.
pub mod prometheus {
    include!(concat!(env!("OUT_DIR"), "/prometheus.rs"));
}

/// Remote write 2.0, `io.prometheus.write.v2`.
pub mod write_v2 {
    include!(concat!(env!("OUT_DIR"), "/io.prometheus.write.v2.rs"));
}

/// Strata's internal ingester service, `strata.ingester.v1`.
pub use self::strata::ingester::v1 as ingester;

/// The ring service (Raft, watch, propose, heartbeat), `strata.ring.v1`.
pub use self::strata::ring::v1 as ring;

/// The `strata.ingester.v1` package at its full depth: the generated code reaches the
/// `prometheus` package through `super::super::super`. Use [`ingester`].
#[doc(hidden)]
pub mod strata {
    pub mod ingester {
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/strata.ingester.v1.rs"));
        }
    }
    pub mod ring {
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/strata.ring.v1.rs"));
        }
    }
}
