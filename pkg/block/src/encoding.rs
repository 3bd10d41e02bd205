//! Byte-level encoding shared by the index, chunk and tombstone files: big-endian fixed
//! integers, Go-compatible varints (LEB128, zig-zag for signed) and CRC32C (Castagnoli).
//!
//! Decoding never panics: every read checks the remaining length and returns a
//! [`DecodeError`] the caller turns into a [`crate::BlockError`] naming the file.

use crate::error::DecodeError;

/// The CRC32C (Castagnoli) of `b`, as Prometheus computes every checksum in a block.
pub(crate) fn crc32(b: &[u8]) -> u32 {
    crc32c::crc32c(b)
}

/// Appends encoded values to a byte vector.
#[derive(Default)]
pub(crate) struct Encbuf {
    pub(crate) b: Vec<u8>,
}

impl Encbuf {
    pub(crate) fn with_capacity(n: usize) -> Self {
        Self {
            b: Vec::with_capacity(n),
        }
    }

    pub(crate) fn reset(&mut self) {
        self.b.clear();
    }

    pub(crate) fn len(&self) -> usize {
        self.b.len()
    }

    pub(crate) fn put_byte(&mut self, x: u8) {
        self.b.push(x);
    }

    pub(crate) fn put_be32(&mut self, x: u32) {
        self.b.extend_from_slice(&x.to_be_bytes());
    }

    pub(crate) fn put_be64(&mut self, x: u64) {
        self.b.extend_from_slice(&x.to_be_bytes());
    }

    pub(crate) fn put_uvarint(&mut self, mut x: u64) {
        while x >= 0x80 {
            self.b.push((x as u8) | 0x80);
            x >>= 7;
        }
        self.b.push(x as u8);
    }

    /// Zig-zag then LEB128, as Go's `binary.PutVarint`.
    pub(crate) fn put_varint(&mut self, x: i64) {
        self.put_uvarint(((x << 1) ^ (x >> 63)) as u64);
    }

    pub(crate) fn put_uvarint_str(&mut self, s: &str) {
        self.put_uvarint(s.len() as u64);
        self.b.extend_from_slice(s.as_bytes());
    }

    /// Appends the CRC32C of `self.b[from..]`.
    pub(crate) fn put_crc_of(&mut self, from: usize) {
        let c = crc32(&self.b[from..]);
        self.put_be32(c);
    }
}

/// The number of bytes `x` takes as a uvarint.
pub(crate) fn uvarint_len(mut x: u64) -> usize {
    let mut n = 1;
    while x >= 0x80 {
        x >>= 7;
        n += 1;
    }
    n
}

/// Reads encoded values from a byte slice, front to back.
pub(crate) struct Decbuf<'a> {
    b: &'a [u8],
}

impl<'a> Decbuf<'a> {
    pub(crate) fn new(b: &'a [u8]) -> Self {
        Self { b }
    }

    /// Bytes not yet consumed.
    pub(crate) fn len(&self) -> usize {
        self.b.len()
    }

    pub(crate) fn rest(&self) -> &'a [u8] {
        self.b
    }

    pub(crate) fn bytes(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if n > self.b.len() {
            return Err(DecodeError::Short);
        }
        let (head, tail) = self.b.split_at(n);
        self.b = tail;
        Ok(head)
    }

    pub(crate) fn be32(&mut self) -> Result<u32, DecodeError> {
        let b = self.bytes(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub(crate) fn be64(&mut self) -> Result<u64, DecodeError> {
        let b = self.bytes(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_be_bytes(a))
    }

    /// A LEB128 unsigned varint; like Go's `binary.Uvarint`, rejects more than 64 bits.
    pub(crate) fn uvarint(&mut self) -> Result<u64, DecodeError> {
        let mut x: u64 = 0;
        let mut shift = 0u32;
        for i in 0..10 {
            let Some(&byte) = self.b.get(i) else {
                return Err(DecodeError::Short);
            };
            if byte < 0x80 {
                if i == 9 && byte > 1 {
                    return Err(DecodeError::VarintOverflow);
                }
                self.b = &self.b[i + 1..];
                return Ok(x | (u64::from(byte) << shift));
            }
            x |= u64::from(byte & 0x7f) << shift;
            shift += 7;
        }
        Err(DecodeError::VarintOverflow)
    }

    pub(crate) fn varint(&mut self) -> Result<i64, DecodeError> {
        let ux = self.uvarint()?;
        let x = (ux >> 1) as i64;
        Ok(if ux & 1 != 0 { !x } else { x })
    }

    /// A uvarint that must fit in 32 bits (symbol references).
    pub(crate) fn uvarint32(&mut self) -> Result<u32, DecodeError> {
        u32::try_from(self.uvarint()?).map_err(|_| DecodeError::VarintOverflow)
    }

    /// A uvarint length followed by that many bytes.
    pub(crate) fn uvarint_bytes(&mut self) -> Result<&'a [u8], DecodeError> {
        let n = self.uvarint()?;
        let n = usize::try_from(n).map_err(|_| DecodeError::Short)?;
        self.bytes(n)
    }

    pub(crate) fn uvarint_str(&mut self) -> Result<&'a str, DecodeError> {
        std::str::from_utf8(self.uvarint_bytes()?).map_err(|_| DecodeError::Utf8)
    }
}

