//! Strata's agent against Prometheus 2.42, side by side (issue 7, "Against Prometheus 2.42").
//!
//! One `scrape_configs` section is run by Debian's `prometheus` (remote-writing into
//! `strata -target=all` as tenant `tenant-a`, by basic-auth user) and by
//! `strata -target=agent` (tenant `tenant-b`); only `remote_write` differs. The targets are
//! [`TargetServer`]s serving deterministic expositions that the test changes phase by phase,
//! found through a `file_sd` JSON file the test rewrites (a target added, one removed). The
//! config uses every relabel action so that each changes the outcome (targets dropped by
//! `drop`, `keep`, `keepequal`, `dropequal`; labels made by `replace` (with a templated
//! target label), `hashmod`, `labelmap`, `lowercase`, `uppercase`; labels removed by
//! `labeldrop` and `labelkeep`), `metric_relabel_configs` that drop a family, drop a label,
//! add one, rename a family and keep a few families, `honor_labels: true` on a job whose
//! exposition carries `job`/`instance` labels and `honor_labels: false` on a second job
//! (`exported_*`, `exported_exported_*`). Besides: `params` overridden by a relabeled
//! `__param_` label, `__metrics_path__` and `job` from discovery, a duplicate group,
//! `sample_limit` hit, an empty body, an OpenMetrics target (`_created`, stateset, info,
//! `honor_timestamps: false`), a text series with an explicit timestamp (compared sample for
//! sample), value spellings (`inf`, `-Infinity`, `nan`, `.5`, `5.`, `-0`), escapes and
//! UTF-8 in label values, labels exposed with empty values, a sample name with blanks before
//! it (invalid in 2.42), a duplicate sample timestamp, external labels and
//! `write_relabel_configs` (the same in both).
//!
//! Phases (each lasts several scrape intervals after both scrapers apply its target set;
//! it ends once both remote-write queues report, by
//! `prometheus_remote_storage_queue_highest_sent_timestamp_seconds`, that they sent past it):
//! 1. two targets, values v1;
//! 2. values change, a series disappears (stale marker), a series appears, a target is added;
//! 3. values change, the vanished series returns, a new series appears, a target is removed
//!    (stale markers for its series and its report series);
//! 4. one target's page breaks mid-body (a parse error), another answers 500;
//! 5. both recover;
//! 6. pages unchanged, a target's discovered labels change (a new target; the old one's
//!    series go stale). A discovery change never comes with a new page for a target it
//!    removes or relabels: Prometheus applies it up to 10 s later than the agent
//!    (5 s throttles in its discovery and scrape managers), and would scrape pages the agent
//!    never sees.
//!
//! Then, read raw through remote read: the two tenants hold the same series (report series
//! included) and, for every series but `scrape_duration_seconds`, the same values in the
//! same order (timestamps differ between scrapers, so consecutive repeats are collapsed;
//! staleness markers are compared as markers by their bit pattern). A few series are also
//! checked against what the config must produce, so a rule that did nothing would show.
//!
//! Differences between Prometheus 2.42 and 3.x that the targets avoid:
//! - `le` and `quantile` label values: 3.x normalises them to float format (`le="1"` becomes
//!   `le="1.0"`); the pages write them float-formatted already (`0.5`, `1.0`, `+Inf`).
//! - Content-Type: 3.x refuses a missing or unknown one (no fallback to the text format);
//!   every page sends `text/plain; version=0.0.4` explicitly.
//! - Default ports: 2.42 adds `:80`/`:443` to an address without a port, 3.x does not;
//!   every address has an explicit port.
//! - UTF-8 metric and label names (3.x accepts them): only legacy names are used (label
//!   values may be UTF-8 in both).
//! - Native histograms and created timestamps: off in 2.42 by default; the pages are text.
//!
//! Not compared: `/api/v1/targets`' `discoveredLabels`, which 2.42 shows partly rewritten by
//! relabeling (the agent shows them as discovered); the targets' final labels are compared.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use anyhow::Context as _;
use strata_tests::api::{Auth, LabelSet};
use strata_tests::compat::{self, Mode, STALE_NAN_BITS};
use strata_tests::net::free_port;
use strata_tests::peers::{sum_metric, Prometheus};
use strata_tests::remote_read::{decode_samples, query, re, request};
use strata_tests::target::{Page, TargetServer, TEXT_FORMAT};
use strata_tests::wait::wait_for;
use strata_tests::{now_ms, Strata, TimestampMs};

