#!/usr/bin/env bash
# The block explorer (issue 9, docs/explorer.md) on a 4-node devnet with
# contract calls on chain:
#   - GET /explorer/, /explorer/app.js and /explorer/style.css serve the
#     embedded files byte for byte, with their Content-Type,
#     Cache-Control: no-cache and the Content-Security-Policy; any other
#     /explorer path is 404;
#   - the page in headless Chromium (tests/browser/explorer.test.mjs,
#     playwright-core) shows what the JSON-RPC reports: height, blocks and
#     their transactions, calls with status, public outputs and proof,
#     consents with their uses, contracts with approvals, evidence, search,
#     errors; no console error. Chromium that cannot start is a failure.
. "$(dirname "$0")/lib.sh"

BROWSER_DIR="$CUSTOS_SOURCE_DIR/tests/browser"
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
[ -x "$CHROMIUM" ] || fail "no Chromium at $CHROMIUM (scripts/deps.sh installs Debian's chromium)"
command -v node >/dev/null || fail "node is not installed (scripts/deps.sh installs nodejs)"

calls_devnet
calls_fixture
URL=$CALLS_URL
c() { "$CUSTOS" --node "$URL" "$@"; }

# ---- two calls under one consent ----
H=$(c status --json | jq -r .height)
CONSENT=$(c $(member_opts subject) --json --wait consent grant --did "$CALLS_DID" --insurer insurer \
  --domains health,hrss --contract "$CALLS_CID" --purpose "underwriting" --expires $((H + 1000)) --quota 3 \
  | jq -r .txid)
[ ${#CONSENT} -eq 64 ] || fail "consent grant"
INPUTS="$CUSTOS_SOURCE_DIR/configs/contracts/underwriting.inputs.json"
for k in 1 2; do
  res=$(c $(member_opts insurer) --json --timeout 60 --wait call "$CALLS_CID" --subject "$CALLS_DID" \
    --consent "$CONSENT" --inputs "$INPUTS") || fail "call $k: $res"
  [ "$(echo "$res" | jq -r .status)" = done ] || fail "call $k not done: $res"
done
[ "$(c consent get "$CONSENT" --json | jq -r .uses)" = 2 ] || fail "the consent's uses"
pass "chain: identity, records, an approved contract, a consent and two done calls"

# ---- the static files ----
get() { # get PATH: status, headers in $WORK/h, body in $WORK/b
  curl -s -m 10 -D "$WORK/h" -o "$WORK/b" -w '%{http_code}' "$URL$1"
}
header() { grep -i "^$1:" "$WORK/h" | head -1 | cut -d: -f2- | tr -d '\r' | sed 's/^ *//'; }
for f in "/explorer/ index.html text/html" "/explorer/app.js app.js text/javascript" \
         "/explorer/style.css style.css text/css" "/explorer/favicon.svg favicon.svg image/svg+xml"; do
  set -- $f
  code=$(get "$1")
  [ "$code" = 200 ] || fail "GET $1: HTTP $code"
  cmp -s "$WORK/b" "$CUSTOS_SOURCE_DIR/node/explorer/$2" || fail "GET $1: not node/explorer/$2"
  want=$3; case $3 in text/*) want="$3; charset=utf-8" ;; esac
  [ "$(header Content-Type)" = "$want" ] || fail "GET $1: Content-Type $(header Content-Type)"
  [ "$(header Cache-Control)" = no-cache ] || fail "GET $1: Cache-Control '$(header Cache-Control)'"
  header Content-Security-Policy | grep -q "^default-src 'self'" \
    || fail "GET $1: Content-Security-Policy '$(header Content-Security-Policy)'"
done
[ "$(get /explorer)" = 200 ] && cmp -s "$WORK/b" "$CUSTOS_SOURCE_DIR/node/explorer/index.html" \
  || fail "GET /explorer is not the page"
for p in /explorer/nope /explorer/app.js/x /explorerx /explorer/../metrics; do
  code=$(curl -s -m 10 -o /dev/null -w '%{http_code}' --path-as-is "$URL$p")
  [ "$code" = 404 ] || fail "GET $p: HTTP $code, want 404"
done
[ "$(curl -s -m 10 -o /dev/null -w '%{http_code}' -I "$URL/explorer/app.js")" = 200 ] || fail "HEAD /explorer/app.js"
pass "static files: bytes, Content-Type, Cache-Control, CSP; 404 elsewhere"

# ---- the page in headless Chromium ----
if [ ! -d "$BROWSER_DIR/node_modules/playwright-core" ]; then
  (cd "$BROWSER_DIR" && npm ci --no-audit --no-fund >"$WORK/npm.log" 2>&1) || fail "npm ci: $(tail -5 "$WORK/npm.log")"
fi
mkdir -p "$WORK/screens"
EXPLORER_NODE="$URL" EXPLORER_OUT="$WORK/screens" CHROMIUM="$CHROMIUM" \
  node "$BROWSER_DIR/explorer.test.mjs" >"$WORK/browser.out" 2>&1 || { cat "$WORK/browser.out"; fail "browser test"; }
cat "$WORK/browser.out"
[ -s "$WORK/screens/explorer-call.png" ] || fail "no screenshot"
if [ -n "${CUSTOS_EXPLORER_SHOTS:-}" ]; then cp "$WORK"/screens/*.png "$CUSTOS_EXPLORER_SHOTS"/; fi
pass "explorer in headless Chromium (screenshots: $WORK/screens; CUSTOS_KEEP_WORK=1 keeps them)"
for i in 0 1 2 3; do kill -0 "${NODE_PID[$i]}" || fail "node $i died"; done
