#include "orchestrator/runtime/metrics_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace avpn::runtime {

namespace {

Error socket_error(const std::string& what, const Endpoint& at, int err) {
    return Error{what, "metrics " + at.str(), std::strerror(err), err};
}

}  // namespace

Result<std::unique_ptr<MetricsServer>> MetricsServer::open(const Endpoint& at, Render render) {
    sockaddr_storage ss{};
    socklen_t len = 0;
    const int family = at.addr.family == Family::v4 ? AF_INET : AF_INET6;
    if (family == AF_INET) {
        auto* a = reinterpret_cast<sockaddr_in*>(&ss);
        a->sin_family = AF_INET;
        a->sin_port = htons(at.port);
        std::memcpy(&a->sin_addr, at.addr.bytes.data(), 4);
        len = sizeof *a;
    } else {
        auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
        a->sin6_family = AF_INET6;
        a->sin6_port = htons(at.port);
        std::memcpy(&a->sin6_addr, at.addr.bytes.data(), 16);
        len = sizeof *a;
    }
    int fd = ::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return socket_error("open the metrics socket", at, errno);
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);  // a restart while old connections linger
    if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 || ::listen(fd, 16) != 0) {
        int err = errno;
        ::close(fd);
        return socket_error("listen for metrics scrapes", at, err);
    }
    return std::unique_ptr<MetricsServer>(new MetricsServer(at, fd, std::move(render)));
}

MetricsServer::~MetricsServer() {
    close_conn();
    if (listen_ >= 0) ::close(listen_);
}

short MetricsServer::events() const {
    if (conn_ < 0) return POLLIN;
    return writing_ ? POLLOUT : POLLIN;
}

std::optional<MetricsServer::Clock::time_point> MetricsServer::deadline() const {
    if (conn_ < 0) return std::nullopt;
    return conn_deadline_;
}

void MetricsServer::close_conn() {
    if (conn_ >= 0) ::close(conn_);
    conn_ = -1;
    request_.clear();
    response_.clear();
    written_ = 0;
    writing_ = false;
}

void MetricsServer::ready(Clock::time_point now) {
    if (conn_ >= 0 && now >= conn_deadline_) return close_conn();  // too slow: the next scraper's turn
    if (conn_ < 0) return accept(now);
    if (writing_) write();
    else read();
}

void MetricsServer::accept(Clock::time_point now) {
    int c = ::accept4(listen_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (c < 0) return;  // EAGAIN, or a connection that went away meanwhile
    conn_ = c;
    conn_deadline_ = now + kDeadline;
    read();  // the request is often there already
}

void MetricsServer::read() {
    char buf[2048];
    for (;;) {
        ssize_t n = ::recv(conn_, buf, sizeof buf, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;  // more later
        if (n <= 0) return close_conn();                                   // closed before asking
        request_.append(buf, size_t(n));
        if (request_.find("\r\n\r\n") != std::string::npos || request_.find("\n\n") != std::string::npos) break;
        if (request_.size() > kMaxRequest) return respond("431 Request Header Fields Too Large", "request too long\n", "text/plain");
    }
    const std::string line = request_.substr(0, request_.find_first_of("\r\n"));
    const size_t sp1 = line.find(' '), sp2 = line.find(' ', sp1 == std::string::npos ? 0 : sp1 + 1);
    const std::string method = line.substr(0, sp1);
    const std::string target = sp1 == std::string::npos ? "" : line.substr(sp1 + 1, sp2 - sp1 - 1);
    if (method != "GET") return respond("405 Method Not Allowed", "only GET\n", "text/plain");
    if (target != "/metrics" && target.rfind("/metrics?", 0) != 0) return respond("404 Not Found", "try /metrics\n", "text/plain");
    respond("200 OK", render_(), "text/plain; version=0.0.4; charset=utf-8");
}

void MetricsServer::respond(const char* status, const std::string& body, const char* type) {
    response_ = std::string("HTTP/1.1 ") + status + "\r\nContent-Type: " + type +
                "\r\nContent-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
    written_ = 0;
    writing_ = true;
    write();
}

void MetricsServer::write() {
    while (written_ < response_.size()) {
        ssize_t n = ::send(conn_, response_.data() + written_, response_.size() - written_, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;  // POLLOUT brings us back
        if (n <= 0) return close_conn();
        written_ += size_t(n);
    }
    close_conn();
}

}  // namespace avpn::runtime
