#!/usr/bin/env bash
# Two sites behind one NAT that does not hairpin (issue 14, docs/registry.md
# "In avpnd": a member the registry saw at this site's own public address
# is reached at its LAN contact). Group "corp" as in registry_nat.sh, every
# contact from two avpn-registry instances, none from the member list, all
# under avpnd with wireguard-go; here hub hq is public and hub office and
# spoke branch1 (hubs office, then hq) share nat1, one nftables masquerade
# with no DNAT (lib/nat_topology.sh: nat_shared, nat_join):
#
#   reg1 198.51.100.10   reg2 198.51.100.11   hq 198.51.100.20
#   ---------------- the internet (ns wan) ----------------
#                          | 203.0.113.2 (nat1: masquerade)
#              ------ 192.168.1.0/24 (a bridge in nat1) ------
#              office wan0 .2 (hub)       branch1 wan0 .3 (spoke)
#
# Hubs form a full mesh and branch1 names office, so office and branch1
# tunnel to each other: only through their LAN contacts, since nat1 drops
# what they would send to each other's public mapping.
#   0. the NAT, without avpn: office then branch1 send from port 51999 to
#      both registries' addresses: office keeps 51999, branch1's collides
#      and masquerade gives it another port, the same toward both (conntrack);
#      a datagram from office to branch1's public mapping does not reach
#      branch1 (no hairpin), one to its LAN address does;
#   1. avpnd on hq and office, then branch1 once office is registered (so
#      branch1 is the NAT's second host): LAN-to-LAN pings office <-> branch1,
#      office <-> hq, branch1 <-> hq;
#   2. office and branch1 reach each other at their LAN contacts: the
#      WireGuard endpoint (UAPI, `wg show`) and the status's peer endpoint
#      ("learned") are 192.168.1.x:51820, never the NAT's address, and the NAT
#      saw nothing of theirs to its own public address (no hairpin tried);
#   3. seen from outside: conntrack holds two mappings of port 51820 toward
#      each of reg1, reg2 and hq, one per site, on two different ports; each
#      registry observed each site at exactly the mapping conntrack holds
#      toward it; office keeps 51820 at both registries and branch1 is
#      renamed to one other port at both, so the NAT type in status is
#      friendly for both (and for hq), as conntrack says; hq's status has
#      each at the contact reg1 observed, two different ones, and hq's
#      WireGuard each at its mapping toward hq (or at that contact: see 3.).
# AVPN_HAIRPIN_START=together: all three avpnd at once, so which site is
# the NAT's first host toward each registry is a race. 3. then asserts only
# what holds either way: at each registry one of the two keeps 51820 and the
# other is renamed, and each site's NAT type is what conntrack shows (a
# site first at one registry and second at the other is mapped to two
# ports: unfriendly).
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
NAT_MODE=friendly
BASELINE=0
TRANSPORT=wireguard
WG_BACKEND=userspace
case "${AVPN_HAIRPIN_START:-staggered}" in
  staggered) TOGETHER=0 ;; together) TOGETHER=1 ;;
  *) topo_fail "AVPN_HAIRPIN_START=$AVPN_HAIRPIN_START: staggered or together" ;;
esac
topo_require jq ping wg nft python3 wireguard-go
for b in "$AVPNCTL" "$AVPND" "$REGISTRY"; do [ -x "$b" ] || { echo "FAIL: $b not built"; exit 1; }; done
started=$EPOCHREALTIME
trap 'echo; echo "interrupted: cleaning up"; exit 130' INT
trap 'exit 143' TERM
topo_init # its EXIT trap removes the namespaces on every path

