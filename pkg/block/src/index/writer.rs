//! Writes an index file from series already sorted by labels, section by section in
//! Prometheus's order and alignment so the bytes match what `tsdb/index.Writer` produces.

use std::collections::{BTreeMap, HashMap};

use std::path::Path;
use strata_model::Labels;

use crate::encoding::Encbuf;
use crate::fileutil::PosWriter;
use crate::index::{ChunkRefMeta, Toc, INDEX_FORMAT_V2, MAGIC_INDEX};
use crate::BlockError;

/// Collects the series of an index as they are added, holding each label string once and
/// every series' labels and chunk references in flat vectors, then writes the file.
pub(crate) struct IndexBuilder {
    /// Interned strings and their ids, in order of first appearance.
    ids: HashMap<Box<str>, u32>,
    /// `(name id, value id)` of every series' labels, series after series.
    labels: Vec<(u32, u32)>,
    chunks: Vec<ChunkRefMeta>,
    /// Per series: end of its labels in `labels` and of its chunks in `chunks`.
    series: Vec<(usize, usize)>,
}

impl IndexBuilder {
    pub(crate) fn new() -> Self {
        let mut b = Self {
            ids: HashMap::new(),
            labels: Vec::new(),
            chunks: Vec::new(),
            series: Vec::new(),
        };
        // Prometheus's symbols always include "" (the all-postings key's name and value), so
        // ours do too and every symbol reference matches its numbering.
        b.intern("");
        b
    }

    fn intern(&mut self, s: &str) -> u32 {
        if let Some(&id) = self.ids.get(s) {
            return id;
        }
        let id = self.ids.len() as u32;
        self.ids.insert(Box::from(s), id);
        id
    }

    /// Adds the next series; the caller guarantees label order.
    pub(crate) fn add(&mut self, labels: &Labels, chunks: impl IntoIterator<Item = ChunkRefMeta>) {
        for l in labels {
            let n = self.intern(&l.name);
            let v = self.intern(&l.value);
            self.labels.push((n, v));
        }
        self.chunks.extend(chunks);
        self.series.push((self.labels.len(), self.chunks.len()));
    }

    /// The number of series added.
    pub(crate) fn len(&self) -> usize {
        self.series.len()
    }

    /// Writes the index file at `path` and fsyncs it.
    pub(crate) fn write(&self, fs: &dyn strata_vfs::Fs, path: &Path) -> Result<(), BlockError> {
        // Symbols sorted; `remap` turns an interned id into its position (the symbol ref).
        let mut symbols: Vec<(&str, u32)> = self.ids.iter().map(|(s, &id)| (&**s, id)).collect();
        symbols.sort_unstable();
        let mut remap = vec![0u32; symbols.len()];
        for (pos, (_, id)) in symbols.iter().enumerate() {
            remap[*id as usize] = pos as u32;
        }
        let symbols: Vec<&str> = symbols.into_iter().map(|(s, _)| s).collect();
        let mut series = Vec::with_capacity(self.series.len());
        let (mut l0, mut c0) = (0, 0);
        for &(l1, c1) in &self.series {
            series.push((&self.labels[l0..l1], &self.chunks[c0..c1]));
            (l0, c0) = (l1, c1);
        }
        write_index(fs, path, &symbols, &remap, &series)
    }
}

/// One series' label pairs (interned symbol ids) and chunk references.
type SeriesParts<'a> = (&'a [(u32, u32)], &'a [ChunkRefMeta]);

