//! Remote write 1.0 decoded without copying: a hand-written walker over a `WriteRequest`
//! buffer that borrows every label string from it.
//!
//! prost's generated decoder allocates two `String`s per label of every series; at ~15 labels
//! per series that dominates the cost of a push. [`decode_write_request`] instead fills a
//! [`FlatWriteRequest`]: all labels of all series in one `Vec` of `(name, value)` slices of
//! the buffer, all samples in another, and per series the ranges of its labels and samples.
//! A request of any size costs three allocations.
//!
//! The walker covers what remote write 1.0 senders send on the hot path: series with labels
//! and float samples. It answers [`NotFlat`] whenever it meets anything else (exemplars,
//! native histograms, metadata, groups) or anything malformed (bad varints, wrong wire
//! types, truncation, invalid UTF-8). The caller then decodes the same buffer with prost,
//! which either gives the full message or the error text clients already get. So wherever
//! the walker succeeds, prost decodes the buffer to the same series (the fuzz target
//! `remote_write` checks this), and wherever it does not, nothing changes.

use std::ops::Range;

/// A float sample as remote write carries it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FlatSample {
    /// Milliseconds since the epoch.
    pub timestamp: i64,
    /// The value.
    pub value: f64,
}

/// One series of a [`FlatWriteRequest`]: where its labels and samples are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlatSeries {
    /// Range in [`FlatWriteRequest::labels`].
    pub labels: Range<usize>,
    /// Range in [`FlatWriteRequest::samples`].
    pub samples: Range<usize>,
}

/// The series of a remote write 1.0 request, labels borrowed from the request buffer.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FlatWriteRequest<'a> {
    /// Every series' labels as `(name, value)`, series after series, in wire order.
    pub labels: Vec<(&'a str, &'a str)>,
    /// Every series' samples, series after series, in wire order.
    pub samples: Vec<FlatSample>,
    /// The series, in wire order.
    pub series: Vec<FlatSeries>,
}

impl<'a> FlatWriteRequest<'a> {
    /// The labels of `s`.
    pub fn series_labels(&self, s: &FlatSeries) -> &[(&'a str, &'a str)] {
        &self.labels[s.labels.clone()]
    }

    /// The samples of `s`.
    pub fn series_samples(&self, s: &FlatSeries) -> &[FlatSample] {
        &self.samples[s.samples.clone()]
    }

    /// Every series as `(labels, samples)`, in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&[(&'a str, &'a str)], &[FlatSample])> {
        self.series
            .iter()
            .map(|s| (self.series_labels(s), self.series_samples(s)))
    }

    /// The number of samples held by the series still listed.
    pub fn num_samples(&self) -> usize {
        self.series.iter().map(|s| s.samples.len()).sum()
    }
}

/// The buffer is not a plain float-only `WriteRequest` the walker decodes, or not a valid
/// one: decode it with prost instead.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NotFlat;

const WIRE_VARINT: u64 = 0;
const WIRE_FIXED64: u64 = 1;
const WIRE_LEN: u64 = 2;
const WIRE_FIXED32: u64 = 5;

