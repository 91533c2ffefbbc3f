#!/bin/bash
# Dead peer detection of avpnd's XFRM key exchange (issue 13) end to end on
# the real kernel: a hub dies, spoke-to-spoke traffic moves to the other
# hub, and moves back when the hub returns. examples/two-hubs with
# transport = "xfrm": hubs hub-a and hub-b (full mesh), spokes spoke1 and
# spoke2 both listing hubs ["hub-a", "hub-b"] (spoke3 left out), so the
# relay rule (docs/planner.md) meets spoke1 and spoke2 at hub-a. One avpnd
# per site; each holds its ESP-in-UDP socket and makes every SA by its
# handshakes; the test only cuts a link and watches.
#
# 1. spoke1's LAN pings spoke2's LAN: the packets pass hub-a's XFRM
#    interface and not hub-b's, and each spoke's out policy for the other's
#    LAN carries its ESP to hub-a.
# 2. hub-a dies: its port on the "internet" bridge goes down. That is what
#    its peers see when a hub loses power or its uplink: nothing of hub-a
#    answers on the WAN any more, neither ESP nor handshakes. (SIGSTOP of
#    hub-a's avpnd alone is not a dead hub: its kernel's SAs go on carrying
#    traffic; and a test that dropped hub-a's ESP with a rule of its own
#    would patch state that is the product's.) hub-a's avpnd and kernel
#    state stay as they were, so step 3 is the hub's link coming back, not
#    a restart (kernel-avpn-xfrm-transport covers a restart).
#    A ping every 200 ms from spoke1's LAN to spoke2's LAN measures the
#    outage until replies come through hub-b; each spoke finds hub-a dead
#    after dead_after (35 s) without an authenticated message (its last
#    keepalive came up to 10 s before the cut) and re-plans, so the bound is
#    35 s + 15 s for the two applies in the emulated VM. Status at both
#    spokes names hub-a down ("no answer for N s"), and both out policies
#    now lead to hub-b.
# 3. hub-a's port comes back: the spokes handshake with it again (either
#    side retries every 5 s), status shows it up, the out policies lead to
#    hub-a again and hub-a's interface carries the pings. Each spoke moves
#    at its own handshake; until the second one has moved, the relayed
#    packets meet the other's source check (docs/planner.md, "Timing"), so
#    the pings lost then are bounded by the time between the two moves.
. "$(dirname "$0")/lib.sh"
require_avpnctl
ifname=avpn-twohubs
hub_a=192.0.2.1 hub_b=192.0.2.2
s1_lan=10.31.1.1 s2_lan=10.32.1.1
interval=0.2
dead_bound_s=50      # dead_after 35 s + 15 s to re-plan and apply at both spokes
move_skew_bound_s=10 # the two spokes' moves back to hub-a: 5 s handshake retry + 5 s

demo_init
cfg=$(mktemp -d)
sites=(hub-a hub-b spoke1 spoke2)
diagnose() {
  local site
  for site in "${sites[@]}"; do
    echo "--- $site: SAs (ip -s xfrm state: addresses, SPI, bytes and packets)" >&2
    in_site "$site" ip -s xfrm state 2>&1 | grep -E '^src|proto esp spi|[0-9]+\(bytes\), [0-9]+\(packets\)' >&2 || true
    echo "--- $site: out policies (selector, template)" >&2
    in_site "$site" ip xfrm policy list dir out 2>&1 | grep -E '^src|tmpl' >&2 || true
    echo "--- $site: avpnd log" >&2
    tail -n 30 "$cfg/avpnd-$site.log" >&2 || true
  done
  [ -f "$cfg/ping.log" ] && { echo "--- ping (last 20 lines)" >&2; tail -n 20 "$cfg/ping.log" >&2; }
  return 0
}
fail() { echo "FAIL: $*" >&2; diagnose; exit 1; }

