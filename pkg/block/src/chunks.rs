//! The `chunks/` directory: numbered segment files (`000001`, `000002`, …) of encoded chunks.
//!
//! Segment: magic `0x85BD40DD` (BE32), version 1, three zero bytes, then chunks, each
//! `len <uvarint> | encoding <1b> | data <len bytes> | CRC32C(encoding, data) <BE32>`.
//! A [`ChunkRef`] is `segment index << 32 | offset in segment`, the segment index counting
//! from 0 for file `000001`. A new segment is cut when the next chunk would push the current
//! one past the segment size (512 MiB), so offsets always fit in 32 bits.

use std::fmt;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use strata_chunkenc::{Chunk, Encoding};

use crate::encoding::{crc32, uvarint_len, Decbuf, Encbuf};
use crate::fileutil::{fsync_dir, open_read, read_exact_at, read_vec_at, BlockFile, PosWriter};
use crate::BlockError;

/// Magic number at the start of every chunk segment file.
pub const MAGIC_CHUNKS: u32 = 0x85BD_40DD;
/// The chunk segment format version Strata writes and reads.
pub const CHUNKS_FORMAT_V1: u8 = 1;
/// Segment header: magic, version, three bytes of padding.
pub const SEGMENT_HEADER_SIZE: u64 = 8;
/// Prometheus's default (and maximum) segment file size.
pub const DEFAULT_SEGMENT_SIZE: u64 = 512 * 1024 * 1024;
/// How many bytes a chunk read fetches first; most XOR chunks fit, so one read usually suffices.
const FIRST_READ: usize = 512;

/// Where a chunk lives: `segment index << 32 | byte offset` in that segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChunkRef(pub u64);

impl ChunkRef {
    /// A reference from a segment index (0 for file `000001`) and an offset.
    pub fn new(segment: u32, offset: u32) -> Self {
        ChunkRef((u64::from(segment) << 32) | u64::from(offset))
    }

    /// The segment index, counting from 0.
    pub fn segment(self) -> u32 {
        (self.0 >> 32) as u32
    }

    /// The byte offset in the segment.
    pub fn offset(self) -> u32 {
        self.0 as u32
    }
}

impl fmt::Display for ChunkRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:#x} (segment {}, offset {})",
            self.0,
            segment_name(self.segment()),
            self.offset()
        )
    }
}

/// The file name of segment index `i` (0 → `000001`).
pub(crate) fn segment_name(i: u32) -> String {
    format!("{:06}", u64::from(i) + 1)
}

/// Writes chunks into segment files, cutting new ones at the segment size.
pub(crate) struct ChunkWriter {
    fs: strata_vfs::SharedFs,
    dir: PathBuf,
    segment_size: u64,
    cur: Option<PosWriter>,
    /// Segments opened so far; the current one has index `segments - 1`.
    segments: u32,
    buf: Encbuf,
}

impl ChunkWriter {
    /// Creates `dir` (the block's `chunks/`) and prepares to write segments in it.
    pub(crate) fn create(
        fs: strata_vfs::SharedFs,
        dir: &Path,
        segment_size: u64,
    ) -> Result<Self, BlockError> {
        fs.create_dir_all(dir)
            .map_err(|e| BlockError::io("create directory", dir, e))?;
        Ok(Self {
            fs,
            dir: dir.to_path_buf(),
            segment_size: segment_size.clamp(SEGMENT_HEADER_SIZE + 1, DEFAULT_SEGMENT_SIZE),
            cur: None,
            segments: 0,
            buf: Encbuf::with_capacity(1024),
        })
    }

