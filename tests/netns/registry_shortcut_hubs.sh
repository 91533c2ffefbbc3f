#!/usr/bin/env bash
# A shortcut between two spokes that share no hub (issue 14): group "corp"
# with shortcuts = true, every contact from two avpn-registry instances
# (lib/registry_group.sh), every site under avpnd with wireguard-go. Hubs
# hq and hq2 are public (a full mesh); branch1 sits behind nat1 with hub
# hq, branch2 behind nat2 with hub hq2, both NATs friendly (masquerade,
# port-preserving). Each spoke has a host on its LAN (host1 10.11.0.2,
# host2 10.12.0.2) whose packets it forwards: avpnd's shortcut watch counts
# forwarded packets only.
#
#   reg1 .10   reg2 .11   hq .20   hq2 .21 (198.51.100.0/24, ns wan)
#   ------------------ wan ------------------------------
#        | nat1 203.0.113.2            | nat2 203.0.113.6
#     branch1 (hub hq)              branch2 (hub hq2)
#     host1                         host2
#
# An echo reply's TTL tells its hops: host2 -> branch2 -> branch1 -> host1
# arrives with 62; through hq2 and hq with 60.
#   1. baseline: the tunnels come up from the registries alone; branch1's
#      own pings to branch2 pass through both hubs (TTL 62: branch2's own
#      reply, two hubs), each host reaches its hub's LAN, nothing goes
#      between the NATs;
#   2. a continuous ping host1 -> host2 (50 ms): both spokes report the
#      shortcut "up" to each other within 15 s; over 2 s every reply came
#      direct (TTL 62), the internet carried the pings between nat1 and
#      nat2, and neither hub's WireGuard grew by ping volume;
#   3. the internet drops UDP between nat1 and nat2: within 10 s the pings
#      come back through both hubs (TTL 60) and keep passing (>= 90 % over
#      3 s); prints the lost pings x 50 ms.
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
# The hubs learn each other from the registries in the same instant, so
# their first initiations can cross; with keepalives of 5 s or less the
# crossed handshakes can repeat for minutes (registry_hairpin.sh says why).
KEEPALIVE=25s
topo_require jq ping wg nft python3 wireguard-go
for b in "$AVPNCTL" "$AVPND" "$REGISTRY"; do [ -x "$b" ] || { echo "FAIL: $b not built"; exit 1; }; done
started=$EPOCHREALTIME
trap 'echo; echo "interrupted: cleaning up"; exit 130' INT
trap 'exit 143' TERM
topo_init # its EXIT trap removes the namespaces on every path

registry_group_init
HUBS=(hq hq2)
HUBS_OF=([branch1]=hq [branch2]=hq2)
LAN[hq2]=10.20.0.1
PUBLIC[hq2]=198.51.100.21
declare -A HOST=([branch1]=host1 [branch2]=host2)
declare -A HOST_ADDR=([branch1]=10.11.0.2 [branch2]=10.12.0.2)
INTERVAL=0.05

