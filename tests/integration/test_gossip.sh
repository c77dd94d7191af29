#!/usr/bin/env bash
# Four real custosd processes of a 4-member devnet link to each other over
# the member network (net/). A transaction submitted to any node reaches every
# node by gossip and is committed once (the bft engine, test_bft4.sh covers
# consensus itself); resubmitting it anywhere is refused and not gossiped
# again; transactions admitted together travel in one batch (a few
# messages, not one per transaction); every node's `status` lists its
# member links.
. "$(dirname "$0")/lib.sh"

devnet 4
keys_off # nonces are picked by hand below, and transactions counted
for i in 0 1 2 3; do start_node "$i"; done
as() { local k="CUSTOS_KEY_${1^^}" p="CUSTOS_PASS_${1^^}"; echo "--key ${!k} --passphrase-file ${!p}"; }
c() { local i=$1; shift; "$CUSTOS" --node "$(rpc_url "$i")" "$@"; }

# ---- links come up: every node sees 3 connected peers ----
for _ in $(seq 1 150); do
  up=0
  for i in 0 1 2 3; do
    n=$(c "$i" status --json | jq '[.peers[] | select(.connected)] | length')
    [ "$n" = 3 ] && up=$((up + 1))
  done
  [ $up = 4 ] && break
  sleep 0.1
done
[ $up = 4 ] || fail "links did not come up: $(c 0 status --json | jq -c .peers)"
c 0 status --json | jq -e '.peers | length == 3 and all(.handshakes >= 1)' >/dev/null \
  || fail "status peers: $(c 0 status --json | jq -c .peers)"
c 1 status | grep -q "3 of 3 connected" || fail "status text: $(c 1 status)"
pass "4 custosd processes link to each other; status lists each member link"

