//! A scrape target the test controls: serves a page per path that the test sets and changes,
//! can answer with bytes no real exporter would send (bad escapes, invalid UTF-8, a body
//! of any size streamed without holding it), can never answer, and logs every scrape it
//! served, so tests can say exactly which scrapes must have reached Strata.
//!
//! One HTTP/1.1 answer per connection (`Connection: close`), written by hand so that nothing
//! between the test and the scraper rewrites the bytes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// The Content-Type of Prometheus's text format 0.0.4, sent explicitly (Prometheus 3 no longer
/// falls back when it is missing; 2.42 does).
pub const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// What a path answers.
#[derive(Clone, Debug)]
pub enum Page {
    /// A 200 (or another status) with this Content-Type and body, sent as is.
    Body {
        status: u16,
        content_type: String,
        body: bytes::Bytes,
    },
    /// A 200 whose body is `chunk` repeated until `total` bytes were sent, streamed (no
    /// Content-Length), for body-size limits.
    Endless { chunk: bytes::Bytes, total: u64 },
    /// Reads the request and never answers (the connection stays open until the scraper
    /// gives up).
    Hang,
    /// A text-format page whose value changes on every answer: the path's counter `n`
    /// (1, 2, 3… per scrape served at this path, kept across `set`s) as `name n`, or for
    /// `series > 1` as `name{i="0"} n` … `name{i="<series-1>"} n`. Each served `n` is in
    /// [`Served::value`], so a test knows exactly which values a scraper received.
    Counter { name: String, series: usize },
}

impl Page {
    /// A text-format 0.0.4 page.
    pub fn text(body: impl Into<String>) -> Self {
        Page::Body {
            status: 200,
            content_type: TEXT_FORMAT.to_string(),
            body: bytes::Bytes::from(body.into()),
        }
    }

    /// A [`Page::Counter`] of one unlabelled series.
    pub fn counter(name: &str) -> Self {
        Page::Counter {
            name: name.to_string(),
            series: 1,
        }
    }

    /// A page of raw bytes with the text format's Content-Type.
    pub fn raw(body: impl Into<bytes::Bytes>) -> Self {
        Page::Body {
            status: 200,
            content_type: TEXT_FORMAT.to_string(),
            body: body.into(),
        }
    }
}

/// One scrape the server answered completely (the whole body written and the connection
/// shut down).
#[derive(Clone, Debug, PartialEq)]
pub struct Served {
    /// The request's path without the query string.
    pub path: String,
    /// The request's query string (`a=b&c=d`), empty when none.
    pub query: String,
    /// When the answer was written, in ms since the epoch.
    pub at_ms: i64,
    /// How many times the page at `path` had been set when it was served (1 for the first
    /// `set`), so phases of a test can be told apart.
    pub version: u64,
    /// The value a [`Page::Counter`] served; `None` for other pages.
    pub value: Option<u64>,
}

#[derive(Default)]
struct State {
    pages: HashMap<String, (Page, u64)>,
    log: Vec<Served>,
    /// The last [`Page::Counter`] value handed out per path.
    counters: HashMap<String, u64>,
}

/// A running target server on 127.0.0.1; stops when dropped.
pub struct TargetServer {
    addr: String,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

impl TargetServer {
    /// Binds a free loopback port and starts answering (404 for paths never set).
    pub async fn start() -> anyhow::Result<Self> {
        crate::install_tls();
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = l.local_addr()?.to_string();
        let state = Arc::new(Mutex::new(State::default()));
        let st = state.clone();
        let task = tokio::spawn(async move {
            while let Ok((s, _)) = l.accept().await {
                let st = st.clone();
                tokio::spawn(async move {
                    let _ = answer(s, st).await;
                });
            }
        });
        Ok(Self { addr, state, task })
    }

    /// `127.0.0.1:port`, with the port always explicit (Prometheus 3 would add a default one).
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Sets (or replaces) what `path` answers; returns the page's new version.
    pub fn set(&self, path: &str, page: Page) -> u64 {
        let mut st = self.state.lock().expect("target state lock");
        let version = st.pages.get(path).map_or(0, |(_, v)| *v) + 1;
        st.pages.insert(path.to_string(), (page, version));
        version
    }

    /// Sets a text-format page.
    pub fn set_text(&self, path: &str, body: impl Into<String>) -> u64 {
        self.set(path, Page::text(body))
    }

    /// Every scrape answered so far, oldest first.
    pub fn log(&self) -> Vec<Served> {
        self.state.lock().expect("target state lock").log.clone()
    }

