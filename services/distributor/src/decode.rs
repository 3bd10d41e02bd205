//! The wire layer of a push: header negotiation, snappy block decompression with a size cap
//! checked before allocating, and protobuf decoding. Pure functions, no I/O.

use http::HeaderMap;
use prost::Message as _;
use strata_proto::{prometheus::WriteRequest, write_v2};

use crate::error::PushError;

/// The `proto=` parameter naming remote write 1.0.
pub const PROTO_V1: &str = "prometheus.WriteRequest";
/// The `proto=` parameter naming remote write 2.0.
pub const PROTO_V2: &str = "io.prometheus.write.v2.Request";

/// Which remote-write message the body holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RemoteWriteVersion {
    /// `prometheus.WriteRequest` (remote write 1.0).
    V1,
    /// `io.prometheus.write.v2.Request` (remote write 2.0).
    V2,
}

/// Reads `Content-Type` and `Content-Encoding` the way Prometheus's receiver does: no
/// content type, or protobuf without `proto=`, is 1.0; anything unknown is a 415.
pub fn negotiate(headers: &HeaderMap) -> Result<RemoteWriteVersion, PushError> {
    if let Some(enc) = headers.get(http::header::CONTENT_ENCODING) {
        let text = enc.to_str().unwrap_or("");
        if !text.trim().eq_ignore_ascii_case("snappy") {
            return Err(PushError::UnsupportedContentEncoding(
                String::from_utf8_lossy(enc.as_bytes()).into_owned(),
            ));
        }
    }
    let Some(ct) = headers.get(http::header::CONTENT_TYPE) else {
        return Ok(RemoteWriteVersion::V1);
    };
    let unsupported =
        || PushError::UnsupportedContentType(String::from_utf8_lossy(ct.as_bytes()).into_owned());
    let text = ct.to_str().map_err(|_| unsupported())?;
    let mut parts = text.split(';');
    let media = parts.next().unwrap_or("").trim();
    if !media.eq_ignore_ascii_case("application/x-protobuf") {
        return Err(unsupported());
    }
    let mut version = RemoteWriteVersion::V1;
    for param in parts {
        let Some((key, value)) = param.split_once('=') else {
            continue;
        };
        if !key.trim().eq_ignore_ascii_case("proto") {
            continue;
        }
        let value = value.trim().trim_matches('"');
        version = match value {
            PROTO_V1 => RemoteWriteVersion::V1,
            PROTO_V2 => RemoteWriteVersion::V2,
            _ => return Err(unsupported()),
        };
    }
    Ok(version)
}

/// Decompresses a snappy block, refusing before any allocation when the header declares more
/// than `max_decompressed` bytes.
pub fn decompress(body: &[u8], max_decompressed: usize) -> Result<Vec<u8>, PushError> {
    if body.is_empty() {
        return Err(PushError::EmptyBody);
    }
    let declared = match snap::raw::decompress_len(body) {
        Ok(n) => n,
        // The header names a length past snappy's 4 GiB - 1 maximum: larger than any limit.
        Err(snap::Error::TooBig { given, .. }) => {
            return Err(PushError::DecompressedTooLarge {
                declared: given,
                limit: max_decompressed,
            })
        }
        Err(e) => return Err(PushError::Snappy(e.to_string())),
    };
    if declared > max_decompressed {
        return Err(PushError::DecompressedTooLarge {
            declared: declared as u64,
            limit: max_decompressed,
        });
    }
    let mut out = vec![0u8; declared];
    let n = snap::raw::Decoder::new()
        .decompress(body, &mut out)
        .map_err(|e| PushError::Snappy(e.to_string()))?;
    out.truncate(n);
    Ok(out)
}

/// Decodes a remote write 1.0 `WriteRequest`.
pub fn decode_v1(buf: &[u8]) -> Result<WriteRequest, PushError> {
    WriteRequest::decode(buf).map_err(|e| PushError::Decode {
        proto: PROTO_V1,
        reason: e.to_string(),
    })
}

