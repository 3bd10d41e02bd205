//! One HTTP scrape, as Prometheus's `targetScraper`: GET with `Accept` from the job's
//! `scrape_protocols`, `Accept-Encoding: gzip`, `X-Prometheus-Scrape-Timeout-Seconds`, the
//! job's auth; status 200 only; the body (gunzipped when the answer says gzip) capped at
//! `body_size_limit`; the whole exchange within the scrape timeout.

use std::io::Read as _;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue, ACCEPT, ACCEPT_ENCODING, USER_AGENT};

use crate::job::JobConfig;

/// The `User-Agent` of scrapes.
pub const USER_AGENT_VALUE: &str = concat!("Strata-Agent/", env!("CARGO_PKG_VERSION"));

/// Why a scrape failed; the message is what `/targets` shows as the last error.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ScrapeError {
    /// The (decompressed) body reached `body_size_limit`.
    #[error("body size limit exceeded")]
    BodySizeLimit,
    /// The target answered another status than 200.
    #[error("server returned HTTP status {0}")]
    Status(String),
    /// The request or the body read failed or timed out.
    #[error("Get {url:?}: {reason}")]
    Request {
        /// The scrape URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// The client could not be built from the job's settings.
    #[error("{0}")]
    Client(String),
}

/// A scraped body and its `Content-Type`.
#[derive(Debug)]
pub struct Scraped {
    /// The body, decompressed.
    pub body: Vec<u8>,
    /// The response's `Content-Type`.
    pub content_type: String,
}

/// Builds the HTTP client of a job.
pub fn client(cfg: &JobConfig) -> Result<reqwest::Client, ScrapeError> {
    let mut headers = HeaderMap::new();
    for (k, v) in &cfg.http.headers {
        let (Ok(k), Ok(v)) = (
            HeaderName::try_from(k.as_str()),
            HeaderValue::try_from(v.as_str()),
        ) else {
            return Err(ScrapeError::Client(format!("invalid http header {k:?}")));
        };
        headers.insert(k, v);
    }
    let mut b = strata_httpclient::builder(&cfg.http.tls)
        .map_err(|e| ScrapeError::Client(e.to_string()))?
        .default_headers(headers)
        .pool_idle_timeout(Duration::from_secs(5 * 60))
        .no_proxy();
    b = if cfg.http.follow_redirects {
        b.redirect(reqwest::redirect::Policy::limited(10))
    } else {
        b.redirect(reqwest::redirect::Policy::none())
    };
    if !cfg.http.proxy_url.is_empty() {
        let p = reqwest::Proxy::all(&cfg.http.proxy_url)
            .map_err(|e| ScrapeError::Client(format!("proxy_url: {e}")))?;
        b = b.proxy(p);
    }
    b.build()
        .map_err(|e| ScrapeError::Client(format!("build HTTP client: {e}")))
}

/// Scrapes `url` once.
pub async fn scrape(
    client: &reqwest::Client,
    cfg: &JobConfig,
    url: &str,
    accept: &str,
    timeout: Duration,
) -> Result<Scraped, ScrapeError> {
    let req_err = |reason: String| ScrapeError::Request {
        url: url.to_string(),
        reason,
    };
    let limit = if cfg.body_size_limit == 0 {
        u64::MAX
    } else {
        cfg.body_size_limit
    };
    let fut = async {
        let mut req = client
            .get(url)
            .header(ACCEPT, accept)
            .header(ACCEPT_ENCODING, "gzip")
            .header(USER_AGENT, USER_AGENT_VALUE)
            .header(
                "X-Prometheus-Scrape-Timeout-Seconds",
                format_seconds(timeout),
            );
        if let Some((u, p)) = &cfg.http.basic_auth {
            req = req.basic_auth(u, Some(p));
        }
        if let Some((kind, creds)) = &cfg.http.authorization {
            req = req.header(reqwest::header::AUTHORIZATION, format!("{kind} {creds}"));
        }
        let mut resp = req.send().await.map_err(|e| req_err(send_error(url, &e)))?;
        if resp.status() != reqwest::StatusCode::OK {
            return Err(ScrapeError::Status(status_text(&resp)));
        }
        let header = |name| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string()
        };
        let content_type = header(reqwest::header::CONTENT_TYPE);
        let gzip = header(reqwest::header::CONTENT_ENCODING) == "gzip";
        let mut raw = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| req_err(error_chain(&e)))? {
            raw.extend_from_slice(&chunk);
            if !gzip && raw.len() as u64 >= limit {
                return Err(ScrapeError::BodySizeLimit);
            }
        }
        let body = if gzip {
            gunzip(&raw, limit, &req_err)?
        } else {
            raw
        };
        Ok(Scraped { body, content_type })
    };
    match tokio::time::timeout(timeout, fut).await {
        Ok(r) => r,
        Err(_) => Err(req_err("context deadline exceeded".into())),
    }
}

