#!/usr/bin/env bash
# `avpnctl status` for AutoVPN groups: after hub hq and spoke branch1 of
# examples/netns-demo are applied (wireguard-go) and a ping crossed the
# tunnel, branch1's status names its WireGuard interface, the userspace
# backend, hq as a peer with a recent handshake and counted bytes; with no
# [[ipsec]] tunnels it needs no charon (ipsec is null).
set -euo pipefail
SRC=${AVPN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
AVPNCTL=${AVPN_BIN:-$SRC/build/bin}/avpnctl
# shellcheck source=lib/topology.sh
. "$SRC/tests/netns/lib/topology.sh"
topo_require jq wireguard-go ping
[ -x "$AVPNCTL" ] || { echo "FAIL: $AVPNCTL not built"; exit 1; }
topo_init
topo_demo_copy "$SRC"
fail() { topo_fail "$@"; }
# No charon here: a site without [[ipsec]] must not need one.
TOPO_AVPN_ARGS="--vici-socket $TOPO_WORK/no-charon.vici"
avpn() { topo_avpn "$@"; }

for s in hq branch1; do avpn "$s" apply "$DEMO/sites/$s.toml" >/dev/null || fail "apply $s"; done
topo_ping branch1 10.1.1.1 10.0.1.1 || fail "no ping branch1 -> hq through the tunnel"
st=$(avpn branch1 status --json) || fail "status failed: $st"
echo "$st" | jq -c '.wireguard'
hq_key=$("$AVPNCTL" pubkey <"$DEMO/keys/hq.key")
[ "$(jq -r '.ipsec' <<<"$st")" = null ] || fail "ipsec is not null without tunnels"
[ "$(jq -r '.wireguard | length' <<<"$st")" = 1 ] || fail "not one WireGuard interface"
[ "$(jq -r '.wireguard[0].backend' <<<"$st")" = userspace ] || fail "backend is not userspace"
peer=$(jq -c --arg k "$hq_key" '.wireguard[0].peers[] | select(.public_key == $k)' <<<"$st")
[ -n "$peer" ] || fail "hq ($hq_key) is not a peer of branch1"
now=$(date +%s)
hs=$(jq -r '.last_handshake' <<<"$peer")
[ "$hs" -gt $((now - 60)) ] && [ "$hs" -le $((now + 1)) ] || fail "hq's last handshake $hs is not recent (now $now)"
[ "$(jq -r '.rx_bytes' <<<"$peer")" -gt 0 ] && [ "$(jq -r '.tx_bytes' <<<"$peer")" -gt 0 ] || fail "no bytes counted: $peer"
grep -q "    handshake [0-9]* s ago" <<<"$(avpn branch1 status)" || fail "text status shows no handshake"
for s in hq branch1; do avpn "$s" down >/dev/null || fail "down $s"; done
echo "PASS: branch1 status shows hq's handshake $((now - hs)) s ago"
