#include "orchestrator/plan/group_model.hpp"

#include <algorithm>

#include "orchestrator/exports.hpp"
#include "orchestrator/plan/stable_hash.hpp"
#include "orchestrator/plan/tunnel_addresses.hpp"
#include "orchestrator/plan/xfrm_plan.hpp"

namespace avpn::planner {

std::optional<size_t> GroupModel::find(std::string_view name) const {
    auto it = by_name.find(name);
    if (it == by_name.end()) return std::nullopt;
    return it->second;
}

std::optional<size_t> GroupModel::find_hub(std::string_view name) const {
    auto i = find(name);
    if (!i || *i == self || members[*i].role != Role::hub) return std::nullopt;
    return i;
}

namespace {

MemberView view_of(const Group& g, const Member& m, const PlanInputs& inputs) {
    MemberView v;
    v.name = &m.name;
    v.role = m.role;
    v.public_key = &m.public_key;
    v.exports = &m.exports;
    v.hubs = &m.hubs;
    v.exit_hubs = &m.exit_hubs;
    auto live = inputs.contacts.find({g.name, m.name});
    v.endpoint = live != inputs.contacts.end() ? std::optional<Endpoint>(live->second) : m.contact;
    if (auto moved = inputs.roamed.find({g.name, m.name}); moved != inputs.roamed.end()) v.endpoint = moved->second;
    v.dead = inputs.dead_peers.count({g.name, m.name}) > 0;
    if (auto s = inputs.shortcuts.find({g.name, m.name}); s != inputs.shortcuts.end() && g.shortcuts &&
                                                          g.transport == Transport::wireguard)
        v.shortcut = s->second;
    v.contact = &m.contact;
    v.paths = m.paths;
    v.loc = &m.loc;
    return v;
}

// This site's own contact, as its peers know it: the registry's live
// contact, else its entry in the member list, else its manual port forward.
// The relay rule (topology.hpp) needs it to agree with what the others see.
std::optional<Endpoint> own_contact(const Intent& intent, const Group& g, const PlanInputs& inputs) {
    if (auto live = inputs.contacts.find({g.name, intent.site.name}); live != inputs.contacts.end()) return live->second;
    if (g.self_contact) return g.self_contact;
    if (intent.site.nat.mode == NatMode::manual && intent.site.nat.public_address)
        return Endpoint{*intent.site.nat.public_address, g.public_port.value_or(g.listen_port)};
    return std::nullopt;
}

MemberView view_of_self(const Intent& intent, const GroupModel& model, const PlanInputs& inputs) {
    MemberView v;
    v.endpoint = own_contact(intent, *model.group, inputs);
    v.name = &intent.site.name;
    v.role = intent.site.role;
    v.public_key = &intent.site.public_key;
    v.exports = &model.self_exports;
    v.hubs = &model.group->hubs;
    v.exit_hubs = &model.group->exit_hubs;
    v.contact = &model.group->self_contact;
    v.paths = model.group->self_paths;
    v.loc = &model.group->loc;
    return v;
}

bool index_names(GroupModel& model, Errors& errors) {
    bool ok = true;
    model.by_name.reserve(model.members.size());
    for (size_t i = 0; i < model.members.size(); ++i) {
        const MemberView& m = model.members[i];
        if (model.by_name.emplace(*m.name, i).second) continue;
        ok = false;
        errors.push_back({"read group members", m.loc->str(),
                          "site name " + *m.name + " appears twice in group " + model.group->name});
    }
    return ok;
}

std::optional<IpAddr> pin_of(const GroupModel& model, size_t i) {
    // members[0] is this site, members[i] is g.members[i - 1].
    return i == 0 ? model.group->tunnel_address : model.group->members[i - 1].tunnel_address;
}

bool same_members(const GroupAllocations& a, const GroupModel& model) {
    if (a.subnet != model.group->tunnel_subnet || a.names.size() != model.members.size()) return false;
    for (size_t i = 0; i < a.names.size(); ++i)
        if (a.names[i] != *model.members[i].name || a.pins[i] != pin_of(model, i)) return false;
    return true;
}

bool allocate(GroupModel& model, Errors& errors) {
    auto a = std::make_shared<GroupAllocations>();
    const Group& g = *model.group;
    a->subnet = g.tunnel_subnet;
    std::vector<AddressRequest> requests(model.members.size());
    for (size_t i = 0; i < model.members.size(); ++i) {
        const MemberView& m = model.members[i];
        a->names.push_back(*m.name);
        a->pins.push_back(pin_of(model, i));
        a->name_hashes.push_back(stable_hash(*m.name));
        model.members[i].name_hash = a->name_hashes.back();  // spi_slots() reads it
        requests[i] = {*m.name, a->name_hashes.back(), a->pins.back(), m.loc};
    }
    size_t before = errors.size();
    a->addresses = allocate_tunnel_addresses(g, requests, errors);
    model.allocations = a;
    if (g.transport == Transport::xfrm) a->spi_slots = spi_slots(model, errors);
    return errors.size() == before;
}

bool assign_addresses(GroupModel& model, const std::shared_ptr<const GroupAllocations>& previous,
                      Errors& errors) {
    if (previous && same_members(*previous, model))
        model.allocations = previous;
    else if (!allocate(model, errors))
        return false;
    const GroupAllocations& a = *model.allocations;
    for (size_t i = 0; i < model.members.size(); ++i) {
        model.members[i].name_hash = a.name_hashes[i];
        model.members[i].tunnel_address = a.addresses[i];
    }
    return true;
}

// Each exported prefix (and each tunnel address) must belong to exactly one
// member, or WireGuard allowed IPs and table routes would be ambiguous. The
// check is exact equality; nested overlaps are the validator's concern.
bool check_unique_exports(GroupModel& model, Errors& errors) {
    struct Owned {
        Prefix prefix;
        size_t member;
        bool operator<(const Owned& o) const {
            return prefix != o.prefix ? prefix < o.prefix : member < o.member;
        }
    };
    std::vector<Owned> all;
    for (size_t i = 0; i < model.members.size(); ++i) {
        const MemberView& m = model.members[i];
        all.push_back({Prefix::host(m.tunnel_address), i});
        if (!m.active()) continue;
        for (const Prefix& p : *m.exports) {
            all.push_back({p, i});
            if (p.family() == Family::v6) model.has_v6_exports = true;
        }
    }
    std::sort(all.begin(), all.end());
    bool ok = true;
    for (size_t k = 1; k < all.size(); ++k) {
        if (all[k].prefix != all[k - 1].prefix || all[k].member == all[k - 1].member) continue;
        const MemberView& a = model.members[all[k - 1].member];
        const MemberView& b = model.members[all[k].member];
        ok = false;
        errors.push_back({"check exports", b.loc->str(),
                          all[k].prefix.str() + " is claimed by both " + *a.name + " and " + *b.name +
                              " in group " + model.group->name});
    }
    return ok;
}

// A public key is a peer's identity for WireGuard and the XFRM key
// derivation: two members with one key would be merged into one peer.
bool check_unique_keys(const GroupModel& model, Errors& errors) {
    std::vector<std::pair<std::string_view, size_t>> keys;
    keys.reserve(model.members.size());
    for (size_t i = 0; i < model.members.size(); ++i)
        keys.emplace_back(*model.members[i].public_key, i);
    std::sort(keys.begin(), keys.end());
    bool ok = true;
    for (size_t k = 1; k < keys.size(); ++k) {
        if (keys[k].first != keys[k - 1].first) continue;
        const MemberView& a = model.members[keys[k - 1].second];
        const MemberView& b = model.members[keys[k].second];
        ok = false;
        errors.push_back({"check public keys", b.loc->str(),
                          "sites " + *a.name + " and " + *b.name + " have the same public key in group " +
                              model.group->name});
    }
    return ok;
}

}  // namespace

bool build_group_model(const Intent& intent, size_t group_index, const PlanInputs& inputs,
                       const std::shared_ptr<const GroupAllocations>& previous, GroupModel& model,
                       Errors& errors) {
    model.group = &intent.groups[group_index];
    model.group_index = group_index;
    model.self_exports = site_exports(intent, *model.group);
    model.members.reserve(model.group->members.size() + 1);
    model.self = 0;  // this site first, then the member list in its order
    model.members.push_back(view_of_self(intent, model, inputs));
    for (const Member& m : model.group->members) model.members.push_back(view_of(*model.group, m, inputs));
    return index_names(model, errors) && check_unique_keys(model, errors) &&
           assign_addresses(model, previous, errors) && check_unique_exports(model, errors);
}

}  // namespace avpn::planner
