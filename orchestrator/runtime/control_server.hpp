// avpnd's side of the control socket (docs/cli.md, "Control socket"): it
// serves avpnctl's apply, down, status, reload, confirm and rekey on the site it
// runs, and rolls back an apply whose confirm did not arrive in time.
//
// avpnd is single-threaded and so is this: fd() joins avpnd's poll set, and
// each handle() serves at most one connection to completion (read the
// request within 2 s, run it, write the reply within 10 s), so changes are
// serialised with each other and with avpnd's own converges. Clients queue
// in the listen backlog meanwhile; one that gives up waiting (avpnctl's own
// timeout, Ctrl-C) is noticed when its turn comes and its request dropped
// unrun. A due rollback goes before any waiting client.
#pragma once

#include <memory>
#include <optional>

#include "orchestrator/control/protocol.hpp"
#include "orchestrator/report/printed.hpp"
#include "orchestrator/runtime/commit_confirm.hpp"
#include "orchestrator/runtime/control_socket.hpp"
#include "orchestrator/runtime/site.hpp"
#include "orchestrator/runtime/status.hpp"

namespace avpn::runtime {

class ControlServer {
public:
    static Result<std::unique_ptr<ControlServer>> open(const ControlSocketOptions& o, Log log);
    ~ControlServer();
    ControlServer(const ControlServer&) = delete;
    ControlServer& operator=(const ControlServer&) = delete;

    // Readable when a client is waiting or a confirm deadline has passed
    // (an epoll set of the listening socket and the deadline's timerfd).
    int fd() const { return epoll_fd_; }
    // True when it changed the site (apply, down, reload, a rollback).
    bool handle(Site& site);

private:
    ControlServer(std::unique_ptr<ControlSocket> socket, CommitConfirm confirm, int epoll_fd, Log log);

    bool serve_connection(int fd, const Peer& peer, Site& site);  // true: it changed the site
    bool roll_back(Site& site);
    DaemonFacts facts(const Site& site) const;
    void add_sa_counters(const Site& site, std::vector<DaemonFacts::XfrmPeer>& peers) const;

    // One command each (control_requests.cpp).
    report::Printed run(const control::Request& r, Site& site);
    report::Printed apply(const control::Request& r, Site& site);
    report::Printed down(const control::Request& r, Site& site);
    report::Printed status(const control::Request& r, Site& site);
    report::Printed reload(const control::Request& r, Site& site);
    report::Printed confirm();

    std::unique_ptr<ControlSocket> socket_;
    CommitConfirm confirm_;
    int epoll_fd_ = -1;
    Log log_;
    std::optional<DaemonFacts::Rollback> last_rollback_;
};

}  // namespace avpn::runtime
