#!/usr/bin/env bash
# Failover interruption under avpnd, repeated (docs/uplinks.md): the
# topology of netns_uplink_failover (tests/netns/lib/two_uplinks.sh), and
# REPS carrier losses, alternately of wan0 and of wan1, each with the other
# uplink healthy, so every one is a failover (no failback hold is waited).
# Per repetition: the 10 ms ping's interruption (the longest time between two replies) and
# avpnd's own figure (the failure's kernel event to the applied move); then
# the median and maximum of each. Prints figures; never fails on a time.
# Usage: sudo bench/failover.sh [REPS] [userspace|kernel|xfrm]   (default 20, userspace)
# userspace: wireguard-go; kernel: the kernel's WireGuard; xfrm: the group
# over XFRM, both sites under avpnd (ESP: the VM tier's kernel,
# bench/failover-vm runs the last two there).
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
BIN=${AVPN_BIN:-$SRC/build/bin}
AVPNCTL=$BIN/avpnctl
AVPND=$BIN/avpnd
REPS=${1:-20}
BACKEND=${2:-userspace}
case "$BACKEND" in
userspace | kernel) ;;
xfrm) export TRANSPORT=xfrm ;;
*) echo "usage: $0 [REPS] [userspace|kernel|xfrm]" >&2; exit 2 ;;
esac
# shellcheck source=../tests/netns/lib/topology.sh
. "$SRC/tests/netns/lib/topology.sh"
topo_require jq ping wg python3
[ "$BACKEND" != userspace ] || topo_require wireguard-go
if [ "$BACKEND" = xfrm ]; then
  why=$(topo_xfrm_missing)
  [ -z "$why" ] || { echo "bench/failover.sh xfrm: $why (run it in the VM: bench/failover-vm)"; exit 77; }
fi
[ -x "$AVPND" ] || { echo "$AVPND not built"; exit 1; }
topo_init
LOG=$TOPO_WORK/avpnd.log
fail() { [ -f "$LOG" ] && sed 's/^/   avpnd| /' "$LOG" >&2; topo_fail "$@"; }
step() { echo "== $*"; }
log_has() { grep -q "$1" "$LOG"; }
moves() { grep -c "uplink: tunnels on " "$LOG" || true; }
moved_past() { [ "$(moves)" -gt "$1" ]; }
# shellcheck source=../tests/netns/lib/two_uplinks.sh
. "$SRC/tests/netns/lib/two_uplinks.sh"
two_uplinks_make
two_uplinks_start
healthy() { topo_avpn branch1 status --json | jq -e --arg u "$1" '.avpnd.uplinks[] | select(.name == $u) | .healthy' >/dev/null; }

step "$REPS carrier losses, alternating wan0 and wan1 ($([ "$BACKEND" = xfrm ] && echo XFRM || echo "$BACKEND WireGuard"))"
lost_ms=() avpnd_ms=()
for i in $(seq "$REPS"); do
  if [ $((i % 2)) = 1 ]; then router=r0 side=s0 dead=wan0; else router=r1 side=s1 dead=wan1; fi
  before=$(moves)
  ping_start "$i"
  # From its first reply on: under the VM's emulated CPU ping may take longer
  # to start than a fixed wait, and a ping started after the cut sees no gap.
  topo_wait_for "ping $i's first reply" 10 grep -q ' bytes from ' "$TOPO_WORK/ping-$i"
  sleep 0.5
  ip -n "$(ns $router)" link set "$side" down
  topo_wait_for "failover $i" 5 moved_past "$before"
  sleep 1
  ping_stop "$i"
  read -r sent got <<<"$PING_SUMMARY"
  lost_ms+=("$PING_GAP_MS")
  avpnd_ms+=("$(grep "uplink: tunnels on " "$LOG" | tail -1 | sed 's/.* \([0-9]*\) ms after .*/\1/')")
  printf '   %2d: %s lost its carrier: %4d ms without a reply (%d of %d pings lost), avpnd moved the tunnels %s ms after the event\n' \
    "$i" "$dead" "${lost_ms[-1]}" $((sent - got)) "$sent" "${avpnd_ms[-1]}"
  ip -n "$(ns $router)" link set "$side" up
  topo_wait_for "$dead healthy again" 5 healthy "$dead"
done
stats() { printf '%s\n' "$@" | sort -n | awk '{v[NR] = $1} END {m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "median %s ms, max %s ms", m, v[NR]}'; }
echo "interruption (longest time between replies to 10 ms pings): $(stats "${lost_ms[@]}") over $REPS failovers"
echo "avpnd (kernel event to applied move): $(stats "${avpnd_ms[@]}")"
echo "kernel $(uname -r), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
