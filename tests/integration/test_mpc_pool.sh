#!/usr/bin/env bash
# MPC preprocessing in custosd (node/mpc_service.c; docs/operations.md "MPC
# preprocessing"): four custosd of a 4-member devnet with mpc enabled (small
# batches at every 5th height) under a light load of transactions (blocks
# are only made when there are transactions). Checks:
#   1. every node's pool fills (status.mpc.pool.triples > 0), all four
#      report the same level, and at least 2 batches succeeded everywhere;
#   2. one node killed with kill -9 and restarted (its pool empty): the
#      pools are reconciled (flushes) and batches succeed again at all
#      four, which report the same level once more;
#   3. no log line carries anything that looks like material (a 64-hex
#      value next to "share", "seed" or "triple").
. "$(dirname "$0")/lib.sh"
LIMIT=${CUSTOS_MPC_LIMIT:-40} # seconds per phase

devnet 4
# The devnet's configs with the service on: batches of 500 into pools of
# 2000 (low water = the cap: batches run until the pool is full).
for i in 0 1 2 3; do
  c="$WORK/net/node$i/config.json"
  jq '.mpc = {enabled: true, every_blocks: 5, batch: 500, pool_triples: 2000,
              pool_rands: 2000, low_water: 2000, round_timeout_ms: 3000}' "$c" >"$c.new"
  mv "$c.new" "$c"
done
for i in 0 1 2 3; do start_node "$i"; done
URLS=$(for i in 0 1 2 3; do rpc_url "$i"; done | paste -sd,)

# mpc I: node I's status.mpc, as `custos status --json` prints it.
mpc() { "$CUSTOS" --node "$(rpc_url "$1")" status --json 2>/dev/null | jq -c '.mpc' 2>/dev/null || echo null; }
die() {
  echo "---- status.mpc of each node:" >&2
  for i in 0 1 2 3; do echo "node$i: $(mpc "$i")" >&2; done
  fail "$@"
}

# Blocks need transactions: a steady light load for the whole test.
"$CUSTOS" load --nodes "$URLS" --rate 40 --duration 300 --drain 5 --json \
  --out "$WORK/txids" >"$WORK/load.json" 2>"$WORK/load.err" &
PIDS+=("$!")

# wait_aligned MIN_OK[0..3]: until all four report a running service with the
# same non-zero pool level and batches_ok >= MIN_OK[i]; prints the level.
wait_aligned() {
  local -a min=("$@")
  local t0=$SECONDS i s lv ok
  while [ $((SECONDS - t0)) -lt "$LIMIT" ]; do
    lv="" ok=1
    for i in 0 1 2 3; do
      s=$(mpc "$i")
      [ "$(echo "$s" | jq -r '.enabled')" = true ] || { ok=0; break; }
      [ "$(echo "$s" | jq -r '.pool.triples')" -gt 0 ] || { ok=0; break; }
      [ "$(echo "$s" | jq -r '.batches_ok')" -ge "${min[$i]}" ] || { ok=0; break; }
      lv="$lv $(echo "$s" | jq -r '"\(.pool.triples)/\(.pool.rands)"')"
    done
    if [ "$ok" = 1 ] && [ "$(echo $lv | tr ' ' '\n' | sort -u | wc -l)" = 1 ]; then
      echo "${lv# }" | cut -d' ' -f1
      return 0
    fi
    sleep 0.3
  done
  return 1
}

lv=$(wait_aligned 2 2 2 2) || die "pools not filled and aligned within $LIMIT s"
for i in 0 1 2 3; do OK[$i]=$(mpc "$i" | jq -r .batches_ok); done
pass "4 pools filled and aligned: triples/rands $lv, batches_ok ${OK[*]}"
s=$(mpc 0)
[ "$(echo "$s" | jq -r .pool.cap_triples)" = 2000 ] || die "cap_triples is not the configured 2000"
[ "$(echo "$s" | jq -r .pool.bits)" = 0 ] || die "bits made although none were asked for"

# Kill one node and bring it back with an empty pool.
V=2
FL0=$(mpc 0 | jq -r .flushes)
stop_node "$V" KILL
sleep 1
start_node "$V"
[ "$(mpc "$V" | jq -r .pool.triples)" = 0 ] || die "node$V restarted with a non-empty pool"
min=()
for i in 0 1 2 3; do
  if [ "$i" = "$V" ]; then min[$i]=1; else min[$i]=$((OK[i] + 1)); fi
done
lv=$(wait_aligned "${min[@]}") || die "pools not realigned within $LIMIT s of node$V's restart"
FL1=$(mpc 0 | jq -r .flushes)
[ "$FL1" -gt "$FL0" ] || die "node0 never flushed its pool although node$V came back empty"
pass "after kill -9 and restart of node$V: pools realigned ($lv), node0 flushed $((FL1 - FL0)) time(s)"

# Nothing that looks like material in the logs, and the status holds counts
# only (no hex blob in the mpc object).
if grep -iE '(share|seed|triple)[^0-9a-f]{0,20}[0-9a-f]{64}' "$WORK"/node*.log >/dev/null; then
  die "a log line carries a 64-hex value next to share/seed/triple"
fi
mpc 0 | jq -e '[.. | strings | select(test("[0-9a-f]{32}"))] | length == 0' >/dev/null \
  || die "status.mpc carries a hex value"
pass "no material in the logs or in status.mpc"
