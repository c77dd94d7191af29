#!/usr/bin/env bash
# Four real custosd processes of a 4-member devnet run the bft engine
# (consensus/bft.h) over the member network: transactions submitted to
# different nodes are committed exactly once, every node holds the same
# block at every height; with one node killed (f = 1) the other three keep
# committing and the restarted node catches up by block sync; a validator
# removed on chain is cut off and the other three go on with n = 3.
. "$(dirname "$0")/lib.sh"

devnet 4
keys_off # nonces are picked by hand below, and transactions counted
for i in 0 1 2 3; do start_node "$i"; done
as() { local k="CUSTOS_KEY_${1^^}" p="CUSTOS_PASS_${1^^}"; echo "--key ${!k} --passphrase-file ${!p}"; }
c() { local i=$1; shift; "$CUSTOS" --node "$(rpc_url "$i")" "$@"; }
height() { rpc "$(rpc_url "$1")" status | jq -r '.result.height // -1'; }
TXIDS="$WORK/txids"
: >"$TXIDS"
NONCE=0

# submit NODE: a signed attestation of $DID by the bureau hrss (next nonce),
# sent to NODE; its txid goes into $TXIDS.
submit() {
  local lvl t r
  if [ $((NONCE % 2)) = 0 ]; then lvl=EA5+; else lvl=EA5-; fi
  t=$(c "$1" $(as hrss) --json --print-only --nonce "$NONCE" identity attest "$DID" --level "$lvl" | jq -r .tx)
  r=$(rpc "$(rpc_url "$1")" tx_submit "{\"tx\":\"$t\"}")
  echo "$r" | jq -r .result.txid | grep -Eq '^[0-9a-f]{64}$' || fail "submit $NONCE to node$1: $r"
  echo "$r" | jq -r .result.txid >>"$TXIDS"
  NONCE=$((NONCE + 1))
}

