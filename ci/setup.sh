#!/usr/bin/env bash
# ci/setup.sh [--with-browser] — install what a fresh Debian 12 machine lacks to build, test, fuzz,
# stress and benchmark galloc. Idempotent: skips apt when everything is present.
set -euo pipefail
PKGS=(cmake ninja-build gcc clang libclang-rt-14-dev llvm afl++ valgrind gnuplot-nox
      python3 libjemalloc2 libgoogle-perftools4 libmimalloc2.0 sqlite3 xz-utils perl git)
# --with-browser: also Chromium, for the nightly report's headless-browser check (large).
[ "${1:-}" = "--with-browser" ] && PKGS+=(chromium)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "setup: all tools present"
