// Fault injection at every op index (issue 12), shared by the WireGuard
// test (apply_fault_test.cpp, this host) and the XFRM one
// (apply_fault_xfrm_test.cpp, where the kernel has ESP): a decorator of the
// real port that fails the N-th write, the demo hub's generated spokes, and
// the loop over every N.
#pragma once

#include <cstdio>
#include <fstream>
#include <functional>
#include <set>

#include "common/crypto.hpp"
#include "tests/netns/apply_fixture.hpp"

namespace avpn::test {


// Forwards to the real port, except that the write with global index
// fail_at (counted over the apply's batches, not the undo's) fails without
// being made.
class FaultPort final : public KernelPort {
public:
    FaultPort(KernelPort& real, size_t fail_at) : real_(real), fail_at_(fail_at) {}

    Result<nl::KernelState> observe(const OwnedScope& s) override { return real_.observe(s); }
    Result<OwnedScope> scan_owned() override { return real_.scan_owned(); }
    Status adopt_journaled(const std::vector<JournaledLink>& l) override { return real_.adopt_journaled(l); }
    Result<std::map<std::string, IpAddr>> interface_addresses(const std::vector<std::string>& n) override {
        return real_.interface_addresses(n);
    }
    std::vector<Status> execute(const std::vector<Op>& ops) override {
        if (fired || fail_at_ >= seen_ + ops.size()) {
            seen_ += ops.size();
            return real_.execute(ops);  // before the fault, and the undo after it
        }
        size_t k = fail_at_ - seen_;
        seen_ += ops.size();
        fired = true;
        std::vector<Op> others;
        for (size_t i = 0; i < ops.size(); ++i)
            if (i != k) others.push_back(ops[i]);
        std::vector<Status> real = real_.execute(others);
        std::vector<Status> out;
        for (size_t i = 0, j = 0; i < ops.size(); ++i)
            out.push_back(i == k ? Status{Error{"injected", describe(ops[i].object), "fault at op " +
                                                std::to_string(fail_at_), EIO}}
                                 : real.at(j++));
        return out;
    }
    bool fired = false;

private:
    KernelPort& real_;
    size_t fail_at_;
    size_t seen_ = 0;
};

// A valid WireGuard public key, distinct for every n.
inline std::string spoke_key(int n) {
    uint8_t k[32] = {};
    k[0] = uint8_t(n);
    k[1] = uint8_t(n >> 8);
    k[31] = 0x42;
    return crypto::base64_encode(k, sizeof k);
}

// Spokes first..last of the hub, each exporting 10.(100 + n / 250).(n % 250).0/24.
inline void add_spokes(const Demo& demo, int first, int last) {
    std::ofstream m(demo.dir + "/members.toml", std::ios::app);
    for (int n = first; n <= last; ++n)
        m << "\n[[member]]  # s" << n << "\nname = \"s" << n << "\"\nrole = \"spoke\"\npublic_key = \"" << spoke_key(n)
          << "\"\nexports = [\"10." << 100 + n / 250 << "." << n % 250 << ".0/24\"]\nhubs = [\"hq\"]\ncontact = \"198.18."
          << n / 250 << "." << n % 250 + 1 << ":51820\"\n";
}

inline void remove_spokes(const Demo& demo, int first, int last) {
    std::string sed;
    for (int n = first; n <= last; ++n) sed += " -e '/^\\[\\[member\\]\\]  # s" + std::to_string(n) + "$/,/^contact/d'";
    must("sed -i" + sed + " " + demo.dir + "/members.toml");
}

inline std::string kinds_of(const std::vector<Op>& ops) {
    std::set<std::string> kinds;
    for (const Op& op : ops) kinds.insert(std::string(to_string(op.kind)) + " " + std::string(object_kind_name(op.phase())));
    std::string s;
    for (const std::string& k : kinds) s += (s.empty() ? "" : ", ") + k;
    return s;
}

// Applies `want` over the current kernel once for every op index, each time
// failing that op, and checks the kernel is as before. Returns the indexes tried.
inline size_t fail_every_op(HubSite& site, const DesiredState& want, const OwnedScope& scope, const char* label,
                             const std::function<std::string()>& dump = kernel_dump) {
    std::string before = dump();
    std::vector<nl::WgDevice> wg_before = site.wireguard(scope);
    ApplyReport dry = apply(want, scope, *site.port, true);
    REQUIRE_FALSE(dry.failure);
    const size_t total = dry.ops.size();
    std::printf("%s: %zu ops (%s)\n", label, total, kinds_of(dry.ops).c_str());
    size_t restored = 0;
    for (size_t n = 0; n < total; ++n) {
        FaultPort port(*site.port, n);
        ApplyReport r = apply(want, scope, port, false);
        INFO(label << ": fault at op " << n << " of " << total << ": " << report_text(r));
        REQUIRE(port.fired);
        REQUIRE(r.failure);
        CHECK(r.failed_op == n);
        CHECK(r.failure->what == "injected");
        CHECK(r.undo_failures.empty());
        std::string after = dump();
        bool same = after == before && site.wireguard(scope) == wg_before;
        if (after != before) {
            std::ofstream("/tmp/avpn-fault-before.txt") << before;
            std::ofstream("/tmp/avpn-fault-after.txt") << after;
            // The difference itself, for runs whose /tmp is gone afterwards (the VM).
            FAIL_CHECK("the kernel dump differs (/tmp/avpn-fault-before.txt, /tmp/avpn-fault-after.txt):\n"
                       << sh("diff /tmp/avpn-fault-before.txt /tmp/avpn-fault-after.txt | head -40"));
        }
        CHECK(same);
        restored += same;
        if (!same) break;  // the next index would start from a wrong kernel
    }
    std::printf("%s: fault injected at %zu of %zu op indexes, kernel restored after %zu\n", label, total, total,
                restored);
    return total;
}


}  // namespace avpn::test
