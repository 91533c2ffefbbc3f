#!/usr/bin/env bash
# A vici socket that accepts but never answers (issue 12, case 8): apply
# finds out before the kernel is touched. Site A's apply has a kernel part
# (WireGuard device through wireguard-go, address, routes, rule) and a
# tunnel for charon; its --vici-socket is a test-owned listener that accepts
# and never answers. The apply must fail within 5 s (the 2 s version probe
# and start-up), name the socket and "did not answer version within 2 s",
# and the kernel must not have changed at all: `ip monitor` in site A sees no
# event during the apply (and does see a control change after it), the dump
# (links, addresses, routes, rules, WireGuard) is equal, nothing is recorded.
set -u
source "$(dirname "$0")/lib/sites.sh"
source "$(dirname "$0")/lib/hung_vici.sh"
sites_init
require_avpnctl
trap 'rc=$?; stop_wireguard_go; [ -n "${MON:-}" ] && kill "$MON" 2>/dev/null; (exit $rc); sites_cleanup' EXIT

make_ns a
make_ns b
link_sites a wan0 192.0.2.1/24 b wan0 192.0.2.2/24
spoke_site
HUNG="$WORK/a/hung.vici"
start_hung_vici "$HUNG"
# The kernel part alone (a dry run with the tunnel would ask charon).
awk '/^\[\[ipsec\]\]/{exit} {print}' "$WORK/a/site.toml" >"$WORK/a/kernel-only.toml"
in_ns a "$AVPNCTL" apply "$WORK/a/kernel-only.toml" --dry-run --json --state-dir "$WORK/a/state" \
    >"$WORK/a/dry.json" 2>"$WORK/a/dry.err" || fail "apply --dry-run: $(cat "$WORK/a/dry.err")"
[ "$(jq -r '.changes' "$WORK/a/dry.json")" -gt 0 ] || fail "the apply changes nothing in the kernel: the test would prove nothing"

settle_dad
kernel_dump a >"$WORK/a/before.ip"
ip netns exec "$(ns_name a)" ip -o monitor link address route rule >"$WORK/a/monitor" 2>&1 &
MON=$!
sleep 0.5

note "apply against a charon that accepts and never answers"
t0=$(now)
in_ns a "$AVPNCTL" apply "$WORK/a/site.toml" --state-dir "$WORK/a/state" --vici-socket "$HUNG" --settle 0 \
    >"$WORK/a/apply.out" 2>"$WORK/a/apply.err"
rc=$?
ms=$(elapsed_ms "$t0")
note "apply exited $rc after $ms ms"
cat "$WORK/a/apply.out" "$WORK/a/apply.err"
[ "$rc" -ne 0 ] || fail "apply against a hung charon succeeded"

# A control change: the monitor was listening all along.
in_ns a ip addr add 198.51.100.7/32 dev lo
in_ns a ip addr del 198.51.100.7/32 dev lo
for _ in $(seq 30); do grep -q 198.51.100.7 "$WORK/a/monitor" && break; sleep 0.1; done
kill "$MON"; MON=
grep -q 198.51.100.7 "$WORK/a/monitor" || fail "ip monitor saw not even the control change"
if grep -v 198.51.100.7 "$WORK/a/monitor" | grep -q .; then
    fail "the kernel changed during the refused apply: $(grep -v 198.51.100.7 "$WORK/a/monitor" | head -20)"
fi
note "ok: no kernel event during the apply"
kernel_dump a >"$WORK/a/after.ip"
diff -u "$WORK/a/before.ip" "$WORK/a/after.ip" || fail "the kernel dump differs from before"
note "ok: kernel dump as before"
[ ! -e "$WORK/a/state/applied.state" ] || fail "the refused apply was recorded"
pgrep -fx "wireguard-go -f avpn-u$TAG" >/dev/null && fail "wireguard-go was left running"
[ "$ms" -lt 5000 ] || fail "apply took $ms ms against a hung charon (bound: 5000)"
grep -qF "$HUNG" "$WORK/a/apply.err" || fail "the error does not name the socket"
grep -qF "charon did not answer version within 2 s" "$WORK/a/apply.err" || fail "the error does not say charon did not answer"
echo "PASS"
