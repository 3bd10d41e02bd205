//! Blocks through the ingester: `flush`, the background cutter, reads of head and blocks
//! over gRPC, and quarantine at restart.

use std::sync::Arc;

use prometheus_client::registry::Registry;
use strata_model::TenantId;
use strata_proto::ingester::ingester_client::IngesterClient;
use strata_proto::ingester::{LabelValuesRequest, PushRequest, QueryRequest, SampleErrorKind};
use strata_proto::prometheus as pb;
use tonic::transport::Channel;

use crate::tests::{decode, eq, metrics_text, series, start_in, Fixture};
use crate::{push, Ingester, IngesterConfig};

const TWO_H: i64 = 2 * 3600 * 1000;

async fn stream_all(client: &mut IngesterClient<Channel>, tenant: &str) -> Vec<pb::ChunkedSeries> {
    let mut stream = client
        .query_stream(QueryRequest {
            tenant: tenant.into(),
            start_ms: 0,
            end_ms: i64::MAX,
            matchers: vec![eq("__name__", "up")],
        })
        .await
        .expect("query")
        .into_inner();
    let mut got = Vec::new();
    while let Some(msg) = stream.message().await.expect("stream message") {
        got.extend(msg.series);
    }
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flush_cuts_blocks_that_queries_and_restarts_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().to_path_buf();
    let old: Vec<(i64, f64)> = (0..300).map(|i| (i * 60_000, i as f64)).collect();
    let want_old: Vec<(i64, u64)> = old.iter().map(|&(t, v)| (t, v.to_bits())).collect();
    let last = old.last().expect("samples").0;
    let mut f = start_in(dir).await;
    {
        f.client
            .push(PushRequest {
                tenant: "t1".into(),
                timeseries: vec![series(&[("__name__", "up"), ("job", "a")], &old)],
                metadata: vec![],
            })
            .await
            .expect("push");
        let stats = f.ingester.flush().await.expect("flush");
        let blocks: usize = stats.iter().map(|(_, s)| s.blocks.len()).sum();
        assert_eq!(blocks, 3, "5h of samples from 0 span three 2h ranges");
        assert_eq!(
            f.ingester
                .db()
                .blocks(&TenantId::new("t1").expect("tenant"))
                .len(),
            3
        );
        // Too old now; newer samples go to the head and are read with the blocks.
        let resp = f
            .client
            .push(PushRequest {
                tenant: "t1".into(),
                timeseries: vec![series(
                    &[("__name__", "up"), ("job", "a")],
                    &[(last, 1.0), (3 * TWO_H, 2.0)],
                )],
                metadata: vec![],
            })
            .await
            .expect("push")
            .into_inner();
        assert_eq!((resp.samples_appended, resp.samples_rejected), (1, 1));
        assert_eq!(resp.errors[0].kind, SampleErrorKind::TooOld as i32);
        let got = stream_all(&mut f.client, "t1").await;
        assert_eq!(got.len(), 1);
        let samples: Vec<(i64, u64)> = got[0].chunks.iter().flat_map(decode).collect();
        let mut want = want_old.clone();
        want.push((3 * TWO_H, 2.0f64.to_bits()));
        assert_eq!(samples, want);
        let names = f
            .client
            .label_values(LabelValuesRequest {
                tenant: "t1".into(),
                name: "job".into(),
                start_ms: 0,
                end_ms: TWO_H,
                matchers: vec![],
                limit: 0,
            })
            .await
            .expect("label values")
            .into_inner();
        assert_eq!(names.values, vec!["a"]);
        let text = metrics_text(&f.registry);
        assert!(
            text.contains("strata_ingester_blocks_cut_total 3"),
            "{text}"
        );
    }
    let Fixture { ingester, _dir, .. } = f;
    drop(ingester);
    // Damage one block: it is quarantined at restart, counted, and the rest are served.
    let tenant_dir = path.join("tsdb").join("t1");
    let mut blocks: Vec<std::path::PathBuf> = std::fs::read_dir(&tenant_dir)
        .expect("tenant dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.join("meta.json").exists())
        .collect();
    blocks.sort();
    std::fs::write(blocks[0].join("meta.json"), b"{").expect("damage meta.json");
    let moved = path.clone();
    let mut registry = Registry::default();
    let ing = Ingester::new(IngesterConfig::default(), &moved, &mut registry).expect("reopen");
    assert_eq!(ing.db().block_load_stats().quarantined, 1);
    assert_eq!(
        ing.db().blocks(&TenantId::new("t1").expect("tenant")).len(),
        2
    );
    assert!(moved
        .join("tsdb/t1")
        .join(strata_tsdb::QUARANTINE_DIR)
        .join(blocks[0].file_name().expect("name"))
        .exists());
    let text = metrics_text(&registry);
    assert!(
        text.contains("strata_ingester_blocks_quarantined_total 1"),
        "{text}"
    );
    drop(_dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn background_cutter_cuts_old_ranges() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut registry = Registry::default();
    let cfg = IngesterConfig {
        block_cut_interval: std::time::Duration::from_millis(20),
        ..IngesterConfig::default()
    };
    let ing = Arc::new(Ingester::new(cfg, dir.path(), &mut registry).expect("open"));
    // 10 hours: the three ranges in [0, 6h) ended 1.5 ranges (3h) before the newest sample.
    let samples: Vec<(i64, f64)> = (0..600).map(|i| (i * 60_000, i as f64)).collect();
    push::push(
        ing.db(),
        &ing.metrics,
        PushRequest {
            tenant: "t1".into(),
            timeseries: vec![series(&[("__name__", "up")], &samples)],
            metadata: vec![],
        },
    )
    .await
    .expect("push");
    ing.start_block_cutter();
    let t1 = TenantId::new("t1").expect("tenant");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while ing.db().blocks(&t1).len() < 3 {
        assert!(
            std::time::Instant::now() < deadline,
            "background cutter wrote {} blocks",
            ing.db().blocks(&t1).len()
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let ranges: Vec<(i64, i64)> = ing
        .db()
        .blocks(&t1)
        .iter()
        .map(|b| (b.meta().min_time, b.meta().max_time))
        .collect();
    assert_eq!(
        ranges,
        vec![(0, TWO_H), (TWO_H, 2 * TWO_H), (2 * TWO_H, 3 * TWO_H)]
    );
    // The newest ranges stay in the head; every sample is still read once.
    let q = ing.db().querier(&t1, 0, i64::MAX);
    let got = q.select_series(0, i64::MAX, &[]).expect("select");
    assert_eq!(got[0].samples().expect("decode").len(), 600);
}
