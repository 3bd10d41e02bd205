//! `global` and `scrape_configs`: Prometheus's scrape settings, its defaults, and the
//! job defaults taken from `global`.

use crate::http::HttpClientConfig;
use crate::sd::ServiceDiscoveryConfigs;
use crate::yaml::Obj;
use crate::ConfigError;
use std::collections::BTreeMap;
use std::time::Duration;
use strata_exposition::ScrapeProtocol;
use strata_relabel::RelabelConfig;

/// Prometheus's default `global.scrape_interval`.
pub const DEFAULT_SCRAPE_INTERVAL: Duration = Duration::from_secs(60);
/// Prometheus's default `global.scrape_timeout`.
pub const DEFAULT_SCRAPE_TIMEOUT: Duration = Duration::from_secs(10);
/// The protocols a job asks for when it scrapes native histograms and nobody set
/// `scrape_protocols` (Prometheus's `DefaultProtoFirstScrapeProtocols`).
pub const PROTO_FIRST_SCRAPE_PROTOCOLS: [ScrapeProtocol; 4] = [
    ScrapeProtocol::PrometheusProto,
    ScrapeProtocol::OpenMetricsText1_0_0,
    ScrapeProtocol::OpenMetricsText0_0_1,
    ScrapeProtocol::PrometheusText0_0_4,
];
/// Prometheus's default `global.evaluation_interval`.
pub const DEFAULT_EVALUATION_INTERVAL: Duration = Duration::from_secs(60);

/// The limits a scrape job takes from `global` when it sets none (0 = no limit).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScrapeLimits {
    /// `body_size_limit` in bytes.
    pub body_size_limit: u64,
    /// `sample_limit`.
    pub sample_limit: u64,
    /// `target_limit`.
    pub target_limit: u64,
    /// `label_limit`.
    pub label_limit: u64,
    /// `label_name_length_limit`.
    pub label_name_length_limit: u64,
    /// `label_value_length_limit`.
    pub label_value_length_limit: u64,
    /// `keep_dropped_targets`.
    pub keep_dropped_targets: u64,
}

impl ScrapeLimits {
    fn parse(o: &mut Obj) -> Result<Self, ConfigError> {
        Ok(Self {
            body_size_limit: o.size("body_size_limit")?.unwrap_or(0),
            sample_limit: o.u64("sample_limit")?.unwrap_or(0),
            target_limit: o.u64("target_limit")?.unwrap_or(0),
            label_limit: o.u64("label_limit")?.unwrap_or(0),
            label_name_length_limit: o.u64("label_name_length_limit")?.unwrap_or(0),
            label_value_length_limit: o.u64("label_value_length_limit")?.unwrap_or(0),
            keep_dropped_targets: o.u64("keep_dropped_targets")?.unwrap_or(0),
        })
    }

    fn or(&self, global: &ScrapeLimits) -> ScrapeLimits {
        let pick = |a: u64, b: u64| if a == 0 { b } else { a };
        ScrapeLimits {
            body_size_limit: pick(self.body_size_limit, global.body_size_limit),
            sample_limit: pick(self.sample_limit, global.sample_limit),
            target_limit: pick(self.target_limit, global.target_limit),
            label_limit: pick(self.label_limit, global.label_limit),
            label_name_length_limit: pick(
                self.label_name_length_limit,
                global.label_name_length_limit,
            ),
            label_value_length_limit: pick(
                self.label_value_length_limit,
                global.label_value_length_limit,
            ),
            keep_dropped_targets: pick(self.keep_dropped_targets, global.keep_dropped_targets),
        }
    }
}

