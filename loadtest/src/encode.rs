//! Remote write request encoding into reused buffers.
//!
//! Label sets never change between scrapes, so they are encoded once: remote write 1.0 copies
//! each series' pre-encoded `labels` field (`Series::rw1_labels`); remote write 2.0 keeps a
//! per-request symbol table and `labels_refs` built once per request layout (`Rw2Layout`) and
//! rebuilt only when churn changes a host in it. Per scrape only the `Sample` is encoded, with
//! prost's field encoders, into a `Vec` that is cleared, never freed; snappy (block format, as
//! the spec requires) compresses into a second reused `Vec`.

use std::collections::HashMap;

use prost::encoding::{encode_key, encode_varint, WireType};
use strata_model::Labels;
use strata_proto::prometheus::Sample as Rw1Sample;
use strata_proto::write_v2;

use crate::error::Result;
use crate::host::MetricKind;

/// The remote write protocol version to speak.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// Remote write 1.0, `prometheus.WriteRequest`.
    Rw1,
    /// Remote write 2.0, `io.prometheus.write.v2.Request`.
    Rw2,
}

impl Protocol {
    /// The `Content-Type` header value.
    pub fn content_type(self) -> &'static str {
        match self {
            Protocol::Rw1 => "application/x-protobuf",
            Protocol::Rw2 => "application/x-protobuf;proto=io.prometheus.write.v2.Request",
        }
    }

    /// The `X-Prometheus-Remote-Write-Version` header value.
    pub fn version_header(self) -> &'static str {
        match self {
            Protocol::Rw1 => "0.1.0",
            Protocol::Rw2 => "2.0.0",
        }
    }

    /// Name used in reports: `rw1` or `rw2`.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Rw1 => "rw1",
            Protocol::Rw2 => "rw2",
        }
    }
}

/// A request's remote write 2.0 symbol table and every series' `labels_refs`, pre-encoded.
#[derive(Clone, Debug, Default)]
pub struct Rw2Layout {
    /// `symbols` (repeated field 4), starting with the empty string as the spec requires.
    symbols: Vec<u8>,
    /// Concatenated `labels_refs` fields (packed field 1), one per series.
    refs: Vec<u8>,
    /// `refs[ends[i-1]..ends[i]]` belongs to series `i`.
    ends: Vec<u32>,
}

impl Rw2Layout {
    /// Builds the layout for series with these label sets, in request order.
    pub fn build(labels: impl IntoIterator<Item = Labels>) -> Self {
        let mut index: HashMap<String, u32> = HashMap::new();
        let mut sym = Vec::new();
        let mut next: u32 = 0;
        let mut intern = |s: &str, sym: &mut Vec<u8>| -> u32 {
            if let Some(r) = index.get(s) {
                return *r;
            }
            prost::encoding::string::encode(4, &s.to_string(), sym);
            index.insert(s.to_string(), next);
            next += 1;
            next - 1
        };
        intern("", &mut sym);
        let mut refs = Vec::new();
        let mut ends = Vec::new();
        let mut one: Vec<u32> = Vec::with_capacity(64);
        for ls in labels {
            one.clear();
            for l in ls.iter() {
                one.push(intern(&l.name, &mut sym));
                one.push(intern(&l.value, &mut sym));
            }
            prost::encoding::uint32::encode_packed(1, &one, &mut refs);
            ends.push(refs.len() as u32);
        }
        Self {
            symbols: sym,
            refs,
            ends,
        }
    }

    /// Number of series the layout covers.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Tells whether the layout covers no series.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    fn refs_of(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.refs[start..self.ends[i] as usize]
    }
}

/// Builds one request at a time into reused buffers; see the module docs.
pub struct RequestEncoder {
    protocol: Protocol,
    raw: Vec<u8>,
    compressed: Vec<u8>,
    snappy: snap::raw::Encoder,
    series: usize,
    metadata: [Vec<u8>; 3],
}

