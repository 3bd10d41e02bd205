#!/usr/bin/env bash
# Disk benchmark: bytes per sample on disk after the same history is remote-written to
# Strata, Prometheus and VictoriaMetrics, one receiver at a time.
#
# Not a test: never run in CI. See loadtest/README.md and docs/benchmarks.md.
#
# For each receiver: start it fresh, backfill HOURS of history with `strata-loadgen
# --backfill` (simulated clock from now-HOURS, sent in order as fast as acked), then:
# - Strata: `POST /ingester/flush` cuts the head into blocks; measured over the blocks
#   whose aligned 2 h range the history covers entirely: their bytes / their numSamples.
#   Before that, each receiver's RssAnon/RssFile is recorded with the whole history ingested
#   (with -H 3 or less nothing has been cut yet: memory per series with a full head).
# - Prometheus (`--web.enable-admin-api`): `POST /api/v1/admin/tsdb/snapshot` (head
#   included); measured over the snapshot's full 2 h blocks the same way.
# - VictoriaMetrics: `/internal/force_flush`, then the data dir's bytes / samples acked
#   (it has no blocks; its background merges may shrink it further later).
#
# Usage: loadtest/bench-disk.sh [options]
#   -s SERIES     active series                    (default 10000)
#   -H HOURS      hours of history                 (default 6)
#   -i INTERVAL   sample spacing                   (default 15s)
#   -t TENANTS    tenants for Strata               (default 1)
#   -R LIST       receivers: strata,prometheus,victoriametrics (default all)
#   -o DIR        output directory                 (default /tmp/strata-dbench-<time>)
# Environment: STRATA_BIN, LOADGEN_BIN, PROMETHEUS_BIN, VM_BIN as bench-ingest.sh.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SERIES=10000
HOURS=6
INTERVAL=15s
TENANTS=1
RECEIVERS=strata,prometheus,victoriametrics
OUT=/tmp/strata-dbench-$(date -u +%Y%m%dT%H%M%SZ)

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
while getopts "s:H:i:t:R:o:h" opt; do
  case $opt in
    s) SERIES=$OPTARG ;;
    H) HOURS=$OPTARG ;;
    i) INTERVAL=$OPTARG ;;
    t) TENANTS=$OPTARG ;;
    R) RECEIVERS=$OPTARG ;;
    o) OUT=$OPTARG ;;
    h) usage 0 ;;
    *) usage 2 ;;
  esac
done

STRATA_BIN=${STRATA_BIN:-$ROOT/target/release/strata}
LOADGEN_BIN=${LOADGEN_BIN:-$ROOT/target/release/strata-loadgen}
PROMETHEUS_BIN=${PROMETHEUS_BIN:-prometheus}
VM_BIN=${VM_BIN:-/usr/bin/victoria-metrics}

die() { echo "bench-disk: $*" >&2; exit 1; }
log() { echo "bench-disk: $*" >&2; }
command -v jq >/dev/null || die "jq is required (apt-get install jq)"
[[ -x $LOADGEN_BIN ]] || die "no $LOADGEN_BIN; run: cargo build --release --bin strata-loadgen"

# shellcheck source=loadtest/lib.sh
source "$ROOT/loadtest/lib.sh"

# "bytes samples blocks" over the full 2 h blocks (ULID dirs with meta.json) under $1: blocks
# whose aligned 2 h range lies inside the history [$2, $3] (ms), so every series has samples
# over the whole range. (Prometheus starts a head block's minTime at its first sample,
# Strata at the range boundary; the aligned range is the same for both.)
full_block_stats() {
  local root=$1 from=$2 to=$3 bytes=0 samples=0 blocks=0 meta lo hi n b
  while IFS= read -r meta; do
    lo=$(jq '.minTime - (.minTime % 7200000)' "$meta")
    hi=$(jq '.maxTime' "$meta")
    # Inside the history, and one 2 h range only (a snapshot's head block may span more).
    (( lo >= from && lo + 7200000 <= to && hi <= lo + 7200000 )) || continue
    n=$(jq '.stats.numSamples' "$meta")
    b=$(du -sb "$(dirname "$meta")" | cut -f1)
    bytes=$(( bytes + b )); samples=$(( samples + n )); blocks=$(( blocks + 1 ))
  done < <(find "$root" -name meta.json 2>/dev/null)
  echo "$bytes $samples $blocks"
}

mkdir -p "$OUT"
RESULTS=$OUT/results.tsv
printf 'receiver\tseries\ttenants\tsamples_acked\tmeasured_bytes\tmeasured_samples\tfull_blocks\tbytes_per_sample\tbackfill_s\trss_anon_bytes\trss_file_bytes\trss_bytes_per_series\n' >"$RESULTS"

