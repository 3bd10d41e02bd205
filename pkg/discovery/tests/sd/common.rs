//! Helpers shared by the tests.

use std::collections::BTreeMap;
use std::time::Duration;

use strata_discovery::provider::ProviderContext;
use strata_discovery::{GroupSink, SdMetrics, SdOptions, TargetGroup};
use tokio::sync::mpsc::UnboundedReceiver;

pub type Labels = BTreeMap<String, String>;

/// Short timings for tests.
pub fn ctx() -> ProviderContext {
    ProviderContext {
        metrics: SdMetrics::default(),
        options: SdOptions {
            update_interval: Duration::from_millis(100),
            file_poll_interval: Duration::from_millis(50),
            consul_watch_timeout: Duration::from_secs(2),
            retry_interval: Duration::from_millis(100),
            request_timeout: Duration::from_secs(5),
            ..SdOptions::default()
        },
    }
}

/// Keeps the latest group per source from a provider's updates.
pub struct Collector {
    rx: UnboundedReceiver<Vec<TargetGroup>>,
    pub groups: BTreeMap<String, TargetGroup>,
    pub updates: usize,
}

impl Collector {
    pub fn new() -> (GroupSink, Self) {
        let (sink, rx) = GroupSink::channel();
        (
            sink,
            Self {
                rx,
                groups: BTreeMap::new(),
                updates: 0,
            },
        )
    }

    fn apply(&mut self, update: Vec<TargetGroup>) {
        self.updates += 1;
        for g in update {
            if g.targets.is_empty() {
                self.groups.remove(&g.source);
            } else {
                self.groups.insert(g.source.clone(), g);
            }
        }
    }

    /// Applies updates until `pred` holds; panics after 10 s naming `what`.
    pub async fn until(
        &mut self,
        what: &str,
        pred: impl Fn(&BTreeMap<String, TargetGroup>) -> bool,
    ) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            if pred(&self.groups) {
                return;
            }
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some(u)) => self.apply(u),
                Ok(None) => panic!("provider stopped while waiting for {what}"),
                Err(_) => panic!("timed out waiting for {what}; groups: {:#?}", self.groups),
            }
        }
    }

    /// Drains updates arriving within `d`.
    pub async fn settle(&mut self, d: Duration) {
        let deadline = tokio::time::Instant::now() + d;
        while let Ok(Some(u)) = tokio::time::timeout_at(deadline, self.rx.recv()).await {
            self.apply(u);
        }
    }
}

/// Each target's labels merged with its group's (target labels win), as relabeling sees them.
pub fn merged(g: &TargetGroup) -> Vec<Labels> {
    g.targets
        .iter()
        .map(|t| {
            let mut m = g.labels.clone();
            m.extend(t.clone());
            m
        })
        .collect()
}

/// A label set from pairs.
pub fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Addresses of a group's targets, sorted.
pub fn addresses(g: &TargetGroup) -> Vec<String> {
    let mut v: Vec<String> = g.targets.iter().map(|t| t["__address__"].clone()).collect();
    v.sort();
    v
}
