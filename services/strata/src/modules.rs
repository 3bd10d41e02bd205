//! The components (`-target`) and the order they start in, in one place (Mimir's `modules.go`).
//!
//! ```text
//!   server (HTTP + gRPC listeners, /metrics, /ready)
//!     └─ ring (Raft voter: gRPC Ring service; /ring, /ring/raft)
//!         └─ ingester ──(gRPC)──┬─ distributor   POST /api/v1/push
//!                               └─ querier       /prometheus/api/v1/*
//! ```
//! Distributors and queriers reach ingesters through the gRPC client, also when they share a
//! process, so `-target=all` exercises the same seams as a cluster. One exception: when the
//! process' own ingester is the only one, float-only remote write 1.0 pushes reach it by
//! function call (`local.rs`), answered exactly as over gRPC.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use parking_lot::RwLock;

/// A component the binary can run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Target {
    /// A voter of the Raft-backed ring (served on the gRPC server).
    Ring,
    /// Holds tenants' heads and serves the internal gRPC Ingester service.
    Ingester,
    /// Receives remote write and forwards to ingesters.
    Distributor,
    /// Serves the Prometheus HTTP API over the ingesters.
    Querier,
    /// Scrapes targets from a `prometheus.yml` and remote-writes them (not part of `all`).
    Agent,
}

impl Target {
    /// Every component, in start order: dependencies first.
    pub const START_ORDER: [Target; 4] = [
        Target::Ring,
        Target::Ingester,
        Target::Distributor,
        Target::Querier,
    ];

    /// Parses `all` or a comma list of component names, returning them in start order.
    pub fn parse_list(s: &str) -> anyhow::Result<Vec<Target>> {
        let mut out = Vec::new();
        for name in s.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            match name {
                "all" => out.extend(Self::START_ORDER),
                "ingester" => out.push(Target::Ingester),
                "distributor" => out.push(Target::Distributor),
                "querier" => out.push(Target::Querier),
                "ring" => out.push(Target::Ring),
                "agent" => out.push(Target::Agent),
                other => anyhow::bail!(
                    "invalid config at target: unknown component {other:?} (expected all, agent, distributor, ingester, querier, ring)"
                ),
            }
        }
        if out.is_empty() {
            anyhow::bail!("invalid config at target: no component named");
        }
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// The component's name as `-target` spells it.
    pub fn name(self) -> &'static str {
        match self {
            Target::Ring => "ring",
            Target::Ingester => "ingester",
            Target::Distributor => "distributor",
            Target::Querier => "querier",
            Target::Agent => "agent",
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A component's lifecycle state, shown on `/services`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Being built.
    Starting,
    /// Serving.
    Running,
    /// Shutting down.
    Stopping,
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            State::Starting => "Starting",
            State::Running => "Running",
            State::Stopping => "Stopping",
        })
    }
}

/// The states of this process' components.
#[derive(Clone, Default)]
pub struct Services {
    states: Arc<RwLock<BTreeMap<&'static str, State>>>,
}

impl Services {
    /// Records a component's state.
    pub fn set(&self, name: &'static str, s: State) {
        self.states.write().insert(name, s);
    }

    /// Every component and its state, by name.
    pub fn snapshot(&self) -> Vec<(&'static str, State)> {
        self.states.read().iter().map(|(k, v)| (*k, *v)).collect()
    }

    /// Tells whether every component is running.
    pub fn all_running(&self) -> bool {
        let s = self.states.read();
        !s.is_empty() && s.values().all(|v| *v == State::Running)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_targets_in_start_order() {
        assert_eq!(
            Target::parse_list("all").expect("valid"),
            Target::START_ORDER.to_vec()
        );
        assert_eq!(
            Target::parse_list("querier, ingester").expect("valid"),
            vec![Target::Ingester, Target::Querier]
        );
        assert!(Target::parse_list("compactor").is_err());
        assert!(Target::parse_list("").is_err());
    }
}
