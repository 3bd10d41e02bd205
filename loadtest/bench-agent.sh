#!/usr/bin/env bash
# Agent benchmark: Strata's agent (-target=agent) and Prometheus 2.42 in agent mode
# (--enable-feature=agent) scrape the same local targets and remote-write to a receiver that
# counts and discards; CPU per sample scraped and memory of each, and agent/Prometheus ratios.
#
# Not a test: never run in CI. See loadtest/README.md and docs/benchmarks.md.
#
# strata-agentbench serves -n targets on loopback ports, -s series each (simulated
# node_exporter hosts, values moving on every scrape, gzip when asked), and a sink for
# remote write. Both scrapers get the same prometheus.yml but for a `scraper` URL parameter
# and their remote_write path, so the targets count what each was served and the sink what
# each sent. By default both run side by side (same targets, same time); -1 runs them one
# after the other.
#
# Per scraper: warm-up (-w s), then utime+stime from /proc/<pid>/stat over the measured -d s;
# RSS (RssAnon + RssFile) sampled every 5 s over the measured part (average and peak) and
# VmHWM. Samples scraped = the samples the targets served it in the measured window; then
# the script waits until the sink has received every one of them (samples carry the scrape
# time, so the sink counts the same window) and checks they match.
#
# Usage: loadtest/bench-agent.sh [options]
#   -n TARGETS     targets (loopback ports)                 (default 200)
#   -s SERIES      series per target                        (default 1000)
#   -i INTERVAL    scrape interval                          (default 15s)
#   -w SECONDS     warm-up before measuring                 (default 120)
#   -d SECONDS     measured duration                        (default 300)
#   -R LIST        scrapers: agent,prometheus               (default both)
#   -1             one scraper at a time (default: side by side)
#   -g             no gzip from the targets
#   -o DIR         output directory (configs, logs, results) (default /tmp/strata-bench-agent-<time>)
# Environment: STRATA_BIN (default target/release/strata), AGENTBENCH_BIN (default
# target/release/strata-agentbench), PROMETHEUS_BIN (default prometheus).
#
# Build first (2 cores: expect several minutes):
#   cargo build --release --bin strata --bin strata-agentbench

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TARGETS=200
SERIES=1000
INTERVAL=15s
WARMUP=120
DURATION=300
SCRAPERS=agent,prometheus
SERIAL=0
GZIP=1
OUT=/tmp/strata-bench-agent-$(date -u +%Y%m%dT%H%M%SZ)

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }

while getopts "n:s:i:w:d:R:1go:h" opt; do
  case $opt in
    n) TARGETS=$OPTARG ;;
    s) SERIES=$OPTARG ;;
    i) INTERVAL=$OPTARG ;;
    w) WARMUP=$OPTARG ;;
    d) DURATION=$OPTARG ;;
    R) SCRAPERS=$OPTARG ;;
    1) SERIAL=1 ;;
    g) GZIP=0 ;;
    o) OUT=$OPTARG ;;
    h) usage 0 ;;
    *) usage 2 ;;
  esac
done

STRATA_BIN=${STRATA_BIN:-$ROOT/target/release/strata}
AGENTBENCH_BIN=${AGENTBENCH_BIN:-$ROOT/target/release/strata-agentbench}
PROMETHEUS_BIN=${PROMETHEUS_BIN:-prometheus}
CLK_TCK=$(getconf CLK_TCK)

die() { echo "bench-agent: $*" >&2; exit 1; }
log() { echo "bench-agent: $(date -u +%H:%M:%S) $*" >&2; }

command -v jq >/dev/null || die "jq is required (apt-get install jq)"
command -v curl >/dev/null || die "curl is required"
[[ -x $AGENTBENCH_BIN ]] || die "no $AGENTBENCH_BIN; run: cargo build --release --bin strata-agentbench"

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

