// avpnctl check FILE: load, validate and plan; exit 0 only when all is well.
#include <iostream>
#include <memory>

#include "common/json.hpp"
#include "orchestrator/cli/command.hpp"
#include "orchestrator/cli/load.hpp"

namespace avpn::cli {

Handler setup_check(Options& sub) {
    auto file = std::make_shared<std::string>();
    auto json = std::make_shared<bool>(false);
    sub.positional("FILE", *file, "site configuration (site.toml)", Need::required);
    sub.flag("--json", *json, "report as JSON on stdout");
    return [file, json] {
        Loaded l = load_site_file(*file, runtime::LoadFor::check, *json);
        if (l.exit_code != kOk) return l.exit_code;
        const Intent& in = *l.intent;
        if (*json) {
            JsonWriter w;
            w.begin_object().field("file", *file).field("valid", true).field("site", in.site.name);
            w.field("groups", uint64_t(in.groups.size())).field("ipsec", uint64_t(in.ipsec.size()));
            w.end_object();
            std::cout << w.str();
        } else {
            std::cout << *file << ": ok (site " << in.site.name << ", " << to_string(in.site.role) << ", "
                      << in.groups.size() << (in.groups.size() == 1 ? " group, " : " groups, ")
                      << in.ipsec.size() << " IPsec tunnel" << (in.ipsec.size() == 1 ? "" : "s") << ")\n";
        }
        return int(kOk);
    };
}

}  // namespace avpn::cli
