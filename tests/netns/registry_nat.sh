#!/usr/bin/env bash
# The VPN registry end to end (docs/registry.md): every contact of group
# "corp" comes from two avpn-registry instances, none from the member list.
# Hub hq has a public address; spokes branch1 and branch2 each sit behind
# their own NAT (nftables masquerade), so nobody could know their contacts
# without a registry (lib/nat_topology.sh draws the topology). Every site
# runs under avpnd (wireguard-go).
#   0. the NATs are what the variant says, without avpn: two UDP flows from
#      one port of a spoke to the two registries' addresses leave by the
#      same public port (friendly) or by two different ones (random);
#   1. within 20 s of avpnd's start branch1's LAN pings branch2's (spoke to
#      spoke through the hub), and branch1 <-> hq both ways;
#   2. `avpnctl status --json` of every site (.avpnd.registries, .avpnd.nat):
#      both registries reachable, each observed the site at its public
#      address (the NAT's for a spoke, its own for hq) and its tunnel port
#      (the NAT keeps it when friendly), the NAT type is friendly (spokes
#      unfriendly with AVPN_NAT=random); each registry counts 3 registered
#      sites;
#   3. both registries stop: spoke-to-spoke pings keep passing for 15 s
#      (the contacts learned are kept) and no site counts an answer; reg1
#      restarted with the same key: every site has an answer from it within
#      15 s (a 10 s keepalive + 2 s answer timeout, then a new handshake);
#   4. junk, a forged and a replayed datagram sent to reg1 from the internet
#      are counted (its SIGUSR1 counters: malformed, mac1_invalid,
#      unknown_session, bad_tag, replayed), and branch1's observed contact
#      does not move to the sender's address;
#   5. reg2, still stopped, is unreachable at every site within 75 s of its
#      stop (a client's 60 s without an answer), the NAT type is "unknown"
#      with one registry left, and the pings still pass.
# AVPN_TRANSPORT=xfrm: the group over XFRM (avpnd's ESP-in-UDP socket
# carries the registry datagrams; ESP needs the VM tier's kernel, where
# kernel-registry-nat-xfrm runs it).
# AVPN_NAT=random: both NATs use `masquerade random` (address-dependent
# mapping: "unfriendly"). AVPN_REGISTRY_BASELINE=1: the same topology with a
# static contact for hq and no registries: checks only 1., i.e. the
# topology and the NATs, not the registry.
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
NAT_MODE=${AVPN_NAT:-friendly}
BASELINE=${AVPN_REGISTRY_BASELINE:-0}
case "$NAT_MODE" in friendly | random) ;; *) topo_fail "AVPN_NAT=$NAT_MODE: friendly or random" ;; esac
TRANSPORT=${AVPN_TRANSPORT:-wireguard}
topo_require jq ping wg nft python3
if [ "$TRANSPORT" = xfrm ]; then
  why=$(topo_xfrm_missing)
  [ -z "$why" ] || topo_skip "$why; the VM tier runs it (kernel-registry-nat-xfrm)"
else
  topo_require wireguard-go
fi
for b in "$AVPNCTL" "$AVPND" "$REGISTRY"; do [ -x "$b" ] || { echo "FAIL: $b not built"; exit 1; }; done
started=$EPOCHREALTIME
trap 'echo; echo "interrupted: cleaning up"; exit 130' INT
trap 'exit 143' TERM
topo_init # its EXIT trap removes the namespaces on every path

SITES=(hq branch1 branch2)
SPOKES=(branch1 branch2)
declare -A LAN=([hq]=10.10.0.1 [branch1]=10.11.0.1 [branch2]=10.12.0.1)
declare -A PUBLIC=([hq]=198.51.100.20 [branch1]=$(nat_public_addr 1) [branch2]=$(nat_public_addr 2))
declare -A NAT_OF=([branch1]=nat1 [branch2]=nat2)
declare -A REG_ADDR=([reg1]=198.51.100.10 [reg2]=198.51.100.11)
declare -A REG_PID=() PUBKEY=()
PORT=51820 # the group's listen_port (the default)
IFACE=avpn-corp
TOPO_AVPN_ARGS="--vici-socket $TOPO_WORK/no-charon.vici"

