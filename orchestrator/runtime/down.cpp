#include "orchestrator/runtime/down.hpp"

#include "orchestrator/runtime/firewall_apply.hpp"
#include "orchestrator/runtime/journal_recovery.hpp"
#include "orchestrator/runtime/scope.hpp"
#include "plugins/vici/unix_stream.hpp"

namespace avpn::runtime {

DownReport down_site(const StateDir& state, const std::string& vici_socket, KernelPort& port,
                     fw::TablePort* firewall, bool force_scan) {
    DownReport d;
    auto last = state.load();
    if (!last && force_scan && last.error().code == kDamagedRecord) {
        // The operator asked to go by the kernel's markers alone; the record
        // goes with the rest at the end.
        d.notes.push_back("--force-scan: ignored the damaged record " + last.error().where +
                          "; removing what the kernel marks as avpn's (charon connections only the record named "
                          "stay loaded)");
        last = AppliedRecord{};
    }
    if (!last) return d.failure = last.error(), d;
    if (Status s = recover_unfinished(ApplyJournal(state.path()), port, *last); !s) return d.failure = s.error(), d;
    // Whatever the record says (it may be lost, damaged or older than a
    // killed apply), everything the kernel shows as avpn's goes.
    OwnedScope scope = last->owned;
    if (Status s = add_scanned(scope, port); !s) return d.failure = s.error(), d;

    if (!last->ipsec_connections.empty()) {
        auto charon = connect_charon(vici_socket);
        if (charon) {
            d.ipsec = down_ipsec(**charon, last->ipsec_connections);
        } else if (vici::nothing_listening(charon.error())) {
            d.notes.push_back(charon.error().str() + ": nothing loaded there");
        } else {
            d.ipsec.asked = true;
            d.ipsec.socket = vici_socket;
            d.ipsec.failure = charon.error();
        }
    }

    d.kernel = apply(nl::KernelState{}, scope, port, false);
    d.has_report = true;
    if (d.ipsec.failure) {  // state kept: the next down asks charon again
        const Error& e = *d.ipsec.failure;
        std::string names;
        for (const std::string& n : last->ipsec_connections) names += (names.empty() ? "" : ", ") + n;
        d.failure = Error{e.what, e.where,
                          e.why + "; " + (d.kernel.failure ? "" : "avpn's kernel objects were removed; ") +
                              "avpn's connections in charon (" + names +
                              ") stay recorded for the next down: run it again once charon answers",
                          e.code};
        return d;
    }
    if (d.kernel.failure) return d;
    if (firewall) {
        auto present = firewall->present();
        if (!present) return d.failure = present.error(), d;
        if (*present) {
            if (Status s = firewall->remove(); !s) return d.failure = s.error(), d;
            d.firewall_removed = true;
        }
    }
    if (Status s = state.clear(); !s) return d.failure = s.error(), d;
    for (const char* f : {kFingerprintsFile, kAppliedConnsFile, kFailuresFile, kRetriesFile, kFirewallAppliedFile})
        (void)state.remove_file(f);  // bookkeeping of what is gone now
    return d;
}

}  // namespace avpn::runtime
