use bytes::Bytes;
use strata_model::Sample;

use crate::bstream::{BitReader, BitWriter};
use crate::chunk::{Chunk, ChunkError, Encoding};

/// "No leading/trailing window yet", as Prometheus's `0xff`.
const NO_WINDOW: u8 = 0xff;

/// Builds an XOR chunk one sample at a time. Timestamps must increase; the caller checks.
#[derive(Clone, Debug)]
pub struct XorAppender {
    w: BitWriter,
    num: u16,
    t: i64,
    v: f64,
    t_delta: u64,
    leading: u8,
    trailing: u8,
    min_time: i64,
}

impl Default for XorAppender {
    fn default() -> Self {
        Self::new()
    }
}

impl XorAppender {
    /// Starts an empty chunk.
    pub fn new() -> Self {
        Self {
            w: BitWriter::with_prefix(&[0, 0]),
            num: 0,
            t: 0,
            v: 0.0,
            t_delta: 0,
            leading: NO_WINDOW,
            trailing: 0,
            min_time: 0,
        }
    }

    /// Appends a sample with a timestamp greater than the last one's.
    pub fn append(&mut self, t: i64, v: f64) {
        match self.num {
            0 => {
                self.w.write_varint(t);
                self.w.write_bits(v.to_bits(), 64);
                self.min_time = t;
            }
            1 => {
                let delta = t.wrapping_sub(self.t) as u64;
                self.w.write_uvarint(delta);
                self.write_value(v);
                self.t_delta = delta;
            }
            _ => {
                let delta = t.wrapping_sub(self.t) as u64;
                let dod = delta.wrapping_sub(self.t_delta) as i64;
                if dod == 0 {
                    self.w.write_bit(false);
                } else if bit_range(dod, 14) {
                    self.w.write_bits(0b10, 2);
                    self.w.write_bits(dod as u64, 14);
                } else if bit_range(dod, 17) {
                    self.w.write_bits(0b110, 3);
                    self.w.write_bits(dod as u64, 17);
                } else if bit_range(dod, 20) {
                    self.w.write_bits(0b1110, 4);
                    self.w.write_bits(dod as u64, 20);
                } else {
                    self.w.write_bits(0b1111, 4);
                    self.w.write_bits(dod as u64, 64);
                }
                self.t_delta = delta;
                self.write_value(v);
            }
        }
        self.t = t;
        self.v = v;
        self.num += 1;
    }

    fn write_value(&mut self, v: f64) {
        let delta = v.to_bits() ^ self.v.to_bits();
        if delta == 0 {
            self.w.write_bit(false);
            return;
        }
        self.w.write_bit(true);
        let mut leading = delta.leading_zeros() as u8;
        let trailing = delta.trailing_zeros() as u8;
        // Five bits hold the leading count.
        if leading >= 32 {
            leading = 31;
        }
        if self.leading != NO_WINDOW && leading >= self.leading && trailing >= self.trailing {
            self.w.write_bit(false);
            let sig = 64 - self.leading - self.trailing;
            self.w.write_bits(delta >> self.trailing, sig);
            return;
        }
        self.leading = leading;
        self.trailing = trailing;
        self.w.write_bit(true);
        self.w.write_bits(u64::from(leading), 5);
        let sig = 64 - leading - trailing;
        // 64 significant bits are written as 0; the reader maps 0 back to 64.
        self.w.write_bits(u64::from(sig), 6);
        self.w.write_bits(delta >> trailing, sig);
    }

    /// The number of samples appended.
    pub fn num_samples(&self) -> u16 {
        self.num
    }

    /// The first sample's timestamp (0 when empty).
    pub fn min_time(&self) -> i64 {
        self.min_time
    }

    /// The last sample's timestamp (0 when empty).
    pub fn max_time(&self) -> i64 {
        self.t
    }

    /// The encoded size in bytes so far.
    pub fn size(&self) -> usize {
        self.w.buf.len()
    }

    /// The chunk as it stands, copied; the appender can go on.
    pub fn to_chunk(&self) -> Chunk {
        let mut buf = self.w.buf.clone();
        buf[..2].copy_from_slice(&self.num.to_be_bytes());
        Chunk::new(Encoding::Xor, Bytes::from(buf)).expect("buffer always holds the 2-byte header")
    }

