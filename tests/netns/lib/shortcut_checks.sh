# shellcheck shell=bash
# What the shortcut tests (registry_shortcut*.sh) read: a site's view of a
# shortcut from its avpnd, and a ping -D output's replies by TTL (an echo
# reply's TTL tells its hops). Source after topology.sh.

# ms_since EPOCH: milliseconds from EPOCH (an $EPOCHREALTIME) to now.
ms_since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN {printf "%d", (b - a) * 1000}'; }

# shortcut_of SITE PEER: PEER's "shortcut" in SITE's status --json, or
# "none" when its row has none ("?" when status fails).
shortcut_of() {
  topo_avpn "$1" status --json 2>/dev/null | jq -r --arg p "$2" '[.peers[]? | select(.site == $p) | .shortcut // empty][0] // "none"' 2>/dev/null || echo "?"
}

# both_up A B FROM: A has B "up" and B has A (recording in UP_MS when each
# first was, in ms since FROM, and in SEEN every state each showed on the
# way; both keyed by the end, A or B: the caller declares them with -A).
both_up() {
  local a b st all=0
  for pair in "$1 $2" "$2 $1"; do
    read -r a b <<<"$pair"
    [ -n "${UP_MS[$a]:-}" ] && continue
    st=$(shortcut_of "$a" "$b")
    [[ " ${SEEN[$a]:-} " == *" $st "* ]] || SEEN[$a]+=" $st"
    if [ "$st" = up ]; then UP_MS[$a]=$(ms_since "$3"); else all=1; fi
  done
  return $all
}

# replies FILE: "TIME SEQ TTL" per reply in a ping -D output file.
replies() { awk '/ bytes from / {t = $1; gsub(/[][]/, "", t); s = ""; l = ""
  for (i = 2; i <= NF; i++) { if ($i ~ /^icmp_seq=/) s = substr($i, 10); if ($i ~ /^ttl=/) l = substr($i, 5) }
  print t, s, l}' "$1"; }

# window FILE FROM TO [HUB_TTL]: "ANSWERED VIA_HUBS DIRECT OTHER" of the
# replies received in [FROM, TO] (epoch seconds): DIRECT those with TTL 62
# (host -> spoke -> spoke -> host), VIA_HUBS those with HUB_TTL (default
# 61: through one hub).
window() {
  replies "$1" | awk -v a="$2" -v b="$3" -v hub="${4:-61}" '$1 >= a && $1 <= b {n++; if ($3 == hub) h++; else if ($3 == 62) d++; else o++}
    END {printf "%d %d %d %d\n", n, h, d, o}'
}

# await_shortcut A B FROM WHAT: both_up every 0.2 s until 15 s after FROM
# (an $EPOCHREALTIME: the first ping); prints each end's states and when it
# came up, and fails (the caller's fail) with WHAT when it is not up at both.
await_shortcut() {
  local s
  until both_up "$1" "$2" "$3" || [ "$(ms_since "$3")" -gt 15000 ]; do sleep 0.2; done
  for s in "$1" "$2"; do echo "   $s: states seen:${SEEN[$s]:-}; up ${UP_MS[$s]:-never} ms after the first ping"; done
  [ -n "${UP_MS[$1]:-}" ] && [ -n "${UP_MS[$2]:-}" ] ||
    fail "$4 is not up at both within 15 s of the first ping ($1:${SEEN[$1]:-}, $2:${SEEN[$2]:-})"
}
