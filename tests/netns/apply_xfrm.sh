#!/usr/bin/env bash
# An XFRM site applied by avpnd, end to end, on a kernel that has ESP and XFRM
# interfaces (the VM tier runs the netns label there; this host has neither,
# so it skips with the reason). An XFRM group's ESP-in-UDP socket is avpnd's,
# so each site runs under its own avpnd (the one-shot refuses the group:
# xfrm_needs_avpnd.sh). The demo's hub and spokes with transport = "xfrm":
# for each site the dry run (planned against the live uplinks) is the plan;
# after avpnd's first apply every planned link, policy, route and rule is
# in the kernel and nothing else of avpn's, and avpnd holds the group's UDP
# port; an apply through avpnd writes nothing more and keeps the same socket.
# SAs are not planned: they come from avpnd's key exchange once both ends
# run (docs/xfrm-keying.md). So with all three up, every site has one SA
# pair per peer, each SA's SPI the one its receiver chose, the two ends'
# SAs mirror each other, and a second apply still writes nothing.
# Down through avpnd leaves nothing and closes the socket. The data path
# (ESP-in-UDP, pings) is the kernel tier's avpn-xfrm-transport test.
set -euo pipefail
SRC=${AVPN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
AVPNCTL=${AVPN_BIN:-$SRC/build/bin}/avpnctl
AVPND=${AVPN_BIN:-$SRC/build/bin}/avpnd
# shellcheck source=lib/topology.sh
. "$SRC/tests/netns/lib/topology.sh"
topo_require jq ss

# Can this kernel hold what the plan needs?
why=$(topo_xfrm_missing)
[ -z "$why" ] || topo_skip "$why; the VM tier (tests/kernel, kernel-netns-suite) runs this test"
[ -x "$AVPNCTL" ] && [ -x "$AVPND" ] || { echo "FAIL: avpnctl or avpnd not built"; exit 1; }

started=$EPOCHREALTIME
topo_init
SITES=(hq branch1 branch2)
topo_demo_copy "$SRC"
# The transport is the group's (the member list's header); wireguard_backend
# only applies to WireGuard.
sed -i 's/^transport = .*/transport = "xfrm"/' "$DEMO/members.toml"
sed -i '/^wireguard_backend = /d' "$DEMO"/sites/*.toml
grep -q '^transport = "xfrm"' "$DEMO/members.toml" || topo_fail "could not edit members.toml"

fail() {
  local l
  for l in "$TOPO_WORK"/avpnd-*.log; do [ -f "$l" ] && sed "s#^#   ${l##*/}| #" "$l" >&2; done
  topo_fail "$@"
}
step() { echo "== $*"; }
TOPO_AVPN_ARGS="--vici-socket $TOPO_WORK/no-charon.vici"
avpn() { topo_avpn "$@"; }
port=51820
log_has() { grep -qF "$2" "$TOPO_WORK/avpnd-$1.log"; }
# start_avpnd SITE: avpnd for SITE on its control socket (topo_avpnd_socket,
# the one topo_avpn asks); AVPND_PID.
start_avpnd() {
  topo_spawn "$1" "$AVPND" "$DEMO/sites/$1.toml" --state-dir "$TOPO_WORK/state-$1" \
    --vici-socket "$TOPO_WORK/no-charon.vici" --control-socket "$(topo_avpnd_socket "$1")" \
    --resync 3600 --quiet-ms 100 2>>"$TOPO_WORK/avpnd-$1.log" >/dev/null
  AVPND_PID=$TOPO_SPAWNED
}
in_site() { local n; n=$(topo_ns "$1"); shift; ip netns exec "$n" "$@"; }

