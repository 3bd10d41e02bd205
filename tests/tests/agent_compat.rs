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
use strata_tests::target::{Page, TargetServer};
use strata_tests::wait::wait_for;
use strata_tests::{now_ms, Strata, TimestampMs};

#[path = "agent_compat/fixture.rs"]
mod fixture;
use fixture::{
    group, page1, page2, page3, page_limited, page_om, port_of, remote_write, scrape_configs,
    sd_labels, write_sd,
};

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
