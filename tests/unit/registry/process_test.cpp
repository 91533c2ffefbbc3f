// The built avpn-registry, started as a process on loopback, driven by the
// sites' real client state machine over real UDP sockets: what a site sees
// (its observed contact, the group's contacts, pushes) and what the
// registry counts (forged, replayed, truncated) through its SIGUSR1 line.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <regex>

#include "orchestrator/registry/udp_socket.hpp"
#include "plugins/registry/client.hpp"

using namespace avpn;
using namespace avpn::registry;
using namespace std::chrono_literals;

namespace {

std::string b64(const Key32& k) { return crypto::base64_encode(k.data(), 32); }

struct TempDir {
    std::string path;
    TempDir() {
        char t[] = "/tmp/avpn-registry-test.XXXXXX";
        REQUIRE(mkdtemp(t));
        path = t;
    }
    ~TempDir() { (void)std::system(("rm -rf " + path).c_str()); }
    std::string write(const std::string& name, const std::string& text, mode_t mode = 0600) {
        std::string p = path + "/" + name;
        std::ofstream(p) << text;
        chmod(p.c_str(), mode);
        return p;
    }
};

// The registry process: stderr read line by line.
struct Registry {
    pid_t pid = -1;
    int err = -1;
    std::string buffered;

    static Registry start(const std::vector<std::string>& args) {
        const char* bin_dir = std::getenv("AVPN_BINARY_DIR");
        REQUIRE_MESSAGE(bin_dir, "AVPN_BINARY_DIR is not set (run through ctest)");
        const std::string bin = std::string(bin_dir) + "/bin/avpn-registry";
        int p[2];
        REQUIRE(pipe2(p, O_CLOEXEC) == 0);
        Registry r;
        r.pid = fork();
        REQUIRE(r.pid >= 0);
        if (r.pid == 0) {
            dup2(p[1], 2);
            std::vector<char*> argv{const_cast<char*>(bin.c_str())};
            for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
            argv.push_back(nullptr);
            execv(bin.c_str(), argv.data());
            _exit(127);
        }
        close(p[1]);
        r.err = p[0];
        return r;
    }
    // The next stderr line, waiting up to `timeout`.
    std::optional<std::string> line(std::chrono::milliseconds timeout = 5000ms) {
        const auto end = Clock::now() + timeout;
        for (;;) {
            if (auto nl = buffered.find('\n'); nl != std::string::npos) {
                std::string l = buffered.substr(0, nl);
                buffered.erase(0, nl + 1);
                return l;
            }
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - Clock::now()).count();
            if (left <= 0) return std::nullopt;
            pollfd f{err, POLLIN, 0};
            if (poll(&f, 1, int(left)) <= 0) continue;
            char buf[4096];
            ssize_t n = read(err, buf, sizeof buf);
            if (n <= 0) return std::nullopt;
            buffered.append(buf, size_t(n));
        }
    }
    std::map<std::string, uint64_t> stats() {
        kill(pid, SIGUSR1);
        for (;;) {
            auto l = line();
            REQUIRE_MESSAGE(l, "no stats line after SIGUSR1");
            if (l->rfind("registry: ", 0) != 0) continue;
            std::map<std::string, uint64_t> out;
            std::regex kv("([a-z_0-9]+)=([0-9]+)");
            for (std::sregex_iterator it(l->begin(), l->end(), kv), e; it != e; ++it)
                out[(*it)[1]] = std::stoull((*it)[2]);
            return out;
        }
    }
    int stop() {
        kill(pid, SIGTERM);
        int status = 0;
        waitpid(pid, &status, 0);
        pid = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    ~Registry() {
        if (pid > 0) kill(pid, SIGKILL), waitpid(pid, nullptr, 0);
        if (err >= 0) close(err);
    }
};

struct Fixture {
    TempDir dir;
    Key32 registry_key = *crypto::generate_private_key();
    Key32 group_key = *crypto::generate_private_key();
    std::vector<Key32> site_keys;
    std::vector<std::string> args;

