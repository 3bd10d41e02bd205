//! A job's scrape pool (Prometheus's `scrapePool`): its targets, one loop each.
//!
//! `sync` turns the job's discovered groups into targets and starts loops for new ones,
//! keeps loops of targets still there (refreshing their discovered labels) and stops the
//! loops of targets gone (they write stale markers). `reload` applies a changed job config:
//! every loop restarts, keeping its series cache when the change leaves series' labels
//! alone. `-agent.shard=i/n` keeps only targets whose address hashes to `i`.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;
use strata_model::Labels;
use tracing::error;

use crate::job::JobConfig;
use crate::metrics::JobLabel;
use crate::scrape_loop::{self, LoopEnv, LoopHandle, StopMode, TargetStatus};
use crate::scraper;
use crate::target::{targets_from_group, Target, TargetGroup, ADDRESS_LABEL};

/// This agent's share of targets: those whose `__address__` hashes (`hashmod`, MD5 as
/// relabeling's) to `index` modulo `total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// This agent's index, from 0.
    pub index: u64,
    /// The number of agents.
    pub total: u64,
}

impl Shard {
    /// Parses `i/n` (`0 <= i < n`).
    pub fn parse(s: &str) -> Result<Self, String> {
        let (i, n) = s
            .split_once('/')
            .ok_or_else(|| format!("shard {s:?}: expected <index>/<total>, as 0/3"))?;
        let index: u64 = i
            .trim()
            .parse()
            .map_err(|_| format!("shard {s:?}: bad index"))?;
        let total: u64 = n
            .trim()
            .parse()
            .map_err(|_| format!("shard {s:?}: bad total"))?;
        if total == 0 || index >= total {
            return Err(format!("shard {s:?}: need 0 <= index < total"));
        }
        Ok(Self { index, total })
    }

    /// Tells whether this agent scrapes the target at `address`.
    pub fn owns(&self, address: &str) -> bool {
        strata_relabel::hashmod(address, self.total) == self.index
    }
}

/// A target as the pages show it.
#[derive(Clone)]
pub struct TargetView {
    /// The target.
    pub target: Target,
    /// Its loop's status.
    pub status: Arc<Mutex<TargetStatus>>,
}

/// A pool as the pages show it.
#[derive(Clone, Default)]
pub struct PoolView {
    /// The job's config.
    pub job: Option<Arc<JobConfig>>,
    /// Active targets, in discovery order.
    pub active: Vec<TargetView>,
    /// Discovered labels of dropped targets.
    pub dropped: Vec<Labels>,
}

/// See the module docs.
pub struct ScrapePool {
    job: Arc<JobConfig>,
    client: reqwest::Client,
    env: LoopEnv,
    shard: Option<Shard>,
    /// Loops by target hash, with the order targets were discovered in.
    loops: HashMap<u64, (Target, LoopHandle)>,
    order: Vec<u64>,
    dropped: Vec<Labels>,
}

impl ScrapePool {
    /// A pool for `job` with no targets yet.
    pub fn new(job: JobConfig, env: LoopEnv, shard: Option<Shard>) -> Result<Self, String> {
        let client = scraper::client(&job).map_err(|e| e.to_string())?;
        env.metrics.pools.inc();
        Ok(Self {
            job: Arc::new(job),
            client,
            env,
            shard,
            loops: HashMap::new(),
            order: Vec::new(),
            dropped: Vec::new(),
        })
    }

    /// The job's config.
    pub fn job(&self) -> &Arc<JobConfig> {
        &self.job
    }

