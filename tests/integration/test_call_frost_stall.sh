#!/usr/bin/env bash
# A FROST coordinator that goes silent after its proposal costs the call
# one stagger, not its FROST proof (docs/keys.md §8, node/call_service.c
# fs_open). On 4 real custosd processes running the test build's
# CUSTOS_TEST_MPC_CHEAT=frost-stall, the call's party 0, the first
# coordinator, sends its FPROP and then nothing: no START, no submission.
# The next party coordinates the same group SUBMIT_STAGGER_MS later, while
# every party still holds the session it opened for party 0's proposal.
#   - the call is DONE with a FROST proof: the second coordinator's
#     session got its commitments (before session 24 both sessions had one
#     id, the commitments went to the other one, "I coordinate no attempt",
#     and the result fell back to quorum mode);
#   - party 0's node did stall (its log says so), and no node refused a
#     commitment as not its to coordinate;
#   - custos verify result passes.
. "$(dirname "$0")/lib.sh"

export CUSTOS_TEST_MPC_CHEAT=frost-stall # every node: only the call's party 0 acts on it
calls_devnet
calls_wait_key results 0 60
calls_fixture
CALL=$(calls_once)
res=$("$CUSTOS" --node "$CALLS_URL" call get "$CALL" --json)
grep -q "TEST CHEAT: FROST coordinator silent after its proposal" "$WORK"/node*.log \
  || fail "no node stalled as the first coordinator: the test did not test anything"
if grep -h "I coordinate no attempt" "$WORK"/node*.log | head -3 | grep .; then
  fail "a coordinator refused commitments for its own session"
fi
echo "$res" | jq -e '.result.proof == "frost"' >/dev/null \
  || fail "result not in FROST mode: $(echo "$res" | jq -c '.result | {proof}'); $(grep -h 'FROST' "$WORK"/node*.log | head -5)"
pass "call done with a FROST proof from the second coordinator while the first stayed silent"

"$CUSTOS" --node "$CALLS_URL" verify result "$CALL" --genesis "$WORK/net/genesis.json" >"$WORK/verify" \
  || fail "verify result: $(cat "$WORK/verify")"
grep -q "^ok   mpc: done; statement .* signed once by the results key" "$WORK/verify" \
  || fail "verify output: $(cat "$WORK/verify")"
pass "custos verify result passes"
for i in 0 1 2 3; do kill -0 "${NODE_PID[$i]}" || fail "node $i died"; done
