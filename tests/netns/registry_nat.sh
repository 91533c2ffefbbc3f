#!/usr/bin/env bash
# The VPN registry end to end (docs/registry.md): every contact of group
# "corp" comes from two avpn-registry instances, none from the member list.
# Hub hq has a public address; spokes branch1 and branch2 each sit behind
# their own NAT (nftables masquerade), so nobody could know their contacts
# without a registry (lib/nat_topology.sh draws the topology,
# lib/registry_group.sh sets the group up, as bench/registry-punch does).
# Every site runs under avpnd (wireguard-go).
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
# AVPN_WG_BACKEND=kernel: the kernel's WireGuard instead of wireguard-go
# (the shared port then sits beside the module's socket; the VM tier runs
# it as kernel-registry-nat-wireguard).
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
# shellcheck source=lib/registry_group.sh
. "$SRC/tests/netns/lib/registry_group.sh"
NAT_MODE=${AVPN_NAT:-friendly}
BASELINE=${AVPN_REGISTRY_BASELINE:-0}
case "$NAT_MODE" in friendly | random) ;; *) topo_fail "AVPN_NAT=$NAT_MODE: friendly or random" ;; esac
TRANSPORT=${AVPN_TRANSPORT:-wireguard}
WG_BACKEND=${AVPN_WG_BACKEND:-userspace}
topo_require jq ping wg nft python3
if [ "$TRANSPORT" = xfrm ]; then
  why=$(topo_xfrm_missing)
  [ -z "$why" ] || topo_skip "$why; the VM tier runs it (kernel-registry-nat-xfrm)"
elif [ "$WG_BACKEND" = kernel ]; then
  why=$(topo_wireguard_missing)
  [ -z "$why" ] || topo_skip "$why; the VM tier runs it (kernel-registry-nat-wireguard)"
else
  topo_require wireguard-go
fi
for b in "$AVPNCTL" "$AVPND" "$REGISTRY"; do [ -x "$b" ] || { echo "FAIL: $b not built"; exit 1; }; done
started=$EPOCHREALTIME
trap 'echo; echo "interrupted: cleaning up"; exit 130' INT
trap 'exit 143' TERM
topo_init # its EXIT trap removes the namespaces on every path

registry_group_init

elapsed() { awk -v a="$started" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.1f", b - a}'; }
step() { echo; echo "== [$(elapsed) s] $*"; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }
fail() { registry_group_fail "$@"; }

step "topology: an internet, reg1, reg2 and hq on it, branch1 and branch2 behind $NAT_MODE NATs"
registry_group_topology

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
registry_group_files

if [ "$BASELINE" != 1 ]; then
  step "registries"
  start_registry reg1
  start_registry reg2
fi

step "avpnd on hq, branch1, branch2"
for s in "${SITES[@]}"; do start_avpnd "$s"; done
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
# hq has no contact in the member list: the spokes probe it at the contact
# the registries gave (docs/uplinks.md, "Probes"), and status shows it.
hq_probed() {
  HQ_PROBE=$(topo_avpn "$1" status --json | jq -c '.peers[] | select(.site == "hq") | .probe')
  [ -n "$HQ_PROBE" ] && jq -e '.probes > 0 and .latency_ms != null' <<<"$HQ_PROBE" >/dev/null 2>&1
}
for s in branch1 branch2; do
  ok=0
  for _ in $(seq 50); do hq_probed "$s" && { ok=1; break; }; sleep 0.2; done
  echo "   $s: probes to hq at its learned contact: $HQ_PROBE"
  [ "$ok" = 1 ] || fail "2. $s does not probe hq at the contact the registries gave: $HQ_PROBE"
done
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
