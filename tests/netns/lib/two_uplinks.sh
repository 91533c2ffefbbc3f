# shellcheck shell=bash
# Two uplinks through two routers to one hub: the topology of
# tests/netns/uplink_failover.sh, uplink_active_active.sh and
# bench/failover.sh. Source it after topology.sh, with SRC, AVPND and
# BACKEND (userspace or kernel) set; two_uplinks_require may run before
# topo_init, the rest after it, with LOG set and fail (printing LOG), step
# and log_has defined.
# TRANSPORT (wireguard, the default, or xfrm) is the group's; with XFRM hq
# runs avpnd too (its key exchange), logging to $TOPO_WORK/hq.log.
# docs/uplinks.md, "Measured".
#
#   branch1 wan0 203.0.113.2 --- r0 --- 10.255.0.0/30 ---+
#                                                         hq (192.0.2.1 on its wan0)
#   branch1 wan1 198.51.100.2 -- r1 --- 10.255.1.0/30 ---+
#
# Both uplinks have a default route in branch1's main table (wan0 metric
# 100, wan1 metric 200); nothing but avpnd's steering decides which one the
# tunnel's packets take. branch1's metrics are served on $METRICS.
# UPLINKS=3 (active-active over three) adds wan2 198.18.0.2 through r2
# (10.255.2.0/30), default route metric 300.

ns() { topo_ns "$1"; }

# two_uplinks_require VM_TEST: the tools, and the data plane TRANSPORT and
# BACKEND ask for, or a skip naming the VM test that runs the case here.
two_uplinks_require() {
  local why
  topo_require jq ping wg python3 nft
  if [ "${TRANSPORT:-wireguard}" = xfrm ]; then
    why=$(topo_xfrm_missing)
    [ -z "$why" ] || topo_skip "$why; the VM tier runs it (${1}-xfrm)"
  elif [ "$BACKEND" = kernel ]; then
    why=$(topo_wireguard_missing)
    [ -z "$why" ] || topo_skip "$why; the VM tier runs it (${1}-wireguard)"
  else
    topo_require wireguard-go
  fi
  [ -x "$AVPND" ] || { echo "FAIL: $AVPND not built"; exit 1; }
}
scrape() {
  topo_exec branch1 python3 -c 'import sys,urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())' \
    "http://$METRICS/metrics"
}

# veth_between A IFA B IFB ADDR_A/LEN ADDR_B/LEN: a veth between two namespaces.
veth_between() {
  ip link add "$2" netns "$(ns "$1")" type veth peer name "$4" netns "$(ns "$3")"
  ip -n "$(ns "$1")" addr add "$5" dev "$2"
  ip -n "$(ns "$3")" addr add "$6" dev "$4"
  ip -n "$(ns "$1")" link set "$2" up
  ip -n "$(ns "$3")" link set "$4" up
}

# LANs with carrier (a veth pair inside the site), as topo_site makes them.
lan_with_carrier() {
  ip -n "$(ns "$1")" link add "$2" type veth peer name "${2}p"
  ip -n "$(ns "$1")" addr add "$3" dev "$2"
  ip -n "$(ns "$1")" link set "$2" up
  ip -n "$(ns "$1")" link set "${2}p" up
}

