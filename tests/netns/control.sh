#!/usr/bin/env bash
# avpnd's control socket and commit-confirm, end to end: hub hq and spoke
# branch1 of examples/netns-demo each under a real avpnd (wireguard-go),
# branch2 left for the one-shot.
# (a) apply, status, reload and down go through avpnd: JSON checked with jq;
#     down leaves avpnd idle and the next apply brings the site back;
#     malformed and oversized requests get an error reply, avpnd lives on.
# (b) only root and the control group: a throwaway member is served, an
#     outsider is refused by the socket's mode (exit 5) and, with the mode
#     loosened by hand, by avpnd's SO_PEERCRED check (exit 5).
# (c) commit-confirm: hq's trial (branch2 dropped) is not confirmed, and
#     after its deadline hq's kernel objects and WireGuard peers equal those
#     before, byte for byte, though the old files were moved away and the
#     member list edited meanwhile; branch1's trial is confirmed and still
#     in place after its deadline. A second apply during a trial exits 4;
#     --confirm without avpnd exits 7.
# (d) after SIGKILL the stale socket is a one-shot's cue (output identical to
#     avpnd's), a new avpnd takes the socket over; a second avpnd on a
#     served socket exits 4.
set -euo pipefail
SRC=${AVPN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BIN=${AVPN_BIN:-$SRC/build/bin}
AVPNCTL=$BIN/avpnctl
AVPND=$BIN/avpnd
# shellcheck source=lib/topology.sh
. "$SRC/tests/netns/lib/topology.sh"
topo_require jq wireguard-go ping wg setpriv useradd groupadd
[ -x "$AVPND" ] || { echo "FAIL: $AVPND not built"; exit 1; }
topo_init
GRP=avt$$g MEMBER=avt$$m OUTSIDER=avt$$o
# The users go, then topo_cleanup (namespaces, processes) with the test's
# exit status; errexit is off in here, or a failing status would end the
# trap before the namespaces are gone.
cleanup() {
  local rc=$?
  set +e
  userdel "$MEMBER" 2>/dev/null
  userdel "$OUTSIDER" 2>/dev/null
  groupdel "$GRP" 2>/dev/null
  (exit "$rc")
  topo_cleanup
}
trap cleanup EXIT
topo_demo_copy "$SRC"
chmod 711 "$TOPO_WORK"  # the test's users reach the control socket below it
step() { echo "== [${SECONDS}s] $*"; }
fail() {
  local l
  for l in "$TOPO_WORK"/avpnd-*.log; do [ -f "$l" ] && sed "s#^#   ${l##*/}| #" "$l" >&2; done
  topo_fail "$@"
}
TOPO_AVPN_ARGS="--vici-socket $TOPO_WORK/no-charon.vici"
avpn() { topo_avpn "$@"; }
# ctl SITE CMD [ARGS]: reload and confirm take only the control socket.
ctl() { local s=$1 c=$2; shift 2; topo_exec "$s" "$AVPNCTL" "$c" --control-socket "$(topo_avpnd_socket "$s")" "$@"; }
log_has() { grep -q "$2" "$TOPO_WORK/avpnd-$1.log"; }
# start_avpnd SITE [ARGS]: avpnd for SITE on its control socket; PID_<SITE>.
start_avpnd() {
  local s=$1; shift
  topo_spawn "$s" "$AVPND" "$DEMO/sites/$s.toml" --state-dir "$TOPO_WORK/state-$s" \
    --vici-socket "$TOPO_WORK/no-charon.vici" --control-socket "$(topo_avpnd_socket "$s")" \
    --resync 3600 --quiet-ms 100 "$@" 2>>"$TOPO_WORK/avpnd-$s.log" >/dev/null
  printf -v "PID_$s" %s "$TOPO_SPAWNED"
}
# wg_state SITE: the WireGuard device as configured (no counters, no
# handshakes), sorted: peer order is the order they were added in.
wg_state() {
  topo_exec "$1" sh -c 'for d in listen-port peers allowed-ips persistent-keepalive; do wg show avpn-demo $d | sort; done'
}
state_of() { topo_avpn_dump "$1"; wg_state "$1"; }
status_json() { avpn "$1" status --json; }

groupadd "$GRP"
useradd -M -N -g nogroup -G "$GRP" -s /usr/sbin/nologin "$MEMBER"
useradd -M -N -g nogroup -s /usr/sbin/nologin "$OUTSIDER"
install -m 755 "$AVPNCTL" "$TOPO_WORK/avpnctl"  # wherever the build is, the users can run this copy
as_user() { local u=$1; shift; topo_exec hq setpriv --reuid="$u" --regid=nogroup --init-groups "$TOPO_WORK/avpnctl" "$@"; }

step "avpnd on hq (control group $GRP) and on branch1"
start_avpnd hq --control-group "$GRP"
start_avpnd branch1
topo_wait_for "hq's first apply" 20 log_has hq "full apply (start): "
topo_wait_for "branch1's first apply" 20 log_has branch1 "full apply (start): "
topo_ping branch1 10.1.1.1 10.0.1.1 || fail "no ping branch1 -> hq"
sock=$(topo_avpnd_socket hq)
[ "$(stat -c '%a %U %G' "$sock")" = "660 root $GRP" ] || fail "hq's socket is $(stat -c '%a %U %G' "$sock")"
[ "$(stat -c '%a' "$(topo_avpnd_socket branch1)")" = 600 ] || fail "branch1's socket (no group) is not 0600"
[ "$(stat -c '%a' "$TOPO_WORK/run")" = 755 ] || fail "the socket directory is not 0755"

step "(a) status, apply, reload, down through avpnd"
st=$(status_json hq) || fail "status through avpnd"
jq -e --argjson pid "$PID_hq" --arg cfg "$DEMO/sites/hq.toml" \
  '.schema == "avpn.status/1" and .site == "hq" and .avpnd.pid == $pid and .avpnd.config == $cfg and
   .avpnd.idle == false and .avpnd.last_converge.ok and .avpnd.confirm == null and
   (.wireguard | length) == 1 and (.wireguard[0].peers | length) == 2' <<<"$st" >/dev/null ||
  fail "status --json through avpnd: $st"
avpn hq status | grep -q "^avpnd: pid $PID_hq, config $DEMO/sites/hq.toml$" || fail "text status lacks avpnd's facts"
# From a relative path: avpnctl sends it absolute.
noop_json=$(cd "$DEMO/sites" && avpn hq apply --json hq.toml) || fail "apply through avpnd"
jq -e '.schema == "avpn.apply/1" and .applied and .changes == 0' <<<"$noop_json" >/dev/null || fail "no-op apply: $noop_json"
noop_text=$(avpn hq apply "$DEMO/sites/hq.toml") || fail "text apply through avpnd"
log_has hq "control: apply from pid" || fail "avpnd did not log the apply"

sed -i 's|^exports = \["10.1.1.0/24"\]|exports = ["10.1.1.0/24", "10.1.2.0/24"]|' "$DEMO/members.toml"
sed -i 's/^permitted_vlans = \["Corp"\]/permitted_vlans = ["Corp", "Lab"]/' "$DEMO/sites/branch1.toml"
ctl branch1 reload >/dev/null || fail "reload branch1"
r=$(ctl hq reload --json) || fail "reload hq: $r"
jq -e '.applied and .changes == 2 and ([.ops[] | "\(.op) \(.kind)"] | sort) == ["create route", "update wireguard"]' \
  <<<"$r" >/dev/null || fail "reload did not return exactly branch1's new route and peer: $r"
topo_ping hq 10.0.1.1 10.1.2.1 || fail "no ping hq -> branch1 Lab after the reload"
cp "$DEMO/sites/hq.toml" "$TOPO_WORK/hq.good"
sed -i 's/^role = "hub"/role = "bogus"/' "$DEMO/sites/hq.toml"
rc=0; err=$(ctl hq reload 2>&1 >/dev/null) || rc=$?
[ "$rc" = 1 ] && grep -q "hq.toml:[0-9]*:[0-9]*: error" <<<"$err" || fail "reload of a broken config: exit $rc: $err"
cp "$TOPO_WORK/hq.good" "$DEMO/sites/hq.toml"
topo_ping branch1 10.1.1.1 10.0.1.1 || fail "the tunnel went down after a bad reload"

up_state=$(state_of hq)
d=$(avpn hq down --json) || fail "down through avpnd: $d"
jq -e '.applied and .deleted.link == 1' <<<"$d" >/dev/null || fail "down: $d"
[ -z "$(topo_avpn_dump hq)" ] || fail "hq keeps avpn objects after down: $(topo_avpn_dump hq)"
kill -0 "$PID_hq" || fail "avpnd exited after down"
jq -e '.avpnd.idle and .site == ""' <<<"$(status_json hq)" >/dev/null || fail "status after down: not idle"
out=$(avpn hq apply "$DEMO/sites/hq.toml") || fail "apply after down"
[[ $out == "applied "* ]] || fail "apply after down printed: $out"
# (A new WireGuard device: branch1 meets it at its next handshake, up to
# 15 s away; the objects tell the story sooner.)
[ "$(state_of hq)" = "$up_state" ] || fail "apply after down did not restore hq: $(diff <(echo "$up_state") <(state_of hq))"

PY=$(command -v /usr/bin/python3 python3 | head -n 1 || true)
if [ -n "$PY" ]; then
  # Raw frames, one connection each (the length as sent, "-": the real
  # one); prints avpnd's exit code and stderr per reply.
  replies=$("$PY" - "$sock" <<'EOF'
import json, socket, struct, sys
frames = [("-", '{"protocol":1,"command":"apply","config":"rel.toml"}'),
          ("-", '{"protocol":1,"command":"status","x":[1]}'),
          ("-", '{"protocol":9,"command":"status"}'),
          ("-", 'not json'),
          (0x40000000, '')]
for length, payload in frames:
    s = socket.socket(socket.AF_UNIX); s.settimeout(10); s.connect(sys.argv[1])
    p = payload.encode()
    s.sendall(struct.pack(">I", len(p) if length == "-" else length) + p)
    buf = b""
    while True:
        c = s.recv(65536)
        if not c: break
        buf += c
    r = json.loads(buf[4:])
    print(r["exit"], r["stderr"].strip())
EOF
  ) || fail "no reply to a malformed request: $replies"
  [ "$(grep -c '^2 avpnctl: avpnd refused the request: ' <<<"$replies")" = 5 ] &&
    grep -q "too large" <<<"$replies" || fail "malformed requests: $replies"
  kill -0 "$PID_hq" || fail "avpnd died of malformed requests"
else
  echo "   (python3 missing: raw malformed requests not sent)"
fi

step "(b) only root and group $GRP"
m=$(as_user "$MEMBER" status --json --control-socket "$sock") || fail "a member of $GRP was not served"
jq -e --argjson pid "$PID_hq" '.avpnd.pid == $pid' <<<"$m" >/dev/null || fail "member's status: $m"
rc=0; err=$(as_user "$OUTSIDER" status --control-socket "$sock" 2>&1) || rc=$?
[ "$rc" = 5 ] && grep -q "permission denied" <<<"$err" || fail "outsider (socket mode): exit $rc: $err"
chmod 666 "$sock"
rc=0; err=$(as_user "$OUTSIDER" apply --control-socket "$sock" "$DEMO/sites/hq.toml" 2>&1) || rc=$?
chmod 660 "$sock"
[ "$rc" = 5 ] && grep -q "may not use avpnd's control socket" <<<"$err" ||
  fail "outsider (SO_PEERCRED): exit $rc: $err"
log_has hq "control: refused pid [0-9]* uid $(id -u "$OUTSIDER")" || fail "avpnd did not log the refusal"
echo "   outsider: $err"

step "(c) commit-confirm: hq's trial rolls back, branch1's is confirmed"
# The trial's member list lacks branch2 (the last member: its name line on,
# and the [[member]] line before it).
sed '/^name = "branch2"/,$d' "$DEMO/members.toml" | sed '$d' >"$DEMO/members-trial.toml"
! grep -q branch2 "$DEMO/members-trial.toml" || fail "members-trial.toml still has branch2"
sed 's|^members = "../members.toml"|members = "../members-trial.toml"|' "$DEMO/sites/hq.toml" >"$DEMO/sites/hq-trial.toml"
sed 's/^keepalive = "5s"/keepalive = "7s"/' "$DEMO/sites/branch1.toml" >"$DEMO/sites/branch1-trial.toml"
"$AVPNCTL" check "$DEMO/sites/hq-trial.toml" >/dev/null || fail "hq-trial.toml is invalid"
hq_before=$(state_of hq); b1_before=$(state_of branch1)
# branch1's trial first: its deadline has passed by the time hq's rollback is seen.
avpn branch1 apply --confirm 10s "$DEMO/sites/branch1-trial.toml" >/dev/null 2>&1 || fail "trial apply on branch1"
t_hq=$(avpn hq apply --confirm 10s --json "$DEMO/sites/hq-trial.toml" 2>"$TOPO_WORK/trial.err") || fail "trial apply on hq"
grep -q "on trial: run .avpnctl confirm. by" "$TOPO_WORK/trial.err" || fail "no trial note: $(cat "$TOPO_WORK/trial.err")"
jq -e '.applied and .deleted.route >= 1' <<<"$t_hq" >/dev/null || fail "hq's trial removed no route: $t_hq"
hq_trial=$(state_of hq); b1_trial=$(state_of branch1)
[ "$hq_trial" != "$hq_before" ] && [ "$b1_trial" != "$b1_before" ] || fail "a trial changed nothing"
st=$(status_json hq)
jq -e --arg t "$DEMO/sites/hq-trial.toml" --arg p "$DEMO/sites/hq.toml" \
  '.avpnd.confirm.config == $t and .avpnd.confirm.previous == $p and .avpnd.confirm.deadline > now' \
  <<<"$st" >/dev/null || fail "status shows no pending confirm: $st"
avpn hq status | grep -q "confirm pending: .*hq-trial.toml is rolled back to .*hq.toml at " || fail "text status: no pending confirm"
rc=0; avpn hq apply "$DEMO/sites/hq.toml" >/dev/null 2>&1 || rc=$?
[ "$rc" = 4 ] || fail "a second apply during a trial exited $rc, not 4"
b1_deadline=$(jq .avpnd.confirm.deadline <<<"$(status_json branch1)")
out=$(ctl branch1 confirm) || fail "confirm on branch1"
[ "$out" = "confirmed: $DEMO/sites/branch1-trial.toml stays applied" ] || fail "confirm printed: $out"
rc=0; ctl branch1 confirm >/dev/null 2>&1 || rc=$?
[ "$rc" = 3 ] || fail "a confirm with nothing pending exited $rc, not 3"
# The rollback must not need the files: move the old site file away and
# change the member list the old configuration read.
mv "$DEMO/sites/hq.toml" "$DEMO/sites/hq.toml.away"
sed -i 's|^exports = \["10.2.1.0/24"\]|exports = ["10.2.9.0/24"]|' "$DEMO/members.toml"
rolled_back() { jq -e '.avpnd.last_rollback != null' <<<"$(status_json hq)" >/dev/null; }
topo_wait_for "hq's rollback" 15 rolled_back
st=$(status_json hq)
jq -e --arg t "$DEMO/sites/hq-trial.toml" --arg p "$DEMO/sites/hq.toml" \
  '.avpnd.last_rollback.ok and .avpnd.last_rollback.config == $t and .avpnd.last_rollback.previous == $p and
   .avpnd.confirm == null and .avpnd.config == $p' <<<"$st" >/dev/null || fail "status after the rollback: $st"
log_has hq "commit-confirm: .*hq-trial.toml was not confirmed by .*: rolling back to .*hq.toml" || fail "no rollback log line"
hq_after=$(state_of hq)
[ "$hq_after" = "$hq_before" ] || fail "hq after the rollback differs from before: $(diff <(echo "$hq_before") <(echo "$hq_after"))"
echo "   hq rolled back: $(grep -c . <<<"$hq_after") objects and WireGuard lines equal to before"
while [ "$(date +%s)" -le "$((b1_deadline + 1))" ]; do sleep 0.2; done  # absence needs the deadline to pass
[ "$(state_of branch1)" = "$b1_trial" ] || fail "branch1's confirmed trial did not stay"
jq -e '.avpnd.last_rollback == null and .avpnd.confirm == null' <<<"$(status_json branch1)" >/dev/null ||
  fail "branch1 rolled back though confirmed"
mv "$DEMO/sites/hq.toml.away" "$DEMO/sites/hq.toml"
sed -i 's|^exports = \["10.2.9.0/24"\]|exports = ["10.2.1.0/24"]|' "$DEMO/members.toml"
rc=0; err=$(avpn branch2 apply --confirm 10s "$DEMO/sites/branch2.toml" 2>&1) || rc=$?
[ "$rc" = 7 ] && grep -q "needs avpnd, and none answers" <<<"$err" || fail "--confirm without avpnd: exit $rc: $err"
[ -z "$(topo_avpn_dump branch2)" ] || fail "--confirm without avpnd applied something"

step "(d) a second avpnd, SIGKILL, the stale socket"
# In branch2's namespace: hq's holds avpnd's writer lock, which would refuse it first.
rc=0; topo_exec branch2 "$AVPND" "$DEMO/sites/hq.toml" --state-dir "$TOPO_WORK/state-other" \
  --vici-socket "$TOPO_WORK/no-charon.vici" --control-socket "$sock" >/dev/null 2>"$TOPO_WORK/second.err" || rc=$?
[ "$rc" = 4 ] && grep -q "another avpnd" "$TOPO_WORK/second.err" || fail "a second avpnd on the socket: exit $rc: $(cat "$TOPO_WORK/second.err")"
kill -KILL "$PID_hq"
wait "$PID_hq" 2>/dev/null || true
[ -S "$sock" ] || fail "no stale socket left to test with"
out=$(avpn hq apply --json "$DEMO/sites/hq.toml") || fail "one-shot apply beside the stale socket"
[ "$out" = "$noop_json" ] || fail "one-shot and avpnd print different no-op reports: $(diff <(echo "$noop_json") <(echo "$out"))"
out=$(avpn hq apply "$DEMO/sites/hq.toml") || fail "one-shot text apply"
[ "$out" = "$noop_text" ] || fail "one-shot text differs from avpnd's: '$out' vs '$noop_text'"
jq -e '.avpnd == null and .site == "hq"' <<<"$(status_json hq)" >/dev/null || fail "status did not fall back to the one-shot"
start_avpnd hq --control-group "$GRP"
topo_wait_for "the new avpnd's first apply" 20 log_has hq "full apply (start): "
new_pid() { jq -e --argjson pid "$PID_hq" '.avpnd.pid == $pid' <<<"$(status_json hq)" >/dev/null; }
topo_wait_for "status through the new avpnd" 5 new_pid

step "down everywhere; SIGTERM removes the sockets"
for s in hq branch1; do
  avpn "$s" down >/dev/null || fail "down $s"
  pid_var=PID_$s
  kill -TERM "${!pid_var}"
  wait "${!pid_var}" || fail "avpnd on $s exited non-zero"
  [ ! -e "$(topo_avpnd_socket "$s")" ] || fail "$s's socket stayed after SIGTERM"
  [ -z "$(topo_avpn_dump "$s")" ] || fail "$s keeps avpn objects after down"
done
echo "PASS: apply/status/reload/down through avpnd, root-or-group access, commit-confirm rollback and confirm, stale socket fallback"
