#!/usr/bin/env bash
# Kill test: four custosd of a 4-member devnet under a steady load of signed
# transactions (`custos load`), while every ~2-3 s a random node is killed
# with kill -9 and restarted (at most one down at a time, so f = 1 holds),
# for CUSTOS_KILL_CYCLES cycles (default 50). Then: the load generator lost
# nothing it got accepted; every accepted txid is committed on every node,
# in exactly one block; the four chains are identical (same block hash at
# every height); the node restarted last reached the others' tip within 30 s.
#   CUSTOS_KILL_CYCLES  kill/restart cycles (default 50)
#   CUSTOS_KILL_RATE    load in tx/s (default 50)
. "$(dirname "$0")/lib.sh"
CYCLES=${CUSTOS_KILL_CYCLES:-50}
RATE=${CUSTOS_KILL_RATE:-50}
CATCHUP_LIMIT=30

devnet 4
for i in 0 1 2 3; do start_node "$i"; done
URLS=$(for i in 0 1 2 3; do rpc_url "$i"; done | paste -sd,)
height() {
  local h; h=$(rpc "$(rpc_url "$1")" status 2>/dev/null | jq -r '.result.height // -1' 2>/dev/null || true)
  echo "${h:--1}"
}
max_height() { local m=-1 h i; for i in "$@"; do h=$(height "$i"); [ "$h" -gt "$m" ] && m=$h; done; echo "$m"; }

# On a stall or a mismatch: what each engine says, then the logs (lib.sh).
die() {
  echo "---- status.consensus of each node:" >&2
  for i in 0 1 2 3; do
    echo "node$i: $(rpc "$(rpc_url "$i")" status | jq -c '.result | {height, consensus, mempool: .mempool.size}' 2>/dev/null || echo down)" >&2
  done
  [ -f "$WORK/load.err" ] && { echo "---- custos load stderr:" >&2; tail -5 "$WORK/load.err" >&2; }
  fail "$@"
}

# The load outlasts the kill loop (<= 4 s a cycle); SIGTERM ends it early.
"$CUSTOS" load --nodes "$URLS" --rate "$RATE" --duration $((CYCLES * 4 + 30)) --drain 60 \
  --json --out "$WORK/txids" >"$WORK/load.json" 2>"$WORK/load.err" &
LOAD_PID=$!
PIDS+=("$LOAD_PID")
sleep 2

T0=$SECONDS
LAST=-1
last_progress=$SECONDS
last_max=$(max_height 0 1 2 3)
for cycle in $(seq 1 "$CYCLES"); do
  sleep "$((2 + RANDOM % 2)).$((RANDOM % 10))" # 2.0-3.9 s between kills
  kill -0 "$LOAD_PID" 2>/dev/null || die "custos load ended early (cycle $cycle): $(cat "$WORK/load.json")"
  v=$((RANDOM % 4))
  stop_node "$v" KILL
  sleep "0.$((RANDOM % 10))" # down for 0-0.9 s
  start_node "$v"
  LAST=$v
  # Liveness: the highest tip must move (the load never stops).
  m=$(max_height 0 1 2 3)
  if [ "$m" -gt "$last_max" ]; then
    last_max=$m
    last_progress=$SECONDS
  elif [ $((SECONDS - last_progress)) -gt 20 ]; then
    die "cycle $cycle: no block committed for $((SECONDS - last_progress)) s (tip $m)"
  fi
done
RESTART_AT=$(date +%s.%N)
echo "# $CYCLES kill -9 cycles in $((SECONDS - T0)) s; last killed node$LAST"

# The last restarted node reaches the others' tip (taken first) while the
# load still runs.
others=$(for i in 0 1 2 3; do if [ "$i" != "$LAST" ]; then echo "$i"; fi; done)
caught=""
for _ in $(seq 1 $((CATCHUP_LIMIT * 10))); do
  tip=$(max_height $others)
  if [ "$(height "$LAST")" -ge "$tip" ]; then
    caught=$(awk -v a="$RESTART_AT" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}')
    break
  fi
  sleep 0.1
done
[ -n "$caught" ] || die "node$LAST not at the others' tip $CATCHUP_LIMIT s after its restart: $(height "$LAST") vs $(max_height $others)"
pass "node$LAST, restarted last, reached the others' tip ($tip) ${caught} s after answering again (limit $CATCHUP_LIMIT s)"

