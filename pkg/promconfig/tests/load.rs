//! What loading yields: Prometheus's defaults, values as written, resolved paths,
//! `scrape_config_files`, warnings and error places.

#![allow(clippy::unwrap_used)] // in tests a failed unwrap is a failed test

use std::path::{Path, PathBuf};
use std::time::Duration;
use strata_exposition::ScrapeProtocol;
use strata_promconfig::sd::{KubernetesRole, ServiceDiscoveryConfigs};
use strata_promconfig::{load_file, load_str, ConfigError, ProtobufMessage, QueueConfig};

fn testdata(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/testdata")
        .join(p)
}

#[test]
fn empty_config_has_prometheus_defaults() {
    let l = load_str("", Path::new("/etc/prometheus")).unwrap();
    let g = &l.config.global;
    assert_eq!(g.scrape_interval, Duration::from_secs(60));
    assert_eq!(g.scrape_timeout, Duration::from_secs(10));
    assert_eq!(g.evaluation_interval, Duration::from_secs(60));
    assert_eq!(g.scrape_protocols, ScrapeProtocol::DEFAULT.to_vec());
    assert!(l.config.scrape_configs.is_empty());
    assert!(l.warnings.is_empty());
}

#[test]
fn job_defaults_come_from_global() {
    let l = load_file(&testdata("promtool-valid/short_interval.yml")).unwrap();
    let jobs = &l.config.scrape_configs;
    assert_eq!(jobs.len(), 2);
    let fast = &jobs[0];
    assert_eq!(fast.job_name, "fast");
    assert_eq!(fast.scrape_interval, Duration::from_secs(5));
    // The 10s default timeout is cut to the 5s interval, for global and job alike.
    assert_eq!(fast.scrape_timeout, Duration::from_secs(5));
    assert_eq!(fast.metrics_path, "/metrics");
    assert_eq!(fast.scheme, "http");
    assert!(fast.honor_timestamps);
    assert!(!fast.honor_labels);
    assert!(fast.enable_compression);
    assert!(fast.http.follow_redirects && fast.http.enable_http2);
    let slow = &jobs[1];
    assert_eq!(slow.scrape_interval, Duration::from_secs(5400));
    assert_eq!(slow.scrape_timeout, Duration::from_secs(5));
}

#[test]
fn blackbox_params_and_relabeling() {
    let l = load_file(&testdata("promtool-valid/blackbox.yml")).unwrap();
    let c = &l.config;
    assert_eq!(c.global.external_labels["cluster"], "eu-1");
    let bb = &c.scrape_configs[0];
    assert_eq!(bb.metrics_path, "/probe");
    assert_eq!(bb.params["module"], vec!["http_2xx"]);
    assert_eq!(bb.params["debug"], vec!["false"]);
    assert_eq!(bb.scrape_interval, Duration::from_secs(30));
    assert_eq!(bb.scrape_timeout, Duration::from_secs(15));
    assert_eq!(bb.relabel_configs.len(), 3);
    assert_eq!(bb.relabel_configs[2].target_label, "__address__");
    assert_eq!(bb.relabel_configs[2].replacement, "127.0.0.1:9115");
    assert_eq!(bb.sd.static_configs[0].targets.len(), 2);
    assert_eq!(bb.sd.static_configs[0].labels["team"], "web");
}

#[test]
fn federate_resolves_files_against_the_config_dir() {
    let l = load_file(&testdata("promtool-valid/federate.yml")).unwrap();
    let dir = testdata("promtool-valid");
    let f = &l.config.scrape_configs[0];
    assert_eq!(f.params["match[]"].len(), 2);
    assert_eq!(f.scheme, "https");
    assert!(f.honor_labels);
    assert_eq!(
        f.http.tls_config.ca_file,
        dir.join("certs/ca.pem").to_string_lossy()
    );
    assert_eq!(f.http.tls_config.server_name, "prom.internal");
    let ba = f.http.basic_auth.as_ref().unwrap();
    assert_eq!(ba.username, "fed");
    assert_eq!(
        ba.password_file,
        dir.join("secrets/fed-password").to_string_lossy()
    );
    assert_eq!(
        l.config.rule_files,
        vec![dir.join("rules/*.yml").to_string_lossy().into_owned()]
    );
    assert!(l
        .warnings
        .contains(&"rule_files is not used by the agent".to_string()));
    assert!(l
        .warnings
        .contains(&"global.evaluation_interval is not used by the agent".to_string()));
}

