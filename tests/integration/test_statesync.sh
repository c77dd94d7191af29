#!/usr/bin/env bash
# State sync (docs/statesync.md): a 4-member devnet, node1 serving lying
# snapshot chunks (CUSTOS_TEST_SNAPSHOT_CHEAT=chunk); identity registrations
# committed over 40+ blocks; node3 stopped, its chain store wiped (keystore,
# config, passphrase and DATA/safety kept) and restarted: it installs a
# snapshot at a height >= 16 from the honest peers, refuses node1's chunks
# by name, block-syncs from the snapshot's height to the tip, has the
# others' state root at a common height, answers block_get below its base
# with the base error, and votes: with node0 stopped the chain goes on
# (3 of 4, node3 among them). Then the fallback: node3 wiped again with
# statesync.min_height above every offer falls back to block sync from
# height 1 and catches up.
. "$(dirname "$0")/lib.sh"

devnet 4
keys_off
for i in 0 1 2 3; do
  cfg="$WORK/net/node$i/config.json"
  jq '.mpc = {enabled: false}' "$cfg" >"$cfg.new" && mv "$cfg.new" "$cfg"
done
start_node 0
start_node_env 1 CUSTOS_TEST_SNAPSHOT_CHEAT=chunk
start_node 2
start_node 3
URL0=$(rpc_url 0)
URL3=$(rpc_url 3)
NAME1=$(jq -r .name "$WORK/net/node1/config.json")
height() { rpc "$1" status | jq -r .result.height; }
wait_height() { # URL H [TRIES]: waits until the node at URL is at H or above
  for _ in $(seq 1 "${3:-300}"); do [ "$(height "$1")" -ge "$2" ] && return 0; sleep 0.1; done
  fail "$1 at height $(height "$1"), expected $2"
}

# load NODES SECONDS: identity registrations (blocks are made only for
# transactions) at 30 a second, drained.
load() {
  "$CUSTOS" load --nodes "$1" --rate 30 --duration "$2" --drain 15 --json >"$WORK/load.json" \
    2>"$WORK/load.err" || fail "load: $(tail -3 "$WORK/load.err")"
  [ "$(jq -r .lost "$WORK/load.json")" = 0 ] || fail "load lost transactions: $(cat "$WORK/load.json")"
}

# ---- state: identity registrations over 40+ blocks ----
URLS="$URL0,$(rpc_url 1),$(rpc_url 2)"
for _ in 1 2 3 4; do
  [ "$(height "$URL0")" -ge 40 ] && break
  load "$URLS" 3
done
wait_height "$URL0" 40
pass "identity registrations committed, height $(height "$URL0")"

# ---- node3 wiped and restarted: state sync ----
stop_node 3
DATA3="$WORK/net/node3/data"
[ -f "$DATA3/safety" ] || fail "node3 has no safety record"
rm -rf "$DATA3/chain" "$DATA3/chain.lock"
# log3: node3's log since its last start
log3() { tail -n +"$LOG3_FROM" "$WORK/node3.log"; }
LOG3_FROM=$(( $(wc -l <"$WORK/node3.log") + 1 ))
start_node 3
for _ in $(seq 1 300); do log3 | grep -q "state sync: installed the snapshot" && break; sleep 0.1; done
log3 | grep -q "state sync: installed the snapshot" \
  || fail "node3 installed no snapshot: $(log3 | grep 'state sync' | tail -5)"
H=$(log3 | sed -n 's/.*state sync: installed the snapshot of height \([0-9]*\).*/\1/p' | head -1)
[ "$H" -ge 16 ] || fail "snapshot height $H below 16"
log3 | grep -q "state sync: snapshot from $NAME1 refused: chunk [0-9]* does not match the manifest" \
  || fail "no refusal of $NAME1 ($(log3 | grep 'state sync' | head -5))"
st=$(rpc "$URL3" status)
[ "$(echo "$st" | jq -r .result.statesync.base)" = "$H" ] || fail "status base: $(echo "$st" | jq -c .result.statesync)"
[ "$(echo "$st" | jq -r .result.statesync.installed_height)" = "$H" ] || fail "status: $(echo "$st" | jq -c .result.statesync)"
pass "node3 installed the snapshot of height $H, refused $NAME1's chunks"

# the tip, and the same state as the others at a common height
wait_height "$URL3" "$(height "$URL0")"
st=$(rpc "$URL3" status)
h3=$(echo "$st" | jq -r .result.height)
r3=$(echo "$st" | jq -r .result.state_root)
wait_height "$URL0" "$h3"
r0=$(rpc "$URL0" block_get "{\"height\":$h3}" | jq -r .result.state_root)
b3=$(rpc "$URL3" block_get "{\"height\":$h3}" | jq -r .result.hash)
b0=$(rpc "$URL0" block_get "{\"height\":$h3}" | jq -r .result.hash)
[ "$r3" = "$r0" ] || fail "state root at $h3: node3 $r3, node0 $r0"
[ "$b3" = "$b0" ] || fail "block $h3: node3 $b3, node0 $b0"
below=$(rpc "$URL3" block_get "{\"height\":$((H - 1))}")
echo "$below" | grep -q "below this node's base $H: it was state-synced at $H" || fail "block_get below the base: $below"
[ "$(rpc "$URL3" block_get "{\"height\":$H}" | jq -r .result.height)" = "$H" ] || fail "block_get of the base"
pass "node3 reached $h3 with node0's state root and block; block $((H - 1)) is below its base"

# ---- node3 votes: node0 down, 3 of 4 go on ----
stop_node 0
h=$(height "$URL3")
load "$(rpc_url 1),$(rpc_url 2),$URL3" 2
wait_height "$URL3" $((h + 5)) 300
pass "with node0 stopped the chain goes on (height $(height "$URL3")): node3 votes"
start_node 0
wait_height "$URL0" "$(height "$URL3")" 600

# ---- fallback: no offer is high enough ----
stop_node 3
rm -rf "$DATA3/chain" "$DATA3/chain.lock"
cfg="$WORK/net/node3/config.json"
jq '.statesync = {min_height: 1000000}' "$cfg" >"$cfg.new" && mv "$cfg.new" "$cfg"
LOG3_FROM=$(( $(wc -l <"$WORK/node3.log") + 1 ))
start_node 3
wait_height "$URL3" "$(height "$URL0")" 600
log3 | grep -q "state sync: no usable snapshot (the best offer is at height [0-9]*, below statesync.min_height 1000000); falling back to block sync" \
  || fail "no fallback line: $(log3 | grep 'state sync' | head -5)"
[ "$(rpc "$URL3" status | jq -r .result.statesync.base)" = 0 ] || fail "a block-synced node has base 0"
[ "$(rpc "$URL3" block_get '{"height":1}' | jq -r .result.height)" = 1 ] || fail "block 1 after block sync"
grep -q "equivocation" "$WORK"/node*.log && fail "an equivocation was reported"
pass "with no usable offer node3 fell back to block sync and caught up ($(height "$URL3"))"
