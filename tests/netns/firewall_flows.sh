#!/usr/bin/env bash
# [[firewall]] enforced end to end (issue 16, docs/firewall.md): the hub and
# two spokes of examples/netns-demo in namespaces, each with a host behind
# its Corp VLAN (a namespace of its own, so its traffic is forwarded by the
# site and passes table inet avpn's forward chain), and a small acme-like
# policy in place of the demo's allow-everything rules. Real flows (ICMP
# echo, TCP connects, UDP request/reply, each with a timeout) between the
# hosts; the test prints flow -> expected -> observed and fails on any
# difference. The policy shows:
#   - each rule allows exactly what it says (protocol, port, peer);
#   - the default drop stops the rest, leaving (spoke's own table) and
#     entering (hub's) a site;
#   - replies of an allowed connection pass without a rule for the way back
#     (TCP and UDP replies, and the reverse connection is refused);
#   - a deny before an allow wins (hq rules 3 and 4);
#   - avpnctl status shows the counters of the rules that matched and of the
#     default drop.
# And an operator table (inet operator: a set, a forward chain, a rule) is
# byte-identical in `nft -j list ruleset` (minus table inet avpn) after
# apply, after the flows and after down; down removes table inet avpn.
set -euo pipefail
SRC=${AVPN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
AVPNCTL=${AVPN_BIN:-$SRC/build/bin}/avpnctl
# shellcheck source=lib/topology.sh
. "$SRC/tests/netns/lib/topology.sh"

topo_require jq wireguard-go ping nft python3
[ -x "$AVPNCTL" ] || { echo "FAIL: $AVPNCTL not built"; exit 1; }
topo_init
SITES=(hq branch1 branch2)
topo_demo_copy "$SRC"

fail() { topo_fail "$@"; }
step() { echo "== $*"; }
avpn() { topo_avpn "$@"; }

declare -A HOST=([hq]=10.0.1.2 [branch1]=10.1.1.2 [branch2]=10.2.1.2)
declare -A GW=([hq]=10.0.1.1 [branch1]=10.1.1.1 [branch2]=10.2.1.1)

# The policy under test replaces the demo's rules (from its comment on).
for s in "${SITES[@]}"; do
  sed -i '/^# Without rules nothing passes/,$d' "$DEMO/sites/$s.toml"
  ! grep -q '^\[\[firewall\]\]' "$DEMO/sites/$s.toml" || fail "$s: the demo's rules are still there"
done
cat >>"$DEMO/sites/hq.toml" <<'EOF'
[[firewall]]
comment = "rule 1: SSH to the hub's Corp from every peer"
from = "any"
to = "vlan:Corp"
protocol = "tcp"
ports = [22]

[[firewall]]
comment = "rule 2: Corp pings branch1"
from = "vlan:Corp"
to = "site:branch1"
protocol = "icmp"

[[firewall]]
comment = "rule 3: no DNS to branch2 (before rule 4, so it wins)"
action = "deny"
from = "vlan:Corp"
to = "site:branch2"
protocol = "udp"
ports = [53]

[[firewall]]
comment = "rule 4: Corp sends any UDP to the group"
from = "vlan:Corp"
to = "any"
protocol = "udp"
EOF
cat >>"$DEMO/sites/branch1.toml" <<'EOF'
[[firewall]]
comment = "rule 1: Corp opens anything towards the group"
from = "vlan:Corp"
to = "any"

[[firewall]]
comment = "rule 2: the hub pings Corp"
from = "site:hq"
to = "vlan:Corp"
protocol = "icmp"

[[firewall]]
comment = "rule 3: the hub asks Corp's DNS"
from = "site:hq"
to = "vlan:Corp"
protocol = "udp"
ports = [53]
EOF
cat >>"$DEMO/sites/branch2.toml" <<'EOF'
[[firewall]]
comment = "rule 1: Corp reaches the hub's SSH"
from = "vlan:Corp"
to = "site:hq"
protocol = "tcp"
ports = [22]

[[firewall]]
comment = "rule 2: everyone asks Corp's DNS"
from = "any"
to = "vlan:Corp"
protocol = "udp"
ports = [53]
EOF

step "a host behind each site's Corp VLAN, serving TCP 22 and 80, UDP 53 and 5353"
cat >"$TOPO_WORK/serve.py" <<'EOF'
import selectors, socket
sel = selectors.DefaultSelector()
for port in (22, 80):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port))
    s.listen(16)
    sel.register(s, selectors.EVENT_READ, "tcp")
