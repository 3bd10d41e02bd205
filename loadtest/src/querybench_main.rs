//! `strata-querybench`: the query benchmark's tools (see `loadtest/bench-query.sh`).
//!
//! - `generate`: write history for `promtool tsdb create-blocks-from openmetrics`;
//! - `run`: time the dashboard queries against one server's Prometheus API;
//! - `compare`: compare two servers' answer dumps.

use std::fs::File;
use std::io::{BufWriter, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use strata_loadtest::host::HostParams;
use strata_loadtest::querybench::{self, RunConfig};
use strata_loadtest::{timefmt, LoadgenError, Result};

#[derive(Parser, Debug)]
#[command(
    name = "strata-querybench",
    version,
    about = "Query latency benchmark tools"
)]
struct Args {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Write node_exporter-like history as OpenMetrics text.
    Generate {
        /// Output file.
        #[arg(long)]
        out: PathBuf,
        /// Active series.
        #[arg(long, default_value_t = 10_000)]
        series: u64,
        /// History length, e.g. 6h.
        #[arg(long, default_value = "6h")]
        duration: String,
        /// End of the history: `now`, unix s/ms, or RFC 3339.
        #[arg(long, default_value = "now")]
        end: String,
        /// Sample spacing.
        #[arg(long, default_value = "15s")]
        interval: String,
        /// Labels beyond the series' own (7–24).
        #[arg(long, default_value_t = 10)]
        extra_labels: usize,
        /// Seed of the generator.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Time the dashboard queries against one server.
    Run {
        /// API base, e.g. http://127.0.0.1:9090/api/v1.
        #[arg(long)]
        api: String,
        /// Tenant sent as X-Scope-OrgID.
        #[arg(long)]
        tenant: Option<String>,
        /// Evaluation end, unix ms (the history's end).
        #[arg(long)]
        end_ms: i64,
        /// Timed runs per query.
        #[arg(long, default_value_t = 50)]
        repeat: usize,
        /// Untimed runs first.
        #[arg(long, default_value_t = 3)]
        warmup: usize,
        /// Write each query's canonical answer to DIR/<name>.txt.
        #[arg(long)]
        dump_dir: Option<PathBuf>,
        /// Write the JSON report here too.
        #[arg(long)]
        report: Option<PathBuf>,
    },
    /// Compare two answer dump directories (exact, within 1e-12, different).
    Compare {
        /// The reference dumps.
        a: PathBuf,
        /// The other dumps.
        b: PathBuf,
    },
}

fn main() -> ExitCode {
    match real_main(Args::parse()) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(2),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn io_err(op: &'static str, path: &std::path::Path) -> impl FnOnce(std::io::Error) -> LoadgenError {
    let path = path.to_path_buf();
    move |source| LoadgenError::Io { op, path, source }
}

fn real_main(args: Args) -> Result<bool> {
    match args.cmd {
        Cmd::Generate {
            out,
            series,
            duration,
            end,
            interval,
            extra_labels,
            seed,
        } => {
            let now = timefmt::now_ms();
            let end_ms = timefmt::parse_time(&end, now)?;
            let len_ms = timefmt::parse_duration(&duration)?.as_millis() as i64;
            let interval_ms = timefmt::parse_duration(&interval)?.as_millis() as i64;
            let params = HostParams {
                seed,
                extra_labels,
                reset_prob: 0.0,
                interval_ms,
            };
            // Start on an interval boundary so reruns with the same end give the same file.
            let start_ms = (end_ms - len_ms).div_euclid(interval_ms) * interval_ms;
            let f = File::create(&out).map_err(io_err("create", &out))?;
            let mut w = BufWriter::with_capacity(1 << 20, f);
            let stats = strata_loadtest::openmetrics::write_history(
                &mut w, &params, series, start_ms, end_ms,
            )
            .map_err(io_err("write", &out))?;
            w.flush().map_err(io_err("write", &out))?;
            println!(
                "{{\"series\":{},\"samples\":{},\"intervals\":{},\"start_ms\":{start_ms},\"end_ms\":{end_ms}}}",
                stats.series, stats.samples, stats.intervals
            );
            Ok(true)
        }
        Cmd::Run {
            api,
            tenant,
            end_ms,
            repeat,
            warmup,
            dump_dir,
            report,
        } => {
            let cfg = RunConfig {
                api,
                tenant,
                end_ms,
                repeat,
                warmup,
                dump_dir,
                timeout: Duration::from_secs(120),
            };
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(io_err("start runtime", std::path::Path::new("-")))?;
            let reports = rt.block_on(querybench::run_queries(
                &cfg,
                &querybench::dashboard_queries(),
            ))?;
            for r in &reports {
                eprintln!(
                    "{:<26} p50 {:>9.2} ms  p99 {:>9.2} ms  series {:>6}  points {:>8}",
                    r.query.name, r.p50_ms, r.p99_ms, r.series, r.points
                );
            }
            let json = serde_json::to_string_pretty(&reports)?;
            println!("{json}");
            if let Some(p) = report {
                std::fs::write(&p, json + "\n").map_err(io_err("write report", &p))?;
            }
            Ok(true)
        }
        Cmd::Compare { a, b } => {
            let cmp = querybench::compare_dumps(&a, &b)?;
            let mut same = true;
            for c in &cmp {
                println!(
                    "{:<26} exact {:>8}  within 1e-12 {:>6}  different {:>6}",
                    c.name, c.exact, c.close, c.different
                );
                same &= c.different == 0;
            }
            Ok(same)
        }
    }
}
