// Fault injection at every op index with the XFRM transport (issue 12): the
// demo hub with transport = "xfrm" and generated spokes (an XFRM interface,
// an inbound and an outbound SA per spoke, policies, routes, a rule),
// applied through the real NetlinkPort; the N-th write fails, for every N,
// and the engine's undo runs against the real kernel. After each, the whole
// `ip` dump and every XFRM state (keys included) must equal the state before
// that apply: an SA that was deleted comes back with its key. A WAN address
// change replaces the outbound SAs (XFRM_MSG_UPDSA would ignore the new
// source): every failure restores the old SAs, the sequence number only
// grows, and the change then converges. Needs XFRM
// interfaces and ESP: skips (77) where the kernel has neither, and runs in
// the VM's netns suite (kernel-netns-suite).
#include "tests/netns/fault_fixture.hpp"

#include "netlink/xfrm.hpp"
#include "orchestrator/reconcile/xfrm_replace.hpp"

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
std::string xfrm_records(const std::string& what, const std::string& filter = "") {
    return sh("ip xfrm " + what + " list | awk '/^[^ \\t]/ { if (r != \"\") print r; r = $0; next } "
              "{ r = r \" \" $0 } END { if (r != \"\") print r }' " + filter + " | sort");
}

// The ip dump with XFRM policies as a set, and every state with its key: an
// undo that recreated an SA with another key would differ here.
std::string dump_with_states() {
    return sh("ip -d -o link show; ip -o addr show; ip route show table all; ip -6 route show table all; "
              "ip rule show; ip -6 rule show") +
           xfrm_records("policy") + xfrm_records("state");
}

size_t count_sas(const DesiredState& d) { return d.xfrm_states.size(); }

// The same with every SA's outbound sequence number left out: a replace
// and its undo each move it on (xfrm_replace.hpp) and must, so it is
// checked on its own (it only grows) rather than for equality. And
// without "lastused": the kernel reports it (XFRMA_LASTUSED) but takes none
// with a new SA; the next packet sets it again.
std::string dump_but_oseq() {
    return sh("{ ip -d -o link show; ip -o addr show; ip route show table all; ip -6 route show table all; "
              "ip rule show; ip -6 rule show; } ") +
           xfrm_records("policy") +
           xfrm_records("state", "| sed -e 's/oseq-hi 0x[0-9a-f]*, oseq 0x[0-9a-f]*/oseq -/' -e 's/ lastused [-0-9]* [:0-9]*//'");
}

// The hub's outbound SA to branch1 (192.0.2.11) in the plan.
nl::XfrmSa outbound_to_branch1(const DesiredState& d) {
    for (const nl::XfrmSa& sa : d.xfrm_states)
        if (sa.dst == *IpAddr::parse("192.0.2.11")) return sa;
    FAIL("no SA to branch1 in the plan");
    return {};
}

// Its outbound sequence number as the kernel has it now.
uint64_t oseq_of(const nl::XfrmSa& id) {
    auto x = nl::Socket::open(NETLINK_XFRM);
    REQUIRE(x);
    auto sa = nl::get_sa(*x, id);
    REQUIRE_MESSAGE(sa, (sa ? "" : sa.error().str()));
    return uint64_t(sa->observed_replay.oseq_hi) << 32 | sa->observed_replay.oseq;
}

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

TEST_CASE("XFRM: a WAN address change replaces the SAs it moves, keeps their sequence, converges, and rolls back at any op") {
    skip_without_esp();
    HubSite site;
    use_xfrm(site.demo);
    DesiredState first = site.plan_now();
    ApplyReport applied = apply(first, runtime::owned_by(first), *site.port, false);
    REQUIRE_MESSAGE(applied.applied, report_text(applied));

    // ESN and the planned window, as iproute2 reads them.
    std::string states = sh("ip -s xfrm state list");
    auto count = [&](const std::string& what) {
        size_t n = 0;
        for (size_t at = states.find(what); at != std::string::npos; at = states.find(what, at + 1)) ++n;
        return n;
    };
    CHECK(count("flag esn") == first.xfrm_states.size());
    CHECK(count("replay_window 128, bitmap-length 4") == first.xfrm_states.size());
    CHECK(count("soft 3221225472(packets)") == first.xfrm_states.size());

    // Traffic to branch1's LAN leaves encrypted by the outbound SA (nobody
    // answers on wan0p): its sequence number moves.
    sh("ping -c 3 -i 0.2 -W 1 10.1.1.1");
    const nl::XfrmSa out_old = outbound_to_branch1(first);
    const uint64_t sent = oseq_of(out_old);
    MESSAGE("oseq before the WAN change: " << sent);
    REQUIRE(sent >= 3);

    // The WAN address changes: outbound SAs change source (same id: a
    // replace), inbound ones destination (another id: delete + create).
    must("ip addr del 192.0.2.1/24 dev wan0 && ip addr add 192.0.2.5/24 dev wan0");
    DesiredState second = site.plan_now();
    OwnedScope scope = runtime::scope_of(second, AppliedRecord{"hq", "", runtime::owned_by(first), {}});
    ApplyReport dry = apply(second, scope, *site.port, true);
    size_t replaces = 0;
    for (const Op& op : dry.ops)
        if (op.kind == OpKind::update && std::holds_alternative<nl::XfrmSa>(op.object)) {
            CHECK_FALSE(nl::sa_updatable(std::get<nl::XfrmSa>(op.object), std::get<nl::XfrmSa>(*op.previous)));
            ++replaces;
        }
    CHECK(replaces == 2);  // branch1 and branch2

    size_t tried = fail_every_op(site, second, scope, "xfrm wan change", dump_but_oseq);
    CHECK(tried >= 8);
    const uint64_t after_undos = oseq_of(out_old);
    MESSAGE("oseq after " << tried << " undone applies: " << after_undos);
    CHECK(after_undos >= sent);

    ApplyReport ok = apply(second, scope, *site.port, false);
    REQUIRE_MESSAGE(ok.applied, report_text(ok));
    std::string now = sh("ip xfrm state list");
    CHECK(now.find("src 192.0.2.5 dst 192.0.2.11") != std::string::npos);
    CHECK(now.find("src 192.0.2.11 dst 192.0.2.5") != std::string::npos);
    CHECK(now.find("192.0.2.1 ") == std::string::npos);
    const nl::XfrmSa out_new = outbound_to_branch1(second);
    const uint64_t carried = oseq_of(out_new);
    MESSAGE("oseq after the replace: " << carried);
    CHECK(carried >= after_undos + kSequenceMargin);  // went on past the old SA's numbers, never back
    sh("ping -c 2 -i 0.2 -W 1 10.1.1.1");
    CHECK(oseq_of(out_new) >= carried + 2);  // and the new SA sends from there

    ApplyReport again = apply(second, runtime::owned_by(second), *site.port, false);
    CHECK_MESSAGE(again.ops.empty(), again.ops.size() << " ops after the replace: it did not converge");
    ApplyReport down = apply(nl::KernelState{}, runtime::owned_by(second), *site.port, false);
    CHECK_MESSAGE(down.applied, report_text(down));
}
