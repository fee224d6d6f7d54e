# Sourced by tuning/kafka-bench.sh and tuning/kafka-ir.sh: a throwaway nisshi broker (memory
# storage) on a free port of 127.0.0.1. Needs TMP (a scratch folder) and NISSHI (the binary).
#   start_broker   starts one, waits until it listens; sets BPID and BROKERS (host:port)
#   stop_broker    stops it (a no-op without one)

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start_broker() {
  local port
  port=$((20000 + RANDOM % 20000))
  while ! port_free "$port"; do port=$((20000 + RANDOM % 20000)); done
  rm -rf "$TMP/broker" && mkdir -p "$TMP/broker"
  (cd "$TMP/broker" && exec "$NISSHI" broker --listener-url "tcp://127.0.0.1:$port" \
      --advertised-listener-url "tcp://127.0.0.1:$port" --storage-engine memory://nisshi/ \
      --group-initial-rebalance-delay 0s > broker.log 2>&1) &
  BPID=$!
  for _ in $(seq 100); do port_free "$port" || break; sleep 0.1; done
  BROKERS="127.0.0.1:$port"
}

stop_broker() {
  [ -n "${BPID:-}" ] && kill -TERM "$BPID" 2>/dev/null && wait "$BPID" 2>/dev/null
  BPID=""
}
