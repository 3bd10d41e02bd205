//! Bad targets, as Prometheus 2.42 treats them (issue 7, "Bad targets"): one `prometheus.yml`
//! (scrape every 1 s, timeout 1 s, `body_size_limit: 10MB`, `label_name_length_limit: 100`,
//! `label_value_length_limit: 1000` on every job; 2.42 has no such keys under `global`) is
//! run by Debian's Prometheus (remote-writing into `strata -target=all` as one tenant, by
//! basic-auth user) and by `strata -target=agent` (as another). One job per target, each
//! served by a [`TargetServer`]:
//!
//! | jobs | pages | up |
//! | --- | --- | --- |
//! | `good` | a valid page | 1 |
//! | `bad_escape` | `esc_metric{l="\q"} 1` | 1: unknown escapes are kept as written |
//! | `duplicate` | `dup_metric 1`, `dup_metric 2`, `other_metric 3` | 1, the first value kept |
//! | `empty_value`, `nan_inf`, `no_newline` | `{l=""}`, `NaN`/`+Inf`, no final newline | 1 |
//! | `malformed`, `missing_value`, `unterminated_label`, `trailing_backslash`, `bad_label_name`, `bad_timestamp`, `out_of_range` (`1e400`), `duplicate_label` | malformed lines | 0 |
//! | `invalid_utf8`, `invalid_utf8_name`, `invalid_utf8_help` | `0xff` in a label value, a name, a HELP text | 0 |
//! | `hang`, `status_500` | never answers; answers 500 | 0 |
//! | `long_label_value`, `long_label_name` | a 2,000-byte label value; a 300-byte name | 0 |
//! | `huge_line` | one 12 MiB line | 0 (body size limit) |
//! | `endless` | 1 GiB of valid lines, streamed | 0 (body size limit) |
//!
//! Shown for every job: both scrapers' `/api/v1/targets` agree on health, a failing target's
//! `lastError` names the cause (the same words in both), `up`, `scrape_samples_scraped` and
//! `scrape_samples_post_metric_relabeling` in Strata are the same for both tenants; both
//! tenants hold exactly the accepted pages' series with the same values, and nothing of a
//! failed scrape was ever stored (not even the valid line before a malformed one); the good
//! target's samples keep arriving in both tenants throughout; the agent's peak RSS stays under
//! 300 MB while it is offered 1 GiB bodies; the agent, Prometheus and Strata are alive at the
//! end and answer.
//!
//! One known difference, by design: Prometheus 2.42 does not notice a series exposed twice in
//! one scrape (it hands both samples to its TSDB, whose head keeps the first; its
//! `prometheus_target_scrapes_sample_duplicate_timestamp_total` stays 0). Later Prometheus
//! versions skip the second and count it there, as the issue asks; the agent does that. Both
//! keep the first value and report `up` 1, which the test asserts; the counter is asserted
//! for the agent and only printed for Prometheus.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use anyhow::Context as _;
use strata_tests::api::QueryData;
use strata_tests::peers::sum_metric;
use strata_tests::target::{Page, TargetServer};
use strata_tests::wait::wait_for;
use strata_tests::{now_ms, Auth, PromApi, Prometheus, Strata};

/// Prometheus's tenant (its remote_write basic-auth user).
const PROM_TENANT: &str = "bad-targets-prometheus";
/// The agent's tenant.
const AGENT_TENANT: &str = "bad-targets-agent";
/// How long both scrapers may take to settle: start-up, a few scrapes and remote-write sends
/// on a loaded 2-core machine.
const SETTLE: Duration = Duration::from_secs(60);
/// The agent's peak resident memory must stay below this while it is offered 1 GiB bodies.
const MAX_AGENT_RSS_BYTES: u64 = 300 << 20;
/// How many times each scraper scrapes the good page before the end checks.
const GOOD_SCRAPES: usize = 25;

/// One bad (or good) target: its job (also its path), what it serves, the `up` Prometheus
/// 2.42 gives it, and words both scrapers' `lastError` must hold when it fails.
struct Case {
    job: &'static str,
    page: Page,
    up: f64,
    error: &'static str,
}