    /// Applies the job's latest discovered groups.
    pub async fn sync(&mut self, groups: &[TargetGroup]) {
        let job_label = JobLabel {
            scrape_job: self.job.job_name.clone(),
        };
        let mut targets = Vec::new();
        self.dropped.clear();
        for g in groups {
            let (active, dropped, failures) = targets_from_group(g, &self.job);
            for f in &failures {
                error!(job = %self.job.job_name, err = %f, "creating target failed");
            }
            self.env
                .metrics
                .sync_failed
                .get_or_create(&job_label)
                .inc_by(failures.len() as u64);
            self.dropped.extend(dropped);
            for t in active {
                let addr = t.all_labels().get(ADDRESS_LABEL).unwrap_or_default();
                match self.shard {
                    Some(s) if !s.owns(addr) => self.dropped.push(t.discovered_labels().clone()),
                    _ => targets.push(t),
                }
            }
        }
        let mut seen: HashMap<u64, ()> = HashMap::new();
        let mut order = Vec::new();
        for t in targets {
            let h = t.hash();
            if seen.insert(h, ()).is_some() {
                continue;
            }
            order.push(h);
            match self.loops.get_mut(&h) {
                Some((old, _)) => old.set_discovered_labels(t.discovered_labels().clone()),
                None => {
                    let l = scrape_loop::start(
                        &t,
                        Arc::clone(&self.job),
                        self.client.clone(),
                        self.env.clone(),
                        None,
                    );
                    self.loops.insert(h, (t, l));
                }
            }
        }
        let gone: Vec<u64> = self
            .loops
            .keys()
            .filter(|h| !seen.contains_key(h))
            .copied()
            .collect();
        for h in gone {
            if let Some((_, l)) = self.loops.remove(&h) {
                l.stop(StopMode::Remove).await;
            }
        }
        self.order = order;
        self.env
            .metrics
            .pool_targets
            .get_or_create(&job_label)
            .set(i64::try_from(self.loops.len()).unwrap_or(i64::MAX));
        self.apply_target_limit();
    }

    fn apply_target_limit(&self) {
        let limit = self.job.target_limit;
        let err = if limit > 0 && self.loops.len() as u64 > limit {
            self.env.metrics.exceeded_target_limit.inc();
            Some(format!(
                "target_limit exceeded (number of targets: {}, limit: {limit})",
                self.loops.len()
            ))
        } else {
            None
        };
        for (_, l) in self.loops.values() {
            l.set_forced_error(err.clone());
        }
    }

    /// Applies a changed config: every loop restarts under it, keeping its cache when the
    /// change leaves series' labels alone. Targets are rebuilt at the next `sync`.
    pub async fn reload(&mut self, job: JobConfig) -> Result<(), String> {
        if *self.job == job {
            return Ok(());
        }
        let client = scraper::client(&job).map_err(|e| e.to_string())?;
        let reuse = self.job.cache_reusable_with(&job);
        self.job = Arc::new(job);
        self.client = client;
        let old: Vec<(u64, (Target, LoopHandle))> = self.loops.drain().collect();
        for (h, (t, l)) in old {
            let cache = reuse.then(|| l.cache());
            l.stop(if reuse {
                StopMode::Reload
            } else {
                StopMode::Remove
            })
            .await;
            let nl = scrape_loop::start(
                &t,
                Arc::clone(&self.job),
                self.client.clone(),
                self.env.clone(),
                cache,
            );
            self.loops.insert(h, (t, nl));
        }
        self.apply_target_limit();
        Ok(())
    }

    /// Stops every loop: with [`StopMode::Remove`] (job removed) they write stale markers,
    /// with [`StopMode::Reload`] (process shutdown) they do not.
    pub async fn stop(mut self, mode: StopMode) {
        for (_, (_, l)) in self.loops.drain() {
            l.stop(mode).await;
        }
        self.env.metrics.pools.dec();
        let job_label = JobLabel {
            scrape_job: self.job.job_name.clone(),
        };
        self.env
            .metrics
            .pool_targets
            .get_or_create(&job_label)
            .set(0);
    }

    /// The pool as the pages show it.
    pub fn view(&self) -> PoolView {
        PoolView {
            job: Some(Arc::clone(&self.job)),
            active: self
                .order
                .iter()
                .filter_map(|h| self.loops.get(h))
                .map(|(t, l)| TargetView {
                    target: t.clone(),
                    status: l.status_handle(),
                })
                .collect(),
            dropped: self.dropped.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_split_addresses_exactly_once() {
        assert!(Shard::parse("3/3").is_err() && Shard::parse("x").is_err());
        let shards: Vec<Shard> = (0..3)
            .map(|i| Shard::parse(&format!("{i}/3")).expect("valid"))
            .collect();
        let mut per = [0; 3];
        for p in 0..300 {
            let addr = format!("10.0.0.{}:{}", p % 250, 9000 + p);
            let owners: Vec<usize> = (0..3).filter(|&i| shards[i].owns(&addr)).collect();
            assert_eq!(owners.len(), 1, "{addr}");
            per[owners[0]] += 1;
        }
        assert!(per.iter().all(|&n| n > 50), "{per:?}");
    }
}
