//! The whole file: [`Config`], its loading ([`load_file`], [`load_str`]) and the checks
//! Prometheus makes across sections (unique job and remote names, `scrape_config_files`).

use crate::other::{AlertingConfig, OtlpConfig, RuntimeConfig, StorageConfig, TracingConfig};
use crate::remote::{RemoteReadConfig, RemoteWriteConfig};
use crate::scrape::{GlobalConfig, ScrapeConfig};
use crate::yaml::Obj;
use crate::ConfigError;
use serde_yaml::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A whole Prometheus configuration, defaults applied, relative paths resolved against the
/// configuration file's directory.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Config {
    /// `global`.
    pub global: GlobalConfig,
    /// `runtime` (not used by the agent).
    pub runtime: RuntimeConfig,
    /// `rule_files` (not used by the agent).
    pub rule_files: Vec<String>,
    /// `scrape_config_files` as written (resolved); their jobs are in `scrape_configs`.
    pub scrape_config_files: Vec<String>,
    /// `scrape_configs`, then the jobs of `scrape_config_files` in file order.
    pub scrape_configs: Vec<ScrapeConfig>,
    /// `alerting` (not used by the agent).
    pub alerting: AlertingConfig,
    /// `remote_write`.
    pub remote_write: Vec<RemoteWriteConfig>,
    /// `remote_read` (not used by the agent).
    pub remote_read: Vec<RemoteReadConfig>,
    /// `storage` (not used by the agent).
    pub storage: StorageConfig,
    /// `tracing` (not used by the agent).
    pub tracing: TracingConfig,
    /// `otlp` (not used by the agent).
    pub otlp: OtlpConfig,
}

impl Config {
    /// Every job's name and service discovery, in job order: what the discovery manager's
    /// `apply` takes.
    pub fn sd_jobs(&self) -> Vec<(String, crate::sd::ServiceDiscoveryConfigs)> {
        self.scrape_configs
            .iter()
            .map(|s| (s.job_name.clone(), s.sd.clone()))
            .collect()
    }

    /// The scrape job named `job_name`.
    pub fn job(&self, job_name: &str) -> Option<&ScrapeConfig> {
        self.scrape_configs.iter().find(|s| s.job_name == job_name)
    }
}

/// A loaded configuration and what Prometheus would accept but the agent ignores.
#[derive(Clone, Debug, PartialEq)]
pub struct Loaded {
    /// The configuration.
    pub config: Config,
    /// One message per key the agent does not use ("rule_files is not used by the agent")
    /// or SD kind it does not run; the caller logs them.
    pub warnings: Vec<String>,
}

/// How to load.
#[derive(Clone, Debug)]
pub struct LoadOptions {
    /// Expand `$VAR` / `${VAR}` in `global.external_labels` values from the environment
    /// (Prometheus 3 always does; 2.x only with `--enable-feature=expand-external-labels`).
    pub expand_external_labels: bool,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self {
            expand_external_labels: true,
        }
    }
}

/// Loads a configuration file and the files its `scrape_config_files` name, with
/// [`LoadOptions::default`].
pub fn load_file(path: &Path) -> Result<Loaded, ConfigError> {
    load_file_with(path, &LoadOptions::default())
}

/// Loads a configuration file with `opts`.
pub fn load_file_with(path: &Path, opts: &LoadOptions) -> Result<Loaded, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let dir = path.parent().unwrap_or(Path::new("."));
    load_str_with(&text, dir, opts)
}

/// Loads a configuration from text; relative paths (and `scrape_config_files` globs) are
/// resolved against `base_dir`.
pub fn load_str(yaml: &str, base_dir: &Path) -> Result<Loaded, ConfigError> {
    load_str_with(yaml, base_dir, &LoadOptions::default())
}

/// Parses YAML text, applying `<<` merge keys as Go's YAML decoder does.
fn parse_yaml(text: &str) -> Result<Value, ConfigError> {
    let mut v: Value = serde_yaml::from_str(text).map_err(|e| ConfigError::Yaml(e.to_string()))?;
    v.apply_merge()
        .map_err(|e| ConfigError::Yaml(e.to_string()))?;
    Ok(v)
}

