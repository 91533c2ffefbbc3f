#!/usr/bin/env bash
# An XFRM group's ESP-in-UDP socket is avpnd's (docs/architecture.md, "The
# ESP-in-UDP socket"), so a one-shot apply refuses the group. Hub hq of
# examples/netns-demo with transport = "xfrm":
# - check and plan pass and say "(apply needs avpnd)"; apply --dry-run works;
# - `avpnctl apply` with no avpnd exits 7 naming the group, where its
#   transport is set and its port, and changes nothing (links, avpn's
#   objects, XFRM states, the state directory);
# - avpnd while another process holds the group's port: its first apply and
#   an `avpnctl apply` through it fail naming group, port and EADDRINUSE,
#   with the kernel untouched;
# - port free again, apply through avpnd: the socket is opened. Where the
#   kernel has XFRM interfaces and ESP (the VM tier runs the netns label),
#   the apply succeeds, ss shows avpnd holding the port, a second apply
#   keeps the same socket and `avpnctl down` closes it. Here (no XFRM
#   interfaces) the apply fails, is undone, and the socket is closed again.
set -euo pipefail
SRC=${AVPN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BIN=${AVPN_BIN:-$SRC/build/bin}
AVPNCTL=$BIN/avpnctl
AVPND=$BIN/avpnd
# shellcheck source=lib/topology.sh
. "$SRC/tests/netns/lib/topology.sh"
topo_require jq ss perl
[ -x "$AVPNCTL" ] && [ -x "$AVPND" ] || { echo "FAIL: avpnctl or avpnd not built in $BIN"; exit 1; }
started=$EPOCHREALTIME
topo_init
# The demo's files, but only hq's namespace: nothing here needs the spokes
# (each namespace costs seconds under the VM's emulation).
DEMO=$TOPO_WORK/demo
cp -r "$SRC/examples/netns-demo" "$DEMO"
chmod 600 "$DEMO"/keys/*.key
topo_site hq 192.0.2.1/24 10.0.1.1/24 10.0.9.1/24
sed -i 's/^transport = .*/transport = "xfrm"/' "$DEMO/members.toml"
sed -i '/^wireguard_backend = /d' "$DEMO"/sites/*.toml
grep -q '^transport = "xfrm"' "$DEMO/members.toml" || topo_fail "could not edit members.toml"
LOG=$TOPO_WORK/avpnd-hq.log
fail() { [ -f "$LOG" ] && sed 's/^/   avpnd| /' "$LOG" >&2; topo_fail "$@"; }
step() { echo "== [${SECONDS}s] $*"; }
TOPO_AVPN_ARGS="--vici-socket $TOPO_WORK/no-charon.vici"
avpn() { topo_avpn "$@"; }
log_has() { grep -qF "$1" "$LOG"; }
port=51820
hq_ns=$(topo_ns hq)
transport_at="$DEMO/members.toml:$(grep -n '^transport' "$DEMO/members.toml" | cut -d: -f1):13"
needs="group \"demo\" (transport = \"xfrm\") needs avpnd: it holds the group's ESP-in-UDP socket on port $port"
# Everything an apply could change in hq.
world() { ip -n "$hq_ns" -o link show | sed 's/link\/ether.*//'; topo_avpn_dump hq; ip -n "$hq_ns" xfrm state; ls -A "$TOPO_WORK/state-hq" 2>/dev/null || echo "no state directory"; }

step "check and plan accept the site and say apply needs avpnd; a dry run plans"
for cmd in check plan; do
  err=$(topo_exec hq "$AVPNCTL" "$cmd" "$DEMO/sites/hq.toml" 2>&1 >/dev/null) || fail "$cmd failed: $err"
  grep -qF "$transport_at: warning: group.transport: $needs (apply needs avpnd)" <<<"$err" ||
    fail "$cmd does not say apply needs avpnd at $transport_at: $err"
done
plan=$(avpn hq apply --dry-run --json "$DEMO/sites/hq.toml") || fail "dry run failed: $plan"
# Policies, and no SAs: those come from avpnd's handshakes with its peers.
[ "$(jq '.created.xfrm_policy' <<<"$plan")" -gt 0 ] && [ "$(jq '.created.xfrm_state' <<<"$plan")" = 0 ] ||
  fail "the dry run must plan policies and no SAs: $(jq -c .created <<<"$plan")"

step "one-shot apply without avpnd: refused by name, nothing touched"
before=$(world)
rc=0; err=$(avpn hq apply "$DEMO/sites/hq.toml" 2>&1 >/dev/null) || rc=$?
[ "$rc" = 7 ] || fail "one-shot apply of an XFRM site exited $rc, not 7: $err"
grep -qF "avpnctl apply: $transport_at: $needs; start avpnd (systemctl start avpnd) and apply again" <<<"$err" ||
  fail "the refusal does not name the group, its place and port: $err"
grep -qF "no avpnd answers on $(topo_avpnd_socket hq); nothing was changed" <<<"$err" || fail "no socket named: $err"
[ "$(world)" = "$before" ] || fail "a refused one-shot apply changed something:"$'\n'"$(diff <(echo "$before") <(world))"
echo "   $(head -1 <<<"$err")"

step "avpnd while another process holds UDP $port: refused before any kernel write"
topo_spawn hq perl -MSocket -e 'socket(my $s, PF_INET, SOCK_DGRAM, 0) or die; bind($s, pack_sockaddr_in($ARGV[0], INADDR_ANY)) or die "bind: $!"; open(my $r, ">", $ARGV[1]); close $r; sleep' \
  "$port" "$TOPO_WORK/squatter.ready"
squatter=$TOPO_SPAWNED
topo_wait_for "the squatter's socket" 5 test -e "$TOPO_WORK/squatter.ready"
topo_spawn hq "$AVPND" "$DEMO/sites/hq.toml" --state-dir "$TOPO_WORK/state-hq" \
  --vici-socket "$TOPO_WORK/no-charon.vici" --control-socket "$(topo_avpnd_socket hq)" \
  --resync 3600 --quiet-ms 100 2>"$LOG" >/dev/null
avpnd=$TOPO_SPAWNED
topo_wait_for "avpnd's first apply" 20 log_has "full apply (start)"
bind_err="group \"demo\" (transport = \"xfrm\"): bind the ESP-in-UDP socket on UDP port $port (IPv4): Address already in use"
log_has "full apply (start) failed: $DEMO/sites/hq.toml:" || fail "avpnd's first apply did not fail at the group's place"
log_has "$bind_err" || fail "avpnd's log does not name group, port and errno"
topo_wait_for "avpnd's control socket" 10 test -S "$(topo_avpnd_socket hq)"
rc=0; err=$(avpn hq apply "$DEMO/sites/hq.toml" 2>&1 >/dev/null) || rc=$?
[ "$rc" = 3 ] || fail "apply through avpnd with the port taken exited $rc, not 3: $err"
grep -qF "$bind_err" <<<"$err" || fail "the apply's error does not name group, port and errno: $err"
[ "$(topo_avpn_dump hq)" = "" ] || fail "avpn objects were written: $(topo_avpn_dump hq)"
[ "$(ip -n "$hq_ns" -o link show | grep -c avpn-)" = 0 ] || fail "an avpn link was made"
holder=$(topo_udp_holder hq "$port")
[[ $holder != *avpnd* ]] || fail "avpnd holds $port after a failed apply: $holder"
echo "   $(grep -F "$bind_err" "$LOG" | head -1)"
kill "$squatter"; wait "$squatter" 2>/dev/null || true
topo_wait_for "the squatter gone" 5 test -z "$(topo_udp_holder hq "$port")"

# Can this kernel hold the plan (an XFRM interface, a GCM ESP SA)?
command -v modprobe >/dev/null && modprobe -q -a xfrm_user xfrm_interface esp4 esp6 2>/dev/null || true
xfrm_kernel=yes
ip -n "$hq_ns" link add avxprobe type xfrm if_id 0x41560099 2>/dev/null && ip -n "$hq_ns" link del avxprobe || xfrm_kernel=no
[ $xfrm_kernel = no ] || ip -n "$hq_ns" xfrm state add src 192.0.2.9 dst 192.0.2.8 proto esp spi 0x100 reqid 1 mode tunnel \
  aead 'rfc4106(gcm(aes))' 0x0102030405060708090a0b0c0d0e0f1011121314 128 2>/dev/null || xfrm_kernel=no
ip -n "$hq_ns" xfrm state flush

if [ $xfrm_kernel = no ]; then
  step "port free, apply through avpnd: this kernel has no XFRM interfaces, so it fails; the socket is closed again"
  lines_before=$(wc -l <"$LOG")
  rc=0; avpn hq apply "$DEMO/sites/hq.toml" >/dev/null 2>&1 || rc=$?
  [ "$rc" = 3 ] || fail "apply through avpnd exited $rc on a kernel without XFRM interfaces, not 3"
  tail -n +"$((lines_before + 1))" "$LOG" >"$LOG.new"
  grep -qF "esp-in-udp: holding UDP port $port (IPv4) of group \"demo\"" "$LOG.new" || fail "avpnd did not open the socket"
  grep -qF "esp-in-udp: closed UDP port $port (IPv4) of group \"demo\"" "$LOG.new" || fail "the failed apply left the socket open"
  [ -z "$(topo_udp_holder hq "$port")" ] || fail "$port still held: $(topo_udp_holder hq "$port")"
  [ "$(topo_avpn_dump hq)" = "" ] || fail "the failed apply was not undone: $(topo_avpn_dump hq)"
  echo "PASS xfrm_needs_avpnd, without the XFRM kernel part ($(awk -v a="$started" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.1f", b - a}') s)"
  exit 0
