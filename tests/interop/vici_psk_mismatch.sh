#!/usr/bin/env bash
# One tunnel with a PSK that site B does not share: apply and a later
# `avpnctl status` say "authentication failed" for it, while the other tunnel
# is up and pings. No output shows a secret.
set -u
source "$(dirname "$0")/lib/sites.sh"
sites_init
require_avpnctl
two_sites_direct

b_conn avpn-good b1.example a1.example 10.2.0.0/24 10.1.0.0/24 shared-secret
b_conn avpn-bad b2.example a2.example 10.2.1.0/24 10.1.1.0/24 the-right-one
b_load
a_tunnel good 192.0.2.2 a1.example b1.example lan0 10.2.0.0/24 "$(psk_file a good shared-secret)"
a_tunnel bad 192.0.2.2 a2.example b2.example lan1 10.2.1.0/24 "$(psk_file a bad a-wrong-one)"

apply_a 15
expect "good up" "$(tunnel_field avpn-good up)" true
expect "bad not up" "$(tunnel_field avpn-bad up)" false
expect "bad's failure" "$(tunnel_field avpn-bad last_failure)" "authentication failed"
expect "good has no failure" "$(tunnel_field avpn-good last_failure)" ""
ping_between a 10.1.0.1 10.2.0.1
grep -qi "shared-secret\|a-wrong-one\|the-right-one" "$WORK/a/out.json" "$WORK/a/apply.err" &&
    fail "apply's output shows a secret"

note "a later, separate status still knows why avpn-bad is down (recorded in the state dir)"
status_a
expect "bad's failure in status" "$(tunnel_field avpn-bad last_failure)" "authentication failed"
expect "bad still not up" "$(tunnel_field avpn-bad up)" false
expect "good still up" "$(tunnel_field avpn-good up)" true
expect "good has no failure in status" "$(tunnel_field avpn-good last_failure)" ""
avpnctl_a status >"$WORK/a/status.txt" || fail "avpnctl status (text)"
cat "$WORK/a/status.txt"
grep -q "avpn-bad: down.*authentication failed" "$WORK/a/status.txt" ||
    fail "text status does not say why avpn-bad is down: $(cat "$WORK/a/status.txt")"
grep -qi "shared-secret\|a-wrong-one\|the-right-one" "$WORK/a/out.json" "$WORK/a/status.txt" &&
    fail "status shows a secret"
echo "PASS"
