#!/usr/bin/env bash
# Custody keys on 4 custosd processes (docs/keys.md §9): a member asks the
# validators for a consortium-held key; it signs a message only after the
# key's policy (k = 2 members) approved the request on chain; the signature
# verifies under the key's group key; every refusal names its rule; and
# with one node down (f = 1) the other three still sign.
. "$(dirname "$0")/lib.sh"

devnet 4
for i in 0 1 2 3; do start_node "$i"; done
as() { member_opts "$1"; }
c() { "$CUSTOS" --node "$(rpc_url "${NODE:-0}")" "$@"; }
refused() { # refused RULE CMD...: the command fails and names RULE
  if "${@:2}" >"$WORK/out" 2>&1; then fail "accepted where $1 was expected: $(cat "$WORK/out")"; fi
  grep -q "$1" "$WORK/out" || fail "expected $1, got: $(cat "$WORK/out")"
  pass "refused: $1"
}
wait_phase() { # wait_phase NAME PHASE SECONDS
  for _ in $(seq 1 $(($3 * 5))); do
    [ "$(c key get "$1" --json 2>/dev/null | jq -r .phase)" = "$2" ] && return 0
    sleep 0.2
  done
  fail "key $1 not $2 after $3 s: $(c key get "$1" 2>&1)"
}
# signed ID SECONDS: waits until request ID is signed; prints sign_get's JSON.
signed() {
  local out
  out=$(c --timeout "$2" key signature "$1" --wait --json) || fail "request $1 not signed: $out"
  echo "$out"
}
MSG=7061792034322e303020746f20616363742037  # "pay 42.00 to acct 7"

wait_phase results ready 30
refused key_unknown c $(as hrss) --wait key sign escrow --msg "$MSG"
c $(as hrss) --wait key create escrow --t 3 --k 2 >/dev/null || fail "key create"
refused key_exists c $(as health) --wait key create escrow --t 3 --k 2
refused bad_key_params c $(as health) --wait key create wide --t 3 --k 9
wait_phase escrow ready 30
pass "custody key escrow made by a DKG: $(c key list | grep escrow)"

# ---- a request, its approvals, the signature ----
refused bad_key_params c $(as hrss) --wait key sign results --msg "$MSG"
ID=$(c $(as hrss) --json --wait key sign escrow --msg "$MSG" | jq -r .txid)
sleep 2 # the parties would sign now if they did not wait for the policy
st=$(c key signature "$ID" --json)
[ "$(echo "$st" | jq -r .status)" = pending ] || fail "signed before its approvals: $st"
[ "$(echo "$st" | jq -r .signature)" = null ] || fail "a signature before its approvals: $st"
pass "request pending with 1 of 2 approvals: no signature"
refused already_approved c $(as hrss) --wait key approve "$ID"
refused request_unknown c $(as health) --wait key approve "$(printf '%064d' 7)"
c $(as health) --wait key approve "$ID" >/dev/null || fail "approve by health"
out=$(signed "$ID" 30)
G=$(echo "$out" | jq -r .group_pk)
S=$(echo "$out" | jq -r .signature)
[ "$(echo "$out" | jq -r .msg)" = "$MSG" ] || fail "signed another message: $out"
[ "$G" = "$(c key get escrow --json | jq -r .group_pk)" ] || fail "group key differs from key_get's"
"$CUSTOS" sig verify --scheme frost "$G" "$MSG" "$S" >/dev/null || fail "signature does not verify: $out"
flipped=$(echo "$MSG" | sed 's/^70/71/')
if "$CUSTOS" sig verify --scheme frost "$G" "$flipped" "$S" >/dev/null 2>&1; then
  fail "signature verifies for another message"
fi
pass "signed after k = 2 approvals; verifies under the group key, not for another message"
refused request_closed c $(as civil) --wait key approve "$ID"

# every node holds the same signed request
for i in 1 2 3; do
  [ "$(NODE=$i c key signature "$ID" --json | jq -r .signature)" = "$S" ] || fail "node$i differs"
done
pass "the signature is on chain at every node"

# ---- f = 1 down: the other three sign ----
stop_node 3 KILL
ID2=$(c $(as civil) --json --wait key sign escrow --msg 6f6e65206d6f7265 | jq -r .txid)
c $(as regulator) --wait key approve "$ID2" >/dev/null || fail "approve by regulator"
out=$(signed "$ID2" 60)
"$CUSTOS" sig verify --scheme frost "$G" 6f6e65206d6f7265 "$(echo "$out" | jq -r .signature)" >/dev/null \
  || fail "signature with a node down does not verify: $out"
pass "one node down: the three others sign (t = 3 of 4)"
