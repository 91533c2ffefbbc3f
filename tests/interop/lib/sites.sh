# Shared helpers for the vici interop tests: two (or three) network namespaces,
# each with its own charon (kernel-libipsec: ESP over TUN, so no kernel ESP is
# needed), isolated as testing.md describes: STRONGSWAN_CONF per site, a
# private /run (charon's pid file is hard-coded), an explicit plugin list and
# a vici socket in the site's own folder. Everything a test creates is torn
# down by `sites_cleanup`, installed as an EXIT trap by `sites_init`.
#
# Source this file, then: sites_init; make_ns a; ...; start_charon a; ...

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*"; exit 1; }
note() { echo "--- $*"; }

CHARON=${CHARON:-/usr/lib/ipsec/charon}
PLUGINS="random nonce aes sha1 sha2 hmac md5 kdf gmp pem pkcs1 pubkey x509 kernel-libipsec kernel-netlink socket-default vici"

sites_require() {
    [ "$(id -u)" = 0 ] || skip "needs root (network namespaces, charon)"
    [ -x "$CHARON" ] || skip "charon not installed ($CHARON; package strongswan-charon)"
    command -v swanctl >/dev/null || skip "swanctl not installed (package strongswan-swanctl)"
    ls /usr/lib/ipsec/plugins/libstrongswan-kernel-libipsec.so >/dev/null 2>&1 ||
        skip "kernel-libipsec plugin missing (package libcharon-extra-plugins)"
    [ -c /dev/net/tun ] || skip "/dev/net/tun missing (kernel-libipsec needs TUN)"
    command -v jq >/dev/null || skip "jq not installed"
    ip netns add "avpnvici-probe-$$" 2>/dev/null || skip "cannot create network namespaces"
    ip netns del "avpnvici-probe-$$"
}

# sites_init: a work folder and the cleanup trap. TAG keeps parallel runs apart.
sites_init() {
    sites_require
    TAG="vi$$"
    WORK=$(mktemp -d "/tmp/avpn-interop-$TAG.XXXX")
    NAMESPACES=()
    trap sites_cleanup EXIT
    trap 'exit 1' INT TERM
}

sites_cleanup() {
    local rc=$?
    local pidf
    for pidf in "$WORK"/*/charon.pid.test; do
        [ -f "$pidf" ] && kill -9 "$(cat "$pidf")" 2>/dev/null
    done
    sleep 0.2
    local ns
    for ns in "${NAMESPACES[@]}"; do ip netns del "$ns" 2>/dev/null; done
    if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ]; then
        sites_dump_logs
        echo "work folder kept for inspection: $WORK"
    else
        rm -rf "$WORK"
    fi
}

sites_dump_logs() {
    local f
    for f in "$WORK"/*/charon.log; do
        [ -f "$f" ] || continue
        echo "===== tail of $f"
        tail -n 40 "$f"
    done
}

ns_name() { echo "avpn-$TAG-$1"; }

# make_ns SITE: a namespace with loopback up.
make_ns() {
    local ns
    ns=$(ns_name "$1")
    ip netns add "$ns" || fail "ip netns add $ns"
    NAMESPACES+=("$ns")
    ip -n "$ns" link set lo up
}

# in_ns SITE CMD...: run a command inside SITE's namespace.
in_ns() { local s=$1; shift; ip netns exec "$(ns_name "$s")" "$@"; }

# link_sites SITE1 IF1 ADDR1/LEN SITE2 IF2 ADDR2/LEN: a veth pair between them.
link_sites() {
    local a=$1 ia=$2 aa=$3 b=$4 ib=$5 ab=$6
    ip link add "$ia" netns "$(ns_name "$a")" type veth peer name "$ib" netns "$(ns_name "$b")" ||
        fail "veth $a:$ia - $b:$ib"
    ip -n "$(ns_name "$a")" addr add "$aa" dev "$ia"
    ip -n "$(ns_name "$b")" addr add "$ab" dev "$ib"
    ip -n "$(ns_name "$a")" link set "$ia" up
    ip -n "$(ns_name "$b")" link set "$ib" up
}

