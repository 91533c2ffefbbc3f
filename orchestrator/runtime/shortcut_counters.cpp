#include "orchestrator/runtime/shortcut_counters.hpp"

namespace avpn::runtime {

std::map<std::string, uint64_t> shortcut_packets(const fw::Counters& counters,
                                                 const std::vector<fw::ShortcutWatch>& watch) {
    std::map<std::string, uint64_t> out;
    for (const fw::ShortcutWatch& w : watch)
        if (auto it = counters.find(w.counter); it != counters.end()) out[w.counter] = it->second.packets;
    return out;
}

Result<std::map<std::string, uint64_t>> read_shortcut_counters(fw::TablePort& table,
                                                               const std::vector<fw::ShortcutWatch>& watch) {
    if (watch.empty()) return std::map<std::string, uint64_t>{};  // nothing to ask the kernel
    auto counters = table.counters();
    if (!counters) return counters.error();
    return shortcut_packets(*counters, watch);
}

}  // namespace avpn::runtime