step "sites: examples/two-hubs over XFRM, spoke2 on hubs [hub-a, hub-b], no spoke3"
cp -r "$repo_dir/examples/two-hubs/." "$cfg/"
chmod 700 "$cfg/keys"
chmod 600 "$cfg"/keys/*.key
rm "$cfg/sites/spoke3.toml" "$cfg/keys/spoke3.key"
# The member list: XFRM, spoke3's entry gone, spoke2's hubs in hub-a's favour.
awk '/^\[\[member\]\]/ {flush(); buf = $0 "\n"; inm = 1; next}
     inm {buf = buf $0 "\n"; next} {print}
     END {flush()}
     function flush() { if (buf != "" && buf !~ /name = "spoke3"/) printf "%s", buf; buf = "" }' \
  "$cfg/members.toml" >"$cfg/members.new"
sed -e 's/^transport = .*/transport = "xfrm"/' \
  -e 's/^hubs = \["hub-b", "hub-a"\]/hubs = ["hub-a", "hub-b"]/' "$cfg/members.new" >"$cfg/members.toml"
rm "$cfg/members.new"
sed -i 's/^hubs = .*/hubs = ["hub-a", "hub-b"]/' "$cfg/sites/spoke2.toml"
sed -i '/^wireguard_backend = /d' "$cfg"/sites/*.toml
grep -q '^transport = "xfrm"' "$cfg/members.toml" || fail "no XFRM transport in the member list"
! grep -q spoke3 "$cfg/members.toml" || fail "spoke3 is still in the member list"
[ "$(grep -c '^hubs = \["hub-a", "hub-b"\]' "$cfg/members.toml")" = 2 ] || fail "both spokes must list [hub-a, hub-b]"
awk '/^name = / {n = $3} /^hubs = / {print "member " n ": " $0}' "$cfg/members.toml"

topo_site hub-a 192.0.2.1/24 10.10.1.1/24 10.10.9.1/24
topo_site hub-b 192.0.2.2/24 10.20.1.1/24 10.20.9.1/24
topo_site spoke1 192.0.2.11/24 10.31.1.1/24 10.31.2.1/24
topo_site spoke2 192.0.2.12/24 10.32.1.1/24 10.32.2.1/24
# hub-a's port on the internet bridge (topo_site names it w<site><pid>).
hub_a_port=whub-a$$
ip -n "$TOPO-wan" link show "$hub_a_port" >/dev/null || fail "no bridge port $hub_a_port"

step "avpnd on every site (started together)"
for site in "${sites[@]}"; do site_avpnd_start "$site" "$cfg"; done
for site in "${sites[@]}"; do
  site_avpnd_wait "$site" "$cfg"
  grep -o 'full apply (start): .*' "$cfg/avpnd-$site.log" | sed "s/^/$site: /"
done

step "key exchange: every pair handshakes (hubs 6 SAs, spokes 4)"
sa_count() { in_site "$1" ip xfrm state | grep -c '^src ' || true; }
deadline=$(( $(date +%s) + 60 ))
for site in "${sites[@]}"; do
  want=4
  [[ $site == hub-* ]] && want=6
  until [ "$(sa_count "$site")" -ge "$want" ]; do
    [ "$(date +%s)" -lt "$deadline" ] || fail "$site: $(sa_count "$site") SAs, expected $want"
    sleep 0.2
  done
  echo "$site: $(sa_count "$site") SAs; $(grep -o 'xfrm: twohubs/[a-z0-9-]*: up' "$cfg/avpnd-$site.log" | sort -u | sed 's/^xfrm: //' | tr '\n' ' ')"
done

# out_hub SITE PREFIX: the WAN address the out policy for PREFIX at SITE
# sends its ESP to (the hub that carries PREFIX for SITE); empty if none.
out_hub() {
  in_site "$1" ip xfrm policy list dir out | awk -v p="$2" '
    /^src / {hit = ($4 == p)} hit && $1 == "tmpl" {print $5; exit}'
}
hub_name() { case $1 in "$hub_a") echo hub-a ;; "$hub_b") echo hub-b ;; "") echo none ;; *) echo "$1" ;; esac; }
show_paths() {
  local r1 r2
  r1=$(in_site spoke1 ip route show table all proto 147 | grep '^10\.32\.1\.0/24' | head -n 1)
  r2=$(in_site spoke2 ip route show table all proto 147 | grep '^10\.31\.1\.0/24' | head -n 1)
  echo "$1: spoke1 -> 10.32.1.0/24: ESP to $(hub_name "$(out_hub spoke1 10.32.1.0/24)") (route: $r1)"
  echo "$1: spoke2 -> 10.31.1.0/24: ESP to $(hub_name "$(out_hub spoke2 10.31.1.0/24)") (route: $r2)"
}
# site_stat SITE COUNTER: a counter of avpn's XFRM interface at SITE;
# xfrmi COUNTER: "hub-a hub-b" values of it.
site_stat() { in_site "$1" cat "/sys/class/net/$ifname/statistics/$2"; }
xfrmi() { echo "$(site_stat hub-a "$1") $(site_stat hub-b "$1")"; }

step "1. spoke1's LAN -> spoke2's LAN: through hub-a"
expect_site_ping spoke1 "$s1_lan" "$s2_lan"
[ "$(out_hub spoke1 10.32.1.0/24)" = "$hub_a" ] || fail "spoke1 does not send spoke2's LAN to hub-a: $(out_hub spoke1 10.32.1.0/24)"
[ "$(out_hub spoke2 10.31.1.0/24)" = "$hub_a" ] || fail "spoke2 does not send spoke1's LAN to hub-a: $(out_hub spoke2 10.31.1.0/24)"
show_paths "before"
read -r a0 b0 <<<"$(xfrmi tx_packets)"
in_site spoke1 ping -n -q -c 20 -i "$interval" -W 2 -I "$s1_lan" "$s2_lan" >"$cfg/ping1.log" 2>&1 ||
  fail "pings spoke1 -> spoke2 failed: $(tail -n 2 "$cfg/ping1.log")"
read -r a1 b1 <<<"$(xfrmi tx_packets)"
echo "20 pings, $(grep -o '[0-9]* received' "$cfg/ping1.log"); $ifname tx packets: hub-a +$((a1 - a0)), hub-b +$((b1 - b0))"
at_least "hub-a: $ifname tx packets (requests and replies relayed)" "$((a1 - a0))" 40
[ "$((b1 - b0))" = 0 ] || fail "hub-b's $ifname sent $((b1 - b0)) packets: the pings did not go through hub-a alone"

step "2. hub-a dies: its uplink's port on the internet goes down"
pinglog=$cfg/ping.log
# -D: each line timestamped (the guest's clock, as date's); -O: a request
# without a reply is reported. Unreachable errors do not stop ping without -w.
# (ip netns exec execs ping: $! is ping's pid, and SIGINT ends it with its summary.)
ip netns exec "$(topo_ns spoke1)" ping -D -O -n -i "$interval" -W 1 -I "$s1_lan" "$s2_lan" >"$pinglog" 2>&1 & ping_pid=$!
sleep 2
grep -q 'bytes from' "$pinglog" || fail "the continuous ping gets no replies"
b_cut=$(site_stat hub-b tx_packets)
# The cut is in effect when the command returns; under a loaded emulated
# CPU that can take a second or more after it started, so the outage counts
# from its return (up to the command's duration less than the truth).
t_cmd=$(date +%s.%N)
ip -n "$TOPO-wan" link set "$hub_a_port" down
t_cut=$(date +%s.%N)
echo "hub-a's port down (the command took $(awk -v a="$t_cmd" -v b="$t_cut" 'BEGIN {printf "%.1f", b - a}') s)"
# first_reply_after T: the timestamp of the first reply after T (seconds).
first_reply_after() {
  awk -F'[][]' -v t="$1" '/bytes from/ && $2 + 0 > t + 0 {print $2; exit}' "$pinglog"
}
deadline=$(( ${t_cut%.*} + dead_bound_s + 40 ))
# A reply 1 s after the cut is no longer one that was on its way (RTT here
# is milliseconds).
after=$(awk -v t="$t_cut" 'BEGIN {printf "%.6f", t + 1}')
until t_back=$(first_reply_after "$after") && [ -n "$t_back" ]; do
  [ "$(date +%s)" -lt "$deadline" ] || fail "no reply through hub-b $((dead_bound_s + 40)) s after hub-a's cut"
  sleep 0.5
done
outage=$(awk -v a="$t_cut" -v b="$t_back" 'BEGIN {printf "%.1f", b - a}')
last_before=$(awk -F'[][]' -v t="$t_cut" '/bytes from/ && $2 + 0 <= t + 1 {l = $2} END {print l}' "$pinglog")
longest=$(awk -v a="$last_before" -v b="$t_back" 'BEGIN {printf "%.1f", b - a}')
echo "outage: first reply through hub-b $outage s after the cut (longest gap between replies $longest s)"
sleep 2
b_after=$(site_stat hub-b tx_packets)
show_paths "hub-a dead"
[ "$(out_hub spoke1 10.32.1.0/24)" = "$hub_b" ] || fail "spoke1 does not send spoke2's LAN to hub-b"
[ "$(out_hub spoke2 10.31.1.0/24)" = "$hub_b" ] || fail "spoke2 does not send spoke1's LAN to hub-b"
at_least "hub-b: $ifname tx packets since the cut" "$((b_after - b_cut))" 10
ok=$(awk -v o="$outage" -v b="$dead_bound_s" 'BEGIN {print (o + 0 <= b + 0) ? 1 : 0}')
[ "$ok" = 1 ] || fail "traffic came back through hub-b after $outage s, bound $dead_bound_s s"
ok=$(awk -v o="$outage" 'BEGIN {print (o + 0 >= 5) ? 1 : 0}')
[ "$ok" = 1 ] || fail "the cut did not interrupt the pings ($outage s): were they going through hub-a?"
echo "outage $outage s <= $dead_bound_s s (dead_after 35 s + 15 s)"
for site in spoke1 spoke2; do
  st=$(site_ctl "$site" "$cfg" status --json) || fail "$site: status failed"
  jq -c '.avpnd.xfrm[] | {peer, up, problem}' <<<"$st" | sed "s/^/$site: /"
  jq -e '.avpnd.xfrm[] | select(.peer == "hub-a") | (.up | not) and (.problem | test("^no answer for [0-9]+ s"))' \
    <<<"$st" >/dev/null || fail "$site: status does not name hub-a down with no answer"
  jq -e '.avpnd.xfrm[] | select(.peer == "hub-b") | .up' <<<"$st" >/dev/null || fail "$site: hub-b is not up"
  grep -o 'xfrm: twohubs/hub-a: down.*' "$cfg/avpnd-$site.log" | tail -n 1 | sed "s/^/$site: /"
done
site_ctl spoke1 "$cfg" status | grep 'twohubs/hub-a' | sed 's/^ */spoke1 (text): /'

