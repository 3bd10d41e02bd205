//! The discovery [`Manager`]: runs one provider per distinct SD config, keeps each provider's
//! latest groups, and publishes every job's full set of groups to one subscriber, at most once
//! per `update_interval` (Prometheus's `discovery.Manager` with its 5 s `updatert`).
//!
//! ```text
//!  apply(jobs) ──► providers (static/0, file/1, kubernetes/2 ...) ── shared by equal configs
//!                     │ GroupSink: groups by source
//!                     ▼
//!            per-provider group maps ──notify──► sender task ──(≤ 1 per interval)──► watch
//! ```
//!
//! Invariants: a provider whose config is unchanged across `apply` keeps running and keeps its
//! groups, so reloads do not make targets flap; a job's groups are those of the providers its
//! config names, in config order, each provider's groups sorted by source.

use std::collections::BTreeMap;
use std::sync::{Arc, Weak};
use std::time::Instant;

use parking_lot::Mutex;
use prometheus_client::registry::Registry;
use strata_promconfig::sd::ServiceDiscoveryConfigs;
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;
use tracing::{error, info};

use crate::metrics::{JobLabels, ManagerLabels, SdMetrics};
use crate::provider::{spawn_provider, GroupSink, ProviderContext, SdConfig, SdOptions};
use crate::target_group::TargetGroup;

/// Every job's groups, keyed by job name.
pub type JobGroups = BTreeMap<String, Vec<TargetGroup>>;

/// What `/service-discovery` shows of one provider.
#[derive(Clone, Debug, PartialEq)]
pub struct ProviderInfo {
    /// Prometheus-style name (`kubernetes/3`).
    pub name: String,
    /// The mechanism (`static`, `file`, ...).
    pub mechanism: &'static str,
    /// The provider's current groups, by source.
    pub groups: Vec<TargetGroup>,
}

struct Provider {
    name: String,
    config: SdConfig,
    groups: BTreeMap<String, TargetGroup>,
    task: Option<JoinHandle<()>>,
}

impl Drop for Provider {
    fn drop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

#[derive(Default)]
struct State {
    /// Jobs in apply order, each with its providers' ids.
    jobs: Vec<(String, Vec<u64>)>,
    providers: BTreeMap<u64, Provider>,
    next_id: u64,
    per_mechanism: BTreeMap<&'static str, u64>,
}

struct Inner {
    state: Mutex<State>,
    out: watch::Sender<Arc<JobGroups>>,
    ctx: ProviderContext,
    notify: Arc<Notify>,
}

/// Runs service discovery for every job of the agent. Create it inside a tokio runtime.
pub struct Manager {
    inner: Arc<Inner>,
    sender: JoinHandle<()>,
}

impl Manager {
    /// Creates a manager registering its metrics in `registry`.
    pub fn new(registry: &mut Registry, options: SdOptions) -> Self {
        Self::with_metrics(SdMetrics::new(registry), options)
    }

    /// Creates a manager with metrics already registered (or unregistered, in tests).
    pub fn with_metrics(metrics: SdMetrics, options: SdOptions) -> Self {
        let (out, _) = watch::channel(Arc::new(JobGroups::new()));
        let notify = Arc::new(Notify::new());
        let interval = options.update_interval;
        let inner = Arc::new(Inner {
            state: Mutex::new(State::default()),
            out,
            ctx: ProviderContext { metrics, options },
            notify: notify.clone(),
        });
        let weak = Arc::downgrade(&inner);
        let sender = tokio::spawn(async move {
            let mut last: Option<Instant> = None;
            loop {
                notify.notified().await;
                if let Some(l) = last {
                    let wait = interval.saturating_sub(l.elapsed());
                    if !wait.is_zero() {
                        if let Some(inner) = weak.upgrade() {
                            inner
                                .ctx
                                .metrics
                                .updates_delayed
                                .get_or_create(&inner.labels())
                                .inc();
                        }
                        tokio::time::sleep(wait).await;
                    }
                }
                let Some(inner) = weak.upgrade() else { return };
                inner.publish();
                last = Some(Instant::now());
            }
        });
        Self { inner, sender }
    }

    /// The metrics this manager updates.
    pub fn metrics(&self) -> &SdMetrics {
        &self.inner.ctx.metrics
    }

