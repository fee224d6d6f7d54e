#!/usr/bin/env bash
# Loss-free receive rate of coreflow on loopback, measured with flowgen.
#
#   tuning/measure.sh [--bin DIR] [--proto v5|v9|ipfix|sflow] [--records N]
#                     [--workers "1 2"] [--senders N] [--rates "R1 R2 ..."] [--seconds S]
#                     [--format pb|json] [--output FILE] [--coalesce US] [--channel N]
#                     [--metrics default|off|on|scrape] [--exporters N] [--rotate-s S]
#
# The binaries: with --bin DIR, DIR/coreflow and DIR/flowgen; otherwise $COREFLOW and $FLOWGEN
# when set, else target/release/coreflow and target/release/flowgen of a checkout (the current
# directory), else coreflow and coreflow-flowgen (the package's names) on PATH. Installed by
# the package as /usr/share/coreflow/measure.sh.
#
# For each worker count W: coreflow with one listener of W sockets pinned to cores 0..W-1 and
# protobuf to /dev/null; N flowgen processes (16 exporters each, distinct 127.0.x.y
# addresses) pinned to the cores after the workers (unpinned when there are none left); for
# each aggregate rate in datagrams/s (ascending), one run of S seconds. A run is loss-free when coreflow received every datagram sent, the
# kernel dropped none (SO_RXQ_OVFL/SO_MEMINFO), no batch was dropped at the output channel,
# and every flow was written. Stops at the first lossy rate of each W. One line per run:
#   workers rate sent received kernel_drops channel_drops written lossfree cpu_s
#   us_per_record us_per_datagram peak_rss_kib user_s sys_s
# CPU is the coreflow process's user+sys time from /proc over the run. VERBOSE=1 also prints
# coreflow's start-up and warning lines on stderr.
# --metrics: default writes no [metrics] section (what a build before the endpoint needs);
# off disables the endpoint and the per-exporter accounting; on serves it on an ephemeral
# port; scrape also fetches /metrics once a second during the run and adds the slowest
# scrape (ms) and the page size to the line. --exporters: per flowgen process (16).
# --rotate-s S: the file output rotates every S seconds (output.rotate_interval_s; needs
# --output FILE, a regular file: the rotated files are FILE.<time> beside it, counted and
# removed after each run; --rotate-s 0: no rotation, the output still removed after each run,
# the baseline to compare with).
set -u
BIN=; PROTO=v5; RECORDS=30; WORKERS="1 2"; SENDERS=1; RATES="10000 20000 40000"
SECONDS_RUN=5; FORMAT=pb; OUTPUT=/dev/null; COALESCE=10000; CHANNEL=; METRICS=default; EXPORTERS=16
ROTATE=
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) BIN=$2; shift 2;; --proto) PROTO=$2; shift 2;; --records) RECORDS=$2; shift 2;;
    --workers) WORKERS=$2; shift 2;; --senders) SENDERS=$2; shift 2;;
    --rates) RATES=$2; shift 2;; --seconds) SECONDS_RUN=$2; shift 2;;
    --format) FORMAT=$2; shift 2;; --output) OUTPUT=$2; shift 2;;
    --coalesce) COALESCE=$2; shift 2;; --channel) CHANNEL=$2; shift 2;;
    --metrics) METRICS=$2; shift 2;; --exporters) EXPORTERS=$2; shift 2;;
    --rotate-s) ROTATE=$2; shift 2;;
    *) echo "unknown option $1" >&2; exit 2;;
  esac
done
if [ -n "$BIN" ]; then
  COREFLOW=$BIN/coreflow; FLOWGEN=$BIN/flowgen
else
  # a checkout's release build, else the installed binaries
  pick() { if [ -x "$1" ]; then echo "$1"; else shift; command -v "$@" 2>/dev/null | head -n 1; fi; }
  COREFLOW=${COREFLOW:-$(pick target/release/coreflow coreflow)}
  FLOWGEN=${FLOWGEN:-$(pick target/release/flowgen coreflow-flowgen flowgen)}
fi
[ -x "$COREFLOW" ] && [ -x "$FLOWGEN" ] || {
  echo "coreflow ($COREFLOW) or flowgen ($FLOWGEN) not found: cargo build --release in a checkout" \
    "(builds both), install the package (coreflow, coreflow-flowgen), or set COREFLOW and FLOWGEN" >&2
  exit 2; }
NCPU=$(nproc)
HZ=$(getconf CLK_TCK)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
LISTENER=netflow; OTHER=sflow
[ "$PROTO" = sflow ] && { LISTENER=sflow; OTHER=netflow; }