step "3. hub-a comes back: its port goes up"
a_up=$(site_stat hub-a tx_packets)
ip -n "$TOPO-wan" link set "$hub_a_port" up
t_up=$(date +%s.%N)
# Each move is seen at most one poll round late (a round is two `ip` calls
# in the emulated VM); the longest round widens the losses' bound below.
t_s1="" t_s2="" poll_ms=0 t_round=$(date +%s%N)
deadline=$(( ${t_up%.*} + 60 ))
while [ -z "$t_s1" ] || [ -z "$t_s2" ]; do
  now=$(date +%s%N)
  [ $(( (now - t_round) / 1000000 )) -gt "$poll_ms" ] && poll_ms=$(( (now - t_round) / 1000000 ))
  t_round=$now
  [ -z "$t_s1" ] && [ "$(out_hub spoke1 10.32.1.0/24)" = "$hub_a" ] && t_s1=$(date +%s.%N)
  [ -z "$t_s2" ] && [ "$(out_hub spoke2 10.31.1.0/24)" = "$hub_a" ] && t_s2=$(date +%s.%N)
  [ "$(date +%s)" -lt "$deadline" ] || fail "the spokes did not move back to hub-a within 60 s (spoke1 ${t_s1:-no}, spoke2 ${t_s2:-no})"
  sleep 0.2
