//! An HTTP client built from Prometheus's `http_config` (basic auth, authorization, proxy,
//! redirects, extra headers, `tls_config` through strata-httpclient) for HTTP, Kubernetes
//! and Consul SD.
//!
//! Credentials given as files are read again on every request, as Prometheus does, so a
//! rotated service-account token is picked up without a reload. TLS files are read when the
//! provider is created (at load and reload).

use std::path::PathBuf;
use std::time::Duration;

use reqwest::header::{HeaderName, HeaderValue, AUTHORIZATION};
use strata_httpclient::TlsConfig;
use strata_promconfig::HttpClientConfig;

use crate::error::DiscoveryError;

#[derive(Clone, Debug)]
enum Secret {
    Inline(String),
    File(PathBuf),
}

impl Secret {
    fn from_pair(inline: &str, file: &str) -> Option<Self> {
        if !file.is_empty() {
            Some(Self::File(PathBuf::from(file)))
        } else if !inline.is_empty() {
            Some(Self::Inline(inline.to_string()))
        } else {
            None
        }
    }

    fn read(&self) -> Result<String, DiscoveryError> {
        match self {
            Self::Inline(s) => Ok(s.clone()),
            Self::File(p) => std::fs::read_to_string(p)
                .map(|s| s.trim().to_string())
                .map_err(|source| DiscoveryError::Io {
                    path: p.display().to_string(),
                    source,
                }),
        }
    }
}

#[derive(Clone, Debug)]
enum Auth {
    None,
    Basic {
        user: Option<Secret>,
        password: Option<Secret>,
    },
    Header {
        kind: String,
        credentials: Option<Secret>,
    },
}

/// A configured client; cheap to clone.
#[derive(Clone, Debug)]
pub struct HttpClient {
    client: reqwest::Client,
    auth: Auth,
    headers: Vec<(HeaderName, HeaderValue)>,
}

impl HttpClient {
    /// Builds a client; `timeout` bounds each whole request (none for watches).
    pub fn new(
        cfg: &HttpClientConfig,
        timeout: Option<Duration>,
        mechanism: &'static str,
    ) -> Result<Self, DiscoveryError> {
        Self::with_tls(cfg, &TlsConfig::from(&cfg.tls_config), timeout, mechanism)
    }

    /// As [`HttpClient::new`], with `tls` instead of `cfg.tls_config` (Kubernetes in-cluster
    /// adds the service account's CA).
    pub fn with_tls(
        cfg: &HttpClientConfig,
        tls: &TlsConfig,
        timeout: Option<Duration>,
        mechanism: &'static str,
    ) -> Result<Self, DiscoveryError> {
        let mut b = strata_httpclient::builder(tls)
            .map_err(|e| DiscoveryError::config(mechanism, e.to_string()))?
            .connect_timeout(Duration::from_secs(10));
        if let Some(t) = timeout {
            b = b.timeout(t);
        }
        b = b.redirect(if cfg.follow_redirects {
            reqwest::redirect::Policy::limited(10)
        } else {
            reqwest::redirect::Policy::none()
        });
        if !cfg.proxy_url.is_empty() {
            let p = reqwest::Proxy::all(&cfg.proxy_url)
                .map_err(|e| DiscoveryError::config(mechanism, format!("proxy_url: {e}")))?;
            b = b.proxy(p);
        } else if !cfg.proxy_from_environment {
            b = b.no_proxy();
        }
        let client = b
            .build()
            .map_err(|e| DiscoveryError::config(mechanism, format!("build http client: {e}")))?;
        let auth = if let Some(a) = &cfg.authorization {
            let kind = if a.type_.is_empty() {
                "Bearer".to_string()
            } else {
                a.type_.clone()
            };
            Auth::Header {
                kind,
                credentials: Secret::from_pair(&a.credentials, &a.credentials_file),
            }
        } else if let Some(a) = &cfg.basic_auth {
            Auth::Basic {
                user: Secret::from_pair(&a.username, &a.username_file),
                password: Secret::from_pair(&a.password, &a.password_file),
            }
        } else {
            Auth::None
        };
        let mut headers = Vec::new();
        for (name, values) in &cfg.http_headers {
            let n = HeaderName::from_bytes(name.as_bytes()).map_err(|e| {
                DiscoveryError::config(mechanism, format!("http_headers {name}: {e}"))
            })?;
            for v in values {
                let v = HeaderValue::from_str(v).map_err(|e| {
                    DiscoveryError::config(mechanism, format!("http_headers {name}: {e}"))
                })?;
                headers.push((n.clone(), v));
            }
        }
        Ok(Self {
            client,
            auth,
            headers,
        })
    }

    /// Sets a bearer token read from `file` on every request, unless `http_config` already
    /// sets authorization (Kubernetes in-cluster service-account token).
    pub fn with_default_bearer_file(mut self, file: PathBuf) -> Self {
        if matches!(self.auth, Auth::None) {
            self.auth = Auth::Header {
                kind: "Bearer".into(),
                credentials: Some(Secret::File(file)),
            };
        }
        self
    }

    /// Checks that `url` is an `http` or `https` URL.
    pub fn check_url(url: &str, mechanism: &'static str) -> Result<reqwest::Url, DiscoveryError> {
        let u = reqwest::Url::parse(url)
            .map_err(|e| DiscoveryError::config(mechanism, format!("url {url:?}: {e}")))?;
        match u.scheme() {
            "http" | "https" => Ok(u),
            s => Err(DiscoveryError::config(
                mechanism,
                format!("url {url:?}: unsupported scheme {s:?}"),
            )),
        }
    }

    /// A GET request with the configured headers and credentials.
    pub fn get(&self, url: reqwest::Url) -> Result<reqwest::RequestBuilder, DiscoveryError> {
        let mut rb = self.client.get(url);
        for (n, v) in &self.headers {
            rb = rb.header(n.clone(), v.clone());
        }
        match &self.auth {
            Auth::None => {}
            Auth::Basic { user, password } => {
                let u = user
                    .as_ref()
                    .map(Secret::read)
                    .transpose()?
                    .unwrap_or_default();
                let p = password.as_ref().map(Secret::read).transpose()?;
                rb = rb.basic_auth(u, p);
            }
            Auth::Header { kind, credentials } => {
                let c = credentials
                    .as_ref()
                    .map(Secret::read)
                    .transpose()?
                    .unwrap_or_default();
                rb = rb.header(AUTHORIZATION, format!("{kind} {c}"));
            }
        }
        Ok(rb)
    }
}
