//! The remote-write receiver of the agent benchmark: decodes every remote write 1.0 request
//! (so it can count what arrived), keeps nothing but counts, and answers 204.
//!
//! Counts are kept per sender (the last path segment of `/write/<sender>`, so each scraper
//! writes to its own URL) and per sample timestamp: a scrape's samples all carry the scrape's
//! time, so the samples a sender scraped in a window are counted exactly, whenever its queue
//! delivers them. `up` samples of value 1 count successful scrapes; the other synthetic
//! series (`scrape_*`) are counted apart from the targets' own samples.

use std::collections::{BTreeMap, HashMap};

use parking_lot::Mutex;
use prost::Message as _;
use serde::Serialize;
use strata_proto::prometheus::WriteRequest;

/// Series a scraper adds to every scrape; every other name came from a target.
pub const SYNTHETIC: [&str; 5] = [
    "up",
    "scrape_duration_seconds",
    "scrape_samples_scraped",
    "scrape_samples_post_metric_relabeling",
    "scrape_series_added",
];

/// Prometheus's staleness marker.
const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

/// Samples of one timestamp (one scrape or a few scrapes of the same millisecond).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct WindowCounts {
    /// Samples of the targets' own series.
    pub target_samples: u64,
    /// Samples of the synthetic series (`up`, `scrape_*`).
    pub synthetic_samples: u64,
    /// `up` samples of value 1: successful scrapes.
    pub scrapes_ok: u64,
    /// `up` samples of value 0: failed scrapes.
    pub scrapes_failed: u64,
    /// Staleness markers.
    pub stale_markers: u64,
}

impl WindowCounts {
    fn add(&mut self, o: &WindowCounts) {
        self.target_samples += o.target_samples;
        self.synthetic_samples += o.synthetic_samples;
        self.scrapes_ok += o.scrapes_ok;
        self.scrapes_failed += o.scrapes_failed;
        self.stale_markers += o.stale_markers;
    }
}

/// Everything one sender has written.
#[derive(Debug, Default)]
struct Sender {
    requests: u64,
    body_bytes: u64,
    samples: u64,
    histograms: u64,
    metadata: u64,
    max_timestamp_ms: i64,
    by_time: BTreeMap<i64, WindowCounts>,
}

/// A sender's totals and its counts over a window of sample timestamps.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SenderReport {
    /// Requests accepted.
    pub requests: u64,
    /// Compressed request bytes.
    pub body_bytes: u64,
    /// Float samples, all timestamps.
    pub samples: u64,
    /// Native histogram samples, all timestamps.
    pub histograms: u64,
    /// Metadata entries.
    pub metadata: u64,
    /// The newest sample timestamp (ms), 0 before any.
    pub max_timestamp_ms: i64,
    /// Samples with `from_ms <= timestamp < to_ms`.
    pub window: WindowCounts,
}

