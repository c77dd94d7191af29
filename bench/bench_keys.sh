#!/usr/bin/env bash
# bench_keys: the consortium keys (docs/keys.md; issue 8) on real custosd
# processes on this machine: a devnet of 4 and one of 7 on loopback, each
# measured against its own commit latency, side by side in the same devnet
# (the machine is shared: an absolute time alone means little).
#
#   bench/bench_keys.sh [BUILD_DIR]     default build/release (scripts/bench)
#
# Builds nothing (exit 2 if the binaries are missing). For each devnet
# (`custos devnet init --members N`, log level warn, mpc.enabled false as by
# default: nothing here uses calls):
#   DKG time:       from all N nodes answering RPC (status) to `results` and
#                   `beacon` both READY on every node (key_list on each node,
#                   polled every 50 ms). The key service starts the DKG on
#                   its own (docs/keys.md §5); it may begin before the last
#                   node answers: the time from launch is shown too.
#   commit latency: CUSTOS_BENCH_HEIGHTS (default 20) identity attestations
#                   by hrss (as tests/integration/test_bft4.sh submits them),
#                   one at a time, each signed by the CLI before the clock
#                   (--print-only), posted with tx_submit to node 0, then
#                   tx_get on node 0 every 10 ms until committed.
#   beacon latency: for each of those heights, from the poll that saw the
#                   commit to the poll of beacon_get(h) on node 0 (every
#                   10 ms) that finds the value.
# Ratios: DKG time / commit p50 (the DKG needs about three commits: create,
# deals, verdicts; but the key service looks at the chain every 500 ms,
# node/key_service.c's TICK_MS, so each step can also wait up to a tick),
# beacon p50 / commit p50. Latencies are measured by this
# script with `date` and polling: resolution about 10 ms (50 ms for the DKG)
# plus one RPC round trip. p99 is nearest-rank (of 20: the slowest). No
# target is set (issue 8 names none): exit 1 only if keys or beacon values
# do not come. FROST result signing in calls is bench_calls.sh's.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD_ARG=${1:-$ROOT/build/release}
[ -d "$BUILD_ARG" ] || { echo "bench_keys: $BUILD_ARG missing (build first: scripts/bench)" >&2; exit 2; }
BUILD=$(cd "$BUILD_ARG" && pwd)
CUSTOS="$BUILD/node/custos"
CUSTOSD="$BUILD/node/custosd"
HEIGHTS=${CUSTOS_BENCH_HEIGHTS:-20}
for b in "$CUSTOS" "$CUSTOSD"; do
  [ -x "$b" ] || { echo "bench_keys: $b missing (build first: scripts/bench)" >&2; exit 2; }
done
WORK=$(mktemp -d "${TMPDIR:-/tmp}/custos-keys-XXXXXX")
PIDS=()
stop_all() {
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill -9 "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  PIDS=()
}
cleanup() {
  stop_all
  rm -rf "$WORK"
}
trap cleanup EXIT
die() { echo "bench_keys: $*" >&2; exit 1; }
now_ms() { date +%s%3N; }
pct() { # pct P VALUES...: nearest-rank percentile
  local p=$1
  shift
  printf '%s\n' "$@" | sort -n | awk -v p="$p" '{a[NR] = $1} END {i = int((p * NR + 99) / 100); if (i < 1) i = 1; print a[i]}'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "n/a"}'; }
post() { # post URL METHOD PARAMS_JSON: the whole response
  curl -s -m 10 -H 'Content-Type: application/json' \
    --data-binary "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"$2\",\"params\":$3}" "$1"
}

echo "bench_keys: custosd devnets of 4 and 7 on $(nproc) cores, log level warn; $HEIGHTS heights each"