# two_uplinks_make: the namespaces, links, routes and the demo's files.
two_uplinks_make() {
  DEMO=$TOPO_WORK/demo
  cp -r "$SRC/examples/netns-demo" "$DEMO"
  chmod 600 "$DEMO"/keys/*.key
  local uplinks='"wan0", "wan1"'
  [ "${UPLINKS:-2}" = 3 ] && uplinks='"wan0", "wan1", "wan2"'
  sed -i "s|^uplinks = \\[\"wan0\"\\]|uplinks = [$uplinks]|" "$DEMO/sites/branch1.toml"
  if [ "${TRANSPORT:-wireguard}" = xfrm ]; then  # no WireGuard setting with XFRM: check refuses it
    sed -i "/^wireguard_backend = /d" "$DEMO/sites/branch1.toml" "$DEMO/sites/hq.toml"
  else
    sed -i "s|^wireguard_backend = .*|wireguard_backend = \"$BACKEND\"|" "$DEMO/sites/branch1.toml" "$DEMO/sites/hq.toml"
  fi
  sed -i 's|contact = "192.0.2.11:51820"|contact = "203.0.113.2:51820"|' "$DEMO/members.toml"
  sed -i "s|^transport = \"wireguard\"|transport = \"${TRANSPORT:-wireguard}\"|" "$DEMO/members.toml"
  grep -q "^transport = \"${TRANSPORT:-wireguard}\"" "$DEMO/members.toml" || fail "members.toml: transport not set"
  METRICS=127.0.0.1:9586
  sed -i "s|^key_file = \"../keys/branch1.key\"|&\nmetrics = \"$METRICS\"|" "$DEMO/sites/branch1.toml"
  grep -q "^uplinks = \\[$uplinks\\]" "$DEMO/sites/branch1.toml" || fail "branch1.toml: uplinks not rewritten"
  grep -q "^metrics = " "$DEMO/sites/branch1.toml" || fail "branch1.toml: metrics not set"

  local routers="r0 r1"
  [ "${UPLINKS:-2}" = 3 ] && routers="r0 r1 r2"
  for n in hq branch1 $routers; do
    ip netns add "$(ns $n)"
    ip -n "$(ns $n)" link set lo up
    ip netns exec "$(ns $n)" sysctl -qw net.ipv4.ip_forward=1
  done
  veth_between branch1 wan0 r0 s0 203.0.113.2/24 203.0.113.1/24
  veth_between branch1 wan1 r1 s1 198.51.100.2/24 198.51.100.1/24
  veth_between r0 h0 hq up0 10.255.0.1/30 10.255.0.2/30
  veth_between r1 h1 hq up1 10.255.1.1/30 10.255.1.2/30
  # hq's contact address on a veth parked inside hq (carrier, no peer to reach).
  ip -n "$(ns hq)" link add wan0 type veth peer name wan0p
  ip -n "$(ns hq)" addr add 192.0.2.1/32 dev wan0
  ip -n "$(ns hq)" link set wan0 up
  ip -n "$(ns hq)" link set wan0p up
  ip -n "$(ns hq)" route add 203.0.113.0/24 via 10.255.0.1
  ip -n "$(ns hq)" route add 198.51.100.0/24 via 10.255.1.1
  ip -n "$(ns r0)" route add 192.0.2.1/32 via 10.255.0.2
  ip -n "$(ns r1)" route add 192.0.2.1/32 via 10.255.1.2
  ip -n "$(ns branch1)" route add default via 203.0.113.1 dev wan0 metric 100
  ip -n "$(ns branch1)" route add default via 198.51.100.1 dev wan1 metric 200
  if [ "${UPLINKS:-2}" = 3 ]; then
    veth_between branch1 wan2 r2 s2 198.18.0.2/24 198.18.0.1/24
    veth_between r2 h2 hq up2 10.255.2.1/30 10.255.2.2/30
    ip -n "$(ns hq)" route add 198.18.0.0/24 via 10.255.2.1
    ip -n "$(ns r2)" route add 192.0.2.1/32 via 10.255.2.2
    ip -n "$(ns branch1)" route add default via 198.18.0.1 dev wan2 metric 300
  fi
  lan_with_carrier hq lan0 10.0.1.1/24; lan_with_carrier hq lan1 10.0.9.1/24
  lan_with_carrier branch1 lan0 10.1.1.1/24; lan_with_carrier branch1 lan1 10.1.2.1/24
}

# two_uplinks_start: hq applied once, branch1 under avpnd, a ping through.
two_uplinks_start() {
  if [ "${TRANSPORT:-wireguard}" = xfrm ]; then
    step "hq and branch1 under avpnd (XFRM)"
    topo_spawn hq "$AVPND" "$DEMO/sites/hq.toml" --state-dir "$TOPO_WORK/state-hq" \
      --vici-socket "$TOPO_WORK/no-charon.vici" --control-socket "$(topo_avpnd_socket hq)" \
      --resync 3600 --quiet-ms 100 2>"$TOPO_WORK/hq.log" >/dev/null
    hq_started() { grep -q "full apply (start): " "$TOPO_WORK/hq.log"; }
    topo_wait_for "hq's first full apply" 20 hq_started
  else
    step "hq applied once, branch1 under avpnd ($BACKEND WireGuard)"
    topo_avpn hq apply "$DEMO/sites/hq.toml" >/dev/null || fail "apply hq"
  fi
  topo_spawn branch1 "$AVPND" "$DEMO/sites/branch1.toml" --state-dir "$TOPO_WORK/state-branch1" \
    --vici-socket "$TOPO_WORK/no-charon.vici" --control-socket "$(topo_avpnd_socket branch1)" \
    --resync 3600 --quiet-ms 100 2>"$LOG" >/dev/null
  BRANCH1_AVPND=$TOPO_SPAWNED
  topo_wait_for "first full apply" 20 log_has "full apply (start): "
  # XFRM: the first handshake brings the SAs (a ping may not get through before).
  [ "${TRANSPORT:-wireguard}" != xfrm ] || topo_wait_for "hq's SAs to branch1" 20 \
    bash -c "ip -n '$(ns hq)' xfrm state | grep -q 'src 192.0.2.1 dst 203.0.113.2'"
  topo_ping branch1 10.1.1.1 10.0.1.1 || fail "no ping branch1 Corp -> hq Corp"
}

# ping_start NAME / ping_stop NAME: a ping every 10 ms from branch1's LAN to
# hq's through the tunnel. ping_stop sets PING_SUMMARY ("SENT ANSWERED") and
# PING_GAP_MS, the longest time between two consecutive replies (by their
# receive timestamps, -D): the interruption, whatever pace ping kept (a busy
# machine stretches its 10 ms, so lost x 10 ms would understate it).
# -S: a normal send buffer (wmem_default's). ping sets its own to one
# packet's worth, which the kernel raises to its minimum (~4.6 KB), and sends
# nothing while it is full. The kernel's WireGuard encrypts in place, so a
# packet waiting in the dead uplink's neighbour queue is still charged to
# ping's socket: a few of them stalled ping ~3 s, until the entry failed,
# long after the tunnel had moved. A packet forwarded from a LAN port
# carries no socket (docs/uplinks.md, "Measured (netns)").
ping_start() {
  topo_spawn branch1 ping -n -D -i 0.01 -W 1 -S 212992 -I 10.1.1.1 10.0.1.1 >"$TOPO_WORK/ping-$1" 2>&1
  PING_PID=$TOPO_SPAWNED
}
ping_stop() {
  kill -INT "$PING_PID"
  wait "$PING_PID" || true
  PING_SUMMARY=$(awk '/packets transmitted/ {print $1, $4}' "$TOPO_WORK/ping-$1")
  [ -n "$PING_SUMMARY" ] || fail "ping $1 printed no summary: $(tail -5 "$TOPO_WORK/ping-$1")"
  PING_GAP_MS=$(awk -F'[][]' '/ bytes from / {t = $2 * 1000; if (seen && t - last > gap) gap = t - last; last = t; seen = 1}
    END {printf "%d", gap}' "$TOPO_WORK/ping-$1")
}