#[test]
fn sd_configs_get_prometheus_defaults() {
    let l = load_file(&testdata("promtool-valid/file_dns_http_sd.yml")).unwrap();
    let dir = testdata("promtool-valid");
    let jobs = &l.config.scrape_configs;
    let file = &jobs[0].sd.file_sd_configs[0];
    assert_eq!(file.refresh_interval, Duration::from_secs(60));
    assert_eq!(file.files[0], dir.join("targets/*.json").to_string_lossy());
    assert_eq!(jobs[0].sample_limit, 50000);
    assert_eq!(jobs[0].label_limit, 64);
    let srv = &jobs[1].sd.dns_sd_configs[0];
    assert_eq!(srv.type_, "SRV");
    assert_eq!(srv.refresh_interval, Duration::from_secs(30));
    let a = &jobs[2].sd.dns_sd_configs[0];
    assert_eq!((a.type_.as_str(), a.port), ("A", 9100));
    assert_eq!(a.refresh_interval, Duration::from_secs(90));
    let http = &jobs[3];
    let sd = &http.sd.http_sd_configs[0];
    assert_eq!(sd.refresh_interval, Duration::from_secs(120));
    let sd_auth = sd.http.authorization.as_ref().unwrap();
    assert_eq!(sd_auth.type_, "Bearer");
    assert_eq!(
        sd_auth.credentials_file,
        dir.join("secrets/token").to_string_lossy()
    );
    assert_eq!(http.http.authorization.as_ref().unwrap().credentials, "abc");
    assert!(!http.http.follow_redirects && !http.http.enable_http2);
    assert_eq!(http.body_size_limit, 1536);
    assert_eq!(http.target_limit, 100);
}

#[test]
fn remote_write_queue_and_relabel() {
    let l = load_file(&testdata("promtool-valid/remote_write.yml")).unwrap();
    let rw = &l.config.remote_write;
    assert_eq!(rw.len(), 2);
    let m = &rw[0];
    assert_eq!(m.name, "mimir");
    assert_eq!(m.remote_timeout, Duration::from_secs(10));
    assert_eq!(m.headers["X-Scope-OrgID"], "tenant-1");
    assert!(m.send_exemplars && !m.send_native_histograms);
    assert_eq!(m.protobuf_message, ProtobufMessage::V1);
    let q = &m.queue_config;
    assert_eq!(
        (
            q.capacity,
            q.max_shards,
            q.min_shards,
            q.max_samples_per_send
        ),
        (20000, 10, 2, 500)
    );
    assert_eq!(q.batch_send_deadline, Duration::from_secs(10));
    assert_eq!(q.min_backoff, Duration::from_millis(100));
    assert!(q.retry_on_http_429);
    assert!(!m.metadata_config.send);
    assert_eq!(m.write_relabel_configs.len(), 2);
    let b = &rw[1];
    assert_eq!(b.queue_config, QueueConfig::default());
    assert_eq!(b.remote_timeout, Duration::from_secs(30));
    assert!(b.metadata_config.send);
    assert_eq!(b.metadata_config.send_interval, Duration::from_secs(60));
    let auth = b.http.authorization.as_ref().unwrap();
    assert_eq!(
        (auth.type_.as_str(), auth.credentials.as_str()),
        ("Bearer", "secret")
    );
    assert!(b.http.tls_config.insecure_skip_verify);
}

#[test]
fn queue_defaults_are_prometheus_defaults() {
    let q = QueueConfig::default();
    assert_eq!(q.capacity, 10000);
    assert_eq!(q.max_shards, 50);
    assert_eq!(q.min_shards, 1);
    assert_eq!(q.max_samples_per_send, 2000);
    assert_eq!(q.batch_send_deadline, Duration::from_secs(5));
    assert_eq!(q.min_backoff, Duration::from_millis(30));
    assert_eq!(q.max_backoff, Duration::from_secs(5));
}

#[test]
fn unused_sections_warn() {
    let l = load_file(&testdata("promtool-valid/everything_242.yml")).unwrap();
    for key in [
        "rule_files",
        "alerting",
        "remote_read",
        "storage",
        "tracing",
    ] {
        let w = format!("{key} is not used by the agent");
        assert!(l.warnings.contains(&w), "missing {w:?} in {:?}", l.warnings);
    }
    let c = &l.config;
    assert_eq!(c.alerting.alertmanagers[0].timeout, Duration::from_secs(5));
    assert_eq!(c.remote_read[0].required_matchers["env"], "prod");
    assert!(c.remote_read[0].filter_external_labels);
    assert_eq!(
        c.storage.out_of_order_time_window,
        Some(Duration::from_secs(1800))
    );
    assert_eq!(c.tracing.sampling_fraction, 0.1);
    let l = load_file(&testdata("promtool-valid/unused_sd.yml")).unwrap();
    assert_eq!(
        l.warnings,
        vec!["scrape_configs[0].ec2_sd_configs: ec2_sd_configs is not supported by the agent"]
    );
    assert_eq!(l.config.scrape_configs[0].sd.unsupported.len(), 1);
}

