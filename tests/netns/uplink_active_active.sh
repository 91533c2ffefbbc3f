#!/usr/bin/env bash
# Active-active (issue 15; docs/uplinks.md "Active-active"). Spoke branch1
# of examples/netns-demo gets two uplinks through two routers to hub hq
# (lib/two_uplinks.sh), `active_active = true` and `paths = 2` in its
# member-list entry. Then:
#   - the plan as built: avpn-demo leaves by wan0 (fwmark table 7200),
#     avpn-demo.p1 by wan1 (7201); hq has both devices and sees branch1 at
#     wan0's address on one and wan1's on the other;
#   - 16 parallel UDP flows from branch1's Corp LAN to hq's: every one
#     answered; both uplinks carry tunnel datagrams (counters in r0 and r1);
#     both paths carry flows (conntrack marks 7300 and 7301 in branch1); hq
#     sees each flow arrive on one device only (a dynamic set of arrival
#     device and source port), so one flow keeps one path;
#   - r0's side of wan0 goes down while the flows run: every flow goes on
#     (the longest gap of each printed, under AVPN_FAILOVER_LIMIT_MS,
#     default 1000), path 0's device moves to wan1 (fwmark 0x1c21) and the
#     flows stay on their devices; the flows on path 1 are not disturbed;
#   - wan0 back: path 0 returns to wan0 as soon as its probes answer (no
#     hold: no flow changes device), and every flow still answers.
# AVPN_FULL_TUNNEL=1 makes hq branch1's default-route hub and sends the flows
# to 198.19.5.1, an address of hq's that only the default route reaches:
# the default route spreads over the paths while each path's own datagrams
# keep leaving by their uplinks.
# AVPN_UPLINKS=3 gives branch1 a third uplink (wan2 through r2) and paths
# = 3: path i leaves by wan i, and the cut moves path 0 to wan1 while paths
# 1 and 2 stay. AVPN_WG_BACKEND (userspace, the default, or kernel) picks the backend;
# AVPN_TRANSPORT=xfrm runs the group over XFRM instead (the VM tier: ESP),
# where path i is an XFRM interface with SAs and a key exchange of its own
# on port 51820 + i, and "leaves by" is its outbound SA's source address.
set -euo pipefail
SRC=${AVPN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BIN=${AVPN_BIN:-$SRC/build/bin}
AVPNCTL=$BIN/avpnctl
AVPND=$BIN/avpnd
# shellcheck source=lib/topology.sh
. "$SRC/tests/netns/lib/topology.sh"
BACKEND=${AVPN_WG_BACKEND:-userspace}
TRANSPORT=${AVPN_TRANSPORT:-wireguard}
UPLINKS=${AVPN_UPLINKS:-2}
FULL_TUNNEL=${AVPN_FULL_TUNNEL:-0}
FLOW_DST=10.0.1.1
[ "$FULL_TUNNEL" = 1 ] && FLOW_DST=198.19.5.1
PATHS=$(seq 0 $((UPLINKS - 1)))
FURTHER=$(seq 1 $((UPLINKS - 1)))
LIMIT_MS=${AVPN_FAILOVER_LIMIT_MS:-1000}
FLOWS=16
# shellcheck source=lib/two_uplinks.sh
. "$SRC/tests/netns/lib/two_uplinks.sh"
two_uplinks_require kernel-uplink-active-active
topo_init
LOG=$TOPO_WORK/avpnd.log
fail() {
  [ -f "$LOG" ] && sed 's/^/   avpnd| /' "$LOG" >&2
  topo_fail "$@"
}
step() { echo "== $*"; }
log_has() { grep -q "$1" "$LOG"; }
FLOWS_PY=$SRC/tests/netns/lib/udp_flows.py

two_uplinks_make
sed -i 's|^uplinks = \[.*\]$|&\nactive_active = true|' "$DEMO/sites/branch1.toml"
sed -i "s|^contact = \"203.0.113.2:51820\"|&\npaths = $UPLINKS|" "$DEMO/members.toml"
grep -q '^active_active = true' "$DEMO/sites/branch1.toml" || fail "branch1.toml: active_active not set"
grep -q "^paths = $UPLINKS" "$DEMO/members.toml" || fail "members.toml: paths not set"
if [ "$FULL_TUNNEL" = 1 ]; then
  exit_hub='hubs = [{ name = "hq", default_route = true }]'
  sed -i "s|^hubs = \\[\"hq\"\\]|$exit_hub|" "$DEMO/sites/branch1.toml"
  sed -i "/^name = \"branch1\"/,/^\\[\\[member\\]\\]/ s|^hubs = \\[\"hq\"\\]|$exit_hub|" "$DEMO/members.toml"
  [ "$(grep -c "default_route = true" "$DEMO/sites/branch1.toml" "$DEMO/members.toml" | grep -c ':1$')" = 2 ] ||
    fail "hq is not branch1's default-route hub in both files"
  ip -n "$(ns hq)" addr add 198.19.5.1/32 dev lo
fi
# Path i: its device, its uplink's router and address, its port.
dev_of() { [ "$1" = 0 ] && echo avpn-demo || echo "avpn-demo.p$1"; }
wan_addr() { case "$1" in 0) echo 203.0.113.2 ;; 1) echo 198.51.100.2 ;; 2) echo 198.18.0.2 ;; esac; }

