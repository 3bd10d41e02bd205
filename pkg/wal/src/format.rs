//! The on-disk framing, as Prometheus's wlog: 32 KiB pages, records cut into fragments that
//! never cross a page, each behind a 7-byte header.
//!
//! ```text
//! ┌───────────┬──────────────────┬──────────────────┬────────────────┐
//! │ type <1b> │ len <2b, BE>     │ CRC32C <4b, BE>  │ data <len>     │
//! └───────────┴──────────────────┴──────────────────┴────────────────┘
//! ```
//!
//! `type` is 0 (rest of page is zero padding), 1 full, 2 first, 3 middle or 4 last. The CRC
//! (Castagnoli) covers the fragment's data only. When fewer than a header and one byte are
//! left in a page, the writer pads the page with zeros. Records never cross segments.

/// Bytes in a page.
pub const PAGE_SIZE: usize = 32 * 1024;

/// Bytes in a fragment header.
pub const HEADER_SIZE: usize = 7;

/// The default segment size: 128 MiB.
pub const DEFAULT_SEGMENT_SIZE: u64 = 128 * 1024 * 1024;

/// A fragment's type (the header's first byte).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FragmentType {
    /// Zero padding to the end of the page.
    PageTerm = 0,
    /// A whole record.
    Full = 1,
    /// A record's first fragment.
    First = 2,
    /// A record's inner fragment.
    Middle = 3,
    /// A record's last fragment.
    Last = 4,
}

impl FragmentType {
    /// The type for a byte, if it is one.
    pub fn from_byte(b: u8) -> Option<Self> {
        Some(match b {
            0 => Self::PageTerm,
            1 => Self::Full,
            2 => Self::First,
            3 => Self::Middle,
            4 => Self::Last,
            _ => return None,
        })
    }
}

/// The smallest page room a fragment is started in: a header and one byte (an empty record
/// needs only the header).
fn min_room(rec_len: usize) -> usize {
    HEADER_SIZE + usize::from(rec_len > 0)
}

/// How many bytes framing a record of `rec_len` bytes takes when it starts at segment
/// offset `offset` (padding included).
pub fn framed_len(rec_len: usize, offset: u64) -> u64 {
    let mut off = offset;
    let mut left = rec_len;
    loop {
        let room = PAGE_SIZE - (off % PAGE_SIZE as u64) as usize;
        if room < min_room(left) {
            off += room as u64;
            continue;
        }
        let n = left.min(room - HEADER_SIZE);
        off += (HEADER_SIZE + n) as u64;
        left -= n;
        if left == 0 {
            return off - offset;
        }
    }
}

/// The largest record that fits in an empty segment of `segment_size` bytes.
pub fn max_record_len(segment_size: u64) -> usize {
    let pages = (segment_size / PAGE_SIZE as u64) as usize;
    pages * (PAGE_SIZE - HEADER_SIZE)
}

/// Appends the framing of `rec`, starting at segment offset `offset`, to `out`. Returns the
/// offset after it.
pub fn frame(rec: &[u8], offset: u64, out: &mut Vec<u8>) -> u64 {
    let mut off = offset;
    let mut rest = rec;
    let mut first = true;
    loop {
        let room = PAGE_SIZE - (off % PAGE_SIZE as u64) as usize;
        if room < min_room(rest.len()) {
            out.resize(out.len() + room, 0);
            off += room as u64;
            continue;
        }
        let n = rest.len().min(room - HEADER_SIZE);
        let (frag, tail) = rest.split_at(n);
        let last = tail.is_empty();
        let typ = match (first, last) {
            (true, true) => FragmentType::Full,
            (true, false) => FragmentType::First,
            (false, false) => FragmentType::Middle,
            (false, true) => FragmentType::Last,
        };
        out.push(typ as u8);
        out.extend_from_slice(&(n as u16).to_be_bytes());
        out.extend_from_slice(&crc32c::crc32c(frag).to_be_bytes());
        out.extend_from_slice(frag);
        off += (HEADER_SIZE + n) as u64;
        rest = tail;
        first = false;
        if last {
            return off;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framed_len_matches_frame() {
        for &len in &[
            0usize,
            1,
            100,
            PAGE_SIZE - HEADER_SIZE,
            PAGE_SIZE,
            3 * PAGE_SIZE + 5,
        ] {
            for &off in &[
                0u64,
                1,
                (PAGE_SIZE - 7) as u64,
                (PAGE_SIZE - 8) as u64,
                40_000,
            ] {
                let rec = vec![0xabu8; len];
                let mut out = Vec::new();
                let end = frame(&rec, off, &mut out);
                assert_eq!(end - off, out.len() as u64);
                assert_eq!(
                    framed_len(len, off),
                    out.len() as u64,
                    "len {len} off {off}"
                );
            }
        }
    }

    #[test]
    fn fragments_never_cross_pages() {
        let rec: Vec<u8> = (0..100_000u32).map(|i| i as u8).collect();
        let mut out = Vec::new();
        frame(&rec, 10, &mut out);
        // Walk the fragments: each header's fragment ends within its page.
        let mut off = 10usize;
        let mut pos = 0usize;
        let mut types = Vec::new();
        while pos < out.len() {
            let room = PAGE_SIZE - off % PAGE_SIZE;
            if out[pos] == 0 {
                pos += room;
                off += room;
                continue;
            }
            let len = u16::from_be_bytes([out[pos + 1], out[pos + 2]]) as usize;
            assert!(HEADER_SIZE + len <= room);
            types.push(out[pos]);
            pos += HEADER_SIZE + len;
            off += HEADER_SIZE + len;
        }
        assert_eq!(types.first(), Some(&2));
        assert_eq!(types.last(), Some(&4));
        assert!(types[1..types.len() - 1].iter().all(|&t| t == 3));
        assert_eq!(max_record_len(2 * PAGE_SIZE as u64), 2 * (PAGE_SIZE - 7));
    }
}
