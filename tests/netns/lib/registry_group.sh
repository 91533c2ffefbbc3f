# shellcheck shell=bash
# Group "corp" with two registries behind NATs: the setup shared by
# tests/netns/registry_nat.sh and bench/registry-punch/run. Hub hq has a
# public address, spokes branch1 and branch2 sit behind nat1 and nat2
# (lib/nat_topology.sh draws the topology), reg1 and reg2 run
# avpn-registry, and no member has a contact in the member list.
#
# Source it after topology.sh and nat_topology.sh, with AVPNCTL, AVPND and
# REGISTRY set and fail MESSAGE defined (registry_group_fail prints the
# logs and each site's state, then topo_fail). Then, after topo_init:
#   registry_group_init      the names and addresses below (TRANSPORT:
#                            wireguard or xfrm, NAT_MODE: friendly or random,
#                            BASELINE: 1 gives hq a static contact and no
#                            registries); a test may change them before
#                            registry_group_files (registry_hairpin.sh: a
#                            second hub, and a spoke on two hubs; KEEPALIVE,
#                            the site files' keepalive, default "5s";
#                            SHORTCUTS, true or false: the member list's
#                            [group] header says shortcuts = it, unset: no
#                            line) or registry_group_topology (a third spoke
#                            behind its own NAT and a fourth behind the
#                            first's, registry_shortcut.sh;
#                            NAT_MODE_OF[SPOKE], its NAT's mode when not
#                            NAT_MODE)
#   registry_group_topology  the namespaces and NATs
#   registry_group_files     keys, member list and site files in $CORP
#   start_registry REG / stop_registry REG / counters REG
#   start_avpnd SITE         avpnd in SITE; its PID in AVPND_<SITE>

# registry_group_init: SITES, HUBS, SPOKES, HUBS_OF (a spoke's hubs, in
# order, space-separated), LAN, PUBLIC, NAT_OF (natN: the NAT's number N
# picks its addresses, nat_behind), NAT_MODE_OF (empty), REG_ADDR, REG_PID,
# PUBKEY, PORT, IFACE, CORP and TOPO_AVPN_ARGS (after topo_init).
registry_group_init() {
  SITES=(hq branch1 branch2)
  HUBS=(hq)
  SPOKES=(branch1 branch2)
  declare -gA HUBS_OF=([branch1]=hq [branch2]=hq)
  declare -gA LAN=([hq]=10.10.0.1 [branch1]=10.11.0.1 [branch2]=10.12.0.1)
  declare -gA PUBLIC=([hq]=198.51.100.20 [branch1]=$(nat_public_addr 1) [branch2]=$(nat_public_addr 2))
  declare -gA NAT_OF=([branch1]=nat1 [branch2]=nat2)
  declare -gA NAT_MODE_OF=()
  declare -gA REG_ADDR=([reg1]=198.51.100.10 [reg2]=198.51.100.11)
  declare -gA REG_PID=() PUBKEY=()
  PORT=51820 # the group's listen_port (the default)
  IFACE=avpn-corp
  CORP=$TOPO_WORK/corp
  TOPO_AVPN_ARGS="--vici-socket $TOPO_WORK/no-charon.vici"
}

pub() { echo "${PUBKEY[$1]:-}"; }

# peer_ends SITE: "KEY ENDPOINT" for every peer SITE sends to: WireGuard's
# endpoints, or for XFRM "sa DST:DPORT" of each SA (the ESP-in-UDP
# destination; the site's own inbound ones name itself).
peer_ends() {
  if [ "$TRANSPORT" = xfrm ]; then
    topo_exec "$1" ip xfrm state | awk '/^src/ {dst = $4} /encap type espinudp/ {print "sa", dst ":" $7}' | sort -u
  else
    topo_exec "$1" wg show "$IFACE" endpoints
  fi
}
# endpoints SITE: SITE's WireGuard peers as NAME=ENDPOINT (XFRM: sa=DST:PORT).
endpoints() {
  local out key ep s
  out=$(peer_ends "$1" 2>&1) || { echo "($out)"; return; }
  while read -r key ep; do
    for s in "${SITES[@]}"; do [ "$key" = "$(pub "$s")" ] && key=$s; done
    printf '%s=%s ' "$key" "$ep"
  done <<<"$out"
}
# reg_status SITE: {registries, nat} of SITE's `avpnctl status --json`
# through its avpnd, which reports them beside its uplinks (.avpnd).
reg_status() {
  local st
  st=$(topo_avpn "$1" status --json) || { echo "status failed: $st"; return 1; }
  jq -c '{registries: .avpnd.registries, nat: .avpnd.nat}' <<<"$st"
}
# registry_group_fail MESSAGE: the logs of every avpnd and registry, each
# site's registry status and endpoints, the NATs' UDP mappings; then fails.
registry_group_fail() {
  local l s
  for l in "$TOPO_WORK"/avpnd-*.log "$TOPO_WORK"/reg?.log; do
    [ -f "$l" ] && sed "s#^#   ${l##*/}| #" "$l" >&2
  done
  for s in "${SITES[@]}"; do
    [ -S "$(topo_avpnd_socket "$s")" ] || continue
    echo "   $s status: $(reg_status "$s" 2>&1 || true)" >&2
    echo "   $s wg endpoints: $(endpoints "$s")" >&2
  done
  for s in $(printf '%s\n' "${NAT_OF[@]}" | sort -u); do  # the NATs' UDP mappings (original, then reply direction)
    ip netns exec "$(nat_ns "$s")" cat /proc/net/nf_conntrack 2>/dev/null | awk '$3 == "udp"' | sed "s/^/   $s conntrack| /" >&2 || true
  done
  topo_fail "$@"
}

