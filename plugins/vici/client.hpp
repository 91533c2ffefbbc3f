// A vici client: commands, streamed commands and events over charon's unix
// socket. One command is active at a time (the protocol has no sequence
// numbers); events of subscribed names that arrive in the middle of a
// command are queued, never lost (up to a bound, with a drop counter).
//
// Every call is bounded by the timeout. A timed-out call closes the
// connection, because a late response would otherwise be taken for the next
// command's. Before each command the client notices a connection charon has
// closed (charon restarted) and reconnects, re-registering its subscriptions.
// Not thread-safe: one owner (the daemon's reconcile loop, or a CLI call).
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <functional>
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

    // Waits up to max_wait for events (returns early once some arrived).
    Status wait_events(std::chrono::milliseconds max_wait);
    std::vector<Event> take_events();
    size_t dropped_events() const { return dropped_; }

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
    Clock::time_point deadline() const { return Clock::now() + opts_.timeout; }

    ClientOptions opts_;
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

// Whether a command response reports success; the error names charon's errmsg.
Status check_success(std::string_view command, const Section& response);

}  // namespace avpn::vici
