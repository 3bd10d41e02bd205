//! Errors of the load generator.

use std::path::PathBuf;

/// Everything that can stop `strata-loadgen` before or during a run.
#[derive(Debug, thiserror::Error)]
pub enum LoadgenError {
    /// A flag value does not parse or is out of range.
    #[error("invalid flag --{flag}: {reason}")]
    Flag {
        /// The flag's long name.
        flag: &'static str,
        /// Why the value is refused.
        reason: String,
    },
    /// A duration such as `15s` or `1h30m` does not parse.
    #[error("parse duration {input:?}: {reason}")]
    Duration {
        /// The text given.
        input: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A point in time for `--sim-start` does not parse.
    #[error("parse time {input:?}: {reason}")]
    Time {
        /// The text given.
        input: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Reading or writing a file (ack log, report) failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// The operation, e.g. "open ack log".
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// An ack log is not in the format this version writes.
    #[error("read ack log {path}: {reason}")]
    AckLogFormat {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Snappy compression of a request body failed.
    #[error("compress request body: {0}")]
    Compress(#[from] snap::Error),
    /// The HTTP client could not be built.
    #[error("build http client: {0}")]
    Client(#[source] reqwest::Error),
    /// A benchmark query failed or its answer did not parse.
    #[error("query {name}: {reason}")]
    Query {
        /// The query's name.
        name: &'static str,
        /// The status and body, or the parse error.
        reason: String,
    },
    /// A benchmark server (`strata-agentbench`) could not listen or serve.
    #[error("{what}: {source}")]
    Serve {
        /// What failed, e.g. "listen on 127.0.0.1:9000".
        what: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Serialising the final report failed.
    #[error("serialise report: {0}")]
    Report(#[from] serde_json::Error),
}

/// Shorthand for results of this crate.
pub type Result<T, E = LoadgenError> = std::result::Result<T, E>;
