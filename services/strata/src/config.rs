//! The binary's configuration: every component's config in one tree, and the flag table
//! that binds Mimir-style flags to paths in it.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use strata_config::{Flag, FlagKind, FlagSet};
use strata_distributor::DistributorConfig;
use strata_ingester::IngesterConfig;
use strata_querier::QuerierConfig;

use crate::modules::Target;

/// Strata's whole configuration, as read from `-config.file` with flags laid over it.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Components to run: `all`, or a comma list of `distributor`, `ingester`, `querier`.
    pub target: String,
    /// When false, every request belongs to tenant `anonymous` and no tenant header is needed.
    pub multitenancy_enabled: bool,
    /// Where components keep local state.
    pub data_dir: String,
    /// Listeners, logging and shutdown.
    pub server: ServerConfig,
    /// How distributors and queriers reach ingesters (a static list until the ring exists).
    pub ingester_client: IngesterClientConfig,
    /// The remote write endpoint.
    pub distributor: DistributorConfig,
    /// The in-memory head.
    pub ingester: IngesterConfig,
    /// The Prometheus HTTP API and the PromQL engine.
    pub querier: QuerierConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            target: "all".into(),
            multitenancy_enabled: true,
            data_dir: "./data".into(),
            server: ServerConfig::default(),
            ingester_client: IngesterClientConfig::default(),
            distributor: DistributorConfig::default(),
            ingester: IngesterConfig::default(),
            querier: QuerierConfig::default(),
        }
    }
}

/// Listeners, logging and shutdown.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address the HTTP server binds.
    pub http_listen_address: String,
    /// Port of the HTTP server (push, queries, operations pages).
    pub http_listen_port: u16,
    /// Address the gRPC server binds.
    pub grpc_listen_address: String,
    /// Port of the gRPC server (the internal Ingester service).
    pub grpc_listen_port: u16,
    /// `host:port` at which other processes reach this one's gRPC server; empty means the gRPC
    /// listen address (or 127.0.0.1 when it listens on every interface) and port.
    pub advertise_address: String,
    /// How long in-flight requests may take to finish after SIGTERM.
    #[serde(with = "strata_config::duration")]
    pub graceful_shutdown_timeout: Duration,
    /// Log level: `debug`, `info`, `warn` or `error`.
    pub log_level: String,
    /// Log format: `logfmt` or `json`.
    pub log_format: String,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            http_listen_address: "0.0.0.0".into(),
            http_listen_port: 8080,
            grpc_listen_address: "0.0.0.0".into(),
            grpc_listen_port: 9095,
            advertise_address: String::new(),
            graceful_shutdown_timeout: Duration::from_secs(30),
            log_level: "info".into(),
            log_format: "logfmt".into(),
        }
    }
}

impl ServerConfig {
    /// The gRPC address other processes should use for this one.
    pub fn advertised_grpc_address(&self) -> String {
        if !self.advertise_address.is_empty() {
            return self.advertise_address.clone();
        }
        let host = match self.grpc_listen_address.as_str() {
            "" | "0.0.0.0" | "::" | "[::]" => "127.0.0.1",
            h => h,
        };
        format!("{host}:{}", self.grpc_listen_port)
    }
}

/// How distributors and queriers reach ingesters.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct IngesterClientConfig {
    /// Ingester gRPC addresses (`host:port`). Empty: the ingester in this process, which then
    /// must be a target here.
    pub addresses: Vec<String>,
}

impl Config {
    /// Checks what serde cannot: cross-field rules. Errors name the key.
    pub fn validate(&self) -> anyhow::Result<()> {
        let targets = Target::parse_list(&self.target)?;
        if !["logfmt", "json"].contains(&self.server.log_format.as_str()) {
            anyhow::bail!(
                "invalid config at server.log_format: {:?} is not logfmt or json",
                self.server.log_format
            );
        }
        if !["debug", "info", "warn", "error"].contains(&self.server.log_level.as_str()) {
            anyhow::bail!(
                "invalid config at server.log_level: {:?} is not debug, info, warn or error",
                self.server.log_level
            );
        }
        let runs_ingester = targets.contains(&Target::Ingester);
        let needs_ingesters = targets
            .iter()
            .any(|t| matches!(t, Target::Distributor | Target::Querier));
        if needs_ingesters && !runs_ingester && self.ingester_client.addresses.is_empty() {
            anyhow::bail!(
                "invalid config at ingester_client.addresses: target {:?} needs ingester addresses (-ingester.addresses) when no ingester runs in this process",
                self.target
            );
        }
        Ok(())
    }
}

/// Every flag, bound to its config path. Defaults come from `Config::default()`.
pub fn flags() -> FlagSet {
    FlagSet::new(flag_table())
}

