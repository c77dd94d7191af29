#!/usr/bin/env bash
# The consortium keys' DKG with a party down (docs/keys.md §4, §5): a fresh
# 4-member devnet where only 3 nodes start.
#   - the DKG still ends: the 3 vote key_advance after their 20 s phase
#     timeout (dealing, then verifying: the 4th gives no verdict), and
#     `results` and `beacon` end READY with QUAL = the 3 that dealt (the
#     4th is a party, not in QUAL, and nobody is disqualified);
#   - the 4th then started computes its share from the sealed shares the
#     3 dealers left on chain (its log says it checked) and takes part in
#     the beacon: its values for new heights verify and equal the others'.
# About 45 s of phase timeouts.
. "$(dirname "$0")/lib.sh"

devnet 4
for i in 0 1 2; do start_node "$i"; done
as() { local k="CUSTOS_KEY_${1^^}" p="CUSTOS_PASS_${1^^}"; echo "--key ${!k} --passphrase-file ${!p}"; }
c() { local i=$1; shift; "$CUSTOS" --node "$(rpc_url "$i")" "$@"; }
height() { rpc "$(rpc_url "$1")" status | jq -r '.result.height // -1'; }
name_of() { jq -r .name "$WORK/net/node$1/config.json"; }
share_lines() { grep -c "key $2 (epoch 0) ready: group key [0-9a-f]*, this party's share checked" "$WORK/node$1.log" || true; }
beacon_value() { rpc "$(rpc_url "$1")" beacon_get "{\"height\":$2}" | jq -r '.result.value // empty'; }
DOWN=$(name_of 3)

# phase I KEY: the key's phase on node I ("" when absent).
phase() { rpc "$(rpc_url "$1")" key_get "{\"name\":\"$2\"}" | jq -r '.result.phase // empty'; }

# ---- dealing ends by vote: 3 deals, the 4th party silent ----
for _ in $(seq 1 100); do [ "$(phase 0 results)" = dealing ] && [ "$(phase 0 beacon)" = dealing ] && break; sleep 0.1; done
for k in results beacon; do
  for _ in $(seq 1 100); do
    [ "$(rpc "$(rpc_url 0)" key_get "{\"name\":\"$k\"}" | jq '.result.dealt | length')" = 3 ] && break
    sleep 0.1
  done
  r=$(rpc "$(rpc_url 0)" key_get "{\"name\":\"$k\"}")
  echo "$r" | jq -e --arg d "$DOWN" '.result.phase == "dealing" and (.result.dealt | length) == 3
    and (.result.dealt | index($d)) == null and (.result.parties | length) == 4' >/dev/null \
    || fail "key $k after the 3 deals: $(echo "$r" | jq -c '.result | {phase, dealt, votes}')"
done
pass "results and beacon dealing with 3 of 4 deals ($DOWN down)"

# ---- then READY after the phase timeouts, QUAL = the 3 dealers ----
for _ in $(seq 1 700); do [ "$(phase 0 results)" = ready ] && [ "$(phase 0 beacon)" = ready ] && break; sleep 0.1; done
for k in results beacon; do
  ref=$(rpc "$(rpc_url 0)" key_get "{\"name\":\"$k\"}")
  echo "$ref" | jq -e --arg d "$DOWN" '.result | .phase == "ready" and (.qual | length) == 3
    and (.qual | index($d)) == null and (.parties | length) == 4 and .disqualified == [] and .complaints == []
    and (.verdicts | length) == 3' >/dev/null \
    || fail "key $k not READY with QUAL = the 3 dealers after 70 s: $(echo "$ref" | jq -c '.result | del(.txids, .parties, .context, .pk_shares)')"
  pk=$(echo "$ref" | jq -r .result.group_pk)
  for i in 1 2; do
    [ "$(rpc "$(rpc_url "$i")" key_get "{\"name\":\"$k\"}" | jq -r .result.group_pk)" = "$pk" ] \
      || fail "key $k: node$i's group key differs from node0's $pk"
  done
  for i in 0 1 2; do
    for _ in $(seq 1 50); do [ "$(share_lines "$i" "$k")" = 1 ] && break; sleep 0.1; done
    [ "$(share_lines "$i" "$k")" = 1 ] || fail "node$i did not log its $k share checked: $(grep '\[keys\]' "$WORK/node$i.log" | tail -5)"
  done
done
for i in 0 1 2; do
  grep -q "key results: vote to end dealing submitted" "$WORK/node$i.log" \
    && grep -q "key results: vote to end verifying submitted" "$WORK/node$i.log" && VOTER=$i
done
[ -n "${VOTER:-}" ] || fail "no node voted to end both phases of results: $(grep -h 'vote' "$WORK"/node*.log)"
pass "results and beacon READY after the phase votes: QUAL = the 3 dealers, $DOWN a party outside QUAL"

# ---- the 4th node started: its share from the chain, and the beacon ----
start_node 3
for k in results beacon; do
  for _ in $(seq 1 150); do [ "$(share_lines 3 "$k")" = 1 ] && break; sleep 0.1; done
  [ "$(share_lines 3 "$k")" = 1 ] \
    || fail "node3 ($DOWN, not a dealer) has no checked $k share: $(grep '\[keys\]' "$WORK/node3.log" | tail -5)"
done
reg=$(c 0 $(as subject) --json --wait --timeout 20 identity register --national-id 110101199003071234) \
  || fail "register: $reg"
for _ in $(seq 1 300); do
  h=$(height 0)
  [ "$(height 3)" = "$h" ] && [ "$(height 1)" = "$h" ] && [ "$(height 2)" = "$h" ] && break
  sleep 0.1
done
H=$(height 0)
[ "$(height 3)" = "$H" ] || fail "node3 not at height $H: $(height 3)"
# node3 checks others' beacon shares only with a share of its own (until
# then it keeps them aside): a value on node3 means it has one.
for i in 3 0 1 2; do
  for _ in $(seq 1 100); do [ -n "$(beacon_value "$i" "$H")" ] && break; sleep 0.1; done
  out=$(c "$i" --json beacon get "$H" --verify) || fail "beacon get $H --verify on node$i: $out"
  echo "$out" | jq -e '.verified == true' >/dev/null || fail "beacon get $H --verify on node$i: $out"
  v=$(echo "$out" | jq -r .value)
  [ "$i" = 3 ] && V=$v
  [ "$v" = "$V" ] || fail "height $H: node$i's beacon $v, node3's $V"
done
pass "node3 ($DOWN) started late: its shares checked from the chain; beacon of height $H verified and equal on all 4 nodes"
