# shellcheck shell=bash
# Namespace topologies for avpn's integration tests and the README demo.
# Source it; every namespace gets the unique prefix $TOPO (set by topo_init),
# and topo_cleanup (installed as an EXIT trap by topo_init) removes them all,
# even when the test fails half-way.
#
# Layout made by topo_site: a "wan" namespace holds bridge br0 (the internet);
# each site namespace has wan0 (veth to br0) with a public address, and one
# veth pair per LAN (lanN inside the site, lanNp parked in the same namespace
# so the LAN has carrier) carrying the LAN's gateway address.

topo_skip() { echo "SKIP: $*"; exit 77; }

# topo_xfrm_missing: prints why this kernel cannot hold an XFRM plan (an
# XFRM interface, a GCM ESP SA), tried in a scratch namespace after loading
# the modules where it has them; prints nothing when it can.
topo_xfrm_missing() {
  local probe=avpn-xprobe-$$ why=""
  command -v modprobe >/dev/null && modprobe -q -a xfrm_user xfrm_interface esp4 esp6 2>/dev/null || true
  ip netns add "$probe"
  ip -n "$probe" link add avxprobe type xfrm if_id 0x41560099 2>/dev/null ||
    why="no XFRM interfaces in this kernel ($(uname -r))"
  [ -n "$why" ] || ip -n "$probe" xfrm state add src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x100 reqid 1 mode tunnel \
    aead 'rfc4106(gcm(aes))' 0x0102030405060708090a0b0c0d0e0f1011121314 128 2>/dev/null ||
    why="no ESP SAs (esp4, rfc4106(gcm(aes))) in this kernel ($(uname -r))"
  ip netns del "$probe"
  echo "$why"
}

# topo_wireguard_missing: why this kernel cannot make a WireGuard link, or
# nothing (the kernel backend's tests skip with it; the VM tier has one).
topo_wireguard_missing() {
  local probe=avpn-wgprobe-$$ why=""
  ip netns add "$probe"
  ip -n "$probe" link add wg0 type wireguard 2>/dev/null || why="this kernel ($(uname -r)) has no WireGuard"
  ip netns del "$probe"
  echo "$why"
}

topo_require() {
  [ "$(id -u)" -eq 0 ] || topo_skip "needs root (network namespaces)"
  ip netns add "avpn-probe-$$" 2>/dev/null || topo_skip "cannot create network namespaces"
  ip netns del "avpn-probe-$$"
  local t
  for t in "$@"; do command -v "$t" >/dev/null || topo_skip "$t is not installed"; done
}

topo_init() {
  TOPO="av$(printf '%04x' $((RANDOM % 65536)))$$"
  TOPO=${TOPO:0:10}
  TOPO_WORK=$(mktemp -d "/tmp/avpn-$TOPO.XXXX")
  TOPO_PIDS=()
  trap topo_cleanup EXIT
  ip netns add "$TOPO-wan"
  ip -n "$TOPO-wan" link set lo up
  ip -n "$TOPO-wan" link add br0 type bridge
  ip -n "$TOPO-wan" link set br0 up
}

# topo_ns SITE -> the namespace name of SITE
topo_ns() { echo "$TOPO-$1"; }

# topo_site SITE WAN_CIDR [LAN_CIDR...]  e.g. topo_site hub 192.0.2.1/24 10.0.60.1/24
topo_site() {
  local site=$1 wan=$2; shift 2
  local ns; ns=$(topo_ns "$site")
  ip netns add "$ns"
  ip -n "$ns" link set lo up
  # Every site is a router: a hub forwards spoke-to-spoke traffic.
  ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
  ip link add "w$site$$" type veth peer name wan0 netns "$ns"
  ip link set "w$site$$" netns "$TOPO-wan"
  ip -n "$TOPO-wan" link set "w$site$$" master br0 up
  ip -n "$ns" addr add "$wan" dev wan0
  ip -n "$ns" link set wan0 up
  local i=0 lan
  for lan in "$@"; do
    ip -n "$ns" link add "lan$i" type veth peer name "lan${i}p"
    ip -n "$ns" addr add "$lan" dev "lan$i"
    ip -n "$ns" link set "lan$i" up
    ip -n "$ns" link set "lan${i}p" up
    i=$((i + 1))
  done
}

