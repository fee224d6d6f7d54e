#!/usr/bin/env bash
# CPU per record of two coreflow builds (or configurations) measured side by side.
#
#   tuning/pair.sh [--proto v5|v9|ipfix|sflow] [--records N] [--rate DGRAMS_PER_S]
#                  [--seconds S] [--rounds N] [--threads REGEX]
#                  A_BIN_DIR[:A_CONFIG] B_BIN_DIR[:B_CONFIG]
#
# On a shared machine (a VM whose host runs other work) the CPU a collector spends per record
# drifts by 10-20% from one minute to the next, more than most changes are worth. Here both
# collectors run at the same time, each with its own flowgen at the same rate: A and B
# workers share core 0, the two flowgens core 1, so whatever the host does hits both alike
# and the ratio B/A is stable to about 1%. (Comparing A with itself reads ~0.99: B's position
# is slightly favoured.) Absolute figures here are higher than tuning/measure.sh's, since
# the two collectors share one core.
#
# Each side runs `DIR/coreflow --config CONFIG` (default: one NetFlow or sFlow socket on an
# ephemeral port pinned to core 0, protobuf to /dev/null, metrics on an ephemeral port;
# a CONFIG must likewise use port 0 and a metrics address that cannot clash). flowgen comes
# from target/release (`cargo build --release` builds it with coreflow). `--threads cf-nf`
# counts only the CPU of the threads whose name matches (the NetFlow workers: the hot path),
# rather than the whole process (which also has the output, metrics and, with a templates
# topic, the cluster thread and librdkafka's). One line per round:
#   A <ns/record> B <ns/record> B/A <ratio> <A loss-free> <B loss-free>
set -u
PROTO=v9; RECORDS=""; RATE=""; SECONDS_RUN=10; ROUNDS=3; THREADS=""
while [ $# -gt 2 ]; do
  case "$1" in
    --proto) PROTO=$2; shift 2;; --records) RECORDS=$2; shift 2;; --rate) RATE=$2; shift 2;;
    --seconds) SECONDS_RUN=$2; shift 2;; --rounds) ROUNDS=$2; shift 2;;
    --threads) THREADS=$2; shift 2;;
    *) echo "unknown option $1" >&2; exit 2;;
  esac
done
[ $# -eq 2 ] || { echo "usage: tuning/pair.sh [options] A_BIN_DIR[:CONFIG] B_BIN_DIR[:CONFIG]" >&2; exit 2; }
if [ "$PROTO" = sflow ]; then
  LISTENER=sflow; OTHER=netflow; RECORDS=${RECORDS:-8}; RATE=${RATE:-125000}
else
  LISTENER=netflow; OTHER=sflow; RECORDS=${RECORDS:-30}; RATE=${RATE:-33334}
fi
[ -x target/release/flowgen ] || {
  echo "no target/release/flowgen: cargo build --release (builds coreflow and crates/flowgen)" >&2; exit 2; }
TMP=$(mktemp -d)
trap 'kill $(jobs -p) 2> /dev/null; rm -rf "$TMP"' EXIT
cat > "$TMP/default.toml" <<EOF
[$LISTENER]
port = 0
sockets = 1
cores = [0]
[$OTHER]
enabled = false
[output]
format = "pb"
file = "/dev/null"
[metrics]
address = "127.0.0.1:0"
EOF
side() { # SPEC -> "bin config"
  local bin=${1%%:*} cfg="$TMP/default.toml"
  case "$1" in *:*) cfg=${1#*:};; esac
  echo "$bin $cfg"
}
read -r A_BIN A_CFG < <(side "$1")
read -r B_BIN B_CFG < <(side "$2")
ticks() { # PID: user + system ticks of the process, or of its threads matching THREADS
  if [ -z "$THREADS" ]; then awk '{print $14 + $15}' "/proc/$1/stat"; return; fi
  local t n=0
  for t in /proc/"$1"/task/*; do
    grep -Eq "$THREADS" "$t/comm" 2> /dev/null || continue
    n=$((n + $(awk '{print $14 + $15}' "$t/stat")))
  done
  echo "$n"
}
port() { # TAG
  local p="" i
  for i in $(seq 200); do
    p=$(grep -o "$LISTENER listening on [^ ]*" "$TMP/err.$1" | head -1 | sed 's/.*://')
    [ -n "$p" ] && break
    sleep 0.05
  done
  echo "$p"
}
summary() { grep -o "$1=[0-9]*" "$2" | tail -1 | cut -d= -f2; }
for r in $(seq "$ROUNDS"); do
  "$A_BIN/coreflow" --config "$A_CFG" 2> "$TMP/err.a" & PA=$!
  "$B_BIN/coreflow" --config "$B_CFG" 2> "$TMP/err.b" & PB=$!
  A_PORT=$(port a); B_PORT=$(port b)
  if [ -z "$A_PORT" ] || [ -z "$B_PORT" ]; then
    echo "a collector did not start:" >&2; cat "$TMP/err.a" "$TMP/err.b" >&2; exit 1
  fi
  sleep 0.2
  A0=$(ticks $PA); B0=$(ticks $PB)
  taskset -c 1 target/release/flowgen --protocol "$PROTO" --records "$RECORDS" --exporters 16 \
    --rate "$RATE" --duration "$SECONDS_RUN" --target "127.0.0.1:$A_PORT" > "$TMP/gen.a" & GA=$!
  taskset -c 1 target/release/flowgen --protocol "$PROTO" --records "$RECORDS" --exporters 16 \
    --first-exporter 16 --rate "$RATE" --duration "$SECONDS_RUN" \
    --target "127.0.0.1:$B_PORT" > "$TMP/gen.b" & GB=$!
  wait $GA $GB
  sleep 0.3
  A1=$(ticks $PA); B1=$(ticks $PB)
  kill -TERM $PA $PB; wait $PA $PB
  RA=$(summary ' records' "$TMP/gen.a"); RB=$(summary ' records' "$TMP/gen.b")
  ok() { # TAG RECORDS
    local kd wr
    kd=$(summary kernel_drops "$TMP/err.$1"); wr=$(summary ' written' "$TMP/err.$1")
    if [ "$kd" = 0 ] && [ "$wr" = "$2" ]; then echo lossfree; else echo "LOSS(kernel_drops=$kd written=$wr)"; fi
  }
  awk -v a=$((A1 - A0)) -v b=$((B1 - B0)) -v ra="$RA" -v rb="$RB" -v hz="$(getconf CLK_TCK)" \
      -v oa="$(ok a "$RA")" -v ob="$(ok b "$RB")" 'BEGIN {
    x = a * 1e9 / hz / ra; y = b * 1e9 / hz / rb;
    printf "A %.1f B %.1f B/A %.3f %s %s\n", x, y, y / x, oa, ob }'
done
