//! Reads an index file with positional reads. Opening loads and verifies the TOC, the symbol
//! table and the postings offset table (the parts every query needs); series and postings
//! lists are read on demand, each verified against its CRC.

use std::fmt;
use std::path::{Path, PathBuf};

use strata_model::{Label, Labels};

use crate::encoding::{split_crc, Decbuf};
use crate::error::DecodeError;
use bytes::Bytes;

use crate::fileutil::{open_read, read_exact_at, read_vec_at, BlockFile};
use crate::index::{
    ChunkRefMeta, SeriesEntry, SeriesRef, Toc, HEADER_LEN, INDEX_FORMAT_V2, MAGIC_INDEX, TOC_LEN,
};
use crate::{BlockError, ChunkRef};

/// Bytes a series read fetches first; most series entries fit.
const FIRST_SERIES_READ: u64 = 512;
/// Largest gap between two series read together.
const MAX_SERIES_READ_GAP: u64 = 16 * 1024;
/// Largest span of one coalesced series read.
const MAX_SERIES_BATCH_READ: u64 = 1024 * 1024;

/// Of each label name's values, one in this many is kept in memory (plus the last), as
/// Prometheus does: lookups read the few table entries between two samples from disk.
const POSTINGS_SAMPLE_EVERY: usize = 32;

/// A sampled entry of the postings offset table.
struct PostingsSample {
    value: Box<str>,
    /// File offset of the entry in the postings offset table.
    entry: u64,
    /// File offset of the value's postings list.
    list: u64,
}

/// One label name's part of the postings offset table.
struct NamePostings {
    name: Box<str>,
    /// The first value, every [`POSTINGS_SAMPLE_EVERY`]th, and the last, in order.
    samples: Vec<PostingsSample>,
    /// File offset just past the name's last entry.
    end: u64,
    /// How many values the name has.
    count: usize,
}

/// A block's index, ready for lookups.
pub struct IndexReader {
    block: PathBuf,
    path: PathBuf,
    file: BlockFile,
    len: u64,
    toc: Toc,
    symbols: Vec<Box<str>>,
    /// Sorted by name; the first is `""` (all postings) when present.
    postings: Vec<NamePostings>,
}

impl fmt::Debug for IndexReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IndexReader")
            .field("path", &self.path)
            .field("len", &self.len)
            .field("toc", &self.toc)
            .field("symbols", &self.symbols.len())
            .finish()
    }
}

impl IndexReader {
    /// Opens `<block>/index`, verifying the header, TOC, symbol table and postings offset table.
    pub fn open(block: &Path) -> Result<Self, BlockError> {
        let path = block.join("index");
        let (file, len) = open_read(&path)?;
        let mut r = Self {
            block: block.to_path_buf(),
            path,
            file,
            len,
            toc: Toc::default(),
            symbols: Vec::new(),
            postings: Vec::new(),
        };
        if len < HEADER_LEN + TOC_LEN {
            return Err(r.corrupt(format!("{len} bytes is too short for an index")));
        }
        let mut h = [0u8; HEADER_LEN as usize];
        read_exact_at(&r.file, &r.path, &mut h, 0)?;
        let magic = u32::from_be_bytes([h[0], h[1], h[2], h[3]]);
        if magic != MAGIC_INDEX {
            return Err(r.corrupt(format!("invalid magic number {magic:#010x}")));
        }
        if h[4] != INDEX_FORMAT_V2 {
            return Err(BlockError::Unsupported {
                block: r.block.clone(),
                what: format!("index format version {}", h[4]),
            });
        }
        r.toc = r.read_toc()?;
        r.symbols = r.read_symbols()?;
        r.postings = r.read_postings_table()?;
        Ok(r)
    }

    fn corrupt(&self, what: impl Into<String>) -> BlockError {
        BlockError::corrupt(&self.block, "index", what)
    }

