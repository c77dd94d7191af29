#!/usr/bin/env bash
# A party that cheats inside a real call (docs/calls.md §5) on 4 real
# custosd processes. civil (a validator that deals nothing for the
# underwriting contract) runs with the test build's CUSTOS_TEST_MPC_CHEAT:
# in every call's online session it sends validly signed, malformed
# messages (node/call_service.c).
#   - the call ends ABORTED, its reason names the culprit, and the
#     consent's use is given back;
#   - the evidence is on chain exactly once: evidence_list's "mpc" section
#     names civil and this call, and one mpc_evidence transaction has an ok
#     receipt although the three honest parties each reported it;
#   - civil restarted without the cheat: a new call on the same consent is
#     DONE with the plaintext run's outputs.
. "$(dirname "$0")/lib.sh"

devnet 4
as() { local k="CUSTOS_KEY_${1^^}" p="CUSTOS_PASS_${1^^}"; echo "--key ${!k} --passphrase-file ${!p}"; }
for i in 0 1 2 3; do # civil times out after the others abort: keep that short
  cfg="$WORK/net/node$i/config.json"
  jq '.mpc = {enabled: false, round_timeout_ms: 3000}' "$cfg" >"$cfg.new" && mv "$cfg.new" "$cfg"
done
name_of() { jq -r .name "$WORK/net/node$1/config.json"; }
node_of() { for i in 0 1 2 3; do if [ "$(name_of "$i")" = "$1" ]; then echo "$i"; fi; done; }
CIV=$(node_of civil)
[ -n "$CIV" ] || fail "no civil node in the devnet"
for i in 0 1 2 3; do
  if [ "$i" = "$CIV" ]; then CUSTOS_TEST_MPC_CHEAT=malformed start_node "$i"; else start_node "$i"; fi
done
# the client talks to an honest node
for i in 0 1 2 3; do [ "$i" != "$CIV" ] && { URL=$(rpc_url "$i"); break; }; done
c() { "$CUSTOS" --node "$URL" "$@"; }
wait_linked "$CIV" || true # as before: a link still missing shows as the call's failure below