/// `global`.
#[derive(Clone, Debug, PartialEq)]
pub struct GlobalConfig {
    /// `scrape_interval`, default 1m.
    pub scrape_interval: Duration,
    /// `scrape_timeout`, default 10s (or the interval when that is shorter).
    pub scrape_timeout: Duration,
    /// `scrape_protocols`, default OpenMetrics 1.0, OpenMetrics 0.0.1, text 0.0.4.
    pub scrape_protocols: Vec<ScrapeProtocol>,
    /// `evaluation_interval`, default 1m (rules; not used by the agent).
    pub evaluation_interval: Duration,
    /// `rule_query_offset` (not used by the agent).
    pub rule_query_offset: Duration,
    /// `external_labels`, `$VAR`/`${VAR}` expanded from the environment (Prometheus 3).
    pub external_labels: BTreeMap<String, String>,
    /// `query_log_file` (not used by the agent).
    pub query_log_file: String,
    /// `scrape_failure_log_file` (Prometheus 3).
    pub scrape_failure_log_file: String,
    /// Default limits for every job.
    pub limits: ScrapeLimits,
    /// `metric_name_validation_scheme` (`utf8` or `legacy`, Prometheus 3), as written.
    pub metric_name_validation_scheme: String,
    /// `metric_name_escaping_scheme` (Prometheus 3), as written.
    pub metric_name_escaping_scheme: String,
    /// `always_scrape_classic_histograms` (Prometheus 3), default false.
    pub always_scrape_classic_histograms: bool,
    /// `convert_classic_histograms_to_nhcb` (Prometheus 3), default false.
    pub convert_classic_histograms_to_nhcb: bool,
    /// `scrape_native_histograms` (Prometheus 3), default false.
    pub scrape_native_histograms: bool,
    /// `extra_scrape_metrics` (Prometheus 3), default false.
    pub extra_scrape_metrics: bool,
    /// Whether `scrape_protocols` was written (then jobs inherit it even when they scrape
    /// native histograms).
    pub scrape_protocols_set: bool,
}

impl Default for GlobalConfig {
    /// Prometheus's `DefaultGlobalConfig`.
    fn default() -> Self {
        Self {
            scrape_interval: DEFAULT_SCRAPE_INTERVAL,
            scrape_timeout: DEFAULT_SCRAPE_TIMEOUT,
            scrape_protocols: ScrapeProtocol::DEFAULT.to_vec(),
            evaluation_interval: DEFAULT_EVALUATION_INTERVAL,
            rule_query_offset: Duration::ZERO,
            external_labels: BTreeMap::new(),
            query_log_file: String::new(),
            scrape_failure_log_file: String::new(),
            limits: ScrapeLimits::default(),
            metric_name_validation_scheme: String::new(),
            metric_name_escaping_scheme: String::new(),
            always_scrape_classic_histograms: false,
            convert_classic_histograms_to_nhcb: false,
            scrape_native_histograms: false,
            extra_scrape_metrics: false,
            scrape_protocols_set: false,
        }
    }
}

fn parse_protocols(o: &mut Obj) -> Result<Option<Vec<ScrapeProtocol>>, ConfigError> {
    if !o.has("scrape_protocols") {
        return Ok(None);
    }
    let path = o.at("scrape_protocols");
    let names = o.strings("scrape_protocols")?;
    let mut out = Vec::with_capacity(names.len());
    for n in &names {
        let p: ScrapeProtocol = n.parse().map_err(|e: strata_exposition::UnknownProtocol| {
            ConfigError::invalid(&path, e.to_string())
        })?;
        if out.contains(&p) {
            return Err(ConfigError::invalid(
                &path,
                format!(
                    "duplicated protocol in scrape_protocols, got [{}]",
                    names.join(" ")
                ),
            ));
        }
        out.push(p);
    }
    if out.is_empty() {
        return Ok(None);
    }
    Ok(Some(out))
}

fn check_validation_scheme(path: &str, s: &str) -> Result<(), ConfigError> {
    match s {
        "" | "utf8" | "legacy" => Ok(()),
        other => Err(ConfigError::invalid(
            path,
            format!("unknown global name validation method specified, must be either '', 'legacy' or 'utf8', got {other}"),
        )),
    }
}

