//! Service discovery configurations (`*_sd_configs`, `static_configs`) as Prometheus reads
//! them, with its defaults and checks.
//!
//! The agent discovers with static, file, HTTP, DNS, Kubernetes and Consul; every other
//! kind Prometheus knows (`ec2_sd_configs`, `gce_sd_configs`, …) is accepted as known,
//! kept as raw YAML in [`UnsupportedSdConfig`] and reported with a warning
//! "… is not supported by the agent". Every type is `PartialEq` so a reload can tell which
//! providers are unchanged.

use crate::http::HttpClientConfig;
use crate::yaml::{seq, Obj};
use crate::ConfigError;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

/// The SD kinds Prometheus 3 knows that the agent does not run (key names).
pub const UNSUPPORTED_SD_KEYS: [&str; 23] = [
    "azure_sd_configs",
    "digitalocean_sd_configs",
    "docker_sd_configs",
    "dockerswarm_sd_configs",
    "ec2_sd_configs",
    "eureka_sd_configs",
    "gce_sd_configs",
    "hetzner_sd_configs",
    "ionos_sd_configs",
    "kuma_sd_configs",
    "lightsail_sd_configs",
    "linode_sd_configs",
    "marathon_sd_configs",
    "nerve_sd_configs",
    "nomad_sd_configs",
    "openstack_sd_configs",
    "ovhcloud_sd_configs",
    "puppetdb_sd_configs",
    "scaleway_sd_configs",
    "serverset_sd_configs",
    "triton_sd_configs",
    "uyuni_sd_configs",
    "vultr_sd_configs",
];

/// Every service discovery configuration of one scrape job (or Alertmanager set).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ServiceDiscoveryConfigs {
    /// `static_configs`.
    pub static_configs: Vec<StaticConfig>,
    /// `file_sd_configs`.
    pub file_sd_configs: Vec<FileSdConfig>,
    /// `http_sd_configs`.
    pub http_sd_configs: Vec<HttpSdConfig>,
    /// `dns_sd_configs`.
    pub dns_sd_configs: Vec<DnsSdConfig>,
    /// `kubernetes_sd_configs`.
    pub kubernetes_sd_configs: Vec<KubernetesSdConfig>,
    /// `consul_sd_configs`.
    pub consul_sd_configs: Vec<ConsulSdConfig>,
    /// Kinds Prometheus knows and the agent does not run.
    pub unsupported: Vec<UnsupportedSdConfig>,
}

/// One `static_configs` entry (a target group).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StaticConfig {
    /// `targets`: `host:port` addresses.
    pub targets: Vec<String>,
    /// `labels` given to every target.
    pub labels: BTreeMap<String, String>,
}

/// One `file_sd_configs` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileSdConfig {
    /// `files`: paths or globs (a `*` only in the last element), resolved against the
    /// configuration file's directory.
    pub files: Vec<String>,
    /// `refresh_interval`, default 5m.
    pub refresh_interval: Duration,
}

/// One `http_sd_configs` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpSdConfig {
    /// `url` (http or https).
    pub url: String,
    /// `refresh_interval`, default 60s.
    pub refresh_interval: Duration,
    /// The HTTP client settings (inline).
    pub http: HttpClientConfig,
}

/// One `dns_sd_configs` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DnsSdConfig {
    /// `names` to query.
    pub names: Vec<String>,
    /// `refresh_interval`, default 30s.
    pub refresh_interval: Duration,
    /// `type`, upper case: `SRV` (default), `A`, `AAAA`, `MX` or `NS`.
    pub type_: String,
    /// `port` for every type but SRV.
    pub port: u16,
}

/// A Kubernetes SD role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KubernetesRole {
    /// `endpoints`
    Endpoints,
    /// `endpointslice`
    EndpointSlice,
    /// `service`
    Service,
    /// `pod`
    Pod,
    /// `node`
    Node,
    /// `ingress`
    Ingress,
}

