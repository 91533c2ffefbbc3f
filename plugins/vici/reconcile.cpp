// The I/O half of the reconciler: observe charon, then apply the plan.
#include "plugins/vici/reconcile.hpp"

#include "plugins/vici/load_conn.hpp"

namespace avpn::vici {

namespace {

Section named_arg(std::string_view key, std::string_view value) {
    Section s;
    s.add_value(std::string(key), std::string(value));
    return s;
}

Result<std::set<std::string>> list_names(Client& client, const char* command, const char* key) {
    auto r = client.call(command);
    if (!r) return r.error();
    const std::vector<std::string>* l = r->list(key);
    return l ? std::set<std::string>(l->begin(), l->end()) : std::set<std::string>{};
}

// Runs a command whose response carries success/errmsg.
Status command(Client& client, const char* cmd, const Section& args) {
    auto r = client.call(cmd, args);
    if (!r) return r.error();
    return check_success(cmd, *r);
}

// Whether a load-conn message's child starts itself (start_action
// start/trap|start): then unloading or replacing it closed its SAs.
bool starts(const AppliedConn& a) {
    if (a.load_conn.entries().empty()) return false;
    const Entry& conn = a.load_conn.entries().front();
    const Section* children = conn.section.section("children");
    if (!children) return false;
    for (const Entry& ch : children->entries())
        if (ch.kind == Entry::Kind::Section && ch.section.value_or("start_action").find("start") != std::string::npos)
            return true;
    return false;
}

}  // namespace

Result<std::set<std::string>> active_conns(Client& client) {
    std::set<std::string> active;
    Section args;
    args.add_value("noblock", "yes");
    auto r = client.call_streamed("list-sas", args, "list-sa", [&](const Section& ev) {
        for (const Entry& e : ev.entries()) {
            const std::string* state = e.kind == Entry::Kind::Section ? e.section.value("state") : nullptr;
            if (state && (*state == "DELETING" || *state == "DESTROYING")) continue;
            active.insert(e.name);
        }
    });
    if (!r) return r.error();
    return active;
}

namespace {

struct Run {
    Client& client;
    const ReconcileOptions& options;
    ReconcileReport report;
    const Observed* observed = nullptr;  // before this run changed anything

    void fail(const std::string& name, Error e) { report.errors.push_back({name, std::move(e)}); }

    // With a journal the first failure ends the run (ReconcileOptions::journal).
    bool halted() const { return options.journal && !report.errors.empty(); }

    void record(std::string op, Inverse inverse, std::string caveat = {}) {
        if (options.journal) options.journal->record(std::move(op), std::move(inverse), std::move(caveat));
    }

    // The inverse that puts back what avpn last loaded under `name`; none
    // when avpn has no record of it.
    Inverse restore(Inverse::Kind kind, const std::string& name) const {
        if (!options.previous) return {};
        auto p = options.previous->find(name);
        if (p == options.previous->end()) return {};
        return Inverse{kind, name, p->second};
    }

    bool had_key(const std::string& id) const { return observed && observed->shared_ids.contains(id); }
    bool had_conn(const std::string& name) const { return observed && observed->conns.contains(name); }

    bool load_shared(const Connection& c) {
        if (halted()) return false;
        auto psk = read_psk_file(c.psk_file);
        if (!psk) return fail(c.name, psk.error()), false;
        auto msg = load_shared_message(c, *psk);
        if (!msg) return fail(c.name, msg.error()), false;
        Status st = command(client, "load-shared", *msg);
        if (!st) return fail(c.name, st.error()), false;
        const std::string id = shared_key_id(c);
        if (!had_key(id)) {
            record("load-shared " + id + " (new)", Inverse{Inverse::Kind::unload_shared, id, {}});
        } else {
            Inverse inv = restore(Inverse::Kind::load_shared, id);
            record("load-shared " + id + " (replaced)", inv,
                   inv.kind == Inverse::Kind::none ? "no record of the previous key's file: charon keeps the new key"
                                                   : "");
        }
        return true;
    }

