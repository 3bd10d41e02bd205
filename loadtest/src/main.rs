//! `strata-loadgen`: see `strata_loadtest` and `strata-loadgen --help`.

use std::io::Write as _;
use std::process::ExitCode;

use clap::Parser as _;
use strata_loadtest::acklog::AckLogReader;
use strata_loadtest::cli::Args;
use strata_loadtest::{LoadgenError, Result};

fn main() -> ExitCode {
    let args = Args::parse();
    match real_main(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn real_main(args: Args) -> Result<()> {
    if let Some(path) = &args.dump_ack_log {
        return dump_ack_log(path);
    }
    let cfg = args.into_config(strata_loadtest::timefmt::now_ms())?;
    let rt = if cfg.threads == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(cfg.threads)
            .enable_all()
            .build()
    }
    .map_err(|source| LoadgenError::Io {
        op: "start runtime",
        path: "-".into(),
        source,
    })?;
    let report_path = cfg.report.clone();
    let report = rt.block_on(strata_loadtest::run::run(cfg))?;
    eprintln!("{}", report.summary());
    let json = serde_json::to_string_pretty(&report)?;
    println!("{json}");
    if let Some(path) = report_path {
        std::fs::write(&path, json + "\n").map_err(|source| LoadgenError::Io {
            op: "write report",
            path,
            source,
        })?;
    }
    Ok(())
}

fn dump_ack_log(path: &std::path::Path) -> Result<()> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for rec in AckLogReader::open(path)? {
        let r = rec?;
        if writeln!(out, "tenant-{} {:016x} {}", r.tenant, r.series, r.t).is_err() {
            // Closed pipe (e.g. `| head`): stop quietly.
            return Ok(());
        }
    }
    out.flush().ok();
    Ok(())
}
