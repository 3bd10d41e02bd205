//! The protobuf parser against a real client library: scrapes Debian's
//! `prometheus-node-exporter` (client_golang; CI installs it, this test requires it) as
//! text, as protobuf, and as text again, and checks the protobuf parser yields exactly the
//! series the text parser does (same names, labels, `le`/`quantile` spelling, `_sum`,
//! `_count`, `+Inf` buckets), the same metadata, and the same value for every counter
//! series whose value did not change between the two text scrapes. Text `le`/`quantile`
//! values are normalized first (`0` → `0.0`), as Prometheus 3 does and as protobuf series
//! always are.

#![allow(clippy::unwrap_used)] // in tests a failed unwrap is a failed test

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use strata_exposition::{
    accept_header, format_for_content_type, format_openmetrics_float, parse, parse_protobuf, Entry,
    Format, Limits, MetricType, ProtoValue, ScrapeProtocol,
};

const BINARY: &str = "/usr/bin/prometheus-node-exporter";

/// Kills the exporter when the test ends, however it ends.
struct Exporter(Child);

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port()
}

/// GET /metrics with `accept` over HTTP/1.0 (no chunking); the Content-Type and body.
fn get(port: u16, accept: &str) -> std::io::Result<(String, Vec<u8>)> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(
        s,
        "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\nAccept: {accept}\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no end of headers"))?;
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    if !head.starts_with("HTTP/1.0 200") && !head.starts_with("HTTP/1.1 200") {
        return Err(std::io::Error::other(format!("status: {head}")));
    }
    let ct = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-type")
                .then(|| v.trim().to_string())
        })
        .unwrap_or_default();
    Ok((ct, raw[split + 4..].to_vec()))
}

fn start() -> (Exporter, u16) {
    let port = free_port();
    let child = Command::new(BINARY)
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("start {BINARY} (install Debian's prometheus-node-exporter): {e}")
        });
    let exporter = Exporter(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    while get(port, "*/*").is_err() {
        assert!(
            Instant::now() < deadline,
            "node_exporter did not answer in 30 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    (exporter, port)
}

/// Series (as `Labels` text) → value bits, and family → (type, help), of a text scrape.
type Scrape = (
    BTreeMap<String, u64>,
    BTreeMap<String, (MetricType, String)>,
);

fn text_scrape(port: u16) -> Scrape {
    let (ct, body) = get(port, &accept_header(&[ScrapeProtocol::PrometheusText0_0_4])).unwrap();
    assert_eq!(format_for_content_type(&ct).0, Format::PrometheusText);
    let mut series = BTreeMap::new();
    let mut meta: BTreeMap<String, (MetricType, String)> = BTreeMap::new();
    for e in parse(&body, Format::PrometheusText, Limits::default()).unwrap() {
        match e {
            Entry::Sample(mut s) => {
                // Prometheus writes `le`/`quantile` of protobuf series as floats ("0.0");
                // Prometheus 3 normalizes the text format's the same way, 2.x keeps "0".
                for l in &mut s.labels {
                    if l.name == "le" || l.name == "quantile" {
                        let v: f64 = l.value.parse().unwrap();
                        l.value = format_openmetrics_float(v).into();
                    }
                }
                series.insert(s.to_labels().to_string(), s.value.to_bits());
            }
            Entry::Help { metric, text } => {
                meta.entry(metric.to_string())
                    .or_insert((MetricType::Unknown, String::new()))
                    .1 = text.into_owned();
            }
            Entry::Type { metric, kind } => {
                meta.entry(metric.to_string())
                    .or_insert((MetricType::Unknown, String::new()))
                    .0 = kind;
            }
            _ => {}
        }
    }
    (series, meta)
}

#[test]
fn protobuf_yields_the_series_text_does() {
    let (_exporter, port) = start();
    let (before, meta) = text_scrape(port);
    let (ct, body) = get(port, &accept_header(&[ScrapeProtocol::PrometheusProto])).unwrap();
    let (format, err) = format_for_content_type(&ct);
    assert_eq!((format, err), (Format::PrometheusProto, None), "{ct}");
    let families = parse_protobuf(&body, false).unwrap();
    let (after, _) = text_scrape(port);

    let mut proto = BTreeMap::new();
    let mut proto_meta = BTreeMap::new();
    let mut monotonic = BTreeSet::new();
    for f in &families {
        proto_meta.insert(f.name.clone(), (f.kind, f.help.clone()));
        for s in &f.samples {
            let ProtoValue::Float(v) = s.value else {
                panic!("node_exporter has no native histograms: {}", f.name)
            };
            let key = s.to_labels().to_string();
            // Counters and `_count`s never go down, so one equal before and after the
            // protobuf scrape had that value during it too; gauges and quantiles may
            // move and come back.
            if f.kind == MetricType::Counter || s.name.ends_with("_count") {
                monotonic.insert(key.clone());
            }
            proto.insert(key, v.to_bits());
        }
    }
    assert!(proto.len() > 100, "only {} series", proto.len());
    assert!(families.iter().any(|f| f.kind == MetricType::Summary));
    // Families that appear or vanish between scrapes (none expected) would show here.
    let keys = |m: &BTreeMap<String, u64>| m.keys().cloned().collect::<BTreeSet<_>>();
    let (p, t) = (keys(&proto), keys(&before));
    let only_proto: Vec<_> = p.difference(&t).collect();
    let only_text: Vec<_> = t.difference(&p).collect();
    assert!(
        only_proto.is_empty() && only_text.is_empty(),
        "series only in protobuf: {only_proto:?}; only in text: {only_text:?}"
    );
    for (name, m) in &meta {
        assert_eq!(proto_meta.get(name), Some(m), "metadata of {name}");
    }
    assert_eq!(proto_meta.len(), meta.len());
    let mut compared = 0;
    for (series, v) in &proto {
        if monotonic.contains(series) && before[series] == after[series] {
            assert_eq!(*v, before[series], "value of {series}");
            compared += 1;
        }
    }
    assert!(compared > 50, "only {compared} stable series to compare");
}
