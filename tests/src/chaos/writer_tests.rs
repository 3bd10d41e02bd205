//! The writer against a scripted HTTP server: what it retries, what it gives up, what it
//! records.

use std::collections::VecDeque;
use std::sync::atomic::AtomicU64;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;

/// A push endpoint answering the scripted statuses in order, then 200.
struct Scripted {
    url: String,
    requests: Arc<AtomicU64>,
}

async fn scripted(script: &[u16]) -> Scripted {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!(
        "http://{}/api/v1/push",
        listener.local_addr().expect("addr")
    );
    let script = Arc::new(Mutex::new(script.iter().copied().collect::<VecDeque<_>>()));
    let requests = Arc::new(AtomicU64::new(0));
    let n = Arc::clone(&requests);
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let script = Arc::clone(&script);
            let n = Arc::clone(&n);
            tokio::spawn(async move {
                let mut buf = Vec::new();
                loop {
                    // One request: headers, then content-length bytes of body.
                    let head_end = loop {
                        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            break p + 4;
                        }
                        let mut chunk = [0u8; 8192];
                        match conn.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(k) => buf.extend_from_slice(&chunk[..k]),
                        }
                    };
                    let head = String::from_utf8_lossy(&buf[..head_end]).to_lowercase();
                    let len: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap_or(0);
                    while buf.len() < head_end + len {
                        let mut chunk = [0u8; 8192];
                        match conn.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(k) => buf.extend_from_slice(&chunk[..k]),
                        }
                    }
                    buf.drain(..head_end + len);
                    n.fetch_add(1, Ordering::Relaxed);
                    let status = script
                        .lock()
                        .expect("script lock")
                        .pop_front()
                        .unwrap_or(200);
                    let reply = format!("HTTP/1.1 {status} X\r\ncontent-length: 0\r\n\r\n");
                    if conn.write_all(reply.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    Scripted { url, requests }
}

fn small() -> WriterConfig {
    WriterConfig {
        shards: 1,
        interval: Duration::from_millis(50),
        min_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(20),
        ..WriterConfig::new("t", 3)
    }
}

async fn run_until(w: &Writer, what: &str, done: impl Fn(&WriterLog) -> bool) {
    crate::wait::wait_until(what, Duration::from_secs(10), || {
        let ok = done(&w.snapshot());
        async move { Ok(ok) }
    })
    .await
    .expect(what);
}

#[tokio::test]
async fn retries_5xx_and_429_until_acknowledged() {
    let srv = scripted(&[503, 429, 500]).await;
    let w = Writer::start(small(), vec![srv.url.clone()]).expect("start");
    run_until(&w, "two acks", |l| l.acks.len() >= 2).await;
    let log = w.stop().await.expect("stop");
    let first = &log.acks[0];
    assert_eq!(first.attempts, 4, "503, 429, 500, then 200");
    assert_eq!(
        first.batch.ticks[0].0, 0,
        "the first tick was retried, not dropped"
    );
    assert!(log.failures.is_empty());
    assert_eq!(log.retries, 3);
    assert_eq!(log.server_errors(), 2);
    assert_eq!(log.statuses.get(&429), Some(&1));
    // Every tick acknowledged exactly once, in order.
    let ticks: Vec<u64> = log
        .acks
        .iter()
        .flat_map(|a| a.batch.ticks.iter().map(|t| t.0))
        .collect();
    assert_eq!(ticks, (0..ticks.len() as u64).collect::<Vec<_>>());
    assert_eq!(log.acked_samples(), ticks.len() * 3);
    assert!(srv.requests.load(Ordering::Relaxed) >= 5);
}

#[tokio::test]
async fn never_retries_other_4xx() {
    let srv = scripted(&[400]).await;
    let w = Writer::start(small(), vec![srv.url.clone()]).expect("start");
    run_until(&w, "an ack after the 400", |l| !l.acks.is_empty()).await;
    let log = w.stop().await.expect("stop");
    assert_eq!(log.client_errors(), 1);
    let f = &log.failures[0];
    assert!(f.client_error && f.last.starts_with("400"), "{f:?}");
    assert_eq!(f.batch.ticks[0].0, 0);
    assert_eq!(log.retries, 0, "a 400 is not retried");
    assert_eq!(log.failed_samples(), 3);
}

#[tokio::test]
async fn gives_up_after_the_budget() {
    let srv = scripted(&[503; 1000]).await;
    let cfg = WriterConfig {
        give_up_after: Duration::from_millis(150),
        ..small()
    };
    let w = Writer::start(cfg, vec![srv.url.clone()]).expect("start");
    run_until(&w, "a request given up", |l| !l.failures.is_empty()).await;
    let log = w.stop().await.expect("stop");
    assert!(log.acks.is_empty());
    let f = &log.failures[0];
    assert!(!f.client_error && f.last.starts_with("503"), "{f:?}");
    assert!(log.retries >= 2);
}

#[test]
fn values_are_unique_and_exact() {
    let cfg = WriterConfig::new("t", 10_000);
    assert_eq!(cfg.value(9_999, 3), 309_999.0);
    assert_ne!(cfg.value(1, 2), cfg.value(2, 1));
    let b = WriterConfig {
        value_offset: 0.5,
        ..cfg.clone()
    };
    assert_eq!(b.value(0, 0), 0.5);
}

#[test]
fn shards_cover_every_series_once() {
    for (n, s) in [(2000, 4), (10, 3), (3, 4)] {
        let cfg = WriterConfig {
            shards: s,
            ..WriterConfig::new("t", n)
        };
        let all: Vec<usize> = (0..s).flat_map(|i| cfg.shard_range(i)).collect();
        assert_eq!(all, (0..n).collect::<Vec<_>>(), "{n} series in {s} shards");
    }
}

#[test]
fn labels_are_sorted_with_extras() {
    let cfg = WriterConfig {
        extra_labels: vec![
            ("cluster".into(), "c".into()),
            ("__replica__".into(), "a".into()),
        ],
        ..WriterConfig::new("t", 4)
    };
    let names: Vec<String> = cfg.labels(1, 0).into_iter().map(|l| l.name).collect();
    assert_eq!(
        names,
        ["__name__", "__replica__", "cluster", "series", "shard"]
    );
}
