#!/usr/bin/env bash
# Onboarding and removing a member (issue 9; docs/onboarding.md), on real
# processes. A 4-member devnet makes its keys and contracts; a fifth bureau
# ("welfare") makes its keystore, the consortium admits it as a validator by
# governance while the chain keeps committing (4 of 5 is a quorum), its node
# starts from the genesis as an observer, syncs, and votes from the height
# its admission committed: the chain still commits with a genesis node
# stopped, which needs its vote. Both consortium keys are reshared to the 5
# validators with the same group keys, and a call is computed and signed
# with the new member as a party. Then the consortium removes it again: its
# node drops to observing, the keys are reshared to the 4, and the chain goes
# on committing.
. "$(dirname "$0")/lib.sh"

calls_devnet
calls_fixture
URL=$CALLS_URL
c() { "$CUSTOS" --node "$URL" "$@"; }
as() { member_opts "$1"; }
key() { c key get "$1" --json; }
height() { "$CUSTOS" --node "$1" status --json | jq -r .height; }
commits() { # commits WHAT: a transaction commits within 30 s
  c $(as hrss) --timeout 30 --wait identity attest "$CALLS_DID" --level EA5+ >/dev/null \
    || fail "no commit: $1"
}
free_port() { # a loopback port nothing listens on
  local p
  while :; do
    p=$((20000 + RANDOM % 30000))
    (echo >/dev/tcp/127.0.0.1/$p) 2>/dev/null || { echo $p; return; }
  done
}

calls_wait_key results 0 30
calls_wait_key beacon 0 30
G_RES=$(key results | jq -r .group_pk)
G_BEA=$(key beacon | jq -r .group_pk)

# ---- the new bureau: its keystore and its node's configuration ----
N4="$WORK/net/node4"
mkdir -p "$N4"
echo "welfare passphrase" >"$N4/passphrase"
"$CUSTOS" --passphrase-file "$N4/passphrase" keygen --out "$N4/key.json" --fast-kdf >/dev/null \
  || fail "keygen"
P2P=$(free_port)
RPCP=$(free_port)
jq --arg p2p "tcp://127.0.0.1:$P2P" --argjson rpc "$RPCP" \
  '.name = "welfare" | .rpc.port = $rpc | .p2p.listen = $p2p' \
  "$WORK/net/node3/config.json" >"$N4/config.json"
"$CUSTOSD" --config "$N4/config.json" --check-config >"$WORK/check4" 2>&1 || fail "check-config: $(cat "$WORK/check4")"
grep -q "starts as an observer" "$WORK/check4" || fail "check-config says nothing of observing: $(cat "$WORK/check4")"
pass "the fifth bureau's keystore and configuration (check-config: an observer until admitted)"

# ---- admission by governance; the chain keeps committing ----
p=$(c $(as hrss) --json --wait member propose add --name welfare --role bureau --member-key "$N4/key.json" \
  --validator --address "tcp://127.0.0.1:$P2P" --domains welfare) || fail "propose add: $p"
PROP=$(echo "$p" | jq -r .txid)
c $(as health) --wait member approve "$PROP" >/dev/null || fail "approve by health"
c $(as civil) --wait member approve "$PROP" >/dev/null || fail "approve by civil"
[ "$(c status --json | jq -r .consensus.validators)" = 5 ] || fail "not 5 validators: $(c status --json)"
ADDED=$(height "$URL")
commits "with the fifth validator admitted and its node not yet up (4 of 5)"
pass "welfare admitted by governance at height <= $ADDED; the chain commits with 4 of 5"

# ---- its node: observer from the genesis, block sync, then a voter ----
start_node 4
N4URL=$(rpc_url 4)
for _ in $(seq 1 300); do
  [ "$(height "$N4URL")" -ge "$(height "$URL")" ] && break
  sleep 0.1
done
[ "$(height "$N4URL")" -ge "$ADDED" ] || fail "node4 did not sync: $(height "$N4URL") < $ADDED"
grep -q "is not a validator at height 0: following the chain as an observer" "$WORK/node4.log" \
  || fail "node4 did not start as an observer"
grep -q "member 'welfare' is a validator from height" "$WORK/node4.log" || fail "node4 never became a validator"
for _ in $(seq 1 50); do grep -q "member 'welfare' owns a data domain now: vault opened" "$WORK/node4.log" && break; sleep 0.1; done
grep -q "member 'welfare' owns a data domain now: vault opened" "$WORK/node4.log" || fail "node4 opened no vault"
cat >"$WORK/welfare.csv" <<CSV
did,age,contrib_months,monthly_wage,pension_withdrawals_90d
$CALLS_DID,44,186,7654321,0
CSV
"$CUSTOS" --node "$N4URL" vault schema --domain welfare "$CUSTOS_SOURCE_DIR/configs/records/hrss.schema.json" \
  --cookie "$N4/data/.cookie" >/dev/null || fail "vault schema on node4"
