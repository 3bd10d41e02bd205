//! Ring voters in one process on loopback ports with temp dirs: bootstrap, replication,
//! leader failover, restart from disk, snapshot install and life without quorum.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use strata_ring::{
    Command, CommandResponse, InstanceDesc, InstanceId, InstanceState, RemoteRing, RingError,
    RingNode, RingNodeConfig,
};
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::time::Instant;
use tokio_stream::wrappers::TcpListenerStream;

const ELECTION: (Duration, Duration) = (Duration::from_millis(300), Duration::from_millis(600));

/// A voter on its own runtime and thread, so that killing it (dropping the runtime) closes
/// its connections the way a crashed process's would.
struct Voter {
    node: RingNode,
    stop: oneshot::Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

struct Cluster {
    _tmp: TempDir,
    addrs: BTreeMap<u64, String>,
    voters: BTreeMap<u64, Voter>,
    snapshot_every: u64,
}

fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_test_writer()
        .try_init();
}

impl Cluster {
    /// Starts `n` voters (ids 1..=n) and bootstraps the cluster from voter 1.
    async fn start(n: u64, snapshot_every: u64) -> Result<Self> {
        init_tracing();
        let tmp = tempfile::tempdir()?;
        let mut listeners = BTreeMap::new();
        let mut addrs = BTreeMap::new();
        for id in 1..=n {
            let l = TcpListener::bind("127.0.0.1:0").await?;
            addrs.insert(id, l.local_addr()?.to_string());
            listeners.insert(id, l);
        }
        let mut cluster = Self {
            _tmp: tmp,
            addrs,
            voters: BTreeMap::new(),
            snapshot_every,
        };
        for (id, l) in listeners {
            cluster.launch(id, l).await?;
        }
        cluster.voters[&1].node.bootstrap().await?;
        Ok(cluster)
    }

    fn dir(&self, id: u64) -> PathBuf {
        self._tmp.path().join(format!("voter-{id}"))
    }

    async fn launch(&mut self, id: u64, listener: TcpListener) -> Result<()> {
        let mut cfg = RingNodeConfig::new(id, self.addrs[&id].clone(), self.dir(id));
        cfg.voters = self.addrs.clone();
        cfg.raft_heartbeat_interval = Duration::from_millis(50);
        cfg.election_timeout = ELECTION;
        cfg.instance_heartbeat_timeout = Duration::from_millis(500);
        cfg.snapshot_every = self.snapshot_every;
        cfg.propose_timeout = Duration::from_secs(2);
        let listener = listener.into_std()?;
        let (node_tx, node_rx) = oneshot::channel();
        let (stop, stop_rx) = oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = match tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = node_tx.send(Err(anyhow::Error::from(e)));
                    return;
                }
            };
            rt.block_on(async move {
                let started = async {
                    let listener = TcpListener::from_std(listener)?;
                    let node = RingNode::open(cfg).await?;
                    let svc = node.service();
                    tokio::spawn(async move {
                        let _ = tonic::transport::Server::builder()
                            .add_service(svc)
                            .serve_with_incoming(TcpListenerStream::new(listener))
                            .await;
                    });
                    anyhow::Ok(node)
                };
                let ok = match started.await {
                    Ok(node) => node_tx.send(Ok(node)).is_ok(),
                    Err(e) => {
                        let _ = node_tx.send(Err(e));
                        false
                    }
                };
                if ok {
                    let _ = stop_rx.await;
                }
            });
            rt.shutdown_background();
        });
        let node = node_rx.await.context("voter thread died")??;
        self.voters.insert(id, Voter { node, stop, thread });
        Ok(())
    }

    /// Stops a voter as a crash would look to the others: its runtime, Raft and connections
    /// are dropped at once.
    async fn kill(&mut self, id: u64) -> Result<()> {
        let v = self.voters.remove(&id).context("no such voter")?;
        let _ = v.stop.send(());
        tokio::task::spawn_blocking(move || v.thread.join())
            .await?
            .map_err(|_| anyhow::anyhow!("voter thread panicked"))?;
        Ok(())
    }

    /// Restarts a killed voter from its data directory on its old address.
    async fn restart(&mut self, id: u64) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(5);
        let listener = loop {
            match TcpListener::bind(&self.addrs[&id]).await {
                Ok(l) => break l,
                Err(e) if Instant::now() < deadline => {
                    tracing::debug!(error = %e, "port busy, retrying");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => return Err(e.into()),
            }
        };
        self.launch(id, listener).await
    }

    /// Starts a new, uninitialized voter `id` on a fresh port (not yet a member).
    async fn add_node(&mut self, id: u64) -> Result<()> {
        let l = TcpListener::bind("127.0.0.1:0").await?;
        self.addrs.insert(id, l.local_addr()?.to_string());
        self.launch(id, l).await
    }

    fn node(&self, id: u64) -> &RingNode {
        &self.voters[&id].node
    }

    /// Waits until all live voters agree on one live leader; returns it.
    async fn leader(&self, within: Duration) -> Result<u64> {
        wait_for(within, "a leader all live voters agree on", || {
            let leaders: Vec<Option<u64>> = self
                .voters
                .values()
                .map(|v| v.node.status().leader)
                .collect();
            match leaders.first() {
                Some(Some(l))
                    if self.voters.contains_key(l) && leaders.iter().all(|x| x == &Some(*l)) =>
                {
                    Some(*l)
                }
                _ => None,
            }
        })
        .await
    }

    fn follower(&self, leader: u64) -> u64 {
        *self
            .voters
            .keys()
            .find(|id| **id != leader)
            .expect("a follower")
    }
}

