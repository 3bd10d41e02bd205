//! The manager: per-job state, provider reuse across reloads, update coalescing, metrics.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use strata_discovery::{JobGroups, Manager, SdMetrics};
use strata_promconfig::sd::{FileSdConfig, HttpSdConfig, ServiceDiscoveryConfigs, StaticConfig};

use crate::common::{addresses, ctx};

fn static_job(targets: &[&str]) -> ServiceDiscoveryConfigs {
    ServiceDiscoveryConfigs {
        static_configs: vec![StaticConfig {
            targets: targets.iter().map(|s| s.to_string()).collect(),
            labels: BTreeMap::from([("group".to_string(), "g".to_string())]),
        }],
        ..Default::default()
    }
}

fn file_job(path: &std::path::Path) -> ServiceDiscoveryConfigs {
    ServiceDiscoveryConfigs {
        file_sd_configs: vec![FileSdConfig {
            files: vec![path.display().to_string()],
            refresh_interval: Duration::from_secs(300),
        }],
        ..Default::default()
    }
}

fn job_addresses(state: &JobGroups, job: &str) -> Vec<String> {
    let mut v: Vec<String> = state
        .get(job)
        .map(|gs| gs.iter().flat_map(addresses).collect())
        .unwrap_or_default();
    v.sort();
    v
}

async fn wait_state(
    rx: &mut tokio::sync::watch::Receiver<Arc<JobGroups>>,
    what: &str,
    pred: impl Fn(&JobGroups) -> bool,
) -> Arc<JobGroups> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let cur = rx.borrow_and_update().clone();
        if pred(&cur) {
            return cur;
        }
        match tokio::time::timeout_at(deadline, rx.changed()).await {
            Ok(Ok(())) => {}
            _ => panic!("timed out waiting for {what}: {cur:#?}"),
        }
    }
}

#[tokio::test]
async fn publishes_jobs_keeps_unchanged_providers_across_reloads_and_drops_removed_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("targets.json");
    std::fs::write(&f, r#"[{"targets": ["f1:1", "f2:2"]}]"#).unwrap();
    let c = ctx();
    let metrics = c.metrics.clone();
    let m = Manager::with_metrics(metrics.clone(), c.options.clone());
    let mut rx = m.subscribe();
    m.apply(vec![
        ("a".into(), static_job(&["s1:1"])),
        ("b".into(), file_job(&f)),
        ("empty".into(), ServiceDiscoveryConfigs::default()),
    ]);
    let st = wait_state(&mut rx, "first state", |s| {
        job_addresses(s, "b").len() == 2 && !job_addresses(s, "a").is_empty()
    })
    .await;
    assert_eq!(job_addresses(&st, "a"), vec!["s1:1"]);
    assert_eq!(st["a"][0].labels["group"], "g");
    assert!(
        st.contains_key("empty") && st["empty"].is_empty(),
        "a job without SD configs is listed with no groups"
    );
    let before = m.providers_state();
    assert_eq!(before["b"][0].name, "file/0");

    // Reload: job a changes, job b is identical: its provider and groups stay, so no published
    // state may lack b's targets.
    m.apply(vec![
        ("a".into(), static_job(&["s2:2"])),
        ("b".into(), file_job(&f)),
    ]);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let cur = rx.borrow_and_update().clone();
        assert_eq!(
            job_addresses(&cur, "b"),
            vec!["f1:1", "f2:2"],
            "targets of an unchanged provider flapped"
        );
        if job_addresses(&cur, "a") == vec!["s2:2"] {
            assert!(!cur.contains_key("empty"), "removed job still published");
            break;
        }
        assert!(
            tokio::time::timeout_at(deadline, rx.changed())
                .await
                .is_ok(),
            "reload never published"
        );
    }
    assert_eq!(
        m.providers_state()["b"][0].name,
        "file/0",
        "unchanged file provider was restarted"
    );

    // Identical configs in two jobs share one provider.
    m.apply(vec![("b".into(), file_job(&f)), ("c".into(), file_job(&f))]);
    let st = wait_state(&mut rx, "shared provider", |s| {
        job_addresses(s, "c").len() == 2
    })
    .await;
    assert_eq!(job_addresses(&st, "b"), job_addresses(&st, "c"));
    let ps = m.providers_state();
    assert_eq!(ps["b"][0].name, ps["c"][0].name);
    assert_eq!(
        metrics
            .failed_configs
            .get_or_create(&strata_discovery::metrics::ManagerLabels {
                name: "scrape".into()
            })
            .get(),
        0
    );
    let dt = metrics
        .discovered_targets
        .get_or_create(&strata_discovery::metrics::JobLabels {
            name: "scrape".into(),
            config: "c".into(),
        })
        .get();
    assert_eq!(dt, 2);
}

