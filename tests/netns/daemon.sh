#!/usr/bin/env bash
# avpnd keeps a site converged. Hub hq of examples/netns-demo runs under
# avpnd (wireguard-go), spoke branch1 is applied once with avpnctl:
# - the first full apply brings the tunnel up (ping), and avpnctl apply is
#   refused while avpnd runs, whatever state directory it is given (even
#   after avpnd's own was removed): one writer per network namespace;
# - an avpn route deleted by hand comes back within seconds (drift repair),
#   while an operator's own route changes trigger nothing;
# - SIGHUP after branch1 exports a second VLAN: an incremental change of
#   exactly that peer (its allowed IPs and one route), and the new VLAN
#   answers pings;
# - SIGHUP with a broken config: errors named, running state kept;
# - a WireGuard peer removed by hand (wg set ... remove; no notification
#   reports it) is back within seconds, found by avpnd's device poll;
# - table inet avpn deleted, then given an extra rule, by hand (nftables
#   reports neither on rtnetlink) is back as applied within seconds, found
#   by the same poll;
# - a route deleted by hand while avpnd applies a SIGHUP change of 2,000
#   new spokes is repaired right after that apply, not at the resync
#   (avpnd keeps the notifications that arrive while it applies);
# - SIGTERM: avpnd exits 0 and the tunnel stays; avpnctl down cleans up.
set -euo pipefail
SRC=${AVPN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BIN=${AVPN_BIN:-$SRC/build/bin}
AVPNCTL=$BIN/avpnctl
AVPND=$BIN/avpnd
# shellcheck source=lib/topology.sh
. "$SRC/tests/netns/lib/topology.sh"
topo_require jq wireguard-go ping nft
[ -x "$AVPND" ] || { echo "FAIL: $AVPND not built"; exit 1; }
topo_init
topo_demo_copy "$SRC"
# Room in the tunnel subnet for the 2,000 extra spokes of the large change
# below (every site sees the same member list, so all agree on it).
sed -i 's|^tunnel_subnet = "100.64.0.0/24"|tunnel_subnet = "100.64.0.0/16"|' "$DEMO/members.toml"
fail() { [ -f "${LOG:-}" ] && sed 's/^/   avpnd| /' "$LOG" >&2; topo_fail "$@"; }
step() { echo "== $*"; }
TOPO_AVPN_ARGS="--vici-socket $TOPO_WORK/no-charon.vici"
avpn() { topo_avpn "$@"; }
hq_ns=$(topo_ns hq)
LOG=$TOPO_WORK/avpnd.log

log_has() { grep -q "$1" "$LOG"; }
ms_now() { echo $(($(date +%s%N) / 1000000)); }
log_count() { grep -c "$1" "$LOG" || true; }
avpn_route() { grep -q "^$1 " <<<"$(ip -n "$hq_ns" route show table all proto 147)"; }

step "avpnd starts on hq; branch1 applied by avpnctl"
avpn branch1 apply "$DEMO/sites/branch1.toml" >/dev/null || fail "apply branch1"
# Its control socket is not the one avpnctl asks (topo_avpnd_socket), so
# avpnctl runs one-shot beside it and meets the lock (control.sh tests the
# socket).
topo_spawn hq "$AVPND" "$DEMO/sites/hq.toml" --state-dir "$TOPO_WORK/state-hq" \
  --vici-socket "$TOPO_WORK/no-charon.vici" --control-socket "$TOPO_WORK/hq-elsewhere.sock" \
  --resync 3600 --quiet-ms 100 2>"$LOG" >/dev/null
pid=$TOPO_SPAWNED
topo_wait_for "first full apply" 20 log_has "full apply (start): "
topo_ping branch1 10.1.1.1 10.0.1.1 || fail "no ping branch1 -> hq"
echo "   $(grep 'full apply (start)' "$LOG")"
rc=0; avpn hq apply "$DEMO/sites/hq.toml" >/dev/null 2>&1 || rc=$?
[ "$rc" = 4 ] || fail "a one-shot avpnctl apply beside avpnd exited $rc, not 4 (locked)"
# One writer per network namespace, whatever state directory it was given:
# another directory, or avpnd's own removed under it, changes nothing.
before=$(topo_avpn_dump hq)
out=$(ip netns exec "$hq_ns" "$AVPNCTL" apply "$DEMO/sites/hq.toml" --state-dir "$TOPO_WORK/state-other" \
  --vici-socket "$TOPO_WORK/no-charon.vici" --control-socket "$(topo_avpnd_socket hq)" 2>&1) && fail "apply with another state directory beside avpnd succeeded"
[[ $out == *"avpnd (pid $pid)"* ]] || fail "the refusal does not name avpnd (pid $pid): $out"
mv "$TOPO_WORK/state-hq" "$TOPO_WORK/state-hq.aside"  # as if removed; put back for the rest of the test
rc=0; ip netns exec "$hq_ns" "$AVPNCTL" down --state-dir "$TOPO_WORK/state-hq" \
  --control-socket "$(topo_avpnd_socket hq)" >/dev/null 2>&1 || rc=$?
mv "$TOPO_WORK/state-hq.aside" "$TOPO_WORK/state-hq"
[ "$rc" = 4 ] || fail "down beside avpnd after its state directory was removed exited $rc, not 4"
[ "$(topo_avpn_dump hq)" = "$before" ] || fail "a refused writer changed the kernel"

step "drift: an avpn route deleted by hand is repaired"
table=$(ip -n "$hq_ns" route show table all proto 147 | awk '$1 == "10.1.1.0/24" {for (i=1;i<NF;i++) if ($i=="table") print $(i+1)}')
[ -n "$table" ] || fail "hq has no avpn route to 10.1.1.0/24"
lines_before=$(wc -l <"$LOG")
ip -n "$hq_ns" route del 10.1.1.0/24 table "$table"
topo_wait_for "route 10.1.1.0/24 back in table $table" 5 avpn_route 10.1.1.0/24
# The kernel shows the route back before avpnd has logged its apply: wait
# for the line (a run under load checked too early and failed).
# The repair is the first apply after the drift line that names the route
# (an earlier drift, e.g. of the link avpnd just made, has its own apply).
# One awk, no pipe: under pipefail a reader that stops early fails the writer.
repair_line() {
  awk -v from="$lines_before" -v drift="drift: route in table $table removed" '
    NR > from && index($0, drift) { seen = 1 }
    seen && index($0, "full apply (kernel changed by another process): ") { print; found = 1; exit }
    END { exit !found }' "$LOG"
}
topo_wait_for "the repair's log line" 5 repair_line
[[ $(repair_line) == *": 1 ops (1 created"* ]] || fail "the repair wrote more than the route: $(repair_line)"
topo_ping branch1 10.1.1.1 10.0.1.1 || fail "no ping after the repair"
repairs=$(log_count "kernel changed by another process")
ip -n "$hq_ns" route add 198.51.100.0/24 via 192.0.2.254 dev wan0
ip -n "$hq_ns" rule add priority 6000 lookup 200
sleep 1
[ "$(log_count 'kernel changed by another process')" = "$repairs" ] || fail "an operator's own route or rule set off a repair"

step "SIGHUP: branch1 exports its Lab VLAN too"
sed -i 's|^exports = \["10.1.1.0/24"\]|exports = ["10.1.1.0/24", "10.1.2.0/24"]|' "$DEMO/members.toml"
sed -i 's/^permitted_vlans = \["Corp"\]/permitted_vlans = ["Corp", "Lab"]/' "$DEMO/sites/branch1.toml"
avpn branch1 apply "$DEMO/sites/branch1.toml" >/dev/null || fail "re-apply branch1"
kill -HUP "$pid"
topo_wait_for "the change" 10 log_has "change (configuration reloaded): "
line=$(grep "change (configuration reloaded): " "$LOG" | tail -1)
echo "   $line"
[[ $line == *"1 peers changed, 2 ops (1 created, 1 updated, 0 removed)"* ]] ||
  fail "the change was not exactly branch1's peer and one route: $line"
avpn_route 10.1.2.0/24 || fail "no route to branch1's Lab"
topo_ping hq 10.0.1.1 10.1.2.1 || fail "no ping hq -> branch1 Lab"

step "SIGHUP with a broken config keeps the running state"
cp "$DEMO/sites/hq.toml" "$TOPO_WORK/hq.good"
sed -i 's/^role = "hub"/role = "bogus"/' "$DEMO/sites/hq.toml"
kill -HUP "$pid"
topo_wait_for "the refusal" 5 log_has "reload: the configuration has errors"
grep -q "hq.toml:[0-9]*:[0-9]*" "$LOG" || fail "the config error names no file:line:column"
topo_ping branch1 10.1.1.1 10.0.1.1 || fail "the tunnel went down after a bad reload"
cp "$TOPO_WORK/hq.good" "$DEMO/sites/hq.toml"

step "WireGuard: a peer removed by hand is back within seconds (--resync 3600)"
wg_if=$(ip -n "$hq_ns" -o link show | awk -F': ' '$2 ~ /^avpn-/ {print $2; exit}' | sed 's/@.*//')
b1key=$(awk -F'"' '$0 ~ /^name = "branch1"/ {f = 1} f && /^public_key/ {print $2; exit}' "$DEMO/members.toml")
[ -n "$wg_if" ] && [ -n "$b1key" ] || fail "no WireGuard interface or no key for branch1"
wg_peer() { topo_exec hq wg show "$wg_if" peers | grep -qxF "$1"; }
wg_peer "$b1key" || fail "branch1 is no peer of $wg_if"
t0=$(ms_now)
topo_exec hq wg set "$wg_if" peer "$b1key" remove
topo_wait_for "branch1's peer back" 10 wg_peer "$b1key"
t1=$(ms_now)
echo "   peer back after $((t1 - t0)) ms"
[ $((t1 - t0)) -lt 10000 ] || fail "the peer came back after $((t1 - t0)) ms, not within 10 s"
topo_wait_for "the repair's log line" 5 log_has "full apply (WireGuard changed by another process): "
log_has "full apply (WireGuard changed by another process): 1 ops" || fail "the repair was not one op"
log_has "drift: WireGuard $wg_if: peer $b1key (branch1) is missing" || fail "no drift line naming the missing peer"
# The re-added peer has no session (and a hub knows no spoke's endpoint).
# branch1 would hand shake again by itself only 15 s after its packets stop
# being answered (WireGuard's keepalive + rekey timeouts); re-adding hq there
# makes its first packet start a handshake.
hqkey=$(awk -F'"' '$0 ~ /^name = "hq"/ {f = 1} f && /^public_key/ {print $2; exit}' "$DEMO/members.toml")
topo_exec branch1 wg set "$wg_if" peer "$hqkey" remove
avpn branch1 apply "$DEMO/sites/branch1.toml" >/dev/null || fail "re-apply branch1"
topo_ping branch1 10.1.1.1 10.0.1.1 || fail "no ping through the restored peer"

step "table inet avpn: deleted, then changed by hand, is repaired within seconds (--resync 3600)"
# nftables raises no rtnetlink notification: avpnd polls the table with the
# WireGuard devices and compares nft's listing with the last apply's.
avpn_table() { ip netns exec "$hq_ns" nft list table inet avpn 2>/dev/null | grep -v 'packets'; }
table_was=$(avpn_table)
[ -n "$table_was" ] || fail "avpnd installed no table inet avpn"
table_is() { [ "$(avpn_table)" = "$table_was" ]; }
t0=$(ms_now)
ip netns exec "$hq_ns" nft delete table inet avpn
topo_wait_for "table inet avpn back" 10 table_is
echo "   table back after $(($(ms_now) - t0)) ms"
topo_wait_for "its drift line" 5 log_has "drift: table inet avpn is missing"
ip netns exec "$hq_ns" nft insert rule inet avpn rules accept
t0=$(ms_now)
topo_wait_for "the extra rule gone" 10 table_is
echo "   extra rule gone after $(($(ms_now) - t0)) ms"
topo_wait_for "its drift line" 5 log_has "drift: table inet avpn differs from the last apply"

step "a route deleted while avpnd applies a change of 2,000 spokes is repaired after it"
cp "$DEMO/members.toml" "$TOPO_WORK/members.small"
# Keys need no private half here: 32 bytes in base64 that differ per spoke.
b64=ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/
for i in $(seq 0 1999); do
  printf '\n[[member]]\nname = "s%d"\nrole = "spoke"\npublic_key = "AVPNtestspokeAVPNtestspokeAVPNtestspoke%s%s%sA="\nexports = ["10.%d.%d.0/24"]\nhubs = ["hq"]\n' \
    "$i" "${b64:$((i / 4096 % 64)):1}" "${b64:$((i / 64 % 64)):1}" "${b64:$((i % 64)):1}" $((100 + i / 256)) $((i % 256))
done >>"$DEMO/members.toml"
applied_before=$(log_count "(configuration reloaded")
reads_before=$(log_count "reload: .* read; applying")
th=$(ms_now)
kill -HUP "$pid"
# As soon as avpnd has read the configuration and starts planning and
# applying (no sleep: the window is the apply itself).
deadline=$((SECONDS + 30))
until [ "$(log_count "reload: .* read; applying")" -gt "$reads_before" ]; do
  [ "$SECONDS" -lt "$deadline" ] || fail "avpnd did not read the configuration within 30 s"
done
lines_before=$(wc -l <"$LOG")
ip -n "$hq_ns" route del 10.1.1.0/24 table "$table"
t0=$(ms_now)
[ "$(log_count "(configuration reloaded")" = "$applied_before" ] ||
  fail "the apply was over before the route was deleted: this step did not test a change made during it"
echo "   route deleted $((t0 - th)) ms after SIGHUP, while avpnd applied"
applied_since() { [ "$(log_count "(configuration reloaded")" -gt "$1" ]; }
topo_wait_for "the apply of 2,000 spokes" 60 applied_since "$applied_before"
echo "   $(grep "(configuration reloaded" "$LOG" | tail -1)"
topo_wait_for "route 10.1.1.0/24 back after the apply" 10 avpn_route 10.1.1.0/24
t1=$(ms_now)
echo "   route back $((t1 - t0)) ms after it was deleted"
grep -A3 "(configuration reloaded" "$LOG" | tail -3 | grep -q "drift: route in table $table removed" ||
  fail "no drift line for the route after the apply"
topo_ping branch1 10.1.1.1 10.0.1.1 || fail "no ping after the repair"
cp "$TOPO_WORK/members.small" "$DEMO/members.toml"
applied_before=$(log_count "(configuration reloaded")
kill -HUP "$pid"
topo_wait_for "the 2,000 spokes removed again" 60 applied_since "$applied_before"
topo_ping branch1 10.1.1.1 10.0.1.1 || fail "no ping after the spokes were removed"

step "SIGTERM: avpnd exits 0, the tunnel stays; down cleans up"
kill -TERM "$pid"
rc=0; wait "$pid" || rc=$?
[ "$rc" = 0 ] || fail "avpnd exited $rc on SIGTERM"
log_has "stopping; tunnels stay up" || fail "no stop line"
topo_ping branch1 10.1.1.1 10.0.1.1 || fail "the tunnel went down with avpnd"
for s in hq branch1; do avpn "$s" down >/dev/null || fail "down $s"; done
[ -z "$(topo_avpn_dump hq)" ] || fail "hq keeps avpn objects after down: $(topo_avpn_dump hq)"
! ip netns exec "$hq_ns" nft list table inet avpn >/dev/null 2>&1 || fail "hq keeps table inet avpn after down"
echo "PASS: avpnd applied, repaired drift (also a removed WireGuard peer, table inet avpn deleted and changed, and a change made during an apply), applied one peer's change incrementally and kept state over a bad reload"