    /// Finishes the chunk without copying.
    pub fn into_chunk(mut self) -> Chunk {
        self.w.buf[..2].copy_from_slice(&self.num.to_be_bytes());
        // A finished chunk lives on (in the head until its block is cut): drop the buffer's
        // growth headroom, up to half of its allocation.
        self.w.buf.shrink_to_fit();
        Chunk::new(Encoding::Xor, Bytes::from(self.w.buf))
            .expect("buffer always holds the 2-byte header")
    }
}

/// Tells whether `x` fits the `nbits`-bit delta-of-delta bucket, Prometheus's asymmetric range.
#[inline]
fn bit_range(x: i64, nbits: u8) -> bool {
    -((1i64 << (nbits - 1)) - 1) <= x && x <= 1i64 << (nbits - 1)
}

/// Encodes samples with increasing timestamps into one XOR chunk.
pub fn encode_xor(samples: &[Sample]) -> Chunk {
    let mut a = XorAppender::new();
    for s in samples {
        a.append(s.t, s.v);
    }
    a.into_chunk()
}

/// Decodes an XOR chunk. Yields samples until the end or the first error; check
/// [`XorIterator::err`] afterwards.
#[derive(Clone, Debug)]
pub struct XorIterator<'a> {
    r: BitReader<'a>,
    total: u16,
    read: u16,
    t: i64,
    v: f64,
    t_delta: u64,
    leading: u8,
    trailing: u8,
    err: Option<ChunkError>,
}

impl<'a> XorIterator<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Self {
        let total = u16::from_be_bytes([data[0], data[1]]);
        Self {
            r: BitReader::new(&data[2..]),
            total,
            read: 0,
            t: 0,
            v: 0.0,
            t_delta: 0,
            leading: 0,
            trailing: 0,
            err: None,
        }
    }

    /// The error that ended iteration early, if any.
    pub fn err(&self) -> Option<&ChunkError> {
        self.err.as_ref()
    }

    fn fail(&mut self) -> Option<Sample> {
        self.err = Some(ChunkError::Truncated {
            read: self.read,
            expected: self.total,
        });
        self.read = self.total;
        None
    }

    fn read_value(&mut self) -> Option<()> {
        if !self.r.read_bit()? {
            return Some(());
        }
        if self.r.read_bit()? {
            self.leading = self.r.read_bits(5)? as u8;
            let mut sig = self.r.read_bits(6)? as u8;
            if sig == 0 {
                sig = 64;
            }
            self.trailing = 64u8.checked_sub(self.leading + sig)?;
        }
        let sig = 64 - self.leading - self.trailing;
        let bits = self.r.read_bits(sig)?;
        self.v = f64::from_bits(self.v.to_bits() ^ (bits << self.trailing));
        Some(())
    }

    fn read_next(&mut self) -> Option<()> {
        match self.read {
            0 => {
                self.t = self.r.read_varint()?;
                self.v = f64::from_bits(self.r.read_bits(64)?);
            }
            1 => {
                self.t_delta = self.r.read_uvarint()?;
                self.t = self.t.wrapping_add(self.t_delta as i64);
                self.read_value()?;
            }
            _ => {
                let mut prefix = 0u8;
                for _ in 0..4 {
                    prefix <<= 1;
                    if !self.r.read_bit()? {
                        break;
                    }
                    prefix |= 1;
                }
                let nbits: u8 = match prefix {
                    0b0 => 0,
                    0b10 => 14,
                    0b110 => 17,
                    0b1110 => 20,
                    _ => 64,
                };
                let mut dod: i64 = 0;
                if nbits != 0 {
                    let bits = self.r.read_bits(nbits)?;
                    dod = if nbits == 64 {
                        bits as i64
                    } else if bits > 1 << (nbits - 1) {
                        (bits as i64) - (1i64 << nbits)
                    } else {
                        bits as i64
                    };
                }
                self.t_delta = (self.t_delta as i64).wrapping_add(dod) as u64;
                self.t = self.t.wrapping_add(self.t_delta as i64);
                self.read_value()?;
            }
        }
        Some(())
    }
}

