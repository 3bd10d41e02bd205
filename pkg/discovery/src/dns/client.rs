//! A small stub resolver: reads `/etc/resolv.conf` (or takes servers from the caller), asks
//! each server over UDP and again over TCP when the answer is truncated, and walks the
//! search list as Prometheus's DNS SD does (`lookupWithSearchPath`).

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tracing::warn;

use super::message::{self, RecordType, Response, RCODE_NAME_ERROR, RCODE_SUCCESS};

/// Resolver settings, as read from resolv.conf.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolverConfig {
    /// Name servers, tried in order.
    pub servers: Vec<SocketAddr>,
    /// Search domains.
    pub search: Vec<String>,
    /// Names with at least this many dots are tried as given first.
    pub ndots: usize,
    /// Timeout of one exchange.
    pub timeout: Duration,
}

impl Default for ResolverConfig {
    fn default() -> Self {
        Self {
            servers: Vec::new(),
            search: Vec::new(),
            ndots: 1,
            timeout: Duration::from_secs(5),
        }
    }
}

impl ResolverConfig {
    /// Reads a resolv.conf file.
    pub fn from_file(path: &Path) -> Result<Self, String> {
        let text =
            std::fs::read_to_string(path).map_err(|e| format!("read {}: {e}", path.display()))?;
        Ok(Self::parse(&text))
    }

    /// Parses resolv.conf text: `nameserver`, `search`, `domain`, `options ndots:N timeout:N`.
    pub fn parse(text: &str) -> Self {
        let mut c = Self::default();
        for line in text.lines() {
            let line = line.split(['#', ';']).next().unwrap_or("");
            let mut f = line.split_whitespace();
            match f.next() {
                Some("nameserver") => {
                    if let Some(ip) = f.next().and_then(|s| s.parse::<std::net::IpAddr>().ok()) {
                        c.servers.push(SocketAddr::new(ip, 53));
                    }
                }
                Some("search") | Some("domain") => {
                    c.search = f.map(|s| s.trim_end_matches('.').to_string()).collect();
                }
                Some("options") => {
                    for opt in f {
                        if let Some(n) = opt.strip_prefix("ndots:").and_then(|v| v.parse().ok()) {
                            c.ndots = std::cmp::min(n, 15);
                        } else if let Some(n) =
                            opt.strip_prefix("timeout:").and_then(|v| v.parse().ok())
                        {
                            c.timeout = Duration::from_secs(std::cmp::max(1, n));
                        }
                    }
                }
                _ => {}
            }
        }
        c
    }

    /// The names to try for `name`, in order (miekg/dns `ClientConfig.NameList`).
    pub fn name_list(&self, name: &str) -> Vec<String> {
        if name.ends_with('.') {
            return vec![name.to_string()];
        }
        let has_ndots = name.matches('.').count() >= self.ndots;
        let mut names = Vec::with_capacity(self.search.len() + 1);
        if has_ndots {
            names.push(format!("{name}."));
        }
        for s in &self.search {
            names.push(format!("{name}.{s}."));
        }
        if !has_ndots {
            names.push(format!("{name}."));
        }
        names
    }
}

/// Looks `name` up through the search list: the first successful answer wins; when every
/// server said NXDOMAIN for every candidate, the answer is empty; otherwise an error.
pub async fn lookup_with_search_path(
    conf: &ResolverConfig,
    name: &str,
    qtype: RecordType,
) -> Result<Response, String> {
    if conf.servers.is_empty() {
        return Err("no name servers configured".into());
    }
    let mut all_valid = true;
    for candidate in conf.name_list(name) {
        match lookup_from_any_server(conf, &candidate, qtype).await {
            Ok(r) if r.rcode == RCODE_SUCCESS => return Ok(r),
            Ok(_) => {}
            Err(_) => all_valid = false,
        }
    }
    if all_valid {
        return Ok(Response {
            id: 0,
            truncated: false,
            rcode: RCODE_NAME_ERROR,
            answers: Vec::new(),
        });
    }
    Err(format!("could not resolve {name:?}: all servers responded with errors to at least one search domain"))
}

