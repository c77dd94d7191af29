#!/usr/bin/env bash
# Calls of one block run as one batch (docs/calls.md §2 "Batches") on 4
# real custosd processes. Six applicants, five with records in both
# bureaus' vaults and one with no health record; the insurer posts six
# calls (each with its own secret thresholds) in one JSON-RPC request, with
# blocks every 500 ms so that they share a block.
#   - the calls ran as batches: a node's log shows a batch of more than one;
#   - each of the five is DONE with the outputs of the plaintext run of its
#     own record and thresholds (copies are not mixed up), and a batched
#     call that is not its batch's lead passes custos verify result, its
#     result under its batch's one FROST signature with its Merkle path;
#   - the applicant without a health record: that call alone is ABORTED,
#     with the health bureau's reason and code (the others took its signed
#     abort), and its consent's use is given back;
#   - the same six again with other thresholds: a batch of a size already
#     run takes its circuit from the node's cache (docs/calls.md), and its
#     outputs are again each call's own plaintext run's.
. "$(dirname "$0")/lib.sh"

calls_devnet '.block.interval_ms = 500'
URL=$CALLS_URL
as() { member_opts "$1"; }
c() { "$CUSTOS" --node "$URL" "$@"; }

N=6
NOREC=3 # the applicant without a health record: in the middle of the block's calls
AGE=(0 30 45 55 62 25 40)
MONTHS=(0 150 200 300 400 130 160)
WAGE=(0 5000 9100 12000 2500 3300 7000)
CODE2=(0 0 162 0 0 250 0)  # 162 is one of the insurer's excluded codes
MINAGE=(0 18 18 20 18 26 18)  # applicant 5 (25) is below its call's minimum
DIDS=()
for k in $(seq 1 $N); do
  kf="$WORK/applicant$k.json"
  printf 'applicant-%s\n' "$k" >"$kf.pass"
  "$CUSTOS" --passphrase-file "$kf.pass" keygen --out "$kf" --fast-kdf >/dev/null || fail "keygen $k"
  DIDS[k]=$(c --key "$kf" --passphrase-file "$kf.pass" --json --wait identity register \
    --national-id "1101011990030700$(printf %02d "$k")" | jq -r .did)
  [ ${#DIDS[k]} -eq 64 ] || fail "identity register $k"
done
{ echo "did,age,contrib_months,monthly_wage,pension_withdrawals_90d"
  for k in $(seq 1 $N); do echo "${DIDS[k]},${AGE[k]},${MONTHS[k]},${WAGE[k]},0"; done; } >"$WORK/hrss.csv"
{ echo "did,medical_visits_180d,chronic_codes_1,chronic_codes_2,chronic_codes_3,chronic_codes_4,chronic_codes_5,chronic_codes_6,chronic_codes_7,chronic_codes_8"
  for k in $(seq 1 $N); do
    [ "$k" = $NOREC ] || echo "${DIDS[k]},1,401,${CODE2[k]},0,0,0,0,0,0"
  done; } >"$WORK/health.csv"
for d in hrss health; do vault_load "$d" "$WORK/$d.csv"; done
UW="$CUSTOS_SOURCE_DIR/configs/contracts/underwriting.cst"
CID=$(c $(as insurer) --json --wait contract deploy "$UW" --name underwriting --domains health,hrss | jq -r .contract)
[ ${#CID} -eq 64 ] || fail "deploy"
c $(as hrss) --wait contract approve "$CID" >/dev/null || fail "approve hrss"
c $(as health) --wait contract approve "$CID" >/dev/null || fail "approve health"
H=$(c status --json | jq -r .height)
G=()
for k in $(seq 1 $N); do
  kf="$WORK/applicant$k.json"
  G[k]=$(c --key "$kf" --passphrase-file "$kf.pass" --json --wait consent grant --did "${DIDS[k]}" --insurer insurer \
    --domains health,hrss --contract "$CID" --purpose underwriting --expires $((H + 5000)) --quota 2 | jq -r .txid)
  [ ${#G[k]} -eq 64 ] || fail "consent grant $k"
done
pass "$N applicants registered and consenting, records imported ($N hrss, $((N - 1)) health), contract approved"

# ---- six calls, prebuilt, posted in one request ----
INPUTS="$CUSTOS_SOURCE_DIR/configs/contracts/underwriting.inputs.json"
# post_calls MINAGE...: the N calls, call k with min_age ${MINAGE[k]}, in
# one request; CALL[k] and RES[k] when each has closed
post_calls() {
  local NONCE BODY o ans r
  NONCE=$(c account get "$CUSTOS_KEY_INSURER" --json | jq -r .next_nonce)
  BODY="["
  for k in $(seq 1 $N); do
    jq --argjson m "${MINAGE[k]}" '.min_age = $m' "$INPUTS" >"$WORK/in$k.json"
    o=$(c $(as insurer) --json --print-only --nonce $((NONCE + k - 1)) call "$CID" --subject "${DIDS[k]}" \
      --consent "${G[k]}" --inputs "$WORK/in$k.json") || fail "call $k --print-only: $o"
    CALL[k]=$(echo "$o" | jq -r .txid)
    BODY+="$([ "$k" = 1 ] || echo ,){\"jsonrpc\":\"2.0\",\"id\":$k,\"method\":\"tx_submit\",\"params\":{\"tx\":\"$(echo "$o" | jq -r .tx)\"}}"
  done
  BODY+="]"
  ans=$(raw "$URL" "$BODY")
  [ "$(echo "$ans" | jq '[.[] | select(.result.txid)] | length')" = $N ] || fail "not all calls admitted: $ans"
  for k in $(seq 1 $N); do
    for _ in $(seq 1 450); do # until it is committed and closed (90 s at most)
      r=$(c $(as insurer) --json call get "${CALL[k]}" 2>&1) && echo "$r" | jq -e '.status != "pending"' >/dev/null \
        && break
      sleep 0.2
    done
    echo "$r" | jq -e '.status == "done" or .status == "aborted"' >/dev/null || fail "call $k did not close: $r"
    RES[k]=$r
  done
}
# check_outputs: each done call's outputs are its own plaintext run's
check_outputs() {
  local plain r
  OUTS=
  for k in $(seq 1 $N); do
    [ "$k" = $NOREC ] && continue
    plain=$("$CUSTOS" contract run "$UW" --json --inputs <(jq --argjson a "${AGE[k]}" --argjson mo "${MONTHS[k]}" \
      --argjson w "${WAGE[k]}" --argjson c2 "${CODE2[k]}" \
      '. + {"hrss.age": $a, "hrss.contrib_months": $mo, "hrss.monthly_wage": $w,
            "health.chronic_codes": [401, $c2, 0, 0, 0, 0, 0, 0]}' "$WORK/in$k.json"))
    r=${RES[k]}
    [ "$(echo "$r" | jq -r .status)" = done ] || fail "call $k not done: $r"
    [ "$(echo "$r" | jq -r .outputs.approve)" = "$(echo "$plain" | jq -r .approve)" ] \
      && [ "$(echo "$r" | jq -r .outputs.band)" = "$(echo "$plain" | jq -r .band)" ] \
      || fail "call $k: $(echo "$r" | jq -c .outputs), plaintext $plain"
    OUTS+="$k:$(echo "$r" | jq -r .outputs.approve)/$(echo "$r" | jq -r .outputs.band) "
  done
}
post_calls
pass "$N calls posted in one request, all closed"

BATCHED=$(grep -ho "started with [0-9]* in its batch" "$WORK"/node*.log | awk '$3 > 0' | wc -l)
[ "$BATCHED" -gt 0 ] || fail "no batch of more than one call: $(grep -h "in its batch" "$WORK"/node*.log | head)"
LEADS=$(grep -h "started with [0-9]* in its batch" "$WORK/node0.log" | wc -l)
pass "batched: node 0 ran the $N calls as $LEADS batch(es)"

check_outputs
# the five differ among themselves: copies mixed up would show
[ "$(echo "$OUTS" | tr ' ' '\n' | cut -d: -f2 | sort -u | grep -c .)" -ge 3 ] || fail "outputs too alike to tell: $OUTS"
pass "each call's outputs are its own plaintext run's: $OUTS"

r=${RES[NOREC]}
[ "$(echo "$r" | jq -r .status)" = aborted ] || fail "call without a health record: $r"
echo "$r" | jq -r .result.reason | grep -q "health: no record of the subject" || fail "its reason: $r"
# every party signed the bureau's own abort (its code), not a timeout waiting for its commitment
[ "$(echo "$r" | jq -r .result.code_name)" = mpc_check_failed ] || fail "its code: $r"
[ "$(c consent get "${G[NOREC]}" --json | jq -r .uses)" = 0 ] || fail "its consent's use was not given back"
pass "the call without a health record alone aborted: $(echo "$r" | jq -r .result.reason | cut -c1-80)"

# a call that did not lead its batch verifies from genesis alone
V=
for k in $(seq $N -1 1); do
  [ "$k" = $NOREC ] && continue
  grep -q "call ${CALL[k]:0:16} started" "$WORK/node0.log" && continue
  V=$k
  break
done
[ -n "$V" ] || fail "every done call led its own batch"
"$CUSTOS" --node "$(rpc_url 2)" verify result "${CALL[V]}" --genesis "$WORK/net/genesis.json" >"$WORK/verify" \
  || fail "verify result of call $V: $(cat "$WORK/verify")"
# its result carries the one FROST signature of its batch's results and its
# path to the signed root (docs/keys.md §8), and the auditor checks both
echo "${RES[V]}" | jq -e '.result.proof == "frost" and .result.batch.results >= 2 and
  (.result.batch.path | length) >= 1' >/dev/null || fail "call $V's result has no batch signature: ${RES[V]}"
grep -q "^ok   mpc: done; statement .* signed once by the results key .*, over the root of a batch of" \
  "$WORK/verify" || fail "verify of a batch signature: $(cat "$WORK/verify")"
grep -q "one FROST signature for a batch of" "$WORK"/node*.log || fail "no result submitted under a batch signature"
pass "custos verify result of call $V (not its batch's lead, one FROST signature for $(echo "${RES[V]}" |
  jq -r .result.batch.results) results), from node 2 with the genesis alone"

# the access log: every read of the batch logged (docs/vault.md "Access
# log"; one synced write a batch): six hrss records, five health ones (the
# call without a health record read none)
LOG=()
for d in hrss health; do
  i=""
  for n in 0 1 2 3; do if [ "$(jq -r .name "$WORK/net/node$n/config.json")" = "$d" ]; then i=$n; fi; done
  l=$("$CUSTOS" --node "$(rpc_url "$i")" --json vault status --cookie "$WORK/net/node$i/data/.cookie" 2>&1) \
    || fail "vault status $d: $l"
  LOG+=("$(echo "$l" | jq -r .access_log)")
done
[ "${LOG[0]}" = $N ] && [ "${LOG[1]}" = $((N - 1)) ] || fail "access log lengths hrss ${LOG[0]}, health ${LOG[1]}"
pass "the bureaus' access logs hold every read: hrss ${LOG[0]}, health ${LOG[1]}"

# ---- the same six again, other thresholds: the circuit from the cache ----
SIZES1=$(grep -ho "started with [0-9]* in its batch" "$WORK/node0.log" | awk '{print $3}' | sort -u)
L1=$(grep -c "in its batch" "$WORK/node0.log")
MINAGE=(0 18 50 18 18 18 18) # calls 2 and 5 now decide the other way
post_calls
check_outputs
OUTS2=$OUTS
[ "$(echo "$OUTS2" | tr ' ' '\n' | cut -d: -f2 | sort -u | grep -c .)" -ge 2 ] || fail "outputs too alike: $OUTS2"
HIT=0
while read -r line; do
  k=$(echo "$line" | grep -o "started with [0-9]* in its batch" | awk '{print $3}')
  if echo "$SIZES1" | grep -qx "$k"; then
    echo "$line" | grep -q "circuit cached" || fail "a batch of a size run before built its circuit again: $line"
    HIT=$((HIT + 1))
  fi
done < <(grep "in its batch" "$WORK/node0.log" | tail -n +$((L1 + 1)))
if [ "$HIT" -gt 0 ]; then
  pass "second round: $HIT batch(es) took the circuit from the cache; outputs $OUTS2"
else
  pass "second round: outputs $OUTS2 (no batch had a size of the first round's: the cache was not exercised)"
fi
