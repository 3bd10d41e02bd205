use std::io::Cursor;
use std::path::Path;
use std::sync::Arc;

use proptest::prelude::*;

use super::*;
use crate::format::{frame, PAGE_SIZE};
use crate::segment::{checkpoint_name, list_segments, segment_path};

const SEG: u64 = 2 * PAGE_SIZE as u64;

fn opts(segment_size: u64) -> WalOptions {
    WalOptions {
        segment_size,
        observer: None,
        ..Default::default()
    }
}

fn open(dir: &Path, segment_size: u64) -> (Wal, Vec<Vec<u8>>, OpenReport) {
    let mut got = Vec::new();
    let (wal, report) =
        Wal::open(dir, opts(segment_size), &mut |r| got.push(r.to_vec())).expect("open wal");
    (wal, got, report)
}

/// Record `i`: its index then pseudo-random bytes, `len` long (at least 4).
fn rec(i: u32, len: usize) -> Vec<u8> {
    let mut v = i.to_be_bytes().to_vec();
    let mut x = u64::from(i)
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1);
    while v.len() < len.max(4) {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        v.push((x >> 33) as u8);
    }
    v
}

/// Sizes that exercise small records, page-spanning records and near-segment-sized ones.
fn sizes(n: u32) -> Vec<usize> {
    (0..n)
        .map(|i| match i % 7 {
            0 => 5,
            1 => 100,
            2 => PAGE_SIZE - 7,
            3 => PAGE_SIZE + 10,
            4 => 3,
            5 => 40_000,
            _ => 1000,
        })
        .collect()
}

fn write_all(wal: &Wal, recs: &[Vec<u8>]) {
    for r in recs {
        wal.log(vec![r.clone()]).wait_blocking().expect("log");
    }
}

fn fill(dir: &Path, n: u32) -> Vec<Vec<u8>> {
    let (wal, got, _) = open(dir, SEG);
    assert!(got.is_empty());
    let recs: Vec<Vec<u8>> = sizes(n)
        .into_iter()
        .enumerate()
        .map(|(i, s)| rec(i as u32, s))
        .collect();
    write_all(&wal, &recs);
    recs
}

#[test]
fn round_trip_across_pages_and_segments() {
    let dir = tempfile::tempdir().expect("tempdir");
    let recs = fill(dir.path(), 40);
    let segs = list_segments(dir.path()).expect("list");
    assert!(
        segs.len() > 5,
        "records must spread over segments: {segs:?}"
    );
    for s in &segs {
        let len = std::fs::metadata(segment_path(dir.path(), *s))
            .expect("stat")
            .len();
        assert!(len <= SEG);
    }
    let (wal, got, report) = open(dir.path(), SEG);
    assert_eq!(got, recs);
    assert!(report.corruptions.is_empty());
    assert_eq!(report.records, 40);
    // Writing resumes in a new segment; the next open sees old and new records.
    assert_eq!(wal.current_segment(), segs.last().expect("segments") + 1);
    write_all(&wal, &[rec(1000, 10)]);
    drop(wal);
    let (_, got, _) = open(dir.path(), SEG);
    assert_eq!(got.len(), 41);
    assert_eq!(got[40], rec(1000, 10));
}

#[test]
fn empty_records_and_too_large_ones() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (wal, _, _) = open(dir.path(), SEG);
    wal.log(vec![Vec::new(), b"x".to_vec()])
        .wait_blocking()
        .expect("log");
    let err = wal
        .log(vec![vec![0u8; wal.max_record_len() + 1]])
        .wait_blocking()
        .expect_err("too large");
    assert!(matches!(err, WalError::RecordTooLarge { .. }));
    wal.log(vec![vec![7u8; wal.max_record_len()]])
        .wait_blocking()
        .expect("largest record fits an empty segment");
    drop(wal);
    let (_, got, _) = open(dir.path(), SEG);
    assert_eq!(got.len(), 3);
    assert!(got[0].is_empty());
    assert_eq!(got[2].len(), max_len());
}

