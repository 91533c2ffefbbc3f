#!/bin/bash
# Runs inside the VM (see run): COUNT ESP SAs (rfc4106(gcm(aes)), tunnel mode,
# UDP-encapsulated) and COUNT policies written with `ip -batch`, dumped and
# deleted, RUNS times in a fresh namespace each; prints medians.
set -euo pipefail
count=${1:?COUNT} runs=${2:?RUNS}
work=$(mktemp -d)
ns=bench-sa

# Batch files: one object per line.
key=0x$(head -c 20 /dev/urandom | od -An -tx1 | tr -d ' \n')
for ((i = 0; i < count; i++)); do
  spi=$((0x10000 + i))
  echo "xfrm state add src 192.0.2.1 dst 192.0.2.2 proto esp spi $spi reqid $spi mode tunnel aead rfc4106(gcm(aes)) $key 128 encap espinudp 4500 4500 0.0.0.0" >>"$work/sa-add"
  echo "xfrm state delete src 192.0.2.1 dst 192.0.2.2 proto esp spi $spi" >>"$work/sa-del"
  dst=198.19.$((i / 256)).$((i % 256))/32
  echo "xfrm policy add src 198.18.0.0/24 dst $dst dir out tmpl src 192.0.2.1 dst 192.0.2.2 proto esp reqid $spi mode tunnel" >>"$work/pol-add"
  echo "xfrm policy delete src 198.18.0.0/24 dst $dst dir out" >>"$work/pol-del"
done

ms_of() { local s; s=$(date +%s%N); "$@" >/dev/null; echo $(( ($(date +%s%N) - s) / 1000000 )); }
dump_count() { local n; n=$(ip -n "$ns" xfrm "$1" list | grep -c '^src'); [ "$n" -eq "$count" ] || { echo "dump found $n of $count" >&2; exit 1; }; }
# Warm-up outside the timing: the first GCM SA runs the crypto self-tests (~2.4 s).
ip netns add "$ns"
ip -n "$ns" xfrm state add src 192.0.2.1 dst 192.0.2.2 proto esp spi 1 mode tunnel aead 'rfc4106(gcm(aes))' "$key" 128
ip netns del "$ns"

declare -A times
record() { times[$1]+="$2 "; }
for ((r = 1; r <= runs; r++)); do
  ip netns add "$ns"
  record "SA add" "$(ms_of ip -n "$ns" -batch "$work/sa-add")"
  record "SA dump" "$(ms_of dump_count state)"
  record "policy add" "$(ms_of ip -n "$ns" -batch "$work/pol-add")"
  record "policy dump" "$(ms_of dump_count policy)"
  record "policy delete" "$(ms_of ip -n "$ns" -batch "$work/pol-del")"
  record "SA delete" "$(ms_of ip -n "$ns" -batch "$work/sa-del")"
  ip netns del "$ns"
done

echo "kernel-sa: $count objects, $runs runs, kernel $(uname -r) under qemu TCG, ip -batch"
median() { tr ' ' '\n' | grep . | sort -n | awk '{v[NR]=$1} END {print v[int((NR + 1) / 2)]}'; }
for op in "SA add" "SA dump" "SA delete" "policy add" "policy dump" "policy delete"; do
  m=$(median <<<"${times[$op]}")
  awk -v op="$op" -v m="$m" -v n="$count" -v all="${times[$op]}" \
    'BEGIN {printf "%-14s median %6d ms  %8.0f objects/s  (runs, ms: %s)\n", op, m, (m > 0 ? n * 1000 / m : 0), all}'
done
