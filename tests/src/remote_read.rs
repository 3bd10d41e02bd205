//! Remote read as a client: builds `ReadRequest`s, and decodes both response types:
//! SAMPLES (one snappy `ReadResponse`) and STREAMED_XOR_CHUNKS (frames of uvarint length,
//! big-endian CRC32C of the payload, then a `ChunkedReadResponse`).

use std::collections::BTreeMap;

use anyhow::Context;
use prost::Message;
use strata_chunkenc::{Chunk, Encoding};
use strata_proto::prometheus::{
    chunk, label_matcher, read_request::ResponseType, ChunkedReadResponse, Label, LabelMatcher,
    Query, ReadRequest, ReadResponse,
};

use crate::api::{Auth, LabelSet};
use crate::write::snappy;
use crate::TimestampMs;

/// Per query: each series' labels and its `(t, v)` samples in time order.
pub type ReadResult = Vec<BTreeMap<LabelSet, Vec<(TimestampMs, f64)>>>;

/// An equality matcher.
pub fn eq(name: &str, value: &str) -> LabelMatcher {
    LabelMatcher {
        r#type: label_matcher::Type::Eq as i32,
        name: name.to_string(),
        value: value.to_string(),
    }
}

/// A regex matcher.
pub fn re(name: &str, value: &str) -> LabelMatcher {
    LabelMatcher {
        r#type: label_matcher::Type::Re as i32,
        name: name.to_string(),
        value: value.to_string(),
    }
}

/// One query over `[start, end]` with `matchers`.
pub fn query(start: TimestampMs, end: TimestampMs, matchers: Vec<LabelMatcher>) -> Query {
    Query {
        start_timestamp_ms: start,
        end_timestamp_ms: end,
        matchers,
        hints: None,
    }
}

/// A request accepting only `accepted` response types (empty: the server's default, SAMPLES).
pub fn request(queries: Vec<Query>, accepted: &[ResponseType]) -> ReadRequest {
    ReadRequest {
        queries,
        accepted_response_types: accepted.iter().map(|t| *t as i32).collect(),
    }
}

/// A raw remote read answer.
#[derive(Debug)]
pub struct ReadReply {
    /// The HTTP status.
    pub status: u16,
    /// `Content-Type`, if any.
    pub content_type: Option<String>,
    /// The body bytes.
    pub body: Vec<u8>,
}

/// POSTs a read request to `url` as `auth`, with the headers Prometheus sends.
pub async fn post(
    http: &reqwest::Client,
    url: &str,
    auth: &Auth,
    req: &ReadRequest,
) -> anyhow::Result<ReadReply> {
    let rb = http
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/x-protobuf")
        .header(reqwest::header::CONTENT_ENCODING, "snappy")
        .header("X-Prometheus-Remote-Read-Version", "0.1.0")
        .body(snappy(&req.encode_to_vec()));
    let resp = auth
        .apply(rb)
        .send()
        .await
        .with_context(|| format!("POST {url}"))?;
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = resp
        .bytes()
        .await
        .context("read remote read body")?
        .to_vec();
    Ok(ReadReply {
        status,
        content_type,
        body,
    })
}

fn labels_of(ls: &[Label]) -> LabelSet {
    ls.iter()
        .map(|l| (l.name.clone(), l.value.clone()))
        .collect()
}

/// Decodes a SAMPLES answer: a snappy-compressed `ReadResponse`.
pub fn decode_samples(body: &[u8]) -> anyhow::Result<ReadResult> {
    let raw = snap::raw::Decoder::new()
        .decompress_vec(body)
        .context("snappy-decode remote read response")?;
    let resp = ReadResponse::decode(raw.as_slice()).context("decode ReadResponse")?;
    resp.results
        .into_iter()
        .map(|qr| {
            let mut out = BTreeMap::new();
            for ts in qr.timeseries {
                let labels = labels_of(&ts.labels);
                let samples: Vec<_> = ts.samples.iter().map(|s| (s.timestamp, s.value)).collect();
                if out.insert(labels.clone(), samples).is_some() {
                    anyhow::bail!("series {labels:?} appears twice in one result");
                }
            }
            Ok(out)
        })
        .collect()
}

