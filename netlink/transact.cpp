#include "netlink/transact.hpp"

#include <array>
#include <optional>

#include "netlink/error.hpp"

namespace avpn::nl {

namespace {

// State of one exchange while its replies stream in.
struct Exchange {
    uint32_t seq = 0;
    const MessageHandler* on_message = nullptr;
    const std::string* what = nullptr;
    const std::string* where = nullptr;
    int empty_on_errno = 0;
    bool finished = false;
    bool interrupted = false;
    std::optional<Error> error;

    void fail(Error e) {
        if (!error) error = std::move(e);
    }

    void take(const nlmsghdr* h) {
        if (h->nlmsg_seq != seq) return;  // a stale reply to an earlier request
        if (h->nlmsg_flags & NLM_F_DUMP_INTR) interrupted = true;
        switch (h->nlmsg_type) {
            case NLMSG_NOOP:
            case NLMSG_OVERRUN: return;
            case NLMSG_DONE: {
                finished = true;
                KernelReply r = parse_done_message(h);
                if (r.error && r.error != empty_on_errno) fail(kernel_error(*what, *where, r));
                return;
            }
            case NLMSG_ERROR: {
                finished = true;
                auto r = parse_error_message(h);
                if (!r) fail(Error{*what, *where, "malformed error message from the kernel"});
                else if (r->error && r->error != empty_on_errno) fail(kernel_error(*what, *where, *r));
                return;
            }
            default:
                if (!error && *on_message) {
                    Status st = (*on_message)(h);
                    if (!st) fail(st.error());
                }
        }
    }

    void take(const Datagram& d) {
        if (d.truncated) fail(Error{*what, *where, "reply truncated (larger than the receive buffer)"});
        MsgReader r(d.bytes);
        const nlmsghdr* h;
        while (r.next(h)) take(h);
        if (r.malformed()) {
            fail(Error{*what, *where, "malformed reply from the kernel"});
            finished = true;  // its DONE may be lost: later requests skip it by seq
        }
    }
};

Status send_request(Transport& t, uint16_t type, uint16_t flags, const std::function<void(MsgWriter&)>& fill,
                    uint32_t seq, const std::string& what, const std::string& where) {
    alignas(nlmsghdr) std::array<uint8_t, kRequestBytes> buf;
    MsgWriter w(buf.data(), buf.size(), type, flags);
    w.header()->nlmsg_seq = seq;
    if (fill) fill(w);
    if (w.full()) return Error{what, where, "request does not fit in " + std::to_string(kRequestBytes) + " bytes"};
    return t.send(w.bytes());
}

// Reads until the exchange ends; the receive itself failing ends it too.
void read_replies(Transport& t, Exchange& ex) {
    while (!ex.finished) {
        Status st = t.receive(1, [&](const Datagram& d) { ex.take(d); });
        if (!st) {
            ex.fail(Error{*ex.what, *ex.where, st.error().why, st.error().code});
            return;
        }
    }
}

}  // namespace

Status run_dump(Transport& t, const DumpRequest& req) {
    for (int attempt = 1; attempt <= req.max_attempts; ++attempt) {
        Exchange ex;
        ex.seq = t.reserve_seq(1);
        ex.on_message = &req.on_message;
        ex.what = &req.what;
        ex.where = &req.where;
        ex.empty_on_errno = req.empty_on_errno;
        if (attempt > 1 && req.on_restart) req.on_restart();
        if (auto st = send_request(t, req.type, NLM_F_REQUEST | NLM_F_DUMP, req.fill, ex.seq, req.what, req.where);
            !st)
            return st;
        read_replies(t, ex);
        if (ex.error) return *ex.error;
        if (!ex.interrupted) return {};
    }
    return Error{req.what, req.where,
                 "the kernel reported the dump inconsistent (NLM_F_DUMP_INTR) " + std::to_string(req.max_attempts) +
                     " times in a row"};
}

Status run_query(Transport& t, std::string what, std::string where, uint16_t type, uint16_t flags,
                 const std::function<void(MsgWriter&)>& fill, const MessageHandler& on_message) {
    Exchange ex;
    ex.seq = t.reserve_seq(1);
    ex.on_message = &on_message;
    ex.what = &what;
    ex.where = &where;
    if (auto st = send_request(t, type, flags | NLM_F_REQUEST | NLM_F_ACK, fill, ex.seq, what, where); !st)
        return st;
    read_replies(t, ex);
    if (ex.error) return *ex.error;
    return {};
}

}  // namespace avpn::nl
