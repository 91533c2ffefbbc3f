#!/usr/bin/env bash
# The firewall plan of every example site (avpnctl plan --json, "firewall")
# is a libnftables document nft accepts: its commands are checked for the
# contract of orchestrator/plan/firewall_json.hpp (only objects inside table
# inet avpn, counters and sets before the chains, chains before their
# rules), then wrapped with the table add/delete/add the kernel side uses and
# run through `nft -j -c -f` (check mode: parsed and evaluated against the
# kernel, nothing committed) in a network namespace of its own.
# Root (nft needs CAP_NET_ADMIN); exit 77 (skipped) without it.
set -u
src=${AVPN_SOURCE_DIR:?}
bin=${AVPN_BIN:-$src/build/bin}/avpnctl
[ "$(id -u)" -eq 0 ] || { echo "SKIP: nft -c needs root"; exit 77; }
command -v nft >/dev/null || { echo "SKIP: nft is not installed (apt-get install nftables)"; exit 77; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bash "$src/examples/fix-permissions"
fails=0 checked=0
for site in "$src"/examples/*/sites/*.toml; do
  name=${site#"$src"/examples/}
  if ! "$bin" plan --json "$site" >"$work/plan.json" 2>"$work/err"; then
    echo "FAIL: $name: avpnctl plan"; cat "$work/err"; fails=$((fails + 1)); continue
  fi
  if ! python3 - "$work/plan.json" "$work/nft.json" <<'PY'
import json, sys
plan = json.load(open(sys.argv[1]))
cmds = plan["firewall"]["nft"]
order = {"counter": 0, "set": 1, "map": 1, "chain": 2, "rule": 3}  # maps: the shortcut watch
seen = -1
for c in cmds:
    assert list(c) == ["add"], c
    (kind, obj), = c["add"].items()
    assert kind in order, ("only objects inside the table", kind)
    assert obj["family"] == "inet" and obj["table"] == "avpn", obj
    assert order[kind] >= seen, ("counters, sets, chains, rules in that order", kind)
    seen = order[kind]
counters = [c["add"]["counter"]["name"] for c in cmds if "counter" in c["add"]]
assert counters[-1] == "default-drop", counters
rules = [c["add"]["rule"] for c in cmds if "rule" in c["add"]]
inner = [r for r in rules if r["chain"] == "rules"]
# The default drop is last, replies pass first.
assert inner[-1]["expr"][-1] == {"drop": None} and {"counter": "default-drop"} in inner[-1]["expr"], inner[-1]
assert any("ct" in str(e) for e in inner[0]["expr"]), inner[0]
table = {"family": "inet", "name": "avpn"}
doc = {"nftables": [{"add": {"table": table}}, {"delete": {"table": table}}, {"add": {"table": table}}] + cmds}
json.dump(doc, open(sys.argv[2], "w"))
PY
  then
    echo "FAIL: $name: the firewall commands break the contract"; fails=$((fails + 1)); continue
  fi
  if ! unshare --net nft -j -c -f "$work/nft.json" 2>"$work/err"; then
    echo "FAIL: $name: nft -c refuses the document"; cat "$work/err"; fails=$((fails + 1)); continue
  fi
  checked=$((checked + 1))
done
echo "$checked example firewall plans accepted by nft -c, $fails failed"
[ "$fails" -eq 0 ] && [ "$checked" -gt 0 ]
