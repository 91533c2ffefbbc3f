// The site's part in the kernel's SA expiries (docs/xfrm-keying.md,
// "Expiry"): the XFRMNLGRP_EXPIRE watch while the site has XFRM groups, an
// expiry of avpn's handed to the key exchange, and the SA dump behind
// status counters and an overrun's resync.
#include "orchestrator/runtime/site.hpp"
#include "orchestrator/runtime/xfrm_expiry.hpp"

namespace avpn::runtime {

// Opened with the first XFRM group, before any handshake can install an SA
// (SAs come only from sessions, and sessions only after configure_keying).
void Site::watch_expiries() {
    if (keyed_.empty()) {
        expire_watch_.reset();
        return;
    }
    if (expire_watch_) return;
    auto w = nl::ExpireWatch::open();
    if (!w) {
        // Rotation by time goes on, and the hard limits still bound each
        // key; the next full apply tries again.
        log_("xfrm: SA expiries not watched (rekeys by time only): " + w.error().str());
        return;
    }
    expire_watch_.emplace(std::move(*w));
}

void Site::expire_readable() {
    if (!expire_watch_) return;
    nl::ExpireDrain d = expire_watch_->drain();
    const auto now = keying::Clock::now();
    XfrmKeying::Work work;
    for (const nl::XfrmExpire& e : d.expired) work.merge(take_expire(e, now));
    if (d.overrun) work.merge(resync_expiries(now));
    run_keying(std::move(work));
}

XfrmKeying::Work Site::take_expire(const nl::XfrmExpire& e, keying::Time now) {
    // An operator's SA, or an interop tunnel's (charon rekeys those): theirs.
    if (!expire_is_avpns(e)) return {};
    // The kernel deleted the SA behind the image's back: the next converge
    // reads the kernel again instead of deleting what is gone.
    if (e.hard) reconciler_.forget();
    if (auto w = keying_->expire(e, now)) return std::move(*w);
    log_(std::string("xfrm: ") + (e.hard ? "hard" : "soft") + " expire of " + describe_sa(e) +
         ": no session holds it (already replaced); ignored");
    return {};
}

// The kernel dropped expiry notifications (ENOBUFS). A rekey they asked for
// must not be lost: one dump of avpn's SAs shows which SAs are at a soft
// limit or gone, and each counts as its expiry. If even the dump fails,
// every peer rotates: dearer, but nothing is missed.
XfrmKeying::Work Site::resync_expiries(keying::Time now) {
    auto kernel = port_->read_xfrm_sas();
    if (!kernel) {
        log_("xfrm: expiry notifications were lost and the SAs cannot be read (" + kernel.error().str() +
             "): every peer rekeys");
        reconciler_.forget();
        return keying_->rotate_all(now);
    }
    std::vector<nl::XfrmExpire> found = expiries_in_dump(keying_->held_sas(), *kernel);
    log_("xfrm: expiry notifications were lost (ENOBUFS); the SAs show " + std::to_string(found.size()) +
         " expired");
    XfrmKeying::Work work;
    for (const nl::XfrmExpire& e : found) work.merge(take_expire(e, now));
    return work;
}

Result<std::map<std::pair<std::string, std::string>, SaCounters>> Site::xfrm_sa_counters() const {
    auto kernel = port_->read_xfrm_sas();
    if (!kernel) return kernel.error();
    return sa_counters(keying_->held_sas(), *kernel);
}

}  // namespace avpn::runtime
