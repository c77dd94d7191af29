#!/usr/bin/env bash
# Backup and restore (docs/operations.md, "Backup and restore"): a 4-member
# devnet under a steady load of transactions; records imported into the
# vault of hrss (node0); `custos backup` of node0 while blocks commit; node0
# stopped and its data dir wiped; `custos restore` (refusals first: no
# --chain-height for a wiped disk, a damaged backup, a running node); node0
# started again: it catches up with the others (same block hash at a common
# height), its vault shows the same count and root, and the chain keeps
# committing.
. "$(dirname "$0")/lib.sh"

devnet 4
for i in 0 1 2 3; do start_node "$i"; done
URL0=$(rpc_url 0)
DATA="$WORK/net/node0/data"
COOKIE="$DATA/.cookie"
height() { rpc "$1" status | jq -r .result.height; }
bhash() { rpc "$1" block_get "{\"height\":$2}" | jq -r .result.hash; }
v() { "$CUSTOS" --node "$URL0" vault "$@" --cookie "$COOKIE"; }

# ---- records in hrss's vault ----
cat >"$WORK/schema.json" <<'JSON'
{"fields": [{"name": "age", "type": "int", "min": 0, "max": 150},
            {"name": "smoker", "type": "bool"}]}
JSON
python3 - "$WORK/r.csv" <<'PY'
import hashlib, sys
with open(sys.argv[1], "w") as f:
    f.write("did,age,smoker\n")
    for i in range(300):
        f.write("%s,%d,%s\n" % (hashlib.sha256(b"bk-%d" % i).hexdigest(), i % 151, "true" if i % 2 else "false"))
PY
v schema --domain hrss "$WORK/schema.json" >/dev/null || fail "schema set"
v import --domain hrss "$WORK/r.csv" --json >/dev/null 2>&1 || fail "vault import"
ROOT=$(v status --domain hrss --json | jq -r '.domains[0].root')
COUNT=$(v status --domain hrss --json | jq -r '.domains[0].records')
[ "$COUNT" = 300 ] || fail "imported count $COUNT"
pass "300 records imported into hrss's vault (root ${ROOT:0:16}…)"

# ---- load on the other three nodes, backup while committing ----
URLS="$(rpc_url 1),$(rpc_url 2),$(rpc_url 3)"
"$CUSTOS" load --nodes "$URLS" --rate 20 --duration 60 --drain 20 --json --out "$WORK/txids" \
  >"$WORK/load.json" 2>"$WORK/load.err" &
LOAD_PID=$!
PIDS+=("$LOAD_PID")
h0=$(height "$URL0")
for _ in $(seq 1 100); do [ "$(height "$URL0")" -ge $((h0 + 3)) ] && break; sleep 0.1; done
[ "$(height "$URL0")" -ge $((h0 + 3)) ] || fail "the chain does not commit"
BK="$WORK/backup-node0"
out=$("$CUSTOS" --node "$URL0" backup --out "$BK" --cookie "$COOKIE" --json) || fail "backup: $out"
BH=$(echo "$out" | jq -r .height)
[ "$(jq -r .height "$BK/MANIFEST.json")" = "$BH" ] || fail "manifest height"
jq -e '.databases.chain.keys > 0 and .databases.vault.keys > 0 and (.files.safety.sha256 | length == 64)' \
  "$BK/MANIFEST.json" >/dev/null || fail "manifest: $(cat "$BK/MANIFEST.json")"
[ "$(stat -c %a "$BK")" = 700 ] || fail "backup dir mode $(stat -c %a "$BK")"
if "$CUSTOS" --node "$URL0" backup --out "$BK" --cookie "$COOKIE" 2>"$WORK/err"; then fail "backup into an existing dir"; fi
r=$(rpc "$URL0" admin_backup "{\"dir\":\"$WORK/nocookie\"}")
[ "$(echo "$r" | jq -r .error.code)" = 10 ] || fail "admin_backup without the cookie: $r"
sleep 2
[ "$(height "$URL0")" -gt "$BH" ] || fail "node0 stopped committing after the backup"
pass "backup of node0 at height $BH while committing; manifest lists chain, vault and safety"

# ---- restore refusals while running, then stop and wipe ----
if "$CUSTOS" restore --from "$BK" --data "$DATA" --chain-height 1 2>"$WORK/err"; then fail "restore into a running node"; fi
grep -q "stop the node first" "$WORK/err" || fail "running node: $(cat "$WORK/err")"
stop_node 0
rm -rf "$DATA"
CFG="$WORK/net/node0/config.json"
if "$CUSTOS" restore --from "$BK" --data "$DATA" --config "$CFG" 2>"$WORK/err"; then fail "restore without --chain-height"; fi
grep -q "chain-height" "$WORK/err" || fail "expected the --chain-height rule: $(cat "$WORK/err")"
cp -r "$BK" "$WORK/damaged"
printf 'x' >>"$WORK/damaged/safety"
if "$CUSTOS" restore --from "$WORK/damaged" --data "$DATA" --config "$CFG" --chain-height 1 2>"$WORK/err"; then
  fail "restore of a damaged backup"; fi
grep -q "differs from its manifest" "$WORK/err" || fail "damaged: $(cat "$WORK/err")"
[ ! -e "$DATA" ] || fail "a refused restore left $DATA behind"
pass "restore refuses a running node, a wiped disk without --chain-height, a damaged backup"

# ---- restore and rejoin ----
CH=$(height "$(rpc_url 1)")
out=$("$CUSTOS" restore --from "$BK" --data "$DATA" --config "$CFG" --chain-height "$CH" --json) \
  || fail "restore: $out"
[ "$(echo "$out" | jq -r .no_signing_until)" = $((CH + 2)) ] || fail "hold height: $out"
start_node 0
target=$(( $(height "$(rpc_url 1)") + 3 ))
for _ in $(seq 1 300); do [ "$(height "$URL0")" -ge "$target" ] && break; sleep 0.1; done
H0=$(height "$URL0")
[ "$H0" -ge "$target" ] || fail "restored node0 at $H0, the others beyond $target"
[ "$(bhash "$URL0" "$H0")" = "$(bhash "$(rpc_url 1)" "$H0")" ] || fail "block $H0 differs from node1's"
[ "$(v status --domain hrss --json | jq -r '.domains[0].records')" = 300 ] || fail "restored vault count"
[ "$(v status --domain hrss --json | jq -r '.domains[0].root')" = "$ROOT" ] || fail "restored vault root"
pass "restored node0 caught up to $H0 (same block as node1), vault count and root as before"

# ---- the chain keeps committing; node0 signs again past the hold ----
for _ in $(seq 1 200); do [ "$(height "$URL0")" -gt $((CH + 4)) ] && break; sleep 0.1; done
[ "$(height "$URL0")" -gt $((CH + 4)) ] || fail "the chain stopped at $(height "$URL0")"
kill -TERM "$LOAD_PID" 2>/dev/null || true
wait "$LOAD_PID" 2>/dev/null || true
grep -q "equivocation" "$WORK"/node*.log && fail "an equivocation was reported"
pass "the chain keeps committing (height $(height "$URL0")), no equivocation"
