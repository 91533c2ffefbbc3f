// avpnctl's side of avpnd's control socket (protocol: orchestrator/control).
// apply, down, status, reload and confirm first try avpnd; when nobody
// answers (no socket file, or a stale one after avpnd was killed: connect is
// refused) the command runs as a one-shot instead, as it did before avpnd
// had a socket, or, for what needs a daemon, says so (exit 7).
#pragma once

#include <string>
#include <string_view>

#include "common/result.hpp"

#include "orchestrator/control/protocol.hpp"
#include "orchestrator/report/printed.hpp"

namespace avpn::cli {

// avpnctl waits this long for avpnd's answer: more than avpnd's longest
// request (an apply that settles IPsec for up to 120 s), also when it waits
// behind another client's. Then it gives up with exit 6; avpnd drops a
// request whose client stopped waiting before its turn came.
inline constexpr int kReplyTimeoutSeconds = 150;

class DaemonConnection {
public:
    enum class State { connected, no_daemon, failed };

    // Connects (bounded: a full backlog waits at most 5 s). `command` names
    // avpnctl's subcommand in messages.
    DaemonConnection(const std::string& socket, std::string_view command);
    ~DaemonConnection();
    DaemonConnection(const DaemonConnection&) = delete;
    DaemonConnection& operator=(const DaemonConnection&) = delete;

    State state() const { return state_; }
    const report::Printed& failure() const { return failure_; }  // state failed: why (exit 3, 5 or 6)

    // Sends the request and waits for avpnd's answer (its output and exit
    // code), or for kReplyTimeoutSeconds (exit 6).
    report::Printed ask(const control::Request& r);

private:
    std::string socket_, command_;
    int fd_ = -1;
    State state_ = State::failed;
    report::Printed failure_;
};

// The message of exit 7 for a command that needs avpnd.
report::Printed needs_avpnd(std::string_view command, const std::string& socket, std::string_view what_for);
// The same for settings of a site only avpnd acts on (runtime/load.hpp,
// LoadedSite::needs_daemon): one line each, with its place, before anything
// is touched.
report::Printed needs_avpnd(std::string_view command, const std::string& socket, const Errors& settings);

}  // namespace avpn::cli