done
rel() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.1f", b - a}'; }
skew=$(awk -v a="$t_s1" -v b="$t_s2" 'BEGIN {d = a - b; if (d < 0) d = -d; printf "%.1f", d}')
echo "back to hub-a: spoke1 $(rel "$t_up" "$t_s1") s, spoke2 $(rel "$t_up" "$t_s2") s after the port came up ($skew s apart; longest poll round $poll_ms ms)"
# Once both have moved (and a second for packets on their way), hub-b
# carries none of it and hub-a all.
sleep 1
read -r a_both b_both <<<"$(xfrmi tx_packets)"
sleep 3
read -r a_end b_end <<<"$(xfrmi tx_packets)"
kill -INT "$ping_pid"; wait "$ping_pid" 2>/dev/null || true
show_paths "hub-a back"
echo "$ifname tx packets in the 3 s after both moved: hub-a +$((a_end - a_both)), hub-b +$((b_end - b_both)); hub-a +$((a_end - a_up)) since it came back"
at_least "hub-a: $ifname tx packets in the 3 s after both moved" "$((a_end - a_both))" 20
[ "$((b_end - b_both))" = 0 ] || fail "hub-b still relays after both spokes moved back to hub-a"
for site in spoke1 spoke2; do
  st=$(site_ctl "$site" "$cfg" status --json) || fail "$site: status failed"
  jq -e '.avpnd.xfrm[] | select(.peer == "hub-a") | .up and .problem == ""' <<<"$st" >/dev/null ||
    fail "$site: status does not show hub-a up: $(jq -c '.avpnd.xfrm[] | select(.peer == "hub-a")' <<<"$st")"
  jq -c '.avpnd.xfrm[] | select(.peer == "hub-a") | {peer, up, epoch, handshake_age_s, problem}' <<<"$st" | sed "s/^/$site: /"
