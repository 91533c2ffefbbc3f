// Fault injection at every op index with the XFRM transport (issue 12): the
// demo hub with transport = "xfrm" and generated spokes (an XFRM interface,
// an inbound and an outbound SA per spoke, policies, routes, a rule),
// applied through the real NetlinkPort; the N-th write fails, for every N,
// and the engine's undo runs against the real kernel. After each, the whole
// `ip` dump and every XFRM state (keys included) must equal the state before
// that apply: an SA that was deleted comes back with its key. Needs XFRM
// interfaces and ESP: skips (77) where the kernel has neither, and runs in
// the VM's netns suite (kernel-netns-suite).
#include "tests/netns/fault_fixture.hpp"

using namespace avpn;
using namespace avpn::test;

namespace {

void skip_without_esp() {
    nl::netns::skip_unless("ip link add avpn-xprobe type xfrm if_id 1", "ip link del avpn-xprobe",
                           "no XFRM interfaces in this kernel");
    nl::netns::skip_unless(
        "ip xfrm state add src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x100 reqid 1 mode tunnel "
        "aead 'rfc4106(gcm(aes))' 0x0102030405060708090a0b0c0d0e0f1011121314 128",
        "ip xfrm state flush", "no ESP with AES-GCM in this kernel");
}

void use_xfrm(const Demo& demo) {
    must("sed -i 's/^transport = .*/transport = \"xfrm\"/' " + demo.dir + "/members.toml && sed -i '/^wireguard_backend = /d' " +
         demo.dir + "/sites/hq.toml && grep -q '^transport = \"xfrm\"' " + demo.dir + "/members.toml");
}

// `ip xfrm policy|state list` with each record on one line, sorted. The
// kernel lists policies in insertion order and an undo inserts a deleted one
// again at the end; that order decides only between policies of the same
// priority that both match, and no two of avpn's can (its priorities grow
// with the selector's length and members' prefixes never overlap).
std::string xfrm_records(const std::string& what) {
    return sh("ip xfrm " + what + " list | awk '/^[^ \\t]/ { if (r != \"\") print r; r = $0; next } "
              "{ r = r \" \" $0 } END { if (r != \"\") print r }' | sort");
}

// The ip dump with XFRM policies as a set, and every state with its key: an
// undo that recreated an SA with another key would differ here.
std::string dump_with_states() {
    return sh("ip -d -o link show; ip -o addr show; ip route show table all; ip -6 route show table all; "
              "ip rule show; ip -6 rule show") +
           xfrm_records("policy") + xfrm_records("state");
}

size_t count_sas(const DesiredState& d) { return d.xfrm_states.size(); }

}  // namespace

TEST_CASE("XFRM: a cold apply failing at any op leaves the kernel empty") {
    skip_without_esp();
    HubSite site;
    use_xfrm(site.demo);
    add_spokes(site.demo, 1, 1);  // three spokes: the VM emulates its CPU, every index costs a dump
    DesiredState want = site.plan_now();
    REQUIRE(count_sas(want) == 6);
    size_t tried = fail_every_op(site, want, runtime::owned_by(want), "xfrm cold apply", dump_with_states);
    CHECK(tried >= 20);
}

TEST_CASE("XFRM: a change failing at any op leaves the kernel as the last apply left it") {
    skip_without_esp();
    HubSite site;
    use_xfrm(site.demo);
    add_spokes(site.demo, 1, 2);
    DesiredState first = site.plan_now();
    ApplyReport applied = apply(first, runtime::owned_by(first), *site.port, false);
    REQUIRE_MESSAGE(applied.applied, report_text(applied));

    // Spoke 1 leaves (its SAs and policies are deleted: the undo needs their
    // keys back), spoke 3 joins, branch1 exports its Lab too.
    remove_spokes(site.demo, 1, 1);
    add_spokes(site.demo, 3, 3);
    site.demo.permit_branch1_lab();
    DesiredState second = site.plan_now();
    OwnedScope scope = runtime::scope_of(second, AppliedRecord{"hq", "", runtime::owned_by(first), {}});
    size_t tried = fail_every_op(site, second, scope, "xfrm change", dump_with_states);
    CHECK(tried >= 10);

    ApplyReport ok = apply(second, scope, *site.port, false);
    CHECK_MESSAGE(ok.applied, report_text(ok));
    ApplyReport again = apply(second, runtime::owned_by(second), *site.port, false);
    CHECK_MESSAGE(again.ops.empty(), again.ops.size() << " ops after a successful apply");
    ApplyReport down = apply(nl::KernelState{}, runtime::owned_by(second), *site.port, false);
    CHECK_MESSAGE(down.applied, report_text(down));
    CHECK(sh("ip xfrm state list").empty());
}