# Tunnel datagrams to hq per port, counted where each uplink's router
# forwards them.
for i in $PATHS; do
  {
    echo "table inet count {"
    for j in $PATHS; do echo "  counter to5182$j {}"; done
    echo "  chain through {"
    echo "    type filter hook forward priority 0; policy accept;"
    for j in $PATHS; do echo "    ip daddr 192.0.2.1 udp dport 5182$j counter name \"to5182$j\""; done
    echo "  }"
    echo "}"
  } | ip netns exec "$(ns "r$i")" nft -f -
done
# counted ROUTER PORT: datagrams ROUTER forwarded to hq's PORT so far.
counted() { ip netns exec "$(ns "$1")" nft -j list counter inet count "to$2" | jq '.nftables[1].counter.packets'; }
# In hq: every (arrival device, flow's source port) pair seen.
ip netns exec "$(ns hq)" nft -f - <<NFT
table inet seen {
  set flows { type ifname . inet_service; flags dynamic; size 1024; }
  chain pre {
    type filter hook prerouting priority 0; policy accept;
    ip daddr $FLOW_DST udp dport 7000 add @flows { iifname . udp sport }
  }
}
NFT
arrivals() { ip netns exec "$(ns hq)" nft -j list set inet seen flows | jq -c '[.. | .concat? // empty]'; }

# The outbound SAs of SITE as "src dst if_id dport" lines (XFRM).
sas_out() {
  ip -n "$(ns "$1")" xfrm state | awk '/^src / {src = $2; dst = $4} /encap type/ {dport = $7}
    /if_id/ {print src, dst, $2, dport}'
}
if_id_of() { [ "$1" = avpn-demo ] && echo 0x41560001 || printf '0x%x\n' $((0x41560100 + ${1##*.p})); }
# leaves_by DEVICE: the uplink branch1's path on DEVICE leaves by: its
# WireGuard fwmark (uplink table 7200 + n), or its SA's source address.
leaves_by() {
  if [ "$TRANSPORT" = xfrm ]; then
    case "$(sas_out branch1 | awk -v id="$(if_id_of "$1")" '$2 == "192.0.2.1" && $3 == id {print $1}')" in
      203.0.113.2) echo wan0 ;; 198.51.100.2) echo wan1 ;; 198.18.0.2) echo wan2 ;; *) echo none ;;
    esac
  else
    case "$(topo_exec branch1 wg show "$1" fwmark)" in
      0x1c20) echo wan0 ;; 0x1c21) echo wan1 ;; 0x1c22) echo wan2 ;; *) echo none ;;
    esac
  fi
}
# hq_sees DEVICE ADDR:PORT: hq sends to branch1's path on DEVICE there.
hq_sees() {
  local e
  if [ "$TRANSPORT" = xfrm ]; then
    e=$(sas_out hq) && grep -q "^192.0.2.1 ${2%:*} $(if_id_of "$1") ${2#*:}$" <<<"$e"
  else
    e=$(topo_exec hq wg show "$1" endpoints) && grep -q "[[:space:]]$2$" <<<"$e"
  fi
}
hq_view() { if [ "$TRANSPORT" = xfrm ]; then sas_out hq | tr '\n' ';'; else topo_exec hq wg show all endpoints | tr '\n' ';'; fi; }