/// A cursor over one message's bytes.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    fn done(&self) -> bool {
        self.pos >= self.buf.len()
    }

    /// A varint as prost reads it: at most 10 bytes, the 10th at most 1.
    #[inline]
    fn varint(&mut self) -> Result<u64, NotFlat> {
        // Tags and short lengths: one byte.
        if let Some(&b) = self.buf.get(self.pos) {
            if b < 0x80 {
                self.pos += 1;
                return Ok(u64::from(b));
            }
        }
        self.varint_slow()
    }

    fn varint_slow(&mut self) -> Result<u64, NotFlat> {
        let mut v: u64 = 0;
        for i in 0..10 {
            let b = *self.buf.get(self.pos).ok_or(NotFlat)?;
            self.pos += 1;
            if i == 9 && b > 1 {
                return Err(NotFlat);
            }
            v |= u64::from(b & 0x7f) << (7 * i);
            if b < 0x80 {
                return Ok(v);
            }
        }
        Err(NotFlat)
    }

    /// A field key: `(field number, wire type)`; field 0 and numbers past `u32` are errors.
    fn key(&mut self) -> Result<(u64, u64), NotFlat> {
        let k = self.varint()?;
        if k > u64::from(u32::MAX) || (k >> 3) == 0 {
            return Err(NotFlat);
        }
        Ok((k >> 3, k & 7))
    }

    fn bytes(&mut self, n: usize) -> Result<&'a [u8], NotFlat> {
        let end = self.pos.checked_add(n).ok_or(NotFlat)?;
        let out = self.buf.get(self.pos..end).ok_or(NotFlat)?;
        self.pos = end;
        Ok(out)
    }

    /// A length-delimited field's payload.
    fn len_delimited(&mut self) -> Result<&'a [u8], NotFlat> {
        let n = usize::try_from(self.varint()?).map_err(|_| NotFlat)?;
        self.bytes(n)
    }

    /// A length-delimited field's payload, as a range of the buffer.
    fn len_delimited_range(&mut self) -> Result<Range<usize>, NotFlat> {
        let n = self.len_delimited()?.len();
        Ok(self.pos - n..self.pos)
    }

    fn fixed64(&mut self) -> Result<u64, NotFlat> {
        let b = self.bytes(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    /// Skips a field of an unknown number (groups are left to prost).
    fn skip(&mut self, wire: u64) -> Result<(), NotFlat> {
        match wire {
            WIRE_VARINT => self.varint().map(drop),
            WIRE_FIXED64 => self.bytes(8).map(drop),
            WIRE_LEN => self.len_delimited().map(drop),
            WIRE_FIXED32 => self.bytes(4).map(drop),
            _ => Err(NotFlat),
        }
    }
}

/// Decodes a remote write 1.0 `WriteRequest` holding only series with labels and float
/// samples, borrowing the label strings from `buf`. Any other content, or any malformed
/// input, is [`NotFlat`] (see the module docs).
pub fn decode_write_request(buf: &[u8]) -> Result<FlatWriteRequest<'_>, NotFlat> {
    // Rough guesses from real requests (~40 bytes per label, ~600 per series), so a typical
    // request allocates each vector once.
    let mut out = FlatWriteRequest {
        labels: Vec::with_capacity(buf.len() / 32 + 1),
        samples: Vec::with_capacity(buf.len() / 512 + 1),
        series: Vec::with_capacity(buf.len() / 512 + 1),
    };
    let mut r = Reader::new(buf);
    while !r.done() {
        match r.key()? {
            (1, WIRE_LEN) => {
                let ts = r.len_delimited()?;
                decode_series(ts, &mut out)?;
            }
            // Timeseries with another wire type, or metadata: prost's business.
            (1 | 3, _) => return Err(NotFlat),
            (_, wire) => r.skip(wire)?,
        }
    }
    Ok(out)
}

fn decode_series<'a>(buf: &'a [u8], out: &mut FlatWriteRequest<'a>) -> Result<(), NotFlat> {
    let (labels_start, samples_start) = (out.labels.len(), out.samples.len());
    let mut r = Reader::new(buf);
    while !r.done() {
        match r.key()? {
            (1, WIRE_LEN) => {
                let l = r.len_delimited()?;
                out.labels.push(decode_label(l)?);
            }
            (2, WIRE_LEN) => {
                let s = r.len_delimited()?;
                out.samples.push(decode_sample(s)?);
            }
            // Labels or samples with another wire type, exemplars, histograms.
            (1..=4, _) => return Err(NotFlat),
            (_, wire) => r.skip(wire)?,
        }
    }
    out.series.push(FlatSeries {
        labels: labels_start..out.labels.len(),
        samples: samples_start..out.samples.len(),
    });
    Ok(())
}