# run N: one devnet of N nodes, measured, then stopped.
run() {
  local n=$1 net="$WORK/net$1" i k f t_launch t_rpc t_ready ok
  "$CUSTOS" devnet init "$net" --members "$n" >/dev/null
  # shellcheck disable=SC1091
  . "$net/devnet.env"
  for ((i = 0; i < n; i++)); do
    f="$net/node$i/config.json"
    jq '.log_level = "warn"' "$f" >"$f.tmp"
    mv "$f.tmp" "$f"
  done
  local -a URLS=()
  for ((i = 0; i < n; i++)); do URLS+=("http://127.0.0.1:$(jq -r .rpc.port "$net/node$i/config.json")"); done
  local URL=${URLS[0]}
  t_launch=$(now_ms)
  for ((i = 0; i < n; i++)); do
    "$CUSTOSD" --config "$net/node$i/config.json" >"$net/node$i.log" 2>&1 &
    PIDS+=("$!")
  done
  for ((i = 0; i < n; i++)); do # every node answers RPC
    ok=0
    for _ in $(seq 1 1000); do
      post "${URLS[i]}" status '{}' 2>/dev/null | grep -q '"height"' && { ok=1; break; }
      sleep 0.01
    done
    [ "$ok" = 1 ] || die "n=$n: node $i does not answer RPC: $(tail -5 "$net/node$i.log")"
  done
  t_rpc=$(now_ms)

  # ---- DKG: results and beacon READY on every node (one jq a poll) ----
  ok=0
  for _ in $(seq 1 2400); do # 120 s
    if for u in "${URLS[@]}"; do post "$u" key_list '{}'; echo; done | jq -se '
        all(.[]; (.result // []) | map(select(.phase == "ready") | .name)
          | (index("results") != null and index("beacon") != null))' >/dev/null 2>&1; then
      ok=1
      break
    fi
    sleep 0.05
  done
  t_ready=$(now_ms)
  [ "$ok" = 1 ] || die "n=$n: keys not READY on every node within 120 s: $(post "$URL" key_list '{}')"
  local keys
  keys=$(post "$URL" key_list '{}' | jq -r '[.result[] | "\(.name) t=\(.t) of \(.n), epoch \(.epoch)"] | join("; ")')
  local dkg=$((t_ready - t_rpc)) dkg_launch=$((t_ready - t_launch))

  # ---- commit latency, and the beacon of each height ----
  local did nonce lvl raw r txid t0 t1 t2 h
  did=$("$CUSTOS" --node "$URL" --key "$CUSTOS_KEY_SUBJECT" --passphrase-file "$CUSTOS_PASS_SUBJECT" --json --wait \
    --timeout 30 identity register --national-id 110101199003071234 | jq -r .did)
  [ ${#did} -eq 64 ] || die "n=$n: identity register"
  local -a COMMIT=() BEACON=()
  for ((k = 0; k < HEIGHTS; k++)); do
    # hrss is node 0's member: its key service submitted the key
    # transactions, so the nonce is read afresh (nothing pending now)
    nonce=$("$CUSTOS" --node "$URL" account get "$CUSTOS_KEY_HRSS" --json | jq -r .next_nonce)
    if [ $((k % 2)) = 0 ]; then lvl=EA5+; else lvl=EA5-; fi
    raw=$("$CUSTOS" --node "$URL" --key "$CUSTOS_KEY_HRSS" --passphrase-file "$CUSTOS_PASS_HRSS" --json \
      --print-only --nonce "$nonce" identity attest "$did" --level "$lvl" | jq -r .tx)
    t0=$(now_ms)
    r=$(post "$URL" tx_submit "{\"tx\":\"$raw\"}")
    txid=$(echo "$r" | grep -o '"txid":"[0-9a-f]\{64\}"' | cut -d'"' -f4) || true
    [ ${#txid} -eq 64 ] || die "n=$n: attestation $k refused: $r"
    ok=0
    for _ in $(seq 1 3000); do # 30 s
      r=$(post "$URL" tx_get "{\"txid\":\"$txid\"}")
      case $r in *'"status":"committed"'*) ok=1; break ;; esac
      sleep 0.01
    done
    t1=$(now_ms)
    [ "$ok" = 1 ] || die "n=$n: attestation $k not committed within 30 s"
    h=$(echo "$r" | jq -r .result.height)
    ok=0
    for _ in $(seq 1 3000); do
      case $(post "$URL" beacon_get "{\"height\":$h}") in *'"value":"'*) ok=1; break ;; esac
      sleep 0.01
    done
    t2=$(now_ms)
    [ "$ok" = 1 ] || die "n=$n: no beacon value for height $h on node 0 within 30 s"
    COMMIT+=($((t1 - t0)))
    BEACON+=($((t2 - t1)))
  done
  stop_all
  local c50 c99 b50 b99
  c50=$(pct 50 "${COMMIT[@]}")
  c99=$(pct 99 "${COMMIT[@]}")
  b50=$(pct 50 "${BEACON[@]}")
  b99=$(pct 99 "${BEACON[@]}")
  echo "n = $n ($keys)"
  echo "  DKG time: $dkg ms from all $n nodes answering RPC to both keys READY on every node" \
    "($dkg_launch ms from launch)"
  echo "  commit latency (attestation posted -> committed on node 0, $HEIGHTS one at a time): p50 $c50 ms, p99 $c99 ms"
  echo "  ratio DKG time / commit p50: $dkg / $c50 = $(ratio "$dkg" "$c50") (about 3 commits: create, deals, verdicts)"
  echo "  beacon latency per height (commit seen -> beacon_get(h) on node 0, $HEIGHTS heights): p50 $b50 ms, p99 $b99 ms"
  echo "  ratio beacon p50 / commit p50: $b50 / $c50 = $(ratio "$b50" "$c50")"
}

run 4
run 7
