#!/usr/bin/env bash
# A bureau's vault in a real custosd (docs/vault.md, "Operating the vault"):
# schema and CSV import through `custos vault` (3 batches), status with count
# and root; refusals (a value out of range named by line and field, the same
# over raw RPC, no cookie, a domain nobody owns, a domain another bureau
# owns) that leave the vault as it was; rotation to key id 2 that keeps
# every record and the root, across a restart; the key id file rewound as
# after a crash inside a rotation, recovered at start; no plaintext value in
# the vault's files; kill -9 during an import leaves whole batches only.
. "$(dirname "$0")/lib.sh"

devnet 1
start_node 0
URL=$(rpc_url 0)
DATA="$WORK/net/node0/data"
COOKIE="$DATA/.cookie"
v() { "$CUSTOS" --node "$URL" vault "$@" --cookie "$COOKIE"; }
count() { v status --domain hrss --json | jq -r '.domains[0].records'; }
root() { v status --domain hrss --json | jq -r '.domains[0].root'; }

# csv FILE N PREFIX [BAD_LINE]: N synthetic records (DIDs from PREFIX), the
# record on line BAD_LINE (header = line 1) with an age out of range.
csv() {
  python3 - "$@" <<'EOF'
import hashlib, sys
path, n, prefix = sys.argv[1], int(sys.argv[2]), sys.argv[3]
bad = int(sys.argv[4]) if len(sys.argv) > 4 else -1
with open(path, "w") as f:
    f.write("did,age,smoker,income\n")
    for i in range(n):
        did = hashlib.sha256(("%s-%d" % (prefix, i)).encode()).hexdigest()
        age = 151 if i + 2 == bad else i % 151
        # record 7 carries a distinctive income, looked for in the files later
        income = 8765432109876 if i == 7 else 1000 + 7 * i
        f.write("%s,%d,%s,%d\n" % (did, age, "true" if i % 3 == 0 else "false", income))
EOF
}

# ---- schema, import, status ----
cat >"$WORK/schema.json" <<'EOF'
{"fields": [{"name": "age", "type": "int", "min": 0, "max": 150},
            {"name": "smoker", "type": "bool"},
            {"name": "income", "type": "int", "min": 0, "max": 10000000000000}]}
EOF
v schema --domain hrss "$WORK/schema.json" >/dev/null || fail "schema set"
v status --json | jq -e '.domains[0].fields | length == 3' >/dev/null || fail "schema not listed"
csv "$WORK/r1.csv" 2500 s
out=$(v import --domain hrss "$WORK/r1.csv" --batch 1000 --json 2>"$WORK/progress") || fail "import: $(cat "$WORK/progress")"
echo "$out" | jq -e '.imported == 2500 and .batches == 3 and .records == 2500' >/dev/null || fail "import summary: $out"
[ "$(grep -c '^imported' "$WORK/progress")" = 3 ] || fail "expected 3 progress lines: $(cat "$WORK/progress")"
grep -q 'imported 2500/2500' "$WORK/progress" || fail "progress: $(cat "$WORK/progress")"
[ "$(count)" = 2500 ] || fail "count $(count)"
ROOT=$(root)
[[ "$ROOT" =~ ^[0-9a-f]{64}$ ]] && [ "$ROOT" != "$(printf '0%.0s' $(seq 64))" ] || fail "root '$ROOT'"
[ "$(echo "$out" | jq -r .root)" = "$ROOT" ] || fail "import summary root differs from status"
v status | grep -q "hrss *2500 *$ROOT" || fail "status table: $(v status)"
pass "schema set; 2500 records imported in 3 batches; status shows the count and root"

# ---- refusals leave the vault unchanged ----
csv "$WORK/bad.csv" 10 t 7
if v import --domain hrss "$WORK/bad.csv" 2>"$WORK/err"; then fail "out-of-range value imported"; fi
grep -q 'bad.csv: line 7: age: 151 is outside 0..150' "$WORK/err" || fail "refusal should name line 7 and age: $(cat "$WORK/err")"
AUTH=$(cat "$COOKIE")
D1=$(printf 'ab%.0s' $(seq 32)); D2=$(printf 'cd%.0s' $(seq 32))
body='{"jsonrpc":"2.0","id":1,"method":"admin_vault_import","params":{"domain":"hrss","records":[
  {"did":"'$D1'","values":{"age":3,"smoker":false,"income":1}},
  {"did":"'$D2'","values":{"age":300,"smoker":true,"income":1}}]}}'