#[test]
fn kubernetes_configs() {
    let l = load_file(&testdata("strata-valid/kube_prometheus.yml")).unwrap();
    let jobs = &l.config.scrape_configs;
    assert_eq!(jobs.len(), 6);
    let k = &jobs[0].sd.kubernetes_sd_configs[0];
    assert_eq!(k.role, KubernetesRole::Endpoints);
    assert!(k.api_server.is_empty() && k.http.authorization.is_none());
    // bearer_token_file becomes a Bearer authorization.
    let nodes_auth = jobs[1].http.authorization.as_ref().unwrap();
    assert_eq!(nodes_auth.type_, "Bearer");
    assert_eq!(
        nodes_auth.credentials_file,
        "/var/run/secrets/kubernetes.io/serviceaccount/token"
    );
    let pods = &jobs[3].sd.kubernetes_sd_configs[0];
    assert_eq!(pods.namespaces.names, vec!["default", "monitoring"]);
    assert_eq!(pods.selectors[0].role, KubernetesRole::Pod);
    assert_eq!(pods.selectors[0].field, "status.phase=Running");
    assert!(pods.attach_metadata.node);
    let slices = &jobs[4].sd.kubernetes_sd_configs[0];
    assert_eq!(slices.role, KubernetesRole::EndpointSlice);
    assert_eq!(
        slices.http.tls_config.ca_file,
        testdata("strata-valid/kube-ca.pem").to_string_lossy()
    );
    assert_eq!(
        jobs[5].sd.kubernetes_sd_configs[0].kubeconfig_file,
        testdata("strata-valid/kubeconfig.yml").to_string_lossy()
    );
    assert_eq!(
        l.config.remote_write[0].protobuf_message,
        ProtobufMessage::V2
    );
}

#[test]
fn consul_configs() {
    let l = load_file(&testdata("strata-valid/consul.yml")).unwrap();
    let c = &l.config.scrape_configs[0].sd.consul_sd_configs[0];
    assert_eq!(c.server, "consul.service:8500");
    assert_eq!(c.services, vec!["web", "api"]);
    assert_eq!(c.node_meta["rack"], "r1");
    assert_eq!(c.tag_separator, ";");
    assert!(!c.allow_stale);
    assert_eq!(c.refresh_interval, Duration::from_secs(60));
    let d = &l.config.scrape_configs[1].sd.consul_sd_configs[0];
    assert_eq!(d.server, "localhost:8500");
    assert_eq!(
        (d.scheme.as_str(), d.tag_separator.as_str()),
        ("https", ",")
    );
    assert!(d.allow_stale);
    assert_eq!(d.refresh_interval, Duration::from_secs(30));
    let ba = d.http.basic_auth.as_ref().unwrap();
    assert_eq!((ba.username.as_str(), ba.password.as_str()), ("u", "p"));
}

#[test]
fn prometheus3_keys_and_scrape_config_files() {
    // The variable is unset (the name is unique to this test), so the label is dropped.
    let l = load_file(&testdata("strata-valid/prometheus3.yml")).unwrap();
    let c = &l.config;
    assert_eq!(c.global.external_labels.get("region"), None);
    assert_eq!(c.global.external_labels["literal"], "cost$");
    assert_eq!(c.global.limits.body_size_limit, 10 << 20);
    let names: Vec<&str> = c
        .scrape_configs
        .iter()
        .map(|s| s.job_name.as_str())
        .collect();
    assert_eq!(names, ["native", "from-file", "from-file-2"]);
    let native = &c.scrape_configs[0];
    assert_eq!(
        native.scrape_protocols,
        vec![ScrapeProtocol::PrometheusProto]
    );
    assert_eq!(
        native.scrape_fallback_protocol,
        Some(ScrapeProtocol::PrometheusText0_0_4)
    );
    assert!(native.always_scrape_classic_histograms && !native.enable_compression);
    assert_eq!(native.native_histogram_bucket_limit, 160);
    // Global limits reach jobs, including those from scrape_config_files.
    let from_file = &c.scrape_configs[1];
    assert_eq!(from_file.body_size_limit, 10 << 20);
    assert_eq!(from_file.sample_limit, 50000);
    assert_eq!(from_file.keep_dropped_targets, 100);
    assert_eq!(
        from_file.scrape_protocols,
        vec![
            ScrapeProtocol::PrometheusProto,
            ScrapeProtocol::OpenMetricsText1_0_0,
            ScrapeProtocol::PrometheusText0_0_4
        ]
    );
    // Paths in a scrape config file are relative to that file.
    let jobs_dir = testdata("strata-valid/jobs");
    assert_eq!(
        from_file.sd.file_sd_configs[0].files[0],
        jobs_dir.join("targets.json").to_string_lossy()
    );
    assert_eq!(
        from_file.http.basic_auth.as_ref().unwrap().password_file,
        jobs_dir.join("pw").to_string_lossy()
    );
    assert_eq!(
        c.remote_write[0].queue_config.sample_age_limit,
        Duration::from_secs(3600)
    );
    assert!(l
        .warnings
        .contains(&"runtime is not used by the agent".to_string()));
    assert!(l
        .warnings
        .contains(&"otlp is not used by the agent".to_string()));
}

