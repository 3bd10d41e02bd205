//! Strata accepts exactly the configurations Prometheus accepts.
//!
//! `testdata/promtool-{valid,invalid}/` hold configurations Prometheus 2.42 knows the keys
//! of: each is checked with Debian's `promtool check config --syntax-only` (skipped with a
//! message when promtool is not installed) and with Strata, and both must agree with the
//! directory. `testdata/strata-{valid,invalid}/` use keys 2.42 does not know (Prometheus 3,
//! or SD kinds Debian's build leaves out: Kubernetes, Consul) and are checked by Strata only.
//! An invalid file's first line `# expect: <text>` must appear in Strata's error.

#![allow(clippy::unwrap_used)] // in tests a failed unwrap is a failed test

use std::path::{Path, PathBuf};
use std::process::Command;

fn files(dir: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/testdata")
        .join(dir);
    let mut out: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml"))
        .collect();
    out.sort();
    assert!(!out.is_empty(), "no configs in {}", dir.display());
    out
}

fn expected_error(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let first = text.lines().next().unwrap_or("");
    first
        .strip_prefix("# expect: ")
        .unwrap_or_else(|| panic!("{}: first line must be `# expect: ...`", path.display()))
        .to_string()
}

fn strata_verdict(path: &Path) -> Result<(), String> {
    strata_promconfig::load_file(path)
        .map(|_| ())
        .map_err(|e| format!("{e:#}"))
}

/// `Some(true)` when promtool accepts the file, `None` when promtool is missing.
fn promtool_verdict(path: &Path) -> Option<(bool, String)> {
    let out = Command::new("promtool")
        .args(["check", "config", "--syntax-only"])
        .arg(path)
        .output()
        .ok()?;
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    Some((out.status.success(), text))
}

fn check_valid(dir: &str) {
    for f in files(dir) {
        if let Err(e) = strata_verdict(&f) {
            panic!("{}: Strata refused a valid config: {e}", f.display());
        }
    }
}

fn check_invalid(dir: &str) {
    for f in files(dir) {
        let want = expected_error(&f);
        match strata_verdict(&f) {
            Ok(()) => panic!("{}: Strata accepted an invalid config", f.display()),
            Err(e) => assert!(
                e.contains(&want),
                "{}: error {e:?} does not contain {want:?}",
                f.display()
            ),
        }
    }
}

#[test]
fn strata_accepts_what_promtool_accepts() {
    check_valid("promtool-valid");
    check_invalid("promtool-invalid");
    let mut checked = 0;
    for (dir, valid) in [("promtool-valid", true), ("promtool-invalid", false)] {
        for f in files(dir) {
            let Some((ok, text)) = promtool_verdict(&f) else {
                println!("skipping the promtool half: promtool is not installed");
                return;
            };
            assert_eq!(
                ok,
                valid,
                "{}: promtool disagrees with the directory: {text}",
                f.display()
            );
            checked += 1;
        }
    }
    assert!(checked > 30, "only {checked} configs checked with promtool");
}

#[test]
fn strata_only_configs() {
    check_valid("strata-valid");
    check_invalid("strata-invalid");
}