impl GlobalConfig {
    pub(crate) fn parse(
        mut o: Obj,
        expand_env: Option<crate::EnvLookup<'_>>,
        warnings: &mut Vec<String>,
    ) -> Result<Self, ConfigError> {
        let path = o.path().to_string();
        let interval = o.duration("scrape_interval")?.unwrap_or(Duration::ZERO);
        let timeout = o.duration("scrape_timeout")?.unwrap_or(Duration::ZERO);
        let evaluation_interval = o.duration("evaluation_interval")?;
        let rule_query_offset = o.duration("rule_query_offset")?;
        let query_log_file = o.str("query_log_file")?;
        let labels_path = o.at("external_labels");
        let mut external_labels = o.str_map("external_labels")?;
        let scrape_protocols = parse_protocols(&mut o)?;
        let mut g = GlobalConfig {
            scrape_failure_log_file: o.str_or("scrape_failure_log_file", "")?,
            limits: ScrapeLimits::parse(&mut o)?,
            metric_name_validation_scheme: o.str_or("metric_name_validation_scheme", "")?,
            metric_name_escaping_scheme: o.str_or("metric_name_escaping_scheme", "")?,
            always_scrape_classic_histograms: o
                .bool_or("always_scrape_classic_histograms", false)?,
            convert_classic_histograms_to_nhcb: o
                .bool_or("convert_classic_histograms_to_nhcb", false)?,
            scrape_native_histograms: o.bool_or("scrape_native_histograms", false)?,
            extra_scrape_metrics: o.bool_or("extra_scrape_metrics", false)?,
            scrape_protocols_set: scrape_protocols.is_some(),
            ..GlobalConfig::default()
        };
        o.finish()?;
        check_validation_scheme(&path, &g.metric_name_validation_scheme)?;
        for (key, set) in [
            ("evaluation_interval", evaluation_interval.is_some()),
            ("rule_query_offset", rule_query_offset.is_some()),
            ("query_log_file", query_log_file.is_some()),
        ] {
            if set {
                warnings.push(format!("global.{key} is not used by the agent"));
            }
        }
        for (name, value) in &mut external_labels {
            if !strata_relabel::is_valid_label_name(name) {
                return Err(ConfigError::invalid(
                    &labels_path,
                    format!("{name:?} is not a valid label name"),
                ));
            }
            if let Some(env) = expand_env {
                *value = crate::expand_env(value, env);
            }
        }
        // Prometheus drops external labels whose value is empty (after expansion).
        external_labels.retain(|_, v| !v.is_empty());
        g.external_labels = external_labels;
        g.scrape_interval = if interval.is_zero() {
            DEFAULT_SCRAPE_INTERVAL
        } else {
            interval
        };
        if timeout > g.scrape_interval {
            return Err(ConfigError::invalid(
                &path,
                "global scrape timeout greater than scrape interval",
            ));
        }
        g.scrape_timeout = if !timeout.is_zero() {
            timeout
        } else {
            DEFAULT_SCRAPE_TIMEOUT.min(g.scrape_interval)
        };
        g.evaluation_interval = evaluation_interval
            .filter(|d| !d.is_zero())
            .unwrap_or(DEFAULT_EVALUATION_INTERVAL);
        g.rule_query_offset = rule_query_offset.unwrap_or_default();
        g.query_log_file = query_log_file.unwrap_or_default();
        if let Some(p) = scrape_protocols {
            g.scrape_protocols = p;
        }
        Ok(g)
    }
}

