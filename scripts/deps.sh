# Sourced by scripts/demo, scripts/test, scripts/fuzz, scripts/bench:
# installs the Debian packages Custos needs when they are missing.
# As root it runs apt-get; otherwise it names the packages and stops.

CUSTOS_PACKAGES="build-essential cmake pkg-config libleveldb-dev libsecp256k1-dev
 libsodium-dev libssl-dev libnanomsg-dev libcjson-dev check libmicrohttpd-dev
 libcurl4-openssl-dev clang libclang-rt-dev jq chromium"
# The explorer's browser test (tests/browser: playwright-core from npm,
# driving Debian's chromium) also needs node and npm. They are asked for
# only when the commands are missing: a nodejs from elsewhere that bundles
# npm conflicts with Debian's npm package.
CUSTOS_COMMANDS="node:nodejs npm:npm"

custos_deps() {
  local missing=()
  for p in $CUSTOS_PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
      || missing+=("$p")
  done
  for c in $CUSTOS_COMMANDS; do
    command -v "${c%%:*}" >/dev/null 2>&1 || missing+=("${c#*:}")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "custos: missing Debian packages: ${missing[*]}" >&2
    echo "custos: install them with: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  echo "custos: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2 || { echo "custos: apt-get update failed" >&2; exit 1; }
  apt-get install -y -qq "${missing[@]}" >&2 \
    || { echo "custos: apt-get install failed" >&2; exit 1; }
}

# custos_build DIR [cmake options...]: configure (once) and build into DIR.
custos_build() {
  local dir=$1; shift
  cmake -S "$CUSTOS_ROOT" -B "$dir" "$@" >/dev/null \
    || { echo "custos: cmake configure failed ($dir)" >&2; return 1; }
  cmake --build "$dir" -j "$(nproc)" >/dev/null 2>"$dir/build.log" \
    || { cat "$dir/build.log" >&2; echo "custos: build failed ($dir)" >&2; return 1; }
}