async fn wait_for<T>(within: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> Result<T> {
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = f() {
            return Ok(v);
        }
        if Instant::now() >= deadline {
            bail!("timed out after {within:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn instance(id: &str, zone: &str) -> InstanceDesc {
    InstanceDesc {
        id: InstanceId::new(id),
        addr: format!("{id}:9095"),
        zone: zone.to_string(),
        state: InstanceState::Joining,
        tokens: Vec::new(),
        registered_at_ms: 1_000,
        read_only: false,
    }
}

fn join(id: &str, zone: &str) -> Command {
    Command::Join {
        instance: instance(id, zone),
        token_count: 128,
    }
}

fn has(node: &RingNode, id: &str) -> bool {
    node.ring().instance(&InstanceId::new(id)).is_some()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_voter_bootstraps_joins_and_restarts_from_disk() -> Result<()> {
    let mut c = Cluster::start(1, 1000).await?;
    c.leader(Duration::from_secs(5)).await?;
    let resp = c.node(1).propose(join("ing-a", "z1")).await?;
    let CommandResponse::Instance(stored) = resp else {
        bail!("unexpected response {resp:?}");
    };
    assert_eq!(stored.tokens.len(), 128);
    assert!(has(c.node(1), "ing-a"));
    c.node(1)
        .propose(Command::UpdateState {
            id: InstanceId::new("ing-a"),
            state: InstanceState::Active,
            read_only: None,
        })
        .await?;

    c.kill(1).await?;
    c.restart(1).await?;
    c.leader(Duration::from_secs(5)).await?;
    wait_for(
        Duration::from_secs(5),
        "the ring replayed from disk",
        || {
            c.node(1)
                .ring()
                .instance(&InstanceId::new("ing-a"))
                .filter(|i| i.state == InstanceState::Active && i.tokens == stored.tokens)
                .map(|_| ())
        },
    )
    .await?;
    // A change after the restart still commits.
    c.node(1).propose(join("ing-b", "z1")).await?;
    assert!(has(c.node(1), "ing-b"));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_voters_replicate_fail_over_and_catch_up() -> Result<()> {
    let mut c = Cluster::start(3, 1000).await?;
    let leader = c.leader(Duration::from_secs(5)).await?;
    let follower = c.follower(leader);

    // A join proposed at a follower is forwarded to the leader and applied everywhere.
    c.node(follower).propose(join("ing-a", "z1")).await?;
    wait_for(Duration::from_secs(5), "ing-a on every voter", || {
        c.voters
            .values()
            .all(|v| has(&v.node, "ing-a"))
            .then_some(())
    })
    .await?;

    // A non-voter follows the ring, proposes through any voter and heartbeats to all.
    let remote = RemoteRing::new(c.addrs.values().cloned().collect(), Duration::from_secs(1));
    let (mut watched, follow_task) = remote.follow();
    remote.propose(&join("ing-b", "z2")).await?;
    tokio::time::timeout(
        Duration::from_secs(5),
        watched.wait_for(|r| r.ring.instance(&InstanceId::new("ing-b")).is_some()),
    )
    .await
    .context("watch did not deliver ing-b")??;
    assert_eq!(remote.heartbeat(&InstanceId::new("ing-b")).await, 3);

    // Kill the leader: a new one within three election timeouts, and changes commit again.
    let killed_at = Instant::now();
    c.kill(leader).await?;
    let new_leader = c
        .leader(ELECTION.1 * 3 + Duration::from_millis(500))
        .await?;
    let failover = killed_at.elapsed();
    assert_ne!(new_leader, leader);
    eprintln!("new leader {new_leader} after {failover:?}");
    c.node(c.follower(new_leader).max(new_leader))
        .propose(join("ing-c", "z3"))
        .await?;
    wait_for(Duration::from_secs(5), "ing-c on the live voters", || {
        c.voters
            .values()
            .all(|v| has(&v.node, "ing-c"))
            .then_some(())
    })
    .await?;

    // The old leader restarts from its disk and catches up.
    c.restart(leader).await?;
    wait_for(
        Duration::from_secs(10),
        "the restarted voter to catch up",
        || has(c.node(leader), "ing-c").then_some(()),
    )
    .await?;
    assert_eq!(
        c.node(leader).ring().desc(),
        c.node(new_leader).ring().desc()
    );
    follow_task.abort();
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lagging_voter_installs_a_snapshot() -> Result<()> {
    let mut c = Cluster::start(3, 3).await?;
    let leader = c.leader(Duration::from_secs(5)).await?;
    let lagging = c.follower(leader);
    c.kill(lagging).await?;
    for i in 0..12 {
        c.node(leader)
            .propose(join(&format!("ing-{i:02}"), "z1"))
            .await?;
    }
    // The leader has snapshotted and purged the log the lagging voter would need.
    wait_for(Duration::from_secs(5), "a snapshot on the leader", || {
        c.node(leader).status().snapshot_index.filter(|i| *i >= 10)
    })
    .await?;
    c.restart(lagging).await?;
    wait_for(
        Duration::from_secs(10),
        "the lagging voter to catch up",
        || has(c.node(lagging), "ing-11").then_some(()),
    )
    .await?;
    let st = c.node(lagging).status();
    assert!(
        st.snapshot_index.is_some_and(|i| i >= 10),
        "expected an installed snapshot, got {st:?}"
    );
    assert_eq!(c.node(lagging).ring().desc(), c.node(leader).ring().desc());
    assert_eq!(c.node(lagging).ring().len(), 12);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_quorum_the_ring_is_readable_and_proposals_fail() -> Result<()> {
    let mut c = Cluster::start(3, 1000).await?;
    let leader = c.leader(Duration::from_secs(5)).await?;
    c.node(leader).propose(join("ing-a", "z1")).await?;
    c.node(leader)
        .propose(Command::UpdateState {
            id: InstanceId::new("ing-a"),
            state: InstanceState::Active,
            read_only: None,
        })
        .await?;
    let survivor = c.follower(leader);
    wait_for(
        Duration::from_secs(5),
        "ing-a active on the survivor, which judges heartbeats",
        || {
            let active = c
                .node(survivor)
                .ring()
                .instance(&InstanceId::new("ing-a"))
                .is_some_and(|i| i.state == InstanceState::Active);
            (active && c.node(survivor).status().can_commit).then_some(())
        },
    )
    .await?;
    let others: Vec<u64> = c
        .voters
        .keys()
        .copied()
        .filter(|id| *id != survivor)
        .collect();
    for id in others {
        c.kill(id).await?;
    }

    // The survivor stops judging heartbeats once it knows no leader...
    wait_for(
        Duration::from_secs(5),
        "the survivor to see the lost quorum",
        || (!c.node(survivor).status().can_commit).then_some(()),
    )
    .await?;
    // ...so ing-a, which never sent it a heartbeat, is still healthy and readable.
    let ring = c.node(survivor).ring();
    let set = ring.get(
        42,
        strata_ring::Operation::Read,
        strata_ring::ReplicationOptions {
            replication_factor: 1,
            zone_aware: false,
        },
        &c.node(survivor).health(),
    )?;
    assert_eq!(set.instances[0].id.as_str(), "ing-a");

    // Proposals fail with a clear error, at the voter and through a remote client.
    let err = c
        .node(survivor)
        .propose(join("ing-b", "z1"))
        .await
        .expect_err("no quorum");
    assert!(
        matches!(
            err,
            RingError::NoLeader | RingError::NoQuorum(_) | RingError::LeaderUnreachable { .. }
        ),
        "unexpected error: {err}"
    );
    let remote = RemoteRing::new(vec![c.addrs[&survivor].clone()], Duration::from_secs(3));
    let err = remote
        .propose(&join("ing-b", "z1"))
        .await
        .expect_err("no quorum");
    assert!(
        err.to_string().contains("read-only"),
        "unexpected error: {err}"
    );
    // A follower can still read the last committed ring from it.
    let (mut watched, task) = remote.follow();
    tokio::time::timeout(
        Duration::from_secs(5),
        watched.wait_for(|r| r.ring.instance(&InstanceId::new("ing-a")).is_some()),
    )
    .await
    .context("watch without quorum")??;
    task.abort();
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_instances_turn_unhealthy_while_the_ring_can_commit() -> Result<()> {
    use strata_ring::Health;

    let c = Cluster::start(3, 1000).await?;
    let leader = c.leader(Duration::from_secs(5)).await?;
    for id in ["ing-a", "ing-b"] {
        c.node(leader).propose(join(id, "z1")).await?;
    }
    let remote = RemoteRing::new(c.addrs.values().cloned().collect(), Duration::from_secs(1));
    // ing-a heartbeats every 100 ms; ing-b stays silent past the 500 ms timeout.
    let until = Instant::now() + Duration::from_millis(1200);
    while Instant::now() < until {
        assert_eq!(remote.heartbeat(&InstanceId::new("ing-a")).await, 3);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for v in c.voters.values() {
        let ring = v.node.ring();
        let health = v.node.health();
        let a = ring.instance(&InstanceId::new("ing-a")).context("ing-a")?;
        let b = ring.instance(&InstanceId::new("ing-b")).context("ing-b")?;
        assert!(v.node.status().can_commit);
        assert!(health.is_healthy(a), "voter {}: ing-a", v.node.node_id());
        assert!(!health.is_healthy(b), "voter {}: ing-b", v.node.node_id());
        let age = v
            .node
            .heartbeats()
            .age(&InstanceId::new("ing-a"), Instant::now())
            .context("ing-a heartbeat age")?;
        assert!(age < Duration::from_millis(500), "age {age:?}");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_voter_is_added_and_another_removed() -> Result<()> {
    let mut c = Cluster::start(3, 1000).await?;
    let leader = c.leader(Duration::from_secs(5)).await?;
    c.node(leader).propose(join("ing-a", "z1")).await?;
    c.add_node(4).await?;
    let retired = c.follower(leader);
    let mut voters = c.addrs.clone();
    voters.remove(&retired);
    c.node(leader).change_voters(voters.clone()).await?;
    wait_for(
        Duration::from_secs(5),
        "the new voter to hold the ring",
        || has(c.node(4), "ing-a").then_some(()),
    )
    .await?;
    let expected: std::collections::BTreeSet<u64> = voters.keys().copied().collect();
    assert_eq!(c.node(leader).status().voters, expected);
    wait_for(
        Duration::from_secs(5),
        "the new voter to see the new membership",
        || (c.node(4).status().voters == expected).then_some(()),
    )
    .await?;
    // Elsewhere than on the leader it says who leads.
    let err = c
        .node(4)
        .change_voters(voters)
        .await
        .expect_err("not the leader");
    assert!(err.to_string().contains("not the leader"), "{err}");
    Ok(())
}