# Stop the load; it drains and reports.
kill -TERM "$LOAD_PID"
lrc=0
wait "$LOAD_PID" || lrc=$?
jq -e . "$WORK/load.json" >/dev/null 2>&1 || die "custos load printed no report (exit $lrc): $(cat "$WORK/load.err")"
echo "# load: $(jq -c '{submitted, accepted, refused, refused_by, committed, lost, duplicated, resubmitted, late_accepted, committed_tps, latency_p50_ms, latency_p99_ms, latency_max_ms}' "$WORK/load.json")"
[ "$(jq .lost "$WORK/load.json")" = 0 ] || die "custos load lost $(jq .lost "$WORK/load.json") accepted transactions"
[ "$(jq .duplicated "$WORK/load.json")" = 0 ] || die "custos load saw $(jq .duplicated "$WORK/load.json") transactions in two blocks"
[ "$lrc" = 0 ] || die "custos load exited $lrc"
N=$(wc -l <"$WORK/txids")
[ "$N" -ge "$CYCLES" ] || die "only $N transactions accepted: the load did not run"
pass "custos load: $N accepted, 0 lost ($(jq .resubmitted "$WORK/load.json") resubmitted after a kill)"

# All four at one height (no more load: the tips stop).
for _ in $(seq 1 300); do
  hs=$(for i in 0 1 2 3; do height "$i"; done | sort -u)
  [ "$(echo "$hs" | wc -l)" = 1 ] && [ "$hs" -ge 1 ] && break
  sleep 0.1
done
[ "$(echo "$hs" | wc -l)" = 1 ] || die "heights differ 30 s after the load: $(echo $hs)"
H=$hs

# batch NODE METHOD JQ_PARAMS FILE: one JSON-RPC batch per 200 lines of
# FILE (each line an argument for JQ_PARAMS, given as $a); prints the
# responses, one per line, in order.
batch() {
  local url; url=$(rpc_url "$1")
  split -l 200 -d -a 4 "$4" "$WORK/part."
  for p in "$WORK"/part.*; do
    jq -R -s -c --arg m "$2" "split(\"\n\") | map(select(length > 0)) | to_entries
      | map({jsonrpc: \"2.0\", id: .key, method: \$m, params: (.value as \$a | $3)})" "$p" >"$WORK/req"
    curl -s -m 60 -H 'Content-Type: application/json' --data-binary "@$WORK/req" "$url" \
      | jq -c 'sort_by(.id) | .[]'
    rm -f "$p"
  done
}

# Identical chains: the block hash at every height, on each node.
seq 1 "$H" >"$WORK/heights"
for i in 0 1 2 3; do
  batch "$i" block_get '{height: ($a | tonumber)}' "$WORK/heights" >"$WORK/blocks$i"
  jq -r '.result.hash // "missing"' "$WORK/blocks$i" >"$WORK/hashes$i"
  [ "$(wc -l <"$WORK/hashes$i")" = "$H" ] || die "node$i: $(wc -l <"$WORK/hashes$i") of $H blocks read"
  grep -q missing "$WORK/hashes$i" && die "node$i lacks a block below its height $H"
done
for i in 1 2 3; do
  d=$(paste "$WORK/hashes0" "$WORK/hashes$i" | awk '$1 != $2 {print NR; exit}')
  [ -z "$d" ] || die "chains differ: node0 and node$i at height $d"
done
pass "4 chains identical: same block hash at all $H heights"

# Every accepted txid committed on every node, and in exactly one block.
jq -r '.result.txs[].txid' "$WORK/blocks0" | sort >"$WORK/in_blocks"
dup=$(uniq -d "$WORK/in_blocks" | head -3)
[ -z "$dup" ] || die "transactions in two blocks: $dup"
sort "$WORK/txids" >"$WORK/sent"
missing=$(comm -23 "$WORK/sent" "$WORK/in_blocks" | head -3)
[ -z "$missing" ] || die "accepted but in no block: $missing"
for i in 0 1 2 3; do
  bad=$(batch "$i" tx_get '{txid: $a}' "$WORK/txids" | jq -r 'select(.result.status != "committed") | .id' | wc -l)
  [ "$bad" = 0 ] || die "node$i: $bad accepted transactions not committed (tx_get)"
done
pass "all $N accepted transactions committed on all 4 nodes, each in exactly one block"
