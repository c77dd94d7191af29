#!/usr/bin/env bash
# A cheating dealer in the consortium keys' DKG (docs/keys.md §3, §4) on 4
# real custosd processes. One node runs with the test build's
# CUSTOS_TEST_DKG_CHEAT (node/key_service.c): in every deal it seals
# f(j) + 1 instead of f(j) to one party, the next in party order (the victim).
#   bad_share: the victim complains (BAD_SHARE, disclosing the wrong share);
#     the cheater answers with the true one (their difference is 1), the
#     complaint is `answered`, both keys end READY with QUAL = all 4, the
#     victim's share (the answered one) checks and the beacon verifies on
#     all 4 nodes;
#   bad_share_noanswer (a fresh devnet): the complaint stays unanswered
#     until the verifying phase is ended by vote (20 s); the cheater is
#     `disqualified`, the complaint with its disclosed share is on chain in
#     the victim's key_verdict, QUAL = the other 3; the cheater is still a
#     party (GJKR: every party gets s_j = sum over QUAL of f_i(j)), so it
#     logs no share of its own dealing; the beacon verifies on all 4 nodes.
. "$(dirname "$0")/lib.sh"

as() { local k="CUSTOS_KEY_${1^^}" p="CUSTOS_PASS_${1^^}"; echo "--key ${!k} --passphrase-file ${!p}"; }
c() { local i=$1; shift; "$CUSTOS" --node "$(rpc_url "$i")" "$@"; }
height() { rpc "$(rpc_url "$1")" status | jq -r '.result.height // -1'; }
name_of() { jq -r .name "$WORK/net/node$1/config.json"; }
node_of() { for i in 0 1 2 3; do if [ "$(name_of "$i")" = "$1" ]; then echo "$i"; fi; done; }
share_lines() { grep -c "key $2 (epoch 0) ready: group key [0-9a-f]*, this party's share checked" "$WORK/node$1.log" || true; }
beacon_value() { rpc "$(rpc_url "$1")" beacon_get "{\"height\":$2}" | jq -r '.result.value // empty'; }
key() { rpc "$(rpc_url "$1")" key_get "{\"name\":\"$2\"}"; }
CHEAT_NODE=1

# run MODE: a fresh devnet, node $CHEAT_NODE cheating with MODE; waits up to
# SECONDS for both keys READY on every node. Sets CHEATER and VICTIM (names),
# CI and VI (their party indices from 0), PARTIES (all names, sorted).
run() {
  local mode=$1 s=$2 i ok k
  devnet 4
  for i in 0 1 2 3; do
    if [ "$i" = $CHEAT_NODE ]; then CUSTOS_TEST_DKG_CHEAT=$mode start_node "$i"; else start_node "$i"; fi
  done
  CHEATER=$(name_of $CHEAT_NODE)
  for _ in $(seq 1 $((s * 10))); do
    ok=1
    for i in 0 1 2 3; do
      for k in results beacon; do [ "$(key "$i" $k | jq -r .result.phase)" = ready ] || ok=0; done
    done
    [ $ok = 1 ] && break
    sleep 0.1
  done
  [ $ok = 1 ] || fail "$mode: keys not READY on every node after $s s: $(for i in 0 1 2 3; do key "$i" results | jq -c '.result | {phase, dealt, verdicts, votes, complaints}'; done)"
  k=$(key 0 results)
  CI=$(echo "$k" | jq --arg c "$CHEATER" '[.result.parties[].name] | index($c)')
  VI=$(((CI + 1) % 4))
  VICTIM=$(echo "$k" | jq -r ".result.parties[$VI].name")
  PARTIES=$(echo "$k" | jq -c '[.result.parties[].name] | sort')
  grep -q "key results: TEST CHEAT: a wrong share sealed to party $VI" "$WORK/node$CHEAT_NODE.log" \
    && grep -q "key beacon: TEST CHEAT: a wrong share sealed to party $VI" "$WORK/node$CHEAT_NODE.log" \
    || fail "$mode: the hook did not fire on node$CHEAT_NODE: $(grep '\[keys\]' "$WORK/node$CHEAT_NODE.log" | head -8)"
  for k in results beacon; do
    grep -q "key $k: complaint against party $CI (bad share)" "$WORK/node$(node_of "$VICTIM").log" \
      || fail "$mode: the victim $VICTIM logged no complaint against $CHEATER on $k"
  done
}

