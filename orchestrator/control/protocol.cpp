#include "orchestrator/control/protocol.hpp"

#include <array>
#include <set>

#include "common/json.hpp"
#include "orchestrator/control/flat_json.hpp"

namespace avpn::control {

namespace {

constexpr std::array<std::pair<Command, std::string_view>, 6> kCommands = {{
    {Command::apply, "apply"},
    {Command::down, "down"},
    {Command::status, "status"},
    {Command::reload, "reload"},
    {Command::confirm, "confirm"},
    {Command::rekey, "rekey"},
}};

Error bad(std::string where, std::string why) { return Error{"bad request", std::move(where), std::move(why)}; }

// The members each command may carry besides "protocol" and "command".
const std::set<std::string_view>& allowed(Command c) {
    static const std::set<std::string_view> apply{"json", "config", "settle", "confirm"};
    static const std::set<std::string_view> json_only{"json"};
    static const std::set<std::string_view> status{"json", "listen"};
    static const std::set<std::string_view> none{};
    static const std::set<std::string_view> rekey{"json", "group", "peer"};
    switch (c) {
        case Command::apply: return apply;
        case Command::rekey: return rekey;
        case Command::status: return status;
        case Command::confirm: return none;
        default: return json_only;
    }
}

const FlatValue* member(const FlatObject& o, std::string_view key, FlatValue::Type type, Error& problem) {
    auto it = o.find(key);
    if (it == o.end()) return nullptr;
    if (it->second.type != type) {
        static constexpr const char* names[] = {"a string", "an integer", "true or false", "null"};
        problem = bad(std::string(key), std::string("must be ") + names[int(type)]);
        return nullptr;
    }
    return &it->second;
}

// An integer member within [lo, hi], or `fallback` when absent.
Status int_member(const FlatObject& o, std::string_view key, int lo, int hi, int& out) {
    Error problem;
    const FlatValue* v = member(o, key, FlatValue::Type::integer, problem);
    if (!problem.what.empty()) return problem;
    if (!v) return {};
    if (v->integer < lo || v->integer > hi)
        return bad(std::string(key), std::to_string(v->integer) + " is outside " + std::to_string(lo) + ".." +
                                         std::to_string(hi));
    out = int(v->integer);
    return {};
}

// rekey's group or peer: a non-empty name when present.
Status name_member(const FlatObject& o, std::string_view key, std::string& out) {
    Error problem;
    const FlatValue* v = member(o, key, FlatValue::Type::string, problem);
    if (!problem.what.empty()) return problem;
    if (!v) return {};
    if (v->text.empty() || v->text.size() > kMaxNameBytes || v->text.find('\0') != std::string::npos)
        return bad(std::string(key), "not a usable name");
    out = v->text;
    return {};
}

Status version_of(const FlatObject& o) {
    Error problem;
    const FlatValue* v = member(o, "protocol", FlatValue::Type::integer, problem);
    if (!problem.what.empty()) return problem;
    if (!v) return bad("protocol", "missing");
    if (v->integer != kProtocolVersion)
        return Error{"unsupported protocol", "protocol",
                     "version " + std::to_string(v->integer) + "; this end speaks version " +
                         std::to_string(kProtocolVersion) + " (avpnctl and avpnd of the same release)"};
    return {};
}

}  // namespace

std::string_view to_string(Command c) {
    for (const auto& [cmd, name] : kCommands)
        if (cmd == c) return name;
    return "?";
}

std::string encode(const Request& r) {
    JsonWriter w(false);
    w.begin_object().field("protocol", kProtocolVersion).field("command", to_string(r.command));
    if (r.command != Command::confirm) w.field("json", r.json);
    if (r.command == Command::apply) {
        w.field("config", r.config).field("settle", r.settle);
        if (r.confirm_seconds > 0) w.field("confirm", r.confirm_seconds);
    }
    if (r.command == Command::status && r.listen > 0) w.field("listen", r.listen);
    if (r.command == Command::rekey && !r.group.empty()) w.field("group", r.group);
    if (r.command == Command::rekey && !r.peer.empty()) w.field("peer", r.peer);
    w.end_object();
    return w.str();
}

std::string encode(const Reply& r) {
    JsonWriter w(false);
    w.begin_object().field("protocol", kProtocolVersion).field("exit", r.exit);
    w.field("stdout", r.out).field("stderr", r.err).end_object();
    return w.str();
}

Result<Request> decode_request(std::string_view json) {
    auto parsed = parse_flat_object(json);
    if (!parsed) return parsed.error();
    const FlatObject& o = *parsed;
    if (Status s = version_of(o); !s) return s.error();
    Error problem;
    const FlatValue* cmd = member(o, "command", FlatValue::Type::string, problem);
    if (!problem.what.empty()) return problem;
    if (!cmd) return bad("command", "missing");
    Request r;
    bool known = false;
    for (const auto& [c, name] : kCommands)
        if (name == cmd->text) r.command = c, known = true;
    if (!known) return bad("command", "unknown command '" + cmd->text.substr(0, 64) + "'");
    for (const auto& [key, value] : o)
        if (key != "protocol" && key != "command" && !allowed(r.command).count(key))
            return bad(key.substr(0, 64), "not a member of a " + std::string(to_string(r.command)) + " request");

    if (const FlatValue* j = member(o, "json", FlatValue::Type::boolean, problem)) r.json = j->boolean;
    if (!problem.what.empty()) return problem;
    if (r.command == Command::apply) {
        const FlatValue* path = member(o, "config", FlatValue::Type::string, problem);
        if (!problem.what.empty()) return problem;
        if (!path) return bad("config", "missing");
        if (path->text.empty() || path->text[0] != '/') return bad("config", "must be an absolute path");
        if (path->text.size() > kMaxPathBytes || path->text.find('\0') != std::string::npos)
            return bad("config", "not a usable path");
        r.config = path->text;
        if (Status s = int_member(o, "settle", 0, kMaxSettleSeconds, r.settle); !s) return s.error();
        if (o.count("confirm"))
            if (Status s = int_member(o, "confirm", kMinConfirmSeconds, kMaxConfirmSeconds, r.confirm_seconds); !s)
                return s.error();
    }
    if (Status s = int_member(o, "listen", 0, kMaxListenSeconds, r.listen); !s) return s.error();
    if (Status s = name_member(o, "group", r.group); !s) return s.error();
    if (Status s = name_member(o, "peer", r.peer); !s) return s.error();
    if (!r.peer.empty() && r.group.empty()) return bad("peer", "needs a group");
    return r;
}

Result<Reply> decode_reply(std::string_view json) {
    auto parsed = parse_flat_object(json);
    if (!parsed) return parsed.error();
    const FlatObject& o = *parsed;
    if (Status s = version_of(o); !s) return s.error();
    Error problem;
    Reply r;
    const FlatValue* exit = member(o, "exit", FlatValue::Type::integer, problem);
    const FlatValue* out = member(o, "stdout", FlatValue::Type::string, problem);
    const FlatValue* err = member(o, "stderr", FlatValue::Type::string, problem);
    if (!problem.what.empty()) return Error{"bad reply", problem.where, problem.why};
    if (!exit || !out || !err || o.size() != 4)
        return Error{"bad reply", "", "needs exactly protocol, exit, stdout, stderr"};
    if (exit->integer < 0 || exit->integer > 255) return Error{"bad reply", "exit", "not an exit code"};
    r.exit = int(exit->integer);
    r.out = out->text;
    r.err = err->text;
    return r;
}

}  // namespace avpn::control
