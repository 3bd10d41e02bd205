//! The side-by-side test's fixtures: the targets' pages phase by phase, the file_sd groups,
//! and the `scrape_configs` and `remote_write` sections both scrapers run.

use std::collections::BTreeMap;

use strata_tests::target::{Page, TEXT_FORMAT};
use strata_tests::{Strata, TimestampMs};

/// The page of target 1 (both jobs scrape it) in `phase`; `event_ts` is the explicit
/// timestamp of one series (when the phase began), `fixed_ts` that of another whose value
/// changes at the same timestamp (a duplicate: only its first value is stored).
pub(super) fn page1(phase: u32, event_ts: TimestampMs, fixed_ts: TimestampMs) -> Page {
    let p = f64::from(phase);
    if phase == 4 {
        // Three valid samples, then a line no parser accepts.
        return Page::text(
            "# TYPE app_requests_total counter\n\
             app_requests_total{code=\"200\",method=\"GET\"} 999\n\
             app_requests_total{code=\"503\",method=\"POST\"} 4\n\
             app_temperature_celsius 99\n\
             app_broken{ 1\n",
        );
    }
    let mut s = format!(
        "# HELP app_requests_total Requests served.\n\
         # TYPE app_requests_total counter\n\
         app_requests_total{{code=\"200\",method=\"GET\"}} {}\n\
         app_requests_total{{code=\"503\",method=\"POST\"}} {p}\n",
        100.0 * p + 7.0
    );
    if phase != 2 {
        s += &format!(
            "# TYPE app_temperature_celsius gauge\napp_temperature_celsius {}\n",
            20.5 + p * 0.25
        );
    }
    s += &format!(
        "# HELP app_latency_seconds Latency.\n\
         # TYPE app_latency_seconds histogram\n\
         app_latency_seconds_bucket{{le=\"0.05\"}} {b1}\n\
         app_latency_seconds_bucket{{le=\"0.5\"}} {b2}\n\
         app_latency_seconds_bucket{{le=\"1.0\"}} {b3}\n\
         app_latency_seconds_bucket{{le=\"+Inf\"}} {b3}\n\
         app_latency_seconds_sum {sum}\n\
         app_latency_seconds_count {b3}\n\
         # TYPE app_rpc_seconds summary\n\
         app_rpc_seconds{{quantile=\"0.5\"}} 0.05\n\
         app_rpc_seconds{{quantile=\"0.99\"}} {q99}\n\
         app_rpc_seconds_sum {sum}\n\
         app_rpc_seconds_count {b3}\n\
         # TYPE app_info gauge\n\
         app_info{{job=\"exposed-job\",instance=\"exposed-instance\",version=\"1.2.3\"}} 1\n\
         app_conflict{{instance=\"i1\",exported_instance=\"i2\"}} {p}\n\
         app_debug_goroutines {goroutines}\n\
         app_special{{kind=\"nan\"}} NaN\n\
         app_special{{kind=\"inf\"}} +Inf\n\
         app_special{{kind=\"ninf\"}} -Inf\n\
         app_special{{kind=\"negzero\"}} -0\n\
         app_special{{kind=\"tiny\"}} 1e-300\n\
         app_special{{kind=\"exp\"}} 1.5E+3\n\
         app_mode{{Mode=\"Fast\",scratch=\"tmp\"}} {p}\n\
         app_escaped{{path=\"C:\\\\dir\\\\\\\"q\\\"\\nline\"}} 1\n\
         app_utf8{{city=\"Zürich\"}} 1\n\
         \n\
         # a comment, then a HELP with escapes\n\
         # HELP app_spell Value spellings Go's ParseFloat takes: a\\\\b\\nc\n\
         app_spell{{s=\"inf\"}} inf\n\
         app_spell{{s=\"infinity\"}} -Infinity\n\
         app_spell{{s=\"nan\"}} nan\n\
         app_spell{{s=\"plus\"}} +{p}\n\
         app_spell{{s=\"dot\"}} .5\n\
         app_spell{{s=\"trail\"}} 5.\n\
         app_spell{{s=\"exp\"}} 2e-3\n\
         app_empty{{a=\"\",b=\"x\"}} 1\n\
         app_order{{z=\"1\",a=\"2\"}} 1\n\
         app_comma{{a=\"1\",}} {p}\n\
         app:recording:rate5m {p}\n\
         app_empty_job{{job=\"\",kind=\"honored-empty\"}} 1\n\
         app_conflict{{job=\"x\",exported_job=\"\",kind=\"empty\"}} {p}\n\
         app_tricky{{a=\"}} 1\",b=\"# x\",c=\"{{y=\\\"z\\\"}}\"}} {p}\n\
         app_braces{{}} {p}\n\
         app_spaces{{ a = \"1\" , b=\"2\" }}\t{p}\n",
        b1 = 2.0 * p,
        b2 = 5.0 * p,
        b3 = 9.0 * p,
        sum = 1.25 * p,
        q99 = 0.5 + p / 8.0,
        goroutines = 10.0 + p,
    );
    if phase >= 2 {
        // An explicit timestamp: no staleness tracking. Not in phase 1, whose page is set
        // before Prometheus starts: its remote write skips samples older than its start.
        s += &format!("app_last_event_seconds {p} {event_ts}\n");
        s += &format!("app_fixed_ts_seconds {p} {fixed_ts}\n");
    }
    if phase >= 3 {
        s += &format!("app_new_total {p}\n");
    }
    Page::text(s)
}

