#include "plugins/vici/client.hpp"

#include <array>

namespace avpn::vici {

Client::Client(ClientOptions options) : opts_(std::move(options)) {}

Clock::time_point Client::deadline() const {
    const Clock::time_point own = Clock::now() + opts_.timeout;
    return overall_ && *overall_ < own ? *overall_ : own;
}

Status Client::connect() {
    disconnect();
    if (Status st = stream_.connect(opts_.socket_path); !st) return st;
    const auto until = deadline();
    for (const std::string& ev : subscribed_) {
        if (Status st = event_request(PacketType::EventRegister, ev, until); !st) {
            disconnect();
            return st;
        }
    }
    return {};
}

void Client::disconnect() {
    stream_.close();
    frames_.reset();
}

// A connection charon has closed (restart, crash) is noticed here, before a
// command is sent into it; events that arrived meanwhile are queued.
Status Client::drain_pending() {
    std::array<uint8_t, 16384> buf;
    for (;;) {
        bool closed = false;
        Result<size_t> n = stream_.recv_now(buf, closed);
        if (!n) return n.error();
        if (closed) return Error{"reading from charon", opts_.socket_path, "connection closed"};
        if (*n == 0) break;
        frames_.feed(std::span(buf.data(), *n));
    }
    for (;;) {
        auto next = frames_.next();
        if (!next) return next.error();
        if (!*next) return {};
        auto p = decode_packet(**next);
        if (!p) return p.error();
        if (p->type != PacketType::Event) return Error{"reading from charon", opts_.socket_path,
                                                       std::string("unexpected ") + to_string(p->type)};
        deliver(std::move(*p));
    }
}

Status Client::ensure_connected() {
    if (stream_.is_open() && drain_pending().ok()) return {};
    return connect();
}

Status Client::send(const Packet& p, Clock::time_point until) {
    auto frame = encode_packet(p);
    if (!frame) return frame.error();
    Status st = stream_.send_all(*frame, until);
    if (!st) disconnect();
    return st;
}

Status Client::on_packet_error(const Error& e) {
    // The stream is out of step (timeout) or unusable (EOF, garbage): drop it.
    disconnect();
    return e;
}

Result<Packet> Client::read_packet(Clock::time_point until) {
    std::array<uint8_t, 16384> buf;
    for (;;) {
        auto next = frames_.next();
        if (!next) return on_packet_error(next.error()).error();
        if (*next) {
            auto p = decode_packet(**next);
            if (!p) return on_packet_error(p.error()).error();
            return std::move(*p);
        }
        Result<size_t> n = stream_.recv_some(buf, until);
        if (!n && is_timeout(n.error())) return n.error();  // the caller decides
        if (!n) return on_packet_error(n.error()).error();
        if (*n == 0) return on_packet_error(Error{"reading from charon", opts_.socket_path, "connection closed"}).error();
        frames_.feed(std::span(buf.data(), *n));
    }
}

void Client::deliver(Packet&& p) {
    if (!streaming_.empty() && p.name == streaming_ && on_item_) {
        (*on_item_)(p.message);
        return;
    }
    if (!subscribed_.contains(p.name)) return;  // a late event of an ended stream
    delivered_ = true;
    if (sink_) {
        sink_(Event{std::move(p.name), std::move(p.message)});
        return;
    }
    if (queue_.size() >= opts_.max_queued_events) {
        queue_.pop_front();
        ++dropped_;
    }
    queue_.push_back(Event{std::move(p.name), std::move(p.message)});
}

// Reads until the reply to the active request; events go where they belong.
Result<Packet> Client::await_reply(Clock::time_point until) {
    for (;;) {
        auto p = read_packet(until);
        if (!p) return p.error();
        if (p->type != PacketType::Event) return std::move(*p);
        deliver(std::move(*p));
    }
}

Status Client::event_request(PacketType type, std::string_view event, Clock::time_point until) {
    const char* what = type == PacketType::EventRegister ? "registering for event" : "unregistering event";
    if (Status st = send(Packet{type, std::string(event), {}}, until); !st) return st;
    auto reply = await_reply(until);
    if (!reply) return on_packet_error(reply.error());
    if (reply->type == PacketType::EventConfirm) return {};
    if (reply->type == PacketType::EventUnknown) return Error{what, std::string(event), "charon knows no such event"};
    return on_packet_error(Error{what, std::string(event), std::string("unexpected ") + to_string(reply->type)});
}

Result<Section> Client::call(std::string_view command, const Section& args) {
    if (Status st = ensure_connected(); !st) return st.error();
    const auto until = deadline();
    if (Status st = send(Packet{PacketType::CmdRequest, std::string(command), args}, until); !st) return st.error();
    auto reply = await_reply(until);
    if (!reply) {
        if (is_timeout(reply.error())) disconnect();  // a late response would be misread
        Error e = reply.error();
        e.where = std::string(command) + (e.where.empty() ? "" : " (" + e.where + ")");
        return e;
    }
    if (reply->type == PacketType::CmdUnknown) return Error{"vici command", std::string(command), "charon does not know this command"};
    if (reply->type != PacketType::CmdResponse)
        return on_packet_error(Error{"vici command", std::string(command), std::string("unexpected ") + to_string(reply->type)}).error();
    return std::move(reply->message);
}

Result<Section> Client::call_streamed(std::string_view command, const Section& args, std::string_view event,
                                      const ItemHandler& on_item) {
    if (Status st = ensure_connected(); !st) return st.error();
    const bool temporary = !subscribed_.contains(event);
    if (temporary) {
        if (Status st = event_request(PacketType::EventRegister, event, deadline()); !st) return st.error();
    }
    streaming_ = std::string(event);
    on_item_ = &on_item;
    Result<Section> response = call(command, args);
    streaming_.clear();
    on_item_ = nullptr;
    if (temporary && connected()) {
        if (Status st = event_request(PacketType::EventUnregister, event, deadline()); !st && response) return st.error();
    }
    return response;
}

Status Client::subscribe(std::string_view event) {
    if (subscribed_.contains(event)) return {};
    if (Status st = ensure_connected(); !st) return st;
    if (Status st = event_request(PacketType::EventRegister, event, deadline()); !st) return st;
    subscribed_.emplace(event);
    return {};
}

Status Client::unsubscribe(std::string_view event) {
    auto it = subscribed_.find(event);
    if (it == subscribed_.end()) return {};
    subscribed_.erase(it);
    if (!connected()) return {};
    return event_request(PacketType::EventUnregister, event, deadline());
}

Status Client::wait_events(std::chrono::milliseconds max_wait) {
    if (Status st = ensure_connected(); !st) return st;
    auto until = Clock::now() + max_wait;
    if (overall_ && *overall_ < until) until = *overall_;
    delivered_ = !queue_.empty();
    while (!delivered_) {
        auto p = read_packet(until);
        if (!p) return is_timeout(p.error()) ? Status{} : Status{p.error()};
        if (p->type != PacketType::Event)
            return on_packet_error(Error{"waiting for events", opts_.socket_path,
                                         std::string("unexpected ") + to_string(p->type)});
        deliver(std::move(*p));
    }
    return drain_pending();
}

std::vector<Event> Client::take_events() {
    std::vector<Event> out(std::make_move_iterator(queue_.begin()), std::make_move_iterator(queue_.end()));
    queue_.clear();
    return out;
}

Status check_success(std::string_view command, const Section& response) {
    if (response.value_or("success") == "yes") return {};
    std::string why = response.value_or("errmsg");
    return Error{"vici command", std::string(command), why.empty() ? "charon reported failure" : why};
}

}  // namespace avpn::vici
