#!/usr/bin/env bash
# Query benchmark: the same history in Prometheus and in Strata, ten dashboard queries run
# many times against each, one server loaded at a time; p50/p99 latency per query and the
# Strata/Prometheus ratios. Also checks both servers gave the same answers.
#
# Not a test: never run in CI. See loadtest/README.md and docs/benchmarks.md.
#
# Steps: `strata-querybench generate` writes SERIES node_exporter-like series over HOURS of
# history (15 s interval) as OpenMetrics text ending at about now; Debian's
# `promtool tsdb create-blocks-from openmetrics` turns that file into 2-hour blocks; the
# blocks are copied into a fresh Prometheus data dir and into a Strata tenant's directory
# (`<data>/tsdb/bench/`, served by Strata's block reader), so both answer over identical data.
# Prometheus runs with min = max block duration 2h so it does not compact them mid-run.
#
# Usage: loadtest/bench-query.sh [options]
#   -s SERIES     series                          (default 10000)
#   -H HOURS      hours of history                (default 6)
#   -n REPEAT     timed runs per query            (default 50)
#   -w WARMUP     untimed runs per query first    (default 3)
#   -R LIST       servers: strata,prometheus      (default both)
#   -o DIR        output directory                (default /tmp/strata-qbench-<time>)
#   -B PREV       reuse PREV/blocks and PREV/history.json of an earlier run's output
#                 directory instead of generating (same data, so runs compare directly)
# Environment: STRATA_BIN (default target/release/strata), QUERYBENCH_BIN (default
# target/release/strata-querybench), PROMETHEUS_BIN (prometheus), PROMTOOL_BIN (promtool).
#
# Build first: cargo build --release --bin strata --bin strata-querybench
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SERIES=10000
HOURS=6
REPEAT=50
WARMUP=3
SERVERS=strata,prometheus
OUT=/tmp/strata-qbench-$(date -u +%Y%m%dT%H%M%SZ)
REUSE=

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
while getopts "s:H:n:w:R:o:B:h" opt; do
  case $opt in
    s) SERIES=$OPTARG ;;
    H) HOURS=$OPTARG ;;
    n) REPEAT=$OPTARG ;;
    w) WARMUP=$OPTARG ;;
    R) SERVERS=$OPTARG ;;
    o) OUT=$OPTARG ;;
    B) REUSE=$OPTARG ;;
    h) usage 0 ;;
    *) usage 2 ;;
  esac
done

STRATA_BIN=${STRATA_BIN:-$ROOT/target/release/strata}
QUERYBENCH_BIN=${QUERYBENCH_BIN:-$ROOT/target/release/strata-querybench}
PROMETHEUS_BIN=${PROMETHEUS_BIN:-prometheus}
PROMTOOL_BIN=${PROMTOOL_BIN:-promtool}

die() { echo "bench-query: $*" >&2; exit 1; }
log() { echo "bench-query: $*" >&2; }
command -v jq >/dev/null || die "jq is required (apt-get install jq)"
[[ -x $QUERYBENCH_BIN ]] || die "no $QUERYBENCH_BIN; run: cargo build --release --bin strata-querybench"
command -v "$PROMTOOL_BIN" >/dev/null || die "promtool is required (apt-get install prometheus)"

# shellcheck source=loadtest/lib.sh
source "$ROOT/loadtest/lib.sh"

mkdir -p "$OUT"
if [[ -n $REUSE ]]; then
  [[ -d $REUSE/blocks && -f $REUSE/history.json ]] || die "-B $REUSE: no blocks/ or history.json there"
  if [[ $(cd "$REUSE" && pwd) != $(cd "$OUT" && pwd) ]]; then
    rm -rf "$OUT/blocks"
    cp -r "$REUSE/blocks" "$OUT/blocks"
    cp "$REUSE/history.json" "$OUT/history.json"
  fi
  log "reusing the blocks of $REUSE"
  END_MS=$(jq -r .end_ms "$OUT/history.json")
