//! The scrape manager (Prometheus's `scrape.Manager`): one pool per job, fed by discovery.
//!
//! ```text
//!  apply_config(jobs) ─► new job: pool │ changed: pool.reload │ removed: pool.stop (stale)
//!  discovery watch ─► sync(groups per job) ─► pool.sync(groups of its job)
//!  views() ─► pages (/targets, /api/v1/targets, /service-discovery), never blocked by a sync
//! ```

use std::collections::BTreeMap;
use std::sync::Arc;

use parking_lot::RwLock;
use tokio::sync::{watch, Mutex};
use tracing::{error, info};

use crate::job::JobConfig;
use crate::pool::{PoolView, ScrapePool, Shard};
use crate::scrape_loop::{LoopEnv, StopMode};
use crate::target::TargetGroup;

/// Discovered groups by job name.
pub type Groups = Arc<BTreeMap<String, Vec<TargetGroup>>>;

/// See the module docs.
pub struct ScrapeManager {
    state: Mutex<State>,
    views: RwLock<Arc<BTreeMap<String, PoolView>>>,
    env: LoopEnv,
    shard: Option<Shard>,
}

#[derive(Default)]
struct State {
    pools: BTreeMap<String, ScrapePool>,
    groups: Groups,
}

impl ScrapeManager {
    /// A manager without jobs.
    pub fn new(env: LoopEnv, shard: Option<Shard>) -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::new(State::default()),
            views: RwLock::default(),
            env,
            shard,
        })
    }

    /// Applies a (re)loaded list of jobs: unchanged jobs keep their loops, changed ones
    /// reload, removed ones stop (their targets get stale markers). Returns the jobs whose
    /// pool could not be built (their HTTP client settings), which keep their old pool.
    pub async fn apply_config(&self, jobs: Vec<JobConfig>) -> Vec<String> {
        let mut st = self.state.lock().await;
        let mut failed = Vec::new();
        let names: Vec<String> = jobs.iter().map(|j| j.job_name.clone()).collect();
        let removed: Vec<String> = st
            .pools
            .keys()
            .filter(|k| !names.contains(k))
            .cloned()
            .collect();
        for name in removed {
            if let Some(p) = st.pools.remove(&name) {
                info!(job = %name, "scrape pool removed");
                p.stop(StopMode::Remove).await;
            }
        }
        let groups = Arc::clone(&st.groups);
        for job in jobs {
            let name = job.job_name.clone();
            let tgs = groups.get(&name).cloned().unwrap_or_default();
            match st.pools.get_mut(&name) {
                Some(p) => {
                    if **p.job() == job {
                        continue;
                    }
                    match p.reload(job).await {
                        Ok(()) => {
                            info!(job = %name, "scrape pool reloaded");
                            p.sync(&tgs).await;
                        }
                        Err(e) => {
                            error!(job = %name, err = %e, "reloading scrape pool failed");
                            failed.push(format!("{name}: {e}"));
                        }
                    }
                }
                None => match ScrapePool::new(job, self.env.clone(), self.shard) {
                    Ok(mut p) => {
                        p.sync(&tgs).await;
                        st.pools.insert(name, p);
                    }
                    Err(e) => {
                        error!(job = %name, err = %e, "creating scrape pool failed");
                        failed.push(format!("{name}: {e}"));
                    }
                },
            }
        }
        self.publish(&st);
        failed
    }

    /// Applies the latest discovered groups to every pool.
    pub async fn sync(&self, groups: Groups) {
        let mut st = self.state.lock().await;
        st.groups = Arc::clone(&groups);
        for (name, p) in st.pools.iter_mut() {
            let tgs = groups.get(name).map(Vec::as_slice).unwrap_or_default();
            p.sync(tgs).await;
        }
        self.publish(&st);
    }

    /// Syncs on every discovery update until the sender goes away or the process stops.
    pub fn run(self: &Arc<Self>, mut rx: watch::Receiver<Groups>) -> tokio::task::JoinHandle<()> {
        let me = Arc::clone(self);
        let mut shutdown = self.env.shutdown.clone();
        tokio::spawn(async move {
            loop {
                let groups = Arc::clone(&rx.borrow_and_update());
                me.sync(groups).await;
                tokio::select! {
                    r = rx.changed() => if r.is_err() { return },
                    _ = shutdown.wait_for(|s| *s) => return,
                }
            }
        })
    }

    fn publish(&self, st: &State) {
        let v = st
            .pools
            .iter()
            .map(|(k, p)| (k.clone(), p.view()))
            .collect();
        *self.views.write() = Arc::new(v);
    }

    /// Every pool as the pages show it, by job name.
    pub fn views(&self) -> Arc<BTreeMap<String, PoolView>> {
        Arc::clone(&self.views.read())
    }

    /// Stops every loop without stale markers (process shutdown: a restart continues).
    pub async fn stop(&self) {
        let mut st = self.state.lock().await;
        let pools = std::mem::take(&mut st.pools);
        for (_, p) in pools {
            p.stop(StopMode::Reload).await;
        }
        self.publish(&st);
    }
}