    Fixture() {
        for (int i = 0; i < 3; ++i) site_keys.push_back(*crypto::generate_private_key());
        std::string members = "[group]\nname = \"corp\"\n\n[[member]]\nname = \"hq\"\nrole = \"hub\"\npublic_key = \"" +
                              b64(pub(0)) + "\"\nexports = [\"10.1.0.0/16\"]\n";
        for (int i = 1; i < 3; ++i)
            members += "\n[[member]]\nname = \"s" + std::to_string(i) + "\"\nrole = \"spoke\"\npublic_key = \"" +
                       b64(pub(i)) + "\"\nhubs = [\"hq\"]\nexports = [\"10." + std::to_string(10 + i) + ".0.0/16\"]\n";
        args = {"--listen", "127.0.0.1:0", "--key", dir.write("registry.key", b64(registry_key) + "\n"),
                "--members", dir.write("corp-members.toml", members, 0644),
                "--group-key", "corp=" + dir.write("corp-group.key", b64(group_key) + "\n")};
    }
    Key32 pub(int i) const { return *crypto::public_key(site_keys[size_t(i)]); }
    Key32 registry_public() const { return *crypto::public_key(registry_key); }
};

struct RealSite {
    UdpSocket socket;
    Client client;
    Endpoint registry;
    static RealSite make(const Fixture& f, int i, Endpoint registry, std::optional<Key32> registry_public = {}) {
        ClientConfig c;
        c.site_private = f.site_keys[size_t(i)];
        c.registry_public = registry_public ? *registry_public : f.registry_public();
        c.group = "corp";
        c.psk = f.group_key;
        c.local = {*Endpoint::parse("192.168.1." + std::to_string(10 + i) + ":51820")};
        c.seed = uint32_t(i + 1);
        auto s = UdpSocket::bind(Endpoint{IpAddr::v4(0x7f000001), 0});  // any free port
        REQUIRE_MESSAGE(s, s.error().str());
        auto cl = Client::create(c);
        REQUIRE(cl);
        return RealSite{std::move(*s), std::move(*cl), registry};
    }
    void send(const std::vector<Bytes>& out) {
        for (const Bytes& b : out) REQUIRE(socket.send(registry, b));
    }
    // Ticks and reads for `d`, answering as the client says.
    void run(std::chrono::milliseconds d) {
        const auto end = Clock::now() + d;
        while (Clock::now() < end) {
            auto out = client.tick(Clock::now(), keying::tai64n_now());
            REQUIRE(out);
            send(*out);
            pollfd f{socket.fd(), POLLIN, 0};
            poll(&f, 1, 20);
            while (auto got = socket.receive()) {
                if (!*got) break;
                if ((*got)->from != registry) {  // the filtering probe, from the registry's alternate
                    client.try_probe((*got)->bytes);
                    continue;
                }
                auto back = client.on_datagram((*got)->bytes, Clock::now());
                if (back) send(*back);
            }
        }
    }
};

Endpoint listening_on(Registry& r) {
    auto l = r.line();
    REQUIRE_MESSAGE(l, "avpn-registry printed nothing");
    std::smatch m;
    REQUIRE_MESSAGE(std::regex_search(*l, m, std::regex("listening on ([0-9.]+:[0-9]+)")), *l);
    return *Endpoint::parse(m[1].str());
}

}  // namespace