# ---- a transaction submitted to node 2 reaches every node and commits once ----
committed() { rpc "$(rpc_url "$1")" tx_get "{\"txid\":\"$2\"}" | jq -r '.result | "\(.status) \(.height)"'; }
out=$(c 2 $(as subject) --json --print-only identity register --national-id 110101199003071234)
TX=$(echo "$out" | jq -r .tx)
DID=$(echo "$out" | jq -r .did)
[ ${#TX} -gt 100 ] && [ ${#DID} = 64 ] || fail "build tx: $out"
r=$(rpc "$(rpc_url 2)" tx_submit "{\"tx\":\"$TX\"}")
TXID=$(echo "$r" | jq -r .result.txid)
[ ${#TXID} = 64 ] || fail "submit: $r"
for _ in $(seq 1 100); do
  ok=0
  for i in 0 1 2 3; do [ "$(committed "$i" "$TXID")" = "$(committed 2 "$TXID")" ] && ok=$((ok + 1)); done
  [ $ok = 4 ] && [ "$(committed 2 "$TXID" | cut -d' ' -f1)" = committed ] && break
  sleep 0.1
done
[ $ok = 4 ] || fail "tx on the nodes: $(for i in 0 1 2 3; do committed "$i" "$TXID"; done | tr '\n' ' ')"
for i in 0 1 3; do
  g=$(rpc "$(rpc_url "$i")" status | jq -c .result.p2p.gossip)
  [ "$(echo "$g" | jq '.admitted + .refused')" = 1 ] || fail "node$i gossip: $g"
done
pass "a transaction submitted to one node reaches every node once and is committed at the same height"

# ---- the same transaction again, at another node: refused, not gossiped ----
r=$(rpc "$(rpc_url 0)" tx_submit "{\"tx\":\"$TX\"}")
echo "$r" | jq -r .error.data.name | grep -Eq 'duplicate|nonce_used' || fail "resubmit: $r"
sleep 0.3
for i in 1 2 3; do
  g=$(rpc "$(rpc_url "$i")" status | jq -c .result.p2p.gossip)
  [ "$(echo "$g" | jq '.admitted + .refused + .duplicates')" -le 1 ] || fail "node$i gossip after resubmit: $g"
done
pass "a resubmitted transaction is refused and not gossiped again"

# ---- a burst from several nodes: every node commits each one once ----
: >"$WORK/burst"
for k in $(seq 0 19); do
  if [ $((k % 2)) = 0 ]; then lvl=EA5+; else lvl=EA5-; fi
  t=$(c $((k % 4)) $(as hrss) --json --print-only --nonce "$k" identity attest "$DID" --level "$lvl" | jq -r .tx)
  rpc "$(rpc_url $((k % 4)))" tx_submit "{\"tx\":\"$t\"}" | jq -r .result.txid >>"$WORK/burst"
done
grep -Ecx '[0-9a-f]{64}' "$WORK/burst" | grep -qx 20 || fail "burst submissions: $(cat "$WORK/burst")"
for _ in $(seq 1 200); do
  ok=0
  for i in 0 1 2 3; do
    n=$(while read -r t; do committed "$i" "$t"; done <"$WORK/burst" | grep -c '^committed ')
    [ "$n" = 20 ] && ok=$((ok + 1))
  done
  [ $ok = 4 ] && break
  sleep 0.1
done
[ $ok = 4 ] || fail "after burst, committed per node: $(for i in 0 1 2 3; do while read -r t; do committed "$i" "$t"; done <"$WORK/burst" | grep -c '^committed '; done | tr '\n' ' ')"
for i in 0 1 2 3; do
  [ "$(while read -r t; do committed "$i" "$t"; done <"$WORK/burst" | md5sum)" = \
    "$(while read -r t; do committed 0 "$t"; done <"$WORK/burst" | md5sum)" ] || fail "node$i commits the burst at other heights"
  [ "$(rpc "$(rpc_url "$i")" status | jq -r .result.mempool.size)" = 0 ] || fail "node$i mempool not empty"
done
pass "20 transactions submitted across 4 nodes: committed once, at the same heights, on every node"

# ---- 60 transactions admitted together at one node: a few messages, not 60 ----
# Batched gossip (docs/net.md, "Transaction gossip"): what node 0 admits
# within GOSSIP_FLUSH_MS leaves as one NET_MSG_TX. Each peer counts the
# messages it received from node 0 (every type: consensus and sync too);
# one message per transaction would be 60 or more.
N0=$(jq -r .name "$WORK/net/node0/config.json")
from0() { c "$1" status --json | jq --arg m "$N0" '.peers[] | select(.member == $m) | .msgs_in'; }
# gossip counters of node I: "admitted duplicates refused"
gst() { rpc "$(rpc_url "$1")" status | jq -r '.result.p2p.gossip | "\(.admitted) \(.duplicates) \(.refused)"'; }
body="["
for k in $(seq 20 79); do
  if [ $((k % 2)) = 0 ]; then lvl=EA5+; else lvl=EA5-; fi
  t=$(c 0 $(as hrss) --json --print-only --nonce "$k" identity attest "$DID" --level "$lvl" | jq -r .tx)
  body+="{\"jsonrpc\":\"2.0\",\"id\":$k,\"method\":\"tx_submit\",\"params\":{\"tx\":\"$t\"}},"
done
body="${body%,}]"
declare -A M0 G0
for i in 1 2 3; do M0[$i]=$(from0 "$i"); G0[$i]=$(gst "$i"); done
r=$(raw "$(rpc_url 0)" "$body")
[ "$(echo "$r" | jq '[.[] | select(.result.txid)] | length')" = 60 ] || fail "batch submit: $r"
# Each of the 60 reaches each peer once: admitted from the gossip, or (on a
# loaded machine) counted a duplicate because a block committing it came
# first; none refused. 20 s for a slow machine.
for i in 1 2 3; do
  read -r a0 d0 r0 <<<"${G0[$i]}"
  for _ in $(seq 1 200); do
    read -r a d r <<<"$(gst "$i")"
    [ $((a - a0 + d - d0)) -ge 60 ] && break
    sleep 0.1
  done
  read -r a d r <<<"$(gst "$i")"
  g=$((a - a0))
  m=$(($(from0 "$i") - M0[$i]))
  [ $((g + d - d0)) = 60 ] && [ "$r" = "$r0" ] ||
    fail "node$i: of the 60, $g admitted by gossip, $((d - d0)) duplicates, $((r - r0)) refused"
  [ "$m" -lt 30 ] || fail "node$i received $m messages from node0 for 60 gossiped transactions"
  echo "  node$i: 60 transactions in $m messages from node0 (all types)"
done
pass "60 transactions admitted together reach each peer in a few messages, each once (admitted, or a duplicate of its commit)"

# ---- a node restarts: links come back ----
stop_node 3 KILL
start_node 3
for _ in $(seq 1 150); do
  n=$(c 3 status --json | jq '[.peers[] | select(.connected)] | length')
  [ "$n" = 3 ] && break
  sleep 0.1
done
[ "$n" = 3 ] || fail "node3 links after restart: $(c 3 status --json | jq -c .peers)"
pass "a killed node's links come back after restart"
