//! The binary's start-up contract: `-config.check`, errors that name the key or flag at
//! fault, `-help` with every flag and its default, `-version`, flags laid over the file,
//! and the effective config on `/config`.

use std::process::Command;

use strata_tests::Strata;

fn run(args: &[&str]) -> (i32, String, String) {
    let bin = Strata::binary().expect("strata binary");
    let out = Command::new(bin).args(args).output().expect("run strata");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn config_file(yaml: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("strata.yaml");
    std::fs::write(&path, yaml).expect("write config");
    let p = path.display().to_string();
    (dir, p)
}

#[test]
fn config_check_accepts_a_valid_file() {
    let (_d, f) = config_file("server:\n  http_listen_port: 18081\nquerier:\n  timeout: 30s\n");
    let (code, out, err) = run(&["-config.check", &format!("-config.file={f}")]);
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    assert!(out.contains("configuration is valid"), "{out}");
}

#[test]
fn unknown_key_fails_naming_it() {
    let (_d, f) = config_file("server:\n  http_listen_prot: 1\n");
    let (code, _, err) = run(&["-config.check", &format!("-config.file={f}")]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("server") && err.contains("http_listen_prot"),
        "{err}"
    );
}

#[test]
fn bad_value_fails_naming_the_key() {
    let (_d, f) = config_file("querier:\n  timeout: soon\n");
    let (code, _, err) = run(&["-config.check", &format!("-config.file={f}")]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("querier.timeout"), "{err}");
    let (code, _, err) = run(&["-config.check", "-target=compactor"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("target") && err.contains("compactor"), "{err}");
}

#[test]
fn bad_and_unknown_flags_fail_naming_the_flag() {
    let (code, _, err) = run(&["-server.http-listen-port=eighty"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("-server.http-listen-port"), "{err}");
    let (code, _, err) = run(&["-no.such-flag=1"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("-no.such-flag"), "{err}");
}

#[test]
fn help_lists_every_flag_with_its_default() {
    let (code, out, _) = run(&["-help"]);
    assert_eq!(code, 0);
    for (flag, default) in [
        ("-target string", "(default \"all\")"),
        ("-server.http-listen-port int", "(default 8080)"),
        ("-server.grpc-listen-port int", "(default 9095)"),
        ("-data.dir string", "(default \"./data\")"),
        ("-auth.multitenancy-enabled", "(default true)"),
        ("-log.format string", "(default \"logfmt\")"),
        ("-querier.timeout duration", "(default \"2m\")"),
    ] {
        let line = out.lines().position(|l| l.trim_start().starts_with(flag));
        let Some(i) = line else {
            panic!("-help does not list {flag}:\n{out}");
        };
        let help = out.lines().nth(i + 1).unwrap_or_default();
        assert!(help.contains(default), "{flag}: {help}");
    }
    let (code, out, _) = run(&["-version"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("strata, version "), "{out}");
}

#[tokio::test]
async fn flags_override_the_file_and_config_shows_the_result() {
    let (_d, f) = config_file("querier:\n  timeout: 30s\n  max_samples: 1000\n");
    let s = Strata::start_with_args(&[&format!("-config.file={f}"), "-querier.timeout=7s"])
        .await
        .expect("start strata");
    let cfg = s.get("/config").await.expect("GET /config");
    assert_eq!(cfg.status, 200);
    assert!(cfg.body.contains("timeout: 7s"), "{}", cfg.body);
    assert!(cfg.body.contains("max_samples: 1000"), "{}", cfg.body);
    let services = s.get("/services").await.expect("GET /services");
    for c in [
        "distributor: Running",
        "ingester: Running",
        "querier: Running",
    ] {
        assert!(services.body.contains(c), "{}", services.body);
    }
}
