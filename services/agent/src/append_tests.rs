use super::*;
use strata_model::is_stale_nan;

fn opts() -> AppendOptions {
    AppendOptions {
        target_labels: Labels::from_pairs([("instance", "h:1"), ("job", "j")]),
        honor_timestamps: true,
        ..AppendOptions::default()
    }
}

fn run(
    cache: &mut ScrapeCache,
    o: &AppendOptions,
    clock: &SeriesClock,
    body: &str,
    t: i64,
) -> (AppendStats, Result<(), AppendError>, Batch) {
    let mut b = Batch::default();
    let (st, r) = append(cache, o, clock, body.as_bytes(), "text/plain", t, &mut b);
    // What the loop does after committing.
    for (_, t, v, h) in &b.samples {
        clock.advance(*h, *t, *v);
    }
    (st, r, b)
}

fn err_text(r: Result<(), AppendError>) -> String {
    match r {
        Err(e) => e.to_string(),
        Ok(()) => panic!("expected an error"),
    }
}

fn find<'a>(b: &'a Batch, name: &str) -> Vec<&'a (Labels, i64, f64, u64)> {
    b.samples
        .iter()
        .filter(|s| s.0.metric_name() == Some(name))
        .collect()
}

#[test]
fn target_labels_and_exported_renaming() {
    let (mut c, clock) = (ScrapeCache::new(), SeriesClock::new());
    let body = "a{job=\"x\",exported_job=\"y\",instance=\"i\"} 1\nb 2\n";
    let (st, r, b) = run(&mut c, &opts(), &clock, body, 1000);
    assert_eq!(r, Ok(()));
    assert_eq!((st.total, st.added, st.series_added), (2, 2, 2));
    assert_eq!(
        find(&b, "a")[0].0,
        Labels::from_pairs([
            ("__name__", "a"),
            ("exported_exported_job", "x"),
            ("exported_instance", "i"),
            ("exported_job", "y"),
            ("instance", "h:1"),
            ("job", "j"),
        ])
    );
    let mut honor = opts();
    honor.honor_labels = true;
    let (_, _, b) = run(
        &mut ScrapeCache::new(),
        &honor,
        &SeriesClock::new(),
        body,
        1000,
    );
    assert_eq!(find(&b, "a")[0].0.get("job"), Some("x"));
    assert_eq!(find(&b, "a")[0].0.get("instance"), Some("i"));
    assert_eq!(find(&b, "b")[0].0.get("job"), Some("j"));
}

/// Regression (found side by side with Prometheus 2.42, `tests/tests/agent_compat.rs`): a
/// label exposed with an empty value is absent from the series, but it still counts as
/// exposed, as `lset.Has` does in Prometheus: under `honor_labels` the target's label is not
/// added (the series has no `job`), and an `exported_*` name exposed empty is skipped.
#[test]
fn labels_exposed_empty_still_count_as_exposed() {
    let body = "a{job=\"\",kind=\"k\"} 1\nb{job=\"x\",exported_job=\"\"} 2\n";
    let mut honor = opts();
    honor.honor_labels = true;
    let (_, r, b) = run(
        &mut ScrapeCache::new(),
        &honor,
        &SeriesClock::new(),
        body,
        1000,
    );
    assert_eq!(r, Ok(()));
    assert_eq!(
        find(&b, "a")[0].0,
        Labels::from_pairs([("__name__", "a"), ("instance", "h:1"), ("kind", "k")])
    );
    let (_, r, b) = run(
        &mut ScrapeCache::new(),
        &opts(),
        &SeriesClock::new(),
        body,
        1000,
    );
    assert_eq!(r, Ok(()));
    assert_eq!(
        find(&b, "a")[0].0,
        Labels::from_pairs([
            ("__name__", "a"),
            ("instance", "h:1"),
            ("job", "j"),
            ("kind", "k")
        ])
    );
    assert_eq!(
        find(&b, "b")[0].0,
        Labels::from_pairs([
            ("__name__", "b"),
            ("exported_exported_job", "x"),
            ("instance", "h:1"),
            ("job", "j"),
        ])
    );
}

