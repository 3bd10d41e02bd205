//! The binary's configuration: every component's config in one tree, and the flag table
//! that binds Mimir-style flags to paths in it.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use strata_config::{Flag, FlagKind, FlagSet};
use strata_distributor::limits::TenantLimits;
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
    /// How distributors and queriers reach ingesters without the ring (a static list).
    pub ingester_client: IngesterClientConfig,
    /// The Raft-backed ring: voters, this instance, replication.
    pub ring: RingConfig,
    /// The remote write endpoint.
    pub distributor: DistributorConfig,
    /// The in-memory head.
    pub ingester: IngesterConfig,
    /// The Prometheus HTTP API and the PromQL engine.
    pub querier: QuerierConfig,
    /// Every tenant's default limits (rate, series, HA); per tenant in the runtime file.
    pub limits: TenantLimits,
    /// The runtime overrides file, reloaded without restart (see `runtime_config.rs`).
    pub runtime_config: RuntimeConfigConfig,
    /// Test-only switches; never set in production.
    pub debug: DebugConfig,
    /// The scraping agent (target `agent`).
    pub agent: AgentConfig,
}

/// The scraping agent (target `agent`, see `agent.rs`).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AgentConfig {
    /// The Prometheus configuration file (`prometheus.yml`) the agent runs; required by
    /// target `agent`.
    pub config_file: String,
    /// Where the agent keeps its remote-write queue; empty: `<data_dir>/agent`.
    pub data_dir: String,
    /// This agent's share of targets, `i/n`: N agents with `0/N` … `N-1/N` split targets by
    /// a hash of their address, none scraped twice. Empty: every target.
    pub shard: String,
    /// Bytes of queued data kept per remote-write endpoint at most; the oldest is dropped
    /// past it. 0: no cap.
    pub max_disk_bytes_per_endpoint: u64,
    /// Age of queued data kept per endpoint at most. 0s: no cap.
    #[serde(with = "strata_config::duration")]
    pub max_age_per_endpoint: Duration,
}

/// Test-only switches for crash tests.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DebugConfig {
    /// TEST ONLY: a failpoint (see `strata_vfs::failpoint`) at which the process aborts, to
    /// test recovery from a crash at that exact step: `block-after-chunks`,
    /// `block-after-index`, `block-before-rename`, `block-before-dir-fsync`,
    /// `wal-checkpoint-middle`. Empty (the default) arms none.
    pub failpoint: String,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            target: "all".into(),
            multitenancy_enabled: true,
            data_dir: "./data".into(),
            server: ServerConfig::default(),
            ingester_client: IngesterClientConfig::default(),
            ring: RingConfig::default(),
            distributor: DistributorConfig::default(),
            ingester: IngesterConfig::default(),
            querier: QuerierConfig::default(),
            limits: TenantLimits::default(),
            runtime_config: RuntimeConfigConfig::default(),
            debug: DebugConfig::default(),
            agent: AgentConfig::default(),
        }
    }
}

/// Where the runtime overrides file is and how often it is re-read.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RuntimeConfigConfig {
    /// The YAML file with per-tenant `overrides`; empty: none.
    pub file: String,
    /// How often the file is re-read (default 10s).
    #[serde(with = "strata_config::duration")]
    pub reload_period: Duration,
}