fi

step "port free, apply through avpnd: avpnd holds the socket"
# (avpnd's retry of its failed first apply may have come first: then this
# one changes nothing. apply_xfrm.sh compares the kernel with the plan.)
r=$(avpn hq apply --json "$DEMO/sites/hq.toml") || fail "apply through avpnd failed: $r"
# No peer runs, so no handshake: the policies stand, no SA.
[ "$(grep -c '^xfrm-policy ' <<<"$(topo_avpn_dump hq)")" = "$(jq '.created.xfrm_policy' <<<"$plan")" ] &&
  [ "$(grep -c '^xfrm-state ' <<<"$(topo_avpn_dump hq)")" = 0 ] ||
  fail "the kernel is not the plan's: $(topo_avpn_dump hq)"
holder=$(topo_udp_holder hq "$port")
[[ $holder == "\"avpnd\",pid=$avpnd,"* ]] && [ "$(wc -l <<<"$holder")" = 1 ] || fail "UDP $port is not avpnd's ($avpnd): '$holder'"
r=$(avpn hq apply --json "$DEMO/sites/hq.toml") || fail "second apply failed"
[ "$(jq .changes <<<"$r")" = 0 ] || fail "second apply changed something"
[ "$(topo_udp_holder hq "$port")" = "$holder" ] || fail "the socket changed across converges: $holder -> $(topo_udp_holder hq "$port")"
echo "   $holder, the same socket after a second apply"

step "down through avpnd closes the socket; apply opens it again"
avpn hq down >/dev/null || fail "down through avpnd failed"
[ -z "$(topo_udp_holder hq "$port")" ] || fail "$port still held after down: $(topo_udp_holder hq "$port")"
[ "$(topo_avpn_dump hq)" = "" ] || fail "avpn objects remain after down"
avpn hq apply "$DEMO/sites/hq.toml" >/dev/null || fail "apply after down failed"
[[ $(topo_udp_holder hq "$port") == "\"avpnd\",pid=$avpnd,"* ]] || fail "no socket after apply following down"
avpn hq down >/dev/null || fail "final down failed"
[ -z "$(topo_udp_holder hq "$port")" ] || fail "$port still held after the final down"
echo "PASS xfrm_needs_avpnd ($(awk -v a="$started" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.1f", b - a}') s)"