/// Why a request was refused (400).
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// The body is not snappy block format.
    #[error("snappy: {0}")]
    Snappy(#[from] snap::Error),
    /// The body is not a remote write 1.0 `WriteRequest`.
    #[error("protobuf: {0}")]
    Decode(#[from] prost::DecodeError),
}

/// The counts of every sender.
#[derive(Debug, Default)]
pub struct Sink {
    senders: Mutex<HashMap<String, Sender>>,
}

impl Sink {
    /// Decodes one snappy-compressed remote write 1.0 body from `sender` and counts it.
    pub fn accept(&self, sender: &str, body: &[u8]) -> Result<(), SinkError> {
        let raw = snap::raw::Decoder::new().decompress_vec(body)?;
        let req = WriteRequest::decode(raw.as_slice())?;
        // Count outside the lock, then merge.
        let mut by_time: HashMap<i64, WindowCounts> = HashMap::new();
        let (mut samples, mut histograms, mut max_t) = (0u64, 0u64, 0i64);
        for ts in &req.timeseries {
            let name = ts
                .labels
                .iter()
                .find(|l| l.name == strata_model::METRIC_NAME)
                .map_or("", |l| l.value.as_str());
            let synthetic = SYNTHETIC.contains(&name);
            for s in &ts.samples {
                samples += 1;
                max_t = max_t.max(s.timestamp);
                let c = by_time.entry(s.timestamp).or_default();
                if s.value.to_bits() == STALE_NAN_BITS {
                    c.stale_markers += 1;
                    continue;
                }
                if !synthetic {
                    c.target_samples += 1;
                    continue;
                }
                c.synthetic_samples += 1;
                if name == "up" {
                    if s.value == 1.0 {
                        c.scrapes_ok += 1;
                    } else {
                        c.scrapes_failed += 1;
                    }
                }
            }
            histograms += ts.histograms.len() as u64;
        }
        let mut senders = self.senders.lock();
        let s = match senders.get_mut(sender) {
            Some(s) => s,
            None => senders.entry(sender.to_string()).or_default(),
        };
        s.requests += 1;
        s.body_bytes += body.len() as u64;
        s.samples += samples;
        s.histograms += histograms;
        s.metadata += req.metadata.len() as u64;
        s.max_timestamp_ms = s.max_timestamp_ms.max(max_t);
        for (t, c) in by_time {
            s.by_time.entry(t).or_default().add(&c);
        }
        Ok(())
    }

    /// Every sender's totals, and its counts of samples timestamped `from_ms <= t < to_ms`.
    pub fn report(&self, from_ms: i64, to_ms: i64) -> BTreeMap<String, SenderReport> {
        let senders = self.senders.lock();
        senders
            .iter()
            .map(|(name, s)| {
                let mut window = WindowCounts::default();
                if from_ms < to_ms {
                    for c in s.by_time.range(from_ms..to_ms).map(|(_, c)| c) {
                        window.add(c);
                    }
                }
                (
                    name.clone(),
                    SenderReport {
                        requests: s.requests,
                        body_bytes: s.body_bytes,
                        samples: s.samples,
                        histograms: s.histograms,
                        metadata: s.metadata,
                        max_timestamp_ms: s.max_timestamp_ms,
                        window,
                    },
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use strata_proto::prometheus::{Label, Sample, TimeSeries};

    use super::*;

    fn series(name: &str, samples: &[(i64, f64)]) -> TimeSeries {
        TimeSeries {
            labels: vec![
                Label {
                    name: "__name__".into(),
                    value: name.into(),
                },
                Label {
                    name: "job".into(),
                    value: "bench".into(),
                },
            ],
            samples: samples
                .iter()
                .map(|&(timestamp, value)| Sample { value, timestamp })
                .collect(),
            ..Default::default()
        }
    }

    fn body(ts: Vec<TimeSeries>) -> Vec<u8> {
        let raw = WriteRequest {
            timeseries: ts,
            ..Default::default()
        }
        .encode_to_vec();
        snap::raw::Encoder::new()
            .compress_vec(&raw)
            .expect("compress")
    }

    #[test]
    fn counts_per_sender_and_timestamp() {
        let sink = Sink::default();
        let stale = f64::from_bits(STALE_NAN_BITS);
        sink.accept(
            "agent",
            &body(vec![
                series("node_load1", &[(1_000, 0.5), (2_000, 0.7), (3_000, stale)]),
                series("up", &[(1_000, 1.0), (2_000, 1.0), (3_000, 0.0)]),
                series("scrape_duration_seconds", &[(2_000, 0.01)]),
            ]),
        )
        .expect("accepted");
        sink.accept("prometheus", &body(vec![series("x", &[(2_500, 1.0)])]))
            .expect("accepted");
        let r = sink.report(2_000, 3_001);
        let a = &r["agent"];
        assert_eq!((a.requests, a.samples, a.max_timestamp_ms), (1, 7, 3_000));
        assert_eq!(
            a.window,
            WindowCounts {
                target_samples: 1,
                synthetic_samples: 3,
                scrapes_ok: 1,
                scrapes_failed: 1,
                stale_markers: 1,
            }
        );
        assert_eq!(r["prometheus"].window.target_samples, 1);
        assert_eq!(
            sink.report(0, 1_000)["agent"].window,
            WindowCounts::default()
        );
    }

    #[test]
    fn refuses_what_is_not_remote_write() {
        let sink = Sink::default();
        assert!(matches!(
            sink.accept("a", b"not snappy"),
            Err(SinkError::Snappy(_))
        ));
        let garbage = snap::raw::Encoder::new()
            .compress_vec(&[0xff; 16])
            .expect("compress");
        assert!(matches!(
            sink.accept("a", &garbage),
            Err(SinkError::Decode(_))
        ));
        assert!(sink.report(0, i64::MAX).is_empty());
    }
}
