#!/usr/bin/env bash
# Issue 12, cases 3 and 4: the state directory on the demo hub hq
# (wireguard-go), driven by `avpnctl apply` / `down` as an adversarial
# operator would. Checks that:
#   - a planted dangling `lock` symlink is refused and its target not made;
#   - a pre-created world-writable state directory is refused (naming its
#     path, owner and mode) with nothing touched, and temp-name symlinks
#     planted there are never written through (their target is unchanged);
#   - a tampered record naming a bad interface is refused as damaged
#     (file:line and `--force-scan`) before anything is touched; one naming
#     an operator's interface by a valid name does not make down delete it;
#   - a damaged record stops apply and down before they touch anything, and
#     `down --force-scan` removes everything by the kernel's markers and the
#     record with it;
#   - a directory in place of the record or of the config copy, and a full
#     disk (a tiny tmpfs as the state directory, in a private mount
#     namespace): apply fails with a clear error and the kernel (`ip -d link`,
#     addresses, routes of every table, rules, `wg showconf`) is exactly as
#     before.
set -euo pipefail
SRC=${AVPN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
AVPNCTL=${AVPN_BIN:-$SRC/build/bin}/avpnctl
# shellcheck source=lib/topology.sh
. "$SRC/tests/netns/lib/topology.sh"

topo_require jq wireguard-go wg unshare nsenter
[ -x "$AVPNCTL" ] || { echo "FAIL: $AVPNCTL not built"; exit 1; }
started=$EPOCHREALTIME
topo_init
topo_demo_copy "$SRC"
STATE=$TOPO_WORK/state-hq
HQ=$DEMO/sites/hq.toml
NS=$(topo_ns hq)

fail() { topo_fail "$@"; }
step() { echo "== $*"; }
avpn() { topo_avpn hq "$@"; }

# full_dump: everything of hq's kernel an apply could touch, keys masked.
full_dump() {
  topo_settle hq
  ip -n "$NS" -d link show
  ip -n "$NS" addr show
  ip -n "$NS" route show table all
  ip -n "$NS" -6 route show table all
  ip -n "$NS" rule show
  ip -n "$NS" -6 rule show
  if ip -n "$NS" link show avpn-demo >/dev/null 2>&1; then
    # One line per section, sorted: wireguard-go lists its peers in no fixed order.
    topo_exec hq wg showconf avpn-demo | sed 's/^PrivateKey = .*/PrivateKey = <key>/' |
      awk 'BEGIN {RS = ""} {gsub(/\n/, " | "); print}' | sort
  fi
}
snapshot() { full_dump >"$TOPO_WORK/dump.$1"; }
same_as() {
  full_dump >"$TOPO_WORK/dump.now"
  diff -u "$TOPO_WORK/dump.$1" "$TOPO_WORK/dump.now" || fail "the kernel changed $2"
  echo "   kernel dump (links, addresses, routes, rules, wg showconf) unchanged $2"
}
# expect_refusal NAME RC OUTPUT PATTERN...: a failed run whose output holds every pattern.
expect_refusal() {
  local name=$1 rc=$2 out=$3 p; shift 3
  [ "$rc" -ne 0 ] || fail "$name: exited 0: $out"
  for p in "$@"; do grep -qF -- "$p" <<<"$out" || fail "$name: output lacks '$p': $out"; done
  echo "   $name: exit $rc: $(head -1 <<<"$out")"
}
run() { set +e; OUT=$("$@" 2>&1); RC=$?; set -e; }

step "a dangling lock symlink is refused, its target not created"
mkdir -m 0700 "$STATE"
ln -s "$TOPO_WORK/made-by-root" "$STATE/lock"
snapshot empty
run avpn apply "$HQ"
expect_refusal "apply" "$RC" "$OUT" "$STATE/lock" "symbolic link"
[ ! -e "$TOPO_WORK/made-by-root" ] || fail "the lock symlink's target was created"
run avpn down
expect_refusal "down" "$RC" "$OUT" "$STATE/lock" "symbolic link"
[ ! -e "$TOPO_WORK/made-by-root" ] || fail "the lock symlink's target was created by down"
same_as empty "after the refused apply and down"
rm "$STATE/lock" && rmdir "$STATE"

step "a pre-created world-writable state dir is refused; planted temp symlinks are not written through"
mkdir -m 0777 "$STATE"
echo "operator's precious file" >"$TOPO_WORK/precious"
for f in applied.state.tmp applied-site.toml.tmp lock.tmp; do ln -s "$TOPO_WORK/precious" "$STATE/$f"; done
run avpn apply "$HQ"
expect_refusal "apply" "$RC" "$OUT" "$STATE" "mode 0777" "owned by uid 0 gid 0"
same_as empty "after the refused apply"
[ "$(cat "$TOPO_WORK/precious")" = "operator's precious file" ] || fail "the symlink's target was overwritten"
chmod 0700 "$STATE"
r=$(avpn apply --json "$HQ") || fail "apply in the repaired directory failed: $r"
jq -e '.applied and .error == null' <<<"$r" >/dev/null || fail "apply: $r"
[ "$(cat "$TOPO_WORK/precious")" = "operator's precious file" ] || fail "the symlink's target was overwritten by apply"
[ -f "$STATE/applied.state" ] && [ ! -L "$STATE/applied.state" ] || fail "no regular record after apply"
grep -qx 'link avpn-demo' "$STATE/applied.state" || fail "the record lacks avpn-demo: $(cat "$STATE/applied.state")"
echo "   the planted links' target is unchanged; the record is a regular file"
rm "$STATE"/*.tmp
snapshot applied

step "a tampered record naming an invalid interface is refused before anything is touched"
cp "$STATE/applied.state" "$TOPO_WORK/record.good"
sed -i 's|^end$|link ../../etc\nend|' "$STATE/applied.state"
line=$(grep -n '^link \.\./\.\./etc$' "$STATE/applied.state" | cut -d: -f1)
for cmd in down "apply $HQ"; do
  # shellcheck disable=SC2086
  run avpn $cmd
  expect_refusal "$cmd" "$RC" "$OUT" "$STATE/applied.state:$line" "damaged state record" \
    "avpnctl down --force-scan --state-dir $STATE"
done
same_as applied "after the refused down and apply"

step "a tampered record naming an operator's interface: down leaves that interface"
cp "$TOPO_WORK/record.good" "$STATE/applied.state"
ip -n "$NS" link add opr0 type veth peer name opr0p
ip -n "$NS" link set opr0 up
sed -i 's|^end$|link opr0\nend|' "$STATE/applied.state"
r=$(avpn down --json) || fail "down failed: $r"
ip -n "$NS" link show opr0 >/dev/null || fail "down deleted the operator's opr0"
left=$(topo_avpn_dump hq)
[ -z "$left" ] || fail "avpn objects remain after down:"$'\n'"$left"
echo "   opr0 is still there; avpn's objects are gone"
ip -n "$NS" link del opr0

step "a damaged record stops down; down --force-scan removes everything"
r=$(avpn apply --json "$HQ") || fail "apply failed: $r"
snapshot applied
head -c 20 "$TOPO_WORK/record.good" >"$STATE/applied.state"  # cut mid-line
run avpn down
expect_refusal "down" "$RC" "$OUT" "$STATE/applied.state:" "damaged state record" "--force-scan"
same_as applied "after down refused the damaged record"
r=$(avpn down --force-scan --json) || fail "down --force-scan failed: $r"
jq -e '.applied and .error == null and .deleted.link == 1' <<<"$r" >/dev/null || fail "down --force-scan: $r"
left=$(topo_avpn_dump hq)
[ -z "$left" ] || fail "avpn objects remain after down --force-scan:"$'\n'"$left"
[ ! -e "$STATE/applied.state" ] || fail "down --force-scan left the damaged record"
r=$(avpn down --json) || fail "second down failed: $r"
jq -e '.applied and .changes == 0' <<<"$r" >/dev/null || fail "second down: $r"
echo "   nothing of avpn's left, the record gone, a second down changes nothing"

step "a directory in place of the record: apply refuses before touching anything"
r=$(avpn apply --json "$HQ") || fail "apply failed: $r"
# The change a member's new export makes on the hub: a route and a peer update.
sed -i 's/^permitted_vlans = \["Corp"\]/permitted_vlans = ["Corp", "Lab"]/' "$DEMO/sites/branch1.toml"
sed -i 's|^exports = \["10.1.1.0/24"\]|exports = ["10.1.1.0/24", "10.1.2.0/24"]|' "$DEMO/members.toml"
r=$(avpn apply --dry-run --json "$HQ") || fail "dry run failed: $r"
jq -e '[.ops[] | "\(.op) \(.kind)"] | sort == ["create route", "update wireguard"]' <<<"$r" >/dev/null ||
  fail "unexpected change: $(jq -c '[.ops[] | "\(.op) \(.kind)"]' <<<"$r")"
snapshot applied
rm "$STATE/applied.state" && mkdir "$STATE/applied.state"
run avpn apply "$HQ"
expect_refusal "apply" "$RC" "$OUT" "$STATE/applied.state" "is a directory" "--force-scan"
same_as applied "after the refused apply"
rmdir "$STATE/applied.state" && cp "$TOPO_WORK/record.good" "$STATE/applied.state"

step "a directory in place of the config copy: the record's failure rolls the kernel back"
rm -f "$STATE/applied-site.toml" && mkdir "$STATE/applied-site.toml"
run avpn apply "$HQ"
expect_refusal "apply" "$RC" "$OUT" "$STATE/applied-site.toml" "Is a directory"
same_as applied "after the rolled-back apply"
rmdir "$STATE/applied-site.toml"
[ -z "$(find "$STATE" -name '*.tmp*')" ] || fail "temp files left: $(ls -a "$STATE")"

step "a full disk: a 16 KiB tmpfs as the state directory, in a private mount namespace"
r=$(avpn down --json) || fail "down failed: $r"
snapshot empty
FULL=$TOPO_WORK/state-full
mkdir -m 0700 "$FULL"
unshare -m --propagation private sleep 600 &
holder=$!
TOPO_PIDS+=("$holder")
for _ in $(seq 50); do [ "$(readlink /proc/$holder/ns/mnt)" != "$(readlink /proc/self/ns/mnt)" ] && break; sleep 0.05; done
nsenter -t "$holder" -m mount -t tmpfs -o size=16k,mode=0700 avpn-full "$FULL"
# avpnctl inside hq's namespace and the holder's mount namespace.
full_avpn() {
  nsenter -t "$holder" -m ip netns exec "$NS" sh -c 'mount --bind "$0" /run/wireguard && exec "$@"' \
    "$TOPO_WORK/run-hq" "$AVPNCTL" "$@" --state-dir "$FULL" --control-socket "$(topo_avpnd_socket hq)"
}
# The first apply with room, then the disk filled and the config changed back.
r=$(full_avpn apply --json "$HQ") || fail "apply on the tmpfs failed: $r"
snapshot applied
nsenter -t "$holder" -m sh -c 'dd if=/dev/zero of="$0/filler" bs=1k count=64 2>/dev/null; true' "$FULL"
nsenter -t "$holder" -m df -k "$FULL" | tail -1 | awk '{print "   tmpfs: " $3 " KiB used, " $4 " KiB free"}'
sed -i 's/^permitted_vlans = \["Corp", "Lab"\]/permitted_vlans = ["Corp"]/' "$DEMO/sites/branch1.toml"
sed -i 's|^exports = \["10.1.1.0/24", "10.1.2.0/24"\]|exports = ["10.1.1.0/24"]|' "$DEMO/members.toml"
set +e; OUT=$(full_avpn apply "$HQ" 2>&1); RC=$?; set -e
expect_refusal "apply" "$RC" "$OUT" "$FULL/" "No space left on device"
grep -q "rolled back\|undone\|undo" <<<"$OUT" || echo "   (output: $OUT)"
same_as applied "after the apply that could not record"
nsenter -t "$holder" -m rm "$FULL/filler"
r=$(full_avpn apply --json "$HQ") || fail "apply after freeing the disk failed: $r"
jq -e '.applied and ([.ops[] | "\(.op) \(.kind)"] | sort == ["delete route", "update wireguard"])' <<<"$r" >/dev/null ||
  fail "apply after freeing the disk: $(jq -c '[.ops[] | "\(.op) \(.kind)"]' <<<"$r")"
r=$(full_avpn down --json) || fail "down on the tmpfs failed: $r"
same_as empty "after down"
[ -z "$(nsenter -t "$holder" -m ls -A "$FULL" | grep -v '^lock$')" ] ||
  fail "files left on the tmpfs: $(nsenter -t "$holder" -m ls -A "$FULL")"

echo "PASS state_dir ($(awk -v a="$started" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.1f", b - a}') s)"