for port in (53, 5353):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("0.0.0.0", port))
    sel.register(u, selectors.EVENT_READ, "udp")
while True:
    for key, _ in sel.select():
        if key.data == "tcp":
            c, _ = key.fileobj.accept()
            c.sendall(b"hello\n")
            c.close()
        else:
            data, peer = key.fileobj.recvfrom(2048)
            key.fileobj.sendto(data, peer)
EOF
# connect.py tcp|udp ADDR PORT: 0 when the server answered within 1.5 s.
cat >"$TOPO_WORK/connect.py" <<'EOF'
import socket, sys
proto, addr, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
try:
    if proto == "tcp":
        s = socket.create_connection((addr, port), timeout=1.5)
        sys.exit(0 if s.recv(16) == b"hello\n" else 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(1.5)
    s.sendto(b"ping", (addr, port))
    data, _ = s.recvfrom(16)
    sys.exit(0 if data == b"ping" else 1)
except OSError:
    sys.exit(1)
EOF
for s in "${SITES[@]}"; do
  h=$(topo_ns "$s-host")
  ip netns add "$h"
  ip -n "$h" link set lo up
  ip -n "$(topo_ns "$s")" link set lan0p netns "$h"
  ip -n "$h" addr add "${HOST[$s]}/24" dev lan0p
  ip -n "$h" link set lan0p up
  ip -n "$h" route add default via "${GW[$s]}"
  topo_spawn "$s-host" python3 "$TOPO_WORK/serve.py"
done

step "an operator's table in hq"
HQ=$(topo_ns hq)
ip netns exec "$HQ" nft -f - <<'EOF'
table inet operator {
  set blocked { type ipv4_addr; elements = { 192.0.2.99 } }
  chain screen {
    type filter hook forward priority 0; policy accept;
    ip saddr @blocked counter drop
  }
}
EOF
# Everything in the ruleset but table inet avpn's objects.
operator_ruleset() {
  ip netns exec "$HQ" nft -j list ruleset | jq -S '[.nftables[] | select(
      (has("table") and .table.family == "inet" and .table.name == "avpn")
      or ((to_entries[0].value | type) == "object" and to_entries[0].value.family? == "inet"
          and to_entries[0].value.table? == "avpn") | not)]'
}
operator_ruleset >"$TOPO_WORK/operator.before"
grep -q '"blocked"' "$TOPO_WORK/operator.before" || fail "the operator's table is not in the ruleset"

step "apply"
for s in "${SITES[@]}"; do
  out=$(avpn "$s" apply --json "$DEMO/sites/$s.toml") || fail "$s: apply failed: $out"
  jq -e '.firewall.action == "replaced" and .firewall.rules > 0' <<<"$out" >/dev/null ||
    fail "$s: the apply report does not say the table was replaced: $(jq -c .firewall <<<"$out")"
  ip netns exec "$(topo_ns "$s")" nft list table inet avpn >/dev/null || fail "$s: no table inet avpn after apply"
done
cmp -s "$TOPO_WORK/operator.before" <(operator_ruleset) || fail "the operator's table changed with apply"
# The tunnels' handshakes, from the routers themselves (their own traffic
# does not pass the forward chain).
topo_ping hq 10.0.1.1 10.1.1.1 || fail "no tunnel hq -> branch1"
topo_ping hq 10.0.1.1 10.2.1.1 || fail "no tunnel hq -> branch2"
topo_ping branch1 10.1.1.1 10.2.1.1 || fail "no path branch1 -> branch2"

# flow FROM TO PROTO [PORT]: 0 when it got through (and its answer back).
flow() {
  local from=$1 to=$2 proto=$3 port=${4:-}
  if [ "$proto" = icmp ]; then
    topo_exec "$from-host" ping -n -c 1 -W 1 "${HOST[$to]}" >/dev/null 2>&1
  else
    topo_exec "$from-host" python3 "$TOPO_WORK/connect.py" "$proto" "${HOST[$to]}" "$port"
  fi
}

