#!/usr/bin/env bash
# Kafka output throughput and CPU cost: nisshi (memory storage) + flowgen + coreflow with one
# worker, all on this machine.
#
#   tuning/kafka-bench.sh [--bin DIR] [--rates "200000 300000"] [--seconds S] [--runs N]
#                         [--records N] [--compression none|lz4|...] [--linger MS]
#                         [--coalesce US] [--brokers HOST:PORT] [--messages per-flow|batched]
#                         [--producers N] [--instance-header true|false]
#
# Rates are flow records per second (NetFlow v9, --records per datagram, 16 exporters). For
# each rate, N runs of S seconds; each run starts a fresh coreflow (release binaries in DIR,
# default target/release; `cargo build --release` builds coreflow and flowgen), worker pinned to
# core 0, flowgen pinned to the last core, the broker and coreflow's output thread unpinned.
# A run passes when every record sent was delivered (coreflow's exit summary:
# kafka_delivered = flowgen's records, nothing dropped or failed). CPU is coreflow's
# user+sys time from /proc/PID/stat over the run (the broker's is not counted), per record.
# One line per run, then the median per rate:
#   rate runs sent flows delivered lost ok cpu_s us_per_record p50_ms p99_ms
# --messages picks kafka.messages, --producers kafka.producers, --linger kafka.linger_ms,
# --instance-header kafka.instance_header (unset: coreflow's default for the mode).
# --coalesce sets receive.coalesce_us (default 10000, coreflow's default too): waiting for
# datagrams to accumulate cuts the worker's wake-ups (its CPU per record at 200k/s).
# Each run starts its own broker on a free port unless --brokers is given (nisshi 0.8.1 from
# NISSHI, default /opt/nisshi-0.8.1/bin/nisshi).
set -u
BIN=target/release; RATES="200000"; SECONDS_RUN=30; RUNS=3; RECORDS=30; COMPRESSION=none
LINGER=""; COALESCE=10000; BROKERS=""; MESSAGES=per-flow; PRODUCERS=1; HEADER=""; NISSHI="${NISSHI:-/opt/nisshi-0.8.1/bin/nisshi}"
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) BIN=$2; shift 2;; --rates) RATES=$2; shift 2;; --seconds) SECONDS_RUN=$2; shift 2;;
    --runs) RUNS=$2; shift 2;; --records) RECORDS=$2; shift 2;;
    --compression) COMPRESSION=$2; shift 2;; --linger) LINGER=$2; shift 2;;
    --brokers) BROKERS=$2; shift 2;; --coalesce) COALESCE=$2; shift 2;;
    --messages) MESSAGES=$2; shift 2;; --producers) PRODUCERS=$2; shift 2;;
    --instance-header) HEADER=$2; shift 2;;
    *) echo "unknown option $1" >&2; exit 2;;
  esac
done
NCPU=$(nproc)
HZ=$(getconf CLK_TCK)
TMP=$(mktemp -d)
BPID=""
cleanup() {
  stop_broker
  rm -rf "$TMP"
}
trap cleanup EXIT
# shellcheck source=tuning/nisshi.sh
. "$(dirname "$0")/nisshi.sh"

# With no --brokers, every run gets a fresh broker: nisshi's memory storage keeps every record
# produced, and a broker holding the earlier runs' records (9.4 GB resident during the second of
# three 30 s batched runs at 1M records/s) slowed later runs down (delivery p99 of seconds),
# and with them coreflow's CPU per record.
OWN_BROKER=""
[ -z "$BROKERS" ] && OWN_BROKER=yes

