#!/usr/bin/env bash
# Direct spoke-to-spoke shortcuts end to end (issue 14): group "corp" with
# shortcuts = true in its member list, every contact from two avpn-registry
# instances (lib/registry_group.sh), every site under avpnd with
# wireguard-go. Hub hq is public; spokes branch1, branch2 and branch3 each
# sit behind their own NAT (lib/nat_topology.sh): nat1 and nat2 friendly
# (masquerade, port-preserving; nat2 also forwards the tunnel port from
# anywhere, nat_forward_port: endpoint-independent filtering), nat3
# `masquerade random` (unfriendly); a
# fourth spoke, branch4, shares nat1 with branch1 (nat_shared, nat_join: a
# bridge inside, no hairpin), so the registries give each the other's LAN
# contact (docs/registry.md). Each spoke has a host on its LAN
# (nat_lan_host: host1 10.11.0.2, host2 10.12.0.2, host3 10.13.0.2, host4
# 10.14.0.2) whose packets the spoke forwards, as a real LAN's: avpnd's
# shortcut watch counts forwarded packets only.
#
#   reg1 .10   reg2 .11   hq .20 (198.51.100.0/24: the internet, ns wan)
#      |          |         |
#   ------------ wan --------------------------------
#        | nat1 203.0.113.2  | nat2 203.0.113.6  | nat3 203.0.113.10 (random)
#   192.168.1.2  .3          |                   |
#     branch1  branch4    branch2             branch3
#     host1    host4      host2               host3
#
# How a packet's path shows: the internet router (ns wan) counts UDP
# between each pair of NAT public addresses and between each NAT and hq
# (table ip avpn_test_wan); nat1 counts UDP between branch1 and branch4 on
# its bridge, and UDP it sends out to the internet other than to nat2
# (tables bridge avpn_test_lan, ip avpn_test_nat1); hq's WireGuard counts
# each spoke's bytes (wg show transfer); and an echo reply's TTL tells its
# hops: host2 -> branch2 -> branch1 -> host1 arrives with 62, through hq
# with 61.
# branch4's avpnd starts once branch1 is registered at both registries, so
# branch1 is nat1's first host: it keeps port 51820, branch4's is renamed
# to one other port toward both registries, and both are friendly (with a
# start together either could be first toward one registry and second
# toward the other: unfriendly, registry_hairpin.sh).
#   1. baseline: the tunnels come up from the registries alone; NAT types
#      friendly, friendly, unfriendly, friendly; filtering (the registries'
#      probes from their port 9351) strict, permissive, strict, strict, and
#      hq (no NAT) permissive; LAN-to-LAN pings between
#      the spokes' own LAN addresses (their own packets, which the watch
#      does not count) branch1 <-> branch2, branch1 <-> branch3 and
#      branch1 <-> branch4 pass through hq (nothing between the NATs,
#      nothing between branch1 and branch4 on nat1's bridge); each host
#      reaches hq's LAN;
#   2. a continuous ping host1 -> host2 (50 ms): both branch1 and branch2
#      report the shortcut "up" to each other (status --json peer rows,
#      "shortcut up" in the text status) within 15 s; then over 2 s every
#      reply came back direct (TTL 62), the internet carried the pings
#      between nat1 and nat2, and hq's WireGuard and the NAT-hq flows did
#      not grow by ping volume; prints the time from the first ping to up;
#   3. the same for host1 -> host4 (both behind nat1, which does not
#      hairpin): the shortcut is up at both ends within 15 s, each end's
#      WireGuard has the other at its LAN address (192.168.1.x:51820, in
#      status too), never nat1's public one; over 2 s every reply came back
#      direct (TTL 62), nat1's bridge carried the pings between branch1 and
#      branch4, and neither hq's WireGuard nor nat1's way out to the
#      internet grew by ping volume; prints the time from the first ping to
#      up. The ping runs on to the end: 5.'s cut between nat1 and nat2 must
#      not touch it;
#   4. host1 <-> host3 (nat3 unfriendly) for 8 s: the pings pass through hq
#      (TTL 61, hq's counters), and neither branch1 nor branch3 ever shows a
#      shortcut (trying or up) to the other, and nothing went between nat1
#      and nat3;
#   5. the internet router drops UDP between nat1 and nat2: within 10 s the
#      pings host1 -> host2 come back through hq (TTL 61) and keep passing
#      (>= 90 % over 3 s, hq's counters grow), neither side shows the
#      shortcut up; prints the lost pings x 50 ms; the drop is removed. The
#      shortcut branch1 <-> branch4 is still up, and every reply host1 ->
#      host4 since 3. came direct.
#   6. host2 -> host3 (nat2 permissive, nat3 random): branch3 sends first
#      and nat2 lets it in, so the shortcut comes up at both within 15 s
#      and carries the pings direct between nat2 and nat3 (as 2.); branch2's
#      WireGuard has branch3 at the port nat3 mapped toward nat2, which no
#      registry saw. (4.'s pair, behind strict nat1, stayed on hq.)
# Each avpnd logs "shortcut to <site>" for its peer (checked at the end).
# AVPN_SHORTCUTS=false: the same with shortcuts off (the mutation check:
# 2. must fail; 3. too, when 2. is skipped).
# AVPN_NAT_INPUT=drop: the NATs also drop what is new to themselves from
# the internet (a firewalled router's input chain). By default they accept
# it, as lib/nat_topology.sh's NAT does: a punch datagram that reaches a NAT
# before its own spoke sent one then leaves a conntrack entry there, so
# masquerade maps that spoke's own punch to another port, which the other
# NAT does not let in (both NATs are friendly: endpoint-independent
# mapping, address- and port-dependent filtering).
set -euo pipefail
SRC=${AVPN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BIN=${AVPN_BIN:-$SRC/build/bin}
AVPNCTL=$BIN/avpnctl
AVPND=$BIN/avpnd
REGISTRY=$BIN/avpn-registry
# shellcheck source=lib/topology.sh
. "$SRC/tests/netns/lib/topology.sh"
# shellcheck source=lib/nat_topology.sh
. "$SRC/tests/netns/lib/nat_topology.sh"
# shellcheck source=lib/registry_group.sh
. "$SRC/tests/netns/lib/registry_group.sh"
# shellcheck source=lib/shortcut_checks.sh
. "$SRC/tests/netns/lib/shortcut_checks.sh"
NAT_MODE=friendly
BASELINE=0
TRANSPORT=wireguard
# AVPN_WG_BACKEND=kernel: the kernel's WireGuard instead of wireguard-go
# (the VM tier: kernel-registry-shortcut-wireguard).
WG_BACKEND=${AVPN_WG_BACKEND:-userspace}
SHORTCUTS=${AVPN_SHORTCUTS:-true}
topo_require jq ping wg nft python3
if [ "$WG_BACKEND" = kernel ]; then
  why=$(topo_wireguard_missing)
  [ -z "$why" ] || topo_skip "$why; the VM tier runs it (kernel-registry-shortcut-wireguard)"
else
  topo_require wireguard-go
fi
for b in "$AVPNCTL" "$AVPND" "$REGISTRY"; do [ -x "$b" ] || { echo "FAIL: $b not built"; exit 1; }; done
started=$EPOCHREALTIME
trap 'echo; echo "interrupted: cleaning up"; exit 130' INT
trap 'exit 143' TERM
topo_init # its EXIT trap removes the namespaces on every path

registry_group_init
SITES=(hq branch1 branch2 branch3 branch4)
SPOKES=(branch1 branch2 branch3 branch4)
HUBS_OF[branch3]=hq
LAN[branch3]=10.13.0.1
PUBLIC[branch3]=$(nat_public_addr 3)
NAT_OF[branch3]=nat3
NAT_MODE_OF[branch3]=random
# branch4 behind nat1 with branch1 (the lib shares a NAT two spokes name).
HUBS_OF[branch4]=hq
LAN[branch4]=10.14.0.1
PUBLIC[branch4]=$(nat_public_addr 1)
NAT_OF[branch4]=nat1
declare -A PRIV=([branch1]=192.168.1.2 [branch4]=192.168.1.3) # their wan0 on nat1's bridge
declare -A HOST=([branch1]=host1 [branch2]=host2 [branch3]=host3 [branch4]=host4)
declare -A HOST_ADDR=([branch1]=10.11.0.2 [branch2]=10.12.0.2 [branch3]=10.13.0.2 [branch4]=10.14.0.2)
INTERVAL=0.05 # the continuous pings' interval (s)

elapsed() { awk -v a="$started" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.1f", b - a}'; }
step() { echo; echo "== [$(elapsed) s] $*"; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }
# fail: the avpnd and registry logs, each site's status, then the shortcut
# states and the internet's counters.
fail() {
  local s
  for s in "${SPOKES[@]}"; do
    [ -S "$(topo_avpnd_socket "$s")" ] || continue
    echo "   $s peers: $(topo_avpn "$s" status --json 2>&1 | jq -c '[.peers[]? | {site, endpoint, contact, shortcut}]' 2>&1 || true)" >&2
    topo_avpn "$s" status 2>&1 | sed "s/^/   $s status| /" >&2 || true
  done
  echo "   hq wg transfer: $(topo_exec hq wg show "$IFACE" transfer 2>&1 | tr '\n' ' ')" >&2
  echo "   internet counters: $(wan_counters_line 2>&1 || true)" >&2
  for s in "$TOPO_WORK"/ping-*; do [ -f "$s" ] && tail -5 "$s" | sed "s#^#   ${s##*/}| #" >&2; done
  registry_group_fail "$@"
}

# hub_bytes SPOKE: rx + tx of SPOKE's peer in hq's WireGuard.
hub_bytes() { topo_exec hq wg show "$IFACE" transfer | awk -v k="$(pub "$1")" '$1 == k {print $2 + $3}'; }

# The internet router's view: UDP between two NATs' public addresses, or
# between one NAT and hq, each pair one counter (both directions).
WAN_PAIRS=(nat1-nat2 nat1-nat3 nat2-nat3 nat1-hq nat2-hq nat3-hq)
addr_of() { case $1 in hq) echo "${PUBLIC[hq]}" ;; nat*) nat_public_addr "${1#nat}" ;; esac; }
wan_counters() {
  local p a b
  {
    echo "table ip avpn_test_wan {"
    for p in "${WAN_PAIRS[@]}"; do echo "  counter ${p//-/_} {}"; done
    echo "  counter cut {}"
    echo "  chain forward {"
    echo "    type filter hook forward priority filter; policy accept;"
    for p in "${WAN_PAIRS[@]}"; do
      a=$(addr_of "${p%-*}") b=$(addr_of "${p#*-}")
      echo "    ip saddr { $a, $b } ip daddr { $a, $b } meta l4proto udp counter name ${p//-/_}"
    done
    echo "  }"
    # 5. puts its drop here, before the counters.
    echo "  chain cut { type filter hook forward priority filter - 10; policy accept; }"
    echo "}"
  } | ip netns exec "$TOPO-wan" nft -f -
}
# wan_packets PAIR: the packets counted for PAIR (e.g. nat1-nat2), or "cut".
wan_packets() {
  ip netns exec "$TOPO-wan" nft list counter ip avpn_test_wan "${1//-/_}" | awk '/packets/ {for (i = 1; i < NF; i++) if ($i == "packets") print $(i + 1)}'
}
wan_counters_line() { local p; for p in "${WAN_PAIRS[@]}" cut; do printf '%s=%s ' "$p" "$(wan_packets "$p")"; done; }
# nat1's view of branch1 and branch4: "lan", UDP between their wan0 on its
# bridge (either way), and "out", UDP it forwards to the internet other
# than to nat2 (where 2.'s shortcut carries host1 -> host2).
nat1_counters() {
  ip netns exec "$(nat_ns nat1)" nft -f - <<NFT
table bridge avpn_test_lan {
  counter lan {}
  chain forward {
    type filter hook forward priority filter; policy accept;
    ip saddr { ${PRIV[branch1]}, ${PRIV[branch4]} } ip daddr { ${PRIV[branch1]}, ${PRIV[branch4]} } meta l4proto udp counter name lan
  }
}
table ip avpn_test_nat1 {
  counter out {}
  chain forward {
    type filter hook forward priority filter; policy accept;
    oifname "pub" ip daddr != $(addr_of nat2) meta l4proto udp counter name out
  }
}
NFT
}
# nat1_packets lan|out: the packets nat1 counted.
nat1_packets() {
  local t="ip avpn_test_nat1"
  [ "$1" = lan ] && t="bridge avpn_test_lan"
  # shellcheck disable=SC2086 # family and table: two words
  ip netns exec "$(nat_ns nat1)" nft list counter $t "$1" | awk '/packets/ {for (i = 1; i < NF; i++) if ($i == "packets") print $(i + 1)}'
}


