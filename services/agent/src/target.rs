//! Targets from discovered groups, as Prometheus's `scrape/target.go`.
//!
//! ```text
//!  TargetGroup (targets × group labels)
//!    └─ populate_labels: + job, __scrape_interval__, __scrape_timeout__, __metrics_path__,
//!       __scheme__ (when unset), __param_<k> (first value), relabel_configs,
//!       drop without __address__, default port, check interval/timeout, drop __meta_*,
//!       instance = __address__ (when unset)
//!    └─ Target { labels (with __ labels), discovered labels } | dropped | error
//! ```
//!
//! A target's identity ([`Target::hash`]) is the hash of its labels and scrape URL; its
//! scrape offset within the interval derives from it, so scrapes spread over the interval
//! and stay put across restarts.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::hash::Hasher as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use strata_model::{Label, Labels};
use strata_relabel::RelabelBuilder;

use crate::job::JobConfig;
use strata_promconfig::{format_duration, parse_duration};

/// `__address__`: where to scrape (`host:port`).
pub const ADDRESS_LABEL: &str = "__address__";
/// `__scheme__`.
pub const SCHEME_LABEL: &str = "__scheme__";
/// `__metrics_path__`.
pub const METRICS_PATH_LABEL: &str = "__metrics_path__";
/// `__scrape_interval__`.
pub const SCRAPE_INTERVAL_LABEL: &str = "__scrape_interval__";
/// `__scrape_timeout__`.
pub const SCRAPE_TIMEOUT_LABEL: &str = "__scrape_timeout__";
/// Prefix of URL parameter labels.
pub const PARAM_LABEL_PREFIX: &str = "__param_";
/// Prefix of discovery metadata labels, dropped after relabeling.
pub const META_LABEL_PREFIX: &str = "__meta_";
/// `job`.
pub const JOB_LABEL: &str = "job";
/// `instance`.
pub const INSTANCE_LABEL: &str = "instance";

/// Targets that share a set of labels, from one discovery source (Prometheus's
/// `targetgroup.Group`), as the discovery manager publishes them.
pub use strata_discovery::TargetGroup;

/// A target to scrape: its final labels (including `__` ones such as `__address__`) and
/// the labels it was discovered with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    labels: Labels,
    discovered: Labels,
    params: BTreeMap<String, Vec<String>>,
}

impl Target {
    /// A target from its final and discovered labels and its job's `params`.
    pub fn new(labels: Labels, discovered: Labels, params: BTreeMap<String, Vec<String>>) -> Self {
        Self {
            labels,
            discovered,
            params,
        }
    }

    /// Every label, `__address__` and the other `__` labels included.
    pub fn all_labels(&self) -> &Labels {
        &self.labels
    }

    /// The labels attached to scraped series: those not starting with `__`.
    pub fn labels(&self) -> Labels {
        Labels::from_sorted(
            self.labels
                .iter()
                .filter(|l| !l.name.starts_with("__"))
                .cloned()
                .collect(),
        )
    }

    /// The labels before relabeling.
    pub fn discovered_labels(&self) -> &Labels {
        &self.discovered
    }

    /// Replaces the discovered labels (a rediscovered target keeps its loop).
    pub fn set_discovered_labels(&mut self, l: Labels) {
        self.discovered = l;
    }

    /// The scrape URL: scheme, address, path, the job's params overridden by `__param_*`
    /// labels, the query sorted by key as Go's `url.Values.Encode`.
    pub fn url(&self) -> String {
        let mut params = self.params.clone();
        for l in self.labels.iter() {
            if let Some(k) = l.name.strip_prefix(PARAM_LABEL_PREFIX) {
                match params.get_mut(k) {
                    Some(v) if !v.is_empty() => v[0].clone_from(&l.value),
                    _ => {
                        params.insert(k.to_string(), vec![l.value.clone()]);
                    }
                }
            }
        }
        let mut url = format!(
            "{}://{}{}",
            self.labels.get(SCHEME_LABEL).unwrap_or_default(),
            self.labels.get(ADDRESS_LABEL).unwrap_or_default(),
            escape_path(self.labels.get(METRICS_PATH_LABEL).unwrap_or_default())
        );
        let mut first = true;
        for (k, vs) in &params {
            for v in vs {
                url.push(if first { '?' } else { '&' });
                first = false;
                url.push_str(&query_escape(k));
                url.push('=');
                url.push_str(&query_escape(v));
            }
        }
        url
    }

