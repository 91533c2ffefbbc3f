#!/bin/bash
# Baselines for two kernel features the host kernel lacks, with iproute2 only:
# 1. a route-based ESP tunnel over XFRM interfaces (if_id 42): traffic routed
#    into xfrm0 is encrypted by the SAs and policies carrying that if_id;
# 2. an 802.1Q subinterface: frames pass only between matching VLAN ids.
. "$(dirname "$0")/lib.sh"
if_id=42 spi_ab=0x2001 spi_ba=0x2002

two_sites

step "xfrm interfaces (if_id $if_id), routes into them, no SAs yet"
# xfrm_site SITE WAN_DEV LOCAL_WAN REMOTE_WAN LOCAL_HOST REMOTE_LAN
xfrm_site() {
  local n; n=$(ns "$1")
  ip -n "$n" link add xfrm0 type xfrm dev "$2" if_id "$if_id" || fail "ip link add type xfrm in $1"
  ip -n "$n" link set xfrm0 up
  ip -n "$n" route add "$6" dev xfrm0 src "$5"
  ip -n "$n" xfrm policy add src 0.0.0.0/0 dst 0.0.0.0/0 dir out if_id "$if_id" \
    tmpl src "$3" dst "$4" proto esp reqid "$if_id" mode tunnel
  ip -n "$n" xfrm policy add src 0.0.0.0/0 dst 0.0.0.0/0 dir in if_id "$if_id" \
    tmpl src "$4" dst "$3" proto esp reqid "$if_id" mode tunnel
}
xfrm_site a wan-a "$wan_a" "$wan_b" "$host_a" "$lan_b"
xfrm_site b wan-b "$wan_b" "$wan_a" "$host_b" "$lan_a"
expect_no_ping a "$host_b" -I "$host_a"

step "ESP SAs with if_id $if_id"
key_ab=0x$(random_hex 20) key_ba=0x$(random_hex 20)
for site in a b; do
  for sa in "$wan_a $wan_b $spi_ab $key_ab" "$wan_b $wan_a $spi_ba $key_ba"; do
    read -r src dst spi key <<<"$sa"
    ip -n "$(ns "$site")" xfrm state add src "$src" dst "$dst" proto esp spi "$spi" reqid "$if_id" \
      mode tunnel if_id "$if_id" aead 'rfc4106(gcm(aes))' "$key" 128
  done
done
tx_before=$(link_stat a xfrm0 tx_packets)
expect_ping a "$host_b" -I "$host_a"
expect_ping b "$host_a" -I "$host_b"
at_least "a: xfrm0 tx packets" "$(( $(link_stat a xfrm0 tx_packets) - tx_before ))" 6
at_least "b: xfrm0 rx packets" "$(link_stat b xfrm0 rx_packets)" 6
at_least "a: out SA $spi_ab packets" "$(sa_packets a "$wan_a" "$wan_b" "$spi_ab")" 6

step "802.1Q: VLAN 100 against VLAN 200 must not talk"
vlan_a=198.18.100.1 vlan_b=198.18.100.2
ip -n "$(ns a)" link add link wan-a name wan-a.100 type vlan id 100
ip -n "$(ns a)" addr add "$vlan_a/24" dev wan-a.100
ip -n "$(ns a)" link set wan-a.100 up
ip -n "$(ns b)" link add link wan-b name wan-b.200 type vlan id 200
ip -n "$(ns b)" addr add "$vlan_b/24" dev wan-b.200
ip -n "$(ns b)" link set wan-b.200 up
expect_no_ping a "$vlan_b"

step "802.1Q: VLAN 100 on both ends passes"
ip -n "$(ns b)" link del wan-b.200
ip -n "$(ns b)" link add link wan-b name wan-b.100 type vlan id 100
ip -n "$(ns b)" addr add "$vlan_b/24" dev wan-b.100
ip -n "$(ns b)" link set wan-b.100 up
ip -n "$(ns a)" neigh flush dev wan-a.100   # the failed lookup of the step before
in_ns a grep -q 'VID: 100' /proc/net/vlan/wan-a.100 || fail "wan-a.100 is not VLAN 100"
expect_ping a "$vlan_b"
at_least "b: wan-b.100 rx packets" "$(link_stat b wan-b.100 rx_packets)" 3
step "xfrmi-vlan: ok"