impl Iterator for XorIterator<'_> {
    type Item = Sample;

    #[inline]
    fn next(&mut self) -> Option<Sample> {
        if self.read >= self.total {
            return None;
        }
        if self.read_next().is_none() {
            return self.fail();
        }
        self.read += 1;
        Some(Sample::new(self.t, self.v))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = (self.total - self.read) as usize;
        (0, Some(left))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use strata_model::STALE_NAN;

    fn decode(c: &Chunk) -> Vec<Sample> {
        let mut it = c.xor_iter().expect("xor chunk");
        let out: Vec<Sample> = it.by_ref().collect();
        assert_eq!(it.err(), None);
        out
    }

    fn same(a: &[Sample], b: &[Sample]) -> bool {
        a.len() == b.len()
            && a.iter()
                .zip(b)
                .all(|(x, y)| x.t == y.t && x.v.to_bits() == y.v.to_bits())
    }

    #[test]
    fn header_and_first_sample_follow_prometheus_layout() {
        // The layout Prometheus's chunkenc.XORChunk writes: header, then the first sample raw.
        let c = encode_xor(&[
            Sample::new(1000, 1.0),
            Sample::new(2000, 2.0),
            Sample::new(3000, 2.0),
            Sample::new(4500, -0.5),
        ]);
        let got = decode(&c);
        assert_eq!(got.len(), 4);
        assert_eq!(c.num_samples(), 4);
        // Header, first timestamp (zigzag varint of 1000 = 2000 = 0xd0 0x0f), first value 1.0.
        assert_eq!(&c.bytes()[..4], &[0, 4, 0xd0, 0x0f]);
        assert_eq!(&c.bytes()[4..12], &1.0f64.to_bits().to_be_bytes());
    }

    #[test]
    fn keeps_special_values_bit_exact() {
        let s = vec![
            Sample::new(0, f64::NAN),
            Sample::new(15, STALE_NAN),
            Sample::new(30, f64::INFINITY),
            Sample::new(45, -0.0),
            Sample::new(i64::from(i32::MAX), f64::MIN_POSITIVE),
        ];
        assert!(same(&decode(&encode_xor(&s)), &s));
    }

    #[test]
    fn truncated_chunk_reports_error() {
        let c = encode_xor(&[
            Sample::new(1, 1.0),
            Sample::new(2, 2.0),
            Sample::new(3, 7.0),
        ]);
        let cut =
            Chunk::new(Encoding::Xor, c.bytes().slice(..c.bytes().len() - 2)).expect("header");
        let mut it = cut.xor_iter().expect("xor");
        let n = it.by_ref().count();
        assert!(n < 3);
        assert!(matches!(it.err(), Some(ChunkError::Truncated { .. })));
    }

    #[test]
    fn appender_snapshot_is_readable_mid_way() {
        let mut a = XorAppender::new();
        a.append(10, 1.0);
        a.append(20, 2.0);
        assert_eq!(decode(&a.to_chunk()).len(), 2);
        a.append(35, 3.0);
        assert_eq!(decode(&a.to_chunk()).len(), 3);
    }

    proptest! {
        #[test]
        fn round_trips(start in -1_000_000_000_000i64..1_000_000_000_000, deltas in prop::collection::vec(1i64..10_000_000, 0..130), vals in prop::collection::vec(any::<u64>(), 130)) {
            let mut t = start;
            let mut s = vec![Sample::new(t, f64::from_bits(vals[0]))];
            for (i, d) in deltas.iter().enumerate() {
                t += d;
                s.push(Sample::new(t, f64::from_bits(vals[i % vals.len()])));
            }
            prop_assert!(same(&decode(&encode_xor(&s)), &s));
        }

        #[test]
        fn garbage_never_panics(data in prop::collection::vec(any::<u8>(), 2..200)) {
            let c = Chunk::new(Encoding::Xor, Bytes::from(data)).expect("long enough");
            let _ = c.xor_iter().expect("xor").count();
        }
    }
}
