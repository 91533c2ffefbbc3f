#!/usr/bin/env bash
# Dead peer: site A (from `avpnctl apply`, dpd action restart) keeps its
# tunnel; site B's charon is killed (-9) and started again with its
# swanctl.conf; site A notices by DPD and re-establishes the tunnel on its
# own, within a bounded wait, and the LANs ping again. Then A's own charon
# restarts: status shows the connection is gone, one apply restores it.
set -u
source "$(dirname "$0")/lib/sites.sh"
sites_init
require_avpnctl
two_sites_direct

DPD_DELAY=2
b_conn avpn-dpd b.example a.example 10.2.0.0/24 10.1.0.0/24 dpd-secret
b_load
a_tunnel dpd 192.0.2.2 a.example b.example lan0 10.2.0.0/24 "$(psk_file a dpd dpd-secret)"

apply_a 10
expect "up" "$(tunnel_field avpn-dpd up)" true
ping_between a 10.1.0.1 10.2.0.1
old_ike=$(tunnel_field avpn-dpd ike_id)

note "kill -9 site B's charon, start it again"
kill_charon b
sleep 1
start_charon b
b_load
start=$(date +%s)
# Until A has a new, established IKE_SA (the old one dies by DPD first).
while :; do
    status_a
    [ "$(tunnel_field avpn-dpd up)" = true ] && [ "$(tunnel_field avpn-dpd ike_id)" != "$old_ike" ] && break
    [ $(( $(date +%s) - start )) -lt 60 ] || fail "tunnel not back within 60 s of B's restart"
    sleep 1
done
note "ok: back after $(( $(date +%s) - start )) s without operator action (IKE_SA $old_ike -> $(tunnel_field avpn-dpd ike_id))"
ping_between a 10.1.0.1 10.2.0.1

note "site A's own charon restarts: status says the connection is not loaded, apply restores it"
kill_charon a
start_charon a
status_a
expect "loaded after A's restart" "$(tunnel_field avpn-dpd loaded)" false
expect "up after A's restart" "$(tunnel_field avpn-dpd up)" false
apply_a 10
expect "reloaded" "$(jq_a '.ipsec.loaded | join(",")')" avpn-dpd
expect "up again" "$(tunnel_field avpn-dpd up)" true
ping_between a 10.1.0.1 10.2.0.1
echo "PASS"