fn max_len() -> usize {
    crate::format::max_record_len(SEG)
}

fn framed(recs: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut off = 0;
    for r in recs {
        off = frame(r, off, &mut out);
    }
    out
}

fn read_all(bytes: &[u8]) -> Result<Vec<Vec<u8>>, WalError> {
    let mut r = SegmentReader::new(Cursor::new(bytes), Path::new("mem"), 0);
    let mut out = Vec::new();
    while let Some(rec) = r.next_record()? {
        out.push(rec.to_vec());
    }
    Ok(out)
}

proptest! {
    #[test]
    fn framing_round_trips(recs in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..70_000), 0..12)) {
        let bytes = framed(&recs);
        prop_assert_eq!(read_all(&bytes).expect("clean data"), recs);
    }

    #[test]
    fn any_truncation_yields_a_prefix(recs in prop::collection::vec(prop::collection::vec(any::<u8>(), 1..40_000), 1..6), cut in any::<prop::sample::Index>()) {
        let bytes = framed(&recs);
        let cut = cut.index(bytes.len());
        let mut r = SegmentReader::new(Cursor::new(&bytes[..cut]), Path::new("mem"), 0);
        let mut got = Vec::new();
        let end = loop {
            match r.next_record() {
                Ok(Some(rec)) => got.push(rec.to_vec()),
                Ok(None) => break r.offset(),
                Err(WalError::Corrupt(c)) => {
                    prop_assert_eq!(c.kind, CorruptionKind::UnexpectedEof);
                    break c.offset;
                }
                Err(e) => return Err(TestCaseError::fail(e.to_string())),
            }
        };
        prop_assert!(recs.starts_with(&got));
        prop_assert!(end <= cut as u64);
    }

    #[test]
    fn any_byte_flip_is_detected_or_harmless(recs in prop::collection::vec(prop::collection::vec(any::<u8>(), 1..3000), 1..8), pos in any::<prop::sample::Index>(), bit in 0u8..8) {
        let mut bytes = framed(&recs);
        let pos = pos.index(bytes.len());
        bytes[pos] ^= 1 << bit;
        match read_all(&bytes) {
            // A flip can only go unnoticed in zero padding turned into... nothing: padding
            // is checked, so any clean read must return the original records.
            Ok(got) => prop_assert_eq!(got, recs),
            Err(WalError::Corrupt(c)) => prop_assert!(c.offset <= pos as u64),
            Err(e) => return Err(TestCaseError::fail(e.to_string())),
        }
    }
}

fn seg_len(dir: &Path, s: u32) -> u64 {
    std::fs::metadata(segment_path(dir, s)).expect("stat").len()
}

fn set_len(dir: &Path, s: u32, len: u64) {
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(segment_path(dir, s))
        .expect("open");
    f.set_len(len).expect("truncate");
}

fn flip(path: &Path, at: u64) {
    let mut b = std::fs::read(path).expect("read");
    b[at as usize] ^= 0x40;
    std::fs::write(path, b).expect("write");
}

/// After a repair, the WAL accepts writes and the next open is clean with them at the end.
fn assert_writable_after_repair(dir: &Path, kept: &[Vec<u8>]) {
    let (wal, got, report) = open(dir, SEG);
    assert_eq!(got, kept, "second open replays the repaired log");
    assert!(report.corruptions.is_empty(), "{:?}", report.corruptions);
    write_all(&wal, &[rec(9999, 50)]);
    drop(wal);
    let (_, got, report) = open(dir, SEG);
    assert!(report.corruptions.is_empty());
    assert_eq!(got.len(), kept.len() + 1);
    assert_eq!(got.last(), Some(&rec(9999, 50)));
}

