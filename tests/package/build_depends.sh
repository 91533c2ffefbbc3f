#!/usr/bin/env bash
# package_build_depends: scripts/setup installs every Build-Depends of
# packaging/debian/control (debhelper-compat is debhelper's), so a machine
# set up for development can build the package, and a new build dependency
# cannot be added to one list only. Each is then checked installed here.
set -euo pipefail
src=${AVPN_SOURCE_DIR:?}
deps=$(awk '/^Build-Depends:/ { on = 1; sub(/^Build-Depends:/, "") } on && /^[A-Z]/ && !/^Build-Depends:/ { on = 0 }
  on { print }' "$src/packaging/debian/control" | tr ',' '\n' | sed 's/([^)]*)//; s/<[^>]*>//g; s/[[:space:]]//g' |
  grep . | sed 's/^debhelper-compat$/debhelper/')
listed=$(sed -n '/^packages=(/,/^)/p' "$src/scripts/setup" | sed 's/#.*//' | tr -s ' \t' '\n\n' | grep -v '^packages=($\|^)$' | grep .)
[ -n "$deps" ] || { echo "FAIL: no Build-Depends read"; exit 1; }
fail=0
for d in $deps; do
  if grep -qx "$d" <<<"$listed"; then echo "ok: $d is in scripts/setup"; else echo "FAIL: Build-Depends $d is not in scripts/setup"; fail=1; fi
done
if command -v dpkg-checkbuilddeps >/dev/null; then
  if dpkg-checkbuilddeps "$src/packaging/debian/control"; then echo "ok: dpkg-checkbuilddeps: every Build-Depends is installed"
  else echo "FAIL: dpkg-checkbuilddeps (above)"; fail=1; fi
fi
exit "$fail"
