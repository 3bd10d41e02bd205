//! The chaos cluster: three ingesters (zones a, b, c; the ring's Raft voters), two
//! distributors and a querier as separate `strata` processes on 127.0.0.1, each on fixed free
//! ports with its own data dir, so any of them can be SIGKILLed, SIGSTOPped, SIGTERMed and
//! restarted where it was.
//!
//! ```text
//!  ingester-a (zone-a, raft 1) ◄─► ingester-b (zone-b, raft 2) ◄─► ingester-c (zone-c, raft 3)
//!        ▲ watch / propose / heartbeat            ▲
//!  distributor-0  distributor-1  (push URLs, round robin)     querier (PromQL, remote read)
//!  ingester-d… (added later: followers of the ring, not voters)
//! ```
//!
//! Every process gets the same short timeouts (heartbeat 250 ms, heartbeat timeout 2 s,
//! election timeout 300 ms), replication factor 3 with zone awareness, and the runtime
//! overrides file that sets the test tenants' limits explicitly.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::Value;

use crate::net::free_port;
use crate::wait::wait_for;
use crate::Strata;

/// The Raft election timeout given to every process (randomised up to twice this).
pub const ELECTION_TIMEOUT: Duration = Duration::from_millis(300);
/// The heartbeat period of ingesters.
pub const HEARTBEAT_PERIOD: Duration = Duration::from_millis(250);
/// How long voters wait for a heartbeat before judging an ingester unhealthy.
pub const HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(2);
/// The HA tracker's failover timeout when [`ClusterOptions::ha`] is set.
pub const HA_FAILOVER: Duration = Duration::from_secs(2);

/// What a cluster is started with.
#[derive(Clone, Debug, Default)]
pub struct ClusterOptions {
    /// The runtime overrides file (`overrides: {tenant: {...}}`).
    pub overrides_yaml: String,
    /// Turn the HA tracker on in the distributors (failover after [`HA_FAILOVER`]).
    pub ha: bool,
}

/// Which component a node runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// `-target=ingester,ring` (a voter) or `-target=ingester` (added later).
    Ingester,
    /// `-target=distributor`.
    Distributor,
    /// `-target=querier`.
    Querier,
}

/// One process of the cluster: its ports, data dir and arguments outlive the process, so a
/// restart comes back where it was.
pub struct Node {
    /// `ingester-a`, `distributor-0`, ...
    pub name: String,
    /// What it runs.
    pub role: Role,
    /// HTTP port.
    pub http: u16,
    /// gRPC port.
    pub grpc: u16,
    data: PathBuf,
    args: Vec<String>,
    /// The running process, if any.
    pub proc: Option<Strata>,
}

impl Node {
    /// The running process; fails if it is down.
    pub fn up(&self) -> anyhow::Result<&Strata> {
        self.proc
            .as_ref()
            .with_context(|| format!("{} is not running", self.name))
    }

    /// Starts (or restarts) the process on its ports and data dir; waits for `/ready`.
    pub async fn start(&mut self) -> anyhow::Result<()> {
        anyhow::ensure!(self.proc.is_none(), "{} is already running", self.name);
        self.proc = Some(
            Strata::start_node(&self.name, self.http, self.grpc, &self.data, &self.args).await?,
        );
        Ok(())
    }

    /// SIGKILL: no shutdown at all.
    pub fn kill(&mut self) -> anyhow::Result<()> {
        let mut p = self
            .proc
            .take()
            .with_context(|| format!("{} is not running", self.name))?;
        p.kill()
    }

    /// SIGTERM and wait for the exit (graceful: an ingester marks itself LEAVING). Returns
    /// how long the exit took and whether the process said its graceful shutdown timed out
    /// (requests or streams still open after `-server.graceful-shutdown-timeout`).
    pub fn terminate(&mut self) -> anyhow::Result<(Duration, bool)> {
        let mut p = self
            .proc
            .take()
            .with_context(|| format!("{} is not running", self.name))?;
        let t = Instant::now();
        let (status, graceful) = p.process.stop(Duration::from_secs(45))?;
        let took = t.elapsed();
        anyhow::ensure!(graceful, "{} ignored SIGTERM ({status})", self.name);
        let timed_out = p.process.log_tail().contains("graceful shutdown timed out");
        Ok((took, timed_out))
    }