/// Regression (side by side with Prometheus 2.42): a sample line with leading blanks has
/// them in its name, which fails the scrape, unless metric relabeling drops the series first.
#[test]
fn leading_blanks_fail_the_name_check_unless_relabeling_drops_the_series() {
    let body = "ok 1\n  spaced 2\n";
    let (_, r, _) = run(
        &mut ScrapeCache::new(),
        &opts(),
        &SeriesClock::new(),
        body,
        1000,
    );
    assert!(
        err_text(r).contains("invalid metric name or label names"),
        "an invalid name fails the scrape"
    );
    let mut keep = opts();
    keep.metric_relabel =
        serde_json::from_str(r#"[{"source_labels":["__name__"],"regex":"ok","action":"keep"}]"#)
            .expect("rules");
    let (st, r, b) = run(
        &mut ScrapeCache::new(),
        &keep,
        &SeriesClock::new(),
        body,
        1000,
    );
    assert_eq!(r, Ok(()));
    assert_eq!((st.total, st.added), (2, 1));
    assert_eq!(find(&b, "ok").len(), 1);
}

#[test]
fn staleness_when_series_disappear_and_on_failure() {
    let (mut c, clock) = (ScrapeCache::new(), SeriesClock::new());
    let o = opts();
    assert_eq!(run(&mut c, &o, &clock, "a 1\nb 1\nc 1 5\n", 1000).1, Ok(()));
    let (_, _, b) = run(&mut c, &o, &clock, "a 2\n", 2000);
    let stale: Vec<_> = b.samples.iter().filter(|s| is_stale_nan(s.2)).collect();
    // b went away; c has its own timestamp, so it never gets a marker.
    assert_eq!(stale.len(), 1);
    assert_eq!(stale[0].0.metric_name(), Some("b"));
    assert_eq!(stale[0].1, 2000);
    // A failed scrape (parse error) writes nothing but markers for everything.
    let (st, r, _) = run(&mut c, &o, &clock, "a 3\nbad{ 1\n", 3000);
    assert!(matches!(r, Err(AppendError::Parse(_))), "{r:?}");
    assert_eq!(st.total, 1);
    let (_, r, b) = run(&mut c, &o, &clock, "", 3000);
    assert_eq!(r, Ok(()));
    // `a` was appended before the error, so, as in Prometheus, it counts as present.
    assert!(b.samples.is_empty(), "{:?}", b.samples);
    let (_, _, b) = run(&mut c, &o, &clock, "", 4000);
    assert_eq!(b.samples.len(), 1);
    assert!(is_stale_nan(b.samples[0].2));
    assert_eq!(b.samples[0].0.metric_name(), Some("a"));
}

#[test]
fn duplicates_skipped_and_counted_scrape_succeeds() {
    let (mut c, clock) = (ScrapeCache::new(), SeriesClock::new());
    let (st, r, b) = run(
        &mut c,
        &opts(),
        &clock,
        "a 1\na 2\na{x=\"\"} 3\nb 1\n",
        1000,
    );
    assert_eq!(r, Ok(()));
    assert_eq!(st.duplicates, 2);
    assert_eq!(st.total, 4);
    let a = find(&b, "a");
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].2, 1.0);
}

#[test]
fn out_of_order_and_repeated_explicit_timestamps() {
    let (mut c, clock) = (ScrapeCache::new(), SeriesClock::new());
    let o = opts();
    let (_, _, b) = run(&mut c, &o, &clock, "a 1 5000\n", 10_000);
    assert_eq!(find(&b, "a")[0].1, 5000);
    let (st, _, b) = run(&mut c, &o, &clock, "a 1 5000\n", 20_000);
    assert!(find(&b, "a").is_empty());
    assert_eq!((st.out_of_order, st.duplicate_timestamps), (0, 0));
    let (st, _, _) = run(&mut c, &o, &clock, "a 2 5000\n", 30_000);
    assert_eq!(st.duplicate_timestamps, 1);
    let (st, _, _) = run(&mut c, &o, &clock, "a 2 4000\n", 40_000);
    assert_eq!(st.out_of_order, 1);
    let mut no_ts = opts();
    no_ts.honor_timestamps = false;
    let (_, _, b) = run(
        &mut ScrapeCache::new(),
        &no_ts,
        &clock,
        "z 1 5000\n",
        50_000,
    );
    assert_eq!(find(&b, "z")[0].1, 50_000);
}

