#include "orchestrator/runtime/scope.hpp"

namespace avpn::runtime {

OwnedScope owned_by(const nl::KernelState& desired) {
    OwnedScope s;
    for (const auto& l : desired.links) s.links.insert(l.name);
    for (const auto& r : desired.routes) s.tables.insert(r.table);
    for (const auto& r : desired.rules)
        if (r.table != 254) s.tables.insert(r.table);  // never claim main
    return s;
}

Status add_scanned(OwnedScope& scope, KernelPort& port) {
    auto found = port.scan_owned();
    if (!found) return found.error();
    scope.links.insert(found->links.begin(), found->links.end());
    scope.tables.insert(found->tables.begin(), found->tables.end());
    return {};
}

OwnedScope scope_of(const nl::KernelState& desired, const AppliedRecord& last) {
    OwnedScope s = owned_by(desired);
    s.links.insert(last.owned.links.begin(), last.owned.links.end());
    s.tables.insert(last.owned.tables.begin(), last.owned.tables.end());
    return s;
}

}  // namespace avpn::runtime
