// Shared helpers of the netlink netns tests. Each test binary runs in a
// network namespace of its own (tests/netns_main.cpp), so the `ip` commands
// here see and change only that namespace.
#pragma once

#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "netlink/batch.hpp"
#include "netlink/rtnl_addr.hpp"
#include "netlink/rtnl_link.hpp"
#include "netlink/socket.hpp"

// Failed results print their error in assertion output.
namespace doctest {
template <class T>
struct StringMaker<avpn::Result<T>> {
    static String convert(const avpn::Result<T>& r) { return r.ok() ? "ok" : r.error().str().c_str(); }
};
}  // namespace doctest

namespace avpn::nl::netns {

inline Socket open_socket(int protocol) {
    auto s = Socket::open(protocol);
    REQUIRE_MESSAGE(s.ok(), std::string(s.ok() ? "" : s.error().str()));
    return std::move(*s);
}

// Runs one op through a batch and returns its status.
template <class Encode>
Status apply(Transport& t, Encode&& encode) {
    Batch b(t);
    if (auto st = b.add(0, std::forward<Encode>(encode)); !st) return st;
    BatchResult res = b.commit();
    return res.ops.at(0).status;
}

// Test setup may shell out to iproute2; returns its output, exit code in rc.
inline std::string sh(const std::string& cmd, int* rc = nullptr) {
    std::string out;
    FILE* p = popen((cmd + " 2>&1").c_str(), "r");
    if (!p) {
        if (rc) *rc = -1;
        return out;
    }
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    int status = pclose(p);
    if (rc) *rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return out;
}

inline void must(const std::string& cmd) {
    int rc = 0;
    std::string out = sh(cmd, &rc);
    REQUIRE_MESSAGE(rc == 0, std::string(cmd + ": " + out));
}

// Exits 77 (skipped), saying what is missing, when probe fails; otherwise
// undoes what the probe made with cleanup.
inline void skip_unless(const std::string& probe, const std::string& cleanup, const std::string& missing) {
    int rc = 0;
    std::string out = sh(probe, &rc);
    if (rc != 0) {
        while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
        std::printf("SKIP: %s (`%s`: %s)\n", missing.c_str(), probe.c_str(), out.c_str());
        std::exit(77);
    }
    if (!cleanup.empty()) must(cleanup);
}

// avpn's routes in these tests: its protocol, in a table above 255.
inline constexpr uint32_t kTable = 7100;
inline constexpr uint8_t kProto = 147;

// A veth pair, both ends up, with an IPv4 address on the first; returns its index.
inline uint32_t veth_with_address(Socket& rt, const std::string& name, const std::string& peer,
                                  const std::string& address, uint8_t prefix_len) {
    REQUIRE(apply(rt, [&](MsgWriter& w) { return encode_veth_create(w, name, peer); }));
    REQUIRE(apply(rt, [&](MsgWriter& w) { return encode_link_set_up(w, name, true); }));
    REQUIRE(apply(rt, [&](MsgWriter& w) { return encode_link_set_up(w, peer, true); }));
    auto index = link_index(rt, name);
    REQUIRE(index);
    InterfaceAddress a{name, *IpAddr::parse(address), prefix_len};
    REQUIRE(apply(rt, [&](MsgWriter& w) { return encode_address(w, AddrOp::add, a, *index); }));
    return *index;
}

}  // namespace avpn::nl::netns
