// The simulated spokes of the keying benches (bench_keying, in memory, and
// bench_keying_kernel, over UDP to a hub that installs real SAs): each a
// static key and a Noise initiator towards one hub, with no kernel of its
// own. Also the CPU clock both benches report with.
#pragma once

#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <functional>
#include <optional>
#include <vector>

#include "common/crypto.hpp"
#include "plugins/keying/handshake.hpp"

namespace avpn::bench {

struct Cpu {
    double user = 0, sys = 0;
    double total() const { return user + sys; }
    Cpu operator-(const Cpu& o) const { return {user - o.user, sys - o.sys}; }
    Cpu& operator+=(const Cpu& o) {
        user += o.user, sys += o.sys;
        return *this;
    }
};

// RUSAGE_SELF for the whole process, RUSAGE_THREAD for the caller alone.
inline Cpu cpu_now(int who = RUSAGE_SELF) {
    rusage u{};
    getrusage(who, &u);
    return {double(u.ru_utime.tv_sec) + double(u.ru_utime.tv_usec) / 1e6,
            double(u.ru_stime.tv_sec) + double(u.ru_stime.tv_usec) / 1e6};
}

struct Timer {
    Cpu cpu0 = cpu_now();
    std::chrono::steady_clock::time_point wall0 = std::chrono::steady_clock::now();
    double cpu() const { return (cpu_now() - cpu0).total(); }
    double wall() const { return std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count(); }
};

struct Spoke {
    crypto::Key32 priv{}, pub{};
    std::optional<keying::Initiator> init;
    std::optional<keying::Session> session;
};

// `n` spokes with fresh keys, each with an initiator towards `hub_public`
// in `group`. `below_hub`: only keys lower than the hub's, so every spoke
// is the leader of its rotations (PeerSession: the lower key leads) and
// the hub only answers. Nullopt when the key generation fails.
inline std::optional<std::vector<Spoke>> make_spokes(size_t n, const crypto::Key32& hub_public,
                                                     const std::string& group, bool below_hub = false) {
    std::vector<Spoke> spokes(n);
    for (Spoke& s : spokes) {
        do {
            auto priv = crypto::generate_private_key();
            if (!priv) return std::nullopt;
            auto pub = crypto::public_key(*priv);
            if (!pub) return std::nullopt;
            s.priv = *priv;
            s.pub = *pub;
        } while (below_hub && !(s.pub < hub_public));
        keying::InitiatorConfig ic;
        ic.static_private = s.priv;
        ic.responder_public = hub_public;
        ic.group = group;
        auto init = keying::Initiator::create(std::move(ic));
        if (!init) return std::nullopt;
        s.init.emplace(std::move(*init));
    }
    return spokes;
}

}  // namespace avpn::bench
