# shellcheck shell=bash
# An "internet" with sites on it and sites behind NATs, for
# tests/netns/registry_nat.sh. Source it after topology.sh and call
# topo_init first: namespace $TOPO-wan (topo_init's bridge br0) is the
# internet's router, and every namespace gets the test's $TOPO prefix, so
# topo_cleanup removes them all on every exit path.
#
#   reg1 198.51.100.10   reg2 198.51.100.11   hq 198.51.100.20 (LAN lan0)
#          |                    |                   |
#   -------+---- br0 198.51.100.1/24: the internet (ns wan) ----+-------
#                        |                      |
#              203.0.113.1/30              203.0.113.5/30
#              nat1 pub 203.0.113.2/30     nat2 pub 203.0.113.6/30
#              nat1 in  192.168.1.1/24     nat2 in  192.168.2.1/24
#                        |                      |
#              branch1 wan0 192.168.1.2    branch2 wan0 192.168.2.2
#              (LAN lan0)                  (LAN lan0)
#
# tests/netns/registry_hairpin.sh puts two sites behind one NAT instead
# (nat_shared + nat_join): nat1's private side is then a bridge, and office
# (192.168.1.2) and branch1 (192.168.1.3) both sit on it.
#
# A NAT masquerades what leaves by its public side (nftables) and forwards
# nothing new inwards; the internet has no route to the private segments.
# "friendly" masquerade keeps a flow's source port whenever it can (Linux
# does: endpoint-independent mapping); "random" (`masquerade random`) draws
# the port from a hash that includes the destination, so each destination
# sees another port (an address-dependent mapping: unfriendly).

nat_ns() { topo_ns "$1"; }

# nat_router NAME: a namespace that forwards.
nat_router() {
  ip netns add "$(nat_ns "$1")"
  ip -n "$(nat_ns "$1")" link set lo up
  ip netns exec "$(nat_ns "$1")" sysctl -qw net.ipv4.ip_forward=1
}

# nat_veth A IFA ADDR_A/LEN B IFB ADDR_B/LEN: a veth between two namespaces
# ("wan" is the internet's own namespace).
nat_veth() {
  ip link add "$2" netns "$(nat_ns "$1")" type veth peer name "$5" netns "$(nat_ns "$4")"
  ip -n "$(nat_ns "$1")" addr add "$3" dev "$2"
  ip -n "$(nat_ns "$4")" addr add "$6" dev "$5"
  ip -n "$(nat_ns "$1")" link set "$2" up
  ip -n "$(nat_ns "$4")" link set "$5" up
}

# nat_lan SITE IF CIDR: a LAN with carrier (the veth's peer parked in SITE),
# as topo_site makes them.
nat_lan() {
  ip -n "$(nat_ns "$1")" link add "$2" type veth peer name "${2}p"
  ip -n "$(nat_ns "$1")" addr add "$3" dev "$2"
  ip -n "$(nat_ns "$1")" link set "$2" up
  ip -n "$(nat_ns "$1")" link set "${2}p" up
}

# nat_internet: the internet's router address on topo_init's bridge.
nat_internet() {
  ip -n "$TOPO-wan" addr add 198.51.100.1/24 dev br0
  ip netns exec "$TOPO-wan" sysctl -qw net.ipv4.ip_forward=1
}

# nat_public SITE ADDR [LAN_CIDR...]: SITE with wan0 on the internet's
# segment (topo_site) and a default route through its router.
nat_public() {
  local site=$1 addr=$2; shift 2
  topo_site "$site" "$addr/24" "$@"
  ip -n "$(nat_ns "$site")" route add default via 198.51.100.1 dev wan0
}

# nat_behind SITE NAT N MODE LAN_CIDR: NAT namespace NAT, public address
# 203.0.113.(4N-2)/30 on its `pub` link to the internet, private segment
# 192.168.N.0/24 on `in`; SITE's wan0 is 192.168.N.2 behind it, default
# route through the NAT, one LAN lan0. MODE: friendly or random.
nat_behind() {
  local site=$1 nat=$2 n=$3 mode=$4 lan=$5
  local pub="203.0.113.$((4 * n - 2))" gw="203.0.113.$((4 * n - 3))"
  nat_router "$nat"
  nat_router "$site"
  nat_veth "$nat" pub "$pub/30" wan "n${n}up" "$gw/30"
  nat_veth "$site" wan0 "192.168.$n.2/24" "$nat" in "192.168.$n.1/24"
  ip -n "$(nat_ns "$nat")" route add default via "$gw" dev pub
  ip -n "$(nat_ns "$site")" route add default via "192.168.$n.1" dev wan0
  nat_masquerade "$nat" "$mode"
  nat_lan "$site" lan0 "$lan"
}

# nat_masquerade NAT MODE: NAT's ruleset: masquerade (MODE friendly or
# random) out of `pub`, nothing new forwarded in from it. No DNAT at all, so
# no hairpinning: a datagram from the private side to the public address is
# the NAT's own (nobody listens), never turned back to another private host.
nat_masquerade() {
  local nat=$1 mode=$2
  # The internet reaches the NAT's public /30 only (no private route).
  local flag=""
  [ "$mode" = random ] && flag=" random"
  ip netns exec "$(nat_ns "$nat")" nft -f - <<NFT
table ip avpn_test_nat {
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "pub" masquerade$flag
  }
  chain forward {
    type filter hook forward priority filter; policy accept;
    iifname "pub" ct state != { established, related } drop
  }
}
NFT
}