# registry_group_topology: an internet, reg1, reg2 and hq on it, each spoke
# behind its NAT (NAT_OF), of mode NAT_MODE_OF[SPOKE] or else $NAT_MODE;
# prints each site's addresses. A NAT that several spokes name is shared
# (nat_shared, nat_join: no hairpin), its mode the first one's; its spokes'
# wan0 are 192.168.N.2, .3, ... in SPOKES' order (registry_shortcut.sh:
# branch1 and branch4 behind nat1).
registry_group_topology() {
  local s nat
  local -A behind=() next=()
  nat_internet
  nat_public reg1 "${REG_ADDR[reg1]}"
  nat_public reg2 "${REG_ADDR[reg2]}"
  nat_public hq "${PUBLIC[hq]}" "${LAN[hq]}/24"
  for s in "${SPOKES[@]}"; do behind[${NAT_OF[$s]}]=$((${behind[${NAT_OF[$s]}]:-0} + 1)); done
  for s in "${SPOKES[@]}"; do
    nat=${NAT_OF[$s]}
    if [ "${behind[$nat]}" = 1 ]; then
      nat_behind "$s" "$nat" "${nat#nat}" "${NAT_MODE_OF[$s]:-$NAT_MODE}" "${LAN[$s]}/24"
      continue
    fi
    if [ -z "${next[$nat]:-}" ]; then
      nat_shared "$nat" "${nat#nat}" "${NAT_MODE_OF[$s]:-$NAT_MODE}"
      next[$nat]=2
    fi
    nat_join "$s" "$nat" "${nat#nat}" "${next[$nat]}" "${LAN[$s]}/24"
    next[$nat]=$((next[$nat] + 1))
  done
  for s in "${SITES[@]}"; do
    printf '   %-7s public %-14s LAN %s/24%s\n' "$s" "${PUBLIC[$s]}" "${LAN[$s]}" \
      "$([ "$s" = hq ] || echo " (wan0 $(ip -n "$(nat_ns "$s")" -4 -o addr show wan0 | awk '{print $4}') behind ${NAT_OF[$s]}, ${NAT_MODE_OF[$s]:-$NAT_MODE})")"
  done
}

# registry_group_files: keys, the member list (no contact for anyone) and
# the site files in $CORP, each checked by avpnctl check.
registry_group_files() {
  local k s out h
  mkdir -p "$CORP/keys" "$CORP/sites"
  (
    umask 077
    for k in "${SITES[@]}" reg1 reg2; do "$AVPNCTL" genkey >"$CORP/keys/$k.key"; done
    wg genpsk >"$CORP/keys/corp-group.key"
  )
  for k in "${SITES[@]}" reg1 reg2; do PUBKEY[$k]=$("$AVPNCTL" pubkey <"$CORP/keys/$k.key"); done
  {
    cat <<EOF
# Group corp of tests/netns/registry_nat.sh: no member has a contact here;
# the registries tell every site where its peers are.
[group]
name = "corp"
tunnel_subnet = "100.64.0.0/24"
transport = "$TRANSPORT"
EOF
    [ -z "${SHORTCUTS:-}" ] || echo "shortcuts = $SHORTCUTS"
    for s in "${HUBS[@]}"; do
      cat <<EOF

[[member]]
name = "$s"
role = "hub"
public_key = "$(pub "$s")"
exports = ["${LAN[$s]%.1}.0/24"]
EOF
      if [ "$BASELINE" = 1 ] && [ "$s" = hq ]; then echo "contact = \"${PUBLIC[hq]}:$PORT\"  # baseline: no registry"; fi
    done
    for s in "${SPOKES[@]}"; do
      cat <<EOF

[[member]]
name = "$s"
role = "spoke"
public_key = "$(pub "$s")"
exports = ["${LAN[$s]%.1}.0/24"]
hubs = [$(hub_list "$s")]
EOF
    done
  } >"$CORP/corp-members.toml"
  for h in "${HUBS[@]}"; do site_file "$h" hub >"$CORP/sites/$h.toml"; done
  for s in "${SPOKES[@]}"; do site_file "$s" spoke >"$CORP/sites/$s.toml"; done
  for s in "${SITES[@]}"; do
    out=$(topo_exec "$s" "$AVPNCTL" check "$CORP/sites/$s.toml" 2>&1) || fail "avpnctl check $s: $out"
  done
  echo "   $CORP: keys/, corp-members.toml (${#SITES[@]} members, no contact$([ "$BASELINE" = 1 ] && echo " but hq's: baseline")), sites/{$(IFS=,; echo "${SITES[*]}")}.toml; avpnctl check passes"
}

