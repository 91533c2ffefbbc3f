#include "orchestrator/runtime/commit_confirm.hpp"

#include <sys/timerfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

namespace avpn::runtime {

Result<CommitConfirm> CommitConfirm::create() {
    int fd = ::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (fd < 0) return Error{"timerfd", "commit-confirm", std::strerror(errno)};
    return CommitConfirm(fd);
}

CommitConfirm::~CommitConfirm() {
    if (fd_ >= 0) ::close(fd_);
}

void CommitConfirm::arm(std::chrono::seconds within, std::string config, std::optional<ConfigSnapshot> previous) {
    itimerspec t{};
    t.it_value.tv_sec = time_t(within.count());
    ::timerfd_settime(fd_, 0, &t, nullptr);
    pending_ = PendingConfirm{int64_t(std::time(nullptr)) + within.count(), std::move(config), std::move(previous)};
}

std::optional<PendingConfirm> CommitConfirm::cancel() {
    itimerspec off{};
    ::timerfd_settime(fd_, 0, &off, nullptr);  // also clears an expiry not read yet
    std::optional<PendingConfirm> p = std::move(pending_);
    pending_.reset();
    return p;
}

std::optional<PendingConfirm> CommitConfirm::take_due() {
    uint64_t expirations = 0;
    if (::read(fd_, &expirations, sizeof expirations) != ssize_t(sizeof expirations) || expirations == 0 || !pending_)
        return std::nullopt;
    return cancel();
}

}  // namespace avpn::runtime