impl RequestEncoder {
    /// An encoder for `protocol`.
    pub fn new(protocol: Protocol) -> Self {
        let meta = |t: write_v2::metadata::MetricType| {
            let mut b = Vec::new();
            let m = write_v2::Metadata {
                r#type: t as i32,
                help_ref: 0,
                unit_ref: 0,
            };
            prost::encoding::message::encode(5, &m, &mut b);
            b
        };
        use write_v2::metadata::MetricType as T;
        Self {
            protocol,
            raw: Vec::with_capacity(1 << 20),
            compressed: Vec::new(),
            snappy: snap::raw::Encoder::new(),
            series: 0,
            metadata: [meta(T::Counter), meta(T::Gauge), meta(T::Histogram)],
        }
    }

    /// The protocol this encoder writes.
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// Starts a new request; for remote write 2.0 `layout` supplies the symbol table.
    pub fn begin(&mut self, layout: Option<&Rw2Layout>) {
        self.raw.clear();
        self.series = 0;
        if let (Protocol::Rw2, Some(l)) = (self.protocol, layout) {
            self.raw.extend_from_slice(&l.symbols);
        }
    }

    /// Appends one remote write 1.0 series with a single sample.
    pub fn push_rw1(&mut self, rw1_labels: &[u8], t: i64, v: f64) {
        let sample = Rw1Sample {
            value: v,
            timestamp: t,
        };
        let sample_len = prost::encoding::message::encoded_len(2, &sample);
        let len = rw1_labels.len() + sample_len;
        encode_key(1, WireType::LengthDelimited, &mut self.raw);
        encode_varint(len as u64, &mut self.raw);
        self.raw.extend_from_slice(rw1_labels);
        prost::encoding::message::encode(2, &sample, &mut self.raw);
        self.series += 1;
    }

    /// Appends series `i` of `layout` (remote write 2.0) with a single sample and its type.
    pub fn push_rw2(&mut self, layout: &Rw2Layout, i: usize, kind: MetricKind, t: i64, v: f64) {
        let refs = layout.refs_of(i);
        let sample = write_v2::Sample {
            value: v,
            timestamp: t,
        };
        let meta = &self.metadata[match kind {
            MetricKind::Counter => 0,
            MetricKind::Gauge => 1,
            MetricKind::Histogram => 2,
        }];
        let len = refs.len() + prost::encoding::message::encoded_len(2, &sample) + meta.len();
        encode_key(5, WireType::LengthDelimited, &mut self.raw);
        encode_varint(len as u64, &mut self.raw);
        self.raw.extend_from_slice(refs);
        prost::encoding::message::encode(2, &sample, &mut self.raw);
        self.raw.extend_from_slice(meta);
        self.series += 1;
    }

    /// Series appended since `begin`.
    pub fn series(&self) -> usize {
        self.series
    }

    /// The uncompressed protobuf of the current request.
    pub fn raw(&self) -> &[u8] {
        &self.raw
    }

