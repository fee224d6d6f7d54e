#!/usr/bin/env bash
# CPU per record of one worker at 1M records/s: the median of N runs per protocol.
#
#   benches/cpu.sh [--bin DIR] [--runs N] [--seconds S] [--protocols "v5 v9 ipfix sflow"]
#
# Each run is `tuning/measure.sh` with one worker: flowgen sends 30-record datagrams (sFlow: 8
# samples per datagram) from 16 exporters at 1,000,000 records/s for S seconds (30), protobuf
# goes to /dev/null, and the run counts only if nothing was lost (kernel drops, channel drops
# and the written count all checked). The protocols take turns, run after run, so that a busy
# spell of the host (this is meant for shared VMs too) falls on all of them alike. One line
# per run as measure.sh prints it, then per protocol:
#   <protocol> median_us_per_record=<m> min=<a> max=<b> runs=<n> lossfree=<k>/<n> peak_rss_kib=<r>
# Targets (issue 4): v5 <= 0.10, v9 and IPFIX <= 0.15, sFlow <= 0.40 us per record.
set -u
BIN=target/release; RUNS=5; SECONDS_RUN=30; PROTOCOLS="v5 v9 ipfix sflow"
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) BIN=$2; shift 2;; --runs) RUNS=$2; shift 2;;
    --seconds) SECONDS_RUN=$2; shift 2;; --protocols) PROTOCOLS=$2; shift 2;;
    *) echo "unknown option $1" >&2; exit 2;;
  esac
done
cd "$(dirname "$0")/.." || exit 2
[ -x "$BIN/coreflow" ] && [ -x "$BIN/flowgen" ] || {
  echo "no coreflow/flowgen in $BIN: cargo build --release (builds both: coreflow and crates/flowgen)" >&2; exit 2; }
LOG=$(mktemp)
trap 'rm -f "$LOG"' EXIT
for _ in $(seq "$RUNS"); do
  for p in $PROTOCOLS; do
    if [ "$p" = sflow ]; then args=(--records 8 --rates 125000); else args=(--records 30 --rates 33334); fi
    line=$(tuning/measure.sh --bin "$BIN" --proto "$p" --workers 1 "${args[@]}" \
      --seconds "$SECONDS_RUN" 2>&1 | grep -v '^#')
    echo "$p $line" | tee -a "$LOG"
  done
done
for p in $PROTOCOLS; do
  grep "^$p " "$LOG" | awk -v p="$p" '{
      for (i = 2; i <= NF; i++) {
        split($i, kv, "=")
        if (kv[1] == "us_per_record") v[NR] = kv[2] + 0
        if (kv[1] == "lossfree" && kv[2] == "yes") ok++
        if (kv[1] == "peak_rss_kib" && kv[2] + 0 > rss) rss = kv[2] + 0
      }
    } END {
      n = NR; if (n == 0) { print p, "no runs"; exit }
      for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
      m = (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
      printf "%s median_us_per_record=%.3f min=%.3f max=%.3f runs=%d lossfree=%d/%d peak_rss_kib=%d\n",
        p, m, v[1], v[n], n, ok, n, rss
    }'
done
