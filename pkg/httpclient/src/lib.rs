//! reqwest clients with Prometheus's `tls_config`, on rustls with the ring crypto provider:
//! scrape targets, HTTP/Kubernetes/Consul SD and remote write all build their clients from
//! [`builder`].
//!
//! ```text
//! TlsConfig (ca/ca_file, cert/cert_file, key/key_file, server_name,
//!            insecure_skip_verify, min_version, max_version)
//!   └─ load(): *_file contents read into ca/cert/key (errors name the file)
//!   └─ rustls_config(): roots = the CA alone if given, else the system's (loaded once,
//!                       at the first handshake that needs them); server_name checked
//!                       instead of the URL's host; client certificate; HTTP/1.1 by ALPN
//!   └─ builder(): reqwest::ClientBuilder with that rustls config
//! ```
//!
//! [`testing`] holds what TLS tests share: certificates made by the `openssl` CLI and a TLS
//! server on threads.
//!
//! Every client built here carries its own rustls config made with ring, so it never needs
//! a process-wide provider. Other reqwest clients do: reqwest (feature `rustls-no-provider`)
//! panics when building a client without one, so binaries and tests building plain clients
//! call [`install_crypto_provider`] first.
//!
//! Differences from Prometheus (Go's crypto/tls): `server_name` is the name the certificate
//! is checked against, but the SNI sent is still the URL's host (reqwest has no hook for it);
//! rustls speaks TLS 1.2 and 1.3 only, so `min_version: TLS10`/`TLS11` mean TLS 1.2 and a
//! `max_version` below TLS 1.2 is an error; files are read when the client is built (at
//! load and reload), not on every connection.

use std::path::Path;
use std::sync::{Arc, OnceLock};

mod error;
pub mod testing;
mod verify;

use rustls::client::danger::ServerCertVerifier;
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::RootCertStore;

pub use error::TlsError;
use verify::{AcceptAny, Renamed, SystemRoots};

/// Installs ring as the process' default rustls crypto provider; does nothing when one is
/// installed already. Needed before building any reqwest client not made by [`builder`].
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A TLS protocol version, as `min_version`/`max_version` name them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TlsVersion {
    /// `TLS10`.
    Tls10,
    /// `TLS11`.
    Tls11,
    /// `TLS12`.
    Tls12,
    /// `TLS13`.
    Tls13,
}

impl std::fmt::Display for TlsVersion {
    /// Prometheus's name (`TLS12`).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Tls10 => "TLS10",
            Self::Tls11 => "TLS11",
            Self::Tls12 => "TLS12",
            Self::Tls13 => "TLS13",
        })
    }
}

impl TlsVersion {
    /// Parses Prometheus's names (`TLS10` … `TLS13`); `None` for anything else.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "TLS10" => Some(Self::Tls10),
            "TLS11" => Some(Self::Tls11),
            "TLS12" => Some(Self::Tls12),
            "TLS13" => Some(Self::Tls13),
            _ => None,
        }
    }
}

/// Prometheus's `tls_config`. Paths are used as given (the config crate has already made
/// them absolute); an inline value and its `*_file` are not both set.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct TlsConfig {
    /// `ca`: PEM CA certificates inline (or `ca_file`'s contents after [`TlsConfig::load`]).
    pub ca: String,
    /// `ca_file`.
    pub ca_file: String,
    /// `cert`: the PEM client certificate (chain) inline.
    pub cert: String,
    /// `cert_file`.
    pub cert_file: String,
    /// `key`: the PEM client key inline.
    pub key: String,
    /// `key_file`.
    pub key_file: String,
    /// `server_name`: the name the server's certificate must be valid for, instead of the
    /// URL's host.
    pub server_name: String,
    /// `insecure_skip_verify`: accept any server certificate.
    pub insecure_skip_verify: bool,
    /// `min_version`; `None` is TLS 1.2, as Prometheus.
    pub min_version: Option<TlsVersion>,
    /// `max_version`; `None` is the newest (TLS 1.3).
    pub max_version: Option<TlsVersion>,
}

impl TlsConfig {
    /// Tells whether any option is set.
    pub fn is_set(&self) -> bool {
        *self != Self::default()
    }

    /// Reads `ca_file`, `cert_file` and `key_file` into `ca`, `cert` and `key` (the file
    /// names stay, for messages), so that comparing two loaded configs compares what the
    /// files held: a reload with a rotated certificate rebuilds the client.
    pub fn load(&self) -> Result<TlsConfig, TlsError> {
        let read = |inline: &str, file: &str, key: &'static str| -> Result<String, TlsError> {
            if file.is_empty() || !inline.is_empty() {
                return Ok(inline.to_string());
            }
            std::fs::read_to_string(Path::new(file)).map_err(|source| TlsError::Read {
                key,
                path: file.to_string(),
                source,
            })
        };
        Ok(TlsConfig {
            ca: read(&self.ca, &self.ca_file, "ca_file")?,
            cert: read(&self.cert, &self.cert_file, "cert_file")?,
            key: read(&self.key, &self.key_file, "key_file")?,
            ..self.clone()
        })
    }
}