/// Target 2's page: removed from discovery in phase 3, so its page stays as in phase 2
/// (Prometheus applies a discovery change up to 10 s later than the agent, and would scrape
/// a phase-3 page that the agent never sees).
pub(super) fn page2(phase: u32) -> Page {
    let p = f64::from(phase.min(2));
    let mut s = format!(
        "# TYPE worker_jobs_total counter\n\
         worker_jobs_total{{queue=\"default\"}} {}\n\
         worker_jobs_total{{queue=\"Critical\"}} {p}\n\
         worker_busy 0.5\n",
        10.0 * p
    );
    if phase >= 2 {
        s += "worker_new_gauge 1\n";
    }
    Page::text(s)
}

/// Target 3's page: added in phase 2, answers 500 in phase 4.
pub(super) fn page3(phase: u32) -> Page {
    if phase == 4 {
        return Page::Body {
            status: 500,
            content_type: TEXT_FORMAT.to_string(),
            body: bytes::Bytes::from_static(b"internal error\n"),
        };
    }
    Page::text(format!(
        "batch_items{{job=\"batch-override\",kind=\"a\"}} {}\nbatch_last_success_seconds 1.7e9\n",
        f64::from(phase)
    ))
}

/// Target 3's `/limited` page, scraped by a job with `sample_limit: 3`. In phase 3 two new
/// series come first, so the limit is hit within the old ones: which series then get stale
/// markers is what Prometheus's cache decides. Empty in phase 4, an invalid name from
/// phase 5.
pub(super) fn page_limited(phase: u32) -> Page {
    let p = f64::from(phase);
    if phase == 4 {
        // An empty body: a successful scrape of nothing.
        return Page::text("");
    }
    let mut s = String::new();
    if phase == 3 {
        s += "lim_x 1\nlim_y 1\n";
    }
    if phase >= 5 {
        // Blanks before a name are part of it in Prometheus 2.42: the scrape fails.
        s += "  lim_spaced 1\n";
    }
    s += &format!("lim_a {p}\nlim_b {p}\nlim_c {p}\n");
    Page::text(s)
}

