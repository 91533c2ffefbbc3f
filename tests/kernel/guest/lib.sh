# Shared helpers for guest scripts (sourced; runs inside the kernel tier's VM
# as root). Every namespace made with make_ns is deleted on exit, pass or fail.
set -euo pipefail
ns_prefix=kt$$
made_ns=()
fail() { echo "FAIL: $*" >&2; exit 1; }
script_start=$(date +%s%N)
step() { echo "== [$(( ($(date +%s%N) - script_start) / 1000000 )) ms] $*"; }
delete_namespaces() {
  local ns
  for ns in "${made_ns[@]}"; do ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null || true; ip netns del "$ns" 2>/dev/null || true; done
  return 0
}
trap delete_namespaces EXIT

# make_ns NAME: a namespace named $ns_prefix-NAME (see ns) with lo up.
make_ns() {
  local ns=$ns_prefix-$1
  ip netns add "$ns"
  made_ns+=("$ns")
  ip -n "$ns" link set lo up
}
ns() { echo "$ns_prefix-$1"; }
in_ns() { local ns; ns=$(ns "$1"); shift; ip netns exec "$ns" "$@"; }
# in_ns_background NS CMD...: a helper process that cleanup kills (quietly).
in_ns_background() { local ns; ns=$(ns "$1"); shift; ip netns exec "$ns" "$@" & disown $!; }

# veth_link A IF_A ADDR_A B IF_B ADDR_B: a veth pair between namespaces A and B,
# addressed and up (addresses with prefix length, e.g. 192.0.2.1/24).
veth_link() {
  ip link add "$2" netns "$(ns "$1")" type veth peer name "$5" netns "$(ns "$4")"
  ip -n "$(ns "$1")" addr add "$3" dev "$2"
  ip -n "$(ns "$4")" addr add "$6" dev "$5"
  ip -n "$(ns "$1")" link set "$2" up
  ip -n "$(ns "$4")" link set "$5" up
}

# The two-site topology of the tests: namespaces a and b joined by a veth
# "WAN" (wan-a, wan-b), each with a host address of its site subnet on lo.
# Documentation ranges only (RFC 5737).
wan_a=192.0.2.1 wan_b=192.0.2.2
lan_a=198.51.100.0/24 lan_b=203.0.113.0/24 host_a=198.51.100.1 host_b=203.0.113.1
two_sites() {
  step "two sites over a veth WAN"
  make_ns a
  make_ns b
  veth_link a wan-a "$wan_a/24" b wan-b "$wan_b/24"
  ip -n "$(ns a)" addr add "$host_a/32" dev lo
  ip -n "$(ns b)" addr add "$host_b/32" dev lo
}

# pings NS DEST [ping options]: true when, once a first reply came (within
# 10 tries: ARP, handshakes and module loading are slow under emulation), 3
# echo requests in a row all get answers.
pings() {
  local n=$1 dest=$2 try; shift 2
  for try in $(seq 10); do
    in_ns "$n" ping -q -c 1 -W 1 "$@" "$dest" >/dev/null 2>&1 && break
    [ "$try" -eq 10 ] && return 1
  done
  in_ns "$n" ping -q -c 3 -i 0.2 -W 2 "$@" "$dest" >/dev/null 2>&1
}
# no_pings NS DEST [ping options]: true when none of 2 echo requests does.
no_pings() {
  local n=$1 dest=$2 out; shift 2
  out=$(in_ns "$n" ping -c 2 -i 0.2 -W 1 "$@" "$dest" 2>&1) && return 1
  grep -q ' 0 received' <<<"$out" || ! grep -q 'received' <<<"$out"
}
expect_ping() { pings "$@" || fail "no ping reply from $2 in namespace $1"; echo "ping $1 -> $2: ok"; }
expect_no_ping() { no_pings "$@" || fail "ping from $1 to $2 got replies but must not"; echo "ping $1 -> $2: no reply, as expected"; }

# random_hex BYTES: key material.
random_hex() { head -c "$1" /dev/urandom | od -An -tx1 | tr -d ' \n'; }

