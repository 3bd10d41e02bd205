//! The `tombstones` file: deletion intervals per series.
//!
//! `magic 0x0130BA30 <BE32> | version 1 <1b> | (series ref <uvarint> | mint <varint> |
//! maxt <varint>)* | CRC32C <BE32>`, the CRC covering the stones but not the version byte.
//! Strata writes only empty tombstone files; it reads Prometheus's and applies them.

use std::collections::HashMap;
use std::path::Path;

use crate::encoding::{crc32, Decbuf, Encbuf};
use crate::fileutil::write_file_synced;
use crate::index::SeriesRef;
use crate::BlockError;

/// Magic number at the start of a tombstones file.
pub const MAGIC_TOMBSTONES: u32 = 0x0130_BA30;
/// The tombstones format version.
pub const TOMBSTONES_FORMAT_V1: u8 = 1;
/// The file name of a block's tombstones.
pub const TOMBSTONES_FILENAME: &str = "tombstones";

/// Deleted time ranges (inclusive) per series.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tombstones {
    intervals: HashMap<SeriesRef, Vec<(i64, i64)>>,
}

impl Tombstones {
    /// The deleted intervals of series `r`, sorted and merged, if any.
    pub fn get(&self, r: SeriesRef) -> Option<&[(i64, i64)]> {
        self.intervals.get(&r).map(Vec::as_slice)
    }

    /// Tells whether nothing is deleted.
    pub fn is_empty(&self) -> bool {
        self.intervals.is_empty()
    }

    /// The number of intervals.
    pub fn len(&self) -> usize {
        self.intervals.values().map(Vec::len).sum()
    }

    /// Reads `<dir>/tombstones`; a missing file means no deletions, as in Prometheus.
    pub fn read(dir: &Path) -> Result<Self, BlockError> {
        let path = dir.join(TOMBSTONES_FILENAME);
        let b = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(e) => return Err(BlockError::io("read", &path, e)),
        };
        let bad = |what: String| BlockError::corrupt(dir, TOMBSTONES_FILENAME, what);
        if b.len() < 4 + 1 + 4 {
            return Err(bad(format!("{} bytes is too short", b.len())));
        }
        let magic = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
        if magic != MAGIC_TOMBSTONES {
            return Err(bad(format!("invalid magic number {magic:#010x}")));
        }
        if b[4] != TOMBSTONES_FORMAT_V1 {
            return Err(BlockError::Unsupported {
                block: dir.to_path_buf(),
                what: format!("tombstones format version {}", b[4]),
            });
        }
        let (stones, sum) = b[5..].split_at(b.len() - 9);
        let stored = u32::from_be_bytes([sum[0], sum[1], sum[2], sum[3]]);
        let computed = crc32(stones);
        if stored != computed {
            return Err(bad(format!(
                "checksum mismatch: stored {stored:#010x}, computed {computed:#010x}"
            )));
        }
        let mut t = Self::default();
        let mut d = Decbuf::new(stones);
        while d.len() > 0 {
            let e = |e| bad(format!("decode: {e}"));
            let r = d.uvarint().map_err(e)?;
            let mint = d.varint().map_err(e)?;
            let maxt = d.varint().map_err(e)?;
            t.add(SeriesRef(r), mint, maxt);
        }
        Ok(t)
    }

    /// Adds a deleted interval, merging it with overlapping or adjacent ones.
    pub fn add(&mut self, r: SeriesRef, mint: i64, maxt: i64) {
        let v = self.intervals.entry(r).or_default();
        v.push((mint, maxt));
        v.sort_unstable();
        let mut merged: Vec<(i64, i64)> = Vec::with_capacity(v.len());
        for &(a, b) in v.iter() {
            match merged.last_mut() {
                Some(last) if a <= last.1.saturating_add(1) => last.1 = last.1.max(b),
                _ => merged.push((a, b)),
            }
        }
        *v = merged;
    }

    /// Writes `<dir>/tombstones` with these intervals and fsyncs it.
    pub fn write(&self, dir: &Path) -> Result<(), BlockError> {
        self.write_in(&strata_vfs::OsFs, dir)
    }

    /// [`Tombstones::write`] through the file layer `fs`.
    pub fn write_in(&self, fs: &dyn strata_vfs::Fs, dir: &Path) -> Result<(), BlockError> {
        let mut buf = Encbuf::default();
        buf.put_be32(MAGIC_TOMBSTONES);
        buf.put_byte(TOMBSTONES_FORMAT_V1);
        let from = buf.len();
        let mut refs: Vec<&SeriesRef> = self.intervals.keys().collect();
        refs.sort();
        for r in refs {
            for &(a, b) in &self.intervals[r] {
                buf.put_uvarint(r.0);
                buf.put_varint(a);
                buf.put_varint(b);
            }
        }
        buf.put_crc_of(from);
        write_file_synced(fs, &dir.join(TOMBSTONES_FILENAME), &buf.b)
    }
}

/// Tells whether `t` falls in one of the sorted, merged `intervals`.
pub(crate) fn is_deleted(t: i64, intervals: &[(i64, i64)]) -> bool {
    intervals.iter().any(|&(a, b)| a <= t && t <= b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_is_prometheus_bytes() {
        let dir = tempfile::tempdir().expect("tempdir");
        Tombstones::default().write(dir.path()).expect("write");
        let b = std::fs::read(dir.path().join(TOMBSTONES_FILENAME)).expect("read");
        assert_eq!(b, vec![0x01, 0x30, 0xBA, 0x30, 0x01, 0, 0, 0, 0]);
        assert!(Tombstones::read(dir.path()).expect("read").is_empty());
    }

    #[test]
    fn round_trips_and_merges() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut t = Tombstones::default();
        t.add(SeriesRef(3), 10, 20);
        t.add(SeriesRef(3), 15, 30);
        t.add(SeriesRef(3), 40, 50);
        t.add(SeriesRef(9), -5, 5);
        assert_eq!(t.get(SeriesRef(3)), Some(&[(10, 30), (40, 50)][..]));
        t.write(dir.path()).expect("write");
        let back = Tombstones::read(dir.path()).expect("read");
        assert_eq!(back, t);
        assert!(is_deleted(25, back.get(SeriesRef(3)).expect("present")));
        assert!(!is_deleted(35, back.get(SeriesRef(3)).expect("present")));
    }

    #[test]
    fn rejects_corruption() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut t = Tombstones::default();
        t.add(SeriesRef(1), 1, 2);
        t.write(dir.path()).expect("write");
        let p = dir.path().join(TOMBSTONES_FILENAME);
        let good = std::fs::read(&p).expect("read");
        for i in 0..good.len() {
            let mut b = good.clone();
            b[i] ^= 0x10;
            std::fs::write(&p, &b).expect("write");
            assert!(Tombstones::read(dir.path()).is_err(), "flip at {i}");
        }
        for n in 0..good.len() {
            std::fs::write(&p, &good[..n]).expect("write");
            assert!(Tombstones::read(dir.path()).is_err(), "truncated to {n}");
        }
    }
}