impl Default for RuntimeConfigConfig {
    fn default() -> Self {
        Self {
            file: String::new(),
            reload_period: Duration::from_secs(10),
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

/// The ring (see `ring.rs`): who holds it, who this instance is, how writes replicate.
///
/// Modes: `voters` empty and target `ring` in this process (as in `all`): this process is
/// the only voter and bootstraps a one-voter Raft in `<data_dir>/ring`; its distributor and
/// querier keep using its own ingester directly (replication factor effectively 1).
/// `voters` set: processes whose advertised gRPC address is listed and that run target
/// `ring` are the voters (Raft id = position in the list, from 1; every process must list
/// them in the same order); every other process follows the ring from them, and
/// distributors and queriers place and read series on the ring with `replication_factor`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RingConfig {
    /// gRPC addresses (`host:port`) of the ring's voters, in the same order everywhere.
    pub voters: Vec<String>,
    /// This ingester's instance id in the ring; empty: the id persisted in
    /// `<data_dir>/ring-instance.json`, else the host name.
    pub node_id: String,
    /// This ingester's availability zone (empty: no zone).
    pub availability_zone: String,
    /// Replicas per series; a write needs `replication_factor/2 + 1` of them.
    pub replication_factor: usize,
    /// Put each replica in a different zone.
    pub zone_awareness_enabled: bool,
    /// Tokens per ingester.
    pub num_tokens: usize,
    /// How often an ingester sends heartbeats to the voters (and re-checks its ring entry).
    #[serde(with = "strata_config::duration")]
    pub heartbeat_period: Duration,
    /// An ingester without a heartbeat for this long counts as unhealthy (judged only while
    /// the ring has a leader).
    #[serde(with = "strata_config::duration")]
    pub heartbeat_timeout: Duration,
    /// Raft election timeout (a random time between this and twice this).
    #[serde(with = "strata_config::duration")]
    pub election_timeout: Duration,
    /// Ingesters per tenant (shuffle sharding); 0 uses every ingester.
    pub ingestion_tenant_shard_size: usize,
    /// Queriers also read the ingesters a tenant's shard had before instances registered
    /// within this window.
    #[serde(with = "strata_config::duration")]
    pub shuffle_sharding_lookback: Duration,
    /// This distributor's id among the distributors registered in the ring; empty: the
    /// host name.
    pub distributor_id: String,
    /// Divide each tenant's ingestion rate and burst by the healthy distributors registered
    /// in the ring (default); false, or without a ring: by `distributor.instances`.
    pub distributor_instances_from_ring: bool,
}

impl Default for RingConfig {
    fn default() -> Self {
        Self {
            voters: Vec::new(),
            node_id: String::new(),
            availability_zone: String::new(),
            replication_factor: 3,
            zone_awareness_enabled: false,
            num_tokens: 128,
            heartbeat_period: Duration::from_secs(5),
            heartbeat_timeout: Duration::from_secs(60),
            election_timeout: Duration::from_secs(1),
            ingestion_tenant_shard_size: 0,
            shuffle_sharding_lookback: Duration::from_secs(13 * 3600),
            distributor_id: String::new(),
            distributor_instances_from_ring: true,
        }
    }
}

impl Config {
    /// Whether distributors and queriers in this process place and read series on the ring
    /// (rather than the static list or this process' own ingester).
    pub fn uses_ring_placement(&self) -> bool {
        !self.ring.voters.is_empty() && self.ingester_client.addresses.is_empty()
    }

    /// Checks what serde cannot: cross-field rules. Errors name the key.
    pub fn validate(&self) -> anyhow::Result<()> {
        let targets = Target::parse_list(&self.target)?;
        let fp = &self.debug.failpoint;
        if !fp.is_empty() && !strata_vfs::failpoint::ALL.contains(&fp.as_str()) {
            anyhow::bail!(
                "invalid config at debug.failpoint: {fp:?} is not one of {}",
                strata_vfs::failpoint::ALL.join(", ")
            );
        }
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
        if needs_ingesters
            && !runs_ingester
            && self.ingester_client.addresses.is_empty()
            && self.ring.voters.is_empty()
        {
            anyhow::bail!(
                "invalid config at ingester_client.addresses: target {:?} needs the ring's voters (-ring.voters) or ingester addresses (-ingester.addresses) when no ingester runs in this process",
                self.target
            );
        }
        if self.distributor.ha_tracker.ha_tracker_failover_timeout < Duration::from_millis(300) {
            anyhow::bail!("invalid config at distributor.ha_tracker.ha_tracker_failover_timeout: at least 300ms");
        }
        if self.runtime_config.reload_period.is_zero() {
            anyhow::bail!("invalid config at runtime_config.reload_period: must be positive");
        }
        let r = &self.ring;
        if r.replication_factor == 0 {
            anyhow::bail!("invalid config at ring.replication_factor: must be at least 1");
        }
        if r.num_tokens == 0 {
            anyhow::bail!("invalid config at ring.num_tokens: must be at least 1");
        }
        if r.heartbeat_period.is_zero() || r.heartbeat_timeout <= r.heartbeat_period {
            anyhow::bail!(
                "invalid config at ring.heartbeat_timeout: must be longer than ring.heartbeat_period ({:?})",
                r.heartbeat_period
            );
        }
        if r.election_timeout < Duration::from_millis(100) {
            anyhow::bail!("invalid config at ring.election_timeout: at least 100ms");
        }
        if targets.contains(&Target::Ring)
            && !r.voters.is_empty()
            && !r.voters.contains(&self.server.advertised_grpc_address())
        {
            anyhow::bail!(
                "invalid config at ring.voters: target ring runs a voter, but this process' gRPC address {:?} (-server.advertise-address) is not in {:?}",
                self.server.advertised_grpc_address(),
                r.voters
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
        f(
            "ingester.out-of-order-time-window",
            "ingester.out_of_order_time_window",
            Duration,
            "how far behind a tenant's newest sample out-of-order samples are still accepted; 0s refuses them (per tenant: ingester.tenant_overrides in YAML)",
        ),
        f(
            "ingester.max-exemplars",
            "ingester.max_exemplars",
            Int,
            "exemplars kept per tenant in a circular buffer; 0 stores none (per tenant: ingester.tenant_overrides in YAML)",
        ),
        f("target", "target", String, "comma-separated components to run: all, distributor, ingester, querier, ring; agent (a scraping agent, not part of all)"),
        f("ring.voters", "ring.voters", List, "comma-separated gRPC addresses of the ring's Raft voters, in the same order on every process; empty: this process (target ring) is the only voter"),
        f("ring.node-id", "ring.node_id", String, "this ingester's instance id in the ring; empty: the persisted id, else the host name"),
        f("ingester.availability-zone", "ring.availability_zone", String, "this ingester's availability zone"),
        f("ring.replication-factor", "ring.replication_factor", Int, "replicas per series when distributors place series on the ring (-ring.voters set); a write needs a quorum of rf/2+1"),
        f("ring.zone-awareness-enabled", "ring.zone_awareness_enabled", Bool, "put each replica of a series in a different availability zone"),
        f("ring.num-tokens", "ring.num_tokens", Int, "tokens per ingester in the ring"),
        f("ring.heartbeat-period", "ring.heartbeat_period", Duration, "how often an ingester heartbeats to the ring's voters"),
        f("ring.heartbeat-timeout", "ring.heartbeat_timeout", Duration, "an ingester without a heartbeat for this long is unhealthy"),
        f("ring.election-timeout", "ring.election_timeout", Duration, "Raft election timeout of the ring's voters (randomised up to twice this)"),
        f("distributor.ingestion-tenant-shard-size", "ring.ingestion_tenant_shard_size", Int, "ingesters per tenant (shuffle sharding); 0 uses every ingester"),
        f("querier.shuffle-sharding-ingesters-lookback-period", "ring.shuffle_sharding_lookback", Duration, "queriers also read the ingesters a tenant's shard had before instances registered this recently"),
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
        f("ingester.addresses", "ingester_client.addresses", List, "comma-separated ingester gRPC addresses: a static list, without the ring, for distributors and queriers in other processes"),
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
        f("debug.failpoint", "debug.failpoint", String, "TEST ONLY, never in production: abort the process when this write-protocol point is reached (block-after-chunks, block-after-index, block-before-rename, block-before-dir-fsync, wal-checkpoint-middle), for crash tests"),
        f("runtime-config.file", "runtime_config.file", String, "YAML file of per-tenant limit overrides (overrides: {tenant: {ingestion_rate, ...}}), re-read without restart"),
        f("runtime-config.reload-period", "runtime_config.reload_period", Duration, "how often the runtime config file is re-read"),
        f("distributor.ingestion-rate-limit", "limits.ingestion_rate", Float, "per-tenant ingestion rate, samples/s across all distributors (429 above)"),
        f("distributor.ingestion-burst-size", "limits.ingestion_burst_size", Int, "per-tenant ingestion burst, samples across all distributors"),
        f("distributor.instances", "distributor.instances", Int, "distributors sharing each tenant's rate and burst when they are not counted in the ring (no ring, or -distributor.instances-from-ring=false)"),
        f("distributor.instances-from-ring", "ring.distributor_instances_from_ring", Bool, "divide each tenant's rate and burst by the healthy distributors registered in the ring; false: by -distributor.instances"),
        f("distributor.ring.instance-id", "ring.distributor_id", String, "this distributor's id in the ring's distributor list; empty: the host name"),
        f("ingester.max-global-series-per-user", "limits.max_global_series_per_user", Int, "in-memory series per tenant across the cluster, before replication; 0 disables (400 above)"),
        f("ingester.max-global-series-per-metric", "limits.max_global_series_per_metric", Int, "in-memory series per metric name per tenant across the cluster; 0 disables (400 above)"),
        f("distributor.ha-tracker.enable", "distributor.ha_tracker.enable_ha_tracker", Bool, "deduplicate HA Prometheus pairs for tenants with accept_ha_samples"),
        f("distributor.ha-tracker.enable-for-all-users", "limits.accept_ha_samples", Bool, "accept_ha_samples for every tenant by default"),
        f("distributor.ha-tracker.failover-timeout", "distributor.ha_tracker.ha_tracker_failover_timeout", Duration, "how long the elected HA replica may be silent before another replica takes over"),
        f("distributor.ha-tracker.cluster", "limits.ha_cluster_label", String, "label naming a tenant's HA cluster"),
        f("distributor.ha-tracker.replica", "limits.ha_replica_label", String, "label naming an HA replica; removed before storing"),
        f("querier.max-concurrent", "querier.max_concurrent", Int, "queries evaluated at once; more wait in a queue"),
        f("agent.config-file", "agent.config_file", String, "target agent: the Prometheus configuration file (prometheus.yml) to run; reloaded on SIGHUP and POST /-/reload"),
        f("agent.data-dir", "agent.data_dir", String, "target agent: directory of the remote-write queue; empty means <data.dir>/agent"),
        f("agent.shard", "agent.shard", String, "target agent: this agent's share of targets as i/n (0 <= i < n), split by a hash of __address__; empty scrapes every target"),
        f("agent.max-disk-bytes-per-endpoint", "agent.max_disk_bytes_per_endpoint", Int, "target agent: bytes of unsent data kept per remote-write endpoint, oldest dropped past it; 0 disables"),
        f("agent.max-age-per-endpoint", "agent.max_age_per_endpoint", Duration, "target agent: age of unsent data kept per remote-write endpoint; 0s disables"),
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
    fn ring_settings_are_checked() {
        // A voter must find its own address among the voters.
        let mut c = Config {
            target: "ingester,ring".into(),
            ..Default::default()
        };
        c.ring.voters = vec!["ingester-1:9095".into(), "ingester-2:9095".into()];
        let err = c.validate().expect_err("not a listed voter").to_string();
        assert!(
            err.contains("ring.voters") && err.contains("127.0.0.1:9095"),
            "{err}"
        );
        c.server.advertise_address = "ingester-2:9095".into();
        assert!(c.validate().is_ok());
        // Distributors and queriers may find ingesters through the voters alone.
        let mut d = Config {
            target: "distributor,querier".into(),
            ..Default::default()
        };
        assert!(d.validate().is_err());
        d.ring.voters = c.ring.voters.clone();
        assert!(d.validate().is_ok());
        assert!(d.uses_ring_placement());
        d.ring.replication_factor = 0;
        assert!(d
            .validate()
            .expect_err("rf 0")
            .to_string()
            .contains("ring.replication_factor"));
        d.ring.replication_factor = 3;
        d.ring.heartbeat_timeout = d.ring.heartbeat_period;
        assert!(d
            .validate()
            .expect_err("timeout not above period")
            .to_string()
            .contains("ring.heartbeat_timeout"));
        // The single process: no voters, its own ingester, no ring placement.
        assert!(!Config::default().uses_ring_placement());
    }

    #[test]
    fn per_tenant_head_options_come_from_yaml() {
        let yaml = "ingester:\n  out_of_order_time_window: 30m\n  max_exemplars: 5\n  tenant_overrides:\n    a:\n      out_of_order_time_window: 1h\n    b:\n      max_exemplars: 0\n";
        let c: Config = serde_yaml::from_str(yaml).expect("valid config");
        let o = c.ingester.head_options();
        let t = |s: &str| strata_model::TenantId::new(s).expect("tenant");
        let ms = |m: i64| m * 60_000;
        assert_eq!(o.for_tenant(&t("a")).out_of_order_time_window_ms, ms(60));
        assert_eq!(o.for_tenant(&t("a")).max_exemplars, 5);
        assert_eq!(o.for_tenant(&t("b")).out_of_order_time_window_ms, ms(30));
        assert_eq!(o.for_tenant(&t("b")).max_exemplars, 0);
        assert_eq!(o.for_tenant(&t("c")).out_of_order_time_window_ms, ms(30));
        let bad = "ingester:\n  tenant_overrides:\n    a:\n      out_of_order_window: 1h\n";
        assert!(
            serde_yaml::from_str::<Config>(bad).is_err(),
            "unknown keys are refused"
        );
        // Defaults: no out-of-order window, Prometheus's exemplar buffer.
        let d = Config::default().ingester.head_options();
        assert_eq!(d.defaults.out_of_order_time_window_ms, 0);
        assert_eq!(d.defaults.max_exemplars, 100_000);
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