# at_least WHAT VALUE MIN
at_least() { [ "$2" -ge "$3" ] || fail "$1 is $2, expected at least $3"; echo "$1: $2"; }

# sa_packets NS SRC DST SPI: the packet count of an ESP SA (ip -s xfrm state).
sa_packets() {
  ip -n "$(ns "$1")" -s xfrm state get src "$2" dst "$3" proto esp spi "$4" |
    awk '/lifetime current:/ {getline; if (match($0, /[0-9]+\(packets\)/)) print substr($0, RSTART, RLENGTH - 9)}'
}

# link_stat NS IFNAME COUNTER: an interface counter (tx_packets, rx_packets...).
link_stat() { in_ns "$1" cat "/sys/class/net/$2/statistics/$3"; }

# ---- avpn's own data paths: the netns demo (examples/netns-demo) in the VM ----
# Sites are made with tests/netns/lib/topology.sh (hub hq, spokes branch1 and
# branch2 on a bridged "internet"); avpnctl comes from the build tree.
repo_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
avpnctl() { "${AVPN_BIN:?AVPN_BIN names no build tree bin/}/avpnctl" "$@"; }
require_avpnctl() {
  [ -x "${AVPN_BIN:-}/avpnctl" ] || { echo "skipped: no avpnctl in AVPN_BIN ('${AVPN_BIN:-}')"; exit 77; }
}

# demo_init: topo_init, with both cleanups (topology's and make_ns's) on exit.
demo_init() {
  # shellcheck source=../../netns/lib/topology.sh
  . "$repo_dir/tests/netns/lib/topology.sh"
  topo_init
  trap 'topo_cleanup; delete_namespaces' EXIT
}

# demo_sites [vlan]: the three sites with the demo's WAN addresses (the
# members.toml contacts). Plain: each VLAN on its own LAN veth (lan0, lan1).
# vlan: every VLAN an 802.1Q subinterface of one trunk lan0 (lan0.<id>).
demo_sites() {
  if [ "${1:-}" = vlan ]; then
    topo_site hq 192.0.2.1/24
    topo_site branch1 192.0.2.11/24
    topo_site branch2 192.0.2.12/24
    vlan_lans hq 10 10.0.1.1/24 90 10.0.9.1/24
    vlan_lans branch1 10 10.1.1.1/24 20 10.1.2.1/24
    vlan_lans branch2 10 10.2.1.1/24 20 10.2.2.1/24
  else
    topo_site hq 192.0.2.1/24 10.0.1.1/24 10.0.9.1/24
    topo_site branch1 192.0.2.11/24 10.1.1.1/24 10.1.2.1/24
    topo_site branch2 192.0.2.12/24 10.2.1.1/24 10.2.2.1/24
  fi
}

# vlan_lans SITE ID ADDR [ID ADDR...]: trunk veth lan0 (peer lan0p) with one
# 802.1Q subinterface lan0.ID per VLAN carrying ADDR.
vlan_lans() {
  local n; n=$(topo_ns "$1"); shift
  ip -n "$n" link add lan0 type veth peer name lan0p
  ip -n "$n" link set lan0 up
  ip -n "$n" link set lan0p up
  while [ $# -ge 2 ]; do
    ip -n "$n" link add link lan0 name "lan0.$1" type vlan id "$1"
    ip -n "$n" addr add "$2" dev "lan0.$1"
    ip -n "$n" link set "lan0.$1" up
    shift 2
  done
}

# demo_config DIR VARIANT...: a copy of examples/netns-demo in DIR (keys made
# private again), with each variant applied to every site file:
#   xfrm            transport = "xfrm" in the member list's [group] header
#                   (the group's setting), no WireGuard backend in the sites
#   wg-kernel       wireguard_backend = "kernel"
#   vlan            VLAN interfaces lan0.<id> (see demo_sites vlan)
demo_config() {
  local dir=$1 v f; shift
  cp -r "$repo_dir/examples/netns-demo/." "$dir/"
  chmod 700 "$dir/keys"
  chmod 600 "$dir"/keys/*.key
  for v in "$@"; do
    if [ "$v" = xfrm ]; then
      sed -i 's/^transport = .*/transport = "xfrm"/' "$dir/members.toml"
      grep -q '^transport = "xfrm"' "$dir/members.toml" || fail "demo_config: no transport in $dir/members.toml"
    fi
    for f in "$dir"/sites/*.toml; do
      case $v in
        xfrm) sed -i '/^wireguard_backend = /d' "$f" ;;
        wg-kernel) sed -i 's/^wireguard_backend = .*/wireguard_backend = "kernel"/' "$f" ;;
        vlan) awk '/^id = / {id = $3} /^interface = "lan/ {$0 = "interface = \"lan0." id "\""} {print}' "$f" >"$f.new" && mv "$f.new" "$f" ;;
        *) fail "demo_config: unknown variant $v" ;;
      esac
    done
  done
}

