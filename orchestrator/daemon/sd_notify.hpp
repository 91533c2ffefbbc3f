// systemd's readiness protocol (sd_notify(3)), spoken directly: one datagram
// of newline-separated assignments ("READY=1\nSTATUS=...") to the unix socket
// named by $NOTIFY_SOCKET, an absolute path or an abstract name written with
// a leading '@'. The watchdog interval comes from $WATCHDOG_USEC, meant for
// this process only when $WATCHDOG_PID is unset or names it.
//
// Not libsystemd: the protocol is this file and a small .cpp, stable and
// documented (systemd.io/NOTIFY), and avpnd then works the same with or
// without systemd and needs no library a minimal router image may lack
// (docs/architecture.md, "systemd readiness").
#pragma once

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.hpp"

namespace avpn::daemon {

struct NotifyAddress {
    sockaddr_un addr{};
    socklen_t len = 0;  // the bytes of addr that count (abstract names are not NUL-terminated)
};

// $NOTIFY_SOCKET's value: "/run/systemd/notify" or "@name". Anything else
// (systemd's "vsock:" form for VMs, a relative path, too long) is an error.
Result<NotifyAddress> parse_notify_socket(std::string_view value);

// The interval systemd wants a WATCHDOG=1 within; nullopt when there is no
// watchdog for process `self` (unset, not a positive number, or WATCHDOG_PID
// names another process). Arguments are the variables' values or nullptr.
std::optional<std::chrono::microseconds> parse_watchdog(const char* usec, const char* pid, pid_t self);

// "MONOTONIC_USEC=<CLOCK_MONOTONIC in µs>", which systemd ≥ 253 wants next
// to RELOADING=1 to tell this reload from an earlier one.
std::string monotonic_usec_field();

class Notifier {
public:
    // Reads the three variables and unsets them, so the processes avpnd
    // starts (wireguard-go) do not talk to systemd in its name. Without
    // $NOTIFY_SOCKET the notifier is disabled and send() does nothing; a
    // $NOTIFY_SOCKET that cannot be used is an error (the caller logs it
    // and runs without notifying).
    static Result<Notifier> from_environment();

    // A socket for sending to `address` (tests point it at their own).
    static Result<Notifier> open(const NotifyAddress& address, std::optional<std::chrono::microseconds> watchdog);

    Notifier() = default;  // disabled
    Notifier(Notifier&& other) noexcept;
    Notifier& operator=(Notifier&& other) noexcept;
    Notifier(const Notifier&) = delete;
    Notifier& operator=(const Notifier&) = delete;
    ~Notifier();

    bool enabled() const { return fd_ >= 0; }
    std::optional<std::chrono::microseconds> watchdog() const { return watchdog_; }

    // One datagram. Disabled: nothing, ok.
    Status send(std::string_view state) const;

private:
    int fd_ = -1;
    NotifyAddress address_;
    std::optional<std::chrono::microseconds> watchdog_;
};

}  // namespace avpn::daemon