fn case(job: &'static str, page: Page, up: f64, error: &'static str) -> Case {
    Case {
        job,
        page,
        up,
        error,
    }
}

fn cases() -> Vec<Case> {
    let long_value = format!("long_metric{{l=\"{}\"}} 1\n", "x".repeat(2000));
    let long_name = format!("lname_metric{{{}=\"v\"}} 1\n", "n".repeat(300));
    let mut huge = b"huge_metric{l=\"".to_vec();
    huge.resize(huge.len() + (12 << 20), b'x');
    huge.extend_from_slice(b"\"} 1\n");
    let endless = Page::Endless {
        chunk: bytes::Bytes::from("endless_metric{i=\"0123456789\"} 1\n".repeat(2000)),
        total: 1 << 30,
    };
    let status_500 = Page::Body {
        status: 500,
        content_type: strata_tests::target::TEXT_FORMAT.to_string(),
        body: bytes::Bytes::new(),
    };
    let raw = |b: &'static [u8]| Page::raw(b);
    vec![
        // Accepted pages.
        case(
            "good",
            Page::text("# TYPE good_metric gauge\ngood_metric 1\n"),
            1.0,
            "",
        ),
        case("bad_escape", raw(b"esc_metric{l=\"\\q\"} 1\n"), 1.0, ""),
        case(
            "duplicate",
            Page::text("dup_metric 1\ndup_metric 2\nother_metric 3\n"),
            1.0,
            "",
        ),
        case("empty_value", Page::text("ev_metric{l=\"\"} 1\n"), 1.0, ""),
        case(
            "nan_inf",
            Page::text("ni_metric{k=\"nan\"} NaN\nni_metric{k=\"inf\"} +Inf\n"),
            1.0,
            "",
        ),
        case("no_newline", Page::text("nn_metric 1"), 1.0, ""),
        // Malformed lines.
        case(
            "malformed",
            Page::text("good_line 1\nthis is not a metric line\n"),
            0.0,
            "parsing \"is\": invalid syntax",
        ),
        case(
            "missing_value",
            Page::text("mv_metric\n"),
            0.0,
            "expected value after metric",
        ),
        case(
            "unterminated_label",
            Page::text("ut_metric{l=\"x} 1\n"),
            0.0,
            "expected label value",
        ),
        case(
            "trailing_backslash",
            raw(b"tb_metric{l=\"x\\\"} 1\n"),
            0.0,
            "expected label value",
        ),
        case(
            "bad_label_name",
            Page::text("bl_metric{0l=\"x\"} 1\n"),
            0.0,
            "expected label name",
        ),
        case(
            "bad_timestamp",
            Page::text("ts_metric 1 soon\n"),
            0.0,
            "expected timestamp or new record",
        ),
        case(
            "out_of_range",
            Page::text("oor_metric 1e400\n"),
            0.0,
            "parsing \"1e400\": value out of range",
        ),
        case(
            "duplicate_label",
            Page::text("dl_metric{a=\"1\",a=\"2\"} 1\n"),
            0.0,
            "label name \"a\" is not unique",
        ),
        // Invalid UTF-8.
        case(
            "invalid_utf8",
            raw(b"utf_metric{l=\"a\xff\xfeb\"} 1\n"),
            0.0,
            "invalid UTF-8 label value",
        ),
        case(
            "invalid_utf8_name",
            raw(b"\xffname_metric 1\n"),
            0.0,
            "valid start token",
        ),
        case(
            "invalid_utf8_help",
            raw(b"# HELP h_metric a \xff help\nh_metric 1\n"),
            0.0,
            "is not a valid utf8 string",
        ),
        // Targets that do not answer a page.
        case("hang", Page::Hang, 0.0, "context deadline exceeded"),
        case(
            "status_500",
            status_500,
            0.0,
            "server returned HTTP status 500",
        ),
        // Limits.
        case(
            "long_label_value",
            Page::text(long_value),
            0.0,
            "label_value_length_limit exceeded",
        ),
        case(
            "long_label_name",
            Page::text(long_name),
            0.0,
            "label_name_length_limit exceeded",
        ),
        case(
            "huge_line",
            Page::raw(huge),
            0.0,
            "body size limit exceeded",
        ),
        case("endless", endless, 0.0, "body size limit exceeded"),
    ]
}

