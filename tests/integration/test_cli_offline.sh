#!/usr/bin/env bash
# The custos CLI without a node: help texts, usage errors and their exit
# codes, keygen / key show, sig verify against the BIP340 vectors, devnet
# init (N = 1 and N = 4, and its refusal of a non-empty directory) and
# contract id. Exit codes: 0 ok, 1 invalid/refused, 2 usage, 3 no node,
# 4 local failure (docs/cli.md).
. "$(dirname "$0")/lib.sh"

[ -x "$CUSTOS" ] || fail "no custos binary at $CUSTOS (set CUSTOS_BIN)"
unset CUSTOS_NODE CUSTOS_KEY CUSTOS_PASSPHRASE

# expect CODE CMD...: runs CMD, checks its exit status; stdout/stderr are
# kept in $WORK/out and $WORK/err for the caller's greps.
expect() {
  local want=$1 got=0
  shift
  "$@" >"$WORK/out" 2>"$WORK/err" || got=$?
  [ "$got" -eq "$want" ] ||
    fail "'$*' exited $got, expected $want; stderr: $(head -c 600 "$WORK/err")"
}
out_has() { grep -q -- "$1" "$WORK/out" || fail "stdout lacks '$1': $(head -c 600 "$WORK/out")"; }
err_has() { grep -q -- "$1" "$WORK/err" || fail "stderr lacks '$1': $(head -c 600 "$WORK/err")"; }
mode_of() { stat -c %a "$1"; }

# ---- help ----
expect 0 "$CUSTOS" --help
out_has "Usage: custos"
out_has "Exit codes"
mapfile -t CMDS < <(awk '/^Commands:/{on=1; next} on && /^$/{exit} on {print}' "$WORK/out" |
  sed -E 's/^  (([a-z-]+ ?)+)  +.*/\1/; s/ +$//')
[ "${#CMDS[@]}" -ge 25 ] || fail "only ${#CMDS[@]} commands listed in --help"
for cmd in "${CMDS[@]}"; do
  # shellcheck disable=SC2086  # the command's words are separate arguments
  expect 0 "$CUSTOS" $cmd --help
  out_has "Usage: custos $cmd"
  out_has "Example:"
  expect 0 "$CUSTOS" help $cmd
  out_has "Usage: custos $cmd"
done
expect 0 "$CUSTOS" -h
out_has "Usage: custos"
expect 0 "$CUSTOS" member --help # a group lists its commands
out_has "member propose add"
pass "--help for custos and its ${#CMDS[@]} commands"

# ---- usage errors: exit 2 with a message ----
expect 2 "$CUSTOS" frobnicate
err_has "custos: unknown command 'frobnicate'"
expect 2 "$CUSTOS"
expect 2 "$CUSTOS" member
err_has "missing subcommand"
expect 2 "$CUSTOS" member frob
err_has "unknown subcommand 'frob'"
expect 2 "$CUSTOS" --bogus status
err_has "unknown flag --bogus"
expect 2 "$CUSTOS" key show
err_has "missing argument"
expect 2 "$CUSTOS" keygen
err_has "missing --out"
expect 2 "$CUSTOS" status --frob
err_has "unknown flag --frob"
expect 2 "$CUSTOS" identity get nothex
err_has "expected 64 hex digits"
expect 2 "$CUSTOS" --nonce 3 status
expect 2 "$CUSTOS" --timeout -1 status
pass "usage errors exit 2 with a message"