    /// The target's identity within its pool: FNV-1a over the labels' hash and the URL.
    pub fn hash(&self) -> u64 {
        let mut h = Fnv64a::default();
        h.write(format!("{:016}", self.labels.stable_hash()).as_bytes());
        h.write(self.url().as_bytes());
        h.finish()
    }

    /// How long to wait before the first scrape so that this target's scrapes fall on the
    /// same phase of every interval: `(hash ^ seed) mod interval`, pinned to absolute time.
    pub fn offset(&self, interval: Duration, seed: u64) -> Duration {
        let iv = interval.as_nanos().max(1);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let base = iv - now % iv;
        let offset = u128::from(self.hash() ^ seed) % iv;
        let mut next = base + offset;
        if next > iv {
            next -= iv;
        }
        Duration::from_nanos(u64::try_from(next).unwrap_or(u64::MAX))
    }

    /// The interval and timeout from the target's labels (relabeling may change them).
    pub fn interval_and_timeout(&self) -> Result<(Duration, Duration), String> {
        let get = |name: &str| self.labels.get(name).unwrap_or_default();
        let interval = parse_duration(get(SCRAPE_INTERVAL_LABEL)).map_err(|e| {
            format!(
                "error parsing interval label {:?}: {e}",
                get(SCRAPE_INTERVAL_LABEL)
            )
        })?;
        let timeout = parse_duration(get(SCRAPE_TIMEOUT_LABEL)).map_err(|e| {
            format!(
                "error parsing timeout label {:?}: {e}",
                get(SCRAPE_TIMEOUT_LABEL)
            )
        })?;
        Ok((interval, timeout))
    }
}

/// FNV-1a 64, Prometheus's target hash function.
struct Fnv64a(u64);

