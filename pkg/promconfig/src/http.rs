//! The HTTP client settings Prometheus shares between scrape jobs, remote write/read, HTTP
//! and Kubernetes/Consul SD (`common/config.HTTPClientConfig`, written inline).
//!
//! Checks are Prometheus's (`HTTPClientConfig.Validate`) with its messages; a
//! `bearer_token`/`bearer_token_file` is turned into `authorization` of type `Bearer`, as
//! Prometheus does, so users of this crate only look at [`Authorization`].

use crate::yaml::Obj;
use crate::ConfigError;
use std::collections::BTreeMap;

/// `basic_auth`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BasicAuth {
    /// `username`.
    pub username: String,
    /// `username_file`: a file holding the user name (relative paths resolved against the
    /// configuration file's directory).
    pub username_file: String,
    /// `password`.
    pub password: String,
    /// `password_file`: a file holding the password (resolved like `username_file`).
    pub password_file: String,
}

/// `authorization`: an `Authorization: <type> <credentials>` header.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Authorization {
    /// `type`, default `Bearer`.
    pub type_: String,
    /// `credentials`.
    pub credentials: String,
    /// `credentials_file` (resolved against the configuration file's directory).
    pub credentials_file: String,
}

/// `oauth2` (client credentials flow). Parsed and checked; the agent does not use it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OAuth2 {
    /// `client_id`.
    pub client_id: String,
    /// `client_secret`.
    pub client_secret: String,
    /// `client_secret_file`.
    pub client_secret_file: String,
    /// `scopes`.
    pub scopes: Vec<String>,
    /// `token_url`.
    pub token_url: String,
    /// `endpoint_params`.
    pub endpoint_params: BTreeMap<String, String>,
    /// `tls_config` for the token endpoint.
    pub tls_config: TlsConfig,
    /// `proxy_url` for the token endpoint.
    pub proxy_url: String,
}

/// `tls_config`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsConfig {
    /// `ca`: a PEM CA certificate inline.
    pub ca: String,
    /// `ca_file` (resolved against the configuration file's directory).
    pub ca_file: String,
    /// `cert`: a PEM client certificate inline.
    pub cert: String,
    /// `cert_file`.
    pub cert_file: String,
    /// `key`: a PEM client key inline.
    pub key: String,
    /// `key_file`.
    pub key_file: String,
    /// `server_name` (SNI and verification name).
    pub server_name: String,
    /// `insecure_skip_verify`.
    pub insecure_skip_verify: bool,
    /// `min_version` (`TLS10` … `TLS13`), empty for the default.
    pub min_version: String,
    /// `max_version`, empty for the default.
    pub max_version: String,
}

/// The HTTP client settings (`HTTPClientConfig`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpClientConfig {
    /// `basic_auth`.
    pub basic_auth: Option<BasicAuth>,
    /// `authorization`, also set from `bearer_token` / `bearer_token_file`.
    pub authorization: Option<Authorization>,
    /// `oauth2` (not used by the agent).
    pub oauth2: Option<OAuth2>,
    /// `tls_config`.
    pub tls_config: TlsConfig,
    /// `proxy_url`, empty for none.
    pub proxy_url: String,
    /// `no_proxy`.
    pub no_proxy: String,
    /// `proxy_from_environment`.
    pub proxy_from_environment: bool,
    /// `proxy_connect_header`.
    pub proxy_connect_header: BTreeMap<String, Vec<String>>,
    /// `follow_redirects`, default true.
    pub follow_redirects: bool,
    /// `enable_http2`, default true.
    pub enable_http2: bool,
    /// `http_headers`: extra request headers, name → values (Prometheus 3).
    pub http_headers: BTreeMap<String, Vec<String>>,
}

impl Default for HttpClientConfig {
    /// Prometheus's defaults: follow redirects, HTTP/2 on.
    fn default() -> Self {
        Self {
            basic_auth: None,
            authorization: None,
            oauth2: None,
            tls_config: TlsConfig::default(),
            proxy_url: String::new(),
            no_proxy: String::new(),
            proxy_from_environment: false,
            proxy_connect_header: BTreeMap::new(),
            follow_redirects: true,
            enable_http2: true,
            http_headers: BTreeMap::new(),
        }
    }
}