# RssAnon + RssFile in bytes.
rss_bytes() {
  awk '/^RssAnon:/ { a = $2 * 1024 } /^RssFile:/ { f = $2 * 1024 } END { printf "%.0f", a + f }' \
    "/proc/$1/status"
}

# Peak RSS over the process' life (VmHWM) in bytes.
hwm_bytes() {
  awk '/^VmHWM:/ { printf "%.0f", $2 * 1024 }' "/proc/$1/status"
}

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

mkdir -p "$OUT"
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do stop_process "$p"; done
}
trap cleanup EXIT

# The receiver and the targets, shared by every phase.
SINK_PORT=$(free_port)
"$AGENTBENCH_BIN" sink --listen "127.0.0.1:$SINK_PORT" >"$OUT/sink.log" 2>&1 &
SINK_PID=$!
PIDS+=("$SINK_PID")
CONTROL_PORT=$(free_port)
GZIP_FLAG=()
[[ $GZIP == 1 ]] || GZIP_FLAG=(--no-gzip)
rm -f "$OUT/targets.txt"
"$AGENTBENCH_BIN" targets --targets "$TARGETS" --series "$SERIES" --interval "$INTERVAL" \
  "${GZIP_FLAG[@]}" --control "127.0.0.1:$CONTROL_PORT" --targets-file "$OUT/targets.txt" \
  >"$OUT/targets.log" 2>&1 &
TARGETS_PID=$!
PIDS+=("$TARGETS_PID")
wait_ready "http://127.0.0.1:$CONTROL_PORT/stats" "$TARGETS_PID" || die "targets did not start: $(tail -3 "$OUT/targets.log")"
wait_ready "http://127.0.0.1:$SINK_PORT/stats" "$SINK_PID" || die "sink did not start: $(tail -3 "$OUT/sink.log")"
[[ -s $OUT/targets.txt ]] || die "no targets file"
log "$TARGETS targets of $SERIES series up; sink on $SINK_PORT"

# Prometheus's default scrape timeout, capped by the interval as Prometheus caps it.
TIMEOUT=10s
if [[ $INTERVAL =~ ^([0-9]+)s$ ]] && (( BASH_REMATCH[1] < 10 )); then TIMEOUT=$INTERVAL; fi

# prometheus.yml for scraper $1: the same for both but the URL parameter and write path.
write_config() {
  local name=$1 file=$2
  {
    printf 'global:\n  scrape_interval: %s\n  scrape_timeout: %s\n' "$INTERVAL" "$TIMEOUT"
    printf 'scrape_configs:\n  - job_name: bench\n    params:\n      scraper: [%s]\n' "$name"
    printf '    static_configs:\n      - targets:\n'
    sed 's/.*/          - "&"/' "$OUT/targets.txt"
    printf 'remote_write:\n  - url: http://127.0.0.1:%s/write/%s\n' "$SINK_PORT" "$name"
  } >"$file"
}

# Starts scraper $1 and waits until it is ready; sets STARTED_PID.
STARTED_PID=
start_scraper() {
  local name=$1 port grpc data cfg pid
  port=$(free_port)
  data=$OUT/$name-data
  cfg=$OUT/$name.yml
  rm -rf "$data"
  mkdir -p "$data"
  write_config "$name" "$cfg"
  case $name in
    agent)
      [[ -x $STRATA_BIN ]] || die "no $STRATA_BIN; run: cargo build --release --bin strata"
      grpc=$(free_port)
      "$STRATA_BIN" -target=agent -agent.config-file="$cfg" -agent.data-dir="$data/queue" \
        -data.dir="$data" \
        -server.http-listen-address=127.0.0.1 -server.http-listen-port="$port" \
        -server.grpc-listen-address=127.0.0.1 -server.grpc-listen-port="$grpc" \
        >"$OUT/$name.log" 2>&1 &
      pid=$!
      PIDS+=("$pid")
      wait_ready "http://127.0.0.1:$port/ready" "$pid" || die "agent not ready: $(tail -3 "$OUT/$name.log")"
      ;;
    prometheus)
      command -v "$PROMETHEUS_BIN" >/dev/null || die "no $PROMETHEUS_BIN (apt-get install prometheus)"
      "$PROMETHEUS_BIN" --enable-feature=agent --config.file="$cfg" --storage.agent.path="$data" \
        --web.listen-address="127.0.0.1:$port" >"$OUT/$name.log" 2>&1 &
      pid=$!
      PIDS+=("$pid")
      wait_ready "http://127.0.0.1:$port/-/ready" "$pid" || die "prometheus not ready: $(tail -3 "$OUT/$name.log")"
      # The configuration with every default filled in (queue_config, for the record).
      curl -fsS "http://127.0.0.1:$port/api/v1/status/config" | jq -r .data.yaml \
        >"$OUT/$name-effective.yml" 2>/dev/null || true
      ;;
    *) die "unknown scraper $name (want agent, prometheus)" ;;
  esac
  STARTED_PID=$pid
}