fn decode_label(buf: &[u8]) -> Result<(&str, &str), NotFlat> {
    // Tags and lengths below 128 are ASCII, so a label message is usually valid UTF-8 as a
    // whole: one check covers every string in it. A slice of valid UTF-8 is valid exactly
    // when it starts and ends on char boundaries, which `str::get` checks, for every
    // occurrence of a field (prost checks overwritten ones too).
    let Ok(whole) = std::str::from_utf8(buf) else {
        return decode_label_checked(buf);
    };
    let (mut name, mut value) = ("", "");
    let mut r = Reader::new(buf);
    while !r.done() {
        match r.key()? {
            (1, WIRE_LEN) => name = whole.get(r.len_delimited_range()?).ok_or(NotFlat)?,
            (2, WIRE_LEN) => value = whole.get(r.len_delimited_range()?).ok_or(NotFlat)?,
            (1 | 2, _) => return Err(NotFlat),
            (_, wire) => r.skip(wire)?,
        }
    }
    Ok((name, value))
}

/// [`decode_label`] checking each string field (every occurrence, as prost does) on its own.
fn decode_label_checked(buf: &[u8]) -> Result<(&str, &str), NotFlat> {
    fn text(b: &[u8]) -> Result<&str, NotFlat> {
        std::str::from_utf8(b).map_err(|_| NotFlat)
    }
    let (mut name, mut value) = ("", "");
    let mut r = Reader::new(buf);
    while !r.done() {
        match r.key()? {
            (1, WIRE_LEN) => name = text(r.len_delimited()?)?,
            (2, WIRE_LEN) => value = text(r.len_delimited()?)?,
            (1 | 2, _) => return Err(NotFlat),
            (_, wire) => r.skip(wire)?,
        }
    }
    Ok((name, value))
}

