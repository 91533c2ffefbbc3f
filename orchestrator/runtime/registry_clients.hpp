// The site's registry clients (docs/registry.md, "In avpnd"): one
// registry::Client per (group, registry), and what their answers mean for
// the plan. No I/O: the site runtime reads and sends the datagrams on the
// group's tunnel port (an XFRM group's ESP-in-UDP socket, a WireGuard
// group's registry::SharedPort), so a registry observes the NAT mapping of
// that port (../shared/design/nat-traversal.md, "The one hard rule").
//
// Contacts. A member without a static contact in the member list is asked
// for; its contact is the one the first reachable registry (in the order of
// the site file) has registered, or its LAN contact when the registry saw
// it at this site's own public address (both behind one NAT: a NAT that
// does not hairpin would drop the public one). Once learned it is kept while no reachable
// registry confirms it, for the group's contact_hold: a registry outage, or
// a peer that stopped registering, leaves the established tunnels on their
// last contacts. This site's own contact (what its peers learn) is the one
// the first reachable registry observed, unless the site has a static or a
// manual (port-forward) contact.
//
// NAT type, per group and uplink (the group's tunnel port through the
// uplink the tunnels, and so the registrations, leave by): two reachable
// registries that observed the same public address and port since that
// uplink took the tunnels see an endpoint-independent mapping ("friendly"),
// different ones an address-dependent one ("unfriendly"); with fewer it is
// "unknown". Another uplink, or a new address of it, is another NAT: the
// test starts over (follow_uplink), and the uplinks left keep their last
// verdict.
//
// Filtering, per group and uplink likewise: each client runs RFC 5780's
// test with its registry (client.hpp) and reports its own verdict with its
// registrations. This site's is "permissive" when a registry's probe from
// its alternate address got through, else "strict" when one registry with
// an alternate saw none arrive, else "unknown"; a peer's is what any of
// this site's reachable registries says it reported, "permissive" first.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "orchestrator/intent.hpp"
#include "plugins/registry/client.hpp"

namespace avpn::runtime {

// What the registry clients of one group need, from the intent and the
// committed plan.
struct RegistryGroupView {
    std::string group, self;  // the group, this site's name
    bool xfrm = false;        // the tunnel port is avpnd's ESP-in-UDP socket
    uint16_t listen_port = 0;
    std::string key_file, group_key_file;
    std::vector<RegistryPin> registries;
    // Members whose contact is wanted: (site name, base64 public key),
    // those without a static contact.
    std::vector<std::pair<std::string, std::string>> wanted;
    bool learn_own = true;  // no static or manual contact of this site
    // This site's LAN contacts, registered for peers behind the same NAT:
    // its uplinks' addresses with the tunnel port.
    std::vector<Endpoint> local;
    std::chrono::seconds contact_hold{24 * 3600};
    bool operator==(const RegistryGroupView&) const = default;
};

// `uplink_addresses`: as avpnd read them (the LAN contacts).
std::vector<RegistryGroupView> registry_views(const Intent& intent, const std::map<std::string, IpAddr>& uplink_addresses);

using keying::Bytes;
using keying::ByteView;
using keying::Key32;

class RegistryClients {
public:
    using Time = registry::Time;
    using ContactKey = std::pair<std::string, std::string>;  // (group, site)

    struct Send {
        std::string group;
        Endpoint to;
        Bytes bytes;
    };
    // The wall clock of the initiations' TAI64N (a registry accepts only
    // newer ones); tests that simulate minutes pass their own.
    using WallClock = std::function<keying::Tai64n()>;
    explicit RegistryClients(WallClock wall = keying::tai64n_now) : wall_(std::move(wall)) {}

    // Clients are kept across calls while their group's keys and registry
    // are unchanged (so a reload does not re-handshake); the rest are made
    // anew. Errors name the group and the file.
    Errors configure(const std::vector<RegistryGroupView>& views, Time now);
    bool empty() const { return clients_.empty(); }
    const std::vector<RegistryGroupView>& views() const { return views_; }