#[test]
fn external_labels_expand_environment_variables() {
    std::env::set_var("STRATA_PROMCONFIG_TEST_DC", "dc-7");
    let l = load_str(
        "global:\n  external_labels:\n    dc: $STRATA_PROMCONFIG_TEST_DC\n    zone: ${STRATA_PROMCONFIG_TEST_DC}-b\n    job_path: /x/$STRATA_PROMCONFIG_TEST_DC\n",
        Path::new("/"),
    )
    .unwrap();
    let el = &l.config.global.external_labels;
    assert_eq!(el["dc"], "dc-7");
    assert_eq!(el["zone"], "dc-7-b");
    assert_eq!(el["job_path"], "/x/dc-7");
    // Only external labels are expanded.
    let l = load_str(
        "scrape_configs:\n  - job_name: $STRATA_PROMCONFIG_TEST_DC\n",
        Path::new("/"),
    )
    .unwrap();
    assert_eq!(
        l.config.scrape_configs[0].job_name,
        "$STRATA_PROMCONFIG_TEST_DC"
    );
    let opts = strata_promconfig::LoadOptions {
        expand_external_labels: false,
    };
    let l = strata_promconfig::load_str_with(
        "global:\n  external_labels:\n    dc: $STRATA_PROMCONFIG_TEST_DC\n",
        Path::new("/"),
        &opts,
    )
    .unwrap();
    assert_eq!(
        l.config.global.external_labels["dc"],
        "$STRATA_PROMCONFIG_TEST_DC"
    );
}

#[test]
fn duplicate_job_across_scrape_config_files() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("a.yml"),
        "scrape_configs:\n  - job_name: node\n",
    )
    .unwrap();
    let main = dir.path().join("prometheus.yml");
    std::fs::write(
        &main,
        "scrape_config_files: [\"*.yml\"]\nscrape_configs:\n  - job_name: node\n",
    )
    .unwrap();
    // prometheus.yml itself matches the glob and is refused for its extra keys, as in
    // Prometheus; a.yml repeats "node".
    let err = load_file(&main).unwrap_err();
    let msg = format!("{err:#}");
    assert!(msg.contains("a.yml"), "{msg}");
    assert!(
        msg.contains(
            "found multiple scrape configs with job name \"node\", first found in main config file"
        ),
        "{msg}"
    );
}

