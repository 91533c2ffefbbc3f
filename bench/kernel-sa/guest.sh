#!/bin/bash
# Runs inside the VM (see run): COUNT ESP SAs (rfc4106(gcm(aes)), tunnel mode,
# UDP-encapsulated, replay window 128) written with `ip -batch` and with
# avpn's netlink layer (bench_kernel_sa: ack per SA, and ack failures only),
# dumped and deleted, plus COUNT policies with `ip -batch`; RUNS times in a
# fresh namespace each. Prints medians and avpn's ratio against ip -batch.
set -euo pipefail
count=${1:?COUNT} runs=${2:?RUNS}
bench=${AVPN_BIN:-}/bench_kernel_sa
[ -x "$bench" ] || { echo "no bench_kernel_sa in AVPN_BIN ('${AVPN_BIN:-}'): build the tree first" >&2; exit 1; }
work=$(mktemp -d)
ns=bench-sa

# Batch files: one object per line, the same SAs bench_kernel_sa writes.
key=0x$(head -c 20 /dev/urandom | od -An -tx1 | tr -d ' \n')
awk -v n="$count" -v key="$key" -v w="$work" 'BEGIN {
  for (i = 0; i < n; i++) {
    spi = 65536 + i
    printf "xfrm state add src 192.0.2.1 dst 192.0.2.2 proto esp spi %d reqid %d mode tunnel replay-window 128 aead rfc4106(gcm(aes)) %s 128 encap espinudp 4500 4500 0.0.0.0\n", spi, spi, key > (w "/sa-add")
    printf "xfrm state delete src 192.0.2.1 dst 192.0.2.2 proto esp spi %d\n", spi > (w "/sa-del")
    dst = sprintf("198.19.%d.%d/32", int(i / 256), i % 256)
    printf "xfrm policy add src 198.18.0.0/24 dst %s dir out tmpl src 192.0.2.1 dst 192.0.2.2 proto esp reqid %d mode tunnel\n", dst, spi > (w "/pol-add")
    printf "xfrm policy delete src 198.18.0.0/24 dst %s dir out\n", dst > (w "/pol-del")
  }
}'

ms_of() { local s; s=$(date +%s%N); "$@" >/dev/null; echo $(( ($(date +%s%N) - s) / 1000000 )); }
dump_count() { local n; n=$(ip -n "$ns" xfrm "$1" list | grep -c '^src'); [ "$n" -eq "$count" ] || { echo "dump found $n of $count" >&2; exit 1; }; }
# Warm-up outside the timing: the first GCM SA runs the crypto self-tests (~2.4 s).
ip netns add "$ns"
ip -n "$ns" xfrm state add src 192.0.2.1 dst 192.0.2.2 proto esp spi 1 mode tunnel aead 'rfc4106(gcm(aes))' "$key" 128
ip netns del "$ns"

declare -A times
record() { times[$1]+="$2 "; }
# avpn_run MODE: one bench_kernel_sa run in a fresh namespace.
avpn_run() {
  local add dump del
  ip netns add "$ns"
  read -r _ add _ dump _ del < <(ip netns exec "$ns" "$bench" "$count" "$1")
  ip netns del "$ns"
  record "avpn($1) SA add" "$add"
  record "avpn($1) SA dump" "$dump"
  record "avpn($1) SA delete" "$del"
}
for ((r = 1; r <= runs; r++)); do
  ip netns add "$ns"
  record "SA add" "$(ms_of ip -n "$ns" -batch "$work/sa-add")"
  record "SA dump" "$(ms_of dump_count state)"
  record "policy add" "$(ms_of ip -n "$ns" -batch "$work/pol-add")"
  record "policy dump" "$(ms_of dump_count policy)"
  record "policy delete" "$(ms_of ip -n "$ns" -batch "$work/pol-del")"
  record "SA delete" "$(ms_of ip -n "$ns" -batch "$work/sa-del")"
  ip netns del "$ns"
  avpn_run each
  avpn_run failures
done

echo "kernel-sa: $count objects, $runs runs, kernel $(uname -r) under qemu TCG"
median() { tr ' ' '\n' | grep . | sort -n | awk '{v[NR]=$1} END {print v[int((NR + 1) / 2)]}'; }
declare -A med
for op in "SA add" "SA dump" "SA delete" "policy add" "policy dump" "policy delete" \
  "avpn(each) SA add" "avpn(each) SA dump" "avpn(each) SA delete" \
  "avpn(failures) SA add" "avpn(failures) SA dump" "avpn(failures) SA delete"; do
  m=$(median <<<"${times[$op]}")
  med[$op]=$m
  label=$op
  [[ $op == avpn* ]] || label="ip -batch $op"
  awk -v op="$label" -v m="$m" -v n="$count" -v all="${times[$op]}" \
    'BEGIN {printf "%-28s median %6d ms  %8.0f objects/s  (runs, ms: %s)\n", op, m, (m > 0 ? n * 1000 / m : 0), all}'
done
# Ratio > 1: avpn's netlink layer is faster than ip -batch (same SAs, same run).
for mode in each failures; do
  for op in add dump delete; do
    awk -v mode="$mode" -v op="$op" -v ip="${med[SA $op]}" -v av="${med[avpn($mode) SA $op]}" \
      'BEGIN {printf "ratio SA %-6s avpn(%s) vs ip -batch: %.2fx\n", op, mode, (av > 0 ? ip / av : 0)}'
  done
done