    /// Sends `sig` (`-STOP`, `-CONT`) to the process.
    pub fn signal(&self, sig: &str) -> anyhow::Result<()> {
        let pid = self.up()?.process.pid().context("process stopped")?;
        let ok = std::process::Command::new("kill")
            .args([sig, &pid.to_string()])
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        anyhow::ensure!(ok, "kill {sig} {pid} ({}) failed", self.name);
        Ok(())
    }
}

/// One instance as a process' `/ring` JSON shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct InstanceView {
    /// Instance id.
    pub id: String,
    /// JOINING, ACTIVE, LEAVING, UNHEALTHY.
    pub state: String,
    /// Zone.
    pub zone: String,
    /// Whether this process counts it alive.
    pub healthy: bool,
    /// Seconds since its last heartbeat (voters only).
    pub heartbeat_age: Option<f64>,
    /// Percent of the circle it owns as first replica.
    pub ownership: f64,
    /// Its tokens.
    pub tokens: Vec<u64>,
}

/// A process' `/ring` JSON.
#[derive(Clone, Debug)]
pub struct RingView {
    /// The Raft index of the ring it shows.
    pub applied_index: u64,
    /// Instances.
    pub instances: Vec<InstanceView>,
}

impl RingView {
    /// The instance named `id`.
    pub fn get(&self, id: &str) -> Option<&InstanceView> {
        self.instances.iter().find(|i| i.id == id)
    }

    /// Instances in `state`.
    pub fn count(&self, state: &str) -> usize {
        self.instances.iter().filter(|i| i.state == state).count()
    }

    /// `(id, state, tokens)` sorted: what must agree across processes.
    pub fn membership(&self) -> Vec<(String, String, Vec<u64>)> {
        let mut m: Vec<_> = self
            .instances
            .iter()
            .map(|i| (i.id.clone(), i.state.clone(), i.tokens.clone()))
            .collect();
        m.sort();
        m
    }
}

/// `GET /ring?format=json` of `node`.
pub async fn ring(node: &Strata) -> anyhow::Result<RingView> {
    let r = node.get("/ring?format=json").await?;
    anyhow::ensure!(r.status == 200, "GET /ring: {} {}", r.status, r.body);
    let v: Value = r.json()?;
    let instances = v["instances"]
        .as_array()
        .context("instances")?
        .iter()
        .map(|i| InstanceView {
            id: i["id"].as_str().unwrap_or_default().to_string(),
            state: i["state"].as_str().unwrap_or_default().to_string(),
            zone: i["zone"].as_str().unwrap_or_default().to_string(),
            healthy: i["healthy"] == true,
            heartbeat_age: i["heartbeat_age_seconds"].as_f64(),
            ownership: i["ownership_percent"].as_f64().unwrap_or_default(),
            tokens: i["tokens"]
                .as_array()
                .map(|t| t.iter().filter_map(Value::as_u64).collect())
                .unwrap_or_default(),
        })
        .collect();
    Ok(RingView {
        applied_index: v["applied_index"].as_u64().unwrap_or_default(),
        instances,
    })
}

/// `GET /ring/raft?format=json` of `node`.
pub async fn raft(node: &Strata) -> anyhow::Result<Value> {
    let r = node.get("/ring/raft?format=json").await?;
    anyhow::ensure!(r.status == 200, "GET /ring/raft: {} {}", r.status, r.body);
    r.json()
}

/// The running cluster. Dropping it stops every process (SIGTERM, then SIGKILL).
pub struct Cluster {
    voters: String,
    common: Vec<String>,
    /// Ingesters; the first three are the voters (Raft ids 1, 2, 3), zones a, b, c.
    pub ingesters: Vec<Node>,
    /// The two distributors.
    pub distributors: Vec<Node>,
    /// The querier.
    pub querier: Node,
    // Last: fields drop in order, so the processes stop before their data dirs go.
    dir: tempfile::TempDir,
}

/// Zone names of the three voter ingesters.
pub const ZONES: [&str; 3] = ["a", "b", "c"];