impl KubernetesRole {
    /// The role's name in configuration files.
    pub fn as_str(self) -> &'static str {
        match self {
            KubernetesRole::Endpoints => "endpoints",
            KubernetesRole::EndpointSlice => "endpointslice",
            KubernetesRole::Service => "service",
            KubernetesRole::Pod => "pod",
            KubernetesRole::Node => "node",
            KubernetesRole::Ingress => "ingress",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [
            KubernetesRole::Endpoints,
            KubernetesRole::EndpointSlice,
            KubernetesRole::Service,
            KubernetesRole::Pod,
            KubernetesRole::Node,
            KubernetesRole::Ingress,
        ]
        .into_iter()
        .find(|r| r.as_str() == s)
    }
}

/// `kubernetes_sd_configs[].namespaces`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KubernetesNamespaces {
    /// `own_namespace`: also watch the namespace the agent runs in.
    pub own_namespace: bool,
    /// `names`; empty means all namespaces.
    pub names: Vec<String>,
}

/// `kubernetes_sd_configs[].selectors[]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KubernetesSelector {
    /// The role the selector applies to.
    pub role: KubernetesRole,
    /// `label` selector, as in `kubectl -l`.
    pub label: String,
    /// `field` selector.
    pub field: String,
}

/// `kubernetes_sd_configs[].attach_metadata`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KubernetesAttachMetadata {
    /// `node`: attach node labels to pod/endpoints targets.
    pub node: bool,
    /// `namespace`: attach namespace labels (Prometheus 3).
    pub namespace: bool,
}

/// One `kubernetes_sd_configs` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KubernetesSdConfig {
    /// `api_server`, empty for in-cluster configuration.
    pub api_server: String,
    /// `role`.
    pub role: KubernetesRole,
    /// `kubeconfig_file` (resolved against the configuration file's directory).
    pub kubeconfig_file: String,
    /// `namespaces`.
    pub namespaces: KubernetesNamespaces,
    /// `selectors`.
    pub selectors: Vec<KubernetesSelector>,
    /// `attach_metadata`.
    pub attach_metadata: KubernetesAttachMetadata,
    /// The HTTP client settings (inline).
    pub http: HttpClientConfig,
}

/// One `consul_sd_configs` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsulSdConfig {
    /// `server`, default `localhost:8500`.
    pub server: String,
    /// `path_prefix` (Consul behind a proxy path).
    pub path_prefix: String,
    /// `token` (sent as `X-Consul-Token`).
    pub token: String,
    /// `datacenter`.
    pub datacenter: String,
    /// `namespace` (Consul Enterprise).
    pub namespace: String,
    /// `partition` (Consul Enterprise).
    pub partition: String,
    /// `scheme`, default `http`.
    pub scheme: String,
    /// `services`; empty means all.
    pub services: Vec<String>,
    /// `tags` a service must have (all of them).
    pub tags: Vec<String>,
    /// `node_meta` a node must have.
    pub node_meta: BTreeMap<String, String>,
    /// `tag_separator`, default `,`.
    pub tag_separator: String,
    /// `allow_stale`, default true.
    pub allow_stale: bool,
    /// `refresh_interval`, default 30s.
    pub refresh_interval: Duration,
    /// `filter` (Consul filter expression, Prometheus 3).
    pub filter: String,
    /// The HTTP client settings (inline); `username`/`password` become `basic_auth`.
    pub http: HttpClientConfig,
}

/// An SD kind Prometheus knows that the agent does not run, kept as written.
#[derive(Clone, Debug, PartialEq)]
pub struct UnsupportedSdConfig {
    /// The key, e.g. `ec2_sd_configs`.
    pub kind: String,
    /// The entry as written.
    pub config: serde_yaml::Value,
}

fn entries(o: &mut Obj, key: &str) -> Result<Vec<Obj>, ConfigError> {
    let path = o.at(key);
    let Some(v) = o.take(key) else {
        return Ok(Vec::new());
    };
    seq(&path, v)?
        .into_iter()
        .map(|(p, v)| {
            if v.is_null() {
                return Err(ConfigError::invalid(
                    &p,
                    format!("empty or null section in {key}"),
                ));
            }
            Obj::new(&p, v, go_type(key))
        })
        .collect()
}

fn go_type(key: &str) -> &'static str {
    match key {
        "static_configs" => {
            r#"struct { Targets []string "yaml:\"targets\""; Labels model.LabelSet "yaml:\"labels\"" }"#
        }
        "file_sd_configs" => "file.plain",
        "http_sd_configs" => "http.plain",
        "dns_sd_configs" => "dns.plain",
        "kubernetes_sd_configs" => "kubernetes.plain",
        "consul_sd_configs" => "consul.plain",
        _ => "discovery.Config",
    }
}

