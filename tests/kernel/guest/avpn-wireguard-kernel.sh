#!/bin/bash
# avpn's WireGuard transport on the kernel generic-netlink backend (no
# wireguard-go), end to end on the real kernel:
# 1. the netns demo (hub hq, spokes branch1/branch2) with
#    wireguard_backend = "kernel", one `avpnctl apply` per site: kernel
#    wireguard links, pings across on exported VLAN addresses, handshakes,
#    non-exported VLANs unreachable, a second apply changes nothing; a spoke
#    switched to wireguard-go and back gets its link replaced, nothing more;
# 2. a hub with 1,000 spokes configured in one apply and dumped back equal:
#    `wg show` has exactly the planned peers and allowed IPs, and a second
#    apply changes nothing.
# Usage: avpn-wireguard-kernel.sh [vlan]   (vlan: VLANs on 802.1Q subinterfaces)
. "$(dirname "$0")/lib.sh"
require_avpnctl
variant=${1:-}
ifname=avpn-demo

demo_init
demo_sites $variant
cfg=$(mktemp -d)
demo_config "$cfg" wg-kernel $variant
step "site files: wireguard_backend kernel${variant:+, VLAN subinterfaces}"
grep -h '^wireguard_backend\|^interface' "$cfg"/sites/hq.toml
demo_apply_all "$cfg"

step "kernel WireGuard links, no wireguard-go"
pgrep -x wireguard-go >/dev/null && fail "a wireguard-go process runs"
for site in hq branch1 branch2; do
  grep -q '^ *wireguard' <<<"$(in_site "$site" ip -d link show dev "$ifname")" || fail "$site: $ifname is not a kernel wireguard link"
  [ ! -e "$TOPO_WORK/run-$site/$ifname.sock" ] && [ ! -e "/run/wireguard/$ifname.sock" ] || fail "$site: a UAPI socket exists"
  echo "$site: $ifname is kernel wireguard, $(in_site "$site" wg show "$ifname" peers | wc -l) peers"
done

step "exported VLANs reachable, others not"
demo_expect_exports
for site in branch1 branch2; do
  hs=$(in_site "$site" wg show "$ifname" latest-handshakes | awk '{print $2}')
  at_least "$site: latest handshake with hq (unix time)" "${hs:-0}" 1
done
at_least "hq: peers with a handshake" "$(in_site hq wg show "$ifname" latest-handshakes | awk '$2 > 0' | wc -l)" 2

step "a second apply changes nothing"
for site in hq branch1 branch2; do
  changes=$(site_apply "$site" "$cfg" --json | jq .changes)
  [ "$changes" = 0 ] || fail "$site: second apply made $changes changes"
done
echo "0 changes on every site"

# switch_backend SITE BACKEND: the site's wireguard_backend changed and applied;
# exactly its link is replaced: what lives on it is deleted explicitly (so an
# undo could restore it), then the link, and all of it is created again.
switch_backend() {
  local site=$1 backend=$2 out="$cfg/switch-$1-$2.json"
  sed -i "s/^wireguard_backend = .*/wireguard_backend = \"$backend\"/" "$cfg/sites/$site.toml"
  site_apply "$site" "$cfg" --json >"$out" || { cat "$out"; fail "$site: apply with wireguard_backend $backend failed"; }
  jq -r '"ops: " + ([.ops[] | "\(.op) \(.kind)"] | join(", "))' "$out"
  [ "$(jq '[.ops[] | select(.kind == "link")] | length' "$out")" = 2 ] || fail "$site: the link was not replaced exactly once"
  [ "$(jq '[.ops[] | select(.op == "update")] | length' "$out")" = 0 ] || fail "$site: something was updated"
  [ "$(jq '[.ops[] | select(.op == "delete")] | length' "$out")" = "$(jq '[.ops[] | select(.op == "create")] | length' "$out")" ] ||
    fail "$site: deletes and creates do not pair up: more than the link and what lives on it changed"
  expect_site_ping branch1 10.1.1.1 10.0.1.1
  expect_site_ping branch1 10.1.1.1 10.2.1.1
  local changes
  changes=$(site_apply "$site" "$cfg" --json | jq .changes)
  [ "$changes" = 0 ] || fail "$site: the apply after the switch made $changes changes"
}
step "branch1 switches to wireguard-go: its link is replaced by a TUN device"
switch_backend branch1 userspace
grep -q '^ *tun' <<<"$(in_site branch1 ip -d link show dev "$ifname")" || fail "branch1: $ifname is not wireguard-go's TUN device"
pgrep -x wireguard-go >/dev/null || fail "no wireguard-go process runs"
step "and back to the kernel: wireguard-go goes"
switch_backend branch1 kernel
grep -q '^ *wireguard' <<<"$(in_site branch1 ip -d link show dev "$ifname")" || fail "branch1: $ifname is not a kernel wireguard link again"
for _ in $(seq 50); do pgrep -x wireguard-go >/dev/null || break; sleep 0.1; done
pgrep -x wireguard-go >/dev/null && fail "wireguard-go still runs after its link was deleted"
echo "branch1: kernel wireguard again, no wireguard-go"