# committed_on NODES...: every txid in $TXIDS is committed on each node.
committed_on() {
  local i tx
  for i in "$@"; do
    while read -r tx; do
      [ "$(rpc "$(rpc_url "$i")" tx_get "{\"txid\":\"$tx\"}" | jq -r .result.status)" = committed ] || return 1
    done <"$TXIDS"
  done
}

# wait_committed SECONDS NODES...
wait_committed() {
  local s=$1; shift
  for _ in $(seq 1 $((s * 10))); do committed_on "$@" && return 0; sleep 0.1; done
  fail "not all transactions committed on nodes $*: heights $(for i in "$@"; do height "$i"; done | tr '\n' ' ')"
}

# same_chain NODES...: equal heights and the same block hash at every
# height; each certificate carries a quorum of votes.
same_chain() {
  local h0 h i k ref got
  h0=$(height "$1")
  for i in "$@"; do [ "$(height "$i")" = "$h0" ] || return 1; done
  for ((k = 1; k <= h0; k++)); do
    ref=$(rpc "$(rpc_url "$1")" block_get "{\"height\":$k}" | jq -r .result.hash)
    for i in "$@"; do
      got=$(rpc "$(rpc_url "$i")" block_get "{\"height\":$k}")
      [ "$(echo "$got" | jq -r .result.hash)" = "$ref" ] || fail "height $k: node$i has $(echo "$got" | jq -c .result.hash), node$1 $ref"
      [ "$(echo "$got" | jq '.result.cert.votes | length')" -ge "$QUORUM" ] \
        || fail "height $k on node$i: certificate with $(echo "$got" | jq -c .result.cert.votes | head -c 200)"
    done
  done
}

wait_same_chain() { # wait_same_chain SECONDS NODES...
  local s=$1; shift
  for _ in $(seq 1 $((s * 10))); do same_chain "$@" && return 0; sleep 0.1; done
  fail "nodes $* did not reach the same height: $(for i in "$@"; do height "$i"; done | tr '\n' ' ')"
}

# each_once NODE: every submitted transaction is in exactly one block.
each_once() {
  local h k
  h=$(height "$1")
  for ((k = 1; k <= h; k++)); do rpc "$(rpc_url "$1")" block_get "{\"height\":$k}" | jq -r '.result.txs[].txid'; done \
    | sort >"$WORK/in_blocks"
  sort "$TXIDS" >"$WORK/sent"
  # governance transactions are in blocks too: every sent txid exactly once
  [ -z "$(sort "$WORK/in_blocks" | uniq -d)" ] || fail "a transaction is in two blocks: $(uniq -d "$WORK/in_blocks")"
  [ -z "$(comm -23 "$WORK/sent" "$WORK/in_blocks")" ] || fail "sent but in no block: $(comm -23 "$WORK/sent" "$WORK/in_blocks")"
}

QUORUM=3 # quorum_size(4) = quorum_size(3) = 3
reg=$(c 1 $(as subject) --json --wait --timeout 20 identity register --national-id 110101199003071234) \
  || fail "register: $reg"
DID=$(echo "$reg" | jq -r .did)
echo "$reg" | jq -r .txid >>"$TXIDS"
# ---- 4 nodes: three waves of transactions to different nodes ----
for wave in 1 2 3; do
  for i in 0 1 2 3; do submit "$i"; done
  wait_committed 20 0 1 2 3
done
wait_same_chain 10 0 1 2 3
[ "$(height 0)" -ge 3 ] || fail "height $(height 0) after three waves"
each_once 0
rpc "$(rpc_url 1)" status | jq -e '.result.consensus | .validators == 4 and (.step | type == "string")' >/dev/null \
  || fail "status consensus: $(rpc "$(rpc_url 1)" status | jq -c .result.consensus)"
rpc "$(rpc_url 2)" evidence_list | jq -e '.result.recorded == [] and .result.observed == []' >/dev/null || fail "evidence_list: $(rpc "$(rpc_url 2)" evidence_list)"
pass "4 custosd commit $(wc -l <"$TXIDS") transactions once each; same block at all $(height 0) heights"

# ---- f = 1: one node down, the other three keep committing ----
stop_node 3 KILL
H_DOWN=$(height 0)
for i in 0 1 2 0 1 2; do submit "$i"; done
wait_committed 30 0 1 2
wait_same_chain 10 0 1 2
[ "$(height 0)" -gt "$H_DOWN" ] || fail "no block while node3 was down"
pass "node3 killed: nodes 0-2 committed up to height $(height 0)"

# ---- the restarted node catches up by block sync ----
start_node 3
wait_same_chain 30 0 1 2 3
committed_on 3 || fail "node3 lacks transactions after sync"
submit 3
wait_committed 20 0 1 2 3
wait_same_chain 10 0 1 2 3
pass "node3 restarted: caught up by block sync and commits again (height $(height 3))"

# ---- a validator removed on chain is cut off; n = 3 goes on ----
p=$(c 0 $(as hrss) --json --wait member propose remove --name regulator) || fail "propose remove: $p"
PROP=$(echo "$p" | jq -r .txid)
NONCE=$((NONCE + 1)) # the proposal used hrss's next nonce
echo "$PROP" >>"$TXIDS"
a1=$(c 1 $(as health) --json --wait member approve "$PROP") || fail "approve by health: $a1"
echo "$a1" | jq -r .txid >>"$TXIDS"
a2=$(c 2 $(as civil) --json --wait member approve "$PROP") || fail "approve by civil: $a2"
echo "$a2" | jq -r .txid >>"$TXIDS"
rpc "$(rpc_url 0)" proposal_get "{\"id\":\"$PROP\"}" | jq -e .result.applied >/dev/null \
  || fail "removal not applied: $(rpc "$(rpc_url 0)" proposal_get "{\"id\":\"$PROP\"}")"
for _ in $(seq 1 100); do
  ok=0
  for i in 0 1 2; do
    rpc "$(rpc_url "$i")" status | jq -e '(.result.peers | map(.member) | index("regulator") == null)
      and .result.consensus.validators == 3' >/dev/null && ok=$((ok + 1))
  done
  [ $ok = 3 ] && break
  sleep 0.1
done
[ $ok = 3 ] || fail "regulator still linked: $(rpc "$(rpc_url 0)" status | jq -c '[.result.peers[].member], .result.consensus')"
for i in 0 1 2; do submit "$i"; done
wait_committed 20 0 1 2
wait_same_chain 10 0 1 2
each_once 0
for _ in $(seq 1 150); do
  up=$(rpc "$(rpc_url 3)" status | jq '[.result.peers[] | select(.connected)] | length')
  [ "$up" = 0 ] && break
  sleep 0.1
done
refused=$(for i in 0 1 2; do rpc "$(rpc_url "$i")" status | jq '.result.p2p.rejects.not_member // 0'; done | awk '{s += $1} END {print s + 0}')
[ "$up" = 0 ] || [ "$refused" -gt 0 ] || fail "removed node still connected: $(rpc "$(rpc_url 3)" status | jq -c .result.peers)"
[ "$(height 3)" -lt "$(height 0)" ] || fail "the removed node follows the chain: $(height 3) vs $(height 0)"
pass "regulator removed on chain: cut off (connected peers $up, not_member refusals $refused); n = 3 commits on (height $(height 0))"
