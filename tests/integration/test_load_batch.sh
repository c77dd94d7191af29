#!/usr/bin/env bash
# `custos load --batch`: transactions go out as JSON-RPC batches (arrays of
# tx_submit), and each answer of a batch is counted on its own.
#  1. 4 custosd, node 3 killed: a batched run fails the batches meant for
#     node 3 over to the next node; everything it submitted is accepted and
#     committed, and the identity registrations on chain are exactly the
#     txids it reports accepted (--out), as many as it reports committed.
#  2. the nodes restarted with a mempool of 60 transactions and 2 s between
#     blocks: batches of 50 fill the mempools, so some transactions inside a
#     batch are refused (mempool_full) while others of the same batch are
#     admitted. The run counts each refusal under its rule: refused_by is
#     {"mempool_full": refused}, the nodes' own counters of tx_submit
#     requests and mempool_full errors (/metrics) equal submitted and
#     refused, accepted + refused = submitted, and the chain holds exactly
#     the accepted transactions (none refused, none lost, none twice).
#  3. with blocks every 2 s and --resubmit 0.5, transactions are resubmitted
#     (batched per target node): all committed, once.
. "$(dirname "$0")/lib.sh"

devnet 4
keys_off # only the load's transactions on chain, and the mempool is the load's
for i in 0 1 2 3; do start_node "$i"; done
URLS=$(for i in 0 1 2 3; do rpc_url "$i"; done | paste -sd,)
height() { rpc "$(rpc_url "$1")" status | jq -r .result.height; }

# onchain I FROM TO: txids of the identity registrations in blocks FROM..TO
# of node I, one per line, sorted.
onchain() {
  local h
  for h in $(seq "$2" "$3"); do
    rpc "$(rpc_url "$1")" block_get "{\"height\":$h}" \
      | jq -r '.result.txs[] | select(.type == "identity_register") | .txid'
  done | sort
}

# check_chain JSON TXIDS FROM: the run's accepted txids (file TXIDS, --out)
# are exactly the identity registrations committed after height FROM.
check_chain() {
  local j=$1 ids=$2 from=$3 to
  to=$(height 0)
  onchain 0 $((from + 1)) "$to" >"$WORK/chain.txt"
  sort "$ids" >"$WORK/out.txt"
  [ "$(wc -l <"$WORK/chain.txt")" = "$(echo "$j" | jq .committed)" ] \
    || fail "on chain $(wc -l <"$WORK/chain.txt") registrations, load reports $(echo "$j" | jq -c .)"
  [ "$(sort -u "$WORK/chain.txt" | wc -l)" = "$(wc -l <"$WORK/chain.txt")" ] \
    || fail "a transaction is in two blocks"
  diff -q "$WORK/chain.txt" "$WORK/out.txt" >/dev/null \
    || fail "the chain's registrations differ from the accepted txids: $(diff "$WORK/chain.txt" "$WORK/out.txt" | head -5)"
}

# ---- flags ----
for b in 0 257 1.5 x; do
  rc=0
  "$CUSTOS" load --nodes "$URLS" --rate 10 --duration 1 --batch "$b" >/dev/null 2>&1 || rc=$?
  [ "$rc" = 2 ] || fail "--batch $b: exit $rc, expected 2 (usage)"
done
pass "--batch outside 1..256 or not a whole number: usage error"

# ---- 1. batches fail over from a node that is down; all committed ----
stop_node 3 KILL
H0=$(height 0)
J=$("$CUSTOS" load --nodes "$URLS" --rate 400 --duration 2 --batch 16 --resubmit 0 --drain 60 \
  --json --out "$WORK/ids1" 2>"$WORK/load1.err") || fail "load (node 3 down): $J $(cat "$WORK/load1.err")"
echo "# run 1: $(echo "$J" | jq -c '{batch, submitted, accepted, refused, committed, lost, late_accepted}')"
echo "$J" | jq -e '.batch == 16 and .submitted == 800 and .accepted == 800 and .refused == 0
  and .committed == 800 and .lost == 0 and .duplicated == 0 and .late_accepted == 0
  and .rejected_receipts == 0' >/dev/null || fail "run 1: $J"