step "topology: an internet, reg1, reg2 and hq on it; branch1, branch2 behind friendly NATs (nat2 permissive), branch3 behind a random one, branch4 behind branch1's; a host on each spoke's LAN"
registry_group_topology
nat_forward_port nat2 192.168.2.2 "$PORT"
echo "   nat2 forwards UDP to its port $PORT from anywhere to branch2 (endpoint-independent filtering)"
for s in "${SPOKES[@]}"; do
  nat_lan_host "$s" "${HOST[$s]}" "${HOST_ADDR[$s]}/24" "${LAN[$s]}"
  echo "   ${HOST[$s]} ${HOST_ADDR[$s]} on $s's LAN"
done
if [ "${AVPN_NAT_INPUT:-accept}" = drop ]; then
  for n in nat1 nat2 nat3; do
    ip netns exec "$(nat_ns "$n")" nft add chain ip avpn_test_nat input '{ type filter hook input priority filter; policy accept; }'
    ip netns exec "$(nat_ns "$n")" nft add rule ip avpn_test_nat input iifname pub ct state new drop
  done
  echo "   the NATs drop what is new to themselves from the internet"
fi
wan_counters
echo "   the internet router counts UDP per pair of: nat1 $(addr_of nat1), nat2 $(addr_of nat2), nat3 $(addr_of nat3), hq $(addr_of hq)"
nat1_counters
echo "   nat1 counts UDP between ${PRIV[branch1]} and ${PRIV[branch4]} on its bridge, and UDP out to the internet but to nat2"

