#!/usr/bin/env bash
# One real custosd on loopback: every transaction type through the CLI, every
# query through JSON-RPC, and bad input of every kind. Each bad request must
# get its specific JSON-RPC error, the node must keep serving, and nothing
# committed may be lost.
. "$(dirname "$0")/lib.sh"

devnet 1
start_node 0
URL=$(rpc_url 0)
as() { local k="CUSTOS_KEY_${1^^}" p="CUSTOS_PASS_${1^^}"; echo "--key ${!k} --passphrase-file ${!p}"; }
c() { "$CUSTOS" --node "$URL" "$@"; }

# ---- every transaction type, through the CLI ----
reg=$(c $(as subject) --json --wait identity register --national-id 110101199003071234)
DID=$(echo "$reg" | jq -r .did)
[ ${#DID} -eq 64 ] || fail "register: no did in $reg"
c $(as hrss) --wait identity attest "$DID" --level EA5- >/dev/null || fail "attest"
dep=$(c $(as insurer) --json --wait contract deploy "$CUSTOS_SOURCE_DIR/configs/contracts/underwrite_basic.cst" --name uw --domains hrss)
CID=$(echo "$dep" | jq -r .contract)
[ "$(c contract get "$CID" --json | jq -r .status)" = pending ] || fail "contract should be pending"
c $(as hrss) --wait contract approve "$CID" >/dev/null || fail "approve"
[ "$(c contract get "$CID" --json | jq -r .callable)" = true ] || fail "contract should be callable"
H=$(rpc "$URL" status | jq -r .result.height)
g=$(c $(as subject) --json --wait consent grant --did "$DID" --insurer insurer --domains hrss \
   --contract "$CID" --purpose "underwriting" --expires $((H + 100)) --quota 2)
CONSENT=$(echo "$g" | jq -r .txid)
[ "$(rpc "$URL" consent_list "{\"did\":\"$DID\"}" | jq -r '.result[0].live')" = true ] || fail "consent live"
# a contract call: params dealt to the one validator (one sealed blob). The
# bureau has no vault schema, so it cannot deal the subject's record: the
# call aborts with that reason and the consent's use is given back (the
# whole flow, and the quota refusal, are in test_calls.sh)
H=$(rpc "$URL" status | jq -r .result.height)
CALLC=$(c $(as subject) --json --wait consent grant --did "$DID" --insurer insurer --domains hrss \
   --contract "$CID" --purpose "one quote" --expires $((H + 100)) --quota 1 | jq -r .txid)
INPUTS="$CUSTOS_SOURCE_DIR/configs/contracts/underwrite_basic.inputs.json"
CALL=$(c $(as insurer) --json --wait call "$CID" --subject "$DID" --consent "$CALLC" --inputs "$INPUTS" | jq -r .txid)
[ ${#CALL} -eq 64 ] || fail "call: no txid"
cg=$(rpc "$URL" call_get "{\"txid\":\"$CALL\"}")
[ "$(echo "$cg" | jq -r .result.status)" = aborted ] || fail "call should be aborted: $cg"
echo "$cg" | jq -r .result.result.reason | grep -q "no schema for domain hrss" || fail "abort reason: $cg"
[ "$(echo "$cg" | jq -r .result.consent)" = "$CALLC" ] || fail "call_get consent: $cg"
[ "$(c call get "$CALL" --json | jq -r .insurer)" = insurer ] || fail "custos call get"
rpc "$URL" tx_get "{\"txid\":\"$CALL\"}" | jq -e '.result.tx.type == "call" and .result.tx.nparties == 1 and .result.tx.count == 2' \
  >/dev/null || fail "tx_get of the call"
[ "$(rpc "$URL" consent_get "{\"id\":\"$CALLC\"}" | jq -r .result.uses)" = 0 ] || fail "the aborted call's use was not given back"
# bureau on the subject's behalf needs evidence
if c $(as hrss) --wait consent grant --did "$DID" --insurer insurer --domains hrss --contract "$CID" \
   --purpose x --expires $((H + 100)) --quota 1 2>"$WORK/err"; then fail "bureau grant without evidence accepted"; fi
grep -q evidence_required "$WORK/err" || fail "expected evidence_required, got $(cat "$WORK/err")"
c $(as hrss) --wait consent grant --did "$DID" --insurer insurer --domains hrss --contract "$CID" \
   --purpose "by bureau" --expires $((H + 100)) --quota 1 --evidence "$(printf 'ab%.0s' $(seq 32))" >/dev/null \
   || fail "bureau grant with evidence"
c $(as subject) --wait consent revoke "$CONSENT" >/dev/null || fail "consent revoke"
[ "$(rpc "$URL" consent_get "{\"id\":\"$CONSENT\"}" | jq -r .result.revoked)" = true ] || fail "revoked flag"
# rotate the subject key, then the old key may no longer act
"$CUSTOS" keygen --out "$WORK/newsub.json" --fast-kdf --passphrase-file "$CUSTOS_PASS_SUBJECT" >/dev/null
c $(as subject) --wait identity rotate "$DID" --new-key "$WORK/newsub.json" >/dev/null || fail "rotate"
if c $(as subject) --wait identity revoke "$DID" 2>"$WORK/err"; then fail "old key revoked the identity"; fi
grep -q not_subject "$WORK/err" || fail "expected not_subject: $(cat "$WORK/err")"
c $(as insurer) --wait contract retire "$CID" >/dev/null || fail "retire"
[ "$(c contract get "$CID" --json | jq -r .callable)" = false ] || fail "retired contract callable"
# governance: in a one-validator consortium the proposer's approval is the quorum
"$CUSTOS" keygen --out "$WORK/b2.json" --fast-kdf --passphrase-file "$CUSTOS_PASS_HRSS" >/dev/null
p=$(c $(as hrss) --json --wait member propose add --name civil --role bureau --member-key "$WORK/b2.json" --domains civil)
PID_=$(echo "$p" | jq -r .txid)
[ "$(rpc "$URL" proposal_get "{\"id\":\"$PID_\"}" | jq -r .result.applied)" = true ] || fail "proposal applied"
rpc "$URL" member_list | jq -e '.result.members | map(.name) | index("civil")' >/dev/null || fail "civil added"
c $(as hrss) --wait identity revoke "$DID" >/dev/null || fail "bureau revoke"
pass "every transaction type commits, and rules refuse with their names"

# ---- queries ----
H=$(rpc "$URL" status | jq -r .result.height)
[ "$H" -ge 10 ] || fail "height $H"
rpc "$URL" block_get '{"height":1}' | jq -e '.result.cert.votes | length == 1' >/dev/null || fail "block 1 cert"
BH=$(rpc "$URL" block_get '{"height":1}' | jq -r .result.hash)
[ "$(rpc "$URL" block_get "{\"hash\":\"$BH\"}" | jq -r .result.height)" = 1 ] || fail "block by hash"
rpc "$URL" identity_get "{\"did\":\"did:custos:$DID\"}" | jq -e '.result.revoked == true' >/dev/null || fail "identity_get"
rpc "$URL" account_get "{\"key\":\"$(jq -r .key "$CUSTOS_KEY_SUBJECT")\"}" | jq -e '.result.nonce == 5' >/dev/null \
  || fail "subject nonce: $(rpc "$URL" account_get "{\"key\":\"$(jq -r .key "$CUSTOS_KEY_SUBJECT")\"}")"
pass "queries answer"

# ---- bad input ----
SNAP=$(rpc "$URL" status | jq -c '.result | {height, tip_hash, state_root}')
expect_code() { # expect_code RESPONSE CODE WHAT
  local got; got=$(echo "$1" | jq -r '.error.code // empty' 2>/dev/null || true)
  [ "$got" = "$2" ] || fail "$3: expected error $2, got: $1"
}
expect_code "$(raw "$URL" '{"jsonrpc":"2.0","id":1,"method":')" -32700 "malformed JSON"
expect_code "$(raw "$URL" '[]')" -32600 "empty batch"
expect_code "$(raw "$URL" '{"jsonrpc":"1.0","id":1,"method":"status"}')" -32600 "wrong version"
expect_code "$(raw "$URL" '{"jsonrpc":"2.0","id":1,"method":"nope"}')" -32601 "unknown method"
expect_code "$(rpc "$URL" block_get '{"height":"x"}')" -32602 "wrong type"
expect_code "$(rpc "$URL" tx_get '{"txid":"zz"}')" -32602 "bad hex"
expect_code "$(rpc "$URL" tx_submit '{"tx":42}')" -32602 "tx not a string"
expect_code "$(rpc "$URL" tx_submit '{"tx":"00"}')" 106 "tx bad version"
expect_code "$(rpc "$URL" admin_mempool)" 10 "admin without cookie"
big=$(head -c 2000000 /dev/zero | tr '\0' 'a')
code=$(printf '{"jsonrpc":"2.0","id":1,"method":"status","params":{"x":"%s"}}' "$big" \
  | curl -s -o "$WORK/big" -w '%{http_code}' -H 'Content-Type: application/json' --data-binary @- "$URL")
[ "$code" = 413 ] || fail "oversized body: HTTP $code"
expect_code "$(cat "$WORK/big")" 604 "oversized body"
# a valid signed transaction, then tampered and replayed copies of it
c $(as hrss) --json identity attest "$DID" --level EA5+ --nonce 5000 >/dev/null 2>"$WORK/err" && fail "nonce gap accepted"
grep -q nonce_gap "$WORK/err" || fail "expected nonce_gap: $(cat "$WORK/err")"
printf 'contract big\ninput hrss.age : int(0..150)\noutput public young : bool\nyoung = hrss.age < 30 # %s\n' "$(head -c 300 /dev/zero | tr '\0' x)" >"$WORK/big.cst"
TXID=$(c $(as insurer) --json --wait contract deploy "$WORK/big.cst" --name big | jq -r .txid)
RAWTX=$(rpc "$URL" tx_get "{\"txid\":\"$TXID\"}" | jq -r .result.status)
[ "$RAWTX" = committed ] || fail "deploy not committed"
HEX=$(rpc "$URL" tx_get "{\"txid\":\"$TXID\"}" | jq -r .result.raw)
[ ${#HEX} -gt 200 ] || fail "tx_get gave no raw encoding"
expect_code "$(rpc "$URL" tx_submit "{\"tx\":\"$HEX\"}")" 203 "replayed transaction"
expect_code "$(rpc "$URL" tx_submit "{\"tx\":\"${HEX}00\"}")" 101 "trailing byte"
expect_code "$(rpc "$URL" tx_submit "{\"tx\":\"${HEX:0:100}\"}")" 100 "truncated transaction"
# a fresh transaction with a corrupted signature (nonce and rules fine)
HEX=$(c $(as subject) --json --print-only identity register --national-id 999 | jq -r .tx)
[ ${#HEX} -gt 200 ] || fail "--print-only gave no encoding"
last=${HEX: -2}; flipped=$(printf '%02x' $(( 0x$last ^ 1 )))
expect_code "$(rpc "$URL" tx_submit "{\"tx\":\"${HEX%??}$flipped\"}")" 200 "bad signature"
# and the same transaction unmodified is then accepted: the refusal was the signature
[ "$(rpc "$URL" tx_submit "{\"tx\":\"$HEX\"}" | jq -r '.result.txid | length')" = 64 ] || fail "intact tx refused"
# the node still serves and nothing committed was lost
AFTER=$(rpc "$URL" status | jq -c '.result | {height}')
[ "$(echo "$AFTER" | jq .height)" -ge "$(echo "$SNAP" | jq .height)" ] || fail "height went back: before $SNAP, after $AFTER"
[ "$(rpc "$URL" tx_get "{\"txid\":\"$CONSENT\"}" | jq -r .result.status)" = committed ] || fail "lost a tx"
pass "bad input refused with specific errors; node serving; nothing lost"

# /metrics and /healthz: plain GET, no cookie; the refusals above are counted
M=$(curl -sf "$URL/metrics") || fail "GET /metrics"
echo "$M" | grep -q '^custos_height [1-9]' || fail "/metrics: no height: $(echo "$M" | head -20)"
echo "$M" | grep -q '^custos_rpc_errors_total{method="tx_submit",code="200"} [1-9]' || fail "/metrics: tx_submit errors not counted"
[ "$(curl -s "$URL/healthz")" = ok ] || fail "/healthz: $(curl -s "$URL/healthz")"
pass "/metrics and /healthz"

stop_node 0
start_node 0
[ "$(rpc "$URL" tx_get "{\"txid\":\"$TXID\"}" | jq -r .result.status)" = committed ] || fail "lost after restart"
pass "restart resumes at the last block"
