#!/usr/bin/env bash
# A Byzantine validator (a test build's CUSTOS_TEST_EQUIVOCATE: it signs a
# second, conflicting prevote for nil after each prevote for a block) among
# four. The chain keeps committing; the honest nodes turn each equivocation
# into one evidence transaction on chain, recorded exactly once, naming the
# Byzantine member and never an honest one; evidence_list shows it on every
# node.
. "$(dirname "$0")/lib.sh"

devnet 4
keys_off # the CLI signs with the hrss key below; the key service would submit under it too
for i in 0 1 2; do start_node "$i"; done
CUSTOS_TEST_EQUIVOCATE=1 start_node 3
BYZ=$(jq -r .name "$WORK/net/node3/config.json")
as() { local k="CUSTOS_KEY_${1^^}" p="CUSTOS_PASS_${1^^}"; echo "--key ${!k} --passphrase-file ${!p}"; }
c() { local i=$1; shift; "$CUSTOS" --node "$(rpc_url "$i")" "$@"; }
height() { rpc "$(rpc_url "$1")" status | jq -r .result.height; }

reg=$(c 1 $(as subject) --json --wait --timeout 60 identity register --national-id 110101199003071234) || fail "register: $reg"
DID=$(echo "$reg" | jq -r .did)
for k in $(seq 1 6); do
  if [ $((k % 2)) = 0 ]; then lvl=EA5+; else lvl=EA5-; fi
  # The hrss node itself submits evidence transactions under the hrss key
  # while this runs, so a nonce the CLI took can be taken by the node first
  # (refused as duplicate): take a fresh one and try again.
  ok=0
  for _ in 1 2 3 4 5; do
    if out=$(c $((k % 3)) $(as hrss) --json --wait --timeout 60 identity attest "$DID" --level "$lvl" \
      2>"$WORK/err"); then
      ok=1
      break
    fi
    out=$(cat "$WORK/err")
    grep -q "duplicate\|nonce" "$WORK/err" || break
    sleep 0.3
  done
  [ "$ok" = 1 ] || fail "tx $k not committed: $out"
  # The next one goes to another node, which takes the nonce from its own
  # committed state: let it reach this height first (a loaded machine can
  # leave it a block behind, and the nonce would then be taken twice).
  h=$(echo "$out" | jq -r .height)
  for i in 0 1 2; do
    for _ in $(seq 1 200); do [ "$(height "$i")" -ge "$h" ] && break; sleep 0.05; done
  done
done
pass "the chain commits with one equivocating validator"

# Evidence transactions commit (they are gossiped like any transaction).
for _ in $(seq 1 200); do
  n=$(rpc "$(rpc_url 0)" evidence_list | jq '.result.recorded | length')
  [ "$n" -ge 1 ] && break
  sleep 0.1
done
[ "$n" -ge 1 ] || fail "no evidence recorded: $(rpc "$(rpc_url 0)" evidence_list | jq -c .result)"
EV=$(rpc "$(rpc_url 0)" evidence_list | jq -c .result.recorded)
echo "$EV" | jq -e --arg b "$BYZ" 'all(.accused_name == $b)' >/dev/null \
  || fail "evidence names an honest member: $EV"
echo "$EV" | jq -e '[.[] | "\(.accused)/\(.msg_type)/\(.height)/\(.round)"] | length == (unique | length)' \
  >/dev/null || fail "one equivocation recorded twice: $EV"
echo "$EV" | jq -e 'all(.msg_type == "prevote" and (.messages | length == 2))' >/dev/null \
  || fail "evidence shape: $EV"
pass "equivocations recorded on chain exactly once each, naming $BYZ only"

# Every node serves the same recorded evidence.
sleep 1
H=$(height 0)
for i in 1 2; do
  for _ in $(seq 1 100); do [ "$(height "$i")" -ge "$H" ] && break; sleep 0.1; done
done
E0=$(rpc "$(rpc_url 0)" evidence_list | jq -c "[.result.recorded[] | select(.included_height <= $H)]")
for i in 1 2; do
  Ei=$(rpc "$(rpc_url "$i")" evidence_list | jq -c "[.result.recorded[] | select(.included_height <= $H)]")
  [ "$Ei" = "$E0" ] || fail "node$i evidence differs: $Ei vs $E0"
done
TXID=$(echo "$E0" | jq -r '.[0].txid')
rpc "$(rpc_url 1)" tx_get "{\"txid\":\"$TXID\"}" | jq -e '.result.status == "committed"' >/dev/null \
  || fail "evidence tx $TXID not committed on node1"
pass "every node serves the same evidence; its transaction is committed"
