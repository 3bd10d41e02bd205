//! From `prometheus.yml` (strata-promconfig) to what the scrape side and the remote-write
//! queue take: [`JobConfig`] per `scrape_config`, `EndpointConfig` per `remote_write`.
//! Secrets in files (`password_file`, `credentials_file`) are read here, at every (re)load.

use std::collections::BTreeMap;
use std::path::Path;

use strata_model::{Label, Labels};
use strata_promconfig::{HttpClientConfig, ProtobufMessage, RemoteWriteConfig, ScrapeConfig};
use strata_remote_queue::{EndpointConfig, Protocol, QueueParams, TlsConfig};

use crate::job::{HttpOptions, JobConfig};

fn read_secret(inline: &str, file: &str, what: &str) -> Result<String, String> {
    if file.is_empty() {
        return Ok(inline.to_string());
    }
    std::fs::read_to_string(Path::new(file))
        .map(|s| s.trim_end_matches(['\r', '\n']).to_string())
        .map_err(|e| format!("read {what} file {file}: {e}"))
}

/// A pair of strings: user and password, or authorization type and credentials.
type Pair = Option<(String, String)>;

fn auth(h: &HttpClientConfig) -> Result<(Pair, Pair), String> {
    let basic = match &h.basic_auth {
        Some(b) => Some((
            read_secret(&b.username, &b.username_file, "username")?,
            read_secret(&b.password, &b.password_file, "password")?,
        )),
        None => None,
    };
    let authz = match &h.authorization {
        Some(a) => {
            let kind = if a.type_.is_empty() {
                "Bearer"
            } else {
                a.type_.as_str()
            };
            Some((
                kind.to_string(),
                read_secret(&a.credentials, &a.credentials_file, "credentials")?,
            ))
        }
        None => None,
    };
    Ok((basic, authz))
}

/// The scrape side's settings of one `scrape_config`.
pub fn job_config(sc: &ScrapeConfig) -> Result<JobConfig, String> {
    let (basic_auth, authorization) =
        auth(&sc.http).map_err(|e| format!("job {}: {e}", sc.job_name))?;
    let tls = TlsConfig::from(&sc.http.tls_config)
        .load()
        .map_err(|e| format!("job {}: {e}", sc.job_name))?;
    Ok(JobConfig {
        job_name: sc.job_name.clone(),
        scrape_interval: sc.scrape_interval,
        scrape_timeout: sc.scrape_timeout,
        metrics_path: sc.metrics_path.clone(),
        scheme: sc.scheme.clone(),
        params: sc.params.clone(),
        honor_labels: sc.honor_labels,
        honor_timestamps: sc.honor_timestamps,
        http: HttpOptions {
            basic_auth,
            authorization,
            tls,
            follow_redirects: sc.http.follow_redirects,
            enable_http2: sc.http.enable_http2,
            proxy_url: sc.http.proxy_url.clone(),
            headers: sc
                .http
                .http_headers
                .iter()
                .filter_map(|(k, v)| v.first().map(|f| (k.clone(), f.clone())))
                .collect(),
        },
        body_size_limit: sc.body_size_limit,
        sample_limit: sc.sample_limit,
        label_limit: sc.label_limit,
        label_name_length_limit: sc.label_name_length_limit,
        label_value_length_limit: sc.label_value_length_limit,
        target_limit: sc.target_limit,
        always_scrape_classic_histograms: sc.always_scrape_classic_histograms,
        scrape_protocols: sc.scrape_protocols.clone(),
        relabel_configs: sc.relabel_configs.clone(),
        metric_relabel_configs: sc.metric_relabel_configs.clone(),
    })
}

/// External labels as a label set.
pub fn external_labels(m: &BTreeMap<String, String>) -> Labels {
    Labels::new(m.iter().map(|(k, v)| Label::new(k, v)).collect())
}