step "flows between the hosts"
# from to proto port expected why
FLOWS=(
  "hq branch1 icmp - pass hq#2-out,branch1#2-in"
  "hq branch2 icmp - drop hq-default-drop-out"
  "branch1 hq tcp 22 pass branch1#1-out,hq#1-in,replies-established"
  "hq branch1 tcp 22 drop reverse-of-an-allowed-connection:hq-default-drop"
  "branch1 hq tcp 80 drop hq-default-drop-in"
  "branch1 hq icmp - drop hq-default-drop-in"
  "branch2 hq tcp 22 pass branch2#1-out,hq#1-in"
  "branch2 hq icmp - drop branch2-default-drop-out"
  "hq branch1 udp 53 pass hq#4-out,branch1#3-in,reply-established"
  "hq branch2 udp 53 drop hq#3-deny-before-#4-allow"
  "hq branch2 udp 5353 drop hq#4-out,branch2-default-drop-in"
  "branch1 branch2 udp 53 pass branch1#1-out,hq-relays,branch2#2-in"
  "branch1 branch2 icmp - drop branch2-default-drop-in"
  "branch2 branch1 udp 53 drop branch2-default-drop-out"
)
printf '   %-8s -> %-8s %-5s %-5s %-8s %-8s %s\n' from to proto port expected observed why
bad=0
for row in "${FLOWS[@]}"; do
  read -r from to proto port want why <<<"$row"
  if flow "$from" "$to" "$proto" "$port"; then got=pass; else got=drop; fi
  mark=""
  [ "$got" = "$want" ] || { mark="  <-- WRONG"; bad=$((bad + 1)); }
  printf '   %-8s -> %-8s %-5s %-5s %-8s %-8s %s%s\n' "$from" "$to" "$proto" "$port" "$want" "$got" "$why" "$mark"
done
[ "$bad" = 0 ] || fail "$bad of ${#FLOWS[@]} flows not as the policy says"
echo "   ${#FLOWS[@]} of ${#FLOWS[@]} flows as the policy says"

step "avpnctl status: the rules' counters and the default drop's"
st=$(avpn hq status --json) || fail "status failed: $st"
jq -c '.firewall' <<<"$st"
count() { jq -r --arg n "$2" '.firewall.counters[] | select(.name == $n) | .packets' <<<"$1"; }
[ "$(jq -r '.firewall.present' <<<"$st")" = true ] || fail "status shows no table"
for n in rule-1 rule-2 rule-3 rule-4 default-drop; do
  [ "$(count "$st" $n)" -ge 1 ] 2>/dev/null || fail "hq's $n counted nothing: $(jq -c .firewall <<<"$st")"
done
st1=$(avpn branch1 status) || fail "status failed"
grep -q '^  rule-3: [1-9][0-9]* packets' <<<"$st1" || fail "branch1's text status lacks rule-3's packets: $st1"
echo "$st1" | sed -n '/^firewall/,$p'
cmp -s "$TOPO_WORK/operator.before" <(operator_ruleset) || fail "the operator's table changed with the flows"

step "an unchanged apply keeps the counters (the table is not rewritten)"
before=$(count "$st" rule-1)
out=$(avpn hq apply --json "$DEMO/sites/hq.toml") || fail "re-apply failed: $out"
jq -e '.firewall.action == "unchanged" and .changes == 0' <<<"$out" >/dev/null || fail "re-apply: $(jq -c .firewall <<<"$out")"
after=$(count "$(avpn hq status --json)" rule-1)
[ "$after" -ge "$before" ] || fail "rule-1's counter went from $before to $after: the table was rewritten"

step "down"
for s in "${SITES[@]}"; do
  out=$(avpn "$s" down --json) || fail "$s: down failed: $out"
  jq -e '.firewall.action == "removed"' <<<"$out" >/dev/null || fail "$s: down does not say it removed the table"
  ! ip netns exec "$(topo_ns "$s")" nft list table inet avpn >/dev/null 2>&1 || fail "$s: table inet avpn left after down"
done
cmp -s "$TOPO_WORK/operator.before" <(operator_ruleset) || fail "the operator's table changed with down"
echo "PASS"