check_chain "$J" "$WORK/ids1" "$H0"
pass "batches of 16, node 3 down: 800 submitted, 800 accepted and committed, exactly those on chain"

# ---- 2. refusals inside batches, counted by rule ----
for i in 0 1 2; do stop_node "$i"; done
for i in 0 1 2 3; do
  cfg="$WORK/net/node$i/config.json"
  jq '.mempool.max_txs = 60 | .block.interval_ms = 2000' "$cfg" >"$cfg.new" && mv "$cfg.new" "$cfg"
done
for i in 0 1 2 3; do start_node "$i"; done
H0=$(height 0)
J=$("$CUSTOS" load --nodes "$URLS" --rate 1000 --duration 0.6 --batch 50 --resubmit 0 --drain 60 \
  --json --out "$WORK/ids2" 2>"$WORK/load2.err") || fail "load (small mempool): $J $(cat "$WORK/load2.err")"
echo "# run 2: $(echo "$J" | jq -c '{batch, submitted, accepted, refused, refused_by, committed, lost, late_accepted}')"
echo "$J" | jq -e '.batch == 50 and .submitted == 600 and .refused > 0 and .accepted > 0
  and .accepted + .refused == .submitted and .refused_by == {"mempool_full": .refused}
  and .committed == .accepted and .lost == 0 and .duplicated == 0 and .late_accepted == 0' \
  >/dev/null || fail "run 2: $J"
# The nodes' own count of tx_submit requests and mempool_full refusals
# (custos_rpc_*_total, docs/operations.md): one per transaction, not per batch.
metric() { # metric REGEX: the sum over the 4 nodes
  local i s=0 v
  for i in 0 1 2 3; do
    v=$(curl -sf "$(rpc_url "$i")/metrics" | grep -E "$1" | awk '{print $2}')
    s=$((s + ${v:-0}))
  done
  echo "$s"
}
REQS=$(metric '^custos_rpc_requests_total\{method="tx_submit"\} ')
FULL=$(metric '^custos_rpc_errors_total\{method="tx_submit",code="207"\} ')
[ "$REQS" = 600 ] || fail "the nodes counted $REQS tx_submit requests, the load submitted 600"
[ "$FULL" = "$(echo "$J" | jq .refused)" ] \
  || fail "the nodes refused $FULL as mempool_full, the load counted $(echo "$J" | jq .refused)"
[ "$(sort -u "$WORK/ids2" | wc -l)" = "$(echo "$J" | jq .accepted)" ] || fail "--out: $(wc -l <"$WORK/ids2") txids"
check_chain "$J" "$WORK/ids2" "$H0"
pass "batches of 50 into full mempools: $(echo "$J" | jq .refused) refused, each counted as mempool_full (= the nodes' count); the $(echo "$J" | jq .accepted) accepted are exactly those on chain"

# ---- 3. resubmissions go out batched too ----
# Blocks every 2 s (as above) and --resubmit 0.5: accepted transactions wait
# longer than that for a block, so they are sent again, grouped by their next
# node; a node that has one answers duplicate (still accepted), none is lost.
H0=$(height 0)
J=$("$CUSTOS" load --nodes "$URLS" --rate 20 --duration 2 --batch 10 --resubmit 0.5 --drain 60 \
  --json --out "$WORK/ids3" 2>"$WORK/load3.err") || fail "load (resubmitting): $J $(cat "$WORK/load3.err")"
echo "# run 3: $(echo "$J" | jq -c '{batch, submitted, accepted, refused, committed, lost, resubmitted}')"
echo "$J" | jq -e '.batch == 10 and .submitted == 40 and .accepted == 40 and .refused == 0
  and .resubmitted > 0 and .committed == 40 and .lost == 0 and .duplicated == 0' >/dev/null \
  || fail "run 3: $J"
check_chain "$J" "$WORK/ids3" "$H0"
pass "batches of 10, blocks every 2 s, --resubmit 0.5: $(echo "$J" | jq .resubmitted) resubmissions, all 40 committed once"
