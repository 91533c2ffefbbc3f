// bench_kernel_sa COUNT [each|failures]: installs COUNT ESP SAs through
// avpn's netlink layer (nl::Batch + encode_sa), dumps them back and deletes
// them, in the calling process's network namespace, and prints the three
// times. The SAs are the ones bench/kernel-sa/guest.sh writes with ip -batch
// (tunnel mode, rfc4106(gcm(aes)), ESP-in-UDP 4500:4500, replay window 128),
// so the two figures compare the writers, not the objects. Needs a kernel
// with ESP: it runs in the kernel tier's VM. Prints figures, never fails on
// a time; exits 1 when the kernel refuses an SA or the dump is short.
//   each:     an ack per SA (nl::Batch's default)
//   failures: one ack per chunk, the kernel still acks every failure (what
//             the reconciler's batches do, orchestrator/reconcile/netlink_port.cpp)
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "netlink/batch.hpp"
#include "netlink/xfrm.hpp"

using namespace avpn;
using namespace avpn::nl;

namespace {

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

XfrmSa nth_sa(uint32_t i) {
    XfrmSa sa;
    sa.src = *IpAddr::parse("192.0.2.1");
    sa.dst = *IpAddr::parse("192.0.2.2");
    sa.spi = 0x10000 + i;
    sa.reqid = 0x10000 + i;
    sa.encap_sport = 4500;
    sa.encap_dport = 4500;
    return sa;  // aead, ICV, key size and replay window: the model's defaults
}

int fail(const char* what, const Error* e) {
    std::fprintf(stderr, "bench_kernel_sa: %s: %s\n", what, e ? e->str().c_str() : "?");
    return 1;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2 || argc > 3) {
        std::fprintf(stderr, "usage: bench_kernel_sa COUNT [each|failures]\n");
        return 2;
    }
    const uint32_t count = uint32_t(std::strtoul(argv[1], nullptr, 10));
    BatchOptions options;
    options.ack_each_op = argc < 3 || std::strcmp(argv[2], "failures") != 0;

    auto sock = Socket::open(NETLINK_XFRM);
    if (!sock) return fail("open NETLINK_XFRM", &sock.error());
    std::vector<XfrmSa> sas;
    sas.reserve(count);
    for (uint32_t i = 0; i < count; ++i) sas.push_back(nth_sa(i));
    std::vector<uint8_t> key(20, 0x5a);

    auto t = Clock::now();
    {
        Batch add(*sock, options);
        for (uint32_t i = 0; i < count; ++i)
            if (Status s = add.add(i, [&](MsgWriter& w) {
                    return encode_sa(w, XfrmWrite::add, sas[i], Bytes(key.data(), key.size()));
                });
                !s)
                return fail("encode", &s.error());
        BatchResult r = add.commit();
        if (!r.ok()) return fail("add", r.first_error());
    }
    const double add_ms = ms_since(t);

    t = Clock::now();
    auto dumped = dump_sas(*sock, {});
    if (!dumped) return fail("dump", &dumped.error());
    const double dump_ms = ms_since(t);
    if (dumped->size() != count) {
        std::fprintf(stderr, "bench_kernel_sa: dump found %zu of %u SAs\n", dumped->size(), count);
        return 1;
    }

    t = Clock::now();
    {
        Batch del(*sock, options);
        for (uint32_t i = 0; i < count; ++i)
            if (Status s = del.add(i, [&](MsgWriter& w) { return encode_sa_delete(w, sas[i]); }); !s)
                return fail("encode delete", &s.error());
        BatchResult r = del.commit();
        if (!r.ok()) return fail("delete", r.first_error());
    }
    const double del_ms = ms_since(t);
    std::printf("add %.0f dump %.0f delete %.0f\n", add_ms, dump_ms, del_ms);
    return 0;
}
