#include "orchestrator/cli/control_client.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "orchestrator/control/frame.hpp"

namespace avpn::cli {

namespace {

constexpr int kConnectSeconds = 5;
constexpr int kSendMs = 5000;

report::Printed fail(std::string_view command, const std::string& what, int exit) {
    return report::Printed{"", "avpnctl " + std::string(command) + ": " + what + "\n", exit};
}

}  // namespace

DaemonConnection::DaemonConnection(const std::string& socket, std::string_view command)
    : socket_(socket), command_(command) {
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    if (socket.empty() || socket.size() >= sizeof a.sun_path) {
        failure_ = fail(command, socket + ": not a usable unix socket path", report::kUsage);
        return;
    }
    std::memcpy(a.sun_path, socket.data(), socket.size());
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) {
        failure_ = fail(command, std::string("socket: ") + std::strerror(errno), report::kFailed);
        return;
    }
    timeval tv{kConnectSeconds, 0};  // a unix connect waits on a full backlog for SO_SNDTIMEO
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (::connect(fd_, reinterpret_cast<const sockaddr*>(&a), sizeof a) == 0) {
        state_ = State::connected;
        return;
    }
    int err = errno;
    if (err == ENOENT || err == ECONNREFUSED) {
        state_ = State::no_daemon;  // no socket, or a stale one nobody listens on
    } else if (err == EACCES || err == EPERM) {
        failure_ = fail(command,
                        socket + ": permission denied: only root and members of avpnd's --control-group may use it",
                        report::kRefused);
    } else if (err == EAGAIN || err == ETIMEDOUT) {
        failure_ = fail(command, socket + ": avpnd accepts no connection (its queue stayed full for " +
                                     std::to_string(kConnectSeconds) + " s)", report::kNoAnswer);
    } else {
        failure_ = fail(command, socket + ": " + std::strerror(err), report::kFailed);
    }
}

DaemonConnection::~DaemonConnection() {
    if (fd_ >= 0) ::close(fd_);
}

report::Printed DaemonConnection::ask(const control::Request& r) {
    Status sent = control::write_frame(fd_, control::encode(r), kSendMs);
    // avpnd may have answered and closed before reading (a refused peer):
    // its answer is still there to read.
    int wait_ms = sent ? kReplyTimeoutSeconds * 1000 : 1000;
    auto frame = control::read_frame(fd_, control::kMaxReplyBytes, wait_ms);
    if (!sent && !frame)
        return fail(command_, "sending to avpnd at " + socket_ + ": " + sent.error().str(), report::kNoAnswer);
    if (!frame) {
        if (frame.error().code == ETIMEDOUT)
            return fail(command_,
                        "avpnd at " + socket_ + " did not answer within " + std::to_string(kReplyTimeoutSeconds) +
                            " s; if it had not begun this request it drops it; `avpnctl status` shows what it did",
                        report::kNoAnswer);
        return fail(command_, "avpnd at " + socket_ + " gave no answer: " + frame.error().str(), report::kNoAnswer);
    }
    auto reply = control::decode_reply(*frame);
    if (!reply) return fail(command_, "avpnd's answer is not understood: " + reply.error().str(), report::kNoAnswer);
    return report::Printed{std::move(reply->out), std::move(reply->err), reply->exit};
}

report::Printed needs_avpnd(std::string_view command, const std::string& socket, std::string_view what_for) {
    return fail(command, std::string(what_for) + " needs avpnd, and none answers on " + socket, report::kNoDaemon);
}

report::Printed needs_avpnd(std::string_view command, const std::string& socket, const Errors& settings) {
    report::Printed p{"", "", report::kNoDaemon};
    for (const Error& e : settings)
        p.err += "avpnctl " + std::string(command) + ": " + e.where + ": " + e.why +
                 "; start avpnd (systemctl start avpnd) and apply again\n";
    p.err += "avpnctl " + std::string(command) + ": no avpnd answers on " + socket + "; nothing was changed\n";
    return p;
}

}  // namespace avpn::cli
