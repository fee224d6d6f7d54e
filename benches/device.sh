#!/usr/bin/env bash
# The multi-core measurements, as one script for a many-core Linux host (the device tool).
# Binaries are taken from $BIN (prebuilt, stripped: coreflow, flowgen, recv_floor,
# decode-bench), results written to $OUT (or ./device-out). coreflow and flowgen (the
# crates/flowgen workspace member) are what `cargo build --release` leaves in target/release.
#
#   BIN=target/device OUT=/tmp/out benches/device.sh
#
# 1. Criterion decode benches (short).        -> bench.txt
# 2. Receive floor: bare recvmmsg loop.       -> floor.txt
# 3. CPU per record at 1M records/s, 1 worker, v5 / v9 / IPFIX / sFlow.   -> cpu.txt
# 4. Scaling: loss-free rate with 1, 2, 4, 8 workers, 8 flowgen senders.  -> scaling.txt
set -u
BIN=${BIN:-target/device}
OUT=${OUT:-device-out}
mkdir -p "$OUT"
{ nproc; uname -r; lscpu | grep -E "Model name|NUMA node\(s\)|^CPU\(s\)"; } > "$OUT/host.txt" 2>&1
cat "$OUT/host.txt"

timeout 90 "$BIN/decode-bench" --bench --warm-up-time 1 --measurement-time 2 --noplot \
  > "$OUT/bench.txt" 2>&1
grep -E "^[a-z0-9_/ -]+$|time:|thrpt:" "$OUT/bench.txt" | head -60

"$BIN/recv_floor" 20999 6 200 > "$OUT/floor.txt" 2>&1 &
FP=$!
sleep 0.3
taskset -c 2 "$BIN/flowgen" --protocol v5 --records 30 --rate 33333 --duration 5 \
  --exporters 16 --target 127.0.0.1:20999 > /dev/null
wait "$FP"
cat "$OUT/floor.txt"

{
  tuning/measure.sh --bin "$BIN" --proto v5 --workers 1 --rates 33333 --seconds 8
  tuning/measure.sh --bin "$BIN" --proto v9 --workers 1 --rates 33333 --seconds 8
  tuning/measure.sh --bin "$BIN" --proto ipfix --workers 1 --rates 33333 --seconds 8
  tuning/measure.sh --bin "$BIN" --proto sflow --records 8 --workers 1 --rates 125000 --seconds 8
} 2>&1 | tee "$OUT/cpu.txt"

tuning/measure.sh --bin "$BIN" --proto v5 --workers "1 2 4 8" --senders 8 --seconds 3 \
  --rates "50000 100000 150000 200000 300000 400000 600000 800000 1000000 1200000 1400000" \
  2>&1 | tee "$OUT/scaling.txt"
