#!/usr/bin/env bash
# The consortium keys and the random beacon (docs/keys.md; issue 8) on 4
# real custosd processes of a fresh devnet:
#   1. the key service of every node runs the DKG on chain: within 30 s
#      `results` (t = 3 of 4) and `beacon` (t = 2 of 4) are READY on every
#      node with the same group key, QUAL = all 4, no complaint; every node
#      logs that its own share checked against the chain's Y_j;
#   2. the beacon: for a new height, `custos beacon get H --verify` passes on
#      every node with one value; two heights have different values; a
#      height never committed is refused with a plain message; beacon_get
#      with a bad height is refused as invalid_params naming the field;
#   3. one node killed (f = 1): heights keep committing and the other three
#      still make verified beacon values (t = 2);
#   4. the node restarted: it recomputes its shares from the chain (the log
#      line again) and its beacon values for new heights equal the others'.
# The faults of the DKG itself (a party down while dealing, a cheating
# dealer) are test_keys_down.sh and test_keys_cheat.sh.
. "$(dirname "$0")/lib.sh"

devnet 4
for i in 0 1 2 3; do start_node "$i"; done
as() { local k="CUSTOS_KEY_${1^^}" p="CUSTOS_PASS_${1^^}"; echo "--key ${!k} --passphrase-file ${!p}"; }
c() { local i=$1; shift; "$CUSTOS" --node "$(rpc_url "$i")" "$@"; }
height() { rpc "$(rpc_url "$1")" status | jq -r '.result.height // -1'; }

# keys_ready I: key_list on node I has results (3 of 4) and beacon (2 of 4) READY.
keys_ready() {
  rpc "$(rpc_url "$1")" key_list | jq -e '
    (.result | map({(.name): .}) | add) as $k
    | $k.results.phase == "ready" and $k.results.t == 3 and $k.results.n == 4
      and $k.beacon.phase == "ready" and $k.beacon.t == 2 and $k.beacon.n == 4' >/dev/null 2>&1
}

# share_lines I KEY: how many times node I logged its share of KEY checked.
share_lines() { grep -c "key $2 (epoch 0) ready: group key [0-9a-f]*, this party's share checked" "$WORK/node$1.log" || true; }

# beacon_value I H: node I's beacon value for height H ("" when it has none).
beacon_value() { rpc "$(rpc_url "$1")" beacon_get "{\"height\":$2}" | jq -r '.result.value // empty'; }

# wait_beacon SECONDS H NODES...: every node has a value for H; they are equal
# and `custos beacon get H --verify` passes on each. Sets BEACON to the value.
wait_beacon() {
  local s=$1 h=$2 i v out
  shift 2
  for i in "$@"; do
    for _ in $(seq 1 $((s * 10))); do [ -n "$(beacon_value "$i" "$h")" ] && break; sleep 0.1; done
    [ -n "$(beacon_value "$i" "$h")" ] || fail "node$i has no beacon value for height $h after ${s} s: $(rpc "$(rpc_url "$i")" beacon_get "{\"height\":$h}" | jq -c .error)"
  done
  BEACON=$(beacon_value "$1" "$h")
  for i in "$@"; do
    out=$(c "$i" --json beacon get "$h" --verify) || fail "beacon get $h --verify on node$i: exit $?: $out"
    echo "$out" | jq -e '.verified == true' >/dev/null || fail "beacon get $h --verify on node$i: $out"
    v=$(echo "$out" | jq -r .value)
    [ "$v" = "$BEACON" ] || fail "height $h: node$i's beacon value $v, node$1's $BEACON"
  done
  [[ "$BEACON" =~ ^[0-9a-f]{64}$ ]] || fail "height $h: beacon value \"$BEACON\""
}

# new_height NODE: one transaction committed through NODE (an attestation of
# $DID by hrss); prints the height reached.
ATT=0
new_height() {
  local lvl out
  if [ $((ATT % 2)) = 0 ]; then lvl=EA5+; else lvl=EA5-; fi
  ATT=$((ATT + 1))
  out=$(c "$1" $(as hrss) --json --wait --timeout 20 identity attest "$DID" --level "$lvl") \
    || fail "attest through node$1: $out"
  height "$1"
}

# wait_same_height SECONDS NODES...: the nodes are at one height.
wait_same_height() {
  local s=$1 h i ok
  shift
  for _ in $(seq 1 $((s * 10))); do
    h=$(height "$1") ok=1
    for i in "$@"; do [ "$(height "$i")" = "$h" ] || ok=0; done
    [ $ok = 1 ] && return 0
    sleep 0.1
  done
  fail "nodes $* not at one height after ${s} s: $(for i in "$@"; do height "$i"; done | tr '\n' ' ')"
}

# ---- 1. the DKG of results and beacon on 4 nodes ----
for _ in $(seq 1 300); do
  ok=1
  for i in 0 1 2 3; do keys_ready "$i" || ok=0; done
  [ $ok = 1 ] && break
  sleep 0.1