# ---- a hub with 1,000 spokes ----
spokes=1000
big=$(mktemp -d)
step "a hub with $spokes spokes: member list"
cp "$cfg/keys/hq.key" "$big/hub.key"
chmod 600 "$big/hub.key"
hub_pub=$(avpnctl pubkey <"$big/hub.key")
# Spoke keys: a fixed derivation (SHA-256 of the spoke's name) rather than
# 1,000 genkey runs, which take minutes under emulation; any 32 bytes are a
# WireGuard public key.
perl -MDigest::SHA=sha256 -MMIME::Base64 -e '
  my ($n, $hub) = @ARGV;
  print "[[member]]\nname = \"hub\"\nrole = \"hub\"\npublic_key = \"$hub\"\nexports = [\"10.0.1.0/24\"]\n\n";
  for my $i (0 .. $n - 1) {
    my $key = encode_base64(sha256("avpn-kernel-test-spoke-$i"), "");
    printf "[[member]]\nname = \"s%04d\"\nrole = \"spoke\"\npublic_key = \"%s\"\nexports = [\"172.%d.%d.0/24\"]\nhubs = [\"hub\"]\n\n",
      $i, $key, 16 + int($i / 256), $i % 256;
  }' "$spokes" "$hub_pub" >"$big/members.toml"
cat >"$big/hub.toml" <<TOML
[site]
name = "hub"
role = "hub"
uplinks = ["wan0"]
key_file = "hub.key"

[[vlan]]
name = "Corp"
id = 10
subnet = "10.0.1.0/24"
shareable = true
interface = "lan0"

[autovpn]
group = "big"
members = "members.toml"
tunnel_subnet = "100.64.0.0/20"
wireguard_backend = "kernel"
TOML
topo_site hub 192.0.2.100/24 10.0.1.1/24
avpnctl plan "$big/hub.toml" --json >"$big/plan.json" || fail "plan of the 1,000-spoke hub"
big_if=$(jq -r '.wireguard[0].ifname' "$big/plan.json")
jq -r '.wireguard[0].peers[] | "\(.public_key) \(.allowed_ips | sort | join(","))"' "$big/plan.json" | LC_ALL=C sort >"$big/planned"
[ "$(wc -l <"$big/planned")" -eq "$spokes" ] || fail "the plan has $(wc -l <"$big/planned") peers, not $spokes"

step "one apply of $spokes spokes"
t0=$(date +%s%N)
in_site hub "$AVPN_BIN/avpnctl" apply "$big/hub.toml" --state-dir "$big/state" --json >"$big/apply.json" ||
  { head -c 2000 "$big/apply.json"; fail "apply of the 1,000-spoke hub failed"; }
echo "apply: $(jq .changes "$big/apply.json") changes in $(( ($(date +%s%N) - t0) / 1000000 )) ms"
grep -q '^ *wireguard' <<<"$(in_site hub ip -d link show dev "$big_if")" || fail "$big_if is not a kernel wireguard link"

step "dumped back equal"
in_site hub wg show "$big_if" allowed-ips |
  perl -lane 'print "$F[0] ", join(",", sort @F[1 .. $#F])' | LC_ALL=C sort >"$big/dumped"
echo "wg show: $(wc -l <"$big/dumped") peers"
diff "$big/planned" "$big/dumped" >"$big/diff" || { head -20 "$big/diff"; fail "wg show differs from the plan"; }
echo "peers and allowed IPs: as planned"
[ "$(in_site hub wg show "$big_if" listen-port)" = "$(jq '.wireguard[0].listen_port' "$big/plan.json")" ] || fail "listen port differs"
t0=$(date +%s%N)
changes=$(in_site hub "$AVPN_BIN/avpnctl" apply "$big/hub.toml" --state-dir "$big/state" --json | jq .changes)
[ "$changes" = 0 ] || fail "second apply of the 1,000-spoke hub made $changes changes"
echo "second apply: 0 changes in $(( ($(date +%s%N) - t0) / 1000000 )) ms"
step "avpn-wireguard-kernel: ok"