elapsed() { awk -v a="$started" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.1f", b - a}'; }
step() { echo; echo "== [$(elapsed) s] $*"; }
fail() {
  local s
  for s in branch1 branch2; do
    [ -S "$(topo_avpnd_socket "$s")" ] || continue
    topo_avpn "$s" status 2>&1 | sed "s/^/   $s status| /" >&2 || true
  done
  for s in hq hq2; do echo "   $s wg transfer: $(topo_exec "$s" wg show "$IFACE" transfer 2>&1 | tr '\n' ' ')" >&2; done
  [ -f "$TOPO_WORK/ping" ] && tail -5 "$TOPO_WORK/ping" | sed 's/^/   ping| /' >&2
  registry_group_fail "$@"
}
# hubs_bytes: rx + tx of both spokes' peers in both hubs' WireGuard.
hubs_bytes() {
  local h
  for h in hq hq2; do topo_exec "$h" wg show "$IFACE" transfer; done |
    awk -v a="$(pub branch1)" -v b="$(pub branch2)" '$1 == a || $1 == b {n += $2 + $3} END {print n + 0}'
}
# The internet router counts UDP between the two NATs, and 3. drops it
# there (chain cut, before the counter).
wan_table() {
  local a b
  a=$(nat_public_addr 1) b=$(nat_public_addr 2)
  ip netns exec "$TOPO-wan" nft -f - <<NFT
table ip avpn_test_wan {
  counter nats {}
  chain forward {
    type filter hook forward priority filter; policy accept;
    ip saddr { $a, $b } ip daddr { $a, $b } meta l4proto udp counter name nats
  }
  chain cut { type filter hook forward priority filter - 10; policy accept; }
}
NFT
}
nats_packets() { ip netns exec "$TOPO-wan" nft list counter ip avpn_test_wan nats | awk '/packets/ {for (i = 1; i < NF; i++) if ($i == "packets") print $(i + 1)}'; }

step "topology: an internet, reg1, reg2, hq and hq2 on it; branch1 behind nat1 (hub hq), branch2 behind nat2 (hub hq2)"
nat_public hq2 "${PUBLIC[hq2]}" "${LAN[hq2]}/24"
registry_group_topology
SITES=(hq hq2 branch1 branch2)
echo "   hq2     public ${PUBLIC[hq2]} LAN ${LAN[hq2]}/24"
for s in "${SPOKES[@]}"; do nat_lan_host "$s" "${HOST[$s]}" "${HOST_ADDR[$s]}/24" "${LAN[$s]}"; done
wan_table

step "keys, member list (shortcuts = true, no contact for anyone), site files"
registry_group_files

step "registries and avpnd on every site"
start_registry reg1
start_registry reg2
for s in "${SITES[@]}"; do start_avpnd "$s"; done

step "1. baseline: branch1 <-> branch2 through hq and hq2"
# The spokes' own LAN addresses: their own packets, which the shortcut
# watch does not count (the hosts' would start a shortcut at once).
ttl=""
through_hubs() {
  ttl=$(topo_exec branch1 ping -n -c 1 -W 1 -I "${LAN[branch1]}" "${LAN[branch2]}" 2>/dev/null | grep -o 'ttl=[0-9]*' | cut -d= -f2)
  [ -n "$ttl" ]
}
topo_wait_for "a reply branch1 ${LAN[branch1]} -> branch2 ${LAN[branch2]}" 40 through_hubs
echo "   branch1 ${LAN[branch1]} -> branch2 ${LAN[branch2]}: reply with ttl $ttl (branch2's own, through hq2 and hq: 62)"
[ "$ttl" = 62 ] || fail "1. branch1 -> branch2: ttl $ttl, not 62 (branch2 -> hq2 -> hq -> branch1)"
for s in branch1 branch2; do

  host_up() { topo_exec "${HOST[$1]}" ping -n -c 1 -W 1 "${LAN[${HUBS_OF[$1]}]}" >/dev/null 2>&1; }
  topo_wait_for "${HOST[$s]} -> its hub's LAN" 20 host_up "$s"
done
[ "$(nats_packets)" = 0 ] || fail "1. the internet carried $(nats_packets) UDP packets between nat1 and nat2 before any shortcut"
echo "   each host reaches its hub's LAN; nothing went between nat1 and nat2"

step "2. a continuous ping host1 -> host2 every $INTERVAL s: the shortcut comes up and carries it"
PING=$TOPO_WORK/ping
first=$EPOCHREALTIME
topo_spawn host1 ping -n -D -i "$INTERVAL" -W 1 "${HOST_ADDR[branch2]}" >"$PING" 2>&1
PING_PID=$TOPO_SPAWNED
declare -A UP_MS=() SEEN=()
await_shortcut branch1 branch2 "$first" "2. the shortcut branch1 <-> branch2 (no hub shared)"
sleep 1 # the other side's converge after its own look
w0=$EPOCHREALTIME N0=$(nats_packets) B0=$(hubs_bytes)
sleep 2
w1=$EPOCHREALTIME DN=$(($(nats_packets) - N0)) DB=$(($(hubs_bytes) - B0))
read -r n ttl60 ttl62 other <<<"$(window "$PING" "$w0" "$w1" 60)"
sent=$(awk -v a="$w0" -v b="$w1" -v i="$INTERVAL" 'BEGIN {printf "%d", (b - a) / i}')
echo "   over 2 s (~$sent pings): $n replies, $ttl62 direct (ttl 62), $ttl60 through the hubs (ttl 60), $other other;" \
  "internet UDP nat1-nat2 +$DN packets; the hubs' WireGuard for the two spokes +$DB B"
[ "$n" -ge $((sent * 8 / 10)) ] || fail "2. only $n of ~$sent pings answered over the shortcut"
[ "$ttl60" = 0 ] && [ "$other" = 0 ] || fail "2. replies not direct with the shortcut up at both: $ttl60 through the hubs, $other other"
[ "$DN" -ge "$n" ] || fail "2. the internet carried $DN UDP packets between nat1 and nat2 for $n pings"
[ "$DB" -lt 2048 ] || fail "2. the hubs' WireGuard grew by $DB bytes for $n pings that went direct"
echo "   the pings go direct between nat1 and nat2, through neither hub"

step "3. the internet drops UDP between nat1 and nat2: the pings go back through the hubs"
cut_at=$EPOCHREALTIME
ip netns exec "$TOPO-wan" nft add rule ip avpn_test_wan cut \
  ip saddr "{ $(nat_public_addr 1), $(nat_public_addr 2) }" ip daddr "{ $(nat_public_addr 1), $(nat_public_addr 2) }" meta l4proto udp drop
back() { [ -n "$(replies "$PING" | awk -v a="$cut_at" '$1 > a && $3 == 60 {print; exit}')" ]; }
until back || [ "$(ms_since "$cut_at")" -gt 10000 ]; do sleep 0.2; done
back || fail "3. no reply through the hubs within 10 s of the cut"
sleep 0.5
w0=$EPOCHREALTIME
sleep 3
w2=$EPOCHREALTIME
read -r gap_ms lost <<<"$(replies "$PING" | awk -v a="$cut_at" '
  $1 <= a {pt = $1; ps = $2; next}
  { if (pt != "" && ($1 - pt) * 1000 > gap) { gap = ($1 - pt) * 1000; lost = $2 - ps - 1 } pt = $1; ps = $2 }
  END {printf "%d %d\n", gap, lost}')"
read -r n ttl60 ttl62 other <<<"$(window "$PING" "$w0" "$w2" 60)"
sent=$(awk -v a="$w0" -v b="$w2" -v i="$INTERVAL" 'BEGIN {printf "%d", (b - a) / i}')
echo "   outage: $lost pings lost x $INTERVAL s = $(awk -v l="$lost" -v i="$INTERVAL" 'BEGIN {printf "%.2f", l * i}') s (longest gap ${gap_ms} ms);" \
  "afterwards over 3 s (~$sent pings): $n replies, $ttl60 through the hubs, $ttl62 direct, $other other"
[ "$n" -ge $((sent * 9 / 10)) ] || fail "3. after the fallback only $n of ~$sent pings answered"
[ "$ttl60" = "$n" ] || fail "3. after the fallback $ttl62 replies direct, $other other, of $n"
for pair in "branch1 branch2" "branch2 branch1"; do
  read -r a b <<<"$pair"
  st=$(shortcut_of "$a" "$b")
  echo "   $a's peer $b: shortcut $st"
  [ "$st" != up ] || fail "3. $a still shows the shortcut to $b up"
done
kill -INT "$PING_PID" 2>/dev/null || true
wait "$PING_PID" 2>/dev/null || true

echo
echo "time: $(elapsed) s"
echo "PASS: two spokes on different hubs got a shortcut that carried their traffic direct, and back through both hubs when it was cut"
