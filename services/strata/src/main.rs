//! `strata`: one binary for every component. `-target` picks which run in this process;
//! `all` (the default) runs them together, talking over the same gRPC interfaces as a cluster
//! (except the process' own, only ingester, reached by function call: see `local.rs`).
//! See `modules.rs` for the components and their order, `config.rs` for flags, `ring.rs`,
//! `lifecycle.rs` and `ring_pages.rs` for the ring (voter or follower, the ingester's place
//! in it, its pages).

mod agent;
mod config;
mod distributor_ring;
mod lifecycle;
mod limits;
mod local;
mod logging;
mod modules;
mod ring;
mod ring_pages;
mod runtime_config;
mod server;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use axum::response::IntoResponse as _;
use parking_lot::Mutex;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tracing::{error, info, warn};

use crate::config::Config;
use crate::modules::{Services, State, Target};
use crate::server::{HttpMetrics, OpsState};

const VERSION: &str = env!("CARGO_PKG_VERSION");
const USAGE: &str = "Usage: strata [-target=all] [-config.file=strata.yaml] [flags]\n\nStrata: a horizontally scalable, multi-tenant, long-term store for Prometheus metrics.";

fn main() -> std::process::ExitCode {
    // Every reqwest client (the agent's scrapes, discovery, remote write) runs TLS on ring.
    strata_httpclient::install_crypto_provider();
    let flags = config::flags();
    let args = match strata_config::parse_args(&flags, std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    if args.help {
        print!("{}", flags.help::<Config>(USAGE));
        return std::process::ExitCode::SUCCESS;
    }
    if args.version {
        println!("strata, version {VERSION}");
        return std::process::ExitCode::SUCCESS;
    }
    let cfg: Config = match strata_config::load(&args)
        .map_err(anyhow::Error::from)
        .and_then(|c: Config| {
            c.validate()?;
            Ok(c)
        }) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e:#}");
            return std::process::ExitCode::from(2);
        }
    };
    if args.config_check {
        println!("configuration is valid");
        return std::process::ExitCode::SUCCESS;
    }
    logging::init(&cfg.server.log_level, &cfg.server.log_format);
    if !cfg.debug.failpoint.is_empty() {
        if let Err(e) = strata_vfs::failpoint::arm(&cfg.debug.failpoint) {
            eprintln!("error: -debug.failpoint: {e}");
            return std::process::ExitCode::from(2);
        }
        warn!(failpoint = %cfg.debug.failpoint, "TEST ONLY: failpoint armed; the process aborts when it is reached");
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: start runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cfg)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            error!(err = %format!("{e:#}"), "strata stopped with an error");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cfg: Config) -> anyhow::Result<()> {
    let targets = Target::parse_list(&cfg.target)?;
    info!(version = VERSION, targets = %cfg.target, "starting strata");
    let services = Services::default();
    for t in &targets {
        services.set(t.name(), State::Starting);
    }

    // Bind first, so a port in use fails start-up at once with a clear message.
    let http_addr = listen_addr(&cfg.server.http_listen_address, cfg.server.http_listen_port)?;
    let http_listener = TcpListener::bind(http_addr)
        .await
        .with_context(|| format!("bind HTTP listener on {http_addr}"))?;
    let runs_ingester = targets.contains(&Target::Ingester);
    let needs_grpc = runs_ingester || targets.contains(&Target::Ring);
    let grpc_listener = if needs_grpc {
        let addr = listen_addr(&cfg.server.grpc_listen_address, cfg.server.grpc_listen_port)?;
        Some(
            TcpListener::bind(addr)
                .await
                .with_context(|| format!("bind gRPC listener on {addr}"))?,
        )
    } else {
        None
    };
    let mut ingester_addrs = cfg.ingester_client.addresses.clone();
    if ingester_addrs.is_empty() {
        ingester_addrs.push(cfg.server.advertised_grpc_address());
    }

    let mut registry = Registry::default();
    let http_metrics = HttpMetrics::new(&mut registry);
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let shutdown_tx = Arc::new(shutdown_tx);
    let mut app = axum::Router::new();
    // Per-tenant limits: flags as defaults, the runtime file over them, re-read periodically.
    let runtime = runtime_config::RuntimeConfig::load(
        &cfg.runtime_config.file,
        strata_distributor::limits::EffectiveLimits {
            limits: cfg.limits.clone(),
            validation: cfg.distributor.limits.clone(),
        },
        &mut registry,
    )?;
    runtime.spawn_reloader(cfg.runtime_config.reload_period);
    app = app.merge(runtime.router());
    let mut ready_checks: Vec<Box<dyn Fn() -> bool + Send + Sync>> = Vec::new();
    // This process' ingester, when it is the only one: the distributor calls it directly.
    let mut local_ingester = None;
    let mut ingester_svc = None;
    let mut lifecycle: Option<Arc<lifecycle::IngesterLifecycle>> = None;
    // The ring: a voter (target ring), a follower of -ring.voters, or none.
    let ring = ring::RingHandle::open(&cfg, &targets).await?;
    if let Some(r) = &ring {
        app = app.merge(ring_pages::router(Arc::clone(r)));
        if r.node().is_some() {
            // The leader marks silent distributors UNHEALTHY (see distributor_ring.rs).
            distributor_ring::spawn_housekeeping(Arc::clone(r), cfg.ring.heartbeat_period);
        }
    }
    let mut distributor_reg: Option<Arc<distributor_ring::DistributorRing>> = None;
    let ring_placement = cfg.uses_ring_placement();
    let mut scrape_agent: Option<Arc<strata_agent::Agent>> = None;

    for t in &targets {
        match t {
            Target::Ring => {}
            Target::Ingester => {
                let ing = Arc::new(
                    strata_ingester::Ingester::new(
                        cfg.ingester.clone(),
                        std::path::Path::new(&cfg.data_dir),
                        &mut registry,
                    )
                    .context("start ingester")?,
                );
                ing.set_series_limits(limits::series_limits_fn(
                    Arc::clone(runtime.overrides()),
                    ring.clone().filter(|_| !cfg.ring.voters.is_empty()),
                    cfg.ring.replication_factor,
                    cfg.ring.ingestion_tenant_shard_size,
                ));
                if cfg.ingester_client.addresses.is_empty() && !ring_placement {
                    local_ingester = Some(Arc::clone(&ing));
                }
                ingester_svc = Some(ing.server());
                let ing2 = ing.clone();
                ready_checks.push(Box::new(move || ing2.is_ready()));
                if let Some(r) = &ring {
                    lifecycle = Some(
                        lifecycle::IngesterLifecycle::start(&cfg, Arc::clone(r))
                            .await
                            .context("join the ring")?,
                    );
                }
                // Mimir's flush endpoint: cut every tenant's head into blocks now.
                let ing3 = ing.clone();
                app = app.route(
                    "/ingester/flush",
                    axum::routing::post(move || {
                        let ing = ing3.clone();
                        async move {
                            match ing.flush().await {
                                Ok(_) => axum::http::StatusCode::NO_CONTENT.into_response(),
                                Err(e) => {
                                    error!(error = %e, "ingester flush failed");
                                    (axum::http::StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
                                        .into_response()
                                }
                            }
                        }
                    }),
                );
                // Scale-down: flush, leave the ring, exit.
                let ing4 = ing.clone();
                let lc = lifecycle.clone();
                let tx = Arc::clone(&shutdown_tx);
                app = app.route(
                    "/ingester/shutdown",
                    axum::routing::post(move || {
                        let (ing, lc, tx) = (ing4.clone(), lc.clone(), Arc::clone(&tx));
                        async move { shutdown_ingester(ing, lc, tx).await }
                    }),
                );
            }
            Target::Distributor => {
                let d = match (&local_ingester, &ring) {
                    (_, Some(r)) if ring_placement => strata_distributor::Distributor::with_ring(
                        cfg.distributor.clone(),
                        strata_distributor::replication::RingReader::new(
                            r.subscribe(),
                            r.health_fn(),
                        ),
                        strata_distributor::replication::ReplicationConfig {
                            replication_factor: cfg.ring.replication_factor,
                            zone_awareness_enabled: cfg.ring.zone_awareness_enabled,
                            tenant_shard_size: cfg.ring.ingestion_tenant_shard_size,
                        },
                        cfg.multitenancy_enabled,
                        &mut registry,
                    ),
                    (Some(ing), _) => strata_distributor::Distributor::with_local_ingester(
                        cfg.distributor.clone(),
                        cfg.server.advertised_grpc_address(),
                        Arc::new(local::InProcessIngester(Arc::clone(ing))),
                        cfg.multitenancy_enabled,
                        &mut registry,
                    ),
                    (None, _) => strata_distributor::Distributor::new(
                        cfg.distributor.clone(),
                        ingester_addrs.clone(),
                        cfg.multitenancy_enabled,
                        &mut registry,
                    ),
                }
                .context("start distributor")?;
                runtime.attach(Arc::clone(d.overrides()));
                if let Some(r) = &ring {
                    distributor_reg = Some(register_distributor(&cfg, r, &d, &mut registry));
                }
                let ha = &cfg.distributor.ha_tracker;
                match (&ring, ha.enable_ha_tracker) {
                    (Some(r), true) => {
                        d.set_ha_tracker(strata_distributor::ha::HaTracker::new(
                            Arc::new(limits::RingElector(Arc::clone(r))),
                            ha.ha_tracker_failover_timeout,
                            strata_distributor::ha::system_clock(),
                        ));
                        info!(failover_timeout = ?ha.ha_tracker_failover_timeout, "HA tracker on");
                    }
                    (None, true) => warn!(
                        "-distributor.ha-tracker.enable needs the ring (-ring.voters or target ring in this process); HA samples are not deduplicated"
                    ),
                    _ => {}
                }
                app = app.merge(d.router());
            }
            Target::Querier => {
                let q = match &ring {
                    Some(r) if ring_placement => strata_querier::Querier::with_ring(
                        cfg.querier.clone(),
                        strata_querier::ring_targets::RingTargets::new(
                            r.subscribe(),
                            r.health_fn(),
                            strata_querier::ring_targets::RingReadConfig {
                                replication_factor: cfg.ring.replication_factor,
                                zone_awareness_enabled: cfg.ring.zone_awareness_enabled,
                                tenant_shard_size: cfg.ring.ingestion_tenant_shard_size,
                                shuffle_sharding_lookback: cfg.ring.shuffle_sharding_lookback,
                            },
                        ),
                        cfg.multitenancy_enabled,
                        &mut registry,
                    ),
                    _ => match &local_ingester {
                        Some(ing) => strata_querier::Querier::with_local_ingester(
                            cfg.querier.clone(),
                            cfg.server.advertised_grpc_address(),
                            Arc::new(local::InProcessIngester(Arc::clone(ing))),
                            cfg.multitenancy_enabled,
                            &mut registry,
                        ),
                        None => strata_querier::Querier::new(
                            cfg.querier.clone(),
                            ingester_addrs.clone(),
                            cfg.multitenancy_enabled,
                            &mut registry,
                        ),
                    },
                }
                .context("start querier")?;
                app = app.merge(q.router());
            }
            Target::Agent => {
                let (a, routes) = agent::start(&cfg, &mut registry).await?;
                app = app.merge(routes);
                scrape_agent = Some(a);
            }
        }
        services.set(t.name(), State::Running);
        info!(component = %t, "component running");
    }

    let ring_svc = ring.as_ref().and_then(|r| r.node().map(|n| n.service()));
    let grpc_task = match grpc_listener {
        Some(listener) => {
            let mut rx = shutdown_rx.clone();
            let incoming = tokio_stream_listener(listener);
            let server = tonic::transport::Server::builder()
                .add_optional_service(ingester_svc)
                .add_optional_service(ring_svc);
            Some(tokio::spawn(async move {
                server
                    .serve_with_incoming_shutdown(incoming, async move {
                        let _ = rx.wait_for(|v| *v).await;
                    })
                    .await
            }))
        }
        None => None,
    };
    if let Some(r) = &ring {
        r.bootstrap().await.context("bootstrap the ring")?;
    }

    let ops = OpsState {
        registry: Arc::new(Mutex::new(registry)),
        services: services.clone(),
        config_yaml: Arc::new(serde_yaml::to_string(&cfg).unwrap_or_default()),
        ready_checks: Arc::new(ready_checks),
    };
    let mut app = app.merge(server::ops_router(ops));
    if let Some(lc) = &lifecycle {
        // /ready answers 200 only once the ring holds this ingester ACTIVE.
        app = app.layer(axum::middleware::from_fn_with_state(
            Arc::clone(lc),
            lifecycle::ready_gate,
        ));
    }
    let app = app.layer(axum::middleware::from_fn_with_state(
        http_metrics,
        server::track,
    ));

    tokio::spawn(wait_for_signal(Arc::clone(&shutdown_tx)));
    let grpc = if grpc_task.is_some() {
        cfg.server.advertised_grpc_address()
    } else {
        "none".into()
    };
    info!(http = %http_addr, grpc = %grpc, "strata is serving");
    let mut rx = shutdown_rx.clone();
    let http = axum::serve(http_listener, app).with_graceful_shutdown(async move {
        let _ = rx.wait_for(|v| *v).await;
    });
    let grace = cfg.server.graceful_shutdown_timeout;
    let mut rx = shutdown_rx.clone();
    let http_task = tokio::spawn(async move { http.await });
    // Serve until a signal, then give in-flight requests the grace period.
    let _ = rx.wait_for(|v| *v).await;
    for t in &targets {
        services.set(t.name(), State::Stopping);
    }
    // The ring's watch streams never end on their own: end them, or the gRPC server's
    // graceful shutdown waits for them until the grace period runs out.
    if let Some(n) = ring.as_ref().and_then(|r| r.node()) {
        n.close_streams();
    }
    if let Some(a) = &scrape_agent {
        // No stale markers: a restarted agent continues the series.
        a.shutdown().await;
    }
    // LEAVING first, while the voters still answer; the WAL already holds every
    // acknowledged sample. (After /ingester/shutdown the ingester has left already.)
    if let Some(lc) = &lifecycle {
        lc.leave(false).await;
    }
    if let Some(d) = &distributor_reg {
        d.leave().await;
    }
    let drained = tokio::time::timeout(grace, async {
        let h = http_task.await;
        if let Some(g) = grpc_task {
            if let Ok(Err(e)) = g.await {
                warn!(err = %e, "gRPC server stopped with an error");
            }
        }
        h
    })
    .await;
    match drained {
        Ok(Ok(Ok(()))) => info!("strata stopped"),
        Ok(Ok(Err(e))) => return Err(e).context("HTTP server"),
        Ok(Err(e)) => return Err(e).context("HTTP server task"),
        Err(_) => warn!(?grace, "graceful shutdown timed out; stopping anyway"),
    }
    if let Some(r) = &ring {
        r.shutdown().await;
    }
    Ok(())
}

/// Registers this process' distributor in the ring; unless
/// `-distributor.instances-from-ring=false`, its share of each tenant's rate follows the
/// healthy distributors there (exported as `strata_distributor_instances`).
fn register_distributor(
    cfg: &Config,
    ring: &Arc<ring::RingHandle>,
    d: &Arc<strata_distributor::Distributor>,
    registry: &mut Registry,
) -> Arc<distributor_ring::DistributorRing> {
    use prometheus_client::metrics::gauge::Gauge;
    let gauge: Gauge = Gauge::default();
    registry.register(
        "strata_distributor_instances",
        "Distributors sharing each tenant's ingestion rate and burst, as this one counts them",
        gauge.clone(),
    );
    let from_ring = cfg.ring.distributor_instances_from_ring;
    let fixed = cfg.distributor.instances.max(1);
    gauge.set(fixed as i64);
    let d = Arc::clone(d);
    let on_count = Box::new(move |n: usize| {
        if from_ring {
            d.set_instances(n);
            gauge.set(n as i64);
        }
    });
    let id = if cfg.ring.distributor_id.is_empty() {
        distributor_ring::host_name()
    } else {
        cfg.ring.distributor_id.clone()
    };
    distributor_ring::DistributorRing::start(
        Arc::clone(ring),
        strata_ring::InstanceId::new(id),
        distributor_ring::http_address(cfg),
        cfg.ring.heartbeat_period,
        on_count,
    )
}

/// `POST /ingester/shutdown`: cut the heads into blocks (which checkpoints the WAL), leave
/// the ring, and stop the process.
async fn shutdown_ingester(
    ing: Arc<strata_ingester::Ingester>,
    lc: Option<Arc<lifecycle::IngesterLifecycle>>,
    tx: Arc<watch::Sender<bool>>,
) -> axum::response::Response {
    if let Err(e) = ing.flush().await {
        error!(error = %e, "ingester shutdown: flush failed; staying up");
        return (
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            format!("flush failed, not shutting down: {e}\n"),
        )
            .into_response();
    }
    if let Some(lc) = &lc {
        lc.leave(true).await;
    }
    info!("ingester shutdown requested: flushed and left the ring; stopping");
    let _ = tx.send(true);
    axum::http::StatusCode::NO_CONTENT.into_response()
}

/// Resolves the shutdown channel on SIGTERM or SIGINT.
async fn wait_for_signal(tx: Arc<watch::Sender<bool>>) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        error!("cannot install signal handlers; SIGTERM will not stop strata gracefully");
        return;
    };
    tokio::select! {
        _ = term.recv() => info!(signal = "SIGTERM", "shutting down"),
        _ = int.recv() => info!(signal = "SIGINT", "shutting down"),
    }
    let _ = tx.send(true);
}

fn listen_addr(host: &str, port: u16) -> anyhow::Result<SocketAddr> {
    let host = if host.is_empty() { "0.0.0.0" } else { host };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let ip: std::net::IpAddr = host
        .parse()
        .with_context(|| format!("listen address {host:?} is not an IP address"))?;
    Ok(SocketAddr::new(ip, port))
}

fn tokio_stream_listener(
    l: TcpListener,
) -> impl futures::Stream<Item = Result<tokio::net::TcpStream, std::io::Error>> {
    futures::stream::unfold(l, |l| async move {
        let r = l.accept().await.map(|(s, _)| {
            let _ = s.set_nodelay(true);
            s
        });
        Some((r, l))
    })
}
