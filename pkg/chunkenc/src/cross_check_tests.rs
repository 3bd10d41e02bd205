//! Cross-check against chunks written by Prometheus's own encoder.
//!
//! `testdata/prom_histogram_chunks.txt` holds chunk bytes recorded from Prometheus's encoder
//! (commit d15adb9a) for randomly generated series (counter resets, new buckets, schema changes,
//! gauges, stale markers, custom buckets, NaN sums), each input histogram followed by the
//! resulting chunk bytes. Format, one item per line:
//!
//! ```text
//! series <n> int|float
//! h <t> <hint> <schema> <zero_threshold bits hex> <zero_count> <count> <sum bits hex>
//!   [<offset>:<length>,...] [<delta>,...] [<offset>:<length>,...] [<delta>,...] [<bound bits hex>,...]
//! chunk <hex bytes>
//! ```
//!
//! Float series hold the float conversion of the integer histogram on each line. The committed
//! fixture has 30 series of at most 40 samples each.

use bytes::Bytes;
use strata_model::histogram::{CounterResetHint, Histogram, Span};

use crate::{AppendOutcome, Chunk, Encoding, FloatHistogramAppender, HistogramAppender};

struct Series {
    name: String,
    float: bool,
    hs: Vec<(i64, Histogram)>,
    chunks: Vec<Vec<u8>>,
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

fn list(s: &str) -> Vec<&str> {
    let s = s.trim_start_matches('[').trim_end_matches(']');
    if s.is_empty() {
        Vec::new()
    } else {
        s.split(',').collect()
    }
}

fn spans(s: &str) -> Vec<Span> {
    list(s)
        .iter()
        .map(|x| {
            let (o, l) = x.split_once(':').expect("span");
            Span::new(o.parse().expect("offset"), l.parse().expect("length"))
        })
        .collect()
}

fn f(s: &str) -> f64 {
    f64::from_bits(u64::from_str_radix(s, 16).expect("float bits"))
}

fn parse(text: &str) -> Vec<Series> {
    let mut out: Vec<Series> = Vec::new();
    for line in text.lines() {
        let w: Vec<&str> = line.split(' ').collect();
        match w[0] {
            "series" => out.push(Series {
                name: w[1].to_string(),
                float: w[2] == "float",
                hs: Vec::new(),
                chunks: Vec::new(),
            }),
            "h" => {
                let hint = match w[2] {
                    "1" => CounterResetHint::CounterReset,
                    "2" => CounterResetHint::NotCounterReset,
                    "3" => CounterResetHint::Gauge,
                    _ => CounterResetHint::Unknown,
                };
                let h = Histogram {
                    counter_reset_hint: hint,
                    schema: w[3].parse().expect("schema"),
                    zero_threshold: f(w[4]),
                    zero_count: w[5].parse().expect("zero count"),
                    count: w[6].parse().expect("count"),
                    sum: f(w[7]),
                    positive_spans: spans(w[8]),
                    positive_buckets: list(w[9])
                        .iter()
                        .map(|x| x.parse().expect("delta"))
                        .collect(),
                    negative_spans: spans(w[10]),
                    negative_buckets: list(w[11])
                        .iter()
                        .map(|x| x.parse().expect("delta"))
                        .collect(),
                    custom_values: list(w[12]).iter().map(|x| f(x)).collect(),
                };
                let s = out.last_mut().expect("series line first");
                s.hs.push((w[1].parse().expect("t"), h));
            }
            "chunk" => out.last_mut().expect("series").chunks.push(unhex(w[1])),
            _ => {}
        }
    }
    out
}

fn encode_int(hs: &[(i64, Histogram)], recodes: &mut usize) -> Vec<Chunk> {
    let mut chunks = Vec::new();
    let mut app = HistogramAppender::new();
    for (t, h) in hs {
        match app.append(*t, h) {
            AppendOutcome::Appended => {}
            AppendOutcome::NewChunk(n) => chunks.push(std::mem::replace(&mut app, n).into_chunk()),
            AppendOutcome::Recoded(r) => {
                *recodes += 1;
                app = r;
            }
        }
    }
    chunks.push(app.into_chunk());
    chunks
}

fn encode_float(hs: &[(i64, Histogram)], recodes: &mut usize) -> Vec<Chunk> {
    let mut chunks = Vec::new();
    let mut app = FloatHistogramAppender::new();
    for (t, h) in hs {
        match app.append(*t, &h.to_float()) {
            AppendOutcome::Appended => {}
            AppendOutcome::NewChunk(n) => chunks.push(std::mem::replace(&mut app, n).into_chunk()),
            AppendOutcome::Recoded(r) => {
                *recodes += 1;
                app = r;
            }
        }
    }
    chunks.push(app.into_chunk());
    chunks
}

/// What a fixture exercised.
#[derive(Debug, Default)]
struct Coverage {
    series: usize,
    chunks: usize,
    recodes: usize,
    /// Chunks by the flags byte's top two bits: 00 unknown, 01 not reset, 10 reset, 11 gauge.
    headers: [usize; 4],
}

/// Encodes every series and compares with Prometheus's bytes; also decodes Prometheus's chunks.
fn check(text: &str) -> Coverage {
    let series = parse(text);
    let mut cov = Coverage {
        series: series.len(),
        ..Default::default()
    };
    for s in &series {
        let ours = if s.float {
            encode_float(&s.hs, &mut cov.recodes)
        } else {
            encode_int(&s.hs, &mut cov.recodes)
        };
        let ours: Vec<String> = ours.iter().map(|c| hex(c.bytes())).collect();
        let theirs: Vec<String> = s.chunks.iter().map(|c| hex(c)).collect();
        assert_eq!(ours.len(), theirs.len(), "series {}: chunk count", s.name);
        for (i, (o, t)) in ours.iter().zip(&theirs).enumerate() {
            assert_eq!(o, t, "series {} chunk {i}", s.name);
        }
        // Prometheus's chunks decode to as many samples as were appended.
        let enc = if s.float {
            Encoding::FloatHistogram
        } else {
            Encoding::Histogram
        };
        let mut decoded = 0;
        for c in &s.chunks {
            let c = Chunk::new(enc, Bytes::from(c.clone())).expect("chunk");
            if s.float {
                let mut it = c.float_histogram_iter().expect("float");
                decoded += it.by_ref().count();
                assert_eq!(it.err(), None, "series {}", s.name);
            } else {
                let mut it = c.histogram_iter().expect("int");
                decoded += it.by_ref().count();
                assert_eq!(it.err(), None, "series {}", s.name);
            }
        }
        assert_eq!(decoded, s.hs.len(), "series {}", s.name);
        for c in &s.chunks {
            cov.headers[usize::from(c[2] >> 6).min(3)] += 1;
        }
        cov.chunks += s.chunks.len();
    }
    cov
}

#[test]
fn chunks_match_prometheus_encoder_byte_for_byte() {
    let cov = check(include_str!("testdata/prom_histogram_chunks.txt"));
    // The fixture must exercise recoding and every kind of chunk header.
    assert!(
        cov.series >= 20 && cov.chunks >= 40,
        "fixture too small: {cov:?}"
    );
    assert!(cov.recodes > 0, "no recoding exercised: {cov:?}");
    assert!(
        cov.headers.iter().all(|&n| n > 0),
        "header kinds missing: {cov:?}"
    );
}

/// The same check on a larger recording in the same format, when one is at hand:
/// `STRATA_PROM_HIST_VECTORS=path cargo test -p strata-chunkenc -- --ignored`.
#[test]
#[ignore]
fn chunks_match_prometheus_encoder_large() {
    let path = std::env::var("STRATA_PROM_HIST_VECTORS").expect("STRATA_PROM_HIST_VECTORS");
    let text = std::fs::read_to_string(path).expect("read vectors");
    let cov = check(&text);
    eprintln!("identical: {cov:?}");
}
