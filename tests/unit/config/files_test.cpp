// Real files: secret permissions, secrets never printed, relative paths,
// and every shipped example.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "fixture.hpp"

using namespace avpn;
using namespace avpn::test;
namespace fs = std::filesystem;

namespace {

// A fresh directory under the system temp dir, removed afterwards.
class TempDir {
public:
    TempDir() {
        std::string tmpl = (fs::temp_directory_path() / "avpn-config-test-XXXXXX").string();
        REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
        path_ = tmpl;
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    std::string write(const std::string& name, const std::string& text, mode_t mode) const {
        std::string p = (path_ / name).string();
        fs::create_directories(fs::path(p).parent_path());
        std::ofstream(p) << text;
        REQUIRE(::chmod(p.c_str(), mode) == 0);
        return p;
    }
    std::string str() const { return path_.string(); }

private:
    fs::path path_;
};

std::string source_dir() {
    const char* dir = std::getenv("AVPN_SOURCE_DIR");
    REQUIRE_MESSAGE(dir, "AVPN_SOURCE_DIR is set by CTest");
    return dir;
}

const std::string kVlanAndGroup =
    "[[vlan]]\nname = \"Corp\"\nsubnet = \"10.30.20.0/24\"\nshareable = true\n"
    "[autovpn]\ngroup = \"corp\"\nregistries = [{ endpoint = \"192.0.2.1\", public_key = \"" + avpn::test::pub(7) + "\" }, { endpoint = \"192.0.2.2\", public_key = \"" + avpn::test::pub(8) + "\" }]\ngroup_key_file = \"group.key\"\n";

}  // namespace

TEST_CASE("a key file readable by others is refused, naming file, mode and fix") {
    TempDir dir;
    std::string key = dir.write("london.key", std::string(kSiteKey) + "\n", 0644);
    std::string site = dir.write("site.toml", kHub, 0644);
    auto r = load_site(site);
    expect_error(r, "site.key_file", site + ":5:12", {key, "mode 0644", "chmod 600 " + key});
    CHECK(all_diagnostics(r).find(kSiteKey) == std::string::npos);
}

TEST_CASE("a key file with mode 0600 is used; only its public key is kept") {
    TempDir dir;
    dir.write("london.key", std::string(kSiteKey) + "\n", 0600);
    auto r = load_site(dir.write("site.toml", kHub, 0644));
    expect_ok(r);
    CHECK(r.intent->site.public_key == kSitePub);
    CHECK(r.intent->site.key_file == dir.str() + "/london.key");
}

TEST_CASE("PSK and group key files with group or other access are refused") {
    TempDir dir;
    dir.write("london.key", kSiteKey, 0600);
    std::string group_key = dir.write("group.key", "c2VjcmV0IGdyb3VwIGtleSBvZiBleGFjdGx5IDMyIGI=\n", 0640);
    std::string psk = dir.write("t.psk", "PSK-TEXT-NEVER-SHOWN\n", 0604);
    std::string site = dir.write("site.toml",
                                 kHub + kVlanAndGroup +
                                     "[[ipsec]]\nname = \"t\"\nremote = \"192.0.2.7\"\npsk_file = \"t.psk\"\n"
                                     "remote_networks = [\"172.31.0.0/16\"]\nlocal_vlans = [\"Corp\"]\n",
                                 0644);
    auto r = load_site(site);
    expect_error(r, "autovpn.group_key_file", site + ":13:18", {"mode 0640", "chmod 600"});
    expect_error(r, "ipsec[0].psk_file", site + ":17:12", {"mode 0604", "chmod 600 " + psk});
    std::string all = all_diagnostics(r);
    CHECK(all.find("PSK-TEXT") == std::string::npos);
    CHECK(all.find("c2VjcmV0") == std::string::npos);
}

TEST_CASE("secret contents never appear, not even in an error about bad content") {
    TempDir dir;
    dir.write("london.key", "this-is-not-a-key-but-SECRET-material\n", 0600);
    dir.write("group.key", "ALSO-SECRET-group-material\n", 0600);
    auto r = load_site(dir.write("site.toml", kHub + kVlanAndGroup, 0644));
    const std::string all = all_diagnostics(r);
    CHECK(r.errors.size() == 2);
    CHECK(all.find("does not hold a base64 X25519 private key") != std::string::npos);
    CHECK(all.find("does not hold a base64 32-byte key") != std::string::npos);
    CHECK(all.find("SECRET") == std::string::npos);
}

TEST_CASE("secrets must be regular files") {
    TempDir dir;
    fs::create_directory(dir.str() + "/london.key");
    auto r = load_site(dir.write("site.toml", kHub, 0644));
    expect_error(r, "site.key_file", dir.str() + "/site.toml:5:12", {"is not a regular file"});
}

TEST_CASE("a site file that cannot be read is one error naming it") {
    auto r = load_site("/nonexistent/avpn/site.toml");
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0].where == "/nonexistent/avpn/site.toml");
    CHECK(r.errors[0].why.find("No such file") != std::string::npos);
}

TEST_CASE("relative paths resolve against the site file's directory, not the working directory") {
    TempDir dir;
    dir.write("etc/keys/london.key", kSiteKey, 0600);
    dir.write("etc/corp.toml", "[[member]]\nname = \"hq\"\nrole = \"hub\"\npublic_key = \"" + pub(1) + "\"\n", 0644);
    std::string site = dir.write("etc/sites/london.toml",
                                 "[site]\nname = \"london\"\nrole = \"hub\"\nuplinks = [\"wan0\"]\nkey_file = \"../keys/london.key\"\n"
                                 "[autovpn]\ngroup = \"corp\"\nmembers = \"../corp.toml\"\n",
                                 0644);
    auto r = load_site(site);
    expect_ok(r);
    CHECK(r.intent->groups[0].members_file == dir.str() + "/etc/sites/../corp.toml");
    // Files are read through the path as given; diagnostics name it normalised.
    CHECK(r.intent->groups[0].members.at(0).loc.file == dir.str() + "/etc/corp.toml");
}