    bool load_conn(const Desired& d) {
        if (halted()) return false;
        Status st = command(client, "load-conn", d.message);
        if (!st) return fail(d.conn.name, st.error()), false;
        report.loaded.push_back(d.conn.name);
        const std::string& name = d.conn.name;
        if (!had_conn(name)) {
            record("load-conn " + name + " (new)", Inverse{Inverse::Kind::unload_conn, name, {}});
            return true;
        }
        Inverse inv = restore(Inverse::Kind::load_conn, name);
        std::string caveat;
        if (inv.kind == Inverse::Kind::none)
            caveat = "no record of its previous definition: charon keeps the new one";
        else if (starts(inv.previous) || is_initiator(d.conn))
            caveat = "the reload closed its SAs; the previous definition starts a new one";
        record("load-conn " + name + " (replaced)", std::move(inv), std::move(caveat));
        return true;
    }

    void unload(const std::string& name) {
        if (halted()) return;
        Status st = command(client, "unload-conn", named_arg("name", name));
        if (!st) return fail(name, st.error());
        report.unloaded.push_back(name);
        Inverse inv = restore(Inverse::Kind::load_conn, name);
        std::string caveat;
        if (inv.kind == Inverse::Kind::none)
            caveat = "no record of its definition: it stays unloaded";
        else if (starts(inv.previous))
            caveat = "the unload closed its SAs; reloading starts a new one";
        record("unload-conn " + name, std::move(inv), std::move(caveat));
    }

    void unload_shared(const std::string& id) {
        if (halted()) return;
        Status st = command(client, "unload-shared", named_arg("id", id));
        if (!st) return fail(id, st.error());
        Inverse inv = restore(Inverse::Kind::load_shared, id);
        record("unload-shared " + id, inv,
               inv.kind == Inverse::Kind::none ? "no record of the key's file: it stays unloaded" : "");
    }

    void terminate(const std::string& name) {
        if (halted()) return;
        record("terminate " + name, {}, "a closed SA cannot be restored; its peer must initiate again");
        Section args;
        args.add_value("ike", name);
        args.add_value("timeout", "-1");  // send the DELETE, do not wait for the peer
        Status st = command(client, "terminate", args);
        if (!st && still_active(name)) fail(name, st.error());
    }

    // unload-conn may have started the delete: the SA can be gone between
    // list-sas and terminate, and nothing left to terminate is the goal.
    // charon's refusal says so only in words (its errmsg has no code), so
    // the state decides: list-sas again, and a failed terminate counts only
    // while the SA is still there (or charon cannot say).
    bool still_active(const std::string& name) {
        auto left = active_conns(client);
        return !left || left->contains(name);
    }

    // unload-conn closes an initiator's SAs (its start action is undone); a
    // responder's stay up until terminated.
    Status terminate_left(const std::vector<std::string>& unloaded) {
        if (unloaded.empty()) return {};
        auto left = active_conns(client);
        if (!left) return left.error();
        for (const std::string& name : unloaded)
            if (name.starts_with(kConnPrefix) && left->contains(name)) terminate(name);
        return {};
    }

