// Identity of each kernel object kind as the kernel sees it: two objects
// with the same key cannot coexist, so a differing value is an update (or a
// replace). The diff merges by it and the kernel image indexes by it.
#pragma once

#include <tuple>

#include "netlink/objects.hpp"

namespace avpn::identity {

inline auto key(const nl::Link& l) { return std::tie(l.name); }
inline auto key(const nl::InterfaceAddress& a) { return std::tie(a.ifname, a.address, a.prefix_len); }
inline auto key(const nl::WgDevice& d) { return std::tie(d.ifname); }
inline auto key(const nl::WgPeer& p) { return std::tie(p.public_key); }
inline auto key(const nl::XfrmSa& s) { return std::tie(s.dst, s.spi); }
inline auto key(const nl::XfrmPolicy& p) { return std::tie(p.src, p.dst, p.dir, p.if_id, p.mark); }
inline auto key(const nl::Route& r) { return std::tie(r.table, r.dst, r.metric); }
inline auto key(const nl::Rule& r) { return std::tie(r); }

// Orders objects of one kind by identity (for std::set and sorting).
struct Less {
    template <class T>
    bool operator()(const T& a, const T& b) const { return key(a) < key(b); }
};

}  // namespace avpn::identity
