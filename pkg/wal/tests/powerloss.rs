//! Power loss under the WAL, at every possible point: a fixed workload (batches, segment
//! cuts, checkpoints, a reopen) runs on [`CrashFs`] set to crash just before its N-th file
//! operation, for every N until the workload completes without crashing. After each crash
//! and rewind, reopening on the real file system must replay every acknowledged record, in
//! order, and nothing that was never logged.

use std::path::Path;

use strata_vfs::{CrashFs, CrashOptions, SharedFs};
use strata_wal::{Compactor, Wal, WalOptions};

/// Two pages per segment, so records cross pages and segments.
const SEGMENT: u64 = 2 * 32 * 1024;

/// Keeps every record (the checkpoint must not lose any).
struct KeepAll;

impl Compactor for KeepAll {
    fn record(&mut self, rec: &[u8], out: &mut Vec<Vec<u8>>) {
        out.push(rec.to_vec());
    }

    fn finish(&mut self, _out: &mut Vec<Vec<u8>>) {}
}

fn record(i: u32) -> Vec<u8> {
    let mut r = i.to_be_bytes().to_vec();
    // Sizes from 4 bytes to past a page, so some records are fragmented.
    r.resize(4 + (i as usize * 977) % 40_000, (i % 251) as u8);
    r
}

fn open(dir: &Path, fs: SharedFs) -> Result<(Wal, Vec<Vec<u8>>), strata_wal::WalError> {
    let mut got = Vec::new();
    let opts = WalOptions {
        segment_size: SEGMENT,
        fs,
        ..Default::default()
    };
    let (wal, _) = Wal::open(dir, opts, &mut |r| got.push(r.to_vec()))?;
    Ok((wal, got))
}

/// Runs the workload until the first failure; returns the records acknowledged.
fn workload(dir: &Path, fs: &CrashFs) -> Vec<u32> {
    let mut acked = Vec::new();
    let Ok((mut wal, _)) = open(dir, SharedFs::new(fs.clone())) else {
        return acked;
    };
    let mut i = 0u32;
    for step in 0..12 {
        let batch: Vec<u32> = (i..i + 1 + step % 3).collect();
        i += batch.len() as u32;
        if wal
            .log(batch.iter().map(|&n| record(n)).collect())
            .wait_blocking()
            .is_err()
        {
            return acked;
        }
        acked.extend(batch);
        let res = match step % 4 {
            1 => wal.cut_segment().map(|_| ()),
            3 => wal
                .checkpoint(wal.current_segment(), &mut KeepAll)
                .map(|_| ()),
            _ => Ok(()),
        };
        if res.is_err() {
            return acked;
        }
        if step == 6 {
            drop(wal);
            match open(dir, SharedFs::new(fs.clone())) {
                Ok((w, _)) => wal = w,
                Err(_) => return acked,
            }
        }
    }
    acked
}

#[test]
fn acknowledged_records_survive_a_power_loss_at_every_point() {
    every_point(false);
}

#[test]
fn acknowledged_records_survive_torn_writes_at_every_point() {
    every_point(true);
}

/// Crashes the workload before each of its operations in turn; with `torn`, each crash
/// keeps a random part of the unsynced tails.
fn every_point(torn: bool) {
    let mut n = 1;
    let mut checked = 0usize;
    let mut torn_bytes = 0u64;
    loop {
        let dir = tempfile::tempdir().expect("tempdir");
        let opts = CrashOptions {
            crash_after_ops: Some(n),
            torn_writes_seed: torn.then_some(n * 7919),
            ..Default::default()
        };
        let fs = CrashFs::with_options(dir.path(), opts).expect("crashfs");
        let wal_dir = dir.path().join("wal");
        let acked = workload(&wal_dir, &fs);
        let crashed = fs.is_crashed();
        torn_bytes += fs.crash().expect("rewind").torn_bytes_kept;
        let (_wal, got) = open(&wal_dir, SharedFs::default()).expect("reopen after the crash");
        let want: Vec<Vec<u8>> = acked.iter().map(|&i| record(i)).collect();
        assert!(
            got.len() >= want.len() && got[..want.len()] == want[..],
            "crash before operation {n}: {} records acknowledged, {} replayed, a prefix differs",
            want.len(),
            got.len()
        );
        // Anything past the acknowledged ones is a batch whose fsync landed but whose
        // answer was lost; it must still be whole records of the workload, in order.
        for (k, r) in got.iter().enumerate().skip(want.len()) {
            assert_eq!(
                *r,
                record(k as u32),
                "crash before operation {n}: record {k}"
            );
        }
        checked += acked.len();
        if !crashed {
            break;
        }
        n += 1;
    }
    eprintln!(
        "[wal powerloss] torn writes {torn}: {n} crash points, {checked} acknowledged records checked, {torn_bytes} unsynced bytes kept torn"
    );
    assert!(n > 50, "the workload should take many operations, took {n}");
}

#[test]
fn a_missing_fsync_loses_acknowledged_records() {
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = CrashOptions {
        skip_file_fsync: true,
        ..Default::default()
    };
    let fs = CrashFs::with_options(dir.path(), opts).expect("crashfs");
    let wal_dir = dir.path().join("wal");
    let acked = workload(&wal_dir, &fs);
    assert!(!acked.is_empty());
    fs.crash().expect("rewind");
    let (_wal, got) = open(&wal_dir, SharedFs::default()).expect("reopen");
    assert!(
        got.len() < acked.len(),
        "fsyncs did nothing, yet all {} acknowledged records came back",
        acked.len()
    );
}