step "keys, member list (shortcuts = $SHORTCUTS, no contact for anyone), site files"
registry_group_files
grep -q "^shortcuts = $SHORTCUTS$" "$CORP/corp-members.toml" || fail "the member list does not say shortcuts = $SHORTCUTS"

step "registries"
start_registry reg1
start_registry reg2

step "avpnd on hq branch1 branch2 branch3, then on branch4 once branch1 is registered"
for s in hq branch1 branch2 branch3; do start_avpnd "$s"; done
t0=$(now_ms)
# own_observed SITE: SITE's contact as reg1 and reg2 observed it ("a b").
own_observed() { reg_status "$1" | jq -r '[.registries[] | select(.group == "corp") | .observed] | join(" ")'; }
registered_at_both() { [[ "$(own_observed "$1")" =~ ^[0-9.:]+\ [0-9.:]+$ ]]; }
topo_wait_for "branch1 registered at both registries" 15 registered_at_both branch1
echo "   branch1 registered at both registries $(($(now_ms) - t0)) ms after avpnd's start: $(own_observed branch1)"
start_avpnd branch4
sleep 0.2
for s in "${SITES[@]}"; do
  pid_var=AVPND_$s
  kill -0 "${!pid_var}" 2>/dev/null || fail "$s's avpnd exited at start"
done

step "1. baseline: every tunnel from the registries, spoke-to-spoke through hq"
# ping_until NS SRC DST LIMIT_S [BASE_MS]: one echo from SRC (an address in
# NS; empty: NS's own choice) to DST until one is answered, for LIMIT_S
# from BASE_MS (default avpnd's start); prints the milliseconds since
# avpnd's start.
ping_until() {
  local deadline=$((${5:-$t0} + $4 * 1000))
  while [ "$(now_ms)" -lt "$deadline" ]; do
    if topo_exec "$1" ping -n -c 1 -W 1 ${2:+-I "$2"} "$3" >/dev/null 2>&1; then
      echo $(($(now_ms) - t0))
      return 0
    fi
    sleep 0.2 # no route yet fails at once
  done
  return 1
}
for s in "${SPOKES[@]}"; do
  ms=$(ping_until "$s" "${LAN[$s]}" "${LAN[hq]}" 20) || fail "1. $s ${LAN[$s]} -> hq ${LAN[hq]}: no reply within 20 s of avpnd's start"
  echo "   $s ${LAN[$s]} -> hq ${LAN[hq]}: first reply ${ms} ms after avpnd's start"
done
# nat_type SITE: SITE's NAT type in group corp (status --json).
nat_type() { reg_status "$1" | jq -r '[.nat[]? | select(.group == "corp")][0].type // "none"'; }
declare -A WANT_NAT=([hq]=friendly [branch1]=friendly [branch2]=friendly [branch3]=unfriendly [branch4]=friendly)
for s in "${SITES[@]}"; do
  nat_is() { [ "$(nat_type "$1")" = "${WANT_NAT[$1]}" ]; }
  topo_wait_for "$s's NAT type ${WANT_NAT[$s]} (it says $(nat_type "$s"))" 15 nat_is "$s"