# ---- keys ----
PASS="$WORK/pass"
printf 'correct horse battery\n' >"$PASS"
expect 0 "$CUSTOS" --passphrase-file "$PASS" --json keygen --out "$WORK/a.json" --fast-kdf
KEY=$(jq -r .key "$WORK/out")
ENC=$(jq -r .enc_key "$WORK/out")
[[ $KEY =~ ^[0-9a-f]{64}$ && $ENC =~ ^[0-9a-f]{64}$ ]] || fail "keygen output: $(cat "$WORK/out")"
[ "$(mode_of "$WORK/a.json")" = 600 ] || fail "keystore mode $(mode_of "$WORK/a.json")"
expect 0 "$CUSTOS" key show "$WORK/a.json" # no passphrase needed
out_has "key: *$KEY"
out_has "enc_key: *$ENC"
expect 0 "$CUSTOS" --json key show "$WORK/a.json"
[ "$(jq -r .key "$WORK/out")" = "$KEY" ] || fail "key show --json"
[ "$(jq -r .kdf "$WORK/a.json")" = argon2id13 ] || fail "keystore kdf"
# never overwrite a key file
expect 4 "$CUSTOS" --passphrase-file "$PASS" keygen --out "$WORK/a.json" --fast-kdf
err_has "already exists"
[ "$(jq -r .key "$WORK/a.json")" = "$KEY" ] || fail "keystore was overwritten"
# passphrase from the environment; empty and missing passphrases refused
CUSTOS_PASSPHRASE=envpass expect 0 "$CUSTOS" keygen --out "$WORK/b.json" --fast-kdf
printf '\n' >"$WORK/empty"
expect 4 "$CUSTOS" --passphrase-file "$WORK/empty" keygen --out "$WORK/c.json" --fast-kdf
err_has "empty passphrase"
expect 4 "$CUSTOS" keygen --out "$WORK/c.json" --fast-kdf
err_has "CUSTOS_PASSPHRASE"
[ ! -e "$WORK/c.json" ] || fail "a keystore was written without a passphrase"
# a damaged keystore is a local failure
echo '{"version": 9}' >"$WORK/bad.json"
expect 4 "$CUSTOS" key show "$WORK/bad.json"
err_has "version"
expect 4 "$CUSTOS" key show "$WORK/absent.json"
# a wrong passphrase is found before any node is contacted (exit 4, not 3)
printf 'wrong\n' >"$WORK/wrong"
expect 4 "$CUSTOS" --node http://127.0.0.1:1 --key "$WORK/a.json" --passphrase-file "$WORK/wrong" \
  identity revoke "$(printf '0%.0s' $(seq 64))"
err_has "wrong passphrase"
# with the right one, the missing node is exit 3
expect 3 "$CUSTOS" --node http://127.0.0.1:1 --key "$WORK/a.json" --passphrase-file "$PASS" \
  identity revoke "$(printf '0%.0s' $(seq 64))"
err_has "cannot reach the node"
expect 3 "$CUSTOS" --node http://127.0.0.1:1 status
pass "keygen, key show, passphrases, unreachable node"

# ---- sig verify ----
V0_PK=F9308A019258C31049344F85F89D5229B531C845836F99B08601F113BCE036F9
V0_MSG=0000000000000000000000000000000000000000000000000000000000000000
V0_SIG=E907831F80848D1069A5371B402410364BDF1C5F8307B0084C55F1CE2DCA821525F66A4A85EA8B71E482A74F382D2CE5EBEEE8FDB2172F477DF4900D310536C0
expect 0 "$CUSTOS" sig verify "$V0_PK" "$V0_MSG" "$V0_SIG"
out_has "^valid$"
BAD_SIG=${V0_SIG%?}1 # last digit 0 -> 1
expect 1 "$CUSTOS" sig verify "$V0_PK" "$V0_MSG" "$BAD_SIG"
out_has "^invalid$"
expect 1 "$CUSTOS" sig verify "$V0_PK" "${V0_MSG%?}1" "$V0_SIG"
expect 2 "$CUSTOS" sig verify "${V0_PK%?}" "$V0_MSG" "$V0_SIG"    # 63 digits
expect 2 "$CUSTOS" sig verify "$V0_PK" "$V0_MSG" "${V0_SIG}00"    # 65 bytes
expect 2 "$CUSTOS" sig verify "$V0_PK" "0" "$V0_SIG"              # odd length
expect 2 "$CUSTOS" sig verify "$V0_PK" "zz" "$V0_SIG"
expect 2 "$CUSTOS" sig verify "G${V0_PK#?}" "$V0_MSG" "$V0_SIG"
# FROST(ristretto255, SHA-512): the RFC 9591 vector's group key, message and signature
F_PK=e2a62f39eede11269e3bd5a7d97554f5ca384f9f6d3dd9c3c0d05083c7254f57
F_SIG=fa954853693068803615803a06e2c23a6228f7d6d6b442b72b26696aa776fe75532350f49b27a123b0c811d54671f6c008e319741a59918baf3c5455a5ec2603
expect 0 "$CUSTOS" sig verify --scheme frost "$F_PK" 74657374 "$F_SIG"
expect 1 "$CUSTOS" sig verify --scheme frost "$F_PK" 74657375 "$F_SIG"
expect 2 "$CUSTOS" sig verify --scheme frost "$(printf 'ff%.0s' $(seq 32))" 74657374 "$F_SIG"
expect 2 "$CUSTOS" sig verify --scheme x "$F_PK" 74657374 "$F_SIG"
expect 0 "$CUSTOS" --json sig verify "$V0_PK" "$V0_MSG" "$V0_SIG"
[ "$(jq -r .valid "$WORK/out")" = true ] || fail "sig verify --json"
# every row of the BIP340 vectors, when the file is there
CSV="$CUSTOS_SOURCE_DIR/tests/vectors/bip340_test_vectors.csv"
nvec=0
if [ -f "$CSV" ]; then
  while IFS=, read -r idx _sk pk _aux msg sig result _comment; do
    [ "$idx" = index ] && continue
    want=1
    [ "$result" = TRUE ] && want=0
    expect "$want" "$CUSTOS" sig verify "$pk" "$msg" "$sig"
    nvec=$((nvec + 1))
  done < <(tr -d '\r' <"$CSV")
  [ "$nvec" -ge 15 ] || fail "only $nvec BIP340 vectors read from $CSV"