# nat_forward_port NAT INSIDE PORT: NAT also lets in UDP to PORT on its
# public address from anywhere, to INSIDE:PORT. Linux's conntrack filters
# by address and port (what a NAT let out is the only way back in); this
# port forward stands in for a NAT whose filtering is endpoint-independent
# ("full cone", RFC 4787's EIF) on the mapping of a port-preserving
# masquerade: its mapping keeps PORT, so the forward and the mapping agree.
nat_forward_port() {
  local nat=$1 inside=$2 port=$3
  ip netns exec "$(nat_ns "$nat")" nft -f - <<NFT
table ip avpn_test_nat {
  chain prerouting {
    type nat hook prerouting priority dstnat; policy accept;
    iifname "pub" udp dport $port dnat to $inside:$port
  }
}
NFT
  ip netns exec "$(nat_ns "$nat")" nft insert rule ip avpn_test_nat forward iifname pub ct status dnat accept
}

# nat_shared NAT N MODE: NAT namespace NAT as nat_behind makes it (public
# 203.0.113.(4N-2)/30 on `pub`, MODE's masquerade), its private side a
# bridge `in` with 192.168.N.1/24 that several sites join (nat_join).
nat_shared() {
  local nat=$1 n=$2 mode=$3
  local pub="203.0.113.$((4 * n - 2))" gw="203.0.113.$((4 * n - 3))"
  nat_router "$nat"
  nat_veth "$nat" pub "$pub/30" wan "n${n}up" "$gw/30"
  ip -n "$(nat_ns "$nat")" route add default via "$gw" dev pub
  ip -n "$(nat_ns "$nat")" link add in type bridge
  ip -n "$(nat_ns "$nat")" addr add "192.168.$n.1/24" dev in
  ip -n "$(nat_ns "$nat")" link set in up
  nat_masquerade "$nat" "$mode"
}

# nat_join SITE NAT N HOST LAN_CIDR: SITE with wan0 192.168.N.HOST on the
# bridge of nat_shared's NAT (its port there: inHOST), default route through
# the NAT, one LAN lan0.
nat_join() {
  local site=$1 nat=$2 n=$3 host=$4 lan=$5
  nat_router "$site"
  ip link add wan0 netns "$(nat_ns "$site")" type veth peer name "in$host" netns "$(nat_ns "$nat")"
  ip -n "$(nat_ns "$site")" addr add "192.168.$n.$host/24" dev wan0
  ip -n "$(nat_ns "$nat")" link set "in$host" master in up
  ip -n "$(nat_ns "$site")" link set wan0 up
  ip -n "$(nat_ns "$site")" route add default via "192.168.$n.1" dev wan0
  nat_lan "$site" lan0 "$lan"
}

# nat_lan_host SITE HOST ADDR/LEN GW: a host on SITE's LAN lan0, namespace
# HOST (topo_ns, so topo_cleanup removes it): the LAN's parked veth end
# lan0p moves there with ADDR, default route through GW (SITE's lan0
# address). Its packets are forwarded by SITE, as a real LAN's are, where
# pings from SITE's own LAN address are SITE's own (output, not forward).
nat_lan_host() {
  local site=$1 host=$2 addr=$3 gw=$4
  ip netns add "$(nat_ns "$host")"
  ip -n "$(nat_ns "$host")" link set lo up
  ip -n "$(nat_ns "$site")" link set lan0p netns "$(nat_ns "$host")"
  ip -n "$(nat_ns "$host")" addr add "$addr" dev lan0p
  ip -n "$(nat_ns "$host")" link set lan0p up
  ip -n "$(nat_ns "$host")" route add default via "$gw" dev lan0p
}

# nat_public_addr N: the public address of NAT N.
nat_public_addr() { echo "203.0.113.$((4 * $1 - 2))"; }

# nat_mapping NAT SRC_PORT DST [SRC]: the public port NAT maps a UDP flow
# from SRC_PORT (of SRC, an IP: needed when several hosts share the NAT) to
# DST (IP) to, from its conntrack table; empty without one.
nat_mapping() {
  ip netns exec "$(nat_ns "$1")" cat /proc/net/nf_conntrack |
    awk -v sp="sport=$2" -v d="dst=$3" -v s="src=${4:-}" '$3 == "udp" {
      n = 0
      for (i = 1; i <= NF; i++) if ($i ~ /^(src|dst|sport|dport)=/) f[++n] = $i
      # f[1..4]: the original direction, f[5..8]: the reply direction,
      # whose destination port is the mapped source port.
      if (f[2] == d && f[3] == sp && (s == "src=" || f[1] == s)) { sub(/^dport=/, "", f[8]); print f[8]; exit }
    }'
}

# nat_udp_probe SITE SRC_PORT DST:PORT...: one datagram from SITE's
# SRC_PORT to each DST:PORT (one socket, as a tunnel port sends).
nat_udp_probe() {
  local site=$1 port=$2; shift 2
  topo_exec "$site" python3 - "$port" "$@" <<'PY'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", int(sys.argv[1])))
for d in sys.argv[2:]:
    host, port = d.rsplit(":", 1)
    s.sendto(b"avpn nat probe", (host, int(port)))
PY
}