fn decode_sample(buf: &[u8]) -> Result<FlatSample, NotFlat> {
    let mut s = FlatSample {
        timestamp: 0,
        value: 0.0,
    };
    let mut r = Reader::new(buf);
    while !r.done() {
        match r.key()? {
            (1, WIRE_FIXED64) => s.value = f64::from_bits(r.fixed64()?),
            (2, WIRE_VARINT) => s.timestamp = r.varint()? as i64,
            (1 | 2, _) => return Err(NotFlat),
            (_, wire) => r.skip(wire)?,
        }
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prometheus::{
        Exemplar, Histogram, Label, MetricMetadata, Sample, TimeSeries, WriteRequest,
    };
    use prost::Message as _;

    fn label(n: &str, v: &str) -> Label {
        Label {
            name: n.into(),
            value: v.into(),
        }
    }

    fn series(labels: &[(&str, &str)], samples: &[(i64, f64)]) -> TimeSeries {
        TimeSeries {
            labels: labels.iter().map(|(n, v)| label(n, v)).collect(),
            samples: samples
                .iter()
                .map(|&(timestamp, value)| Sample { value, timestamp })
                .collect(),
            ..Default::default()
        }
    }

    /// The flat form back as prost's message, to compare with prost's own decode.
    fn to_prost(f: &FlatWriteRequest<'_>) -> WriteRequest {
        WriteRequest {
            timeseries: f
                .iter()
                .map(|(l, s)| {
                    series(
                        l,
                        &s.iter().map(|s| (s.timestamp, s.value)).collect::<Vec<_>>(),
                    )
                })
                .collect(),
            metadata: vec![],
        }
    }

    #[test]
    fn decodes_what_prost_encodes() {
        let req = WriteRequest {
            timeseries: vec![
                series(
                    &[("__name__", "up"), ("job", "node"), ("empty", "")],
                    &[(1, 1.0), (2, -0.5), (-3, f64::INFINITY)],
                ),
                series(&[], &[]),
                series(&[("__name__", "ünïcödé")], &[(i64::MIN, 0.0)]),
            ],
            metadata: vec![],
        };
        let buf = req.encode_to_vec();
        let flat = decode_write_request(&buf).expect("flat");
        assert_eq!(flat.series.len(), 3);
        assert_eq!(flat.num_samples(), 4);
        assert_eq!(
            flat.series_labels(&flat.series[0]),
            &[("__name__", "up"), ("job", "node"), ("empty", "")]
        );
        assert_eq!(to_prost(&flat), req);
        assert_eq!(
            decode_write_request(&[]).expect("empty"),
            FlatWriteRequest::default()
        );
    }

    #[test]
    fn other_content_is_not_flat() {
        let mut with_exemplar = series(&[("__name__", "a")], &[(1, 1.0)]);
        with_exemplar.exemplars.push(Exemplar::default());
        let mut with_histogram = series(&[("__name__", "a")], &[]);
        with_histogram.histograms.push(Histogram::default());
        for req in [
            WriteRequest {
                timeseries: vec![with_exemplar],
                metadata: vec![],
            },
            WriteRequest {
                timeseries: vec![with_histogram],
                metadata: vec![],
            },
            WriteRequest {
                timeseries: vec![],
                metadata: vec![MetricMetadata::default()],
            },
        ] {
            let buf = req.encode_to_vec();
            assert_eq!(decode_write_request(&buf), Err(NotFlat), "{req:?}");
            assert!(WriteRequest::decode(&buf[..]).is_ok());
        }
    }

    #[test]
    fn malformed_input_is_not_flat() {
        let buf = WriteRequest {
            timeseries: vec![series(&[("__name__", "some_metric")], &[(1, 1.0)])],
            metadata: vec![],
        }
        .encode_to_vec();
        for cut in 1..buf.len() {
            assert_eq!(decode_write_request(&buf[..cut]), Err(NotFlat), "cut {cut}");
        }
        // Invalid UTF-8 in a label value.
        let mut bad = buf.clone();
        let at = bad
            .windows(11)
            .position(|w| w == b"some_metric")
            .expect("value");
        bad[at] = 0xff;
        assert_eq!(decode_write_request(&bad), Err(NotFlat));
        assert!(WriteRequest::decode(&bad[..]).is_err());
        // Field 0, and an over-long varint.
        assert_eq!(decode_write_request(&[0x00]), Err(NotFlat));
        assert_eq!(
            decode_write_request(&[
                0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02
            ]),
            Err(NotFlat)
        );
    }

    #[test]
    fn every_string_occurrence_is_checked() {
        // Label { 1: "\xff", 1: "a", 2: "b" }: prost refuses the first name.
        let label = [0x0a, 1, 0xff, 0x0a, 1, b'a', 0x12, 1, b'b'];
        let mut buf = vec![0x0a, label.len() as u8 + 2, 0x0a, label.len() as u8];
        buf.extend_from_slice(&label);
        assert!(WriteRequest::decode(&buf[..]).is_err());
        assert_eq!(decode_write_request(&buf), Err(NotFlat));
        // Label { 1: "\xc3", 17: "\x01A", 1: "a" }: valid UTF-8 as a whole ("\xc3\x8a" is
        // a character), but the first name alone is not, and prost refuses it.
        let label = [0x0a, 1, 0xc3, 0x8a, 0x01, 1, b'A', 0x0a, 1, b'a'];
        assert!(std::str::from_utf8(&label).is_ok());
        let mut buf = vec![0x0a, label.len() as u8 + 2, 0x0a, label.len() as u8];
        buf.extend_from_slice(&label);
        assert!(WriteRequest::decode(&buf[..]).is_err());
        assert_eq!(decode_write_request(&buf), Err(NotFlat));
        // A binary unknown field makes the message invalid UTF-8 as a whole; the strings
        // are still checked one by one.
        let label = [0x0a, 1, b'a', 0x3a, 1, 0xff, 0x12, 1, b'b'];
        let mut buf = vec![0x0a, label.len() as u8 + 2, 0x0a, label.len() as u8];
        buf.extend_from_slice(&label);
        let flat = decode_write_request(&buf).expect("flat");
        assert_eq!(flat.labels, vec![("a", "b")]);
        assert_eq!(
            to_prost(&flat),
            WriteRequest::decode(&buf[..]).expect("prost")
        );
    }

    #[test]
    fn unknown_fields_are_skipped_and_last_scalar_wins() {
        // WriteRequest { 9: varint 5, 1: TimeSeries { 1: Label { 1: "a", 2: "b", 1: "c",
        // 7: fixed32 }, 2: Sample { 2: 7, 1: 1.5, 2: 8 }, 6: fixed64 } }
        let mut label = vec![
            0x0a, 1, b'a', 0x12, 1, b'b', 0x0a, 1, b'c', 0x3d, 0, 0, 0, 0,
        ];
        let mut sample = vec![0x10, 7, 0x09];
        sample.extend_from_slice(&1.5f64.to_le_bytes());
        sample.extend_from_slice(&[0x10, 8]);
        let mut ts = vec![0x0a, label.len() as u8];
        ts.append(&mut label);
        ts.extend_from_slice(&[0x12, sample.len() as u8]);
        ts.append(&mut sample);
        ts.extend_from_slice(&[0x31, 1, 2, 3, 4, 5, 6, 7, 8]);
        let mut buf = vec![0x48, 5, 0x0a, ts.len() as u8];
        buf.extend_from_slice(&ts);
        let flat = decode_write_request(&buf).expect("flat");
        let prost = WriteRequest::decode(&buf[..]).expect("prost");
        assert_eq!(to_prost(&flat), prost);
        assert_eq!(flat.labels, vec![("c", "b")]);
        assert_eq!(
            flat.samples,
            vec![FlatSample {
                timestamp: 8,
                value: 1.5
            }]
        );
    }

    proptest::proptest! {
        /// Wherever the walker decodes a (possibly damaged) encoding, prost decodes it to
        /// the same series.
        #[test]
        fn agrees_with_prost_on_damaged_encodings(
            series_spec in proptest::collection::vec(
                (
                    proptest::collection::vec(("[a-z_]{0,6}", "[a-zé0-9]{0,6}"), 0..5),
                    proptest::collection::vec((proptest::num::i64::ANY, -1e9f64..1e9), 0..3),
                ),
                0..4,
            ),
            edits in proptest::collection::vec((proptest::num::usize::ANY, proptest::num::u8::ANY), 0..3),
            cut in proptest::option::of(proptest::num::usize::ANY),
        ) {
            let req = WriteRequest {
                timeseries: series_spec
                    .iter()
                    .map(|(labels, samples)| {
                        let labels: Vec<(&str, &str)> =
                            labels.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
                        series(&labels, samples)
                    })
                    .collect(),
                metadata: vec![],
            };
            let mut buf = req.encode_to_vec();
            let flat = decode_write_request(&buf).expect("undamaged");
            proptest::prop_assert_eq!(to_prost(&flat), req);
            if !buf.is_empty() {
                for (at, b) in edits {
                    let n = buf.len();
                    buf[at % n] = b;
                }
            }
            if let Some(c) = cut {
                buf.truncate(c % (buf.len() + 1));
            }
            if let Ok(flat) = decode_write_request(&buf) {
                let prost = WriteRequest::decode(&buf[..]);
                proptest::prop_assert!(prost.is_ok(), "prost refused what the walker took");
                let prost = prost.expect("checked");
                // Compare sample values by bits (a damaged double may be NaN).
                let bits = |r: &WriteRequest| -> Vec<(Vec<Label>, Vec<(i64, u64)>)> {
                    r.timeseries
                        .iter()
                        .map(|t| {
                            (
                                t.labels.clone(),
                                t.samples.iter().map(|s| (s.timestamp, s.value.to_bits())).collect(),
                            )
                        })
                        .collect()
                };
                proptest::prop_assert!(prost.metadata.is_empty());
                proptest::prop_assert!(prost
                    .timeseries
                    .iter()
                    .all(|t| t.exemplars.is_empty() && t.histograms.is_empty()));
                proptest::prop_assert_eq!(bits(&to_prost(&flat)), bits(&prost));
            }
        }
    }
}