fi
pass "sig verify: valid 0, invalid 1, malformed 2 ($nvec BIP340 vectors)"

# ---- devnet init ----
# check_devnet DIR N: the files, their modes, and what the JSON says.
check_devnet() {
  local d=$1 n=$2 i
  [ -f "$d/genesis.json" ] && [ -f "$d/devnet.env" ] || fail "$d: genesis.json or devnet.env missing"
  jq -e --argjson n "$n" '
      (.members | map(select(.validator)) | length) == $n and
      (.members | length) == $n + 2 and
      (.members | map(.name) | index("insurer")) != null and
      (.members | map(.name) | index("auditor")) != null and
      (.members | map(.name) | index("subject")) == null and
      (.members[0] | .name == "hrss" and .role == "bureau" and .domains == ["hrss"]) and
      (.members | map(select(.validator) | .address | test("^tcp://127\\.0\\.0\\.1:[0-9]+$")) | all)
    ' "$d/genesis.json" >/dev/null || fail "$d/genesis.json: unexpected content"
  local ports=()
  for ((i = 0; i < n; i++)); do
    local nd="$d/node$i"
    for f in config.json key.json passphrase; do [ -f "$nd/$f" ] || fail "$nd/$f missing"; done
    [ "$(mode_of "$nd/key.json")" = 600 ] || fail "$nd/key.json mode"
    [ "$(mode_of "$nd/passphrase")" = 600 ] || fail "$nd/passphrase mode"
    jq -e '.data_dir == "data" and .genesis == "../genesis.json" and .keystore == "key.json"
           and .passphrase_file == "passphrase" and .block.interval_ms == 10
           and .rpc.listen == "127.0.0.1" and (.rpc.port | type) == "number"' \
      "$nd/config.json" >/dev/null || fail "$nd/config.json: unexpected content"
    local name key p2p
    name=$(jq -r .name "$nd/config.json")
    p2p=$(jq -r .p2p.listen "$nd/config.json")
    ports+=("$(jq -r .rpc.port "$nd/config.json")" "${p2p##*:}")
    # the genesis entry of this node's member matches its key and address
    key=$("$CUSTOS" --json key show "$nd/key.json" | jq -r .key)
    jq -e --arg n "$name" --arg k "$key" --arg a "$p2p" \
      '.members[] | select(.name == $n) | .key == $k and .address == $a' \
      "$d/genesis.json" >/dev/null || fail "$nd: key or address differs from the genesis"
    # the passphrase opens the keystore (a wrong one would be exit 4)
    expect 3 "$CUSTOS" --node http://127.0.0.1:1 --key "$nd/key.json" \
      --passphrase-file "$nd/passphrase" identity revoke "$(printf '0%.0s' $(seq 64))"
  done
  [ "$(printf '%s\n' "${ports[@]}" | sort -u | wc -l)" -eq $((2 * n)) ] ||
    fail "$d: ports not distinct: ${ports[*]}"
  for c in insurer auditor subject; do
    [ "$(mode_of "$d/clients/$c.json")" = 600 ] && [ "$(mode_of "$d/clients/$c.pass")" = 600 ] ||
      fail "$d/clients/$c: missing or wrong mode"
  done
  # devnet.env: node 0's RPC and absolute key paths
  (
    set +u
    . "$d/devnet.env"
    [ "$CUSTOS_NODE" = "http://127.0.0.1:$(jq -r .rpc.port "$d/node0/config.json")" ] ||
      fail "devnet.env CUSTOS_NODE=$CUSTOS_NODE"
    [ -f "$CUSTOS_KEY_INSURER" ] && [ -f "$CUSTOS_PASS_SUBJECT" ] && [ -f "$CUSTOS_KEY_HRSS" ] ||
      fail "devnet.env key paths"
  ) || exit 1
}