#[test]
fn torn_last_record_is_truncated() {
    let dir = tempfile::tempdir().expect("tempdir");
    let recs = fill(dir.path(), 20);
    let segs = list_segments(dir.path()).expect("list");
    // The last segment is the empty one opened at start; the records end in the one before.
    let last = *segs.last().expect("segments");
    let with_data = (0..=last)
        .rev()
        .find(|&s| seg_len(dir.path(), s) > 0)
        .expect("data");
    for s in with_data + 1..=last {
        std::fs::remove_file(segment_path(dir.path(), s)).expect("rm empty segment");
    }
    let len = seg_len(dir.path(), with_data);
    set_len(dir.path(), with_data, len - 3);
    let (wal, got, report) = open(dir.path(), SEG);
    assert_eq!(got, recs[..19]);
    assert!(report.torn_tail);
    assert_eq!(report.corruptions.len(), 1);
    assert_eq!(report.corruptions[0].kind, CorruptionKind::UnexpectedEof);
    assert_eq!(report.corruptions[0].segment, with_data);
    drop(wal);
    assert_writable_after_repair(dir.path(), &recs[..19]);
}

#[test]
fn truncated_page_in_last_segment_is_a_torn_tail() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (wal, _, _) = open(dir.path(), SEG);
    // Record 1 spans from page 0 into page 1; cut the file at the page boundary.
    let recs = vec![rec(0, 100), rec(1, PAGE_SIZE)];
    write_all(&wal, &recs);
    let s = wal.current_segment();
    drop(wal);
    set_len(dir.path(), s, PAGE_SIZE as u64);
    for extra in list_segments(dir.path())
        .expect("list")
        .into_iter()
        .filter(|&x| x > s)
    {
        std::fs::remove_file(segment_path(dir.path(), extra)).expect("rm");
    }
    let (_, got, report) = open(dir.path(), SEG);
    assert_eq!(got, recs[..1]);
    assert!(report.torn_tail);
    assert_eq!(report.corruptions[0].offset, 107);
    assert_writable_after_repair(dir.path(), &recs[..1]);
}

#[test]
fn bit_flip_mid_segment_keeps_the_prefix_and_drops_the_rest() {
    let dir = tempfile::tempdir().expect("tempdir");
    let recs = fill(dir.path(), 30);
    let segs_before = list_segments(dir.path()).expect("list");
    // Segment 1's records: replay it alone to find a record start in its middle.
    let mut starts = Vec::new();
    let mut r = SegmentReader::open(dir.path(), 1).expect("open");
    let mut n_before = 0usize;
    loop {
        let off = r.offset();
        match r.next_record().expect("clean") {
            Some(_) => starts.push(off),
            None => break,
        }
    }
    assert!(starts.len() >= 2, "segment 1 holds several records");
    // Count records in segment 0.
    let mut r0 = SegmentReader::open(dir.path(), 0).expect("open");
    while r0.next_record().expect("clean").is_some() {
        n_before += 1;
    }
    let victim = starts[1];
    flip(&segment_path(dir.path(), 1), victim + 10);
    let (wal, got, report) = open(dir.path(), SEG);
    let kept = n_before + 1;
    assert_eq!(got, recs[..kept]);
    assert_eq!(report.corruptions.len(), 1);
    let c = &report.corruptions[0];
    assert_eq!((c.segment, c.offset), (1, victim));
    assert_eq!(c.kind, CorruptionKind::BadChecksum);
    assert!(!report.torn_tail);
    assert_eq!(report.dropped_segments, segs_before[2..].to_vec());
    assert!(report.dropped_bytes > 0);
    assert_eq!(seg_len(dir.path(), 1), victim);
    assert_eq!(wal.current_segment(), 2);
    drop(wal);
    assert_writable_after_repair(dir.path(), &recs[..kept]);
}

