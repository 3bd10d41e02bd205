//! The scraping agent against real targets, configured as Prometheus users write
//! `prometheus.yml`: `strata -target=agent` scrapes and remote-writes into `strata -target=all`
//! (tenant by `X-Scope-OrgID` in `remote_write.headers`).
//!
//! - node_exporter with its default collectors: its series arrive with `job`/`instance`, the
//!   series set in Strata is exactly the one node_exporter's own `/metrics` shows (empty label
//!   values dropped, as Prometheus does), and values that do not change are the page's.
//! - Prometheus's own `/metrics`: the same whole-page series set (histograms and summaries
//!   included), and `prometheus_build_info{version="2.42.0+ds"}` (Debian's build).
//! - The blackbox exporter probing HTTP endpoints through `params` and relabeling
//!   (`__address__` → `__param_target` → `instance`, `__address__` = the exporter): a 200 page
//!   gives `probe_success 1` and `probe_http_status_code 200` with `instance` = the probed
//!   URL; a 404 page and a closed port give `probe_success 0`.
//! - Prometheus `/federate` with `match[]` and `honor_labels` (text, and protobuf by
//!   `scrape_protocols`): a local Prometheus 2.42 scrapes a deterministic page and records a
//!   rule; the federated series arrive with their original `job`/`instance` (the rule's
//!   aggregate, exposed by `/federate` with `instance=""`, gets none, as in 2.42), every sample Strata
//!   holds is one Prometheus's query API returns (same timestamp, same value), a changed page
//!   arrives, and series outside `match[]` do not.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use anyhow::Context as _;
use strata_tests::api::{parse_value, InstantSample, LabelSet, PromApi, RangeSeries};
use strata_tests::peers::BlackboxExporter;
use strata_tests::target::TargetServer;
use strata_tests::wait::wait_for;
use strata_tests::{now_ms, Auth, NodeExporter, Prometheus, QueryData, Strata};

/// How long series may take to arrive: start-up, a scrape or two and a remote-write send, on
/// a loaded 2-core machine.
const ARRIVAL: Duration = Duration::from_secs(45);

/// An agent running `scrape_configs` (YAML list items, indented by two spaces) every second,
/// remote-writing into `strata` as `tenant`. The returned dir holds its `prometheus.yml`.
async fn start_agent(
    strata: &Strata,
    tenant: &str,
    scrape_configs: &str,
) -> anyhow::Result<(Strata, tempfile::TempDir)> {
    let dir = tempfile::tempdir()?;
    let cfg = dir.path().join("prometheus.yml");
    std::fs::write(
        &cfg,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n\
             scrape_configs:\n{scrape_configs}\
             remote_write:\n  - url: {}\n    headers: {{ X-Scope-OrgID: {tenant} }}\n",
            strata.push_url()
        ),
    )?;
    let agent = Strata::start_with_args(&[
        "-target=agent",
        &format!("-agent.config-file={}", cfg.display()),
    ])
    .await
    .context("start the agent")?;
    Ok((agent, dir))
}

/// The instant vector `q` at now.
async fn vector(api: &PromApi, q: &str) -> anyhow::Result<Vec<InstantSample>> {
    match api.query(q, now_ms()).await? {
        QueryData::Vector(v) => Ok(v),
        other => anyhow::bail!("{q}: expected a vector, got {}", other.result_type()),
    }
}

/// Waits until `q` returns exactly one series whose value is `want`; returns its labels.
async fn wait_value(api: &PromApi, q: &str, want: f64) -> anyhow::Result<LabelSet> {
    let last = RefCell::new(None);
    let got = wait_for(q, ARRIVAL, || {
        let (api, last) = (api.clone(), &last);
        async move {
            let v = vector(&api, q).await?;
            let found = match v.as_slice() {
                [s] if s.point.v == want => Some(s.labels.clone()),
                _ => None,
            };
            *last.borrow_mut() = Some(v);
            Ok(found)
        }
    })
    .await;
    got.with_context(|| {
        format!(
            "want one series of value {want}; last answer: {:?}",
            last.borrow()
        )
    })
}

