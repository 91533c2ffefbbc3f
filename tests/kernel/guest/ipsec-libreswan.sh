#!/bin/bash
# IPsec interop against a second, independent IKEv2 implementation: site B is
# Libreswan 4.10's pluto (Debian's package, unpacked by
# tests/kernel/setup-libreswan, never installed), site A is configured only
# by `avpnctl apply` (and, for recovery, avpnd) driving its own charon. Both
# ends put ESP in the VM's kernel. Every tunnel uses avpn's defaults for
# partner "generic": proposals, DPD, identities.
#
# ipsec-libreswan.sh tunnels:
#   policy-based, A initiating: pings both ways, ESP counted on both ends, a
#   re-apply keeps the SA; route-based against Libreswan's ipsec-interface;
#   A responder-only (initiator = false) with Libreswan initiating, and when
#   Libreswan dies A must not initiate (its DPD clears), then Libreswan
#   initiates again.
# ipsec-libreswan.sh recovery:
#   a wrong PSK at Libreswan: apply and status say "authentication failed";
#   avpnd re-initiates with back-off and status shows the next attempt; the
#   PSK fixed at Libreswan brings the tunnel up with no command on A; then
#   Libreswan restarts (a reboot: its SAs gone) and A recovers by itself.
. "$(dirname "$0")/lib.sh"
phase=${1:?usage: ipsec-libreswan.sh tunnels|recovery}
avpnctl_bin=${AVPN_BIN:-}/avpnctl
avpnd_bin=${AVPN_BIN:-}/avpnd
[ -x "$avpnctl_bin" ] && [ -x "$avpnd_bin" ] || { echo "skipped: avpnctl/avpnd not built (AVPN_BIN='${AVPN_BIN:-}')"; exit 77; }
[ -x "$charon" ] && command -v swanctl >/dev/null || { echo "skipped: strongSwan charon/swanctl not installed"; exit 77; }
command -v jq >/dev/null || { echo "skipped: jq not installed"; exit 77; }
[ -n "${AVPN_LIBRESWAN:-}" ] || { echo "skipped: AVPN_LIBRESWAN names no unpacked Libreswan (tests/kernel/setup-libreswan)"; exit 77; }
work=$(mktemp -d)

# The cache is under /var, the guest's own tmpfs: guest-runner has bound the
# host's folder back at its path, as it does for every AVPN_ path.
lsw=$AVPN_LIBRESWAN/root
[ -x "$lsw/usr/libexec/ipsec/pluto" ] || fail "no pluto in $lsw"
# pluto execs a hard-coded /usr/libexec/ipsec/addconn: overlay the unpacked
# usr/libexec there (the guest's mounts are its own).
mount -t overlay overlay -o "lowerdir=$lsw/usr/libexec:/usr/libexec" /usr/libexec
lsw_env=(env "LD_LIBRARY_PATH=$lsw/usr/lib/x86_64-linux-gnu")
b=$work/b
whack() { in_ns b "${lsw_env[@]}" "$lsw/usr/libexec/ipsec/whack" --ctlsocket "$b/run/pluto.ctl" "$@"; }

