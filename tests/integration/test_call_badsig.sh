#!/usr/bin/env bash
# A party's result signature is only checked when it is to go on chain
# (docs/calls.md §3; node/call_service.c, quorum_sigs_ok): the sender of a
# SIG is known from the member link, and in FROST mode no party signature
# goes on chain at all. On 4 real custosd processes with the consortium
# keys off (so every result is in QUORUM mode), regulator, the last party,
# runs the test build's CUSTOS_TEST_MPC_CHEAT=badsig: its MPC is honest,
# but the BIP340 signature in every SIG it sends is spoilt.
#   - the call is DONE with the plaintext run's outputs, in quorum mode,
#     with the three honest parties' signatures (a result carrying the bad
#     one would be refused on chain with bad_signature);
#   - the submitter refused regulator's signature as bad, by name;
#   - custos verify result passes.
. "$(dirname "$0")/lib.sh"

calls_devnet '.keys.enabled = false'
name_of() { jq -r .name "$WORK/net/node$1/config.json"; }
for i in 0 1 2 3; do [ "$(name_of "$i")" = regulator ] && REG=$i; done
[ -n "${REG:-}" ] || fail "no regulator node in the devnet"
stop_node "$REG"
start_node_env "$REG" CUSTOS_TEST_MPC_CHEAT=badsig
wait_linked "$REG" || fail "regulator did not link again"
calls_fixture
URL=$CALLS_URL
[ "$URL" != "$(rpc_url "$REG")" ] || fail "the client must not talk to the cheater"
c() { "$CUSTOS" --node "$URL" "$@"; }

H=$(c status --json | jq -r .height)
G=$(c $(member_opts subject) --json --wait consent grant --did "$CALLS_DID" --insurer insurer \
  --domains health,hrss --contract "$CALLS_CID" --purpose underwriting --expires $((H + 1000)) --quota 1 \
  | jq -r .txid)
[ ${#G} -eq 64 ] || fail "consent grant"
INPUTS="$CUSTOS_SOURCE_DIR/configs/contracts/underwriting.inputs.json"
plain=$("$CUSTOS" contract run "$CUSTOS_SOURCE_DIR/configs/contracts/underwriting.cst" --inputs \
  <(jq '. + {"hrss.age": 44, "hrss.contrib_months": 186, "hrss.monthly_wage": 7654321,
             "health.chronic_codes": [250, 0, 0, 0, 0, 0, 0, 0]}' "$INPUTS") --json)
res=$(c $(member_opts insurer) --json --timeout 60 --wait call "$CALLS_CID" --subject "$CALLS_DID" --consent "$G" \
  --inputs "$INPUTS") || fail "call --wait: $res"
CALL=$(echo "$res" | jq -r .txid)
[ "$(echo "$res" | jq -r .status)" = done ] || fail "call not done: $res"
[ "$(echo "$res" | jq -r .outputs.approve)" = "$(echo "$plain" | jq -r .approve)" ] \
  && [ "$(echo "$res" | jq -r .outputs.band)" = "$(echo "$plain" | jq -r .band)" ] \
  || fail "outputs $(echo "$res" | jq -c .outputs), plaintext $plain"
echo "$res" | jq -e '.result.proof == "quorum" and (.result.sigs | length) == 3' >/dev/null \
  || fail "not a quorum of the three honest parties: $(echo "$res" | jq -c '.result | {proof, sigs: [.sigs[].party]}')"
echo "$res" | jq -e '.signers | index("regulator") == null' >/dev/null || fail "regulator among the signers: $res"
grep -q "TEST CHEAT: result signature sent spoilt" "$WORK/node$REG.log" || fail "the cheat did not run"
grep -h "call signature" "$WORK"/node*.log | grep -q "regulator.*bad signature" \
  || fail "no party refused regulator's signature: $(grep -h 'call signature' "$WORK"/node*.log | head -3)"
pass "call done in quorum mode with the honest three's signatures; regulator's spoilt one refused by name"

"$CUSTOS" --node "$URL" verify result "$CALL" --genesis "$WORK/net/genesis.json" >"$WORK/verify" \
  || fail "verify result: $(cat "$WORK/verify")"
grep -q "^ok   mpc" "$WORK/verify" || fail "verify output: $(cat "$WORK/verify")"
pass "custos verify result passes"
for i in 0 1 2 3; do kill -0 "${NODE_PID[$i]}" || fail "node $i died"; done