    // Registrations, keepalives, handshakes and queries due at `now`.
    std::vector<Send> tick(Time now);
    // A datagram with avpn's registry header from `from` on `group`'s
    // port; false when no registry of that group sent it (counted).
    bool receive(const std::string& group, const Endpoint& from, ByteView bytes, Time now, std::vector<Send>& sends);
    // A registration to every registry at once (the uplink changed: the
    // registries must see the new mapping now, not at the next keepalive).
    std::vector<Send> register_now(Time now);
    // The uplink the tunnels leave by now ("" none) and its address. On a
    // change, register_now() and a new NAT type test for that uplink: only
    // answers after `now` count. No sends when nothing changed.
    std::vector<Send> follow_uplink(const std::string& uplink, const std::optional<IpAddr>& address, Time now);

    // The contacts for PlanInputs, and whether they changed since the last
    // take_changed() (then a converge is due).
    const std::map<ContactKey, Endpoint>& contacts() const { return contacts_; }
    bool take_changed() { return std::exchange(changed_, false); }
    // Log lines (a registry reachable or lost, a contact learned, moved or
    // dropped, the NAT type), taken by the caller.
    std::vector<std::string> take_events() { return std::exchange(events_, {}); }

    struct RegistryStatus {
        std::string group;
        Endpoint endpoint;
        bool reachable = false;
        std::optional<std::chrono::milliseconds> last_answer_age;
        std::optional<Endpoint> observed;
        uint64_t handshakes = 0, rejected = 0;
    };
    std::vector<RegistryStatus> status(Time now) const;
    // Per group: the uplink the tunnels use now (`active`, its type
    // "friendly", "unfriendly" or "unknown", see above), then the others
    // tested before with their last verdict; groups in the site file's order.
    struct NatType {
        std::string group, uplink, type;
        bool active = false;
        std::string filtering;  // "permissive", "strict" or "unknown" (see above)
        bool operator==(const NatType&) const = default;
    };
    std::vector<NatType> nat_types(Time now) const;
    // The active uplink's type of `group` ("unknown" without registries).
    std::string nat_type(const std::string& group, Time now) const;
    // Another member's type as this site's registries see it: "friendly"
    // when two or more report the same observed contact for it,
    // "unfriendly" when they differ, else "unknown" (shortcuts read it).
    std::string peer_nat_type(const std::string& group, const std::string& site, Time now) const;
    // Filtering (see above): this site's on the active uplink, and a peer's.
    std::string filtering(const std::string& group, Time now) const;
    std::string peer_filtering(const std::string& group, const std::string& site, Time now) const;
    // Whether a member's contact is its LAN contact (it sits behind the same
    // public address as this site): no NAT lies between the two.
    bool lan_contact(const std::string& group, const std::string& site) const {
        auto it = learned_.find({group, site});
        return it != learned_.end() && it->second.lan;
    }
    uint64_t strangers() const { return strangers_; }  // datagrams from no registry of the group

private:
    struct Entry {
        std::string group;
        RegistryPin pin;
        std::unique_ptr<registry::Client> client;
        bool was_reachable = false;
        std::string keys;  // what the client was made from: key files' contents, hashed
    };
    struct Learned {
        Endpoint contact;
        Time confirmed{};
        bool lan = false;  // its LAN contact: behind this site's own public address
    };
    // A view's wanted members decoded once (update() runs every tick, and a
    // hub wants every spoke), with their names for the hold's sweep.
    struct Wanted {
        std::vector<std::pair<std::string, Key32>> members;
        std::set<std::string, std::less<>> names;
    };
    void update(Time now);
    const RegistryGroupView* view(const std::string& group) const;

    WallClock wall_;
    std::vector<RegistryGroupView> views_;
    std::vector<Entry> clients_;  // in view order, registries in file order
    std::map<std::string, Wanted> wanted_;  // by group
    std::map<ContactKey, Learned> learned_;
    std::map<ContactKey, Endpoint> contacts_;
    std::map<std::string, std::string> nat_;  // group -> "uplink/type" as last logged
    std::map<std::string, std::string> filtering_logged_;  // group -> "uplink/filtering" as last logged
    // The uplink being tested, since when, and the verdicts other than
    // "unknown" per (group, uplink).
    std::string uplink_;
    std::optional<IpAddr> uplink_address_;
    Time uplink_since_{};
    std::map<std::pair<std::string, std::string>, std::pair<std::string, std::string>> tested_;  // type, filtering
    bool changed_ = false;
    std::vector<std::string> events_;
    uint64_t strangers_ = 0;
};

}  // namespace avpn::runtime
