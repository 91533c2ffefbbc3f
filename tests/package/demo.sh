#!/usr/bin/env bash
# package_demo: the README's netns demo (examples/netns-demo/run) with the
# avpnctl of the .deb package_deb made, unpacked with dpkg-deb -x (not the
# build tree's). On the host, not in package_install's root: that root has
# neither wireguard-go nor iproute2, and installing them there for this
# would cost downloads on every new machine, while the host has both
# (scripts/setup). Exit 77 without root or the .deb.
set -euo pipefail
src=${AVPN_SOURCE_DIR:?} out=${AVPN_BINARY_DIR:?}/package
[ "$(id -u)" -eq 0 ] || { echo "package_demo: needs root (network namespaces)"; exit 77; }
deb=$(ls "$out"/avpn_*.deb 2>/dev/null | head -1) || true
[ -n "$deb" ] || { echo "package_demo: no $out/avpn_*.deb: package_deb makes it (ctest -L package)"; exit 77; }
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
dpkg-deb -x "$deb" "$root"
# The demo takes $AVPN_BIN/avpnctl first when it is executable (else it
# would fall back to the build tree's): make sure it is, and runs.
"$root/usr/sbin/avpnctl" --version || { echo "FAIL: the package's avpnctl does not run"; exit 1; }
echo "package_demo: $(basename "$deb") unpacked; AVPN_BIN=$root/usr/sbin"
AVPN_BIN=$root/usr/sbin exec "$src/examples/netns-demo/run"
