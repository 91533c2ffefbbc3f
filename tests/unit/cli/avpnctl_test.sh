#!/usr/bin/env bash
# avpnctl as an operator meets it: exit codes, diagnostics, JSON, keys, member
# entries. Runs the built binary; no root needed.
set -u
bin=${AVPN_BIN:?}/avpnctl
src=${AVPN_SOURCE_DIR:?}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bash "$src/examples/fix-permissions"
fails=0 passes=0
ok() { passes=$((passes + 1)); }
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
expect_rc() { # expect_rc RC DESCRIPTION CMD...
  local want=$1 what=$2; shift 2
  "$@" >"$work/out" 2>"$work/err"; local rc=$?
  if [ "$rc" -eq "$want" ]; then ok; else fail "$what: exit $rc, want $want"; cat "$work/err"; fi
}
london=$src/examples/acme/sites/london.toml

expect_rc 0 "--version" "$bin" --version
grep -q "^avpnctl [0-9]" "$work/out" && ok || fail "--version prints 'avpnctl VERSION'"
expect_rc 0 "plan --version" "$bin" plan --version
expect_rc 0 "check --help" "$bin" check --help
expect_rc 2 "no command" "$bin"
expect_rc 2 "plan without FILE" "$bin" plan
expect_rc 2 "unknown option" "$bin" plan --frobnicate "$london"
expect_rc 0 "check a valid example" "$bin" check "$london"
grep -q "ok (site london" "$work/out" && ok || fail "check prints a summary"

# Every error of a file in one run, each located.
cp "$src/examples/acme/keys/london.key" "$work/site.key"
chmod 600 "$work/site.key"
cat >"$work/bad.toml" <<'TOML'
[site]
name = "london"
role = "spoke"
uplinks = ["wan0"]
key_file = "site.key"
colour = "blue"

[[vlan]]
name = "Corp"
subnet = "10.0.1.1/24"
shareable = true
TOML
expect_rc 1 "check an invalid file" "$bin" check "$work/bad.toml"
grep -q "bad.toml:6:1: error: .*colour" "$work/err" && ok || { fail "unknown key located at 6:1"; cat "$work/err"; }
grep -q "bad.toml:10:10: error: .*subnet" "$work/err" && ok || { fail "host bits located at 10:10"; cat "$work/err"; }
grep -q "2 errors" "$work/err" && ok || fail "error count"

expect_rc 1 "check --json on an invalid file" "$bin" check --json "$work/bad.toml"
python3 - "$work/out" <<'PY' && ok || fail "check --json lists located errors"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["valid"] is False and len(d["errors"]) == 2, d
assert all(":" in e["where"] and e["what"] for e in d["errors"]), d
PY

# Secrets: a world-readable key is refused, and its text never printed.
chmod 644 "$work/site.key"
sed -i 's/^colour.*//; s|10.0.1.1/24|10.0.1.0/24|' "$work/bad.toml"
expect_rc 1 "world-readable key refused" "$bin" check "$work/bad.toml"
grep -q "chmod 600" "$work/err" && ok || { fail "key mode error says how to fix it"; cat "$work/err"; }
grep -qF "$(head -c 20 "$work/site.key")" "$work/err" "$work/out" && fail "key text leaked" || ok

# plan --json: the documented schema (docs/plan-json.md).
expect_rc 0 "plan --json" "$bin" plan --json "$london"
python3 - "$work/out" <<'PY' && ok || fail "plan --json follows avpn.plan/1"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["schema"] == "avpn.plan/1" and d["site"] == "london"
for k in ["groups", "peers", "links", "addresses", "wireguard", "xfrm_states", "xfrm_policies", "routes", "rules", "ipsec"]:
    assert isinstance(d[k], list), k
g = d["groups"][0]
assert set(g) == {"group", "fingerprint", "interface", "tunnel_address", "exports", "full_tunnel"}, g
assert len(g["fingerprint"]) == 32 and set(g["fingerprint"]) <= set("0123456789abcdef"), g
r = d["routes"][0]
assert set(r) == {"table", "dst", "dev", "gateway", "prefsrc", "metric"}, r
w = d["wireguard"][0]
assert "private_key_file" in w and "private_key" not in w
assert all(set(p) == {"site", "public_key", "endpoint", "persistent_keepalive", "allowed_ips"} for p in w["peers"])
assert d["rules"][0]["priority"] in range(7000, 7100)
f = d["firewall"]  # docs/firewall.md: table inet avpn, what apply installs
assert f["table"] == "inet avpn" and f["applied"] is True, f
assert all(len(c) == 1 and "add" in c for c in f["nft"]), f["nft"][:3]
PY
grep -qF "$(head -c 20 "$src/examples/acme/keys/london.key")" "$work/out" && fail "plan --json leaks the key" || ok

# Keys: genkey | pubkey agrees with wg(8) when it is installed.
"$bin" genkey >"$work/k" && ok || fail "genkey"
[ "$(wc -c <"$work/k")" -eq 45 ] && ok || fail "genkey prints 44 base64 chars"
pub=$("$bin" pubkey <"$work/k") && ok || fail "pubkey"
if command -v wg >/dev/null; then
  [ "$pub" = "$(wg pubkey <"$work/k")" ] && ok || fail "pubkey differs from wg pubkey"
fi
echo "not a key" | "$bin" pubkey >/dev/null 2>&1; [ $? -eq 1 ] && ok || fail "pubkey rejects garbage with exit 1"

# The state lock: while another process holds it, apply and down exit 4
# (busy); a state directory that cannot be made at all is a failure (3).
# (The netns demo's hq: london has settings that apply refuses before it locks.)
hq=$src/examples/netns-demo/sites/hq.toml
mkdir -m 700 "$work/state"
exec 9>"$work/state/lock"
if flock -n 9; then
  expect_rc 4 "apply while the state lock is held" "$bin" apply --state-dir "$work/state" "$hq"
  grep -q "locked: another" "$work/err" && ok || fail "apply says another writer holds the lock"
  expect_rc 4 "down while the state lock is held" "$bin" down --state-dir "$work/state"
else
  fail "flock on $work/state/lock"
fi
exec 9>&-
expect_rc 3 "apply with a state directory under a file" "$bin" apply --state-dir "$work/site.key/state" "$hq"

# member: each site's printed entry equals its entry in the shipped list.
for site in "$src"/examples/acme/sites/*.toml; do
  "$bin" member "$site" >"$work/member.toml" || { fail "member $site"; continue; }
  python3 - "$work/member.toml" "$src/examples/acme/corp-members.toml" <<'PY' && ok || fail "member entry of $site differs from corp-members.toml"
import sys, tomllib
mine = tomllib.load(open(sys.argv[1], "rb"))["member"][0]
listed = {m["name"]: m for m in tomllib.load(open(sys.argv[2], "rb"))["member"]}[mine["name"]]
hub = lambda h: h if isinstance(h, dict) else {"name": h}
norm = lambda m: {k: (sorted(v) if k == "exports" else [hub(h) for h in v] if k == "hubs" else v) for k, v in m.items()}
assert norm(mine) == norm(listed), (mine, listed)
PY
done

echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