"$CUSTOS" --node "$N4URL" vault import --domain welfare "$WORK/welfare.csv" --cookie "$N4/data/.cookie" >/dev/null \
  || fail "vault import on node4"
pass "node4 started as an observer, synced to the tip, became a validator and opened its vault for its domain"

# Its vote is needed: with the regulator's node stopped, 4 of 5 are up.
stop_node 3
commits "with node3 stopped (needs welfare's vote)"
H=$(height "$URL")
c block get "$H" --json >"$WORK/blk" || fail "block get $H"
start_node 3
caught_up() { # caught_up I: node I at node0's height within 30 s
  local u; u=$(rpc_url "$1")
  for _ in $(seq 1 300); do
    [ "$(height "$u")" -ge "$(height "$URL")" ] && return 0
    sleep 0.1
  done
  fail "node$1 did not catch up"
}
caught_up 3
pass "the chain commits with a genesis node stopped: welfare votes"

# ---- resharing to the five validators ----
calls_wait_key results 1 90
calls_wait_key beacon 1 90
for k in results beacon; do
  j=$(key $k)
  want=$([ $k = results ] && echo "$G_RES" || echo "$G_BEA")
  [ "$(echo "$j" | jq -r .group_pk)" = "$want" ] || fail "$k: group key changed: $j"
  [ "$(echo "$j" | jq -r '.parties | length')" = 5 ] || fail "$k: not the 5 validators: $j"
done
[ "$(key results | jq -r .t)" = 4 ] || fail "results t at n = 5"
[ "$(key beacon | jq -r .t)" = 2 ] || fail "beacon t at n = 5"
for _ in $(seq 1 100); do grep -q "key results (epoch 1) ready" "$WORK/node4.log" && break; sleep 0.2; done
grep -q "key results (epoch 1) ready" "$WORK/node4.log" || fail "welfare has no share of the results key"
pass "both keys reshared to the 5 validators at epoch 1 with the same group keys; welfare holds shares"

commits "before the call" # every node up and linked: a call needs all five from its first round
caught_up 3
# Each node's links to the 4 others are up again after node3's restart (an
# MPC message sent while a link reconnects is lost, and the call would time
# out: with 10 ms blocks the call comes within 2 s of the restart).
for i in 0 1 2 3 4; do
  for _ in $(seq 1 150); do
    [ "$("$CUSTOS" --node "$(rpc_url "$i")" status --json | jq '[.peers[]? | select(.connected)] | length')" = 4 ] \
      && break
    sleep 0.1
  done
  [ "$("$CUSTOS" --node "$(rpc_url "$i")" status --json | jq '[.peers[]? | select(.connected)] | length')" = 4 ] \
    || fail "node $i is not linked to the 4 others"
done
CALL=$(calls_once)
"$CUSTOS" --node "$URL" verify result "$CALL" --genesis "$WORK/net/genesis.json" >"$WORK/verify" \
  || fail "verify: $(cat "$WORK/verify")"
[ "$(c call get "$CALL" --json | jq -r .result.key_epoch)" = 1 ] || fail "call not signed at epoch 1"
pass "a call with five parties is done and verifies from the genesis alone"

# ---- removal ----
p=$(c $(as hrss) --json --wait member propose remove --name welfare) || fail "propose remove: $p"
PROP=$(echo "$p" | jq -r .txid)
c $(as health) --wait member approve "$PROP" >/dev/null || fail "approve removal by health"
c $(as civil) --wait member approve "$PROP" >/dev/null || fail "approve removal by civil"
[ "$(c status --json | jq -r .consensus.validators)" = 5 ] || fail "removed with 3 of 5 approvals (quorum 4)"
c $(as regulator) --wait member approve "$PROP" >/dev/null || fail "approve removal by regulator"
[ "$(c status --json | jq -r .consensus.validators)" = 4 ] || fail "not 4 validators after the removal"
for _ in $(seq 1 100); do grep -q "member 'welfare' is no longer a validator" "$WORK/node4.log" && break; sleep 0.1; done
grep -q "member 'welfare' is no longer a validator" "$WORK/node4.log" || fail "node4 did not drop to observing"
stop_node 4
commits "after the removal, with welfare's node stopped"
calls_wait_key results 2 90
[ "$(key results | jq -r '.parties | length')" = 4 ] || fail "results: not the 4 validators"
[ "$(key results | jq -r .group_pk)" = "$G_RES" ] || fail "results: group key changed at epoch 2"
pass "welfare removed: its node observes, the keys are reshared to the 4, the chain commits"