impl ServiceDiscoveryConfigs {
    /// Takes every SD key out of `o` (they are inline in the enclosing mapping).
    pub(crate) fn parse(o: &mut Obj, warnings: &mut Vec<String>) -> Result<Self, ConfigError> {
        let mut c = ServiceDiscoveryConfigs::default();
        for mut e in entries(o, "static_configs")? {
            let labels = e.str_map("labels")?;
            let sc = StaticConfig {
                targets: e.strings("targets")?,
                labels,
            };
            let p = e.path().to_string();
            e.finish()?;
            for name in sc.labels.keys() {
                if !strata_relabel::is_valid_label_name(name) {
                    return Err(ConfigError::invalid(
                        &p,
                        format!("{name:?} is not a valid label name"),
                    ));
                }
            }
            c.static_configs.push(sc);
        }
        for mut e in entries(o, "file_sd_configs")? {
            let f = FileSdConfig {
                files: e.strings("files")?,
                refresh_interval: e.duration_or("refresh_interval", Duration::from_secs(300))?,
            };
            let p = e.path().to_string();
            e.finish()?;
            if f.files.is_empty() {
                return Err(ConfigError::invalid(
                    &p,
                    "file service discovery config must contain at least one path name",
                ));
            }
            for name in &f.files {
                if !valid_file_sd_name(name) {
                    return Err(ConfigError::invalid(
                        &p,
                        format!("path name {name:?} is not valid for file discovery"),
                    ));
                }
            }
            c.file_sd_configs.push(f);
        }
        for mut e in entries(o, "http_sd_configs")? {
            let url = e.str_or("url", "")?;
            let refresh_interval = e.duration_or("refresh_interval", Duration::from_secs(60))?;
            let http = HttpClientConfig::parse(&mut e)?;
            let p = e.path().to_string();
            e.finish()?;
            check_http_url(&p, &url)?;
            c.http_sd_configs.push(HttpSdConfig {
                url,
                refresh_interval,
                http,
            });
        }
        for mut e in entries(o, "dns_sd_configs")? {
            let names = e.strings("names")?;
            let refresh_interval = e.duration_or("refresh_interval", Duration::from_secs(30))?;
            let type_ = e.str_or("type", "SRV")?;
            let port_path = e.at("port");
            let port = e.u64("port")?.unwrap_or(0);
            let p = e.path().to_string();
            e.finish()?;
            let port = u16::try_from(port)
                .map_err(|_| ConfigError::invalid(&port_path, "cannot unmarshal !!int into int"))?;
            if names.is_empty() {
                return Err(ConfigError::invalid(
                    &p,
                    "DNS-SD config must contain at least one SRV record name",
                ));
            }
            let upper = type_.to_uppercase();
            match upper.as_str() {
                "SRV" => {}
                "A" | "AAAA" | "MX" | "NS" => {
                    if port == 0 {
                        return Err(ConfigError::invalid(
                            &p,
                            "a port is required in DNS-SD configs for all record types except SRV",
                        ));
                    }
                }
                _ => {
                    return Err(ConfigError::invalid(
                        &p,
                        format!("invalid DNS-SD records type {type_}"),
                    ))
                }
            }
            c.dns_sd_configs.push(DnsSdConfig {
                names,
                refresh_interval,
                type_: upper,
                port,
            });
        }
        for e in entries(o, "kubernetes_sd_configs")? {
            c.kubernetes_sd_configs.push(KubernetesSdConfig::parse(e)?);
        }
        for e in entries(o, "consul_sd_configs")? {
            c.consul_sd_configs.push(ConsulSdConfig::parse(e)?);
        }
        for key in UNSUPPORTED_SD_KEYS {
            let path = o.at(key);
            let Some(v) = o.take(key) else { continue };
            let items = seq(&path, v)?;
            if !items.is_empty() {
                warnings.push(format!("{path}: {key} is not supported by the agent"));
            }
            for (p, v) in items {
                if v.is_null() {
                    return Err(ConfigError::invalid(
                        &p,
                        format!("empty or null section in {key}"),
                    ));
                }
                c.unsupported.push(UnsupportedSdConfig {
                    kind: key.to_string(),
                    config: v,
                });
            }
        }
        Ok(c)
    }

