#!/usr/bin/env bash
# Builds Strata's fuzz targets (fuzz/) and runs each for a fixed time with libFuzzer,
# coverage-guided, on the stable toolchain: no nightly, no sanitizer, no tool to install.
# Fails on the first target that panics, aborts, hangs or runs out of memory, printing the
# input that did it and the command that replays it.
#
#   bash scripts/fuzz.sh                    # every target, 20 s each
#   bash scripts/fuzz.sh 600 remote_write   # one target (or several), 10 min each
#   bash scripts/fuzz.sh --seeds            # rewrite the seed corpora (fuzz/corpus/)
#
# Needs: cargo and a C++ compiler (libfuzzer-sys builds libFuzzer from source).
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

say() { printf '\n==> %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

all_targets=(remote_write remote_read xor_chunk promql_parse exposition_text exposition_openmetrics exposition_protobuf relabel)

command -v cargo >/dev/null || die "cargo not found: install the stable Rust toolchain"
command -v c++ >/dev/null || die "no C++ compiler (c++): libfuzzer-sys needs one (Debian: g++)"

# The instrumentation cargo-fuzz asks rustc for with `--sanitizer none`: SanitizerCoverage's
# inline 8-bit counters and PC table (what libFuzzer's coverage feedback reads), comparison
# tracing (so it solves magic bytes and lengths) and stack depth. `-C passes`/`-C llvm-args`
# are stable flags. With an explicit --target they apply to the targets' code only, not to
# build scripts and proc macros. This replaces any RUSTFLAGS from the environment on purpose.
triple="$(rustc -vV | sed -n 's/^host: //p')"
export RUSTFLAGS="--cfg fuzzing -Cpasses=sancov-module \
-Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
-Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares \
-Cllvm-args=-sanitizer-coverage-stack-depth \
-Cllvm-args=-simplifycfg-branch-fold-threshold=0"
export CARGO_TARGET_DIR="$PWD/target"
out="target/$triple/release"

if [ "${1:-}" = "--seeds" ]; then
  say "building the seed generator"
  cargo build --release --target "$triple" --example gen_seeds
  FUZZ_SEEDS_DIR="$PWD/corpus" "$out/examples/gen_seeds"
  say "seed corpora written under fuzz/corpus/"
  exit 0
fi

secs="${1:-20}"
case "$secs" in ''|*[!0-9]*) die "seconds must be a whole number, got '$secs'";; esac
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all_targets[@]}")
for t in "${targets[@]}"; do
  [ -f "fuzz_targets/$t.rs" ] || die "no fuzz target '$t' (have: ${all_targets[*]})"
done

say "building fuzz targets (${targets[*]})"
bins=()
for t in "${targets[@]}"; do bins+=(--bin "$t"); done
cargo build --release --target "$triple" "${bins[@]}"

failed=0
passed=0
for t in "${targets[@]}"; do
  say "fuzzing $t for ${secs}s"
  # New inputs go to a scratch corpus under target/ (reused by later runs on this machine);
  # the checked-in seeds are only read.
  work="target/corpus/$t"
  crashes="artifacts/$t"
  log="target/logs/$t.log"
  mkdir -p "$work" "$crashes" "$(dirname "$log")"
  marker="$(mktemp)"
  status=0
  # -timeout: one input running 10 s is a hang; -rss_limit_mb: a parser that allocates 2 GiB
  # on a small input is a bug too.
  seeds=()
  [ -d "corpus/$t" ] && seeds=("corpus/$t")
  "$out/$t" "$work" "${seeds[@]}" \
    -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$crashes/" -print_final_stats=1 >"$log" 2>&1 || status=$?
  grep -E '^stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb)' "$log" \
    | sed 's/^stat::/  /' || true
  if [ "$status" -ne 0 ]; then
    failed=1
    echo "FAILED: $t exited with status $status; log: fuzz/$log"
    grep -E "panicked at|^==[0-9]+== ERROR|SUMMARY|deadly signal|timeout after|out-of-memory" "$log" | head -5 || true
    found=0
    while IFS= read -r input; do
      found=1
      echo "  input: fuzz/$input ($(wc -c <"$input") bytes)"
      echo "  hex:   $(od -An -tx1 -v "$input" | tr -d ' \n' | cut -c1-512)"
      echo "  replay: (cd fuzz && RUST_BACKTRACE=1 $out/$t $input)"
    done < <(find "$crashes" -type f -newer "$marker" | sort)
    [ "$found" -eq 1 ] || { echo "  (no input written; the log's tail:)"; tail -20 "$log"; }
  fi
  [ "$status" -ne 0 ] || passed=$((passed + 1))
  rm -f "$marker"
done

printf '\nfuzz: %d passed, %d failed\n' "$passed" "$((${#targets[@]} - passed))"
if [ "$failed" -ne 0 ]; then
  printf 'fuzzing found a failing input (see above)\n' >&2
  exit 1
fi
