//! Reading records back: [`SegmentReader`] yields one segment's records and names the exact
//! place of any damage; [`read_dir_segments`] chains the segments of a directory.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};

use crate::error::{Corruption, CorruptionKind, WalError};
use crate::format::{FragmentType, HEADER_SIZE, PAGE_SIZE};
use crate::segment::{list_segments, segment_path};

/// Reads until `buf` is full or the data ends; returns the bytes read.
fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// The records of one segment, in order.
pub struct SegmentReader<R> {
    r: R,
    dir: PathBuf,
    segment: u32,
    path: PathBuf,
    /// Bytes consumed so far.
    off: u64,
    rec: Vec<u8>,
    scratch: Box<[u8]>,
}

impl SegmentReader<BufReader<File>> {
    /// Opens segment `segment` of `dir`.
    pub fn open(dir: &Path, segment: u32) -> Result<Self, WalError> {
        let path = segment_path(dir, segment);
        let f = File::open(&path).map_err(|e| WalError::io("open segment", &path, e))?;
        Ok(Self::new(
            BufReader::with_capacity(PAGE_SIZE, f),
            dir,
            segment,
        ))
    }
}

impl<R: Read> SegmentReader<R> {
    /// Reads segment `segment` (of `dir`, for messages) from `r`.
    pub fn new(r: R, dir: &Path, segment: u32) -> Self {
        Self {
            r,
            dir: dir.to_path_buf(),
            segment,
            path: segment_path(dir, segment),
            off: 0,
            rec: Vec::new(),
            scratch: vec![0u8; PAGE_SIZE].into_boxed_slice(),
        }
    }

    /// The offset just past the last record returned: everything before it is good.
    pub fn offset(&self) -> u64 {
        self.off
    }

    fn corrupt(&self, start: u64, at: u64, kind: CorruptionKind) -> WalError {
        WalError::Corrupt(Box::new(Corruption {
            dir: self.dir.clone(),
            segment: self.segment,
            offset: start,
            at,
            kind,
        }))
    }

    fn read(&mut self, n: usize) -> Result<usize, WalError> {
        let path = &self.path;
        read_up_to(&mut self.r, &mut self.scratch[..n])
            .map_err(|e| WalError::io("read segment", path, e))
    }

    /// Skips zero padding of `n` bytes; `Ok(false)` at the end of the data.
    fn skip_padding(&mut self, start: u64, n: usize) -> Result<bool, WalError> {
        let got = self.read(n)?;
        if let Some(p) = self.scratch[..got].iter().position(|&b| b != 0) {
            return Err(self.corrupt(start, self.off + p as u64, CorruptionKind::NonZeroPadding));
        }
        self.off += got as u64;
        Ok(got == n)
    }

    /// The next record, `Ok(None)` at the clean end of the segment.
    ///
    /// After an error the reader is spent; [`SegmentReader::offset`] still tells where the
    /// good data ends.
    pub fn next_record(&mut self) -> Result<Option<&[u8]>, WalError> {
        self.rec.clear();
        let start = self.off;
        let mut in_rec = false;
        let eof = |s: &Self, in_rec: bool| -> Result<Option<&[u8]>, WalError> {
            if in_rec {
                Err(s.corrupt(start, s.off, CorruptionKind::UnexpectedEof))
            } else {
                Ok(None)
            }
        };
        loop {
            let room = PAGE_SIZE - (self.off % PAGE_SIZE as u64) as usize;
            if room < HEADER_SIZE {
                if !self.skip_padding(start, room)? {
                    // Trailing padding needs nothing after it; a record cut there does.
                    return eof(self, in_rec);
                }
                continue;
            }
            let got = self.read(HEADER_SIZE)?;
            if got == 0 {
                return eof(self, in_rec);
            }
            let typ_byte = self.scratch[0];
            let Some(typ) = FragmentType::from_byte(typ_byte) else {
                return Err(self.corrupt(start, self.off, CorruptionKind::InvalidType(typ_byte)));
            };
            if typ == FragmentType::PageTerm {
                // The header bytes read so far are padding too.
                if let Some(p) = self.scratch[1..got].iter().position(|&b| b != 0) {
                    let at = self.off + 1 + p as u64;
                    return Err(self.corrupt(start, at, CorruptionKind::NonZeroPadding));
                }
                self.off += got as u64;
                if got < HEADER_SIZE || !self.skip_padding(start, room - HEADER_SIZE)? {
                    return eof(self, in_rec);
                }
                continue;
            }
            if got < HEADER_SIZE {
                return Err(self.corrupt(start, self.off, CorruptionKind::UnexpectedEof));
            }
            let len = u16::from_be_bytes([self.scratch[1], self.scratch[2]]) as usize;
            let crc = u32::from_be_bytes([
                self.scratch[3],
                self.scratch[4],
                self.scratch[5],
                self.scratch[6],
            ]);
            if HEADER_SIZE + len > room {
                return Err(self.corrupt(start, self.off, CorruptionKind::FragmentTooLong));
            }
            let expects_start = matches!(typ, FragmentType::Full | FragmentType::First);
            if expects_start == in_rec {
                return Err(self.corrupt(
                    start,
                    self.off,
                    CorruptionKind::UnexpectedFragment(typ_byte),
                ));
            }
            let got = self.read(len)?;
            if got < len {
                return Err(self.corrupt(start, self.off, CorruptionKind::UnexpectedEof));
            }
            if crc32c::crc32c(&self.scratch[..len]) != crc {
                return Err(self.corrupt(start, self.off, CorruptionKind::BadChecksum));
            }
            self.rec.extend_from_slice(&self.scratch[..len]);
            self.off += (HEADER_SIZE + len) as u64;
            match typ {
                FragmentType::Full | FragmentType::Last => return Ok(Some(&self.rec)),
                _ => in_rec = true,
            }
        }
    }
}

/// Reads every record of the segments in `dir` (a checkpoint's, or a WAL's from `first`
/// on), in order, calling `f` for each. Stops at the first damage or missing segment and
/// returns it as an error; I/O errors too.
pub fn read_dir_segments(
    dir: &Path,
    first: u32,
    before: Option<u32>,
    f: &mut dyn FnMut(&[u8]) -> Result<(), WalError>,
) -> Result<u64, WalError> {
    let mut records = 0u64;
    let mut prev: Option<u32> = None;
    for n in list_segments(dir)? {
        if n < first || before.is_some_and(|b| n >= b) {
            continue;
        }
        if let Some(p) = prev {
            if n != p + 1 {
                return Err(WalError::Corrupt(Box::new(Corruption {
                    dir: dir.to_path_buf(),
                    segment: p + 1,
                    offset: 0,
                    at: 0,
                    kind: CorruptionKind::MissingSegment,
                })));
            }
        }
        prev = Some(n);
        let mut r = SegmentReader::open(dir, n)?;
        while let Some(rec) = r.next_record()? {
            f(rec)?;
            records += 1;
        }
    }
    Ok(records)
}
