#!/usr/bin/env bash
# avpnd speaks systemd's readiness protocol (sd_notify) itself. A stand-in
# for systemd's manager (notify_sink) binds the socket; the real avpnd runs
# hub hq of examples/netns-demo:
# - NOTIFY_SOCKET as a path, WATCHDOG_USEC with WATCHDOG_PID naming avpnd:
#   READY=1 after the first apply, RELOADING=1 (with MONOTONIC_USEC) then
#   READY=1 around a SIGHUP, STOPPING=1 on SIGTERM, and WATCHDOG=1 again and
#   again meanwhile;
# - NOTIFY_SOCKET as an abstract name (bound in hq's namespace: abstract
#   names belong to a network namespace), WATCHDOG_PID naming another
#   process: the same sequence and no WATCHDOG=1 at all.
set -euo pipefail
SRC=${AVPN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BIN=${AVPN_BIN:-$SRC/build/bin}
AVPND=$BIN/avpnd
SINK=$BIN/notify_sink
# shellcheck source=lib/topology.sh
. "$SRC/tests/netns/lib/topology.sh"
topo_require wireguard-go
for b in "$AVPND" "$SINK"; do [ -x "$b" ] || { echo "FAIL: $b not built"; exit 1; }; done
topo_init
topo_demo_copy "$SRC"
fail() { [ -f "${LOG:-}" ] && sed 's/^/   avpnd| /' "$LOG" >&2; [ -f "${OUT:-}" ] && sed 's/^/   notify| /' "$OUT" >&2; topo_fail "$@"; }
step() { echo "== $*"; }

# The notifications' first assignments that mark state changes, in order.
states() { grep -oE '^(READY|RELOADING|STOPPING)=1' "$OUT" | cut -d= -f1 | tr '\n' ' ' | sed 's/ $//'; }
count() { grep -cE "^$1(\$|	)" "$OUT" || true; }
has_states() { [ "$(states)" = "$1" ]; }
at_least() { [ "$(count "$1")" -ge "$2" ]; }
log_has() { grep -q "$1" "$LOG"; }

# run_avpnd ADDRESS WATCHDOG_PID_EXPR: avpnd on hq under NOTIFY_SOCKET=ADDRESS
# and WATCHDOG_USEC=300000 (a ping every 150 ms); WATCHDOG_PID is evaluated
# by the shell that execs avpnd, so '$$' is avpnd's own PID.
run_avpnd() {
  topo_spawn hq env NOTIFY_SOCKET="$1" WATCHDOG_USEC=300000 \
    sh -c "export WATCHDOG_PID=$2; exec \"\$@\"" sh "$AVPND" "$DEMO/sites/hq.toml" --state-dir "$TOPO_WORK/state-hq" \
    --vici-socket "$TOPO_WORK/no-charon.vici" --control-socket "$(topo_avpnd_socket hq)" --resync 3600 \
    2>"$LOG" >/dev/null
  pid=$TOPO_SPAWNED
}

# sequence WATCHDOG_EXPECTED: READY -> SIGHUP -> RELOADING, READY -> SIGTERM -> STOPPING.
sequence() {
  topo_wait_for "READY=1" 20 has_states "READY"
  log_has "full apply (start): " || fail "READY=1 came before the first apply finished"
  grep -q "^READY=1	STATUS=hq: converged (start)" "$OUT" || fail "READY=1 without the STATUS= of the first apply"
  if [ "$1" = yes ]; then
    topo_wait_for "WATCHDOG=1 five times" 5 at_least WATCHDOG=1 5
  fi
  kill -HUP "$pid"
  topo_wait_for "RELOADING=1 then READY=1" 20 has_states "READY RELOADING READY"
  grep -qE "^RELOADING=1	MONOTONIC_USEC=[0-9]+	STATUS=reloading " "$OUT" || fail "RELOADING=1 without MONOTONIC_USEC"
  log_has "change (configuration reloaded)" || fail "READY=1 after the reload came before its apply"
  kill -TERM "$pid"
  rc=0; wait "$pid" || rc=$?
  [ "$rc" = 0 ] || fail "avpnd exited $rc on SIGTERM"
  has_states "READY RELOADING READY STOPPING" || fail "sequence: $(states)"
  if [ "$1" = yes ]; then
    local n; n=$(count WATCHDOG=1)
    echo "   $n WATCHDOG=1 over the run"
  else
    [ "$(count WATCHDOG=1)" = 0 ] || fail "WATCHDOG=1 sent although WATCHDOG_PID named another process"
    ! log_has "systemd watchdog" || fail "the watchdog was taken although WATCHDOG_PID named another process"
  fi
  echo "   $(states)"
}

step "NOTIFY_SOCKET is a path; the watchdog is avpnd's"
LOG=$TOPO_WORK/avpnd-path.log
OUT=$TOPO_WORK/notify-path.txt
"$SINK" "$TOPO_WORK/notify.sock" "$OUT" &
TOPO_PIDS+=("$!")
topo_wait_for "the sink's socket" 5 test -f "$OUT"
run_avpnd "$TOPO_WORK/notify.sock" '$$'
sequence yes
log_has "systemd watchdog: WATCHDOG=1 every 150 ms" || fail "no watchdog line"

step "NOTIFY_SOCKET is an abstract name in hq's namespace; WATCHDOG_PID names another process"
LOG=$TOPO_WORK/avpnd-abstract.log
OUT=$TOPO_WORK/notify-abstract.txt
topo_spawn hq "$SINK" "@avpn-test-$TOPO" "$OUT"
topo_wait_for "the sink's socket" 5 test -f "$OUT"
run_avpnd "@avpn-test-$TOPO" 1
sequence no
echo "PASS: READY, RELOADING+READY, STOPPING over a path and an abstract socket; WATCHDOG=1 only when it is avpnd's"
