# bench/lib.sh: what the devnet benchmarks share (sourced by bench_bft.sh,
# bench_hotstuff.sh and bench_calls.sh; they set CUSTOS, CUSTOSD and set -e).
#
#   bench_devnet NAME JQ_FILTER [devnet init args...]
#       a fresh $WORK (removed, with every node killed, on exit; kept when
#       CUSTOS_BENCH_KEEP is set, to read the node logs), a 4-member
#       devnet in $WORK/net whose node configs pass through JQ_FILTER, the 4
#       custosd started (PIDS, logs in $WORK/nodeI.log); returns when each
#       answers status and is linked to the 3 others. Sets URLS (all four,
#       comma-separated) and INTERVAL (block.interval_ms).
#   bench_url I          node I's JSON-RPC URL
#   bench_cpu_ticks      utime + stime of the 4 custosd, in clock ticks (TCK a second)

PIDS=()
TCK=$(getconf CLK_TCK)

bench_cleanup() {
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill -9 "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ -n "${CUSTOS_BENCH_KEEP:-}" ] && [ -n "${WORK:-}" ]; then
    echo "bench: kept $WORK (CUSTOS_BENCH_KEEP)" >&2
  elif [ -n "${WORK:-}" ]; then
    rm -rf "$WORK"
  fi
}

bench_url() { echo "http://127.0.0.1:$(jq -r .rpc.port "$WORK/net/node$1/config.json")"; }

bench_devnet() {
  local name=$1 filter=$2 i n ok
  shift 2
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/custos-$name-XXXXXX")
  trap bench_cleanup EXIT
  "$CUSTOS" devnet init "$WORK/net" --members 4 "$@" >/dev/null
  for i in 0 1 2 3; do
    jq "$filter" "$WORK/net/node$i/config.json" >"$WORK/cfg.tmp"
    mv "$WORK/cfg.tmp" "$WORK/net/node$i/config.json"
  done
  INTERVAL=$(jq .block.interval_ms "$WORK/net/node0/config.json")
  for i in 0 1 2 3; do
    "$CUSTOSD" --config "$WORK/net/node$i/config.json" >"$WORK/node$i.log" 2>&1 &
    PIDS+=("$!")
  done
  for i in 0 1 2 3; do # RPC up, and linked to the 3 others
    ok=0
    for _ in $(seq 1 400); do
      n=$("$CUSTOS" --node "$(bench_url "$i")" status --json 2>/dev/null \
        | jq '[.peers[]? | select(.connected)] | length' 2>/dev/null) || n=0
      [ "$n" = 3 ] && { ok=1; break; }
      sleep 0.05
    done
    [ "$ok" = 1 ] || { echo "$name: node $i not linked: $(tail -5 "$WORK/node$i.log")" >&2; exit 1; }
  done
  URLS=$(for i in 0 1 2 3; do bench_url "$i"; done | paste -sd,)
}

bench_cpu_ticks() {
  local s=0 p
  for p in "${PIDS[@]}"; do s=$((s + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done
  echo "$s"
}
