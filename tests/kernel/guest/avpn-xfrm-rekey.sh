#!/bin/bash
# avpnd's XFRM key exchange under attack and under load, on the real kernel:
# the netns demo (hub hq, spokes branch1/branch2) with transport = "xfrm",
# one avpnd per site (each holds its ESP-in-UDP socket; nothing else does).
# 1. Wrong key: branch2 has a new key (its own member list says so) that
#    hq's member list does not know; neither hq nor branch2 ever gets an SA
#    for the pair, and status at both says why. (A key file that does not
#    match the site's own member-list entry is a config error at that site,
#    netns_xfrm tests it.) Then branch2 back on its listed key: it joins.
# 2. Rotation under load: pings every 50 ms hq<->branch1 and branch1<->branch2
#    (through hq) across 3 rounds of `avpnctl rekey`, started at the hub and
#    at the spokes (leader and follower alike); each round waits until both
#    ends of each pair show the new epoch. No ping may be lost.
# 3. Replay: an ESP-in-UDP frame captured before the rekeys, sent again
#    after them, is dropped by the kernel (its XFRM error counters rise, the
#    XFRM interface receives nothing); a captured handshake initiation sent
#    again makes no new session (epochs unchanged) and avpnd counts it as
#    replayed.
. "$(dirname "$0")/lib.sh"
require_avpnctl
port=51820 ifname=avpn-demo
guest_dir=$(cd "$(dirname "$0")" && pwd)

demo_init
demo_sites
cfg=$(mktemp -d)
demo_config "$cfg" xfrm

diagnose() {
  local site
  for site in hq branch1 branch2; do
    echo "--- $site: ip -s xfrm state" >&2
    in_site "$site" ip -s xfrm state 2>&1 | grep -v '^\s*auth\|aead\|enc ' >&2 || true
    echo "--- $site: /proc/net/xfrm_stat (non-zero)" >&2
    in_site "$site" awk '$2 != 0' /proc/net/xfrm_stat >&2 || true
    echo "--- $site: status" >&2
    site_ctl "$site" "$cfg" status 2>&1 | sed -n '/^avpnd/,$p' >&2 || true
    echo "--- $site: avpnd log" >&2
    tail -n 40 "$cfg/avpnd-$site.log" >&2 || true
  done
}
fail() { echo "FAIL: $*" >&2; diagnose; exit 1; }

status_json() { site_ctl "$1" "$cfg" status --json || fail "$1: status --json failed"; }
# epoch SITE PEER: the key exchange's epoch at SITE for PEER.
epoch() { status_json "$1" | jq -r --arg p "$2" '.avpnd.xfrm[] | select(.peer == $p) | .epoch'; }
sa_count() { in_site "$1" ip xfrm state | grep -c '^src ' || true; }
# sas_with SITE ADDR: SAs at SITE whose source or destination is ADDR.
sas_with() { in_site "$1" ip xfrm state | grep -c "^src .*\b$2\b" || true; }

step "1. wrong key: branch2 holds a key that hq's member list does not have"
cp "$cfg/sites/branch2.toml" "$cfg/branch2.toml.listed"
(umask 077 && avpnctl genkey >"$cfg/keys/branch2-new.key")
new_pub=$(avpnctl pubkey <"$cfg/keys/branch2-new.key")
awk -v k="$new_pub" '/^name = / {n = $3} n == "\"branch2\"" && /^public_key = / {$0 = "public_key = \"" k "\""} {print}' \
  "$cfg/members.toml" >"$cfg/members-branch2.toml"
grep -qF "$new_pub" "$cfg/members-branch2.toml" || fail "no new key in branch2's member list"
sed -i -e 's|^key_file = .*|key_file = "../keys/branch2-new.key"|' \
  -e 's|^members = .*|members = "../members-branch2.toml"|' "$cfg/sites/branch2.toml"
echo "branch2's key is now $new_pub; hq's member list still has $(awk -v q='"branch2"' '$3 == q {f = 1} f && /^public_key/ {print $3; exit}' "$cfg/members.toml")"
for site in hq branch1 branch2; do
  site_avpnd "$site" "$cfg"
  printf -v "pid_$site" %s "$AVPND_PID"
done
# branch2 initiates at its start and hq every 5 s: each side rejects the
# other's initiation, and says so for the peer at that address.
deadline=$(( $(date +%s) + 30 ))
while [ "$(date +%s)" -lt "$deadline" ]; do
  hq_problem=$(status_json hq | jq -r '.avpnd.xfrm[] | select(.peer == "branch2") | .problem')
  b2_problem=$(status_json branch2 | jq -r '.avpnd.xfrm[] | select(.peer == "hq") | .problem')
  [ -n "$hq_problem" ] && [ -n "$b2_problem" ] && [ "$(sa_count branch1)" -ge 2 ] && break
  sleep 1