# ---- identity, records, contract, consent (as test_calls.sh) ----
DID=$(c $(as subject) --json --wait identity register --national-id 110101198507071234 | jq -r .did)
[ ${#DID} -eq 64 ] || fail "identity register"
cat >"$WORK/hrss.csv" <<EOF
did,age,contrib_months,monthly_wage,pension_withdrawals_90d
$DID,44,186,9200,0
EOF
cat >"$WORK/health.csv" <<EOF
did,medical_visits_180d,chronic_codes_1,chronic_codes_2,chronic_codes_3,chronic_codes_4,chronic_codes_5,chronic_codes_6,chronic_codes_7,chronic_codes_8
$DID,3,250,0,0,0,0,0,0,0
EOF
for d in hrss health; do
  i=$(node_of "$d")
  cookie="$WORK/net/node$i/data/.cookie"
  "$CUSTOS" --node "$(rpc_url "$i")" vault schema --domain "$d" "$CUSTOS_SOURCE_DIR/configs/records/$d.schema.json" \
    --cookie "$cookie" >/dev/null || fail "vault schema $d"
  "$CUSTOS" --node "$(rpc_url "$i")" vault import --domain "$d" "$WORK/$d.csv" --cookie "$cookie" >/dev/null \
    || fail "vault import $d"
  "$CUSTOS" --node "$(rpc_url "$i")" vault anchor --domain "$d" --cookie "$cookie" --wait >/dev/null \
    || fail "vault anchor $d"
done
UW="$CUSTOS_SOURCE_DIR/configs/contracts/underwriting.cst"
INPUTS="$CUSTOS_SOURCE_DIR/configs/contracts/underwriting.inputs.json"
CID=$(c $(as insurer) --json --wait contract deploy "$UW" --name underwriting --domains health,hrss | jq -r .contract)
[ ${#CID} -eq 64 ] || fail "deploy"
c $(as hrss) --wait contract approve "$CID" >/dev/null || fail "approve hrss"
c $(as health) --wait contract approve "$CID" >/dev/null || fail "approve health"
H=$(c status --json | jq -r .height)
G=$(c $(as subject) --json --wait consent grant --did "$DID" --insurer insurer --domains health,hrss \
  --contract "$CID" --purpose "underwriting" --expires $((H + 1000)) --quota 2 | jq -r .txid)
[ ${#G} -eq 64 ] || fail "consent grant"
plain=$("$CUSTOS" contract run "$UW" --inputs "$INPUTS" --json)
want_approve=$(echo "$plain" | jq -r .approve)
want_band=$(echo "$plain" | jq -r .band)
[ "$want_approve" = true ] && [ "$want_band" = 2 ] || fail "plaintext run: $plain"
pass "records, contract and consent (quota 2) in place"

# ---- the call with civil cheating ----
H0=$(c status --json | jq -r .height)
res=$(c $(as insurer) --json --timeout 60 --wait call "$CID" --subject "$DID" --consent "$G" --inputs "$INPUTS") \
  || fail "call --wait: $res"
CALL=$(echo "$res" | jq -r .txid)
[ "$(echo "$res" | jq -r .status)" = aborted ] || fail "expected an abort: $res"
reason=$(echo "$res" | jq -r .result.reason)
echo "$reason" | grep -q "online session: .*malformed.*; culprit civil" || fail "abort reason: $res"
[ "$(c consent get "$G" --json | jq -r .uses)" = 0 ] || fail "the aborted call's use was not given back"
pass "call aborted naming the cheater (${reason:0:110}), use given back"

# ---- the evidence, on chain once ----
for _ in $(seq 1 100); do
  MPC=$(rpc "$URL" evidence_list | jq -c .result.mpc)
  [ "$(echo "$MPC" | jq length)" -ge 1 ] && break
  sleep 0.1
done
# every report was submitted before the result was signed (call_service.c,
# run_step): once the mempools are empty, every copy has been judged
for _ in $(seq 1 100); do
  busy=0
  for i in 0 1 2 3; do
    [ "$(rpc "$(rpc_url "$i")" status | jq -r .result.mempool.size)" = 0 ] || busy=1
  done
  [ $busy = 0 ] && break
  sleep 0.1
done
[ $busy = 0 ] || fail "mempools not empty"
MPC=$(rpc "$URL" evidence_list | jq -c .result.mpc)
echo "$MPC" | jq -e --arg call "$CALL" 'length == 1 and .[0].call == $call and .[0].culprit_name == "civil"
  and .[0].session == "online" and .[0].ev_type == "malformed" and .[0].reporter_name != "civil"' >/dev/null \
  || fail "evidence_list mpc: $MPC"
EVTX=$(echo "$MPC" | jq -r '.[0].txid')
H1=$(c status --json | jq -r .height)
ok=0 seen=0
for h in $(seq "$H0" "$H1"); do
  txs=$(rpc "$URL" block_get "{\"height\":$h}" | jq -c '[.result.txs[] | select(.type == "mpc_evidence")]')
  seen=$((seen + $(echo "$txs" | jq length)))
  ok=$((ok + $(echo "$txs" | jq '[.[] | select(.code == 0)] | length')))
  echo "$txs" | jq -e 'all(.code == 0 or .rule == "evidence_exists")' >/dev/null \
    || fail "an mpc_evidence receipt other than ok or evidence_exists at height $h: $txs"
done
[ "$ok" = 1 ] || fail "$ok mpc_evidence transactions with an ok receipt (want 1) in heights $H0..$H1"
rpc "$URL" tx_get "{\"txid\":\"$EVTX\"}" | jq -e --arg call "$CALL" \
  '.result.status == "committed" and .result.tx.call == $call and .result.tx.session == "online"' >/dev/null \
  || fail "evidence tx: $(rpc "$URL" tx_get "{\"txid\":\"$EVTX\"}" | jq -c .result.tx)"
for i in 0 1 2 3; do # every node serves the same record
  [ "$(rpc "$(rpc_url "$i")" evidence_list | jq -c .result.mpc)" = "$MPC" ] || fail "node$i: another evidence list"
done
pass "evidence on chain once ($seen mpc_evidence transaction(s) in blocks, 1 ok), naming civil"

# ---- civil honest again: a new call on the refunded consent ----
stop_node "$CIV"
start_node "$CIV"
H=$(c status --json | jq -r .height)
for _ in $(seq 1 400); do # caught up, and linked to every other member again
  st=$("$CUSTOS" --node "$(rpc_url "$CIV")" status --json)
  [ "$(echo "$st" | jq -r .height)" -ge "$H" ] && [ "$(echo "$st" | jq '[.peers[]? | select(.connected)] | length')" = 3 ] \
    && break
  sleep 0.05
done
res=$(c $(as insurer) --json --timeout 60 --wait call "$CID" --subject "$DID" --consent "$G" --inputs "$INPUTS") \
  || fail "second call: $res"
[ "$(echo "$res" | jq -r .status)" = done ] || fail "second call not done: $res"
[ "$(echo "$res" | jq -r .outputs.approve)" = "$want_approve" ] && [ "$(echo "$res" | jq -r .outputs.band)" = "$want_band" ] \
  || fail "second call's outputs: $res"
[ "$(c consent get "$G" --json | jq -r .uses)" = 1 ] || fail "the done call did not count its use"
[ "$(rpc "$URL" evidence_list | jq '.result.mpc | length')" = 1 ] || fail "evidence after an honest call"
pass "civil restarted without the cheat: the next call is done (approve=$want_approve band=$want_band)"
for i in 0 1 2 3; do kill -0 "${NODE_PID[$i]}" || fail "node $i died"; done