# key_tx I KEY TYPE SENDER_HEX: the hex of the committed (receipt ok)
# transaction of TYPE sent by SENDER_HEX among KEY's txids on node I.
key_tx() {
  local t r
  for t in $(key "$1" "$2" | jq -r '.result.txids[]'); do
    r=$(rpc "$(rpc_url "$1")" tx_get "{\"txid\":\"$t\"}")
    if echo "$r" | jq -e --arg ty "$3" --arg s "$4" '.result | .status == "committed" and .receipt.ok
        and .tx.type == $ty and .tx.sender == $s' >/dev/null; then
      echo "$r" | jq -r .result.raw
      return 0
    fi
  done
  return 1
}

# scalar_after RAW PREFIX: the 32-byte scalar following PREFIX in RAW (hex),
# as an upper-case big-endian number for bc.
scalar_after() {
  local le
  le=$(echo "$1" | grep -o "$2[0-9a-f]\{64\}" | head -1 | cut -c$((${#2} + 1))-)
  [ ${#le} = 64 ] || return 1
  echo "$le" | fold -w2 | tac | tr -d '\n' | tr a-f A-F
}

# beacon_all NODES...: a new height; its beacon verified, one value on NODES.
beacon_all() {
  local h i v ref="" out
  out=$(c 0 $(as hrss) --json --wait --timeout 20 identity attest "$DID" --level EA5+) || fail "attest: $out"
  h=$(height 0)
  for i in "$@"; do
    for _ in $(seq 1 100); do [ -n "$(beacon_value "$i" "$h")" ] && break; sleep 0.1; done
    out=$(c "$i" --json beacon get "$h" --verify) || fail "beacon get $h --verify on node$i: $out"
    echo "$out" | jq -e '.verified == true' >/dev/null || fail "beacon get $h --verify on node$i: $out"
    v=$(echo "$out" | jq -r .value)
    [ -n "$ref" ] || ref=$v
    [ "$v" = "$ref" ] || fail "height $h: node$i's beacon $v, node$1's $ref"
  done
  BEACON_H=$h
}

register() {
  local reg
  reg=$(c 0 $(as subject) --json --wait --timeout 20 identity register --national-id 110101199003071234) \
    || fail "register: $reg"
  DID=$(echo "$reg" | jq -r .did)
}

# ---- bad_share: the complaint answered, QUAL = all 4 ----
run bad_share 30
for k in results beacon; do
  for i in 0 1 2 3; do
    r=$(key "$i" $k)
    echo "$r" | jq -e --arg c "$CHEATER" --arg v "$VICTIM" --argjson p "$PARTIES" '.result
      | (.qual | sort) == $p and .disqualified == []
        and .complaints == [{dealer: $c, complainer: $v, reason: "bad_share", state: "answered"}]' >/dev/null \
      || fail "bad_share: key $k on node$i: $(echo "$r" | jq -c '.result | {qual, disqualified, complaints}')"
    for _ in $(seq 1 50); do [ "$(share_lines "$i" $k)" = 1 ] && break; sleep 0.1; done
    [ "$(share_lines "$i" $k)" = 1 ] || fail "bad_share: node$i has no checked $k share: $(grep '\[keys\]' "$WORK/node$i.log" | tail -4)"
  done
  # on chain: the victim disclosed f(v) + 1, the cheater revealed f(v)
  kj=$(key 0 $k)
  vraw=$(key_tx 0 $k key_verdict "$(echo "$kj" | jq -r ".result.parties[$VI].key")") || fail "no verdict of $VICTIM on $k"
  araw=$(key_tx 0 $k key_answer "$(echo "$kj" | jq -r ".result.parties[$CI].key")") || fail "no answer of $CHEATER on $k"
  pair=$(printf '%04x%04x' $((CI + 1)) $((VI + 1)))
  bad=$(scalar_after "$vraw" "03${pair}01") || fail "$k: no BAD_SHARE complaint in $VICTIM's verdict: $vraw"
  good=$(scalar_after "$araw" "04${pair}") || fail "$k: no answer to $VICTIM in $CHEATER's answer: $araw"
  [ "$(echo "ibase=16; $bad - $good" | bc)" = 1 ] || fail "$k: disclosed share $bad is not the revealed $good + 1"
done
register
beacon_all 0 1 2 3
pass "bad_share: $VICTIM complained, $CHEATER answered (disclosed = revealed + 1 on chain); QUAL = all 4, every share checked, beacon of height $BEACON_H verified"

# ---- bad_share_noanswer: the cheater disqualified, QUAL = the other 3 ----
for i in 0 1 2 3; do stop_node "$i"; done
mv "$WORK/net" "$WORK/net.bad_share"
for i in 0 1 2 3; do mv "$WORK/node$i.log" "$WORK/bad_share.node$i.log"; done
run bad_share_noanswer 50
OTHERS=$(echo "$PARTIES" | jq -c --arg c "$CHEATER" 'map(select(. != $c))')
for k in results beacon; do
  for i in 0 1 2 3; do
    r=$(key "$i" $k)
    echo "$r" | jq -e --arg c "$CHEATER" --arg v "$VICTIM" --argjson o "$OTHERS" '.result
      | (.qual | sort) == $o and .disqualified == [$c]
        and .complaints == [{dealer: $c, complainer: $v, reason: "bad_share", state: "unanswered"}]' >/dev/null \
      || fail "bad_share_noanswer: key $k on node$i: $(echo "$r" | jq -c '.result | {qual, disqualified, votes, complaints}')"
  done
  # the verifying phase ended by f + 1 = 2 votes (the votes reset at its end)
  nv=$(for t in $(key 0 $k | jq -r '.result.txids[]'); do rpc "$(rpc_url 0)" tx_get "{\"txid\":\"$t\"}" | jq -r .result.tx.type; done | grep -c '^key_advance$' || true)
  [ "$nv" -ge 2 ] || fail "$k: $nv key_advance transactions among its txids, want 2 or more"
  kj=$(key 0 $k)
  vraw=$(key_tx 0 $k key_verdict "$(echo "$kj" | jq -r ".result.parties[$VI].key")") || fail "no verdict of $VICTIM on $k"
  scalar_after "$vraw" "03$(printf '%04x%04x' $((CI + 1)) $((VI + 1)))01" >/dev/null \
    || fail "$k: the evidence (BAD_SHARE complaint with its share) is not in $VICTIM's verdict: $vraw"
  ! key_tx 0 $k key_answer "$(echo "$kj" | jq -r ".result.parties[$CI].key")" >/dev/null \
    || fail "$k: $CHEATER answered although its hook says never"
  grep -q "key $k: TEST CHEAT: the complaint by party $VI left unanswered" "$WORK/node$CHEAT_NODE.log" \
    || fail "$k: the no-answer hook did not fire"
  # every party, the cheater too, holds s_j over QUAL (GJKR) and checks it
  for i in 0 1 2 3; do
    for _ in $(seq 1 50); do [ "$(share_lines "$i" $k)" = 1 ] && break; sleep 0.1; done
    [ "$(share_lines "$i" $k)" = 1 ] || fail "bad_share_noanswer: node$i has no checked $k share: $(grep '\[keys\]' "$WORK/node$i.log" | tail -4)"
  done
done
register
beacon_all 0 1 2 3
pass "bad_share_noanswer: $CHEATER disqualified after the verifying vote, the complaint on chain, QUAL = the other 3; beacon of height $BEACON_H verified on all 4"
