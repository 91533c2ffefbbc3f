#!/bin/bash
# The VM's kernel has what the host's lacks: ESP, XFRM interfaces, VLANs,
# IPIP, VTI and WireGuard load as modules through the host's modprobe.
. "$(dirname "$0")/lib.sh"
modules=(esp4 xfrm_user xfrm_interface 8021q ipip ip_vti wireguard)

step "kernel $(uname -r)"
started=$(date +%s%N)
modprobe -a "${modules[@]}" || fail "modprobe ${modules[*]}"
echo "modprobe of ${#modules[@]} modules: $(( ($(date +%s%N) - started) / 1000000 )) ms"
for m in "${modules[@]}"; do
  [ -d "/sys/module/$m" ] || fail "module $m is not loaded"
  echo "loaded: $m"
done
# The ESP tests need AES-GCM: an rfc4106 SA makes the crypto API build it.
ip xfrm state add src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x100 mode tunnel \
  aead 'rfc4106(gcm(aes))' "0x$(random_hex 20)" 128 || fail "cannot add an rfc4106(gcm(aes)) ESP SA"
grep -q '^name *: rfc4106(gcm(aes))' /proc/crypto || fail "no rfc4106(gcm(aes)) in /proc/crypto"
echo "crypto: rfc4106(gcm(aes)) via $(awk '/^name *: rfc4106\(gcm\(aes\)\)/{getline; print $3; exit}' /proc/crypto)"
ip xfrm state flush
echo "smoke: ok"
