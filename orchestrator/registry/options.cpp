#include "orchestrator/registry/options.hpp"

#include <algorithm>
#include <filesystem>

#include "orchestrator/config/load.hpp"
#include "plugins/wireguard/keys.hpp"

namespace avpn::registry {

const char* const kUsage =
    "Usage: avpn-registry --key FILE --members FILE [options]\n"
    "avpn-registry: the registry of avpn's AutoVPN groups (docs/registry.md): sites register the\n"
    "contact it observes for them and learn the contacts of their group's members.\n\n"
    "  --listen ADDR[:PORT]      UDP address to serve on [0.0.0.0:9350]; [v6]:PORT for IPv6;\n"
    "                            port 0: any free port (it is logged)\n"
    "  --alternate ADDR:PORT     a second address (another of this host's, or another port) that\n"
    "                            sites' NAT filtering tests are probed from (docs/registry.md,\n"
    "                            \"Filtering\"); without it this registry cannot test filtering\n"
    "  --key FILE                the registry's X25519 private key (avpnctl genkey; mode 0600)\n"
    "  --members FILE            a group's member list (with its [group] name), repeatable\n"
    "  --group-key GROUP=FILE    the group key of GROUP (its sites' group_key_file), repeatable;\n"
    "                            a group without one uses none\n"
    "  --credentials             take the three above from systemd's credentials in\n"
    "                            $CREDENTIALS_DIRECTORY: registry.key, members_*.toml,\n"
    "                            group-key_GROUP.key (avpn-registry.service)\n"
    "  --help, --version\n\n"
    "Counters go to stderr on SIGUSR1 and at exit; SIGTERM/SIGINT stop it.\n";

namespace {
Error bad(const std::string& arg, std::string why) { return Error{"avpn-registry", arg, std::move(why)}; }
}  // namespace

Result<Options> parse_options(const std::vector<std::string>& args) {
    Options o;
    o.listen = *Endpoint::parse("0.0.0.0:9350");
    bool listen_set = false;
    // ADDR[:PORT] with port 0 allowed (the kernel chooses: the tests').
    auto endpoint = [](const std::string& value) {
        const bool any_port = value.size() > 2 && value.ends_with(":0");
        auto e = Endpoint::parse(any_port ? value.substr(0, value.size() - 2) : value, kDefaultPort);
        if (e && any_port) e->port = 0;
        return e;
    };
    for (size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        if (a == "--help" || a == "-h") {
            o.help = true;
            continue;
        }
        if (a == "--version") {
            o.version = true;
            continue;
        }
        if (a == "--credentials") {
            o.credentials = true;
            continue;
        }
        std::string name = a, value;
        if (auto eq = a.find('='); a.rfind("--", 0) == 0 && eq != std::string::npos && a.rfind("--group-key", 0) != 0) {
            name = a.substr(0, eq), value = a.substr(eq + 1);
        } else if (a == "--listen" || a == "--alternate" || a == "--key" || a == "--members" || a == "--group-key") {
            if (i + 1 >= args.size()) return bad(a, "needs a value");
            value = args[++i];
        } else if (a.rfind("--group-key=", 0) == 0) {
            name = "--group-key", value = a.substr(12);
        } else {
            return bad(a, "unknown argument (see --help)");
        }
        if (name == "--listen") {
            if (listen_set) return bad(name, "given twice");
            auto e = endpoint(value);
            if (!e) return bad(name, "'" + value + "' is not ADDR[:PORT] (IPv6: [ADDR]:PORT)");
            o.listen = *e;
            listen_set = true;
        } else if (name == "--alternate") {
            if (o.alternate) return bad(name, "given twice");
            auto e = endpoint(value);
            if (!e || value.find(':') == std::string::npos)
                return bad(name, "'" + value + "' is not ADDR:PORT (IPv6: [ADDR]:PORT)");
            o.alternate = *e;
        } else if (name == "--key") {
            if (!o.key_file.empty()) return bad(name, "given twice");
            o.key_file = value;
        } else if (name == "--members") {
            o.member_files.push_back(value);
        } else if (name == "--group-key") {
            auto eq = value.find('=');
            if (eq == std::string::npos || eq == 0 || eq + 1 == value.size())
                return bad(name, "'" + value + "' is not GROUP=FILE");
            o.group_keys.emplace_back(value.substr(0, eq), value.substr(eq + 1));
        } else {
            return bad(a, "unknown argument (see --help)");
        }
    }
    if (o.help || o.version) return o;
    if (o.alternate) {
        if (o.alternate->addr.family != o.listen.addr.family)
            return bad("--alternate", "must be of --listen's address family");
        if (*o.alternate == o.listen && o.listen.port != 0)
            return bad("--alternate", "must differ from --listen: the probe must come from an address the site "
                                      "never sent to");
    }
    if (o.credentials) {
        if (!o.key_file.empty() || !o.member_files.empty() || !o.group_keys.empty())
            return bad("--credentials", "takes the key, member lists and group keys from the credentials: give no "
                                        "--key, --members or --group-key beside it");
        return o;
    }
    if (o.key_file.empty()) return bad("--key", "required: the registry's private key file");
    if (o.member_files.empty()) return bad("--members", "required: at least one group's member list");
    return o;
}

Result<Options> options_from_credentials(Options o, const std::string& dir) {
    const std::string where = "--credentials (" + dir + ")";
    std::error_code ec;
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(dir, ec)) names.push_back(e.path().filename().string());
    if (ec) return Error{"avpn-registry", where, "cannot list the credentials directory: " + ec.message()};
    std::sort(names.begin(), names.end());  // member lists in a stable order
    const std::string members = "members_", group_key = "group-key_", key_suffix = ".key";
    for (const std::string& n : names) {
        const std::string path = dir + "/" + n;
        if (n == "registry.key") o.key_file = path;
        else if (n.starts_with(members) && n.ends_with(".toml")) o.member_files.push_back(path);
        else if (n.starts_with(group_key) && n.ends_with(key_suffix) &&
                 n.size() > group_key.size() + key_suffix.size())
            o.group_keys.emplace_back(n.substr(group_key.size(), n.size() - group_key.size() - key_suffix.size()), path);
        else
            return Error{"avpn-registry", where + "/" + n,
                         "not a credential avpn-registry reads (registry.key, members_*.toml, group-key_GROUP.key)"};
    }
    if (o.key_file.empty())
        return Error{"avpn-registry", where, "no registry.key: the unit loads it from /etc/avpn-registry/registry.key"};
    if (o.member_files.empty())
        return Error{"avpn-registry", where, "no members_*.toml: put the groups' member lists in /etc/avpn-registry/members/"};
    return o;
}