two_uplinks_start

step "the plan: a device per path, each on its own uplink"
rules=$(ip -n "$(ns branch1)" rule show)
for i in $FURTHER; do
  dev=$(dev_of "$i")
  ip -n "$(ns branch1)" link show "$dev" >/dev/null || fail "branch1 has no device $dev"
  if [ "$TRANSPORT" = xfrm ]; then  # path i's handshake is its own: wait for its SAs
    topo_wait_for "branch1's path-$i SA" 15 bash -c "ip -n '$(ns branch1)' xfrm state | grep -q 'if_id $(if_id_of "$dev")'"
    listening=$(ip netns exec "$(ns branch1)" ss -Huln "sport = :5182$i")
    [ -n "$listening" ] || fail "nothing listens on 5182$i in branch1"
  else
    [ "$(topo_exec branch1 wg show "$dev" listen-port)" = "5182$i" ] || fail "$dev does not listen on 5182$i"
  fi
  mark=$(printf '0x%x' $((7300 + i)))
  grep -q "^7001:.*fwmark $mark lookup 730$i" <<<"$rules" || fail "no path rule 7001 for $mark in: $rules"
  # Listings are read whole before grep: with pipefail, grep -q leaving
  # early fails the lister with SIGPIPE (seen once on the nft listing).
  table=$(ip -n "$(ns branch1)" route show table "730$i")
  grep -q "^10.0.1.0/24 dev $dev proto 147" <<<"$table" || fail "table 730$i: $table"
  [ "$FULL_TUNNEL" != 1 ] || grep -q "^default dev $dev proto 147" <<<"$table" || fail "no default route in table 730$i: $table"
done
for i in $PATHS; do
  got=$(leaves_by "$(dev_of "$i")")
  [ "$got" = "wan$i" ] || fail "$(dev_of "$i") leaves by $got, not wan$i"
done
chain=$(ip netns exec "$(ns branch1)" nft list chain inet avpn paths) || fail "no paths chain in branch1"
grep -q "jhash" <<<"$chain" || fail "no jhash in branch1's paths chain: $chain"
for i in $FURTHER; do
  topo_wait_for "hq to see path $i from wan$i" 10 hq_sees "$(dev_of "$i")" "$(wan_addr "$i"):5182$i"
done
hq_sees avpn-demo 203.0.113.2:51820 || fail "hq sees path 0 elsewhere: $(hq_view)"
echo "   branch1: path i on device $(dev_of 0)[.p<i>] leaves by wan<i>, for i in" $PATHS"; hq sees each"

