// One AutoVPN group as the planner sees it: this site and every listed member
// side by side, with the facts derived for each of them (tunnel address,
// effective contact). Built once per group; every later step reads it.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/ip.hpp"
#include "common/result.hpp"
#include "orchestrator/intent.hpp"
#include "orchestrator/plan/allocations.hpp"
#include "orchestrator/plan/planner.hpp"

namespace avpn::planner {

struct MemberView {
    const std::string* name = nullptr;
    Role role = Role::spoke;
    const std::string* public_key = nullptr;
    const std::vector<Prefix>* exports = nullptr;
    const std::vector<HubRef>* hubs = nullptr;
    const std::vector<std::string>* exit_hubs = nullptr;
    std::optional<Endpoint> endpoint;  // live contact, else static contact
    bool dead = false;                 // in PlanInputs::dead_peers: this site heard nothing from it
    std::optional<ShortcutState> shortcut;  // PlanInputs::shortcuts, where the group has them on
    const std::optional<Endpoint>* contact = nullptr;  // the member list's static contact
    uint8_t paths = 1;                 // its member-list entry's `paths` (active-active)
    IpAddr tunnel_address;
    uint64_t name_hash = 0;            // stable_hash(name)
    const SourceLoc* loc = nullptr;

    bool active() const { return role != Role::off; }
};

// Not copyable: MemberView of this site points at self_exports.
struct GroupModel {
    GroupModel() = default;
    GroupModel(const GroupModel&) = delete;
    GroupModel& operator=(const GroupModel&) = delete;

    const Group* group = nullptr;
    size_t group_index = 0;               // position in Intent::groups
    std::vector<Prefix> self_exports;     // site_exports() for this site
    std::vector<MemberView> members;      // every member, this site included
    size_t self = 0;                      // index of this site in members
    bool has_v6_exports = false;          // any member exports an IPv6 prefix
    std::unordered_map<std::string_view, size_t> by_name;
    std::shared_ptr<const GroupAllocations> allocations;  // addresses, hashes, SPI slots

    const MemberView& me() const { return members[self]; }
    std::optional<size_t> find(std::string_view name) const;
    // Index of `name` when it is an active hub other than this site.
    std::optional<size_t> find_hub(std::string_view name) const;
};

// Fills `model` (a fresh one). Errors (duplicate names, address allocation,
// duplicate exports) are appended to `errors`; false: the model is unusable.
// `previous`: the allocations of an earlier plan, reused when the member
// list is the same.
bool build_group_model(const Intent& intent, size_t group_index, const PlanInputs& inputs,
                       const std::shared_ptr<const GroupAllocations>& previous, GroupModel& model,
                       Errors& errors);

}  // namespace avpn::planner
