#!/usr/bin/env bash
# The README's demo (examples/netns-demo/run) must keep working: it exits 0,
# shows an apply summary per site, the passing and refused pings and a down
# per site, and leaves none of its namespaces behind.
set -euo pipefail
SRC=${AVPN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=lib/topology.sh
. "$SRC/tests/netns/lib/topology.sh"
topo_require wireguard-go ping

out=$(mktemp)
trap 'rm -f "$out"' EXIT
rc=0
"$SRC/examples/netns-demo/run" >"$out" 2>&1 || rc=$?
cat "$out"
fail() { echo "FAIL: $*" >&2; exit 1; }
[ "$rc" -ne 77 ] || exit 77
[ "$rc" -eq 0 ] || fail "the demo exited $rc"
[ "$(grep -c '^  applied [0-9]* changes; created 1 link' "$out")" -eq 3 ] || fail "not three apply summaries"
[ "$(grep -c 'reply, [0-9.]* ms$' "$out")" -eq 4 ] || fail "not four pings answered"
[ "$(grep -c 'no reply, as it should$' "$out")" -eq 2 ] || fail "not two pings refused"
[ "$(grep -c '^  applied [0-9]* changes; deleted 1 link' "$out")" -eq 3 ] || fail "not three downs"
prefix=$(sed -n 's/^namespaces \([^-]*\)-{.*/\1/p' "$out")
[ -n "$prefix" ] || fail "the demo did not name its namespaces"
left=$(ip netns list | awk '{print $1}' | grep "^$prefix-" || true)
[ -z "$left" ] || fail "namespaces left behind: $left"
echo "PASS: demo ran; namespaces $prefix-* removed"
