#!/bin/bash
# Runs one CTest label of the build tree inside the VM, e.g. the netns suite
# against a kernel that has ESP, WireGuard, XFRM interfaces and VLANs.
# Usage: ctest-label.sh LABEL [ctest args...]   (build tree: $AVPN_BINARY_DIR)
# The host root is read-only in the guest and ctest writes into the build
# tree (Testing/, cost data), some tests into the source tree: overlays with
# tmpfs upper layers take the writes, and the host's trees stay untouched.
set -euo pipefail
label=${1:?usage: ctest-label.sh LABEL [ctest args...]}
shift
build=${AVPN_BINARY_DIR:-}
if [ -z "$build" ] || [ ! -f "$build/CTestTestfile.cmake" ]; then
  echo "skipped: AVPN_BINARY_DIR names no configured build tree ('$build')"
  exit 77
fi
modprobe overlay
overlaid=()
# writable DIR: DIR gets an overlay with a tmpfs upper layer (undone on exit).
writable() {
  local layers
  layers=$(mktemp -d)
  mkdir "$layers/upper" "$layers/work"
  mount -t overlay overlay -o "lowerdir=$1,upperdir=$layers/upper,workdir=$layers/work" "$1"
  overlaid=("$1" "${overlaid[@]}")
}
trap 'for d in "${overlaid[@]}"; do umount "$d"; done' EXIT
# Some tests write into the source tree too (examples/netns-demo/run makes
# its keys private with chmod, which a read-only tree refuses even when the
# mode is already right). An overlay does not show mounts below its lower
# directory, so a source tree holding the build tree is overlaid first.
src=${AVPN_SOURCE_DIR:-}
[ -n "$src" ] && [ -d "$src" ] && writable "$src"
writable "$build"

log=$(mktemp)
set +e
ctest --test-dir "$build" -L "^$label\$" --no-tests=ignore --output-on-failure "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e
# ctest's summary line: "100% tests passed, 0 tests failed out of 7"; each
# skipped test is listed as "<n> - <name> (Skipped)".
total=$(sed -n 's/.* tests failed out of \([0-9]*\).*/\1/p' "$log" | tail -1)
skipped=$(grep -c ' (Skipped)$' "$log" || true)
echo "ctest label '$label' in the VM: ${total:-0} tests, ${skipped} of them skipped; ctest exit $rc"
exit "$rc"
