#!/usr/bin/env bash
# Installs everything the repo needs on Debian 12. Idempotent and quick when nothing is missing.
# As root it installs with apt-get/npm; otherwise it prints the exact command to run.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBIAN_PACKAGES=(
  cmake make gcc pkg-config
  libmongoc-dev libbson-dev libssl-dev
  liblua5.4-dev lua5.4 lua-busted lua-cjson
  valgrind
  # compat tests: PUC 5.1, and OpenResty's LuaJIT (never upstream luajit/libluajit-5.1-dev,
  # whose library lacks symbols nginx's lua module needs); busted ships 5.1 modules too
  lua5.1 liblua5.1-0-dev luajit2 libluajit2-5.1-dev
  # nginx smoke test (tests/nginx): nginx with lua-nginx-module, on the LuaJIT above
  nginx libnginx-mod-http-lua lua-resty-core
  # Admin API: libcurl on the client side, libmicrohttpd in aspd; curl drives it in a test
  libcurl4-openssl-dev libmicrohttpd-dev curl
  # aspd's store, regular expressions and time zones
  libsqlite3-dev sqlite3 libpcre2-dev tzdata
  # fuzzing and sanitizers (libFuzzer, ASan/UBSan/TSan runtimes)
  clang libclang-rt-14-dev
  # the read-only state directory fault test (ext4 image, loop mount; skipped without them)
  mount e2fsprogs
  # the other Lua ABIs and LuaRocks
  lua5.2 liblua5.2-dev lua5.3 liblua5.3-dev luarocks
)
MONGOSH_VERSION=2.12.0
MONGOSH_DIR=.deps/mongosh

missing=()
for pkg in "${DEBIAN_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done
if ! command -v npm >/dev/null 2>&1; then
  missing+=(nodejs npm)
fi

if ((${#missing[@]})); then
  if [ "$(id -u)" -eq 0 ]; then
    echo "setup: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    # Debian's nginx postinst would start a system nginx on port 80; tests run their own.
    if [ ! -e /usr/sbin/policy-rc.d ]; then
      printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
      chmod +x /usr/sbin/policy-rc.d
      trap 'rm -f /usr/sbin/policy-rc.d' EXIT
    fi
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "setup: missing Debian packages; run:" >&2
    echo "  sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi

# mongosh (from the npm registry) drives aspd in one test, as ASP users do today.
if [ ! -x "$MONGOSH_DIR/node_modules/.bin/mongosh" ]; then
  if command -v npm >/dev/null 2>&1; then
    echo "setup: installing mongosh $MONGOSH_VERSION into $MONGOSH_DIR" >&2
    mkdir -p "$MONGOSH_DIR"
    if ! npm install --silent --no-audit --no-fund --prefix "$MONGOSH_DIR" "mongosh@$MONGOSH_VERSION" >/dev/null 2>&1; then
      echo "setup: could not install mongosh; its test will be skipped" >&2
    fi
  fi
fi