/// Decodes a STREAMED_XOR_CHUNKS body: checks every frame's CRC32C, joins the frames of a
/// series split across messages, and decodes the XOR chunks. Chunks hold whole chunk
/// contents, so samples outside the queried range may appear; callers filter.
pub fn decode_streamed(body: &[u8]) -> anyhow::Result<ReadResult> {
    let mut results: ReadResult = Vec::new();
    let mut rest = body;
    let mut frame = 0usize;
    while !rest.is_empty() {
        let (len, n) = read_uvarint(rest).with_context(|| format!("frame {frame}: bad length"))?;
        rest = &rest[n..];
        let len = usize::try_from(len).context("frame length")?;
        if rest.len() < 4 + len {
            anyhow::bail!("frame {frame}: {} bytes left, need {}", rest.len(), 4 + len);
        }
        let want_crc = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]);
        let data = &rest[4..4 + len];
        rest = &rest[4 + len..];
        let got_crc = crc32c(data);
        if got_crc != want_crc {
            anyhow::bail!("frame {frame}: CRC32C {got_crc:#010x}, header says {want_crc:#010x}");
        }
        let msg =
            ChunkedReadResponse::decode(data).with_context(|| format!("frame {frame}: decode"))?;
        let qi = usize::try_from(msg.query_index).context("query index")?;
        if results.len() <= qi {
            results.resize_with(qi + 1, BTreeMap::new);
        }
        for cs in msg.chunked_series {
            let samples = results[qi].entry(labels_of(&cs.labels)).or_default();
            for c in cs.chunks {
                if c.r#type != chunk::Encoding::Xor as i32 {
                    anyhow::bail!("frame {frame}: chunk encoding {} is not XOR", c.r#type);
                }
                let chunk = Chunk::new(Encoding::Xor, c.data).context("chunk header")?;
                let mut it = chunk.xor_iter().context("xor chunk")?;
                let before = samples.len();
                samples.extend(it.by_ref().map(|s| (s.t, s.v)));
                if let Some(e) = it.err() {
                    anyhow::bail!("frame {frame}: chunk decode: {e}");
                }
                let got = &samples[before..];
                if let (Some(first), Some(last)) = (got.first(), got.last()) {
                    if first.0 != c.min_time_ms || last.0 != c.max_time_ms {
                        anyhow::bail!(
                            "frame {frame}: chunk says [{}, {}], holds [{}, {}]",
                            c.min_time_ms,
                            c.max_time_ms,
                            first.0,
                            last.0
                        );
                    }
                }
            }
        }
        frame += 1;
    }
    Ok(results)
}

fn read_uvarint(b: &[u8]) -> anyhow::Result<(u64, usize)> {
    let mut x = 0u64;
    for (i, byte) in b.iter().enumerate().take(10) {
        x |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Ok((x, i + 1));
        }
    }
    anyhow::bail!("unterminated or overlong uvarint")
}

/// CRC-32C (Castagnoli), as Prometheus checksums remote read frames.
pub fn crc32c(data: &[u8]) -> u32 {
    const POLY: u32 = 0x82f6_3b78;
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ POLY
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata_proto::prometheus::{ChunkedSeries, QueryResult, Sample, TimeSeries};

    #[test]
    fn crc32c_matches_the_standard_check_value() {
        assert_eq!(crc32c(b"123456789"), 0xe306_9283);
    }

    fn frame(msg: &ChunkedReadResponse) -> Vec<u8> {
        let data = msg.encode_to_vec();
        let mut out = Vec::new();
        prost::encoding::encode_varint(data.len() as u64, &mut out);
        out.extend_from_slice(&crc32c(&data).to_be_bytes());
        out.extend_from_slice(&data);
        out
    }

    fn xor_chunk(samples: &[(i64, f64)]) -> strata_proto::prometheus::Chunk {
        let mut a = strata_chunkenc::XorAppender::new();
        for (t, v) in samples {
            a.append(*t, *v);
        }
        strata_proto::prometheus::Chunk {
            min_time_ms: samples[0].0,
            max_time_ms: samples[samples.len() - 1].0,
            r#type: chunk::Encoding::Xor as i32,
            data: a.into_chunk().bytes().clone(),
        }
    }

    #[test]
    fn decodes_streamed_frames_joining_split_series() {
        let labels = vec![Label {
            name: "__name__".into(),
            value: "m".into(),
        }];
        let part = |s: &[(i64, f64)]| ChunkedReadResponse {
            chunked_series: vec![ChunkedSeries {
                labels: labels.clone(),
                chunks: vec![xor_chunk(s)],
            }],
            query_index: 0,
        };
        let mut body = frame(&part(&[(1, 1.0), (2, 2.5)]));
        body.extend(frame(&part(&[(3, -1.0)])));
        let res = decode_streamed(&body).expect("decode");
        let got = &res[0][&labels_of(&labels)];
        assert_eq!(got, &vec![(1, 1.0), (2, 2.5), (3, -1.0)]);

        let mut bad = body.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert!(
            decode_streamed(&bad).is_err(),
            "a flipped bit fails the CRC"
        );
    }

    #[test]
    fn decodes_samples_responses() {
        let resp = ReadResponse {
            results: vec![QueryResult {
                timeseries: vec![TimeSeries {
                    labels: vec![Label {
                        name: "a".into(),
                        value: "b".into(),
                    }],
                    samples: vec![Sample {
                        value: 0.5,
                        timestamp: 7,
                    }],
                    exemplars: vec![],
                    histograms: vec![],
                }],
            }],
        };
        let res = decode_samples(&snappy(&resp.encode_to_vec())).expect("decode");
        assert_eq!(res.len(), 1);
        assert_eq!(res[0].values().next().expect("one series"), &vec![(7, 0.5)]);
    }
}