registry_group_init
SITES=(hq office branch1)
HUBS=(hq office)
SPOKES=(branch1)
BEHIND=(office branch1) # the two sites behind nat1
HUBS_OF=([branch1]="office hq")
LAN=([hq]=10.10.0.1 [office]=10.20.0.1 [branch1]=10.11.0.1)
NATPUB=$(nat_public_addr 1)
PUBLIC=([hq]=198.51.100.20 [office]=$NATPUB [branch1]=$NATPUB)
NAT_OF=([office]=nat1 [branch1]=nat1)
declare -A PRIV=([office]=192.168.1.2 [branch1]=192.168.1.3)
# avpn's default keepalive, not registry_nat.sh's 5 s: hq and office both
# send to each other, and the registry tells each of the other in the same
# instant, so their first initiations can cross. WireGuard then retries
# after 5 s plus jitter, unless a persistent keepalive of 5 s or less fires
# first: both sides' keepalive timers restart on the crossed messages, fire
# together, cross again, and no handshake completes for minutes (seen here
# with wireguard-go; docs/registry.md, "Hole punching").
KEEPALIVE=25s
declare -A HOST=([office]=2 [branch1]=3)

elapsed() { awk -v a="$started" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.1f", b - a}'; }
step() { echo; echo "== [$(elapsed) s] $*"; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }
# fail: besides registry_group_fail's logs, each site's WireGuard device
# (peers, allowed IPs, handshakes, transfer) and avpn's routes.
fail() {
  local s
  for s in "${SITES[@]}"; do
    [ -d "$TOPO_WORK/run-$s" ] || continue
    { topo_exec "$s" wg show "$IFACE" 2>&1; ip -n "$(nat_ns "$s")" route show table all proto 147 2>&1; } | sed "s/^/   $s wg+routes| /" >&2 || true
  done
  registry_group_fail "$@"
}
# wg_endpoint SITE PEER: PEER's endpoint in SITE's WireGuard device (UAPI).
wg_endpoint() { topo_exec "$1" wg show "$IFACE" endpoints | awk -v k="$(pub "$2")" '$1 == k {print $2}'; }
# status_endpoint SITE PEER: "ENDPOINT CONTACT" of PEER in SITE's status --json.
status_endpoint() { topo_avpn "$1" status --json | jq -r --arg p "$2" '[.peers[] | select(.site == $p)][0] | "\(.endpoint) \(.contact)"'; }
# udp_conntrack: nat1's UDP entries, one per line.
udp_conntrack() { ip netns exec "$(nat_ns nat1)" cat /proc/net/nf_conntrack | awk '$3 == "udp"'; }
# udp_flows: nat1's UDP entries as their original direction, "SRC:SPORT DST:DPORT".
udp_flows() {
  udp_conntrack | awk '{
    n = 0
    for (i = 1; i <= NF; i++) if ($i ~ /^(src|dst|sport|dport)=/) { v = $i; sub(/^[a-z]+=/, "", v); f[++n] = v }
    print f[1] ":" f[3], f[2] ":" f[4]
  }'
}

step "topology: an internet, reg1, reg2 and hq on it; office and branch1 behind one NAT (nat1, no hairpin)"
nat_internet
nat_public reg1 "${REG_ADDR[reg1]}"
nat_public reg2 "${REG_ADDR[reg2]}"
nat_public hq "${PUBLIC[hq]}" "${LAN[hq]}/24"
nat_shared nat1 1 "$NAT_MODE"
for s in "${BEHIND[@]}"; do nat_join "$s" nat1 1 "${HOST[$s]}" "${LAN[$s]}/24"; done
for s in "${SITES[@]}"; do
  printf '   %-7s public %-14s LAN %s/24%s\n' "$s" "${PUBLIC[$s]}" "${LAN[$s]}" \
    "$([ "$s" = hq ] || echo " (wan0 ${PRIV[$s]}/24 behind nat1)")"
done

step "0. the NAT, without avpn"
for s in "${BEHIND[@]}"; do
  for d in "${REG_ADDR[reg1]}" "${REG_ADDR[reg2]}" "${PUBLIC[hq]}"; do
    topo_exec "$s" ping -n -c 1 -W 2 "$d" >/dev/null || fail "0. $s cannot ping $d through nat1"
  done
  ! topo_exec hq ping -n -c 1 -W 1 "${PRIV[$s]}" >/dev/null 2>&1 || fail "0. hq reaches $s's private address"
