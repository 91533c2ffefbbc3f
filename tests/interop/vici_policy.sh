#!/usr/bin/env bash
# Two policy-based tunnels between site A (configured only by `avpnctl apply`
# of a site.toml) and site B (swanctl.conf, a third-party gateway): both come
# up and carry pings; re-applying the unchanged file changes nothing (same
# IKE_SA, SPIs and established time); changing one tunnel leaves the other's
# SA untouched; a tunnel charon refuses fails the apply, names the connection
# and charon's reason and leaves nothing behind; removing a tunnel unloads it
# and nothing else (a foreign connection survives); a lost fingerprint file
# reloads but charon keeps the SA; a responder tunnel removed by apply has
# its SA closed on both sides; `down` unloads avpn's connections only.
# Also: a site without [[ipsec]] applies without any charon.
set -u
source "$(dirname "$0")/lib/sites.sh"
sites_init
require_avpnctl
two_sites_direct

note "a site without [[ipsec]] tunnels needs no charon"
in_ns a "$AVPNCTL" apply "$WORK/a/site.toml" --json --state-dir "$WORK/a/state0" \
    --vici-socket "$WORK/no-such-charon.vici" >"$WORK/a/out.json" || fail "apply without tunnels needed charon"
expect "ipsec step without tunnels" "$(jq_a '.ipsec')" null
in_ns a "$AVPNCTL" down --state-dir "$WORK/a/state0" --vici-socket "$WORK/no-such-charon.vici" >/dev/null ||
    fail "down without tunnels needed charon"

b_conn avpn-t1 b1.example a1.example 10.2.0.0/24 10.1.0.0/24 secret-one
b_conn avpn-t2 b2.example a2.example 10.2.1.0/24 10.1.1.0/24 secret-two
b_load
a_tunnel t1 192.0.2.2 a1.example b1.example lan0 10.2.0.0/24 "$(psk_file a t1 secret-one)"
a_tunnel t2 192.0.2.2 a2.example b2.example lan1 10.2.1.0/24 "$(psk_file a t2 secret-two)"
cp "$WORK/a/site.toml" "$WORK/a/both.toml"
cat >"$WORK/a/foreign.conf" <<'CONF'
connections {
    office-vpn {
        remote_addrs = 198.18.0.1
        local { auth = psk }
        remote { auth = psk }
        children { office-vpn-child { remote_ts = 198.18.1.0/24 } }
    }
}
CONF
swanctl_at a --load-conns --file "$WORK/a/foreign.conf" >/dev/null || fail "loading a foreign connection"

note "first apply: both loaded and up"
apply_a 10
expect "loaded" "$(jq_a '.ipsec.loaded | sort | join(",")')" "avpn-t1,avpn-t2"
expect "t1 up" "$(tunnel_field avpn-t1 up)" true
expect "t2 up" "$(tunnel_field avpn-t2 up)" true
expect "local address from the uplink" "$(tunnel_field avpn-t1 local_host)" 192.0.2.1
expect "no NAT seen" "$(tunnel_field avpn-t1 nat_local)" false
ping_between a 10.1.0.1 10.2.0.1
ping_between a 10.1.1.1 10.2.1.1
grep -q "secret-one\|secret-two" "$WORK/a/out.json" "$WORK/a/apply.err" && fail "apply printed a PSK"
status_a
t1_ike=$(tunnel_field avpn-t1 ike_id) t1_spi=$(tunnel_field avpn-t1 spi_in)
t1_since=$(tunnel_field avpn-t1 established_since)
t2_ike=$(tunnel_field avpn-t2 ike_id) t2_spi=$(tunnel_field avpn-t2 spi_in)
[ "$(tunnel_field avpn-t1 packets_in)" -gt 0 ] || fail "status counts no packets on t1 after pings"
[ "$(tunnel_field avpn-t1 child_rekey_in)" -gt 0 ] || fail "status shows no next CHILD rekey"

