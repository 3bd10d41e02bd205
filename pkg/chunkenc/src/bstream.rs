//! Bit streams, most significant bit first, as Prometheus's `bstream`.

/// Appends bits to a byte buffer.
#[derive(Clone, Debug, Default)]
pub(crate) struct BitWriter {
    pub(crate) buf: Vec<u8>,
    /// Bits still free in the last byte (0 when the last byte is full or there is none).
    free: u8,
}

impl BitWriter {
    pub(crate) fn with_prefix(prefix: &[u8]) -> Self {
        Self {
            buf: prefix.to_vec(),
            free: 0,
        }
    }

    #[inline]
    pub(crate) fn write_bit(&mut self, bit: bool) {
        if self.free == 0 {
            self.buf.push(0);
            self.free = 8;
        }
        if bit {
            let last = self.buf.len() - 1;
            self.buf[last] |= 1 << (self.free - 1);
        }
        self.free -= 1;
    }

    /// Writes the low `nbits` bits of `v`, most significant first.
    #[inline]
    pub(crate) fn write_bits(&mut self, v: u64, mut nbits: u8) {
        while nbits > 0 {
            if self.free == 0 {
                self.buf.push(0);
                self.free = 8;
            }
            let take = nbits.min(self.free);
            let shift = nbits - take;
            let chunk = ((v >> shift) & ((1u64 << take) - 1)) as u8;
            let last = self.buf.len() - 1;
            self.buf[last] |= chunk << (self.free - take);
            self.free -= take;
            nbits -= take;
        }
    }

    #[inline]
    pub(crate) fn write_byte(&mut self, b: u8) {
        self.write_bits(u64::from(b), 8);
    }

    pub(crate) fn write_uvarint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.write_byte((v as u8) | 0x80);
            v >>= 7;
        }
        self.write_byte(v as u8);
    }

    pub(crate) fn write_varint(&mut self, v: i64) {
        self.write_uvarint(((v << 1) ^ (v >> 63)) as u64);
    }
}

/// Reads bits from a byte slice.
#[derive(Clone, Debug)]
pub(crate) struct BitReader<'a> {
    data: &'a [u8],
    /// Position in bits from the start of `data`.
    pos: usize,
}

impl<'a> BitReader<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Self {
        Self { data, pos: 0 }
    }

    #[inline]
    pub(crate) fn read_bit(&mut self) -> Option<bool> {
        let byte = *self.data.get(self.pos / 8)?;
        let bit = (byte >> (7 - (self.pos % 8))) & 1 == 1;
        self.pos += 1;
        Some(bit)
    }

    /// Reads `nbits` (at most 64) bits as an unsigned number.
    #[inline]
    pub(crate) fn read_bits(&mut self, nbits: u8) -> Option<u64> {
        if nbits == 0 {
            return (self.pos <= self.data.len() * 8).then_some(0);
        }
        if self.pos + nbits as usize > self.data.len() * 8 {
            return None;
        }
        let byte = self.pos / 8;
        let used = (self.pos % 8) as u32;
        // Fast path: a whole big-endian word (plus one byte when the bits straddle it).
        let v = if let Some(w) = self.data.get(byte..byte + 8) {
            let word = u64::from_be_bytes(w.try_into().expect("8 bytes"));
            let hi = word << used;
            if used + u32::from(nbits) <= 64 {
                hi >> (64 - u32::from(nbits))
            } else {
                // `used` > 0 here, and the ninth byte exists since the bits are in range.
                let extra = u64::from(self.data[byte + 8]) >> (8 - used);
                let full = hi | extra;
                full >> (64 - u32::from(nbits))
            }
        } else {
            self.read_bits_slow(nbits)
        };
        self.pos += nbits as usize;
        Some(v)
    }

    /// Bit-by-byte read near the end of the data, where a whole word is not available.
    /// The caller has checked the bits are in range and advances `pos` itself.
    fn read_bits_slow(&self, nbits: u8) -> u64 {
        let mut pos = self.pos;
        let mut v: u64 = 0;
        let mut left = nbits;
        while left > 0 {
            let byte = self.data[pos / 8];
            let used = (pos % 8) as u8;
            let avail = 8 - used;
            let take = left.min(avail);
            let bits = (byte >> (avail - take)) & (((1u16 << take) - 1) as u8);
            v = (v << take) | u64::from(bits);
            pos += take as usize;
            left -= take;
        }
        v
    }

    pub(crate) fn read_uvarint(&mut self) -> Option<u64> {
        let mut x: u64 = 0;
        let mut s: u32 = 0;
        for i in 0..10 {
            let b = self.read_bits(8)? as u8;
            if b < 0x80 {
                if i == 9 && b > 1 {
                    return None;
                }
                return Some(x | (u64::from(b) << s));
            }
            x |= u64::from(b & 0x7f) << s;
            s += 7;
        }
        None
    }

    pub(crate) fn read_varint(&mut self) -> Option<i64> {
        let ux = self.read_uvarint()?;
        let x = (ux >> 1) as i64;
        Some(if ux & 1 != 0 { !x } else { x })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The word-at-a-time read equals the bit-by-bit one at every alignment and width,
        /// up to the last bit of the data, and refuses to read past it.
        #[test]
        fn word_reads_match_bit_reads(
            data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..24),
            widths in proptest::collection::vec(0u8..=64, 1..40),
        ) {
            let mut fast = BitReader::new(&data);
            let mut slow_pos = 0usize;
            for n in widths {
                let in_range = slow_pos + n as usize <= data.len() * 8;
                let want = in_range.then(|| {
                    let r = BitReader { data: &data, pos: slow_pos };
                    r.read_bits_slow(n)
                });
                proptest::prop_assert_eq!(fast.read_bits(n), want);
                if in_range {
                    slow_pos += n as usize;
                }
                proptest::prop_assert_eq!(fast.pos, slow_pos);
            }
        }
    }

    #[test]
    fn bits_round_trip() {
        let mut w = BitWriter::default();
        w.write_bit(true);
        w.write_bits(0b1011, 4);
        w.write_bits(u64::MAX, 64);
        w.write_varint(-12345);
        w.write_uvarint(300);
        let mut r = BitReader::new(&w.buf);
        assert_eq!(r.read_bit(), Some(true));
        assert_eq!(r.read_bits(4), Some(0b1011));
        assert_eq!(r.read_bits(64), Some(u64::MAX));
        assert_eq!(r.read_varint(), Some(-12345));
        assert_eq!(r.read_uvarint(), Some(300));
    }
}
