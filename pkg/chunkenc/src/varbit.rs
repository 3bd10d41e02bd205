//! Variable-bit-width integers and XOR-encoded floats for histogram chunks, as Prometheus's
//! `varbit.go` and `xorWrite`/`xorRead`.
//!
//! `<varbit_int>`: a prefix of up to eight 1-bits ended by a 0 (not written after eight 1s) picks
//! the payload width: `0` → value 0 (1 bit); `10` → 3 bits; `110` → 6; `1110` → 9; `11110` → 12;
//! `111110` → 18; `1111110` → 25; `11111110` → 56; `11111111` → 64. Signed payloads cover
//! `-(2^(n-1) - 1) ..= 2^(n-1)` (Prometheus's asymmetric range) in two's complement.
//! `<varbit_uint>` uses the same prefixes for `0 ..= 2^n - 1`.

use crate::bstream::{BitReader, BitWriter};

/// Payload widths for the prefixes `10`, `110`, ... `11111110`.
const WIDTHS: [u8; 7] = [3, 6, 9, 12, 18, 25, 56];

/// Tells whether `v` fits the signed `nbits` bucket, Prometheus's asymmetric range.
#[inline]
fn fits_signed(v: i64, nbits: u8) -> bool {
    -((1i64 << (nbits - 1)) - 1) <= v && v <= 1i64 << (nbits - 1)
}

/// Writes a signed varbit integer.
pub(crate) fn put_varbit_int(w: &mut BitWriter, v: i64) {
    if v == 0 {
        w.write_bit(false);
        return;
    }
    for (i, &n) in WIDTHS.iter().enumerate() {
        if fits_signed(v, n) {
            // Prefix: i+1 ones then a zero, i.e. i+2 bits.
            let prefix = ((1u64 << (i + 1)) - 1) << 1;
            w.write_bits(prefix, i as u8 + 2);
            w.write_bits(v as u64, n);
            return;
        }
    }
    w.write_bits(0xff, 8);
    w.write_bits(v as u64, 64);
}

/// Writes an unsigned varbit integer.
pub(crate) fn put_varbit_uint(w: &mut BitWriter, v: u64) {
    if v == 0 {
        w.write_bit(false);
        return;
    }
    for (i, &n) in WIDTHS.iter().enumerate() {
        if v >> n == 0 {
            let prefix = ((1u64 << (i + 1)) - 1) << 1;
            w.write_bits(prefix, i as u8 + 2);
            w.write_bits(v, n);
            return;
        }
    }
    w.write_bits(0xff, 8);
    w.write_bits(v, 64);
}

/// Reads the prefix; returns the payload width (0 for the value 0).
#[inline]
fn read_width(r: &mut BitReader<'_>) -> Option<u8> {
    let mut ones = 0usize;
    while ones < 8 {
        if !r.read_bit()? {
            break;
        }
        ones += 1;
    }
    Some(match ones {
        0 => 0,
        8 => 64,
        n => WIDTHS[n - 1],
    })
}

/// Reads a signed varbit integer.
pub(crate) fn read_varbit_int(r: &mut BitReader<'_>) -> Option<i64> {
    let n = read_width(r)?;
    match n {
        0 => Some(0),
        64 => Some(r.read_bits(64)? as i64),
        n => {
            let bits = r.read_bits(n)?;
            Some(if bits > 1 << (n - 1) {
                bits as i64 - (1i64 << n)
            } else {
                bits as i64
            })
        }
    }
}

/// Reads an unsigned varbit integer.
pub(crate) fn read_varbit_uint(r: &mut BitReader<'_>) -> Option<u64> {
    match read_width(r)? {
        0 => Some(0),
        n => r.read_bits(n),
    }
}

/// "No leading/trailing window yet", as Prometheus's `0xff`.
pub(crate) const NO_WINDOW: u8 = 0xff;

/// One XOR-encoded float stream: the last value and its leading/trailing-zero window.
#[derive(Clone, Copy, Debug)]
pub(crate) struct XorState {
    pub(crate) value: f64,
    pub(crate) leading: u8,
    pub(crate) trailing: u8,
}

impl XorState {
    /// The state of a writer that has written no XOR yet.
    pub(crate) fn writer(value: f64) -> Self {
        Self {
            value,
            leading: NO_WINDOW,
            trailing: 0,
        }
    }

    /// The state of a reader before its first XOR.
    pub(crate) fn reader(value: f64) -> Self {
        Self {
            value,
            leading: 0,
            trailing: 0,
        }
    }