done
echo "hq: status for branch2: $hq_problem"
echo "branch2: status for hq: $b2_problem"
grep -q "the key is not one of this site's peers" <<<"$hq_problem" || fail "hq's status does not say why branch2 is not up: '$hq_problem'"
grep -q "mac1 does not verify (not for our key)" <<<"$b2_problem" || fail "branch2's status does not say why hq is not up: '$b2_problem'"
[ "$(sa_count branch2)" = 0 ] || fail "branch2 has SAs with a wrong key"
[ "$(sas_with hq 192.0.2.12)" = 0 ] || fail "hq has SAs for branch2 with a wrong key"
[ "$(sa_count branch1)" = 2 ] || fail "branch1: $(sa_count branch1) SAs, expected 2"
status_json hq | jq -r '.avpnd | "hq: \(.xfrm_rejected) handshake messages rejected, the last: \(.xfrm_last_rejected)"'
site_ctl hq "$cfg" status | grep 'demo/branch2:'
echo "SAs for branch2: hq 0, branch2 0 (branch1 has its 2)"

step "branch2 back on its listed key: its avpnd restarted, the pair handshakes"
kill "$pid_branch2"; wait "$pid_branch2" 2>/dev/null || true
cp "$cfg/branch2.toml.listed" "$cfg/sites/branch2.toml"
site_avpnd branch2 "$cfg"
pid_branch2=$AVPND_PID
for site in hq branch1 branch2; do
  want=2
  [ "$site" = hq ] && want=4
  for _ in $(seq 300); do [ "$(sa_count "$site")" -ge "$want" ] && break; sleep 0.1; done
  [ "$(sa_count "$site")" -eq "$want" ] || fail "$site: $(sa_count "$site") SAs, expected $want"
done
expect_site_ping branch1 10.1.1.1 10.2.1.1

step "2. rotation under load: pings every 50 ms across 3 rounds of avpnctl rekey"
pcap=$cfg/hq-wan.pcap
ip netns exec "$(topo_ns hq)" tcpdump -Z root -i wan0 -n -U -w "$pcap" "udp port $port" 2>"$cfg/tcpdump.err" & tcpdump_pid=$!
for _ in $(seq 100); do grep -q listening "$cfg/tcpdump.err" && break; sleep 0.1; done
grep -q listening "$cfg/tcpdump.err" || fail "tcpdump did not start: $(cat "$cfg/tcpdump.err")"
# (ip netns exec execs ping: $! is ping's pid, and SIGINT ends it with its summary.)
ping_start=$(date +%s%N)
ip netns exec "$(topo_ns hq)" ping -n -i 0.05 -I 10.0.1.1 10.1.1.1 >"$cfg/ping-hq-branch1.log" 2>&1 & ping1=$!
ip netns exec "$(topo_ns branch1)" ping -n -i 0.05 -I 10.1.1.1 10.2.1.1 >"$cfg/ping-branch1-branch2.log" 2>&1 & ping2=$!
sleep 1

