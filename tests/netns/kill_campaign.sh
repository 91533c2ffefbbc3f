#!/usr/bin/env bash
# SIGKILL at random moments of a 2,000-spoke apply (issue 12). The hub hq of
# examples/netns-demo gains 2,000 spokes (wireguard-go: one link, 2,002
# peers, ~4,000 routes). Each round starts from one of three states (nothing
# applied; the small demo applied; the small demo applied under another
# interface name and table), starts the big apply with `avpnctl apply` or
# with avpnd (alternately), and SIGKILLs it after a random delay within the
# time a whole apply takes. After every kill:
# - `avpnctl apply` of the big config succeeds and leaves exactly what an
#   undisturbed apply leaves (avpn's objects and `wg showconf`), and a
#   second apply has nothing to do (nothing duplicated, nothing left over);
# - `avpnctl down` leaves nothing of avpn's: no link named avpn-*, no
#   route, rule, address or wireguard-go, no record and no journal;
# - the operator's routes and rules are as they were.
# Prints the kills tried, how many hit a run in progress, and how many
# passed. AVPN_KILLS sets the number of rounds (default 50).
set -euo pipefail
SRC=${AVPN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BIN=${AVPN_BIN:-$SRC/build/bin}
AVPNCTL=$BIN/avpnctl
AVPND=$BIN/avpnd
KILLS=${AVPN_KILLS:-50}
# shellcheck source=lib/topology.sh
. "$SRC/tests/netns/lib/topology.sh"
topo_require wireguard-go
[ -x "$AVPND" ] || { echo "FAIL: $AVPND not built"; exit 1; }
topo_init
topo_demo_copy "$SRC"
fail() { topo_fail "$@"; }
TOPO_AVPN_ARGS="--vici-socket $TOPO_WORK/no-charon.vici"
STATE=$TOPO_WORK/state-hq
hq_ns=$(topo_ns hq)
ms_now() { echo $(($(date +%s%N) / 1000000)); }

# The three configurations: big (2,000 more spokes), small (the demo) and
# old (the demo under another interface name and table).
sed -i 's|^tunnel_subnet = "100.64.0.0/24"|tunnel_subnet = "100.64.0.0/16"|' "$DEMO/members.toml"
cp "$DEMO/members.toml" "$DEMO/members-big.toml"
b64=ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/
for i in $(seq 0 1999); do
  printf '\n[[member]]\nname = "s%d"\nrole = "spoke"\npublic_key = "AVPNtestspokeAVPNtestspokeAVPNtestspoke%s%s%sA="\nexports = ["10.%d.%d.0/24"]\nhubs = ["hq"]\n' \
    "$i" "${b64:$((i / 4096 % 64)):1}" "${b64:$((i / 64 % 64)):1}" "${b64:$((i % 64)):1}" $((100 + i / 256)) $((i % 256))
done >>"$DEMO/members-big.toml"
sed 's|members = "../members.toml"|members = "../members-big.toml"|' "$DEMO/sites/hq.toml" >"$DEMO/sites/hq-big.toml"
sed 's|^keepalive = "5s"|&\ninterface = "avpn-old"\ntable = 7333|' "$DEMO/sites/hq.toml" >"$DEMO/sites/hq-old.toml"
grep -q 'avpn-old' "$DEMO/sites/hq-old.toml" || fail "could not make the old config"
BIG=$DEMO/sites/hq-big.toml
avpn() { topo_avpn hq "$@"; }

# Everything avpn could own, its WireGuard device's config (wg showconf, no
# runtime counters), and what it keeps in the state directory.
wg_conf() {
  local l
  for l in $(ip -n "$hq_ns" -o link show | awk -F': ' '$2 ~ /^avpn-/ {print $2}' | sed 's/@.*//'); do
    echo "wg $l"
    topo_exec hq wg showconf "$l" 2>&1 | grep -v '^$' | sort
  done
}
snapshot() { topo_avpn_dump hq; wg_conf; }
wireguard_gos() { ip netns pids "$hq_ns" | xargs -r ps -o comm= -p 2>/dev/null | grep -c wireguard-go || true; }
nothing_left() {
  local left; left=$(snapshot)
  [ -z "$left" ] || { echo "$left" | head -20 >&2; return 1; }
  [ "$(wireguard_gos)" = 0 ] || { echo "wireguard-go still runs" >&2; return 1; }
  [ ! -e "$STATE/applied.state" ] && [ ! -e "$STATE/apply.journal" ] || { ls -l "$STATE" >&2; return 1; }
}

topo_settle hq
topo_operator_dump hq >"$TOPO_WORK/operator.before"

echo "== reference: an undisturbed apply of 2,000 spokes, then down"
t0=$(ms_now)
avpn apply "$BIG" >/dev/null || fail "reference apply"
apply_ms=$(($(ms_now) - t0))
snapshot >"$TOPO_WORK/reference"
[ "$(grep -c '^route ' "$TOPO_WORK/reference")" -gt 4000 ] || fail "the reference has too few routes"
grep -q '^link avpn-demo$' "$TOPO_WORK/reference" || fail "the reference has no link"
avpn down >/dev/null || fail "reference down"
nothing_left || fail "reference down left objects"
echo "   cold apply: $apply_ms ms"

# start_killed WHO: the big apply by WHO (avpnctl or avpnd) in the
# background; KILLED is its PID.
start_killed() {
  if [ "$1" = avpnctl ]; then
    topo_spawn hq "$AVPNCTL" apply --state-dir "$STATE" --control-socket "$(topo_avpnd_socket hq)" \
      --vici-socket "$TOPO_WORK/no-charon.vici" "$BIG" >/dev/null 2>&1
  else
    topo_spawn hq "$AVPND" "$BIG" --state-dir "$STATE" --vici-socket "$TOPO_WORK/no-charon.vici" \
      --control-socket "$TOPO_WORK/avpnd-killed.sock" >/dev/null 2>"$TOPO_WORK/avpnd.log"
  fi
  KILLED=$TOPO_SPAWNED
}

tried=0 in_progress=0 passed=0
for round in $(seq 1 "$KILLS"); do
  case $((round % 3)) in
    0) prior=nothing ;;
    1) prior=small; avpn apply "$DEMO/sites/hq.toml" >/dev/null || fail "round $round: prior apply" ;;
    2) prior=old; avpn apply "$DEMO/sites/hq-old.toml" >/dev/null || fail "round $round: prior apply" ;;
  esac
  who=avpnctl; [ $((round % 2)) = 0 ] && who=avpnd
  # Within the time a whole apply takes (avpnd's start included), so most
  # kills land while it runs.
  delay=$((RANDOM % (apply_ms + 100)))
  start_killed "$who"
  sleep "$(printf '0.%03d' "$delay")"
  state=ended
  if kill -0 "$KILLED" 2>/dev/null; then
    # avpnd runs on after its apply: it was in progress if not logged done.
    if [ "$who" = avpnctl ] || ! grep -q "full apply (start)" "$TOPO_WORK/avpnd.log"; then state=running; fi
  fi
  kill -KILL "$KILLED" 2>/dev/null || true
  wait "$KILLED" 2>/dev/null || true
  tried=$((tried + 1))
  [ "$state" = running ] && in_progress=$((in_progress + 1))

  out=$(avpn apply "$BIG" 2>&1) || fail "round $round ($who killed after $delay ms, prior $prior): apply after the kill failed: $out"
  snapshot >"$TOPO_WORK/after"
  diff -u "$TOPO_WORK/reference" "$TOPO_WORK/after" | head -30 >&2 ||
    fail "round $round ($who killed after $delay ms, prior $prior): apply after the kill differs from the reference"
  again=$(avpn apply "$BIG" 2>&1) || fail "round $round: a second apply failed: $again"
  grep -q "^no changes" <<<"$again" || fail "round $round ($who, $delay ms, prior $prior): a second apply still changes: $again"
  avpn down >/dev/null || fail "round $round: down failed"
  nothing_left || fail "round $round ($who killed after $delay ms, prior $prior): down left objects"
  topo_operator_dump hq | diff -u "$TOPO_WORK/operator.before" - >&2 ||
    fail "round $round: the operator's routes or rules changed"
  passed=$((passed + 1))
  echo "   round $round: $who killed after $delay ms ($state, prior: $prior): converged, down clean"
done
echo "kills tried: $tried, hit a run in progress: $in_progress, passed: $passed"
[ "$passed" = "$tried" ] || fail "not every kill passed"
[ "$in_progress" -ge $((KILLS / 2)) ] || fail "only $in_progress of $tried kills hit a run in progress: the campaign did not test what it says"
echo "PASS"