# pluto_conf: B's ipsec.conf. Three connections, told apart by identity:
# pol (policy-based), rt (route-based: XFRM interface ipsec1, if_id 1),
# rsp (B initiates when RSP_AUTO=start). Libreswan's own default proposals;
# no updown script (the test routes itself: default routes on both WAN ends,
# lan_a into ipsec1 for rt).
pluto_conf() {
  cat >"$b/ipsec.conf" <<CONF
config setup
    plutodebug=none
conn %default
    authby=secret
    left=$wan_b
    right=$wan_a
    leftsubnet=$lan_b
    rightsubnet=$lan_a
    ikev2=insist
    leftupdown=/bin/true
    dpddelay=5
    dpdtimeout=30
    dpdaction=clear
conn pol
    auto=add
conn rt
    leftid=@rt.b.example
    rightid=@rt.a.example
    ipsec-interface=1
    auto=add
conn rsp
    leftid=@rsp.b.example
    rightid=@rsp.a.example
    auto=${RSP_AUTO:-add}
CONF
}
# pluto_secrets PSK_OF_POL: the rt and rsp keys are always right.
pluto_secrets() {
  (umask 077 && cat >"$b/ipsec.secrets" <<SECRETS
$wan_b $wan_a : PSK "$1"
@rt.b.example @rt.a.example : PSK "$psk"
@rsp.b.example @rsp.a.example : PSK "$psk"
SECRETS
)
}
start_pluto() {
  rm -f "$b/run/pluto.pid" "$b/run/pluto.ctl"
  in_ns_background b "${lsw_env[@]}" "$lsw/usr/libexec/ipsec/pluto" --config "$b/ipsec.conf" --rundir "$b/run" \
    --nssdir "$b/nss" --secretsfile "$b/ipsec.secrets" --ipsecdir "$b/ipsec.d" --dumpdir "$b/run" \
    --logfile "$b/pluto.log" --nofork >>"$b/pluto.out" 2>&1
  local out
  for _ in $(seq 200); do
    # listening once addconn has loaded the connections
    if out=$(whack --status 2>/dev/null) && grep -q '"rsp"' <<<"$out"; then return 0; fi
    sleep 0.1
  done
  fail "pluto does not answer or has no connections"
}
# kill_pluto: kill -9 and the kernel state a reboot would take with it.
kill_pluto() {
  kill -9 "$(cat "$b/run/pluto.pid")"
  sleep 0.2
  ip -n "$(ns b)" xfrm state flush
  ip -n "$(ns b)" xfrm policy flush
}

# On failure: the logs' tails here, the whole logs in the results folder
# (run-vm keeps it).
dump_logs() {
  local f
  for f in "$work/a/charon.log" "$work/a/avpnd.log" "$b/pluto.log" "$b/pluto.out"; do
    [ -f "$f" ] || continue
    echo "== $f"
    tail -n 25 "$f"
    cp "$f" "${AVPN_VM_RESULTS:-/tmp}/" 2>/dev/null || true
  done
}
avpnd_pid=
cleanup() {
  local rc=$?
  [ -n "$avpnd_pid" ] && kill "$avpnd_pid" 2>/dev/null
  [ $rc -ne 0 ] && { dump_logs || true; }
  delete_namespaces
  exit $rc
}
trap cleanup EXIT

two_sites
# Each end's default route is the other: traffic between the LANs has a
# route whether or not a tunnel is up, so only the tunnel's policies and SAs
# (counted below) carry it through ESP.
ip -n "$(ns a)" route add default via "$wan_b"
ip -n "$(ns b)" route add default via "$wan_a"

# The first ESP SA loads the kernel's modules and crypto templates, which
# under emulation takes longer than charon's retransmissions here wait for
# (pluto answers IKE_AUTH only after installing its SAs): do it once first.
step "warm-up: an ESP SA with the algorithms negotiated below"
make_ns warm
for integ in "hmac(sha256) 128" "hmac(sha512) 256"; do
  ip -n "$(ns warm)" xfrm state add src 192.0.2.9 dst 192.0.2.10 proto esp spi 0x100 mode tunnel \
    enc 'cbc(aes)' "0x$(random_hex 32)" auth-trunc "${integ% *}" "0x$(random_hex 32)" "${integ#* }"
  ip -n "$(ns warm)" xfrm state flush
done
modprobe -a xfrm_interface 2>/dev/null || true

step "charons: A's (avpn owns routes; DPD gives up after ~7 s), B's pluto"
charon_conf a "install_routes = no
    retransmit_tries = 3
    retransmit_timeout = 1.0
    retransmit_base = 1.4"
start_charon a
mkdir -p "$b/run" "$b/nss" "$b/ipsec.d"
"${lsw_env[@]}" "$lsw/usr/bin/certutil" -N -d "sql:$b/nss" --empty-password
psk=lsw-$(random_hex 12)
pluto_conf
if [ "$phase" = recovery ]; then pluto_secrets "wrong-$(random_hex 6)"; else pluto_secrets "$psk"; fi
t0=$(date +%s%N)
start_pluto
echo "pluto up in $(( ($(date +%s%N) - t0) / 1000000 )) ms: $(whack --version 2>&1 | head -1)"