done
echo "   NAT types: $(for s in "${SITES[@]}"; do printf '%s %s, ' "$s" "$(nat_type "$s")"; done | sed 's/, $//')"
# filtering SITE: SITE's NAT filtering in group corp (status --json).
filtering() { reg_status "$1" | jq -r '[.nat[]? | select(.group == "corp")][0].filtering // "none"'; }
declare -A WANT_FILTER=([hq]=permissive [branch1]=strict [branch2]=permissive [branch3]=strict [branch4]=strict)
for s in "${SITES[@]}"; do
  filter_is() { [ "$(filtering "$1")" = "${WANT_FILTER[$1]}" ]; }
  topo_wait_for "$s's filtering ${WANT_FILTER[$s]} (it says $(filtering "$s"))" 15 filter_is "$s"
done
echo "   filtering: $(for s in "${SITES[@]}"; do printf '%s %s, ' "$s" "$(filtering "$s")"; done | sed 's/, $//')"
before=$(wan_counters_line)
lan_before=$(nat1_packets lan)
for pair in "branch1 branch2" "branch2 branch1" "branch1 branch3" "branch3 branch1" "branch1 branch4" "branch4 branch1"; do
  read -r a b <<<"$pair"
  # Its own deadline: the checks before it (NAT types, the pairs before)
  # take seconds each under the VM's emulated CPU, so one counted from
  # avpnd's start ran out there (first replies at 22-25 s, each pair ~1 s
  # after the last). The tunnels' own start is held to 20 s above.
  ms=$(ping_until "$a" "${LAN[$a]}" "${LAN[$b]}" 15 "$(now_ms)") ||
    fail "1. $a ${LAN[$a]} -> $b ${LAN[$b]}: no reply within 15 s of its first ping"
  out=$(topo_exec "$a" ping -n -c 1 -W 2 -I "${LAN[$a]}" "${LAN[$b]}" 2>&1) || fail "1. $a ${LAN[$a]} -> $b ${LAN[$b]}: one reply, then none: $out"
  ttl=$(grep -o 'ttl=[0-9]*' <<<"$out" | cut -d= -f2)
  echo "   $a ${LAN[$a]} -> $b ${LAN[$b]}: first reply ${ms} ms after avpnd's start; ttl $ttl"
  # b's own reply, forwarded by hq only: 63 (direct it would be 64).
  [ "$ttl" = 63 ] || fail "1. $a -> $b: reply ttl $ttl, not 63 (through hq)"
done
after=$(wan_counters_line)
echo "   internet UDP packets, before: $before"
echo "                          after: $after"
for p in nat1-nat2 nat1-nat3 nat2-nat3; do
  [ "$(wan_packets "$p")" = 0 ] || fail "1. the internet carried UDP between $p: $after"
done
for p in nat1-hq nat2-hq nat3-hq; do
  b=$(tr ' ' '\n' <<<"$before" | awk -F= -v k="$p" '$1 == k {print $2}')
  [ "$(wan_packets "$p")" -ge $((b + 2)) ] || fail "1. $p did not carry the spoke-to-spoke pings: $before -> $after"
done
[ "$(nat1_packets lan)" = "$lan_before" ] || fail "1. nat1's bridge carried UDP between branch1 and branch4: $lan_before -> $(nat1_packets lan) packets"
echo "   the pings went through hq: nothing between the NATs, nothing between branch1 and branch4 on nat1's bridge ($(nat1_packets lan) packets in all), each NAT-hq flow grew"
for s in "${SPOKES[@]}"; do
  # 20 s from now, not from avpnd's start: an emulated CPU (the VM tier)
  # takes most of that to get here.
  ms=$(ping_until "${HOST[$s]}" "" "${LAN[hq]}" 20 "$(now_ms)") || fail "1. ${HOST[$s]} ${HOST_ADDR[$s]} -> hq ${LAN[hq]}: no reply within 20 s"
  echo "   ${HOST[$s]} ${HOST_ADDR[$s]} -> hq ${LAN[hq]}: reply (through $s)"
done
for s in "${SPOKES[@]}"; do echo "   $s wg endpoints: $(endpoints "$s")"; done

step "2. a continuous ping host1 -> host2 every ${INTERVAL} s: the shortcut comes up and carries it"
PING12=$TOPO_WORK/ping-host1-host2
first=$EPOCHREALTIME
topo_spawn host1 ping -n -D -i "$INTERVAL" -W 1 "${HOST_ADDR[branch2]}" >"$PING12" 2>&1
PING12_PID=$TOPO_SPAWNED
declare -A UP_MS=() SEEN=()
# shortcut_line A B: the line with "shortcut" in B's block of A's text
# status (under "peers": B's line "  B (spoke, corp) ...", then lines
# indented deeper).
shortcut_line() {
  topo_avpn "$1" status | awk -v b="$2" '/^peers/ {p = 1; next} p && /^[^ ]/ {p = 0}
    p && /^  [^ ]/ {in_b = ($1 == b)} p && in_b && /shortcut/' | sed 's/^ *//'
}
await_shortcut branch1 branch2 "$first" "2. the shortcut branch1 <-> branch2"
for pair in "branch1 branch2" "branch2 branch1"; do
  read -r a b <<<"$pair"
  line=$(shortcut_line "$a" "$b")
  echo "   $a's text status, peer $b: ${line:-(no line with shortcut)}"
  grep -q "^shortcut up" <<<"$line" || fail "2. $a's text status has no \"shortcut up\" under peer $b"
done
sleep 1 # the other side's converge after its own look
first_direct=$(replies "$PING12" | awk '!f && $3 == 62 {print $1; f = 1}') # reads on: an early exit can SIGPIPE the writer (pipefail)
echo "   time from the first ping to the shortcut up at both: $(( UP_MS[branch1] > UP_MS[branch2] ? UP_MS[branch1] : UP_MS[branch2] )) ms;" \
  "first reply direct (ttl 62): $([ -n "$first_direct" ] && awk -v a="$first" -v b="$first_direct" 'BEGIN {printf "%d ms", (b - a) * 1000}' || echo never)"
