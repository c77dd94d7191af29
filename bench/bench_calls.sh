#!/usr/bin/env bash
# bench_calls: secret-contract calls (docs/calls.md) on 4 custosd processes
# on this machine (a devnet of 4 on loopback), with the underwriting
# contract (configs/contracts/underwriting.cst): calls/s and submit ->
# result-committed latency p50/p99, one call at a time and pipelined
# (issue 7's benchmark). Set against issue 7's targets: >= 500 calls/s
# pipelined, p50 <= 1 s for a single call; and against the consortium
# report's anchors ("200+ tasks per unit time", 2 s response time).
#
#   bench/bench_calls.sh [BUILD_DIR]     default build/release (scripts/bench)
#
# Builds nothing (exit 2 if the binaries are missing). Setup, as
# tests/integration/test_calls.sh does it: mpc.enabled false (no background
# pool: calls make their own material, docs/calls.md §2),
# mpc.round_timeout_ms 10000; hrss and health import CUSTOS_BENCH_SUBJECTS
# (default 50) records each, with the schemas of configs/records/; the
# insurer deploys the underwriting contract, both bureaus approve it.
# Every call is for ONE registered subject (the devnet's subject key) under
# ONE consent with quota 2^32-1 (the grant's maximum): registering an
# identity and granting a consent per call would time the setup, not the
# calls. The other records only size the vaults (domain roots, counts).
#
#   single:  CUSTOS_BENCH_SINGLE (default 10) calls one after the other, each
#            `custos call --json` (no --wait) then call_get polled every 20 ms
#            until the call is done; latency from before the CLI starts (its
#            keystore, contract fetch, dealing of the params and tx_submit
#            included: what an insurer waits) to the poll that sees the
#            result committed. calls/s = N / (last result - first submit).
#   batched: CUSTOS_BENCH_BATCH (default 50) calls signed and dealt by the CLI
#            (--print-only, nonces in sequence) before the clock starts, then
#            posted as JSON-RPC batches of CUSTOS_BENCH_POST (default 50)
#            tx_submit each, back to back, each call's submit time taken when
#            its request is posted; the node runs the calls of one block as
#            one batch (docs/calls.md §2); node0's closed-call count
#            (status) polled each second, then call_get (one JSON-RPC batch
#            for all pending calls) once it has them all. calls/s = N /
#            (last result - first submit).
# Latencies are measured by this script with `date` and polling: resolution
# about 20 ms plus one RPC round trip. p99 is nearest-rank (of 10 single
# calls: the slowest). Exit 1 if a target is missed or a call does not end
# done. Per-call MPC bytes are not shown (no RPC reports them).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD_ARG=${1:-$ROOT/build/release}
[ -d "$BUILD_ARG" ] || { echo "bench_calls: $BUILD_ARG missing (build first: scripts/bench)" >&2; exit 2; }
BUILD=$(cd "$BUILD_ARG" && pwd)
CUSTOS="$BUILD/node/custos"
CUSTOSD="$BUILD/node/custosd"
K=${CUSTOS_BENCH_SUBJECTS:-50}
SINGLE=${CUSTOS_BENCH_SINGLE:-10}
BATCH=${CUSTOS_BENCH_BATCH:-50}
POST=${CUSTOS_BENCH_POST:-50}
for b in "$CUSTOS" "$CUSTOSD"; do
  [ -x "$b" ] || { echo "bench_calls: $b missing (build first: scripts/bench)" >&2; exit 2; }
done
UW="$ROOT/configs/contracts/underwriting.cst"
INPUTS="$ROOT/configs/contracts/underwriting.inputs.json"
. "$ROOT/bench/lib.sh"
die() { echo "bench_calls: $*" >&2; exit 1; }
now_ms() { date +%s%3N; }

# ---- devnet of 4, started and linked ----
bench_devnet calls '.log_level = "'"${CUSTOS_BENCH_LOG:-warn}"'" | .mpc = {enabled: false, round_timeout_ms: 10000}'
# shellcheck disable=SC1091
. "$WORK/net/devnet.env"
url() { bench_url "$1"; }
URL=$(url 0)
c() { "$CUSTOS" --node "$URL" "$@"; }
as() { local k="CUSTOS_KEY_${1^^}" p="CUSTOS_PASS_${1^^}"; echo "--key ${!k} --passphrase-file ${!p}"; }

