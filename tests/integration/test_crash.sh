#!/usr/bin/env bash
# kill -9 custosd while it commits a stream of transactions, restart it, and
# check that every transaction acknowledged as committed is still there.
# CYCLES (default 20) rounds; some kills land during start-up/recovery.
. "$(dirname "$0")/lib.sh"
CYCLES=${CYCLES:-20}

devnet 1
# Short blocks: more commits (and more kill points) per second.
jq '.block.interval_ms = 20' "$WORK/net/node0/config.json" >"$WORK/cfg" && mv "$WORK/cfg" "$WORK/net/node0/config.json"
start_node 0
URL=$(rpc_url 0)
c() { "$CUSTOS" --node "$URL" "$@"; }
SUB="--key $CUSTOS_KEY_SUBJECT --passphrase-file $CUSTOS_PASS_SUBJECT"
BUR="--key $CUSTOS_KEY_HRSS --passphrase-file $CUSTOS_PASS_HRSS"
DID=$(c $SUB --json --wait identity register --national-id 110101199003071234 | jq -r .did)
ACK="$WORK/acked"
: >"$ACK"

writer() { # submits attestations forever; records each one --wait saw committed
  local lvl
  while true; do
    if [ $((RANDOM % 2)) = 0 ]; then lvl=EA5+; else lvl=EA5-; fi
    out=$(c $BUR --json --wait --timeout 5 identity attest "$DID" --level "$lvl" 2>/dev/null) || continue
    echo "$out" | jq -r 'select(.status == "committed") | .txid' >>"$ACK"
  done
}

check_acked() {
  local n; n=$(wc -l <"$ACK")
  [ "$n" -gt 0 ] || return 0
  jq -R -s -c 'split("\n") | map(select(length == 64)) | to_entries
    | map({jsonrpc: "2.0", id: .key, method: "tx_get", params: {txid: .value}})' "$ACK" >"$WORK/batch"
  # Check in batches of 200 (the server's batch cap is 256).
  local total; total=$(jq length "$WORK/batch")
  for ((i = 0; i < total; i += 200)); do
    jq -c ".[$i:$((i + 200))]" "$WORK/batch" >"$WORK/part"
    raw "$URL" "$(cat "$WORK/part")" >"$WORK/resp"
    bad=$(jq '[.[] | select(.result.status != "committed")] | length' "$WORK/resp")
    [ "$bad" = 0 ] || fail "cycle $1: $bad acknowledged transactions missing: $(jq -c '[.[] | select(.result.status != "committed")][0]' "$WORK/resp")"
  done
}

MID=0
for cycle in $(seq 1 "$CYCLES"); do
  before=$(wc -l <"$ACK")
  writer &
  WPID=$!
  # Mostly mid-stream kills; every fourth cycle kills right after start-up.
  # A mid-stream kill waits for the stream to be running (one transaction
  # acknowledged in this cycle, at most 20 s: a CLI call alone can take
  # most of a second on a loaded machine), then lands at a random point
  # in it.
  if [ $((cycle % 4)) = 0 ]; then
    sleep 0.0$((RANDOM % 9 + 1))
  else
    for _ in $(seq 200); do [ "$(wc -l <"$ACK")" -gt "$before" ] && break; sleep 0.1; done
    [ "$(wc -l <"$ACK")" -gt "$before" ] || fail "cycle $cycle: no transaction committed within 20 s: the stream did not run"
    MID=$((MID + 1))
    sleep 0.$((RANDOM % 8 + 2))
  fi
  kill -9 "${NODE_PID[0]}"
  wait "${NODE_PID[0]}" 2>/dev/null || true
  kill "$WPID" 2>/dev/null; wait "$WPID" 2>/dev/null || true
  start_node 0
  check_acked "$cycle"
done
N=$(wc -l <"$ACK")
[ "$N" -ge "$MID" ] || fail "only $N transactions acknowledged over $MID mid-stream cycles"
stop_node 0
"$CUSTOSD" --config "$WORK/net/node0/config.json" --check >"$WORK/check" 2>&1 || fail "chain check: $(cat "$WORK/check")"
pass "$CYCLES kill -9 cycles: all $N acknowledged transactions survived; $(cat "$WORK/check")"