/// Decompresses at most `limit` bytes; reaching the limit is the body size error.
fn gunzip(
    raw: &[u8],
    limit: u64,
    err: &dyn Fn(String) -> ScrapeError,
) -> Result<Vec<u8>, ScrapeError> {
    let mut out = Vec::with_capacity(raw.len() * 4);
    let n = flate2::read::GzDecoder::new(raw)
        .take(limit)
        .read_to_end(&mut out)
        .map_err(|e| err(format!("gzip: {e}")))?;
    if n as u64 >= limit {
        return Err(ScrapeError::BodySizeLimit);
    }
    Ok(out)
}

/// The status as Go's `resp.Status` reads (what Prometheus shows): the code and the reason
/// phrase the target sent. hyper keeps a phrase only when it is not the canonical one.
fn status_text(resp: &reqwest::Response) -> String {
    let s = resp.status();
    let reason = match resp.extensions().get::<hyper::ext::ReasonPhrase>() {
        Some(r) => String::from_utf8_lossy(r.as_bytes()).into_owned(),
        None => s.canonical_reason().unwrap_or_default().to_string(),
    };
    format!("{} {reason}", s.as_u16()).trim_end().to_string()
}

/// Seconds as Go's `strconv.FormatFloat(s, 'f', -1, 64)`: shortest form, no exponent.
pub fn format_seconds(d: Duration) -> String {
    let s = d.as_secs_f64();
    let mut out = format!("{s}");
    if out.contains('e') {
        out = format!("{s:.9}").trim_end_matches('0').to_string();
    }
    out
}

/// A send error in Go's words where Prometheus users know them (`dial tcp …: connect:
/// connection refused`, `lookup … no such host`), else the error chain.
fn send_error(url: &str, e: &reqwest::Error) -> String {
    let chain = error_chain(e);
    let hostport = url
        .split_once("://")
        .map_or(url, |(_, r)| r.split('/').next().unwrap_or(r));
    if e.is_connect() {
        if chain.contains("Connection refused") {
            return format!("dial tcp {hostport}: connect: connection refused");
        }
        if chain.contains("dns error") || chain.contains("failed to lookup") {
            let host = hostport.rsplit_once(':').map_or(hostport, |(h, _)| h);
            return format!("dial tcp: lookup {host}: no such host");
        }
    }
    chain
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(x) = src {
        let m = x.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        src = x.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: the status text was always the canonical one, where Prometheus shows the
    /// target's own (`server returned HTTP status 500 X` for `HTTP/1.1 500 X`).
    #[tokio::test]
    async fn status_error_shows_the_targets_reason_phrase() {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let l = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = l.local_addr().expect("addr");
        tokio::spawn(async move {
            for line in ["503 Backend Down", "500 Internal Server Error", "404"] {
                let (mut s, _) = l.accept().await.expect("accept");
                let mut buf = [0u8; 1024];
                let _ = s.read(&mut buf).await;
                let resp =
                    format!("HTTP/1.1 {line}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                s.write_all(resp.as_bytes()).await.expect("write");
            }
        });
        let cfg = JobConfig::new("j");
        let c = client(&cfg).expect("client");
        let url = format!("http://{addr}/metrics");
        let mut got = Vec::new();
        for _ in 0..3 {
            let e = scrape(&c, &cfg, &url, "text/plain", Duration::from_secs(5))
                .await
                .expect_err("not 200");
            got.push(e.to_string());
        }
        assert_eq!(
            got,
            [
                "server returned HTTP status 503 Backend Down",
                "server returned HTTP status 500 Internal Server Error",
                "server returned HTTP status 404",
            ]
        );
    }

    #[test]
    fn timeout_header_like_go() {
        assert_eq!(format_seconds(Duration::from_secs(10)), "10");
        assert_eq!(format_seconds(Duration::from_millis(1500)), "1.5");
        assert_eq!(format_seconds(Duration::from_millis(250)), "0.25");
    }
}
