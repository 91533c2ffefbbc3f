// Commit-confirm (VyOS commit-confirm, netplan try): a configuration applied
// on trial, and what avpnd goes back to unless `avpnctl confirm` arrives
// before the deadline. The deadline is a timerfd (CLOCK_MONOTONIC, so a
// clock step cannot move it), readable once it has passed; avpnd polls it
// with the control socket.
//
// Only one trial at a time: a second apply while one is pending is refused
// (rolling back a chain of trials would leave the operator guessing which
// configuration comes back).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "common/result.hpp"
#include "orchestrator/runtime/config_snapshot.hpp"

namespace avpn::runtime {

struct PendingConfirm {
    int64_t deadline = 0;                   // unix time, for people
    std::string config;                     // the file applied on trial
    std::optional<ConfigSnapshot> previous; // what comes back; nullopt: nothing was applied
};

class CommitConfirm {
public:
    static Result<CommitConfirm> create();
    CommitConfirm(CommitConfirm&& o) noexcept : fd_(o.fd_), pending_(std::move(o.pending_)) { o.fd_ = -1; }
    CommitConfirm(const CommitConfirm&) = delete;
    CommitConfirm& operator=(const CommitConfirm&) = delete;
    ~CommitConfirm();

    int fd() const { return fd_; }  // readable once the deadline has passed
    const PendingConfirm* pending() const { return pending_ ? &*pending_ : nullptr; }

    void arm(std::chrono::seconds within, std::string config, std::optional<ConfigSnapshot> previous);
    // The pending trial, no longer pending (confirm, or down).
    std::optional<PendingConfirm> cancel();
    // The pending trial if its deadline has passed (it is then no longer pending).
    std::optional<PendingConfirm> take_due();

private:
    explicit CommitConfirm(int fd) : fd_(fd) {}
    int fd_ = -1;
    std::optional<PendingConfirm> pending_;
};

}  // namespace avpn::runtime
