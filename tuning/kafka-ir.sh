#!/usr/bin/env bash
# Instructions per delivered record through the Kafka output, counted by callgrind over the
# whole coreflow process (every thread, user space): a figure that does not move with the
# host's load, for comparing two builds or settings where tuning/kafka-bench.sh's CPU times
# are too noisy (their runs spread by +-30% on a shared 2-core host).
#
#   tuning/kafka-ir.sh [--bin DIR] [--messages per-flow|batched] [--low N] [--high N]
#                      [--seconds S] [--instance-header true|false] [--keep DIR]
#
# Runs coreflow under `valgrind --tool=callgrind` twice, each against a fresh nisshi broker
# (memory storage) on 127.0.0.1, with flowgen sending NetFlow v9 (30 records per datagram,
# 16 exporters) for S seconds (default 10) at the low and the high rate (default 5000 and
# 25000 records/s: low enough for the process to keep up under valgrind). Start-up, shutdown
# and per-second work cancel in the difference:
#   Ir per record = (Ir(high) - Ir(low)) / (records(high) - records(low))
# and the same for the three kinds of thread (inclusive cost of their entry functions):
# the worker (decode + encode), the output thread (produce + delivery reports) and
# librdkafka's broker threads (message sets, requests). A run counts only if every record
# sent was delivered. Kernel time (syscalls, loopback TCP) is not counted.
# --instance-header sets kafka.instance_header (unset: coreflow's default for the mode);
# --keep DIR keeps the two callgrind files for callgrind_annotate. Needs valgrind; release binaries in DIR (default target/release: `cargo build --release`).
set -u
BIN=target/release; MESSAGES=per-flow; LOW=5000; HIGH=25000; SECONDS_RUN=10; KEEP=""; HEADER=""
NISSHI="${NISSHI:-/opt/nisshi-0.8.1/bin/nisshi}"
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) BIN=$2; shift 2;; --messages) MESSAGES=$2; shift 2;;
    --low) LOW=$2; shift 2;; --high) HIGH=$2; shift 2;;
    --seconds) SECONDS_RUN=$2; shift 2;; --keep) KEEP=$2; shift 2;;
    --instance-header) HEADER=$2; shift 2;;
    *) echo "unknown option $1" >&2; exit 2;;
  esac
done
command -v valgrind > /dev/null || { echo "kafka-ir.sh needs valgrind" >&2; exit 2; }
TMP=$(mktemp -d)
BPID=""; VPID=""
cleanup() {
  [ -n "$VPID" ] && kill -TERM "$VPID" 2>/dev/null && wait "$VPID" 2>/dev/null
  stop_broker
  rm -rf "$TMP"
}
trap cleanup EXIT
# shellcheck source=tuning/nisshi.sh
. "$(dirname "$0")/nisshi.sh"

# inclusive Ir of the functions whose name matches $2 in callgrind output $1 (largest line)
incl() {
  callgrind_annotate --inclusive=yes "$1" 2>/dev/null | grep -E "$2" |
    awk '{ gsub(",", "", $1); if ($1 + 0 > m) m = $1 + 0 } END { printf "%d\n", m }'
}

run() { # RATE -> "records Ir worker output broker"
  local R=$1
  start_broker
  cat > "$TMP/c.toml" <<EOF
[netflow]
port = 0
sockets = 1
[sflow]
enabled = false
[kafka]
brokers = "$BROKERS"
topic = "ir"
messages = "$MESSAGES"
${HEADER:+instance_header = $HEADER}
shutdown_timeout_ms = 30000
EOF
  valgrind --tool=callgrind --callgrind-out-file="$TMP/cg.$R" \
      "$BIN/coreflow" --config "$TMP/c.toml" 2> "$TMP/err.$R" &
  VPID=$!
  local PORT="" i
  for i in $(seq 300); do
    PORT=$(grep -o "netflow listening on [^ ]*" "$TMP/err.$R" | sed 's/.*://')
    [ -n "$PORT" ] && break
    sleep 0.1
  done
  [ -z "$PORT" ] && { echo "coreflow did not start:" >&2; cat "$TMP/err.$R" >&2; exit 1; }
  # warm-up: the topic is auto-created by the first produce
  "$BIN/flowgen" --protocol v9 --records 1 --count 1 --target "127.0.0.1:$PORT" \
      --first-exporter 100 > /dev/null
  sleep 3
  "$BIN/flowgen" --protocol v9 --records 30 --exporters 16 --rate $((R / 30)) \
      --duration "$SECONDS_RUN" --template-every 100 --target "127.0.0.1:$PORT" > "$TMP/gen.$R"
  sleep 3
  kill -TERM "$VPID"; wait "$VPID"; VPID=""
  stop_broker
  local SENT DEL
  SENT=$(( $(grep -o ' records=[0-9]*' "$TMP/gen.$R" | cut -d= -f2) + 1 ))
  DEL=$(grep 'stopped after' "$TMP/err.$R" | tail -1 | grep -o ' kafka_delivered=[0-9]*' | cut -d= -f2)
  if [ "$DEL" != "$SENT" ]; then
    echo "rate=$R: $SENT records sent, ${DEL:-?} delivered: not counted" >&2; exit 1
  fi
  [ -n "$KEEP" ] && mkdir -p "$KEEP" && cp "$TMP/cg.$R" "$KEEP/callgrind.$MESSAGES.$R"
  echo "$SENT $(callgrind_annotate "$TMP/cg.$R" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }') \
$(incl "$TMP/cg.$R" 'pipeline::worker::run( \[.*\])?$') $(incl "$TMP/cg.$R" 'sink::Output::run( \[.*\])?$') \
$(incl "$TMP/cg.$R" 'rd_kafka_broker_thread_main( \[.*\])?$')"
}

echo "# $(date -u +%FT%TZ) bin=$BIN messages=$MESSAGES instance_header=${HEADER:-default} rates=$LOW,$HIGH seconds=$SECONDS_RUN"
run "$LOW" > "$TMP/r.low" || exit 1
run "$HIGH" > "$TMP/r.high" || exit 1
read -r N1 I1 W1 O1 B1 < "$TMP/r.low"
read -r N2 I2 W2 O2 B2 < "$TMP/r.high"
awk -v n="$((N2 - N1))" -v i="$((I2 - I1))" -v w="$((W2 - W1))" -v o="$((O2 - O1))" \
    -v b="$((B2 - B1))" -v m="$MESSAGES" 'BEGIN {
  printf "messages=%s records=%d ir_per_record=%.0f worker=%.0f output=%.0f broker_threads=%.0f\n",
    m, n, i / n, w / n, o / n, b / n }'
