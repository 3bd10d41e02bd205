//! The ack log: one fixed-size record per acknowledged sample, so a later loss check can
//! compare what the receiver acknowledged with what it returns to queries.
//!
//! Format: the 8-byte magic `STRACK01`, then records of 20 bytes, little endian:
//! `tenant: u32` (index into `tenant-0…`), `series: u64` (`Labels::stable_hash`, the hash
//! Strata itself uses), `t: i64` (sample timestamp, ms). Records of one request are written
//! together after its 2xx; a torn final record (crash mid-write) is reported, not guessed at.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use crate::error::{LoadgenError, Result};

/// The file's first 8 bytes.
pub const MAGIC: &[u8; 8] = b"STRACK01";
/// Bytes per record.
pub const RECORD_LEN: usize = 20;

/// One acknowledged sample.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AckRecord {
    /// Tenant index (`tenant-<n>`).
    pub tenant: u32,
    /// `Labels::stable_hash` of the series.
    pub series: u64,
    /// Sample timestamp in milliseconds.
    pub t: i64,
}

impl AckRecord {
    fn encode(&self, out: &mut [u8; RECORD_LEN]) {
        out[0..4].copy_from_slice(&self.tenant.to_le_bytes());
        out[4..12].copy_from_slice(&self.series.to_le_bytes());
        out[12..20].copy_from_slice(&self.t.to_le_bytes());
    }

    fn decode(b: &[u8; RECORD_LEN]) -> Self {
        let mut t4 = [0u8; 4];
        let mut s8 = [0u8; 8];
        let mut t8 = [0u8; 8];
        t4.copy_from_slice(&b[0..4]);
        s8.copy_from_slice(&b[4..12]);
        t8.copy_from_slice(&b[12..20]);
        Self {
            tenant: u32::from_le_bytes(t4),
            series: u64::from_le_bytes(s8),
            t: i64::from_le_bytes(t8),
        }
    }
}

/// Appends records to an ack log (creating it with its magic if new or empty).
pub struct AckLogWriter {
    path: PathBuf,
    out: BufWriter<File>,
}

impl AckLogWriter {
    /// Opens `path` for appending.
    pub fn open(path: &Path) -> Result<Self> {
        let io = |op| {
            move |source| LoadgenError::Io {
                op,
                path: path.to_path_buf(),
                source,
            }
        };
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(io("open ack log"))?;
        let empty = file.metadata().map_err(io("stat ack log"))?.len() == 0;
        let mut out = BufWriter::with_capacity(1 << 20, file);
        if empty {
            out.write_all(MAGIC).map_err(io("write ack log"))?;
        }
        Ok(Self {
            path: path.to_path_buf(),
            out,
        })
    }

    /// Appends records for one acknowledged request: `series` of `tenant`, each with its `t`.
    pub fn append(&mut self, tenant: u32, series: &[(u64, i64)]) -> Result<()> {
        let mut rec = [0u8; RECORD_LEN];
        for &(hash, t) in series {
            AckRecord {
                tenant,
                series: hash,
                t,
            }
            .encode(&mut rec);
            self.out
                .write_all(&rec)
                .map_err(|source| LoadgenError::Io {
                    op: "write ack log",
                    path: self.path.clone(),
                    source,
                })?;
        }
        Ok(())
    }

    /// Flushes buffered records to the file.
    pub fn flush(&mut self) -> Result<()> {
        self.out.flush().map_err(|source| LoadgenError::Io {
            op: "flush ack log",
            path: self.path.clone(),
            source,
        })
    }
}

/// Reads an ack log record by record.
pub struct AckLogReader {
    path: PathBuf,
    input: BufReader<File>,
}

impl AckLogReader {
    /// Opens `path` and checks its magic.
    pub fn open(path: &Path) -> Result<Self> {
        let file = File::open(path).map_err(|source| LoadgenError::Io {
            op: "open ack log",
            path: path.to_path_buf(),
            source,
        })?;
        let mut input = BufReader::with_capacity(1 << 20, file);
        let mut magic = [0u8; 8];
        input
            .read_exact(&mut magic)
            .map_err(|_| LoadgenError::AckLogFormat {
                path: path.to_path_buf(),
                reason: "shorter than its header",
            })?;
        if &magic != MAGIC {
            return Err(LoadgenError::AckLogFormat {
                path: path.to_path_buf(),
                reason: "bad magic, not a strata-loadgen ack log",
            });
        }
        Ok(Self {
            path: path.to_path_buf(),
            input,
        })
    }
}

impl Iterator for AckLogReader {
    type Item = Result<AckRecord>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut rec = [0u8; RECORD_LEN];
        let mut got = 0;
        while got < RECORD_LEN {
            match self.input.read(&mut rec[got..]) {
                Ok(0) if got == 0 => return None,
                Ok(0) => {
                    return Some(Err(LoadgenError::AckLogFormat {
                        path: self.path.clone(),
                        reason: "truncated final record",
                    }))
                }
                Ok(n) => got += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(source) => {
                    return Some(Err(LoadgenError::Io {
                        op: "read ack log",
                        path: self.path.clone(),
                        source,
                    }))
                }
            }
        }
        Some(Ok(AckRecord::decode(&rec)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_back_what_was_written_across_reopen() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("acks.bin");
        let first = [(0xdead_beef_u64, 1_000_i64), (u64::MAX, -5)];
        let second = [(42u64, i64::MAX)];
        {
            let mut w = AckLogWriter::open(&path).expect("open");
            w.append(3, &first).expect("append");
            w.flush().expect("flush");
        }
        {
            let mut w = AckLogWriter::open(&path).expect("reopen");
            w.append(u32::MAX, &second).expect("append");
            w.flush().expect("flush");
        }
        let got: Vec<AckRecord> = AckLogReader::open(&path)
            .expect("open")
            .collect::<Result<_>>()
            .expect("read");
        let want = vec![
            AckRecord {
                tenant: 3,
                series: 0xdead_beef,
                t: 1000,
            },
            AckRecord {
                tenant: 3,
                series: u64::MAX,
                t: -5,
            },
            AckRecord {
                tenant: u32::MAX,
                series: 42,
                t: i64::MAX,
            },
        ];
        assert_eq!(got, want);
        let len = std::fs::metadata(&path).expect("stat").len() as usize;
        assert_eq!(len, MAGIC.len() + 3 * RECORD_LEN, "magic written once");
    }

    #[test]
    fn rejects_foreign_and_torn_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let bad = dir.path().join("bad");
        std::fs::write(&bad, b"NOTMAGIC").expect("write");
        assert!(AckLogReader::open(&bad).is_err());
        let torn = dir.path().join("torn");
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&[0u8; RECORD_LEN + 3]);
        std::fs::write(&torn, bytes).expect("write");
        let mut r = AckLogReader::open(&torn).expect("open");
        assert!(matches!(r.next(), Some(Ok(_))));
        assert!(matches!(r.next(), Some(Err(_))));
    }
}
