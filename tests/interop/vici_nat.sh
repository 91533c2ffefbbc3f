#!/usr/bin/env bash
# Site A (avpnctl apply only) behind a NAT namespace (nftables masquerade) initiates to site B:
# the tunnel comes up over NAT-T, status shows this end behind a NAT, and the
# LANs ping each other.
set -u
source "$(dirname "$0")/lib/sites.sh"
sites_init
require_avpnctl
command -v nft >/dev/null || skip "nft not installed (package nftables)"

make_ns a
make_ns nat
make_ns b
link_sites a wan0 198.51.100.2/24 nat lan0 198.51.100.1/24
link_sites nat wan0 203.0.113.1/24 b wan0 203.0.113.2/24
in_ns a ip route add default via 198.51.100.1
in_ns nat sysctl -qw net.ipv4.ip_forward=1
in_ns nat nft -f - <<'NFT' || fail "nftables masquerade"
table ip nat {
    chain postrouting {
        type nat hook postrouting priority srcnat;
        oifname "wan0" masquerade
    }
}
NFT
in_ns a ip addr add 10.1.0.1/24 dev lo
in_ns b ip addr add 10.2.0.1/24 dev lo
a_site wan0 lan0=10.1.0.0/24
start_charon a
start_charon b

b_conn avpn-nat b.example a.example 10.2.0.0/24 10.1.0.0/24 nat-secret
b_load
a_tunnel nat 203.0.113.2 a.example b.example lan0 10.2.0.0/24 "$(psk_file a nat nat-secret)"

apply_a 10
expect "up through NAT" "$(tunnel_field avpn-nat up)" true
expect "local address from the uplink" "$(tunnel_field avpn-nat local_host)" 198.51.100.2
expect "this end behind a NAT" "$(tunnel_field avpn-nat nat_local)" true
expect "ESP in UDP" "$(tunnel_field avpn-nat udp_encap)" true
expect "IKE on the NAT-T port" "$(tunnel_field avpn-nat remote_port)" 4500
ping_between a 10.1.0.1 10.2.0.1
status_a
[ "$(tunnel_field avpn-nat bytes_in)" -gt 0 ] || fail "no bytes counted in after ping"
note "ok: bytes_in $(tunnel_field avpn-nat bytes_in)"
echo "PASS"