done
topo_exec office ping -n -c 1 -W 2 "${PRIV[branch1]}" >/dev/null || fail "0. office cannot ping branch1 on their segment"
echo "   office and branch1 ping reg1, reg2 and hq through nat1 and each other on 192.168.1.0/24; hq cannot reach their private addresses"
# Office first, then branch1, from the same port (port 9: nobody listens).
declare -A PROBE=()
for s in "${BEHIND[@]}"; do
  nat_udp_probe "$s" 51999 "${REG_ADDR[reg1]}:9" "${REG_ADDR[reg2]}:9"
  for r in reg1 reg2; do PROBE[$s,$r]=$(nat_mapping nat1 51999 "${REG_ADDR[$r]}" "${PRIV[$s]}"); done
  echo "   $s ${PRIV[$s]}:51999 leaves as $NATPUB:${PROBE[$s,reg1]:-?} to reg1, $NATPUB:${PROBE[$s,reg2]:-?} to reg2 (conntrack)"
done
[ "${PROBE[office,reg1]}" = 51999 ] && [ "${PROBE[office,reg2]}" = 51999 ] ||
  fail "0. nat1 did not keep office's port 51999: ${PROBE[office,reg1]}, ${PROBE[office,reg2]}: $(udp_conntrack)"
[ -n "${PROBE[branch1,reg1]}" ] && [ "${PROBE[branch1,reg1]}" != 51999 ] && [ "${PROBE[branch1,reg2]}" = "${PROBE[branch1,reg1]}" ] ||
  fail "0. nat1 did not rename branch1's colliding port 51999 to one other port: ${PROBE[branch1,reg1]}, ${PROBE[branch1,reg2]}: $(udp_conntrack)"
echo "   the second host's 51999 collides: masquerade renames it to ${PROBE[branch1,reg1]}, the same toward both registries (endpoint-independent)"
# No hairpin: branch1 listens on 51999; office sends to branch1's public
# mapping first, then to its LAN address. Only the second may arrive.
topo_spawn branch1 python3 -c 'import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 51999))
open(sys.argv[1], "w").close()
s.settimeout(15)  # ends 0.5 s after "via-lan"; only a failure waits this long
got, end = [], None
while end is None or time.time() < end:
    try:
        d, a = s.recvfrom(100)
    except socket.timeout:
        break
    got.append(d.decode() + "<-" + a[0])
    if d == b"via-lan":
        end = time.time() + 0.5; s.settimeout(0.5)
print(" ".join(got))' "$TOPO_WORK/listening" >"$TOPO_WORK/hairpin-probe" 2>"$TOPO_WORK/hairpin-probe.err"
LISTEN_PID=$TOPO_SPAWNED
listening() { [ -e "$TOPO_WORK/listening" ]; }
topo_wait_for "branch1's listener" 5 listening
topo_exec office python3 -c 'import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 51998))
s.sendto(b"via-public", (sys.argv[1], int(sys.argv[2])))
s.sendto(b"via-lan", (sys.argv[3], 51999))' "$NATPUB" "${PROBE[branch1,reg1]}" "${PRIV[branch1]}"
wait "$LISTEN_PID" || true
got=$(cat "$TOPO_WORK/hairpin-probe")
echo "   office -> $NATPUB:${PROBE[branch1,reg1]} (branch1's public mapping), then -> ${PRIV[branch1]}:51999: branch1 received '$got'"
[ "$got" = "via-lan<-${PRIV[office]}" ] || fail "0. nat1 hairpins, or the segment does not carry: branch1 received '$got' $(cat "$TOPO_WORK/hairpin-probe.err")"

