#!/bin/bash
# Runs bench_keying_kernel (bench/keying_kernel.cpp) for each SPOKES given, in
# a fresh network namespace each: lo, the hub's uplink wan0 (192.0.2.1/24),
# its LAN lan0 (10.0.1.1/24) and a local route for 10.64.0.0/16, the
# simulated spokes' addresses. Inside the kernel tier's VM (see run), or on
# any Linux host as root whose kernel has ESP. Prints the bench's figures;
# exits 1 when a run's work is wrong (never on a time).
# Usage: guest.sh STEADY_SECONDS SPOKES[,BENCH_FLAG...]...
#   e.g. guest.sh 30 1000 1000,--no-cold-tick
set -euo pipefail
steady=${1:?STEADY_SECONDS}; shift
bench=${AVPN_BIN:-}/bench_keying_kernel
[ -x "$bench" ] || { echo "no bench_keying_kernel in AVPN_BIN ('${AVPN_BIN:-}'): build the tree first" >&2; exit 1; }
ns=bench-keying-$$
trap 'ip netns del "$ns" 2>/dev/null || true' EXIT
echo "keying-kernel: kernel $(uname -r), $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
# The first GCM SA runs the kernel's crypto self-tests (seconds under TCG):
# outside the timing.
ip netns add "$ns"
ip -n "$ns" xfrm state add src 192.0.2.1 dst 192.0.2.2 proto esp spi 1 mode tunnel \
  aead 'rfc4106(gcm(aes))' 0x$(head -c 20 /dev/urandom | od -An -tx1 | tr -d ' \n') 128 ||
  echo "keying-kernel: this kernel takes no rfc4106(gcm(aes)) SA: the runs below fail at the first SA"
ip netns del "$ns"
for spec in "$@"; do
  IFS=, read -r -a run <<<"$spec"
  spokes=${run[0]}
  ip netns add "$ns"
  ip -n "$ns" link set lo up
  ip -n "$ns" link add wan0 type veth peer name wan0p
  ip -n "$ns" addr add 192.0.2.1/24 dev wan0
  ip -n "$ns" link set wan0 up
  ip -n "$ns" link set wan0p up
  ip -n "$ns" link add lan0 type veth peer name lan0p
  ip -n "$ns" addr add 10.0.1.1/24 dev lan0
  ip -n "$ns" link set lan0 up
  ip -n "$ns" link set lan0p up
  ip -n "$ns" route add local 10.64.0.0/16 dev lo
  echo "== $spokes spokes ${run[*]:1}"
  ip netns exec "$ns" "$bench" "$spokes" --steady "$steady" "${run[@]:1}"
  ip netns del "$ns"
done