mkdir -p "$work/a/site"
(umask 077 && "$avpnctl_bin" genkey >"$work/a/site/site.key" && printf '%s\n' "$psk" >"$work/a/site/b.psk")
# site_toml TUNNEL_TOML: site A with one [[ipsec]] tunnel to B.
site_toml() {
  cat <<TOML
[site]
name = "vm-a"
role = "off"
uplinks = ["wan-a"]
key_file = "site.key"

[[vlan]]
name = "lan"
subnet = "$lan_a"

[[ipsec]]
remote = "$wan_b"
psk_file = "b.psk"
remote_networks = ["$lan_b"]
local_vlans = ["lan"]
$1
TOML
}
actl() { local c=$1; shift; in_ns a "$avpnctl_bin" "$c" --state-dir "$work/a/state" --vici-socket "$work/a/charon.vici" "$@"; }
status_json() { actl status --json >"$work/a/status.json" || fail "status"; }
field() { jq -r --arg n "$1" ".ipsec.tunnels[] | select(.name == \$n) | .$2" "$work/a/status.json"; }
# wait_up NAME SECONDS [OLD_IKE_ID]: until status shows NAME up (on an IKE_SA
# other than OLD_IKE_ID); prints the seconds it took.
wait_up() {
  local start; start=$(date +%s%N)
  while :; do
    status_json
    if [ "$(field "$1" up)" = true ] && [ "$(field "$1" ike_id)" != "${3:-}" ]; then
      echo "$(( ($(date +%s%N) - start) / 1000000 ))"
      return 0
    fi
    [ $(( ($(date +%s%N) - start) / 1000000000 )) -ge "$2" ] && return 1
    sleep 0.5
  done
}
# esp_counted NS SRC DST SPI MIN: the kernel SA counted at least MIN packets.
esp_counted() { at_least "$1: ESP SA $4 ($2 -> $3) packets" "$(sa_packets "$1" "$2" "$3" "0x$4")" "$5"; }

