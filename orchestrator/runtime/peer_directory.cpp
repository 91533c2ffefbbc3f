#include "orchestrator/runtime/peer_directory.hpp"

#include <algorithm>
#include <tuple>
#include <string_view>
#include <unordered_map>

namespace avpn::runtime {

namespace {

// What a planned peer is, however the planner handed it over.
struct Planned {
    const std::string* group;
    const std::string* interface;
    Transport transport;
    const std::string* name;
    std::string role;
    const std::string* public_key;
    IpAddr tunnel_address;
    const std::vector<Prefix>* allowed;
    std::optional<Endpoint> endpoint;
    std::optional<ShortcutState> shortcut;
    uint8_t paths = 1;
    const std::vector<planner::XfrmPath>* xfrm_paths = nullptr;  // XFRM: where each path i >= 1 is
};

// The hub whose allowed prefixes hold `m`'s first export.
std::string carrier_of(const std::vector<Planned>& planned, const std::string& group, const Member& m) {
    for (const Planned& p : planned) {
        if (*p.group != group || m.exports.empty()) continue;
        for (const Prefix& a : *p.allowed)
            if (a.contains(m.exports.front()) && !a.is_default()) return *p.name;
    }
    return "";
}

std::vector<PeerRow> rows_of(const Intent& in, const std::vector<Planned>& planned,
                             const planner::SiteAllocations& allocations) {
    std::vector<PeerRow> rows;
    rows.reserve(planned.size());
    // Per group: which planned peer routes which prefix, so a member without
    // a tunnel of its own is shown with the hub that carries its exports.
    std::map<std::string, std::vector<size_t>> by_group;
    // Each group's members by name, built once: a 10,000-spoke hub looks up
    // every spoke.
    std::map<std::string_view, std::unordered_map<std::string_view, const Member*>> members;
    for (const Group& g : in.groups) {
        auto& index = members[g.name];
        index.reserve(g.members.size());
        for (const Member& x : g.members) index.emplace(x.name, &x);
    }
    for (const Planned& p : planned) {
        const Member* m = nullptr;
        if (auto g = members.find(*p.group); g != members.end())
            if (auto x = g->second.find(*p.name); x != g->second.end()) m = x->second;
        PeerRow r;
        r.group = *p.group;
        r.site = *p.name;
        r.role = p.role;
        r.transport = std::string(to_string(p.transport));
        r.interface = *p.interface;
        r.public_key = *p.public_key;
        r.tunnel_address = p.tunnel_address;
        if (m) r.exports = m->exports;
        r.endpoint = p.endpoint;
        if (p.endpoint) r.contact = m && m->contact == p.endpoint ? "static" : "learned";
        if (p.shortcut) {
            r.shortcut = *p.shortcut == ShortcutState::up ? "up" : "trying";
            if (*p.shortcut != ShortcutState::up && m) r.via = carrier_of(planned, r.group, *m);
        }
        for (size_t i = 1; i < p.paths; ++i) {
            r.paths.push_back({*p.interface + ".p" + std::to_string(i), {}, {}, {}, {}});
            if (p.xfrm_paths && i <= p.xfrm_paths->size()) r.paths.back().endpoint = (*p.xfrm_paths)[i - 1].endpoint;
        }
        by_group[r.group].push_back(rows.size());
        rows.push_back(std::move(r));
    }
    for (const Group& g : in.groups) {
        auto peers = by_group.find(g.name);
        if (peers == by_group.end()) continue;  // a group without peers (off, or nothing planned)
        std::unordered_map<std::string, size_t> direct;
        for (size_t i : peers->second) direct.emplace(rows[i].site, i);
        for (const Member& m : g.members) {
            if (m.role == Role::off || direct.count(m.name)) continue;
            PeerRow r;
            r.group = g.name;
            r.site = m.name;
            r.role = std::string(to_string(m.role));
            r.transport = std::string(to_string(g.transport));
            r.interface = rows[peers->second.front()].interface;
            r.public_key = m.public_key;
            r.exports = m.exports;
            r.direct = false;
            r.via = carrier_of(planned, g.name, m);
            rows.push_back(std::move(r));
        }
    }
    // A member reached through a hub has its tunnel address all the same:
    // the group's allocations hold every member's.
    for (const auto& [group, alloc] : allocations.groups) {
        if (!alloc) continue;
        std::unordered_map<std::string_view, size_t> index;
        for (size_t i = 0; i < alloc->names.size() && i < alloc->addresses.size(); ++i) index.emplace(alloc->names[i], i);
        for (PeerRow& r : rows)
            if (!r.direct && r.group == group)
                if (auto it = index.find(r.site); it != index.end()) r.tunnel_address = alloc->addresses[it->second];
    }
    std::sort(rows.begin(), rows.end(),
              [](const PeerRow& a, const PeerRow& b) { return std::tie(a.site, a.group) < std::tie(b.site, b.group); });
    return rows;
}

}  // namespace

std::vector<PeerRow> peer_rows(const Intent& in, const planner::SitePieces& pieces) {
    std::vector<Planned> planned;
    for (const planner::GroupPieces& g : pieces.groups)
        for (const planner::PeerInput& p : g.peers)
            planned.push_back(Planned{&g.constants.group, &g.constants.interface, g.constants.transport, &p.name,
                                      std::string(to_string(p.role)), &p.public_key, p.tunnel_address, &p.allowed,
                                      p.endpoint, p.shortcut, p.paths, &p.xfrm_paths});
    return rows_of(in, planned, pieces.allocations);
}

namespace {

// The path's device's view of the peer: where it is, its handshake, bytes.
void fill_path(PeerRow::Path& path, const std::string& key, const std::map<std::string, wg::WgDeviceStatus>& devices) {
    auto d = devices.find(path.device);
    if (d == devices.end()) return;
    for (const nl::WgPeer& p : d->second.device.peers)
        if (p.public_key == key) path.endpoint = p.endpoint;
    for (const wg::WgPeerStats& s : d->second.peers)
        if (s.public_key == key) path.last_handshake = s.last_handshake_sec, path.rx_bytes = s.rx_bytes, path.tx_bytes = s.tx_bytes;
}

}  // namespace

void add_wireguard(std::vector<PeerRow>& rows, const std::map<std::string, wg::WgDeviceStatus>& devices) {
    for (PeerRow& r : rows) {
        if (!r.direct || r.transport != "wireguard") continue;
        for (PeerRow::Path& path : r.paths) fill_path(path, r.public_key, devices);
        auto d = devices.find(r.interface);
        if (d == devices.end()) continue;
        const auto& peers = d->second.peers;  // sorted by public key
        auto it = std::lower_bound(peers.begin(), peers.end(), r.public_key,
                                   [](const wg::WgPeerStats& s, const std::string& k) { return s.public_key < k; });
        if (it == peers.end() || it->public_key != r.public_key) continue;
        r.last_handshake = it->last_handshake_sec;
        r.rx_bytes = it->rx_bytes;
        r.tx_bytes = it->tx_bytes;
    }
}

}  // namespace avpn::runtime