/// Splits `b` = `payload ++ crc32c(payload) as BE32` and checks the checksum.
pub(crate) fn split_crc(b: &[u8]) -> Result<&[u8], ChecksumError> {
    if b.len() < 4 {
        return Err(ChecksumError::Short);
    }
    let (payload, sum) = b.split_at(b.len() - 4);
    let stored = u32::from_be_bytes([sum[0], sum[1], sum[2], sum[3]]);
    let computed = crc32(payload);
    if stored != computed {
        return Err(ChecksumError::Mismatch { stored, computed });
    }
    Ok(payload)
}

/// A checksummed region failed verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChecksumError {
    Short,
    Mismatch { stored: u32, computed: u32 },
}

impl std::fmt::Display for ChecksumError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChecksumError::Short => f.write_str("too short to hold a checksum"),
            ChecksumError::Mismatch { stored, computed } => write!(
                f,
                "checksum mismatch: stored {stored:#010x}, computed {computed:#010x}"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn varints_round_trip(u in any::<u64>(), i in any::<i64>(), s in ".{0,40}") {
            let mut e = Encbuf::default();
            e.put_uvarint(u);
            prop_assert_eq!(e.len(), uvarint_len(u));
            e.put_varint(i);
            e.put_uvarint_str(&s);
            e.put_be32(u as u32);
            e.put_be64(u);
            let mut d = Decbuf::new(&e.b);
            prop_assert_eq!(d.uvarint().expect("decodes"), u);
            prop_assert_eq!(d.varint().expect("decodes"), i);
            prop_assert_eq!(d.uvarint_str().expect("decodes"), s.as_str());
            prop_assert_eq!(d.be32().expect("decodes"), u as u32);
            prop_assert_eq!(d.be64().expect("decodes"), u);
            prop_assert_eq!(d.len(), 0);
        }

        #[test]
        fn garbage_never_panics(b in proptest::collection::vec(any::<u8>(), 0..32)) {
            let mut d = Decbuf::new(&b);
            while d.len() > 0 {
                if d.uvarint().is_err() || d.uvarint_str().is_err() {
                    break;
                }
            }
        }
    }

    #[test]
    fn matches_go_encodings() {
        let mut e = Encbuf::default();
        e.put_varint(-1);
        e.put_varint(1);
        e.put_uvarint(300);
        // Go: PutVarint(-1) = 0x01, PutVarint(1) = 0x02, PutUvarint(300) = 0xac 0x02.
        assert_eq!(e.b, vec![0x01, 0x02, 0xac, 0x02]);
        // CRC32C check value from RFC 3720.
        assert_eq!(crc32(b"123456789"), 0xe306_9283);
    }

    #[test]
    fn rejects_overlong_varint() {
        let b = [0xffu8; 11];
        assert_eq!(Decbuf::new(&b).uvarint(), Err(DecodeError::VarintOverflow));
        let b = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02];
        assert_eq!(Decbuf::new(&b).uvarint(), Err(DecodeError::VarintOverflow));
        assert_eq!(Decbuf::new(&[0x80]).uvarint(), Err(DecodeError::Short));
    }

    #[test]
    fn crc_split_detects_flips() {
        let mut e = Encbuf::default();
        e.put_be64(42);
        e.put_crc_of(0);
        assert!(split_crc(&e.b).is_ok());
        e.b[3] ^= 1;
        assert!(matches!(
            split_crc(&e.b),
            Err(ChecksumError::Mismatch { .. })
        ));
        assert_eq!(split_crc(&[1, 2]), Err(ChecksumError::Short));
    }
}