    /// Writes `v` as the XOR with the last value (Gorilla encoding, as `xorWrite`).
    pub(crate) fn write(&mut self, w: &mut BitWriter, v: f64) {
        let delta = v.to_bits() ^ self.value.to_bits();
        self.value = v;
        if delta == 0 {
            w.write_bit(false);
            return;
        }
        w.write_bit(true);
        // Five bits hold the leading count.
        let leading = (delta.leading_zeros() as u8).min(31);
        let trailing = delta.trailing_zeros() as u8;
        if self.leading != NO_WINDOW && leading >= self.leading && trailing >= self.trailing {
            w.write_bit(false);
            w.write_bits(delta >> self.trailing, 64 - self.leading - self.trailing);
            return;
        }
        self.leading = leading;
        self.trailing = trailing;
        w.write_bit(true);
        w.write_bits(u64::from(leading), 5);
        let sig = 64 - leading - trailing;
        // 64 significant bits are written as 0; the reader maps 0 back to 64.
        w.write_bits(u64::from(sig), 6);
        w.write_bits(delta >> trailing, sig);
    }

    /// Reads the next value (as `xorRead`).
    pub(crate) fn read(&mut self, r: &mut BitReader<'_>) -> Option<f64> {
        if !r.read_bit()? {
            return Some(self.value);
        }
        if r.read_bit()? {
            let leading = r.read_bits(5)? as u8;
            let mut sig = r.read_bits(6)? as u8;
            if sig == 0 {
                sig = 64;
            }
            self.trailing = 64u8.checked_sub(leading + sig)?;
            self.leading = leading;
        }
        let sig = 64u8.checked_sub(self.leading.checked_add(self.trailing)?)?;
        let bits = if sig == 0 { 0 } else { r.read_bits(sig)? };
        let shifted = bits.checked_shl(u32::from(self.trailing)).unwrap_or(0);
        self.value = f64::from_bits(self.value.to_bits() ^ shifted);
        Some(self.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn bits_of(f: impl FnOnce(&mut BitWriter)) -> (Vec<u8>, usize) {
        let mut w = BitWriter::default();
        f(&mut w);
        let n = w.buf.len();
        (w.buf, n)
    }

    #[test]
    fn varbit_int_bucket_edges_match_prometheus_ranges() {
        // Each value sits at an edge of a bucket; the first byte shows the prefix chosen.
        let cases: [(i64, u8); 8] = [
            (4, 0b10),       // 3-bit payload covers -3..=4.
            (-3, 0b10),      //
            (5, 0b110),      // 6-bit payload covers -31..=32.
            (32, 0b110),     //
            (-31, 0b110),    //
            (33, 0b1110),    // 9-bit payload.
            (256, 0b1110),   //
            (2048, 0b11110), // 12-bit payload.
        ];
        for (v, prefix) in cases {
            let (buf, _) = bits_of(|w| put_varbit_int(w, v));
            let plen = 8 - prefix.leading_zeros() as u8;
            assert_eq!(buf[0] >> (8 - plen), prefix, "value {v}");
            let mut r = BitReader::new(&buf);
            assert_eq!(read_varbit_int(&mut r), Some(v));
        }
        // 0 is a single 0 bit.
        let (buf, n) = bits_of(|w| put_varbit_int(w, 0));
        assert_eq!((buf, n), (vec![0], 1));
        // 1 is 10 + 001: 0b10001 padded → 0x88.
        assert_eq!(bits_of(|w| put_varbit_int(w, 1)).0, vec![0x88]);
        // -1 is 10 + 111 → 0b10111000 = 0xb8.
        assert_eq!(bits_of(|w| put_varbit_int(w, -1)).0, vec![0xb8]);
    }

    proptest! {
        #[test]
        fn varbits_round_trip(vals in prop::collection::vec(any::<i64>(), 0..50), uvals in prop::collection::vec(any::<u64>(), 0..50), small in prop::collection::vec(-300i64..300, 0..50)) {
            let mut w = BitWriter::default();
            for &v in vals.iter().chain(&small) { put_varbit_int(&mut w, v); }
            for &v in &uvals { put_varbit_uint(&mut w, v); }
            let mut r = BitReader::new(&w.buf);
            for &v in vals.iter().chain(&small) { prop_assert_eq!(read_varbit_int(&mut r), Some(v)); }
            for &v in &uvals { prop_assert_eq!(read_varbit_uint(&mut r), Some(v)); }
        }

        #[test]
        fn xor_round_trips(vals in prop::collection::vec(any::<u64>(), 1..60)) {
            let mut w = BitWriter::default();
            let mut ws = XorState::writer(0.0);
            for &v in &vals { ws.write(&mut w, f64::from_bits(v)); }
            let mut r = BitReader::new(&w.buf);
            let mut rs = XorState::reader(0.0);
            for &v in &vals { prop_assert_eq!(rs.read(&mut r).map(f64::to_bits), Some(v)); }
        }

        #[test]
        fn garbage_never_panics(data in prop::collection::vec(any::<u8>(), 0..64)) {
            let mut r = BitReader::new(&data);
            let mut s = XorState::reader(1.0);
            while read_varbit_int(&mut r).is_some() && s.read(&mut r).is_some() && read_varbit_uint(&mut r).is_some() {}
        }
    }
}