    /// Appends one chunk, returning where it landed.
    pub(crate) fn write(&mut self, chunk: &Chunk) -> Result<ChunkRef, BlockError> {
        let data = chunk.bytes();
        let size = (uvarint_len(data.len() as u64) + 1 + data.len() + 4) as u64;
        let need_cut = match &self.cur {
            None => true,
            Some(w) => w.pos() > SEGMENT_HEADER_SIZE && w.pos() + size > self.segment_size,
        };
        if need_cut {
            self.cut()?;
        }
        let w = self.cur.as_mut().expect("cut opened a segment");
        let offset = u32::try_from(w.pos()).map_err(|_| {
            BlockError::InvalidInput(format!("chunk of {size} bytes overflows a segment"))
        })?;
        let r = ChunkRef::new(self.segments - 1, offset);
        self.buf.reset();
        self.buf.put_uvarint(data.len() as u64);
        let from = self.buf.len();
        self.buf.put_byte(chunk.encoding() as u8);
        self.buf.b.extend_from_slice(data);
        self.buf.put_crc_of(from);
        w.write(&self.buf.b)?;
        Ok(r)
    }

    fn cut(&mut self) -> Result<(), BlockError> {
        if let Some(w) = self.cur.take() {
            w.finish()?;
        }
        let path = self.dir.join(segment_name(self.segments));
        let mut w = PosWriter::create(&*self.fs, &path)?;
        let mut h = Encbuf::default();
        h.put_be32(MAGIC_CHUNKS);
        h.put_byte(CHUNKS_FORMAT_V1);
        h.b.extend_from_slice(&[0, 0, 0]);
        w.write(&h.b)?;
        self.cur = Some(w);
        self.segments += 1;
        Ok(())
    }

    /// Flushes and fsyncs the last segment and the directory.
    pub(crate) fn finish(mut self) -> Result<(), BlockError> {
        if let Some(w) = self.cur.take() {
            w.finish()?;
        }
        fsync_dir(&*self.fs, &self.dir)
    }
}

struct Segment {
    file: BlockFile,
    path: PathBuf,
    name: String,
    len: u64,
}

/// Reads chunks from a block's segment files (memory-mapped, else with positional reads),
/// verifying each CRC.
pub struct ChunkReader {
    block: PathBuf,
    segments: Vec<Segment>,
}

impl fmt::Debug for ChunkReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChunkReader")
            .field("block", &self.block)
            .field("segments", &self.segments.len())
            .finish()
    }
}

impl ChunkReader {
    /// Opens every segment in `<block>/chunks`, checking names (`000001` upwards, no gaps)
    /// and headers.
    pub fn open(block: &Path) -> Result<Self, BlockError> {
        let dir = block.join("chunks");
        let rd = std::fs::read_dir(&dir).map_err(|e| BlockError::io("list", &dir, e))?;
        let mut numbered: Vec<(u64, String)> = Vec::new();
        for ent in rd {
            let ent = ent.map_err(|e| BlockError::io("list", &dir, e))?;
            let name = ent.file_name().to_string_lossy().into_owned();
            // Prometheus ignores names that are not numbers; so do we.
            if let Ok(n) = name.parse::<u64>() {
                numbered.push((n, name));
            }
        }
        numbered.sort();
        let mut segments = Vec::with_capacity(numbered.len());
        for (i, (n, name)) in numbered.into_iter().enumerate() {
            if n != i as u64 + 1 {
                return Err(BlockError::corrupt(
                    block,
                    format!("chunks/{name}"),
                    format!(
                        "segment numbers are not contiguous from 000001 (expected {:06})",
                        i + 1
                    ),
                ));
            }
            let path = dir.join(&name);
            let (file, len) = open_read(&path)?;
            let file_name = format!("chunks/{name}");
            if len < SEGMENT_HEADER_SIZE {
                return Err(BlockError::corrupt(
                    block,
                    file_name,
                    format!("{len} bytes is shorter than the segment header"),
                ));
            }
            let mut h = [0u8; SEGMENT_HEADER_SIZE as usize];
            read_exact_at(&file, &path, &mut h, 0)?;
            let magic = u32::from_be_bytes([h[0], h[1], h[2], h[3]]);
            if magic != MAGIC_CHUNKS {
                return Err(BlockError::corrupt(
                    block,
                    file_name,
                    format!("invalid magic number {magic:#010x}"),
                ));
            }
            if h[4] != CHUNKS_FORMAT_V1 {
                return Err(BlockError::Unsupported {
                    block: block.to_path_buf(),
                    what: format!("{file_name}: chunk format version {}", h[4]),
                });
            }
            segments.push(Segment {
                file,
                path,
                name: file_name,
                len,
            });
        }
        Ok(Self {
            block: block.to_path_buf(),
            segments,
        })
    }

