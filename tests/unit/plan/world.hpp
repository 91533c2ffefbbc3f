// A whole AutoVPN group described once ("the world"), from which the Intent
// of any one site is derived the way the config loader would build it: the
// site itself from site.toml, every other site from the member list. Lets
// tests plan at two sites and compare what they agree on.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/ip.hpp"
#include "orchestrator/intent.hpp"
#include "orchestrator/plan/planner.hpp"

namespace avpn::test {

Prefix P(const char* text);
IpAddr A(const char* text);
Endpoint E(const char* text);

struct SiteSpec {
    std::string name;
    Role role = Role::spoke;
    std::vector<Prefix> exports;
    std::vector<HubRef> hubs;            // spokes, in order
    std::vector<std::string> exit_hubs;  // hubs
    std::optional<Endpoint> contact;     // static contact; also its uplink address
    std::optional<IpAddr> pinned;        // tunnel address
    // The contact comes from the registry (every site's PlanInputs.contacts)
    // instead of the member list.
    bool live_contact = false;
    std::vector<Prefix> local_only;   // non-shareable VLANs: never exported
    std::vector<Prefix> unpermitted;  // spokes: shareable VLANs the group is not permitted
    // Active-active (docs/uplinks.md): paths > 1 gives the site uplinks wan0,
    // wan1, ... and active_active, and says `paths` in its member entry.
    uint8_t paths = 1;
};

class World {
public:
    World();
    Group group;  // template: name, subnet, table, transport, ... (members filled per site)
    std::vector<SiteSpec> sites;
    std::vector<IpsecTunnel> ipsec;  // given to every site's Intent
    // Hubs that died. Only the sites that peer with one notice (every other
    // hub, the spokes that list it): inputs_for() puts it in their
    // PlanInputs.dead_peers and in nobody else's.
    std::vector<std::string> dead_hubs;
    // Direct spoke-to-spoke shortcuts, (one spoke, the other) with the first
    // the smaller name: both ends have it in their PlanInputs.shortcuts, as
    // avpnd's keepers agree after one handshake (docs/shortcuts.md).
    std::map<std::pair<std::string, std::string>, ShortcutState> shortcuts;

    SiteSpec& hub(const std::string& name, std::vector<Prefix> exports = {});
    SiteSpec& spoke(const std::string& name, std::vector<std::string> hubs,
                    std::vector<Prefix> exports = {});
    SiteSpec& site(const std::string& name);

    Intent intent_for(const std::string& name) const;
    // Uplink "wan0" carries the site's contact address, when it has one;
    // the dead hubs this site peers with.
    PlanInputs inputs_for(const std::string& name) const;
    PlanOutcome plan_for(const std::string& name) const;
    // Whether `name` peers with hub `hub` (and so would notice it die).
    bool peers_with_hub(const std::string& name, const std::string& hub) const;
};

// hubs sanjose, sf, tokyo; spokes london [sanjose, sf], paris [sf],
// rome [tokyo, sf]; every site exports something distinct.
World three_hubs_three_spokes();

// A hub with `spokes` spoke members, each exporting `vlans` /24s (the bench
// shape); spoke names are "s<i>".
World hub_and_spokes(size_t spokes, size_t vlans, Transport transport);

std::string public_key_of(const std::string& site);

}  // namespace avpn::test