/// Decodes a remote write 2.0 `Request` (symbols are resolved by [`crate::rw2`]).
pub fn decode_v2(buf: &[u8]) -> Result<write_v2::Request, PushError> {
    write_v2::Request::decode(buf).map_err(|e| PushError::Decode {
        proto: PROTO_V2,
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;
    use proptest::prelude::*;
    use strata_proto::prometheus::{Label, Sample, TimeSeries};

    fn headers(ct: Option<&str>, enc: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(ct) = ct {
            h.insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_str(ct).expect("header"),
            );
        }
        if let Some(enc) = enc {
            h.insert(
                http::header::CONTENT_ENCODING,
                HeaderValue::from_str(enc).expect("header"),
            );
        }
        h
    }

    fn snappy(buf: &[u8]) -> Vec<u8> {
        snap::raw::Encoder::new()
            .compress_vec(buf)
            .expect("compress")
    }

    #[test]
    fn negotiates_versions() {
        use RemoteWriteVersion::*;
        assert_eq!(negotiate(&headers(None, None)), Ok(V1));
        assert_eq!(
            negotiate(&headers(Some("application/x-protobuf"), Some("snappy"))),
            Ok(V1)
        );
        assert_eq!(
            negotiate(&headers(
                Some("application/x-protobuf;proto=prometheus.WriteRequest"),
                None
            )),
            Ok(V1)
        );
        assert_eq!(
            negotiate(&headers(
                Some("application/x-protobuf; proto=io.prometheus.write.v2.Request"),
                Some("snappy")
            )),
            Ok(V2)
        );
    }

    #[test]
    fn unknown_type_proto_or_encoding_is_415() {
        for ct in [
            "application/json",
            "text/plain",
            "application/x-protobuf;proto=foo.Bar",
        ] {
            let e = negotiate(&headers(Some(ct), None)).expect_err(ct);
            assert_eq!(e.status().as_u16(), 415, "{ct}");
        }
        for enc in ["gzip", "zstd", "identity"] {
            let e = negotiate(&headers(None, Some(enc))).expect_err(enc);
            assert_eq!(e.status().as_u16(), 415, "{enc}");
        }
    }

    #[test]
    fn empty_body_is_400() {
        let e = decompress(&[], 100).expect_err("empty");
        assert_eq!(e, PushError::EmptyBody);
        assert_eq!(e.status().as_u16(), 400);
    }

    #[test]
    fn not_snappy_is_400() {
        // A protobuf sent without compression: its first bytes read as a snappy header, but
        // the rest is not a valid block.
        let req = WriteRequest {
            timeseries: vec![TimeSeries {
                labels: vec![Label {
                    name: "__name__".into(),
                    value: "up".into(),
                }],
                samples: vec![Sample {
                    value: 1.0,
                    timestamp: 1,
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        let e = decompress(&req.encode_to_vec(), 1 << 20).expect_err("not snappy");
        assert!(matches!(e, PushError::Snappy(_)), "{e:?}");
        assert_eq!(e.status().as_u16(), 400);
        // A header varint that never ends.
        let e = decompress(&[0xff; 11], 1 << 20).expect_err("bad header");
        assert_eq!(e.status().as_u16(), 400, "{e:?}");
    }

    #[test]
    fn declared_length_over_limit_is_413_before_allocating() {
        // Varint 4 GiB: past snappy's own maximum.
        let mut body = vec![0x80, 0x80, 0x80, 0x80, 0x10];
        body.extend_from_slice(&[0; 8]);
        let e = decompress(&body, 100 << 20).expect_err("too big");
        assert_eq!(
            e,
            PushError::DecompressedTooLarge {
                declared: 1 << 32,
                limit: 100 << 20
            }
        );
        assert_eq!(e.status().as_u16(), 413);
        // Within snappy's range but over the configured limit (4 GiB - 1).
        let body = [0xff, 0xff, 0xff, 0xff, 0x0f, 0x00];
        let e = decompress(&body, 100 << 20).expect_err("over limit");
        assert_eq!(e.status().as_u16(), 413);
        // Exactly at the limit is fine.
        let payload = vec![7u8; 1000];
        assert_eq!(
            decompress(&snappy(&payload), 1000).expect("at limit"),
            payload
        );
        assert_eq!(
            decompress(&snappy(&payload), 999)
                .expect_err("over")
                .status()
                .as_u16(),
            413
        );
    }

    #[test]
    fn snappy_of_garbage_is_a_400_decode_error() {
        let buf = decompress(&snappy(b"this is not a protobuf"), 1 << 20).expect("snappy ok");
        let e = decode_v1(&buf).expect_err("garbage");
        assert!(
            matches!(
                e,
                PushError::Decode {
                    proto: PROTO_V1,
                    ..
                }
            ),
            "{e:?}"
        );
        assert_eq!(e.status().as_u16(), 400);
        assert!(
            e.to_string()
                .starts_with("decode prometheus.WriteRequest request: "),
            "{e}"
        );
        assert!(decode_v2(&buf).is_err());
    }

    #[test]
    fn truncated_protobuf_is_400() {
        let req = WriteRequest {
            timeseries: vec![TimeSeries {
                labels: vec![Label {
                    name: "__name__".into(),
                    value: "some_metric_name".into(),
                }],
                samples: vec![Sample {
                    value: 1.0,
                    timestamp: 1,
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        let full = req.encode_to_vec();
        assert_eq!(decode_v1(&full).expect("full"), req);
        let e = decode_v1(&full[..full.len() - 3]).expect_err("truncated");
        assert_eq!(e.status().as_u16(), 400);
    }

    proptest! {
        #[test]
        fn arbitrary_bodies_never_panic(body in proptest::collection::vec(any::<u8>(), 0..512)) {
            if let Ok(buf) = decompress(&body, 1 << 16) {
                let _ = decode_v1(&buf);
                if let Ok(req) = decode_v2(&buf) {
                    let _ = crate::rw2::convert(req);
                }
            }
            let _ = decode_v1(&body);
            if let Ok(req) = decode_v2(&body) {
                let _ = crate::rw2::convert(req);
            }
        }

        #[test]
        fn snappy_of_arbitrary_bytes_never_panics(raw in proptest::collection::vec(any::<u8>(), 0..512)) {
            let body = snappy(&raw);
            let buf = decompress(&body, 1 << 16);
            if raw.is_empty() {
                // Snappy of nothing is a one-byte header declaring 0 bytes.
                prop_assert!(buf.map(|b| b.is_empty()).unwrap_or(true));
            } else {
                let buf = buf.expect("valid snappy");
                prop_assert_eq!(&buf, &raw);
                let _ = decode_v1(&buf);
                if let Ok(req) = decode_v2(&buf) {
                    let _ = crate::rw2::convert(req);
                }
            }
        }
    }
}