TEST_CASE("avpn-registry serves registrations, contacts and pushes over UDP, and counts what it rejects") {
    Fixture f;
    Registry reg = Registry::start(f.args);
    const Endpoint at = listening_on(reg);

    RealSite hub = RealSite::make(f, 0, at);
    RealSite spoke = RealSite::make(f, 1, at);
    spoke.client.want({f.pub(0), f.pub(2)});
    spoke.run(300ms);
    REQUIRE(spoke.client.has_session());
    REQUIRE(spoke.client.observed());
    CHECK(*spoke.client.observed() == spoke.socket.local());  // no NAT on loopback: the socket's own address
    CHECK(spoke.client.contacts().at(f.pub(0)).state == ContactState::not_registered);

    hub.run(300ms);
    REQUIRE(hub.client.observed());
    spoke.run(200ms);  // the push
    const ContactEntry& e = spoke.client.contacts().at(f.pub(0));
    REQUIRE(e.state == ContactState::registered);
    CHECK(*e.observed == hub.socket.local());
    CHECK(*e.local == *Endpoint::parse("192.168.1.10:51820"));

    auto s = reg.stats();
    CHECK(s["registered"] == 2);
    CHECK(s["handshakes"] == 2);
    CHECK(s["pushes"] == 1);
    CHECK(s["queries"] >= 1);

    // Rejections, each counted: a forged initiation (another registry's key),
    // a replayed registration, a truncated one, junk.
    RealSite stranger = RealSite::make(f, 2, at, *crypto::public_key(*crypto::generate_private_key()));
    stranger.run(100ms);
    CHECK_FALSE(stranger.client.has_session());
    auto keepalive = spoke.client.tick(Clock::now() + 20s, keying::tai64n_now());  // a registration, sealed
    REQUIRE(keepalive);
    REQUIRE(!keepalive->empty());
    const Bytes reg_msg = keepalive->back();
    spoke.send({reg_msg});
    stranger.send({reg_msg});  // the same bytes again, from another address
    stranger.send({Bytes(reg_msg.begin(), reg_msg.begin() + 30)});  // shorter than any transport message
    auto later = spoke.client.tick(Clock::now() + 40s, keying::tai64n_now());  // a fresh counter
    REQUIRE(later);
    REQUIRE(!later->empty());
    stranger.send({Bytes(later->back().begin(), later->back().end() - 1)});  // cut: its tag fails
    stranger.send({Bytes{0, 0, 0, 0, 0x13, 'a', 'v', 'p', 1, 2, 3}});
    stranger.send({Bytes{1, 2, 3, 4, 5, 6, 7, 8, 9}});
    spoke.run(100ms);
    auto t = reg.stats();
    CHECK(t["mac1_invalid"] >= 1);
    CHECK(t["replayed"] == 1);
    CHECK(t["malformed"] == 3);
    CHECK(t["bad_tag"] == 1);
    CHECK(t["registered"] == 2);
    CHECK(*spoke.client.observed() == spoke.socket.local());  // the replay did not move it
    CHECK(reg.stop() == 0);
}

TEST_CASE("avpn-registry --alternate probes a site's contact from its second socket") {
    Fixture f;
    std::vector<std::string> args = f.args;
    args.insert(args.end(), {"--alternate", "127.0.0.1:0"});
    Registry reg = Registry::start(args);
    auto l = reg.line();
    REQUIRE(l);
    std::smatch m;
    REQUIRE_MESSAGE(std::regex_search(*l, m, std::regex("listening on ([0-9.]+:[0-9]+).*filtering probes from ([0-9.]+:[0-9]+)")), *l);
    const Endpoint at = *Endpoint::parse(m[1].str()), alternate = *Endpoint::parse(m[2].str());
    CHECK(alternate != at);
    RealSite site = RealSite::make(f, 1, at);
    site.run(400ms);
    REQUIRE(site.client.has_session());
    // Loopback filters nothing: the probe from the other port gets in.
    CHECK(site.client.filtering() == Filtering::permissive);
    REQUIRE(site.client.alternate());
    CHECK(*site.client.alternate() == alternate);
    CHECK(reg.stats()["filter_tests"] == 1);
    CHECK(reg.stop() == 0);
}