# site_conf SITE [EXTRA]: strongswan.conf for SITE's charon and swanctl.
# EXTRA is inserted into the charon section (e.g. retransmission settings).
site_conf() {
    local site=$1 extra=${2:-}
    local dir="$WORK/$site"
    mkdir -p "$dir/run" "$dir/swanctl/conf.d"
    for sub in x509 x509ca private rsa ecdsa pkcs8 pkcs12 pubkey; do mkdir -p "$dir/swanctl/$sub"; done
    cat >"$dir/strongswan.conf" <<CONF
charon {
    load_modular = no
    load = $PLUGINS
    install_virtual_ip = no
    retransmit_tries = 3
    retransmit_timeout = 1.0
    retransmit_base = 1.4
    $extra
    plugins {
        vici {
            socket = unix://$dir/charon.vici
        }
    }
    filelog {
        testlog {
            path = $dir/charon.log
            time_format = %H:%M:%S
            flush_line = yes
            default = 1
            ike = 2
            cfg = 2
        }
    }
    syslog {
        daemon {
            default = -1
        }
    }
}
swanctl {
    load = pem pkcs1 x509 pubkey random nonce
    plugins {
        vici {
            socket = unix://$dir/charon.vici
        }
    }
}
CONF
}

# start_charon SITE: runs SITE's charon in its namespace with a private /run.
start_charon() {
    local site=$1 dir="$WORK/$1"
    [ -f "$dir/strongswan.conf" ] || site_conf "$site"
    rm -f "$dir/run/charon.pid"
    STRONGSWAN_CONF="$dir/strongswan.conf" ip netns exec "$(ns_name "$site")" \
        sh -c "mount --bind '$dir/run' /run && exec '$CHARON'" >>"$dir/charon.stdout" 2>&1 &
    echo $! >"$dir/charon.pid.test"
    disown $!
    wait_vici "$site" 10 || fail "charon of $site did not answer on vici"
}

# kill_charon SITE: kill -9, as a crash would.
kill_charon() {
    local dir="$WORK/$1"
    kill -9 "$(cat "$dir/charon.pid.test")" 2>/dev/null
    wait "$(cat "$dir/charon.pid.test")" 2>/dev/null
    rm -f "$dir/charon.pid.test"
}

vici_socket() { echo "$WORK/$1/charon.vici"; }

# swanctl_at SITE ARGS...: swanctl against SITE's charon.
swanctl_at() {
    local site=$1; shift
    STRONGSWAN_CONF="$WORK/$site/strongswan.conf" swanctl "$@"
}

# wait_vici SITE SECONDS: until charon answers (the socket file may be stale).
wait_vici() {
    local site=$1 secs=$2 i
    for ((i = 0; i < secs * 10; i++)); do
        swanctl_at "$site" --version >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    return 1
}

# ---- avpn side (site A: `avpnctl apply` only) and third-party side (site B) ----

AVPNCTL=${AVPN_BIN:-}/avpnctl

require_avpnctl() {
    [ -x "$AVPNCTL" ] || skip "avpnctl not built ($AVPNCTL); build the tree first"
    command -v ping >/dev/null || skip "ping not installed (package iputils-ping)"
}

# psk_file SITE NAME SECRET: a 0600 secret file, path printed.
psk_file() {
    local f="$WORK/$1/$2.psk"
    (umask 077 && printf '%s\n' "$3" >"$f")
    echo "$f"
}

# a_site UPLINK VLAN=PREFIX...: starts site A's site.toml (role off: IPsec
# only), one [[vlan]] per argument.
a_site() {
    local uplink=$1 v
    shift
    mkdir -p "$WORK/a"
    (umask 077 && "$AVPNCTL" genkey >"$WORK/a/site.key") || fail "avpnctl genkey"
    printf '[site]\nname = "site-a"\nrole = "off"\nuplinks = ["%s"]\nkey_file = "site.key"\n\n' "$uplink" \
        >"$WORK/a/site.toml"
    for v in "$@"; do
        printf '[[vlan]]\nname = "%s"\nsubnet = "%s"\n\n' "${v%%=*}" "${v#*=}" >>"$WORK/a/site.toml"
    done
}

# a_tunnel NAME REMOTE LOCAL_ID REMOTE_ID LOCAL_VLAN REMOTE_NET PSK_FILE [EXTRA_TOML]
# Appends one [[ipsec]] tunnel (an initiator unless EXTRA_TOML says
# otherwise; charon connection avpn-NAME). DPD_ACTION (restart) and
# DPD_DELAY (5) set its dpd table; a responder needs DPD_ACTION=clear.
a_tunnel() {
    cat >>"$WORK/a/site.toml" <<TOML
[[ipsec]]
name = "$1"
remote = "$2"
local_id = "$3"
remote_id = "$4"
local_vlans = ["$5"]
remote_networks = ["$6"]
psk_file = "$7"
ike_proposals = ["${IKE_PROPOSALS:-aes256-sha256-modp2048}"]
esp_proposals = ["aes256-sha256"]
child_lifetime = "${CHILD_LIFETIME:-1h}"
dpd = { action = "${DPD_ACTION:-restart}", delay = "${DPD_DELAY:-5}s" }
${8:-}

TOML
}