Result<ServerConfig> load_server_config(const Options& o) {
    ServerConfig c;
    auto key = wg::read_private_key_file(o.key_file);
    if (!key) return Error{"avpn-registry", "--key " + o.key_file, key.error().why};
    c.static_private = key->bytes();
    for (const std::string& file : o.member_files) {
        MemberListLoad list = load_member_list_file(file);
        if (!list.ok()) {
            std::string why;
            for (const Error& e : list.errors) why += (why.empty() ? "" : "\n") + format_diagnostic(e);
            return Error{"avpn-registry", "--members " + file, why};
        }
        for (const GroupMembers& g : c.groups)
            if (g.name == list.group)
                return Error{"avpn-registry", "--members " + file, "a second member list for group \"" + list.group + "\""};
        GroupMembers g;
        g.name = list.group;
        for (const Member& m : list.members) {
            if (m.role == Role::off) continue;  // an "off" member takes part in nothing
            g.members.push_back(*crypto::base64_decode_key(m.public_key));  // checked by the loader
        }
        c.groups.push_back(std::move(g));
    }
    for (const auto& [group, file] : o.group_keys) {
        auto it = std::find_if(c.groups.begin(), c.groups.end(), [&](const GroupMembers& g) { return g.name == group; });
        if (it == c.groups.end())
            return Error{"avpn-registry", "--group-key " + group, "no --members list is for group \"" + group + "\""};
        if (it->psk != Key32{}) return Error{"avpn-registry", "--group-key " + group, "given twice"};
        auto k = wg::read_private_key_file(file);
        if (!k) return Error{"avpn-registry", "--group-key " + group + "=" + file, k.error().why};
        it->psk = k->bytes();
    }
    return c;
}

}  // namespace avpn::registry