    /// The number of segment files.
    pub fn num_segments(&self) -> usize {
        self.segments.len()
    }

    fn segment(&self, r: ChunkRef) -> Result<&Segment, BlockError> {
        let seg = self.segments.get(r.segment() as usize).ok_or_else(|| {
            BlockError::corrupt(
                &self.block,
                "index",
                format!(
                    "chunk {r} points past the last segment ({} segments)",
                    self.segments.len()
                ),
            )
        })?;
        let off = u64::from(r.offset());
        if off < SEGMENT_HEADER_SIZE || off >= seg.len {
            return Err(BlockError::corrupt(
                &self.block,
                &seg.name,
                format!("chunk {r}: offset outside segment of {} bytes", seg.len),
            ));
        }
        Ok(seg)
    }

    /// Decodes the chunk at the start of `buf` (which starts at `r`'s offset), sharing `buf`'s
    /// memory. Asks for a longer buffer when the chunk does not fit in it.
    fn decode(&self, seg: &Segment, r: ChunkRef, buf: &Bytes) -> Result<Decoded, BlockError> {
        let bad = |what: String| {
            BlockError::corrupt(&self.block, &seg.name, format!("chunk {r}: {what}"))
        };
        let avail = seg.len - u64::from(r.offset());
        let mut d = Decbuf::new(buf);
        let data_len = d.uvarint().map_err(|e| bad(format!("read length: {e}")))?;
        let header = buf.len() - d.len();
        let total = (header as u64)
            .checked_add(1 + 4)
            .and_then(|x| x.checked_add(data_len))
            .filter(|&t| t <= avail)
            .ok_or_else(|| {
                bad(format!(
                    "length {data_len} runs past the end of the segment ({avail} bytes left)"
                ))
            })? as usize;
        if total > buf.len() {
            return Ok(Decoded::NeedBytes(total));
        }
        let body = &buf[header..total - 4];
        let s = &buf[total - 4..total];
        let stored = u32::from_be_bytes([s[0], s[1], s[2], s[3]]);
        let computed = crc32(body);
        if stored != computed {
            return Err(BlockError::ChunkChecksum {
                block: self.block.clone(),
                file: seg.name.clone(),
                chunk: r,
                stored,
                computed,
            });
        }
        let encoding = Encoding::from_u8(body[0]).map_err(|e| bad(e.to_string()))?;
        Chunk::new(encoding, buf.slice(header + 1..total - 4))
            .map(Decoded::Chunk)
            .map_err(|e| bad(e.to_string()))
    }

    /// Reads and verifies one chunk.
    pub fn chunk(&self, r: ChunkRef) -> Result<Chunk, BlockError> {
        let seg = self.segment(r)?;
        let off = u64::from(r.offset());
        // A mapped segment is sliced to its end: the chunk always fits, nothing is copied.
        let first = if seg.file.is_mapped() {
            (seg.len - off) as usize
        } else {
            (seg.len - off).min(FIRST_READ as u64) as usize
        };
        let buf = read_vec_at(&seg.file, &seg.path, off, first)?;
        match self.decode(seg, r, &buf)? {
            Decoded::Chunk(c) => Ok(c),
            Decoded::NeedBytes(total) => {
                let mut v = Vec::with_capacity(total);
                v.extend_from_slice(&buf);
                v.resize(total, 0);
                read_exact_at(&seg.file, &seg.path, &mut v[first..], off + first as u64)?;
                match self.decode(seg, r, &Bytes::from(v))? {
                    Decoded::Chunk(c) => Ok(c),
                    Decoded::NeedBytes(n) => Err(BlockError::corrupt(
                        &self.block,
                        &seg.name,
                        format!("chunk {r}: length changed between reads ({n} bytes)"),
                    )),
                }
            }
        }
    }

