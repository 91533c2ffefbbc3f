#!/usr/bin/env bash
# Status by site name and the Prometheus metrics (examples/netns-demo, hub
# hq under avpnd with `metrics` set, spokes applied one-shot):
# - a one-shot apply of hq with `metrics` is refused (exit 7) naming the
#   field: only avpnd serves scrapes;
# - `avpnctl status --json` through hq's avpnd names branch1 and branch2 by
#   site with the role, tunnel address and exports the config gives them
#   (compared with the member list and `avpnctl plan --json`), their static
#   contacts, and records the apply and branch1's first handshake in its
#   event history; the text output fits 80 columns;
# - the one-shot status of branch1 shows hq as its direct peer and branch2
#   reached via hq;
# - a real HTTP client (python3 urllib) scrapes http://127.0.0.1:9586/metrics
#   in hq: HELP/TYPE lines, per-peer series labelled site="branch1", and
#   branch1's rx bytes grow after pings through the tunnel; / is 404 and an
#   oversized request is refused without stalling avpnd.
set -euo pipefail
SRC=${AVPN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BIN=${AVPN_BIN:-$SRC/build/bin}
AVPNCTL=$BIN/avpnctl
AVPND=$BIN/avpnd
# shellcheck source=lib/topology.sh
. "$SRC/tests/netns/lib/topology.sh"
topo_require jq wireguard-go ping python3
[ -x "$AVPND" ] || { echo "FAIL: $AVPND not built"; exit 1; }
topo_init
topo_demo_copy "$SRC"
# A router's uplink has a default route; without one avpnd reports it down
# (docs/uplinks.md). The gateway is nobody on the WAN bridge: nothing here
# leaves through it.
ip -n "$(topo_ns hq)" route add default via 192.0.2.254 dev wan0
LOG=$TOPO_WORK/avpnd-hq.log
fail() { [ -f "$LOG" ] && sed 's/^/   avpnd| /' "$LOG" >&2; topo_fail "$@"; }
step() { echo "== $*"; }
TOPO_AVPN_ARGS="--vici-socket $TOPO_WORK/no-charon.vici"
avpn() { topo_avpn "$@"; }
log_has() { grep -q "$1" "$LOG"; }
METRICS=127.0.0.1:9586
sed -i "s|^key_file = \"../keys/hq.key\"|&\nmetrics = \"$METRICS\"|" "$DEMO/sites/hq.toml"
grep -q "^metrics = " "$DEMO/sites/hq.toml" || fail "could not set metrics in hq.toml"

step "a one-shot apply refuses metrics"
rc=0; out=$(avpn hq apply "$DEMO/sites/hq.toml" 2>&1) || rc=$?
[ "$rc" = 7 ] || fail "one-shot apply with metrics exited $rc, not 7: $out"
line=$(grep -n '^metrics = ' "$DEMO/sites/hq.toml" | cut -d: -f1)
[[ $out == *"hq.toml:$line:"*"metrics = \"$METRICS\" needs avpnd"* ]] || fail "the refusal does not name metrics at hq.toml:$line: $out"

step "avpnd on hq, then the spokes one-shot"
topo_spawn hq "$AVPND" "$DEMO/sites/hq.toml" --state-dir "$TOPO_WORK/state-hq" \
  --vici-socket "$TOPO_WORK/no-charon.vici" --control-socket "$(topo_avpnd_socket hq)" \
  --resync 3600 --quiet-ms 100 --wireguard-poll-ms 300 2>"$LOG" >/dev/null
topo_wait_for "first full apply" 20 log_has "full apply (start): "
topo_wait_for "metrics served" 5 log_has "metrics: serving http://$METRICS/metrics"
# The spokes after avpnd's first WireGuard polls (every 300 ms): those saw
# no handshake, so branch1's first one is a change the event history shows.
sleep 1
for s in branch1 branch2; do avpn "$s" apply "$DEMO/sites/$s.toml" >/dev/null || fail "apply $s"; done
topo_ping branch1 10.1.1.1 10.0.1.1 || fail "no ping branch1 -> hq"

step "status through avpnd names the peers by site, as the config says"
st=$(avpn hq status --json) || fail "status: $st"
plan=$(topo_exec hq "$AVPNCTL" plan "$DEMO/sites/hq.toml" --json 2>/dev/null) || fail "plan: $plan"
members=$(python3 -c 'import json,sys,tomllib; print(json.dumps(tomllib.load(open(sys.argv[1],"rb"))["member"]))' "$DEMO/members.toml")
[ "$(jq -r '[.peers[].site] | join(" ")' <<<"$st")" = "branch1 branch2" ] || fail "peers are not branch1 branch2: $(jq -c .peers <<<"$st")"
for s in branch1 branch2; do
  row=$(jq -c --arg s "$s" '.peers[] | select(.site == $s)' <<<"$st")
  want_role=$(jq -r --arg s "$s" '.[] | select(.name == $s) | .role' <<<"$members")
  want_exports=$(jq -c --arg s "$s" '.[] | select(.name == $s) | .exports' <<<"$members")
  want_contact=$(jq -r --arg s "$s" '.[] | select(.name == $s) | .contact' <<<"$members")
  want_addr=$(jq -r --arg s "$s" '.peers[] | select(.site == $s) | .tunnel_address' <<<"$plan")
  want_key=$(jq -r --arg s "$s" '.[] | select(.name == $s) | .public_key' <<<"$members")
  [ "$(jq -r .role <<<"$row")" = "$want_role" ] || fail "$s: role $(jq -r .role <<<"$row"), config says $want_role"
  [ "$(jq -c .exports <<<"$row")" = "$want_exports" ] || fail "$s: exports $(jq -c .exports <<<"$row"), config says $want_exports"
  [ "$(jq -r .tunnel_address <<<"$row")" = "$want_addr" ] || fail "$s: tunnel address $(jq -r .tunnel_address <<<"$row"), plan says $want_addr"
  [ "$(jq -r .endpoint <<<"$row")" = "$want_contact" ] || fail "$s: endpoint $(jq -r .endpoint <<<"$row"), contact $want_contact"
  [ "$(jq -r '.contact + " " + (.direct|tostring) + " " + .public_key' <<<"$row")" = "static true $want_key" ] || fail "$s: $row"
done
jq -e '.peers[] | select(.site == "branch1") | .last_handshake > 0 and .rx_bytes > 0' <<<"$st" >/dev/null ||
  fail "branch1 has no handshake or bytes after a ping: $(jq -c .peers <<<"$st")"
jq -e '.avpnd.events | map(select(.kind == "apply" and (.text | startswith("full apply (start)")))) | length == 1' <<<"$st" >/dev/null ||
  fail "the event history lacks the first apply: $(jq -c .avpnd.events <<<"$st")"
# A hub with no fellow hub has no probe target: no rounds, no figures.
jq -e '.avpnd.uplinks == [{"name":"wan0","address":"192.0.2.1","healthy":true,"why":"","active":true,
  "probes":0,"probes_lost":0,"latency_ms":null,"probe_problem":""}]' <<<"$st" >/dev/null ||
  fail "uplinks: $(jq -c .avpnd.uplinks <<<"$st")"
