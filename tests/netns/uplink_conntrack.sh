#!/usr/bin/env bash
# Conntrack after an uplink switch (docs/uplinks.md, "Conntrack"): the
# topology of uplink_failover.sh (lib/two_uplinks.sh) with a masquerade on
# branch1's uplinks, as a router has, and a LAN host (lanhost) behind it.
#   (a) wan0 loses its carrier: the tunnel moves to wan1; avpnd deletes the
#       tunnel port's entries on wan0, its new entry is on wan1, the ping
#       through the tunnel goes on, and two entries to port 51820 that are
#       not avpn's (lanhost's, masqueraded to wan0's address and port 51820,
#       and the router's own from another port) stay;
#   (c) wan0 back: after the failback hold the same the other way round.
# Entries are read through avpn's own ctnetlink dump (ct_list). r1 counts
# packets that leave wan1 with wan0's address, the signature of a stale
# entry's NAT (printed: a measurement, docs/uplinks.md).
# AVPN_WG_BACKEND as in uplink_failover.sh; AVPN_MASQUERADE (default
# "masquerade") is the NAT statement, e.g. "masquerade fully-random" to
# rewrite every source port.
set -euo pipefail
SRC=${AVPN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BIN=${AVPN_BIN:-$SRC/build/bin}
AVPNCTL=$BIN/avpnctl
AVPND=$BIN/avpnd
CT_LIST=$BIN/ct_list
# shellcheck source=lib/topology.sh
. "$SRC/tests/netns/lib/topology.sh"
BACKEND=${AVPN_WG_BACKEND:-userspace}
LIMIT_MS=${AVPN_FAILOVER_LIMIT_MS:-1000}
MASQUERADE=${AVPN_MASQUERADE:-masquerade}
topo_require jq ping wg python3 nft
if [ "$BACKEND" = kernel ]; then
  why=$(topo_wireguard_missing)
  [ -z "$why" ] || topo_skip "$why"
else
  topo_require wireguard-go
fi
for b in "$AVPND" "$CT_LIST"; do [ -x "$b" ] || { echo "FAIL: $b not built"; exit 1; }; done
topo_init
LOG=$TOPO_WORK/avpnd.log
fail() {
  [ -f "$LOG" ] && sed 's/^/   avpnd| /' "$LOG" >&2
  cts | sed 's/^/   branch1 conntrack| /' >&2 || true
  topo_fail "$@"
}
step() { echo "== $*"; }
log_has() { grep -q "$1" "$LOG"; }
log_count() { grep -c "$1" "$LOG" || true; }
# swept N TO: the sweep after a move to TO has run N times (the start, a
# switch from none, sweeps nothing).
swept() { [ "$(log_count "uplink: conntrack: .* not on $2 deleted")" -ge "$1" ]; }
cts() { ip netns exec "$(topo_ns branch1)" "$CT_LIST"; }
has_ct() { cts | grep -q "^udp $1"; }

# shellcheck source=lib/two_uplinks.sh
. "$SRC/tests/netns/lib/two_uplinks.sh"
two_uplinks_make
# Before the tunnel's first packet, so its entry is the masquerade's.
ip netns exec "$(ns branch1)" nft -f - <<NFT
table ip avpn_test_nat {
  chain post { type nat hook postrouting priority srcnat; oifname { "wan0", "wan1" } $MASQUERADE; }
}
NFT
ip netns exec "$(ns r1)" nft -f - <<'NFT'
table ip avpn_test_count {
  chain through { type filter hook forward priority 0; iifname "s1" ip saddr 203.0.113.2 counter; }
}
NFT
ip netns add "$(ns lanhost)"
ip -n "$(ns lanhost)" link set lo up
veth_between branch1 lan3 lanhost eth0 10.1.3.1/24 10.1.3.2/24
ip -n "$(ns lanhost)" route add default via 10.1.3.1
two_uplinks_start

# udp_from NS SRC:PORT DST:PORT: three datagrams (nobody answers them).
udp_from() {
  ip netns exec "$(ns "$1")" python3 -c 'import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
a, p = sys.argv[1].rsplit(":", 1); s.bind((a, int(p)))
a, p = sys.argv[2].rsplit(":", 1)
for _ in range(3): s.sendto(b"x", (a, int(p)))' "$2" "$3"
}
# ping_gap CASE: the interruption of the last ping_stop, under LIMIT_MS.
ping_gap() {
  local sent got
  read -r sent got <<<"$PING_SUMMARY"
  echo "   10 ms ping: $sent sent, $got answered: longest time between replies $PING_GAP_MS ms (asserted < $LIMIT_MS ms)"
  [ "$got" -gt 0 ] || fail "($1) no ping answered"
  [ "$PING_GAP_MS" -lt "$LIMIT_MS" ] || fail "($1) interruption $PING_GAP_MS ms"
}
stale_nat() { ip netns exec "$(ns r1)" nft list table ip avpn_test_count | grep -o 'packets [0-9]*' | awk '{print $2}'; }

W0=203.0.113.2 W1=198.51.100.2 HQ=192.0.2.1
has_ct "$W0:51820 -> $HQ:51820 reply $HQ:51820 -> $W0:" || fail "no tunnel entry on wan0 before the cut"
echo "   before: $(cts | grep -c '') UDP entries; the tunnel's: $(cts | grep "$W0:51820 -> $HQ")"

step "(a) wan0 loses its carrier: the tunnel's entries on wan0 go, others stay"
udp_from lanhost 10.1.3.2:51820 203.0.113.1:51820
udp_from branch1 "$W0:40000" 203.0.113.1:51820
LAN0="10.1.3.2:51820 -> 203.0.113.1:51820 reply 203.0.113.1:51820 -> $W0:"
OWN0="$W0:40000 -> 203.0.113.1:51820"
has_ct "$LAN0" || fail "(a) lanhost's entry not masqueraded to wan0: $(cts)"
ping_start a
sleep 1
ip -n "$(ns r0)" link set s0 down
topo_wait_for "the sweep after the move to wan1" 5 swept 1 wan1
sleep 2
ping_stop a
echo "   $(grep 'uplink: tunnels moved from wan0 to wan1' "$LOG")"
echo "   $(grep 'not on wan1 deleted' "$LOG")"
echo "   packets that left wan1 with wan0's address: $(stale_nat)"
ping_gap a
log_has "conntrack: deleted udp $W0:51820 -> $HQ:51820 " || fail "(a) the tunnel's entry on wan0 not logged as deleted"
! cts | grep -E "^udp ($W0:51820 |$HQ:51820 -> $W0:51820 )" || fail "(a) a tunnel entry on wan0 is left"
has_ct "$W1:51820 -> $HQ:51820 reply $HQ:51820 -> $W1:" || fail "(a) no tunnel entry on wan1"
has_ct "$LAN0" || fail "(a) lanhost's entry (not avpn's) was deleted"
has_ct "$OWN0" || fail "(a) the router's own entry to port 51820 (not avpn's) was deleted"
events=$(topo_avpn branch1 status --json | jq -r '.avpnd.events[] | select(.kind == "uplink") | .text')
grep -Eq "conntrack: [1-9][0-9]* entr(y|ies) of the tunnels not on wan1 deleted" <<<"$events" || fail "(a) no conntrack line in the event history: $events"
echo "   tunnel on wan1: $(cts | grep "^udp $W1:51820 -> $HQ")"

step "(c) wan0 back: after the failback hold the tunnel's entries on wan1 go"
ping_start c
ip -n "$(ns r0)" link set s0 up
udp_from lanhost 10.1.3.2:51820 198.51.100.1:51820
LAN1="10.1.3.2:51820 -> 198.51.100.1:51820 reply 198.51.100.1:51820 -> $W1:"
has_ct "$LAN1" || fail "(c) lanhost's entry not masqueraded to wan1: $(cts)"
topo_wait_for "the sweep after the failback" 25 swept 1 wan0
sleep 2
ping_stop c
echo "   $(grep 'uplink: tunnels moved from wan1 to wan0' "$LOG")"
echo "   $(grep 'not on wan0 deleted' "$LOG" | tail -1)"
ping_gap c
log_has "conntrack: deleted udp $W1:51820 -> $HQ:51820 " || fail "(c) the tunnel's entry on wan1 not logged as deleted"
! cts | grep -E "^udp ($W1:51820 |$HQ:51820 -> $W1:51820 )" || fail "(c) a tunnel entry on wan1 is left"
has_ct "$W0:51820 -> $HQ:51820 reply $HQ:51820 -> $W0:" || fail "(c) no tunnel entry on wan0"
has_ct "$LAN1" || fail "(c) lanhost's entry on wan1 (not avpn's) was deleted"
echo "   packets that left wan1 with wan0's address: $(stale_nat)"

topo_avpn branch1 down >/dev/null || fail "down through avpnd"
echo "PASS"