note "re-apply the unchanged file: nothing loaded, same SAs"
apply_a 0
expect "loaded" "$(jq_a '.ipsec.loaded | length')" 0
expect "unchanged" "$(jq_a '.ipsec.unchanged | length')" 2
expect "kernel changes" "$(jq_a '.changes')" 0
status_a
expect "t1 IKE_SA" "$(tunnel_field avpn-t1 ike_id)" "$t1_ike"
expect "t1 SPI" "$(tunnel_field avpn-t1 spi_in)" "$t1_spi"
since_now=$(tunnel_field avpn-t1 established_since)
[ $(( since_now - t1_since )) -le 1 ] && [ $(( t1_since - since_now )) -le 1 ] ||
    fail "t1 established time moved: $t1_since -> $since_now"
expect "t2 IKE_SA" "$(tunnel_field avpn-t2 ike_id)" "$t2_ike"
expect "t2 SPI" "$(tunnel_field avpn-t2 spi_in)" "$t2_spi"

note "change t2 only: t2 reloaded, t1 untouched"
sed -i '0,/child_lifetime = "1h"/! s/child_lifetime = "1h"/child_lifetime = "30m"/' "$WORK/a/site.toml"
avpnctl_a apply "$WORK/a/site.toml" --dry-run --json >"$WORK/a/out.json" || fail "apply --dry-run"
expect "dry run: would load" "$(jq_a '.ipsec.loaded | join(",")')" "avpn-t2"
status_a
expect "dry run left t2's SA" "$(tunnel_field avpn-t2 spi_in)" "$t2_spi"
apply_a 10
expect "loaded" "$(jq_a '.ipsec.loaded | join(",")')" "avpn-t2"
expect "unchanged" "$(jq_a '.ipsec.unchanged | join(",")')" "avpn-t1"
expect "t1 IKE_SA after t2 change" "$(tunnel_field avpn-t1 ike_id)" "$t1_ike"
expect "t1 SPI after t2 change" "$(tunnel_field avpn-t1 spi_in)" "$t1_spi"
expect "t2 up again" "$(tunnel_field avpn-t2 up)" true
note "t2 IKE_SA $t2_ike -> $(tunnel_field avpn-t2 ike_id), CHILD_SA SPI $t2_spi -> $(tunnel_field avpn-t2 spi_in)"
ping_between a 10.1.1.1 10.2.1.1
cp "$WORK/a/site.toml" "$WORK/a/changed.toml"

note "a tunnel charon refuses: apply fails, names it and charon's reason, adds nothing"
IKE_PROPOSALS=aes256-sha256-nosuchgroup \
    a_tunnel t3 192.0.2.2 a3.example b3.example lan0 10.2.3.0/24 "$(psk_file a t3 secret-three)"
if avpnctl_a apply "$WORK/a/site.toml" >"$WORK/a/bad.out" 2>&1; then fail "apply with a refused tunnel succeeded"; fi
grep -q "avpn-t3" "$WORK/a/bad.out" || fail "the error does not name avpn-t3: $(cat "$WORK/a/bad.out")"
grep -qi "proposal" "$WORK/a/bad.out" || fail "charon's reason is missing: $(cat "$WORK/a/bad.out")"
note "ok: $(grep 'ipsec failed' "$WORK/a/bad.out")"
grep -q '^avpn-t3:' <<<"$(swanctl_at a --list-conns 2>/dev/null)" && fail "avpn-t3 left loaded after the failed apply"
status_a
expect "t1 IKE_SA after the failed apply" "$(tunnel_field avpn-t1 ike_id)" "$t1_ike"
expect "t2 still up after the failed apply" "$(tunnel_field avpn-t2 up)" true
cp "$WORK/a/changed.toml" "$WORK/a/site.toml"

note "remove t2: unloaded, t1 and the foreign connection stay"
awk '/^\[\[ipsec\]\]/{n++} n<2' "$WORK/a/both.toml" >"$WORK/a/site.toml"
apply_a 0
expect "unloaded" "$(jq_a '.ipsec.unloaded | join(",")')" "avpn-t2"
expect "t1 IKE_SA after unload" "$(tunnel_field avpn-t1 ike_id)" "$t1_ike"
grep -q '^office-vpn:' <<<"$(swanctl_at a --list-conns 2>/dev/null)" || fail "foreign connection office-vpn was touched"
grep -q '^avpn-t2:' <<<"$(swanctl_at a --list-conns 2>/dev/null)" && fail "avpn-t2 still loaded"
note "ok: office-vpn survives, avpn-t2 gone"

