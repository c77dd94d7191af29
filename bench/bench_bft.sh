#!/usr/bin/env bash
# bench_bft: committed tx/s and submit->commit latency of 4 validators run as
# 4 custosd processes on this machine (a devnet of 4, loopback), under signed
# transactions from `custos load`; set against a bound measured in the same
# run: raw BIP340 verifications per second of the machine (all cores) / 4,
# since each of the 4 nodes verifies every transaction on the same cores.
# A BIP340 verification starts from the 32-byte public key (lift_x), as a
# node's does for a transaction; bench_verify also measures verification
# with keys parsed beforehand, and the ratio to that stricter figure (the
# bound until session 13) is printed beside.
#
#   bench/bench_bft.sh [BUILD_DIR]     default build/release (scripts/bench)
#
# Builds nothing. Steps: peak = the highest committed tx/s over a ramp of
# open-loop rates (100, doubling to 6,400, then 9,600 and 12,800, until one
# commits below 0.8 x offered; CUSTOS_BENCH_STEP_S s each: the chain carried
# all of 6,400/s once the store's absent-key filters were in); then CUSTOS_BENCH_RUN_S s
# (default 10) at 50 % (three times: the median p50 counts) and at 100 % of
# the peak. Targets: ratio peak / bound
# >= 0.5; p50 latency at 50 % load <= 100 ms. Exit 1 if a target is missed.
#   CUSTOS_BENCH_INTERVAL_MS  block.interval_ms of the devnet (default: as
#                             `custos devnet init` writes it, 10)
#   CUSTOS_BENCH_BATCH        `custos load --batch` (default: custos load's
#                             own, the transactions due within 5 ms at each
#                             rate; 1 = one HTTP request per transaction)
# The load generator runs on the same cores (it signs before its clock
# starts; during the run it only posts prebuilt requests and polls). Each
# line shows the JSON-RPC batch size custos load used.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "${1:-$ROOT/build/release}" && pwd)
CUSTOS="$BUILD/node/custos"
CUSTOSD="$BUILD/node/custosd"
STEP_S=${CUSTOS_BENCH_STEP_S:-5}
RUN_S=${CUSTOS_BENCH_RUN_S:-10}
BATCH_ARGS=()
[ -n "${CUSTOS_BENCH_BATCH:-}" ] && BATCH_ARGS=(--batch "$CUSTOS_BENCH_BATCH")
for b in "$CUSTOS" "$CUSTOSD" "$BUILD/bench/bench_verify"; do
  [ -x "$b" ] || { echo "bench_bft: $b missing (build first: scripts/bench)" >&2; exit 2; }
done
. "$ROOT/bench/lib.sh"
FILTER='.log_level = "warn"'
[ -n "${CUSTOS_BENCH_INTERVAL_MS:-}" ] && FILTER="$FILTER | .block.interval_ms = ${CUSTOS_BENCH_INTERVAL_MS}"
bench_devnet bft "$FILTER"

# load RATE SECONDS: runs custos load; prints its JSON report with
# cpu_us_per_tx (the nodes' CPU over the run / committed) added.
load() {
  local c0 c1 out
  c0=$(bench_cpu_ticks)
  out=$("$CUSTOS" load --nodes "$URLS" --rate "$1" --duration "$2" --drain 60 --resubmit 0 \
    ${BATCH_ARGS[@]+"${BATCH_ARGS[@]}"} --json 2>/dev/null) || true
  c1=$(bench_cpu_ticks)
  echo "$out" | jq -c --argjson t "$((c1 - c0))" --argjson hz "$TCK" \
    '. + {cpu_us_per_tx: (if .committed > 0 then ($t / $hz * 1e6 / .committed | floor) else null end)}'
}

echo "bench_bft: 4 custosd on $(nproc) cores, devnet block.interval_ms $INTERVAL, log level warn"
echo "custos load --batch: ${CUSTOS_BENCH_BATCH:-default (transactions due within 5 ms, 1..256)}"
"$BUILD/bench/bench_verify" 1 | tee "$WORK/verify"
VPS=$(sed -n 's/.* verify_per_s_all=\([0-9]*\).*/\1/p' "$WORK/verify")
PPS=$(sed -n 's/.*preparsed_per_s_all=\([0-9]*\).*/\1/p' "$WORK/verify")
BOUND=$((VPS / 4))
PBOUND=$((PPS / 4))
echo "bound: $VPS BIP340 verify/s (all cores, lift_x included) / 4 = $BOUND tx/s"
echo "       (preparsed keys: $PPS / 4 = $PBOUND tx/s, the bound until session 13)"
echo

