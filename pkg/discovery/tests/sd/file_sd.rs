//! File SD against files in a temp dir.

use std::time::Duration;

use strata_discovery::file::FileDiscovery;
use strata_promconfig::sd::FileSdConfig;

use crate::common::{addresses, ctx, Collector};

fn write(path: &std::path::Path, body: &str) {
    // Write then rename, as tools generating SD files do, so a reader never sees half a file.
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, body).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

#[tokio::test]
async fn reads_json_and_yaml_by_glob_watches_changes_and_keeps_last_good_on_errors() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("tg_a.json");
    let b = dir.path().join("tg_b.yml");
    write(
        &a,
        r#"[{"targets": ["a1:9100", "a2:9100"], "labels": {"env": "prod"}}, {"targets": ["a3:9100"]}]"#,
    );
    write(&b, "- targets: ['b1:80']\n  labels:\n    team: x\n");
    std::fs::write(dir.path().join("other.json"), "[]").unwrap();
    let cfg = FileSdConfig {
        files: vec![
            format!("{}/tg_*.json", dir.path().display()),
            format!("{}/tg_*.yml", dir.path().display()),
        ],
        refresh_interval: Duration::from_secs(300),
    };
    let c = ctx();
    let metrics = c.metrics.clone();
    let d = FileDiscovery::new(&cfg, &c).unwrap();
    let (sink, mut col) = Collector::new();
    let task = tokio::spawn(d.run(sink));

    let src_a0 = format!("{}:0", a.display());
    let src_a1 = format!("{}:1", a.display());
    let src_b0 = format!("{}:0", b.display());
    col.until("both files", |g| g.len() == 3).await;
    let g = &col.groups[&src_a0];
    assert_eq!(addresses(g), vec!["a1:9100", "a2:9100"]);
    assert_eq!(g.labels["env"], "prod");
    assert_eq!(g.labels["__meta_filepath"], a.display().to_string());
    assert_eq!(col.groups[&src_b0].labels["team"], "x");
    assert_eq!(
        col.groups[&src_b0].labels["__meta_filepath"],
        b.display().to_string()
    );

    // A change is picked up by the mtime poll, long before refresh_interval; the file now has
    // one group, so its second group goes away.
    write(&a, r#"[{"targets": ["a9:9100"]}]"#);
    col.until("changed file", |g| {
        g.get(&src_a0).map(addresses) == Some(vec!["a9:9100".into()]) && !g.contains_key(&src_a1)
    })
    .await;

    // A broken file keeps the last good groups and counts an error.
    write(&a, "[{not json");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while metrics.file_read_errors.get() == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "read error never counted"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    col.settle(Duration::from_millis(200)).await;
    assert_eq!(addresses(&col.groups[&src_a0]), vec!["a9:9100"]);
    assert_eq!(
        metrics.file_read_errors.get(),
        1,
        "an unchanged broken file is not re-read and re-counted"
    );

    // A new matching file appears; a removed file's groups go away.
    let c2 = dir.path().join("tg_c.json");
    write(&c2, r#"[{"targets": ["c1:1"]}]"#);
    std::fs::remove_file(&b).unwrap();
    let src_c0 = format!("{}:0", c2.display());
    col.until("new file and removed file", |g| {
        g.contains_key(&src_c0) && !g.contains_key(&src_b0)
    })
    .await;
    task.abort();
}

#[test]
fn rejects_patterns_prometheus_rejects() {
    let c = ctx();
    for bad in ["/a/*/b.json", "/a/b.txt", "/a/**.json"] {
        let cfg = FileSdConfig {
            files: vec![bad.into()],
            refresh_interval: Duration::from_secs(5),
        };
        assert!(FileDiscovery::new(&cfg, &c).is_err(), "{bad} accepted");
    }
}