/// Target 4's page, in OpenMetrics 1.0 text: `_created` series, an exemplar, a unit, a
/// stateset, an info metric, a timestamp in seconds (ignored: `honor_timestamps: false`),
/// `# EOF`. Empty in phase 4 (no `# EOF`: a failed scrape).
pub(super) fn page_om(phase: u32, event_ts: TimestampMs) -> Page {
    let p = f64::from(phase);
    let mut s = String::new();
    if phase == 4 {
        return om(s);
    }
    s += &format!(
        "# TYPE om_requests counter\n\
         # HELP om_requests Requests.\n\
         om_requests_total{{path=\"/\"}} {c} # {{trace_id=\"abc\"}} 1.0 1700000000.5\n\
         om_requests_created{{path=\"/\"}} 1700000000.25\n\
         # TYPE om_temp_celsius gauge\n\
         # UNIT om_temp_celsius celsius\n\
         om_temp_celsius {t}\n\
         # TYPE om_lat histogram\n\
         om_lat_bucket{{le=\"0.5\"}} {p}\n\
         om_lat_bucket{{le=\"+Inf\"}} {c}\n\
         om_lat_count {c}\n\
         om_lat_sum {t}\n\
         om_lat_created 1700000000.0\n\
         # TYPE om_state stateset\n\
         om_state{{om_state=\"a\"}} {a}\n\
         om_state{{om_state=\"b\"}} {b}\n\
         # TYPE om_build info\n\
         om_build_info{{version=\"1.0\"}} 1\n\
         # TYPE om_gh gaugehistogram\n\
         om_gh_bucket{{le=\"1.0\"}} {p}\n\
         om_gh_bucket{{le=\"+Inf\"}} {c}\n\
         om_gh_gcount {c}\n\
         om_gh_gsum {t}\n\
         # TYPE om_sum summary\n\
         om_sum{{quantile=\"0.5\"}} 0.1\n\
         om_sum_count {c}\n\
         om_sum_sum {t}\n\
         om_sum_created 1700000000.0\n\
         # TYPE om_unk unknown\n\
         om_unk{{q=\"a\\\"b\"}} 7\n\
         # TYPE om_legacy counter\n\
         om_legacy {p}\n",
        c = 2.0 * p,
        t = 20.0 + p / 4.0,
        a = phase % 2,
        b = 1 - phase % 2,
    );
    if phase >= 2 {
        s += &format!(
            "# TYPE om_event gauge\nom_event {p} {}.{:03}\n",
            event_ts.div_euclid(1000),
            event_ts.rem_euclid(1000)
        );
    }
    s += "# EOF\n";
    om(s)
}

fn om(body: String) -> Page {
    Page::Body {
        status: 200,
        content_type: "application/openmetrics-text; version=1.0.0; charset=utf-8".to_string(),
        body: bytes::Bytes::from(body),
    }
}

/// One file_sd group: a target and its labels.
pub(super) fn group(addr: &str, labels: &BTreeMap<String, String>) -> serde_json::Value {
    serde_json::json!({ "targets": [addr], "labels": labels })
}

pub(super) fn port_of(addr: &str) -> &str {
    addr.rsplit(':').next().unwrap_or_default()
}

/// The group labels of a target that every target rule keeps, with `env` as given, then
/// `extra` (overriding).
pub(super) fn sd_labels(addr: &str, env: &str, extra: &[(&str, &str)]) -> BTreeMap<String, String> {
    let mut m: BTreeMap<String, String> = [
        ("env", env),
        ("__meta_ext_team", "alpha"),
        ("__meta_ext_region", "eu-west"),
        ("tier", "gold"),
        ("junk_build", "123"),
        ("noise", "n"),
        ("env_tag", "preset"),
        ("__tmp_expect_port", port_of(addr)),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    m.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    m
}

/// Writes the file_sd file atomically (both watchers see either the old or the new list).
pub(super) fn write_sd(path: &std::path::Path, groups: &[serde_json::Value]) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(groups)?)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