fn flag_table() -> Vec<Flag> {
    use FlagKind::*;
    let f = |name, path, kind, help| Flag {
        name,
        path,
        kind,
        help,
    };
    vec![
        f(
            "ingester.wal-dir",
            "ingester.wal_dir",
            String,
            "directory of the ingester's write-ahead log; empty means <data.dir>/wal",
        ),
        f(
            "ingester.block-cut-interval",
            "ingester.block_cut_interval",
            Duration,
            "how often the head is checked for 2-hour ranges old enough to cut into blocks; 0s disables",
        ),
        f(
            "ingester.wal-segment-size",
            "ingester.wal_segment_size",
            Int,
            "size at which a WAL segment is cut, in bytes",
        ),
        f("target", "target", String, "comma-separated components to run: all, distributor, ingester, querier"),
        f("auth.multitenancy-enabled", "multitenancy_enabled", Bool, "require a tenant (X-Scope-OrgID or basic-auth user); when false every request is tenant 'anonymous'"),
        f("data.dir", "data_dir", String, "directory for local state"),
        f("server.http-listen-address", "server.http_listen_address", String, "HTTP server listen address"),
        f("server.http-listen-port", "server.http_listen_port", Int, "HTTP server listen port"),
        f("server.grpc-listen-address", "server.grpc_listen_address", String, "gRPC server listen address"),
        f("server.grpc-listen-port", "server.grpc_listen_port", Int, "gRPC server listen port"),
        f("server.advertise-address", "server.advertise_address", String, "host:port other processes use to reach this one's gRPC server"),
        f("server.graceful-shutdown-timeout", "server.graceful_shutdown_timeout", Duration, "time allowed for in-flight requests after SIGTERM"),
        f("log.level", "server.log_level", String, "log level: debug, info, warn, error"),
        f("log.format", "server.log_format", String, "log format: logfmt or json"),
        f("ingester.addresses", "ingester_client.addresses", List, "comma-separated ingester gRPC addresses, for distributors and queriers in other processes"),
        f("distributor.max-recv-msg-size", "distributor.max_recv_msg_size", Int, "largest compressed remote write body accepted, in bytes"),
        f("distributor.max-decompressed-size", "distributor.max_decompressed_size", Int, "largest decompressed remote write body accepted, in bytes"),
        f("distributor.remote-timeout", "distributor.remote_timeout", Duration, "timeout of a push to ingesters"),
        f("validation.max-label-names-per-series", "distributor.limits.max_label_names_per_series", Int, "most labels a series may have"),
        f("validation.max-length-label-name", "distributor.limits.max_label_name_length", Int, "longest label name, in bytes"),
        f("validation.max-length-label-value", "distributor.limits.max_label_value_length", Int, "longest label value, in bytes"),
        f("validation.create-grace-period", "distributor.limits.creation_grace_period", Duration, "how far in the future a sample's timestamp may be"),
        f("querier.lookback-delta", "querier.lookback_delta", Duration, "how far back an instant selector looks for a sample"),
        f("querier.timeout", "querier.timeout", Duration, "query timeout"),
        f("querier.max-samples", "querier.max_samples", Int, "most samples one query may load"),
        f("querier.max-concurrent", "querier.max_concurrent", Int, "queries evaluated at once; more wait in a queue"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_flag_sets_a_key_that_exists() {
        let defaults = serde_yaml::to_value(Config::default()).expect("default config serialises");
        for flag in flag_table() {
            let found = flag
                .path
                .split('.')
                .try_fold(&defaults, |cur, key| cur.get(key));
            assert!(
                found.is_some(),
                "flag -{} sets {} which the config does not have",
                flag.name,
                flag.path
            );
        }
    }

    #[test]
    fn effective_config_round_trips() {
        // /config prints this YAML; an operator must be able to feed it back.
        let yaml = serde_yaml::to_string(&Config::default()).expect("serialise");
        let back: Config = serde_yaml::from_str(&yaml).expect("parse back");
        assert_eq!(serde_yaml::to_string(&back).expect("serialise"), yaml);
    }

    #[test]
    fn validate_names_the_key() {
        let mut c = Config::default();
        c.server.log_format = "xml".into();
        assert!(c
            .validate()
            .expect_err("bad format")
            .to_string()
            .contains("server.log_format"));
        let mut c = Config {
            target: "querier".into(),
            ..Default::default()
        };
        assert!(c
            .validate()
            .expect_err("needs ingesters")
            .to_string()
            .contains("ingester_client.addresses"));
        c.ingester_client.addresses = vec!["ingester-1:9095".into()];
        assert!(c.validate().is_ok());
    }

    #[test]
    fn advertised_address_defaults_to_loopback_for_wildcards() {
        let mut s = ServerConfig::default();
        assert_eq!(s.advertised_grpc_address(), "127.0.0.1:9095");
        s.grpc_listen_address = "10.0.0.5".into();
        assert_eq!(s.advertised_grpc_address(), "10.0.0.5:9095");
        s.advertise_address = "ingester-1:9095".into();
        assert_eq!(s.advertised_grpc_address(), "ingester-1:9095");
    }
}