expect 0 "$CUSTOS" devnet init "$WORK/net1" --members 1
out_has "node0"
check_devnet "$WORK/net1" 1
expect 0 "$CUSTOS" --json devnet init "$WORK/net4" --members 4 --chain-name four
jq -e '(.nodes | length) == 4 and (.clients | length) == 3' "$WORK/out" >/dev/null ||
  fail "devnet --json summary: $(cat "$WORK/out")"
check_devnet "$WORK/net4" 4
[ "$(jq -r .chain_name "$WORK/net4/genesis.json")" = four ] || fail "--chain-name"
jq -e '[.members[] | select(.validator) | .name] == ["hrss","health","civil","regulator"]' \
  "$WORK/net4/genesis.json" >/dev/null || fail "net4 validator names"
jq -e '.members[] | select(.name == "regulator") | .role == "regulator" and (.domains == null)' \
  "$WORK/net4/genesis.json" >/dev/null || fail "net4 regulator"
# --base-port: fixed ports, P + 2i and P + 2i + 1
expect 0 "$CUSTOS" devnet init "$WORK/net5" --members 5 --base-port 41000
[ "$(jq -r .rpc.port "$WORK/net5/node4/config.json")" = 41008 ] || fail "--base-port rpc"
[ "$(jq -r .p2p.listen "$WORK/net5/node4/config.json")" = tcp://127.0.0.1:41009 ] || fail "--base-port p2p"
jq -e '.members[] | select(.name == "bureau4") | .domains == ["dom4"]' "$WORK/net5/genesis.json" \
  >/dev/null || fail "bureau4 / dom4"
# an existing non-empty directory is refused and left alone
before=$(cd "$WORK/net1" && find . -type f -exec md5sum {} + | sort)
expect 4 "$CUSTOS" devnet init "$WORK/net1" --members 1
err_has "not empty"
after=$(cd "$WORK/net1" && find . -type f -exec md5sum {} + | sort)
[ "$before" = "$after" ] || fail "devnet init touched an existing directory"
# an existing empty directory is fine
mkdir "$WORK/emptydir"
expect 0 "$CUSTOS" devnet init "$WORK/emptydir" --members 1
expect 2 "$CUSTOS" devnet init "$WORK/net0" --members 0
expect 2 "$CUSTOS" devnet init "$WORK/netx" --members 1 --chain-name 'Bad Name'
[ ! -e "$WORK/net0" ] && [ ! -e "$WORK/netx" ] || fail "a refused devnet init left files"
pass "devnet init: N=1, N=4, --base-port, refusal of a non-empty DIR"

# ---- contract id, compile, run ----
printf 'contract demo\ninput hrss.age : int(0..150)\noutput public old : bool\nold = hrss.age > 60\n' >"$WORK/c.cst"
expect 0 "$CUSTOS" contract id "$WORK/c.cst"
ID=$(cat "$WORK/out")
[[ $ID =~ ^[0-9a-f]{64}$ ]] || fail "contract id: $ID"
expect 0 "$CUSTOS" contract id "$WORK/c.cst"
[ "$(cat "$WORK/out")" = "$ID" ] || fail "contract id not deterministic"
# A comment changes the text, not the bytecode: the id is the bytecode's.
{ echo '# the same rule'; cat "$WORK/c.cst"; } >"$WORK/c2.cst"
expect 0 "$CUSTOS" contract id "$WORK/c2.cst"
[ "$(cat "$WORK/out")" = "$ID" ] || fail "a comment changed the contract id"
sed 's/> 60/> 61/' "$WORK/c.cst" >"$WORK/d.cst"
expect 0 "$CUSTOS" contract id "$WORK/d.cst"
[ "$(cat "$WORK/out")" != "$ID" ] || fail "different rules, same id"
expect 0 "$CUSTOS" --json contract id "$WORK/c.cst"
[ "$(jq -r .id "$WORK/out")" = "$ID" ] || fail "contract id --json"
expect 4 "$CUSTOS" contract id "$WORK/none.cst"
printf 'bad\001control\n' >"$WORK/e.cst"
expect 2 "$CUSTOS" contract id "$WORK/e.cst"
printf 'contract demo\ninput hrss.age : int(0..150)\noutput public old : bool\nold = (hrss.age > 60\n' >"$WORK/f.cst"
expect 2 "$CUSTOS" contract id "$WORK/f.cst"
grep -q "f.cst:5:1: error: expected ')'" "$WORK/err" || fail "syntax error position: $(cat "$WORK/err")"
printf 'contract demo\ninput hrss.age : int(0..150)\noutput public old : bool\nvar x = 0\nfor i in 0..hrss.age { x = x + 1 }\nold = x > 3\n' >"$WORK/g.cst"
expect 2 "$CUSTOS" contract compile "$WORK/g.cst"
grep -q "g.cst:5:.*error: .*secret" "$WORK/err" || fail "secret loop bound: $(cat "$WORK/err")"
pass "contract id: the hash of the bytecode; compile errors with their position"

for s in underwriting survival avg_salary millionaires cohort; do
  f="$CUSTOS_SOURCE_DIR/configs/contracts/$s.cst"
  expect 0 "$CUSTOS" --json contract compile "$f"
  [ "$(jq -r .contract "$WORK/out")" = "$s" ] || fail "$s: compile report"
  R=$(jq -r .cost.rounds "$WORK/out")
  [ "$R" -ge 1 ] || fail "$s: no rounds in the cost report"
  expect 0 "$CUSTOS" --json contract run "$f" --inputs "${f%.cst}.inputs.json"
  jq -S 'del(._report)' "$WORK/out" >"$WORK/plain.json"
  expect 0 "$CUSTOS" --json contract run "$f" --inputs "${f%.cst}.inputs.json" --mpc 4
  jq -S 'del(._report)' "$WORK/out" >"$WORK/mpc.json"
  cmp -s "$WORK/plain.json" "$WORK/mpc.json" || fail "$s: plaintext $(cat "$WORK/plain.json") != mpc $(cat "$WORK/mpc.json")"
  [ "$(jq -r ._report.rounds "$WORK/out")" = "$R" ] || fail "$s: ran $(jq -r ._report.rounds "$WORK/out") rounds, report says $R"
done
expect 0 "$CUSTOS" contract run "$CUSTOS_SOURCE_DIR/configs/contracts/avg_salary.cst" \
  --inputs "$CUSTOS_SOURCE_DIR/configs/contracts/avg_salary.inputs.json" --mpc 4
[ "$(jq -c . "$WORK/out")" = '{"average":10108}' ] || fail "avg_salary: $(cat "$WORK/out")"
echo '{"hrss.salary": 1, "health.salary": 2}' >"$WORK/in.json"
expect 2 "$CUSTOS" contract run "$CUSTOS_SOURCE_DIR/configs/contracts/avg_salary.cst" --inputs "$WORK/in.json"
grep -q "civil.salary" "$WORK/err" || fail "missing input not named: $(cat "$WORK/err")"
echo '{"hrss.salary": -1, "health.salary": 2, "civil.salary": 3}' >"$WORK/in.json"
expect 2 "$CUSTOS" contract run "$CUSTOS_SOURCE_DIR/configs/contracts/avg_salary.cst" --inputs "$WORK/in.json" --mpc 4
grep -q "hrss.salary: -1 is outside" "$WORK/err" || fail "out of range input: $(cat "$WORK/err")"
pass "contract compile and run: every sample, plaintext == 4-party MPC, rounds as reported"