#[test]
fn limits_fail_the_scrape_with_prometheus_messages() {
    let body = "a{x=\"1\"} 1\nb{x=\"1\"} 1\nc{x=\"1\"} 1\n";
    let mut o = opts();
    o.sample_limit = 2;
    let (st, r, _) = run(&mut ScrapeCache::new(), &o, &SeriesClock::new(), body, 1);
    assert_eq!(r, Err(AppendError::SampleLimit));
    assert_eq!(err_text(r), "sample limit exceeded");
    assert_eq!(st.total, 3);
    o.sample_limit = 3;
    assert_eq!(
        run(&mut ScrapeCache::new(), &o, &SeriesClock::new(), body, 1).1,
        Ok(())
    );

    let mut o = opts();
    o.label_limit = 3;
    let (_, r, _) = run(&mut ScrapeCache::new(), &o, &SeriesClock::new(), body, 1);
    assert_eq!(
        err_text(r),
        "label_limit exceeded (metric: a, number of labels: 4, limit: 3)"
    );
    let mut o = opts();
    o.label_name_length_limit = 4;
    let (_, r, _) = run(&mut ScrapeCache::new(), &o, &SeriesClock::new(), body, 1);
    assert_eq!(
        err_text(r),
        "label_name_length_limit exceeded (metric: a, label name: __name__, length: 8, limit: 4)"
    );
    let mut o = opts();
    o.label_value_length_limit = 2;
    let (_, r, _) = run(&mut ScrapeCache::new(), &o, &SeriesClock::new(), body, 1);
    assert_eq!(
        err_text(r),
        "label_value_length_limit exceeded (metric: a, label name: instance, value: \"h:1\", length: 3, limit: 2)"
    );
}

#[test]
fn metric_relabeling_drops_and_counts() {
    let mut o = opts();
    o.metric_relabel = serde_json::from_str(
        r#"[{"source_labels":["__name__"],"regex":"drop_.*","action":"drop"},
            {"source_labels":["__name__"],"regex":"nameless","target_label":"__name__","replacement":""}]"#,
    )
    .expect("rules");
    let (mut c, clock) = (ScrapeCache::new(), SeriesClock::new());
    let (st, r, b) = run(&mut c, &o, &clock, "drop_me 1\nkeep 2\n", 1);
    assert_eq!(r, Ok(()));
    assert_eq!((st.total, st.added, st.series_added), (2, 1, 1));
    assert_eq!(b.samples.len(), 1);
    // Cached drop decision and cached series: no new series the second time.
    let (st, _, _) = run(&mut c, &o, &clock, "drop_me 1\nkeep 2\n", 2);
    assert_eq!((st.total, st.added, st.series_added), (2, 1, 0));
    let (_, r, _) = run(&mut c, &o, &clock, "nameless 1\n", 3);
    assert_eq!(r, Err(AppendError::NoName));
}

#[test]
fn openmetrics_exemplars_and_metadata() {
    let body = "# TYPE c counter\n# HELP c Help.\nc_total 1 # {trace_id=\"t\"} 0.5 1.5\n# EOF\n";
    let (mut c, clock) = (ScrapeCache::new(), SeriesClock::new());
    let mut b = Batch::default();
    let (st, r) = append(
        &mut c,
        &opts(),
        &clock,
        body.as_bytes(),
        "application/openmetrics-text; version=1.0.0",
        10_000,
        &mut b,
    );
    assert_eq!(r, Ok(()));
    assert_eq!(st.exemplars, 1);
    assert_eq!(b.exemplars[0].1.t_ms, 1500);
    assert_eq!(b.exemplars[0].1.labels.get("trace_id"), Some("t"));
    assert_eq!(b.metadata.len(), 1);
    assert_eq!(b.metadata[0].kind, MetricType::Counter);
    assert_eq!(b.metadata[0].help, "Help.");
    // Unchanged metadata is not sent again.
    let mut b2 = Batch::default();
    let (_, r) = append(
        &mut c,
        &opts(),
        &clock,
        body.as_bytes(),
        "application/openmetrics-text",
        20_000,
        &mut b2,
    );
    assert_eq!(r, Ok(()));
    assert!(b2.metadata.is_empty());
}

