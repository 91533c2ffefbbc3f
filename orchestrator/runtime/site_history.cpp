// What the site remembers of its own history for status and the metrics
// (events.hpp): each converge's outcome and cost, and the uplinks'
// addresses as each converge reads them.
#include <ctime>

#include "orchestrator/runtime/site.hpp"
#include "orchestrator/runtime/site_apply.hpp"

namespace avpn::runtime {

void Site::finish_converge(bool ok, const std::string& line, Clock::time_point t0) {
    const int64_t now = int64_t(std::time(nullptr));
    last_converge_ = LastConverge{now, ok, line};
    const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    ++stats_.applies;
    stats_.failures += ok ? 0 : 1;
    stats_.last_seconds = seconds;
    stats_.total_seconds += seconds;
    events_.add(now, "apply", line);
}

// An uplink that got, lost or changed its address since the last converge
// is an event of the history (the first read only sets the baseline).
void Site::note_uplinks(const std::map<std::string, IpAddr>& addresses) {
    const int64_t now = int64_t(std::time(nullptr));
    if (uplinks_read_) {
        for (const std::string& name : uplinks_of(*intent_)) {
            auto was = uplink_addresses_.find(name);
            auto is = addresses.find(name);
            const bool had = was != uplink_addresses_.end(), has = is != addresses.end();
            if (had && !has) events_.add(now, "uplink", name + ": lost its address " + was->second.str());
            else if (!had && has) events_.add(now, "uplink", name + ": has the address " + is->second.str());
            else if (had && has && was->second != is->second)
                events_.add(now, "uplink", name + ": address " + was->second.str() + " -> " + is->second.str());
        }
    }
    uplink_addresses_ = addresses;
    uplinks_read_ = true;
}

}  // namespace avpn::runtime