elapsed() { awk -v a="$started" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.1f", b - a}'; }
step() { echo; echo "== [$(elapsed) s] $*"; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }
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
fail() {
  local l s
  for l in "$TOPO_WORK"/avpnd-*.log "$TOPO_WORK"/reg?.log; do
    [ -f "$l" ] && sed "s#^#   ${l##*/}| #" "$l" >&2
  done
  for s in "${SITES[@]}"; do
    [ -S "$(topo_avpnd_socket "$s")" ] || continue
    echo "   $s status: $(reg_status "$s" 2>&1 || true)" >&2
    echo "   $s wg endpoints: $(endpoints "$s")" >&2
  done
  for s in nat1 nat2; do  # the NATs' UDP mappings (original, then reply direction)
    ip netns exec "$(nat_ns "$s")" cat /proc/net/nf_conntrack 2>/dev/null | awk '$3 == "udp"' | sed "s/^/   $s conntrack| /" >&2 || true
  done
  topo_fail "$@"
}

step "topology: an internet, reg1, reg2 and hq on it, branch1 and branch2 behind $NAT_MODE NATs"
nat_internet
nat_public reg1 "${REG_ADDR[reg1]}"
nat_public reg2 "${REG_ADDR[reg2]}"
nat_public hq "${PUBLIC[hq]}" "${LAN[hq]}/24"
nat_behind branch1 nat1 1 "$NAT_MODE" "${LAN[branch1]}/24"
nat_behind branch2 nat2 2 "$NAT_MODE" "${LAN[branch2]}/24"
for s in "${SITES[@]}"; do
  printf '   %-7s public %-14s LAN %s/24%s\n' "$s" "${PUBLIC[$s]}" "${LAN[$s]}" \
    "$([ "$s" = hq ] || echo " (wan0 $(ip -n "$(nat_ns "$s")" -4 -o addr show wan0 | awk '{print $4}') behind ${NAT_OF[$s]})")"
done

step "0. the NATs, without avpn"
for s in "${SPOKES[@]}"; do
  for d in "${REG_ADDR[reg1]}" "${REG_ADDR[reg2]}" "${PUBLIC[hq]}"; do
    topo_exec "$s" ping -n -c 1 -W 2 "$d" >/dev/null || fail "$s cannot ping $d through ${NAT_OF[$s]}"
  done
  ! topo_exec hq ping -n -c 1 -W 1 "192.168.${s#branch}.2" >/dev/null 2>&1 || fail "hq reaches $s's private address"
  # Port 9: nobody listens there, so the registries count nothing.
  nat_udp_probe "$s" 51999 "${REG_ADDR[reg1]}:9" "${REG_ADDR[reg2]}:9"
  m1=$(nat_mapping "${NAT_OF[$s]}" 51999 "${REG_ADDR[reg1]}")
  m2=$(nat_mapping "${NAT_OF[$s]}" 51999 "${REG_ADDR[reg2]}")
  echo "   $s: pings reg1, reg2, hq through ${NAT_OF[$s]}; UDP from port 51999 leaves as ${PUBLIC[$s]}:${m1:-?} to reg1, ${PUBLIC[$s]}:${m2:-?} to reg2 (conntrack)"
  [ -n "$m1" ] && [ -n "$m2" ] || fail "${NAT_OF[$s]}'s conntrack has no mapping of $s's UDP flows: $(ip netns exec "$(nat_ns "${NAT_OF[$s]}")" cat /proc/net/nf_conntrack)"
  if [ "$NAT_MODE" = friendly ]; then
    [ "$m1" = 51999 ] && [ "$m2" = 51999 ] || fail "friendly ${NAT_OF[$s]} did not keep port 51999: $m1, $m2"
  else
    [ "$m1" != "$m2" ] || fail "random ${NAT_OF[$s]} mapped both flows to one port $m1"
  fi
done
echo "   hq cannot reach the spokes' private addresses"

step "keys, member list (no contact for anyone), site files"
CORP=$TOPO_WORK/corp
mkdir -p "$CORP/keys" "$CORP/sites"
(
  umask 077
  for k in "${SITES[@]}" reg1 reg2; do "$AVPNCTL" genkey >"$CORP/keys/$k.key"; done
  wg genpsk >"$CORP/keys/corp-group.key"
)
for k in "${SITES[@]}" reg1 reg2; do PUBKEY[$k]=$("$AVPNCTL" pubkey <"$CORP/keys/$k.key"); done
pub() { echo "${PUBKEY[$1]:-}"; }
{
  cat <<EOF
# Group corp of tests/netns/registry_nat.sh: no member has a contact here;
# the registries tell every site where its peers are.
[group]
name = "corp"
tunnel_subnet = "100.64.0.0/24"
transport = "$TRANSPORT"

[[member]]
name = "hq"
role = "hub"
public_key = "$(pub hq)"
exports = ["${LAN[hq]%.1}.0/24"]
EOF
  [ "$BASELINE" = 1 ] && echo "contact = \"${PUBLIC[hq]}:$PORT\"  # baseline: no registry"
  for s in "${SPOKES[@]}"; do
    cat <<EOF

[[member]]
name = "$s"
role = "spoke"
public_key = "$(pub "$s")"
exports = ["${LAN[$s]%.1}.0/24"]
hubs = ["hq"]
EOF
  done
} >"$CORP/corp-members.toml"
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
keepalive = "5s"
EOF
  [ "$TRANSPORT" = xfrm ] || echo 'wireguard_backend = "userspace"' 
  [ "$2" = spoke ] && printf 'permitted_vlans = ["Corp"]\nhubs = ["hq"]\n'
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
site_file hq hub >"$CORP/sites/hq.toml"
for s in "${SPOKES[@]}"; do site_file "$s" spoke >"$CORP/sites/$s.toml"; done
for s in "${SITES[@]}"; do
  out=$(topo_exec "$s" "$AVPNCTL" check "$CORP/sites/$s.toml" 2>&1) || fail "avpnctl check $s: $out"
done
echo "   $CORP: keys/, corp-members.toml (3 members, no contact$([ "$BASELINE" = 1 ] && echo " but hq's: baseline")), sites/{hq,branch1,branch2}.toml; avpnctl check passes"

# start_registry REG: avpn-registry in REG's namespace, logging (appended)
# to $TOPO_WORK/REG.log; waits for its start line.
start_registry() {
  local r=$1 log=$TOPO_WORK/$1.log n
  n=$(grep -c "listening on" "$log" 2>/dev/null || true)
  topo_spawn "$r" "$REGISTRY" --key "$CORP/keys/$r.key" --members "$CORP/corp-members.toml" \
    --group-key "corp=$CORP/keys/corp-group.key" --listen "${REG_ADDR[$r]}:9350" 2>>"$log" >/dev/null
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

if [ "$BASELINE" != 1 ]; then
  step "registries"
  start_registry reg1
  start_registry reg2
fi

step "avpnd on hq, branch1, branch2"
for s in "${SITES[@]}"; do
  topo_spawn "$s" "$AVPND" "$CORP/sites/$s.toml" --state-dir "$TOPO_WORK/state-$s" \
    --vici-socket "$TOPO_WORK/no-charon.vici" --control-socket "$(topo_avpnd_socket "$s")" \
    --resync 3600 --quiet-ms 100 2>"$TOPO_WORK/avpnd-$s.log" >/dev/null
  printf -v "AVPND_$s" %s "$TOPO_SPAWNED"
done
t0=$(now_ms)
for s in "${SITES[@]}"; do
  pid_var=AVPND_$s
  sleep 0.2
  kill -0 "${!pid_var}" 2>/dev/null || fail "$s's avpnd exited at start"
done

step "1. pings LAN to LAN ($([ "$BASELINE" = 1 ] && echo "baseline: hq's static contact" || echo "all contacts from the registries"))"
# ping_until SITE DST LIMIT_S: one echo a second from SITE's LAN to DST until
# one is answered; prints the milliseconds since avpnd's start.
ping_until() {
  local deadline=$((t0 + $3 * 1000))
  while [ "$(now_ms)" -lt "$deadline" ]; do
    if topo_exec "$1" ping -n -c 1 -W 1 -I "${LAN[$1]}" "$2" >/dev/null 2>&1; then
      echo $(($(now_ms) - t0))
      return 0
    fi
    sleep 0.2 # no route yet fails at once
  done
  return 1
}
ms=$(ping_until branch1 "${LAN[branch2]}" 20) || fail "1. branch1 ${LAN[branch1]} -> branch2 ${LAN[branch2]}: no reply within 20 s of avpnd's start"
echo "   branch1 ${LAN[branch1]} -> branch2 ${LAN[branch2]}: first reply ${ms} ms after avpnd's start (limit 20 s)"
for pair in "branch1 hq" "hq branch1" "branch2 branch1" "branch2 hq" "hq branch2"; do
  read -r a b <<<"$pair"
  topo_ping "$a" "${LAN[$a]}" "${LAN[$b]}" || fail "1. $a ${LAN[$a]} -> $b ${LAN[$b]}: no reply"
  echo "   $a ${LAN[$a]} -> $b ${LAN[$b]}: reply"
done
for s in "${SITES[@]}"; do echo "   $s wg endpoints: $(endpoints "$s")"; done
if [ "$BASELINE" = 1 ]; then
  echo
  echo "time: $(elapsed) s"
  echo "PASS (baseline: hq's static contact, no registry): the topology and the NATs carry the group"
  exit 0
fi

step "2. status --json: registries, observed contacts, NAT type"
REG_EPS=("${REG_ADDR[reg1]}:9350" "${REG_ADDR[reg2]}:9350")
# status_ok SITE: SITE's status says what 2. expects; STATUS_WHY says why not.
status_ok() {
  local s=$1 st want_nat
  st=$(reg_status "$s") || { STATUS_WHY="status failed: $st"; return 1; }
  LAST_STATUS=$(jq -c '{registries, nat}' <<<"$st")
  want_nat=friendly
  [ "$NAT_MODE" = random ] && [ "$s" != hq ] && want_nat=unfriendly
  STATUS_WHY=$(jq -r --arg pub "${PUBLIC[$s]}" --argjson port "$PORT" --arg nat "$want_nat" \
    --arg r1 "${REG_EPS[0]}" --arg r2 "${REG_EPS[1]}" --argjson keep "$([ "$NAT_MODE" = friendly ] || [ "$s" = hq ] && echo true || echo false)" '
    def ip: split(":")[0];
    def port: split(":")[1] | tonumber;
    [ (if (.registries | type) != "array" then "no registries array" else empty end),
      (if (.nat | type) != "array" then "no nat array" else empty end),
      ( (.registries // []) as $rs | $r1, $r2 | . as $ep | [$rs[] | select(.group == "corp" and .endpoint == $ep)] |
        if length != 1 then "\($ep): \(length) entries"
        else .[0] |
          (if .reachable != true then "\($ep) not reachable" else empty end),
          (if (.last_answer_age_ms | type) != "number" or .last_answer_age_ms > 15000 then "\($ep) last_answer_age_ms \(.last_answer_age_ms)" else empty end),
          (if (.observed | type) != "string" then "\($ep) observed \(.observed)"
           elif (.observed | ip) != $pub then "\($ep) observed \(.observed), not at \($pub)"
           elif $keep and (.observed | port) != $port then "\($ep) observed \(.observed), not port \($port)"
           else empty end)
        end ),
      ( if $keep | not then
          [(.registries // [])[] | select(.group == "corp") | .observed] | unique |
          if length != 2 then "the registries observed \(.) through a random NAT, not two different mappings" else empty end
        else empty end ),
      ( [(.nat // [])[] | select(.group == "corp")] |
        if length != 1 then "\(length) nat entries for corp"
        elif .[0].type != $nat then "nat type \(.[0].type), not \($nat)" else empty end )
    ] | join("; ")' <<<"$st") || { STATUS_WHY="jq failed on: $LAST_STATUS"; return 1; }
  [ -z "$STATUS_WHY" ]
}
for s in "${SITES[@]}"; do
  ok=0
  for _ in $(seq 50); do status_ok "$s" && { ok=1; break; }; sleep 0.2; done
  echo "   $s: $LAST_STATUS"
  [ "$ok" = 1 ] || fail "2. $s's status: $STATUS_WHY"
done
echo "   every site: both registries reachable, observed at its public address$([ "$NAT_MODE" = friendly ] && echo " and port $PORT"), NAT type as expected"
for r in reg1 reg2; do
  c=$(counters "$r")
  echo "   $r: $c"
  [ "$(counter registered "$c")" = 3 ] || fail "2. $r: registered=$(counter registered "$c"), not 3"
done
# The hub's WireGuard sees the spokes at their NATs' public addresses. The
# port there is the NAT's mapping toward hq, which a friendly NAT keeps
# only while nothing else holds it: a packet of hq that reaches the NAT
# before the spoke's first one (the registries push contacts to both sides)
# leaves an inbound entry, and masquerade maps the spoke's flow to hq to
# another port (printed, not asserted).
ends=$(peer_ends hq)
for s in "${SPOKES[@]}"; do
  grep -q "[[:space:]]${PUBLIC[$s]}:[0-9]*$" <<<"$ends" || fail "2. hq's WireGuard does not see $s at ${PUBLIC[$s]}: $ends"
  echo "   ${NAT_OF[$s]} maps $s's port $PORT to ${PUBLIC[$s]}:$(nat_mapping "${NAT_OF[$s]}" "$PORT" "${PUBLIC[hq]}") toward hq," \
    "$(nat_mapping "${NAT_OF[$s]}" "$PORT" "${REG_ADDR[reg1]}") toward reg1, $(nat_mapping "${NAT_OF[$s]}" "$PORT" "${REG_ADDR[reg2]}") toward reg2" \
    "(conntrack); hq's WireGuard: $(endpoints hq | tr ' ' '\n' | grep "^$s=")"
done

step "3. both registries stop: the tunnels stay"
stop_registry reg1
stop_registry reg2
cut=$(now_ms)
topo_spawn branch1 ping -n -D -i 0.2 -w 15 -I "${LAN[branch1]}" "${LAN[branch2]}" >"$TOPO_WORK/ping-outage" 2>&1
PING_PID=$TOPO_SPAWNED
wait "$PING_PID" || true
sent_got=$(awk '/packets transmitted/ {print $1, $4}' "$TOPO_WORK/ping-outage")
read -r sent got <<<"${sent_got:-0 0}"
gap=$(awk -F'[][]' '/ bytes from / {t = $2 * 1000; if (seen && t - last > gap) gap = t - last; last = t; seen = 1}
  END {printf "%d", gap}' "$TOPO_WORK/ping-outage")
echo "   branch1 -> branch2 during 15 s without registries: $sent sent, $got answered, longest time between replies $gap ms"
[ "$sent" -gt 0 ] && [ "$got" -ge $((sent * 9 / 10)) ] && [ "$gap" -lt 2000 ] ||
  fail "3. pings without registries: $sent sent, $got answered, gap $gap ms: $(tail -3 "$TOPO_WORK/ping-outage")"
# A client calls a registry unreachable after 60 s without an answer
# (plugins/registry/client.hpp); 5. waits for that. Here: no answer since
# the stop, i.e. every last answer is older than the outage so far.
out=$(($(now_ms) - cut))
for s in "${SITES[@]}"; do
  st=$(reg_status "$s")
  echo "   $s, ${out} ms after the stop: $(jq -c '[.registries[] | {endpoint, reachable, last_answer_age_ms}]' <<<"$st")"
  [ "$(jq --argjson out "$out" '[.registries[] | select(.last_answer_age_ms != null and .last_answer_age_ms >= $out)] | length' <<<"$st")" = 2 ] ||
    fail "3. $s counts an answer after both registries stopped: $st"
done

step "3. reg1 restarted (same key): every site reaches it again"
# A capture of branch1's transport messages to reg1 feeds 4. (forged and
# replayed copies of the last one, which is on the restarted reg1's session
# once every site reaches it again).
CAP=$TOPO_WORK/reg1-transport.pcap
if command -v tcpdump >/dev/null; then
  topo_spawn reg1 tcpdump -Z root --immediate-mode -i wan0 -U -w "$CAP" \
    "udp dst port 9350 and src host ${PUBLIC[branch1]} and udp[8:4] = 0 and udp[12] = 0x13" 2>"$TOPO_WORK/tcpdump.log"
  CAP_PID=$TOPO_SPAWNED
  capturing() { grep -q "listening on" "$TOPO_WORK/tcpdump.log"; }
  topo_wait_for "tcpdump's start" 10 capturing
fi
start_registry reg1
back=$(now_ms)
declare -A BACK_MS=()
# reg1_back: every site has an answer from reg1 newer than its restart
# (recording when each had it). `reachable` alone would not tell: it stays
# true for 60 s after the last answer of the stopped one.
reg1_back() {
  local s all=0 since
  for s in "${SITES[@]}"; do
    [ -n "${BACK_MS[$s]:-}" ] && continue
    since=$(($(now_ms) - back))
    if [ "$(reg_status "$s" | jq --arg ep "${REG_EPS[0]}" --argjson since "$since" \
      '[.registries[]? | select(.endpoint == $ep)][0] | .reachable and .last_answer_age_ms != null and .last_answer_age_ms < $since')" = true ]; then
      BACK_MS[$s]=$(($(now_ms) - back))
    else
      all=1
    fi
  done
  return $all
}
topo_wait_for "every site answered by the restarted reg1" 15 reg1_back
for s in "${SITES[@]}"; do
  st=$(reg_status "$s")
  echo "   $s: answered by reg1 within ${BACK_MS[$s]} ms of its restart: $(jq -c --arg ep "${REG_EPS[0]}" '{reg1: [.registries[] | select(.endpoint == $ep)][0], nat}' <<<"$st")"
  obs=$(jq -r --arg ep "${REG_EPS[0]}" '[.registries[] | select(.endpoint == $ep)][0].observed' <<<"$st")
  [ "${obs%:*}" = "${PUBLIC[$s]}" ] || fail "3. $s: the restarted reg1 observed it at $obs, not ${PUBLIC[$s]}"
done
c=$(counters reg1)
echo "   reg1: $c"
[ "$(counter registered "$c")" = 3 ] || fail "3. the restarted reg1: registered=$(counter registered "$c"), not 3"
topo_ping branch1 "${LAN[branch1]}" "${LAN[branch2]}" || fail "3. branch1 -> branch2 after reg1's restart: no reply"

step "4. junk, forged and replayed datagrams to reg1 are counted"
# send_udp HEX: one datagram (hex bytes) from the internet's router to reg1.
send_udp() {
  topo_exec wan python3 -c 'import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(bytes.fromhex(sys.argv[2]), (sys.argv[1], 9350))' "${REG_ADDR[reg1]}" "$1"
}
HDR=00000000 # the non-ESP marker; then type and the magic "avp" (617670)
rand_hex() { head -c "$1" /dev/urandom | od -An -v -tx1 | tr -d ' \n'; }
before=$(counters reg1)
send_udp "6a756e6b"                                    # 4 bytes of junk: framing
send_udp "${HDR}10617670$(rand_hex 208)"               # an initiation not made for reg1's key: mac1
send_udp "${HDR}13617670ffffff00$(rand_hex 8)$(rand_hex 17)" # a transport message for no session
want=(malformed=1 mac1_invalid=1 unknown_session=1)
if [ -n "${CAP_PID:-}" ]; then
  # The last transport message branch1 sent reg1, as reg1 received it. Sent
  # again unchanged: replayed; with its counter moved far ahead (the tag no
  # longer matches): bad_tag.
  # (--immediate-mode: each packet is written as it comes, none is left in
  # the kernel's buffer at the INT; the site's first message on the new
  # session came before its answer, which 3. waited for.)
  kill -INT "$CAP_PID"
  wait "$CAP_PID" || true
  msg=$(python3 - "$CAP" <<'PY'
import struct, sys
d = open(sys.argv[1], "rb").read()
off, last = 24, ""                     # after the pcap file header
while off + 16 <= len(d):
    incl = struct.unpack("<I", d[off + 8:off + 12])[0]
    frame = d[off + 16:off + 16 + incl]
    off += 16 + incl
    ip = frame[14:]                    # Ethernet
    udp = ip[(ip[0] & 0x0F) * 4:]
    last = udp[8:struct.unpack("!H", udp[4:6])[0]].hex()
print(last)
PY
  )
  [ "${msg:8:8}" = 13617670 ] || fail "4. the capture is not a transport message: '$msg' ($(cat "$TOPO_WORK/tcpdump.log"))"
  forged=$(python3 -c 'import sys, struct
m = bytearray.fromhex(sys.argv[1])
c = struct.unpack(">Q", m[12:20])[0]
m[12:20] = struct.pack(">Q", c + 1000)
print(m.hex())' "$msg")
  send_udp "$msg"
  send_udp "$forged"
  want+=(replayed=1 bad_tag=1)
  echo "   branch1's last transport message ($((${#msg} / 2)) bytes, counter 0x${msg:24:16}) sent again from ${REG_ADDR[reg1]%.*}.1, and with its counter + 1000"
else
  echo "   (no tcpdump: the forged and replayed copies are left out)"
fi
after=$(counters reg1)
for w in "${want[@]}"; do
  k=${w%=*}
  d=$(($(counter "$k" "$after") - $(counter "$k" "$before")))
  echo "   $k: $(counter "$k" "$before") -> $(counter "$k" "$after") (+$d)"
  [ "$d" -ge "${w#*=}" ] || fail "4. reg1's $k rose by $d, not ${w#*=}"
done
[ "$(counter registered "$after")" = 3 ] || fail "4. reg1: registered=$(counter registered "$after") after the junk"
sleep 1
obs=$(reg_status branch1 | jq -r --arg ep "${REG_EPS[0]}" '[.registries[] | select(.endpoint == $ep)][0].observed')
echo "   branch1's contact as reg1 observed it, after the replay: $obs"
[ "${obs%:*}" = "${PUBLIC[branch1]}" ] || fail "4. branch1's observed contact moved to $obs"
q=$(peer_ends hq)
grep -q "[[:space:]]${PUBLIC[branch1]}:[0-9]*$" <<<"$q" || fail "4. hq's WireGuard lost branch1 at ${PUBLIC[branch1]}: $q"

step "5. reg2, stopped since 3.: unreachable at every site after the clients' 60 s without an answer"
# gone_all: every site shows reg2 unreachable and, one registry left, the
# NAT type unknown (recording when each did). Polled together: avpnd works
# the NAT type out at its registry tick (250 ms), reachability at the
# status request, so one status may show the first without the second.
declare -A GONE_MS=()
gone_all() {
  local s all=0
  for s in "${SITES[@]}"; do
    [ -n "${GONE_MS[$s]:-}" ] && continue
    if [ "$(reg_status "$s" | jq --arg ep "${REG_EPS[1]}" \
      '([.registries[]? | select(.endpoint == $ep)][0].reachable == false) and ([.nat[]? | select(.group == "corp")][0].type == "unknown")')" = true ]; then
      GONE_MS[$s]=$(($(now_ms) - cut))
    else
      all=1
    fi
  done
  return $all
}
wait_s=$((75 - ($(now_ms) - cut) / 1000))
[ "$wait_s" -gt 0 ] || wait_s=1
topo_wait_for "reg2 unreachable and NAT type unknown at every site within 75 s of reg2's stop" "$wait_s" gone_all
for s in "${SITES[@]}"; do
  echo "   $s: reg2 unreachable $((GONE_MS[$s] / 1000)) s after its stop: $(reg_status "$s" | jq -c --arg ep "${REG_EPS[1]}" '{reg2: [.registries[] | select(.endpoint == $ep)][0] | {reachable, last_answer_age_ms}, nat}')"
done
topo_ping branch1 "${LAN[branch1]}" "${LAN[branch2]}" || fail "5. branch1 -> branch2 with reg2 gone: no reply"
echo "   branch1 -> branch2 still answers; NAT type unknown with one registry"

echo
echo "time: $(elapsed) s"
echo "PASS: registries over $NAT_MODE NATs: every contact learned from them, pings through the hub, status right, tunnels kept while they were gone, reg1 reached again after its restart, junk counted"
