// The site's registry clients on the groups' tunnel ports (registry_clients.hpp,
// docs/registry.md "In avpnd"): an XFRM group's through its ESP-in-UDP
// socket (the key exchange's reads hand registry datagrams over), a
// WireGuard group's through a registry::SharedPort per family, since the
// port belongs to the kernel module or wireguard-go.
#include <algorithm>

#include "orchestrator/runtime/site.hpp"

namespace avpn::runtime {

namespace {

constexpr int kRegistryReadBatch = 64;  // datagrams per shared port per wakeup

// avpn's registry datagrams carry types 0x10-0x2f (docs/registry.md);
// the key exchange's 0x01-0x04.
bool is_registry_datagram(ByteView d) { return d.size() >= 8 && d[4] >= 0x10 && d[4] <= 0x2f; }

}  // namespace

bool Site::is_registry(ByteView datagram) { return is_registry_datagram(datagram); }

// Follows the intent: clients for the groups with registries, and for the
// WireGuard ones a shared port per family of their registries. A port that
// cannot be opened (no CAP_NET_RAW) is logged once and retried at the next
// full converge.
void Site::configure_registry(bool full) {
    std::vector<RegistryGroupView> views = intent_ && !idle_ ? registry_views(*intent_, uplink_addresses_) : std::vector<RegistryGroupView>{};
    if (!full && views == registry_.views()) {
        mark_shared_ports();
        return follow_uplink();
    }
    for (const Error& e : registry_.configure(views, registry::Clock::now())) log_("registry: " + e.str());
    std::map<std::pair<std::string, Family>, uint16_t> want;  // -> the WireGuard port
    for (const RegistryGroupView& v : views)
        if (!v.xfrm)
            for (const RegistryPin& pin : v.registries) want[{v.group, pin.endpoint.addr.family}] = v.listen_port;
    for (auto it = registry_problems_.begin(); it != registry_problems_.end();)
        it = std::any_of(want.begin(), want.end(), [&](auto& k) { return k.first.first == it->first; })
                 ? std::next(it)
                 : registry_problems_.erase(it);
    // A group gone, or its port changed: the old shared port goes.
    for (auto it = shared_ports_.begin(); it != shared_ports_.end();) {
        auto w = want.find(it->first);
        it = w != want.end() && w->second == it->second.port() ? std::next(it) : shared_ports_.erase(it);
    }
    for (const auto& [key, listen_port] : want) {
        if (shared_ports_.count(key)) continue;
        auto port = registry::SharedPort::open(key.second, listen_port);
        if (!port) {
            registry_problems_[key.first] = port.error().str();
            log_("registry: group " + key.first + ": cannot share UDP port " + std::to_string(listen_port) + ": " +
                 port.error().str());
            continue;
        }
        registry_problems_.erase(key.first);
        shared_ports_.emplace(key, std::move(*port));
    }
    mark_shared_ports();
    // Contacts this changed (a member gone) are left for the next tick's
    // converge: this one is already done.
    send_registry(registry_.tick(registry::Clock::now()));
    follow_uplink();
}

// After a converge that moved the tunnels to another uplink (a failover or
// a failback) or gave theirs another address: the registries must see the
// new mapping now, not at the next keepalive, and that uplink's NAT type is
// tested anew. The shared ports already carry the new uplink's mark.
void Site::follow_uplink() {
    if (registry_.empty() || !uplinks_) return;
    const std::vector<std::string> active = uplinks_->active();
    const std::string uplink = active.empty() ? std::string() : active.front();
    std::optional<IpAddr> address;
    if (auto a = uplink_addresses_.find(uplink); a != uplink_addresses_.end()) address = a->second;
    send_registry(registry_.follow_uplink(uplink, address, registry::Clock::now()));
}

// Each shared port sends with its group's WireGuard device's fwmark, as
// planned (wireguard_plan.cpp): the active uplink's table while the plan
// steers, the group's table in a full tunnel (so the datagrams bypass the
// tunnel's default route, as WireGuard's own do), else none.
void Site::mark_shared_ports() {
    const planner::SitePieces* committed = planner_.committed();
    if (!committed || shared_ports_.empty()) return;
    for (auto& [key, port] : shared_ports_) {
        uint32_t mark = 0;
        for (const GroupPlan& g : committed->shared.groups)
            if (g.group == key.first)
                for (const nl::WgDevice& d : committed->shared.wireguard)
                    if (d.ifname == g.interface) mark = d.fwmark;
        if (Status s = port.set_mark(mark); !s) log_("registry: " + s.error().str());
    }
}

std::vector<int> Site::registry_fds() const {
    std::vector<int> fds;
    for (const auto& [key, port] : shared_ports_) fds.push_back(port.fd());
    return fds;
}

std::optional<std::chrono::steady_clock::time_point> Site::registry_at() const {
    if (registry_.empty()) return std::nullopt;
    return registry_tick_at_;
}

bool Site::registry_readable() {
    std::vector<RegistryClients::Send> sends;
    const auto now = registry::Clock::now();
    for (auto& [key, port] : shared_ports_)
        for (int n = 0; n < kRegistryReadBatch; ++n) {
            auto d = port.receive();
            if (!d) {
                log_("registry: " + d.error().str());
                break;
            }
            if (!*d) break;
            if (is_registry_datagram((*d)->bytes)) registry_.receive(key.first, (*d)->from, (*d)->bytes, now, sends);
        }
    return run_registry(std::move(sends));
}

bool Site::registry_tick() {
    registry_tick_at_ = Clock::now() + kRegistryTick;
    return run_registry(registry_.tick(registry::Clock::now()));
}

bool Site::run_registry(std::vector<RegistryClients::Send>&& sends) {
    send_registry(std::move(sends));
    return registry_.take_changed();
}

// Sends what the clients produced and logs their events.
void Site::send_registry(std::vector<RegistryClients::Send>&& sends) {
    std::optional<IpAddr> source[2];
    bool sourced[2] = {false, false};
    for (const RegistryClients::Send& s : sends) {
        const Family family = s.to.addr.family;
        Status sent;
        if (auto port = shared_ports_.find({s.group, family}); port != shared_ports_.end()) {
            sent = port->second.send(s.to, s.bytes);
        } else {
            auto socket = std::find_if(esp_.sockets().begin(), esp_.sockets().end(),
                                       [&](auto& e) {
                                           return e.first.group == s.group && e.first.path == 0 && e.first.family == family;
                                       });
            if (socket == esp_.sockets().end()) continue;  // no socket of that family: the status shows it unreachable
            const int f = family == Family::v4 ? 0 : 1;
            if (!sourced[f]) source[f] = keying_source(family), sourced[f] = true;
            sent = socket->second.send(s.to, s.bytes, source[f]);
        }
        if (!sent && registry_send_error_ != sent.error().str()) {
            registry_send_error_ = sent.error().str();
            log_("registry: sending to " + s.to.str() + ": " + registry_send_error_);
        }
    }
    for (const std::string& e : registry_.take_events()) {
        log_(e);
        if (e.find("reachable") != std::string::npos || e.find("NAT type") != std::string::npos)
            events_.add(int64_t(std::time(nullptr)), "registry", e);
    }
}

}  // namespace avpn::runtime
