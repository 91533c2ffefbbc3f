#!/usr/bin/env bash
# A failed apply undoes charon's part exactly, then the kernel's: an apply that
# changes t1, adds t3 (on a VLAN shared in an AutoVPN group, so the kernel
# changes too) and removes
# t2 fails for real — (1) charon refuses a fourth tunnel's proposal, (2) the
# state directory cannot record the apply (a directory stands in place of
# its config copy; temp files get fresh O_EXCL names, so none can be planted) —
# and afterwards `swanctl --list-conns`, avpn's kernel objects and the state
# directory are byte for byte what they were; the report names every undone
# op and what could not be undone (an unloaded or reloaded initiator's SA is
# new). Then the same apply with the state directory fixed succeeds.
set -u
source "$(dirname "$0")/lib/sites.sh"
sites_init
require_avpnctl
two_sites_direct
trap 'rc=$?; stop_wireguard_go; (exit $rc); sites_cleanup' EXIT

b_conn avpn-t1 b1.example a1.example 10.2.0.0/24 10.1.0.0/24 secret-one
b_conn avpn-t2 b2.example a2.example 10.2.1.0/24 10.1.1.0/24 secret-two
b_conn avpn-t3 b3.example a3.example 10.2.3.0/24 10.1.2.0/24 secret-three
b_load
a_tunnel t1 192.0.2.2 a1.example b1.example lan0 10.2.0.0/24 "$(psk_file a t1 secret-one)"
a_tunnel t2 192.0.2.2 a2.example b2.example lan1 10.2.1.0/24 "$(psk_file a t2 secret-two)"
cp "$WORK/a/site.toml" "$WORK/a/before.toml"

# The apply to undo: t1 changed, t2 gone, t3 new on a new VLAN lan2, which
# site A now shares in an AutoVPN group: a WireGuard device (wireguard-go:
# this kernel may lack WireGuard), its address, routes and rules are the
# kernel's part. The group is named per run: wireguard-go's UAPI socket is
# not per namespace.
(umask 077 && "$AVPNCTL" genkey >"$WORK/a/hub.key") || fail "avpnctl genkey"
hub_pub=$("$AVPNCTL" pubkey <"$WORK/a/hub.key") || fail "avpnctl pubkey"
{
    awk '/^\[\[ipsec\]\]/{exit} {print}' "$WORK/a/before.toml" | sed 's/^role = "off"/role = "spoke"/'
    printf '[[vlan]]\nname = "lan2"\nsubnet = "10.1.2.0/24"\nshareable = true\n\n'
    printf '[autovpn]\ngroup = "u%s"\nwireguard_backend = "userspace"\nhubs = ["hub-b"]\npermitted_vlans = ["lan2"]\n\n' "$TAG"
    printf '[[autovpn.member]]\nname = "hub-b"\nrole = "hub"\npublic_key = "%s"\n' "$hub_pub"
    printf 'exports = ["10.9.0.0/24"]\ncontact = "192.0.2.2:51820"\n\n'
} >"$WORK/a/after.toml"
cp "$WORK/a/after.toml" "$WORK/a/site.toml"
CHILD_LIFETIME=30m a_tunnel t1 192.0.2.2 a1.example b1.example lan0 10.2.0.0/24 "$WORK/a/t1.psk"
a_tunnel t3 192.0.2.2 a3.example b3.example lan2 10.2.3.0/24 "$(psk_file a t3 secret-three)"
cp "$WORK/a/site.toml" "$WORK/a/after.toml"
IKE_PROPOSALS=aes256-sha256-nosuchgroup \
    a_tunnel t4 192.0.2.2 a4.example b4.example lan0 10.2.4.0/24 "$(psk_file a t4 secret-four)"
cp "$WORK/a/site.toml" "$WORK/a/refused.toml"

note "before: t1 and t2 applied and up"
cp "$WORK/a/before.toml" "$WORK/a/site.toml"
apply_a 10
expect "t1 up" "$(tunnel_field avpn-t1 up)" true
expect "t2 up" "$(tunnel_field avpn-t2 up)" true
avpnctl_a apply "$WORK/a/after.toml" --dry-run --json >"$WORK/a/out.json" || fail "apply --dry-run"
[ "$(jq_a '.changes')" -gt 0 ] || fail "the apply to undo changes nothing in the kernel: the test would prove nothing"

# What must come back: charon's connections, avpn's kernel objects (charon's
# own table-220 routes follow its SAs, which are new after an undo), the state.
snapshot() {
    swanctl_at a --list-conns >"$WORK/a/$1.conns" 2>&1 || fail "swanctl --list-conns"
    {
        in_ns a ip -d link show | sed 's/ state [A-Z]*//'
        in_ns a ip addr show
        in_ns a ip rule show
        in_ns a ip route show table all | grep -v 'table 220'
    } >"$WORK/a/$1.ip"
    (cd "$WORK/a/state" && sha256sum applied.state applied-site.toml vici.applied vici.fingerprints) >"$WORK/a/$1.state"
}
same_as_before() {
    snapshot after
    diff -u "$WORK/a/before.conns" "$WORK/a/after.conns" || fail "$1: charon's connections differ from before"
    diff -u "$WORK/a/before.ip" "$WORK/a/after.ip" || fail "$1: the kernel differs from before"
    diff -u "$WORK/a/before.state" "$WORK/a/after.state" || fail "$1: the state directory differs from before"
    note "ok: $1: list-conns, kernel and state directory as before"
}
settle_dad
snapshot before
grep -q '^avpn-t2:' "$WORK/a/before.conns" || fail "avpn-t2 not loaded before"