note "fingerprints lost: t1 reloaded, but charon keeps its SA"
rm -f "$WORK/a/state/vici.fingerprints"
apply_a 0
expect "loaded without fingerprints" "$(jq_a '.ipsec.loaded | join(",")')" "avpn-t1"
expect "t1 IKE_SA after state loss" "$(tunnel_field avpn-t1 ike_id)" "$t1_ike"
expect "t1 SPI after state loss" "$(tunnel_field avpn-t1 spi_in)" "$t1_spi"
ping_between a 10.1.0.1 10.2.0.1

note "an unchanged initiator without an IKE_SA gets initiated by the next apply"
swanctl_at a --terminate --ike avpn-t1 >/dev/null 2>&1 || fail "terminate on site A"
apply_a 10
expect "initiated" "$(jq_a '.ipsec.initiated | join(",")')" "avpn-t1"
expect "loaded" "$(jq_a '.ipsec.loaded | length')" 0
expect "t1 up again" "$(tunnel_field avpn-t1 up)" true
ping_between a 10.1.0.1 10.2.0.1

note "a responder tunnel removed by apply: its SA is closed, not left up until the peer closes it"
B_REMOTE_ADDRS=192.0.2.1 b_conn avpn-t4 b4.example a4.example 10.2.1.0/24 10.1.1.0/24 secret-four
b_load
cp "$WORK/a/site.toml" "$WORK/a/t1-only.toml"
DPD_ACTION=clear a_tunnel t4 192.0.2.2 a4.example b4.example lan1 10.2.1.0/24 "$(psk_file a t4 secret-four)" \
    "initiator = false"
apply_a 0
expect "loaded responder" "$(jq_a '.ipsec.loaded | join(",")')" "avpn-t4"
swanctl_at b --initiate --child avpn-t4-child --timeout 10 >"$WORK/b/initiate.out" 2>&1 ||
    fail "site B could not initiate avpn-t4: $(tail -5 "$WORK/b/initiate.out")"
ping_between a 10.1.1.1 10.2.1.1
has_sa() { grep -q "^$2:" <<<"$(swanctl_at "$1" --list-sas 2>/dev/null)"; }
has_sa a avpn-t4 || fail "site A has no IKE_SA for avpn-t4 after B initiated it"
status_a
t1_ike=$(tunnel_field avpn-t1 ike_id)
cp "$WORK/a/t1-only.toml" "$WORK/a/site.toml"
apply_a 0
expect "unloaded" "$(jq_a '.ipsec.unloaded | join(",")')" "avpn-t4"
# The DELETE exchange takes a round trip; a responder's SA used to stay up.
for _ in $(seq 30); do has_sa a avpn-t4 || has_sa b avpn-t4 || break; sleep 0.1; done
has_sa a avpn-t4 && fail "site A still has an IKE_SA for the removed responder avpn-t4"
has_sa b avpn-t4 && fail "site B still has an IKE_SA for avpn-t4: it got no DELETE"
status_a
expect "t1 IKE_SA after removing t4" "$(tunnel_field avpn-t1 ike_id)" "$t1_ike"
note "ok: avpn-t4's SA is gone on both sides"

note "down: avpn's connections and SAs go, the foreign connection stays"
avpnctl_a down --json >"$WORK/a/out.json" || fail "avpnctl down"
expect "unloaded by down" "$(jq_a '.ipsec.unloaded | join(",")')" "avpn-t1"
grep -q '^avpn-' <<<"$(swanctl_at a --list-conns 2>/dev/null)" && fail "an avpn connection survived down"
grep -q '^avpn-' <<<"$(swanctl_at a --list-sas 2>/dev/null)" && fail "an avpn SA survived down"
grep -q '^office-vpn:' <<<"$(swanctl_at a --list-conns 2>/dev/null)" || fail "down touched office-vpn"
[ -e "$WORK/a/state/applied.state" ] && fail "down left the applied record"
echo "PASS"