# avpnctl_a ARGS...: avpnctl in site A's namespace with its own state folder
# and charon.
avpnctl_a() {
    local cmd=$1
    shift
    in_ns a "$AVPNCTL" "$cmd" --state-dir "$WORK/a/state" --vici-socket "$(vici_socket a)" "$@"
}

# apply_a [SETTLE]: `avpnctl apply --json` of site.toml; output in $WORK/a/out.json.
apply_a() {
    avpnctl_a apply "$WORK/a/site.toml" --json --settle "${1:-10}" >"$WORK/a/out.json" 2>"$WORK/a/apply.err" ||
        fail "avpnctl apply on site A failed: $(cat "$WORK/a/out.json" "$WORK/a/apply.err")"
}

# status_a [LISTEN]: `avpnctl status --json`; output in $WORK/a/out.json.
status_a() {
    avpnctl_a status --json --listen "${1:-0}" >"$WORK/a/out.json" || fail "avpnctl status on site A failed"
}

# jq_a FILTER: query the last apply/status output.
jq_a() { jq -r "$1" "$WORK/a/out.json"; }

# tunnel_field NAME FIELD: a field of connection NAME in the last output.
tunnel_field() { jq -r --arg n "$1" ".ipsec.tunnels[] | select(.name == \$n) | .$2" "$WORK/a/out.json"; }

# b_conn NAME LOCAL_ID REMOTE_ID LOCAL_TS REMOTE_TS SECRET: a connection in
# site B's swanctl.conf (written by b_load), as a third-party gateway: a
# responder, which can also initiate when B_REMOTE_ADDRS names site A.
B_CONNS="" B_SECRETS=""
b_conn() {
    B_CONNS+="
    $1 {
        version = 2
        remote_addrs = ${B_REMOTE_ADDRS:-%any}
        proposals = aes256-sha256-modp2048
        dpd_delay = 5
        local { auth = psk
                id = $2 }
        remote { auth = psk
                 id = $3 }
        children {
            $1-child {
                local_ts = $4
                remote_ts = $5
                esp_proposals = aes256-sha256
                dpd_action = clear
            }
        }
    }"
    B_SECRETS+="
    ike-$1 {
        id-a = $2
        id-b = $3
        secret = \"$6\"
    }"
}

b_load() {
    printf 'connections {%s\n}\nsecrets {%s\n}\n' "$B_CONNS" "$B_SECRETS" >"$WORK/b/swanctl/swanctl.conf"
    swanctl_at b --load-all --file "$WORK/b/swanctl/swanctl.conf" >"$WORK/b/swanctl.out" 2>&1 ||
        fail "swanctl --load-all on site B: $(cat "$WORK/b/swanctl.out")"
}

# expect WHAT GOT WANT
expect() { [ "$2" = "$3" ] || fail "$1: got '$2', want '$3'"; note "ok: $1 = $3"; }

# ping_between SITE SRC DST: LAN-to-LAN through the tunnel.
ping_between() {
    in_ns "$1" ping -c 2 -i 0.3 -W 2 -I "$2" "$3" >/dev/null 2>&1 || fail "ping $2 -> $3 from site $1"
    note "ok: ping $2 -> $3"
}

# two_sites_direct: A and B on one link (192.0.2.0/24), LANs on lo; site A's
# VLANs lan0 (10.1.0.0/24) and lan1 (10.1.1.0/24) in its site.toml.
two_sites_direct() {
    make_ns a
    make_ns b
    link_sites a wan0 192.0.2.1/24 b wan0 192.0.2.2/24
    in_ns a ip addr add 10.1.0.1/24 dev lo
    in_ns a ip addr add 10.1.1.1/24 dev lo
    a_site wan0 lan0=10.1.0.0/24 lan1=10.1.1.0/24
    in_ns b ip addr add 10.2.0.1/24 dev lo
    in_ns b ip addr add 10.2.1.1/24 dev lo
    start_charon a
    start_charon b
}

# wireguard-go outlives the namespace (its TUN keeps it); this run's device
# name is its own, so only this run's process is stopped.
stop_wireguard_go() {
    local pid
    for pid in $(pgrep -fx "wireguard-go -f avpn-u$TAG"); do kill "$pid" 2>/dev/null; done
}

# settle_dad: IPv6 DAD of the veths ends whenever it does (seen ~1 s after
# the first apply on a loaded machine): its end flips the address's flag and
# adds a local route for it, so a dump to compare must come after it.
settle_dad() {
    for _ in $(seq 100); do
        [ -z "$(in_ns a ip -6 addr show tentative)" ] && return
        sleep 0.1
    done
    fail "IPv6 duplicate address detection in site a still runs after 10 s"
}
