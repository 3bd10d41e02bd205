//! Remote write 2.0 into Strata: interned symbols, metadata, the samples-written response
//! header, and refusal of requests whose references do not resolve.

use strata_tests::api::{Auth, QueryData};
use strata_tests::fixtures::{v2_request, MetricType};
use strata_tests::write::RawPush;
use strata_tests::{now_ms, Strata};

const HELP: &str = "A gauge pushed over remote write 2.0.";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_write_v2_is_stored_with_metadata() {
    strata_tests::e2e(remote_write_v2_is_stored_with_metadata_body()).await;
}

async fn remote_write_v2_is_stored_with_metadata_body() -> anyhow::Result<()> {
    let strata = Strata::start().await?;
    let auth = Auth::org("team-v2");
    let base = now_ms() - 30_000;
    let a = [(base, 1.5), (base + 1_000, -2.25)];
    let b = [(base + 500, 1e-9)];
    let req = v2_request(&[
        (
            &[
                ("__name__", "rw2_metric"),
                ("instance", "a"),
                ("job", "e2e"),
            ],
            &a,
            Some((MetricType::Gauge, HELP)),
        ),
        (
            &[
                ("__name__", "rw2_metric"),
                ("instance", "b"),
                ("job", "e2e"),
            ],
            &b,
            Some((MetricType::Gauge, HELP)),
        ),
    ]);
    let r = strata.push_raw(&auth, RawPush::of_v2(&req)).await?;
    anyhow::ensure!(
        (200..300).contains(&r.status),
        "v2 push: {} {}",
        r.status,
        r.body
    );
    let written = r.header("X-Prometheus-Remote-Write-Samples-Written");
    anyhow::ensure!(
        written == Some("3"),
        "samples-written header {written:?}, want 3"
    );

    let api = strata.api(auth.clone());
    let d = api.query("rw2_metric[5m]", base + 2_000).await?;
    let QueryData::Matrix(m) = d else {
        anyhow::bail!("not a matrix: {d:?}");
    };
    let mut got: Vec<(String, Vec<(i64, f64)>)> = m
        .iter()
        .map(|s| {
            let inst = s.labels.get("instance").cloned().unwrap_or_default();
            (inst, s.points.iter().map(|p| (p.t, p.v)).collect())
        })
        .collect();
    got.sort_by(|x, y| x.0.cmp(&y.0));
    let want = vec![("a".to_string(), a.to_vec()), ("b".to_string(), b.to_vec())];
    anyhow::ensure!(got == want, "stored {got:?}, want {want:?}");

    let meta = api
        .get_raw("metadata", &[("metric", "rw2_metric".to_string())])
        .await?
        .data()?;
    let entries = meta
        .get("rw2_metric")
        .and_then(|v| v.as_array())
        .ok_or_else(|| anyhow::anyhow!("no metadata for rw2_metric: {meta}"))?;
    anyhow::ensure!(
        entries
            .iter()
            .any(|e| e["type"] == "gauge" && e["help"] == HELP),
        "metadata {entries:?}"
    );

    // References that do not resolve, and an odd number of references.
    let mut bad = v2_request(&[(
        &[("__name__", "rw2_bad"), ("job", "e2e")],
        &[(base, 1.0)],
        None,
    )]);
    bad.timeseries[0].labels_refs[1] = 999;
    let r = strata.push_raw(&auth, RawPush::of_v2(&bad)).await?;
    anyhow::ensure!(
        r.status == 400,
        "dangling symbol ref: {} {}",
        r.status,
        r.body
    );
    let mut odd = v2_request(&[(
        &[("__name__", "rw2_bad"), ("job", "e2e")],
        &[(base, 1.0)],
        None,
    )]);
    odd.timeseries[0].labels_refs.pop();
    let r = strata.push_raw(&auth, RawPush::of_v2(&odd)).await?;
    anyhow::ensure!(r.status == 400, "odd label refs: {} {}", r.status, r.body);
    let stored = api
        .series(&["rw2_bad"], base - 60_000, base + 60_000)
        .await?;
    anyhow::ensure!(stored.is_empty(), "refused series were stored: {stored:?}");
    Ok(())
}
