#!/usr/bin/env bash
# Four real custosd processes of a 4-member devnet link to each other over
# the member network (net/). A transaction submitted to any node reaches every
# node's mempool exactly once; resubmitting it anywhere is a duplicate; every
# node's `status` lists its member links. (Block production for n > 1 arrives
# with the consensus issue: these nodes hold the transactions in their
# mempools.)
. "$(dirname "$0")/lib.sh"

devnet 4
for i in 0 1 2 3; do start_node "$i"; done
as() { local k="CUSTOS_KEY_${1^^}" p="CUSTOS_PASS_${1^^}"; echo "--key ${!k} --passphrase-file ${!p}"; }
c() { local i=$1; shift; "$CUSTOS" --node "$(rpc_url "$i")" "$@"; }
mp_size() { rpc "$(rpc_url "$1")" status | jq -r .result.mempool.size; }

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

# ---- a transaction submitted to node 2 reaches every mempool once ----
TX=$(c 2 $(as subject) --json --print-only identity register --national-id 110101199003071234 | jq -r .tx)
[ ${#TX} -gt 100 ] || fail "build tx: $TX"
r=$(rpc "$(rpc_url 2)" tx_submit "{\"tx\":\"$TX\"}")
echo "$r" | jq -e .result.txid >/dev/null || fail "submit: $r"
for _ in $(seq 1 100); do
  ok=0
  for i in 0 1 2 3; do [ "$(mp_size "$i")" = 1 ] && ok=$((ok + 1)); done
  [ $ok = 4 ] && break
  sleep 0.05
done
[ $ok = 4 ] || fail "mempool sizes: $(for i in 0 1 2 3; do mp_size $i; done | tr '\n' ' ')"
for i in 0 1 3; do
  g=$(rpc "$(rpc_url "$i")" status | jq -c .result.p2p.gossip)
  [ "$(echo "$g" | jq .admitted)" = 1 ] || fail "node$i gossip: $g"
done
pass "a transaction submitted to one node enters every mempool once"

# ---- the same transaction again, at another node: a duplicate everywhere ----
r=$(rpc "$(rpc_url 0)" tx_submit "{\"tx\":\"$TX\"}")
echo "$r" | jq -r .error.data.name | grep -q duplicate || fail "resubmit: $r"
sleep 0.3
for i in 0 1 2 3; do [ "$(mp_size "$i")" = 1 ] || fail "node$i mempool $(mp_size "$i")"; done
pass "a resubmitted transaction is refused as a duplicate and not gossiped again"

# ---- a burst from several nodes: each mempool gets every one once ----
for k in $(seq 1 20); do
  id=$(printf '1101011990030%05d' "$k")
  t=$(c $((k % 4)) $(as subject) --json --print-only --nonce "$k" identity register --national-id "$id" | jq -r .tx)
  rpc "$(rpc_url $((k % 4)))" tx_submit "{\"tx\":\"$t\"}" | jq -e .result.txid >/dev/null \
    || fail "submit $k"
done
for _ in $(seq 1 100); do
  ok=0
  for i in 0 1 2 3; do [ "$(mp_size "$i")" = 21 ] && ok=$((ok + 1)); done
  [ $ok = 4 ] && break
  sleep 0.05
done
[ $ok = 4 ] || fail "after burst: $(for i in 0 1 2 3; do mp_size $i; done | tr '\n' ' ')"
pass "21 transactions submitted across 4 nodes: 21 in every mempool"

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
