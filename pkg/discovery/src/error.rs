//! The crate's error type.

/// Errors of service discovery: building a provider from its config, or one refresh.
#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    /// A provider's configuration cannot be used (bad URL, missing credentials file, ...).
    #[error("invalid {mechanism} sd config: {msg}")]
    Config {
        /// The mechanism (`file`, `http`, `dns`, `kubernetes`, `consul`).
        mechanism: &'static str,
        /// What is wrong.
        msg: String,
    },
    /// A body (file, HTTP response, API object) could not be parsed.
    #[error("parse target groups: {0}")]
    Parse(String),
    /// Reading a local file failed.
    #[error("read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// An HTTP request failed or answered an unexpected status.
    #[error("http {url}: {msg}")]
    Http {
        /// The URL requested.
        url: String,
        /// What went wrong.
        msg: String,
    },
    /// A DNS lookup failed.
    #[error("dns lookup {name}: {msg}")]
    Dns {
        /// The name looked up.
        name: String,
        /// What went wrong.
        msg: String,
    },
}

impl DiscoveryError {
    pub(crate) fn config(mechanism: &'static str, msg: impl Into<String>) -> Self {
        Self::Config {
            mechanism,
            msg: msg.into(),
        }
    }

    pub(crate) fn http(url: impl Into<String>, msg: impl std::fmt::Display) -> Self {
        Self::Http {
            url: url.into(),
            msg: msg.to_string(),
        }
    }
}