r=$(curl -s -m 10 -u "$AUTH" --data-binary "$body" "$URL")
[ "$(echo "$r" | jq -r .error.code)" = 4 ] || fail "raw import of a bad record: $r"
echo "$r" | jq -r .error.data.detail | grep -q '^record 1: age:' || fail "refusal should name record 1 and age: $r"
r=$(curl -s -m 10 -u "$AUTH" --data-binary "${body/\"smoker\":true/\"smoker\":\"yes\"}" "$URL")
echo "$r" | jq -r .error.data.detail | grep -q 'params.records\[1\].values.smoker' || fail "type refusal: $r"
r=$(rpc "$URL" admin_vault_status)
[ "$(echo "$r" | jq -r .error.code)" = 10 ] || fail "status without the cookie: $r"
r=$(rpc "$URL" admin_vault_import "{\"domain\":\"hrss\",\"records\":[{\"did\":\"$D1\",\"values\":{\"age\":1,\"smoker\":0,\"income\":1}}]}")
[ "$(echo "$r" | jq -r .error.code)" = 10 ] || fail "import without the cookie: $r"
if v schema --domain health "$WORK/schema.json" 2>"$WORK/err"; then fail "schema for an unowned domain"; fi
grep -q domain_unknown "$WORK/err" || fail "expected domain_unknown: $(cat "$WORK/err")"
# a second bureau, civil, owning domain civil (one validator: the proposal applies at once)
"$CUSTOS" keygen --out "$WORK/civil.json" --fast-kdf --passphrase-file "$CUSTOS_PASS_HRSS" >/dev/null
"$CUSTOS" --node "$URL" --key "$CUSTOS_KEY_HRSS" --passphrase-file "$CUSTOS_PASS_HRSS" --wait \
  member propose add --name civil --role bureau --member-key "$WORK/civil.json" --domains civil >/dev/null \
  || fail "add bureau civil"
if v import --domain civil "$WORK/r1.csv" 2>"$WORK/err"; then fail "import into civil's domain"; fi
grep -q not_domain_owner "$WORK/err" || fail "expected not_domain_owner: $(cat "$WORK/err")"
if v schema --domain civil "$WORK/schema.json" 2>"$WORK/err"; then fail "schema for civil's domain"; fi
grep -q "belongs to bureau 'civil'" "$WORK/err" || fail "expected the owner named: $(cat "$WORK/err")"
[ "$(count)" = 2500 ] && [ "$(root)" = "$ROOT" ] || fail "refusals changed the vault"
grep -q 'outside 0..150\|"age":300\|8765432109876' "$WORK/node0.log" && fail "a value reached the node's log"
pass "bad value (CLI: line + field; RPC: record + field), no cookie, unowned domains refused; nothing written"

# ---- rotation, restart ----
r=$(v rotate --json) || fail "rotate"
[ "$(echo "$r" | jq -r .key_id)" = 2 ] || fail "rotate: $r"
[ "$(cat "$DATA/vault.keyid")" = 2 ] || fail "vault.keyid: $(cat "$DATA/vault.keyid")"
[ "$(count)" = 2500 ] && [ "$(root)" = "$ROOT" ] || fail "records changed by the rotation"
stop_node 0
start_node 0
v status --json | jq -e ".key_id == 2 and .domains[0].records == 2500 and .domains[0].root == \"$ROOT\"" \
  >/dev/null || fail "after restart: $(v status --json)"
# a crash between the rotation's batch and the key id file: the file names the old id
stop_node 0
printf '1\n' >"$DATA/vault.keyid"
start_node 0
[ "$(cat "$DATA/vault.keyid")" = 2 ] || fail "vault.keyid not recovered: $(cat "$DATA/vault.keyid")"
grep -q 'rotation was interrupted' "$WORK/node0.log" || fail "recovery not logged"
v status --json | jq -e ".key_id == 2 and .domains[0].records == 2500 and .domains[0].root == \"$ROOT\"" \
  >/dev/null || fail "after recovery: $(v status --json)"
pass "rotate to key id 2 keeps every record and the root, across a restart and an interrupted rotation"

# ---- nothing in plaintext on disk ----
python3 - "$DATA/vault" 8765432109876 <<'EOF' || fail "a plaintext value in the vault's files"
import os, struct, sys
le = struct.pack("<q", int(sys.argv[2]))
text = sys.argv[2].encode()
for d, _, files in os.walk(sys.argv[1]):
    for f in files:
        b = open(os.path.join(d, f), "rb").read()
        if le in b or text in b:
            sys.exit("found in %s" % f)
EOF
pass "the distinctive value is in no file of the vault (as int64 LE or as text)"

# ---- kill -9 during an import: whole batches only ----
csv "$WORK/big.csv" 60000 k
v import --domain hrss "$WORK/big.csv" --batch 500 >/dev/null 2>"$WORK/big.err" &
IMP=$!
AUTH=$(cat "$COOKIE") # fresh at every start
for _ in $(seq 1 400); do
  n=$(curl -s -m 2 -u "$AUTH" -d '{"jsonrpc":"2.0","id":1,"method":"admin_vault_status","params":{"domain":"hrss","root":false}}' \
      "$URL" | jq -r '.result.domains[0].records // 0')
  [ "$n" -gt 2500 ] && break
  sleep 0.02
done
stop_node 0 KILL
wait "$IMP" && fail "the import finished before the kill (make the file bigger)"
start_node 0
n=$(count)
[ "$n" -gt 2500 ] && [ "$n" -lt 62500 ] || fail "count after kill: $n"
[ $(((n - 2500) % 500)) = 0 ] || fail "a torn batch: $n records is not 2500 + a multiple of 500"
# the rest can be imported again (the stored batches are replaced with the same values)
v import --domain hrss "$WORK/big.csv" --batch 1000 >/dev/null 2>&1 || fail "re-import after the kill"
[ "$(count)" = 62500 ] || fail "count after re-import: $(count)"
pass "kill -9 during an import left $((n - 2500)) records, whole batches of 500; re-import completes"
