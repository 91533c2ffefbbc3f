#include "plugins/vici/journal.hpp"

#include <fstream>
#include <iterator>

#include "common/atomic_file.hpp"
#include "plugins/vici/fingerprint_store.hpp"
#include "plugins/vici/load_conn.hpp"
#include "plugins/vici/reconcile.hpp"

namespace avpn::vici {

namespace {

Status command(Client& client, const char* cmd, const Section& args) {
    auto r = client.call(cmd, args);
    if (!r) return r.error();
    return check_success(cmd, *r);
}

Section named(const char* key, const std::string& value) {
    Section s;
    s.add_value(key, value);
    return s;
}

// unload-conn leaves a responder's SA up (docs/vici.md): what this apply
// loaded must not leave one behind.
Status unload_conn(Client& client, const std::string& name) {
    if (Status st = command(client, "unload-conn", named("name", name)); !st) return st;
    auto active = active_conns(client);
    if (!active) return active.error();
    if (!active->contains(name)) return {};
    Section args;
    args.add_value("ike", name);
    args.add_value("timeout", "-1");
    return command(client, "terminate", args);
}

Status load_shared(Client& client, const std::string& id, const AppliedConn& previous) {
    auto psk = read_psk_file(previous.psk_file);  // wiped when it goes out of scope
    if (!psk) return psk.error();
    auto msg = load_shared_message(id, previous.owners, *psk);
    if (!msg) return msg.error();
    return command(client, "load-shared", *msg);
}

Status run(Client& client, const Inverse& inv) {
    switch (inv.kind) {
        case Inverse::Kind::none: return {};
        case Inverse::Kind::load_conn: return command(client, "load-conn", inv.previous.load_conn);
        case Inverse::Kind::unload_conn: return unload_conn(client, inv.name);
        case Inverse::Kind::load_shared: return load_shared(client, inv.name, inv.previous);
        case Inverse::Kind::unload_shared: return command(client, "unload-shared", named("id", inv.name));
        case Inverse::Kind::terminate: {
            Section args;
            args.add_value("ike", inv.name);
            args.add_value("timeout", "-1");
            return command(client, "terminate", args);
        }
    }
    return {};
}

}  // namespace

Result<AppliedConn> applied_conn(const Connection& c) {
    auto msg = load_conn_message(c);
    if (!msg) return msg.error();
    return AppliedConn{std::move(*msg), c.psk_file, shared_owners(c)};
}

Applied load_applied(const std::string& path) {
    std::string text = read_advisory_record(path);  // never through a symlink
    std::vector<uint8_t> bytes(text.begin(), text.end());
    Applied out;
    auto msg = decode_message(bytes);
    if (!msg) return out;
    for (const Entry& e : msg->entries()) {
        if (e.kind != Entry::Kind::Section) continue;
        const Section* conn = e.section.section("load-conn");
        const std::string* psk = e.section.value("psk_file");
        const std::vector<std::string>* owners = e.section.list("owners");
        if (!conn || !conn->section(e.name) || !psk) continue;  // damaged: as if not recorded
        out[e.name] = AppliedConn{*conn, *psk, owners ? *owners : std::vector<std::string>{}};
    }
    return out;
}

Status save_applied(const std::string& path, const Applied& applied) {
    Section all;
    for (const auto& [name, a] : applied) {
        Section& s = all.add_section(name);
        s.add_value("psk_file", a.psk_file);
        s.add_list("owners", a.owners);
        s.add_section("load-conn") = a.load_conn;
    }
    auto bytes = encode_message(all);
    if (!bytes) return bytes.error();
    return write_text_atomic(path, std::string(bytes->begin(), bytes->end()));
}

void Journal::record(std::string op, Inverse inverse, std::string caveat) {
    entries_.push_back({std::move(op), std::move(inverse), std::move(caveat)});
}

UndoReport Journal::undo(Client& client) {
    UndoReport r;
    for (auto e = entries_.rbegin(); e != entries_.rend(); ++e) {
        if (e->inverse.kind == Inverse::Kind::none) {
            r.not_undone.push_back(e->op + (e->caveat.empty() ? "" : ": " + e->caveat));
            continue;
        }
        if (Status st = run(client, e->inverse); !st) {
            r.errors.push_back(Error{"undoing " + e->op, st.error().where, st.error().why, st.error().code});
            continue;
        }
        r.undone.push_back(e->op);
        if (!e->caveat.empty()) r.not_undone.push_back(e->op + ": " + e->caveat);
    }
    entries_.clear();
    return r;
}

}  // namespace avpn::vici
