use super::*;

fn params() -> HostParams {
    HostParams {
        seed: 9,
        extra_labels: 8,
        reset_prob: 0.0,
        interval_ms: 15_000,
    }
}

#[test]
fn builds_exactly_the_requested_series() {
    for n in [1u64, 50, 1000, 12_345] {
        let hosts = build_hosts(&params(), n, 3);
        let total: usize = hosts.iter().map(|h| h.series().len()).sum();
        assert_eq!(total as u64, n);
        for h in &hosts {
            assert_eq!(h.tenant(), h.index() % 3);
        }
    }
}

#[test]
fn plans_cover_every_series_once_within_batch_and_tenant() {
    let hosts = build_hosts(&params(), 5000, 4);
    for batch in [1usize, 37, 500, 10_000] {
        let (plans, host_plans) = build_plans(&hosts, batch);
        let mut seen: Vec<Vec<bool>> = hosts
            .iter()
            .map(|h| vec![false; h.series().len()])
            .collect();
        for (pi, p) in plans.iter().enumerate() {
            assert!(p.series <= batch && p.series > 0);
            let mut n = 0;
            for &(h, a, b) in &p.segments {
                assert_eq!(hosts[h].tenant(), p.tenant);
                assert!(host_plans[h].contains(&pi));
                for s in &mut seen[h][a..b] {
                    assert!(!*s, "series in two plans");
                    *s = true;
                }
                n += b - a;
            }
            assert_eq!(n, p.series);
        }
        assert!(seen.iter().flatten().all(|s| *s));
    }
}

/// What the canned receiver saw of one request.
struct Seen {
    status: u16,
    tenant: Option<String>,
    encoding: Option<String>,
    body: Vec<u8>,
}

/// A minimal HTTP/1.1 receiver answering requests with `statuses` in turn (then 204),
/// recording each request. Keeps connections alive, as reqwest reuses them.
async fn canned_receiver(statuses: Vec<u16>) -> (String, Arc<Mutex<Vec<Seen>>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let statuses = Arc::new(Mutex::new(statuses.into_iter()));
    let seen2 = Arc::clone(&seen);
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let seen = Arc::clone(&seen2);
            let statuses = Arc::clone(&statuses);
            tokio::spawn(async move {
                let mut buf = Vec::new();
                loop {
                    let head_end = loop {
                        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            break p + 4;
                        }
                        let mut chunk = [0u8; 8192];
                        match sock.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    };
                    let head = String::from_utf8_lossy(&buf[..head_end]).to_lowercase();
                    let header = |name: &str| {
                        head.lines()
                            .find_map(|l| l.strip_prefix(&format!("{name}: ")))
                            .map(|v| v.trim().to_string())
                    };
                    let len: usize = header("content-length")
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0);
                    while buf.len() < head_end + len {
                        let mut chunk = [0u8; 65536];
                        match sock.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let body = buf[head_end..head_end + len].to_vec();
                    buf.drain(..head_end + len);
                    let status = statuses.lock().next().unwrap_or(204);
                    seen.lock().push(Seen {
                        status,
                        tenant: header("x-scope-orgid"),
                        encoding: header("content-encoding"),
                        body,
                    });
                    let resp = format!("HTTP/1.1 {status} X\r\ncontent-length: 0\r\n\r\n");
                    if sock.write_all(resp.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (format!("http://{addr}/api/v1/push"), seen)
}

fn config(url: &str, extra: &[&str]) -> Config {
    let mut args = vec![
        "strata-loadgen",
        "--url",
        url,
        "--min-backoff",
        "1ms",
        "--max-backoff",
        "5ms",
        "--quiet",
        "--sim-start",
        "1700000000000",
    ];
    args.extend_from_slice(extra);
    let parsed = <crate::cli::Args as clap::Parser>::try_parse_from(args).expect("flags parse");
    parsed.into_config(1_800_000_000_000).expect("valid flags")
}

#[tokio::test]
async fn retries_5xx_and_429_never_other_4xx() {
    // Request 1: 503, 429, then 204. Request 2: 400, dropped. Request 3: 204.
    let (url, seen) = canned_receiver(vec![503, 429, 204, 400, 204]).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let acks = dir.path().join("acks");
    let acks_arg = acks.to_str().expect("utf-8 path").to_string();
    let cfg = config(
        &url,
        &[
            "--series",
            "150",
            "--batch",
            "50",
            "--concurrency",
            "1",
            "--max",
            "--samples",
            "150",
            "--tenants",
            "1",
            "--ack-log",
            &acks_arg,
        ],
    );
    let report = run(cfg).await.expect("run");
    assert_eq!(report.samples_sent, 150);
    assert_eq!(report.samples_acked, 100);
    assert_eq!(report.samples_dropped, 50);
    assert_eq!(report.requests, 5);
    assert_eq!(report.retries, 2);
    assert_eq!(report.errors_by_status.get("503"), Some(&1));
    assert_eq!(report.errors_by_status.get("429"), Some(&1));
    assert_eq!(report.errors_by_status.get("400"), Some(&1));
    let seen = seen.lock();
    let statuses: Vec<u16> = seen.iter().map(|s| s.status).collect();
    assert_eq!(statuses, vec![503, 429, 204, 400, 204]);
    assert!(seen.iter().all(|s| s.tenant.as_deref() == Some("tenant-0")));
    assert!(seen.iter().all(|s| s.encoding.as_deref() == Some("snappy")));
    // A retry resends the very same body.
    assert_eq!(seen[0].body, seen[1].body);
    assert_eq!(seen[1].body, seen[2].body);
    let acked: Vec<crate::acklog::AckRecord> = crate::acklog::AckLogReader::open(&acks)
        .expect("open ack log")
        .collect::<Result<_>>()
        .expect("read ack log");
    assert_eq!(acked.len(), 100, "only acknowledged samples are logged");
}

#[tokio::test]
async fn samples_of_a_series_arrive_in_time_order() {
    use prost::Message as _;
    let (url, seen) = canned_receiver(Vec::new()).await;
    let cfg = config(
        &url,
        &[
            "--series",
            "700",
            "--batch",
            "90",
            "--concurrency",
            "3",
            "--max",
            "--samples",
            "3500",
            "--tenants",
            "2",
            "--churn",
            "0.2",
        ],
    );
    let report = run(cfg).await.expect("run");
    assert!(report.samples_acked >= 3500);
    assert!(report.series_created > 700, "churn created new series");
    let mut last: std::collections::HashMap<(String, Vec<(String, String)>), i64> =
        Default::default();
    let mut tenants = std::collections::BTreeSet::new();
    for s in seen.lock().iter() {
        let raw = snap::raw::Decoder::new()
            .decompress_vec(&s.body)
            .expect("snappy");
        let req = strata_proto::prometheus::WriteRequest::decode(raw.as_slice()).expect("proto");
        assert!(req.timeseries.len() <= 90);
        let tenant = s.tenant.clone().expect("tenant header");
        tenants.insert(tenant.clone());
        for ts in req.timeseries {
            let labels: Vec<(String, String)> =
                ts.labels.into_iter().map(|l| (l.name, l.value)).collect();
            let t = ts.samples[0].timestamp;
            if let Some(prev) = last.insert((tenant.clone(), labels), t) {
                assert!(t > prev, "series went back in time: {prev} then {t}");
            }
        }
    }
    assert_eq!(tenants.len(), 2);
}