#[test]
fn unknown_key_error_names_key_and_place() {
    let err = load_str(
        "scrape_configs:\n  - job_name: a\n    static_configs:\n      - targets: [x]\n    kubernetes_sd_configs:\n      - role: node\n        selectors:\n          - role: node\n            lable: a\n",
        Path::new("/"),
    )
    .unwrap_err();
    match &err {
        ConfigError::UnknownField { path, key, go_type } => {
            assert_eq!(
                path,
                "scrape_configs[0].kubernetes_sd_configs[0].selectors[0].lable"
            );
            assert_eq!(key, "lable");
            assert_eq!(*go_type, "kubernetes.SelectorConfig");
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn sd_configs_compare_equal_when_unchanged() {
    let a = load_file(&testdata("strata-valid/kube_prometheus.yml")).unwrap();
    let b = load_file(&testdata("strata-valid/kube_prometheus.yml")).unwrap();
    let sd = |l: &strata_promconfig::Loaded, i: usize| -> ServiceDiscoveryConfigs {
        l.config.scrape_configs[i].sd.clone()
    };
    assert_eq!(sd(&a, 3), sd(&b, 3));
    assert_ne!(sd(&a, 3), sd(&b, 4));
}

#[test]
fn anchors_and_merge_keys() {
    let l = load_str(
        "x-common: &common\n  scrape_interval: 7s\n  metrics_path: /m\nscrape_configs:\n  - job_name: a\n    <<: *common\n  - job_name: b\n    <<: *common\n    metrics_path: /other\n",
        Path::new("/"),
    );
    // Go's YAML decoder refuses the unknown top-level key, so Strata does too...
    let err = l.unwrap_err();
    assert!(format!("{err}").contains("field x-common not found in type config.plain"));
    // ...but anchors and merges inside known keys work.
    let l = load_str(
        "scrape_configs:\n  - &a\n    job_name: a\n    scrape_interval: 7s\n    metrics_path: /m\n  - <<: *a\n    job_name: b\n    metrics_path: /other\n",
        Path::new("/"),
    )
    .unwrap();
    let jobs = &l.config.scrape_configs;
    assert_eq!(jobs[1].job_name, "b");
    assert_eq!(jobs[1].scrape_interval, Duration::from_secs(7));
    assert_eq!(jobs[1].metrics_path, "/other");
    assert_eq!(jobs[0].metrics_path, "/m");
}

#[test]
fn native_histogram_jobs_ask_for_protobuf_first() {
    let yaml = "global:\n  scrape_native_histograms: true\nscrape_configs:\n  - job_name: a\n  - job_name: b\n    scrape_native_histograms: false\n  - job_name: c\n    scrape_protocols: [PrometheusText0.0.4]\n";
    let l = load_str(yaml, Path::new("/")).unwrap();
    let jobs = &l.config.scrape_configs;
    assert!(jobs[0].scrape_native_histograms);
    assert_eq!(
        jobs[0].scrape_protocols,
        strata_promconfig::PROTO_FIRST_SCRAPE_PROTOCOLS.to_vec()
    );
    assert!(!jobs[1].scrape_native_histograms);
    assert_eq!(jobs[1].scrape_protocols, ScrapeProtocol::DEFAULT.to_vec());
    assert_eq!(
        jobs[2].scrape_protocols,
        vec![ScrapeProtocol::PrometheusText0_0_4]
    );
    // An explicit global list wins over the protobuf-first default.
    let yaml = "global:\n  scrape_native_histograms: true\n  scrape_protocols: [OpenMetricsText1.0.0]\nscrape_configs:\n  - job_name: a\n";
    let l = load_str(yaml, Path::new("/")).unwrap();
    assert_eq!(
        l.config.scrape_configs[0].scrape_protocols,
        vec![ScrapeProtocol::OpenMetricsText1_0_0]
    );
}

#[test]
fn remote_write_http2_is_off_unless_asked() {
    let yaml = "remote_write:\n  - url: http://a\n  - url: http://b\n    enable_http2: true\n";
    let l = load_str(yaml, Path::new("/")).unwrap();
    assert!(!l.config.remote_write[0].http.enable_http2);
    assert!(l.config.remote_write[0].http.follow_redirects);
    assert!(l.config.remote_write[1].http.enable_http2);
}

#[test]
fn yaml_1_1_booleans_read_as_go_does() {
    let l = load_file(&testdata("promtool-valid/yaml11_bools.yml")).unwrap();
    let job = &l.config.scrape_configs[0];
    assert!(job.honor_labels);
    assert!(!job.honor_timestamps);
    let err = load_str(
        "scrape_configs:\n  - job_name: a\n    honor_labels: maybe\n",
        Path::new("/"),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "scrape_configs[0].honor_labels: cannot unmarshal !!str into bool"
    );
}

#[test]
fn secrets_from_files_are_read_and_trimmed() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pw"), "s3cret\n").unwrap();
    std::fs::write(dir.path().join("token"), "  tok  \n").unwrap();
    let l = load_str(
        "scrape_configs:\n  - job_name: a\n    basic_auth:\n      username: u\n      password_file: pw\n  - job_name: b\n    bearer_token_file: token\n  - job_name: c\n    basic_auth:\n      username: u\n      password_file: missing\n",
        dir.path(),
    )
    .unwrap();
    let c = &l.config;
    let ba = c.job("a").unwrap().http.basic_auth.as_ref().unwrap();
    assert_eq!(ba.resolve_username().unwrap(), "u");
    assert_eq!(ba.resolve_password().unwrap(), "s3cret");
    let auth = c.job("b").unwrap().http.authorization.as_ref().unwrap();
    assert_eq!(auth.header_value().unwrap(), "Bearer tok");
    let missing = c.job("c").unwrap().http.basic_auth.as_ref().unwrap();
    let err = missing.resolve_password().unwrap_err();
    assert!(err.to_string().contains("missing"), "{err}");
    let jobs: Vec<String> = c.sd_jobs().into_iter().map(|(j, _)| j).collect();
    assert_eq!(jobs, ["a", "b", "c"]);
}
