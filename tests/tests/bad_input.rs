//! Strata refuses bad pushes and queries with the right status codes, stores nothing from a
//! refused series, keeps the valid series of a partly bad request, and stops on SIGTERM.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::time::Duration;

use strata_proto::prometheus::WriteRequest;
use strata_tests::api::{Auth, QueryData, RawReply};
use strata_tests::fixtures::{
    not_snappy, series, snappy_declaring, snappy_of_garbage, truncated_protobuf, write_request,
};
use strata_tests::write::RawPush;
use strata_tests::{now_ms, Strata, TimestampMs};

const METRIC: &str = "bad_input_total";
const STALE_NAN: f64 = f64::from_bits(0x7ff0_0000_0000_0002);

/// One checked exchange.
struct Check {
    name: String,
    want: String,
    /// The status, or `None` for a fact checked without a request.
    got: Option<u16>,
    body: String,
    ok: bool,
}

#[derive(Default)]
struct Checks(Vec<Check>);

impl Checks {
    /// Records `reply` against the wanted status (`None`: any 2xx) and, if given, a phrase
    /// the body must contain.
    fn expect(&mut self, name: &str, reply: &RawReply, status: Option<u16>, phrase: Option<&str>) {
        let status_ok = match status {
            Some(s) => reply.status == s,
            None => (200..300).contains(&reply.status),
        };
        let phrase_ok = phrase.is_none_or(|p| reply.body.contains(p));
        let mut want = status.map_or("2xx".to_string(), |s| s.to_string());
        if let Some(p) = phrase {
            let _ = write!(want, " {p:?}");
        }
        self.0.push(Check {
            name: name.to_string(),
            want,
            got: Some(reply.status),
            body: one_line(&reply.body),
            ok: status_ok && phrase_ok,
        });
    }

    fn fact(&mut self, name: &str, ok: bool, detail: String) {
        self.0.push(Check {
            name: name.to_string(),
            want: "holds".into(),
            got: None,
            body: one_line(&detail),
            ok,
        });
    }

    fn report(&self) -> anyhow::Result<()> {
        let mut out = String::new();
        for c in &self.0 {
            let _ = writeln!(
                out,
                "{:<4} {:<44} want {:<38} got {:<4} {}",
                if c.ok { "ok" } else { "FAIL" },
                c.name,
                c.want,
                c.got.map_or("-".to_string(), |s| s.to_string()),
                c.body
            );
        }
        println!("{out}");
        let failed: Vec<_> = self
            .0
            .iter()
            .filter(|c| !c.ok)
            .map(|c| c.name.as_str())
            .collect();
        if failed.is_empty() {
            Ok(())
        } else {
            anyhow::bail!("{} check(s) failed: {}", failed.len(), failed.join(", "))
        }
    }
}

fn one_line(s: &str) -> String {
    s.chars().take(200).collect::<String>().replace('\n', " ")
}

