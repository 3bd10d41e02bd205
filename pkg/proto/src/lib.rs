//! Generated protobuf code, kept apart from hand-written modules.
//!
//! - [`prometheus`]: remote write 1.0 (`WriteRequest`) and remote read messages.
//! - [`write_v2`]: remote write 2.0 (`io.prometheus.write.v2.Request`).
//! - [`ingester`]: Strata's internal `Ingester` gRPC service (push, query stream, labels, series, metadata).

#![allow(missing_docs, clippy::all, clippy::pedantic)]

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

/// The `strata.ingester.v1` package at its full depth: the generated code reaches the
/// `prometheus` package through `super::super::super`. Use [`ingester`].
#[doc(hidden)]
pub mod strata {
    pub mod ingester {
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/strata.ingester.v1.rs"));
        }
    }
}