for s in "${SITES[@]}"; do
  step "$s: plan (dry run against the live uplink), apply, compare"
  plan=$(avpn "$s" apply --dry-run --json "$DEMO/sites/$s.toml") || fail "$s: dry run failed: $plan"
  n_states=$(jq '.created.xfrm_state' <<<"$plan")
  n_pols=$(jq '.created.xfrm_policy' <<<"$plan")
  [ "$n_states" -eq 0 ] && [ "$n_pols" -gt 0 ] ||
    fail "$s: the plan must have policies and no SAs before any handshake: $(jq -c .created <<<"$plan")"
  start_avpnd "$s"
  topo_wait_for "$s: avpnd's first apply" 30 log_has "$s" "full apply (start)"
  log_has "$s" "full apply (start): " || fail "$s: avpnd's first apply failed"
  topo_wait_for "$s: avpnd's control socket" 10 test -S "$(topo_avpnd_socket "$s")"
  # The dry run's counts are what avpnd's first apply must have done.
  want=$(jq -r '[([.created[]] | add), ([.updated[]] | add), ([.deleted[]] | add)] |
    "\(add) ops (\(.[0]) created, \(.[1]) updated, \(.[2]) removed)"' <<<"$plan")
  log_has "$s" "full apply (start): $want" ||
    fail "$s: avpnd's first apply is not the plan's $want: $(grep 'full apply (start)' "$TOPO_WORK/avpnd-$s.log")"
  holder=$(topo_udp_holder "$s" "$port")
  [[ $holder == "\"avpnd\",pid=$AVPND_PID,"* ]] && [ "$(wc -l <<<"$holder")" = 1 ] ||
    fail "$s: UDP $port is not held by avpnd (pid $AVPND_PID): '$holder'"
  echo "   $(grep -o 'full apply (start): .*' "$TOPO_WORK/avpnd-$s.log"); UDP $port: $holder"

  dump=$(topo_avpn_dump "$s")
  # The XFRM interface with the planned if_id.
  while read -r name if_id; do
    grep -q "xfrm if_id $if_id" <<<"$(in_site "$s" ip -d link show dev "$name")" || fail "$s: $name is not an xfrm interface with if_id $if_id"
  done < <(jq -r '.ops[] | select(.kind == "link") | .object | "\(.name) \(.if_id)"' <<<"$plan")
  # (One dump, read many times: under the VM's emulation every process counts.)
  # Every planned policy, by selector and direction; no other.
  while read -r src dst dir prio; do
    grep -Eq "^xfrm-policy src $src dst $dst dir $dir (action block )?priority $prio " <<<"$dump" ||
      fail "$s: no policy $src -> $dst dir $dir priority $prio in: $dump"
  done < <(jq -r '.ops[] | select(.kind == "xfrm_policy") | .object | "\(.src) \(.dst) \(.dir) \(.priority)"' <<<"$plan")
  [ "$(grep -c '^xfrm-policy ' <<<"$dump")" -eq "$n_pols" ] || fail "$s: policy count differs from the plan"
  # Routes and rules.
  while read -r table dst dev; do
    grep -Eq "^route ${dst%/32} dev $dev table $table( |\$)" <<<"$dump" || fail "$s: no route $dst dev $dev table $table"
  done < <(jq -r '.ops[] | select(.kind == "route") | .object | "\(.table) \(.dst) \(.dev)"' <<<"$plan")
  [ "$(grep -c '^route ' <<<"$dump")" -eq "$(jq '.created.route' <<<"$plan")" ] || fail "$s: route count differs"
  [ "$(grep -c '^rule' <<<"$dump")" -eq "$(jq '.created.rule' <<<"$plan")" ] || fail "$s: rule count differs"

  r=$(avpn "$s" apply --json "$DEMO/sites/$s.toml") || fail "$s: apply through avpnd failed"
  [ "$(jq '.changes' <<<"$r")" = 0 ] || fail "$s: apply through avpnd wrote $(jq -c '[.ops[] | "\(.op) \(.kind)"]' <<<"$r")"
  [ "$(topo_udp_holder "$s" "$port")" = "$holder" ] || fail "$s: the socket changed: $holder -> $(topo_udp_holder "$s" "$port")"
  echo "   kernel equals the plan; an apply through avpnd writes nothing and keeps the socket"
done

step "key exchange: one SA pair per peer, mirrored at both ends"
has_sas() { [ "$(in_site "$1" ip xfrm state | grep -c '^src ' || true)" -eq "$2" ]; }
topo_wait_for "hq: 4 SAs (2 peers)" 30 has_sas hq 4
topo_wait_for "branch1: 2 SAs" 30 has_sas branch1 2
topo_wait_for "branch2: 2 SAs" 30 has_sas branch2 2
# "src dst spi key" of every SA: an SA at one end is the same SA, with the
# same key, at the other (both derived it from their handshake).
sa_ids() { in_site "$1" ip xfrm state | awk '/^src /{s=$2; d=$4} /proto esp spi/{spi=$4} /aead /{print s, d, spi, $3}' | sort; }
hq_ids=$(sa_ids hq)
for s in branch1 branch2; do
  [ "$(sa_ids "$s" | wc -l)" -eq 2 ] || fail "$s: SAs unreadable: $(sa_ids "$s")"
  while read -r src dst spi key; do
    grep -qx "$src $dst $spi $key" <<<"$hq_ids" || fail "$s: SA $src -> $dst spi $spi has no twin with its key at hq"
  done < <(sa_ids "$s")
  log_has "$s" "xfrm: demo/hq: up, epoch 1" || fail "$s: no handshake with hq in its log"
done
echo "   $(awk '{print $1 "->" $2 " spi " $3}' <<<"$hq_ids" | tr '\n' ';')"
for s in "${SITES[@]}"; do
  r=$(avpn "$s" apply --json "$DEMO/sites/$s.toml") || fail "$s: apply through avpnd failed"
  [ "$(jq '.changes' <<<"$r")" = 0 ] || fail "$s: apply after the handshakes wrote $(jq -c '[.ops[] | "\(.op) \(.kind)"]' <<<"$r")"
done
echo "   a second apply on every site writes nothing"

step "down through avpnd"
for s in "${SITES[@]}"; do
  avpn "$s" down --json >/dev/null || fail "$s: down failed"
  left=$(topo_avpn_dump "$s")
  [ -z "$left" ] || fail "$s: avpn objects remain after down:"$'\n'"$left"
  [ -z "$(topo_udp_holder "$s" "$port")" ] || fail "$s: UDP $port still held after down: $(topo_udp_holder "$s" "$port")"
done
echo "PASS apply_xfrm ($(awk -v a="$started" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.1f", b - a}') s)"