# The WireGuard poll saw branch1's first handshake (the device existed
# before it, without one).
peer_up() { avpn hq status --json | jq -e '.avpnd.events | map(select(.kind == "peer" and .text == "demo/branch1: up (handshake)")) | length == 1' >/dev/null; }
topo_wait_for "branch1 up in the event history" 3 peer_up
text=$(avpn hq status) || fail "text status"
sed 's/^/   status| /' <<<"$text"
long=$(awk 'length > 80' <<<"$text")
[ -z "$long" ] || fail "status lines over 80 columns: $long"
grep -q "^  branch1 (spoke, demo) $(jq -r '.peers[] | select(.site == "branch1") | .tunnel_address' <<<"$plan")\$" <<<"$text" ||
  fail "text status does not name branch1: $text"

step "the one-shot status of branch1: hq direct, branch2 via hq"
st1=$(avpn branch1 status --json) || fail "branch1 status: $st1"
jq -e '[.peers[] | {site, direct, via}] == [{"site":"branch2","direct":false,"via":"hq"},{"site":"hq","direct":true,"via":""}]' <<<"$st1" >/dev/null ||
  fail "branch1's peers: $(jq -c .peers <<<"$st1")"
[ "$(jq -r '.peers[] | select(.site == "branch2") | .tunnel_address' <<<"$st1")" = \
  "$(jq -r '.peers[] | select(.site == "branch2") | .tunnel_address' <<<"$plan")" ] || fail "branch2's address differs from hq's plan"