    void initiate(const Connection& c) {
        if (halted()) return;
        Status st = vici::initiate(client, c, options.initiate_timeout_ms);
        if (!st) return fail(c.name, st.error());
        report.initiated.push_back(c.name);
        record("initiate " + c.name, Inverse{Inverse::Kind::terminate, c.name, {}});
    }
};

}  // namespace

Status initiate(Client& client, const Connection& c, int timeout_ms) {
    Section args;
    args.add_value("child", c.child.name);
    args.add_value("ike", c.name);
    args.add_value("timeout", std::to_string(timeout_ms));
    return command(client, "initiate", args);
}

Result<Observed> observe(Client& client, bool with_listed) {
    Observed o;
    auto conns = list_names(client, "get-conns", "conns");
    if (!conns) return conns.error();
    o.conns = std::move(*conns);
    auto keys = list_names(client, "get-shared", "keys");
    if (!keys) return keys.error();
    o.shared_ids = std::move(*keys);
    if (!with_listed) return o;
    auto r = client.call_streamed("list-conns", {}, "list-conn", [&](const Section& ev) {
        for (const Entry& e : ev.entries())
            if (e.kind == Entry::Kind::Section && e.name.starts_with(kConnPrefix)) o.listed[e.name] = e.section;
    });
    if (!r) return r.error();
    return o;
}

Result<ReconcileReport> reconcile(Client& client, const std::vector<Connection>& desired,
                                  const ReconcileOptions& options) {
    Run run{client, options, {}};
    std::vector<Desired> mapped;
    std::set<std::string> wanted;
    for (const Connection& c : desired) {
        if (!wanted.insert(c.name).second) {
            run.fail(c.name, Error{"reconciling", c.name, "connection listed twice"});
            continue;
        }
        auto msg = load_conn_message(c);
        if (!msg) {
            run.fail(c.name, msg.error());
            continue;
        }
        auto fp = fingerprint(*msg);
        if (!fp) {
            run.fail(c.name, fp.error());
            continue;
        }
        mapped.push_back(Desired{c, std::move(*msg), std::move(*fp)});
    }

    auto observed = observe(client, options.verify_listed);
    if (!observed) return observed.error();
    run.observed = &*observed;
    Fingerprints last = options.state_path.empty() ? Fingerprints{} : load_fingerprints(options.state_path);
    const ReconcilePlan plan = plan_reconcile(mapped, wanted, *observed, last, options.verify_listed);
    if (options.dry_run) {
        for (size_t i : plan.load) run.report.loaded.push_back(mapped[i].conn.name);
        for (size_t i : plan.keep) run.report.unchanged.push_back(mapped[i].conn.name);
        run.report.unloaded = plan.unload;
        return std::move(run.report);
    }

    // Secrets first: an initiator loaded with start_action=start starts at once.
    Fingerprints next;
    for (size_t i : plan.load) {
        const Desired& d = mapped[i];
        if (run.load_shared(d.conn) && run.load_conn(d)) next[d.conn.name] = d.fingerprint;
    }
    std::vector<size_t> idle_initiators;
    for (size_t i : plan.keep) {
        const Desired& d = mapped[i];
        run.report.unchanged.push_back(d.conn.name);
        next[d.conn.name] = d.fingerprint;  // the configuration is in place even if the PSK read fails
        (void)run.load_shared(d.conn);     // picks up a rotated PSK; never disturbs SAs
        if (is_initiator(d.conn)) idle_initiators.push_back(i);
    }
    for (const std::string& name : plan.unload) run.unload(name);
    for (const std::string& id : plan.unload_shared) run.unload_shared(id);
    if (Status st = run.terminate_left(run.report.unloaded); !st) return st.error();

    if (!idle_initiators.empty() && !run.halted()) {
        auto active = active_conns(client);
        if (!active) return active.error();
        for (size_t i : idle_initiators)
            if (!active->contains(mapped[i].conn.name)) run.initiate(mapped[i].conn);
    }
    if (!options.state_path.empty()) {
        if (Status st = save_fingerprints(options.state_path, next); !st) run.fail("(state)", st.error());
    }
    return std::move(run.report);
}

Result<ReconcileReport> unload_owned(Client& client, const std::vector<std::string>& names) {
    ReconcileOptions options;
    Run run{client, options, {}};
    auto observed = observe(client, false);
    if (!observed) return observed.error();
    for (const std::string& name : names) {
        if (!name.starts_with(kConnPrefix)) {
            run.fail(name, Error{"unloading", name, "not an avpn connection (no avpn- prefix)"});
            continue;
        }
        if (observed->conns.contains(name)) run.unload(name);
        if (observed->shared_ids.contains(name)) run.unload_shared(name);
    }
    if (Status st = run.terminate_left(names); !st) return st.error();
    return std::move(run.report);
}

}  // namespace avpn::vici
