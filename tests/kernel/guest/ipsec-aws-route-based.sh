#!/bin/bash
# An aws-partner (route-based) IPsec tunnel with real kernel SAs: site A is
# configured only by `avpnctl apply` (XFRM interface + routes from avpn,
# connection from avpn over vici), site B is a plain swanctl.conf gateway.
# Both charons use kernel-netlink (no kernel-libipsec): ESP in the kernel.
# Checks: a refused connection rolls the XFRM interface back; the tunnel comes
# up, pings cross it through the XFRM interface and the SA counts them;
# `status` reports it; a re-apply keeps the SA; `down` removes interface and
# connection.
. "$(dirname "$0")/lib.sh"
avpnctl_bin=${AVPN_BIN:-}/avpnctl
charon=/usr/lib/ipsec/charon
[ -x "$avpnctl_bin" ] || { echo "skipped: avpnctl not built (AVPN_BIN='${AVPN_BIN:-}')"; exit 77; }
[ -x "$charon" ] && command -v swanctl >/dev/null || { echo "skipped: strongSwan charon/swanctl not installed"; exit 77; }
command -v jq >/dev/null || { echo "skipped: jq not installed"; exit 77; }
work=$(mktemp -d)
dump_logs() { local f; for f in "$work"/*/charon.log; do echo "== $f"; tail -n 30 "$f"; done; }
trap 'rc=$?; [ $rc -ne 0 ] && dump_logs; delete_namespaces; exit $rc' EXIT

two_sites
step "charons: A with avpn owning routes (install_routes = no), B a policy-based gateway"
charon_conf a "install_routes = no"
charon_conf b ""
start_charon a
start_charon b

psk=aws-shared-$(random_hex 8)
cat >"$work/b/swanctl/swanctl.conf" <<CONF
connections {
    vpc {
        remote_addrs = $wan_a
        proposals = aes256-sha256-modp2048
        local { auth = psk
                id = $wan_b }
        remote { auth = psk
                 id = $wan_a }
        children { vpc { local_ts = $lan_b
                         remote_ts = $lan_a
                         esp_proposals = aes256-sha256-modp2048 } }
    }
}
secrets { ike-vpc { id-a = $wan_a
                    id-b = $wan_b
                    secret = "$psk" } }
CONF
STRONGSWAN_CONF=$work/b/strongswan.conf swanctl --load-all --file "$work/b/swanctl/swanctl.conf" >/dev/null ||
  fail "swanctl --load-all on B"

mkdir -p "$work/a/site"
(umask 077 && "$avpnctl_bin" genkey >"$work/a/site/site.key" && printf '%s\n' "$psk" >"$work/a/site/aws.psk")
site_toml() {  # site_toml IKE_PROPOSAL
  cat <<TOML
[site]
name = "vm-a"
role = "off"
uplinks = ["wan-a"]
key_file = "site.key"

[[vlan]]
name = "lan"
subnet = "$lan_a"

[[ipsec]]
name = "vpc"
partner = "aws"
remote = "$wan_b"
psk_file = "aws.psk"
remote_networks = ["$lan_b"]
local_vlans = ["lan"]
ike_proposals = ["$1"]
dpd = { action = "restart", delay = "5s" }
TOML
}
actl() { local c=$1; shift; in_ns a "$avpnctl_bin" "$c" --state-dir "$work/a/state" --vici-socket "$work/a/charon.vici" "$@"; }

step "a proposal charon refuses: apply fails and the XFRM interface is rolled back"
site_toml aes256-sha256-nosuchgroup >"$work/a/site/bad.toml"
if actl apply "$work/a/site/bad.toml" >"$work/a/bad.out" 2>&1; then fail "apply with a refused proposal succeeded"; fi
cat "$work/a/bad.out"
grep -q "avpn-vpc" "$work/a/bad.out" || fail "the error does not name avpn-vpc"
grep -q "rolled back" "$work/a/bad.out" || fail "apply does not say it rolled back"
ip -n "$(ns a)" link show avx-vpc >/dev/null 2>&1 && fail "the XFRM interface survived the failed apply"
echo "no avx-vpc after the failed apply: ok"

step "apply: XFRM interface, routes, connection; the tunnel comes up"
site_toml aes256-sha256-modp2048 >"$work/a/site/site.toml"
actl apply "$work/a/site/site.toml" --json --settle 20 >"$work/a/apply.json" || { cat "$work/a/apply.json"; fail "apply"; }
[ "$(jq -r '.ipsec.tunnels[0].up' "$work/a/apply.json")" = true ] || { cat "$work/a/apply.json"; fail "tunnel not up after apply"; }
grep -q "xfrm" <<<"$(ip -n "$(ns a)" -d link show avx-vpc)" || fail "avx-vpc is not an XFRM interface"
if_id=$(ip -n "$(ns a)" -d link show avx-vpc | sed -n 's/.*if_id \(0x[0-9a-f]*\).*/\1/p')
echo "avx-vpc if_id $if_id"
grep -q "if_id $if_id" <<<"$(ip -n "$(ns a)" xfrm state)" || fail "charon's SAs do not carry the interface's if_id"

step "pings cross the tunnel through the XFRM interface, counted by the kernel SA"
tx_before=$(link_stat a avx-vpc tx_packets)
expect_ping a "$host_b" -I "$host_a"
expect_ping b "$host_a" -I "$host_b"
at_least "a: avx-vpc tx packets" "$(( $(link_stat a avx-vpc tx_packets) - tx_before ))" 6
at_least "a: avx-vpc rx packets" "$(link_stat a avx-vpc rx_packets)" 6
actl status --json >"$work/a/status.json" || fail "status"
at_least "status: packets out" "$(jq -r '.ipsec.tunnels[0].packets_out' "$work/a/status.json")" 6
spi=$(jq -r '.ipsec.tunnels[0].spi_in' "$work/a/status.json")

step "re-apply unchanged: no kernel change, same SA"
actl apply "$work/a/site/site.toml" --json >"$work/a/again.json" || fail "re-apply"
[ "$(jq -r ".changes" "$work/a/again.json")" = 0 ] || { jq -c ".ops[]" "$work/a/again.json"; fail "re-apply changed the kernel"; }
[ "$(jq -r '.ipsec.loaded | length' "$work/a/again.json")" = 0 ] || fail "re-apply reloaded the connection"
[ "$(jq -r '.ipsec.tunnels[0].spi_in' "$work/a/again.json")" = "$spi" ] || fail "re-apply replaced the SA"
echo "same SA $spi: ok"

step "down: interface, routes and connection gone"
actl down >/dev/null || fail "down"
ip -n "$(ns a)" link show avx-vpc >/dev/null 2>&1 && fail "avx-vpc survived down"
STRONGSWAN_CONF=$work/a/strongswan.conf swanctl --list-conns | grep -q avpn- && fail "a connection survived down"
expect_no_ping a "$host_b" -I "$host_a"
echo "PASS"