else
  # End on a whole minute so the history and the query times are reproducible within a run.
  END_S=$(( $(date +%s) / 60 * 60 ))
  log "generating $SERIES series over ${HOURS}h ending at $END_S"
  "$QUERYBENCH_BIN" generate --out "$OUT/history.om" --series "$SERIES" \
    --duration "${HOURS}h" --end "$END_S" >"$OUT/history.json"
  cat "$OUT/history.json" >&2
  END_MS=$(jq -r .end_ms "$OUT/history.json")

  log "promtool tsdb create-blocks-from openmetrics"
  rm -rf "$OUT/blocks"
  "$PROMTOOL_BIN" tsdb create-blocks-from openmetrics "$OUT/history.om" "$OUT/blocks" >"$OUT/promtool.log" 2>&1 \
    || { cat "$OUT/promtool.log" >&2; die "promtool failed"; }
  ls "$OUT/blocks" >&2
  rm -f "$OUT/history.om"   # several GB; the blocks are what both servers read
fi

run_server() {
  local name=$1 port data pid api ready tenant=()
  port=$(free_port)
  data=$OUT/$name-data
  rm -rf "$data"
  case $name in
    prometheus)
      mkdir -p "$data"
      cp -r "$OUT"/blocks/* "$data/"
      printf 'global:\n  scrape_interval: 15s\n' >"$OUT/prometheus.yml"
      "$PROMETHEUS_BIN" --config.file="$OUT/prometheus.yml" --storage.tsdb.path="$data" \
        --storage.tsdb.retention.time=30d \
        --storage.tsdb.min-block-duration=2h --storage.tsdb.max-block-duration=2h \
        --web.listen-address="127.0.0.1:$port" >"$OUT/$name.log" 2>&1 &
      pid=$!
      api=http://127.0.0.1:$port/api/v1
      ready=http://127.0.0.1:$port/-/ready
      ;;
    strata)
      [[ -x $STRATA_BIN ]] || { log "skip strata: no $STRATA_BIN"; return 0; }
      mkdir -p "$data/tsdb/bench"
      cp -r "$OUT"/blocks/* "$data/tsdb/bench/"
      local grpc
      grpc=$(free_port)
      "$STRATA_BIN" -data.dir="$data" \
        -server.http-listen-address=127.0.0.1 -server.http-listen-port="$port" \
        -server.grpc-listen-address=127.0.0.1 -server.grpc-listen-port="$grpc" \
        -distributor.ingestion-rate-limit=1000000000 -distributor.ingestion-burst-size=1000000000 \
        -ingester.max-global-series-per-user=0 \
        >"$OUT/$name.log" 2>&1 &
      pid=$!
      api=http://127.0.0.1:$port/prometheus/api/v1
      ready=http://127.0.0.1:$port/ready
      tenant=(--tenant bench)
      ;;
    *) die "unknown server $name" ;;
  esac
  wait_ready "$ready" "$pid" || { tail -20 "$OUT/$name.log" >&2; die "$name did not become ready"; }
  log "$name ready; running queries ($WARMUP warm-up + $REPEAT timed each)"
  "$QUERYBENCH_BIN" run --api "$api" "${tenant[@]}" --end-ms "$END_MS" \
    --repeat "$REPEAT" --warmup "$WARMUP" --dump-dir "$OUT/$name-answers" \
    --report "$OUT/$name.json" >/dev/null
  stop_process "$pid"
  [[ -n ${KEEP_DATA:-} ]] || rm -rf "$data"
}

IFS=, read -r -a list <<<"$SERVERS"
for s in "${list[@]}"; do run_server "$s"; done

if [[ -f $OUT/prometheus.json && -f $OUT/strata.json ]]; then
  echo
  echo "answers, Strata vs Prometheus:"
  "$QUERYBENCH_BIN" compare "$OUT/prometheus-answers" "$OUT/strata-answers" || log "answers differ (see above)"
  echo
  printf '| query | Prometheus p50 ms | Strata p50 ms | p50 ratio | Prometheus p99 ms | Strata p99 ms | p99 ratio |\n'
  printf '|---|---:|---:|---:|---:|---:|---:|\n'
  jq -r --slurpfile s "$OUT/strata.json" '
    . as $p | range(0; $p | length) as $i | $p[$i] as $a | $s[0][$i] as $b |
    "| `\($a.query.name)` | \($a.p50_ms*100|round/100) | \($b.p50_ms*100|round/100) | \(($b.p50_ms/$a.p50_ms)*100|round/100)× | \($a.p99_ms*100|round/100) | \($b.p99_ms*100|round/100) | \(($b.p99_ms/$a.p99_ms)*100|round/100)× |"
  ' "$OUT/prometheus.json"
fi
log "results in $OUT"
