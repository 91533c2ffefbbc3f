#!/usr/bin/env bash
# wireguard-go under avpnd (docs/architecture.md, Supervision). Hub hq of
# examples/netns-demo runs under avpnd, spoke branch1 is applied once with
# avpnctl, and a ping crosses the tunnel:
# (c) hq's wireguard-go was exec'd with an empty signal mask, no ignored
#     signal and only stdio open, although avpnd blocks SIGHUP/SIGTERM/SIGINT,
#     ignores SIGPIPE and inherited an open descriptor (exec_probe stands in
#     for wireguard-go at exec and records what it was given);
# (a) SIGKILL to avpnd's whole process group, then a new avpnd: the same
#     wireguard-go pid, adopted (logged) with 0 ops written, the same latest
#     handshake on both sides, and a ping running throughout loses nothing;
# (b) kill -9 of the adopted wireguard-go, then of the one avpnd started in
#     its place: each is restarted within seconds with the log line, the
#     second with its signal; status counts 2 restarts; pings pass again;
# (d) after an apply that failed, a wireguard-go that dies is restarted at
#     once, not at the failed apply's 10 s retry.
set -euo pipefail
SRC=${AVPN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BIN=${AVPN_BIN:-$SRC/build/bin}
AVPNCTL=$BIN/avpnctl
AVPND=$BIN/avpnd
# shellcheck source=lib/topology.sh
. "$SRC/tests/netns/lib/topology.sh"
topo_require jq wireguard-go ping setsid
for b in "$AVPND" "$BIN/exec_probe"; do [ -x "$b" ] || { echo "FAIL: $b not built"; exit 1; }; done
topo_init
topo_demo_copy "$SRC"
LOGS=()
fail() {
  local l
  for l in "${LOGS[@]}"; do sed "s#^#   $(basename "$l")| #" "$l" >&2; done
  [ -f "${PROBES:-}" ] && sed 's/^/   probe| /' "$PROBES" >&2
  topo_fail "$@"
}
step() { echo "== $*"; }
# shellcheck disable=SC2034  # read by topo_avpn
TOPO_AVPN_ARGS="--vici-socket $TOPO_WORK/no-charon.vici"
avpn() { topo_avpn "$@"; }

log_has() { grep -q -- "$2" "$1"; }

# exec_probe is found first in avpnd's PATH under wireguard-go's name.
PROBES=$TOPO_WORK/probes
mkdir "$TOPO_WORK/probe-bin"
ln -s "$BIN/exec_probe" "$TOPO_WORK/probe-bin/wireguard-go"
# A descriptor avpnd inherits without close-on-exec, as from a careless parent.
exec 7>"$TOPO_WORK/inherited-fd"

# start_avpnd LOG: avpnd on hq in a session (and process group) of its own,
# its control socket in the test's directory (never the host's), not the
# one avpnctl asks: status here reads what a one-shot sees.
start_avpnd() {
  LOGS+=("$1")
  topo_spawn hq env PATH="$TOPO_WORK/probe-bin:$PATH" AVPN_EXEC_PROBE_OUT="$PROBES" \
    AVPN_EXEC_PROBE_REAL="$(command -v wireguard-go)" setsid "$AVPND" "$DEMO/sites/hq.toml" \
    --state-dir "$TOPO_WORK/state-hq" --vici-socket "$TOPO_WORK/no-charon.vici" --resync 3600 --quiet-ms 100 \
    --control-socket "$TOPO_WORK/hq-elsewhere.sock" 2>"$1" >/dev/null
  AVPND_PID=$TOPO_SPAWNED
  topo_wait_for "first full apply" 20 log_has "$1" "full apply (start): "
}
hq_status() { avpn hq status --json; }
hq_daemon() { hq_status | jq -r ".wireguard[0].daemon.$1"; }
# handshake SITE PEER_KEY: the site's latest handshake with that peer (unix time)
handshake() {
  avpn "$1" status --json | jq -r --arg k "$2" '.wireguard[0].peers[] | select(.public_key == $k) | .last_handshake'
}
hq_key=$("$AVPNCTL" pubkey <"$DEMO/keys/hq.key")
branch1_key=$("$AVPNCTL" pubkey <"$DEMO/keys/branch1.key")

step "avpnd starts on hq (wireguard-go), branch1 applied by avpnctl"
avpn branch1 apply "$DEMO/sites/branch1.toml" >/dev/null || fail "apply branch1"
start_avpnd "$TOPO_WORK/avpnd-1.log"
topo_ping branch1 10.1.1.1 10.0.1.1 || fail "no ping branch1 -> hq"
ifname=$(hq_status | jq -r '.wireguard[0].interface')
wg_pid=$(hq_daemon pid)
[ "$wg_pid" -gt 0 ] 2>/dev/null || fail "status shows no wireguard-go pid for $ifname: $(hq_status | jq -c '.wireguard')"
echo "   $ifname served by wireguard-go pid $wg_pid"

step "(c) wireguard-go was exec'd with a clean signal mask and only stdio"
probe=$(grep "^pid $wg_pid " "$PROBES") || fail "exec_probe saw no start of pid $wg_pid"
echo "   at exec: $probe"
echo "   now: $(grep -E '^Sig(Blk|Ign)' "/proc/$wg_pid/status" | tr -s '\t\n' '  ')(Go's runtime sets these itself)"
[[ $probe == *" SigBlk 0000000000000000 "* ]] || fail "signals blocked at exec: $probe"
[[ $probe == *" SigIgn 0000000000000000 "* ]] || fail "signals ignored at exec: $probe"
fds=$(tr ' ' '\n' <<<"${probe##* fds }" | cut -d= -f1 | sort -n | tr '\n' ' ')
[ "$fds" = "0 1 2 " ] || fail "descriptors beyond stdio at exec: $probe"

step "(a) avpnd's process group gets SIGKILL; a new avpnd adopts wireguard-go"
hs_hq=$(handshake hq "$branch1_key")
hs_branch1=$(handshake branch1 "$hq_key")
if [ "$hs_hq" -le 0 ] || [ "$hs_branch1" -le 0 ]; then fail "no handshake yet: hq $hs_hq, branch1 $hs_branch1"; fi
topo_exec branch1 ping -n -q -i 0.2 -c 30 -W 1 -I 10.1.1.1 10.0.1.1 >"$TOPO_WORK/ping.out" 2>&1 &
pinger=$!
sleep 1
kill -KILL -- "-$AVPND_PID"
wait "$AVPND_PID" 2>/dev/null || true
kill -0 "$wg_pid" 2>/dev/null || fail "wireguard-go $wg_pid died with avpnd's process group"
start_avpnd "$TOPO_WORK/avpnd-2.log"
log_has "$TOPO_WORK/avpnd-2.log" "adopted wireguard-go for $ifname (pid $wg_pid)" || fail "no adoption of pid $wg_pid logged"
start_line=$(grep "full apply (start): " "$TOPO_WORK/avpnd-2.log")
echo "   $start_line"
[[ $start_line == *": 0 ops "* ]] || fail "the new avpnd wrote to the running site: $start_line"
[ "$(hq_daemon pid)" = "$wg_pid" ] || fail "wireguard-go for $ifname is pid $(hq_daemon pid), not $wg_pid"
wait "$pinger" || true
echo "   ping: $(grep 'packets transmitted' "$TOPO_WORK/ping.out")"
grep -q "30 packets transmitted, 30 received" "$TOPO_WORK/ping.out" || fail "ping lost packets: $(cat "$TOPO_WORK/ping.out")"
[ "$(handshake hq "$branch1_key")" = "$hs_hq" ] || fail "hq's handshake with branch1 changed: $hs_hq -> $(handshake hq "$branch1_key")"
[ "$(handshake branch1 "$hq_key")" = "$hs_branch1" ] || fail "branch1's handshake with hq changed: $hs_branch1 -> $(handshake branch1 "$hq_key")"
echo "   same pid $wg_pid, same handshakes (hq $hs_hq, branch1 $hs_branch1)"

# restarted_after PID LOG: kill -9 PID and wait for avpnd's restart line;
# sets NEW_PID and RESTART_LINE.
restarted_after() {
  local old=$1 log=$2 t0 line
  t0=$(date +%s%N)
  kill -KILL "$old"
  topo_wait_for "a restart of pid $old" 5 log_has "$log" "wireguard-go for $ifname (pid $old) exited (.*): restarted as pid "
  line=$(grep "wireguard-go for $ifname (pid $old) exited" "$log")
  echo "   $line ($(( ($(date +%s%N) - t0) / 1000000 )) ms after kill -9)"
  NEW_PID=${line##* }
  RESTART_LINE=$line
  [ "$(hq_daemon pid)" = "$NEW_PID" ] || fail "status shows pid $(hq_daemon pid), not $NEW_PID"
}
ping_once() { topo_exec branch1 ping -n -c 1 -W 1 -I 10.1.1.1 10.0.1.1 >/dev/null 2>&1; }

step "(b) kill -9 wireguard-go: avpnd restarts it and says so"
t_kill=$(date +%s%N)
restarted_after "$wg_pid" "$TOPO_WORK/avpnd-2.log"
[[ $RESTART_LINE == *"(status unknown, not avpnd's child)"* ]] || fail "an adopted daemon's exit status cannot be known: $RESTART_LINE"
restarted_after "$NEW_PID" "$TOPO_WORK/avpnd-2.log"
[[ $RESTART_LINE == *"exited (signal SIGKILL)"* ]] || fail "the exit of avpnd's own child names no signal: $RESTART_LINE"
[ "$(hq_daemon restarts)" = 2 ] || fail "status counts $(hq_daemon restarts) restarts, not 2"
[ "$(hq_daemon last_exit)" = "signal SIGKILL" ] || fail "status: last exit $(hq_daemon last_exit)"
avpn hq status | grep "^wireguard $ifname" | sed 's/^/   /'
# The new hub daemon knows no session and no spoke endpoint (hubs learn them
# from handshakes): traffic resumes once branch1 gives up on its old session
# and handshakes again, 15 s (keepalive + rekey timeout) after its first
# unanswered packet.
topo_wait_for "ping branch1 -> hq through pid $NEW_PID" 40 ping_once
echo "   traffic resumed $(( ($(date +%s%N) - t_kill) / 1000000 )) ms after the first kill -9"
bad=$(grep -v " SigBlk 0000000000000000 SigIgn 0000000000000000 fds 0=[^ ]* 1=[^ ]* 2=[^ ]*$" "$PROBES" || true)
[ -z "$bad" ] || fail "a restarted wireguard-go was not exec'd clean: $bad"

step "(d) a wireguard-go that dies after a failed apply is restarted without waiting for the 10 s retry"
# avpn's route deleted and an operator's put in its place: the repair fails
# (avpn never replaces what is not its own); once it is gone nothing else stirs avpnd,
# so only the exit of wireguard-go can bring the next apply forward (the
# failure CI once caught: the apply that failed was talking to the daemon
# as it died, and its restart waited for the retry).
log=$TOPO_WORK/avpnd-2.log
topo_exec hq sh -c 'ip route del 10.2.1.0/24 table 7100 && ip route add 10.2.1.0/24 dev lo table 7100 proto static'
topo_wait_for "a repair that fails over the operator's route" 5 log_has "$log" "full apply (kernel changed by another process) failed: "
grep "failed: " "$log" | tail -1 | sed 's/^/   /'
topo_exec hq ip route del 10.2.1.0/24 table 7100 proto static
old=$(hq_daemon pid)
t0=$(date +%s%N)
kill -KILL "$old"
topo_wait_for "a restart of pid $old before the retry" 4 log_has "$log" "wireguard-go for $ifname (pid $old) exited (.*): restarted as pid "
topo_wait_for "a full apply after the exit" 4 log_has "$log" "full apply (wireguard-go exited): "
echo "   $(grep "pid $old) exited" "$log") ($(( ($(date +%s%N) - t0) / 1000000 )) ms after kill -9)"
echo "   $(grep "full apply (wireguard-go exited): " "$log" | tail -1)"
grep -q "full apply (wireguard-go exited) failed" "$log" && fail "the apply after the exit failed"

kill -TERM "$AVPND_PID"
wait "$AVPND_PID" || fail "avpnd exited $? on SIGTERM"
for s in hq branch1; do avpn "$s" down >/dev/null || fail "down $s"; done
echo "PASS: wireguard-go started clean, outlived avpnd's SIGKILL with its handshake, was adopted, and was restarted twice after kill -9"