/// Prometheus's `patRulePath`: `^[^*]*(\*[^/]*)?$`.
fn valid_glob_path(p: &str) -> bool {
    match p.find('*') {
        None => true,
        Some(i) => !p[i + 1..].contains('/') && !p[i + 1..].contains('*'),
    }
}

/// Loads a configuration from text with `opts`.
pub fn load_str_with(
    yaml: &str,
    base_dir: &Path,
    opts: &LoadOptions,
) -> Result<Loaded, ConfigError> {
    let mut warnings = Vec::new();
    let mut o = Obj::new("", parse_yaml(yaml)?, "config.plain")?;
    let env = |name: &str| std::env::var(name).ok();
    let expand: Option<crate::EnvLookup<'_>> = if opts.expand_external_labels {
        Some(&env)
    } else {
        None
    };
    let global = match o.obj("global", "config.plain")? {
        Some(g) => GlobalConfig::parse(g, expand, &mut warnings)?,
        None => GlobalConfig::default(),
    };
    let mut c = Config {
        global,
        ..Config::default()
    };
    for key in [
        "runtime",
        "rule_files",
        "alerting",
        "remote_read",
        "storage",
        "tracing",
        "otlp",
    ] {
        if o.peek(key).is_some_and(|v| !is_empty(v)) {
            warnings.push(format!("{key} is not used by the agent"));
        }
    }
    if let Some(r) = o.obj("runtime", "config.plain")? {
        c.runtime = RuntimeConfig::parse(r)?;
    }
    let rules_path = o.at("rule_files");
    c.rule_files = o.strings("rule_files")?;
    for rf in &c.rule_files {
        if !valid_glob_path(rf) {
            return Err(ConfigError::invalid(
                &rules_path,
                format!("invalid rule file path {rf:?}"),
            ));
        }
    }
    let files_path = o.at("scrape_config_files");
    c.scrape_config_files = o.strings("scrape_config_files")?;
    for sf in &c.scrape_config_files {
        if !valid_glob_path(sf) {
            return Err(ConfigError::invalid(
                &files_path,
                format!("invalid scrape config file path {sf:?}"),
            ));
        }
    }
    let mut jobs: BTreeMap<String, String> = BTreeMap::new();
    for (p, v) in o.list("scrape_configs")? {
        if v.is_null() {
            return Err(ConfigError::invalid(
                &p,
                "empty or null scrape config section",
            ));
        }
        let mut sc = ScrapeConfig::parse(
            Obj::new(&p, v, "config.ScrapeConfig")?,
            &c.global,
            &mut warnings,
        )?;
        if jobs
            .insert(sc.job_name.clone(), "main config file".to_string())
            .is_some()
        {
            return Err(ConfigError::invalid(
                "scrape_configs",
                format!(
                    "found multiple scrape configs with job name {:?}",
                    sc.job_name
                ),
            ));
        }
        sc.set_directory(base_dir);
        c.scrape_configs.push(sc);
    }
    if let Some(a) = o.obj("alerting", "config.plain")? {
        c.alerting = AlertingConfig::parse(a, &mut Vec::new())?;
    }
    let mut rw_names = Vec::new();
    for (p, v) in o.list("remote_write")? {
        if v.is_null() {
            return Err(ConfigError::invalid(
                &p,
                "empty or null remote write config section",
            ));
        }
        let mut rw = RemoteWriteConfig::parse(Obj::new(&p, v, "config.plain")?)?;
        if !rw.name.is_empty() {
            if rw_names.contains(&rw.name) {
                return Err(ConfigError::invalid(
                    "remote_write",
                    format!(
                        "found multiple remote write configs with job name {:?}",
                        rw.name
                    ),
                ));
            }
            rw_names.push(rw.name.clone());
        }
        rw.http.set_directory(base_dir);
        c.remote_write.push(rw);
    }
    let mut rr_names = Vec::new();
    for (p, v) in o.list("remote_read")? {
        if v.is_null() {
            return Err(ConfigError::invalid(
                &p,
                "empty or null remote read config section",
            ));
        }
        let mut rr = RemoteReadConfig::parse(Obj::new(&p, v, "config.plain")?)?;
        if !rr.name.is_empty() {
            if rr_names.contains(&rr.name) {
                return Err(ConfigError::invalid(
                    "remote_read",
                    format!(
                        "found multiple remote read configs with job name {:?}",
                        rr.name
                    ),
                ));
            }
            rr_names.push(rr.name.clone());
        }
        rr.http.set_directory(base_dir);
        c.remote_read.push(rr);
    }
    if let Some(s) = o.obj("storage", "config.StorageConfig")? {
        c.storage = StorageConfig::parse(s)?;
    }
    if let Some(t) = o.obj("tracing", "config.plain")? {
        c.tracing = TracingConfig::parse(t)?;
        c.tracing.tls_config.set_directory(base_dir);
    }
    if let Some(t) = o.obj("otlp", "config.OTLPConfig")? {
        c.otlp = OtlpConfig::parse(t)?;
    }
    o.finish()?;
    for f in &mut c.rule_files {
        crate::resolve_path(f, base_dir);
    }
    crate::resolve_path(&mut c.global.query_log_file, base_dir);
    crate::resolve_path(&mut c.global.scrape_failure_log_file, base_dir);
    for am in &mut c.alerting.alertmanagers {
        am.http.set_directory(base_dir);
        am.sd.set_directory(base_dir);
    }
    for f in &mut c.scrape_config_files {
        crate::resolve_path(f, base_dir);
    }
    load_scrape_config_files(&mut c, &mut jobs, &mut warnings)?;
    Ok(Loaded {
        config: c,
        warnings,
    })
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Sequence(s) => s.is_empty(),
        Value::Mapping(m) => m.is_empty(),
        _ => false,
    }
}