    /// Tells whether no discovery is configured at all.
    pub fn is_empty(&self) -> bool {
        *self == ServiceDiscoveryConfigs::default()
    }

    /// Resolves relative file paths against `dir` (Prometheus's `SetDirectory`).
    pub(crate) fn set_directory(&mut self, dir: &Path) {
        for f in &mut self.file_sd_configs {
            for name in &mut f.files {
                crate::resolve_path(name, dir);
            }
        }
        for h in &mut self.http_sd_configs {
            h.http.set_directory(dir);
        }
        for k in &mut self.kubernetes_sd_configs {
            crate::resolve_path(&mut k.kubeconfig_file, dir);
            k.http.set_directory(dir);
        }
        for c in &mut self.consul_sd_configs {
            c.http.set_directory(dir);
        }
    }
}

/// Prometheus's `^[^*]*(\*[^/]*)?\.(json|yml|yaml|JSON|YML|YAML)$`.
fn valid_file_sd_name(name: &str) -> bool {
    let Some((stem, ext)) = name.rsplit_once('.') else {
        return false;
    };
    if !["json", "yml", "yaml", "JSON", "YML", "YAML"].contains(&ext) {
        return false;
    }
    match stem.find('*') {
        None => true,
        Some(i) => !stem[i + 1..].contains('/') && !stem[i + 1..].contains('*'),
    }
}

fn check_http_url(path: &str, url: &str) -> Result<(), ConfigError> {
    if url.is_empty() {
        return Err(ConfigError::invalid(path, "URL is missing"));
    }
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(ConfigError::invalid(
            path,
            "URL scheme must be 'http' or 'https'",
        ));
    };
    if scheme != "http" && scheme != "https" {
        return Err(ConfigError::invalid(
            path,
            "URL scheme must be 'http' or 'https'",
        ));
    }
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host.is_empty() {
        return Err(ConfigError::invalid(path, "host is missing in URL"));
    }
    Ok(())
}

