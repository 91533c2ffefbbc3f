// The Site operations avpnd runs on request (control_server.hpp), each with
// its result as data for the reply. Kept apart from site.cpp, which is the
// converge loop's part.
#include <ctime>

#include "orchestrator/config/load.hpp"
#include "orchestrator/runtime/site.hpp"

namespace avpn::runtime {

ChangeReport Site::apply_file(const std::string& path, int settle_seconds) {
    ChangeReport out;
    SnapshotLoad l = load_recording(path);
    std::optional<Intent> intent = load_logged(l);
    out.loaded = std::move(l.site);
    if (!intent) {
        log_("apply " + path + ": the configuration has errors; the running state is kept");
        return out;
    }
    // What runs now, restored when the new file cannot be applied (the
    // apply's journal has already put the kernel back as it was).
    std::optional<Intent> before = intent_;
    std::string config_before = options_.config;
    ConfigSnapshot running_before = running_;
    bool idle_before = idle_;

    use(std::move(*intent));
    options_.config = path;
    running_ = std::move(l.snapshot);
    idle_ = false;
    out.converge = converge_report(true, "avpnctl apply " + path, settle_seconds);
    if (!out.converge->ok) {
        log_("apply " + path + " failed; " + config_before + " stays the configuration");
        use(std::move(*before));
        options_.config = config_before;
        running_ = std::move(running_before);
        idle_ = idle_before;
    }
    return out;
}

ChangeReport Site::reload_report() {
    ChangeReport out;
    SnapshotLoad l = load_recording(options_.config);
    std::optional<Intent> intent = load_logged(l);
    out.loaded = std::move(l.site);
    if (!intent) {
        log_("reload: the configuration has errors; the running state is kept");
        return out;
    }
    use(std::move(*intent));
    running_ = std::move(l.snapshot);
    idle_ = false;
    out.converge = converge_report(false, "configuration reloaded");
    return out;
}

DownReport Site::down() {
    DownReport d = down_site(state_, options_.vici_socket, *port_, firewall_.get());
    firewall_applied_.clear();
    // Whatever happened, the image and the incremental basis no longer
    // describe the kernel: the next converge observes it afresh.
    reconciler_.forget();
    planner_.forget();
    if (!d.kernel_removed()) {
        const Error& e = d.failure ? *d.failure : *d.kernel.failure;
        log_("down failed: " + e.str() + "; the site stays managed");
        return d;
    }
    // Only charon's part failed: the kernel's objects are gone as asked, and
    // re-applying them now would undo the down; the connections stay
    // recorded for the next down.
    if (d.failure) log_("down: charon's part failed: " + d.failure->str());
    idle_ = true;
    // The XFRM interfaces and SAs are gone: nothing is left for the kernel
    // to decapsulate into, and the ports are free for whoever runs next.
    close_esp_sockets({});
    // No key exchange without SAs or sockets: sessions and keys go, and a
    // later apply starts every peer with a fresh handshake.
    (void)keying_->configure({});
    configure_registry(true);  // idle: no clients, no shared ports
    keyed_.clear();
    keying_hold_.clear();  // messages for sessions that are gone
    ipsec_.clear();
    wireguard_.clear();  // nothing of the site is left to poll
    retry_ = vici::RetrySchedule(vici::RetryPolicy{options_.retry_first, options_.retry_max});
    scope_ = WatchScope{};
    log_("down: " + std::to_string(d.kernel.ops.size()) +
         " kernel objects removed; nothing is applied until the next apply or reload");
    return d;
}

bool Site::roll_back_to(const std::optional<ConfigSnapshot>& previous, const std::string& why, std::string& line) {
    if (!previous) {
        DownReport d = down();
        line = d.ok() ? "down: nothing was applied before" : "down failed";
        return d.ok();
    }
    LoadedSite l = load_snapshot(*previous);
    for (const Error& e : l.errors) log_(format_diagnostic(e, Severity::error));
    if (!l.ok()) {
        line = "the previous configuration no longer loads (see above); the new one stays";
        return false;
    }
    use(std::move(*l.intent));
    options_.config = previous->path;
    running_ = *previous;
    idle_ = false;
    ConvergeReport r = converge_report(true, why);
    line = r.line;
    return r.ok;
}

// avpnctl rekey: the named XFRM peers rotate now. The handshakes start
// here rather than at the next tick, so the command's answer follows them.
Result<std::vector<XfrmKeying::Rekeyed>> Site::rekey(const std::string& group, const std::string& peer) {
    if (idle_) return Error{"rekey", "", "nothing is applied (after avpnctl down)"};
    if (intent_)
        for (const Group& g : intent_->groups)
            if (g.name == group && g.transport != Transport::xfrm)
                return Error{"rekey", group,
                             "transport = \"" + std::string(to_string(g.transport)) +
                                 "\": only XFRM groups run avpn's key exchange"};
    auto r = keying_->rekey(group, peer);
    if (r) {
        for (const XfrmKeying::Rekeyed& k : *r)
            log_("xfrm: " + k.group + "/" + k.peer + ": rekey requested at epoch " + std::to_string(k.epoch));
        keying_tick();
        flush_keying();
    }
    return r;
}

}  // namespace avpn::runtime
