# Helpers for the tests of a charon that accepts but never answers (issue 12,
# case 8): a hostile peer on the vici socket, site A as a spoke whose apply
# has a kernel part (a WireGuard device through wireguard-go, its address,
# routes and rule) and one [[ipsec]] tunnel, and the kernel dump compared.
# Source after lib/sites.sh and sites_init.

# start_hung_vici PATH: a unix socket at PATH that accepts every connection,
# reads nothing and never answers (held open until the test ends). Its pid
# file sits where sites_cleanup kills charons.
start_hung_vici() {
    local path=$1 dir="$WORK/hung"
    mkdir -p "$dir"
    perl -MIO::Socket::UNIX -e '
        my $s = IO::Socket::UNIX->new(Type => SOCK_STREAM(), Local => $ARGV[0], Listen => 16) or die "listen: $!";
        open(my $ready, ">", $ARGV[1]) or die; close $ready;
        my @held;
        while (my $c = $s->accept) { push @held, $c; }
    ' "$path" "$dir/ready" >"$dir/out" 2>&1 &
    echo $! >"$dir/charon.pid.test"
    disown $!
    for _ in $(seq 50); do [ -f "$dir/ready" ] && return; sleep 0.1; done
    fail "the hung vici listener did not start: $(cat "$dir/out")"
}

# spoke_site: site A (uplink wan0) a spoke of a per-run AutoVPN group with a
# hub at site B's address, exporting lan2, plus tunnel t1 to site B.
spoke_site() {
    a_site wan0 lan0=10.1.0.0/24 lan1=10.1.1.0/24
    sed -i 's/^role = "off"/role = "spoke"/' "$WORK/a/site.toml"
    (umask 077 && "$AVPNCTL" genkey >"$WORK/a/hub.key") || fail "avpnctl genkey"
    local hub_pub
    hub_pub=$("$AVPNCTL" pubkey <"$WORK/a/hub.key") || fail "avpnctl pubkey"
    {
        printf '[[vlan]]\nname = "lan2"\nsubnet = "10.1.2.0/24"\nshareable = true\n\n'
        printf '[autovpn]\ngroup = "u%s"\nwireguard_backend = "userspace"\nhubs = ["hub-b"]\npermitted_vlans = ["lan2"]\n\n' "$TAG"
        printf '[[autovpn.member]]\nname = "hub-b"\nrole = "hub"\npublic_key = "%s"\n' "$hub_pub"
        printf 'exports = ["10.9.0.0/24"]\ncontact = "192.0.2.2:51820"\n\n'
    } >>"$WORK/a/site.toml"
    a_tunnel t1 192.0.2.2 a1.example b1.example lan0 10.2.0.0/24 "$(psk_file a t1 secret-one)"
}

# kernel_dump SITE: links, addresses, routes, rules and WireGuard devices.
kernel_dump() {
    in_ns "$1" ip -d link show | sed 's/ state [A-Z]*//'
    in_ns "$1" ip addr show
    in_ns "$1" ip route show table all
    in_ns "$1" ip -6 route show table all
    in_ns "$1" ip rule show
    in_ns "$1" ip -6 rule show
    local dev
    for dev in $(in_ns "$1" wg show interfaces 2>/dev/null); do in_ns "$1" wg showconf "$dev"; done
}

# now: seconds since the epoch, with fractions.
now() { date +%s.%N; }
# elapsed_ms START
elapsed_ms() { echo "$(now) $1" | awk '{printf "%d", ($1 - $2) * 1000}'; }
