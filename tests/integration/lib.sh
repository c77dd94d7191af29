# Shared helpers for the integration tests (bash). Each test sources this,
# gets a temporary work dir, starts the real custosd processes it needs on
# loopback, and stops them on exit.
#   CUSTOS_BIN         directory holding custos and custosd (set by ctest)
#   CUSTOS_SOURCE_DIR  repository root
#   CUSTOS_KEEP_WORK=1 keeps the work dir (node data and logs) for a post-mortem
set -euo pipefail

: "${CUSTOS_SOURCE_DIR:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${CUSTOS_BIN:=$CUSTOS_SOURCE_DIR/build/ci/node}"
CUSTOS="$CUSTOS_BIN/custos"
CUSTOSD="$CUSTOS_BIN/custosd"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/custos-it-XXXXXX")
PIDS=()

cleanup() {
  local rc=$?
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill -9 "$p" 2>/dev/null || true; done
  if [ $rc -ne 0 ]; then
    echo "---- test failed (rc=$rc); node logs:" >&2
    for f in "$WORK"/*.log; do [ -f "$f" ] && { echo "== $f" >&2; tail -30 "$f" >&2; }; done
  fi
  if [ "${CUSTOS_KEEP_WORK:-0}" = 1 ]; then echo "work dir kept: $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok - $*"; }

# devnet N: writes a devnet into $WORK/net and exports its environment.
devnet() {
  "$CUSTOS" devnet init "$WORK/net" --members "$1" >"$WORK/devnet.out" \
    || fail "devnet init: $(cat "$WORK/devnet.out")"
  # shellcheck disable=SC1091
  . "$WORK/net/devnet.env"
}

# keys_off: turns the key service off in every node's config (docs/keys.md
# §5). For tests that count transactions or pick nonces under the bureaus'
# keys by hand: the key service submits its own under those keys.
keys_off() {
  local cfg
  for cfg in "$WORK"/net/node*/config.json; do
    jq '.keys = {enabled: false}' "$cfg" >"$cfg.new" && mv "$cfg.new" "$cfg"
  done
}

# rpc_url I: the JSON-RPC URL of node I.
rpc_url() { echo "http://127.0.0.1:$(jq -r .rpc.port "$WORK/net/node$1/config.json")"; }

# start_node I: starts custosd for node I in the background, waits for RPC.
start_node() { start_node_env "$1"; }

stop_node() { # stop_node I [SIGNAL]
  local i=$1 sig=${2:-TERM}
  kill -"$sig" "${NODE_PID[$i]}" 2>/dev/null || true
  wait "${NODE_PID[$i]}" 2>/dev/null || true
}

# rpc URL METHOD PARAMS_JSON: prints the whole response object.
rpc() {
  curl -s -m 10 -H 'Content-Type: application/json' \
    -d "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"$2\",\"params\":${3:-{\}}}" "$1"
}

# raw URL BODY: posts BODY as is; prints the response.
raw() { curl -s -m 10 -H 'Content-Type: application/json' --data-binary "$2" "$1"; }

declare -A NODE_PID

# ---- a chain with contract calls (the set-up steps of test_calls.sh, for
# tests that need calls on chain: test_explorer.sh) ----

# member_opts NAME: the CLI's key options for devnet member NAME.
member_opts() { local k="CUSTOS_KEY_${1^^}" p="CUSTOS_PASS_${1^^}"; echo "--key ${!k} --passphrase-file ${!p}"; }

# calls_devnet [JQ]: a 4-node devnet (MPC preprocessing off, 4 s MPC
# rounds, then the jq filter JQ on each node's config), every node started
# and linked to the three others. Sets CALLS_URL (node 0).
calls_devnet() {
  devnet 4
  local i cfg
  for i in 0 1 2 3; do
    cfg="$WORK/net/node$i/config.json"
    jq ".mpc = {enabled: false, round_timeout_ms: 4000} | ${1:-.}" "$cfg" >"$cfg.new" && mv "$cfg.new" "$cfg"
  done
  for i in 0 1 2 3; do start_node "$i"; done
  CALLS_URL=$(rpc_url 0)
  wait_linked 0 || fail "the devnet's nodes did not link"
}

# wait_linked I: until node I is linked to the 3 other members (10 s at
# most); 1 if it is not.
wait_linked() {
  for _ in $(seq 1 200); do
    [ "$("$CUSTOS" --node "$(rpc_url "$1")" status --json | jq '[.peers[]? | select(.connected)] | length')" = 3 ] \
      && return 0
    sleep 0.05
  done
  return 1
}

# vault_load DOMAIN CSV: the domain's bureau (the devnet member of that
# name) sets the schema of configs/records/, imports CSV and anchors the
# snapshot's root on chain.
vault_load() {
  local d=$1 n i="" cookie
  for n in 0 1 2 3; do if [ "$(jq -r .name "$WORK/net/node$n/config.json")" = "$d" ]; then i=$n; fi; done
  [ -n "$i" ] || fail "no member named $d"
  cookie="$WORK/net/node$i/data/.cookie"
  "$CUSTOS" --node "$(rpc_url "$i")" vault schema --domain "$d" \
    "$CUSTOS_SOURCE_DIR/configs/records/$d.schema.json" --cookie "$cookie" >/dev/null || fail "vault schema $d"
  "$CUSTOS" --node "$(rpc_url "$i")" vault import --domain "$d" "$2" --cookie "$cookie" >/dev/null \
    || fail "vault import $d"
  "$CUSTOS" --node "$(rpc_url "$i")" vault anchor --domain "$d" --cookie "$cookie" --wait >/dev/null \
    || fail "vault anchor $d"
}