    /// The scrapes of `path` answered so far.
    pub fn served(&self, path: &str) -> Vec<Served> {
        self.log().into_iter().filter(|s| s.path == path).collect()
    }
}

impl Drop for TargetServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn answer(mut s: tokio::net::TcpStream, st: Arc<Mutex<State>>) -> std::io::Result<()> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 2048];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = s.read(&mut chunk).await?;
        if n == 0 || buf.len() > 64 * 1024 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let head = String::from_utf8_lossy(&buf);
    let target = head.split_whitespace().nth(1).unwrap_or("/").to_string();
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_string(), q.to_string()),
        None => (target.clone(), String::new()),
    };
    let page = st
        .lock()
        .expect("target state lock")
        .pages
        .get(&path)
        .cloned();
    let mut value = None;
    let version = match page {
        None => {
            s.write_all(
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            )
            .await?;
            return Ok(());
        }
        Some((Page::Hang, _)) => {
            // Hold the connection until the scraper closes it.
            while s.read(&mut chunk).await? > 0 {}
            return Ok(());
        }
        Some((
            Page::Body {
                status,
                content_type,
                body,
            },
            v,
        )) => {
            let head = format!(
                "HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            s.write_all(head.as_bytes()).await?;
            s.write_all(&body).await?;
            v
        }
        Some((Page::Endless { chunk: c, total }, v)) => {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: {TEXT_FORMAT}\r\nConnection: close\r\n\r\n"
            );
            s.write_all(head.as_bytes()).await?;
            let mut sent = 0u64;
            while sent < total && !c.is_empty() {
                s.write_all(&c).await?;
                sent += c.len() as u64;
            }
            v
        }
        Some((Page::Counter { name, series }, v)) => {
            let n = {
                let mut st = st.lock().expect("target state lock");
                let c = st.counters.entry(path.clone()).or_default();
                *c += 1;
                *c
            };
            value = Some(n);
            let body = counter_body(&name, series, n);
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: {TEXT_FORMAT}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            s.write_all(head.as_bytes()).await?;
            s.write_all(body.as_bytes()).await?;
            v
        }
    };
    s.shutdown().await?;
    st.lock().expect("target state lock").log.push(Served {
        path,
        query,
        at_ms: crate::now_ms(),
        version,
        value,
    });
    Ok(())
}

/// The text of a [`Page::Counter`] answer with value `n`.
fn counter_body(name: &str, series: usize, n: u64) -> String {
    if series <= 1 {
        return format!("# TYPE {name} counter\n{name} {n}\n");
    }
    let mut out = format!("# TYPE {name} counter\n");
    for i in 0..series {
        out.push_str(&format!("{name}{{i=\"{i}\"}} {n}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn serves_pages_logs_scrapes_and_404s_unknown_paths() -> anyhow::Result<()> {
        let t = TargetServer::start().await?;
        assert_eq!(t.set_text("/metrics", "a 1\n"), 1);
        assert_eq!(t.set_text("/metrics", "a 2\n"), 2);
        let c = reqwest::Client::new();
        let r = c
            .get(format!("http://{}/metrics?x=1", t.addr()))
            .send()
            .await?;
        assert_eq!(r.headers()["content-type"], TEXT_FORMAT);
        assert_eq!(r.text().await?, "a 2\n");
        let r = c.get(format!("http://{}/nothing", t.addr())).send().await?;
        assert_eq!(r.status(), 404);
        let log = t.served("/metrics");
        assert_eq!(log.len(), 1);
        assert_eq!((log[0].query.as_str(), log[0].version), ("x=1", 2));
        assert_eq!(log[0].value, None);
        Ok(())
    }

    #[tokio::test]
    async fn counter_pages_count_their_scrapes_and_log_each_value() -> anyhow::Result<()> {
        let t = TargetServer::start().await?;
        t.set("/one", Page::counter("c_total"));
        t.set(
            "/many",
            Page::Counter {
                name: "m_total".into(),
                series: 3,
            },
        );
        let get = |p: &str| reqwest::get(format!("http://{}{p}", t.addr()));
        let one = get("/one").await?.text().await?;
        assert_eq!(one, "# TYPE c_total counter\nc_total 1\n");
        let one = get("/one").await?.text().await?;
        assert_eq!(one, "# TYPE c_total counter\nc_total 2\n");
        let many = get("/many").await?.text().await?;
        assert_eq!(
            many,
            "# TYPE m_total counter\nm_total{i=\"0\"} 1\nm_total{i=\"1\"} 1\nm_total{i=\"2\"} 1\n"
        );
        let values: Vec<Option<u64>> = t.served("/one").iter().map(|s| s.value).collect();
        assert_eq!(values, [Some(1), Some(2)]);
        assert_eq!(t.served("/many")[0].value, Some(1));
        Ok(())
    }

    #[tokio::test]
    async fn streams_an_endless_body_to_its_total() -> anyhow::Result<()> {
        let t = TargetServer::start().await?;
        t.set(
            "/big",
            Page::Endless {
                chunk: bytes::Bytes::from_static(b"0123456789"),
                total: 100_000,
            },
        );
        let body = reqwest::get(format!("http://{}/big", t.addr()))
            .await?
            .bytes()
            .await?;
        assert_eq!(body.len(), 100_000);
        Ok(())
    }
}
