// JSON forms of the kernel object model and the IPsec connection, shared by
// `plan --json` and `apply --json` so an op and a plan entry look the same.
#pragma once

#include "common/json.hpp"
#include "netlink/objects.hpp"
#include "orchestrator/plan/desired_state.hpp"
#include "plugins/vici/connection.hpp"

namespace avpn::report {

void to_json(JsonWriter&, const nl::Link&);
void to_json(JsonWriter&, const nl::InterfaceAddress&);
void to_json(JsonWriter&, const nl::Route&);
void to_json(JsonWriter&, const nl::Rule&);
void to_json(JsonWriter&, const nl::XfrmSa&);
void to_json(JsonWriter&, const nl::XfrmPolicy&);
void to_json(JsonWriter&, const nl::WgPeer&);
void to_json(JsonWriter&, const nl::WgDevice&);
void to_json(JsonWriter&, const vici::Connection&);
void to_json(JsonWriter&, const GroupPlan&);
void to_json(JsonWriter&, const PeerPlan&);

template <class T>
void array_to_json(JsonWriter& w, std::string_view key, const std::vector<T>& items) {
    w.key(key).begin_array();
    for (const T& t : items) to_json(w, t);
    w.end_array();
}

}  // namespace avpn::report
