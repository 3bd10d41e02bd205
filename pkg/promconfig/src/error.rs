//! [`ConfigError`]: why a configuration was refused, naming the key and where it is.

use std::path::PathBuf;

/// A configuration Prometheus would refuse, or a file that could not be read.
///
/// `path` is where in the document the problem is, as `scrape_configs[2].scrape_interval`
/// (empty for the document itself).
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A file could not be read.
    #[error("read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The text is not YAML.
    #[error("parse yaml: {0}")]
    Yaml(String),
    /// A key Prometheus does not know (in Prometheus's words).
    #[error("{path}: field {key} not found in type {go_type}")]
    UnknownField {
        /// Where the key is, the key included.
        path: String,
        /// The key.
        key: String,
        /// The Go type Prometheus reads the enclosing mapping into.
        go_type: &'static str,
    },
    /// A value of the wrong shape or refused by Prometheus's checks.
    #[error("{}{message}", if path.is_empty() { String::new() } else { format!("{path}: ") })]
    Invalid {
        /// Where the value is.
        path: String,
        /// What is wrong, in Prometheus's words where it has them.
        message: String,
    },
    /// An error in a file the main file refers to (`scrape_config_files`).
    #[error("{file}: {source}")]
    InFile {
        /// The file.
        file: PathBuf,
        /// The error in it.
        source: Box<ConfigError>,
    },
}

impl ConfigError {
    /// An [`ConfigError::Invalid`] at `path`.
    pub(crate) fn invalid(path: &str, message: impl Into<String>) -> Self {
        ConfigError::Invalid {
            path: path.to_string(),
            message: message.into(),
        }
    }
}
