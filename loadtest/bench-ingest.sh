#!/usr/bin/env bash
# Ingestion benchmark: the same remote-write load against Strata, Prometheus and
# VictoriaMetrics, one receiver at a time, measuring each receiver's CPU and memory.
#
# Not a test: never run in CI. See loadtest/README.md and docs/benchmarks.md.
#
# For each receiver: start it on a free loopback port with its own data dir, snapshot
# /proc/<pid> when idle, warm up (two full scrape intervals: every series created), snapshot,
# run the measured load, snapshot, stop it. Prints CPU seconds per million samples, RSS bytes
# per active series, and Strata/Prometheus and Strata/VictoriaMetrics ratios.
#
# Samples are timestamped by the generator's simulated clock, backdated so the run ends at
# about "now": --rate sets the send rate, and the simulated clock advances by one interval
# each time every series has been sent once.
#
# Usage: loadtest/bench-ingest.sh [options]
#   -s SERIES      active series                          (default 100000)
#   -r RATE        samples per second                     (default 20000)
#   -d SECONDS     measured duration per receiver         (default 300)
#   -i INTERVAL    sample spacing (loadgen --interval)    (default 15s)
#   -t TENANTS     tenants for Strata (others get none)   (default 1)
#   -c CONC        requests in flight                     (default 2)
#   -b BATCH       series per request                     (default 2000)
#   -p PROTOCOL    rw1 or rw2 (Prometheus 2.42 and VM 1.79 speak rw1 only) (default rw1)
#   -R LIST        receivers, comma-separated: strata,prometheus,victoriametrics (default all)
#   -o DIR         output directory (data dirs, logs, reports) (default /tmp/strata-bench-<time>)
#   -k             keep data dirs after the run
# Environment: STRATA_BIN (default target/release/strata), LOADGEN_BIN (default
# target/release/strata-loadgen), PROMETHEUS_BIN (default prometheus), VM_BIN (default
# /usr/bin/victoria-metrics).
#
# Build first (2 cores: expect several minutes):
#   cargo build --release --bin strata --bin strata-loadgen

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SERIES=100000
RATE=20000
DURATION=300
INTERVAL=15s
TENANTS=1
CONC=2
BATCH=2000
PROTOCOL=rw1
RECEIVERS=strata,prometheus,victoriametrics
OUT=/tmp/strata-bench-$(date -u +%Y%m%dT%H%M%SZ)
KEEP=0

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }

while getopts "s:r:d:i:t:c:b:p:R:o:kh" opt; do
  case $opt in
    s) SERIES=$OPTARG ;;
    r) RATE=$OPTARG ;;
    d) DURATION=$OPTARG ;;
    i) INTERVAL=$OPTARG ;;
    t) TENANTS=$OPTARG ;;
    c) CONC=$OPTARG ;;
    b) BATCH=$OPTARG ;;
    p) PROTOCOL=$OPTARG ;;
    R) RECEIVERS=$OPTARG ;;
    o) OUT=$OPTARG ;;
    k) KEEP=1 ;;
    h) usage 0 ;;
    *) usage 2 ;;
  esac
done

STRATA_BIN=${STRATA_BIN:-$ROOT/target/release/strata}
LOADGEN_BIN=${LOADGEN_BIN:-$ROOT/target/release/strata-loadgen}
PROMETHEUS_BIN=${PROMETHEUS_BIN:-prometheus}
VM_BIN=${VM_BIN:-/usr/bin/victoria-metrics}
CLK_TCK=$(getconf CLK_TCK)

die() { echo "bench-ingest: $*" >&2; exit 1; }
log() { echo "bench-ingest: $*" >&2; }

command -v jq >/dev/null || die "jq is required (apt-get install jq)"
[[ -x $LOADGEN_BIN ]] || die "no $LOADGEN_BIN; run: cargo build --release --bin strata-loadgen"

# Interval in milliseconds, from the same syntax the generator takes (single unit suffices here).
interval_ms() {
  local v=$1
  case $v in
    *ms) echo "${v%ms}" ;;
    *s) echo $(( ${v%s} * 1000 )) ;;
    *m) echo $(( ${v%m} * 60000 )) ;;
    *h) echo $(( ${v%h} * 3600000 )) ;;
    *) die "interval $v: use a single unit, e.g. 15s" ;;
  esac
}
INTERVAL_MS=$(interval_ms "$INTERVAL")

# shellcheck source=loadtest/lib.sh
source "$ROOT/loadtest/lib.sh"