done

step "figures"
# Replies by sequence number; the losses of step 3 are the requests after
# the first reply through hub-b that got none (up to the last reply).
seqs=$(grep 'bytes from' "$pinglog" | grep -o 'icmp_seq=[0-9]*' | cut -d= -f2 | sort -n -u)
seq_back=$(awk -F'[][]' -v t="$t_back" '/bytes from/ && $2 == t {match($0, /icmp_seq=[0-9]+/); print substr($0, RSTART + 9, RLENGTH - 9); exit}' "$pinglog")
last=$(tail -n 1 <<<"$seqs")
lost=$(awk -v s="$seq_back" -v l="$last" '$1 > s && $1 <= l' <<<"$seqs" | wc -l)
lost=$(( last - seq_back - lost ))
missing=$(awk -v s="$seq_back" 'NR == 1 {p = $1; next} $1 > s {for (i = p + 1; i < $1; i++) if (i > s) printf "%d ", i} {p = $1}' <<<"$seqs")
sent=$(grep -o '^[0-9]* packets transmitted' "$pinglog" | awk '{print $1}')
echo "continuous ping every $interval s: $sent sent, $(wc -l <<<"$seqs") answered"
echo "hub-a dead: outage $outage s (bound $dead_bound_s s); longest gap between replies $longest s"
echo "hub-a back: spokes moved $(rel "$t_up" "$t_s1") s and $(rel "$t_up" "$t_s2") s after its port came up, $skew s apart"
echo "after traffic came back through hub-b (icmp_seq $seq_back) to the end (icmp_seq $last): $lost lost${missing:+ (icmp_seq $missing)}"
# Bound: a request is lost only while the spokes disagree on the hub: the
# measured skew, give or take one poll round, and one interval either side.
bound=$(awk -v k="$skew" -v r="$poll_ms" -v i="$interval" 'BEGIN {printf "%d", (k + r / 1000) / i + 2}')
ok=$(awk -v k="$skew" -v b="$move_skew_bound_s" 'BEGIN {print (k + 0 <= b + 0) ? 1 : 0}')
[ "$ok" = 1 ] || fail "the spokes moved back to hub-a $skew s apart, bound $move_skew_bound_s s"
[ "$lost" -le "$bound" ] || fail "$lost pings lost after hub-b took over, bound $bound ((the spokes' skew $skew s + a poll round $poll_ms ms) / $interval s + 2)"
echo "losses $lost <= $bound ((skew $skew s + poll round $poll_ms ms) / $interval s + 2); skew $skew s <= $move_skew_bound_s s"
step "avpn-xfrm-dead-hub: ok"
