#!/usr/bin/env bash
# A shortcut to a spoke behind two NATs (issue 14): a home router's NAT
# behind a carrier's (RFC 6598 addresses between them). Group "corp" with
# shortcuts = true, contacts from two avpn-registry instances
# (lib/registry_group.sh), every site under avpnd with wireguard-go, hub hq
# public. branch1 sits behind nat1; branch2 behind nat2, which sits behind
# cgn; all three friendly (masquerade, port-preserving), none lets in
# anything new. Hosts host1 10.11.0.2 and host2 10.12.0.2 on the spokes'
# LANs.
#
#   reg1 .10   reg2 .11   hq .20 (198.51.100.0/24, ns wan)
#   --------------- wan --------------------------
#        | nat1 203.0.113.2          | cgn 203.0.113.6
#     branch1                        | cgn in 100.64.2.1/24
#     host1                          | nat2 100.64.2.2, in 192.168.2.1/24
#                                 branch2 192.168.2.2
#                                 host2
#
# branch1 initiates (the smaller name), so its initiation must find a
# mapping at cgn toward nat1 that only branch2's openers can have made:
# openers with the old fixed TTL of 2 die at cgn and the pair never meets.
#   1. each spoke's avpnd counted the NATs on its way out: branch1 "openers'
#      TTL 2", branch2 "openers' TTL 3" (nat2 and cgn answer from inside
#      addresses); branch1's own ping to branch2 passes through hq;
#   2. a continuous ping host1 -> host2 (50 ms): both spokes report the
#      shortcut "up" within 15 s; over 2 s every reply came direct (TTL 62),
#      the internet carried the pings between nat1 and cgn, and hq's
#      WireGuard did not grow by ping volume.
set -euo pipefail
SRC=${AVPN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BIN=${AVPN_BIN:-$SRC/build/bin}
AVPNCTL=$BIN/avpnctl
AVPND=$BIN/avpnd
REGISTRY=$BIN/avpn-registry
# shellcheck source=lib/topology.sh
. "$SRC/tests/netns/lib/topology.sh"
# shellcheck source=lib/nat_topology.sh
. "$SRC/tests/netns/lib/nat_topology.sh"
# shellcheck source=lib/registry_group.sh
. "$SRC/tests/netns/lib/registry_group.sh"
# shellcheck source=lib/shortcut_checks.sh
. "$SRC/tests/netns/lib/shortcut_checks.sh"
NAT_MODE=friendly
BASELINE=0
TRANSPORT=wireguard
WG_BACKEND=userspace
SHORTCUTS=true
topo_require jq ping wg nft python3 wireguard-go
for b in "$AVPNCTL" "$AVPND" "$REGISTRY"; do [ -x "$b" ] || { echo "FAIL: $b not built"; exit 1; }; done
started=$EPOCHREALTIME
trap 'echo; echo "interrupted: cleaning up"; exit 130' INT
trap 'exit 143' TERM
topo_init # its EXIT trap removes the namespaces on every path

registry_group_init
declare -A HOST=([branch1]=host1 [branch2]=host2)
declare -A HOST_ADDR=([branch1]=10.11.0.2 [branch2]=10.12.0.2)
INTERVAL=0.05
CGN=$(nat_public_addr 2)

elapsed() { awk -v a="$started" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.1f", b - a}'; }
step() { echo; echo "== [$(elapsed) s] $*"; }
fail() {
  local s
  for s in branch1 branch2; do
    [ -S "$(topo_avpnd_socket "$s")" ] || continue
    topo_avpn "$s" status 2>&1 | sed "s/^/   $s status| /" >&2 || true
  done
  echo "   hq wg transfer: $(topo_exec hq wg show "$IFACE" transfer 2>&1 | tr '\n' ' ')" >&2
  ip netns exec "$(nat_ns cgn)" cat /proc/net/nf_conntrack 2>/dev/null | awk '$3 == "udp"' | sed "s/^/   cgn conntrack| /" >&2 || true
  [ -f "$TOPO_WORK/ping" ] && tail -5 "$TOPO_WORK/ping" | sed 's/^/   ping| /' >&2
  registry_group_fail "$@"
}
hub_bytes() { topo_exec hq wg show "$IFACE" transfer | awk -v a="$(pub branch1)" -v b="$(pub branch2)" '$1 == a || $1 == b {n += $2 + $3} END {print n + 0}'; }
wan_table() {
  local a b
  a=$(nat_public_addr 1) b=$CGN
  ip netns exec "$TOPO-wan" nft -f - <<NFT
table ip avpn_test_wan {
  counter nats {}
  chain forward {
    type filter hook forward priority filter; policy accept;
    ip saddr { $a, $b } ip daddr { $a, $b } meta l4proto udp counter name nats
  }
}
NFT
}
nats_packets() { ip netns exec "$TOPO-wan" nft list counter ip avpn_test_wan nats | awk '/packets/ {for (i = 1; i < NF; i++) if ($i == "packets") print $(i + 1)}'; }

step "topology: an internet, reg1, reg2 and hq on it; branch1 behind nat1; branch2 behind nat2 behind cgn"
SPOKES=(branch1) SITES=(hq branch1) # the lib draws branch1; branch2's two NATs are drawn here
registry_group_topology
nat_router cgn
nat_veth cgn pub "$CGN/30" wan n2up 203.0.113.5/30
ip -n "$(nat_ns cgn)" route add default via 203.0.113.5 dev pub
nat_masquerade cgn friendly
nat_router nat2
nat_veth nat2 pub 100.64.2.2/24 cgn in 100.64.2.1/24
ip -n "$(nat_ns nat2)" route add default via 100.64.2.1 dev pub
nat_masquerade nat2 friendly
nat_router branch2
nat_veth branch2 wan0 192.168.2.2/24 nat2 in 192.168.2.1/24
ip -n "$(nat_ns branch2)" route add default via 192.168.2.1 dev wan0
nat_lan branch2 lan0 "${LAN[branch2]}/24"
SPOKES=(branch1 branch2) SITES=(hq branch1 branch2)
echo "   branch2 public $CGN    LAN ${LAN[branch2]}/24 (wan0 192.168.2.2/24 behind nat2 100.64.2.2, behind cgn; both friendly)"
for s in "${SPOKES[@]}"; do nat_lan_host "$s" "${HOST[$s]}" "${HOST_ADDR[$s]}/24" "${LAN[$s]}"; done
wan_table

step "keys, member list (shortcuts = true, no contact for anyone), site files"
registry_group_files

step "registries and avpnd on every site"
start_registry reg1
start_registry reg2
for s in "${SITES[@]}"; do start_avpnd "$s"; done

step "1. each spoke counts its NATs; branch1 <-> branch2 through hq"
ttl=""
through_hub() {
  ttl=$(topo_exec branch1 ping -n -c 1 -W 1 -I "${LAN[branch1]}" "${LAN[branch2]}" 2>/dev/null | grep -o 'ttl=[0-9]*' | cut -d= -f2)
  [ -n "$ttl" ]
}
topo_wait_for "a reply branch1 ${LAN[branch1]} -> branch2 ${LAN[branch2]}" 30 through_hub
echo "   branch1 -> branch2: reply with ttl $ttl (branch2's own, through hq: 63)"
[ "$ttl" = 63 ] || fail "1. branch1 -> branch2: ttl $ttl, not 63"
declare -A WANT_TTL=([branch1]=2 [branch2]=3)
for s in branch1 branch2; do
  counted() { grep -q "openers' TTL ${WANT_TTL[$1]}\$" "$TOPO_WORK/avpnd-$1.log"; }
  topo_wait_for "$s's avpnd logging \"openers' TTL ${WANT_TTL[$s]}\" ($(grep -o "shortcuts: corp: .*" "$TOPO_WORK/avpnd-$s.log" | tail -1))" 10 counted "$s"
  echo "   $s: $(grep -o "shortcuts: corp: .*openers' TTL.*" "$TOPO_WORK/avpnd-$s.log" | tail -1)"
done

step "2. a continuous ping host1 -> host2 every $INTERVAL s: the shortcut comes up and carries it"
PING=$TOPO_WORK/ping
first=$EPOCHREALTIME
topo_spawn host1 ping -n -D -i "$INTERVAL" -W 1 "${HOST_ADDR[branch2]}" >"$PING" 2>&1
PING_PID=$TOPO_SPAWNED
declare -A UP_MS=() SEEN=()
await_shortcut branch1 branch2 "$first" "2. the shortcut branch1 <-> branch2 (behind two NATs)"
sleep 1 # the other side's converge after its own look
w0=$EPOCHREALTIME N0=$(nats_packets) B0=$(hub_bytes)
sleep 2
w1=$EPOCHREALTIME DN=$(($(nats_packets) - N0)) DB=$(($(hub_bytes) - B0))
read -r n ttl61 ttl62 other <<<"$(window "$PING" "$w0" "$w1")"
sent=$(awk -v a="$w0" -v b="$w1" -v i="$INTERVAL" 'BEGIN {printf "%d", (b - a) / i}')
echo "   over 2 s (~$sent pings): $n replies, $ttl62 direct (ttl 62), $ttl61 through hq (ttl 61), $other other;" \
  "internet UDP nat1-cgn +$DN packets; hq's WireGuard for the two spokes +$DB B"
[ "$n" -ge $((sent * 8 / 10)) ] || fail "2. only $n of ~$sent pings answered over the shortcut"
[ "$ttl61" = 0 ] && [ "$other" = 0 ] || fail "2. replies not direct with the shortcut up at both: $ttl61 through hq, $other other"
[ "$DN" -ge "$n" ] || fail "2. the internet carried $DN UDP packets between nat1 and cgn for $n pings"
[ "$DB" -lt 2048 ] || fail "2. hq's WireGuard grew by $DB bytes for $n pings that went direct"
echo "   the pings go direct between nat1 and cgn, not through hq"
kill -INT "$PING_PID" 2>/dev/null || true
wait "$PING_PID" 2>/dev/null || true

echo
echo "time: $(elapsed) s"
echo "PASS: a spoke behind two NATs counted them, opened both, and got its shortcut"