w0=$EPOCHREALTIME
declare -A W0=() H0=()
for p in "${WAN_PAIRS[@]}"; do W0[$p]=$(wan_packets "$p"); done
for s in branch1 branch2; do H0[$s]=$(hub_bytes "$s"); done
sleep 2
w1=$EPOCHREALTIME
declare -A DW=() DH=()
for p in "${WAN_PAIRS[@]}"; do DW[$p]=$(($(wan_packets "$p") - W0[$p])); done
for s in branch1 branch2; do DH[$s]=$(($(hub_bytes "$s") - H0[$s])); done
read -r n ttl61 ttl62 other <<<"$(window "$PING12" "$w0" "$w1")"
sent=$(awk -v a="$w0" -v b="$w1" -v i="$INTERVAL" 'BEGIN {printf "%d", (b - a) / i}')
echo "   over $(awk -v a="$w0" -v b="$w1" 'BEGIN {printf "%.1f", b - a}') s (~$sent pings): $n replies, $ttl62 direct (ttl 62), $ttl61 through hq (ttl 61), $other other"
echo "   internet UDP packets: nat1-nat2 +${DW[nat1-nat2]}, nat1-hq +${DW[nat1-hq]}, nat2-hq +${DW[nat2-hq]}; hq's WireGuard: branch1 +${DH[branch1]} B, branch2 +${DH[branch2]} B"
[ "$n" -ge $((sent * 8 / 10)) ] || fail "2. only $n of ~$sent pings answered over the shortcut"
[ "$ttl61" = 0 ] && [ "$other" = 0 ] || fail "2. replies not direct with the shortcut up at both: $ttl61 through hq, $other other"
[ "${DW[nat1-nat2]}" -ge "$n" ] || fail "2. the internet carried ${DW[nat1-nat2]} UDP packets between nat1 and nat2 for $n pings"
# Through hq each ping is 2 packets on each of nat1-hq and nat2-hq; what
# is left is keepalives and handshakes.
[ $((DW[nat1-hq] + DW[nat2-hq])) -lt 10 ] ||
  fail "2. the NAT-hq flows grew by $((DW[nat1-hq] + DW[nat2-hq])) packets for $n pings that went direct"
[ $((DH[branch1] + DH[branch2])) -lt 2048 ] ||
  fail "2. hq's WireGuard grew by $((DH[branch1] + DH[branch2])) bytes for $n pings that went direct"
echo "   the pings go direct between nat1 and nat2, not through hq"
counter=$(ip netns exec "$(nat_ns branch1)" nft list counters table inet avpn 2>/dev/null | grep -A2 'shortcut-corp.branch2' | tr -s ' \n' ' ' || true)
echo "   branch1's watch counter for branch2: ${counter:-(not found)}"

step "3. a continuous ping host1 -> host4 (both behind nat1, which does not hairpin): the shortcut comes up at their LAN addresses"
PING14=$TOPO_WORK/ping-host1-host4
first14=$EPOCHREALTIME
topo_spawn host1 ping -n -D -i "$INTERVAL" -W 1 "${HOST_ADDR[branch4]}" >"$PING14" 2>&1
PING14_PID=$TOPO_SPAWNED
UP_MS=() SEEN=()
await_shortcut branch1 branch4 "$first14" "3. the shortcut branch1 <-> branch4 (both behind nat1)"
# Each end reaches the other at its LAN contact, the address on nat1's
# bridge: nat1 drops what is sent to its own public address.
for pair in "branch1 branch4" "branch4 branch1"; do
  read -r a b <<<"$pair"
  want=${PRIV[$b]}:$PORT
  ep=$(topo_exec "$a" wg show "$IFACE" endpoints | awk -v k="$(pub "$b")" '$1 == k {print $2}')
  st_ep=$(topo_avpn "$a" status --json | jq -r --arg p "$b" '[.peers[]? | select(.site == $p)][0].endpoint // "none"')
  line=$(shortcut_line "$a" "$b")
  echo "   $a's peer $b: WireGuard endpoint ${ep:-none}; status endpoint $st_ep; text status: ${line:-(no line with shortcut)}"
  [ "$ep" = "$want" ] || fail "3. $a's WireGuard has $b at ${ep:-nothing}, not at its LAN address $want (nat1's public $(addr_of nat1) does not hairpin)"
  [ "$st_ep" = "$want" ] || fail "3. $a's status --json has $b at $st_ep, not at its LAN address $want"
  [ "$line" = "shortcut up to $want" ] || fail "3. $a's text status under peer $b: \"$line\", not \"shortcut up to $want\""
done
sleep 1 # the other side's converge after its own look
first_direct=$(replies "$PING14" | awk '!f && $3 == 62 {print $1; f = 1}')
echo "   time from the first ping to the shortcut up at both: $(( UP_MS[branch1] > UP_MS[branch4] ? UP_MS[branch1] : UP_MS[branch4] )) ms;" \
  "first reply direct (ttl 62): $([ -n "$first_direct" ] && awk -v a="$first14" -v b="$first_direct" 'BEGIN {printf "%d ms", (b - a) * 1000}' || echo never)"
w14=$EPOCHREALTIME
for p in "${WAN_PAIRS[@]}"; do W0[$p]=$(wan_packets "$p"); done
for s in branch1 branch4; do H0[$s]=$(hub_bytes "$s"); done
L0=$(nat1_packets lan) O0=$(nat1_packets out)
sleep 2
w1=$EPOCHREALTIME
for p in "${WAN_PAIRS[@]}"; do DW[$p]=$(($(wan_packets "$p") - W0[$p])); done
for s in branch1 branch4; do DH[$s]=$(($(hub_bytes "$s") - H0[$s])); done
DL=$(($(nat1_packets lan) - L0)) DO=$(($(nat1_packets out) - O0))
read -r n ttl61 ttl62 other <<<"$(window "$PING14" "$w14" "$w1")"
sent=$(awk -v a="$w14" -v b="$w1" -v i="$INTERVAL" 'BEGIN {printf "%d", (b - a) / i}')
echo "   over $(awk -v a="$w14" -v b="$w1" 'BEGIN {printf "%.1f", b - a}') s (~$sent pings): $n replies, $ttl62 direct (ttl 62), $ttl61 through hq (ttl 61), $other other"
echo "   UDP packets: nat1's bridge branch1-branch4 +$DL, nat1 out to the internet (but to nat2) +$DO, internet nat1-hq +${DW[nat1-hq]};" \
  "hq's WireGuard: branch1 +${DH[branch1]} B, branch4 +${DH[branch4]} B"