tunnels() {
  step "policy-based, A initiating with avpn's generic defaults"
  site_toml 'name = "pol"' >"$work/a/site/site.toml"
  actl apply "$work/a/site/site.toml" --json --settle 30 >"$work/a/apply.json" || { cat "$work/a/apply.json"; fail "apply"; }
  jq -c '.ipsec.tunnels[] | {name, up, ike_state, last_failure}' "$work/a/apply.json"
  secs=$(wait_up avpn-pol 30) || fail "pol not up 30 s after apply"
  echo "pol up ($secs ms after apply returned)"
  jq -c '.ipsec.tunnels[] | {name, ike_proposal, esp_proposal}' "$work/a/status.json"
  expect_ping a "$host_b" -I "$host_a"
  expect_ping b "$host_a" -I "$host_b"
  status_json
  spi_in=$(field avpn-pol spi_in) spi_out=$(field avpn-pol spi_out)
  at_least "A status: packets in" "$(field avpn-pol packets_in)" 6
  at_least "A status: packets out" "$(field avpn-pol packets_out)" 6
  esp_counted a "$wan_a" "$wan_b" "$spi_out" 6
  esp_counted b "$wan_a" "$wan_b" "$spi_out" 6   # B's inbound SA is A's outbound one
  esp_counted b "$wan_b" "$wan_a" "$spi_in" 6
  actl apply "$work/a/site/site.toml" --json >"$work/a/again.json" || fail "re-apply"
  [ "$(jq -r '.ipsec.loaded | length' "$work/a/again.json")" = 0 ] || fail "re-apply reloaded the connection"
  [ "$(jq -r '.ipsec.tunnels[0].spi_in' "$work/a/again.json")" = "$spi_in" ] || fail "re-apply replaced the SA"
  echo "re-apply: same SA $spi_in"

  step "route-based: A's XFRM interface against Libreswan's ipsec-interface"
  # pluto keeps a connection's kernel policy ("eroute") after its SA is
  # gone and refuses another connection with the same selectors: the
  # connections take turns.
  whack --delete --name pol >/dev/null
  site_toml 'name = "rt"
type = "route"
local_id = "rt.a.example"
remote_id = "rt.b.example"' >"$work/a/site/site.toml"
  actl apply "$work/a/site/site.toml" --json --settle 30 >"$work/a/apply.json" || { cat "$work/a/apply.json"; fail "apply rt"; }
  wait_up avpn-rt 30 >/dev/null || fail "rt not up 30 s after apply"
  [ "$(jq -r '.ipsec.unloaded[0]' "$work/a/apply.json")" = avpn-pol ] || fail "pol was not unloaded"
  for _ in $(seq 50); do ip -n "$(ns b)" link show ipsec1 >/dev/null 2>&1 && break; sleep 0.2; done
  ip -n "$(ns b)" -d link show ipsec1 || fail "Libreswan made no ipsec1"
  ip -n "$(ns b)" link set ipsec1 up
  ip -n "$(ns b)" route replace "$lan_a" dev ipsec1
  grep -q "if_id" <<<"$(ip -n "$(ns a)" xfrm state)" || fail "A's SAs carry no if_id"
  a_tx=$(link_stat a avx-rt tx_packets) b_rx=$(link_stat b ipsec1 rx_packets)
  expect_ping a "$host_b" -I "$host_a"
  expect_ping b "$host_a" -I "$host_b"
  at_least "A: avx-rt tx packets" "$(( $(link_stat a avx-rt tx_packets) - a_tx ))" 6
  at_least "A: avx-rt rx packets" "$(link_stat a avx-rt rx_packets)" 6
  at_least "B: ipsec1 rx packets" "$(( $(link_stat b ipsec1 rx_packets) - b_rx ))" 6
  at_least "B: ipsec1 tx packets" "$(link_stat b ipsec1 tx_packets)" 6
  ip -n "$(ns b)" route del "$lan_a" dev ipsec1  # the next tunnels are policy-based
  whack --delete --name rt >/dev/null

  step "A responder-only (initiator = false, DPD default): Libreswan initiates"
  site_toml 'name = "rsp"
initiator = false
local_id = "rsp.a.example"
remote_id = "rsp.b.example"
dpd = { delay = "2s" }' >"$work/a/site/site.toml"
  actl apply "$work/a/site/site.toml" --json >"$work/a/apply.json" || { cat "$work/a/apply.json"; fail "apply rsp"; }
  jq -c '.ipsec.tunnels[0] | {name, up, ike_state}' "$work/a/apply.json"
  whack --asynchronous --initiate --name rsp >/dev/null
  wait_up avpn-rsp 30 >/dev/null || fail "rsp not up after Libreswan initiated"
  [ "$(field avpn-rsp initiator)" = false ] || fail "A initiated rsp"
  ike=$(field avpn-rsp ike_id)
  expect_ping b "$host_a" -I "$host_b"
  initiations=$(grep -c "initiating IKE_SA avpn-rsp" "$work/a/charon.log" || true)
  [ "$initiations" = 0 ] || fail "A's charon initiated rsp $initiations times"

  step "Libreswan dies: A's DPD clears the SA and A does not initiate"
  kill_pluto
  start=$(date +%s)
  while [ $(( $(date +%s) - start )) -lt 30 ]; do
    status_json
    [ "$(field avpn-rsp ike_id)" != "$ike" ] && break
    sleep 0.5
  done
  [ "$(field avpn-rsp ike_id)" != "$ike" ] || fail "A still holds IKE_SA #$ike 30 s after the peer died"
  sleep 4  # a DPD restart would have started a new IKE_SA by now
  status_json
  echo "A after $(( $(date +%s) - start )) s: IKE $(field avpn-rsp ike_state), initiator $(field avpn-rsp initiator)"
  initiations=$(grep -c "initiating IKE_SA avpn-rsp" "$work/a/charon.log" || true)
  [ "$initiations" = 0 ] || { grep "initiating IKE_SA avpn-rsp" "$work/a/charon.log"; fail "responder-only A initiated $initiations times"; }
  [ "$(field avpn-rsp ike_state)" = DOWN ] || fail "A has an IKE_SA ($(field avpn-rsp ike_state)) for a responder-only tunnel"
  echo "A did not initiate: ok"

  step "Libreswan back with auto=start: it initiates, A responds"
  RSP_AUTO=start pluto_conf
  start_pluto
  secs=$(wait_up avpn-rsp 40) || fail "rsp not up again after Libreswan restarted"
  echo "rsp up again $secs ms after pluto started"
  expect_ping a "$host_b" -I "$host_a"

  step "down"
  actl down >/dev/null || fail "down"
  STRONGSWAN_CONF=$work/a/strongswan.conf swanctl --list-conns >"$work/a/conns.txt"
  grep -q avpn- "$work/a/conns.txt" && fail "a connection survived down"
  return 0
}