step "metrics: a real HTTP client scrapes hq"
scrape() {
  topo_exec hq python3 -c 'import sys,urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())' \
    "http://$METRICS/metrics"
}
rx_of() { awk -v s="$1" '$1 == "avpn_peer_receive_bytes_total{group=\"demo\",site=\"" s "\"}" {print $2}' <<<"$2"; }
m1=$(scrape) || fail "scrape failed"
for fam in avpn_peer_info avpn_peer_handshake_age_seconds avpn_peer_receive_bytes_total avpn_peer_transmit_bytes_total \
  avpn_uplink_up avpn_applies_total avpn_apply_errors_total; do
  grep -q "^# HELP $fam " <<<"$m1" || fail "no HELP for $fam"
  grep -q "^# TYPE $fam " <<<"$m1" || fail "no TYPE for $fam"
done
grep -qx 'avpn_peer_info{group="demo",site="branch1",role="spoke",transport="wireguard",path="direct",via=""} 1' <<<"$m1" ||
  fail "no info series for branch1: $(grep avpn_peer_info <<<"$m1")"
grep -qx 'avpn_uplink_up{uplink="wan0"} 1' <<<"$m1" || fail "wan0 is not up"
grep -q '^avpn_peer_handshake_age_seconds{group="demo",site="branch1"} [0-9]*$' <<<"$m1" || fail "no handshake age for branch1"
rx1=$(rx_of branch1 "$m1")
[ -n "$rx1" ] || fail "no rx series for branch1: $(grep receive <<<"$m1")"
for _ in 1 2 3 4 5; do topo_exec branch1 ping -n -c 1 -W 1 -s 1000 -I 10.1.1.1 10.0.1.1 >/dev/null || true; done
grown() { m2=$(scrape) && [ "$(rx_of branch1 "$m2")" -gt $((rx1 + 5000)) ]; }
topo_wait_for "branch1's rx bytes to grow by 5 pings of 1000 bytes (from $rx1)" 5 grown
echo "   rx branch1: $rx1 -> $(rx_of branch1 "$m2") bytes"
# table inet avpn's counters: one series per counter status names (the
# site's rules and the default drop), read by avpnd's poll, not the scrape.
fw_names=$(avpn hq status --json | jq -r '.firewall.counters[].name' | sort)
[ -n "$fw_names" ] && grep -qx default-drop <<<"$fw_names" || fail "status shows no firewall counters: '$fw_names'"
fw_read() { m3=$(scrape) && grep -q '^avpn_firewall_read_timestamp_seconds [1-9]' <<<"$m3"; }
topo_wait_for "avpnd's poll to read the firewall counters" 10 fw_read
for n in $fw_names; do
  grep -q "^avpn_firewall_packets_total{rule=\"$n\"} [0-9]*$" <<<"$m3" || fail "no packets series for $n"
  grep -q "^avpn_firewall_bytes_total{rule=\"$n\"} [0-9]*$" <<<"$m3" || fail "no bytes series for $n"
done
[ "$(grep -c '^avpn_firewall_packets_total{' <<<"$m3")" = "$(wc -l <<<"$fw_names")" ] ||
  fail "the metrics' firewall rules differ from status': $(grep '^avpn_firewall_packets_total' <<<"$m3")"
echo "   firewall counters in the metrics: $(echo $fw_names)"
code=$(topo_exec hq python3 -c '
import sys,urllib.request,urllib.error
try: urllib.request.urlopen(sys.argv[1], timeout=5); print(200)
except urllib.error.HTTPError as e: print(e.code)' "http://$METRICS/")
[ "$code" = 404 ] || fail "/ answered $code, not 404"
code=$(topo_exec hq python3 -c '
import socket,sys
s=socket.create_connection(("127.0.0.1",9586),timeout=5)
s.sendall(b"GET /metrics HTTP/1.1\r\nX-Pad: "+b"a"*20000+b"\r\n\r\n")
print(s.recv(64).split()[1].decode())')
[ "$code" = 431 ] || fail "an oversized request answered $code, not 431"
# A client that connects and says nothing is dropped after the deadline;
# meanwhile the loop stays responsive (status answers).
topo_exec hq python3 -c 'import socket,time; s=socket.create_connection(("127.0.0.1",9586)); time.sleep(3)' &
silent=$!
sleep 0.3
t0=$(date +%s%N)
avpn hq status >/dev/null || fail "status while a scraper hangs"
ms=$((($(date +%s%N) - t0) / 1000000))
[ "$ms" -lt 1500 ] || fail "status took $ms ms while a scraper hung"
wait "$silent" || true
scrape >/dev/null || fail "no scrape after the silent client"
for s in branch1 branch2; do avpn "$s" down >/dev/null || fail "down $s"; done
avpn hq down >/dev/null || fail "down hq"
echo "PASS: peers named by site with the config's addresses and exports; metrics scraped, rx $rx1 -> $(rx_of branch1 "$m2")"
