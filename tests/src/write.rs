//! Remote write pushes: a well-formed `WriteRequest` push, and raw pushes whose body and
//! headers the bad-input tests choose byte by byte.

use anyhow::Context;
use prost::Message;
use strata_proto::prometheus::WriteRequest;

use crate::api::{Auth, RawReply};

/// The `Content-Type` of remote write 2.0.
pub const V2_CONTENT_TYPE: &str = "application/x-protobuf;proto=io.prometheus.write.v2.Request";

/// A push with every part under the caller's control.
#[derive(Clone, Debug)]
pub struct RawPush {
    /// The body as sent.
    pub body: Vec<u8>,
    /// `Content-Type`, if any.
    pub content_type: Option<String>,
    /// `Content-Encoding`, if any.
    pub content_encoding: Option<String>,
    /// `X-Prometheus-Remote-Write-Version`, if any.
    pub version: Option<String>,
}

impl RawPush {
    /// A body with the headers Prometheus sends for remote write 1.0.
    pub fn v1(body: Vec<u8>) -> Self {
        Self {
            body,
            content_type: Some("application/x-protobuf".into()),
            content_encoding: Some("snappy".into()),
            version: Some("0.1.0".into()),
        }
    }

    /// Remote write 1.0 of `req`: protobuf, snappy block format.
    pub fn of(req: &WriteRequest) -> Self {
        Self::v1(snappy(&req.encode_to_vec()))
    }

    /// Remote write 2.0 of `req`, with the 2.0 content type and version header.
    pub fn of_v2(req: &strata_proto::write_v2::Request) -> Self {
        Self {
            body: snappy(&req.encode_to_vec()),
            content_type: Some(V2_CONTENT_TYPE.into()),
            content_encoding: Some("snappy".into()),
            version: Some("2.0.0".into()),
        }
    }
}

/// Compresses with snappy's block ("raw") format, as remote write does.
pub fn snappy(data: &[u8]) -> Vec<u8> {
    snap::raw::Encoder::new()
        .compress_vec(data)
        .expect("snappy compresses any input below 4 GiB")
}

/// POSTs `push` to `url` as `auth`.
pub async fn push_raw(
    http: &reqwest::Client,
    url: &str,
    auth: &Auth,
    push: RawPush,
) -> anyhow::Result<RawReply> {
    let mut rb = http.post(url).body(push.body);
    if let Some(ct) = &push.content_type {
        rb = rb.header(reqwest::header::CONTENT_TYPE, ct);
    }
    if let Some(ce) = &push.content_encoding {
        rb = rb.header(reqwest::header::CONTENT_ENCODING, ce);
    }
    if let Some(v) = &push.version {
        rb = rb.header("X-Prometheus-Remote-Write-Version", v);
    }
    let resp = auth
        .apply(rb)
        .send()
        .await
        .with_context(|| format!("POST {url}"))?;
    RawReply::read(resp)
        .await
        .with_context(|| format!("POST {url}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snappy_round_trips() {
        let data = b"remote write body".repeat(10);
        let c = snappy(&data);
        assert_eq!(
            snap::raw::Decoder::new()
                .decompress_vec(&c)
                .expect("decode"),
            data
        );
    }
}