TEST_CASE("paths are normalised lexically, relative ones staying relative") {
    using config::normal_path;
    CHECK(normal_path("sites/../members.toml") == "members.toml");
    CHECK(normal_path("examples/acme/sites/../corp-members.toml") == "examples/acme/corp-members.toml");
    CHECK(normal_path("./a//b/./c") == "a/b/c");
    CHECK(normal_path("../keys/x.key") == "../keys/x.key");
    CHECK(normal_path("a/../../x") == "../x");
    CHECK(normal_path("../../a/../b") == "../../b");
    CHECK(normal_path("/etc/avpn/../x") == "/etc/x");
    CHECK(normal_path("/../x") == "/x");
    CHECK(normal_path("a/..") == ".");
    CHECK(normal_path("/") == "/");
}

TEST_CASE("diagnostics name files reached through .. by their normalised paths") {
    TempDir dir;
    dir.write("etc/keys/london.key", kSiteKey, 0644);  // too open
    dir.write("etc/corp.toml", "[[member]]\nname = \"hq\"\nrole = \"boss\"\npublic_key = \"" + pub(1) + "\"\n", 0644);
    std::string site = dir.write("etc/sites/london.toml",
                                 "[site]\nname = \"london\"\nrole = \"hub\"\nuplinks = [\"wan0\"]\nkey_file = \"../keys/london.key\"\n"
                                 "[[autovpn]]\ngroup = \"corp\"\nmembers = \"../corp.toml\"\n"
                                 "[[autovpn]]\ngroup = \"lab\"\nmembers = \"../missing.toml\"\ntunnel_subnet = \"10.9.0.0/24\"\n",
                                 0644);
    auto r = load_site(dir.str() + "/etc/sites/../sites/london.toml");
    const std::string etc = dir.str() + "/etc";
    expect_error(r, "site.key_file", etc + "/sites/london.toml:5:12",
                 {etc + "/keys/london.key has mode 0644", "`chmod 600 " + etc + "/keys/london.key`"});
    expect_error(r, "member[0].role", etc + "/corp.toml:3:8", {"\"boss\" is not one of"});
    expect_error(r, "autovpn[1].members", etc + "/sites/london.toml:11:11",
                 {"cannot open " + etc + "/missing.toml: No such file"});
    for (const Error& e : r.errors) {
        CAPTURE(format_diagnostic(e));
        CHECK(format_diagnostic(e).find("..") == std::string::npos);
    }
}

TEST_CASE("every example loads with zero errors and zero warnings") {
    const std::string root = source_dir();
    REQUIRE(std::system(("'" + root + "/examples/fix-permissions'").c_str()) == 0);
    int loaded = 0;
    for (const auto& org : fs::directory_iterator(root + "/examples")) {
        if (!fs::is_directory(org.path() / "sites")) continue;
        for (const auto& f : fs::directory_iterator(org.path() / "sites")) {
            if (f.path().extension() != ".toml") continue;
            CAPTURE(f.path().string());
            auto r = load_site(f.path().string());
            INFO(all_diagnostics(r));
            CHECK(r.ok());
            CHECK(r.warnings.empty());
            ++loaded;
        }
    }
    CHECK(loaded >= 8);  // acme: 5 sites, mesh: 3
}

TEST_CASE("acme example: what the sites say") {
    const std::string root = source_dir();
    REQUIRE(std::system(("'" + root + "/examples/fix-permissions'").c_str()) == 0);
    auto london = load_site(root + "/examples/acme/sites/london.toml");
    expect_ok(london);
    CHECK(london.intent->vlans.size() == 10);
    CHECK(london.intent->groups[0].members.size() == 4);  // itself excluded
    CHECK(london.intent->groups[0].hubs.at(0).name == "sanjose");
    auto paris = load_site(root + "/examples/acme/sites/paris.toml");
    expect_ok(paris);
    CHECK(paris.intent->groups[0].hubs.at(0).default_route);
    auto sanjose = load_site(root + "/examples/acme/sites/sanjose.toml");
    expect_ok(sanjose);
    REQUIRE(sanjose.intent->ipsec.size() == 2);
    CHECK(sanjose.intent->ipsec[0].partner == IpsecPartner::aws);
    CHECK(sanjose.intent->ipsec[1].partner == IpsecPartner::azure);
    CHECK(sanjose.intent->ipsec[0].type == IpsecTunnelType::route);
}

TEST_CASE("a key file that is a symbolic link is refused, naming its target; no chmod through it is suggested") {
    // The link's target is someone else's file with mode 0600: followed, its
    // content would be taken as the key; a mode hint would chmod the target.
    TempDir dir;
    std::string target = dir.write("elsewhere/other.key", std::string(kSiteKey) + "\n", 0600);
    std::string link = dir.str() + "/london.key";
    REQUIRE(::symlink(target.c_str(), link.c_str()) == 0);
    std::string site = dir.write("site.toml", kHub, 0644);
    auto r = load_site(site);
    expect_error(r, "site.key_file", site + ":5:12", {link + " is a symbolic link (to " + target + ")", "never through a link"});
    CHECK(all_diagnostics(r).find("chmod") == std::string::npos);
    CHECK(all_diagnostics(r).find(kSiteKey) == std::string::npos);
}
