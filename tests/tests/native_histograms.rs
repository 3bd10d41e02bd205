//! Native histograms, exemplars and out-of-order samples through the real binary: remote
//! write 2.0 histograms and exemplars are stored (the written-counts headers say so),
//! `query_exemplars` answers in Prometheus's shape, before and after a flush to blocks, and
//! with `-ingester.out-of-order-time-window` late samples are kept and read back merged.

use strata_proto::write_v2 as v2;
use strata_tests::api::{Auth, QueryData};
use strata_tests::fixtures::v2_request;
use strata_tests::write::RawPush;
use strata_tests::{now_ms, Strata};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn histograms_exemplars_and_late_samples_are_stored() {
    strata_tests::e2e(body()).await;
}

async fn body() -> anyhow::Result<()> {
    let strata = Strata::start_with_args(&["-ingester.out-of-order-time-window=1h"]).await?;
    let auth = Auth::org("team-native");
    let base = now_ms() - 60_000;
    let mut req = v2_request(&[
        (
            &[("__name__", "rpc_latency_seconds"), ("job", "e2e")],
            &[],
            None,
        ),
        (
            &[("__name__", "late_metric"), ("job", "e2e")],
            &[(base, 1.0), (base + 20_000, 3.0)],
            None,
        ),
    ]);
    let trace_name = req.symbols.len() as u32;
    req.symbols.push("trace_id".into());
    req.symbols.push("4bf92f3577b34da6".into());
    let h = |t: i64, n: u64| v2::Histogram {
        count: Some(v2::histogram::Count::CountInt(n)),
        sum: n as f64 * 0.25,
        schema: 3,
        zero_threshold: 1e-128,
        zero_count: Some(v2::histogram::ZeroCount::ZeroCountInt(0)),
        positive_spans: vec![v2::BucketSpan {
            offset: 1,
            length: 1,
        }],
        positive_deltas: vec![n as i64],
        timestamp: t,
        ..Default::default()
    };
    req.timeseries[0].histograms = vec![h(base, 2), h(base + 10_000, 5)];
    req.timeseries[0].exemplars = vec![v2::Exemplar {
        labels_refs: vec![trace_name, trace_name + 1],
        value: 0.125,
        timestamp: base + 10_000,
    }];
    let r = strata.push_raw(&auth, RawPush::of_v2(&req)).await?;
    anyhow::ensure!(
        (200..300).contains(&r.status),
        "push: {} {}",
        r.status,
        r.body
    );
    for (header, want) in [
        ("X-Prometheus-Remote-Write-Samples-Written", "2"),
        ("X-Prometheus-Remote-Write-Histograms-Written", "2"),
        ("X-Prometheus-Remote-Write-Exemplars-Written", "1"),
    ] {
        anyhow::ensure!(
            r.header(header) == Some(want),
            "{header}: {:?}",
            r.header(header)
        );
    }
    // Ten seconds late: within the window, so kept.
    let late = v2_request(&[(
        &[("__name__", "late_metric"), ("job", "e2e")],
        &[(base + 10_000, 2.0)],
        None,
    )]);
    let r = strata.push_raw(&auth, RawPush::of_v2(&late)).await?;
    anyhow::ensure!(
        (200..300).contains(&r.status),
        "late push: {} {}",
        r.status,
        r.body
    );

    let api = strata.api(auth.clone());
    let want_exemplars = format!(
        concat!(
            r#"{{"status":"success","data":[{{"seriesLabels":{{"__name__":"rpc_latency_seconds","job":"e2e"}},"#,
            r#""exemplars":[{{"labels":{{"trace_id":"4bf92f3577b34da6"}},"value":"0.125","timestamp":{}}}]}}]}}"#
        ),
        json_ts(base + 10_000)
    );
    let check = |when: &'static str| {
        let api = &api;
        let want_exemplars = &want_exemplars;
        async move {
            let ex = api
                .get_raw(
                    "query_exemplars",
                    &[
                        (
                            "query",
                            "histogram_quantile(0.9, rpc_latency_seconds)".into(),
                        ),
                        ("start", ts(base - 1000)),
                        ("end", ts(base + 60_000)),
                    ],
                )
                .await?;
            anyhow::ensure!(
                ex.status == 200 && ex.body == *want_exemplars,
                "{when}: {}",
                ex.body
            );
            let d = api.query("late_metric[5m]", base + 30_000).await?;
            let QueryData::Matrix(m) = d else {
                anyhow::bail!("{when}: not a matrix: {d:?}");
            };
            let got: Vec<(i64, f64)> = m
                .first()
                .map(|s| s.points.iter().map(|p| (p.t, p.v)).collect())
                .unwrap_or_default();
            let want = vec![(base, 1.0), (base + 10_000, 2.0), (base + 20_000, 3.0)];
            anyhow::ensure!(got == want, "{when}: late_metric {got:?}, want {want:?}");
            Ok(())
        }
    };
    check("in the head").await?;
    let r = reqwest::Client::new()
        .post(strata.url("/ingester/flush"))
        .send()
        .await?;
    anyhow::ensure!(r.status().is_success(), "flush: {}", r.status());
    check("after flush").await?;
    Ok(())
}

/// A millisecond timestamp as a query parameter.
fn ts(t: i64) -> String {
    format!("{}.{:03}", t / 1000, t % 1000)
}

/// A millisecond timestamp as Prometheus writes it in JSON (no fraction when whole).
fn json_ts(t: i64) -> String {
    match t % 1000 {
        0 => (t / 1000).to_string(),
        _ => ts(t),
    }
}