# hub_list SPOKE: its hubs (HUBS_OF) as TOML strings: "office", "hq"
hub_list() {
  local h out=""
  for h in ${HUBS_OF[$1]}; do out+="${out:+, }\"$h\""; done
  echo "$out"
}

# site_file SITE ROLE: the site file (the demo's shape; the registries pinned).
site_file() {
  cat <<EOF
[site]
name = "$1"
role = "$2"
uplinks = ["wan0"]
key_file = "../keys/$1.key"

[[vlan]]
name = "Corp"
id = 10
subnet = "${LAN[$1]%.1}.0/24"
shareable = true
interface = "lan0"

[autovpn]
group = "corp"
members = "../corp-members.toml"
keepalive = "${KEEPALIVE:-5s}"
EOF
  [ "$TRANSPORT" = xfrm ] || echo "wireguard_backend = \"${WG_BACKEND:-userspace}\""
  [ "$2" = spoke ] && printf 'permitted_vlans = ["Corp"]\nhubs = [%s]\n' "$(hub_list "$1")"
  [ "$BASELINE" = 1 ] || cat <<EOF
# reg1 on the default port 9350, reg2's written out.
registries = [{ endpoint = "${REG_ADDR[reg1]}", public_key = "$(pub reg1)" },
              { endpoint = "${REG_ADDR[reg2]}:9350", public_key = "$(pub reg2)" }]
group_key_file = "../keys/corp-group.key"
EOF
  cat <<EOF

[[firewall]]
comment = "Corp here reaches the group"
from = "vlan:Corp"
to = "any"

[[firewall]]
comment = "The group reaches Corp here"
from = "any"
to = "vlan:Corp"
EOF
}

# start_registry REG: avpn-registry in REG's namespace, logging (appended)
# to $TOPO_WORK/REG.log; waits for its start line. Its filtering probes
# come from port 9351 of its address (--alternate).
start_registry() {
  local r=$1 log=$TOPO_WORK/$1.log n
  n=$(grep -c "listening on" "$log" 2>/dev/null || true)
  topo_spawn "$r" "$REGISTRY" --key "$CORP/keys/$r.key" --members "$CORP/corp-members.toml" \
    --group-key "corp=$CORP/keys/corp-group.key" --listen "${REG_ADDR[$r]}:9350" \
    --alternate "${REG_ADDR[$r]}:9351" 2>>"$log" >/dev/null
  REG_PID[$r]=$TOPO_SPAWNED
  reg_up() { [ "$(grep -c "listening on" "$log" 2>/dev/null || true)" -gt "${n:-0}" ]; }
  topo_wait_for "$r's start line" 10 reg_up
  echo "   $r (pid ${REG_PID[$r]}): $(grep "listening on" "$log" | tail -1)"
  grep "listening on" "$log" | tail -1 | grep -qF "public key $(pub "$r")" || fail "$r logs another public key than $(pub "$r")"
}
# stop_registry REG: SIGTERM; it prints its counters and exits.
stop_registry() {
  kill -TERM "${REG_PID[$1]}"
  wait "${REG_PID[$1]}" || true
  echo "   $1 stopped: $(grep '^registry: ' "$TOPO_WORK/$1.log" | tail -1)"
}
# counters REG: a fresh counter line of REG (SIGUSR1), as "key=value" words.
counters() {
  local log=$TOPO_WORK/$1.log n
  n=$(grep -c '^registry: ' "$log" || true)
  kill -USR1 "${REG_PID[$1]}"
  more_lines() { [ "$(grep -c '^registry: ' "$log" || true)" -gt "$n" ]; }
  topo_wait_for "$1's counters" 5 more_lines
  grep '^registry: ' "$log" | tail -1 | sed 's/^registry: //'
}
# counter NAME LINE: NAME's value in a counter line.
counter() { tr ' ' '\n' <<<"$2" | awk -F= -v k="$1" '$1 == k {print $2}'; }

# start_avpnd SITE: avpnd on SITE's site file, logging to
# $TOPO_WORK/avpnd-SITE.log, its control socket topo_avpnd_socket's; its
# PID in AVPND_SITE. Returns at once (no wait for its first apply).
start_avpnd() {
  topo_spawn "$1" "$AVPND" "$CORP/sites/$1.toml" --state-dir "$TOPO_WORK/state-$1" \
    --vici-socket "$TOPO_WORK/no-charon.vici" --control-socket "$(topo_avpnd_socket "$1")" \
    --resync 3600 --quiet-ms 100 2>"$TOPO_WORK/avpnd-$1.log" >/dev/null
  printf -v "AVPND_$1" %s "$TOPO_SPAWNED"
}
