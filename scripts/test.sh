#!/usr/bin/env bash
# Runs every check and test Strata has, the way CI does: formatting, clippy, a time-boxed
# fuzz run of every parser, the unit and property tests, the PromQL corpus, and the
# end-to-end tests against real Prometheus, promtool, node_exporter and the blackbox exporter
# (installed here from Debian's packages when missing, with openssl for the TLS tests' certificates).
#
#   bash scripts/test.sh
#
# Needs: the stable Rust toolchain with rustfmt, clippy and cargo-nextest; root (or sudo) the
# first time, to install Debian packages.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n==> %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

say "checking the toolchain"
command -v cargo >/dev/null || die "cargo not found: install the stable Rust toolchain"
cargo fmt --version >/dev/null 2>&1 || die "rustfmt is missing from the toolchain (it cannot be downloaded here)"
cargo clippy --version >/dev/null 2>&1 || die "clippy is missing from the toolchain (it cannot be downloaded here)"
cargo nextest --version >/dev/null 2>&1 || die "cargo-nextest is missing from the toolchain"

say "installing test peers from Debian's packages (if missing)"
pkgs=()
command -v prometheus >/dev/null || pkgs+=(prometheus)
command -v promtool >/dev/null || pkgs+=(prometheus)
command -v prometheus-node-exporter >/dev/null || pkgs+=(prometheus-node-exporter)
command -v prometheus-blackbox-exporter >/dev/null || pkgs+=(prometheus-blackbox-exporter)
command -v openssl >/dev/null || pkgs+=(openssl)  # TLS tests make their certificates
if [ ${#pkgs[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
fi
prometheus --version 2>&1 | head -1

say "cargo fmt --check"
cargo fmt --all -- --check

say "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

say "building strata (the binary the end-to-end tests start)"
cargo build --locked --bin strata

say "fuzzing each parser for 15 s (fuzz/, libFuzzer on the stable toolchain)"
bash scripts/fuzz.sh 15

say "running the tests"
cargo nextest run --workspace --locked --profile ci --no-fail-fast