#[test]
fn truncated_segment_before_others_drops_what_follows() {
    let dir = tempfile::tempdir().expect("tempdir");
    let recs = fill(dir.path(), 30);
    let mut r0 = SegmentReader::open(dir.path(), 0).expect("open");
    let mut n0 = 0;
    let mut last_start = 0;
    loop {
        let off = r0.offset();
        if r0.next_record().expect("clean").is_none() {
            break;
        }
        last_start = off;
        n0 += 1;
    }
    set_len(dir.path(), 0, last_start + 9);
    let (_, got, report) = open(dir.path(), SEG);
    assert_eq!(got, recs[..n0 - 1]);
    assert_eq!(report.corruptions[0].kind, CorruptionKind::UnexpectedEof);
    assert!(
        !report.torn_tail,
        "not the last segment: damage, not a torn write"
    );
    assert!(!report.dropped_segments.is_empty());
    assert_eq!(list_segments(dir.path()).expect("list"), vec![0, 1]);
    assert_writable_after_repair(dir.path(), &recs[..n0 - 1]);
}

#[test]
fn missing_segment_stops_replay_at_the_gap() {
    let dir = tempfile::tempdir().expect("tempdir");
    let recs = fill(dir.path(), 30);
    let mut n0 = 0;
    let mut r0 = SegmentReader::open(dir.path(), 0).expect("open");
    while r0.next_record().expect("clean").is_some() {
        n0 += 1;
    }
    std::fs::remove_file(segment_path(dir.path(), 1)).expect("rm");
    let (wal, got, report) = open(dir.path(), SEG);
    assert_eq!(got, recs[..n0]);
    assert_eq!(report.corruptions[0].kind, CorruptionKind::MissingSegment);
    assert_eq!(report.corruptions[0].segment, 1);
    assert_eq!(wal.current_segment(), 1);
    drop(wal);
    assert_writable_after_repair(dir.path(), &recs[..n0]);
}

#[test]
fn garbage_appended_is_cut_off() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (wal, _, _) = open(dir.path(), SEG);
    let recs = vec![rec(0, 10), rec(1, 20)];
    write_all(&wal, &recs);
    let s = wal.current_segment();
    drop(wal);
    let p = segment_path(dir.path(), s);
    let mut b = std::fs::read(&p).expect("read");
    let good = b.len() as u64;
    b.extend_from_slice(b"\x09garbage that is not a record");
    std::fs::write(&p, b).expect("write");
    let (_, got, report) = open(dir.path(), SEG);
    assert_eq!(got, recs);
    assert_eq!(report.corruptions[0].kind, CorruptionKind::InvalidType(9));
    assert_eq!(report.corruptions[0].offset, good);
    assert_eq!(seg_len(dir.path(), s), good);
    assert_writable_after_repair(dir.path(), &recs);
}

/// Keeps records whose index is even; appends a summary record at the end.
struct KeepEven;

impl Compactor for KeepEven {
    fn record(&mut self, rec: &[u8], out: &mut Vec<Vec<u8>>) {
        if rec.len() >= 4 && u32::from_be_bytes([rec[0], rec[1], rec[2], rec[3]]).is_multiple_of(2)
        {
            out.push(rec.to_vec());
        }
    }
    fn finish(&mut self, out: &mut Vec<Vec<u8>>) {
        out.push(b"end!".to_vec());
    }
}

