#include "orchestrator/plan/firewall_json.hpp"

#include <algorithm>
#include <utility>

namespace avpn::fw {

namespace {

const char* ip_proto(Family f) { return f == Family::v4 ? "ip" : "ip6"; }

// Every object names its table: nft resolves names inside it.
void open(JsonWriter& w, const char* kind) {
    w.begin_object().key("add").begin_object().key(kind).begin_object();
    w.field("family", "inet").field("table", kTable);
}
void close(JsonWriter& w) { w.end_object().end_object().end_object(); }

void element(JsonWriter& w, const Prefix& p) {
    // A host is a plain address: it is how nft lists one back.
    if (p.len == p.addr.max_len()) {
        w.value(p.addr.str());
        return;
    }
    w.begin_object().key("prefix").begin_object();
    w.field("addr", p.addr.str()).field("len", int(p.len));
    w.end_object().end_object();
}

void match(JsonWriter& w, const char* op, auto&& left, auto&& right) {
    w.begin_object().key("match").begin_object().field("op", op).key("left");
    left();
    w.key("right");
    right();
    w.end_object().end_object();
}

void payload(JsonWriter& w, const char* protocol, const char* field) {
    w.begin_object().key("payload").begin_object().field("protocol", protocol).field("field", field);
    w.end_object().end_object();
}

void meta(JsonWriter& w, const char* key) {
    w.begin_object().key("meta").begin_object().field("key", key).end_object().end_object();
}

void addr(JsonWriter& w, Family f, const char* field, const AddrMatch& m) {
    match(w, "==", [&] { payload(w, ip_proto(f), field); },
          [&] { m.set.empty() ? element(w, m.prefix) : (void)w.value("@" + m.set); });
}

void statements(JsonWriter& w, const Rule& r) {
    if (r.saddr) addr(w, r.family, "saddr", *r.saddr);
    if (r.daddr) addr(w, r.family, "daddr", *r.daddr);
    // Without an address the family still has to be said (icmp, ct state
    // and the default drop are per family, like everything else).
    if (!r.saddr && !r.daddr)
        match(w, "==", [&] { meta(w, "nfproto"); }, [&] { w.value(r.family == Family::v4 ? "ipv4" : "ipv6"); });
    if (!r.iifnames.empty())
        match(w, "==", [&] { meta(w, "iifname"); }, [&] {
            w.begin_object().key("set").begin_array();
            for (const std::string& n : r.iifnames) w.value(n);
            w.end_array().end_object();
        });
    if (r.established)
        match(w, "in", [&] { w.begin_object().key("ct").begin_object().field("key", "state").end_object().end_object(); },
              [&] { w.begin_array().value("established").value("related").end_array(); });
    if (!r.protocol.empty()) match(w, "==", [&] { meta(w, "l4proto"); }, [&] { w.value(r.protocol); });
    if (!r.dports.empty())
        match(w, "==", [&] { payload(w, r.protocol.c_str(), "dport"); }, [&] {
            if (r.dports.size() == 1) {
                w.value(unsigned(r.dports[0]));
                return;
            }
            w.begin_object().key("set").begin_array();
            for (uint16_t p : r.dports) w.value(unsigned(p));
            w.end_array().end_object();
        });
    if (!r.counter.empty()) w.begin_object().field("counter", r.counter).end_object();
    switch (r.verdict) {
        case Verdict::accept: w.begin_object().key("accept").null().end_object(); break;
        case Verdict::drop: w.begin_object().key("drop").null().end_object(); break;
        case Verdict::jump_rules:
            w.begin_object().key("jump").begin_object().field("target", kRulesChain).end_object().end_object();
            break;
    }
}

// The shortcut watch (docs/firewall.md "The shortcut watch"): per family,
// one interval map from every watched prefix to its counter, and two rules
// at the top of forward that count a packet into the counter its
// destination, then its source, maps to. They have no verdict, so every
// packet goes on to the rules below as before.
bool has_family(const std::vector<ShortcutWatch>& watch, Family f) {
    for (const ShortcutWatch& s : watch)
        for (const Prefix& p : s.prefixes)
            if (p.family() == f) return true;
    return false;
}

const char* watch_map(Family f) { return f == Family::v4 ? kShortcutMap4 : kShortcutMap6; }

void watch_maps(JsonWriter& w, const std::vector<ShortcutWatch>& watch) {
    for (Family f : {Family::v4, Family::v6}) {
        if (!has_family(watch, f)) continue;  // nft refuses an empty "elem"; no map, no rule
        // The planner made the prefixes disjoint, and an interval map wants
        // its elements in no particular order, but sorted they list as nft
        // lists them back.
        std::vector<std::pair<Prefix, const std::string*>> elems;
        for (const ShortcutWatch& s : watch)
            for (const Prefix& p : s.prefixes)
                if (p.family() == f) elems.emplace_back(p, &s.counter);
        std::sort(elems.begin(), elems.end());
        open(w, "map");
        w.field("name", watch_map(f)).field("type", f == Family::v4 ? "ipv4_addr" : "ipv6_addr").field("map", "counter");
        w.key("flags").begin_array().value("interval").end_array();
        w.key("elem").begin_array();
        for (const auto& [p, counter] : elems) {
            w.begin_array();
            element(w, p);
            w.value(*counter);
            w.end_array();
        }
        w.end_array();
        close(w);
    }
}

void watch_rules(JsonWriter& w, const std::vector<ShortcutWatch>& watch) {
    for (Family f : {Family::v4, Family::v6}) {
        if (!has_family(watch, f)) continue;
        for (const char* field : {"daddr", "saddr"}) {
            open(w, "rule");
            w.field("chain", kForwardChain).key("expr").begin_array();
            w.begin_object().key("counter").begin_object().key("map").begin_object().key("key");
            payload(w, ip_proto(f), field);
            w.field("data", std::string("@") + watch_map(f));
            w.end_object().end_object().end_object();
            w.end_array();
            close(w);
        }
    }
}

// Active-active's spreading (firewall_table.hpp, PathSpread): a set of the
// remote prefixes per group and family, and the `paths` chain.
std::string paths_set(const PathSpread& p, Family f) { return "paths-" + p.group + (f == Family::v4 ? "-v4" : "-v6"); }

bool has_family(const PathSpread& p, Family f) {
    for (const Prefix& x : p.remote)
        if (x.family() == f) return true;
    return false;
}

void paths_sets(JsonWriter& w, const std::vector<PathSpread>& paths) {
    for (const PathSpread& p : paths)
        for (Family f : {Family::v4, Family::v6}) {
            if (!has_family(p, f)) continue;
            open(w, "set");
            w.field("name", paths_set(p, f)).field("type", f == Family::v4 ? "ipv4_addr" : "ipv6_addr");
            w.key("flags").begin_array().value("interval").end_array();
            w.key("elem").begin_array();
            for (const Prefix& x : p.remote)
                if (x.family() == f) element(w, x);
            w.end_array();
            close(w);
        }
}

void ct(JsonWriter& w, const char* key) {
    w.begin_object().key("ct").begin_object().field("key", key).end_object().end_object();
}

// `<key> set <value>`, value written by `value()`.
void mangle(JsonWriter& w, auto&& key, auto&& value) {
    w.begin_object().key("mangle").begin_object().key("key");
    key();
    w.key("value");
    value();
    w.end_object().end_object();
}

void paths_rule(JsonWriter& w, const char* chain, auto&& exprs) {
    open(w, "rule");
    w.field("chain", chain).key("expr").begin_array();
    exprs();
    w.end_array();
    close(w);
}

// `paths` (prerouting) sees what this site forwards and what arrives;
// `paths-out` (output, a route chain, so a changed mark routes again) what
// the router itself sends. Both pick a path for a connection this end opens
// and put its path on every packet; only arrivals say the far end chose.
// A connection to the router itself never takes a path, nor one the router
// opens that is not routed into the group's devices or already carries a
// mark: with a full tunnel the remote set holds the default route, and the
// tunnels' own datagrams (the device's fwmark), the probes, the registry
// client and charon (routed out of an uplink) must keep their way out.
void paths_rules(JsonWriter& w, const std::vector<PathSpread>& paths, const char* chain) {
    const bool arrivals = std::string_view(chain) == kPathsChain;
    for (const PathSpread& p : paths) {
        for (size_t i = 0; arrivals && i < p.devices.size(); ++i)
            paths_rule(w, chain, [&] {
                match(w, "==", [&] { meta(w, "iifname"); }, [&] { w.value(p.devices[i]); });
                match(w, "==", [&] { ct(w, "direction"); }, [&] { w.value("original"); });
                mangle(w, [&] { ct(w, "mark"); }, [&] { w.value(unsigned(p.first_mark + i)); });
            });
        // This end opens it: the five-tuple's hash picks, once per connection.
        for (Family f : {Family::v4, Family::v6}) {
            if (!has_family(p, f)) continue;
            paths_rule(w, chain, [&] {
                match(w, "in", [&] { ct(w, "state"); }, [&] { w.value("new"); });
                match(w, "==", [&] { ct(w, "mark"); }, [&] { w.value(0u); });
                match(w, "==", [&] { payload(w, ip_proto(f), "daddr"); }, [&] { w.value("@" + paths_set(p, f)); });
                if (arrivals) {
                    match(w, "!=", [&] {
                        w.begin_object().key("fib").begin_object().field("result", "type");
                        w.key("flags").begin_array().value("daddr").end_array();
                        w.end_object().end_object();
                    }, [&] { w.value("local"); });
                } else {
                    match(w, "==", [&] { meta(w, "mark"); }, [&] { w.value(0u); });
                    match(w, "==", [&] { meta(w, "oifname"); }, [&] {
                        w.begin_object().key("set").begin_array();
                        for (const std::string& d : p.devices) w.value(d);
                        w.end_array().end_object();
                    });
                }
                mangle(w, [&] { ct(w, "mark"); }, [&] {
                    w.begin_object().key("jhash").begin_object();
                    w.field("mod", unsigned(p.devices.size())).field("offset", unsigned(p.first_mark));
                    w.key("expr").begin_object().key("concat").begin_array();
                    payload(w, ip_proto(f), "saddr");
                    payload(w, ip_proto(f), "daddr");
                    meta(w, "l4proto");
                    payload(w, "th", "sport");
                    payload(w, "th", "dport");
                    w.end_array().end_object();
                    w.end_object().end_object();
                });
            });
        }
        // Every packet of a connection with a path carries it to the rules.
        paths_rule(w, chain, [&] {
            match(w, "==", [&] { ct(w, "mark"); }, [&] {
                w.begin_object().key("range").begin_array();
                w.value(unsigned(p.first_mark)).value(unsigned(p.first_mark + p.devices.size() - 1));
                w.end_array().end_object();
            });
            mangle(w, [&] { meta(w, "mark"); }, [&] { ct(w, "mark"); });
        });
    }
}

void rules(JsonWriter& w, const char* chain, const std::vector<Rule>& list) {
    for (const Rule& r : list) {
        open(w, "rule");
        w.field("chain", chain).key("expr").begin_array();
        statements(w, r);
        w.end_array();
        close(w);
    }
}

}  // namespace

void write_firewall_json(JsonWriter& w, const FirewallTable& t) {
    w.begin_array();
    for (const ShortcutWatch& s : t.shortcut_watch) {
        open(w, "counter");
        w.field("name", s.counter);
        close(w);
    }
    for (const std::string& c : t.counters) {
        open(w, "counter");
        w.field("name", c);
        close(w);
    }
    for (const Set& s : t.sets) {
        open(w, "set");
        w.field("name", s.name).field("type", s.family == Family::v4 ? "ipv4_addr" : "ipv6_addr");
        w.key("flags").begin_array().value("interval").end_array();
        if (!s.elements.empty()) {  // nft refuses an empty "elem"
            w.key("elem").begin_array();
            for (const Prefix& p : s.elements) element(w, p);
            w.end_array();
        }
        close(w);
    }
    watch_maps(w, t.shortcut_watch);
    paths_sets(w, t.paths);
    open(w, "chain");
    w.field("name", kRulesChain);
    close(w);
    open(w, "chain");
    w.field("name", kForwardChain).field("type", "filter").field("hook", "forward");
    w.field("prio", kForwardPriority).field("policy", "accept");
    close(w);
    if (!t.input.empty()) {
        open(w, "chain");
        w.field("name", kInputChain).field("type", "filter").field("hook", "input");
        w.field("prio", kForwardPriority).field("policy", "accept");
        close(w);
    }
    if (!t.paths.empty()) {
        open(w, "chain");
        w.field("name", kPathsChain).field("type", "filter").field("hook", "prerouting");
        w.field("prio", kPathsPriority).field("policy", "accept");
        close(w);
        open(w, "chain");
        w.field("name", kPathsOutChain).field("type", "route").field("hook", "output");
        w.field("prio", kPathsPriority).field("policy", "accept");
        close(w);
    }
    rules(w, kRulesChain, t.rules);
    paths_rules(w, t.paths, kPathsChain);
    paths_rules(w, t.paths, kPathsOutChain);
    watch_rules(w, t.shortcut_watch);  // first in forward: they count and go on
    rules(w, kForwardChain, t.forward);
    rules(w, kInputChain, t.input);
    w.end_array();
}

std::string render_firewall_json(const FirewallTable& t) {
    // Compact: a 10,000-member hub's document is megabytes, read by a library.
    JsonWriter w(false);
    write_firewall_json(w, t);
    return w.str();
}

std::string rule_text(const Rule& r) {
    std::string s;
    auto side = [&](const char* field, const AddrMatch& m) {
        s += std::string(ip_proto(r.family)) + " " + field + " " + (m.set.empty() ? m.prefix.str() : "@" + m.set) + " ";
    };
    if (r.saddr) side("saddr", *r.saddr);
    if (r.daddr) side("daddr", *r.daddr);
    if (!r.saddr && !r.daddr) s += std::string("meta nfproto ") + (r.family == Family::v4 ? "ipv4 " : "ipv6 ");
    if (!r.iifnames.empty()) {
        std::string names;
        for (const std::string& n : r.iifnames) names += (names.empty() ? "\"" : ", \"") + n + "\"";
        s += "meta iifname " + (r.iifnames.size() == 1 ? names : "{ " + names + " }") + " ";
    }
    if (r.established) s += "ct state established,related ";
    if (!r.protocol.empty()) s += "meta l4proto " + r.protocol + " ";
    if (!r.dports.empty()) {
        std::string ports;
        for (uint16_t p : r.dports) ports += (ports.empty() ? "" : ", ") + std::to_string(p);
        s += r.protocol + " dport " + (r.dports.size() == 1 ? ports : "{ " + ports + " }") + " ";
    }
    if (!r.counter.empty()) s += "counter name \"" + r.counter + "\" ";
    s += r.verdict == Verdict::accept ? "accept" : r.verdict == Verdict::drop ? "drop" : "jump rules";
    return s;
}

}  // namespace avpn::fw