    /// (Re)applies the jobs' SD configs: providers whose config is unchanged keep running
    /// and keep their groups; others start; unused ones stop. Jobs not named disappear.
    /// Call it inside the tokio runtime the manager was created in.
    pub fn apply(&self, jobs: Vec<(String, ServiceDiscoveryConfigs)>) {
        let mut st = self.inner.state.lock();
        let mut old: BTreeMap<u64, Provider> = std::mem::take(&mut st.providers);
        let mut new_jobs = Vec::with_capacity(jobs.len());
        let mut failed = 0i64;
        for (job, sd) in jobs {
            let mut ids: Vec<u64> = Vec::new();
            for cfg in configs_of(&sd) {
                let found = st
                    .providers
                    .iter()
                    .find(|(_, p)| p.config == cfg)
                    .map(|(id, _)| *id)
                    .or_else(|| {
                        let id = old
                            .iter()
                            .find(|(_, p)| p.config == cfg)
                            .map(|(id, _)| *id)?;
                        let p = old.remove(&id)?;
                        st.providers.insert(id, p);
                        Some(id)
                    });
                let id = match found {
                    Some(id) => id,
                    None => match self.inner.start(&mut st, cfg) {
                        Some(id) => id,
                        None => {
                            failed += 1;
                            continue;
                        }
                    },
                };
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
            new_jobs.push((job, ids));
        }
        st.jobs = new_jobs;
        let stopped = old.len();
        drop(old);
        info!(
            providers = st.providers.len(),
            stopped, failed, "applied service discovery configs"
        );
        self.inner
            .ctx
            .metrics
            .failed_configs
            .get_or_create(&self.inner.labels())
            .set(failed);
        drop(st);
        self.inner.notify.notify_one();
    }

    /// The latest full state per job, published at once after the first `apply` and then at
    /// most once per `update_interval`.
    pub fn subscribe(&self) -> watch::Receiver<Arc<JobGroups>> {
        self.inner.out.subscribe()
    }

    /// Per job, its providers with their current groups (for `/service-discovery`).
    pub fn providers_state(&self) -> BTreeMap<String, Vec<ProviderInfo>> {
        let st = self.inner.state.lock();
        st.jobs
            .iter()
            .map(|(job, ids)| {
                let infos = ids
                    .iter()
                    .filter_map(|id| st.providers.get(id))
                    .map(|p| ProviderInfo {
                        name: p.name.clone(),
                        mechanism: p.config.mechanism(),
                        groups: p.groups.values().cloned().collect(),
                    })
                    .collect();
                (job.clone(), infos)
            })
            .collect()
    }
}

impl Drop for Manager {
    fn drop(&mut self) {
        self.sender.abort();
        self.inner.state.lock().providers.clear();
    }
}

/// The providers a job's SD configs make, in Prometheus's order: all static configs as one
/// provider, last.
fn configs_of(sd: &ServiceDiscoveryConfigs) -> Vec<SdConfig> {
    let mut out = Vec::new();
    out.extend(sd.file_sd_configs.iter().cloned().map(SdConfig::File));
    out.extend(sd.http_sd_configs.iter().cloned().map(SdConfig::Http));
    out.extend(sd.dns_sd_configs.iter().cloned().map(SdConfig::Dns));
    out.extend(
        sd.kubernetes_sd_configs
            .iter()
            .cloned()
            .map(SdConfig::Kubernetes),
    );
    out.extend(sd.consul_sd_configs.iter().cloned().map(SdConfig::Consul));
    if !sd.static_configs.is_empty() {
        out.push(SdConfig::Static(sd.static_configs.clone()));
    }
    out
}

impl Inner {
    fn labels(&self) -> ManagerLabels {
        ManagerLabels {
            name: self.ctx.options.name.clone(),
        }
    }

    /// Starts a provider for `cfg`, or logs why it cannot run.
    fn start(self: &Arc<Self>, st: &mut State, cfg: SdConfig) -> Option<u64> {
        let id = st.next_id;
        let mechanism = cfg.mechanism();
        let n = st.per_mechanism.entry(mechanism).or_insert(0);
        let name = format!("{mechanism}/{n}");
        *n += 1;
        let weak: Weak<Inner> = Arc::downgrade(self);
        let sink = GroupSink::new(move |groups| {
            if let Some(inner) = weak.upgrade() {
                inner.update(id, groups);
            }
        });
        match spawn_provider(&cfg, &self.ctx, sink) {
            Ok(task) => {
                st.next_id += 1;
                // Static groups are known now: publish them with the first update instead of
                // one update interval later.
                let groups = match &cfg {
                    SdConfig::Static(c) => crate::static_sd::groups(c)
                        .into_iter()
                        .filter(|g| !g.targets.is_empty())
                        .map(|g| (g.source.clone(), g))
                        .collect(),
                    _ => BTreeMap::new(),
                };
                st.providers.insert(
                    id,
                    Provider {
                        name,
                        config: cfg,
                        groups,
                        task: Some(task),
                    },
                );
                Some(id)
            }
            Err(err) => {
                error!(provider = %name, err = %err, "cannot create service discovery provider");
                None
            }
        }
    }

    fn update(&self, id: u64, groups: Vec<TargetGroup>) {
        {
            let mut st = self.state.lock();
            let Some(p) = st.providers.get_mut(&id) else {
                return;
            };
            for g in groups {
                if g.targets.is_empty() {
                    p.groups.remove(&g.source);
                } else {
                    p.groups.insert(g.source.clone(), g);
                }
            }
        }
        self.ctx
            .metrics
            .received_updates
            .get_or_create(&self.labels())
            .inc();
        self.notify.notify_one();
    }

    fn publish(&self) {
        let name = self.ctx.options.name.clone();
        let map: JobGroups = {
            let st = self.state.lock();
            st.jobs
                .iter()
                .map(|(job, ids)| {
                    let groups: Vec<TargetGroup> = ids
                        .iter()
                        .filter_map(|id| st.providers.get(id))
                        .flat_map(|p| p.groups.values().cloned())
                        .collect();
                    (job.clone(), groups)
                })
                .collect()
        };
        let previous = self.out.borrow().clone();
        for job in previous.keys().filter(|j| !map.contains_key(*j)) {
            let l = JobLabels {
                name: name.clone(),
                config: job.clone(),
            };
            self.ctx.metrics.discovered_targets.remove(&l);
            self.ctx.metrics.last_update.remove(&l);
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        for (job, groups) in &map {
            let n: usize = groups.iter().map(|g| g.targets.len()).sum();
            self.ctx
                .metrics
                .discovered_targets
                .get_or_create(&JobLabels {
                    name: name.clone(),
                    config: job.clone(),
                })
                .set(n as i64);
            self.ctx
                .metrics
                .last_update
                .get_or_create(&JobLabels {
                    name: name.clone(),
                    config: job.clone(),
                })
                .set(now);
        }
        self.out.send_replace(Arc::new(map));
        self.ctx.metrics.updates.get_or_create(&self.labels()).inc();
    }
}