# topo_exec SITE CMD... runs CMD inside SITE's namespace. wireguard-go's UAPI
# sockets live in /run/wireguard whatever the namespace, so every site gets a
# private one: a bind mount inside the mount namespace `ip netns exec` makes,
# of the same per-site folder each time, so later commands find the sockets
# an earlier one created. Sites can then all use the same interface names.
topo_exec() {
  local site=$1; shift
  local run="$TOPO_WORK/run-$site"
  mkdir -p "$run" /run/wireguard
  ip netns exec "$(topo_ns "$site")" sh -c 'mount --bind "$0" /run/wireguard && exec "$@"' "$run" "$@"
}

# topo_spawn SITE CMD...: CMD in the background inside SITE, as topo_exec
# runs it but exec'd all the way down, so TOPO_SPAWNED (also added to
# TOPO_PIDS for cleanup) is CMD's own PID and signals reach CMD itself.
topo_spawn() {
  local site=$1; shift
  local run="$TOPO_WORK/run-$site"
  mkdir -p "$run" /run/wireguard
  (exec ip netns exec "$(topo_ns "$site")" sh -c 'mount --bind "$0" /run/wireguard && exec "$@"' "$run" "$@") &
  TOPO_SPAWNED=$!
  TOPO_PIDS+=("$TOPO_SPAWNED")
}

# topo_ping SITE SRC DST: one ICMP echo from SRC to DST, retried briefly
# (WireGuard needs a handshake first). Returns ping's status.
topo_ping() {
  local site=$1 src=$2 dst=$3 n
  for n in 1 2 3 4 5; do
    topo_exec "$site" ping -n -c 1 -W 1 -I "$src" "$dst" >/dev/null 2>&1 && return 0
  done
  return 1
}

topo_cleanup() {
  local rc=$?
  local p ns
  for p in "${TOPO_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done  # may have exited already
  for ns in $(ip netns list | awk '{print $1}' | grep "^$TOPO-"); do
    # wireguard-go and friends started inside die with their namespace's links.
    # A process listed here may finish exiting before kill reaches it (an
    # avpnd sent SIGTERM above, slow under ASan's leak check): kill then
    # fails, and under set -e that failure would become the test's status.
    ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true
  done
  if [ -n "${TOPO_WORK:-}" ]; then rm -rf "$TOPO_WORK" || true; fi
  return $rc
}

# --- added for the avpnctl apply/down tests and the README demo ---

# topo_demo: the three sites of examples/netns-demo (hub hq, spokes branch1
# and branch2) with the WAN contacts of its member list and one LAN per VLAN
# (lan0 = Corp, lan1 = Guest or Lab), in the order of the site files.
topo_demo() {
  topo_site hq 192.0.2.1/24 10.0.1.1/24 10.0.9.1/24
  topo_site branch1 192.0.2.11/24 10.1.1.1/24 10.1.2.1/24
  topo_site branch2 192.0.2.12/24 10.2.1.1/24 10.2.2.1/24
}

# topo_no_ping SITE SRC DST: succeeds when one ICMP echo from SRC to DST gets
# no reply within a second (call it after a topo_ping that proved the tunnel).
topo_no_ping() {
  ! topo_exec "$1" ping -n -c 1 -W 1 -I "$2" "$3" >/dev/null 2>&1
}

# topo_avpn_dump SITE: every object avpn could own in SITE, one per line, in
# a stable order: its links (avpn-*), their addresses, routes of avpn's
# protocol in any table, rules in avpn's band with its protocol, XFRM
# policies and states.
topo_avpn_dump() {
  local ns; ns=$(topo_ns "$1")
  ip -n "$ns" -o link show | awk -F': ' '$2 ~ /^avpn-/ {print "link " $2}' | sed 's/@.*//' | sort
  ip -n "$ns" -o addr show | awk '$2 ~ /^avpn-/ && $4 !~ /^fe80/ {print "addr " $2 " " $4}' | sort
  ip -n "$ns" route show table all proto 147 | sed 's/^/route /' | sort
  ip -n "$ns" -6 route show table all proto 147 | sed 's/^/route6 /' | sort
  ip -n "$ns" rule show | awk -F: '$1 >= 7000 && $1 <= 7099 && / proto 147$/ {print "rule" $0}' | sort
  ip -n "$ns" -6 rule show | awk -F: '$1 >= 7000 && $1 <= 7099 && / proto 147$/ {print "rule6" $0}' | sort
  ip -n "$ns" xfrm policy list | topo_avpn_xfrm xfrm-policy
  ip -n "$ns" xfrm state list 2>/dev/null | topo_avpn_xfrm xfrm-state
}

