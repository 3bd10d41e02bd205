//! Durability of the ingester: concurrent pushes, restarts replaying the WAL with shared
//! fsyncs, WAL configuration, storage errors as `Unavailable`, and a full disk.

use prometheus_client::registry::Registry;
use strata_proto::ingester::PushRequest;
use strata_proto::prometheus as pb;

use super::tests::{metrics_text, serde_json_like, series, start, start_in, Fixture};
use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_pushes_are_all_stored() {
    let f = start().await;
    let tasks: Vec<_> = (0..8)
        .map(|w| {
            let mut client = f.client.clone();
            tokio::spawn(async move {
                for step in 0..50i64 {
                    let ts: Vec<pb::TimeSeries> = (0..20)
                        .map(|s| {
                            series(
                                &[
                                    ("__name__", "m"),
                                    ("s", &s.to_string()),
                                    ("w", &w.to_string()),
                                ],
                                &[(step * 1000, step as f64)],
                            )
                        })
                        .chain(std::iter::once(series(
                            &[("__name__", "shared")],
                            &[(step * 1000, 0.0)],
                        )))
                        .collect();
                    let resp = client
                        .push(PushRequest {
                            tenant: "t".into(),
                            timeseries: ts,
                            metadata: vec![],
                        })
                        .await
                        .expect("push")
                        .into_inner();
                    assert!(resp.samples_appended >= 20);
                    // The shared series may be refused as out of order by a racing push; the
                    // same-timestamp, same-value write from another worker is accepted.
                    assert_eq!(resp.samples_appended + resp.samples_rejected, 21);
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("push task");
    }
    let head = f
        .ingester
        .db()
        .head(&strata_model::TenantId::new("t").expect("tenant"))
        .expect("head");
    assert_eq!(head.num_series(), 8 * 20 + 1);
    let s = head
        .series_by_labels(&strata_model::Labels::from_pairs([
            ("__name__", "m"),
            ("s", "7"),
            ("w", "3"),
        ]))
        .expect("series");
    let n: usize = s
        .chunks(i64::MIN, i64::MAX)
        .iter()
        .map(|c| c.chunk.num_samples() as usize)
        .sum();
    assert_eq!(n, 50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushes_survive_a_restart_and_share_fsyncs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().to_path_buf();
    let mut f = start_in(dir).await;
    let tasks: Vec<_> = (0..16)
        .map(|w| {
            let mut client = f.client.clone();
            tokio::spawn(async move {
                for step in 0..10i64 {
                    client
                        .push(PushRequest {
                            tenant: format!("tenant-{}", w % 3),
                            timeseries: vec![series(
                                &[("__name__", "m"), ("w", &w.to_string())],
                                &[(step * 1000, step as f64)],
                            )],
                            metadata: vec![],
                        })
                        .await
                        .expect("push");
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("push task");
    }
    f.client
        .push(PushRequest {
            tenant: "tenant-0".into(),
            timeseries: vec![],
            metadata: vec![pb::MetricMetadata {
                r#type: pb::metric_metadata::MetricType::Counter as i32,
                metric_family_name: "m".into(),
                help: "help text".into(),
                unit: String::new(),
            }],
        })
        .await
        .expect("metadata push");
    let text = metrics_text(&f.registry);
    let fsyncs: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix("strata_ingester_wal_fsyncs_total "))
        .and_then(|v| v.trim().parse().ok())
        .expect("fsync counter");
    eprintln!("16 concurrent gRPC pushers, 161 pushes: {fsyncs} fsyncs");
    assert!((1.0..=161.0).contains(&fsyncs), "{text}");
    assert!(
        text.contains("strata_ingester_wal_fsync_duration_seconds_count"),
        "{text}"
    );
    let before: Vec<_> = f.ingester.db().series_per_tenant();
    let Fixture { ingester, _dir, .. } = f;
    drop(ingester);

    let mut registry = Registry::default();
    let again = Ingester::new(IngesterConfig::default(), &path, &mut registry).expect("reopen");
    assert_eq!(again.db().series_per_tenant(), before);
    let head = again
        .db()
        .head(&strata_model::TenantId::new("tenant-1").expect("tenant"))
        .expect("head");
    let s = head
        .series_by_labels(&strata_model::Labels::from_pairs([
            ("__name__", "m"),
            ("w", "4"),
        ]))
        .expect("series");
    let n: usize = s
        .chunks(i64::MIN, i64::MAX)
        .iter()
        .map(|c| usize::from(c.chunk.num_samples()))
        .sum();
    assert_eq!(n, 10);
    let md = again
        .db()
        .head(&strata_model::TenantId::new("tenant-0").expect("tenant"))
        .expect("head")
        .metadata()
        .get(Some("m"), None);
    assert_eq!(md.len(), 1);
    let text = metrics_text(&registry);
    assert!(
        text.contains("strata_ingester_wal_replay_records_total"),
        "{text}"
    );
    assert!(
        !text.contains("strata_ingester_wal_replay_records_total 0"),
        "{text}"
    );
    assert!(
        text.contains("strata_ingester_wal_corruptions_total 0"),
        "{text}"
    );
    drop(_dir);
}

#[test]
fn wal_keys_configure_the_directory() {
    let cfg: IngesterConfig = serde_json_like("wal_segment_size", 65536);
    assert_eq!(cfg.wal_segment_size, 65536);
    let d = std::path::Path::new("/data");
    assert_eq!(IngesterConfig::default().wal_dir(d), d.join("wal"));
    let cfg = IngesterConfig {
        wal_dir: "/elsewhere".into(),
        ..Default::default()
    };
    assert_eq!(cfg.wal_dir(d), std::path::PathBuf::from("/elsewhere"));
    // A segment size that is not a page multiple fails start-up with the directory named.
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = IngesterConfig {
        wal_segment_size: 1000,
        ..Default::default()
    };
    let err = match Ingester::new(cfg, dir.path(), &mut Registry::default()) {
        Ok(_) => panic!("bad segment size accepted"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("segment size") && err.contains("wal"), "{err}");
}

#[test]
fn storage_errors_are_unavailable() {
    let e = IngesterError::Storage(strata_tsdb::DbError::Wal(strata_wal_closed()));
    assert_eq!(tonic::Status::from(e).code(), tonic::Code::Unavailable);
}

fn strata_wal_closed() -> strata_tsdb::WalError {
    strata_tsdb::WalError::Closed
}

/// A small tmpfs on a fresh directory, if this process may mount; unmounted on drop.
struct SmallFs {
    dir: tempfile::TempDir,
}

impl SmallFs {
    fn mount(size: &str) -> Option<Self> {
        let dir = tempfile::tempdir().ok()?;
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .stderr(std::process::Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        ok.then_some(Self { dir })
    }
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(self.dir.path())
            .status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disk_full_fails_the_push_as_unavailable_and_recovers() {
    let Some(fs) = SmallFs::mount("1m") else {
        eprintln!("skipping: cannot mount a tmpfs here");
        return;
    };
    let path = fs.dir.path().to_path_buf();
    let cfg = IngesterConfig {
        wal_segment_size: 128 * 1024,
        ..Default::default()
    };
    let mut registry = Registry::default();
    let ingester = Ingester::new(cfg.clone(), &path, &mut registry).expect("open");
    let one = |t: i64| PushRequest {
        tenant: "t".into(),
        timeseries: vec![series(&[("__name__", "m")], &[(t, t as f64)])],
        metadata: vec![],
    };
    use strata_proto::ingester::ingester_server::Ingester as _;
    ingester
        .push(tonic::Request::new(one(1)))
        .await
        .expect("first push");
    let filler = path.join("filler");
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&filler).expect("filler");
        let block = vec![1u8; 64 * 1024];
        while f.write_all(&block).is_ok() {}
    }
    let big = PushRequest {
        tenant: "t".into(),
        timeseries: vec![series(
            &[("__name__", "m")],
            &(2..20_000).map(|t| (t, 1.0)).collect::<Vec<_>>(),
        )],
        metadata: vec![],
    };
    let err = ingester
        .push(tonic::Request::new(big))
        .await
        .expect_err("disk is full");
    assert_eq!(err.code(), tonic::Code::Unavailable, "{err}");
    assert!(metrics_text(&registry).contains("strata_ingester_wal_write_failures_total 1"));
    std::fs::remove_file(&filler).expect("free space");
    ingester
        .push(tonic::Request::new(one(30_000)))
        .await
        .expect("push after space is back");
    drop(ingester);
    let again = Ingester::new(cfg, &path, &mut Registry::default()).expect("reopen");
    let head = again
        .db()
        .head(&strata_model::TenantId::new("t").expect("tenant"))
        .expect("head");
    let s = head
        .series_by_labels(&strata_model::Labels::from_pairs([("__name__", "m")]))
        .expect("series");
    assert_eq!(s.min_time(), 1);
    assert_eq!(s.max_time(), 30_000);
}
