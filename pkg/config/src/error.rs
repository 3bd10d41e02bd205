/// Why configuration could not be loaded. Every variant names the key or flag at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A flag that no component defines.
    #[error("unknown flag {0}; run with -help to list flags")]
    UnknownFlag(String),
    /// A flag with a value its kind cannot take.
    #[error("invalid value {value:?} for flag {flag}: {reason}")]
    BadFlagValue {
        /// The flag as given.
        flag: String,
        /// The value as given.
        value: String,
        /// Why it does not parse.
        reason: String,
    },
    /// The config file could not be read.
    #[error("read config file {path}: {source}")]
    ReadFile {
        /// The file's path.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The config file is not valid YAML.
    #[error("parse config file {path}: {source}")]
    ParseFile {
        /// The file's path.
        path: String,
        /// The YAML error.
        #[source]
        source: serde_yaml::Error,
    },
    /// A key is unknown or has a bad value; `key` is its dotted path.
    #[error("invalid config at {key}: {message}")]
    Invalid {
        /// Dotted path of the key at fault (`server.http_listen_port`).
        key: String,
        /// What is wrong with it.
        message: String,
    },
}