#[test]
fn checkpoint_then_replay_gives_kept_records_and_later_segments() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (wal, _, _) = open(dir.path(), SEG);
    let first: Vec<Vec<u8>> = (0..20).map(|i| rec(i, 9000)).collect();
    write_all(&wal, &first);
    let cut = wal.cut_segment().expect("cut");
    let later: Vec<Vec<u8>> = (100..105).map(|i| rec(i, 50)).collect();
    write_all(&wal, &later);
    let stats = wal
        .checkpoint(cut, &mut KeepEven)
        .expect("checkpoint")
        .expect("something to cover");
    assert_eq!(stats.checkpoint, cut - 1);
    assert_eq!(stats.records_in, 20);
    assert_eq!(stats.records_out, 11);
    assert_eq!(list_segments(dir.path()).expect("list"), vec![cut]);
    assert!(dir.path().join(checkpoint_name(cut - 1)).is_dir());
    // Nothing new to cover.
    assert_eq!(wal.checkpoint(cut, &mut KeepEven).expect("noop"), None);
    assert!(matches!(
        wal.checkpoint(cut + 5, &mut KeepEven),
        Err(WalError::CheckpointTooFar { .. })
    ));
    drop(wal);

    let mut expect: Vec<Vec<u8>> = first.iter().step_by(2).cloned().collect();
    expect.push(b"end!".to_vec());
    expect.extend(later.iter().cloned());
    let (wal, got, report) = open(dir.path(), SEG);
    assert_eq!(report.checkpoint, Some(cut - 1));
    assert_eq!(got, expect);

    // A second checkpoint carries the first one over and removes it.
    let cut2 = wal.cut_segment().expect("cut");
    let stats = wal
        .checkpoint(cut2, &mut KeepEven)
        .expect("checkpoint")
        .expect("something to cover");
    assert_eq!(stats.checkpoint, cut2 - 1);
    assert!(!dir.path().join(checkpoint_name(cut - 1)).exists());
    drop(wal);
    let (_, got, _) = open(dir.path(), SEG);
    // Even records, the old end marker (index of "end!" is odd → dropped), then even `later`
    // records, then a new end marker.
    let mut expect2: Vec<Vec<u8>> = first.iter().step_by(2).cloned().collect();
    expect2.extend(later.iter().filter(|r| r[3] % 2 == 0).cloned());
    expect2.push(b"end!".to_vec());
    assert_eq!(got, expect2);
}

#[test]
fn damaged_checkpoint_keeps_its_prefix_and_later_segments() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (wal, _, _) = open(dir.path(), SEG);
    let first: Vec<Vec<u8>> = (0..10).map(|i| rec(i * 2, 3000)).collect();
    write_all(&wal, &first);
    let cut = wal.cut_segment().expect("cut");
    let later = vec![rec(500, 10)];
    write_all(&wal, &later);
    wal.checkpoint(cut, &mut KeepEven).expect("checkpoint");
    drop(wal);
    let cp = dir.path().join(checkpoint_name(cut - 1));
    // Damage the 4th record of the checkpoint.
    let mut r = SegmentReader::open(&cp, 0).expect("open");
    let mut starts = Vec::new();
    loop {
        let off = r.offset();
        if r.next_record().expect("clean").is_none() {
            break;
        }
        starts.push(off);
    }
    flip(&segment_path(&cp, 0), starts[3] + 20);
    let (_, got, report) = open(dir.path(), SEG);
    let mut expect: Vec<Vec<u8>> = first[..3].to_vec();
    expect.extend(later.iter().cloned());
    assert_eq!(got, expect);
    assert_eq!(report.corruptions.len(), 1);
    assert_eq!(report.corruptions[0].dir, cp);
}

#[test]
fn leftover_tmp_checkpoint_and_covered_segments_are_cleaned() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (wal, _, _) = open(dir.path(), SEG);
    write_all(&wal, &[rec(0, 10)]);
    let cut = wal.cut_segment().expect("cut");
    wal.checkpoint(cut, &mut KeepEven).expect("checkpoint");
    drop(wal);
    // A crash after the rename but before the deletions, and a crash mid-checkpoint.
    std::fs::write(segment_path(dir.path(), cut - 1), b"").expect("write");
    std::fs::create_dir(dir.path().join("checkpoint.00000099.tmp")).expect("mkdir");
    let (_, got, report) = open(dir.path(), SEG);
    assert_eq!(got, vec![rec(0, 10), b"end!".to_vec()]);
    assert!(report.corruptions.is_empty());
    assert!(!segment_path(dir.path(), cut - 1).exists());
    assert!(!dir.path().join("checkpoint.00000099.tmp").exists());
}

