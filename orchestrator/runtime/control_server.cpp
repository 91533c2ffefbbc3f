#include "orchestrator/runtime/control_server.hpp"

#include <poll.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <tuple>

#include "orchestrator/control/frame.hpp"
#include "orchestrator/report/render_status.hpp"
#include "orchestrator/runtime/site_view.hpp"

namespace avpn::runtime {

namespace {

constexpr int kReadRequestMs = 2000;   // a request is a few hundred bytes, sent at once
constexpr int kWriteReplyMs = 10000;   // a large report to a slow reader

std::string who(const Peer& p) { return "pid " + std::to_string(p.pid) + " uid " + std::to_string(p.uid); }

// The client closed its end: it stopped waiting before its turn came.
bool hung_up(int fd) {
    pollfd p{fd, 0, 0};
    return ::poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLERR));
}

}  // namespace

Result<std::unique_ptr<ControlServer>> ControlServer::open(const ControlSocketOptions& o, Log log) {
    auto confirm = CommitConfirm::create();
    if (!confirm) return confirm.error();
    auto socket = ControlSocket::open(o);
    if (!socket) return socket.error();
    int ep = ::epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) return Error{"epoll", o.path, std::strerror(errno)};
    for (int fd : {(*socket)->fd(), confirm->fd()}) {
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.fd = fd;
        if (::epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
            Error e{"epoll", o.path, std::strerror(errno)};
            ::close(ep);
            return e;
        }
    }
    return std::unique_ptr<ControlServer>(
        new ControlServer(std::move(*socket), std::move(*confirm), ep, std::move(log)));
}

ControlServer::ControlServer(std::unique_ptr<ControlSocket> socket, CommitConfirm confirm, int epoll_fd, Log log)
    : socket_(std::move(socket)), confirm_(std::move(confirm)), epoll_fd_(epoll_fd), log_(std::move(log)) {}

ControlServer::~ControlServer() {
    if (epoll_fd_ >= 0) ::close(epoll_fd_);
}

bool ControlServer::handle(Site& site) {
    bool changed = confirm_.pending() && roll_back(site);  // does nothing before the deadline
    auto accepted = socket_->accept();
    if (!accepted) return log_("control: " + accepted.error().str()), changed;
    if (!*accepted) return changed;
    changed = serve_connection((*accepted)->fd, (*accepted)->peer, site) || changed;
    ::close((*accepted)->fd);
    return changed;
}

bool ControlServer::serve_connection(int fd, const Peer& peer, Site& site) {
    auto send = [&](const report::Printed& p) {
        std::string reply = control::encode(control::Reply{p.exit, p.out, p.err});
        if (Status s = control::write_frame(fd, reply, kWriteReplyMs); !s)
            log_("control: the reply to " + who(peer) + " was not delivered: " + s.error().str());
    };
    if (std::string why = socket_->refusal(peer); !why.empty()) {
        log_("control: refused " + who(peer) + " (not root, not in the control group)");
        return send(report::Printed{"", "avpnctl: " + why + "\n", report::kRefused}), false;
    }
    auto frame = control::read_frame(fd, control::kMaxRequestBytes, kReadRequestMs);
    if (!frame) {
        log_("control: no request from " + who(peer) + ": " + frame.error().str());
        if (frame.error().code == EMSGSIZE)
            send(report::Printed{"", "avpnctl: avpnd refused the request: " + frame.error().str() + "\n",
                                 report::kUsage});
        return false;
    }
    auto request = control::decode_request(*frame);
    if (!request) {
        log_("control: bad request from " + who(peer) + ": " + request.error().str());
        send(report::Printed{"", "avpnctl: avpnd refused the request: " + request.error().str() + "\n",
                             report::kUsage});
        return false;
    }
    std::string command(control::to_string(request->command));
    if (hung_up(fd))
        return log_("control: " + command + " from " + who(peer) + " dropped unrun: the client stopped waiting"), false;
    log_("control: " + command + " from " + who(peer));
    send(run(*request, site));
    return request->command != control::Command::status && request->command != control::Command::confirm &&
           request->command != control::Command::rekey;
}

bool ControlServer::roll_back(Site& site) {
    std::optional<PendingConfirm> due = confirm_.take_due();
    if (!due) return false;
    std::string previous = due->previous ? due->previous->path : "";
    log_("commit-confirm: " + due->config + " was not confirmed by " + report::clock_time(due->deadline) +
         ": rolling back to " + (previous.empty() ? "nothing applied" : previous));
    std::string line;
    bool ok = site.roll_back_to(due->previous, "commit-confirm rollback", line);
    log_(std::string("commit-confirm: rollback ") + (ok ? "done" : "FAILED") + ": " + line);
    last_rollback_ = DaemonFacts::Rollback{int64_t(std::time(nullptr)), due->config, previous, ok, line};
    return true;
}

// One dump of avpn's SAs per status request; a failed read leaves the
// counters out (null) and is logged, the rest of the status stands.
void ControlServer::add_sa_counters(const Site& site, std::vector<DaemonFacts::XfrmPeer>& peers) const {
    if (peers.empty()) return;
    auto counters = site.xfrm_sa_counters();
    if (!counters) return log_("status: SA counters: " + counters.error().str());
    for (DaemonFacts::XfrmPeer& p : peers) {
        auto it = counters->find({p.group, p.peer});
        p.sa = it == counters->end() ? SaCounters{} : it->second;
    }
}

DaemonFacts ControlServer::facts(const Site& site) const {
    DaemonFacts f;
    f.pid = ::getpid();
    f.config = site.options().config;
    f.idle = site.idle();
    if (const auto& c = site.last_converge()) f.last_converge = DaemonFacts::Converge{c->at, c->ok, c->line};
    if (const PendingConfirm* p = confirm_.pending())
        f.confirm = DaemonFacts::Pending{p->deadline, p->config, p->previous ? p->previous->path : ""};
    f.last_rollback = last_rollback_;
    for (const XfrmKeying::PeerStatus& s : site.keying_status())
        if (s.path == 0)  // a peer's further paths are in its peer row (site_view.cpp)
            f.xfrm.push_back({s.group, s.peer, s.up, s.epoch, s.handshake_age_s, s.next_rekey_in_s,
                          s.initiations_unanswered, s.problem});
    f.uplinks = site_uplinks(site);
    site_registries(site, f);
    f.events.assign(site.events().events().begin(), site.events().events().end());
    f.xfrm_rejected = site.keying_rejected();
    f.xfrm_last_rejected = site.keying_last_rejected();
    add_sa_counters(site, f.xfrm);
    std::sort(f.xfrm.begin(), f.xfrm.end(),
              [](const auto& a, const auto& b) { return std::tie(a.group, a.peer) < std::tie(b.group, b.peer); });
    return f;
}

}  // namespace avpn::runtime