/// A secret given inline or in a file: the file is read now and trimmed of surrounding
/// whitespace, as Prometheus does on every request (so a rotated file takes effect).
fn inline_or_file(inline: &str, file: &str) -> Result<String, ConfigError> {
    if file.is_empty() {
        return Ok(inline.to_string());
    }
    std::fs::read_to_string(file)
        .map(|s| s.trim().to_string())
        .map_err(|source| ConfigError::Read {
            path: file.into(),
            source,
        })
}

impl BasicAuth {
    /// The user name: `username`, or the content of `username_file`, read now.
    pub fn resolve_username(&self) -> Result<String, ConfigError> {
        inline_or_file(&self.username, &self.username_file)
    }

    /// The password: `password`, or the content of `password_file`, read now.
    pub fn resolve_password(&self) -> Result<String, ConfigError> {
        inline_or_file(&self.password, &self.password_file)
    }
}

impl Authorization {
    /// The credentials: `credentials`, or the content of `credentials_file`, read now.
    pub fn resolve_credentials(&self) -> Result<String, ConfigError> {
        inline_or_file(&self.credentials, &self.credentials_file)
    }

    /// The `Authorization` header value: `<type> <credentials>`.
    pub fn header_value(&self) -> Result<String, ConfigError> {
        Ok(format!("{} {}", self.type_, self.resolve_credentials()?))
    }
}

impl TlsConfig {
    pub(crate) fn parse(mut o: Obj) -> Result<Self, ConfigError> {
        let c = TlsConfig {
            ca: o.str_or("ca", "")?,
            ca_file: o.str_or("ca_file", "")?,
            cert: o.str_or("cert", "")?,
            cert_file: o.str_or("cert_file", "")?,
            key: o.str_or("key", "")?,
            key_file: o.str_or("key_file", "")?,
            server_name: o.str_or("server_name", "")?,
            insecure_skip_verify: o.bool_or("insecure_skip_verify", false)?,
            min_version: o.str_or("min_version", "")?,
            max_version: o.str_or("max_version", "")?,
        };
        let path = o.path().to_string();
        o.finish()?;
        for v in [&c.min_version, &c.max_version] {
            if !v.is_empty() && !["TLS10", "TLS11", "TLS12", "TLS13"].contains(&v.as_str()) {
                return Err(ConfigError::invalid(
                    &path,
                    format!("unknown TLS version: {v}"),
                ));
            }
        }
        let both = |a: &str, b: &str, what: &str| {
            if !a.is_empty() && !b.is_empty() {
                Err(ConfigError::invalid(
                    &path,
                    format!("at most one of {what} & {what}_file must be configured"),
                ))
            } else {
                Ok(())
            }
        };
        both(&c.ca, &c.ca_file, "ca")?;
        both(&c.cert, &c.cert_file, "cert")?;
        both(&c.key, &c.key_file, "key")?;
        let has_cert = !c.cert.is_empty() || !c.cert_file.is_empty();
        let has_key = !c.key.is_empty() || !c.key_file.is_empty();
        if has_cert && !has_key {
            return Err(ConfigError::invalid(
                &path,
                "exactly one of key or key_file must be configured when a client certificate is configured",
            ));
        }
        if has_key && !has_cert {
            return Err(ConfigError::invalid(
                &path,
                "exactly one of cert or cert_file must be configured when a client key is configured",
            ));
        }
        Ok(c)
    }

    /// Resolves the file paths against `dir` (Prometheus's `SetDirectory`).
    pub(crate) fn set_directory(&mut self, dir: &std::path::Path) {
        for f in [&mut self.ca_file, &mut self.cert_file, &mut self.key_file] {
            crate::resolve_path(f, dir);
        }
    }
}

