//! Builders for write requests: valid series and the broken bodies the bad-input tests send.
//! Each broken body has a unit test proving it is broken in the way its name says.

use prost::Message;
use strata_proto::prometheus::{Label, Sample, TimeSeries, WriteRequest};
use strata_proto::write_v2 as v2;

pub use strata_proto::write_v2::metadata::MetricType;

use crate::write::snappy;
use crate::TimestampMs;

/// A series with `labels` sorted by name (stable, so duplicates stay as given; values are
/// not checked) and float samples `(t, v)`.
pub fn series(labels: &[(&str, &str)], samples: &[(TimestampMs, f64)]) -> TimeSeries {
    let mut labels = labels.to_vec();
    labels.sort_by(|a, b| a.0.cmp(b.0));
    TimeSeries {
        labels: labels
            .iter()
            .map(|(n, v)| Label {
                name: n.to_string(),
                value: v.to_string(),
            })
            .collect(),
        samples: samples
            .iter()
            .map(|(t, v)| Sample {
                value: *v,
                timestamp: *t,
            })
            .collect(),
        exemplars: vec![],
        histograms: vec![],
    }
}

/// A write request of `series`, without metadata.
pub fn write_request(series: Vec<TimeSeries>) -> WriteRequest {
    WriteRequest {
        timeseries: series,
        metadata: vec![],
    }
}

/// One series for [`v2_request`]: labels, samples, and optional type and help text.
pub type V2Series<'a> = (
    &'a [(&'a str, &'a str)],
    &'a [(TimestampMs, f64)],
    Option<(MetricType, &'a str)>,
);

/// A remote write 2.0 request: each series is `(labels, samples, metadata)`, labels
/// interned in one symbol table whose first entry is the empty string, as the spec asks.
pub fn v2_request(series: &[V2Series<'_>]) -> v2::Request {
    let mut symbols: Vec<String> = vec![String::new()];
    let mut intern = |s: &str| -> u32 {
        let i = symbols.iter().position(|x| x == s).unwrap_or_else(|| {
            symbols.push(s.to_string());
            symbols.len() - 1
        });
        u32::try_from(i).expect("test symbol tables are small")
    };
    let timeseries = series
        .iter()
        .map(|(labels, samples, meta)| {
            let mut labels = labels.to_vec();
            labels.sort_by(|a, b| a.0.cmp(b.0));
            let labels_refs = labels
                .iter()
                .flat_map(|(n, v)| [intern(n), intern(v)])
                .collect();
            let metadata = meta.map(|(t, help)| v2::Metadata {
                r#type: t as i32,
                help_ref: intern(help),
                unit_ref: 0,
            });
            v2::TimeSeries {
                labels_refs,
                samples: samples
                    .iter()
                    .map(|(t, v)| v2::Sample {
                        value: *v,
                        timestamp: *t,
                    })
                    .collect(),
                histograms: vec![],
                exemplars: vec![],
                metadata,
                created_timestamp: 0,
            }
        })
        .collect();
    v2::Request {
        symbols,
        timeseries,
    }
}

/// A body that is not snappy: its length preamble is an overlong varint.
pub fn not_snappy() -> Vec<u8> {
    let mut b = vec![0xff; 11];
    b.extend_from_slice(b"definitely not snappy");
    b
}

/// Valid snappy whose content is not a protobuf message (field 1 with wire type 7).
pub fn snappy_of_garbage() -> Vec<u8> {
    snappy(b"\x0f\x0f\x0f this is garbage, not protobuf")
}

/// A valid request's protobuf cut short inside a series, then snappy-compressed.
pub fn truncated_protobuf(valid: &WriteRequest) -> Vec<u8> {
    let bytes = valid.encode_to_vec();
    snappy(&bytes[..bytes.len() - 3])
}

/// A snappy block whose preamble declares `len` uncompressed bytes, followed by a few
/// literal bytes: a server must refuse it from the header alone.
pub fn snappy_declaring(len: u32) -> Vec<u8> {
    let mut out = Vec::new();
    let mut n = u64::from(len);
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
    // A literal of 4 bytes: tag (len-1)<<2.
    out.extend_from_slice(&[3 << 2, b'a', b'b', b'c', b'd']);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid() -> WriteRequest {
        write_request(vec![series(
            &[("__name__", "m"), ("job", "j")],
            &[(1000, 1.5), (2000, 2.5)],
        )])
    }

    #[test]
    fn broken_bodies_are_broken_as_named() {
        let mut d = snap::raw::Decoder::new();
        assert!(d.decompress_vec(&not_snappy()).is_err());

        let raw = d
            .decompress_vec(&snappy_of_garbage())
            .expect("valid snappy");
        assert!(WriteRequest::decode(raw.as_slice()).is_err());
        assert!(strata_proto::write_v2::Request::decode(raw.as_slice()).is_err());

        let raw = d
            .decompress_vec(&truncated_protobuf(&valid()))
            .expect("valid snappy");
        assert!(WriteRequest::decode(raw.as_slice()).is_err());

        let big = snappy_declaring(u32::MAX);
        assert_eq!(
            snap::raw::decompress_len(&big).expect("header"),
            u32::MAX as usize
        );

        assert!(d.decompress_vec(&[]).is_err());
    }

    #[test]
    fn v2_requests_intern_labels_in_one_symbol_table() {
        let req = v2_request(&[
            (
                &[("job", "j"), ("__name__", "m")],
                &[(1, 2.0)],
                Some((MetricType::Gauge, "help")),
            ),
            (&[("__name__", "m"), ("job", "k")], &[], None),
        ]);
        assert_eq!(req.symbols[0], "");
        let resolve = |refs: &[u32]| -> Vec<&str> {
            refs.iter()
                .map(|r| req.symbols[*r as usize].as_str())
                .collect()
        };
        assert_eq!(
            resolve(&req.timeseries[0].labels_refs),
            ["__name__", "m", "job", "j"]
        );
        assert_eq!(
            resolve(&req.timeseries[1].labels_refs),
            ["__name__", "m", "job", "k"]
        );
        assert_eq!(req.symbols.iter().filter(|s| *s == "m").count(), 1);
        let meta = req.timeseries[0].metadata.as_ref().expect("metadata");
        assert_eq!(req.symbols[meta.help_ref as usize], "help");
    }

    #[test]
    fn valid_requests_round_trip() {
        let req = valid();
        let raw = snap::raw::Decoder::new()
            .decompress_vec(&snappy(&req.encode_to_vec()))
            .expect("snappy");
        assert_eq!(WriteRequest::decode(raw.as_slice()).expect("decode"), req);
    }
}