impl Default for Fnv64a {
    fn default() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl std::hash::Hasher for Fnv64a {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// A hash of a string with FNV-1a (the scrape offset seed of hostname and external labels).
pub fn fnv64a(s: &str) -> u64 {
    let mut h = Fnv64a::default();
    h.write(s.as_bytes());
    h.finish()
}

fn escape_path(p: &str) -> String {
    let mut out = String::with_capacity(p.len());
    for b in p.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/!$&'()*+,;=:@".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Go's `url.QueryEscape`: space as `+`, unreserved kept, everything else `%XX`.
fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else if b == b' ' {
            out.push('+');
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// What [`populate_labels`] made of one discovered label set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Populated {
    /// A target to scrape: final labels and the labels before relabeling.
    Active(Labels, Labels),
    /// Relabeling dropped it; the labels before relabeling (for `/service-discovery`).
    Dropped(Labels),
}

/// Turns one discovered label set into a target's labels, as Prometheus's `PopulateLabels`
/// (2.42: a missing port is filled in from the scheme).
pub fn populate_labels(discovered: Labels, cfg: &JobConfig) -> Result<Populated, String> {
    let defaults = [
        (JOB_LABEL, cfg.job_name.clone()),
        (SCRAPE_INTERVAL_LABEL, format_duration(cfg.scrape_interval)),
        (SCRAPE_TIMEOUT_LABEL, format_duration(cfg.scrape_timeout)),
        (METRICS_PATH_LABEL, cfg.metrics_path.clone()),
        (SCHEME_LABEL, cfg.scheme.clone()),
    ];
    let mut pre = discovered.builder();
    for (name, value) in &defaults {
        if discovered.get(name).unwrap_or_default().is_empty() {
            pre.set(name, value);
        }
    }
    for (k, v) in &cfg.params {
        if let Some(first) = v.first() {
            pre.set(&format!("{PARAM_LABEL_PREFIX}{k}"), first);
        }
    }
    let pre = pre.build();
    let Some(lset) = strata_relabel::process(&pre, &cfg.relabel_configs) else {
        return Ok(Populated::Dropped(pre));
    };
    let mut addr = lset.get(ADDRESS_LABEL).unwrap_or_default().to_string();
    if addr.is_empty() {
        return Err("no address".into());
    }
    let mut b = RelabelBuilder::new(lset.clone());
    if needs_port(&addr) {
        match lset.get(SCHEME_LABEL).unwrap_or_default() {
            "http" | "" => addr.push_str(":80"),
            "https" => addr.push_str(":443"),
            s => return Err(format!("invalid scheme: {s:?}")),
        }
        b.set(ADDRESS_LABEL, &addr);
    }
    if addr.contains('/') {
        return Err(format!("{addr:?} is not a valid hostname"));
    }
    let iv = lset.get(SCRAPE_INTERVAL_LABEL).unwrap_or_default();
    let interval = parse_duration(iv).map_err(|e| format!("error parsing scrape interval: {e}"))?;
    if interval.is_zero() {
        return Err("scrape interval cannot be 0".into());
    }
    let to = lset.get(SCRAPE_TIMEOUT_LABEL).unwrap_or_default();
    let timeout = parse_duration(to).map_err(|e| format!("error parsing scrape timeout: {e}"))?;
    if timeout.is_zero() {
        return Err("scrape timeout cannot be 0".into());
    }
    if timeout > interval {
        return Err(format!(
            "scrape timeout cannot be greater than scrape interval ({to:?} > {iv:?})"
        ));
    }
    for l in lset.iter() {
        if l.name.starts_with(META_LABEL_PREFIX) {
            b.del(&l.name);
        }
    }
    if lset.get(INSTANCE_LABEL).unwrap_or_default().is_empty() {
        b.set(INSTANCE_LABEL, &addr);
    }
    Ok(Populated::Active(b.labels(), pre))
}

/// Tells whether `addr` lacks a port (Prometheus's `addPort`: `host:port` splits).
fn needs_port(addr: &str) -> bool {
    if let Some(rest) = addr.strip_prefix('[') {
        // `[v6]:port` has a port; `[v6]` alone does not.
        return !rest.contains("]:");
    }
    match addr.rsplit_once(':') {
        None => true,
        // More than one colon without brackets: Go's SplitHostPort fails ("too many
        // colons"), so Prometheus adds a port.
        Some((host, _)) => host.contains(':'),
    }
}

/// Builds the targets of one group: each target's labels over the group's labels, then
/// [`populate_labels`]. Returns active targets, dropped ones (their discovered labels)
/// and the failures (`instance <i> in group <source>: <error>`).
pub fn targets_from_group(
    tg: &TargetGroup,
    cfg: &JobConfig,
) -> (Vec<Target>, Vec<Labels>, Vec<String>) {
    let mut active = Vec::new();
    let mut dropped = Vec::new();
    let mut failures = Vec::new();
    for (i, t) in tg.targets.iter().enumerate() {
        let mut v: Vec<Label> = t.iter().map(|(k, v)| Label::new(k, v)).collect();
        for (k, val) in &tg.labels {
            if !t.contains_key(k) {
                v.push(Label::new(k, val));
            }
        }
        v.retain(|l| !l.value.is_empty());
        match populate_labels(Labels::new(v), cfg) {
            Ok(Populated::Active(labels, pre)) => {
                active.push(Target::new(labels, pre, cfg.params.clone()))
            }
            Ok(Populated::Dropped(pre)) => dropped.push(pre),
            Err(e) => failures.push(format!("instance {i} in group {}: {e}", tg.source)),
        }
    }
    (active, dropped, failures)
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata_relabel::RelabelConfig;

    fn group(addrs: &[&str]) -> TargetGroup {
        TargetGroup {
            source: "g".into(),
            targets: addrs
                .iter()
                .map(|a| BTreeMap::from([(ADDRESS_LABEL.to_string(), a.to_string())]))
                .collect(),
            labels: BTreeMap::from([("team".to_string(), "a".to_string())]),
        }
    }

    fn rules(json: &str) -> Vec<RelabelConfig> {
        serde_json::from_str(json).expect("rules parse")
    }

    #[test]
    fn populates_defaults_instance_and_port() {
        let mut cfg = JobConfig::new("node");
        cfg.scrape_interval = Duration::from_secs(15);
        cfg.params
            .insert("module".into(), vec!["http_2xx".into(), "x".into()]);
        let (active, dropped, failures) = targets_from_group(&group(&["h:9100", "plain"]), &cfg);
        assert!(dropped.is_empty() && failures.is_empty(), "{failures:?}");
        let t = &active[0];
        assert_eq!(
            t.labels(),
            Labels::from_pairs([("instance", "h:9100"), ("job", "node"), ("team", "a")])
        );
        assert_eq!(t.all_labels().get(SCRAPE_INTERVAL_LABEL), Some("15s"));
        assert_eq!(t.all_labels().get(SCRAPE_TIMEOUT_LABEL), Some("10s"));
        assert_eq!(t.url(), "http://h:9100/metrics?module=http_2xx&module=x");
        assert_eq!(active[1].all_labels().get(ADDRESS_LABEL), Some("plain:80"));
        assert_eq!(active[1].labels().get(INSTANCE_LABEL), Some("plain:80"));
        assert_eq!(t.discovered_labels().get("__address__"), Some("h:9100"));
        assert_eq!(t.discovered_labels().get("job"), Some("node"));
    }

    #[test]
    fn relabel_drops_and_rewrites_and_meta_goes() {
        let mut cfg = JobConfig::new("j");
        cfg.relabel_configs = rules(
            r#"[{"source_labels":["__address__"],"regex":"drop.*","action":"drop"},
                {"source_labels":["__meta_x"],"target_label":"x"},
                {"target_label":"__param_target","source_labels":["__address__"]}]"#,
        );
        let mut tg = group(&["drop:1", "keep:2"]);
        tg.labels.insert("__meta_x".into(), "mx".into());
        let (active, dropped, failures) = targets_from_group(&tg, &cfg);
        assert!(failures.is_empty());
        assert_eq!(dropped.len(), 1);
        assert_eq!(dropped[0].get("__meta_x"), Some("mx"));
        assert_eq!(active.len(), 1);
        let t = &active[0];
        assert_eq!(t.labels().get("x"), Some("mx"));
        assert!(t.all_labels().get("__meta_x").is_none());
        assert_eq!(t.url(), "http://keep:2/metrics?target=keep%3A2");
    }

    #[test]
    fn errors_as_prometheus() {
        let mut cfg = JobConfig::new("j");
        cfg.relabel_configs = rules(r#"[{"target_label":"__address__","replacement":""}]"#);
        let (a, d, f) = targets_from_group(&group(&["x:1"]), &cfg);
        assert!(a.is_empty() && d.is_empty());
        assert_eq!(f, ["instance 0 in group g: no address"]);

        let mut cfg = JobConfig::new("j");
        cfg.relabel_configs =
            rules(r#"[{"target_label":"__scrape_timeout__","replacement":"2m"}]"#);
        let (_, _, f) = targets_from_group(&group(&["x:1"]), &cfg);
        assert_eq!(
            f,
            ["instance 0 in group g: scrape timeout cannot be greater than scrape interval (\"2m\" > \"1m\")"]
        );
    }

    #[test]
    fn identity_and_offset() {
        let cfg = JobConfig::new("j");
        let (a, _, _) = targets_from_group(&group(&["a:1", "b:1"]), &cfg);
        assert_ne!(a[0].hash(), a[1].hash());
        let (again, _, _) = targets_from_group(&group(&["a:1"]), &cfg);
        assert_eq!(a[0].hash(), again[0].hash());
        let iv = Duration::from_secs(10);
        for _ in 0..10 {
            assert!(a[0].offset(iv, 7) <= iv);
        }
        assert!(needs_port("[::1]") && !needs_port("[::1]:9") && !needs_port("h:1"));
        assert!(needs_port("::1"));
    }
}