# round "SITE ARGS" ...: each SITE runs `avpnctl rekey ARGS`; then waits until
# every pair it rotated has a higher epoch at both ends than before.
pairs() { case $1 in hq) echo "hq:branch1 hq:branch2" ;; *) echo "hq:$1" ;; esac; }
round() {
  local n=$1 spec site args pair a b t0 out deadline ea eb; shift
  declare -A before=()
  local rotated=()
  for spec in "$@"; do
    site=${spec%% *}
    for pair in $(pairs "$site"); do
      a=${pair%:*} b=${pair#*:}
      before[$a:$b]=$(epoch "$a" "$b") before[$b:$a]=$(epoch "$b" "$a")
      rotated+=("$pair")
    done
  done
  t0=$(date +%s%N)
  echo "round $n: starts $(( (t0 - ping_start) / 1000000 )) ms after the pings"
  for spec in "$@"; do
    site=${spec%% *} args=${spec#"$site"}
    # shellcheck disable=SC2086
    out=$(site_ctl "$site" "$cfg" rekey $args) || fail "$site: avpnctl rekey$args failed: $out"
    echo "round $n: $site: avpnctl rekey$args: $(tr '\n' ';' <<<"$out")"
  done
  for pair in "${rotated[@]}"; do
    a=${pair%:*} b=${pair#*:}
    # (One status per end and look: avpnctl is slow in the emulated VM.)
    deadline=$(( $(date +%s) + 90 ))
    while :; do
      ea=$(epoch "$a" "$b") eb=$(epoch "$b" "$a")
      [ "$ea" -gt "${before[$a:$b]}" ] && [ "$eb" -gt "${before[$b:$a]}" ] && break
      [ "$(date +%s)" -lt "$deadline" ] ||
        fail "round $n: $a/$b did not rotate: epochs $ea/$eb, before ${before[$a:$b]}/${before[$b:$a]}"
      sleep 0.5
    done
    echo "round $n: $a/$b epoch ${before[$a:$b]} -> $ea at $a, ${before[$b:$a]} -> $eb at $b"
  done
  echo "round $n: done in $(( ($(date +%s%N) - t0) / 1000000 )) ms"
}
# Round 1 at the hub (it initiates to both spokes), round 2 at both spokes,
# round 3 at the hub again: every pair rotates 3 times, each side initiating.
# A round right after another waits for the old inbound SA to go (20 s).
round 1 "hq"
round 2 "branch1 demo hq" "branch2 demo"
round 3 "hq demo"
sleep 1
kill -INT "$ping1" "$ping2"; wait "$ping1" "$ping2" 2>/dev/null || true
kill -INT "$tcpdump_pid"; wait "$tcpdump_pid" 2>/dev/null || true

# ping_figures PINGLOG: "SENT REPLIES LOST", lost being the echo requests
# without a reply up to the last one answered (SIGINT may stop ping with
# one request still on its way).
ping_figures() {
  local log=$1 sent replies last
  sent=$(grep -o '^[0-9]* packets transmitted' "$log" | awk '{print $1}')
  replies=$(grep 'bytes from' "$log" | grep -o 'icmp_seq=[0-9]*' | sort -u | wc -l)
  last=$(grep 'bytes from' "$log" | grep -o 'icmp_seq=[0-9]*' | cut -d= -f2 | sort -n | tail -1)
  echo "${sent:-0} $replies $(( ${last:-0} - replies ))"
}
# A loss fails the test at its end, after the replay checks, with the
# kernel's drop counters of that moment: XfrmOutNoStates counts packets
# that found no outbound SA (a switch that broke before it made).
lost_any=""
for log in ping-hq-branch1 ping-branch1-branch2; do
  read -r sent replies lost <<<"$(ping_figures "$cfg/$log.log")"
  echo "$log: $sent sent, $replies replies, $lost lost ($(grep -o '[0-9]* packets transmitted.*' "$cfg/$log.log"))"
  [ "$sent" -ge 300 ] || fail "$log: only $sent pings sent: $(tail -3 "$cfg/$log.log")"
  [ $(( sent - replies )) -le 1 ] || [ "$lost" != 0 ] || fail "$log: $sent sent but $replies replies"
  if [ "$lost" != 0 ]; then
    missing=$(grep 'bytes from' "$cfg/$log.log" | grep -o 'icmp_seq=[0-9]*' | cut -d= -f2 | sort -n |
      awk 'NR == 1 {p = $1; next} {for (i = p + 1; i < $1; i++) printf "%d ", i; p = $1}')
    echo "$log: lost icmp_seq $missing(about $(( ${missing%% *} * 50 / 1000 )) s after the pings started)"
    lost_any="$lost_any $log: $lost lost;"
  fi
done
for site in hq branch1 branch2; do
  echo "$site: XFRM drops: $(in_site "$site" awk '$2 != 0 {printf "%s %s ", $1, $2}' /proc/net/xfrm_stat)"
done

step "3. replay: an ESP-in-UDP frame from before the rekeys, sent again"
# branch1 -> hq, with avpn's SPI prefix (docs/planner.md), the first one captured.
tcpdump -r "$pcap" -w "$cfg/esp.pcap" -c 1 \
  "src host 192.0.2.11 and dst host 192.0.2.1 and (udp[8:4] & 0xc0000000) = 0x40000000" 2>/dev/null
[ -n "$(tcpdump -r "$cfg/esp.pcap" -n 2>/dev/null)" ] || fail "no ESP-in-UDP frame from branch1 in the capture"
echo "captured: $(tcpdump -r "$cfg/esp.pcap" -n 2>/dev/null)"
xfrm_stat() { in_site hq awk '{print $1, $2}' /proc/net/xfrm_stat; }
in_errors() { awk '$1 ~ /^XfrmIn/ {s += $2} END {print s + 0}' <<<"$1"; }
stat_before=$(xfrm_stat) rx_before=$(in_site hq cat "/sys/class/net/$ifname/statistics/rx_packets")
# Sent from branch1's side of the wire, as captured: to hq's MAC and address.
sent=$(in_site branch1 /usr/bin/python3 "$guest_dir/pcap-send.py" "$cfg/esp.pcap" wan0) || fail "could not send the frame"
sleep 1
stat_after=$(xfrm_stat) rx_after=$(in_site hq cat "/sys/class/net/$ifname/statistics/rx_packets")
echo "sent $sent frame again; hq's XFRM counters that moved:"
diff <(echo "$stat_before") <(echo "$stat_after") | grep '^>' | sed 's/^> /  /' || true
rose=$(( $(in_errors "$stat_after") - $(in_errors "$stat_before") ))
[ "$rose" -ge 1 ] || fail "no XfrmIn* error counter at hq rose for the replayed frame"
[ "$rx_after" = "$rx_before" ] || fail "hq's $ifname received $((rx_after - rx_before)) packets from the replayed frame"
echo "hq: XfrmIn* errors +$rose, $ifname rx packets +0 (dropped before delivery)"

step "3. replay: a handshake initiation (hq -> branch1, round 1) sent again"
# The marker (4 zero bytes), type 0x01 and the magic "avp".
tcpdump -r "$pcap" -w "$cfg/init.pcap" -c 1 \
  "src host 192.0.2.1 and dst host 192.0.2.11 and udp[8:4] = 0 and udp[12:4] = 0x01617670" 2>/dev/null
[ -n "$(tcpdump -r "$cfg/init.pcap" -n 2>/dev/null)" ] || fail "no initiation from hq to branch1 in the capture"
echo "captured: $(tcpdump -r "$cfg/init.pcap" -n 2>/dev/null)"
rejected_before=$(status_json branch1 | jq .avpnd.xfrm_rejected)
e_hq=$(epoch hq branch1) e_b1=$(epoch branch1 hq)
# Sent from hq's side of the wire, as it left hq.
sent=$(in_site hq /usr/bin/python3 "$guest_dir/pcap-send.py" "$cfg/init.pcap" wan0) || fail "could not send the initiation"
sleep 2
b1=$(status_json branch1)
rejected_after=$(jq .avpnd.xfrm_rejected <<<"$b1") reason=$(jq -r .avpnd.xfrm_last_rejected <<<"$b1")
echo "branch1: rejected $rejected_before -> $rejected_after, the last: $reason"
[ "$rejected_after" -gt "$rejected_before" ] || fail "branch1 did not reject the replayed initiation"
grep -q 'replayed' <<<"$reason" || fail "branch1's last rejection is not the replay: $reason"
[ "$(epoch hq branch1)" = "$e_hq" ] && [ "$(epoch branch1 hq)" = "$e_b1" ] ||
  fail "the replayed initiation made a session: epochs $e_hq/$e_b1 -> $(epoch hq branch1)/$(epoch branch1 hq)"
echo "epochs unchanged: hq/branch1 $e_hq, branch1/hq $e_b1"
expect_site_ping hq 10.0.1.1 10.1.1.1
[ -z "$lost_any" ] || fail "pings lost across the rekeys:$lost_any"
step "4. an SA deleted by hand: its key never goes into a second SA"
# The operator's mistake: hq's outbound SA to branch1 goes. avpnd's repair
# may not write it again with the same key (its sequence would start at 1:
# AES-GCM nonces repeated); the session is dropped and the pair handshakes.
sa_of() { in_site hq ip xfrm state | awk -v dst="$1" '$1 == "src" && $2 == "192.0.2.1" && $4 == dst {getline; print $4}'; }
key_of() { in_site hq ip xfrm state get src 192.0.2.1 dst 192.0.2.11 proto esp spi "$1" | awk '$1 == "aead" {print $3}'; }
spi=$(sa_of 192.0.2.11 | head -n 1)
[ -n "$spi" ] || fail "hq has no outbound SA to branch1"
old_key=$(key_of "$spi")
[ -n "$old_key" ] || fail "hq's SA $spi shows no key"
e_hq=$(epoch hq branch1)
in_site hq ip xfrm state delete src 192.0.2.1 dst 192.0.2.11 proto esp spi "$spi"
deadline=$(( $(date +%s) + 60 ))
until [ "$(epoch hq branch1)" -gt "$e_hq" ] && [ -n "$(sa_of 192.0.2.11)" ]; do
  [ "$(date +%s)" -lt "$deadline" ] || fail "hq/branch1 did not handshake anew after the SA's deletion"
  sleep 0.5
done
for s in $(sa_of 192.0.2.11); do
  [ "$(key_of "$s")" != "$old_key" ] || fail "hq wrote SA $s with the deleted SA's key"
done
grep -q "its key may not go into another" "$cfg/avpnd-hq.log" || fail "hq's avpnd did not say why the session went"
echo "hq: SA $spi deleted by hand; epoch $e_hq -> $(epoch hq branch1), outbound now $(sa_of 192.0.2.11 | tr '\n' ' ')with a new key"
expect_site_ping hq 10.0.1.1 10.1.1.1
step "avpn-xfrm-rekey: ok"
