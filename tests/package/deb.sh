#!/usr/bin/env bash
# package_deb: builds the .deb with scripts/package (a copy of the source,
# dpkg-buildpackage -b) into $AVPN_BINARY_DIR/package, then:
# - lintian: 0 errors, 0 warnings (overrides, each justified, live in
#   packaging/debian/avpn.lintian-overrides);
# - the package holds what it must and no secret (no key or PSK file);
# - systemd-analyze security (offline, on the package unpacked as a root):
#   the unit's exposure must not rise above the score docs/packaging.md
#   reports.
# package_install then installs this .deb in a Debian 12 root and runs
# systemd-analyze verify there, where the unit's dependencies exist.
# Exit 77 with the reason when a tool is missing (scripts/setup installs them).
set -euo pipefail
src=${AVPN_SOURCE_DIR:?} out=${AVPN_BINARY_DIR:?}/package
# The exposure avpnd.service must stay at or below (docs/packaging.md).
max_exposure=${AVPN_MAX_EXPOSURE:-2.0}
for t in lintian systemd-analyze dpkg-deb; do
  command -v "$t" >/dev/null || { echo "package_deb: $t is not installed (scripts/setup)"; exit 77; }
done
fail=0
t0=$(date +%s)
rm -f "$out"/avpn_*.deb
rc=0
# The copy and its build tree are kept in $out/work, so a second run on the
# same build tree rebuilds only what changed; a fresh build tree (CI's clean
# clone) builds from scratch.
# No dbgsym package: nothing here reads it, and compressing its 60 MB took
# ~90 s of the build.
AVPN_PACKAGE_WORKDIR=${AVPN_PACKAGE_WORKDIR-$out/work} DEB_BUILD_OPTIONS="noautodbgsym ${DEB_BUILD_OPTIONS:-}" \
  "$src/scripts/package" "$out" || rc=$?
[ "$rc" -eq 0 ] || exit "$rc"   # 77: a build tool is missing
t1=$(date +%s)
deb=$(ls "$out"/avpn_*.deb)

echo "== lintian $deb"
# --fail-on none: lintian's status then says only whether it ran.
lrc=0
lintian --fail-on none --info --display-level '>=pedantic' --show-overrides "$deb" >"$out/lintian.txt" || lrc=$?
cat "$out/lintian.txt"
if [ "$lrc" -ne 0 ]; then
  echo "FAIL: lintian exited $lrc"
  fail=1
elif grep -E '^[EW]: ' "$out/lintian.txt"; then
  echo "FAIL: lintian reports errors or warnings (above)"
  fail=1
else
  echo "ok: lintian: 0 errors, 0 warnings"
fi
t2=$(date +%s)

echo "== contents"
dpkg-deb -c "$deb" | awk '{ print $1, $6 }' >"$out/contents.txt"
for f in ./usr/sbin/avpnctl ./usr/sbin/avpnd ./lib/systemd/system/avpnd.service \
  ./usr/lib/modules-load.d/avpn.conf ./usr/lib/tmpfiles.d/avpn.conf \
  ./usr/share/bash-completion/completions/avpnctl \
  ./usr/share/man/man8/avpnctl.8.gz ./usr/share/man/man8/avpnd.8.gz ./usr/share/man/man5/avpn-site.toml.5.gz; do
  if grep -q " $f\$" "$out/contents.txt"; then echo "ok: $f"; else echo "FAIL: $f is not in the package"; fail=1; fi
done
if grep -E '\.(key|psk)$' "$out/contents.txt"; then echo "FAIL: the package holds key or PSK files (above)"; fail=1; fi

echo "== systemd-analyze"
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
dpkg-deb -x "$deb" "$root"
unit=$root/lib/systemd/system/avpnd.service
if systemd-analyze security --offline=true --root="$root" --no-pager "$unit" >"$out/security.txt" 2>&1 ||
  grep -q 'Overall exposure level' "$out/security.txt"; then
  cat "$out/security.txt"
  exposure=$(sed -n 's/.*Overall exposure level for avpnd.service: \([0-9.]*\).*/\1/p' "$out/security.txt")
  if [ -z "$exposure" ]; then
    echo "FAIL: no exposure level in systemd-analyze security's output"
    fail=1
  elif awk -v e="$exposure" -v m="$max_exposure" 'BEGIN { exit !(e <= m) }'; then
    echo "ok: avpnd.service exposure $exposure (at most $max_exposure)"
  else
    echo "FAIL: avpnd.service exposure $exposure is above $max_exposure"
    fail=1
  fi
else
  cat "$out/security.txt"
  echo "FAIL: systemd-analyze security failed"
  fail=1
fi
echo "package_deb: build $((t1 - t0)) s, lintian $((t2 - t1)) s, checks $(($(date +%s) - t2)) s"
exit "$fail"
