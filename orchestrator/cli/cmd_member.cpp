// avpnctl member FILE [--group G]: this site's entry for its group's member
// list, so the list is assembled from each site's own file, never hand-typed.
#include <algorithm>
#include <iostream>
#include <memory>

#include "common/json.hpp"
#include "orchestrator/cli/command.hpp"
#include "orchestrator/cli/load.hpp"
#include "orchestrator/exports.hpp"

namespace avpn::cli {

namespace {

std::string quoted_list(const std::vector<std::string>& items) {
    std::string s = "[";
    for (size_t i = 0; i < items.size(); ++i) s += (i ? ", " : "") + JsonWriter::quote(items[i]);
    return s + "]";
}

void print_member(std::ostream& o, const Intent& in, const Group& g) {
    std::vector<std::string> exports;
    for (const Prefix& p : site_exports(in, g)) exports.push_back(p.str());
    o << "# member entry of site " << in.site.name << " for group " << g.name << "\n"
      << "[[member]]\n"
      << "name = " << JsonWriter::quote(in.site.name) << "\n"
      << "role = \"" << to_string(in.site.role) << "\"\n"
      << "public_key = \"" << in.site.public_key << "\"\n"
      << "exports = " << quoted_list(exports) << "\n";
    if (!g.hubs.empty()) {
        // The short form (names only) unless some hub carries the default route.
        bool any_default = std::any_of(g.hubs.begin(), g.hubs.end(), [](const HubRef& h) { return h.default_route; });
        o << "hubs = [";
        for (size_t i = 0; i < g.hubs.size(); ++i) {
            o << (i ? ", " : "");
            if (any_default)
                o << "{ name = " << JsonWriter::quote(g.hubs[i].name)
                  << (g.hubs[i].default_route ? ", default_route = true" : "") << " }";
            else
                o << JsonWriter::quote(g.hubs[i].name);
        }
        o << "]\n";
    }
    if (!g.exit_hubs.empty()) o << "exit_hubs = " << quoted_list(g.exit_hubs) << "\n";
    // Active-active: the peers run a tunnel per uplink (docs/uplinks.md).
    if (in.site.active_active && in.site.uplinks.size() >= 2) o << "paths = " << in.site.uplinks.size() << "\n";
    if (in.site.nat.mode == NatMode::manual && in.site.nat.public_address) {
        Endpoint contact{*in.site.nat.public_address, g.public_port.value_or(g.listen_port)};
        o << "contact = \"" << contact.str() << "\"\n";
    }
    if (g.tunnel_address) o << "tunnel_address = \"" << g.tunnel_address->str() << "\"\n";
}

}  // namespace

Handler setup_member(Options& sub) {
    auto file = std::make_shared<std::string>();
    auto group = std::make_shared<std::string>();
    sub.positional("FILE", *file, "site configuration (site.toml)", Need::required);
    sub.option("--group", *group, "only this group (default: every group of the site)", Default::hidden);
    return [file, group] {
        Loaded l = load_site_file(*file, runtime::LoadFor::member, false);
        if (l.exit_code != kOk) return l.exit_code;
        bool printed = false;
        for (const Group& g : l.intent->groups) {
            if (!group->empty() && g.name != *group) continue;
            if (printed) std::cout << "\n";
            print_member(std::cout, *l.intent, g);
            printed = true;
        }
        if (!printed) {
            std::cerr << "avpnctl member: " << *file << ": "
                      << (group->empty() ? "the site is in no AutoVPN group" : "no group named " + *group) << "\n";
            return int(kInvalid);
        }
        return int(kOk);
    };
}

}  // namespace avpn::cli