# office's flow to hq leaves nat1 from another port than its flows to the
# registries (as an address-dependent NAT, or one whose mapping was taken,
# would do it): hq learns office's contact at 51820 from the registries,
# but WireGuard finds office at 40001, the source of its packets. avpnd at
# hq must follow that roam rather than write the contact back at a full
# apply (checked in 4.).
ip netns exec "$(nat_ns nat1)" nft insert rule ip avpn_test_nat postrouting \
  ip saddr "${PRIV[office]}" ip daddr "${PUBLIC[hq]}" udp sport "$PORT" snat to "$NATPUB:40001"
echo "   nat1 maps office's port $PORT toward hq to 40001 (toward the registries: masquerade)"

step "keys, member list (no contact for anyone), site files"
registry_group_files

step "registries"
start_registry reg1
start_registry reg2

if [ "$TOGETHER" = 1 ]; then
  step "avpnd on hq, office and branch1 at once (AVPN_HAIRPIN_START=together)"
  for s in "${SITES[@]}"; do start_avpnd "$s"; done
else
  step "avpnd on hq and office, then on branch1 once office is registered"
  # own_observed SITE: SITE's contact as reg1 and reg2 observed it ("a b").
  own_observed() { reg_status "$1" | jq -r '[.registries[] | select(.group == "corp") | .observed] | join(" ")'; }
  registered_at_both() { local o; o=$(own_observed "$1"); [[ "$o" =~ ^[0-9.:]+\ [0-9.:]+$ ]]; }
  start_avpnd hq
  start_avpnd office
  t0=$(now_ms)
  topo_wait_for "office registered at both registries" 15 registered_at_both office
  echo "   office registered at both registries $(($(now_ms) - t0)) ms after its avpnd's start: $(own_observed office)"
  start_avpnd branch1
fi
t1=$(now_ms)
for s in "${SITES[@]}"; do
  pid_var=AVPND_$s
  kill -0 "${!pid_var}" 2>/dev/null || fail "$s's avpnd exited at start"
done

step "1. pings LAN to LAN (all contacts from the registries)"
# ping_until SITE DST LIMIT_S: one echo a second from SITE's LAN to DST until
# one is answered; prints the milliseconds since branch1's avpnd started.
ping_until() {
  local deadline=$((t1 + $3 * 1000))
  while [ "$(now_ms)" -lt "$deadline" ]; do
    if topo_exec "$1" ping -n -c 1 -W 1 -I "${LAN[$1]}" "$2" >/dev/null 2>&1; then
      echo $(($(now_ms) - t1))
      return 0
    fi
    sleep 0.2 # no route yet fails at once
  done
  return 1
}
# Each tunnel's first handshake starts when the contacts arrive; one that
# reaches a peer whose device is not up yet is retried by WireGuard after
# 5 s, hence a deadline rather than a few tries.
for pair in "office branch1" "branch1 office" "office hq" "hq office" "branch1 hq" "hq branch1"; do
  read -r a b <<<"$pair"
  ms=$(ping_until "$a" "${LAN[$b]}" 20) ||
    fail "1. $a ${LAN[$a]} -> $b ${LAN[$b]}: no reply within 20 s of branch1's avpnd's start"
  echo "   $a ${LAN[$a]} -> $b ${LAN[$b]}: reply ${ms} ms after branch1's avpnd started (limit 20 s)"
done
for s in "${SITES[@]}"; do echo "   $s wg endpoints: $(endpoints "$s")"; done

step "2. office and branch1 reach each other at their LAN contacts"
for pair in "office branch1" "branch1 office"; do
  read -r a b <<<"$pair"
  want="${PRIV[$b]}:$PORT"
  ep=$(wg_endpoint "$a" "$b")
  read -r st_ep st_contact <<<"$(status_endpoint "$a" "$b")"
  echo "   $a's peer $b: WireGuard endpoint $ep, status endpoint $st_ep ($st_contact)"
  [ "$ep" = "$want" ] || fail "2. $a's WireGuard has $b at $ep, not its LAN contact $want"
  [ "$st_ep" = "$want" ] && [ "$st_contact" = learned ] || fail "2. $a's status has $b at $st_ep ($st_contact), not its learned LAN contact $want"
