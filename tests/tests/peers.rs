//! The peer side of the harness on its own (no Strata needed): Debian's node_exporter and
//! Prometheus start on free ports, Prometheus scrapes both targets and answers the query API,
//! and Prometheus 2.42's remote read client is observed asking for its response type.

use std::time::Duration;

use prost::Message;
use strata_proto::prometheus::{
    read_request::ResponseType, QueryResult, ReadRequest, ReadResponse,
};
use strata_tests::api::QueryData;
use strata_tests::wait::{wait_for, wait_until};
use strata_tests::write::snappy;
use strata_tests::{now_ms, NodeExporter, Prometheus};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_scrapes_node_exporter_and_answers_queries() {
    strata_tests::e2e(prometheus_scrapes_node_exporter_and_answers_queries_body()).await;
}

async fn prometheus_scrapes_node_exporter_and_answers_queries_body() -> anyhow::Result<()> {
    let node = NodeExporter::start().await?;
    let port = Prometheus::reserve_port()?;
    let cfg = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  \
         - job_name: prometheus\n    static_configs: [{{targets: ['127.0.0.1:{port}']}}]\n  \
         - job_name: node\n    static_configs: [{{targets: ['{}']}}]\n",
        node.target()
    );
    let prom = Prometheus::start_on(port, &cfg).await?;
    let api = prom.api();

    // Three successful scrapes of each target, so rates have samples to work with.
    wait_until(
        "three scrapes of both targets",
        Duration::from_secs(20),
        || {
            let api = api.clone();
            async move {
                let QueryData::Vector(v) = api
                    .query("count_over_time(up[10s]) >= 3 and up == 1", now_ms())
                    .await?
                else {
                    anyhow::bail!("not a vector");
                };
                Ok(v.len() == 2)
            }
        },
    )
    .await?;

    let now = now_ms();
    let load = api.query("node_load1", now).await?;
    assert_eq!(load.result_type(), "vector");
    assert_eq!(load.series_count(), 1, "{load:?}");
    let cpu = api.query("rate(node_cpu_seconds_total[5s])", now).await?;
    assert!(cpu.series_count() > 0, "{cpu:?}");
    let range = api.query_range("up", now - 3_000, now, 1_000).await?;
    assert_eq!(range.result_type(), "matrix");
    assert_eq!(range.series_count(), 2);
    let jobs = api.label_values("job", now - 10_000, now).await?;
    assert_eq!(jobs, vec!["node".to_string(), "prometheus".to_string()]);
    assert!(api
        .labels(now - 10_000, now)
        .await?
        .contains(&"mode".to_string()));
    let series = api.series(&["node_load1"], now - 10_000, now).await?;
    assert_eq!(series.len(), 1);
    assert!(prom
        .self_metric("prometheus_tsdb_head_series")
        .await?
        .is_some_and(|n| n > 0.0));
    Ok(())
}

/// A one-request-per-connection HTTP server that records remote read requests and answers
/// each with empty results.
async fn record_read_requests(listener: TcpListener, tx: tokio::sync::mpsc::Sender<ReadRequest>) {
    loop {
        let Ok((mut sock, _)) = listener.accept().await else {
            return;
        };
        let tx = tx.clone();
        tokio::spawn(async move {
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            let header_end = loop {
                let Ok(n) = sock.read(&mut chunk).await else {
                    return;
                };
                if n == 0 {
                    return;
                }
                buf.extend_from_slice(&chunk[..n]);
                if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    break p + 4;
                }
            };
            let head = String::from_utf8_lossy(&buf[..header_end]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            while buf.len() < header_end + len {
                let Ok(n) = sock.read(&mut chunk).await else {
                    return;
                };
                if n == 0 {
                    return;
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            let body = &buf[header_end..header_end + len];
            let Ok(raw) = snap::raw::Decoder::new().decompress_vec(body) else {
                return;
            };
            let Ok(req) = ReadRequest::decode(raw.as_slice()) else {
                return;
            };
            let resp = ReadResponse {
                results: vec![QueryResult { timeseries: vec![] }; req.queries.len()],
            };
            let out = snappy(&resp.encode_to_vec());
            let header = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\nContent-Encoding: snappy\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n",
                out.len()
            );
            let _ = sock.write_all(header.as_bytes()).await;
            let _ = sock.write_all(&out).await;
            let _ = sock.shutdown().await;
            let _ = tx.send(req).await;
        });
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_remote_read_client_asks_for_samples() {
    strata_tests::e2e(prometheus_remote_read_client_asks_for_samples_body()).await;
}

async fn prometheus_remote_read_client_asks_for_samples_body() -> anyhow::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let read_port = listener.local_addr()?.port();
    let (tx, mut rx) = tokio::sync::mpsc::channel(16);
    let server = tokio::spawn(record_read_requests(listener, tx));

    let cfg = format!(
        "global:\n  scrape_interval: 15s\nremote_read:\n  \
         - url: http://127.0.0.1:{read_port}/prometheus/api/v1/read\n    read_recent: true\n"
    );
    let prom = Prometheus::start(&cfg).await?;
    let api = prom.api();
    let answer = api.query("probe_metric", now_ms()).await?;
    assert!(answer.is_empty(), "{answer:?}");
    let req = wait_for("a remote read request", Duration::from_secs(10), || {
        let got = rx.try_recv().ok();
        async move { Ok(got) }
    })
    .await?;
    server.abort();

    let types: Vec<_> = req
        .accepted_response_types
        .iter()
        .map(|t| {
            ResponseType::try_from(*t)
                .map_or_else(|_| format!("unknown({t})"), |t| format!("{t:?}"))
        })
        .collect();
    println!(
        "Prometheus remote read request: {} queries, accepted_response_types {types:?}",
        req.queries.len()
    );
    // An empty list means SAMPLES; a client that could take chunks would list STREAMED_XOR_CHUNKS.
    assert!(
        req.accepted_response_types.is_empty()
            || req.accepted_response_types == vec![ResponseType::Samples as i32],
        "expected Prometheus 2.42 to ask for SAMPLES only, got {types:?}"
    );
    assert_eq!(req.queries.len(), 1);
    let m = &req.queries[0].matchers;
    assert!(
        m.iter()
            .any(|m| m.name == "__name__" && m.value == "probe_metric"),
        "{m:?}"
    );
    Ok(())
}