TEST_CASE("avpn-registry refuses to start on a member list with errors, an open key file or unknown arguments") {
    Fixture f;
    auto run = [&](std::vector<std::string> args) {
        Registry r = Registry::start(args);
        std::string all;
        while (auto l = r.line(3000ms)) all += *l + "\n";
        int status = 0;
        waitpid(r.pid, &status, 0);
        r.pid = -1;
        return std::make_pair(WIFEXITED(status) ? WEXITSTATUS(status) : -1, all);
    };
    auto bad_list = f.dir.write("bad.toml", "[group]\nname = \"corp\"\n[[member]]\nname = \"x\"\nrole = \"hub\"\npublic_key = \"nope\"\n", 0644);
    auto [rc, text] = run({"--listen", "127.0.0.1:0", "--key", f.args[3], "--members", bad_list});
    CHECK(rc == 1);
    CHECK(text.find("bad.toml:6") != std::string::npos);
    CHECK(text.find("public_key") != std::string::npos);

    auto open_key = f.dir.write("open.key", b64(f.registry_key) + "\n", 0644);
    std::tie(rc, text) = run({"--listen", "127.0.0.1:0", "--key", open_key, "--members", f.args[5]});
    CHECK(rc == 1);
    CHECK(text.find("chmod 600") != std::string::npos);

    std::tie(rc, text) = run({"--key", f.args[3], "--members", f.args[5], "--group-key", "lab=" + f.args[7].substr(5)});
    CHECK(rc == 1);
    CHECK(text.find("no --members list is for group \"lab\"") != std::string::npos);

    std::tie(rc, text) = run({"--key", f.args[3], "--members", f.args[5], "--bogus"});
    CHECK(rc == 2);
    CHECK(text.find("--bogus") != std::string::npos);
}

// avpn-registry.service's way in: systemd copies the files named by its
// LoadCredential= lines into $CREDENTIALS_DIRECTORY (a directory loaded
// as ID gives ID_FILENAME), read-only and the service user's alone.
TEST_CASE("avpn-registry --credentials reads its key, member lists and group keys as systemd hands them over") {
    Fixture f;
    TempDir creds;
    std::ifstream members(f.args[5]);
    std::string text((std::istreambuf_iterator<char>(members)), std::istreambuf_iterator<char>());
    creds.write("registry.key", b64(f.registry_key) + "\n", 0400);
    creds.write("members_corp.toml", text, 0400);
    creds.write("group-key_corp.key", b64(f.group_key) + "\n", 0400);
    ::setenv("CREDENTIALS_DIRECTORY", creds.path.c_str(), 1);
    Registry reg = Registry::start({"--credentials", "--listen", "127.0.0.1:0"});
    ::unsetenv("CREDENTIALS_DIRECTORY");
    const Endpoint at = listening_on(reg);
    RealSite spoke = RealSite::make(f, 1, at);  // its handshake mixes in the group key
    spoke.run(300ms);
    REQUIRE(spoke.client.has_session());
    REQUIRE(spoke.client.observed());
    CHECK(*spoke.client.observed() == spoke.socket.local());
    CHECK(reg.stop() == 0);

    auto run = [&](const std::string& dir, std::vector<std::string> args) {
        if (!dir.empty()) ::setenv("CREDENTIALS_DIRECTORY", dir.c_str(), 1);
        Registry r = Registry::start(args);
        ::unsetenv("CREDENTIALS_DIRECTORY");
        std::string all;
        while (auto l = r.line(3000ms)) all += *l + "\n";
        int status = 0;
        waitpid(r.pid, &status, 0);
        r.pid = -1;
        return std::make_pair(WIFEXITED(status) ? WEXITSTATUS(status) : -1, all);
    };
    auto [rc, out] = run("", {"--credentials"});
    CHECK(rc == 2);
    CHECK_MESSAGE(out.find("$CREDENTIALS_DIRECTORY is not set") != std::string::npos, out);
    std::tie(rc, out) = run(creds.path, {"--credentials", "--key", f.args[3]});
    CHECK(rc == 2);
    CHECK_MESSAGE(out.find("give no --key, --members or --group-key") != std::string::npos, out);
    creds.write("stray.txt", "x", 0400);
    std::tie(rc, out) = run(creds.path, {"--credentials", "--listen", "127.0.0.1:0"});
    CHECK(rc == 1);
    CHECK_MESSAGE(out.find("stray.txt: not a credential avpn-registry reads") != std::string::npos, out);
    TempDir empty;
    std::tie(rc, out) = run(empty.path, {"--credentials", "--listen", "127.0.0.1:0"});
    CHECK(rc == 1);
    CHECK_MESSAGE(out.find("no registry.key") != std::string::npos, out);
}
