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
        if self.pos + nbits as usize > self.data.len() * 8 {
            return None;
        }
        let mut v: u64 = 0;
        let mut left = nbits;
        while left > 0 {
            let byte = self.data[self.pos / 8];
            let used = (self.pos % 8) as u8;
            let avail = 8 - used;
            let take = left.min(avail);
            let bits = (byte >> (avail - take)) & (((1u16 << take) - 1) as u8);
            v = (v << take) | u64::from(bits);
            self.pos += take as usize;
            left -= take;
        }
        Some(v)
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