/// Writes an index of `series` (label symbol ids before `remap`, sorted by labels) with the
/// sorted `symbols`, and fsyncs it.
fn write_index(
    fs: &dyn strata_vfs::Fs,
    path: &Path,
    symbols: &[&str],
    remap: &[u32],
    series: &[SeriesParts<'_>],
) -> Result<(), BlockError> {
    let mut w = PosWriter::create(fs, path)?;
    let mut toc = Toc::default();
    let mut buf = Encbuf::with_capacity(1 << 16);

    buf.put_be32(MAGIC_INDEX);
    buf.put_byte(INDEX_FORMAT_V2);
    w.write(&buf.b)?;

    toc.symbols = w.pos();
    write_section(&mut w, &mut buf, |b| {
        b.put_be32(symbols.len() as u32);
        for s in symbols {
            b.put_uvarint_str(s);
        }
    })?;

    // Series, each 16-byte aligned so a 4-byte postings entry addresses 64 GiB.
    toc.series = w.pos();
    let mut postings: BTreeMap<(u32, u32), Vec<u32>> = BTreeMap::new();
    let mut all: Vec<u32> = Vec::with_capacity(series.len());
    let mut body = Encbuf::with_capacity(256);
    for (labels, chunks) in series {
        w.pad(16)?;
        let r = u32::try_from(w.pos() / 16).map_err(|_| {
            BlockError::InvalidInput("index series section exceeds 64 GiB".to_string())
        })?;
        all.push(r);
        body.reset();
        body.put_uvarint(labels.len() as u64);
        for &(n, v) in labels.iter() {
            let (n, v) = (remap[n as usize], remap[v as usize]);
            body.put_uvarint(u64::from(n));
            body.put_uvarint(u64::from(v));
            postings.entry((n, v)).or_default().push(r);
        }
        body.put_uvarint(chunks.len() as u64);
        if let Some(first) = chunks.first() {
            body.put_varint(first.min_time);
            body.put_uvarint(first.max_time.wrapping_sub(first.min_time) as u64);
            body.put_uvarint(first.chunk_ref.0);
            let mut t0 = first.max_time;
            let mut r0 = first.chunk_ref.0 as i64;
            for c in &chunks[1..] {
                // Wrapping like Go's int64→uint64 conversions, so the reader's wrapping
                // addition restores the exact values even for overlapping chunks.
                body.put_uvarint(c.min_time.wrapping_sub(t0) as u64);
                body.put_uvarint(c.max_time.wrapping_sub(c.min_time) as u64);
                body.put_varint((c.chunk_ref.0 as i64).wrapping_sub(r0));
                t0 = c.max_time;
                r0 = c.chunk_ref.0 as i64;
            }
        }
        buf.reset();
        buf.put_uvarint(body.len() as u64);
        buf.b.extend_from_slice(&body.b);
        buf.put_crc_of(buf.len() - body.len());
        w.write(&buf.b)?;
    }

    // Label indices (unused by readers since v2, still written by Prometheus): per name,
    // its values as symbol references.
    toc.label_indices = w.pos();
    let mut label_index_offsets: Vec<(u32, u64)> = Vec::new();
    let mut i = 0;
    let keys: Vec<(u32, u32)> = postings.keys().copied().collect();
    while i < keys.len() {
        let name = keys[i].0;
        let j = i + keys[i..].iter().take_while(|k| k.0 == name).count();
        w.pad(4)?;
        label_index_offsets.push((name, w.pos()));
        let values = &keys[i..j];
        write_section(&mut w, &mut buf, |b| {
            b.put_be32(1);
            b.put_be32(values.len() as u32);
            for v in values {
                b.put_be32(v.1);
            }
        })?;
        i = j;
    }

    // Postings: the all-series list under ("", ""), then one per label pair in order.
    toc.postings = w.pos();
    w.pad(4)?;
    let mut postings_offsets: Vec<(&str, &str, u64)> = Vec::with_capacity(postings.len() + 1);
    postings_offsets.push(("", "", w.pos()));
    write_postings(&mut w, &mut buf, &all)?;
    for ((n, v), refs) in &postings {
        w.pad(4)?;
        postings_offsets.push((symbols[*n as usize], symbols[*v as usize], w.pos()));
        write_postings(&mut w, &mut buf, refs)?;
    }

    toc.label_indices_table = w.pos();
    write_section(&mut w, &mut buf, |b| {
        b.put_be32(label_index_offsets.len() as u32);
        for (name, off) in &label_index_offsets {
            b.put_uvarint(1);
            b.put_uvarint_str(symbols[*name as usize]);
            b.put_uvarint(*off);
        }
    })?;

    toc.postings_table = w.pos();
    write_section(&mut w, &mut buf, |b| {
        b.put_be32(postings_offsets.len() as u32);
        for (n, v, off) in &postings_offsets {
            b.put_uvarint(2);
            b.put_uvarint_str(n);
            b.put_uvarint_str(v);
            b.put_uvarint(*off);
        }
    })?;

    buf.reset();
    for x in [
        toc.symbols,
        toc.series,
        toc.label_indices,
        toc.label_indices_table,
        toc.postings,
        toc.postings_table,
    ] {
        buf.put_be64(x);
    }
    buf.put_crc_of(0);
    w.write(&buf.b)?;
    w.finish()
}

/// Writes `len <BE32> | body | CRC32C(body)` with the body produced by `f`.
fn write_section(
    w: &mut PosWriter,
    buf: &mut Encbuf,
    f: impl FnOnce(&mut Encbuf),
) -> Result<(), BlockError> {
    buf.reset();
    buf.put_be32(0);
    f(buf);
    let len = u32::try_from(buf.len() - 4)
        .map_err(|_| BlockError::InvalidInput("index section exceeds 4 GiB".to_string()))?;
    buf.b[..4].copy_from_slice(&len.to_be_bytes());
    buf.put_crc_of(4);
    w.write(&buf.b)
}

fn write_postings(w: &mut PosWriter, buf: &mut Encbuf, refs: &[u32]) -> Result<(), BlockError> {
    write_section(w, buf, |b| {
        b.put_be32(refs.len() as u32);
        for r in refs {
            b.put_be32(*r);
        }
    })
}