done
# Neither ever sent to the NAT's own public address (a hairpin attempt
# would leave an entry from 192.168.1.x to $NATPUB there).
tried=$(udp_flows | awk -v pub="$NATPUB" '$1 ~ /^192\.168\.1\./ && index($2, pub ":") == 1' | grep -v ':5199[89] ' || true)
[ -z "$tried" ] || fail "2. office or branch1 sent to the NAT's public address: $tried"
echo "   nat1's conntrack has no datagram of theirs to its public address $NATPUB (no hairpin tried)"

step "3. seen from outside: two mappings of port $PORT, status as conntrack says"
declare -A MAP=()
for s in "${BEHIND[@]}"; do
  for d in reg1 reg2 hq; do
    addr=${REG_ADDR[$d]:-${PUBLIC[hq]}}
    MAP[$s,$d]=$(nat_mapping nat1 "$PORT" "$addr" "${PRIV[$s]}")
    [ -n "${MAP[$s,$d]}" ] || fail "3. nat1 has no mapping of ${PRIV[$s]}:$PORT toward $d ($addr): $(udp_conntrack)"
  done
  echo "   $s ${PRIV[$s]}:$PORT leaves as $NATPUB:${MAP[$s,reg1]} to reg1, :${MAP[$s,reg2]} to reg2, :${MAP[$s,hq]} to hq (conntrack)"
done
for d in reg1 reg2 hq; do
  [ "${MAP[office,$d]}" != "${MAP[branch1,$d]}" ] || fail "3. one mapping ${MAP[office,$d]} toward $d for both sites"
done
# Toward each registry, the site whose datagram came first keeps 51820 and
# the other's collides and is renamed.
for r in reg1 reg2; do
  kept=0
  for s in "${BEHIND[@]}"; do [ "${MAP[$s,$r]}" != "$PORT" ] || kept=$((kept + 1)); done
  [ "$kept" = 1 ] || fail "3. toward $r not exactly one site kept $PORT: office ${MAP[office,$r]}, branch1 ${MAP[branch1,$r]}"
done
if [ "$TOGETHER" != 1 ]; then
  # Office came first: it keeps 51820; branch1's is renamed to one port
  # at both registries (as in 0.).
  [ "${MAP[office,reg1]}" = "$PORT" ] && [ "${MAP[office,reg2]}" = "$PORT" ] ||
    fail "3. office (the NAT's first host) does not keep $PORT at the registries: ${MAP[office,reg1]}, ${MAP[office,reg2]}"
  [ "${MAP[branch1,reg1]}" != "$PORT" ] && [ "${MAP[branch1,reg1]}" = "${MAP[branch1,reg2]}" ] ||
    fail "3. branch1's port was not renamed to one port at both registries: ${MAP[branch1,reg1]}, ${MAP[branch1,reg2]}"
fi
echo "   toward each of reg1, reg2 and hq: two mappings on two ports; at each registry one site kept $PORT, the other's was renamed"
for s in "${SITES[@]}"; do
  st=$(reg_status "$s")
  echo "   $s: $(jq -c '{observed: [.registries[] | .observed], nat: [.nat[] | .type]}' <<<"$st")"
  for i in 0 1; do
    r=reg$((i + 1))
    if [ "$s" = hq ]; then want="${PUBLIC[hq]}:$PORT"; else want="$NATPUB:${MAP[$s,$r]}"; fi
    obs=$(jq -r --arg ep "${REG_ADDR[$r]}:9350" '[.registries[] | select(.group == "corp" and .endpoint == $ep)][0] | .observed' <<<"$st")
    [ "$obs" = "$want" ] || fail "3. $r observed $s at $obs, but the mapping toward it is $want"
  done
  want_nat=friendly
  [ "$s" = hq ] || [ "${MAP[$s,reg1]}" = "${MAP[$s,reg2]}" ] || want_nat=unfriendly
  nat=$(jq -r '[.nat[] | select(.group == "corp")][0].type' <<<"$st")
  [ "$nat" = "$want_nat" ] || fail "3. $s's NAT type is $nat, but nat1 maps it to ${MAP[$s,reg1]:-} and ${MAP[$s,reg2]:-}: $want_nat"