#[tokio::test]
async fn coalesces_updates_to_one_per_interval() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("t.json");
    std::fs::write(&f, r#"[{"targets": ["x:0"]}]"#).unwrap();
    let mut c = ctx();
    c.options.update_interval = Duration::from_millis(400);
    let metrics = SdMetrics::default();
    let m = Manager::with_metrics(metrics.clone(), c.options.clone());
    let mut rx = m.subscribe();
    m.apply(vec![("j".into(), file_job(&f))]);
    wait_state(&mut rx, "initial", |s| job_addresses(s, "j") == vec!["x:0"]).await;
    let label = strata_discovery::metrics::ManagerLabels {
        name: "scrape".into(),
    };
    let sent_before = metrics.updates.get_or_create(&label).get();
    let received_before = metrics.received_updates.get_or_create(&label).get();
    // ~20 file changes over 1.2 s: the file provider reports most of them.
    let started = std::time::Instant::now();
    for i in 1..=20 {
        std::fs::write(&f, format!(r#"[{{"targets": ["x:{i}"]}}]"#)).unwrap();
        tokio::time::sleep(Duration::from_millis(60)).await;
    }
    wait_state(&mut rx, "last change", |s| {
        job_addresses(s, "j") == vec!["x:20"]
    })
    .await;
    let elapsed = started.elapsed();
    let received = metrics.received_updates.get_or_create(&label).get() - received_before;
    let sent = metrics.updates.get_or_create(&label).get() - sent_before;
    // At most one update per 400 ms interval (plus the first, sent at once).
    let allowed = (elapsed.as_millis() / 400) as u64 + 1;
    assert!(
        received > allowed,
        "provider reported only {received} changes in {elapsed:?}"
    );
    assert!(
        sent <= allowed,
        "{sent} updates sent for {received} received in {elapsed:?} with a 400 ms interval"
    );
    assert!(metrics.updates_delayed.get_or_create(&label).get() > 0);
}

#[tokio::test]
async fn unusable_config_is_counted_as_failed() {
    let c = ctx();
    let metrics = SdMetrics::default();
    let m = Manager::with_metrics(metrics.clone(), c.options.clone());
    let sd = ServiceDiscoveryConfigs {
        http_sd_configs: vec![HttpSdConfig {
            url: "ftp://example.invalid/sd".into(),
            refresh_interval: Duration::from_secs(60),
            http: Default::default(),
        }],
        ..Default::default()
    };
    m.apply(vec![("bad".into(), sd)]);
    let label = strata_discovery::metrics::ManagerLabels {
        name: "scrape".into(),
    };
    assert_eq!(metrics.failed_configs.get_or_create(&label).get(), 1);
    let mut rx = m.subscribe();
    let st = wait_state(&mut rx, "job listed", |s| s.contains_key("bad")).await;
    assert!(st["bad"].is_empty());
}

#[tokio::test]
async fn metrics_are_exposed_with_prometheus_names() {
    let mut registry = prometheus_client::registry::Registry::default();
    let c = ctx();
    let m = Manager::new(&mut registry, c.options.clone());
    let mut rx = m.subscribe();
    m.apply(vec![("job-a".into(), static_job(&["s1:1", "s2:2"]))]);
    wait_state(&mut rx, "static targets", |s| {
        job_addresses(s, "job-a").len() == 2
    })
    .await;
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
    for want in [
        "prometheus_sd_discovered_targets{name=\"scrape\",config=\"job-a\"} 2",
        "prometheus_sd_failed_configs{name=\"scrape\"} 0",
        "prometheus_sd_updates_total{name=\"scrape\"} ",
        "prometheus_sd_last_update_timestamp_seconds{name=\"scrape\",config=\"job-a\"} ",
        "# TYPE prometheus_sd_http_failures counter",
        "prometheus_sd_dns_lookups_total 0",
    ] {
        assert!(text.contains(want), "missing {want:?} in\n{text}");
    }
}