run() { # RATE RUN
  local R=$1 N=$2 topic="bench-$$-$1-$2"
  [ -n "$OWN_BROKER" ] && start_broker
  cat > "$TMP/c.toml" <<EOF
[netflow]
port = 0
sockets = 1
cores = [0]
[sflow]
enabled = false
[receive]
coalesce_us = $COALESCE
[kafka]
brokers = "$BROKERS"
topic = "$topic"
compression = "$COMPRESSION"
${LINGER:+linger_ms = $LINGER}
${HEADER:+instance_header = $HEADER}
messages = "$MESSAGES"
producers = $PRODUCERS
shutdown_timeout_ms = 30000
EOF
  "$BIN/coreflow" --config "$TMP/c.toml" 2> "$TMP/err" &
  local PID=$! PORT="" i
  for i in $(seq 200); do
    PORT=$(grep -o "netflow listening on [^ ]*" "$TMP/err" | sed 's/.*://')
    [ -n "$PORT" ] && break
    sleep 0.05
  done
  if [ -z "$PORT" ]; then
    echo "coreflow did not start:" >&2; cat "$TMP/err" >&2; kill "$PID"; stop_broker; return 1
  fi
  # warm-up: the topic is auto-created by the first produce
  "$BIN/flowgen" --protocol v9 --records 1 --count 1 --target "127.0.0.1:$PORT" \
      --first-exporter 100 > /dev/null
  sleep 1
  read -r U0 S0 < <(awk '{print $14, $15}' "/proc/$PID/stat")
  local pin=""
  command -v taskset > /dev/null && [ "$NCPU" -gt 1 ] && pin="taskset -c $((NCPU - 1))"
  $pin "$BIN/flowgen" --protocol v9 --records "$RECORDS" --exporters 16 \
      --rate $((R / RECORDS)) --duration "$SECONDS_RUN" --template-every 100 \
      --target "127.0.0.1:$PORT" > "$TMP/gen"
  sleep 2
  read -r U1 S1 < <(awk '{print $14, $15}' "/proc/$PID/stat")
  kill -TERM "$PID"; wait "$PID"
  [ -n "$OWN_BROKER" ] && stop_broker
  [ -n "${VERBOSE:-}" ] && grep -E "warn|error" "$TMP/err" >&2
  local SENT SUM
  SENT=$(grep -o ' records=[0-9]*' "$TMP/gen" | cut -d= -f2)
  SENT=$((SENT + 1))  # the warm-up record
  SUM=$(grep 'stopped after' "$TMP/err" | tail -1)
  get() { echo "$SUM" | grep -o " $1=[0-9]*" | head -1 | cut -d= -f2; }
  local FLOWS DEL LOST P50 P99
  FLOWS=$(get flows); DEL=$(get kafka_delivered)
  LOST=$(( $(get kafka_failed) + $(get kafka_dropped_queue_full) + $(get kafka_dropped_shutdown) \
           + $(get channel_dropped_flows) + $(get kernel_drops) ))
  P50=$(get kafka_latency_p50_us); P99=$(get kafka_latency_p99_us)
  local OK=no
  [ "$DEL" = "$SENT" ] && [ "$FLOWS" = "$SENT" ] && [ "$LOST" = 0 ] && OK=yes
  awk -v r="$R" -v n="$N" -v s="$SENT" -v f="$FLOWS" -v d="$DEL" -v l="$LOST" -v ok="$OK" \
      -v t="$(( (U1 - U0) + (S1 - S0) ))" -v hz="$HZ" -v p50="$P50" -v p99="$P99" 'BEGIN {
    cpu = t / hz;
    printf "rate=%d run=%d sent=%d flows=%d delivered=%d lost=%d ok=%s cpu_s=%.2f us_per_record=%.3f p50_ms=%.1f p99_ms=%.1f\n",
      r, n, s, f, d, l, ok, cpu, cpu * 1e6 / (s > 1 ? s - 1 : 1), p50 / 1000, p99 / 1000 }'
}

echo "# $(date -u +%FT%TZ) $(uname -r) cpus=$NCPU load=$(cut -d' ' -f1-3 /proc/loadavg) brokers=${BROKERS:-fresh-nisshi-per-run} records=$RECORDS seconds=$SECONDS_RUN compression=$COMPRESSION linger_ms=${LINGER:-default} coalesce_us=$COALESCE messages=$MESSAGES producers=$PRODUCERS instance_header=${HEADER:-default}"
for R in $RATES; do
  : > "$TMP/lines"
  for N in $(seq "$RUNS"); do
    run "$R" "$N" > "$TMP/line"
    cat "$TMP/line"; cat "$TMP/line" >> "$TMP/lines"
  done
  local_n=$(wc -l < "$TMP/lines")
  local_ok=$(grep -c ' ok=yes ' "$TMP/lines")
  med=$(grep -o 'us_per_record=[0-9.]*' "$TMP/lines" | cut -d= -f2 | sort -n |
        awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
  echo "median rate=$R runs=$local_n all_delivered=$local_ok/$local_n us_per_record=$med"
done
