//! `strata-agentbench`: the scrape targets and the discarding remote-write receiver of
//! `loadtest/bench-agent.sh` (see `strata_loadtest::agentbench`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use strata_loadtest::agentbench::{run_sink, run_targets, TargetsConfig};
use strata_loadtest::host::{HostParams, MAX_EXTRA_LABELS, MIN_EXTRA_LABELS};
use strata_loadtest::timefmt::parse_duration;
use strata_loadtest::{LoadgenError, Result};

/// Scrape targets and a discarding remote-write receiver for the agent benchmark.
#[derive(Debug, Parser)]
#[command(name = "strata-agentbench", version, about, long_about = None)]
struct Args {
    #[command(subcommand)]
    command: Command,
    /// Runtime threads.
    #[arg(long, default_value_t = 1, global = true)]
    threads: usize,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve N scrape targets of simulated node_exporter hosts, each on its own loopback port.
    Targets {
        /// Number of targets.
        #[arg(long, default_value_t = 200)]
        targets: usize,
        /// Series per target.
        #[arg(long, default_value_t = 1000)]
        series: usize,
        /// Scrape interval the values step by (counters grow by about one interval per scrape).
        #[arg(long, default_value = "15s")]
        interval: String,
        /// Extra labels per series (see strata-loadgen).
        #[arg(long, default_value_t = 10)]
        extra_labels: usize,
        /// Seed of the simulated hosts.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Never gzip responses (by default they are gzipped when the scraper accepts it).
        #[arg(long)]
        no_gzip: bool,
        /// Address of the control port (GET /stats?from=MS&to=MS).
        #[arg(long)]
        control: SocketAddr,
        /// Write the targets' host:port here, one per line, once all of them listen.
        #[arg(long)]
        targets_file: PathBuf,
    },
    /// Accept remote write 1.0 on POST /write/<sender>, count it, discard it (204).
    Sink {
        /// Listen address.
        #[arg(long)]
        listen: SocketAddr,
    },
}

fn main() -> ExitCode {
    match real_main(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn real_main(args: Args) -> Result<()> {
    let rt = if args.threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(args.threads)
            .enable_all()
            .build()
    }
    .map_err(|source| LoadgenError::Serve {
        what: "start runtime".into(),
        source,
    })?;
    match args.command {
        Command::Targets {
            targets,
            series,
            interval,
            extra_labels,
            seed,
            no_gzip,
            control,
            targets_file,
        } => {
            if !(MIN_EXTRA_LABELS..=MAX_EXTRA_LABELS).contains(&extra_labels) {
                return Err(LoadgenError::Flag {
                    flag: "extra-labels",
                    reason: format!("must be {MIN_EXTRA_LABELS}..={MAX_EXTRA_LABELS}"),
                });
            }
            if targets == 0 || series == 0 {
                return Err(LoadgenError::Flag {
                    flag: "targets",
                    reason: "targets and series must be positive".into(),
                });
            }
            let interval_ms =
                i64::try_from(parse_duration(&interval)?.as_millis()).map_err(|_| {
                    LoadgenError::Flag {
                        flag: "interval",
                        reason: "too long".into(),
                    }
                })?;
            let cfg = TargetsConfig {
                targets,
                series,
                params: HostParams {
                    seed,
                    extra_labels,
                    reset_prob: 0.0,
                    interval_ms,
                },
                gzip: !no_gzip,
                control,
                targets_file,
            };
            rt.block_on(run_targets(cfg))
        }
        Command::Sink { listen } => rt.block_on(run_sink(listen)),
    }
}