# undone_has OP: the JSON report names OP as undone.
undone_has() { jq -e --arg op "$1" '.ipsec.undone | index($op)' "$WORK/a/out.json" >/dev/null ||
    fail "undone lacks '$1': $(jq -c '.ipsec.undone' "$WORK/a/out.json")"; }

note "1: charon refuses avpn-t4 after t1 was replaced and t3 added"
cp "$WORK/a/refused.toml" "$WORK/a/site.toml"
if avpnctl_a apply "$WORK/a/site.toml" --json --settle 0 >"$WORK/a/out.json" 2>"$WORK/a/apply.err"; then
    fail "apply with a refused tunnel succeeded"
fi
jq_a '.ipsec.error.where + " " + .ipsec.error.why' | grep -qi "proposal" ||
    fail "charon's reason is missing: $(jq -c '.ipsec.error' "$WORK/a/out.json")"
expect "failed connection" "$(jq_a '.ipsec.error.what')" "ipsec connection avpn-t4"
expect "undone, newest first" "$(jq_a '.ipsec.undone | join(",")')" \
    "load-shared avpn-t4 (new),load-conn avpn-t3 (new),load-shared avpn-t3 (new),load-conn avpn-t1 (replaced),load-shared avpn-t1 (replaced)"
jq_a '.ipsec.not_undone[]' | grep -q "^load-conn avpn-t1 (replaced): the reload closed its SAs" ||
    fail "the report hides that t1's SA is new: $(jq -c '.ipsec.not_undone' "$WORK/a/out.json")"
expect "kernel rolled back" "$(jq_a '.ipsec.kernel_rolled_back')" true
expect "rollback errors" "$(jq_a '.ipsec.rollback_errors | length')" 0
same_as_before "refused tunnel"

note "2: the state directory cannot record the apply (t2 unloaded by then)"
cp "$WORK/a/after.toml" "$WORK/a/site.toml"
mv "$WORK/a/state/applied-site.toml" "$WORK/a/applied-site.toml.aside"
mkdir "$WORK/a/state/applied-site.toml"
if avpnctl_a apply "$WORK/a/site.toml" --json --settle 0 >"$WORK/a/out.json" 2>"$WORK/a/apply.err"; then
    fail "apply that could not be recorded succeeded"
fi
grep -q "applied-site.toml" "$WORK/a/apply.err" || fail "the error does not name the state file: $(cat "$WORK/a/apply.err")"
expect "charon reported no failure of its own" "$(jq_a '.ipsec.error')" null
undone_has "unload-conn avpn-t2"
undone_has "unload-shared avpn-t2"
undone_has "load-conn avpn-t3 (new)"
undone_has "load-conn avpn-t1 (replaced)"
expect "first undone (newest)" "$(jq_a '.ipsec.undone[0]')" "unload-shared avpn-t2"
jq_a '.ipsec.not_undone[]' | grep -q "^unload-conn avpn-t2: the unload closed its SAs" ||
    fail "the report hides that t2's SA is new: $(jq -c '.ipsec.not_undone' "$WORK/a/out.json")"
expect "kernel rolled back" "$(jq_a '.ipsec.kernel_rolled_back')" true
rmdir "$WORK/a/state/applied-site.toml"
mv "$WORK/a/applied-site.toml.aside" "$WORK/a/state/applied-site.toml"
same_as_before "unrecordable apply"

note "the reloaded initiators come back on their own (their start action)"
for _ in $(seq 50); do
    status_a
    [ "$(tunnel_field avpn-t1 up)" = true ] && [ "$(tunnel_field avpn-t2 up)" = true ] && break
    sleep 0.2
done
expect "t1 up after the undo" "$(tunnel_field avpn-t1 up)" true
expect "t2 up after the undo" "$(tunnel_field avpn-t2 up)" true
ping_between a 10.1.1.1 10.2.1.1

note "the same apply, recordable: succeeds"
apply_a 10
expect "loaded" "$(jq_a '.ipsec.loaded | sort | join(",")')" "avpn-t1,avpn-t3"
expect "unloaded" "$(jq_a '.ipsec.unloaded | join(",")')" "avpn-t2"
grep -qs "secret-one\|secret-two\|secret-three\|secret-four" "$WORK/a"/*.out "$WORK/a"/*.err "$WORK/a/out.json" \
    "$WORK/a/state"/* && fail "a secret in an output or the state directory"
avpnctl_a down >/dev/null || fail "avpnctl down"
echo "PASS"
