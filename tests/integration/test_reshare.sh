#!/usr/bin/env bash
# Resharing on a membership change (docs/keys.md §10), on real processes: a
# 4-member devnet makes its keys and a call whose result carries a FROST
# signature; the regulator is removed by governance and its node stopped
# (an old party down during the resharing); the three others reshare both
# keys to the new validator set at epoch 1 with the SAME group keys; a new
# call is signed at epoch 1; both results verify from the genesis alone;
# the beacon goes on.
. "$(dirname "$0")/lib.sh"

calls_devnet
calls_fixture
URL=$CALLS_URL
c() { "$CUSTOS" --node "$URL" "$@"; }
as() { member_opts "$1"; }
key() { c key get "$1" --json; }
verified() { # verified CALL EPOCH: verify passes, the result is FROST at EPOCH
  "$CUSTOS" --node "$URL" verify result "$1" --genesis "$WORK/net/genesis.json" >"$WORK/verify" \
    || fail "verify $1: $(cat "$WORK/verify")"
  grep -q "^ok   mpc: done; statement .* signed once by the results key" "$WORK/verify" \
    || fail "verify $1 not FROST: $(cat "$WORK/verify")"
  [ "$(c call get "$1" --json | jq -r .result.key_epoch)" = "$2" ] || fail "call $1 not signed at epoch $2"
}

calls_wait_key results 0 30
calls_wait_key beacon 0 30
G_RES=$(key results | jq -r .group_pk)
G_BEA=$(key beacon | jq -r .group_pk)
CALL0=$(calls_once)
verified "$CALL0" 0
pass "epoch 0: results key ${G_RES:0:16}.. (3 of 4) signed call ${CALL0:0:16}.."

# ---- the regulator leaves the consortium; its node stops ----
p=$(c $(as hrss) --json --wait member propose remove --name regulator) || fail "propose remove: $p"
PROP=$(echo "$p" | jq -r .txid)
c $(as health) --wait member approve "$PROP" >/dev/null || fail "approve by health"
c $(as civil) --wait member approve "$PROP" >/dev/null || fail "approve by civil"
stop_node 3 KILL
[ "$(c status --json | jq -r .consensus.validators)" = 3 ] || fail "not 3 validators"

calls_wait_key results 1 60
calls_wait_key beacon 1 60
for k in results beacon; do
  j=$(key $k)
  want=$([ $k = results ] && echo "$G_RES" || echo "$G_BEA")
  [ "$(echo "$j" | jq -r .group_pk)" = "$want" ] || fail "$k: group key changed: $j"
  [ "$(echo "$j" | jq -r '.parties | length')" = 3 ] || fail "$k: not the 3 validators: $j"
  echo "$j" | jq -e '[.parties[] | .name // .] | index("regulator") == null' >/dev/null \
    || fail "$k: the removed member is still a party: $j"
done
[ "$(key results | jq -r .t)" = 3 ] || fail "results t at n = 3"
[ "$(key beacon | jq -r .t)" = 2 ] || fail "beacon t at n = 3"
for i in 0 1 2; do
  [ "$("$CUSTOS" --node "$(rpc_url $i)" key get results --json | jq -r '"\(.epoch) \(.group_pk)"')" = "1 $G_RES" ] \
    || fail "node$i: results key differs"
  grep -q "key results (epoch 1) ready" "$WORK/node$i.log" || fail "node$i: no share at epoch 1"
done
pass "reshared to the 3 remaining validators at epoch 1 with the same group keys (an old party down)"

# ---- after the resharing ----
CALL1=$(calls_once)
verified "$CALL1" 1
verified "$CALL0" 0
pass "a call signed at epoch 1 verifies from the genesis alone, as does the one signed at epoch 0"

c $(as hrss) --wait identity attest "$CALLS_DID" --level EA5+ >/dev/null || fail "a new height"
H=$(c status --json | jq -r .height)
for _ in $(seq 1 50); do c beacon get "$H" >/dev/null 2>&1 && break; sleep 0.1; done
c beacon get "$H" --verify >/dev/null || fail "beacon at $H after the resharing: $(c beacon get "$H" --verify 2>&1)"
pass "the beacon goes on with the reshared key (2 of 3)"
