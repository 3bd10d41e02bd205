//! Configuration machinery shared by every component.
//!
//! Components own their config structs (serde, `deny_unknown_fields`, `Default`); the binary
//! aggregates them. This crate supplies the way values get there:
//!
//! ```text
//!   -config.file=F (YAML) ──► serde_yaml::Value ──► flags overlay their paths ──► T: Deserialize
//!                                                   (-server.http-listen-port=8080
//!                                                     sets server.http_listen_port)
//! ```
//!
//! - [`FlagSet`]: the table of flags, each bound to a path in the YAML tree, with help text;
//!   defaults come from serialising `T::default()`, so they live in one place.
//! - [`load`]: file + flags → `T`, failing with the key's path on unknown keys or bad values.
//! - [`duration`]: Prometheus-style durations (`1h30m`, `500ms`) for serde.

pub mod duration;
mod error;
mod flags;

pub use duration::{format_duration, parse_duration};
pub use error::ConfigError;
pub use flags::{load, parse_args, Flag, FlagKind, FlagSet, ParsedArgs};
