//! The Prometheus configuration file (`prometheus.yml`) for Strata's scraping agent: the
//! whole schema of Prometheus 3 (and 2.42), its defaults and checks, and which parts the
//! agent uses.
//!
//! - [`load_file`] / [`load_str`] → [`Loaded`]: the [`Config`] with Prometheus's defaults
//!   applied (global → job defaults, `queue_config`, SD refresh intervals, …), relative
//!   `*_file` paths resolved against the file's directory, the jobs of
//!   `scrape_config_files` appended, plus warnings for keys Prometheus knows that the agent
//!   ignores ("rule_files is not used by the agent", "ec2_sd_configs is not supported by
//!   the agent").
//! - [`ConfigError`]: a file Prometheus would refuse, with the key's place and Prometheus's
//!   message: `scrape_configs[2].scrape_intervall: field scrape_intervall not found in type
//!   config.ScrapeConfig`.
//! - [`sd`]: the service discovery configurations the discovery manager runs.
//!
//! ```text
//!  prometheus.yml ─serde_yaml─► Value ─Obj (strict keys)─► GlobalConfig ─defaults─► ScrapeConfig…
//!                                                        └► RemoteWriteConfig, sd::*, unused sections
//!  scrape_config_files globs ─► more ScrapeConfig (paths relative to their own file)
//! ```
//!
//! Invariants: a key Prometheus does not know is an error, never ignored; every
//! `ScrapeConfig` has `scrape_timeout <= scrape_interval` and a unique `job_name`; named
//! remote write/read endpoints are unique. Durations are Prometheus's `model.Duration`
//! (`1h30m`, `1d`, `1w`, `1y`, `ms`), sizes `units.Base2Bytes` (`KB` = 1024). As in
//! Prometheus 3, `$VAR` and `${VAR}` in `external_labels` values are expanded from the
//! environment (an unset variable is empty; `$$` is `$`); nothing else is expanded.
//! Keys are read without line numbers, so errors name the key's path, not its line.
//! SD kinds the agent does not run are kept as raw YAML, their inner keys unchecked.
//!
//! Prometheus 2.42 and 3 differ; this crate reads both and takes 3's meaning where they
//! conflict: every 3.x key is known (global limits, `scrape_config_files`, `runtime`,
//! `otlp`, `fallback_scrape_protocol`, `scrape_native_histograms`, …, and 2.x's
//! `scrape_classic_histograms`); external labels are expanded (2.42 only with a feature
//! flag, see [`LoadOptions`]); remote write has `enable_http2: false` by default (2.42:
//! true); Alertmanager `api_version: v1` is still accepted (2.42 does). Kubernetes and
//! Consul SD are checked as Prometheus does although Debian's promtool is built without
//! them. YAML 1.1 booleans (`yes`, `off`) and `<<` merge keys are read as Go's decoder
//! reads them.

mod config;
mod error;
mod http;
mod other;
mod remote;
mod scrape;
pub mod sd;
mod units;
mod yaml;

pub use config::{load_file, load_file_with, load_str, load_str_with, Config, LoadOptions, Loaded};
pub use error::ConfigError;
pub use http::{Authorization, BasicAuth, HttpClientConfig, OAuth2, TlsConfig};
pub use other::{
    AlertingConfig, AlertmanagerConfig, OtlpConfig, RuntimeConfig, StorageConfig, TracingConfig,
};
pub use remote::{
    MetadataConfig, ProtobufMessage, QueueConfig, RemoteReadConfig, RemoteWriteConfig, RW1_MESSAGE,
    RW2_MESSAGE,
};
pub use scrape::{
    GlobalConfig, ScrapeConfig, ScrapeLimits, DEFAULT_EVALUATION_INTERVAL, DEFAULT_SCRAPE_INTERVAL,
    DEFAULT_SCRAPE_TIMEOUT, PROTO_FIRST_SCRAPE_PROTOCOLS,
};
pub use units::{format_duration, parse_duration, parse_size};

use std::path::Path;

/// Looks up an environment variable (injectable for tests).
pub(crate) type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Makes a relative path absolute against `dir` (Prometheus's `config.JoinDir`); empty and
/// absolute paths are left alone.
pub(crate) fn resolve_path(p: &mut String, dir: &Path) {
    if p.is_empty() || Path::new(p.as_str()).is_absolute() {
        return;
    }
    *p = dir.join(p.as_str()).to_string_lossy().into_owned();
}

/// Go's `os.Expand` with Prometheus's mapping: `${name}` and `$name` become the variable's
/// value (empty when unset), `$$` becomes `$`, a `$` not followed by a name is kept, and a
/// malformed `${…` is dropped.
pub(crate) fn expand_env(s: &str, env: EnvLookup<'_>) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    let mut last = 0;
    while i < b.len() {
        if b[i] != b'$' || i + 1 >= b.len() {
            i += 1;
            continue;
        }
        out.push_str(&s[last..i]);
        let rest = &s[i + 1..];
        let (name, width) = shell_name(rest);
        if name.is_empty() && width > 0 {
            // Invalid syntax (`${}` or an unclosed `${`): eaten.
        } else if name.is_empty() || name == "$" {
            // A `$` not followed by a name is kept; `$$` is a literal `$`.
            out.push('$');
        } else {
            out.push_str(&env(name).unwrap_or_default());
        }
        i += 1 + width;
        last = i;
    }
    out.push_str(&s[last..]);
    out
}

/// Go's `getShellName`: the variable name after a `$` and how many bytes it spans.
fn shell_name(s: &str) -> (&str, usize) {
    let b = s.as_bytes();
    if b[0] == b'{' {
        if b.len() > 2 && is_shell_special(b[1]) && b[2] == b'}' {
            return (&s[1..2], 3);
        }
        for i in 1..b.len() {
            if b[i] == b'}' {
                if i == 1 {
                    return ("", 2);
                }
                return (&s[1..i], i + 1);
            }
        }
        return ("", 1);
    }
    if is_shell_special(b[0]) {
        return (&s[0..1], 1);
    }
    let n = b
        .iter()
        .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
        .count();
    (&s[..n], n)
}

fn is_shell_special(c: u8) -> bool {
    matches!(c, b'*' | b'#' | b'$' | b'@' | b'!' | b'?' | b'-') || c.is_ascii_digit()
}

#[cfg(test)]
mod tests;