/// The shared `scrape_configs` section.
pub(super) fn scrape_configs(sd_file: &std::path::Path, t1: &str, t3: &str, t4: &str) -> String {
    format!(
        r#"scrape_configs:
  - job_name: honor
    honor_labels: true
    file_sd_configs:
      - files: ['{sd}']
    relabel_configs:
      - source_labels: [drop_me]
        regex: "yes"
        action: drop
      - source_labels: [env]
        target_label: env
        action: lowercase
      - source_labels: [env, absent_label]
        separator: "|"
        regex: (prod|staging)\|
        action: Keep
      - source_labels: [__address__]
        regex: '.*:(\d+)'
        target_label: __tmp_port
      - source_labels: [__tmp_port]
        target_label: __tmp_expect_port
        action: keepequal
      - source_labels: [__tmp_port]
        target_label: __tmp_forbidden_port
        action: dropequal
      - source_labels: [__address__]
        regex: '(.+):\d+'
        target_label: host
        replacement: host-$1
      - source_labels: [tier]
        regex: (gold|silver)
        target_label: ${{1}}_member
        replacement: "yes"
      - source_labels: [tier]
        target_label: tier
        action: uppercase
      # Go reads `$1_x` as the group named `1_x` (none): empty, so env_tag is deleted.
      - source_labels: [env]
        target_label: env_tag
        replacement: $1_x
      - source_labels: [__address__]
        modulus: 8
        target_label: shard
        action: hashmod
      - regex: __meta_ext_(.+)
        action: labelmap
      - regex: junk_.*
        action: labeldrop
      - regex: __.*|job|env|env_tag|team|region|tier|shard|host|.+_member
        action: labelkeep
    metric_relabel_configs:
      - source_labels: [__name__]
        regex: app_debug_.*
        action: drop
      - regex: scratch
        action: labeldrop
      - source_labels: [__name__, code]
        regex: app_requests_total;5..
        target_label: class
        replacement: error
      - source_labels: [Mode]
        target_label: mode
        action: lowercase
      - regex: Mode
        action: labeldrop
      - source_labels: [__name__]
        regex: app_rpc_seconds(.*)
        target_label: __name__
        replacement: rpc_seconds$1
  - job_name: plain
    honor_labels: false
    metrics_path: /plain
    params:
      module: [m1, m2]
    static_configs:
      - targets: ['{t1}']
        labels: {{ env: static }}
    relabel_configs:
      - source_labels: [__param_module]
        target_label: __param_module
        action: uppercase
      - source_labels: [__param_module]
        target_label: module
    metric_relabel_configs:
      - source_labels: [__name__]
        regex: app_info|app_conflict|app_requests_total
        action: keep
      - source_labels: [__name__, code]
        modulus: 4
        target_label: bucket
        action: hashmod
  - job_name: limited
    scrape_interval: 1500ms
    sample_limit: 3
    relabel_configs:
      # The interval as Go prints it (1s500ms) and the timeout defaulted from global (1s).
      - source_labels: [__scrape_interval__, __scrape_timeout__]
        separator: /
        target_label: every
    metrics_path: /limited
    static_configs:
      - targets: ['{t3}']
  - job_name: om
    honor_timestamps: false
    static_configs:
      - targets: ['{t4}']
"#,
        sd = sd_file.display()
    )
}

/// The one part that differs: where each writes, as which tenant. The write relabeling is
/// the same for both; it runs after external labels are added (it sees `cluster`).
pub(super) fn remote_write(strata: &Strata, tenant: &str) -> String {
    format!(
        "remote_write:\n  - url: {}\n    basic_auth: {{ username: {tenant}, password: x }}\n    \
         queue_config: {{ batch_send_deadline: 100ms, min_shards: 1, max_shards: 1, \
         max_samples_per_send: 500, min_backoff: 50ms, max_backoff: 500ms }}\n    \
         write_relabel_configs:\n      \
         - {{ source_labels: [__name__], regex: om_build_info, action: drop }}\n      \
         - {{ source_labels: [cluster], target_label: origin, replacement: from-$1 }}\n",
        strata.push_url()
    )
}