    /// Reads and verifies several chunks, in order. Refs close together in one segment (a
    /// series' chunks are adjacent) are fetched with one read, and the chunks share its memory.
    pub fn chunks(&self, refs: &[ChunkRef]) -> Result<Vec<Chunk>, BlockError> {
        let mut out = Vec::with_capacity(refs.len());
        let mut i = 0;
        while i < refs.len() {
            let first = refs[i];
            let seg = self.segment(first)?;
            // Extend the group while the next ref follows closely in the same segment.
            let mut j = i + 1;
            while j < refs.len()
                && refs[j].segment() == first.segment()
                && refs[j].offset() >= refs[j - 1].offset()
                && refs[j].offset() - refs[j - 1].offset() <= MAX_READ_GAP
                && refs[j].offset() - first.offset() <= MAX_BATCH_READ
            {
                j += 1;
            }
            if j == i + 1 || seg.file.is_mapped() {
                // Mapped: each chunk is a slice of the map, no read to coalesce.
                for &r in &refs[i..j] {
                    out.push(self.chunk(r)?);
                }
                i = j;
                continue;
            }
            let start = u64::from(first.offset());
            let last = u64::from(refs[j - 1].offset());
            let end = (last + FIRST_READ as u64).min(seg.len);
            let buf = read_vec_at(&seg.file, &seg.path, start, (end - start) as usize)?;
            for &r in &refs[i..j] {
                // `segment` validates the offset, so the slice start is inside `buf`.
                self.segment(r)?;
                let at = (u64::from(r.offset()) - start) as usize;
                match self.decode(seg, r, &buf.slice(at..))? {
                    Decoded::Chunk(c) => out.push(c),
                    Decoded::NeedBytes(_) => out.push(self.chunk(r)?),
                }
            }
            i = j;
        }
        Ok(out)
    }
}

/// The result of decoding from a buffer that may end mid-chunk.
enum Decoded {
    Chunk(Chunk),
    /// The chunk needs this many bytes from its offset.
    NeedBytes(usize),
}

/// Largest gap between two chunks read together.
const MAX_READ_GAP: u32 = 16 * 1024;
/// Largest span of one coalesced read.
const MAX_BATCH_READ: u32 = 1024 * 1024;

#[cfg(test)]
mod tests {
    use super::*;
    use strata_chunkenc::encode_xor;
    use strata_model::Sample;

    fn chunk(n: i64) -> Chunk {
        let s: Vec<Sample> = (0..n)
            .map(|i| Sample::new(i * 1000, i as f64 * 1.5))
            .collect();
        encode_xor(&s)
    }

    #[test]
    fn writes_and_reads_across_segments() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cdir = dir.path().join("chunks");
        // Small segments force several cuts.
        let mut w =
            ChunkWriter::create(strata_vfs::SharedFs::default(), &cdir, 200).expect("create");
        let chunks: Vec<Chunk> = (1..40).map(chunk).collect();
        let refs: Vec<ChunkRef> = chunks.iter().map(|c| w.write(c).expect("write")).collect();
        w.finish().expect("finish");
        assert_eq!(refs[0], ChunkRef::new(0, 8));
        assert!(refs.last().expect("refs").segment() > 1);
        let r = ChunkReader::open(dir.path()).expect("open");
        assert!(r.num_segments() > 2);
        for (c, rf) in chunks.iter().zip(&refs) {
            assert_eq!(&r.chunk(*rf).expect("read"), c);
        }
        // Batched reads give the same chunks, in the order asked, across segments.
        assert_eq!(r.chunks(&refs).expect("batch"), chunks);
        let mut rev = refs.clone();
        rev.reverse();
        let mut want = chunks.clone();
        want.reverse();
        assert_eq!(r.chunks(&rev).expect("batch"), want);
        // A chunk bigger than a segment still gets written, alone in its segment.
        let noisy: Vec<Sample> = (0..120)
            .map(|i| Sample::new(i * 1000 + (i * i) % 7, (i as f64).sin() * 1e6))
            .collect();
        let big = encode_xor(&noisy);
        assert!(big.bytes().len() > 200);
        let mut w =
            ChunkWriter::create(strata_vfs::SharedFs::default(), &cdir, 200).expect("create");
        let a = w.write(&chunks[0]).expect("write");
        let b = w.write(&big).expect("write");
        let c = w.write(&chunks[1]).expect("write");
        w.finish().expect("finish");
        assert_eq!((a.segment(), b.segment(), c.segment()), (0, 1, 2));
        let r = ChunkReader::open(dir.path()).expect("open");
        assert_eq!(r.chunk(b).expect("read"), big);
        assert_eq!(r.chunk(c).expect("read"), chunks[1]);