# Peak: ramp the offered rate until the chain stops keeping up.
PEAK=0
echo "ramp ($STEP_S s a step):"
for r in 100 200 400 800 1600 3200 6400 9600 12800; do
  j=$(load "$r" "$STEP_S")
  tps=$(echo "$j" | jq -r '.committed_tps // 0')
  printf "  offered %5d/s (batch %3s): committed %7.1f tx/s, p50 %5s ms, p99 %5s ms, lost %s, refused %s\n" \
    "$r" "$(echo "$j" | jq -r .batch)" "$tps" "$(echo "$j" | jq -r .latency_p50_ms)" \
    "$(echo "$j" | jq -r .latency_p99_ms)" "$(echo "$j" | jq -r .lost)" "$(echo "$j" | jq -c .refused_by)"
  PEAK=$(awk -v a="$PEAK" -v b="$tps" 'BEGIN {print (b > a ? b : a)}')
  # saturated: committed well below offered
  awk -v t="$tps" -v r="$r" 'BEGIN {exit !(t < 0.8 * r)}' && break
done
echo "peak committed: $PEAK tx/s"
echo

# The runs at 50 % and 100 %. The 50 % one decides the latency target and
# this machine is shared, so it runs three times and the run with the median
# p50 is reported (all three are printed).
declare -A P50 P99 TPS CPU BATCH
for pct in 50 100; do
  r=$(awk -v p="$PEAK" -v f="$pct" 'BEGIN {r = int(p * f / 100); print (r < 1 ? 1 : r)}')
  if [ "$pct" = 50 ]; then
    runs=()
    for k in 1 2 3; do
      runs+=("$(load "$r" "$RUN_S")")
      echo "  50% run $k: $(echo "${runs[-1]}" | jq -c '{committed_tps, latency_p50_ms, latency_p99_ms, cpu_us_per_tx}')"
    done
    j=$(printf '%s\n' "${runs[@]}" | jq -s -c 'sort_by(.latency_p50_ms // 1e9) | .[1]')
  else
    j=$(load "$r" "$RUN_S")
  fi
  TPS[$pct]=$(echo "$j" | jq -r '.committed_tps // 0')
  P50[$pct]=$(echo "$j" | jq -r .latency_p50_ms)
  P99[$pct]=$(echo "$j" | jq -r .latency_p99_ms)
  CPU[$pct]=$(echo "$j" | jq -r .cpu_us_per_tx)
  BATCH[$pct]=$(echo "$j" | jq -r .batch)
  printf "%3d%% of peak (%d/s, %d s, batch %s): committed %.1f tx/s, latency p50 %s ms, p99 %s ms, nodes' CPU %s us/tx, lost %s\n" \
    "$pct" "$r" "$RUN_S" "${BATCH[$pct]}" "${TPS[$pct]}" "${P50[$pct]}" "${P99[$pct]}" "${CPU[$pct]}" \
    "$(echo "$j" | jq -r .lost)"
done
echo

# The ratio uses the best committed rate seen (ramp or the 100 % run).
BEST=$(awk -v a="$PEAK" -v b="${TPS[100]}" 'BEGIN {print (b > a ? b : a)}')
RATIO=$(awk -v t="$BEST" -v b="$BOUND" 'BEGIN {printf "%.2f", (b > 0 ? t / b : 0)}')
rc=0
if awk -v r="$RATIO" 'BEGIN {exit !(r >= 0.5)}'; then v=PASS; else v=FAIL; rc=1; fi
echo "ratio committed/bound: $BEST / $BOUND = $RATIO (target >= 0.5) $v"
echo "       against preparsed keys: $BEST / $PBOUND = $(awk -v t="$BEST" -v b="$PBOUND" 'BEGIN {printf "%.2f", (b > 0 ? t / b : 0)}')"
if [ "${P50[50]}" != null ] && [ "${P50[50]}" -le 100 ]; then v=PASS; else v=FAIL; rc=1; fi
echo "p50 at 50% load: ${P50[50]} ms (target <= 100) $v"
if [ "$rc" != 0 ] && [ "${P50[50]}" != null ] && [ "${P50[50]}" -gt 100 ]; then
  echo "note: blocks start at most every block.interval_ms = $INTERVAL ms after the last commit"
  echo "      (node.c: propose timeout 1000 ms, prevote/precommit 500 ms on a missed round)"
fi
exit "$rc"