    fn decode_err(&self, what: &str) -> impl Fn(DecodeError) -> BlockError + '_ {
        let what = what.to_string();
        move |e| self.corrupt(format!("{what}: {e}"))
    }

    fn read_toc(&self) -> Result<Toc, BlockError> {
        let b = read_vec_at(&self.file, &self.path, self.len - TOC_LEN, TOC_LEN as usize)?;
        let payload = split_crc(&b).map_err(|e| self.corrupt(format!("read TOC: {e}")))?;
        let mut d = Decbuf::new(payload);
        let mut next = || d.be64().map_err(self.decode_err("read TOC"));
        let toc = Toc {
            symbols: next()?,
            series: next()?,
            label_indices: next()?,
            label_indices_table: next()?,
            postings: next()?,
            postings_table: next()?,
        };
        let end = self.len - TOC_LEN;
        for (name, off) in [
            ("symbols", toc.symbols),
            ("series", toc.series),
            ("label indices", toc.label_indices),
            ("label offset table", toc.label_indices_table),
            ("postings", toc.postings),
            ("postings offset table", toc.postings_table),
        ] {
            if off > end || (off != 0 && off < HEADER_LEN) {
                return Err(self.corrupt(format!(
                    "TOC: {name} offset {off} outside the index ({} bytes)",
                    self.len
                )));
            }
        }
        Ok(toc)
    }

    /// Reads a `len <BE32> | body | CRC32C` section at `off` and returns the verified body.
    fn read_section(&self, off: u64, what: &str) -> Result<Bytes, BlockError> {
        if off.checked_add(4).is_none_or(|e| e > self.len) {
            return Err(self.corrupt(format!("{what} at {off}: outside the index")));
        }
        let mut l = [0u8; 4];
        read_exact_at(&self.file, &self.path, &mut l, off)?;
        let n = u64::from(u32::from_be_bytes(l));
        if off + 4 + n + 4 > self.len {
            return Err(self.corrupt(format!(
                "{what} at {off}: length {n} runs past the end of the index"
            )));
        }
        let b = read_vec_at(&self.file, &self.path, off + 4, (n + 4) as usize)?;
        split_crc(&b).map_err(|e| self.corrupt(format!("{what} at {off}: {e}")))?;
        let mut b = b;
        b.truncate(n as usize);
        Ok(b)
    }

    fn read_symbols(&self) -> Result<Vec<Box<str>>, BlockError> {
        if self.toc.symbols == 0 {
            return Ok(Vec::new());
        }
        let b = self.read_section(self.toc.symbols, "symbol table")?;
        let mut d = Decbuf::new(&b);
        let err = self.decode_err("symbol table");
        let n = d.be32().map_err(&err)? as usize;
        let mut out = Vec::with_capacity(n.min(d.len()));
        for _ in 0..n {
            out.push(Box::from(d.uvarint_str().map_err(&err)?));
        }
        Ok(out)
    }

    /// Reads the postings offset table, verifying its CRC and order, and keeps a sample.
    fn read_postings_table(&self) -> Result<Vec<NamePostings>, BlockError> {
        if self.toc.postings_table == 0 {
            return Ok(Vec::new());
        }
        let b = self.read_section(self.toc.postings_table, "postings offset table")?;
        // File offset of b[0]: the section's body starts after its 4-byte length.
        let base = self.toc.postings_table + 4;
        let mut d = Decbuf::new(&b);
        let err = self.decode_err("postings offset table");
        let n = d.be32().map_err(&err)?;
        let mut out: Vec<NamePostings> = Vec::new();
        // The last entry read when it was not sampled: it becomes a sample if its name ends.
        let mut pending: Option<(&str, u64, u64)> = None;
        let sample = |(value, entry, list): (&str, u64, u64)| PostingsSample {
            value: Box::from(value),
            entry,
            list,
        };
        for _ in 0..n {
            let entry = base + (b.len() - d.len()) as u64;
            let (name, value, list) = self.decode_postings_entry(&mut d)?;
            let end = base + (b.len() - d.len()) as u64;
            if out.last().is_some_and(|l| *l.name == *name) {
                let last = out.last_mut().expect("checked just above");
                let prev = pending.map_or(&*last.samples[last.samples.len() - 1].value, |p| p.0);
                if value <= prev {
                    return Err(self.corrupt(format!(
                        "postings offset table: values of {name:?} not sorted at {value:?}"
                    )));
                }
                // `is_multiple_of` needs Rust 1.87; the workspace supports 1.85.
                #[allow(clippy::manual_is_multiple_of)]
                let keep = last.count % POSTINGS_SAMPLE_EVERY == 0;
                if keep {
                    last.samples.push(sample((value, entry, list)));
                    pending = None;
                } else {
                    pending = Some((value, entry, list));
                }
                last.count += 1;
                last.end = end;
            } else {
                if out.last().is_some_and(|l| *l.name >= *name) {
                    return Err(self.corrupt(format!(
                        "postings offset table: names not sorted at {name:?}"
                    )));
                }
                if let (Some(p), Some(last)) = (pending.take(), out.last_mut()) {
                    last.samples.push(sample(p));
                }
                out.push(NamePostings {
                    name: Box::from(name),
                    samples: vec![sample((value, entry, list))],
                    end,
                    count: 1,
                });
            }
        }
        if let (Some(p), Some(last)) = (pending.take(), out.last_mut()) {
            last.samples.push(sample(p));
        }
        Ok(out)
    }

    /// Decodes one postings offset table entry: name, value, postings list offset.
    fn decode_postings_entry<'a>(
        &self,
        d: &mut Decbuf<'a>,
    ) -> Result<(&'a str, &'a str, u64), BlockError> {
        let err = self.decode_err("postings offset table");
        let keys = d.uvarint().map_err(&err)?;
        if keys != 2 {
            return Err(self.corrupt(format!(
                "postings offset table: entry with {keys} keys, expected 2"
            )));
        }
        let name = d.uvarint_str().map_err(&err)?;
        let value = d.uvarint_str().map_err(&err)?;
        let off = d.uvarint().map_err(&err)?;
        if off >= self.len {
            return Err(self.corrupt(format!(
                "postings offset table: {name}={value:?} at {off} outside the index"
            )));
        }
        Ok((name, value, off))
    }

    /// Reads the table entries of `p` from sample `from` up to (not including) sample `to`
    /// (or the name's end) and calls `f` with each value and list offset.
    fn scan_entries(
        &self,
        p: &NamePostings,
        from: usize,
        to: Option<usize>,
        mut f: impl FnMut(&str, u64) -> bool,
    ) -> Result<(), BlockError> {
        let start = p.samples[from].entry;
        let end = to.map_or(p.end, |i| p.samples[i].entry);
        if end < start || end > self.len {
            return Err(self.corrupt("postings offset table: entry range outside the index"));
        }
        let b = read_vec_at(&self.file, &self.path, start, (end - start) as usize)?;
        let mut d = Decbuf::new(&b);
        while d.len() > 0 {
            let (name, value, list) = self.decode_postings_entry(&mut d)?;
            if name != &*p.name {
                return Err(self.corrupt(format!(
                    "postings offset table: found {name:?} among the values of {:?}",
                    p.name
                )));
            }
            if !f(value, list) {
                break;
            }
        }
        Ok(())
    }

    /// The section offsets.
    pub fn toc(&self) -> &Toc {
        &self.toc
    }

    /// The size of the index file in bytes.
    pub fn size(&self) -> u64 {
        self.len
    }

    /// All symbols, sorted.
    pub fn symbols(&self) -> impl Iterator<Item = &str> {
        self.symbols.iter().map(|s| &**s)
    }

    /// The symbol at position `id`.
    pub fn symbol(&self, id: u32) -> Result<&str, BlockError> {
        self.symbols.get(id as usize).map(|s| &**s).ok_or_else(|| {
            self.corrupt(format!(
                "symbol reference {id} past the table of {}",
                self.symbols.len()
            ))
        })
    }

    fn name_postings(&self, name: &str) -> Option<&NamePostings> {
        self.postings
            .binary_search_by(|p| (*p.name).cmp(name))
            .ok()
            .map(|i| &self.postings[i])
    }

    /// Sorted label names in the block.
    pub fn label_names(&self) -> Vec<&str> {
        self.postings
            .iter()
            .map(|p| &*p.name)
            .filter(|n| !n.is_empty())
            .collect()
    }

    /// Sorted values of label `name` in the block (empty if the name is absent).
    pub fn label_values(&self, name: &str) -> Result<Vec<String>, BlockError> {
        let mut out = Vec::new();
        if let Some(p) = self.name_postings(name).filter(|_| !name.is_empty()) {
            out.reserve(p.count);
            self.scan_entries(p, 0, None, |v, _| {
                out.push(v.to_string());
                true
            })?;
        }
        Ok(out)
    }

    /// The series carrying `name="value"`, sorted; empty if there is no such pair.
    /// `("", "")` gives every series.
    pub fn postings(&self, name: &str, value: &str) -> Result<Vec<SeriesRef>, BlockError> {
        let Some(p) = self.name_postings(name) else {
            return Ok(Vec::new());
        };
        let i = match p.samples.binary_search_by(|s| (*s.value).cmp(value)) {
            Ok(i) => return self.read_postings(p.samples[i].list, name, value),
            // Before the first value: absent.
            Err(0) => return Ok(Vec::new()),
            Err(i) => i - 1,
        };
        // Between samples i and i+1 (the last value is always a sample, so i+1 exists).
        let mut found = None;
        self.scan_entries(
            p,
            i,
            Some(i + 1).filter(|&j| j < p.samples.len()),
            |v, list| match v.cmp(value) {
                std::cmp::Ordering::Less => true,
                std::cmp::Ordering::Equal => {
                    found = Some(list);
                    false
                }
                std::cmp::Ordering::Greater => false,
            },
        )?;
        match found {
            Some(list) => self.read_postings(list, name, value),
            None => Ok(Vec::new()),
        }
    }

    /// Every series in the block, sorted.
    pub fn all_postings(&self) -> Result<Vec<SeriesRef>, BlockError> {
        self.postings("", "")
    }

    /// The union of the postings of every value of `name` accepted by `keep`, sorted.
    pub fn postings_where(
        &self,
        name: &str,
        keep: impl Fn(&str) -> bool,
    ) -> Result<Vec<SeriesRef>, BlockError> {
        let Some(p) = self.name_postings(name) else {
            return Ok(Vec::new());
        };
        let mut wanted: Vec<(String, u64)> = Vec::new();
        self.scan_entries(p, 0, None, |v, list| {
            if keep(v) {
                wanted.push((v.to_string(), list));
            }
            true
        })?;
        let mut lists = Vec::with_capacity(wanted.len());
        for (v, list) in &wanted {
            lists.push(self.read_postings(*list, name, v)?);
        }
        Ok(crate::postings::merge(lists))
    }

    fn read_postings(
        &self,
        off: u64,
        name: &str,
        value: &str,
    ) -> Result<Vec<SeriesRef>, BlockError> {
        let what = format!("postings list {name}={value:?}");
        let b = self.read_section(off, &what)?;
        let mut d = Decbuf::new(&b);
        let n = d.be32().map_err(self.decode_err(&what))? as usize;
        if d.len() != n * 4 {
            return Err(self.corrupt(format!("{what}: {n} entries do not fill {} bytes", d.len())));
        }
        let mut out = Vec::with_capacity(n);
        let rest = d.rest();
        for c in rest.chunks_exact(4) {
            out.push(SeriesRef(u64::from(u32::from_be_bytes([
                c[0], c[1], c[2], c[3],
            ]))));
        }
        Ok(out)
    }

    /// The byte offset of series `r`, checked to lie in the index.
    fn series_offset(&self, r: SeriesRef) -> Result<u64, BlockError> {
        r.0.checked_mul(16)
            .filter(|&o| o >= HEADER_LEN && o < self.len - TOC_LEN)
            .ok_or_else(|| self.corrupt(format!("series {}: reference outside the index", r.0)))
    }

    /// Decodes the series entry at the start of `buf`, which starts at the series' offset;
    /// `Ok(Err(n))` asks for `n` bytes when the entry does not fit in `buf`.
    fn decode_series_at(
        &self,
        r: SeriesRef,
        off: u64,
        buf: &[u8],
    ) -> Result<Result<SeriesEntry, usize>, BlockError> {
        let avail = self.len - TOC_LEN - off;
        let mut d = Decbuf::new(buf);
        let l = d
            .uvarint()
            .map_err(|e| self.corrupt(format!("series {}: {e}", r.0)))?;
        let header = buf.len() - d.len();
        let total = (header as u64)
            .checked_add(4)
            .and_then(|x| x.checked_add(l))
            .filter(|&t| t <= avail)
            .ok_or_else(|| {
                self.corrupt(format!("series {}: length {l} runs past the index", r.0))
            })? as usize;
        if total > buf.len() {
            return Ok(Err(total));
        }
        let body = split_crc(&buf[header..total])
            .map_err(|e| self.corrupt(format!("series {}: {e}", r.0)))?;
        self.decode_series(r, body).map(Ok)
    }

    /// Reads the series at `r`: labels and chunk references.
    pub fn series(&self, r: SeriesRef) -> Result<SeriesEntry, BlockError> {
        let off = self.series_offset(r)?;
        let first = (self.len - TOC_LEN - off).min(FIRST_SERIES_READ) as usize;
        let buf = read_vec_at(&self.file, &self.path, off, first)?;
        match self.decode_series_at(r, off, &buf)? {
            Ok(e) => Ok(e),
            Err(total) => {
                let buf = read_vec_at(&self.file, &self.path, off, total)?;
                self.decode_series_at(r, off, &buf)?.map_err(|n| {
                    self.corrupt(format!(
                        "series {}: length changed between reads ({n})",
                        r.0
                    ))
                })
            }
        }
    }

    /// Reads several series, in order. Sorted refs lie close together in the file, so runs
    /// of them are fetched with one read.
    pub fn series_batch(&self, refs: &[SeriesRef]) -> Result<Vec<SeriesEntry>, BlockError> {
        let mut out = Vec::with_capacity(refs.len());
        let mut i = 0;
        while i < refs.len() {
            let start = self.series_offset(refs[i])?;
            let mut j = i + 1;
            let mut last = start;
            while j < refs.len() {
                let o = self.series_offset(refs[j])?;
                if o < last || o - last > MAX_SERIES_READ_GAP || o - start > MAX_SERIES_BATCH_READ {
                    break;
                }
                last = o;
                j += 1;
            }
            if j == i + 1 {
                out.push(self.series(refs[i])?);
                i = j;
                continue;
            }
            let end = (last + FIRST_SERIES_READ).min(self.len - TOC_LEN);
            let buf = read_vec_at(&self.file, &self.path, start, (end - start) as usize)?;
            for &r in &refs[i..j] {
                let off = self.series_offset(r)?;
                let at = (off - start) as usize;
                match self.decode_series_at(r, off, &buf[at..])? {
                    Ok(e) => out.push(e),
                    Err(_) => out.push(self.series(r)?),
                }
            }
            i = j;
        }
        Ok(out)
    }

    fn decode_series(&self, r: SeriesRef, body: &[u8]) -> Result<SeriesEntry, BlockError> {
        let err = |e: DecodeError| self.corrupt(format!("series {}: {e}", r.0));
        let mut d = Decbuf::new(body);
        let nl = d.uvarint().map_err(&err)? as usize;
        let mut labels: Vec<Label> = Vec::with_capacity(nl.min(d.len()));
        for _ in 0..nl {
            let n = self.symbol(d.uvarint32().map_err(&err)?)?;
            let v = self.symbol(d.uvarint32().map_err(&err)?)?;
            if labels.last().is_some_and(|p| p.name.as_str() >= n) {
                return Err(self.corrupt(format!("series {}: labels not sorted at {n:?}", r.0)));
            }
            labels.push(Label::new(n, v));
        }
        let nc = d.uvarint().map_err(&err)? as usize;
        let mut chunks = Vec::with_capacity(nc.min(d.len()));
        if nc > 0 {
            let min_time = d.varint().map_err(&err)?;
            let max_time = min_time.wrapping_add(d.uvarint().map_err(&err)? as i64);
            let cr = d.uvarint().map_err(&err)?;
            chunks.push(ChunkRefMeta {
                min_time,
                max_time,
                chunk_ref: ChunkRef(cr),
            });
            let (mut t0, mut r0) = (max_time, cr as i64);
            for _ in 1..nc {
                let min_time = t0.wrapping_add(d.uvarint().map_err(&err)? as i64);
                let max_time = min_time.wrapping_add(d.uvarint().map_err(&err)? as i64);
                let cr = r0.wrapping_add(d.varint().map_err(&err)?);
                chunks.push(ChunkRefMeta {
                    min_time,
                    max_time,
                    chunk_ref: ChunkRef(cr as u64),
                });
                (t0, r0) = (max_time, cr);
            }
        }
        Ok(SeriesEntry {
            labels: Labels::from_sorted(labels),
            chunks,
        })
    }
}
