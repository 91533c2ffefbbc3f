// ct_list [-6]: the UDP conntrack entries of this network namespace, one per
// line as CtEntry::str() writes them, read through avpn's own ctnetlink dump
// (netlink/conntrack.hpp). The netns tests read conntrack with it, so they
// need neither conntrack-tools nor /proc/net/nf_conntrack (a kernel option).
#include <linux/netlink.h>

#include <cstdio>
#include <cstring>

#include "netlink/conntrack.hpp"

int main(int argc, char** argv) {
    using namespace avpn;
    const Family family = argc > 1 && std::strcmp(argv[1], "-6") == 0 ? Family::v6 : Family::v4;
    auto s = nl::Socket::open(NETLINK_NETFILTER);
    if (!s) return std::fprintf(stderr, "ct_list: %s\n", s.error().str().c_str()), 1;
    auto entries = nl::dump_conntrack_udp(*s, family);
    if (!entries) return std::fprintf(stderr, "ct_list: %s\n", entries.error().str().c_str()), 1;
    for (const nl::CtEntry& e : *entries) std::printf("%s\n", e.str().c_str());
    return 0;
}