recovery() {
  step "a wrong PSK at Libreswan: apply and status say why"
  site_toml 'name = "rec"
dpd = { delay = "2s" }' >"$work/a/site/site.toml"
  actl apply "$work/a/site/site.toml" --json --settle 30 >"$work/a/apply.json" || { cat "$work/a/apply.json"; fail "apply"; }
  jq -c '.ipsec.tunnels[0] | {name, up, ike_state, last_failure, last_failure_detail}' "$work/a/apply.json"
  [ "$(jq -r '.ipsec.tunnels[0].last_failure' "$work/a/apply.json")" = "authentication failed" ] ||
    fail "apply does not say authentication failed"
  [ "$(jq -r '.ipsec.tunnels[0].up' "$work/a/apply.json")" = false ] || fail "up with a wrong PSK"
  actl status >"$work/a/status.txt" || fail "status"
  cat "$work/a/status.txt"
  grep -q "avpn-rec: down.*authentication failed" "$work/a/status.txt" || fail "status does not say why avpn-rec is down"
  grep -q "$psk" "$work/a/status.txt" "$work/a/apply.json" && fail "a secret in the output"

  step "avpnd keeps trying with back-off; status shows the next attempt"
  # ip netns exec execs avpnd: $! is avpnd itself (a shell function would
  # put a subshell in between, and the TERM would not reach avpnd).
  # Its own control socket: avpnctl (actl) keeps running one-shot beside it.
  ip netns exec "$(ns a)" "$avpnd_bin" "$work/a/site/site.toml" --state-dir "$work/a/state" --vici-socket "$work/a/charon.vici" \
    --control-socket "$work/a/avpnd.sock" --resync 3600 --settle 5 --retry-first 2 --retry-max 8 >"$work/a/avpnd.log" 2>&1 &
  avpnd_pid=$!
  start=$(date +%s)
  while [ $(( $(date +%s) - start )) -lt 60 ]; do
    status_json
    [ "$(field avpn-rec retry_attempts)" -ge 2 ] && break
    sleep 0.5
  done
  [ "$(field avpn-rec retry_attempts)" -ge 2 ] || fail "avpnd did not re-initiate twice in 60 s"
  [ "$(field avpn-rec next_attempt_at)" -gt 0 ] || fail "status shows no next attempt"
  [ "$(field avpn-rec last_failure)" = "authentication failed" ] || fail "the retries' failure is not recorded"
  actl status >"$work/a/status.txt" || fail "status"
  cat "$work/a/status.txt"
  grep -q "next attempt .* by avpnd" "$work/a/status.txt" || fail "text status shows no next attempt"
  grep "avpn-rec has no IKE_SA" "$work/a/avpnd.log"

  step "the PSK fixed at Libreswan: the tunnel comes up with no command on A"
  pluto_secrets "$psk"
  whack --rereadsecrets >/dev/null
  secs=$(wait_up avpn-rec 60) || fail "avpn-rec not up 60 s after the PSK was fixed"
  echo "avpn-rec up $secs ms after the PSK was fixed at Libreswan"
  expect_ping a "$host_b" -I "$host_a"
  expect_ping b "$host_a" -I "$host_b"
  [ "$(field avpn-rec next_attempt_at)" = 0 ] || fail "status still shows a next attempt while up"
  ike=$(field avpn-rec ike_id)

  step "Libreswan restarts (its SAs gone, as after a reboot): A recovers by itself"
  kill_pluto
  start_pluto
  secs=$(wait_up avpn-rec 90 "$ike") || fail "avpn-rec not up 90 s after Libreswan restarted"
  echo "avpn-rec up again $secs ms after pluto restarted (IKE_SA #$ike -> #$(field avpn-rec ike_id))"
  expect_ping a "$host_b" -I "$host_a"
  expect_ping b "$host_a" -I "$host_b"

  step "avpnd stops: it no longer promises an attempt"
  kill -TERM "$avpnd_pid"
  rc=0
  wait "$avpnd_pid" || rc=$?
  [ "$rc" = 0 ] || { tail -n 5 "$work/a/avpnd.log"; fail "avpnd exited $rc on SIGTERM"; }
  tail -n 1 "$work/a/avpnd.log"
  avpnd_pid=
  [ ! -e "$work/a/state/ipsec.retry" ] || fail "ipsec.retry left behind by avpnd"
  actl down >/dev/null || fail "down"
  return 0
}

"$phase"
echo "PASS"
