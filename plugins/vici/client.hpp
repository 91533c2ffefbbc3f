// A vici client: commands, streamed commands and events over charon's unix
// socket. One command is active at a time (the protocol has no sequence
// numbers); events of subscribed names that arrive in the middle of a
// command are queued, never lost (up to a bound, with a drop counter).
//
// Every call is bounded by the timeout, and by an overall deadline when one
// is set (set_deadline: one apply's or down's budget, so a charon that stops
// answering costs at most that, not the timeout once per call). A timed-out
// call closes the connection, because a late response would otherwise be
// taken for the next command's. Before each command the client notices a
// connection charon has closed (charon restarted) and reconnects,
// re-registering its subscriptions.
// Not thread-safe: one owner (the daemon's reconcile loop, or a CLI call).
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"
#include "plugins/vici/message.hpp"
#include "plugins/vici/packet.hpp"
#include "plugins/vici/unix_stream.hpp"

namespace avpn::vici {

inline constexpr std::string_view kDefaultSocket = "/var/run/charon.vici";

struct ClientOptions {
    std::string socket_path = std::string(kDefaultSocket);
    std::chrono::milliseconds timeout{10'000};  // per call
    size_t max_queued_events = 4096;
};

struct Event {
    std::string name;
    Section message;
};

class Client {
public:
    explicit Client(ClientOptions options = {});

    // One command, one response. A response saying success=no is still a
    // response (see check_success); errors are transport failures, timeouts,
    // CMD_UNKNOWN and malformed packets.
    Result<Section> call(std::string_view command, const Section& args = {});

    // A command whose results stream as `event` messages before the
    // response (list-sas/list-sa, list-conns/list-conn, initiate/control-log).
    // The event is registered for the call only (unless subscribed anyway).
    using ItemHandler = std::function<void(const Section&)>;
    Result<Section> call_streamed(std::string_view command, const Section& args, std::string_view event,
                                  const ItemHandler& on_item);

    // Persistent subscriptions, re-registered after every reconnect.
    Status subscribe(std::string_view event);
    Status unsubscribe(std::string_view event);

    // Where subscribed events go. Without a sink they are queued for
    // take_events(); with one, each is handed over as it arrives, also in the
    // middle of a command (so a burst of log events cannot overflow the
    // queue). The sink must not call back into the client.
    using EventSink = std::function<void(const Event&)>;
    void set_event_sink(EventSink sink) { sink_ = std::move(sink); }

    // Waits up to max_wait for events (returns early once some arrived),
    // never past the overall deadline.
    Status wait_events(std::chrono::milliseconds max_wait);
    std::vector<Event> take_events();
    size_t dropped_events() const { return dropped_; }

    // Until cleared (nullopt), no call waits past `until`: each call's
    // deadline is the earlier of its own timeout and this.
    void set_deadline(std::optional<Clock::time_point> until) { overall_ = until; }
    std::optional<Clock::time_point> overall_deadline() const { return overall_; }

    Status connect();
    void disconnect();
    bool connected() const { return stream_.is_open(); }
    const ClientOptions& options() const { return opts_; }

private:
    Status ensure_connected();
    Status drain_pending();
    Status send(const Packet& p, Clock::time_point deadline);
    Result<Packet> read_packet(Clock::time_point deadline);
    Result<Packet> await_reply(Clock::time_point deadline);
    Status event_request(PacketType type, std::string_view event, Clock::time_point deadline);
    Status on_packet_error(const Error& e);
    void deliver(Packet&& p);
    Clock::time_point deadline() const;

    ClientOptions opts_;
    std::optional<Clock::time_point> overall_;
    UnixStream stream_;
    FrameReader frames_;
    std::set<std::string, std::less<>> subscribed_;
    std::deque<Event> queue_;
    size_t dropped_ = 0;
    EventSink sink_;
    bool delivered_ = false;  // an event arrived during the current wait
    // the event streamed by the active command, and where it goes
    std::string streaming_;
    const ItemHandler* on_item_ = nullptr;
};

// The client's overall deadline is `budget` from now for this object's
// lifetime, then what it was. A nested Budget replaces the outer one, also
// when later: an undo gets its own reserve after the forward part spent its.
class Budget {
public:
    Budget(Client& c, std::chrono::milliseconds budget) : client_(c), before_(c.overall_deadline()) {
        c.set_deadline(Clock::now() + budget);
    }
    ~Budget() { client_.set_deadline(before_); }
    Budget(const Budget&) = delete;
    Budget& operator=(const Budget&) = delete;

private:
    Client& client_;
    std::optional<Clock::time_point> before_;
};

// Whether a command response reports success; the error names charon's errmsg.
Status check_success(std::string_view command, const Section& response);

}  // namespace avpn::vici