[ "$n" -ge $((sent * 8 / 10)) ] || fail "3. only $n of ~$sent pings answered over the shortcut"
[ "$ttl61" = 0 ] && [ "$other" = 0 ] || fail "3. replies not direct with the shortcut up at both: $ttl61 through hq, $other other"
[ "$DL" -ge "$n" ] || fail "3. nat1's bridge carried $DL UDP packets between branch1 and branch4 for $n pings"
# Through hq each ping is 2 packets out of nat1 (to hq and back in, each
# way); what is left is keepalives, registrations and handshakes.
[ "$DO" -lt 10 ] && [ "${DW[nat1-hq]}" -lt 10 ] ||
  fail "3. nat1 sent $DO UDP packets out to the internet (nat1-hq +${DW[nat1-hq]}) for $n pings that went direct on its bridge"
[ $((DH[branch1] + DH[branch4])) -lt 2048 ] ||
  fail "3. hq's WireGuard grew by $((DH[branch1] + DH[branch4])) bytes for $n pings that went direct"
echo "   the pings go direct between branch1 and branch4 on nat1's bridge: not through hq, not out to the internet (the ping runs on to the end)"

step "4. host1 <-> host3 (nat3 unfriendly): through hq, no shortcut"
PING13=$TOPO_WORK/ping-host1-host3
w0=$EPOCHREALTIME
for p in "${WAN_PAIRS[@]}"; do W0[$p]=$(wan_packets "$p"); done
H0[branch3]=$(hub_bytes branch3)
topo_spawn host1 ping -n -D -i 0.1 -W 1 -w 8 "${HOST_ADDR[branch3]}" >"$PING13" 2>&1
PING13_PID=$TOPO_SPAWNED
topo_spawn host3 ping -n -D -i 0.1 -W 1 -w 8 "${HOST_ADDR[branch1]}" >"$PING13.back" 2>&1
PING31_PID=$TOPO_SPAWNED
declare -A ST13=()
while kill -0 "$PING13_PID" 2>/dev/null; do
  for pair in "branch1 branch3" "branch3 branch1"; do
    read -r a b <<<"$pair"
    st=$(shortcut_of "$a" "$b")
    [[ " ${ST13[$a]:-} " == *" $st "* ]] || ST13[$a]+=" $st"
  done
  sleep 0.5
done
wait "$PING13_PID" || true
wait "$PING31_PID" || true
w1=$EPOCHREALTIME
for p in "${WAN_PAIRS[@]}"; do DW[$p]=$(($(wan_packets "$p") - W0[$p])); done
DH[branch3]=$(($(hub_bytes branch3) - H0[branch3]))
read -r n ttl61 ttl62 other <<<"$(window "$PING13" "$w0" "$w1")"
sent=$(awk '/packets transmitted/ {print $1}' "$PING13")
read -r nb _ _ _ <<<"$(window "$PING13.back" "$w0" "$w1")"
sentb=$(awk '/packets transmitted/ {print $1}' "$PING13.back")
echo "   host1 -> host3: $sent sent, $n answered ($ttl61 through hq, $ttl62 direct, $other other); host3 -> host1: $sentb sent, $nb answered"
echo "   states seen over 8 s: branch1's peer branch3:${ST13[branch1]}; branch3's peer branch1:${ST13[branch3]}"
echo "   internet UDP packets: nat1-nat3 +${DW[nat1-nat3]}, nat1-hq +${DW[nat1-hq]}, nat3-hq +${DW[nat3-hq]}; hq's WireGuard: branch3 +${DH[branch3]} B (the through-hq volume of 8 s of pings at 0.1 s both ways)"
[ "${sent:-0}" -gt 0 ] && [ "$n" -ge $((sent * 9 / 10)) ] && [ "${sentb:-0}" -gt 0 ] && [ "$nb" -ge $((sentb * 9 / 10)) ] ||
  fail "4. host1 <-> host3: $n of $sent, $nb of $sentb answered"
[ "$ttl61" = "$n" ] || fail "4. host1 -> host3: $ttl62 replies direct, $other other, not all through hq"
[ "${ST13[branch1]}" = " none" ] && [ "${ST13[branch3]}" = " none" ] ||
  fail "4. a shortcut branch1 <-> branch3 behind the random nat3: branch1 showed${ST13[branch1]}, branch3${ST13[branch3]}"
[ "${DW[nat1-nat3]}" = 0 ] || fail "4. the internet carried ${DW[nat1-nat3]} UDP packets between nat1 and nat3"
[ "${DW[nat3-hq]}" -ge "$n" ] || fail "4. nat3-hq carried ${DW[nat3-hq]} UDP packets for $n pings through hq"
[ "${DH[branch3]}" -ge 2048 ] || fail "4. hq's WireGuard grew by ${DH[branch3]} bytes for branch3: 2. could not tell the hub's share"
st=$(shortcut_of branch1 branch2)
echo "   meanwhile branch1's shortcut to branch2: $st"
[ "$st" = up ] || fail "4. the shortcut branch1 -> branch2 went from up to $st while host1 pinged host3"