impl Cluster {
    /// Starts the six processes and waits until every one sees three ACTIVE ingesters.
    pub async fn start(opts: &ClusterOptions) -> anyhow::Result<Self> {
        let started = Instant::now();
        let dir = tempfile::Builder::new()
            .prefix("strata-chaos-")
            .tempdir()
            .context("cluster dir")?;
        let overrides = dir.path().join("overrides.yaml");
        std::fs::write(&overrides, &opts.overrides_yaml).context("write overrides")?;
        let mut ports = Vec::new();
        for _ in 0..3 {
            ports.push((free_port()?, free_port()?));
        }
        let voters = ports
            .iter()
            .map(|(_, g)| format!("127.0.0.1:{g}"))
            .collect::<Vec<_>>()
            .join(",");
        let mut common = vec![
            format!("-ring.voters={voters}"),
            "-ring.replication-factor=3".into(),
            "-ring.zone-awareness-enabled".into(),
            format!("-ring.heartbeat-period={}ms", HEARTBEAT_PERIOD.as_millis()),
            format!(
                "-ring.heartbeat-timeout={}ms",
                HEARTBEAT_TIMEOUT.as_millis()
            ),
            format!("-ring.election-timeout={}ms", ELECTION_TIMEOUT.as_millis()),
            "-distributor.remote-timeout=5s".into(),
            "-distributor.instances=2".into(),
            format!("-runtime-config.file={}", overrides.display()),
            "-runtime-config.reload-period=1s".into(),
            // SIGTERM waits this long for in-flight requests (default 30 s); see s5 in
            // tests/tests/chaos.rs for why it is short here.
            "-server.graceful-shutdown-timeout=3s".into(),
            "-log.level=info".into(),
        ];
        if opts.ha {
            common.extend([
                "-distributor.ha-tracker.enable=true".into(),
                format!(
                    "-distributor.ha-tracker.failover-timeout={}ms",
                    HA_FAILOVER.as_millis()
                ),
            ]);
        }
        let node = |name: String, role: Role, http, grpc, extra: Vec<String>| {
            let mut args = common.clone();
            args.extend(extra);
            Node {
                data: dir.path().join(&name),
                name,
                role,
                http,
                grpc,
                args,
                proc: None,
            }
        };
        let mut ingesters: Vec<Node> = ZONES
            .iter()
            .zip(&ports)
            .map(|(z, &(http, grpc))| {
                node(
                    format!("ingester-{z}"),
                    Role::Ingester,
                    http,
                    grpc,
                    ingester_args(z, true),
                )
            })
            .collect();
        let mut distributors = Vec::new();
        for i in 0..2 {
            distributors.push(node(
                format!("distributor-{i}"),
                Role::Distributor,
                free_port()?,
                free_port()?,
                vec!["-target=distributor".into()],
            ));
        }
        let querier = node(
            "querier".into(),
            Role::Querier,
            free_port()?,
            free_port()?,
            vec!["-target=querier".into()],
        );
        // Voters start together: each one's /ready may wait for the others' Raft.
        let (a, rest) = ingesters.split_at_mut(1);
        let (b, c) = rest.split_at_mut(1);
        let (ra, rb, rc) = tokio::join!(a[0].start(), b[0].start(), c[0].start());
        ra?;
        rb?;
        rc?;
        let mut cluster = Self {
            dir,
            voters,
            common,
            ingesters,
            distributors,
            querier,
        };
        for d in &mut cluster.distributors {
            d.start().await?;
        }
        cluster.querier.start().await?;
        cluster.wait_converged(3, Duration::from_secs(30)).await?;
        eprintln!(
            "[chaos] cluster of 6 processes up, 3 ACTIVE ingesters everywhere, after {:?}",
            started.elapsed()
        );
        Ok(cluster)
    }

    /// The cluster's directory (data dirs and the overrides file).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The push URLs of the running distributors.
    pub fn push_urls(&self) -> Vec<String> {
        self.distributors
            .iter()
            .filter_map(|d| d.proc.as_ref().map(Strata::push_url))
            .collect()
    }

    /// The running querier.
    pub fn querier(&self) -> anyhow::Result<&Strata> {
        self.querier.up()
    }

    /// Every running process.
    pub fn running(&self) -> impl Iterator<Item = &Node> {
        self.ingesters
            .iter()
            .chain(&self.distributors)
            .chain(std::iter::once(&self.querier))
            .filter(|n| n.proc.is_some())
    }