/// How long each phase lasts once both scrapers run its target set: several 1 s intervals,
/// so both scrape every phase (and a removed target's stale markers, written about 2.1
/// intervals after it goes, fall inside the phase).
const PHASE_MS: i64 = 5_000;
/// How far past a phase's end both queues must have sent, covering a scrape in flight.
const SENT_MARGIN_MS: i64 = 1_500;
const TENANT_PROM: &str = "tenant-a";
const TENANT_AGENT: &str = "tenant-b";
const HIGHEST_SENT: &str = "prometheus_remote_storage_queue_highest_sent_timestamp_seconds";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_scrapes_like_prometheus_2_42() {
    strata_tests::e2e(body()).await;
}

/// The page of target 1 (both jobs scrape it) in `phase`; `event_ts` is the explicit
/// timestamp of one series (when the phase began), `fixed_ts` that of another whose value
/// changes at the same timestamp (a duplicate: only its first value is stored).
fn page1(phase: u32, event_ts: TimestampMs, fixed_ts: TimestampMs) -> Page {
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
fn page2(phase: u32) -> Page {
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
fn page3(phase: u32) -> Page {
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
fn page_limited(phase: u32) -> Page {
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
fn page_om(phase: u32, event_ts: TimestampMs) -> Page {
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
fn group(addr: &str, labels: &BTreeMap<String, String>) -> serde_json::Value {
    serde_json::json!({ "targets": [addr], "labels": labels })
}

fn port_of(addr: &str) -> &str {
    addr.rsplit(':').next().unwrap_or_default()
}

/// The group labels of a target that every target rule keeps, with `env` as given, then
/// `extra` (overriding).
fn sd_labels(addr: &str, env: &str, extra: &[(&str, &str)]) -> BTreeMap<String, String> {
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
fn write_sd(path: &std::path::Path, groups: &[serde_json::Value]) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(groups)?)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

/// The shared `scrape_configs` section.
fn scrape_configs(sd_file: &std::path::Path, t1: &str, t3: &str, t4: &str) -> String {
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
fn remote_write(strata: &Strata, tenant: &str) -> String {
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

/// Active targets as `/api/v1/targets` lists them: (pool, labels) sorted.
fn active_targets(v: &serde_json::Value) -> anyhow::Result<Vec<(String, LabelSet)>> {
    let mut out = Vec::new();
    for t in v["data"]["activeTargets"]
        .as_array()
        .context("activeTargets")?
    {
        let pool = t["scrapePool"].as_str().context("scrapePool")?.to_string();
        let labels = strata_tests::api::parse_labels(&t["labels"])?;
        out.push((pool, labels));
    }
    out.sort();
    Ok(out)
}

/// The `discoveredLabels` of `/api/v1/targets`' `list` (active or dropped), sorted.
fn discovered(v: &serde_json::Value, list: &str) -> anyhow::Result<Vec<LabelSet>> {
    let mut out = Vec::new();
    for t in v["data"][list].as_array().context("target list")? {
        out.push(strata_tests::api::parse_labels(&t["discoveredLabels"])?);
    }
    out.sort();
    Ok(out)
}

struct Scrapers<'a> {
    prom: &'a Prometheus,
    agent: &'a Strata,
}

impl Scrapers<'_> {
    async fn targets(&self) -> anyhow::Result<(serde_json::Value, serde_json::Value)> {
        let p: serde_json::Value = reqwest::get(format!("{}/api/v1/targets", self.prom.url()))
            .await?
            .json()
            .await?;
        let a = self.agent.get("/api/v1/targets").await?.json()?;
        Ok((p, a))
    }

    /// Waits until both scrape exactly `want`: (pool, instance, tier).
    async fn wait_targets(&self, want: &BTreeSet<(String, String, String)>) -> anyhow::Result<()> {
        wait_for(
            &format!("both scrapers to run targets {want:?}"),
            Duration::from_secs(40),
            || async {
                let (p, a) = self.targets().await?;
                let ids = |v: &serde_json::Value| -> anyhow::Result<BTreeSet<_>> {
                    Ok(active_targets(v)?
                        .into_iter()
                        .map(|(pool, l)| {
                            let get = |n: &str| l.get(n).cloned().unwrap_or_default();
                            (pool, get("instance"), get("tier"))
                        })
                        .collect())
                };
                Ok((ids(&p)? == *want && ids(&a)? == *want).then_some(()))
            },
        )
        .await
    }

    /// The two queues' highest sent timestamps in ms (None before the first send).
    async fn highest_sent(&self) -> anyhow::Result<(Option<i64>, Option<i64>)> {
        let to_ms = |s: Option<f64>| s.filter(|v| *v > 0.0).map(|v| (v * 1000.0) as i64);
        let p = self.prom.self_metric(HIGHEST_SENT).await?;
        let a = sum_metric(&self.agent.get("/metrics").await?.body, HIGHEST_SENT);
        Ok((to_ms(p), to_ms(a)))
    }

    /// Waits until both queues sent samples stamped after `t`.
    async fn wait_sent_past(&self, t: TimestampMs) -> anyhow::Result<()> {
        wait_for(
            &format!("both remote-write queues past {t}"),
            Duration::from_secs(60),
            || async {
                let (p, a) = self.highest_sent().await?;
                Ok((p.is_some_and(|p| p > t) && a.is_some_and(|a| a > t)).then_some(()))
            },
        )
        .await
    }
}

async fn read_all(
    strata: &Strata,
    tenant: &str,
    end: TimestampMs,
) -> anyhow::Result<BTreeMap<LabelSet, compat::Samples>> {
    let req = request(vec![query(0, end, vec![re("__name__", ".+")])], &[]);
    let r = strata.remote_read(&Auth::org(tenant), &req).await?;
    anyhow::ensure!(r.status == 200, "remote read {tenant}: {}", r.status);
    let mut res = decode_samples(&r.body)?;
    anyhow::ensure!(res.len() == 1, "one query, {} results", res.len());
    Ok(res.remove(0))
}

fn ls(pairs: &[(&str, &str)]) -> LabelSet {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

async fn body() -> anyhow::Result<()> {
    let strata = Strata::start().await?;
    let t1 = TargetServer::start().await?;
    let t2 = TargetServer::start().await?;
    let t3 = TargetServer::start().await?;
    let t4 = TargetServer::start().await?;
    let set_pages = |phase: u32, fixed_ts: TimestampMs| {
        let at = now_ms();
        t1.set("/metrics", page1(phase, at, fixed_ts));
        // The plain job keeps a few families only: a name with blanks before it (invalid in
        // 2.42) is dropped before the name check, and the scrape succeeds.
        let mut plain = page1(phase, at, fixed_ts);
        if let Page::Body { body, .. } = &mut plain {
            if phase != 4 {
                let mut b = body.to_vec();
                b.extend_from_slice(b"  app_spaced 1\n");
                *body = b.into();
            }
        }
        t1.set("/plain", plain);
        t2.set("/worker", page2(phase));
        t3.set("/metrics", page3(phase));
        t3.set("/limited", page_limited(phase));
        t4.set("/metrics", page_om(phase, at));
    };
    set_pages(1, 0);

    // Targets every relabel rule must drop (nothing listens there).
    let fakes: Vec<String> = (0..4)
        .map(|_| free_port().map(|p| format!("127.0.0.1:{p}")))
        .collect::<Result<_, _>>()?;
    let (f0, f1, f2, f3) = (&fakes[0], &fakes[1], &fakes[2], &fakes[3]);
    let dropped_groups = [
        group(f0, &sd_labels(f0, "Prod", &[("drop_me", "yes")])),
        group(f1, &sd_labels(f1, "Dev", &[])),
        group(f2, &sd_labels(f2, "prod", &[("__tmp_expect_port", "1")])),
        group(
            f3,
            &sd_labels(f3, "prod", &[("__tmp_forbidden_port", port_of(f3))]),
        ),
    ];
    let g1 = group(t1.addr(), &sd_labels(t1.addr(), "Prod", &[]));
    let g2 = group(
        t2.addr(),
        &sd_labels(
            t2.addr(),
            "STAGING",
            &[("__metrics_path__", "/worker"), ("__param_x", "1 2&3")],
        ),
    );
    // A `job` label from discovery wins over the job's name.
    let g3 = group(
        t3.addr(),
        &sd_labels(t3.addr(), "prod", &[("job", "sd-job")]),
    );
    let sd_groups = |gs: &[&serde_json::Value]| -> Vec<serde_json::Value> {
        // Target 1's group twice: one target.
        gs.iter()
            .map(|g| (*g).clone())
            .chain([g1.clone()])
            .chain(dropped_groups.iter().cloned())
            .collect()
    };

    let dir = tempfile::tempdir()?;
    let sd_file = dir.path().join("targets.json");
    write_sd(&sd_file, &sd_groups(&[&g1, &g2]))?;
    // External labels: `env` is also a target label of most series, which keep theirs.
    let global = "global:\n  scrape_interval: 1s\n  external_labels: { cluster: c1, env: ext }\n";
    let scrape = scrape_configs(&sd_file, t1.addr(), t3.addr(), t4.addr());
    let prom_yaml = format!("{global}{scrape}{}", remote_write(&strata, TENANT_PROM));
    let agent_yaml = format!("{global}{scrape}{}", remote_write(&strata, TENANT_AGENT));
    let agent_cfg = dir.path().join("agent.yml");
    std::fs::write(&agent_cfg, &agent_yaml)?;

    let prom = Prometheus::start(&prom_yaml).await?;
    let agent = Strata::start_with_args(&[
        "-target=agent",
        &format!("-agent.config-file={}", agent_cfg.display()),
    ])
    .await
    .context("start the agent")?;
    let scrapers = Scrapers {
        prom: &prom,
        agent: &agent,
    };
    // Active targets as (pool, instance, tier) per phase.
    let id =
        |pool: &str, addr: &str, tier: &str| (pool.to_string(), addr.to_string(), tier.to_string());
    let gold = |addr: &str| id("honor", addr, "GOLD");
    let phase_targets = [
        vec![gold(t1.addr()), gold(t2.addr())],
        vec![gold(t1.addr()), gold(t2.addr()), gold(t3.addr())],
        vec![gold(t1.addr()), gold(t3.addr())],
        vec![gold(t1.addr()), gold(t3.addr())],
        vec![gold(t1.addr()), gold(t3.addr())],
        vec![gold(t1.addr()), id("honor", t3.addr(), "SILVER")],
    ];
    // In phase 6 target 3's labels change: a new target, the old one's series go stale.
    let g3_silver = group(
        t3.addr(),
        &sd_labels(t3.addr(), "prod", &[("job", "sd-job"), ("tier", "silver")]),
    );

    let mut end = 0;
    let mut fixed_ts = None;
    for (i, targets) in phase_targets.iter().enumerate() {
        let phase = u32::try_from(i + 1)?;
        if (2..=5).contains(&phase) {
            set_pages(phase, *fixed_ts.get_or_insert_with(now_ms));
        }
        match phase {
            2 => write_sd(&sd_file, &sd_groups(&[&g1, &g2, &g3]))?,
            3 => write_sd(&sd_file, &sd_groups(&[&g1, &g3]))?,
            6 => write_sd(&sd_file, &sd_groups(&[&g1, &g3_silver]))?,
            _ => {}
        }
        let mut want: BTreeSet<_> = targets.iter().cloned().collect();
        want.insert(id("plain", t1.addr(), ""));
        want.insert(id("limited", t3.addr(), ""));
        want.insert(id("om", t4.addr(), ""));
        scrapers.wait_targets(&want).await?;
        if phase == 1 {
            scrapers.wait_sent_past(0).await?;
        }
        end = now_ms() + PHASE_MS;
        scrapers.wait_sent_past(end + SENT_MARGIN_MS).await?;
        println!("phase {phase} done (ends at {end})");
    }

    // The targets as both list them: the same labels, and the same four dropped.
    let (p, a) = scrapers.targets().await?;
    assert_eq!(
        active_targets(&p)?,
        active_targets(&a)?,
        "active targets' labels"
    );
    // Not compared: `discoveredLabels`. 2.42 shows them partly rewritten by relabeling
    // (seen here: `env` lowercased, `__tmp_port` present, `tier` gone); the agent shows the
    // labels as discovered, as the API documents.
    assert_eq!(discovered(&p, "droppedTargets")?.len(), 4, "{p}");
    assert_eq!(discovered(&a, "droppedTargets")?.len(), 4, "{a}");
    // A `__param_` label from discovery reaches the URL, escaped as Go's url.Values.
    let worker = t2.served("/worker");
    assert!(!worker.is_empty());
    assert!(worker.iter().all(|s| s.query == "x=1+2%263"), "{worker:?}");
    // params, overridden by a relabeled __param_ label, reach the target's URL.
    let plain = t1.served("/plain");
    assert!(!plain.is_empty());
    assert!(
        plain.iter().all(|s| s.query == "module=M1&module=m2"),
        "{plain:?}"
    );

    let got_prom = read_all(&strata, TENANT_PROM, end).await?;
    let got_agent = read_all(&strata, TENANT_AGENT, end).await?;
    let diff = compat::compare(&got_prom, &got_agent, |l| {
        match l.get("__name__").map(String::as_str) {
            Some("scrape_duration_seconds") => Mode::Presence,
            Some("app_last_event_seconds" | "app_fixed_ts_seconds") => Mode::Exact,
            _ => Mode::Values,
        }
    });
    for (l, samples) in &got_prom {
        let values = l.get("__name__").map(String::as_str) != Some("scrape_duration_seconds");
        let seq: Vec<String> = compat::sequence(samples, values)
            .iter()
            .map(ToString::to_string)
            .collect();
        println!("{}: {}", compat::series_name(l), seq.join(" "));
    }
    println!(
        "{} series from prometheus 2.42, {} from the agent",
        got_prom.len(),
        got_agent.len()
    );
    assert!(
        diff.is_empty(),
        "the agent differs from prometheus 2.42:\n{}",
        diff.render("prometheus", "agent")
    );

    // The config did what it says (on Prometheus's side; the agent's is identical).
    let t1a = t1.addr();
    let series: BTreeSet<&LabelSet> = got_prom.keys().collect();
    let find = |name: &str, pairs: &[(&str, &str)]| -> Vec<&LabelSet> {
        series
            .iter()
            .copied()
            .filter(|l| {
                l.get("__name__").map(String::as_str) == Some(name)
                    && pairs
                        .iter()
                        .all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v))
            })
            .collect()
    };
    let up1 = find("up", &[("job", "honor"), ("instance", t1a)]);
    assert_eq!(up1.len(), 1, "{series:#?}");
    // hashmod: MD5 of the address modulo 8 (the same in both, by the comparison above).
    let shard = up1[0].get("shard").cloned().unwrap_or_default();
    assert!(shard.parse::<u64>().is_ok_and(|s| s < 8), "shard {shard:?}");
    let want_up1 = ls(&[
        ("__name__", "up"),
        ("job", "honor"),
        ("instance", t1a),
        ("env", "prod"),
        ("team", "alpha"),
        ("region", "eu-west"),
        ("tier", "GOLD"),
        ("gold_member", "yes"),
        ("host", "host-127.0.0.1"),
        ("shard", &shard),
        ("cluster", "c1"),
        ("origin", "from-c1"),
    ]);
    assert_eq!(up1[0], &want_up1);
    // External labels fill in only what a series lacks; write relabeling drops a family.
    let up_om = find("up", &[("job", "om")]);
    assert_eq!(up_om.len(), 1);
    assert_eq!(up_om[0].get("env").map(String::as_str), Some("ext"));
    assert!(find("om_build_info", &[]).is_empty());
    assert_eq!(
        find(
            "up",
            &[("job", "sd-job"), ("instance", t3.addr()), ("tier", "GOLD")]
        )
        .len(),
        1,
        "a job label from discovery"
    );
    for f in &fakes {
        assert!(
            series.iter().all(|l| l.get("instance") != Some(f)),
            "dropped target {f} was scraped"
        );
    }
    assert!(find("app_debug_goroutines", &[]).is_empty());
    assert_eq!(
        find(
            "app_requests_total",
            &[("job", "honor"), ("class", "error")]
        )
        .len(),
        1
    );
    assert_eq!(find("app_mode", &[("mode", "fast")]).len(), 1);
    assert!(find("app_mode", &[])
        .iter()
        .all(|l| !l.contains_key("scratch") && !l.contains_key("Mode")));
    assert_eq!(
        find(
            "app_info",
            &[("job", "exposed-job"), ("instance", "exposed-instance")]
        )
        .len(),
        1,
        "honor_labels: true keeps the exposed job and instance"
    );
    assert_eq!(
        find(
            "app_info",
            &[
                ("job", "plain"),
                ("instance", t1a),
                ("exported_job", "exposed-job"),
                ("exported_instance", "exposed-instance")
            ]
        )
        .len(),
        1,
        "honor_labels: false renames them exported_*"
    );
    assert_eq!(
        find(
            "app_conflict",
            &[
                ("job", "plain"),
                ("exported_instance", "i2"),
                ("exported_exported_instance", "i1")
            ]
        )
        .len(),
        1
    );
    // Labels exposed empty count as exposed (Prometheus's `lset.Has`): under honor_labels
    // the target's `job` is not added; the `exported_job` name is taken.
    let empty_job = find("app_empty_job", &[("kind", "honored-empty")]);
    assert_eq!(empty_job.len(), 1);
    assert!(!empty_job[0].contains_key("job"), "{:?}", empty_job[0]);
    assert_eq!(
        find(
            "app_conflict",
            &[
                ("job", "plain"),
                ("kind", "empty"),
                ("exported_exported_job", "x")
            ]
        )
        .len(),
        1
    );
    // Staleness: a vanished series, a removed target's series and its report series.
    let stale = f64::from_bits(STALE_NAN_BITS);
    let seq = |l: &LabelSet| compat::sequence(&got_prom[l], true);
    let v = |x: f64| compat::Point::of(x, true);
    let temp = find("app_temperature_celsius", &[("job", "honor")]);
    assert_eq!(temp.len(), 1);
    assert_eq!(seq(temp[0])[..3], [v(20.75), v(stale), v(21.25)]);
    let ev = find("app_last_event_seconds", &[("job", "honor")]);
    assert_eq!(ev.len(), 1);
    assert_eq!(
        seq(ev[0]),
        [v(2.0), v(3.0), v(5.0)],
        "explicit timestamps: never marked stale"
    );
    for name in ["worker_busy", "up", "scrape_samples_scraped"] {
        let s = find(name, &[("instance", t2.addr())]);
        assert_eq!(s.len(), 1, "{name}");
        assert_eq!(
            seq(s[0]).last(),
            Some(&v(stale)),
            "{name} of the removed target"
        );
    }
    let up3 = find("up", &[("instance", t3.addr()), ("tier", "GOLD")]);
    assert_eq!(
        seq(up3[0]),
        [v(1.0), v(0.0), v(1.0), v(stale)],
        "target 3 fails in phase 4, then its labels change"
    );
    let up3 = find("up", &[("instance", t3.addr()), ("tier", "SILVER")]);
    assert_eq!(seq(up3[0]), [v(1.0)], "target 3 with its new labels");
    let fixed = find("app_fixed_ts_seconds", &[("job", "honor")]);
    assert_eq!(
        seq(fixed[0]),
        [v(2.0)],
        "a changed value at the same timestamp is refused"
    );
    Ok(())
}