/// One `scrape_configs` entry, with `global`'s defaults applied.
#[derive(Clone, Debug, PartialEq)]
pub struct ScrapeConfig {
    /// `job_name` (unique).
    pub job_name: String,
    /// `scrape_interval`.
    pub scrape_interval: Duration,
    /// `scrape_timeout` (never above the interval).
    pub scrape_timeout: Duration,
    /// `metrics_path`, default `/metrics`.
    pub metrics_path: String,
    /// `scheme`, default `http`.
    pub scheme: String,
    /// `params`: URL query parameters.
    pub params: BTreeMap<String, Vec<String>>,
    /// `honor_labels`, default false.
    pub honor_labels: bool,
    /// `honor_timestamps`, default true.
    pub honor_timestamps: bool,
    /// `track_timestamps_staleness`, default false.
    pub track_timestamps_staleness: bool,
    /// The HTTP client settings (inline in the job).
    pub http: HttpClientConfig,
    /// `enable_compression` (ask for gzip), default true.
    pub enable_compression: bool,
    /// `body_size_limit` in bytes (0 = none).
    pub body_size_limit: u64,
    /// `sample_limit` (0 = none).
    pub sample_limit: u64,
    /// `label_limit` (0 = none).
    pub label_limit: u64,
    /// `label_name_length_limit` (0 = none).
    pub label_name_length_limit: u64,
    /// `label_value_length_limit` (0 = none).
    pub label_value_length_limit: u64,
    /// `target_limit` (0 = none).
    pub target_limit: u64,
    /// `keep_dropped_targets` (0 = none).
    pub keep_dropped_targets: u64,
    /// `native_histogram_bucket_limit` (0 = none).
    pub native_histogram_bucket_limit: u64,
    /// `native_histogram_min_bucket_factor` (0 = none).
    pub native_histogram_min_bucket_factor: f64,
    /// `scrape_protocols`, from `global` when not set.
    pub scrape_protocols: Vec<ScrapeProtocol>,
    /// `fallback_scrape_protocol` (Prometheus 3): the parser for a response without a
    /// usable Content-Type; `None` means Prometheus 2's behaviour (text 0.0.4).
    pub scrape_fallback_protocol: Option<ScrapeProtocol>,
    /// `scrape_native_histograms` (Prometheus 3), from `global` when not set: ingest native
    /// histograms (and, unless `scrape_protocols` is set, ask for protobuf first).
    pub scrape_native_histograms: bool,
    /// `extra_scrape_metrics` (Prometheus 3), from `global` when not set.
    pub extra_scrape_metrics: bool,
    /// `always_scrape_classic_histograms` (Prometheus 3; `scrape_classic_histograms` in 2.x):
    /// also ingest the classic buckets of histograms that have native buckets.
    pub always_scrape_classic_histograms: bool,
    /// `convert_classic_histograms_to_nhcb` (Prometheus 3).
    pub convert_classic_histograms_to_nhcb: bool,
    /// `metric_name_validation_scheme`, from `global` when not set.
    pub metric_name_validation_scheme: String,
    /// `metric_name_escaping_scheme`, from `global` when not set.
    pub metric_name_escaping_scheme: String,
    /// `scrape_failure_log_file`, from `global` when not set.
    pub scrape_failure_log_file: String,
    /// `relabel_configs` (target relabeling).
    pub relabel_configs: Vec<RelabelConfig>,
    /// `metric_relabel_configs`.
    pub metric_relabel_configs: Vec<RelabelConfig>,
    /// The job's service discovery.
    pub sd: ServiceDiscoveryConfigs,
}