#[test]
fn report_series_carry_target_labels() {
    let clock = SeriesClock::new();
    let mut b = Batch::default();
    let tl = Labels::from_pairs([("instance", "h:1"), ("job", "j")]);
    let r = Report {
        up: 0.0,
        duration_seconds: 0.5,
        scraped: 0,
        post_relabel: 0,
        series_added: 0,
    };
    append_report(&tl, Some(r), &clock, 1000, &mut b);
    let names: Vec<_> = b
        .samples
        .iter()
        .map(|s| s.0.metric_name().unwrap_or_default())
        .collect();
    assert_eq!(
        names,
        [
            UP,
            SCRAPE_DURATION,
            SAMPLES_SCRAPED,
            SAMPLES_POST_RELABEL,
            SERIES_ADDED
        ]
    );
    assert_eq!(
        b.samples[0].0,
        Labels::from_pairs([("__name__", "up"), ("instance", "h:1"), ("job", "j")])
    );
    assert_eq!(b.samples[1].2, 0.5);
}

fn proto_body() -> Vec<u8> {
    use prost::Message as _;
    use strata_exposition::dto;
    let hist = dto::Histogram {
        sample_count: 4,
        sample_sum: 5.0,
        bucket: vec![dto::Bucket {
            cumulative_count: 2,
            upper_bound: 1.0,
            ..Default::default()
        }],
        schema: 0,
        zero_threshold: 0.001,
        zero_count: 1,
        positive_span: vec![dto::BucketSpan {
            offset: 0,
            length: 2,
        }],
        positive_delta: vec![1, 1],
        ..Default::default()
    };
    let fams = [
        dto::MetricFamily {
            name: "h".into(),
            help: "A histogram.".into(),
            r#type: 4,
            metric: vec![dto::Metric {
                histogram: Some(hist),
                ..Default::default()
            }],
            ..Default::default()
        },
        dto::MetricFamily {
            name: "g".into(),
            r#type: 1,
            metric: vec![dto::Metric {
                gauge: Some(dto::Gauge { value: 7.0 }),
                ..Default::default()
            }],
            ..Default::default()
        },
    ];
    let mut out = Vec::new();
    for f in &fams {
        f.encode_length_delimited(&mut out).expect("encode");
    }
    out
}

#[test]
fn protobuf_native_histograms_and_classic_option() {
    const CT: &str = "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited";
    let body = proto_body();
    let (mut c, clock) = (ScrapeCache::new(), SeriesClock::new());
    let mut b = Batch::default();
    let (st, r) = append(&mut c, &opts(), &clock, &body, CT, 1000, &mut b);
    assert_eq!(r, Ok(()));
    assert_eq!((st.total, st.series_added), (2, 2));
    assert_eq!(b.histograms.len(), 1);
    let (labels, t, v, _) = &b.histograms[0];
    assert_eq!(labels.metric_name(), Some("h"));
    assert_eq!(labels.get("job"), Some("j"));
    assert_eq!(*t, 1000);
    match v {
        Value::Histogram(h) => {
            assert_eq!(h.count, 4);
            assert_eq!(h.sum, 5.0);
            assert_eq!(h.zero_count, 1);
        }
        other => panic!("not an integer histogram: {other:?}"),
    }
    assert_eq!(find(&b, "g")[0].2, 7.0);
    assert!(find(&b, "h_bucket").is_empty());
    assert!(b
        .metadata
        .iter()
        .any(|m| m.family == "h" && m.kind == MetricType::Histogram));

    // Gone next scrape: the histogram series gets a (float) stale marker.
    let mut b = Batch::default();
    let (_, r) = append(
        &mut c,
        &opts(),
        &clock,
        b"g 1\n",
        "text/plain",
        2000,
        &mut b,
    );
    assert_eq!(r, Ok(()));
    assert!(find(&b, "h").iter().any(|s| is_stale_nan(s.2)));

    let mut classic = opts();
    classic.always_scrape_classic_histograms = true;
    let mut b = Batch::default();
    let (st, r) = append(
        &mut ScrapeCache::new(),
        &classic,
        &SeriesClock::new(),
        &body,
        CT,
        1000,
        &mut b,
    );
    assert_eq!(r, Ok(()));
    assert_eq!(b.histograms.len(), 1);
    assert_eq!(find(&b, "h_count")[0].2, 4.0);
    assert!(!find(&b, "h_bucket").is_empty());
    assert!(st.total > 2);
}