# site_apply SITE DIR [apply args]: avpnctl apply of DIR/sites/SITE.toml inside
# the site's namespace, with a state directory of its own.
site_apply() {
  local site=$1 dir=$2; shift 2
  mkdir -p "$dir/state-$site"
  ip netns exec "$(topo_ns "$site")" "$AVPN_BIN/avpnctl" apply "$dir/sites/$site.toml" \
    --state-dir "$dir/state-$site" "$@"
}
# site_avpnd SITE DIR: avpnd for DIR/sites/SITE.toml inside the site's
# namespace (state DIR/state-SITE, control socket DIR/avpnd-SITE.sock, log
# DIR/avpnd-SITE.log); waits for its first apply and fails unless it
# succeeded. AVPND_PID is its pid; topology's cleanup stops it.
site_avpnd() { site_avpnd_start "$@"; site_avpnd_wait "$@"; }
# site_avpnd_start SITE DIR / site_avpnd_wait SITE DIR: the two halves of
# site_avpnd, so several sites' avpnd start at once (each start costs
# seconds in the emulated VM).
site_avpnd_start() {
  local site=$1 dir=$2
  mkdir -p "$dir/state-$site"
  topo_spawn "$site" "$AVPN_BIN/avpnd" "$dir/sites/$site.toml" --state-dir "$dir/state-$site" \
    --control-socket "$dir/avpnd-$site.sock" --vici-socket "$dir/no-charon.vici" \
    --resync 3600 --quiet-ms 100 2>"$dir/avpnd-$site.log" >/dev/null
  AVPND_PID=$TOPO_SPAWNED
}
site_avpnd_wait() {
  local site=$1 dir=$2 _
  for _ in $(seq 300); do grep -q 'full apply (start)' "$dir/avpnd-$site.log" && break; sleep 0.1; done
  grep -q 'full apply (start): ' "$dir/avpnd-$site.log" || { cat "$dir/avpnd-$site.log" >&2; fail "$site: avpnd's first apply failed"; }
  for _ in $(seq 100); do [ -S "$dir/avpnd-$site.sock" ] && break; sleep 0.1; done
  [ -S "$dir/avpnd-$site.sock" ] || fail "$site: avpnd has no control socket"
}
# site_ctl SITE DIR CMD [args]: avpnctl CMD through the site's avpnd.
site_ctl() {
  local site=$1 dir=$2 cmd=$3; shift 3
  ip netns exec "$(topo_ns "$site")" "$AVPN_BIN/avpnctl" "$cmd" --control-socket "$dir/avpnd-$site.sock" "$@"
}

# demo_apply_all DIR: site_apply --json of hq, branch1, branch2 in that order;
# each report kept as DIR/apply-SITE.json, its summary printed.
demo_apply_all() {
  local cfg=$1 site
  for site in hq branch1 branch2; do
    step "avpnctl apply: $site"
    site_apply "$site" "$cfg" --json >"$cfg/apply-$site.json" || { cat "$cfg/apply-$site.json"; fail "$site: apply failed"; }
    jq -r '"applied \(.applied), \(.changes) changes"' "$cfg/apply-$site.json"
  done
}