    /// The index in [`Cluster::ingesters`] of the Raft leader, as the first running voter
    /// that knows one says.
    pub async fn leader(&self) -> anyhow::Result<Option<usize>> {
        for n in self.ingesters.iter().take(3) {
            let Some(p) = &n.proc else { continue };
            if let Ok(v) = raft(p).await {
                if let Some(l) = v["leader"].as_u64() {
                    return Ok(Some(usize::try_from(l)?.saturating_sub(1)));
                }
            }
        }
        Ok(None)
    }

    /// Adds an ingester in `zone` that follows the ring (not a voter) and starts it.
    pub async fn add_ingester(&mut self, zone: &str) -> anyhow::Result<usize> {
        let name = format!("ingester-{zone}{}", self.ingesters.len());
        let mut args = self.common.clone();
        args.extend(ingester_args(zone, false));
        args.push(format!("-ring.node-id={name}"));
        let mut n = Node {
            data: self.dir.path().join(&name),
            name,
            role: Role::Ingester,
            http: free_port()?,
            grpc: free_port()?,
            args,
            proc: None,
        };
        n.start().await?;
        self.ingesters.push(n);
        Ok(self.ingesters.len() - 1)
    }

    /// Waits until every running process shows `active` ACTIVE instances and the same
    /// membership (ids, states, tokens), and every running voter counts every instance
    /// healthy with a recent heartbeat. Returns how long it took.
    pub async fn wait_converged(
        &self,
        active: usize,
        timeout: Duration,
    ) -> anyhow::Result<Duration> {
        let t = Instant::now();
        wait_for("the ring to converge on every process", timeout, || async {
            let mut first: Option<Vec<(String, String, Vec<u64>)>> = None;
            for n in self.running() {
                let p = n.up()?;
                let v = ring(p).await?;
                anyhow::ensure!(
                    v.count("ACTIVE") == active && v.instances.len() == active,
                    "{} sees {:?}",
                    n.name,
                    v.instances
                        .iter()
                        .map(|i| (&i.id, &i.state))
                        .collect::<Vec<_>>()
                );
                if n.role == Role::Ingester && self.is_voter(n) {
                    for i in &v.instances {
                        let fresh = i
                            .heartbeat_age
                            .is_some_and(|a| a < HEARTBEAT_TIMEOUT.as_secs_f64() / 2.0);
                        anyhow::ensure!(
                            i.healthy && fresh,
                            "voter {} sees {} unhealthy or stale ({:?})",
                            n.name,
                            i.id,
                            i.heartbeat_age
                        );
                    }
                }
                let m = v.membership();
                match &first {
                    None => first = Some(m),
                    Some(f) => anyhow::ensure!(*f == m, "{} disagrees on the ring", n.name),
                }
            }
            Ok(Some(()))
        })
        .await?;
        Ok(t.elapsed())
    }

    /// True for the three voter ingesters.
    pub fn is_voter(&self, n: &Node) -> bool {
        self.ingesters.iter().take(3).any(|v| std::ptr::eq(v, n))
    }

    /// The voters flag value.
    pub fn voters(&self) -> &str {
        &self.voters
    }
}

fn ingester_args(zone: &str, voter: bool) -> Vec<String> {
    let mut a = vec![
        if voter {
            "-target=ingester,ring".to_string()
        } else {
            "-target=ingester".to_string()
        },
        format!("-ingester.availability-zone=zone-{zone}"),
    ];
    if voter {
        a.push(format!("-ring.node-id=ingester-{zone}"));
    }
    a
}

/// The runtime overrides for `tenants` sized for `series` series per writer: a rate and
/// burst well above one sample per series per second (a writer catching up after an outage
/// sends its backlog at once) and a series limit above twice the series (HA pairs).
pub fn overrides_for(tenants: &[&str], series: usize, ha: bool) -> String {
    let mut y = String::from("overrides:\n");
    for t in tenants {
        y.push_str(&format!(
            "  {t}:\n    ingestion_rate: {}\n    ingestion_burst_size: {}\n    max_global_series_per_user: {}\n    max_global_series_per_metric: {}\n    accept_ha_samples: {ha}\n",
            series * 50,
            series * 200,
            series * 2 + 1000,
            series * 2 + 1000,
        ));
    }
    y
}
