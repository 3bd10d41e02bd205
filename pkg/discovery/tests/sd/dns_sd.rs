//! DNS SD against a DNS server the test runs on 127.0.0.1 (UDP and TCP on one port).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use strata_discovery::dns::message::encode_name;
use strata_discovery::dns::DnsDiscovery;
use strata_promconfig::sd::DnsSdConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::{addresses, ctx, labels, Collector};

/// One answer record: (type, rdata builder).
enum Rr {
    Srv(u16, &'static str),
    A([u8; 4]),
    Aaaa([u8; 16]),
    Mx(&'static str),
    Cname(&'static str),
}

/// Builds the reply to `query`: answers by name and type, TC set on UDP for "big.example.".
fn reply(query: &[u8], udp: bool) -> Vec<u8> {
    let id = &query[..2];
    let mut pos = 12;
    let mut name = String::new();
    while query[pos] != 0 {
        let l = query[pos] as usize;
        name.push_str(std::str::from_utf8(&query[pos + 1..pos + 1 + l]).unwrap());
        name.push('.');
        pos += 1 + l;
    }
    let qtype = u16::from_be_bytes([query[pos + 1], query[pos + 2]]);
    let question = &query[12..pos + 5];
    let (rcode, answers): (u16, Vec<Rr>) = match (name.as_str(), qtype) {
        ("web.example.", 33) => (
            0,
            vec![Rr::Srv(8080, "a.example."), Rr::Srv(8081, "b.example.")],
        ),
        ("big.example.", 33) if udp => (0, vec![]),
        ("big.example.", 33) => (
            0,
            (0..40)
                .map(|_| Rr::Srv(9000, "node.big.example."))
                .collect(),
        ),
        ("host.example.", 1) => (
            0,
            vec![
                Rr::Cname("alias.example."),
                Rr::A([10, 0, 0, 1]),
                Rr::A([10, 0, 0, 2]),
            ],
        ),
        ("host.example.", 28) => (
            0,
            vec![Rr::Aaaa([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1])],
        ),
        ("mail.example.", 15) => (0, vec![Rr::Mx("mx1.example.")]),
        ("fail.example.", _) => (2, vec![]),
        _ => (3, vec![]),
    };
    let tc = if udp && name == "big.example." {
        0x0200
    } else {
        0
    };
    let mut out = id.to_vec();
    out.extend_from_slice(&(0x8180u16 | tc | rcode).to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes());
    out.extend_from_slice(&(answers.len() as u16).to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(question);
    for rr in answers {
        out.extend_from_slice(&[0xC0, 12]); // pointer to the question name
        let mut rdata = Vec::new();
        let t: u16 = match rr {
            Rr::Srv(port, target) => {
                rdata.extend_from_slice(&[0, 10, 0, 5]);
                rdata.extend_from_slice(&port.to_be_bytes());
                encode_name(&mut rdata, target).unwrap();
                33
            }
            Rr::A(ip) => {
                rdata.extend_from_slice(&ip);
                1
            }
            Rr::Aaaa(ip) => {
                rdata.extend_from_slice(&ip);
                28
            }
            Rr::Mx(host) => {
                rdata.extend_from_slice(&[0, 10]);
                encode_name(&mut rdata, host).unwrap();
                15
            }
            Rr::Cname(host) => {
                encode_name(&mut rdata, host).unwrap();
                5
            }
        };
        out.extend_from_slice(&t.to_be_bytes());
        out.extend_from_slice(&[0, 1, 0, 0, 0, 30]);
        out.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        out.extend_from_slice(&rdata);
    }
    out
}

struct FakeDns {
    addr: SocketAddr,
    tcp_queries: Arc<AtomicUsize>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for FakeDns {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

async fn start_dns() -> FakeDns {
    // UDP and TCP on one port: the TCP port may be taken by another test's socket, so retry.
    let (udp, tcp, addr) = loop {
        let udp = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = udp.local_addr().unwrap();
        if let Ok(tcp) = tokio::net::TcpListener::bind(addr).await {
            break (udp, tcp, addr);
        }
    };
    let tcp_queries = Arc::new(AtomicUsize::new(0));
    let u = tokio::spawn(async move {
        let mut buf = vec![0u8; 4096];
        loop {
            // Errors (an ICMP unreachable from a client gone) must not stop the server.
            let Ok((n, peer)) = udp.recv_from(&mut buf).await else {
                continue;
            };
            let r = reply(&buf[..n], true);
            let _ = udp.send_to(&r, peer).await;
        }
    });
    let count = tcp_queries.clone();
    let t = tokio::spawn(async move {
        loop {
            let (mut s, _) = tcp.accept().await.unwrap();
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut l = [0u8; 2];
                s.read_exact(&mut l).await.unwrap();
                let mut q = vec![0u8; u16::from_be_bytes(l) as usize];
                s.read_exact(&mut q).await.unwrap();
                let r = reply(&q, false);
                s.write_all(&(r.len() as u16).to_be_bytes()).await.unwrap();
                s.write_all(&r).await.unwrap();
            });
        }
    });
    FakeDns {
        addr,
        tcp_queries,
        tasks: vec![u, t],
    }
}

fn discovery(
    dns: &FakeDns,
    names: &[&str],
    type_: &str,
    port: u16,
) -> (DnsDiscovery, strata_discovery::SdMetrics) {
    let mut c = ctx();
    c.options.dns_servers = Some(vec![dns.addr]);
    let cfg = DnsSdConfig {
        names: names.iter().map(|s| s.to_string()).collect(),
        refresh_interval: Duration::from_millis(100),
        type_: type_.into(),
        port,
    };
    (DnsDiscovery::new(&cfg, &c).unwrap(), c.metrics)
}

#[tokio::test]
async fn srv_a_aaaa_mx_lookups_set_prometheus_meta_labels() {
    let dns = start_dns().await;
    let (d, metrics) = discovery(&dns, &["web.example"], "SRV", 0);
    let g = d.refresh().await.unwrap();
    assert_eq!(g.len(), 1);
    assert_eq!(g[0].source, "web.example");
    assert_eq!(
        g[0].targets[0],
        labels(&[
            ("__address__", "a.example:8080"),
            ("__meta_dns_name", "web.example"),
            ("__meta_dns_srv_record_target", "a.example."),
            ("__meta_dns_srv_record_port", "8080"),
            ("__meta_dns_mx_record_target", ""),
            ("__meta_dns_ns_record_target", ""),
        ])
    );
    assert_eq!(addresses(&g[0]), vec!["a.example:8080", "b.example:8081"]);
    assert_eq!(metrics.dns_lookups.get(), 1);

    let (d, _) = discovery(&dns, &["host.example"], "A", 9100);
    let g = d.refresh().await.unwrap();
    assert_eq!(
        addresses(&g[0]),
        vec!["10.0.0.1:9100", "10.0.0.2:9100"],
        "CNAME records are skipped"
    );
    let (d, _) = discovery(&dns, &["host.example"], "AAAA", 9100);
    assert_eq!(
        addresses(&d.refresh().await.unwrap()[0]),
        vec!["[::1]:9100"]
    );
    let (d, _) = discovery(&dns, &["mail.example"], "MX", 25);
    let g = d.refresh().await.unwrap();
    assert_eq!(g[0].targets[0]["__address__"], "mx1.example:25");
    assert_eq!(
        g[0].targets[0]["__meta_dns_mx_record_target"],
        "mx1.example."
    );
}

#[tokio::test]
async fn truncated_udp_answer_is_retried_over_tcp() {
    let dns = start_dns().await;
    let (d, _) = discovery(&dns, &["big.example"], "SRV", 0);
    let g = d.refresh().await.unwrap();
    assert_eq!(g[0].targets.len(), 40);
    assert_eq!(g[0].targets[0]["__address__"], "node.big.example:9000");
    assert_eq!(dns.tcp_queries.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn nxdomain_is_empty_and_servfail_keeps_last_groups() {
    let dns = start_dns().await;
    let (d, _) = discovery(&dns, &["missing.example"], "SRV", 0);
    let g = d.refresh().await.unwrap();
    assert!(g[0].targets.is_empty());

    let (d, metrics) = discovery(&dns, &["web.example", "fail.example"], "SRV", 0);
    assert!(
        d.refresh().await.is_err(),
        "a failing name fails the refresh, as in Prometheus"
    );
    assert!(metrics.dns_lookup_failures.get() >= 1);

    let (d, metrics) = discovery(&dns, &["web.example"], "SRV", 0);
    let (sink, mut col) = Collector::new();
    let task = tokio::spawn(d.run(sink));
    col.until("srv group", |g| g.contains_key("web.example"))
        .await;
    drop(dns); // the server goes away: lookups now time out or are refused
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while metrics.dns_lookup_failures.get() == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "failure not counted"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    col.settle(Duration::from_millis(100)).await;
    assert_eq!(
        addresses(&col.groups["web.example"]),
        vec!["a.example:8080", "b.example:8081"]
    );
    task.abort();
}

#[test]
fn port_is_required_except_for_srv() {
    let c = ctx();
    let cfg = DnsSdConfig {
        names: vec!["x".into()],
        refresh_interval: Duration::from_secs(30),
        type_: "A".into(),
        port: 0,
    };
    assert!(DnsDiscovery::new(&cfg, &c).is_err());
    let cfg = DnsSdConfig {
        type_: "TXT".into(),
        port: 1,
        ..cfg
    };
    assert!(DnsDiscovery::new(&cfg, &c).is_err());
}
