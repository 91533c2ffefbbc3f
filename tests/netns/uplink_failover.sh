#!/usr/bin/env bash
# WAN failover under avpnd (docs/uplinks.md). Spoke branch1 of
# examples/netns-demo gets two uplinks through two routers to hub hq
# (lib/two_uplinks.sh). A ping every 10 ms from branch1's Corp LAN to hq's
# runs through the tunnel while:
#   (a) r0's side of wan0 goes down (branch1's wan0 loses its carrier): the
#       tunnel moves to wan1; hq sees branch1's endpoint on wan1's address;
#   (c) it comes back: the tunnel returns to wan0 once, after the 15 s hold.
# Each prints its interruption (lost pings x 10 ms) and must stay under the
# issue's target (1 s after a carrier loss). (b), a silent loss upstream,
# needs the uplink probes, which are not built yet (docs/uplinks.md).
# AVPN_WG_BACKEND (userspace, the default, or kernel) picks the transport.
# AVPN_FAILOVER_LIMIT_MS (default 1000, the target) is what (a) must stay
# under; the VM tier, an emulated CPU, sets its own margin.
set -euo pipefail
SRC=${AVPN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BIN=${AVPN_BIN:-$SRC/build/bin}
AVPNCTL=$BIN/avpnctl
AVPND=$BIN/avpnd
# shellcheck source=lib/topology.sh
. "$SRC/tests/netns/lib/topology.sh"
BACKEND=${AVPN_WG_BACKEND:-userspace}
LIMIT_MS=${AVPN_FAILOVER_LIMIT_MS:-1000}
topo_require jq ping wg python3
if [ "$BACKEND" = kernel ]; then
  probe=avpn-wgprobe-$$
  ip netns add "$probe"
  ok=0; ip -n "$probe" link add wg0 type wireguard 2>/dev/null && ok=1
  ip netns del "$probe"
  [ "$ok" = 1 ] || topo_skip "this kernel has no WireGuard (the VM tier runs it)"
else
  topo_require wireguard-go
fi
[ -x "$AVPND" ] || { echo "FAIL: $AVPND not built"; exit 1; }
topo_init
LOG=$TOPO_WORK/avpnd.log
fail() { [ -f "$LOG" ] && sed 's/^/   avpnd| /' "$LOG" >&2; topo_fail "$@"; }
step() { echo "== $*"; }
ms_now() { echo $(($(date +%s%N) / 1000000)); }
log_has() { grep -q "$1" "$LOG"; }
log_count() { grep -c "$1" "$LOG" || true; }

# shellcheck source=lib/two_uplinks.sh
. "$SRC/tests/netns/lib/two_uplinks.sh"
two_uplinks_make
two_uplinks_start

# The steering as planned: both uplink tables, the three rule steps, the
# device's mark on wan0's table.
rules=$(ip -n "$(ns branch1)" rule show)
for want in "7100:.*lookup main suppress_prefixlength 0" "7102:.*from 203.0.113.2 lookup 7200" \
  "7102:.*from 198.51.100.2 lookup 7201" "7101:.*fwmark 0x1c20 lookup 7200" "7101:.*fwmark 0x1c21 lookup 7201"; do
  grep -q "^$want" <<<"$rules" || fail "no rule like '$want' in: $rules"
done
ip -n "$(ns branch1)" route show table 7200 | grep -q "^default via 203.0.113.1 dev wan0 proto 147" ||
  fail "table 7200: $(ip -n "$(ns branch1)" route show table 7200)"
ip -n "$(ns branch1)" route show table 7201 | grep -q "^default via 198.51.100.1 dev wan1 proto 147" ||
  fail "table 7201: $(ip -n "$(ns branch1)" route show table 7201)"
fwmark() { topo_exec branch1 wg show avpn-demo fwmark; }
hq_sees() { topo_exec hq wg show avpn-demo endpoints | grep -q "[[:space:]]$1:51820$"; }
[ "$(fwmark)" = 0x1c20 ] || fail "fwmark $(fwmark), not 0x1c20 (table 7200, wan0)"
hq_sees 203.0.113.2 || fail "hq does not see branch1 at 203.0.113.2: $(topo_exec hq wg show avpn-demo endpoints)"
echo "   rules 7100-7102 and tables 7200/7201 in place; tunnel on wan0 (fwmark 0x1c20)"

status_uplinks() { topo_avpn branch1 status --json | jq -c '[.avpnd.uplinks[] | {name, healthy, why, active}]'; }

step "(a) wan0 loses its carrier (r0's side down)"
ping_start a
sleep 2
ip -n "$(ns r0)" link set s0 down
cut=$(ms_now)
topo_wait_for "the move to wan1" 5 log_has "uplink: tunnels moved from wan0 to wan1"
moved=$(($(ms_now) - cut))
sleep 3
ping_stop a
read -r sent got <<<"$PING_SUMMARY"
lost=$((sent - got))
echo "   moved within ${moved} ms: $(grep 'uplink: tunnels moved from wan0 to wan1' "$LOG")"
echo "   $(grep 'uplink: tunnels on wan1 ' "$LOG" || fail "(a) avpnd did not log the failover's end")"
echo "   10 ms ping: $sent sent, $got answered: interruption $((lost * 10)) ms (target < 1000 ms, asserted < $LIMIT_MS ms)"
[ "$got" -gt 0 ] || fail "(a) no ping answered at all"
[ $((lost * 10)) -lt "$LIMIT_MS" ] || fail "(a) interruption $((lost * 10)) ms, not under $LIMIT_MS ms"
[ "$(fwmark)" = 0x1c21 ] || fail "(a) fwmark $(fwmark), not 0x1c21 (table 7201, wan1)"
hq_sees 198.51.100.2 || fail "(a) hq does not see branch1 at wan1's 198.51.100.2: $(topo_exec hq wg show avpn-demo endpoints)"
st=$(status_uplinks) || fail "(a) avpnctl status failed"
echo "   status: $st"
[ "$st" = '[{"name":"wan0","healthy":false,"why":"carrier lost","active":false},{"name":"wan1","healthy":true,"why":"","active":true}]' ] ||
  fail "(a) status uplinks: $st"
m=$(scrape) || fail "(a) metrics scrape failed"
echo "   metrics: $(grep -E '^avpn_uplink_(up|active|failovers_total|last_failover_seconds)' <<<"$m" | tr '\n' ' ')"
for want in 'avpn_uplink_up{uplink="wan0"} 0' 'avpn_uplink_up{uplink="wan1"} 1' 'avpn_uplink_active{uplink="wan1"} 1' \
  'avpn_uplink_failovers_total 1'; do
  grep -qxF "$want" <<<"$m" || fail "(a) metrics lack '$want'"
done
last=$(awk '$1 == "avpn_uplink_last_failover_seconds" {print $2}' <<<"$m")
[ -n "$last" ] && awk -v d="$last" 'BEGIN {exit !(d > 0 && d < 1)}' || fail "(a) last failover took '$last' s, not in (0, 1)"

step "(c) wan0 comes back: the tunnel returns after the failback hold, once"
ping_start c
sleep 1
ip -n "$(ns r0)" link set s0 up
back=$(ms_now)
topo_wait_for "the failback" 25 log_has "uplink: tunnels moved from wan1 to wan0 (failback"
held=$(($(ms_now) - back))
sleep 3
ping_stop c
read -r sent got <<<"$PING_SUMMARY"
lost=$((sent - got))
echo "   failback after ${held} ms: $(grep 'uplink: tunnels moved from wan1 to wan0' "$LOG")"
echo "   10 ms ping: $sent sent, $got answered: interruption $((lost * 10)) ms"
[ "$held" -ge 14500 ] || fail "(c) failback after ${held} ms, before the 15 s hold"
[ "$(log_count 'uplink: tunnels moved from wan')" = 2 ] || fail "(c) tunnels moved $(log_count 'uplink: tunnels moved from wan') times between the uplinks, not twice"
[ $((lost * 10)) -lt "$LIMIT_MS" ] || fail "(c) interruption $((lost * 10)) ms during the failback"
[ "$(fwmark)" = 0x1c20 ] || fail "(c) fwmark $(fwmark), not 0x1c20 (wan0)"
hq_sees 203.0.113.2 || fail "(c) hq does not see branch1 back at 203.0.113.2"

step "down: no avpn rule or uplink table left"
topo_avpn branch1 down >/dev/null || fail "down through avpnd"
left=$(ip -n "$(ns branch1)" rule show | grep -E '^71(0[0-9]):' || true)
[ -z "$left" ] || fail "rules left after down: $left"
[ -z "$(ip -n "$(ns branch1)" route show table all proto 147)" ] || fail "avpn routes left after down"
echo "PASS"