step "5. the internet drops UDP between nat1 and nat2: the pings go back through hq"
cut_at=$EPOCHREALTIME
ip netns exec "$TOPO-wan" nft add rule ip avpn_test_wan cut \
  ip saddr "{ $(addr_of nat1), $(addr_of nat2) }" ip daddr "{ $(addr_of nat1), $(addr_of nat2) }" meta l4proto udp counter name cut drop
declare -A DOWN_MS=()
# back_on_hub: neither side shows the shortcut up, and a reply came back
# through hq after the cut.
back_on_hub() {
  local a b st
  for pair in "branch1 branch2" "branch2 branch1"; do
    read -r a b <<<"$pair"
    [ -n "${DOWN_MS[$a]:-}" ] && continue
    st=$(shortcut_of "$a" "$b")
    [ "$st" = up ] || DOWN_MS[$a]=$(ms_since "$cut_at")
  done
  [ -n "${DOWN_MS[branch1]:-}" ] && [ -n "${DOWN_MS[branch2]:-}" ] &&
    [ -n "$(replies "$PING12" | awk -v a="$cut_at" '$1 > a && $3 == 61 {print; exit}')" ]
}
until back_on_hub || [ "$(ms_since "$cut_at")" -gt 15000 ]; do sleep 0.2; done
back_on_hub || fail "5. 15 s after the cut: branch1 up until ${DOWN_MS[branch1]:-still} ms, branch2 ${DOWN_MS[branch2]:-still}, replies through hq: $(replies "$PING12" | awk -v a="$cut_at" '$1 > a && $3 == 61' | wc -l)"
echo "   the shortcut no longer up: at branch1 ${DOWN_MS[branch1]} ms, at branch2 ${DOWN_MS[branch2]} ms after the cut (states polled every 0.2 s)"
sleep 0.5 # the later side's converge
w0=$EPOCHREALTIME
for p in "${WAN_PAIRS[@]}"; do W0[$p]=$(wan_packets "$p"); done
for s in branch1 branch2; do H0[$s]=$(hub_bytes "$s"); done
sleep 3
w2=$EPOCHREALTIME
for p in "${WAN_PAIRS[@]}"; do DW[$p]=$(($(wan_packets "$p") - W0[$p])); done
for s in branch1 branch2; do DH[$s]=$(($(hub_bytes "$s") - H0[$s])); done
# The outage: the longest time between two replies since the cut, and the
# sequence numbers missing in it.
read -r gap_ms lost last_direct first_hub <<<"$(replies "$PING12" | awk -v a="$cut_at" '
  $1 <= a {pt = $1; ps = $2; next}
  { if (pt != "" && ($1 - pt) * 1000 > gap) { gap = ($1 - pt) * 1000; lost = $2 - ps - 1; from = pt; to = $1 }
    pt = $1; ps = $2 }
  END {printf "%d %d %s %s\n", gap, lost, from, to}')"
read -r n ttl61 ttl62 other <<<"$(window "$PING12" "$w0" "$w2")"
sent=$(awk -v a="$w0" -v b="$w2" -v i="$INTERVAL" 'BEGIN {printf "%d", (b - a) / i}')
echo "   outage: $lost pings lost x ${INTERVAL} s = $(awk -v l="$lost" -v i="$INTERVAL" 'BEGIN {printf "%.2f", l * i}') s; longest gap between replies ${gap_ms} ms" \
  "(cut at $(awk -v a="$started" -v b="$cut_at" 'BEGIN {printf "%.1f", b - a}') s, last reply before the gap $(awk -v a="$cut_at" -v b="${last_direct:-$cut_at}" 'BEGIN {printf "%+d", (b - a) * 1000}') ms, first after $(awk -v a="$cut_at" -v b="${first_hub:-$cut_at}" 'BEGIN {printf "%+d", (b - a) * 1000}') ms)"
echo "   afterwards over $(awk -v a="$w0" -v b="$w2" 'BEGIN {printf "%.1f", b - a}') s (~$sent pings): $n replies, $ttl61 through hq, $ttl62 direct, $other other;" \
  "nat1-hq +${DW[nat1-hq]}, nat2-hq +${DW[nat2-hq]} UDP packets, hq's WireGuard branch1 +${DH[branch1]} B, branch2 +${DH[branch2]} B; dropped by the cut: $(wan_packets cut)"
[ "$lost" -gt 0 ] || fail "5. no ping lost across the cut: did the pings pass the cut at all? $(wan_counters_line)"
awk -v l="$lost" -v i="$INTERVAL" 'BEGIN {exit !(l * i < 10)}' || fail "5. $lost pings lost across the cut: ${gap_ms} ms, not < 10 s"
[ "$n" -ge $((sent * 9 / 10)) ] || fail "5. after the fallback only $n of ~$sent pings answered"
[ "$ttl61" = "$n" ] || fail "5. after the fallback $ttl62 replies direct, $other other, of $n"
[ "${DW[nat1-hq]}" -ge 20 ] && [ "${DW[nat2-hq]}" -ge 20 ] ||
  fail "5. after the fallback the NAT-hq flows grew by only ${DW[nat1-hq]} and ${DW[nat2-hq]} packets"
for pair in "branch1 branch2" "branch2 branch1"; do
  read -r a b <<<"$pair"
  st=$(shortcut_of "$a" "$b")
  echo "   $a's peer $b: shortcut $st"
  [ "$st" != up ] || fail "5. $a still shows the shortcut to $b up"
done
ip netns exec "$TOPO-wan" nft flush chain ip avpn_test_wan cut
echo "   the drop removed"
# The pair behind nat1 never left its bridge: 4. and the cut between nat1
# and nat2 passed it by.
# Counted by sequence number: ping's real interval is a little longer
# than -i says.
now=$EPOCHREALTIME
read -r n ttl61 ttl62 other <<<"$(window "$PING14" "$w14" "$now")"
sent=$(replies "$PING14" | awk -v a="$w14" -v b="$now" '$1 >= a && $1 <= b {if (lo == "") lo = $2; hi = $2} END {print hi - lo + 1}')
st=$(shortcut_of branch1 branch4) st4=$(shortcut_of branch4 branch1)
echo "   host1 -> host4 since 3.'s window began ($(awk -v a="$w14" -v b="$now" 'BEGIN {printf "%.1f", b - a}') s, $sent pings): $n replies, $ttl62 direct, $ttl61 through hq, $other other;" \
  "the shortcut at branch1 $st, at branch4 $st4"
