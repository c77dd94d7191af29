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

# rpc_url I: the JSON-RPC URL of node I.
rpc_url() { echo "http://127.0.0.1:$(jq -r .rpc.port "$WORK/net/node$1/config.json")"; }

# start_node I: starts custosd for node I in the background, waits for RPC.
start_node() {
  local i=$1
  "$CUSTOSD" --config "$WORK/net/node$i/config.json" >>"$WORK/node$i.log" 2>&1 &
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
