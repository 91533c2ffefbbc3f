#include "wg_test_util.hpp"

#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <stdexcept>

namespace avpn::wg::test {

KeyPair make_key_pair() {
    KeyPair kp;
    auto priv = crypto::generate_private_key();
    if (!priv) throw std::runtime_error(priv.error().str());
    kp.priv = *priv;
    auto pub = crypto::public_key(kp.priv);
    if (!pub) throw std::runtime_error(pub.error().str());
    kp.public_b64 = crypto::base64_encode(pub->data(), pub->size());
    return kp;
}

std::string random_public_key() { return make_key_pair().public_b64; }

Prefix pfx(const char* text) {
    auto p = Prefix::parse(text);
    if (!p) throw std::runtime_error(std::string("bad prefix in test: ") + text);
    return *p;
}

Endpoint ep(const char* text) {
    auto e = Endpoint::parse(text);
    if (!e) throw std::runtime_error(std::string("bad endpoint in test: ") + text);
    return *e;
}

nl::WgPeer peer(std::string key, std::vector<const char*> ips, const char* endpoint, uint16_t keepalive) {
    nl::WgPeer p;
    p.public_key = std::move(key);
    for (const char* ip : ips) p.allowed_ips.push_back(pfx(ip));
    if (endpoint) p.endpoint = ep(endpoint);
    p.keepalive_seconds = keepalive;
    return p;
}

TempDir::TempDir() {
    char tmpl[] = "/tmp/avpn-wg-test-XXXXXX";
    if (!mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
}

TempDir::~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
}

FakeUapiDaemon::FakeUapiDaemon(const std::string& dir, const std::string& ifname, Responder respond,
                               size_t read_limit)
    : respond_(std::move(respond)), read_limit_(read_limit) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::string path = dir + "/" + ifname + ".sock";
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    listen_fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listen_fd_ < 0 || bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        listen(listen_fd_, 8) != 0)
        throw std::runtime_error("fake UAPI daemon: cannot listen on " + path);
    thread_ = std::thread([this] { serve(); });
}

FakeUapiDaemon::~FakeUapiDaemon() {
    stop_ = true;
    thread_.join();
    close(listen_fd_);
}

std::string FakeUapiDaemon::last_request() const {
    std::lock_guard lock(mu_);
    return last_request_;
}

void FakeUapiDaemon::serve() {
    while (!stop_) {
        pollfd p{listen_fd_, POLLIN, 0};
        if (poll(&p, 1, 20) <= 0) continue;
        int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) continue;
        ++connections_;
        handle(fd);
        close(fd);
    }
}

void FakeUapiDaemon::handle(int fd) {
    std::string request;
    char buf[4096];
    while (request.find("\n\n") == std::string::npos && (read_limit_ == 0 || request.size() < read_limit_)) {
        size_t want = read_limit_ ? std::min(sizeof buf, read_limit_ - request.size()) : sizeof buf;
        ssize_t n = read(fd, buf, want);
        if (n <= 0) break;
        request.append(buf, static_cast<size_t>(n));
    }
    {
        std::lock_guard lock(mu_);
        last_request_ = request;
    }
    std::string response = respond_(request);
    if (response.empty()) {  // silent: hold the connection until told to stop
        while (!stop_) usleep(10'000);
        return;
    }
    // The client may have given up already; that must not kill the test.
    (void)!send(fd, response.data(), response.size(), MSG_NOSIGNAL);
}

}  // namespace avpn::wg::test
