#!/usr/bin/env bash
# A damaged store is detected at start and reported plainly; custosd refuses
# to serve it (exit 3) instead of serving it silently.
. "$(dirname "$0")/lib.sh"

devnet 1
start_node 0
URL=$(rpc_url 0)
SUB="--key $CUSTOS_KEY_SUBJECT --passphrase-file $CUSTOS_PASS_SUBJECT"
"$CUSTOS" --node "$URL" $SUB --wait identity register --national-id 42 >/dev/null || fail "register"
stop_node 0
DATA="$WORK/net/node0/data"
cp -a "$DATA" "$WORK/pristine"

# 1. Flip a byte in every LevelDB file holding records: checksums catch it.
for f in "$DATA"/chain/*.log "$DATA"/chain/*.ldb "$DATA"/*.log "$DATA"/*.ldb; do
  [ -f "$f" ] || continue
  size=$(stat -c %s "$f")
  [ "$size" -gt 64 ] || continue
  off=$((size / 2))
  b=$(dd if="$f" bs=1 skip=$off count=1 2>/dev/null | od -An -tu1 | tr -d ' ')
  printf "$(printf '\\%03o' $(( (b ^ 0x5a) & 255 )))" | dd of="$f" bs=1 seek=$off count=1 conv=notrunc 2>/dev/null
done
set +e
"$CUSTOSD" --config "$WORK/net/node0/config.json" >"$WORK/damaged.out" 2>&1
rc=$?
set -e
[ $rc -eq 3 ] || fail "damaged store: custosd exited $rc, expected 3: $(cat "$WORK/damaged.out")"
grep -qiE "damag|corrupt|checksum" "$WORK/damaged.out" || fail "no plain report: $(cat "$WORK/damaged.out")"
pass "a flipped byte in the store is refused at start: $(grep -iE 'damag|corrupt|checksum' "$WORK/damaged.out" | head -1)"

# 2. The safety record damaged: refused, not ignored.
rm -rf "$DATA"; cp -a "$WORK/pristine" "$DATA"
printf 'xx' >"$DATA/safety"
set +e
"$CUSTOSD" --config "$WORK/net/node0/config.json" >"$WORK/safety.out" 2>&1
rc=$?
set -e
[ $rc -eq 3 ] || fail "damaged safety record: exit $rc: $(cat "$WORK/safety.out")"
grep -q "safety" "$WORK/safety.out" || fail "no safety message: $(cat "$WORK/safety.out")"
pass "a damaged safety record is refused"

# 3. The pristine copy still starts and serves its data.
rm -rf "$DATA"; cp -a "$WORK/pristine" "$DATA"
start_node 0
[ "$(rpc "$URL" status | jq .result.height)" = 1 ] || fail "pristine copy did not resume at height 1"
pass "the undamaged store resumes"