done
echo "   every site: each registry observed it at the mapping toward it; NAT type friendly, as conntrack says"
# hq learns each at the contact reg1 observed; its WireGuard follows each
# to the source of its packets, the mapping toward hq, and avpnd's plan
# follows WireGuard there (a live handshake at another endpoint than the
# planned one: a roam, docs/registry.md). office's mapping toward hq is
# 40001 (the rule above), so hq's status and WireGuard must both hold that,
# not the contact 51820 (within the WireGuard poll, 2 s, and a converge).
declare -A HQ_EP=() HQ_ST=()
[ "${MAP[office,hq]}" = 40001 ] || fail "3. nat1 maps office toward hq to ${MAP[office,hq]}, not 40001: $(udp_conntrack)"
for s in "${BEHIND[@]}"; do
  follows() {
    HQ_EP[$s]=$(wg_endpoint hq "$s")
    read -r "HQ_ST[$s]" st_contact <<<"$(status_endpoint hq "$s")"
    [ "${HQ_EP[$s]}" = "$NATPUB:${MAP[$s,hq]}" ] && [ "${HQ_ST[$s]}" = "${HQ_EP[$s]}" ] && [ "$st_contact" = learned ]
  }
  topo_wait_for "hq's plan to follow $s to its mapping toward hq" 10 follows ||
    fail "3. hq has $s in WireGuard at ${HQ_EP[$s]} and in status at ${HQ_ST[$s]} ($st_contact), not both at its mapping toward hq $NATPUB:${MAP[$s,hq]} (its contact at reg1: $NATPUB:${MAP[$s,reg1]})"
  echo "   hq's peer $s: WireGuard and status at ${HQ_EP[$s]} (its mapping toward hq; reg1's contact $NATPUB:${MAP[$s,reg1]})"
done
grep -q "wireguard: corp/office roamed to $NATPUB:40001: the plan follows it" "$TOPO_WORK/avpnd-hq.log" ||
  fail "3. hq's avpnd did not log office's roam: $(grep wireguard: "$TOPO_WORK/avpnd-hq.log" | tail -3)"
[ "${HQ_ST[office]}" != "${HQ_ST[branch1]}" ] && [ "${HQ_EP[office]}" != "${HQ_EP[branch1]}" ] ||
  fail "3. hq holds office and branch1 at one endpoint: status ${HQ_ST[office]} ${HQ_ST[branch1]}, WireGuard ${HQ_EP[office]} ${HQ_EP[branch1]}"
for r in reg1 reg2; do
  c=$(counters "$r")
  [ "$(counter registered "$c")" = 3 ] || fail "3. $r: registered=$(counter registered "$c"), not 3"
done
echo "   reg1 and reg2 each count 3 registered sites"

step "4. a full apply at hq keeps office where WireGuard found it"
out=$(topo_avpn hq apply "$CORP/sites/hq.toml" 2>&1) || fail "4. avpnctl apply at hq: $out"
[ "$(wg_endpoint hq office)" = "$NATPUB:40001" ] ||
  fail "4. after the full apply hq's WireGuard has office at $(wg_endpoint hq office), not $NATPUB:40001"
lost=$(topo_exec hq ping -n -c 20 -i 0.1 -W 1 -I "${LAN[hq]}" "${LAN[office]}" | awk '/packets transmitted/ {print $1 - $4}')
[ "$lost" = 0 ] || fail "4. hq -> office after the full apply: $lost of 20 pings lost"
echo "   avpnctl apply at hq (a full apply): office still at $NATPUB:40001; 20 of 20 pings hq -> office answered"

echo
echo "time: $(elapsed) s"
echo "PASS: two sites behind one non-hairpinning NAT tunnel to each other at their LAN contacts; outside, each is at the NAT's address on its own mapping, and the NAT types are what conntrack shows"
