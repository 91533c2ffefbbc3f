#!/usr/bin/env bash
# Two hubs, three spokes on different hub lists (examples/two-hubs), WireGuard
# through wireguard-go, each site in its own namespace on one WAN bridge and
# configured only by `avpnctl apply` of its own site file:
#   spoke1 hubs ["hub-a", "hub-b"], spoke2 ["hub-b", "hub-a"], spoke3 ["hub-b"].
# 1. all five applied: every spoke reaches every other spoke's and both hubs'
#    Corp LAN, every hub every spoke's (ping -I from the Corp address, so the
#    source is a LAN, not a tunnel address); no non-shared VLAN (hubs' Guest,
#    spokes' Lab) answers, as destination or as source;
# 2. hub-a goes away (its WAN link down), the member list drops its contact
#    and the remaining four sites re-apply: spoke <-> spoke and spoke <->
#    hub-b still answer, and every spoke routes the other spokes through hub-b;
# 3. avpnctl down everywhere leaves no avpn object.
# Each step prints a table src -> dst -> result, and at each site which peer
# carries which prefix (wg show allowed-ips: WireGuard's routing and its
# source check). The test goes through every step and fails at the end if a
# ping misbehaved in any of them.
set -euo pipefail
SRC=${AVPN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
AVPNCTL=${AVPN_BIN:-$SRC/build/bin}/avpnctl
# shellcheck source=lib/topology.sh
. "$SRC/tests/netns/lib/topology.sh"

topo_require jq wireguard-go wg ping
[ -x "$AVPNCTL" ] || { echo "FAIL: $AVPNCTL not built"; exit 1; }
started=$EPOCHREALTIME
trap 'echo; echo "interrupted: cleaning up"; exit 130' INT
trap 'exit 143' TERM
topo_init   # its EXIT trap removes the namespaces on every path

# A private, editable copy of the example (step 2 edits the member list).
EX=$TOPO_WORK/two-hubs
cp -r "$SRC/examples/two-hubs" "$EX"
chmod 600 "$EX"/keys/*.key
IFACE=avpn-twohubs
HUBS=(hub-a hub-b)
SPOKES=(spoke1 spoke2 spoke3)
SITES=("${HUBS[@]}" "${SPOKES[@]}")
# WAN contacts as in members.toml; Corp is shared (hubs: shareable; spokes:
# permitted), Guest / Lab is not (hubs: not shareable; spokes: not permitted).
declare -A WAN=([hub-a]=192.0.2.1 [hub-b]=192.0.2.2 [spoke1]=192.0.2.11 [spoke2]=192.0.2.12 [spoke3]=192.0.2.13)
declare -A CORP=([hub-a]=10.10.1.1 [hub-b]=10.20.1.1 [spoke1]=10.31.1.1 [spoke2]=10.32.1.1 [spoke3]=10.33.1.1)
declare -A PRIV=([hub-a]=10.10.9.1 [hub-b]=10.20.9.1 [spoke1]=10.31.2.1 [spoke2]=10.32.2.1 [spoke3]=10.33.2.1)
for s in "${SITES[@]}"; do topo_site "$s" "${WAN[$s]}/24" "${CORP[$s]}/24" "${PRIV[$s]}/24"; done
echo "namespaces $TOPO-{wan,${SITES[*]// /,}}"
for s in "${SITES[@]}"; do printf '  %-7s wan0 %-11s Corp %-10s (shared)  %s %s (not shared)\n' "$s" "${WAN[$s]}" "${CORP[$s]}" "$([[ $s == hub-* ]] && echo Guest || echo Lab)" "${PRIV[$s]}"; done

# Public key -> member name, from the member list, to name WireGuard peers.
declare -A NAME_OF
while read -r name key; do NAME_OF[$key]=$name; done < <(
  awk -F'"' '/^name = / {n = $2} /^public_key = / {print n, $2}' "$EX/members.toml")
[ "${#NAME_OF[@]}" -eq 5 ] || topo_fail "members.toml: ${#NAME_OF[@]} public keys, not 5"

elapsed() { awk -v a="$started" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.1f", b - a}'; }
step() { echo; echo "== [$(elapsed) s] $*"; }
avpn() { topo_avpn "$@"; }
apply_site() {
  local r
  r=$(avpn "$1" apply --json "$EX/sites/$1.toml") || topo_fail "$1: apply failed: $r"
  [ "$(jq '.applied and .error == null' <<<"$r")" = true ] || topo_fail "$1: apply did not apply: $r"
  echo "   $1: applied $(jq -c '{changes, created, updated, deleted} | with_entries(if (.value | type) == "object" then .value |= with_entries(select(.value != 0)) else . end)' <<<"$r")"
}

# carriers SITE: "prefix peer" per WireGuard allowed IP at SITE, sorted.
carriers() {
  local out key prefixes p
  out=$(topo_exec "$1" wg show "$IFACE" allowed-ips) || topo_fail "$1: wg show failed"
  while read -r key prefixes; do
    for p in $prefixes; do echo "$p ${NAME_OF[$key]:-unknown-$key}"; done
  done <<<"$out" | sort -V
}
show_carriers() {
  local s
  for s in "$@"; do
    echo "   at $s: $(carriers "$s" | awk '{printf "%s%s->%s", sep, $1, $2; sep = "  "}')"
  done
}

# The step's table: "expect src-site src -> dst-site dst result" rows.
ROWS=()
BAD=0
row() {
  ROWS+=("$(printf '%-7s %-6s %-9s -> %-6s %-9s %-8s %s' "$1" "$2" "$3" "$4" "$5" "$6" "$7")")
  [ "$7" = ok ] || BAD=$((BAD + 1))
}
# reach SRC DST: DST's Corp answers a ping from SRC's Corp (retried while a
# handshake runs: 5 echoes, 1 s each).
reach() {
  local out t
  if out=$(topo_exec "$1" ping -n -c 1 -W 1 -I "${CORP[$1]}" "${CORP[$2]}" 2>&1) ||
    topo_ping "$1" "${CORP[$1]}" "${CORP[$2]}"; then
    t=$(grep -o 'time=[0-9.]* ms' <<<"$out" | cut -d= -f2 || true)
    row pass "$1" "${CORP[$1]}" "$2" "${CORP[$2]}" "reply${t:+ $t}" ok
  else
    row pass "$1" "${CORP[$1]}" "$2" "${CORP[$2]}" "NO-REPLY" FAIL
  fi
}
# refused: every site's non-shared VLAN, from every other site's Corp, and
# every site's non-shared VLAN as a source toward every other site's Corp:
# one echo each (1 s), all at once, after reach proved the tunnels.
refused() {
  local s d src dst i n
  local -a jobs=()
  for s in "$@"; do
    for d in "$@"; do
      [ "$s" = "$d" ] && continue
      jobs+=("$s ${CORP[$s]} $d ${PRIV[$d]}" "$s ${PRIV[$s]} $d ${CORP[$d]}")
    done
  done
  for i in "${!jobs[@]}"; do
    read -r s src d dst <<<"${jobs[$i]}"
    (n=0; topo_exec "$s" ping -n -c 1 -W 1 -I "$src" "$dst" >/dev/null 2>&1 || n=$?; echo "$n" >"$TOPO_WORK/refused.$i") &
  done
  wait
  for i in "${!jobs[@]}"; do
    read -r s src d dst <<<"${jobs[$i]}"
    n=$(cat "$TOPO_WORK/refused.$i")
    if [ "$n" = 0 ]; then row refused "$s" "$src" "$d" "$dst" REPLIED FAIL
    else row refused "$s" "$src" "$d" "$dst" no-reply ok; fi
  done
}
table() {
  printf '   %-7s %-6s %-9s -> %-6s %-9s %-8s %s\n' expect src "" dst "" result ""
  printf '   %s\n' "${ROWS[@]}"
  echo "   $1: $((${#ROWS[@]} - BAD)) of ${#ROWS[@]} as expected"
  FAILED+=("$1: $BAD")
  ROWS=()
  BAD=0
}
FAILED=()

step "1. apply all five sites"
for s in "${SITES[@]}"; do apply_site "$s"; done
step "1. who carries what (wg show allowed-ips)"
show_carriers "${SITES[@]}"
step "1. pings"
for s in "${SPOKES[@]}"; do
  for d in "${SPOKES[@]}" "${HUBS[@]}"; do [ "$s" = "$d" ] || reach "$s" "$d"; done
done
for h in "${HUBS[@]}"; do for d in "${SPOKES[@]}"; do reach "$h" "$d"; done; done
reach hub-a hub-b
refused "${SITES[@]}"
table "step 1"

step "2. hub-a goes away: WAN down, contact withdrawn, the rest re-apply"
ip -n "$(topo_ns hub-a)" link set wan0 down
# Which hubs are reachable is a group-wide fact: every site's planner reads it
# from the hubs' contacts, so all of them move their paths off hub-a the same
# way. Until the registry issue lands the member list is where contacts come
# from, so the group is told by dropping hub-a's contact there; the registry
# will withdraw a disconnected site's contact the same way.
sed -i 's|^contact = "192.0.2.1:51820"$|# contact withdrawn: hub-a is disconnected|' "$EX/members.toml"
grep -q '^# contact withdrawn' "$EX/members.toml" || topo_fail "hub-a's contact not found in members.toml"
for s in hub-b "${SPOKES[@]}"; do apply_site "$s"; done
step "2. who carries what (wg show allowed-ips)"
show_carriers hub-b "${SPOKES[@]}"
# Through hub-b: at every spoke, hub-b's peer carries every other spoke.
for s in "${SPOKES[@]}"; do
  c=$(carriers "$s")
  for d in "${SPOKES[@]}"; do
    [ "$s" = "$d" ] && continue
    via=$(awk -v p="${CORP[$d]%.1}.0/24" '$1 == p {print $2}' <<<"$c")
    [ "$via" = hub-b ] || { echo "   at $s: ${CORP[$d]%.1}.0/24 carried by '${via:-nobody}', not hub-b"; FAILED+=("step 2 carrier at $s: 1"); }
  done
done
step "2. pings"
for s in "${SPOKES[@]}"; do
  for d in "${SPOKES[@]}" hub-b; do [ "$s" = "$d" ] || reach "$s" "$d"; done
done
for d in "${SPOKES[@]}"; do reach hub-b "$d"; done
refused hub-b "${SPOKES[@]}"
table "step 2"

step "3. avpnctl down everywhere"
for s in "${SITES[@]}"; do
  r=$(avpn "$s" down --json) || topo_fail "$s: down failed: $r"
  echo "   $s: $(jq -c '{changes, deleted} | with_entries(if (.value | type) == "object" then .value |= with_entries(select(.value != 0)) else . end)' <<<"$r")"
  left=$(topo_avpn_dump "$s")
  [ -z "$left" ] || topo_fail "$s keeps avpn objects after down: $left"
done
echo "   no avpn link, address, route or rule left"

echo
echo "time: $(elapsed) s"
bad=0
for f in "${FAILED[@]}"; do [ "${f##*: }" = 0 ] || { echo "FAIL: $f misbehaved"; bad=1; }; done
[ "$bad" = 0 ] || exit 1
echo "PASS: two hubs, three spokes: every path through the hubs answered, non-shared VLANs never did, and losing hub-a moved every spoke onto hub-b"