#[test]
fn concurrent_batches_share_fsyncs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (wal, _, _) = open(dir.path(), 1 << 20);
    let wal = Arc::new(wal);
    const THREADS: u32 = 16;
    const EACH: u32 = 50;
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let wal = Arc::clone(&wal);
            std::thread::spawn(move || {
                for i in 0..EACH {
                    wal.log(vec![rec(t * 1000 + i, 200)])
                        .wait_blocking()
                        .expect("log");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("thread");
    }
    let fsyncs = wal.fsyncs();
    let commits = u64::from(THREADS * EACH);
    eprintln!(
        "group commit: {commits} batches from {THREADS} threads took {fsyncs} fsyncs ({} groups)",
        wal.groups()
    );
    assert!(fsyncs < commits, "{fsyncs} fsyncs for {commits} commits");
    drop(wal);
    let (_, got, _) = open(dir.path(), 1 << 20);
    assert_eq!(got.len(), commits as usize);
    // Per thread, records come back in the order each thread logged them.
    for t in 0..THREADS {
        let mine: Vec<u32> = got
            .iter()
            .map(|r| u32::from_be_bytes([r[0], r[1], r[2], r[3]]))
            .filter(|i| i / 1000 == t)
            .collect();
        assert_eq!(mine, (0..EACH).map(|i| t * 1000 + i).collect::<Vec<_>>());
    }
}

/// Mounts a 2 MiB tmpfs on a fresh directory, if this process may; unmounts on drop.
pub(crate) struct SmallFs {
    dir: tempfile::TempDir,
}

impl SmallFs {
    pub(crate) fn mount(size: &str) -> Option<Self> {
        let dir = tempfile::tempdir().ok()?;
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .stderr(std::process::Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        ok.then_some(Self { dir })
    }

    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(self.dir.path())
            .status();
    }
}

#[test]
fn disk_full_fails_the_batch_and_leaves_the_log_consistent() {
    let Some(fs) = SmallFs::mount("2m") else {
        eprintln!("skipping: cannot mount a tmpfs here");
        return;
    };
    let dir = fs.path().join("wal");
    let seg = 16 * PAGE_SIZE as u64;
    let (wal, _, _) = open(&dir, seg);
    let mut acked = Vec::new();
    let mut failures = 0;
    for i in 0..400u32 {
        let r = rec(i, 20_000);
        match wal.log(vec![r.clone()]).wait_blocking() {
            Ok(()) => acked.push(r),
            Err(e) => {
                failures += 1;
                assert!(matches!(e, WalError::Io { .. }), "{e}");
                if failures > 3 {
                    break;
                }
            }
        }
    }
    assert!(failures > 0, "a 2 MiB tmpfs must fill up");
    assert!(!acked.is_empty());
    drop(wal);
    let (wal, got, report) = open(&dir, seg);
    assert!(report.corruptions.is_empty(), "{:?}", report.corruptions);
    // Every acknowledged record is there, in order (unacknowledged ones may be too).
    let mut it = got.iter();
    for a in &acked {
        assert!(it.any(|g| g == a), "acknowledged record lost");
    }
    // Drop old segments to make room, as a checkpoint would.
    let stats = wal
        .checkpoint(wal.current_segment(), &mut DropAll)
        .expect("checkpoint");
    assert!(stats.is_some());
    let r = rec(7777, 20_000);
    wal.log(vec![r.clone()])
        .wait_blocking()
        .expect("room again");
    drop(wal);
    let (_, got, report) = open(&dir, seg);
    assert!(report.corruptions.is_empty());
    assert_eq!(got, vec![r]);
}

struct DropAll;

impl Compactor for DropAll {
    fn record(&mut self, _: &[u8], _: &mut Vec<Vec<u8>>) {}
    fn finish(&mut self, _: &mut Vec<Vec<u8>>) {}
}