# topo_avpn_xfrm LABEL: of `ip xfrm policy|state` output on stdin, the
# records carrying avpn's reqid or if_id range (0x4156xxxx), one per line.
topo_avpn_xfrm() {
  awk -v label="$1" '
    function ours(r,  n) {
      if (r ~ /0x4156[0-9a-f][0-9a-f][0-9a-f][0-9a-f]/) return 1
      while (match(r, /reqid [0-9]+/)) {
        n = substr(r, RSTART + 6, RLENGTH - 6) + 0
        if (n >= 1095106560 && n <= 1095172095) return 1
        r = substr(r, RSTART + RLENGTH)
      }
      return 0
    }
    function flush() {
      gsub(/[ \t]+/, " ", rec); sub(/ $/, "", rec)
      if (rec != "" && ours(rec)) print label " " rec
      rec = ""
    }
    /^[^ \t]/ { flush() }
    { rec = rec " " $0; sub(/^ /, "", rec) }
    END { flush() }' | sed -E 's/(aead|enc|auth|auth-trunc) ([^ ]+) 0x[0-9a-f]+/\1 \2 <key>/g'  # never print keys
}

# topo_operator_dump SITE: everything in SITE that is not avpn's: routes of
# every table except avpn's protocol and devices, rules but avpn's (its band
# and its protocol),
# every XFRM policy and state. Byte-equal before and after avpn proves avpn
# left the operator's state alone.
topo_operator_dump() {
  local ns; ns=$(topo_ns "$1")
  local fam
  for fam in -4 -6; do
    ip -n "$ns" "$fam" route show table all | grep -v -e ' dev avpn-' -e ' proto 147' || true
    ip -n "$ns" "$fam" rule show | awk -F: '!($1 >= 7000 && $1 <= 7099 && / proto 147$/)'
  done
  ip -n "$ns" xfrm policy list
  ip -n "$ns" xfrm state list 2>/dev/null | sed -E 's/(aead|enc|auth|auth-trunc) ([^ ]+) 0x[0-9a-f]+/\1 \2 <key>/g'
}

# topo_settle SITE...: waits (at most 5 s) until no IPv6 address of the sites
# is tentative, so the kernel's own link-local routes stop appearing in
# dumps taken later.
topo_settle() {
  local s n
  for s in "$@"; do
    for n in $(seq 50); do
      [ -z "$(ip -n "$(topo_ns "$s")" -6 addr show tentative)" ] && break
      sleep 0.1
    done
  done
}

# topo_demo_copy SRC: a private, editable copy of SRC/examples/netns-demo in
# $DEMO (keys made private again: cp keeps the checkout's modes), then the
# demo's namespaces (topo_demo). Tests edit $DEMO, never the example.
topo_demo_copy() {
  DEMO=$TOPO_WORK/demo
  cp -r "$1/examples/netns-demo" "$DEMO"
  chmod 600 "$DEMO"/keys/*.key
  topo_demo
}

# topo_avpn SITE SUBCOMMAND [ARGS...]: $AVPNCTL inside SITE with the site's
# own state dir (several sites share this host), the site's own control
# socket (topo_avpnd_socket: the host's /run/avpn/avpnd.sock is never asked,
# so a test cannot reach an avpnd of the host or of another test) and any
# $TOPO_AVPN_ARGS.
topo_avpn() {
  local site=$1 cmd=$2; shift 2
  # shellcheck disable=SC2086
  topo_exec "$site" "$AVPNCTL" "$cmd" --state-dir "$TOPO_WORK/state-$site" \
    --control-socket "$(topo_avpnd_socket "$site")" ${TOPO_AVPN_ARGS:-} "$@"
}

# topo_avpnd_socket SITE: the control socket of SITE's avpnd in this test.
topo_avpnd_socket() { echo "$TOPO_WORK/run/avpnd-$1.sock"; }

# topo_udp_holder SITE PORT: who holds UDP port PORT in SITE, as ss names it
# ("avpnd",pid=812,fd=9), one socket per line; nothing when the port is free.
topo_udp_holder() {
  ip netns exec "$(topo_ns "$1")" ss -Huanp "sport = :$2" | grep -o 'users:(([^)]*))' | sed 's/^users:((//; s/))$//' | sort
}

topo_fail() { echo "FAIL: $*" >&2; exit 1; }

# topo_wait_for WHAT SECONDS CMD...: polls CMD every 0.1 s; on timeout fails
# through the test's own fail() when it has one (it prints the test's logs),
# else topo_fail.
topo_wait_for() {
  local what=$1 secs=$2; shift 2
  for _ in $(seq $((secs * 10))); do "$@" && return 0; sleep 0.1; done
  if declare -F fail >/dev/null; then fail "$what: not within $secs s"; else topo_fail "$what: not within $secs s"; fi
}
