#!/usr/bin/env bash
# WAN failover under avpnd (docs/uplinks.md). Spoke branch1 of
# examples/netns-demo gets two uplinks through two routers to hub hq:
#
#   branch1 wan0 203.0.113.2 --- r0 --- 10.255.0.0/30 ---+
#                                                         hq (192.0.2.1 on its wan0)
#   branch1 wan1 198.51.100.2 -- r1 --- 10.255.1.0/30 ---+
#
# Both uplinks have a default route in branch1's main table (wan0 metric 100,
# wan1 metric 200); nothing but avpnd's steering decides which one the
# tunnel's packets take. A ping every 10 ms from branch1's Corp LAN to hq's
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

DEMO=$TOPO_WORK/demo
cp -r "$SRC/examples/netns-demo" "$DEMO"
chmod 600 "$DEMO"/keys/*.key
sed -i 's|^uplinks = \["wan0"\]|uplinks = ["wan0", "wan1"]|' "$DEMO/sites/branch1.toml"
sed -i "s|^wireguard_backend = .*|wireguard_backend = \"$BACKEND\"|" "$DEMO/sites/branch1.toml" "$DEMO/sites/hq.toml"
sed -i 's|contact = "192.0.2.11:51820"|contact = "203.0.113.2:51820"|' "$DEMO/members.toml"
METRICS=127.0.0.1:9586
sed -i "s|^key_file = \"../keys/branch1.key\"|&\nmetrics = \"$METRICS\"|" "$DEMO/sites/branch1.toml"
grep -q '^uplinks = \["wan0", "wan1"\]' "$DEMO/sites/branch1.toml" || fail "branch1.toml: uplinks not rewritten"
grep -q "^metrics = " "$DEMO/sites/branch1.toml" || fail "branch1.toml: metrics not set"
scrape() {
  topo_exec branch1 python3 -c 'import sys,urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())' \
    "http://$METRICS/metrics"
}

ns() { topo_ns "$1"; }
for n in hq branch1 r0 r1; do
  ip netns add "$(ns $n)"
  ip -n "$(ns $n)" link set lo up
  ip netns exec "$(ns $n)" sysctl -qw net.ipv4.ip_forward=1
done
# link A IFA B IFB ADDR_A/LEN ADDR_B/LEN: a veth between two namespaces.
link() {
  ip link add "$2" netns "$(ns "$1")" type veth peer name "$4" netns "$(ns "$3")"
  ip -n "$(ns "$1")" addr add "$5" dev "$2"
  ip -n "$(ns "$3")" addr add "$6" dev "$4"
  ip -n "$(ns "$1")" link set "$2" up
  ip -n "$(ns "$3")" link set "$4" up
}
link branch1 wan0 r0 s0 203.0.113.2/24 203.0.113.1/24
link branch1 wan1 r1 s1 198.51.100.2/24 198.51.100.1/24
link r0 h0 hq up0 10.255.0.1/30 10.255.0.2/30
link r1 h1 hq up1 10.255.1.1/30 10.255.1.2/30
# hq's contact address on a veth parked inside hq (carrier, no peer to reach).
ip -n "$(ns hq)" link add wan0 type veth peer name wan0p
ip -n "$(ns hq)" addr add 192.0.2.1/32 dev wan0
ip -n "$(ns hq)" link set wan0 up
ip -n "$(ns hq)" link set wan0p up
ip -n "$(ns hq)" route add 203.0.113.0/24 via 10.255.0.1
ip -n "$(ns hq)" route add 198.51.100.0/24 via 10.255.1.1
ip -n "$(ns r0)" route add 192.0.2.1/32 via 10.255.0.2
ip -n "$(ns r1)" route add 192.0.2.1/32 via 10.255.1.2
ip -n "$(ns branch1)" route add default via 203.0.113.1 dev wan0 metric 100
ip -n "$(ns branch1)" route add default via 198.51.100.1 dev wan1 metric 200
# LANs with carrier (a veth pair inside the site), as topo_site makes them.
lan() {
  ip -n "$(ns "$1")" link add "$2" type veth peer name "${2}p"
  ip -n "$(ns "$1")" addr add "$3" dev "$2"
  ip -n "$(ns "$1")" link set "$2" up
  ip -n "$(ns "$1")" link set "${2}p" up
}
lan hq lan0 10.0.1.1/24; lan hq lan1 10.0.9.1/24
lan branch1 lan0 10.1.1.1/24; lan branch1 lan1 10.1.2.1/24

step "hq applied once, branch1 under avpnd ($BACKEND WireGuard)"
topo_avpn hq apply "$DEMO/sites/hq.toml" >/dev/null || fail "apply hq"
topo_spawn branch1 "$AVPND" "$DEMO/sites/branch1.toml" --state-dir "$TOPO_WORK/state-branch1" \
  --vici-socket "$TOPO_WORK/no-charon.vici" --control-socket "$(topo_avpnd_socket branch1)" \
  --resync 3600 --quiet-ms 100 2>"$LOG" >/dev/null
topo_wait_for "first full apply" 20 log_has "full apply (start): "
topo_ping branch1 10.1.1.1 10.0.1.1 || fail "no ping branch1 Corp -> hq Corp"

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

# ping_start NAME / ping_stop NAME -> "sent received" of a 10 ms ping
# through the tunnel, Corp to Corp.
ping_start() {
  topo_spawn branch1 ping -n -q -i 0.01 -W 1 -I 10.1.1.1 10.0.1.1 >"$TOPO_WORK/ping-$1" 2>&1
  PING_PID=$TOPO_SPAWNED
}
ping_stop() {
  kill -INT "$PING_PID"
  wait "$PING_PID" || true
  PING_SUMMARY=$(awk '/packets transmitted/ {print $1, $4}' "$TOPO_WORK/ping-$1")
  [ -n "$PING_SUMMARY" ] || fail "ping $1 printed no summary: $(cat "$TOPO_WORK/ping-$1")"
}
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