/// The queue's settings of one `remote_write` entry, with the agent's disk caps.
pub fn endpoint_config(
    rw: &RemoteWriteConfig,
    external: &Labels,
    caps: (u64, std::time::Duration),
) -> Result<EndpointConfig, String> {
    let (basic_auth, authz) =
        auth(&rw.http).map_err(|e| format!("remote_write {}: {e}", rw.url))?;
    let mut headers = rw.headers.clone();
    let mut bearer_token = None;
    match authz {
        Some((kind, creds)) if kind.eq_ignore_ascii_case("bearer") => bearer_token = Some(creds),
        Some((kind, creds)) => {
            headers.insert("Authorization".into(), format!("{kind} {creds}"));
        }
        None => {}
    }
    let q = &rw.queue_config;
    let us = |v: u64| usize::try_from(v).unwrap_or(usize::MAX);
    let tls = TlsConfig::from(&rw.http.tls_config)
        .load()
        .map_err(|e| format!("remote_write {}: {e}", rw.url))?;
    Ok(EndpointConfig {
        name: rw.name.clone(),
        url: rw.url.clone(),
        headers,
        basic_auth,
        bearer_token,
        tls,
        remote_timeout: rw.remote_timeout,
        protocol: match rw.protobuf_message {
            ProtobufMessage::V1 => Protocol::V1,
            ProtobufMessage::V2 => Protocol::V2,
        },
        queue: QueueParams {
            capacity: us(q.capacity),
            max_shards: us(q.max_shards),
            min_shards: us(q.min_shards),
            max_samples_per_send: us(q.max_samples_per_send),
            batch_send_deadline: q.batch_send_deadline,
            min_backoff: q.min_backoff,
            max_backoff: q.max_backoff,
            retry_on_http_429: q.retry_on_http_429,
        },
        write_relabel_configs: rw.write_relabel_configs.clone(),
        external_labels: external.clone(),
        max_disk_bytes: caps.0,
        max_age: caps.1,
        send_exemplars: rw.send_exemplars,
        send_native_histograms: rw.send_native_histograms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `tls_config` of a scrape job and of a remote write: paths relative to the file's
    /// directory, files read at load (a changed CA is a changed config), an unreadable file
    /// named with its job or endpoint, https endpoints valid.
    #[test]
    fn tls_config_files_are_read_at_load_and_named_when_missing() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("ca.pem"), "CA PEM\n").expect("write");
        let yaml = "scrape_configs:\n  - job_name: j\n    scheme: https\n    \
                    tls_config: { ca_file: ca.pem, server_name: node.internal, insecure_skip_verify: true }\n    \
                    static_configs: [{ targets: ['a:1'] }]\n\
                    remote_write:\n  - url: https://rw.example/api/v1/write\n    \
                    tls_config: { ca_file: missing.pem }\n";
        let cfg = strata_promconfig::load_str(yaml, dir.path())
            .expect("config")
            .config;
        let job = job_config(&cfg.scrape_configs[0]).expect("job");
        assert_eq!(job.scheme, "https");
        assert_eq!(job.http.tls.ca, "CA PEM\n");
        assert_eq!(
            job.http.tls.ca_file,
            dir.path().join("ca.pem").display().to_string()
        );
        assert_eq!(job.http.tls.server_name, "node.internal");
        assert!(job.http.tls.insecure_skip_verify);

        let missing = dir.path().join("missing.pem").display().to_string();
        let e = endpoint_config(
            &cfg.remote_write[0],
            &Labels::empty(),
            (0, Default::default()),
        )
        .expect_err("missing ca_file");
        assert!(
            e.starts_with(
                "remote_write https://rw.example/api/v1/write: tls_config: read ca_file "
            ) && e.contains(&missing),
            "{e}"
        );

        std::fs::write(&missing, "").expect("write");
        let ep = endpoint_config(
            &cfg.remote_write[0],
            &Labels::empty(),
            (0, Default::default()),
        )
        .expect("endpoint");
        let e = ep.validate().expect_err("an empty CA file");
        assert!(e.to_string().contains("no PEM certificate found"), "{e}");
    }
}
