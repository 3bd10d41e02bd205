//! `strata`: one binary for every component. `-target` picks which run in this process;
//! `all` (the default) runs them together, talking over the same gRPC interfaces as a cluster.
//! See `modules.rs` for the components and their order, `config.rs` for flags.

mod config;
mod logging;
mod modules;
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
    let mut grpc_listener = if runs_ingester {
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
    let mut app = axum::Router::new();
    let mut ready_checks: Vec<Box<dyn Fn() -> bool + Send + Sync>> = Vec::new();
    let mut grpc_task = None;

    for t in &targets {
        match t {
            Target::Ingester => {
                let ing = Arc::new(
                    strata_ingester::Ingester::new(
                        cfg.ingester.clone(),
                        std::path::Path::new(&cfg.data_dir),
                        &mut registry,
                    )
                    .context("start ingester")?,
                );
                let svc = ing.server();
                let listener = grpc_listener.take_listener()?;
                let mut rx = shutdown_rx.clone();
                let incoming = tokio_stream_listener(listener);
                grpc_task = Some(tokio::spawn(async move {
                    tonic::transport::Server::builder()
                        .add_service(svc)
                        .serve_with_incoming_shutdown(incoming, async move {
                            let _ = rx.wait_for(|v| *v).await;
                        })
                        .await
                }));
                let ing2 = ing.clone();
                ready_checks.push(Box::new(move || ing2.is_ready()));
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
            }
            Target::Distributor => {
                let d = strata_distributor::Distributor::new(
                    cfg.distributor.clone(),
                    ingester_addrs.clone(),
                    cfg.multitenancy_enabled,
                    &mut registry,
                )
                .context("start distributor")?;
                app = app.merge(d.router());
            }
            Target::Querier => {
                let q = strata_querier::Querier::new(
                    cfg.querier.clone(),
                    ingester_addrs.clone(),
                    cfg.multitenancy_enabled,
                    &mut registry,
                )
                .context("start querier")?;
                app = app.merge(q.router());
            }
        }
        services.set(t.name(), State::Running);
        info!(component = %t, "component running");
    }

    let ops = OpsState {
        registry: Arc::new(Mutex::new(registry)),
        services: services.clone(),
        config_yaml: Arc::new(serde_yaml::to_string(&cfg).unwrap_or_default()),
        ready_checks: Arc::new(ready_checks),
    };
    let app = app
        .merge(server::ops_router(ops))
        .layer(axum::middleware::from_fn_with_state(
            http_metrics,
            server::track,
        ));

    tokio::spawn(wait_for_signal(shutdown_tx));
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
    Ok(())
}

/// Resolves the shutdown channel on SIGTERM or SIGINT.
async fn wait_for_signal(tx: watch::Sender<bool>) {
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

trait TakeListener {
    fn take_listener(&mut self) -> anyhow::Result<TcpListener>;
}

impl TakeListener for Option<TcpListener> {
    fn take_listener(&mut self) -> anyhow::Result<TcpListener> {
        self.take().context("gRPC listener already used")
    }
}
