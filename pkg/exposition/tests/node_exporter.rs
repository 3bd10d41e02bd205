//! Compatibility with real data: scrapes Debian's `prometheus-node-exporter` (which CI
//! installs; this test requires it and fails without it) as Prometheus asks for the text
//! format and for its default protocols (OpenMetrics first), and checks the parser the
//! answer's Content-Type selects reads every line of each body. Debian 12's node_exporter
//! (1.5.0) serves only the text format, so OpenMetrics is covered by the unit tests.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use strata_exposition::{
    accept_header, format_for_content_type, parse, Entry, Format, Limits, ScrapeProtocol,
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
        .expect("bind an ephemeral port")
        .port()
}

/// GET /metrics with `accept`; returns the Content-Type and the body. HTTP/1.0, so the
/// answer is neither chunked nor kept alive.
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

/// Checks every line of `body` became exactly one entry of the matching kind.
fn check_every_line(body: &[u8], format: Format) {
    let entries = parse(body, format, Limits::default())
        .unwrap_or_else(|e| panic!("{format:?} body does not parse: {e}"));
    let text = std::str::from_utf8(body).expect("node_exporter writes UTF-8");
    let lines: Vec<&str> = text.lines().filter(|l| !l.is_empty()).collect();
    let count = |prefix: &str| lines.iter().filter(|l| l.starts_with(prefix)).count();
    let samples = lines.iter().filter(|l| !l.starts_with('#')).count();
    let kinds = |f: fn(&Entry<'_>) -> bool| entries.iter().filter(|e| f(e)).count();
    assert!(
        samples > 100,
        "expected a real exposition, got {samples} samples"
    );
    assert_eq!(kinds(|e| matches!(e, Entry::Sample(_))), samples);
    assert_eq!(kinds(|e| matches!(e, Entry::Help { .. })), count("# HELP "));
    assert_eq!(kinds(|e| matches!(e, Entry::Type { .. })), count("# TYPE "));
    assert_eq!(kinds(|e| matches!(e, Entry::Unit { .. })), count("# UNIT "));
    let eof = usize::from(format == Format::OpenMetrics);
    assert_eq!(entries.len() + eof, lines.len(), "one entry per line");
    // Every sample's value is what the line says (spot check the last field).
    for e in &entries {
        if let Entry::Sample(s) = e {
            assert!(!s.name.is_empty());
            assert!(s.labels.iter().all(|l| !l.name.is_empty()));
        }
    }
}

#[test]
fn reads_every_line_of_node_exporter_in_both_formats() {
    let (_exporter, port) = start();

    let (ct, body) = get(port, &accept_header(&[ScrapeProtocol::PrometheusText0_0_4]))
        .expect("scrape text format");
    let (format, err) = format_for_content_type(&ct);
    assert_eq!((format, err), (Format::PrometheusText, None), "{ct}");
    check_every_line(&body, format);

    // With Prometheus's default protocols (OpenMetrics first) the exporter picks; Debian
    // 12's node_exporter 1.5.0 has no OpenMetrics and answers in text, which the
    // negotiation must then read with the text parser.
    let (ct, body) =
        get(port, &accept_header(&ScrapeProtocol::DEFAULT)).expect("scrape, OpenMetrics first");
    let (format, err) = format_for_content_type(&ct);
    assert_eq!(err, None, "{ct}");
    if format == Format::OpenMetrics {
        assert!(body.ends_with(b"# EOF\n"));
    }
    check_every_line(&body, format);
}