run_one() {
  local name=$1 port data pid url ready tenant_args=() tenants=1
  port=$(free_port)
  data=$OUT/$name-data
  rm -rf "$data"; mkdir -p "$data"
  case $name in
    strata)
      [[ -x $STRATA_BIN ]] || { log "skip strata: no $STRATA_BIN"; return 0; }
      local grpc; grpc=$(free_port)
      "$STRATA_BIN" -data.dir="$data" \
        -server.http-listen-address=127.0.0.1 -server.http-listen-port="$port" \
        -server.grpc-listen-address=127.0.0.1 -server.grpc-listen-port="$grpc" \
        -distributor.ingestion-rate-limit=1000000000 -distributor.ingestion-burst-size=1000000000 \
        -ingester.max-global-series-per-user=0 \
        >"$OUT/$name.log" 2>&1 &
      pid=$!
      url=http://127.0.0.1:$port/api/v1/push
      ready=http://127.0.0.1:$port/ready
      tenant_args=(--tenants "$TENANTS"); tenants=$TENANTS
      ;;
    prometheus)
      printf 'global:\n  scrape_interval: 15s\n' >"$OUT/prometheus.yml"
      "$PROMETHEUS_BIN" --config.file="$OUT/prometheus.yml" --storage.tsdb.path="$data" \
        --storage.tsdb.retention.time=30d --web.enable-admin-api \
        --web.listen-address="127.0.0.1:$port" --web.enable-remote-write-receiver \
        >"$OUT/$name.log" 2>&1 &
      pid=$!
      url=http://127.0.0.1:$port/api/v1/write
      ready=http://127.0.0.1:$port/-/ready
      tenant_args=(--no-tenant)
      ;;
    victoriametrics)
      [[ -x $VM_BIN ]] || { log "skip victoriametrics: no $VM_BIN"; return 0; }
      "$VM_BIN" -storageDataPath="$data" -retentionPeriod=1y -httpListenAddr="127.0.0.1:$port" \
        >"$OUT/$name.log" 2>&1 &
      pid=$!
      url=http://127.0.0.1:$port/api/v1/write
      ready=http://127.0.0.1:$port/health
      tenant_args=(--no-tenant)
      ;;
    *) die "unknown receiver $name" ;;
  esac
  wait_ready "$ready" "$pid" || { tail -5 "$OUT/$name.log" >&2; stop_process "$pid"; return 1; }

  log "$name: backfilling ${HOURS}h of $SERIES series"
  local t0 t1
  t0=$(date +%s)
  "$LOADGEN_BIN" --url "$url" "${tenant_args[@]}" --series "$SERIES" --interval "$INTERVAL" \
    --backfill --sim-start "now-${HOURS}h" --concurrency 2 --quiet \
    --report "$OUT/$name-backfill.json" >/dev/null 2>"$OUT/$name-backfill.err" \
    || { log "$name backfill failed: $(tail -2 "$OUT/$name-backfill.err")"; stop_process "$pid"; return 1; }
  t1=$(date +%s)
  # Memory with the whole history in the head (before any flush): RssAnon and RssFile.
  local rss
  rss=$(awk '/^RssAnon:/ { a = $2 * 1024 } /^RssFile:/ { f = $2 * 1024 } END { printf "%.0f %.0f", a, f }' \
    "/proc/$pid/status")
  local acked stats from to
  acked=$(jq .samples_acked "$OUT/$name-backfill.json")
  from=$(jq .sim_start_ms "$OUT/$name-backfill.json")
  to=$(jq .sim_max_acked_ms "$OUT/$name-backfill.json")
  case $name in
    strata)
      curl -fsS -X POST "http://127.0.0.1:$port/ingester/flush" >/dev/null
      stats=$(full_block_stats "$data/tsdb" "$from" "$to")
      ;;
    prometheus)
      local snap
      snap=$(curl -fsS -X POST "http://127.0.0.1:$port/api/v1/admin/tsdb/snapshot" | jq -r .data.name)
      stats=$(full_block_stats "$data/snapshots/$snap" "$from" "$to")
      ;;
    victoriametrics)
      curl -fsS "http://127.0.0.1:$port/internal/force_flush" >/dev/null
      sleep 5
      stats="$(du -sb "$data" | cut -f1) $acked 0"
      ;;
  esac
  stop_process "$pid"
  # shellcheck disable=SC2086
  set -- $stats $rss
  awk -v n="$name" -v s="$SERIES" -v t="$tenants" -v a="$acked" -v b="$1" -v m="$2" -v k="$3" \
    -v e=$(( t1 - t0 )) -v ra="$4" -v rf="$5" 'BEGIN {
      printf "%s\t%.0f\t%.0f\t%.0f\t%.0f\t%.0f\t%.0f\t%.3f\t%.0f\t%.0f\t%.0f\t%.0f\n", n, s, t, a, b, m, k,
        (m > 0 ? b / m : 0), e, ra, rf, (ra + rf) / s
    }' >>"$RESULTS"
  [[ -n ${KEEP_DATA:-} ]] || rm -rf "$data"
}

IFS=, read -r -a LIST <<<"$RECEIVERS"
for r in "${LIST[@]}"; do run_one "$r" || log "$r: failed, see $OUT"; done

echo
column -t -s $'\t' "$RESULTS"
awk -F'\t' 'NR > 1 { b[$1] = $8 } END {
    if (!("strata" in b)) exit
    n = split("prometheus victoriametrics", o, " ")
    for (i = 1; i <= n; i++) if ((o[i] in b) && b[o[i]] > 0)
      printf "strata/%s: bytes per sample %.2fx\n", o[i], b["strata"] / b[o[i]]
  }' "$RESULTS"
echo "results: $RESULTS"
