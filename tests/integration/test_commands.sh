#!/usr/bin/env bash
# Benchmark commands (docs/transactions.md "Commands", docs/rpc.md
# "Benchmark commands") on 4 real custosd:
#  1. a devnet with --bench-commands: `custos load --commands` at 2000/s for
#     3 s commits every command at f+1 = 2 nodes (lost 0);
#  2. a payload already committed, submitted again: counted duplicate;
#  3. malformed command_submit params get their own errors (bad_hex,
#     invalid_params, too_long), admit nothing, and the chain keeps
#     committing;
#  4. with block.interval_ms 4000, a full block (block_max_txs waiting)
#     starts its height at once: 2400 commands at 1200/s all commit within
#     the load's 15 s drain (6 heights at 4 s each would take 24 s);
#  5. a chain WITHOUT the flag refuses command_submit (wrong_chain).
. "$(dirname "$0")/lib.sh"

"$CUSTOS" devnet init "$WORK/net" --members 4 --bench-commands --block-max-txs 400 \
  >"$WORK/devnet.out" || fail "devnet init: $(cat "$WORK/devnet.out")"
[ "$(jq .bench_commands "$WORK/net/genesis.json")" = true ] || fail "genesis lacks bench_commands"
[ "$(jq .block_max_txs "$WORK/net/genesis.json")" = 400 ] || fail "genesis block_max_txs is not 400"
keys_off
for i in 0 1 2 3; do
  f="$WORK/net/node$i/config.json"
  jq '.block.interval_ms = 5' "$f" >"$f.new" && mv "$f.new" "$f"
  start_node "$i"
done
URLS=$(for i in 0 1 2 3; do rpc_url "$i"; done | paste -sd,)
U0=$(rpc_url 0)
height() { rpc "$(rpc_url "$1")" status | jq -r .result.height; }

# ---- 1. everything committed ----
j=$("$CUSTOS" load --commands --nodes "$URLS" --rate 2000 --duration 3 --drain 15 --json) \
  || fail "load --commands failed: $j"
[ "$(echo "$j" | jq .submitted)" = 6000 ] || fail "submitted: $j"
[ "$(echo "$j" | jq .committed)" = 6000 ] || fail "not everything committed: $j"
[ "$(echo "$j" | jq .lost)" = 0 ] || fail "lost: $j"
echo "$j" | jq -e '.client_cpu_us_per_cmd > 0 and .committed_per_s > 0 and .latency_p50_ms >= 0' \
  >/dev/null || fail "figures missing: $j"
pass "load --commands: 6000 committed at f+1 nodes, lost 0 ($(echo "$j" | jq -c '{committed_per_s, latency_p50_ms, latency_p99_ms, client_cpu_us_per_cmd}'))"

# ---- 2. a committed payload replayed ----
P=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
H0=$(height 1) # the payload's block is above it (the load above made hundreds)
r=$(rpc "$U0" command_submit "{\"payloads\":\"$P\"}")
[ "$(echo "$r" | jq .result.accepted)" = 1 ] || fail "fresh payload not accepted: $r"
for _ in $(seq 1 100); do # committed (in the txid index) on node 1
  txid=$(rpc "$(rpc_url 1)" command_commits "{\"from\":$((H0 + 1)),\"max\":256}" \
    | jq -r --arg p "${P:0:16}" '[.result.blocks[] | select(.prefixes | contains($p))] | length')
  [ "$txid" = 1 ] && break
  sleep 0.1
done
[ "$txid" = 1 ] || fail "the payload was not committed"
for i in 0 1; do
  r=$(rpc "$(rpc_url "$i")" command_submit "{\"payloads\":\"$P\"}")
  [ "$(echo "$r" | jq -c '[.result.accepted, .result.duplicate, .result.refused]')" = "[0,1,0]" ] \
    || fail "replay on node $i not a duplicate: $r"
done
pass "a committed payload submitted again: duplicate"

# ---- 3. malformed params ----
h0=$(height 0)
want_err() { # PARAMS NAME
  local r
  r=$(rpc "$U0" command_submit "$1")
  # invalid_params is the standard -32602 (no name); the others carry theirs
  [ "$(echo "$r" | jq -r 'if .error.code == -32602 then "invalid_params" else .error.data.name end')" = "$2" ] \
    || fail "command_submit $1: expected $2, got $r"
}
want_err '{"payloads":"zz'"${P:2}"'"}' bad_hex
want_err '{"payloads":"'"${P}"'a"}' bad_hex
want_err '{"payloads":"'"${P:0:62}"'"}' invalid_params
want_err '{"payloads":""}' invalid_params
want_err '{}' invalid_params
BIG=$(head -c $((1025 * 32)) /dev/zero | od -An -tx1 -v | tr -d ' \n')
r=$(raw "$U0" "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"command_submit\",\"params\":{\"payloads\":\"$BIG\"}}")
[ "$(echo "$r" | jq -r .error.data.name)" = too_long ] || fail "1025 payloads: $(echo "$r" | head -c 300)"
adm=$(rpc "$U0" status | jq -r .result.mempool.size)
[ "$adm" = 0 ] || fail "malformed requests admitted something (mempool size $adm)"
j=$("$CUSTOS" load --commands --nodes "$URLS" --rate 500 --duration 1 --drain 15 --json) \
  || fail "load after malformed requests failed: $j"
[ "$(echo "$j" | jq .committed)" = 500 ] || fail "after malformed requests: $j"
[ "$(height 0)" -gt "$h0" ] || fail "no block after the malformed requests"
pass "malformed command_submit: bad_hex, invalid_params, too_long; nothing admitted; still committing"

# ---- 4. a full block does not wait for block.interval_ms ----
for i in 0 1 2 3; do stop_node "$i"; done
for i in 0 1 2 3; do
  f="$WORK/net/node$i/config.json"
  jq '.block.interval_ms = 4000' "$f" >"$f.new" && mv "$f.new" "$f"
  start_node "$i"
done
for i in 0 1 2 3; do wait_linked "$i" || fail "node $i did not link after the restart"; done
h0=$(height 0)
j=$("$CUSTOS" load --commands --nodes "$URLS" --rate 1200 --duration 2 --drain 15 --json) \
  || fail "load with a 4 s interval failed: $j"
[ "$(echo "$j" | jq .committed)" = 2400 ] || fail "full blocks waited for the interval: $j"
echo "$j" | jq -e '.latency_p50_ms < 4000' >/dev/null || fail "p50 not below the interval: $j"
pass "interval 4 s: 2400 commands committed, p50 $(echo "$j" | jq .latency_p50_ms) ms, $(( $(height 0) - h0 )) heights"

# ---- 5. a chain without the flag ----
for i in 0 1 2 3; do stop_node "$i" KILL; done
rm -rf "$WORK/net"
devnet 4
keys_off
start_node 0
r=$(rpc "$(rpc_url 0)" command_submit "{\"payloads\":\"$P\"}")
[ "$(echo "$r" | jq -r .error.data.name)" = wrong_chain ] || fail "chain without the flag: $r"
echo "$r" | jq -r .error.data.detail | grep -q bench_commands || fail "no clear detail: $r"
pass "a chain without bench_commands refuses command_submit (wrong_chain)"