RESULTS=$OUT/results.tsv
printf 'scraper\tmode\tmeasured_s\tcpu_s\tscrapes_served\tsamples_served\tscrapes_ok_received\ttarget_samples_received\tsynthetic_received\tcpu_us_per_sample\trss_avg_bytes\trss_peak_bytes\tvm_hwm_bytes\tbody_bytes_served\trw_bytes_sent\n' >"$RESULTS"

# Runs scrapers $@ together: warm-up, measured window, drain check; appends to $RESULTS.
run_phase() {
  local names=("$@") mode pids=() n i
  mode=$([[ ${#names[@]} -gt 1 ]] && echo side-by-side || echo alone)
  for n in "${names[@]}"; do
    start_scraper "$n"
    pids+=("$STARTED_PID")
  done
  log "${names[*]} started (pids ${pids[*]}); warm-up ${WARMUP}s"
  sleep "$WARMUP"

  local t0 t1 cpu0=() cpu1=() rss_file=$OUT/rss-$(IFS=-; echo "${names[*]}").tsv
  t0=$(now_ms)
  for i in "${!names[@]}"; do cpu0+=("$(cpu_seconds "${pids[$i]}")"); done
  log "measuring for ${DURATION}s"
  : >"$rss_file"
  local end=$(( $(date +%s) + DURATION ))
  while (( $(date +%s) < end )); do
    for i in "${!names[@]}"; do
      printf '%s\t%s\n' "${names[$i]}" "$(rss_bytes "${pids[$i]}")" >>"$rss_file"
    done
    sleep 5
  done
  t1=$(now_ms)
  for i in "${!names[@]}"; do cpu1+=("$(cpu_seconds "${pids[$i]}")"); done
  for i in "${!names[@]}"; do
    printf '%s\t%s\n' "${names[$i]}" "$(rss_bytes "${pids[$i]}")" >>"$rss_file"
  done
  local hwm=()
  for i in "${!names[@]}"; do hwm+=("$(hwm_bytes "${pids[$i]}")"); done

  # Wait (up to 2 min) until the sink has every sample the targets served in the window.
  local served sent ok deadline=$(( $(date +%s) + 120 ))
  while :; do
    served=$(curl -fsS "http://127.0.0.1:$CONTROL_PORT/stats?from=$t0&to=$t1")
    sent=$(curl -fsS "http://127.0.0.1:$SINK_PORT/stats?from=$t0&to=$t1")
    ok=1
    for n in "${names[@]}"; do
      local want got
      want=$(jq --arg n "$n" '.served[$n].samples // 0' <<<"$served")
      got=$(jq --arg n "$n" '.[$n].window.target_samples // 0' <<<"$sent")
      (( got >= want )) || ok=0
    done
    (( ok == 1 )) && break
    if (( $(date +%s) > deadline )); then
      log "the sink did not get every sample served in the window; counts below show the gap"
      break
    fi
    sleep 2
  done
  echo "$served" >"$OUT/served-$(IFS=-; echo "${names[*]}").json"
  echo "$sent" >"$OUT/sent-$(IFS=-; echo "${names[*]}").json"

  for i in "${!names[@]}"; do
    n=${names[$i]}
    local s_scrapes s_samples s_bytes r_ok r_target r_synth r_bytes rss
    s_scrapes=$(jq --arg n "$n" '.served[$n].scrapes // 0' <<<"$served")
    s_samples=$(jq --arg n "$n" '.served[$n].samples // 0' <<<"$served")
    s_bytes=$(jq --arg n "$n" '.served[$n].bytes // 0' <<<"$served")
    r_ok=$(jq --arg n "$n" '.[$n].window.scrapes_ok // 0' <<<"$sent")
    r_target=$(jq --arg n "$n" '.[$n].window.target_samples // 0' <<<"$sent")
    r_synth=$(jq --arg n "$n" '.[$n].window.synthetic_samples // 0' <<<"$sent")
    r_bytes=$(jq --arg n "$n" '.[$n].body_bytes // 0' <<<"$sent")
    rss=$(awk -F'\t' -v n="$n" '$1 == n { s += $2; c++; if ($2 > m) m = $2 }
      END { printf "%.0f %.0f", c ? s / c : 0, m }' "$rss_file")
    # shellcheck disable=SC2086
    set -- $rss
    awk -v n="$n" -v mode="$mode" -v t0="$t0" -v t1="$t1" -v c0="${cpu0[$i]}" -v c1="${cpu1[$i]}" \
      -v ss="$s_scrapes" -v sm="$s_samples" -v ok="$r_ok" -v rt="$r_target" -v rs="$r_synth" \
      -v ravg="$1" -v rpeak="$2" -v hwm="${hwm[$i]}" -v sb="$s_bytes" -v rb="$r_bytes" 'BEGIN {
        cpu = c1 - c0
        printf "%s\t%s\t%.1f\t%.2f\t%d\t%d\t%d\t%d\t%d\t%.3f\t%.0f\t%.0f\t%.0f\t%.0f\t%.0f\n",
          n, mode, (t1 - t0) / 1000, cpu, ss, sm, ok, rt, rs, (sm > 0 ? cpu / sm * 1e6 : 0),
          ravg, rpeak, hwm, sb, rb
      }' >>"$RESULTS"
    if [[ $s_samples != "$r_target" || $s_scrapes != "$r_ok" ]]; then
      log "$n: served $s_scrapes scrapes / $s_samples samples in the window, sink got $r_ok up=1 / $r_target samples"
    fi
  done
  for p in "${pids[@]}"; do stop_process "$p"; done
}

IFS=, read -r -a LIST <<<"$SCRAPERS"
if [[ $SERIAL == 1 ]]; then
  for s in "${LIST[@]}"; do run_phase "$s"; done
else
  run_phase "${LIST[@]}"
fi

echo
echo "targets=$TARGETS series/target=$SERIES interval=$INTERVAL warm-up=${WARMUP}s measured=${DURATION}s gzip=$GZIP mode=$([[ $SERIAL == 1 ]] && echo one-at-a-time || echo side-by-side)"
column -t -s $'\t' "$RESULTS"
echo
awk -F'\t' 'NR > 1 { cpu[$1] = $10; avg[$1] = $11; peak[$1] = $12 }
  END {
    if (!("agent" in cpu) || !("prometheus" in cpu) || cpu["prometheus"] == 0) exit
    printf "agent/prometheus: cpu per sample %.2fx, rss average %.2fx, rss peak %.2fx\n",
      cpu["agent"] / cpu["prometheus"], avg["agent"] / avg["prometheus"], peak["agent"] / peak["prometheus"]
  }' "$RESULTS"
echo "results: $RESULTS"