[ "$st" = up ] && [ "$st4" = up ] || fail "5. the shortcut branch1 <-> branch4 is no longer up at both: branch1 $st, branch4 $st4"
[ "$n" -ge $((sent * 98 / 100)) ] && [ "$ttl61" = 0 ] && [ "$other" = 0 ] ||
  fail "5. host1 -> host4 since 3.: $n of $sent answered, $ttl61 through hq, $other other"
kill -INT "$PING14_PID" 2>/dev/null || true
wait "$PING14_PID" 2>/dev/null || true
kill -INT "$PING12_PID" 2>/dev/null || true # its summary line
wait "$PING12_PID" 2>/dev/null || true
echo "   host1 -> host2 in all: $(grep 'packets transmitted' "$PING12" || echo "?")"

step "6. host2 -> host3: nat2 lets branch3 in from the port nat3 maps toward it, so the pair behind the random NAT gets a shortcut"
PING23=$TOPO_WORK/ping-host2-host3
first23=$EPOCHREALTIME
topo_spawn host2 ping -n -D -i "$INTERVAL" -W 1 "${HOST_ADDR[branch3]}" >"$PING23" 2>&1
PING23_PID=$TOPO_SPAWNED
UP_MS=() SEEN=()
await_shortcut branch2 branch3 "$first23" "6. the shortcut branch2 <-> branch3 (nat2 permissive, nat3 random)"
sleep 1 # the other side's converge after its own look
w0=$EPOCHREALTIME
for p in "${WAN_PAIRS[@]}"; do W0[$p]=$(wan_packets "$p"); done
for s in branch2 branch3; do H0[$s]=$(hub_bytes "$s"); done
sleep 2
w1=$EPOCHREALTIME
for p in "${WAN_PAIRS[@]}"; do DW[$p]=$(($(wan_packets "$p") - W0[$p])); done
for s in branch2 branch3; do DH[$s]=$(($(hub_bytes "$s") - H0[$s])); done
read -r n ttl61 ttl62 other <<<"$(window "$PING23" "$w0" "$w1")"
sent=$(awk -v a="$w0" -v b="$w1" -v i="$INTERVAL" 'BEGIN {printf "%d", (b - a) / i}')
ep23=$(topo_exec branch2 wg show "$IFACE" endpoints | awk -v k="$(pub branch3)" '$1 == k {print $2}')
echo "   over 2 s (~$sent pings): $n replies, $ttl62 direct (ttl 62), $ttl61 through hq, $other other;" \
  "internet UDP nat2-nat3 +${DW[nat2-nat3]}, nat2-hq +${DW[nat2-hq]}, nat3-hq +${DW[nat3-hq]}; hq's WireGuard branch2 +${DH[branch2]} B, branch3 +${DH[branch3]} B"
echo "   branch2's WireGuard has branch3 at ${ep23:-nothing}; its registries' contact for branch3: $(own_observed branch3)"
[ "$n" -ge $((sent * 8 / 10)) ] || fail "6. only $n of ~$sent pings answered over the shortcut"
[ "$ttl61" = 0 ] && [ "$other" = 0 ] || fail "6. replies not direct with the shortcut up at both: $ttl61 through hq, $other other"
[ "${DW[nat2-nat3]}" -ge "$n" ] || fail "6. the internet carried ${DW[nat2-nat3]} UDP packets between nat2 and nat3 for $n pings"
[ $((DW[nat2-hq] + DW[nat3-hq])) -lt 10 ] || fail "6. the NAT-hq flows grew by $((DW[nat2-hq] + DW[nat3-hq])) packets for $n pings that went direct"
[ $((DH[branch2] + DH[branch3])) -lt 2048 ] || fail "6. hq's WireGuard grew by $((DH[branch2] + DH[branch3])) bytes for $n pings that went direct"
[ "${ep23%:*}" = "$(addr_of nat3)" ] || fail "6. branch2's WireGuard has branch3 at ${ep23:-nothing}, not at nat3's $(addr_of nat3)"
for o in $(own_observed branch3); do
  [ "$ep23" != "$o" ] || fail "6. branch2 reaches branch3 at $o, a port a registry saw: nat3 is random, so the way to nat2 should have its own"
done
echo "   the pings go direct between nat2 and nat3; branch2 answers branch3 at the port nat3 gave the way to nat2"
kill -INT "$PING23_PID" 2>/dev/null || true
wait "$PING23_PID" 2>/dev/null || true

step "the logs"
for pair in "branch1 branch2" "branch2 branch1" "branch1 branch4" "branch4 branch1" "branch2 branch3" "branch3 branch2"; do
  read -r a b <<<"$pair"
  lines=$(grep -E "shortcut to (corp/)?$b\b" "$TOPO_WORK/avpnd-$a.log" || true)
  [ -n "$lines" ] || fail "$a's avpnd logged nothing with \"shortcut to corp/$b\""
  sed "s/^/   $a| /" <<<"$lines"
done
for pair in "branch1 branch3" "branch3 branch1"; do
  read -r a b <<<"$pair"
  grep -E "shortcut to (corp/)?$b\b" "$TOPO_WORK/avpnd-$a.log" | sed "s/^/   $a| /" || true
done

echo
echo "time: $(elapsed) s"
echo "PASS: a shortcut between the spokes behind friendly NATs carried their traffic direct, one between the two spokes behind one NAT carried theirs on its LAN, one from behind the random NAT to the permissive one, none from it to a strict one, and a cut shortcut gave its traffic back to hq within seconds"
