// The peers, uplinks and event history of `avpnctl status` (render_status
// puts them in place). Text fits an 80-column terminal: one paragraph per
// member, sorted by site name, long lists wrapped; JSON keeps raw values
// (Unix times, bytes) and null for what is not known.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "common/json.hpp"
#include "orchestrator/runtime/status.hpp"

namespace avpn::report {

std::string peers_text(const std::vector<runtime::PeerRow>& rows, const std::optional<Error>& error, int64_t now);
void peers_json(JsonWriter& w, const std::vector<runtime::PeerRow>& rows, const std::optional<Error>& error);

std::string uplinks_text(const std::vector<runtime::DaemonFacts::Uplink>& uplinks);
void uplinks_json(JsonWriter& w, const std::vector<runtime::DaemonFacts::Uplink>& uplinks);

// The registry clients and the NAT types; nothing when there are none.
std::string registries_text(const runtime::DaemonFacts& d, int64_t now);
void registries_json(JsonWriter& w, const runtime::DaemonFacts& d);

std::string events_text(const std::vector<runtime::SiteEvent>& events);
void events_json(JsonWriter& w, const std::vector<runtime::SiteEvent>& events);

// `text` after `indent`, wrapped at 80 columns word by word, continuation
// lines under the first word.
std::string wrap_words(const std::string& indent, const std::string& text);

// "512 B", "1.5 KiB", "3.2 GiB"
std::string byte_size(uint64_t bytes);
// "12 s", "5 min", "3 h", "2 d" (whole units, rounded down)
std::string age(int64_t seconds);

}  // namespace avpn::report