# ---- identity, records, contract, consent (as test_calls.sh) ----
# shellcheck disable=SC2046
DID=$(c $(as subject) --json --wait identity register --national-id 110101198507071234 | jq -r .did)
[ ${#DID} -eq 64 ] || die "identity register"
# The subject's row carries underwriting.inputs.json's values (approve,
# band 2); the K-1 others are made-up DIDs with values in the schemas' ranges.
{
  echo "did,age,contrib_months,monthly_wage,pension_withdrawals_90d"
  echo "$DID,44,186,9200,0"
} >"$WORK/hrss.csv"
{
  echo "did,medical_visits_180d,chronic_codes_1,chronic_codes_2,chronic_codes_3,chronic_codes_4,chronic_codes_5,chronic_codes_6,chronic_codes_7,chronic_codes_8"
  echo "$DID,3,250,0,0,0,0,0,0,0"
} >"$WORK/health.csv"
for ((k = 1; k < K; k++)); do
  d=$(printf 'bench-subject-%d' "$k" | sha256sum | cut -c1-64)
  echo "$d,$((20 + k % 60)),$((k * 7 % 600)),$((3000 + k * 97 % 20000)),$((k % 3))" >>"$WORK/hrss.csv"
  echo "$d,$((k % 12)),$((k % 5 ? 0 : 250)),$((k % 7 ? 0 : 428)),0,0,0,0,0,0" >>"$WORK/health.csv"
done
node_of() { for i in 0 1 2 3; do if [ "$(jq -r .name "$WORK/net/node$i/config.json")" = "$1" ]; then echo "$i"; fi; done; }
for d in hrss health; do
  i=$(node_of "$d")
  cookie="$WORK/net/node$i/data/.cookie"
  "$CUSTOS" --node "$(url "$i")" vault schema --domain "$d" "$ROOT/configs/records/$d.schema.json" \
    --cookie "$cookie" >"$WORK/out" 2>&1 || die "vault schema $d: $(cat "$WORK/out")"
  "$CUSTOS" --node "$(url "$i")" vault import --domain "$d" "$WORK/$d.csv" --cookie "$cookie" >"$WORK/out" 2>&1 \
    || die "vault import $d: $(cat "$WORK/out")"
done
# shellcheck disable=SC2046
CID=$(c $(as insurer) --json --wait contract deploy "$UW" --name underwriting --domains health,hrss \
  | jq -r .contract)
[ ${#CID} -eq 64 ] || die "contract deploy"
# shellcheck disable=SC2046
c $(as hrss) --wait contract approve "$CID" >/dev/null || die "approve (hrss)"
# shellcheck disable=SC2046
c $(as health) --wait contract approve "$CID" >/dev/null || die "approve (health)"
H=$(c status --json | jq -r .height)
# shellcheck disable=SC2046
G=$(c $(as subject) --json --wait consent grant --did "$DID" --insurer insurer --domains health,hrss \
  --contract "$CID" --purpose "bench" --expires $((H + 100000000)) --quota 4294967295 | jq -r .txid)
[ ${#G} -eq 64 ] || die "consent grant"

echo "bench_calls: 4 custosd on $(nproc) cores, devnet block.interval_ms $INTERVAL, log level warn,"
echo "  underwriting contract, $K records per bureau (hrss, health), one subject and one consent"

# ---- polling ----
# JSON-RPC batches of call_get for the pending calls (ids = their index),
# 200 a request (the RPC's batch limit is 256); prints "index status
# height" for each closed one. A call not yet committed is not_found: still
# pending. A refused request (not an array) fails the poll, with its answer.
CID_OF=()
poll_closed() {
  local -a ids=("$@")
  local body i k out
  for ((k = 0; k < ${#ids[@]}; k += 200)); do
    body=""
    for i in "${ids[@]:k:200}"; do
      body+="${body:+,}{\"jsonrpc\":\"2.0\",\"id\":$i,\"method\":\"call_get\",\"params\":{\"txid\":\"${CID_OF[$i]}\"}}"
    done
    out=$(curl -s -m 10 -H 'Content-Type: application/json' --data-binary "[$body]" "$URL")
    jq -r 'if type == "array" then .[] | select(.result.status == "done" or .result.status == "aborted")
             | "\(.id) \(.result.status) \(.result.result_height)" else error("refused") end' <<<"$out" 2>/dev/null \
      || { echo "bench_calls: call_get poll refused: ${out:0:300}" >&2; return 1; }
  done
}
# BT_OF[H]: the time_ms of block H (its proposer's clock, this machine).
BT_OF=()
block_times() { # H...: fills BT_OF[H] for those not known yet, one request
  local body="" h hh tm
  for h in "$@"; do
    [ -z "${BT_OF[h]:-}" ] || continue
    body+="${body:+,}{\"jsonrpc\":\"2.0\",\"id\":$h,\"method\":\"block_get\",\"params\":{\"height\":$h}}"
  done
  [ -n "$body" ] || return 0
  while read -r hh tm; do BT_OF[hh]=$tm; done < <(curl -s -m 10 -H 'Content-Type: application/json' \
    --data-binary "[$body]" "$URL" | jq -r '.[] | "\(.id) \(.result.time_ms)"')
}
# wait_all DEADLINE_MS INDEX...: sets T_DONE[i], ST[i]. One or two calls
# pending: polls every 20 ms and T_DONE is when the poll saw the result. More:
# the poller itself (curl, jq, bash) would take a third of the 2 cores from
# the nodes it measures, so it polls every second and T_DONE is the time of
# the block that committed the result (its proposer's clock; the commit
# follows within a consensus round, a few ms on loopback).
# calls_closed: node0's count of calls closed on chain (status: calls.done +
# calls.aborted), one small request and no jq.
calls_closed() {
  local out
  out=$(curl -s -m 10 -d '{"jsonrpc":"2.0","id":1,"method":"status"}' "$URL") || return 1
  [[ $out =~ \"calls\":\{\"started\":[0-9]+,\"done\":([0-9]+),\"aborted\":([0-9]+) ]] || return 1
  echo $((BASH_REMATCH[1] + BASH_REMATCH[2]))
}
T_DONE=()
ST=()
CLOSED_AT=""   # many calls: calls_closed's count once every one of them is closed
wait_all() {
  local deadline=$1 t idx st out h many=0 tick=0 c
  shift
  local -a pend=("$@")
  [ ${#pend[@]} -gt 2 ] && many=1
  while [ ${#pend[@]} -gt 0 ]; do
    # many: the call_get sweep (a JSON answer per call, parsed by jq) runs
    # only once node0 counts them all closed, or every 10th poll if it never
    # does; each sweep of 1,000 pending calls took ~10% of the 2 cores
    # from the nodes (perf, session 27)
    tick=$((tick + 1))
    if [ "$many" = 1 ] && [ -n "$CLOSED_AT" ] && [ $((tick % 10)) != 0 ] \
      && c=$(calls_closed) && [ "$c" -lt "$CLOSED_AT" ]; then
      out=""
    else
      out=$(poll_closed "${pend[@]}") || out=""
    fi
    t=$(now_ms)
    if [ -n "$out" ]; then
      # block times: one request a poll for the new heights (a curl and a
      # jq per call took a fifth of the 2 cores from the nodes)
      [ "$many" = 1 ] && block_times $(awk '{print $3}' <<<"$out" | sort -un)
      while read -r idx st h; do
        if [ "$many" = 1 ]; then T_DONE[idx]=${BT_OF[h]:-}; else T_DONE[idx]=$t; fi
        ST[idx]=$st
      done <<<"$out"
      local -a left=()
      for idx in "${pend[@]}"; do [ -n "${ST[idx]:-}" ] || left+=("$idx"); done
      [ ${#left[@]} -gt 0 ] || break
      pend=("${left[@]}")
    fi
    [ "$t" -lt "$deadline" ] || return 1
    # T_DONE is the block's time, not the poll's: polling slower only
    # costs the nodes less
    if [ "$many" = 1 ]; then sleep 1; else sleep 0.02; fi
  done
}
pct() { # pct P VALUES...: nearest-rank percentile
  local p=$1
  shift
  printf '%s\n' "$@" | sort -n | awk -v p="$p" '{a[NR] = $1} END {i = int((p * NR + 99) / 100); if (i < 1) i = 1; print a[i]}'
}

# ---- single: one call at a time ----
declare -a T_SUB LAT CLI
bad=0
for ((i = 0; i < SINGLE; i++)); do
  T_SUB[i]=$(now_ms)
  # shellcheck disable=SC2046
  id=$(c $(as insurer) --json call "$CID" --subject "$DID" --consent "$G" --inputs "$INPUTS" | jq -r .txid) \
    || die "single call $i: custos call failed"
  CLI[i]=$(($(now_ms) - T_SUB[i]))
  [ ${#id} -eq 64 ] || die "single call $i: not submitted"
  CID_OF[i]=$id
  wait_all $((T_SUB[i] + 60000)) "$i" || die "single call $i: no result within 60 s"
  LAT[i]=$((T_DONE[i] - T_SUB[i]))
  [ "${ST[i]}" = "done" ] || bad=$((bad + 1))
done
# the result is the contract's (approve, band 2 as in the plaintext run)
# shellcheck disable=SC2046
got=$(c $(as insurer) --json call get "${CID_OF[0]}" | jq -c '[.outputs.approve, .outputs.band]')
[ "$got" = "[true,2]" ] || die "single call 0: outputs $got, expected approve true, band 2"
S_SPAN=$((T_DONE[SINGLE - 1] - T_SUB[0]))
S_RATE=$(awk -v n="$SINGLE" -v ms="$S_SPAN" 'BEGIN {printf "%.2f", n * 1000 / ms}')
S_P50=$(pct 50 "${LAT[@]}")
S_P99=$(pct 99 "${LAT[@]}")
S_CLI=$(pct 50 "${CLI[@]}")
printf "single  (%d calls, one at a time): %s calls/s, latency p50 %d ms, p99 %d ms (CLI submit p50 %d ms of it), not done %d\n" \
  "$SINGLE" "$S_RATE" "$S_P50" "$S_P99" "$S_CLI" "$bad"
single_bad=$bad

# ---- batched: prebuilt, posted back to back ----
NONCE=$(c account get "$CUSTOS_KEY_INSURER" --json | jq -r .next_nonce)
t0=$(now_ms)
declare -a RAW ANS
for ((j = 0; j < BATCH; j++)); do
  # shellcheck disable=SC2046
  o=$(c $(as insurer) --json --print-only --nonce $((NONCE + j)) call "$CID" --subject "$DID" --consent "$G" \
    --inputs "$INPUTS") || die "batched call $j: custos call --print-only failed"
  i=$((SINGLE + j))
  CID_OF[i]=$(echo "$o" | jq -r .txid)
  RAW[j]=$(echo "$o" | jq -r .tx)
done
# the JSON-RPC requests written before the clock too: bash building them
# while the calls ran took 0.4 s of the 2 cores' time in a 400-call run
# (perf, session 22), time an insurer's client does not spend in bash
for ((j0 = 0; j0 < BATCH; j0 += POST)); do
  {
    printf '['
    for ((j = j0; j < BATCH && j < j0 + POST; j++)); do
      [ "$j" = "$j0" ] || printf ','
      printf '{"jsonrpc":"2.0","id":%d,"method":"tx_submit","params":{"tx":"%s"}}' "$j" "${RAW[j]}"
    done
    printf ']'
  } >"$WORK/post$j0.json"
done
BUILD_MS=$(($(now_ms) - t0))
IDX=()
c=$(calls_closed) || die "status: no calls counters"
CLOSED_AT=$((c + BATCH))
# posted as JSON-RPC batches of POST calls (an insurer's client sending its
# queue), each call's submit time the time its request was posted
for ((j0 = 0; j0 < BATCH; j0 += POST)); do
  t=$(now_ms)
  for ((j = j0; j < BATCH && j < j0 + POST; j++)); do T_SUB[SINGLE + j]=$t; IDX+=("$((SINGLE + j))"); done
  # answers checked after the last post: no jq between two posts
  ANS[j0]=$(curl -s -m 30 -H 'Content-Type: application/json' --data-binary @"$WORK/post$j0.json" "$URL")
done
SUBMIT_MS=$(($(now_ms) - T_SUB[SINGLE]))
# while the calls run, only a refusal is looked for (no process); each
# answer's txids are checked against the calls' after they are closed
for ((j0 = 0; j0 < BATCH; j0 += POST)); do
  [[ ${ANS[j0]} != *'"error"'* ]] || die "batched calls refused: ${ANS[j0]:0:300}"
done
wait_all $((T_SUB[SINGLE] + 60000 + BATCH * 10000)) "${IDX[@]}" || die "batched calls: not all closed in time"
for ((j0 = 0; j0 < BATCH; j0 += POST)); do
  declare -A TXID_OF=()
  while read -r j txid; do TXID_OF[$j]=$txid; done < <(jq -r '.[] | "\(.id) \(.result.txid // "-")"' <<<"${ANS[j0]}" 2>/dev/null)
  for ((j = j0; j < BATCH && j < j0 + POST; j++)); do
    [ "${TXID_OF[$j]:-}" = "${CID_OF[SINGLE + j]}" ] \
      || die "batched call $j refused: $(echo "${ANS[j0]}" | jq -c ".[] | select(.id == $j)" 2>/dev/null || echo "${ANS[j0]:0:300}")"
  done
  unset TXID_OF
done
bad=0
B_LAT=()
last=0
for i in "${IDX[@]}"; do
  B_LAT+=($((T_DONE[i] - T_SUB[i])))
  [ "${T_DONE[i]}" -gt "$last" ] && last=${T_DONE[i]}
  [ "${ST[i]}" = "done" ] || bad=$((bad + 1))
done
B_SPAN=$((last - T_SUB[SINGLE]))
B_RATE=$(awk -v n="$BATCH" -v ms="$B_SPAN" 'BEGIN {printf "%.2f", n * 1000 / ms}')
B_P50=$(pct 50 "${B_LAT[@]}")
B_P99=$(pct 99 "${B_LAT[@]}")
printf "batched (%d calls, pipelined):    %s calls/s, latency p50 %d ms, p99 %d ms, not done %d\n" \
  "$BATCH" "$B_RATE" "$B_P50" "$B_P99" "$bad"
printf "  (signed and dealt by the CLI before the clock: %d ms, %d ms a call; posted %d per request in %d ms)\n" \
  "$BUILD_MS" $((BUILD_MS / BATCH)) "$POST" "$SUBMIT_MS"
batch_bad=$bad
echo

# ---- ratios ----
rc=0
missed=()
R_RATE=$(awk -v r="$B_RATE" 'BEGIN {printf "%.4f", r / 500}')
if awk -v r="$R_RATE" 'BEGIN {exit !(r >= 1)}'; then v=PASS; else v=FAIL; rc=1; missed+=("calls/s"); fi
echo "ratio batched calls/s / target 500: $B_RATE / 500 = $R_RATE (target >= 1) $v"
R_P50=$(awk -v p="$S_P50" 'BEGIN {printf "%.2f", p / 1000}')
if [ "$S_P50" -le 1000 ]; then v=PASS; else v=FAIL; rc=1; missed+=("p50"); fi
echo "ratio single p50 / target 1000 ms: $S_P50 / 1000 = $R_P50 (target <= 1) $v"
echo "report anchor, response time 2 s: single p50 / 2000 ms = $(awk -v p="$S_P50" 'BEGIN {printf "%.2f", p / 2000}')" \
  "(p99 $(awk -v p="$S_P99" 'BEGIN {printf "%.2f", p / 2000}'))"
echo "report anchor, \"200+ tasks per unit time\": not a rate (no unit of time given), no ratio;" \
  "batched here: $B_RATE calls/s = $(awk -v r="$B_RATE" 'BEGIN {printf "%.0f", r * 60}') a minute"
if [ $((single_bad + batch_bad)) -gt 0 ]; then
  rc=1
  missed+=("calls not done")
  echo "calls not done (aborted): $single_bad single, $batch_bad batched"
fi
if [ "$rc" != 0 ]; then
  echo "missed: ${missed[*]}"
  echo "note: the calls of one block run as one batch (docs/calls.md §2), up to 4 batches"
  echo "      at once; each call still has its own signatures, FROST signature and result"
  echo "      transaction: on 2 shared cores that and the sessions' compute are the limit"
fi
exit "$rc"