impl ScrapeConfig {
    /// Reads one job and applies `global`'s defaults and Prometheus's checks.
    pub(crate) fn parse(
        mut o: Obj,
        global: &GlobalConfig,
        warnings: &mut Vec<String>,
    ) -> Result<Self, ConfigError> {
        let path = o.path().to_string();
        let job_name = o.str_or("job_name", "")?;
        let interval = o.duration("scrape_interval")?.unwrap_or(Duration::ZERO);
        let timeout = o.duration("scrape_timeout")?.unwrap_or(Duration::ZERO);
        let protocols = parse_protocols(&mut o)?;
        let fallback_path = o.at("fallback_scrape_protocol");
        let fallback = o
            .str("fallback_scrape_protocol")?
            .map(|s| {
                s.parse::<ScrapeProtocol>().map_err(|e| {
                    ConfigError::invalid(
                        &fallback_path,
                        format!("invalid fallback_scrape_protocol: {e}"),
                    )
                })
            })
            .transpose()?;
        let native = o
            .bool("scrape_native_histograms")?
            .unwrap_or(global.scrape_native_histograms);
        let limits = ScrapeLimits::parse(&mut o)?.or(&global.limits);
        let classic_2x = o.bool("scrape_classic_histograms")?;
        let classic_3x = o.bool("always_scrape_classic_histograms")?;
        let mut c = ScrapeConfig {
            job_name,
            scrape_interval: Duration::ZERO,
            scrape_timeout: Duration::ZERO,
            metrics_path: o.str_or("metrics_path", "/metrics")?,
            scheme: o.str_or("scheme", "http")?,
            params: o.str_list_map("params")?,
            honor_labels: o.bool_or("honor_labels", false)?,
            honor_timestamps: o.bool_or("honor_timestamps", true)?,
            track_timestamps_staleness: o.bool_or("track_timestamps_staleness", false)?,
            enable_compression: o.bool_or("enable_compression", true)?,
            body_size_limit: limits.body_size_limit,
            sample_limit: limits.sample_limit,
            label_limit: limits.label_limit,
            label_name_length_limit: limits.label_name_length_limit,
            label_value_length_limit: limits.label_value_length_limit,
            target_limit: limits.target_limit,
            keep_dropped_targets: limits.keep_dropped_targets,
            native_histogram_bucket_limit: o.u64("native_histogram_bucket_limit")?.unwrap_or(0),
            native_histogram_min_bucket_factor: o
                .f64("native_histogram_min_bucket_factor")?
                .unwrap_or(0.0),
            scrape_protocols: match protocols {
                Some(p) => p,
                None if global.scrape_protocols_set || !native => global.scrape_protocols.clone(),
                None => PROTO_FIRST_SCRAPE_PROTOCOLS.to_vec(),
            },
            scrape_fallback_protocol: fallback,
            scrape_native_histograms: native,
            extra_scrape_metrics: o
                .bool("extra_scrape_metrics")?
                .unwrap_or(global.extra_scrape_metrics),
            always_scrape_classic_histograms: classic_3x
                .or(classic_2x)
                .unwrap_or(global.always_scrape_classic_histograms),
            convert_classic_histograms_to_nhcb: o
                .bool("convert_classic_histograms_to_nhcb")?
                .unwrap_or(global.convert_classic_histograms_to_nhcb),
            metric_name_validation_scheme: o
                .str("metric_name_validation_scheme")?
                .unwrap_or_else(|| global.metric_name_validation_scheme.clone()),
            metric_name_escaping_scheme: o
                .str("metric_name_escaping_scheme")?
                .unwrap_or_else(|| global.metric_name_escaping_scheme.clone()),
            scrape_failure_log_file: o
                .str("scrape_failure_log_file")?
                .unwrap_or_else(|| global.scrape_failure_log_file.clone()),
            relabel_configs: o.relabel_configs(
                "relabel_configs",
                "empty or null target relabeling rule in scrape config",
            )?,
            metric_relabel_configs: o.relabel_configs(
                "metric_relabel_configs",
                "empty or null metric relabeling rule in scrape config",
            )?,
            http: HttpClientConfig::parse(&mut o)?,
            sd: ServiceDiscoveryConfigs::parse(&mut o, warnings)?,
        };
        o.finish()?;
        if c.job_name.is_empty() {
            return Err(ConfigError::invalid(&path, "job_name is empty"));
        }
        check_validation_scheme(&path, &c.metric_name_validation_scheme)?;
        if c.relabel_configs.is_empty() {
            for sc in &c.sd.static_configs {
                for t in &sc.targets {
                    if t.contains('/') {
                        return Err(ConfigError::invalid(
                            &path,
                            format!("{t:?} is not a valid hostname"),
                        ));
                    }
                }
            }
        }
        c.scrape_interval = if interval.is_zero() {
            global.scrape_interval
        } else {
            interval
        };
        if timeout > c.scrape_interval {
            return Err(ConfigError::invalid(
                &path,
                format!(
                    "scrape timeout greater than scrape interval for scrape config with job name {:?}",
                    c.job_name
                ),
            ));
        }
        c.scrape_timeout = if !timeout.is_zero() {
            timeout
        } else {
            global.scrape_timeout.min(c.scrape_interval)
        };
        Ok(c)
    }

    /// Resolves relative file paths against `dir` (Prometheus's `SetDirectory`).
    pub(crate) fn set_directory(&mut self, dir: &std::path::Path) {
        self.http.set_directory(dir);
        self.sd.set_directory(dir);
        if !self.scrape_failure_log_file.is_empty() {
            crate::resolve_path(&mut self.scrape_failure_log_file, dir);
        }
    }
}