/// Jobs whose `lastError` is the same word for word in both scrapers. (The agent's parse
/// errors add the line, column and token to Prometheus's words.)
const SAME_ERROR: &[&str] = &[
    "duplicate_label",
    "hang",
    "status_500",
    "long_label_value",
    "long_label_name",
    "huge_line",
    "endless",
];

/// Every series the accepted pages expose, as stored (`instance` aside): an unknown escape
/// kept as written, an empty label dropped, the first of two duplicates, NaN and +Inf.
const STORED: &[(&str, &str)] = &[
    ("bad_escape", r#"esc_metric{l="\\q"} 1"#),
    ("duplicate", "dup_metric 1"),
    ("duplicate", "other_metric 3"),
    ("empty_value", "ev_metric 1"),
    ("good", "good_metric 1"),
    ("nan_inf", r#"ni_metric{k="inf"} +Inf"#),
    ("nan_inf", r#"ni_metric{k="nan"} NaN"#),
    ("no_newline", "nn_metric 1"),
];

/// The one configuration both scrapers run; only the remote-write user (the tenant) differs.
fn config(cases: &[Case], target: &str, push_url: &str, tenant: &str) -> String {
    let mut y =
        String::from("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n");
    for c in cases {
        let _ = write!(
            y,
            "  - job_name: {job}\n    metrics_path: /{job}\n    body_size_limit: 10MB\n    \
             label_name_length_limit: 100\n    label_value_length_limit: 1000\n    \
             static_configs:\n      - targets: ['{target}']\n",
            job = c.job
        );
    }
    let _ = write!(
        y,
        "remote_write:\n  - url: {push_url}\n    basic_auth: {{ username: {tenant}, password: x }}\n    \
         queue_config: {{ batch_send_deadline: 1s }}\n"
    );
    y
}

/// `scrapePool → (health, lastError)` from a scraper's `/api/v1/targets`.
async fn targets(base: &str) -> anyhow::Result<BTreeMap<String, (String, String)>> {
    let v: serde_json::Value = reqwest::get(format!("{base}/api/v1/targets"))
        .await?
        .json()
        .await?;
    let mut out = BTreeMap::new();
    for t in v["data"]["activeTargets"]
        .as_array()
        .context("activeTargets")?
    {
        let s = |k: &str| t[k].as_str().unwrap_or_default().to_string();
        out.insert(s("scrapePool"), (s("health"), s("lastError")));
    }
    Ok(out)
}

/// Checks one scraper's targets against the cases; `Err` lists every difference.
fn check_targets(
    who: &str,
    cases: &[Case],
    got: &BTreeMap<String, (String, String)>,
) -> anyhow::Result<()> {
    let mut wrong = Vec::new();
    for c in cases {
        let Some((health, err)) = got.get(c.job) else {
            wrong.push(format!("{who}: no target for job {}", c.job));
            continue;
        };
        let want = if c.up == 1.0 { "up" } else { "down" };
        if !(health == want && err.contains(c.error) && (c.up == 0.0) != err.is_empty()) {
            wrong.push(format!(
                "{who}: job {} is {health} with lastError {err:?}; want {want} with an error holding {:?}",
                c.job, c.error
            ));
        }
    }
    anyhow::ensure!(wrong.is_empty(), "{}", wrong.join("\n"));
    Ok(())
}

/// `job → value` of the instant vector `q` at now.
async fn by_job(api: &PromApi, q: &str) -> anyhow::Result<BTreeMap<String, f64>> {
    let QueryData::Vector(v) = api.query(q, now_ms()).await? else {
        anyhow::bail!("{q}: not a vector");
    };
    Ok(v.into_iter()
        .map(|s| (s.labels.get("job").cloned().unwrap_or_default(), s.point.v))
        .collect())
}

/// The labels and value of each series `q` selects at now.
async fn series(api: &PromApi, q: &str) -> anyhow::Result<Vec<(BTreeMap<String, String>, f64)>> {
    let QueryData::Vector(v) = api.query(q, now_ms()).await? else {
        anyhow::bail!("{q}: not a vector");
    };
    Ok(v.into_iter().map(|s| (s.labels, s.point.v)).collect())
}

/// The sum of `name`'s series labelled `tenant="<tenant>"` on a `/metrics` page.
fn tenant_metric(page: &str, name: &str, tenant: &str) -> f64 {
    let label = format!("tenant=\"{tenant}\"");
    page.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")) && l.contains(&label))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .fold(0.0, |a, b| a + b)
}

/// Selects the series targets exposed (not `up` and `scrape_*`).
const EXPOSED: &str = r#"{__name__!~"up|scrape_.+", job!=""}"#;

/// The exposed series at now, as `job: name{labels} value` (`instance` left out, label values
/// escaped as in the text format), sorted.
async fn exposed(api: &PromApi) -> anyhow::Result<Vec<String>> {
    let mut out = Vec::new();
    for (labels, v) in series(api, EXPOSED).await? {
        let others: Vec<String> = labels
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "__name__" | "job" | "instance"))
            .map(|(k, v)| {
                let v = v.replace('\\', "\\\\").replace('"', "\\\"");
                format!("{k}=\"{v}\"")
            })
            .collect();
        let labels_text = if others.is_empty() {
            String::new()
        } else {
            format!("{{{}}}", others.join(","))
        };
        let value = match v {
            v if v == f64::INFINITY => "+Inf".to_string(),
            v if v == f64::NEG_INFINITY => "-Inf".to_string(),
            v => format!("{v}"),
        };
        out.push(format!(
            "{}: {}{labels_text} {value}",
            labels.get("job").map_or("", String::as_str),
            labels.get("__name__").map_or("", String::as_str)
        ));
    }
    out.sort();
    Ok(out)
}

/// A field of `/proc/<pid>/status` in bytes (`VmRSS`, `VmHWM`).
fn proc_status_bytes(pid: u32, field: &str) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .with_context(|| format!("{field} in /proc/{pid}/status"))?;
    let kb: u64 = line.trim().trim_end_matches("kB").trim().parse()?;
    Ok(kb * 1024)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_targets_fail_as_in_prometheus_and_nothing_else_breaks() {
    strata_tests::e2e(body()).await;
}

async fn body() -> anyhow::Result<()> {
    // Declared in start order, so they stop in reverse: agent, Prometheus (flushing its queue
    // into a live Strata), then Strata.
    let mut strata = Strata::start().await?;
    let server = TargetServer::start().await?;
    let cases = cases();
    for c in &cases {
        server.set(&format!("/{}", c.job), c.page.clone());
    }
    let mut prom = Prometheus::start(&config(
        &cases,
        server.addr(),
        &strata.push_url(),
        PROM_TENANT,
    ))
    .await?;
    let dir = tempfile::tempdir()?;
    let cfg = dir.path().join("prometheus.yml");
    std::fs::write(
        &cfg,
        config(&cases, server.addr(), &strata.push_url(), AGENT_TENANT),
    )?;
    let mut agent = Strata::start_with_args(&[
        "-target=agent",
        &format!("-agent.config-file={}", cfg.display()),
    ])
    .await
    .context("start the agent")?;
    let started = now_ms();
    let agent_pid = agent.process.pid().context("agent pid")?;

    // Both scrapers' target pages: same health, the cause in the last error.
    let prom_base = prom.url();
    let agent_base = agent.url("");
    let (p, a) = wait_for("targets as expected on both scrapers", SETTLE, || {
        let (pb, ab, cases) = (prom_base.clone(), agent_base.clone(), &cases);
        async move {
            let (p, a) = (targets(&pb).await?, targets(&ab).await?);
            check_targets("prometheus", cases, &p)?;
            check_targets("agent", cases, &a)?;
            Ok(Some((p, a)))
        }
    })
    .await?;
    println!(
        "{:<18} {:<6} lastError (prometheus 2.42 | agent)",
        "job", "health"
    );
    for c in &cases {
        let (ph, pe) = &p[c.job];
        let (ah, ae) = &a[c.job];
        assert_eq!(ph, ah, "health of {}", c.job);
        if SAME_ERROR.contains(&c.job) {
            assert_eq!(pe, ae, "lastError of {}", c.job);
        }
        println!("{:<18} {ph:<6} {pe:?} | {ae:?}", c.job);
    }

    // `up` and the scrape counts in Strata: the same for both tenants, `up` as expected.
    let prom_api = strata.api(Auth::Basic {
        user: PROM_TENANT.into(),
        password: "x".into(),
    });
    let agent_api = strata.api(Auth::org(AGENT_TENANT));
    let want_up: BTreeMap<String, f64> = cases.iter().map(|c| (c.job.to_string(), c.up)).collect();
    let jobs = cases.len();
    for q in [
        "up",
        "scrape_samples_scraped",
        "scrape_samples_post_metric_relabeling",
    ] {
        let got = wait_for(&format!("{q} alike in both tenants"), SETTLE, || {
            let (pa, aa, want_up) = (&prom_api, &agent_api, &want_up);
            async move {
                let (p, a) = (by_job(pa, q).await?, by_job(aa, q).await?);
                anyhow::ensure!(p.len() == jobs, "{q} for prometheus: {p:?}");
                anyhow::ensure!(p == a, "{q}: prometheus {p:?}, agent {a:?}");
                anyhow::ensure!(q != "up" || &p == want_up, "up: {p:?}, want {want_up:?}");
                Ok(Some(p))
            }
        })
        .await?;
        println!("{q}: {got:?}");
    }

    // What the accepted pages wrote, the same in both tenants: exactly `STORED`, now, and no
    // other series over the whole run (nothing of a failed scrape, not even the valid line
    // before a malformed one).
    let mut want: Vec<String> = STORED.iter().map(|(j, s)| format!("{j}: {s}")).collect();
    want.sort();
    let mut want_names: Vec<String> = STORED
        .iter()
        .map(|(j, s)| format!("{j}: {}", s.split(['{', ' ']).next().unwrap_or_default()))
        .collect();
    want_names.sort();
    want_names.dedup();
    for (who, api) in [("prometheus", &prom_api), ("agent", &agent_api)] {
        let want = &want;
        wait_for(
            &format!("{who}: the accepted pages' series"),
            SETTLE,
            || async move {
                let got = exposed(api).await?;
                anyhow::ensure!(&got == want, "{who}: {got:#?}");
                Ok(Some(()))
            },
        )
        .await?;
        let ever = api.series(&[EXPOSED], started - 60_000, now_ms()).await?;
        let mut names: Vec<String> = ever
            .iter()
            .map(|l| format!("{}: {}", l["job"], l["__name__"]))
            .collect();
        names.sort();
        names.dedup();
        assert_eq!(names, want_names, "{who}: series ever stored");
    }

    // Let both scrapers run on for a while (the good page served 25 times each), the agent
    // turning away at least 10 of the 1 GiB bodies and 12 MiB lines meanwhile.
    wait_for(
        "25 scrapes of the good page by each scraper",
        SETTLE,
        || async { Ok((server.served("/good").len() >= 2 * GOOD_SCRAPES).then_some(())) },
    )
    .await?;
    let body_limit = "prometheus_target_scrapes_exceeded_body_size_limit_total";
    wait_for("the agent refusing 20 big bodies", SETTLE, || async {
        let page = agent.get("/metrics").await?.body;
        Ok((sum_metric(&page, body_limit).unwrap_or(0.0) >= 20.0).then_some(()))
    })
    .await?;

    // The scrapers' own counters: body size and label limits hit on both; duplicates counted
    // by the agent (2.42 does not count them, see the top of the file).
    let agent_metrics = agent.get("/metrics").await?.body;
    let prom_metrics = reqwest::get(format!("{prom_base}/metrics"))
        .await?
        .text()
        .await?;
    for name in [
        body_limit,
        "prometheus_target_scrape_pool_exceeded_label_limits_total",
    ] {
        for (who, page) in [("prometheus", &prom_metrics), ("agent", &agent_metrics)] {
            let v = sum_metric(page, name).unwrap_or(0.0);
            assert!(v >= 2.0, "{who}: {name} = {v}");
        }
    }
    let dup = "prometheus_target_scrapes_sample_duplicate_timestamp_total";
    let agent_dups = sum_metric(&agent_metrics, dup).unwrap_or(0.0);
    println!(
        "{dup}: agent {agent_dups}, prometheus 2.42 {:?}",
        sum_metric(&prom_metrics, dup)
    );
    assert!(agent_dups >= 1.0, "agent: {dup} = {agent_dups}");

    // The good target's samples kept arriving in both tenants all along: one per second
    // (allowing a few late or missed scrapes on a loaded machine).
    let end = now_ms();
    let secs = (end - started) / 1000 - 5;
    for (who, api) in [("prometheus", &prom_api), ("agent", &agent_api)] {
        wait_for(
            &format!("{who}: good_metric up to now"),
            SETTLE,
            || async move {
                let s = series(api, "timestamp(good_metric)").await?;
                Ok(s.first()
                    .filter(|(_, t)| *t * 1000.0 >= end as f64)
                    .map(|_| ()))
            },
        )
        .await?;
        let q = format!("count_over_time(good_metric[{secs}s])");
        let QueryData::Vector(v) = api.query(&q, end).await? else {
            anyhow::bail!("{q}: not a vector");
        };
        let n = v.first().map_or(0.0, |s| s.point.v);
        println!("{who}: {n} good samples in the last {secs} s");
        assert!(
            n >= secs as f64 * 0.7,
            "{who}: only {n} good samples in {secs} s"
        );
    }

    // Nothing the agent sent was refused: it never forwards a duplicate. (Prometheus 2.42
    // forwards the second `dup_metric` sample; Strata stores the rest of each such request
    // and answers 400, which 2.42 logs as a non-recoverable error.)
    let strata_metrics = strata.get("/metrics").await?.body;
    let discarded =
        |tenant: &str| tenant_metric(&strata_metrics, "strata_discarded_samples_total", tenant);
    println!(
        "strata_discarded_samples_total: prometheus's tenant {}, agent's tenant {}",
        discarded(PROM_TENANT),
        discarded(AGENT_TENANT)
    );
    assert_eq!(discarded(AGENT_TENANT), 0.0, "samples of the agent refused");
    let failed = sum_metric(
        &agent_metrics,
        "prometheus_remote_storage_samples_failed_total",
    );
    assert_eq!(failed.unwrap_or(0.0), 0.0, "agent: samples failed to send");

    // The agent never held a 1 GiB body; it, Prometheus and Strata still run and answer.
    let hwm = proc_status_bytes(agent_pid, "VmHWM")?;
    let rss = proc_status_bytes(agent_pid, "VmRSS")?;
    println!("agent: peak RSS {} MiB, now {} MiB", hwm >> 20, rss >> 20);
    assert!(hwm < MAX_AGENT_RSS_BYTES, "agent peak RSS {hwm} bytes");
    agent.process.check_running()?;
    anyhow::ensure!(agent.get("/targets").await?.status == 200, "agent /targets");
    anyhow::ensure!(agent.get("/ready").await?.status == 200, "agent /ready");
    prom.process.check_running()?;
    strata.process.check_running()?;
    anyhow::ensure!(strata.get("/ready").await?.status == 200, "strata /ready");
    Ok(())
}