impl HttpClientConfig {
    /// Takes the HTTP client keys out of `o` (they are inline in the enclosing mapping)
    /// and checks them as Prometheus does.
    pub(crate) fn parse(o: &mut Obj) -> Result<Self, ConfigError> {
        let path = o.path().to_string();
        let basic_auth = match o.obj("basic_auth", "config.plain")? {
            None => None,
            Some(mut b) => {
                let ba = BasicAuth {
                    username: b.str_or("username", "")?,
                    username_file: b.str_or("username_file", "")?,
                    password: b.str_or("password", "")?,
                    password_file: b.str_or("password_file", "")?,
                };
                let bpath = b.path().to_string();
                b.finish()?;
                if !ba.username.is_empty() && !ba.username_file.is_empty() {
                    return Err(ConfigError::invalid(
                        &bpath,
                        "at most one of basic_auth username & username_file must be configured",
                    ));
                }
                if !ba.password.is_empty() && !ba.password_file.is_empty() {
                    return Err(ConfigError::invalid(
                        &bpath,
                        "at most one of basic_auth password & password_file must be configured",
                    ));
                }
                Some(ba)
            }
        };
        let mut authorization = match o.obj("authorization", "config.Authorization")? {
            None => None,
            Some(mut a) => {
                let au = Authorization {
                    type_: a.str_or("type", "")?,
                    credentials: a.str_or("credentials", "")?,
                    credentials_file: a.str_or("credentials_file", "")?,
                };
                a.finish()?;
                Some(au)
            }
        };
        let oauth2 = match o.obj("oauth2", "config.OAuth2")? {
            None => None,
            Some(mut a) => {
                let tls_config = match a.obj("tls_config", "config.plain")? {
                    Some(t) => TlsConfig::parse(t)?,
                    None => TlsConfig::default(),
                };
                let oa = OAuth2 {
                    client_id: a.str_or("client_id", "")?,
                    client_secret: a.str_or("client_secret", "")?,
                    client_secret_file: a.str_or("client_secret_file", "")?,
                    scopes: a.strings("scopes")?,
                    token_url: a.str_or("token_url", "")?,
                    endpoint_params: a.str_map("endpoint_params")?,
                    tls_config,
                    proxy_url: a.str_or("proxy_url", "")?,
                };
                // Proxy settings of the token client, accepted and not used.
                for k in ["no_proxy", "proxy_from_environment", "proxy_connect_header"] {
                    a.take(k);
                }
                a.finish()?;
                Some(oa)
            }
        };
        let bearer_token = o.str_or("bearer_token", "")?;
        let bearer_token_file = o.str_or("bearer_token_file", "")?;
        let tls_config = match o.obj("tls_config", "config.plain")? {
            Some(t) => TlsConfig::parse(t)?,
            None => TlsConfig::default(),
        };
        let c = HttpClientConfig {
            basic_auth,
            authorization: None,
            oauth2,
            tls_config,
            proxy_url: o.str_or("proxy_url", "")?,
            no_proxy: o.str_or("no_proxy", "")?,
            proxy_from_environment: o.bool_or("proxy_from_environment", false)?,
            proxy_connect_header: o.str_list_map("proxy_connect_header")?,
            follow_redirects: o.bool_or("follow_redirects", true)?,
            enable_http2: o.bool_or("enable_http2", true)?,
            http_headers: parse_http_headers(o)?,
        };
        let err = |m: &str| Err(ConfigError::invalid(&path, m));
        if !bearer_token.is_empty() && !bearer_token_file.is_empty() {
            return err("at most one of bearer_token & bearer_token_file must be configured");
        }
        let has_bearer = !bearer_token.is_empty() || !bearer_token_file.is_empty();
        if (c.basic_auth.is_some() || c.oauth2.is_some()) && has_bearer {
            return err(
                "at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured",
            );
        }
        if let Some(ba) = &c.basic_auth {
            if c.oauth2.is_some() {
                return err("at most one of basic_auth, oauth2 & authorization must be configured");
            }
            let _ = ba;
        }
        if let Some(a) = &mut authorization {
            if has_bearer {
                return err(
                    "authorization is not compatible with bearer_token & bearer_token_file",
                );
            }
            if !a.credentials.is_empty() && !a.credentials_file.is_empty() {
                return err(
                    "at most one of authorization credentials & credentials_file must be configured",
                );
            }
            a.type_ = a.type_.trim().to_string();
            if a.type_.is_empty() {
                a.type_ = "Bearer".to_string();
            }
            if a.type_.eq_ignore_ascii_case("basic") {
                return err(
                    r#"authorization type cannot be set to "basic", use "basic_auth" instead"#,
                );
            }
            if c.basic_auth.is_some() || c.oauth2.is_some() {
                return err("at most one of basic_auth, oauth2 & authorization must be configured");
            }
        } else if has_bearer {
            authorization = Some(Authorization {
                type_: "Bearer".to_string(),
                credentials: bearer_token,
                credentials_file: bearer_token_file,
            });
        }
        if let Some(oa) = &c.oauth2 {
            if oa.client_id.is_empty() {
                return err("oauth2 client_id must be configured");
            }
            if oa.token_url.is_empty() {
                return err("oauth2 token_url must be configured");
            }
            if !oa.client_secret.is_empty() && !oa.client_secret_file.is_empty() {
                return err(
                    "at most one of oauth2 client_secret & client_secret_file must be configured",
                );
            }
        }
        if !c.proxy_url.is_empty() && c.proxy_from_environment {
            return err(
                "if proxy_from_environment is configured, proxy_url must not be configured",
            );
        }
        if !c.no_proxy.is_empty() && c.proxy_url.is_empty() {
            return err("if no_proxy is configured, proxy_url must also be configured");
        }
        if !c.proxy_connect_header.is_empty() && c.proxy_url.is_empty() && !c.proxy_from_environment
        {
            return err("if proxy_connect_header is configured, proxy_url or proxy_from_environment must also be configured");
        }
        Ok(HttpClientConfig { authorization, ..c })
    }

