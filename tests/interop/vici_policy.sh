#!/usr/bin/env bash
# Two policy-based tunnels between site A (avpn's reconciler only) and site B
# (swanctl.conf, a third-party gateway): both come up and carry pings; a
# re-apply of the same connections changes nothing (same IKE_SA and SPIs);
# changing one tunnel leaves the other's SA untouched; removing one unloads
# it and nothing else (a foreign connection survives); a lost state file
# reloads but charon keeps the SA.
set -u
source "$(dirname "$0")/lib/sites.sh"
sites_init
require_driver
two_sites_direct

b_conn avpn-t1 b1.example a1.example 10.2.0.0/24 10.1.0.0/24 secret-one
b_conn avpn-t2 b2.example a2.example 10.2.1.0/24 10.1.1.0/24 secret-two
b_load
a_conn avpn-t1 192.0.2.1 192.0.2.2 a1.example b1.example 10.1.0.0/24 10.2.0.0/24 "$(psk_file a t1 secret-one)"
a_conn avpn-t2 192.0.2.1 192.0.2.2 a2.example b2.example 10.1.1.0/24 10.2.1.0/24 "$(psk_file a t2 secret-two)"
cp "$WORK/a/conns.toml" "$WORK/a/both.toml"
driver load-foreign office-vpn || fail "loading a foreign connection"

note "first apply: both loaded and up"
apply_a 10
expect "loaded" "$(jq_a '.report.loaded | sort | join(",")')" "avpn-t1,avpn-t2"
expect "t1 up" "$(tunnel_field avpn-t1 up)" true
expect "t2 up" "$(tunnel_field avpn-t2 up)" true
expect "no NAT seen" "$(tunnel_field avpn-t1 nat_local)" false
ping_between a 10.1.0.1 10.2.0.1
ping_between a 10.1.1.1 10.2.1.1
t1_ike=$(tunnel_field avpn-t1 ike_id) t1_spi=$(tunnel_field avpn-t1 spi_in)
t2_ike=$(tunnel_field avpn-t2 ike_id) t2_spi=$(tunnel_field avpn-t2 spi_in)

note "re-apply unchanged: nothing loaded, same SAs"
apply_a 0
expect "loaded" "$(jq_a '.report.loaded | length')" 0
expect "unchanged" "$(jq_a '.report.unchanged | length')" 2
expect "t1 IKE_SA" "$(tunnel_field avpn-t1 ike_id)" "$t1_ike"
expect "t1 SPI" "$(tunnel_field avpn-t1 spi_in)" "$t1_spi"
expect "t2 IKE_SA" "$(tunnel_field avpn-t2 ike_id)" "$t2_ike"
expect "t2 SPI" "$(tunnel_field avpn-t2 spi_in)" "$t2_spi"

note "change t2 only: t2 reloaded, t1 untouched"
sed -i '0,/rekey_time = 3600/! s/rekey_time = 3600/rekey_time = 1800/' "$WORK/a/conns.toml"
apply_a 10
expect "loaded" "$(jq_a '.report.loaded | join(",")')" "avpn-t2"
expect "unchanged" "$(jq_a '.report.unchanged | join(",")')" "avpn-t1"
expect "t1 IKE_SA after t2 change" "$(tunnel_field avpn-t1 ike_id)" "$t1_ike"
expect "t1 SPI after t2 change" "$(tunnel_field avpn-t1 spi_in)" "$t1_spi"
expect "t2 up again" "$(tunnel_field avpn-t2 up)" true
note "t2 IKE_SA $t2_ike -> $(tunnel_field avpn-t2 ike_id), CHILD_SA SPI $t2_spi -> $(tunnel_field avpn-t2 spi_in)"
ping_between a 10.1.1.1 10.2.1.1

note "remove t2: unloaded, t1 and the foreign connection stay"
awk '/^\[\[conn\]\]/{n++} n<2' "$WORK/a/both.toml" >"$WORK/a/conns.toml"
apply_a 0
expect "unloaded" "$(jq_a '.report.unloaded | join(",")')" "avpn-t2"
expect "t1 IKE_SA after unload" "$(tunnel_field avpn-t1 ike_id)" "$t1_ike"
swanctl_at a --list-conns 2>/dev/null | grep -q '^office-vpn:' || fail "foreign connection office-vpn was touched"
swanctl_at a --list-conns 2>/dev/null | grep -q '^avpn-t2:' && fail "avpn-t2 still loaded"
note "ok: office-vpn survives, avpn-t2 gone"

note "state file lost: t1 reloaded, but charon keeps its SA"
rm -f "$WORK/a/vici.state"
apply_a 0
expect "loaded without state" "$(jq_a '.report.loaded | join(",")')" "avpn-t1"
expect "t1 IKE_SA after state loss" "$(tunnel_field avpn-t1 ike_id)" "$t1_ike"
expect "t1 SPI after state loss" "$(tunnel_field avpn-t1 spi_in)" "$t1_spi"
ping_between a 10.1.0.1 10.2.0.1

note "an unchanged initiator without an IKE_SA gets initiated by the next apply"
swanctl_at a --terminate --ike avpn-t1 >/dev/null 2>&1 || fail "terminate on site A"
apply_a 10
expect "initiated" "$(jq_a '.report.initiated | join(",")')" "avpn-t1"
expect "loaded" "$(jq_a '.report.loaded | length')" 0
expect "t1 up again" "$(tunnel_field avpn-t1 up)" true
ping_between a 10.1.0.1 10.2.0.1
echo "PASS"