/// Reads the jobs of `scrape_config_files` (each file holds only `scrape_configs`), in
/// pattern order and, within a pattern, in sorted file name order as Go's `filepath.Glob`.
fn load_scrape_config_files(
    c: &mut Config,
    jobs: &mut BTreeMap<String, String>,
    warnings: &mut Vec<String>,
) -> Result<(), ConfigError> {
    for pat in c.scrape_config_files.clone() {
        let paths = glob::glob(&pat).map_err(|e| {
            ConfigError::invalid(
                "scrape_config_files",
                format!("error retrieving scrape config files for {pat:?}: {e}"),
            )
        })?;
        let mut files: Vec<PathBuf> = paths.filter_map(Result::ok).collect();
        files.sort();
        for file in files {
            let in_file = |e: ConfigError| ConfigError::InFile {
                file: file.clone(),
                source: Box::new(e),
            };
            let text = std::fs::read_to_string(&file).map_err(|source| ConfigError::Read {
                path: file.clone(),
                source,
            })?;
            let mut o = Obj::new(
                "",
                parse_yaml(&text).map_err(in_file)?,
                "config.ScrapeConfigs",
            )
            .map_err(in_file)?;
            let list = o.list("scrape_configs").map_err(in_file)?;
            o.finish().map_err(in_file)?;
            let dir = file.parent().unwrap_or(Path::new(".")).to_path_buf();
            for (p, v) in list {
                if v.is_null() {
                    return Err(in_file(ConfigError::invalid(
                        &p,
                        "empty or null scrape config section",
                    )));
                }
                let obj = Obj::new(&p, v, "config.ScrapeConfig").map_err(in_file)?;
                let mut sc = ScrapeConfig::parse(obj, &c.global, warnings).map_err(in_file)?;
                if let Some(first) = jobs.get(&sc.job_name) {
                    return Err(in_file(ConfigError::invalid(
                        &p,
                        format!(
                            "found multiple scrape configs with job name {:?}, first found in {first}",
                            sc.job_name
                        ),
                    )));
                }
                jobs.insert(
                    sc.job_name.clone(),
                    format!("{:?}", file.display().to_string()),
                );
                sc.set_directory(&dir);
                c.scrape_configs.push(sc);
            }
        }
    }
    Ok(())
}
