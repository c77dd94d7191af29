#!/usr/bin/env bash
# A proposal or prevote that comes over its signer's own member link is
# taken without checking its signature (node/host.c on_signer_link); what
# makes that safe is that nothing unchecked becomes evidence, a relay or a
# certificate. Here a Byzantine validator (test build,
# CUSTOS_TEST_EQUIVOCATE=badsig) follows each prevote for a block with a
# conflicting prevote for nil whose signature is spoilt. The chain keeps
# committing; the honest nodes see the conflict, find the bad signature
# and record nothing: no observed evidence, no evidence transaction.
# (test_evidence.sh is the same validator signing its twin properly.)
. "$(dirname "$0")/lib.sh"

devnet 4
keys_off
for i in 0 1 2; do start_node "$i"; done
CUSTOS_TEST_EQUIVOCATE=badsig start_node 3
wait_linked 0
c() { local i=$1; shift; "$CUSTOS" --node "$(rpc_url "$i")" "$@"; }

for k in 1 2 3 4; do
  kf="$WORK/subject$k.json"
  printf 'subject-%s\n' "$k" >"$kf.pass"
  "$CUSTOS" --passphrase-file "$kf.pass" keygen --out "$kf" --fast-kdf >/dev/null || fail "keygen $k"
  out=$(c $((k % 3)) --key "$kf" --passphrase-file "$kf.pass" --json --wait --timeout 60 \
    identity register --national-id "1101011990030700$(printf %02d "$k")" 2>&1) \
    || fail "register $k: $out"
done
pass "the chain commits with a validator spoiling its conflicting prevotes"

seen=0
for i in 0 1 2; do
  grep -q "bad signature: no evidence recorded" "$WORK/node$i.log" && seen=1
done
[ "$seen" = 1 ] || fail "no node refused a spoilt conflicting prevote: $(grep -h refused "$WORK"/node[012].log | head -3)"
for i in 0 1 2; do
  ev=$(rpc "$(rpc_url "$i")" evidence_list | jq -c '.result | {recorded, observed}')
  [ "$ev" = '{"recorded":[],"observed":[]}' ] || fail "node$i recorded unprovable evidence: $ev"
done
pass "a conflict with a bad signature is refused and never becomes evidence"