impl KubernetesSdConfig {
    fn parse(mut e: Obj) -> Result<Self, ConfigError> {
        let p = e.path().to_string();
        let api_server = e.str_or("api_server", "")?;
        let role_s = e.str_or("role", "")?;
        let kubeconfig_file = e.str_or("kubeconfig_file", "")?;
        let namespaces = match e.obj("namespaces", "kubernetes.NamespaceDiscovery")? {
            None => KubernetesNamespaces::default(),
            Some(mut n) => {
                let ns = KubernetesNamespaces {
                    own_namespace: n.bool_or("own_namespace", false)?,
                    names: n.strings("names")?,
                };
                n.finish()?;
                ns
            }
        };
        let mut selectors = Vec::new();
        for (sp, v) in e.list("selectors")? {
            let mut s = Obj::new(&sp, v, "kubernetes.SelectorConfig")?;
            let r = s.str_or("role", "")?;
            let label = s.str_or("label", "")?;
            let field = s.str_or("field", "")?;
            s.finish()?;
            let role = KubernetesRole::parse(&r).ok_or_else(|| {
                ConfigError::invalid(&sp, format!("unknown Kubernetes SD role {r:?}"))
            })?;
            selectors.push(KubernetesSelector { role, label, field });
        }
        let attach_metadata = match e.obj("attach_metadata", "kubernetes.AttachMetadataConfig")? {
            None => KubernetesAttachMetadata::default(),
            Some(mut a) => {
                let am = KubernetesAttachMetadata {
                    node: a.bool_or("node", false)?,
                    namespace: a.bool_or("namespace", false)?,
                };
                a.finish()?;
                am
            }
        };
        let http = HttpClientConfig::parse(&mut e)?;
        e.finish()?;
        if role_s.is_empty() {
            return Err(ConfigError::invalid(
                &p,
                "role missing (one of: pod, service, endpoints, endpointslice, node, ingress)",
            ));
        }
        let role = KubernetesRole::parse(&role_s).ok_or_else(|| {
            ConfigError::invalid(&p, format!("unknown Kubernetes SD role {role_s:?}"))
        })?;
        let err = |m: &str| Err(ConfigError::invalid(&p, m));
        if !api_server.is_empty() && !kubeconfig_file.is_empty() {
            return err("cannot use 'kubeconfig_file' and 'api_server' simultaneously");
        }
        if !kubeconfig_file.is_empty() && !http.is_default() {
            return err(
                "cannot use a custom HTTP client configuration together with 'kubeconfig_file'",
            );
        }
        if api_server.is_empty() && kubeconfig_file.is_empty() && !http.is_default() {
            return err(
                "to use custom HTTP client configuration please provide the 'api_server' URL explicitly",
            );
        }
        if !api_server.is_empty() && namespaces.own_namespace {
            return err("cannot use 'api_server' and 'namespaces.own_namespace' simultaneously");
        }
        if !kubeconfig_file.is_empty() && namespaces.own_namespace {
            return err(
                "cannot use 'kubeconfig_file' and 'namespaces.own_namespace' simultaneously",
            );
        }
        let allowed: &[KubernetesRole] = match role {
            KubernetesRole::Endpoints => &[
                KubernetesRole::Pod,
                KubernetesRole::Service,
                KubernetesRole::Endpoints,
            ],
            KubernetesRole::EndpointSlice => &[
                KubernetesRole::Pod,
                KubernetesRole::Service,
                KubernetesRole::EndpointSlice,
            ],
            other => match other {
                KubernetesRole::Ingress => &[KubernetesRole::Ingress],
                KubernetesRole::Node => &[KubernetesRole::Node],
                KubernetesRole::Pod => &[KubernetesRole::Pod],
                _ => &[KubernetesRole::Service],
            },
        };
        let mut seen = Vec::new();
        for s in &selectors {
            if seen.contains(&s.role) {
                return err(&format!("duplicated selector role: {}", s.role.as_str()));
            }
            seen.push(s.role);
            if !allowed.contains(&s.role) {
                let names: Vec<&str> = allowed.iter().map(|r| r.as_str()).collect();
                return err(&format!(
                    "{} role supports only {} selectors",
                    role.as_str(),
                    names.join(", ")
                ));
            }
        }
        Ok(KubernetesSdConfig {
            api_server,
            role,
            kubeconfig_file,
            namespaces,
            selectors,
            attach_metadata,
            http,
        })
    }
}

impl ConsulSdConfig {
    fn parse(mut e: Obj) -> Result<Self, ConfigError> {
        let p = e.path().to_string();
        let username = e.str_or("username", "")?;
        let password = e.str_or("password", "")?;
        let mut c = ConsulSdConfig {
            server: e.str_or("server", "localhost:8500")?,
            path_prefix: e.str_or("path_prefix", "")?,
            token: e.str_or("token", "")?,
            datacenter: e.str_or("datacenter", "")?,
            namespace: e.str_or("namespace", "")?,
            partition: e.str_or("partition", "")?,
            scheme: e.str_or("scheme", "http")?,
            services: e.strings("services")?,
            tags: e.strings("tags")?,
            node_meta: e.str_map("node_meta")?,
            tag_separator: e.str_or("tag_separator", ",")?,
            allow_stale: e.bool_or("allow_stale", true)?,
            refresh_interval: e.duration_or("refresh_interval", Duration::from_secs(30))?,
            filter: e.str_or("filter", "")?,
            http: HttpClientConfig::parse(&mut e)?,
        };
        e.finish()?;
        if c.server.trim().is_empty() {
            return Err(ConfigError::invalid(
                &p,
                "consul SD configuration requires a server address",
            ));
        }
        if !username.is_empty() || !password.is_empty() {
            if c.http.basic_auth.is_some() {
                return Err(ConfigError::invalid(
                    &p,
                    "at most one of consul SD configuration username and password and basic auth can be configured",
                ));
            }
            c.http.basic_auth = Some(crate::http::BasicAuth {
                username,
                password,
                ..Default::default()
            });
        }
        if !c.token.is_empty() && (c.http.authorization.is_some() || c.http.oauth2.is_some()) {
            return Err(ConfigError::invalid(
                &p,
                "at most one of consul SD token, authorization, or oauth2 can be configured",
            ));
        }
        Ok(c)
    }
}
