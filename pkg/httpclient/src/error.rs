//! The crate's error: which `tls_config` key or file cannot be used, and why.

/// Why a TLS setting cannot be used; the message names the key and the file at fault.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A `*_file` could not be read.
    #[error("tls_config: read {key} {path}: {source}")]
    Read {
        /// `ca_file`, `cert_file` or `key_file`.
        key: &'static str,
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A certificate or key is not usable PEM.
    #[error("tls_config: {what}: {reason}")]
    Pem {
        /// The key, with the file when the value came from one (`ca_file /etc/ca.pem`).
        what: String,
        /// Why.
        reason: String,
    },
    /// Another setting is not usable (`server_name`, versions, a key not matching its
    /// certificate).
    #[error("tls_config: {0}")]
    Invalid(String),
}