    /// Tells whether any setting differs from the defaults (Kubernetes SD refuses a
    /// custom client without `api_server`).
    pub(crate) fn is_default(&self) -> bool {
        *self == HttpClientConfig::default()
    }

    /// Resolves every `*_file` path against `dir` (Prometheus's `SetDirectory`).
    pub(crate) fn set_directory(&mut self, dir: &std::path::Path) {
        if let Some(b) = &mut self.basic_auth {
            crate::resolve_path(&mut b.username_file, dir);
            crate::resolve_path(&mut b.password_file, dir);
        }
        if let Some(a) = &mut self.authorization {
            crate::resolve_path(&mut a.credentials_file, dir);
        }
        if let Some(o) = &mut self.oauth2 {
            crate::resolve_path(&mut o.client_secret_file, dir);
            o.tls_config.set_directory(dir);
        }
        self.tls_config.set_directory(dir);
    }
}

/// `http_headers`: `name: {values: [...], secrets: [...], files: [...]}`; the values and
/// secrets are kept (files are read by nobody yet and refused).
fn parse_http_headers(o: &mut Obj) -> Result<BTreeMap<String, Vec<String>>, ConfigError> {
    let Some(mut h) = o.obj("http_headers", "config.Headers")? else {
        return Ok(BTreeMap::new());
    };
    let mut out = BTreeMap::new();
    let names: Vec<String> = h.keys();
    for name in names {
        let Some(mut one) = h.obj(&name, "config.Header")? else {
            continue;
        };
        let mut values = one.strings("values")?;
        values.extend(one.strings("secrets")?);
        let files = one.strings("files")?;
        let p = one.path().to_string();
        one.finish()?;
        if !files.is_empty() {
            return Err(ConfigError::invalid(
                &p,
                "header values from files are not supported by the agent",
            ));
        }
        out.insert(name, values);
    }
    h.finish()?;
    Ok(out)
}
