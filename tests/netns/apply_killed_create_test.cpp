// SIGKILL in the one instant no kernel marker covers (issue 12): after the
// kernel (here wireguard-go) created avpn's link and before avpn wrote its
// alias on it. A forked child applies the demo hub through the real port
// and kills itself there (NetlinkPortOptions::after_create_before_mark).
// The link it leaves is unmarked, so the kernel alone cannot tell it from an
// operator's; the write-ahead journal can. The next apply adopts it and
// converges to the plan, and down leaves the kernel as it was before.
#include <signal.h>
#include <net/if.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include "orchestrator/ownership.hpp"
#include "orchestrator/runtime/down.hpp"
#include "orchestrator/runtime/journal_recovery.hpp"
#include "orchestrator/runtime/site_apply.hpp"
#include "tests/netns/apply_fixture.hpp"

using namespace avpn;
using namespace avpn::test;

namespace {

struct StateDirectory {
    std::string path;
    StateDirectory() {
        char tmpl[] = "/tmp/avpn-killed-create.XXXXXX";
        REQUIRE(mkdtemp(tmpl));
        path = tmpl;
    }
    ~StateDirectory() { sh("rm -rf " + path); }
};

// The child: plans and applies like avpnctl apply, and dies after the create.
[[noreturn]] void apply_and_die(HubSite& site, const DesiredState& want, const std::string& state_dir) {
    NetlinkPortOptions o;
    o.before_create_link = runtime::journal_links_in(state_dir);
    o.after_create_before_mark = [](const std::string&) { ::raise(SIGKILL); };
    auto port = NetlinkPort::open(std::move(o));
    if (!port) ::_exit(2);
    (void)apply(want, runtime::owned_by(want), **port, false);
    ::_exit(3);  // not reached: the link is created first
}

std::string link_line() { return sh(std::string("ip -o link show ") + kTunnel + " 2>/dev/null"); }

// Table inet avpn of the test's namespace: the demo's plan has one.
fw::TablePort* nft() {
    static auto table = fw::NftTable::open();
    REQUIRE(table.ok());
    return table->get();
}

runtime::SiteApplyResult apply_site_now(HubSite& site, const DesiredState& want, const std::string& state_dir) {
    StateDir state(state_dir);
    auto last = state.load();
    REQUIRE(last.ok());
    auto port = NetlinkPort::open({.before_create_link = runtime::journal_links_in(state_dir)});
    REQUIRE(port.ok());
    runtime::SiteApplyOptions o{"", state_dir, "/nonexistent/charon.vici", 0, false, {}};
    o.save = [&](const AppliedRecord& rec) { return state.save(rec, ""); };
    o.firewall = nft();
    auto kernel = [&](const nl::KernelState& d, const OwnedScope& scope) { return apply(d, scope, **port, false); };
    return runtime::apply_site(site.demo.intent(), want, *last, **port, kernel, o);
}

}  // namespace

TEST_CASE("a kill between creating a link and marking it: the journal names it, the next apply adopts it") {
    HubSite site;
    StateDirectory dir;
    DesiredState want = site.plan_now();
    std::string before = kernel_dump();

    pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) apply_and_die(site, want, dir.path);
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    REQUIRE_MESSAGE(WIFSIGNALED(status), "the child exited " << WEXITSTATUS(status) << " instead of being killed");
    CHECK(WTERMSIG(status) == SIGKILL);

    // What the kill left: the link, without avpn's alias; its name in the journal.
    std::string left = link_line();
    REQUIRE(left.find(kTunnel) != std::string::npos);
    CHECK(left.find(std::string("alias ") + own::kLinkAlias) == std::string::npos);
    auto noted = ApplyJournal(dir.path).read();
    REQUIRE(noted.ok());
    REQUIRE(noted->links.size() == 1);
    CHECK(noted->links[0].name == kTunnel);

    SUBCASE("the next apply adopts the link and converges; down restores the kernel") {
        runtime::SiteApplyResult r = apply_site_now(site, want, dir.path);
        REQUIRE_MESSAGE(r.ok(), (r.kernel.failure ? r.kernel.failure->str() : r.refused ? r.refused->str() : ""));
        CHECK(link_line().find(std::string("alias ") + own::kLinkAlias) != std::string::npos);
        // Recorded now, so the journal is gone; nothing is left to do.
        CHECK_FALSE(std::ifstream(dir.path + "/" + kApplyJournalFile).good());
        runtime::SiteApplyResult again = apply_site_now(site, want, dir.path);
        REQUIRE(again.ok());
        CHECK(again.kernel.ops.empty());
        StateDir state(dir.path);
        auto port = NetlinkPort::open({});
        REQUIRE(port.ok());
        runtime::DownReport d = runtime::down_site(state, "/nonexistent/charon.vici", **port, nft());
        CHECK(d.ok());
        CHECK(kernel_dump() == before);
    }
    SUBCASE("down alone (no apply first) removes it") {
        StateDir state(dir.path);
        auto port = NetlinkPort::open({});
        REQUIRE(port.ok());
        runtime::DownReport d = runtime::down_site(state, "/nonexistent/charon.vici", **port, nft());
        CHECK_MESSAGE(d.ok(), (d.failure ? d.failure->str() : d.kernel.failure ? d.kernel.failure->str() : ""));
        CHECK(kernel_dump() == before);
        CHECK_FALSE(std::ifstream(dir.path + "/" + kApplyJournalFile).good());
    }
    SUBCASE("without the journal the same link is someone else's: refused by name, never adopted") {
        // What every avpn before the journal did after this kill.
        REQUIRE(ApplyJournal(dir.path).clear().ok());
        runtime::SiteApplyResult r = apply_site_now(site, want, dir.path);
        REQUIRE(r.kernel.failure);
        CHECK(r.kernel.failure->code == EEXIST);
        CHECK(r.kernel.failure->why.find("avpn did not create it") != std::string::npos);
        CHECK(link_line().find(std::string("alias ") + own::kLinkAlias) == std::string::npos);
        must(std::string("ip link del ") + kTunnel);
    }
}

TEST_CASE("a journaled name whose link existed before the create (an operator's) is not adopted") {
    HubSite site;
    StateDirectory dir;
    DesiredState want = site.plan_now();
    // The operator's device of avpn's planned name, then a journal naming it
    // with a floor at or above its ifindex: the create that noted it was
    // refused (EEXIST) and killed before the journal was trimmed.
    must(std::string("ip link add ") + kTunnel + " type veth peer name avpn-demo-peer");
    uint32_t index = if_nametoindex(kTunnel);
    REQUIRE(index != 0);
    REQUIRE(ApplyJournal(dir.path).note_link({kTunnel, index}).ok());
    StateDir state(dir.path);
    auto port = NetlinkPort::open({});
    REQUIRE(port.ok());
    runtime::DownReport d = runtime::down_site(state, "/nonexistent/charon.vici", **port, nft());
    CHECK(d.ok());
    std::string still = link_line();
    CHECK(still.find(kTunnel) != std::string::npos);
    CHECK(still.find(std::string("alias ") + own::kLinkAlias) == std::string::npos);
    must(std::string("ip link del ") + kTunnel);
}