/// The samples of a text-format page (Prometheus 0.0.4) by series: labels (`__name__`
/// included, empty values dropped as Prometheus drops them) → value. Comments, `# HELP` and
/// `# TYPE` lines are skipped.
fn exposed_samples(page: &str) -> anyhow::Result<BTreeMap<LabelSet, f64>> {
    let mut out = BTreeMap::new();
    for line in page
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let mut labels = LabelSet::new();
        let (name, mut rest) = match line.find(['{', ' ']) {
            Some(i) => line.split_at(i),
            None => anyhow::bail!("no value: {line:?}"),
        };
        labels.insert("__name__".to_string(), name.to_string());
        if let Some(mut r) = rest.strip_prefix('{') {
            loop {
                r = r.trim_start_matches(',');
                if let Some(after) = r.strip_prefix('}') {
                    rest = after;
                    break;
                }
                let (lname, v) = r.split_once("=\"").context("label without =\"")?;
                let mut value = String::new();
                let mut chars = v.char_indices();
                let end = loop {
                    match chars.next().context("unterminated label value")? {
                        (i, '"') => break i,
                        (_, '\\') => match chars.next().context("dangling escape")?.1 {
                            'n' => value.push('\n'),
                            c => value.push(c),
                        },
                        (_, c) => value.push(c),
                    }
                };
                if !value.is_empty() {
                    labels.insert(lname.to_string(), value);
                }
                r = &v[end + 1..];
            }
        }
        let value = rest.split_whitespace().next().context("no value")?;
        out.insert(labels, parse_value(value)?);
    }
    Ok(out)
}

