// Request/reply exchanges that are not batched writes: dumps (with a whole
// dump retried when the kernel flags it inconsistent, NLM_F_DUMP_INTR) and
// queries (a request answered by messages and then an ack).
#pragma once

#include <algorithm>
#include <functional>
#include <iterator>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "netlink/message.hpp"
#include "netlink/socket.hpp"

namespace avpn::nl {

using MessageHandler = std::function<Status(const nlmsghdr*)>;

struct DumpRequest {
    std::string what;   // names the dump in errors: "dump routes"
    std::string where;  // its filter in errors: "table 7100 protocol 147"
    uint16_t type = 0;  // RTM_GETROUTE, XFRM_MSG_GETPOLICY, a genl family id...
    std::function<void(MsgWriter&)> fill;  // fixed header and filter attributes
    MessageHandler on_message;             // every reply object, in order
    std::function<void()> on_restart;      // forget what was collected: starting over
    int max_attempts = 5;                  // DUMP_INTR retries before giving up
    int empty_on_errno = 0;                // this errno means "nothing to dump" (a missing table: ENOENT)
};

// Runs the dump to NLMSG_DONE. A handler error is kept and returned after
// the dump is drained, so the socket is clean for the next request.
Status run_dump(Transport& t, const DumpRequest& req);

// Sorts what a dump collected, in linear time when it is nearly in order.
// Dumps usually are: the FIB walks its trie in prefix order, and XFRM lists
// the newest policy first, so reversed its dump is in order apart from what
// was added since the last sorted insert. Those few are sorted alone and
// merged in, instead of sorting 150,000 policies on every apply.
template <class T>
void sort_dumped(std::vector<T>& v) {
    if (std::is_sorted(v.begin(), v.end())) return;
    size_t descents = 0;
    for (size_t i = 1; i < v.size(); ++i) descents += v[i] < v[i - 1];
    if (descents * 2 > v.size()) std::reverse(v.begin(), v.end());
    std::vector<T> in_order, stragglers;
    in_order.reserve(v.size());
    for (T& x : v) {
        if (in_order.empty() || !(x < in_order.back()))
            in_order.push_back(std::move(x));
        else
            stragglers.push_back(std::move(x));
    }
    std::sort(stragglers.begin(), stragglers.end());
    v.clear();
    std::merge(std::make_move_iterator(in_order.begin()), std::make_move_iterator(in_order.end()),
               std::make_move_iterator(stragglers.begin()), std::make_move_iterator(stragglers.end()),
               std::back_inserter(v));
}

// A dump that collects objects: take(h, out) appends what message h holds
// (or nothing, for objects filtered out); out starts over on a restart.
template <class T, class Take>
Result<std::vector<T>> collect_dump(Transport& t, DumpRequest req, Take&& take) {
    std::vector<T> out;
    req.on_message = [&](const nlmsghdr* h) -> Status { return take(h, out); };
    req.on_restart = [&] { out.clear(); };
    if (auto st = run_dump(t, req); !st) return st.error();
    return out;
}

// Sends one request with NLM_F_ACK and hands every reply message to
// on_message (may be empty) until the kernel's ack.
Status run_query(Transport& t, std::string what, std::string where, uint16_t type, uint16_t flags,
                 const std::function<void(MsgWriter&)>& fill, const MessageHandler& on_message);

// Largest request a dump or query builds (filters only: small).
inline constexpr size_t kRequestBytes = 4096;

}  // namespace avpn::nl