# utime+stime of a process in seconds.
cpu_seconds() {
  local stat rest
  stat=$(cat "/proc/$1/stat") || return 1
  rest=${stat##*) }
  # shellcheck disable=SC2086
  set -- $rest
  # After the command name: field 3 is state, so utime/stime are the 12th and 13th.
  awk -v u="${12}" -v s="${13}" -v hz="$CLK_TCK" 'BEGIN { printf "%.2f", (u + s) / hz }'
}

# "RssAnon RssFile" in bytes.
rss_bytes() {
  awk '/^RssAnon:/ { a = $2 * 1024 } /^RssFile:/ { f = $2 * 1024 } END { printf "%.0f %.0f", a, f }' \
    "/proc/$1/status"
}



ensure_vm() {
  if [[ -x $VM_BIN ]]; then return 0; fi
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    log "installing victoria-metrics with apt-get"
    apt-get install -y victoria-metrics >/dev/null || return 1
    # The package enables a systemd unit; this benchmark runs its own instance.
    [[ -x $VM_BIN ]]
  else
    return 1
  fi
}

mkdir -p "$OUT"
RESULTS=$OUT/results.tsv
printf 'receiver\tseries\tsamples_acked\tsamples_dropped\telapsed_s\tcpu_s\tcpu_s_per_M\trss_anon_bytes\trss_file_bytes\trss_bytes_per_series\trss_growth_bytes_per_series\tp50_ms\tp99_ms\tdata_dir_bytes\tloadgen_cpu_s\n' >"$RESULTS"

# Simulated time: warm-up of 2 intervals, then the measured part, ending about now.
TICK_MS=$INTERVAL_MS
MEASURED_SIM_MS=$(awk -v d="$DURATION" -v r="$RATE" -v s="$SERIES" -v i="$INTERVAL_MS" \
  'BEGIN { printf "%d", d * r / s * i }')

run_one() {
  local name=$1 port grpc data pid url ready loadgen_tenant=()
  port=$(free_port)
  data=$OUT/$name-data
  rm -rf "$data"
  mkdir -p "$data"
  case $name in
    strata)
      [[ -x $STRATA_BIN ]] || { log "skip strata: no $STRATA_BIN"; return 0; }
      grpc=$(free_port)
      "$STRATA_BIN" -data.dir="$data" \
        -server.http-listen-address=127.0.0.1 -server.http-listen-port="$port" \
        -server.grpc-listen-address=127.0.0.1 -server.grpc-listen-port="$grpc" \
        -distributor.ingestion-rate-limit=1000000000 -distributor.ingestion-burst-size=1000000000 \
        -ingester.max-global-series-per-user=0 \
        >"$OUT/$name.log" 2>&1 &
      pid=$!
      url=http://127.0.0.1:$port/api/v1/push
      ready=http://127.0.0.1:$port/ready
      loadgen_tenant=(--tenants "$TENANTS")
      ;;
    prometheus)
      command -v "$PROMETHEUS_BIN" >/dev/null || { log "skip prometheus: not installed"; return 0; }
      [[ $PROTOCOL == rw1 ]] || { log "skip prometheus: 2.42 accepts remote write 1.0 only"; return 0; }
      printf 'global:\n  scrape_interval: 15s\n' >"$OUT/prometheus.yml"
      "$PROMETHEUS_BIN" --config.file="$OUT/prometheus.yml" --storage.tsdb.path="$data" \
        --web.listen-address="127.0.0.1:$port" --web.enable-remote-write-receiver \
        >"$OUT/$name.log" 2>&1 &
      pid=$!
      url=http://127.0.0.1:$port/api/v1/write
      ready=http://127.0.0.1:$port/-/ready
      loadgen_tenant=(--no-tenant)
      ;;
    victoriametrics)
      ensure_vm || { log "skip victoriametrics: $VM_BIN missing and cannot install"; return 0; }
      [[ $PROTOCOL == rw1 ]] || { log "skip victoriametrics: 1.79 accepts remote write 1.0 only"; return 0; }
      "$VM_BIN" -storageDataPath="$data" -retentionPeriod=1y -httpListenAddr="127.0.0.1:$port" \
        >"$OUT/$name.log" 2>&1 &
      pid=$!
      url=http://127.0.0.1:$port/api/v1/write
      ready=http://127.0.0.1:$port/health
      loadgen_tenant=(--no-tenant)
      ;;
    *) die "unknown receiver $name (want strata, prometheus, victoriametrics)" ;;
  esac
  if ! wait_ready "$ready" "$pid"; then
    log "$name did not become ready; last log lines:"
    tail -5 "$OUT/$name.log" >&2 || true
    stop_process "$pid"
    return 1
  fi
  sleep 2
  local idle_rss
  idle_rss=$(rss_bytes "$pid")

  # Backdate so the measured run ends about now. Warm-up sends intervals 0-1 (and perhaps a
  # request or two of 2); the measured run re-simulates 0-2 without sending them
  # (--skip-intervals) and continues from 3, so every series continues seamlessly.
  local now_ms sim0 common
  now_ms=$(( $(date +%s) * 1000 ))
  sim0=$(( now_ms - MEASURED_SIM_MS - 4 * TICK_MS ))
  common=(--url "$url" "${loadgen_tenant[@]}" --series "$SERIES" --interval "$INTERVAL"
    --protocol "$PROTOCOL" --concurrency "$CONC" --batch "$BATCH" --quiet)

  log "$name: warm-up (creating $SERIES series) at $url"
  "$LOADGEN_BIN" "${common[@]}" --max --samples $(( 2 * SERIES )) --sim-start "$sim0" \
    --report "$OUT/$name-warmup.json" >/dev/null 2>"$OUT/$name-warmup.err" \
    || { log "$name warm-up failed: $(tail -2 "$OUT/$name-warmup.err")"; stop_process "$pid"; return 1; }
  sleep 2

  local cpu0 cpu1 rss
  cpu0=$(cpu_seconds "$pid")
  log "$name: measured run, $RATE samples/s for ${DURATION}s"
  "$LOADGEN_BIN" "${common[@]}" --rate "$RATE" --duration "${DURATION}s" --sim-start "$sim0" \
    --skip-intervals 3 \
    --report "$OUT/$name.json" >/dev/null 2>"$OUT/$name-run.err" \
    || { log "$name run failed: $(tail -2 "$OUT/$name-run.err")"; stop_process "$pid"; return 1; }
  cpu1=$(cpu_seconds "$pid")
  rss=$(rss_bytes "$pid")
  stop_process "$pid"
  local du_bytes
  du_bytes=$(du -sb "$data" | cut -f1)
  # data_dir_bytes is informational only (mostly WAL and head); bytes per sample in full
  # 2 h blocks is measured by bench-disk.sh.

  local r acked dropped elapsed p50 p99 lg_cpu
  r=$OUT/$name.json
  acked=$(jq .samples_acked "$r")
  dropped=$(jq .samples_dropped "$r")
  elapsed=$(jq .elapsed_seconds "$r")
  p50=$(jq .latency_p50_ms "$r")
  p99=$(jq .latency_p99_ms "$r")
  lg_cpu=$(jq '.generator_cpu_seconds // 0' "$r")
  # shellcheck disable=SC2086
  set -- $rss $idle_rss
  awk -v n="$name" -v s="$SERIES" -v a="$acked" -v dr="$dropped" -v e="$elapsed" \
    -v c0="$cpu0" -v c1="$cpu1" -v ra="$1" -v rf="$2" -v ia="$3" -v if_="$4" \
    -v p50="$p50" -v p99="$p99" -v du="$du_bytes" -v lg="$lg_cpu" 'BEGIN {
      cpu = c1 - c0
      per_m = a > 0 ? cpu / (a / 1e6) : 0
      printf "%s\t%.0f\t%.0f\t%.0f\t%.1f\t%.2f\t%.3f\t%.0f\t%.0f\t%.0f\t%.0f\t%.2f\t%.2f\t%.0f\t%.2f\n",
        n, s, a, dr, e, cpu, per_m, ra, rf, (ra + rf) / s, ((ra + rf) - (ia + if_)) / s,
        p50, p99, du, lg
    }' >>"$RESULTS"
  [[ $KEEP == 1 ]] || rm -rf "$data"
}

IFS=, read -r -a LIST <<<"$RECEIVERS"
for r in "${LIST[@]}"; do
  run_one "$r" || log "$r: failed, see $OUT"
done

echo
echo "series=$SERIES rate=${RATE}/s duration=${DURATION}s interval=$INTERVAL protocol=$PROTOCOL concurrency=$CONC batch=$BATCH tenants(strata)=$TENANTS"
column -t -s $'\t' "$RESULTS"
echo
awk -F'\t' 'NR > 1 { cpu[$1] = $7; rss[$1] = $10 }
  END {
    if (!("strata" in cpu)) exit
    n = split("prometheus victoriametrics", others, " ")
    for (i = 1; i <= n; i++) {
      o = others[i]
      if (!(o in cpu) || cpu[o] == 0 || rss[o] == 0) continue
      printf "strata/%s: cpu per sample %.2fx, rss per active series %.2fx\n", o, cpu["strata"] / cpu[o], rss["strata"] / rss[o]
    }
  }' "$RESULTS"
echo "disk bytes per sample: see loadtest/bench-disk.sh"
echo "results: $RESULTS"
