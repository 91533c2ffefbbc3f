// Names a request in words from its own bytes, so a failed op in a batch is
// reported as "add route: 10.1.0.0/24 table 7100 dev #4: File exists" without
// the caller having built a description for every op up front.
#pragma once

#include <linux/netlink.h>

#include <string>

namespace avpn::nl {

struct Description {
    std::string what;   // "add route", "update xfrm policy"
    std::string where;  // the object's key fields
};

Description describe_request(int protocol, const nlmsghdr* request);

}  // namespace avpn::nl
