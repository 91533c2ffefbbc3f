#!/usr/bin/env bash
# One tunnel with a PSK that site B does not share: status says
# "authentication failed" for it, while the other tunnel is up and pings.
set -u
source "$(dirname "$0")/lib/sites.sh"
sites_init
require_driver
two_sites_direct

b_conn avpn-good b1.example a1.example 10.2.0.0/24 10.1.0.0/24 shared-secret
b_conn avpn-bad b2.example a2.example 10.2.1.0/24 10.1.1.0/24 the-right-one
b_load
a_conn avpn-good 192.0.2.1 192.0.2.2 a1.example b1.example 10.1.0.0/24 10.2.0.0/24 "$(psk_file a good shared-secret)"
a_conn avpn-bad 192.0.2.1 192.0.2.2 a2.example b2.example 10.1.1.0/24 10.2.1.0/24 "$(psk_file a bad a-wrong-one)"

apply_a 15
expect "good up" "$(tunnel_field avpn-good up)" true
expect "bad not up" "$(tunnel_field avpn-bad up)" false
expect "bad's failure" "$(tunnel_field avpn-bad last_failure)" "authentication failed"
expect "good has no failure" "$(tunnel_field avpn-good last_failure)" ""
ping_between a 10.1.0.1 10.2.0.1
jq_a '.status[] | select(.name == "avpn-bad") | .last_failure_detail' | grep -qi "secret-\|wrong" &&
    fail "the failure detail shows a secret"
echo "PASS"