/// Waits until the series of `job` in Strata (the report series aside) are exactly those the
/// page at `http://<instance>/metrics` shows, with `job` and `instance` added; returns the
/// page's samples as last read. Both sides are read afresh each time, since a live exporter's
/// series may change between two scrapes.
async fn same_series_as_page(
    api: &PromApi,
    job: &str,
    instance: &str,
) -> anyhow::Result<BTreeMap<LabelSet, f64>> {
    let last = RefCell::new((BTreeMap::new(), BTreeSet::new()));
    let selector = format!("{{job=\"{job}\",__name__!~\"up|scrape_.+\"}}");
    let arrived = wait_for(&format!("{job}'s series set"), ARRIVAL, || {
        let (api, last, selector) = (api.clone(), &last, &selector);
        async move {
            let page = reqwest::get(format!("http://{instance}/metrics"))
                .await?
                .text()
                .await?;
            let want: BTreeMap<LabelSet, f64> = exposed_samples(&page)?
                .into_iter()
                .map(|(mut l, v)| {
                    l.insert("job".into(), job.into());
                    l.insert("instance".into(), instance.into());
                    (l, v)
                })
                .collect();
            let got: BTreeSet<LabelSet> = vector(&api, selector)
                .await?
                .into_iter()
                .map(|s| s.labels)
                .collect();
            let done = got.iter().eq(want.keys());
            *last.borrow_mut() = (want, got);
            Ok(done.then_some(()))
        }
    })
    .await;
    let (want, got) = last.into_inner();
    if let Err(e) = arrived {
        let exposed: BTreeSet<&LabelSet> = want.keys().collect();
        let missing: Vec<_> = exposed.iter().filter(|l| !got.contains(**l)).collect();
        let extra: Vec<_> = got.iter().filter(|l| !exposed.contains(l)).collect();
        anyhow::bail!(
            "{e:#}: {job}'s series differ from its page ({} exposed, {} in Strata)\nmissing: {missing:#?}\nextra: {extra:#?}",
            want.len(),
            got.len()
        );
    }
    Ok(want)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_exporter_and_prometheus_metrics_arrive() {
    strata_tests::e2e(node_and_prometheus_body()).await;
}

/// node_exporter and Prometheus's `/metrics`, each its own job, scraped by the agent.
async fn node_and_prometheus_body() -> anyhow::Result<()> {
    let strata = Strata::start().await?;
    let node = NodeExporter::start_default_collectors().await?;
    let prom = Prometheus::start("global:\n  scrape_interval: 1m\nscrape_configs: []\n").await?;
    let prom_target = format!("127.0.0.1:{}", prom.port);
    let (_agent, _dir) = start_agent(
        &strata,
        "real",
        &format!(
            "  - job_name: node\n    static_configs:\n      - targets: ['{}']\n\
             \x20 - job_name: prometheus\n    static_configs:\n      - targets: ['{prom_target}']\n",
            node.target()
        ),
    )
    .await?;
    let api = strata.api(Auth::org("real"));

    for (job, instance) in [("node", node.target()), ("prometheus", prom_target.clone())] {
        let l = wait_value(&api, &format!("up{{job=\"{job}\"}}"), 1.0).await?;
        assert_eq!(l.get("instance"), Some(&instance), "{l:?}");
    }
    let info = wait_value(&api, "node_exporter_build_info", 1.0).await?;
    assert_eq!(info["job"], "node", "{info:?}");
    assert_eq!(info.get("instance"), Some(&node.target()), "{info:?}");
    assert!(info.contains_key("version"), "{info:?}");
    let load = vector(&api, "node_load1{job=\"node\"}").await?;
    assert_eq!(load.len(), 1, "{load:?}");
    assert!(load[0].point.v >= 0.0, "{load:?}");

    // Every series node_exporter's page shows is in Strata with the target labels, and no
    // other.
    let want = same_series_as_page(&api, "node", &node.target()).await?;
    let count = |name: &str| want.keys().filter(|l| l["__name__"] == name).count();
    let cpu = count("node_cpu_seconds_total");
    assert!(cpu >= 8, "node_cpu_seconds_total: {cpu} series exposed");
    // Values that do not change while node_exporter runs are the page's, in Strata.
    let mut compared = 0;
    for name in [
        "node_memory_MemTotal_bytes",
        "node_network_mtu_bytes",
        "go_info",
    ] {
        for s in vector(&api, &format!("{name}{{job=\"node\"}}")).await? {
            // A device that appeared since the page was read is not compared.
            if let Some(v) = want.get(&s.labels) {
                assert_eq!(s.point.v, *v, "{:?}", s.labels);
                compared += 1;
            }
        }
    }
    assert!(compared >= 3, "{compared} static values compared");
    println!(
        "node_exporter: {} series ({cpu} of node_cpu_seconds_total, {} families) identical in Strata",
        want.len(),
        want.keys().map(|l| &l["__name__"]).collect::<BTreeSet<_>>().len()
    );

    // Debian's build says `2.42.0+ds`.
    let build = wait_value(&api, "prometheus_build_info{job=\"prometheus\"}", 1.0).await?;
    assert_eq!(build.get("instance"), Some(&prom_target), "{build:?}");
    assert!(build["version"].starts_with("2.42.0"), "{build:?}");
    // Its whole page too: histograms and summaries included.
    let page = same_series_as_page(&api, "prometheus", &prom_target).await?;
    let buckets = page
        .keys()
        .filter(|l| l["__name__"] == "prometheus_http_request_duration_seconds_bucket")
        .count();
    assert!(buckets >= 10, "{buckets} buckets");
    println!("prometheus: {} series identical in Strata", page.len());
    // A counter Prometheus itself serves: its own HTTP requests, the agent's scrapes included.
    let reqs = wait_for("prometheus_http_requests_total of /metrics", ARRIVAL, || {
        let api = api.clone();
        async move {
            let v = vector(
                &api,
                "prometheus_http_requests_total{job=\"prometheus\",handler=\"/metrics\",code=\"200\"}",
            )
            .await?;
            Ok(v.first().map(|s| s.point.v).filter(|v| *v >= 1.0))
        }
    })
    .await?;
    assert!(reqs >= 1.0);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blackbox_probes_arrive_with_the_probed_url_as_instance() {
    strata_tests::e2e(blackbox_body()).await;
}

/// The blackbox exporter probes three URLs through one job, set up as its README shows.
async fn blackbox_body() -> anyhow::Result<()> {
    let strata = Strata::start().await?;
    let blackbox = BlackboxExporter::start().await?;
    let site = TargetServer::start().await?;
    site.set_text("/healthy", "ok\n");
    let healthy = format!("http://{}/healthy", site.addr());
    let missing = format!("http://{}/missing", site.addr());
    // A port nothing listens on (tcpmux, privileged, unused), so no other process can take
    // it during the test as it could a port that was free a moment ago.
    let closed = "http://127.0.0.1:1/".to_string();
    // Probes get up to 2 s (less the exporter's 0.5 s offset), so a loaded machine does not
    // turn a healthy probe into a timeout.
    let (agent, _dir) = start_agent(
        &strata,
        "probes",
        &format!(
            "  - job_name: blackbox\n    scrape_interval: 2s\n    scrape_timeout: 2s\n\
             \x20   metrics_path: /probe\n    params:\n      module: [http_2xx]\n\
             \x20   static_configs:\n      - targets: ['{healthy}', '{missing}', '{closed}']\n\
             \x20   relabel_configs:\n\
             \x20     - source_labels: [__address__]\n        target_label: __param_target\n\
             \x20     - source_labels: [__param_target]\n        target_label: instance\n\
             \x20     - target_label: __address__\n        replacement: {}\n",
            blackbox.target()
        ),
    )
    .await?;
    let api = strata.api(Auth::org("probes"));

    let sel = |name: &str, url: &str| format!("{name}{{job=\"blackbox\",instance=\"{url}\"}}");
    for (url, success, status) in [
        (&healthy, 1.0, 200.0),
        (&missing, 0.0, 404.0),
        (&closed, 0.0, 0.0),
    ] {
        let l = wait_value(&api, &sel("probe_success", url), success).await?;
        assert!(
            !l.keys().any(|k| k.starts_with("__param")),
            "no __param_ label is stored: {l:?}"
        );
        wait_value(&api, &sel("probe_http_status_code", url), status).await?;
        // The exporter, not the probed URL, is what was scraped.
        wait_value(&api, &sel("up", url), 1.0).await?;
    }
    // Exactly the three probes, each under its URL.
    let instances: BTreeSet<String> = vector(&api, "probe_success{job=\"blackbox\"}")
        .await?
        .into_iter()
        .filter_map(|s| s.labels.get("instance").cloned())
        .collect();
    let want: BTreeSet<String> = [&healthy, &missing, &closed].into_iter().cloned().collect();
    assert_eq!(instances, want);
    // The exporter really fetched the pages: the target server logged the probes.
    assert!(!site.served("/healthy").is_empty(), "{:?}", site.log());
    // The scrape URL carries the job's params and the relabeled target, encoded as Go does.
    let v = agent.get("/api/v1/targets").await?.json()?;
    let urls: BTreeSet<String> = v["data"]["activeTargets"]
        .as_array()
        .context("activeTargets")?
        .iter()
        .filter_map(|t| t["scrapeUrl"].as_str().map(str::to_string))
        .collect();
    let expected = format!(
        "http://{}/probe?module=http_2xx&target=http%3A%2F%2F{}%2Fhealthy",
        blackbox.target(),
        site.addr().replace(':', "%3A")
    );
    assert!(urls.contains(&expected), "{expected} not in {urls:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn federated_series_keep_their_original_labels_and_values() {
    strata_tests::e2e(federate_body(None)).await;
}

/// The same over the delimited protobuf format (what federating native histograms needs):
/// Prometheus's `/federate` answers protobuf when asked for it first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn federated_series_arrive_over_protobuf() {
    strata_tests::e2e(federate_body(Some(
        "[PrometheusProto, PrometheusText0.0.4]",
    )))
    .await;
}

/// Range-vector samples per series: labels → `(t, v)` points.
fn by_series(m: Vec<RangeSeries>) -> BTreeMap<LabelSet, Vec<(i64, f64)>> {
    m.into_iter()
        .map(|s| (s.labels, s.points.iter().map(|p| (p.t, p.v)).collect()))
        .collect()
}

/// `q` (a range selector) at `t`, by series.
async fn matrix(
    api: &PromApi,
    q: &str,
    t: i64,
) -> anyhow::Result<BTreeMap<LabelSet, Vec<(i64, f64)>>> {
    match api.query(q, t).await? {
        QueryData::Matrix(m) => Ok(by_series(m)),
        other => anyhow::bail!("{q}: expected a matrix, got {}", other.result_type()),
    }
}

/// A local Prometheus scrapes two jobs; the agent federates only `{job="local"}` from it,
/// with `scrape_protocols` when given.
async fn federate_body(scrape_protocols: Option<&str>) -> anyhow::Result<()> {
    let strata = Strata::start().await?;
    let site = TargetServer::start().await?;
    site.set_text(
        "/metrics",
        "# HELP fed_requests_total Requests served.\n# TYPE fed_requests_total counter\n\
         fed_requests_total{code=\"200\"} 42\nfed_requests_total{code=\"500\"} 3\n\
         # TYPE fed_temperature gauge\nfed_temperature{room=\"a b\"} 21.5\n",
    );
    site.set_text("/other", "# TYPE fed_other gauge\nfed_other 7\n");
    // An aggregate by recording rule, as federation setups usually pull: it has `job` but no
    // `instance`; `/federate` exposes it with `instance=""`, so honor_labels adds none.
    let rules = tempfile::tempdir()?;
    let rule_file = rules.path().join("rules.yml");
    std::fs::write(
        &rule_file,
        "groups:\n  - name: fed\n    interval: 1s\n    rules:\n\
         \x20     - record: job:fed_requests:sum\n        expr: sum by (job) (fed_requests_total)\n",
    )?;
    let prom = Prometheus::start(&format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
         rule_files: ['{1}']\n\
         scrape_configs:\n\
         \x20 - job_name: local\n    static_configs:\n      - targets: ['{0}']\n        labels: {{ zone: z1 }}\n\
         \x20 - job_name: other\n    metrics_path: /other\n    static_configs:\n      - targets: ['{0}']\n",
        site.addr(),
        rule_file.display()
    ))
    .await?;
    let papi = prom.api();
    // Prometheus has scraped both jobs before the agent starts federating.
    for q in ["fed_temperature", "fed_other", "job:fed_requests:sum"] {
        wait_for(q, ARRIVAL, || {
            let papi = papi.clone();
            async move { Ok((!vector(&papi, q).await?.is_empty()).then_some(())) }
        })
        .await?;
    }
    let prom_target = format!("127.0.0.1:{}", prom.port);
    let protocols = scrape_protocols
        .map(|p| format!("    scrape_protocols: {p}\n"))
        .unwrap_or_default();
    let (agent, _dir) = start_agent(
        &strata,
        "fed",
        &format!(
            "  - job_name: federate\n    honor_labels: true\n    metrics_path: /federate\n\
             \x20   params:\n      'match[]': ['{{job=\"local\"}}']\n{protocols}\
             \x20   static_configs:\n      - targets: ['{prom_target}']\n"
        ),
    )
    .await?;
    let api = strata.api(Auth::org("fed"));

    // The federation target itself is up, and each scrape carries every {job="local"} series.
    wait_value(&api, "up{job=\"federate\"}", 1.0).await?;
    let v = agent.get("/api/v1/targets").await?.json()?;
    let t = &v["data"]["activeTargets"][0];
    assert_eq!(
        (&t["health"], &t["lastError"]),
        (&"up".into(), &"".into()),
        "{v}"
    );
    let want_url = format!("http://{prom_target}/federate?match%5B%5D=%7Bjob%3D%22local%22%7D");
    assert_eq!(t["scrapeUrl"], want_url, "{v}");
    if scrape_protocols.is_some() {
        // Asked as the agent asks for these protocols, Prometheus answers protobuf.
        let r = reqwest::Client::new()
            .get(&want_url)
            .header(
                "Accept",
                "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;\
                 encoding=delimited;q=0.5,text/plain;version=0.0.4;q=0.4,*/*;q=0.3",
            )
            .send()
            .await?;
        let ct = r.headers()["content-type"].to_str()?.to_string();
        assert!(ct.starts_with("application/vnd.google.protobuf"), "{ct}");
    }
    // Prometheus's series are what federation stores: `/federate` sends `instance=""` for a
    // series without one (the rule's aggregate), and with honor_labels a label exposed empty
    // stays absent, as in 2.42, so no target label is added to any of them.
    let local = "{job=\"local\"}";
    let want: BTreeSet<LabelSet> = vector(&papi, local)
        .await?
        .into_iter()
        .map(|s| s.labels)
        .collect();
    assert!(want.len() >= 8, "{want:?}");
    let federated = wait_value(
        &api,
        "scrape_samples_scraped{job=\"federate\"}",
        want.len() as f64,
    )
    .await?;
    assert_eq!(federated.get("instance"), Some(&prom_target));

    // The same series in Strata as in Prometheus, with Prometheus's job and instance.
    let last = RefCell::new(BTreeSet::new());
    let arrived = wait_for("federated series", ARRIVAL, || {
        let (api, want, last) = (api.clone(), &want, &last);
        async move {
            let got: BTreeSet<LabelSet> = vector(&api, local)
                .await?
                .into_iter()
                .map(|s| s.labels)
                .collect();
            let done = got == *want;
            *last.borrow_mut() = got;
            Ok(done.then_some(()))
        }
    })
    .await;
    arrived
        .with_context(|| format!("Strata has {:#?}\nPrometheus has {want:#?}", last.borrow()))?;
    for l in &want {
        assert!(!l.contains_key("exported_job"), "{l:?}");
        if l["__name__"] == "job:fed_requests:sum" {
            assert_eq!(l.get("instance"), None, "{l:?}");
        } else {
            assert_eq!(l["instance"], site.addr(), "{l:?}");
            assert_eq!(l.get("zone").map(String::as_str), Some("z1"), "{l:?}");
        }
    }
    wait_value(&api, "job:fed_requests:sum", 45.0).await?;
    let temp = vector(&api, "fed_temperature").await?;
    assert_eq!(temp.len(), 1, "{temp:?}");
    assert_eq!(temp[0].point.v, 21.5);
    assert_eq!(temp[0].labels["room"], "a b");
    // A changed page reaches Strata through Prometheus.
    site.set_text(
        "/metrics",
        "# TYPE fed_requests_total counter\n\
         fed_requests_total{code=\"200\"} 50\nfed_requests_total{code=\"500\"} 4\n\
         # TYPE fed_temperature gauge\nfed_temperature{room=\"a b\"} 22.25\n",
    );
    wait_value(&api, "fed_temperature{job=\"local\"}", 22.25).await?;
    wait_value(&api, "fed_requests_total{code=\"200\"}", 50.0).await?;
    wait_value(&api, "job:fed_requests:sum", 54.0).await?;

    // Every sample Strata holds is one Prometheus holds: the federated samples keep
    // Prometheus's timestamps (honor_timestamps) and values.
    let t = now_ms();
    let window = "{job=\"local\"}[1m]";
    let theirs: BTreeMap<LabelSet, Vec<(i64, f64)>> = matrix(&papi, window, t).await?;
    let ours = matrix(&api, window, t).await?;
    assert_eq!(
        ours.keys().collect::<Vec<_>>(),
        theirs.keys().collect::<Vec<_>>()
    );
    let mut compared = 0;
    for (labels, points) in &ours {
        assert!(!points.is_empty(), "{labels:?}");
        let prom_points: BTreeMap<i64, f64> = theirs[labels].iter().copied().collect();
        for (ts, v) in points {
            let p = prom_points.get(ts).with_context(|| {
                format!("{labels:?}: sample at {ts} not in Prometheus's {prom_points:?}")
            })?;
            assert!(
                p.to_bits() == v.to_bits(),
                "{labels:?} at {ts}: Strata {v}, Prometheus {p}"
            );
            compared += 1;
        }
    }
    println!(
        "federation: {} series, {compared} samples identical to Prometheus's",
        ours.len()
    );

    // Series outside match[] never arrive, though Prometheus has them.
    assert!(!vector(&papi, "fed_other").await?.is_empty());
    let other = vector(&api, "{job=\"other\"}").await?;
    assert!(other.is_empty(), "{other:?}");
    let all_jobs: BTreeSet<String> = vector(&api, "{job!=\"\"}")
        .await?
        .into_iter()
        .filter_map(|s| s.labels.get("job").cloned())
        .collect();
    assert_eq!(
        all_jobs,
        ["federate", "local"]
            .map(String::from)
            .into_iter()
            .collect()
    );
    Ok(())
}
