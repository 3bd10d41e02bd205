#!/usr/bin/env bash
# The chaos scenarios of tests/tests/chaos.rs at a larger load: by default 10,000 series
# every second per writer (CI runs them at 2,000), against the release binary.
#
# Not a test of its own and not run in CI: it runs the same test functions with
# CHAOS_SERIES set, prints their output, and collects the "[chaos-report]" lines (Markdown
# table rows: scenario, series, acked, found, client errors, time to recover, notes) into
# OUT (default /tmp/strata-chaos-<time>.md). Results are in docs/chaos.md.
#
# Usage: loadtest/chaos.sh [-s SERIES] [-o OUT] [-d] [--] [nextest filters or flags...]
#   -s SERIES   series per writer            (default 10000)
#   -o OUT      report file                  (default /tmp/strata-chaos-<time>.md)
#   -d          use the debug binary (target/debug/strata) instead of the release one
# Example: loadtest/chaos.sh -s 10000 s1_ s5_
# Environment: STRATA_BIN overrides the binary.
set -euo pipefail
cd "$(dirname "$0")/.."

series=10000
out="/tmp/strata-chaos-$(date -u +%Y%m%dT%H%M%SZ).md"
profile=release
while getopts "s:o:d" opt; do
  case $opt in
    s) series=$OPTARG ;;
    o) out=$OPTARG ;;
    d) profile=debug ;;
    *) echo "usage: $0 [-s SERIES] [-o OUT] [-d] [filter...]" >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))

if [[ -z "${STRATA_BIN:-}" ]]; then
  if [[ $profile == release ]]; then
    cargo build --release --bin strata
  else
    cargo build --bin strata
  fi
  STRATA_BIN="$PWD/target/$profile/strata"
fi
export STRATA_BIN CHAOS_SERIES=$series

log="${out%.md}.log"
echo "chaos: $series series per writer, binary $STRATA_BIN, log $log" >&2
status=0
# One test at a time (--no-capture), each with its own cluster.
cargo nextest run -p strata-tests --test chaos --no-capture --no-fail-fast "$@" 2>&1 | tee "$log" || status=$?
{
  echo "| scenario | series | acked | found | client errors | time to recover | notes |"
  echo "|---|---|---|---|---|---|---|"
  grep -o '\[chaos-report\] .*' "$log" | sed 's/^\[chaos-report\] //'
} > "$out"
cat "$out"
exit "$status"
