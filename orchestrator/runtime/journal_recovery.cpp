#include "orchestrator/runtime/journal_recovery.hpp"

#include <algorithm>

namespace avpn::runtime {

Status recover_unfinished(const ApplyJournal& journal, KernelPort& port, AppliedRecord& last) {
    auto noted = journal.read();
    if (!noted) return noted.error();
    if (Status s = port.adopt_journaled(noted->links); !s) return s;
    for (const JournaledLink& l : noted->links) last.owned.links.insert(l.name);
    for (const std::string& c : noted->ipsec)
        if (std::find(last.ipsec_connections.begin(), last.ipsec_connections.end(), c) == last.ipsec_connections.end())
            last.ipsec_connections.push_back(c);
    return {};
}

std::function<Status(const JournaledLink&)> journal_links_in(const std::string& state_dir) {
    return [journal = ApplyJournal(state_dir)](const JournaledLink& l) mutable { return journal.note_link(l); };
}

}  // namespace avpn::runtime