        // In one segment, a batch whose last chunk outgrows the first read still reads whole.
        assert!(big.bytes().len() > FIRST_READ);
        let dir2 = tempfile::tempdir().expect("tempdir");
        let mut w = ChunkWriter::create(
            strata_vfs::SharedFs::default(),
            &dir2.path().join("chunks"),
            DEFAULT_SEGMENT_SIZE,
        )
        .expect("create");
        let refs: Vec<ChunkRef> = [&chunks[0], &big, &chunks[1], &big]
            .iter()
            .map(|c| w.write(c).expect("write"))
            .collect();
        w.finish().expect("finish");
        let r = ChunkReader::open(dir2.path()).expect("open");
        let got = r.chunks(&refs).expect("batch");
        assert_eq!(
            got,
            vec![chunks[0].clone(), big.clone(), chunks[1].clone(), big]
        );
    }

    #[test]
    fn bad_checksum_names_block_and_chunk() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut w = ChunkWriter::create(
            strata_vfs::SharedFs::default(),
            &dir.path().join("chunks"),
            DEFAULT_SEGMENT_SIZE,
        )
        .expect("create");
        let rf = w.write(&chunk(10)).expect("write");
        w.finish().expect("finish");
        let seg = dir.path().join("chunks/000001");
        let mut b = std::fs::read(&seg).expect("read");
        let last = b.len() - 6;
        b[last] ^= 0x40;
        std::fs::write(&seg, &b).expect("write");
        let r = ChunkReader::open(dir.path()).expect("open");
        let err = r.chunk(rf).expect_err("checksum must fail");
        let msg = err.to_string();
        assert!(matches!(err, BlockError::ChunkChecksum { .. }), "{msg}");
        assert!(
            msg.contains("chunks/000001") && msg.contains("offset 8"),
            "{msg}"
        );
        assert!(msg.contains(&dir.path().display().to_string()), "{msg}");
        // Refs past the data are errors too.
        assert!(r.chunk(ChunkRef::new(0, 4)).is_err());
        assert!(r.chunk(ChunkRef::new(0, 1 << 20)).is_err());
        assert!(r.chunk(ChunkRef::new(3, 8)).is_err());
    }

    #[test]
    fn rejects_bad_headers_and_gaps() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cdir = dir.path().join("chunks");
        std::fs::create_dir(&cdir).expect("mkdir");
        std::fs::write(cdir.join("000001"), [0u8; 8]).expect("write");
        assert!(ChunkReader::open(dir.path()).is_err());
        std::fs::write(cdir.join("000001"), [0x85, 0xBD, 0x40, 0xDD, 1, 0, 0, 0]).expect("write");
        assert!(ChunkReader::open(dir.path()).is_ok());
        std::fs::write(cdir.join("000003"), [0x85, 0xBD, 0x40, 0xDD, 1, 0, 0, 0]).expect("write");
        assert!(ChunkReader::open(dir.path()).is_err());
    }
}