    /// Snappy-compresses the current request and returns the body to send.
    pub fn finish(&mut self) -> Result<&[u8]> {
        let max = snap::raw::max_compress_len(self.raw.len());
        if self.compressed.len() < max {
            self.compressed.resize(max, 0);
        }
        let n = self.snappy.compress(&self.raw, &mut self.compressed)?;
        Ok(&self.compressed[..n])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::{Host, HostParams};
    use prost::Message as _;

    fn hosts() -> (HostParams, Vec<Host>) {
        let p = HostParams {
            seed: 3,
            extra_labels: 10,
            reset_prob: 0.0,
            interval_ms: 15_000,
        };
        let mut hs: Vec<Host> = (0..3).map(|i| Host::new(&p, i, 0, 1000)).collect();
        for h in &mut hs {
            h.advance(1_700_000_000_000, &p);
        }
        (p, hs)
    }

    #[test]
    fn rw1_round_trips_through_snappy_and_prost() {
        let (_, hs) = hosts();
        let mut enc = RequestEncoder::new(Protocol::Rw1);
        enc.begin(None);
        for h in &hs {
            for (s, v) in h.series().iter().zip(h.values()) {
                enc.push_rw1(&s.rw1_labels, h.timestamp(), *v);
            }
        }
        let body = enc.finish().expect("compress").to_vec();
        let raw = snap::raw::Decoder::new()
            .decompress_vec(&body)
            .expect("decompress");
        let req = strata_proto::prometheus::WriteRequest::decode(raw.as_slice()).expect("decode");
        let all: Vec<(&Host, usize)> = hs
            .iter()
            .flat_map(|h| (0..h.series().len()).map(move |i| (h, i)))
            .collect();
        assert_eq!(req.timeseries.len(), all.len());
        for (ts, (h, i)) in req.timeseries.iter().zip(all) {
            let got: Vec<(&str, &str)> = ts
                .labels
                .iter()
                .map(|l| (l.name.as_str(), l.value.as_str()))
                .collect();
            let want_labels = h.series()[i].labels();
            let want: Vec<(&str, &str)> = want_labels
                .iter()
                .map(|l| (l.name.as_str(), l.value.as_str()))
                .collect();
            assert_eq!(got, want);
            assert_eq!(ts.samples.len(), 1);
            assert_eq!(ts.samples[0].timestamp, h.timestamp());
            assert_eq!(ts.samples[0].value.to_bits(), h.values()[i].to_bits());
        }
    }

    #[test]
    fn rw2_round_trips_through_snappy_and_prost() {
        let (_, hs) = hosts();
        let layout = Rw2Layout::build(
            hs.iter()
                .flat_map(|h| h.series().iter().map(|s| s.labels())),
        );
        let mut enc = RequestEncoder::new(Protocol::Rw2);
        enc.begin(Some(&layout));
        let mut i = 0;
        for h in &hs {
            for (s, v) in h.series().iter().zip(h.values()) {
                enc.push_rw2(&layout, i, s.kind, h.timestamp(), *v);
                i += 1;
            }
        }
        assert_eq!(layout.len(), i);
        let body = enc.finish().expect("compress").to_vec();
        let raw = snap::raw::Decoder::new()
            .decompress_vec(&body)
            .expect("decompress");
        let req = write_v2::Request::decode(raw.as_slice()).expect("decode");
        assert_eq!(req.symbols.first().map(String::as_str), Some(""));
        let mut uniq = req.symbols.clone();
        uniq.sort();
        uniq.dedup();
        assert_eq!(uniq.len(), req.symbols.len(), "symbols are interned once");
        let mut k = 0;
        for h in &hs {
            for (s, v) in h.series().iter().zip(h.values()) {
                let ts = &req.timeseries[k];
                k += 1;
                let got: Vec<(&str, &str)> = ts
                    .labels_refs
                    .chunks(2)
                    .map(|p| {
                        (
                            req.symbols[p[0] as usize].as_str(),
                            req.symbols[p[1] as usize].as_str(),
                        )
                    })
                    .collect();
                let want_labels = s.labels();
                let want: Vec<(&str, &str)> = want_labels
                    .iter()
                    .map(|l| (l.name.as_str(), l.value.as_str()))
                    .collect();
                assert_eq!(got, want);
                assert_eq!(ts.samples.len(), 1);
                assert_eq!(ts.samples[0].timestamp, h.timestamp());
                assert_eq!(ts.samples[0].value.to_bits(), v.to_bits());
                let meta = ts.metadata.as_ref().expect("metadata");
                let want_type = match s.kind {
                    MetricKind::Counter => write_v2::metadata::MetricType::Counter,
                    MetricKind::Gauge => write_v2::metadata::MetricType::Gauge,
                    MetricKind::Histogram => write_v2::metadata::MetricType::Histogram,
                };
                assert_eq!(meta.r#type, want_type as i32);
            }
        }
        assert_eq!(k, req.timeseries.len());
    }

    #[test]
    fn buffers_are_reused_across_requests() {
        let (_, hs) = hosts();
        let mut enc = RequestEncoder::new(Protocol::Rw1);
        let mut sizes = Vec::new();
        for _ in 0..3 {
            enc.begin(None);
            for (s, v) in hs[0].series().iter().zip(hs[0].values()) {
                enc.push_rw1(&s.rw1_labels, hs[0].timestamp(), *v);
            }
            assert_eq!(enc.series(), hs[0].series().len());
            sizes.push(enc.raw().len());
            enc.finish().expect("compress");
        }
        assert!(sizes.windows(2).all(|w| w[0] == w[1]));
    }
}