# calls_fixture: on a calls_devnet, a subject (CALLS_DID) with records in
# the hrss and health vaults (roots anchored), and the underwriting
# contract (CALLS_CID) deployed by the insurer and approved by both
# bureaus. Calls then need a consent (consent grant) and
# configs/contracts/underwriting.inputs.json.
calls_fixture() {
  local d i cookie n
  CALLS_DID=$("$CUSTOS" --node "$CALLS_URL" $(member_opts subject) --json --wait identity register \
    --national-id 110101198507071234 | jq -r .did)
  [ ${#CALLS_DID} -eq 64 ] || fail "identity register"
  cat >"$WORK/hrss.csv" <<CSV
did,age,contrib_months,monthly_wage,pension_withdrawals_90d
$CALLS_DID,44,186,7654321,0
CSV
  cat >"$WORK/health.csv" <<CSV
did,medical_visits_180d,chronic_codes_1,chronic_codes_2,chronic_codes_3,chronic_codes_4,chronic_codes_5,chronic_codes_6,chronic_codes_7,chronic_codes_8
$CALLS_DID,3,250,0,0,0,0,0,0,0
CSV
  for d in hrss health; do vault_load "$d" "$WORK/$d.csv"; done
  CALLS_CID=$("$CUSTOS" --node "$CALLS_URL" $(member_opts insurer) --json --wait contract deploy \
    "$CUSTOS_SOURCE_DIR/configs/contracts/underwriting.cst" --name underwriting --domains health,hrss \
    | jq -r .contract)
  [ ${#CALLS_CID} -eq 64 ] || fail "contract deploy"
  for d in hrss health; do
    "$CUSTOS" --node "$CALLS_URL" $(member_opts "$d") --wait contract approve "$CALLS_CID" >/dev/null \
      || fail "contract approve by $d"
  done
}

# start_node_env I VAR=VALUE...: start_node with extra environment variables
# for custosd (test hooks such as CUSTOS_TEST_SNAPSHOT_CHEAT); waits for RPC
# the same way.
start_node_env() {
  local i=$1
  shift
  env "$@" "$CUSTOSD" --config "$WORK/net/node$i/config.json" >>"$WORK/node$i.log" 2>&1 &
  NODE_PID[$i]=$!
  PIDS+=("$!")
  local url; url=$(rpc_url "$i")
  for _ in $(seq 1 200); do
    if curl -s -m 1 -d '{"jsonrpc":"2.0","id":1,"method":"status"}' "$url" 2>/dev/null \
        | jq -e .result.height >/dev/null 2>&1; then
      return 0
    fi
    kill -0 "${NODE_PID[$i]}" 2>/dev/null || fail "custosd node$i exited: $(tail -5 "$WORK/node$i.log")"
    sleep 0.05
  done
  fail "custosd node$i did not answer on $url"
}

# ---- helpers over a calls_devnet + calls_fixture (test_reshare, test_onboard) ----

# calls_wait_key NAME EPOCH SECONDS: the consortium key NAME is READY at EPOCH
# on node 0 within SECONDS.
calls_wait_key() {
  for _ in $(seq 1 $(($3 * 5))); do
    [ "$("$CUSTOS" --node "$CALLS_URL" key get "$1" --json | jq -r '"\(.phase) \(.epoch)"')" = "ready $2" ] \
      && return 0
    sleep 0.2
  done
  fail "key $1 not ready at epoch $2 after $3 s: $("$CUSTOS" --node "$CALLS_URL" key get "$1" 2>&1 | head -20)"
}

# calls_once: a consent (quota 1) and a done underwriting call for
# CALLS_DID; prints the call id.
calls_once() {
  local h g res
  h=$("$CUSTOS" --node "$CALLS_URL" status --json | jq -r .height)
  g=$("$CUSTOS" --node "$CALLS_URL" $(member_opts subject) --json --wait consent grant --did "$CALLS_DID" \
    --insurer insurer --domains health,hrss --contract "$CALLS_CID" --purpose underwriting \
    --expires $((h + 1000)) --quota 1 | jq -r .txid)
  [ ${#g} -eq 64 ] || fail "consent grant"
  res=$("$CUSTOS" --node "$CALLS_URL" $(member_opts insurer) --json --timeout 90 --wait call "$CALLS_CID" \
    --subject "$CALLS_DID" --consent "$g" \
    --inputs "$CUSTOS_SOURCE_DIR/configs/contracts/underwriting.inputs.json") || fail "call: $res"
  [ "$(echo "$res" | jq -r .status)" = done ] || fail "call not done: $res"
  echo "$res" | jq -r .txid
}
