#!/usr/bin/env bash
# `down` while charon accepts but never answers (issue 12, case 8). Site A
# is applied for real (a WireGuard device through wireguard-go, its address,
# routes and rule; tunnel t1 loaded in its charon); then `down` runs against
# a test-owned socket that accepts and never answers. As an operator would
# want: the kernel part still goes (dump equal to before the apply), charon's
# connection stays loaded and recorded, the output says so once and never
# "no changes", exit non-zero, within 5 s. A second `down` against the real
# charon unloads t1 and clears the record.
set -u
source "$(dirname "$0")/lib/sites.sh"
source "$(dirname "$0")/lib/hung_vici.sh"
sites_init
require_avpnctl
trap 'rc=$?; stop_wireguard_go; (exit $rc); sites_cleanup' EXIT

make_ns a
make_ns b
link_sites a wan0 192.0.2.1/24 b wan0 192.0.2.2/24
spoke_site
start_charon a
HUNG="$WORK/a/hung.vici"
start_hung_vici "$HUNG"

settle_dad
kernel_dump a >"$WORK/a/before.ip"
apply_a 0
swanctl_at a --list-conns | grep -q '^avpn-t1:' || fail "avpn-t1 not loaded by the apply"
in_ns a ip link show "avpn-u$TAG" >/dev/null 2>&1 || fail "the apply made no WireGuard device"

note "down against a charon that accepts and never answers"
t0=$(now)
in_ns a "$AVPNCTL" down --state-dir "$WORK/a/state" --vici-socket "$HUNG" >"$WORK/a/down.out" 2>"$WORK/a/down.err"
rc=$?
ms=$(elapsed_ms "$t0")
note "down exited $rc after $ms ms"
cat "$WORK/a/down.out" "$WORK/a/down.err"
[ "$rc" -ne 0 ] || fail "down with a hung charon exited 0"
[ "$ms" -lt 5000 ] || fail "down took $ms ms against a hung charon (bound: 5000)"
grep -q "no changes" "$WORK/a/down.out" "$WORK/a/down.err" && fail "down says 'no changes' and then fails"
n=$(cat "$WORK/a/down.out" "$WORK/a/down.err" | grep -c "did not answer version within 2 s")
expect "times the hung charon is reported" "$n" 1
grep -qF "$HUNG" "$WORK/a/down.err" || fail "the error does not name the socket"
grep -q "avpn-t1" "$WORK/a/down.err" || fail "the error does not name the connection left in charon"
grep -q "stay recorded" "$WORK/a/down.err" || fail "the error does not say the connection stays recorded"
grep -q "deleted" "$WORK/a/down.out" || fail "the report does not say what was removed from the kernel"
settle_dad
kernel_dump a >"$WORK/a/after.ip"
diff -u "$WORK/a/before.ip" "$WORK/a/after.ip" || fail "the kernel still has avpn's objects after down"
note "ok: kernel as before the apply"
swanctl_at a --list-conns | grep -q '^avpn-t1:' || fail "avpn-t1 gone from charon: it was never asked"
[ -e "$WORK/a/state/applied.state" ] || fail "the record is gone: the next down could not unload avpn-t1"

note "down again, charon answering"
avpnctl_a down >"$WORK/a/down2.out" 2>"$WORK/a/down2.err" || fail "second down: $(cat "$WORK/a/down2.out" "$WORK/a/down2.err")"
cat "$WORK/a/down2.out" "$WORK/a/down2.err"
grep -q "unloaded avpn-t1" "$WORK/a/down2.out" || fail "the second down did not unload avpn-t1"
swanctl_at a --list-conns | grep -q '^avpn-t1:' && fail "avpn-t1 still loaded after the second down"
[ ! -e "$WORK/a/state/applied.state" ] || fail "the record stays after a complete down"
kernel_dump a >"$WORK/a/after2.ip"
diff -u "$WORK/a/before.ip" "$WORK/a/after2.ip" || fail "the second down changed the kernel"
echo "PASS"