topo_spawn hq python3 "$FLOWS_PY" serve "$FLOW_DST" 7000
serving() { [ -n "$(ip netns exec "$(ns hq)" ss -Huln 'sport = :7000')" ]; }
topo_wait_for "hq's echo server" 5 serving
# flows SECONDS OUT: the flows from branch1's Corp to hq's for SECONDS.
flows() { topo_exec branch1 python3 "$FLOWS_PY" send 10.1.1.1 "$FLOW_DST" 7000 "$FLOWS" "$1" "$2"; }
# every_flow_answered OUT WHY: each flow got answers, the longest gap under LIMIT_MS.
every_flow_answered() {
  jq -e --argjson n "$FLOWS" --argjson limit "$LIMIT_MS" \
    'length == $n and all(.[]; .answered > 0 and .gap_ms < $limit)' "$1" >/dev/null ||
    fail "$2: not every flow answered within ${LIMIT_MS} ms: $(jq -c . "$1")"
}
ct_marks() { ip netns exec "$(ns branch1)" grep 'dport=7000' /proc/net/nf_conntrack | grep -o 'mark=[0-9]*' | sort | uniq -c | tr '\n' ' '; }

step "$FLOWS flows over both uplinks"
before=()
for i in $PATHS; do before[$i]=$(counted "r$i" "5182$i"); done
flows 3 "$TOPO_WORK/flows-both.json"
every_flow_answered "$TOPO_WORK/flows-both.json" "every uplink up"
carried=""
for i in $PATHS; do
  on=$(($(counted "r$i" "5182$i") - before[$i]))
  carried+="$on by wan$i (path $i); "
  [ "$on" -gt 20 ] || fail "flows did not use every uplink: $carried"
done
marks=$(ct_marks)
echo "   tunnel datagrams: ${carried}conntrack: $marks"
for i in $PATHS; do [[ "$marks" == *mark=730$i* ]] || fail "no flow on path $i: $marks"; done
[ "$(counted r1 51820)" -lt 5 ] || fail "path 0 also left by wan1: $(counted r1 51820) datagrams"
one_device_each() {
  local seen
  seen=$(arrivals)
  [ "$(jq length <<<"$seen")" -gt 0 ] && jq -e 'group_by(.[1]) | all(.[]; length == 1)' <<<"$seen" >/dev/null ||
    fail "a flow arrived at hq on two devices: $(arrivals)"
}
one_device_each
echo "   hq: $(arrivals | jq 'length') (device, flow) pairs, one device per flow"
if [ "$FULL_TUNNEL" = 1 ]; then
  # A connection to the router itself (management on its WAN address) takes
  # no path: its replies leave by the uplink, not into the tunnel.
  topo_exec hq ping -n -c 3 -i 0.2 -W 1 203.0.113.2 >/dev/null ||
    fail "hq's ping to branch1's wan0 address got no reply (its replies took a path into the tunnel?)"
  echo "   hq's ping to branch1's wan0 address answered"
fi