fn one(case: &str, extra: &[(&str, &str)], samples: &[(TimestampMs, f64)]) -> WriteRequest {
    let mut labels = vec![("__name__", METRIC), ("case", case), ("job", "e2e")];
    labels.extend_from_slice(extra);
    write_request(vec![series(&labels, samples)])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_and_nothing_invalid_is_stored() {
    strata_tests::e2e(bad_input_is_refused_and_nothing_invalid_is_stored_body()).await;
}

async fn bad_input_is_refused_and_nothing_invalid_is_stored_body() -> anyhow::Result<()> {
    let mut strata = Strata::start().await?;
    let tenant = Auth::org("team-bad");
    let now = now_ms();
    let base = now - 60_000;
    let mut c = Checks::default();

    // Bodies that do not decode.
    let r = strata.push_raw(&tenant, RawPush::v1(not_snappy())).await?;
    c.expect("not snappy", &r, Some(400), None);
    let r = strata
        .push_raw(&tenant, RawPush::v1(snappy_of_garbage()))
        .await?;
    c.expect("snappy of garbage", &r, Some(400), None);
    let r = strata
        .push_raw(
            &tenant,
            RawPush::v1(truncated_protobuf(&one("truncated", &[], &[(base, 1.0)]))),
        )
        .await?;
    c.expect("truncated protobuf", &r, Some(400), None);
    let mut p = RawPush::of(&one("json", &[], &[(base, 1.0)]));
    p.content_type = Some("application/json".into());
    let r = strata.push_raw(&tenant, p).await?;
    c.expect("content type application/json", &r, Some(415), None);
    let mut p = RawPush::of(&one("gzip", &[], &[(base, 1.0)]));
    p.content_encoding = Some("gzip".into());
    let r = strata.push_raw(&tenant, p).await?;
    c.expect("content encoding gzip", &r, Some(415), None);
    let r = strata
        .push_raw(&tenant, RawPush::v1(snappy_declaring(u32::MAX)))
        .await?;
    c.expect("snappy header declaring 4 GiB", &r, Some(413), None);
    let r = strata.push_raw(&tenant, RawPush::v1(Vec::new())).await?;
    c.expect("empty body", &r, Some(400), None);

    // Series that decode but are invalid.
    let no_name = write_request(vec![series(
        &[("case", "no_name"), ("job", "e2e")],
        &[(base, 1.0)],
    )]);
    let r = strata.push(&tenant, &no_name).await?;
    c.expect("series without a name", &r, Some(400), None);
    let r = strata
        .push(
            &tenant,
            &one("bad_label_name", &[("0bad-name", "x")], &[(base, 1.0)]),
        )
        .await?;
    c.expect("invalid label name", &r, Some(400), None);
    let r = strata
        .push(
            &tenant,
            &one("dup_label", &[("zz", "a"), ("zz", "b")], &[(base, 1.0)]),
        )
        .await?;
    c.expect("duplicate label name", &r, Some(400), None);
    let names: Vec<String> = (0..28).map(|i| format!("l{i:02}")).collect();
    let many: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "v")).collect();
    let req = one("many_labels", &many, &[(base, 1.0)]);
    assert_eq!(req.timeseries[0].labels.len(), 31);
    let r = strata.push(&tenant, &req).await?;
    c.expect("31 labels", &r, Some(400), None);
    let long = "x".repeat(3000);
    let r = strata
        .push(
            &tenant,
            &one("long_value", &[("long", &long)], &[(base, 1.0)]),
        )
        .await?;
    c.expect("3000-byte label value", &r, Some(400), None);
    let r = strata
        .push(&tenant, &one("future", &[], &[(now + 3_600_000, 1.0)]))
        .await?;
    c.expect("timestamp an hour ahead", &r, Some(400), None);

    // Ordering and duplicates: the first push is stored, the second refused.
    let r = strata
        .push(&tenant, &one("ooo", &[], &[(base + 10_000, 1.0)]))
        .await?;
    c.expect("in-order sample", &r, None, None);
    let r = strata
        .push(&tenant, &one("ooo", &[], &[(base, 2.0)]))
        .await?;
    c.expect(
        "out-of-order sample",
        &r,
        Some(400),
        Some("out of order sample"),
    );
    let r = strata
        .push(&tenant, &one("dup_ts", &[], &[(base + 10_000, 1.0)]))
        .await?;
    c.expect("first sample at a timestamp", &r, None, None);
    let r = strata
        .push(&tenant, &one("dup_ts", &[], &[(base + 10_000, 3.0)]))
        .await?;
    c.expect(
        "same timestamp, another value",
        &r,
        Some(400),
        Some("duplicate sample for timestamp"),
    );

    // NaN and stale markers, sent twice: a resent sample at a series' latest timestamp with
    // the same bits is not an error, NaN included (NaN != NaN as floats). Each series holds
    // one sample per batch: resending older samples of a series would be "out of order", as
    // in Prometheus's TSDB.
    let r = strata
        .push(&tenant, &one("stale", &[], &[(base, 1.0)]))
        .await?;
    c.expect("a sample before the stale marker", &r, None, None);
    let mut batch = one("nan", &[], &[(base + 1_000, f64::NAN)]);
    batch
        .timeseries
        .extend(one("stale", &[], &[(base + 2_000, STALE_NAN)]).timeseries);
    let r = strata.push(&tenant, &batch).await?;
    c.expect("NaN and stale batch", &r, None, None);
    let r = strata.push(&tenant, &batch).await?;
    c.expect("NaN and stale batch again", &r, None, None);

    // A request mixing a valid and an invalid series.
    let mut mixed = one("mixed_valid", &[], &[(base + 5_000, 42.0)]);
    mixed.timeseries.push(series(
        &[("case", "mixed_invalid"), ("job", "e2e")],
        &[(base + 5_000, 1.0)],
    ));
    let r = strata.push(&tenant, &mixed).await?;
    c.expect("mixed valid and invalid series", &r, Some(400), None);

    // Tenant ids on push and on query.
    let valid = one("tenant", &[], &[(base, 1.0)]);
    let long_tenant = "t".repeat(151);
    for (name, auth, status) in [
        ("tenant a/b", Auth::org("a/b"), 400),
        ("tenant of 151 chars", Auth::org(&long_tenant), 400),
        ("tenant ..", Auth::org(".."), 400),
        ("no tenant", Auth::None, 401),
    ] {
        let r = strata.push(&auth, &valid).await?;
        c.expect(&format!("push, {name}"), &r, Some(status), None);
        let r = strata.api(auth).query_raw("up", now).await?;
        c.expect(&format!("query, {name}"), &r, Some(status), None);
    }

    // Query errors.
    let api = strata.api(tenant.clone());
    let r = api.query_raw("sum(rate(x[5m])", now).await?;
    c.expect("PromQL syntax error", &r, Some(400), Some("\"bad_data\""));
    let r = api.query_range_raw("up", now - 60_000, now, 0).await?;
    c.expect("query_range step 0", &r, Some(400), Some("\"bad_data\""));
    let r = api.query_range_raw("up", now, now - 60_000, 1_000).await?;
    c.expect(
        "query_range end before start",
        &r,
        Some(400),
        Some("\"bad_data\""),
    );

    // What was stored: exactly the valid series, with their first values.
    let stored = api
        .series(&["{case=~\".+\"}"], now - 3_600_000, now + 7_200_000)
        .await;
    match stored {
        Ok(s) => {
            let cases: BTreeSet<String> = s.iter().filter_map(|l| l.get("case").cloned()).collect();
            let want: BTreeSet<String> = ["dup_ts", "mixed_valid", "nan", "ooo", "stale"]
                .iter()
                .map(|s| s.to_string())
                .collect();
            c.fact(
                "stored cases are the valid ones",
                cases == want,
                format!("{cases:?}"),
            );
        }
        Err(e) => c.fact("stored cases are the valid ones", false, format!("{e:#}")),
    }
    for (case, want) in [
        ("ooo", vec![(base + 10_000, 1.0)]),
        ("dup_ts", vec![(base + 10_000, 1.0)]),
        ("mixed_valid", vec![(base + 5_000, 42.0)]),
        ("nan", vec![(base + 1_000, f64::NAN)]),
        // The stale marker ends the series but is never a visible sample.
        ("stale", vec![(base, 1.0)]),
    ] {
        let q = format!("{METRIC}{{case=\"{case}\"}}[10m]");
        let got = api.query(&q, now).await;
        let ok = match &got {
            Ok(QueryData::Matrix(m)) if m.len() == 1 => {
                let pts: Vec<(i64, f64)> = m[0].points.iter().map(|p| (p.t, p.v)).collect();
                pts.len() == want.len()
                    && pts
                        .iter()
                        .zip(&want)
                        .all(|(a, b)| a.0 == b.0 && (a.1 == b.1 || (a.1.is_nan() && b.1.is_nan())))
            }
            _ => false,
        };
        let detail = match &got {
            Ok(d) => format!("{d:?}"),
            Err(e) => format!("{e:#}"),
        };
        c.fact(&format!("samples of {case}"), ok, detail);
    }

    let q = format!("{METRIC}{{case=\"stale\"}}");
    let before = api.query(&q, base + 1_500).await;
    let after = api.query(&q, base + 2_500).await;
    c.fact(
        "a stale marker hides the series from later instant queries",
        matches!((&before, &after), (Ok(b), Ok(a)) if b.series_count() == 1 && a.is_empty()),
        format!("before: {before:?}, after: {after:?}"),
    );

    let r = strata.get("/metrics").await?;
    c.expect("GET /metrics", &r, Some(200), None);
    let body_len = r.body.len();
    c.fact(
        "metrics page is not empty",
        body_len > 0,
        format!("{body_len} bytes"),
    );

    let (status, graceful) = strata.process.stop(Duration::from_secs(10))?;
    c.fact(
        "SIGTERM stops Strata cleanly within 10 s",
        graceful && status.success(),
        format!("{status}, graceful: {graceful}"),
    );
    c.report()
}