run() { # W RATE
  local W=$1 R=$2 cores i
  cores=$(seq -s, 0 $((W - 1)))
  cat > "$TMP/c.toml" <<EOF
[$LISTENER]
port = 0
sockets = $W
cores = [$cores]
[$OTHER]
enabled = false
[receive]
coalesce_us = $COALESCE
[output]
format = "$FORMAT"
file = "$OUTPUT"
EOF
  if [ -n "$ROTATE" ]; then printf 'rotate_interval_s = %s\n' "$ROTATE" >> "$TMP/c.toml"; fi
  if [ -n "$CHANNEL" ]; then printf '[batch]\nchannel = %s\n' "$CHANNEL" >> "$TMP/c.toml"; fi
  case "$METRICS" in
    off) printf '[metrics]\naddress = "off"\n' >> "$TMP/c.toml";;
    on|scrape) printf '[metrics]\naddress = "127.0.0.1:0"\nmax_exporters = %s\n' \
      $((EXPORTERS * SENDERS + 10)) >> "$TMP/c.toml";;
  esac
  "$COREFLOW" --config "$TMP/c.toml" 2> "$TMP/err" &
  local PID=$!
  local PORT=""
  for i in $(seq 200); do
    PORT=$(grep -o "$LISTENER listening on [^ ]*" "$TMP/err" | sed 's/.*://')
    [ -n "$PORT" ] && break
    sleep 0.05
  done
  if [ -z "$PORT" ]; then
    echo "coreflow did not start:" >&2; cat "$TMP/err" >&2; kill "$PID"; return 1
  fi
  local MADDR="" SCRAPER=""
  if [ "$METRICS" = scrape ]; then
    for i in $(seq 200); do
      MADDR=$(grep -o "metrics listening on [^ ]*" "$TMP/err" | sed 's/.* on //')
      [ -n "$MADDR" ] && break
      sleep 0.05
    done
    : > "$TMP/scrapes"
    ( while sleep 1; do
        curl -s -o "$TMP/page" -w '%{time_total} %{size_download}\n' "http://$MADDR/metrics" \
          >> "$TMP/scrapes" || break
      done ) &
    SCRAPER=$!
  fi
  read -r U0 S0 < <(awk '{print $14, $15}' "/proc/$PID/stat")
  local pids=()
  for i in $(seq 0 $((SENDERS - 1))); do
    local pin=""
    if [ $((W + i)) -lt "$NCPU" ] && command -v taskset > /dev/null; then
      pin="taskset -c $((W + i))"
    fi
    $pin "$FLOWGEN" --protocol "$PROTO" --records "$RECORDS" --exporters "$EXPORTERS" \
      --first-exporter $((EXPORTERS * i)) --rate $((R / SENDERS)) --duration "$SECONDS_RUN" \
      --target "127.0.0.1:$PORT" > "$TMP/gen.$i" &
    pids+=($!)
  done
  wait "${pids[@]}"
  sleep 0.3
  read -r U1 S1 < <(awk '{print $14, $15}' "/proc/$PID/stat")
  local SCRAPE=""
  if [ -n "$SCRAPER" ]; then
    curl -s -o "$TMP/page" -w '%{time_total} %{size_download}\n' "http://$MADDR/metrics" >> "$TMP/scrapes"
    kill "$SCRAPER" 2> /dev/null; wait "$SCRAPER" 2> /dev/null
    SCRAPE=$(awk '{ if ($1 > m) m = $1; n++; b = $2 } END {
      printf " scrapes=%d max_scrape_ms=%.1f page_bytes=%d", n, m * 1000, b }' "$TMP/scrapes")
  fi
  local RSS
  RSS=$(awk '/VmHWM/{print $2}' "/proc/$PID/status")
  kill -TERM "$PID"; wait "$PID"
  local ROTATED=""
  if [ -n "$ROTATE" ]; then
    ROTATED=" rotated_files=$(ls "$OUTPUT".2* 2> /dev/null | wc -l)"
    rm -f "$OUTPUT" "$OUTPUT".2*
  fi
  [ -n "${VERBOSE:-}" ] && grep -E "listening|warn|error" "$TMP/err" >&2
  local SENT_D SENT_R
  SENT_D=$(cat "$TMP"/gen.* | grep -o ' datagrams=[0-9]*' | cut -d= -f2 | awk '{s += $1} END {print s + 0}')
  SENT_R=$(cat "$TMP"/gen.* | grep -o ' records=[0-9]*' | cut -d= -f2 | awk '{s += $1} END {print s + 0}')
  local SUM
  SUM=$(grep -o 'datagrams=.*' "$TMP/err" | tail -1)
  get() { echo "$SUM" | grep -o " $1=[0-9]*" | cut -d= -f2; }
  local RECV KD CD WR
  RECV=$(echo "$SUM" | grep -o '^datagrams=[0-9]*' | cut -d= -f2)
  KD=$(get kernel_drops); CD=$(get channel_dropped_flows); WR=$(get written)
  local OK=no
  [ "$RECV" = "$SENT_D" ] && [ "$KD" = 0 ] && [ "$CD" = 0 ] && [ "$WR" = "$SENT_R" ] && OK=yes
  local TICKS=$(( (U1 - U0) + (S1 - S0) ))
  awk -v w="$W" -v r="$R" -v sd="$SENT_D" -v rv="$RECV" -v kd="$KD" -v cd="$CD" -v wr="$WR" \
      -v ok="$OK" -v t="$TICKS" -v hz="$HZ" -v sr="$SENT_R" -v rss="$RSS" \
      -v ut=$((U1 - U0)) -v st=$((S1 - S0)) 'BEGIN {
    cpu = t / hz; rec = (sr > 0 ? sr : 1); dg = (sd > 0 ? sd : 1);
    printf "workers=%d rate=%d sent=%d received=%d kernel_drops=%d channel_drops=%d written=%d lossfree=%s cpu_s=%.2f us_per_record=%.3f us_per_datagram=%.2f peak_rss_kib=%d user_s=%.2f sys_s=%.2f\n",
      w, r, sd, rv, kd, cd, wr, ok, cpu, cpu * 1e6 / rec, cpu * 1e6 / dg, rss, ut / hz, st / hz }' | tr -d '\n'
  echo "$SCRAPE$ROTATED"
  [ "$OK" = yes ]
}


echo "# $(date -u +%FT%TZ) $(uname -r) cpus=$NCPU load=$(cut -d' ' -f1-3 /proc/loadavg) proto=$PROTO records=$RECORDS senders=$SENDERS exporters=$EXPORTERS seconds=$SECONDS_RUN format=$FORMAT coalesce_us=$COALESCE metrics=$METRICS rotate_s=${ROTATE:-off} coreflow=$COREFLOW flowgen=$FLOWGEN"
for W in $WORKERS; do
  for R in $RATES; do
    run "$W" "$R" || break
  done
done