in_site() { local n; n=$(topo_ns "$1"); shift; ip netns exec "$n" "$@"; }

# site_pings SITE SRC DST: as pings, from address SRC of SITE.
site_pings() {
  local site=$1 src=$2 dst=$3 try
  for try in $(seq 10); do
    in_site "$site" ping -n -q -c 1 -W 1 -I "$src" "$dst" >/dev/null 2>&1 && break
    [ "$try" -eq 10 ] && return 1
  done
  in_site "$site" ping -n -q -c 3 -i 0.2 -W 2 -I "$src" "$dst" >/dev/null 2>&1
}
expect_site_ping() { site_pings "$@" || fail "$1: no reply from $3 to pings from $2"; echo "ping $1 $2 -> $3: ok"; }
expect_no_site_ping() {
  local out
  out=$(in_site "$1" ping -n -c 2 -i 0.2 -W 1 -I "$2" "$3" 2>&1) && fail "$1: $3 answered pings from $2 but must not"
  grep -q ' 0 received' <<<"$out" || ! grep -q 'received' <<<"$out" || fail "$1: $3 answered some pings from $2"
  echo "ping $1 $2 -> $3: no reply, as expected"
}

# The demo's reachability matrix (either transport): shareable + permitted
# VLANs are reachable hub<->spoke and spoke<->spoke via the hub; hq's Guest
# (not shareable) and the spokes' Lab (shareable, not permitted) are not.
demo_expect_exports() {
  expect_site_ping branch1 10.1.1.1 10.0.1.1
  expect_site_ping hq 10.0.1.1 10.1.1.1
  expect_site_ping branch2 10.2.1.1 10.0.1.1
  expect_site_ping branch1 10.1.1.1 10.2.1.1
  expect_no_site_ping branch1 10.1.1.1 10.0.9.1   # hq Guest: not shareable
  expect_no_site_ping hq 10.0.9.1 10.1.1.1        # ... not even as a source
  expect_no_site_ping hq 10.0.1.1 10.1.2.1        # branch1 Lab: not permitted
  expect_no_site_ping branch2 10.2.1.1 10.1.2.1
  expect_no_site_ping branch1 10.1.2.1 10.0.1.1   # ... not even as a source
}

# ---- strongSwan's charon per site, kernel ESP (the IPsec tests) ----
# A script using these sets `work` (its scratch folder); each site's files
# are in $work/SITE.
charon=/usr/lib/ipsec/charon
charon_plugins="random nonce aes sha1 sha2 hmac md5 kdf gmp pem pkcs1 pubkey x509 kernel-netlink socket-default vici"

# charon_conf SITE EXTRA: strongswan.conf with a private vici socket; EXTRA
# goes into the charon section.
charon_conf() {
  mkdir -p "$work/$1/run" "$work/$1/swanctl"
  cat >"$work/$1/strongswan.conf" <<CONF
charon {
    load_modular = no
    load = $charon_plugins
    $2
    plugins { vici { socket = unix://$work/$1/charon.vici } }
    filelog { log { path = $work/$1/charon.log
                    time_format = %H:%M:%S
                    flush_line = yes
                    default = 1
                    ike = 2 } }
    syslog { daemon { default = -1 } }
}
swanctl { plugins { vici { socket = unix://$work/$1/charon.vici } } }
CONF
}
# start_charon SITE: charon in SITE's namespace with a private /run (its pid
# file path is fixed), waits until vici answers.
start_charon() {
  STRONGSWAN_CONF=$work/$1/strongswan.conf in_ns_background "$1" \
    sh -c "mount --bind '$work/$1/run' /run && exec $charon" >"$work/$1/charon.out" 2>&1
  for _ in $(seq 100); do
    STRONGSWAN_CONF=$work/$1/strongswan.conf swanctl --version >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  fail "charon of $1 does not answer"
}
