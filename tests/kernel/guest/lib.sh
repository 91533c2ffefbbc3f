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
  for ns in "${made_ns[@]}"; do ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null; ip netns del "$ns" 2>/dev/null; done
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
