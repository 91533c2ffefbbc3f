#!/usr/bin/env bash
# package_version: one version everywhere. CMake's project VERSION (what the
# binaries are built with) must equal packaging/debian/changelog's (what the
# package is called), and avpnctl --version, every avpnctl command's
# --version and avpnd --version must print it.
set -euo pipefail
src=${AVPN_SOURCE_DIR:?} bin=${AVPN_BIN:?}
fail=0
cmake_v=$(sed -n 's/^project(avpn VERSION \([0-9][0-9.]*\).*/\1/p' "$src/CMakeLists.txt")
deb_v=$(sed -n '1s/^avpn (\([^)]*\)).*/\1/p' "$src/packaging/debian/changelog")
echo "CMakeLists.txt: ${cmake_v:-?}; packaging/debian/changelog: ${deb_v:-?}"
[ -n "$cmake_v" ] && [ -n "$deb_v" ] || { echo "FAIL: a version was not found"; exit 1; }
# A native package: the Debian version is the upstream version itself.
[ "$cmake_v" = "$deb_v" ] || { echo "FAIL: the package version differs from CMake's project VERSION"; fail=1; }

check() {  # check EXPECTED COMMAND...
  local got
  got=$("${@:2}" 2>&1) || { echo "FAIL: ${*:2} exited $?"; fail=1; return; }
  if [ "$got" = "$1" ]; then echo "ok: ${*:2} -> $got"; else echo "FAIL: ${*:2} printed '$got', want '$1'"; fail=1; fi
}
check "avpnctl $cmake_v" "$bin/avpnctl" --version
for c in $("$bin/avpnctl" --help | awk '/^Subcommands:/ { on = 1; next } on && /^  [a-z]/ { print $1 }'); do
  check "avpnctl $cmake_v" "$bin/avpnctl" "$c" --version
done
check "avpnd $cmake_v" "$bin/avpnd" --version
exit "$fail"