step "wan0's carrier lost while the flows run"
flows 6 "$TOPO_WORK/flows-cut.json" &
FLOWS_PID=$!
sleep 2
ip -n "$(ns r0)" link set s0 down
moved() { [ "$(leaves_by avpn-demo)" = wan1 ]; }
topo_wait_for "path 0 to move to wan1" 5 moved
wait "$FLOWS_PID" || fail "the flows' sender failed"
# The cut run's longest gap per flow, by the device hq saw it arrive on.
gaps=$(jq -c --argjson seen "$(arrivals)" 'to_entries | map(.key as $p | {device: ([$seen[] | select(.[1] == ($p | tonumber)) | .[0]][0]), gap_ms: .value.gap_ms})
  | group_by(.device) | map({(.[0].device): map(.gap_ms)}) | add' "$TOPO_WORK/flows-cut.json")
echo "   longest gap per flow (ms), by path: $gaps"
every_flow_answered "$TOPO_WORK/flows-cut.json" "wan0 down"
# The further paths stayed on their uplinks throughout: their flows saw no
# failover (a loose bound for a busy machine; 26 ms here against 125 ms on
# path 0).
# (jq 1.6 -e passes on no input at all: every check here guards against an empty one.)
for i in $FURTHER; do
  [ -n "$gaps" ] && jq -e --arg d "$(dev_of "$i")" '.[$d] | length > 0 and all(.[]; . < 500)' <<<"$gaps" >/dev/null ||
    fail "the flows on path $i were disturbed: $gaps"
  [ "$(leaves_by "$(dev_of "$i")")" = "wan$i" ] || fail "path $i left wan$i"
done
topo_wait_for "hq to follow path 0 to wan1" 3 hq_sees avpn-demo 198.51.100.2:51820
one_device_each

step "wan0 back: path 0 returns at once"
ip -n "$(ns r0)" link set s0 up
back() { [ "$(leaves_by avpn-demo)" = wan0 ]; }
topo_wait_for "path 0 back on wan0" 10 back
flows 2 "$TOPO_WORK/flows-back.json"
every_flow_answered "$TOPO_WORK/flows-back.json" "wan0 back"
hq_sees avpn-demo 203.0.113.2:51820 || fail "hq does not see path 0 back at wan0: $(hq_view)"
one_device_each
status=$(topo_avpn branch1 status --json)
echo "   status: uplinks $(jq -c '[.avpnd.uplinks[] | {name, healthy, active}]' <<<"$status")"
jq -e --argjson n "$UPLINKS" '[.avpnd.uplinks[] | select(.active)] | length == $n' <<<"$status" >/dev/null ||
  fail "status does not show every uplink active: $(jq -c .avpnd.uplinks <<<"$status")"
hq_path=$(jq -c '.peers[] | select(.site == "hq") | .paths' <<<"$status")
echo "   status: peer hq's path 1: $hq_path"
[ -n "$hq_path" ] && jq -e --argjson n "$UPLINKS" 'length == $n - 1 and all(to_entries[];
    .value.device == "avpn-demo.p\(.key + 1)" and .value.endpoint == "192.0.2.1:\(51821 + .key)" and .value.last_handshake > 0)' \
  <<<"$hq_path" >/dev/null || fail "status does not show hq's further paths: $hq_path"
topo_avpn branch1 status | grep -A3 "^ *hq" | sed 's/^/   status| /'
if [ "$TRANSPORT" = xfrm ]; then  # bytes are the SAs' (the peer's counters); path 1's handshake age
  metric=$(scrape | grep '^avpn_peer_path_handshake_age_seconds{group="demo",site="hq",device="avpn-demo.p1"} ' || true)
  echo "   metrics: $metric"
  [ -n "$metric" ] || fail "no path-1 handshake age in the metrics"
else
  [ -n "$hq_path" ] && jq -e '.[0].rx_bytes > 0' <<<"$hq_path" >/dev/null || fail "status shows no path-1 bytes: $hq_path"
  metric=$(scrape | grep '^avpn_peer_path_receive_bytes_total{group="demo",site="hq",device="avpn-demo.p1"} ' || true)
  echo "   metrics: $metric"
  [ -n "$metric" ] && [ "${metric##* }" -gt 0 ] || fail "no path-1 bytes in the metrics: '$metric'"
fi
grep -E "paths|uplink" "$LOG" | grep -v probe | sed 's/^/   avpnd| /' | tail -6

step "down: no path device, rule, route or chain left on either site"
topo_avpn branch1 down >/dev/null || fail "down through avpnd"
topo_avpn hq down >/dev/null || fail "down of hq"
for site in branch1 hq; do
  [ -z "$(ip -n "$(ns $site)" -o link show | grep -o 'avpn-demo[^:@]*')" ] ||
    fail "$site: links left after down: $(ip -n "$(ns $site)" -o link show | grep -o 'avpn-demo[^:@]*')"
  [ -z "$(ip -n "$(ns $site)" rule show | grep -E '^7[01][0-9][0-9]:')" ] || fail "$site: rules left after down"
  [ -z "$(ip -n "$(ns $site)" route show table all proto 147)" ] || fail "$site: avpn routes left after down"
  ! ip netns exec "$(ns $site)" nft list table inet avpn >/dev/null 2>&1 || fail "$site: table inet avpn left after down"
done
echo "PASS"