done
[ $ok = 1 ] || fail "keys not ready on every node after 30 s: $(for i in 0 1 2 3; do rpc "$(rpc_url "$i")" key_list | jq -c '[.result[]? | [.name, .phase, .t, .n]]'; done)"
PARTIES=$(rpc "$(rpc_url 0)" key_get '{"name":"results"}' | jq -c '[.result.parties[].name] | sort')
[ "$(echo "$PARTIES" | jq length)" = 4 ] || fail "results parties: $PARTIES"
for k in results beacon; do
  ref=$(rpc "$(rpc_url 0)" key_get "{\"name\":\"$k\"}" | jq -r .result.group_pk)
  [[ "$ref" =~ ^[0-9a-f]{64}$ ]] || fail "key $k: group_pk \"$ref\" on node0"
  for i in 0 1 2 3; do
    r=$(rpc "$(rpc_url "$i")" key_get "{\"name\":\"$k\"}")
    echo "$r" | jq -e --arg pk "$ref" --argjson p "$PARTIES" '.result
      | .group_pk == $pk and (.qual | sort) == $p and .disqualified == [] and .complaints == []
        and (.dealt | sort) == $p and (.pk_shares | length) == 4' >/dev/null \
      || fail "key $k on node$i (node0's group key $ref): $(echo "$r" | jq -c '.result | del(.txids, .parties, .context)')"
    for _ in $(seq 1 50); do [ "$(share_lines "$i" "$k")" -ge 1 ] && break; sleep 0.1; done
    [ "$(share_lines "$i" "$k")" = 1 ] || fail "node$i logged its $k share checked $(share_lines "$i" "$k") times: $(grep '\[keys\]' "$WORK/node$i.log" | tail -5)"
  done
done
pass "results (3 of 4) and beacon (2 of 4) READY on all 4 nodes, one group key each, QUAL = all 4, every share checked"

# ---- 2. the beacon ----
reg=$(c 1 $(as subject) --json --wait --timeout 20 identity register --national-id 110101199003071234) \
  || fail "register: $reg"
DID=$(echo "$reg" | jq -r .did)
H1=$(new_height 0)
wait_same_height 10 0 1 2 3
wait_beacon 10 "$H1" 0 1 2 3
V1=$BEACON
H2=$(new_height 2)
[ "$H2" -gt "$H1" ] || fail "no new height after a transaction: $H1 then $H2"
wait_same_height 10 0 1 2 3
wait_beacon 10 "$H2" 0 1 2 3
[ "$BEACON" != "$V1" ] || fail "heights $H1 and $H2 have the same beacon value $V1"
HX=$((H2 + 100000))
if out=$(c 1 beacon get "$HX" 2>&1); then fail "beacon get $HX (never committed) succeeded: $out"; fi
echo "$out" | grep -q "no beacon value for height $HX" || fail "beacon get $HX: unclear refusal: $out"
for bad in 0 '"abc"' -1 '"12x"'; do
  r=$(rpc "$(rpc_url 0)" beacon_get "{\"height\":$bad}")
  echo "$r" | jq -e '.error.code == -32602 and (.error.data.detail | test("height"))' >/dev/null \
    || fail "beacon_get height $bad: $r"
done
r=$(rpc "$(rpc_url 0)" beacon_get '{}')
echo "$r" | jq -e '.error.code == -32602 and (.error.data.detail | test("height"))' >/dev/null \
  || fail "beacon_get without height: $r"
pass "beacon: heights $H1 and $H2 verified on all 4 nodes, one value each, different; height $HX refused; bad heights invalid_params"

# ---- 3. f = 1: one node killed; the other three still make the beacon ----
stop_node 3 KILL
H_DOWN=$(height 0)
H3=$(new_height 1)
[ "$H3" -gt "$H_DOWN" ] || fail "no block while node3 was down ($H_DOWN, $H3)"
wait_same_height 10 0 1 2
wait_beacon 10 "$H3" 0 1 2
V3=$BEACON
[ "$V3" != "$V1" ] && [ "$V3" != "$(beacon_value 0 "$H2")" ] || fail "height $H3 repeats an earlier beacon value"
pass "node3 killed: height $H3 committed and its beacon verified on nodes 0-2 (t = 2)"

# ---- 4. the killed node restarted: its shares again, the same beacon ----
start_node 3
for k in results beacon; do
  for _ in $(seq 1 150); do [ "$(share_lines 3 "$k")" -ge 2 ] && break; sleep 0.1; done
  [ "$(share_lines 3 "$k")" = 2 ] || fail "restarted node3 logged its $k share checked $(share_lines 3 "$k") times in all: $(grep '\[keys\]' "$WORK/node3.log" | tail -5)"
done
wait_same_height 30 0 1 2 3
H4=$(new_height 3)
wait_same_height 10 0 1 2 3
wait_beacon 10 "$H4" 3 0 1 2
[ "$BEACON" != "$V3" ] || fail "height $H4 has the beacon value of height $H3"
H5=$(new_height 0)
wait_same_height 10 0 1 2 3
wait_beacon 10 "$H5" 0 1 2 3
pass "node3 restarted after kill -9: shares recomputed from the chain; beacon of heights $H4 and $H5 the same on all 4 nodes"
