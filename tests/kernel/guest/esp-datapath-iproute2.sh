#!/bin/bash
# Baseline for the kernel ESP data path, with iproute2 only: two sites in
# namespaces joined by a veth "WAN", an ESP tunnel-mode SA pair with
# rfc4106(gcm(aes)), UDP-encapsulated on port 4500 (NAT-T, RFC 3948), and
# policies for the site subnets. Pings must be blocked by the policies alone
# and pass once the SAs exist, and every SA must count the packets.
. "$(dirname "$0")/lib.sh"
here=$(cd "$(dirname "$0")" && pwd)
spi_ab=0x1001 spi_ba=0x1002

two_sites
ip -n "$(ns a)" route add "$lan_b" via "$wan_b" src "$host_a"
ip -n "$(ns b)" route add "$lan_a" via "$wan_a" src "$host_b"
expect_ping a "$host_b" -I "$host_a"

step "policies only: traffic between the subnets needs ESP, none exists"
# policy SITE LOCAL_WAN REMOTE_WAN LOCAL_LAN REMOTE_LAN
policy() {
  ip -n "$(ns "$1")" xfrm policy add src "$4" dst "$5" dir out \
    tmpl src "$2" dst "$3" proto esp reqid 1 mode tunnel
  ip -n "$(ns "$1")" xfrm policy add src "$5" dst "$4" dir in \
    tmpl src "$3" dst "$2" proto esp reqid 1 mode tunnel
}
policy a "$wan_a" "$wan_b" "$lan_a" "$lan_b"
policy b "$wan_b" "$wan_a" "$lan_b" "$lan_a"
expect_no_ping a "$host_b" -I "$host_a"

step "ESP SAs, rfc4106(gcm(aes)), encap espinudp 4500"
for site in a b; do
  in_ns_background "$site" "$here/espinudp-socket.pl" 4500 "/tmp/encap-$site.ready"
done
for _ in $(seq 50); do [ -f /tmp/encap-a.ready ] && [ -f /tmp/encap-b.ready ] && break; sleep 0.1; done
[ -f /tmp/encap-a.ready ] && [ -f /tmp/encap-b.ready ] || fail "ESP-in-UDP sockets did not start"
key_ab=0x$(random_hex 20) key_ba=0x$(random_hex 20)
# sa SITE SRC DST SPI KEY
sa() {
  ip -n "$(ns "$1")" xfrm state add src "$2" dst "$3" proto esp spi "$4" reqid 1 mode tunnel \
    replay-window 32 aead 'rfc4106(gcm(aes))' "$5" 128 encap espinudp 4500 4500 0.0.0.0
}
for site in a b; do
  sa "$site" "$wan_a" "$wan_b" "$spi_ab" "$key_ab"
  sa "$site" "$wan_b" "$wan_a" "$spi_ba" "$key_ba"
done
grep -q 'encap type espinudp sport 4500 dport 4500' <<<"$(ip -n "$(ns a)" xfrm state)" || fail "SA lacks UDP encapsulation"
expect_ping a "$host_b" -I "$host_a"
expect_ping b "$host_a" -I "$host_b"

step "SA counters"
at_least "a: out SA $spi_ab packets" "$(sa_packets a "$wan_a" "$wan_b" "$spi_ab")" 6
at_least "a: in SA $spi_ba packets" "$(sa_packets a "$wan_b" "$wan_a" "$spi_ba")" 6
at_least "b: in SA $spi_ab packets" "$(sa_packets b "$wan_a" "$wan_b" "$spi_ab")" 6
at_least "b: out SA $spi_ba packets" "$(sa_packets b "$wan_b" "$wan_a" "$spi_ba")" 6
step "esp-datapath-iproute2: ok"