impl From<&strata_promconfig::TlsConfig> for TlsConfig {
    /// `prometheus.yml`'s `tls_config` (already checked, paths already absolute).
    fn from(t: &strata_promconfig::TlsConfig) -> Self {
        Self {
            ca: t.ca.clone(),
            ca_file: t.ca_file.clone(),
            cert: t.cert.clone(),
            cert_file: t.cert_file.clone(),
            key: t.key.clone(),
            key_file: t.key_file.clone(),
            server_name: t.server_name.clone(),
            insecure_skip_verify: t.insecure_skip_verify,
            min_version: TlsVersion::parse(&t.min_version),
            max_version: TlsVersion::parse(&t.max_version),
        }
    }
}

/// The crypto provider of every config built here.
pub(crate) fn provider() -> Arc<CryptoProvider> {
    static P: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    Arc::clone(P.get_or_init(|| Arc::new(rustls::crypto::ring::default_provider())))
}

/// Names a value in messages: `ca` when inline, `ca_file /path` when from a file.
fn source_name(key: &str, file: &str) -> String {
    if file.is_empty() {
        key.to_string()
    } else {
        format!("{key}_file {file}")
    }
}

fn certificates(pem: &str, what: &str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Pem {
            what: what.to_string(),
            reason: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TlsError::Pem {
            what: what.to_string(),
            reason: "no PEM certificate found".into(),
        });
    }
    Ok(certs)
}

/// The rustls config `tls` describes; `*_file`s not yet [loaded](TlsConfig::load) are read.
pub fn rustls_config(tls: &TlsConfig) -> Result<rustls::ClientConfig, TlsError> {
    let tls = tls.load()?;
    let provider = provider();
    let min = tls.min_version.unwrap_or(TlsVersion::Tls12);
    let max = tls.max_version.unwrap_or(TlsVersion::Tls13);
    let versions: Vec<&'static rustls::SupportedProtocolVersion> = [
        (TlsVersion::Tls12, &rustls::version::TLS12),
        (TlsVersion::Tls13, &rustls::version::TLS13),
    ]
    .into_iter()
    .filter(|(v, _)| min <= *v && *v <= max)
    .map(|(_, p)| p)
    .collect();
    if versions.is_empty() {
        return Err(TlsError::Invalid(format!(
            "no TLS version between min_version {min} and max_version {max} is supported (TLS 1.2 and 1.3 are)"
        )));
    }
    let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(&versions)
        .map_err(|e| TlsError::Invalid(e.to_string()))?;

    let algorithms = provider.signature_verification_algorithms;
    let verifier: Arc<dyn ServerCertVerifier> = if tls.insecure_skip_verify {
        Arc::new(AcceptAny { algorithms })
    } else if !tls.ca.is_empty() || !tls.ca_file.is_empty() {
        let what = source_name("ca", &tls.ca_file);
        let mut roots = RootCertStore::empty();
        for c in certificates(&tls.ca, &what)? {
            roots.add(c).map_err(|e| TlsError::Pem {
                what: what.clone(),
                reason: e.to_string(),
            })?;
        }
        WebPkiServerVerifier::builder_with_provider(Arc::new(roots), Arc::clone(&provider))
            .build()
            .map_err(|e| TlsError::Pem {
                what,
                reason: e.to_string(),
            })?
    } else {
        Arc::new(SystemRoots { algorithms })
    };
    let verifier = if tls.server_name.is_empty() || tls.insecure_skip_verify {
        verifier
    } else {
        let name = ServerName::try_from(tls.server_name.clone())
            .map_err(|e| TlsError::Invalid(format!("server_name {:?}: {e}", tls.server_name)))?;
        Arc::new(Renamed {
            inner: verifier,
            name,
        })
    };
    let builder = builder
        .dangerous()
        .with_custom_certificate_verifier(verifier);

    let mut config = if tls.cert.is_empty() && tls.cert_file.is_empty() {
        builder.with_no_client_auth()
    } else {
        let cert_what = source_name("cert", &tls.cert_file);
        let key_what = source_name("key", &tls.key_file);
        let chain = certificates(&tls.cert, &cert_what)?;
        let key = PrivateKeyDer::from_pem_slice(tls.key.as_bytes()).map_err(|e| TlsError::Pem {
            what: key_what.clone(),
            reason: e.to_string(),
        })?;
        builder.with_client_auth_cert(chain, key).map_err(|e| {
            TlsError::Invalid(format!("client certificate ({cert_what}, {key_what}): {e}"))
        })?
    };
    // The workspace's reqwest speaks HTTP/1.1 only.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// A reqwest client builder whose TLS is `tls` (read now). Use it for every client that
/// may see an `https` URL, with `TlsConfig::default()` when there is no `tls_config`.
pub fn builder(tls: &TlsConfig) -> Result<reqwest::ClientBuilder, TlsError> {
    Ok(reqwest::Client::builder().tls_backend_preconfigured(rustls_config(tls)?))
}
