#!/usr/bin/env bash
# `avpnctl apply` / `avpnctl down` end to end: the hub and two spokes of
# examples/netns-demo in namespaces, WireGuard through wireguard-go, each site
# configured only by avpnctl (its own --state-dir). Checks, from the --json
# reports and from the kernel:
#   - the first apply creates exactly the plan's objects; pings pass between
#     exported VLANs (hub<->spoke, spoke<->spoke through the hub) and not to
#     VLANs that are not exported;
#   - a second apply writes nothing;
#   - permitting one more VLAN on a spoke writes only the delta on each site,
#     and the VLAN becomes reachable;
#   - down leaves nothing of avpn's (links, daemons, addresses, routes, rules);
#   - the operator's own route, rule and XFRM policy are byte-identical after
#     apply and after down.
set -euo pipefail
SRC=${AVPN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
AVPNCTL=${AVPN_BIN:-$SRC/build/bin}/avpnctl
# shellcheck source=lib/topology.sh
. "$SRC/tests/netns/lib/topology.sh"

topo_require jq wireguard-go ping
[ -x "$AVPNCTL" ] || { echo "FAIL: $AVPNCTL not built"; exit 1; }
started=$EPOCHREALTIME
topo_init
SITES=(hq branch1 branch2)
topo_demo_copy "$SRC"

fail() { topo_fail "$@"; }
step() { echo "== $*"; }

# avpn SITE SUBCOMMAND [ARGS]: avpnctl inside SITE with the site's state dir.
avpn() { topo_avpn "$@"; }
apply_json() { avpn "$1" apply --json "$DEMO/sites/$1.toml"; }

# expect_json NAME JSON JQ-FILTER: the filter must print true.
expect_json() {
  local got; got=$(jq -c "$3" <<<"$2")
  [ "$got" = true ] || fail "$1: $3 is $got in: $(jq -c '{changes, created, updated, deleted, error, ops: [.ops[] | "\(.op) \(.kind)"]}' <<<"$2")"
}

# ops SUMMARY of a report: "op kind" per line, sorted, for exact comparisons.
ops_of() { jq -r '.ops[] | "\(.op) \(.kind)"' <<<"$1" | sort | paste -sd, -; }

expect_ping() { topo_ping "$1" "$2" "$3" || fail "$1: no reply from $3 to a ping from $2"; echo "   $1 $2 -> $3 ok"; }
expect_no_ping() { topo_no_ping "$1" "$2" "$3" || fail "$1: $3 answered a ping from $2 but must be unreachable"; echo "   $1 $2 -> $3 refused (as it must be)"; }

step "operator state outside avpn's markers"
topo_settle "${SITES[@]}"
for s in "${SITES[@]}"; do
  ns=$(topo_ns "$s")
  ip -n "$ns" route add 198.51.100.0/24 via 192.0.2.254 dev wan0 metric 42
  ip -n "$ns" route add 203.0.113.0/24 dev lan1 table 200
  ip -n "$ns" rule add priority 6000 from 198.18.0.0/15 lookup 200
  ip -n "$ns" rule add priority 7100 fwmark 0x99 lookup 200
  # Inside avpn's band but without its protocol: still the operator's.
  ip -n "$ns" rule add priority 7050 iif lan1 lookup 200
  ip -n "$ns" xfrm policy add src 198.18.0.0/15 dst 203.0.113.0/24 dir out priority 500 \
    tmpl src 192.0.2.250 dst 192.0.2.254 proto esp reqid 7 mode tunnel
  topo_operator_dump "$s" >"$TOPO_WORK/operator-$s.before"
  for want in '198.51.100.0/24 via 192.0.2.254' '203.0.113.0/24 dev lan1 table 200' \
    '6000:.*from 198.18.0.0/15 lookup 200' '7100:.*fwmark 0x99 lookup 200' \
    '7050:.*iif lan1 lookup 200' 'dst 203.0.113.0/24'; do
    grep -q "$want" "$TOPO_WORK/operator-$s.before" || fail "$s: operator object '$want' missing from the dump"
  done
done
operator_unchanged() {
  local s
  for s in "${SITES[@]}"; do
    topo_operator_dump "$s" >"$TOPO_WORK/operator-$s.now"
    diff -u "$TOPO_WORK/operator-$s.before" "$TOPO_WORK/operator-$s.now" ||
      fail "$s: operator state changed $1"
  done
  echo "   operator routes, rules and XFRM policies byte-identical $1"
}

step "first apply: exactly the plan's objects are created"
for s in "${SITES[@]}"; do
  plan=$("$AVPNCTL" plan --json "$DEMO/sites/$s.toml")
  r=$(apply_json "$s") || fail "$s: apply failed: $r"
  echo "   $s: $(jq -c '{changes, created}' <<<"$r")"
  expect_json "$s first apply" "$r" '.applied and .error == null and .deleted == {link:0,address:0,wireguard:0,xfrm_state:0,xfrm_policy:0,route:0,rule:0} and .updated.wireguard + .updated.route + .updated.link == 0'
  for k in link:links address:addresses wireguard:wireguard route:routes rule:rules; do
    n=$(jq ".${k#*:} | length" <<<"$plan")
    [ "$n" -gt 0 ] || fail "$s: the plan has no ${k#*:}"
    expect_json "$s created ${k%%:*}" "$r" ".created.${k%%:*} == $n"
  done
done
operator_unchanged "after the first apply"

step "pings between exported VLANs"
expect_ping hq 10.0.1.1 10.1.1.1
expect_ping hq 10.0.1.1 10.2.1.1
expect_ping branch1 10.1.1.1 10.0.1.1
expect_ping branch2 10.2.1.1 10.0.1.1
expect_ping branch1 10.1.1.1 10.2.1.1   # spoke to spoke through the hub
expect_ping branch2 10.2.1.1 10.1.1.1
step "VLANs that are not exported stay out"
expect_no_ping branch1 10.1.1.1 10.0.9.1   # hq Guest: not shareable
expect_no_ping hq 10.0.1.1 10.1.2.1        # branch1 Lab: not permitted
expect_no_ping branch2 10.2.1.1 10.1.2.1
expect_no_ping branch1 10.1.2.1 10.0.1.1   # from Lab: the hub drops what branch1 may not send

step "second apply writes nothing"
for s in "${SITES[@]}"; do
  r=$(apply_json "$s") || fail "$s: apply failed: $r"
  expect_json "$s second apply" "$r" '.applied and .changes == 0 and (.ops | length) == 0 and .error == null'
done
echo "   0 changes on every site"

step "branch1 permits Lab: only the delta is written"
sed -i 's/^permitted_vlans = \["Corp"\]/permitted_vlans = ["Corp", "Lab"]/' "$DEMO/sites/branch1.toml"
grep -q '"Corp", "Lab"' "$DEMO/sites/branch1.toml" || fail "could not edit branch1.toml"
# The member list must export what the site permits (the checker holds both to it).
sed -i 's|^exports = \["10.1.1.0/24"\]|exports = ["10.1.1.0/24", "10.1.2.0/24"]|' "$DEMO/members.toml"
grep -q '"10.1.1.0/24", "10.1.2.0/24"' "$DEMO/members.toml" || fail "could not edit members.toml"
for s in "${SITES[@]}"; do "$AVPNCTL" check "$DEMO/sites/$s.toml" >/dev/null || fail "$s: edited config invalid"; done
# branch1 itself: its hub peer already takes everything of the group, so no
# write; the hub: one more allowed IP on branch1's peer and a route to Lab;
# branch2: the same two through its hub.
declare -A DELTA=(
  [hq]="create route,update wireguard"
  [branch1]=""
  [branch2]="create route,update wireguard"
)
for s in "${SITES[@]}"; do
  r=$(apply_json "$s") || fail "$s: apply failed: $r"
  got=$(ops_of "$r")
  echo "   $s: ${got:-no changes}"
  [ "$got" = "${DELTA[$s]}" ] || fail "$s: delta is '$got', expected '${DELTA[$s]}'"
  expect_json "$s delta" "$r" '.applied and .error == null'
  if [ -n "${DELTA[$s]}" ]; then
    expect_json "$s delta route" "$r" '[.ops[] | select(.kind == "route") | .object.dst] == ["10.1.2.0/24"]'
    expect_json "$s delta peer" "$r" \
      '[.ops[] | select(.kind == "wireguard") | .object.peers[] | select(.allowed_ips | index("10.1.2.0/24"))] | length == 1'
  fi
done
expect_ping hq 10.0.1.1 10.1.2.1
expect_ping branch2 10.2.1.1 10.1.2.1
expect_ping branch1 10.1.2.1 10.0.1.1
expect_no_ping branch1 10.1.1.1 10.0.9.1
expect_no_ping hq 10.0.1.1 10.2.2.1        # branch2 Lab is still out

step "down on every site; branch1's record truncated (down --force-scan), branch2's removed"
for s in "${SITES[@]}"; do
  grep -q '^link avpn-demo$' <<<"$(topo_avpn_dump "$s")" || fail "$s: the dump does not see avpn's link before down"
done
# Issue 12, case 3: down used to delete only the rule (the one object found
# without the record). It now finds avpn's objects by the kernel's markers.
# A truncated record is damage: down refuses it, naming the recovery, and
# `down --force-scan` goes by the markers alone.
: >"$TOPO_WORK/state-branch1/applied.state"
rm "$TOPO_WORK/state-branch2/applied.state"
if r=$(avpn branch1 down 2>&1); then fail "branch1: down accepted an empty record: $r"; fi
grep -qF -- "applied.state:1: damaged state record" <<<"$r" && grep -qF -- "--force-scan" <<<"$r" ||
  fail "branch1: down's refusal does not name the record and --force-scan: $r"
echo "   branch1: down refused the truncated record: $(head -1 <<<"$r")"
declare -A DOWN_ARGS=([hq]="" [branch1]="--force-scan" [branch2]="")
for s in "${SITES[@]}"; do
  # shellcheck disable=SC2086
  r=$(avpn "$s" down --json ${DOWN_ARGS[$s]}) || fail "$s: down failed: $r"
  echo "   $s: $(jq -c '{changes, deleted}' <<<"$r")"
  expect_json "$s down" "$r" '.applied and .error == null and .deleted.link == 1 and .changes == .deleted.link + .deleted.address + .deleted.wireguard + .deleted.route + .deleted.rule'
done
for s in "${SITES[@]}"; do
  left=$(topo_avpn_dump "$s")
  [ -z "$left" ] || fail "$s: avpn objects remain after down:"$'\n'"$left"
  # wireguard-go exits when its TUN device goes; give it a moment.
  for _ in $(seq 30); do
    [ -z "$(ip netns pids "$(topo_ns "$s")")" ] && break
    sleep 0.1
  done
  [ -z "$(ip netns pids "$(topo_ns "$s")")" ] || fail "$s: processes left in the namespace: $(ip netns pids "$(topo_ns "$s")" | xargs -r ps -o comm= -p)"
  r=$(avpn "$s" down --json) || fail "$s: second down failed: $r"
  expect_json "$s second down" "$r" '.applied and .changes == 0'
done
echo "   no avpn link, address, route, rule or daemon left; a second down changes nothing"
operator_unchanged "after down"

echo "PASS apply_wireguard ($(awk -v a="$started" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.1f", b - a}') s)"
