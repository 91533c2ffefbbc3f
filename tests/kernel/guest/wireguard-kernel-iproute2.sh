#!/bin/bash
# Baseline for kernel WireGuard, with iproute2 and wg only: two sites in
# namespaces over a veth "WAN", each with a wireguard interface (the module
# loads on demand through the kernel's request_module), peered with wg set.
# The tunnel must pass pings, handshake and count bytes both ways.
. "$(dirname "$0")/lib.sh"
tun_a=100.64.0.1 tun_b=100.64.0.2 port=51820

two_sites

step "wireguard interfaces"
keys=$(mktemp -d)
umask 077
for site in a b; do
  wg genkey >"$keys/$site.key"
  wg pubkey <"$keys/$site.key" >"$keys/$site.pub"
  ip -n "$(ns "$site")" link add wg0 type wireguard || fail "ip link add type wireguard in $site"
done
# peer SITE OTHER OTHER_WAN OTHER_TUNNEL
peer() {
  in_ns "$1" wg set wg0 listen-port "$port" private-key "$keys/$1.key" \
    peer "$(cat "$keys/$2.pub")" endpoint "$3:$port" allowed-ips "$4/32"
}
peer a b "$wan_b" "$tun_b"
peer b a "$wan_a" "$tun_a"
ip -n "$(ns a)" addr add "$tun_a/24" dev wg0
ip -n "$(ns b)" addr add "$tun_b/24" dev wg0
ip -n "$(ns a)" link set wg0 up
ip -n "$(ns b)" link set wg0 up
in_ns a wg show wg0

step "traffic through the tunnel"
expect_ping a "$tun_b"
expect_ping b "$tun_a"
handshake=$(in_ns a wg show wg0 latest-handshakes | awk '{print $2}')
at_least "a: latest handshake (unix time)" "${handshake:-0}" 1
read -r _ rx tx < <(in_ns a wg show wg0 transfer)
# 6 echo packets of 84 bytes each way, before WireGuard adds its own.
at_least "a: bytes received" "$rx" $((6 * 84))
at_least "a: bytes sent" "$tx" $((6 * 84))
step "wireguard-kernel-iproute2: ok"