async fn lookup_from_any_server(
    conf: &ResolverConfig,
    name: &str,
    qtype: RecordType,
) -> Result<Response, String> {
    for server in &conf.servers {
        match exchange(*server, name, qtype, conf.timeout).await {
            Ok(r) if r.rcode == RCODE_SUCCESS || r.rcode == RCODE_NAME_ERROR => return Ok(r),
            Ok(r) => warn!(%server, name, rcode = r.rcode, "dns server answered with an error"),
            Err(err) => warn!(%server, name, %err, "dns resolution failed"),
        }
    }
    Err(format!(
        "could not resolve {name}: no servers returned a viable answer"
    ))
}

fn next_id() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    NEXT.fetch_add(1, Ordering::Relaxed) ^ (t as u16)
}

/// One query to one server: UDP first, TCP when the UDP answer is truncated.
pub async fn exchange(
    server: SocketAddr,
    name: &str,
    qtype: RecordType,
    timeout: Duration,
) -> Result<Response, String> {
    let id = next_id();
    let query = message::encode_query(id, name, qtype, true)?;
    let resp = tokio::time::timeout(timeout, exchange_udp(server, id, &query))
        .await
        .map_err(|_| format!("udp query to {server} timed out"))??;
    if !resp.truncated {
        return Ok(resp);
    }
    let query = message::encode_query(id, name, qtype, false)?;
    let resp = tokio::time::timeout(timeout, exchange_tcp(server, &query))
        .await
        .map_err(|_| format!("tcp query to {server} timed out"))??;
    if resp.truncated {
        return Err("got truncated message on TCP (64kiB limit exceeded?)".into());
    }
    if resp.id != id {
        return Err("dns response id mismatch".into());
    }
    Ok(resp)
}

async fn exchange_udp(server: SocketAddr, id: u16, query: &[u8]) -> Result<Response, String> {
    let bind: SocketAddr = if server.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        ([0u16; 8], 0).into()
    };
    let sock = UdpSocket::bind(bind)
        .await
        .map_err(|e| format!("bind udp socket: {e}"))?;
    sock.connect(server)
        .await
        .map_err(|e| format!("connect udp {server}: {e}"))?;
    sock.send(query)
        .await
        .map_err(|e| format!("send to {server}: {e}"))?;
    let mut buf = vec![0u8; 65535];
    loop {
        let n = sock
            .recv(&mut buf)
            .await
            .map_err(|e| format!("receive from {server}: {e}"))?;
        match message::decode_response(&buf[..n]) {
            Ok(r) if r.id == id => return Ok(r),
            Ok(_) => continue, // a stray answer to an older query
            Err(e) => return Err(format!("decode answer from {server}: {e}")),
        }
    }
}

async fn exchange_tcp(server: SocketAddr, query: &[u8]) -> Result<Response, String> {
    let mut s = TcpStream::connect(server)
        .await
        .map_err(|e| format!("connect tcp {server}: {e}"))?;
    let len = u16::try_from(query.len()).map_err(|_| "query too long")?;
    let mut framed = len.to_be_bytes().to_vec();
    framed.extend_from_slice(query);
    s.write_all(&framed)
        .await
        .map_err(|e| format!("write to {server}: {e}"))?;
    let mut lenb = [0u8; 2];
    s.read_exact(&mut lenb)
        .await
        .map_err(|e| format!("read from {server}: {e}"))?;
    let mut buf = vec![0u8; u16::from_be_bytes(lenb) as usize];
    s.read_exact(&mut buf)
        .await
        .map_err(|e| format!("read from {server}: {e}"))?;
    message::decode_response(&buf).map_err(|e| format!("decode answer from {server}: {e}"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // in tests a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn parses_resolv_conf_and_builds_name_list() {
        let c = ResolverConfig::parse(
            "# comment\nnameserver 10.0.0.2\nnameserver ::1\nsearch svc.cluster.local cluster.local\noptions ndots:5 timeout:2\n",
        );
        assert_eq!(
            c.servers,
            vec!["10.0.0.2:53".parse().unwrap(), "[::1]:53".parse().unwrap()]
        );
        assert_eq!(c.ndots, 5);
        assert_eq!(c.timeout, Duration::from_secs(2));
        assert_eq!(
            c.name_list("web"),
            vec!["web.svc.cluster.local.", "web.cluster.local.", "web."]
        );
        assert_eq!(
            c.name_list("a.b.c.d.e.f"),
            vec![
                "a.b.c.d.e.f.",
                "a.b.c.d.e.f.svc.cluster.local.",
                "a.b.c.d.e.f.cluster.local."
            ]
        );
        assert_eq!(c.name_list("x.example."), vec!["x.example."]);
    }
}
