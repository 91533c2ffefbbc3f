#include "orchestrator/report/json_objects.hpp"

#include "common/hex.hpp"

namespace avpn::report {

namespace {

void prefixes(JsonWriter& w, std::string_view key, const std::vector<Prefix>& list) {
    w.key(key).begin_array();
    for (const Prefix& p : list) w.value(p.str());
    w.end_array();
}

void optional_addr(JsonWriter& w, std::string_view key, const std::optional<IpAddr>& a) {
    w.key(key);
    a ? w.value(a->str()) : w.null();
}

void optional_endpoint(JsonWriter& w, std::string_view key, const std::optional<Endpoint>& e) {
    w.key(key);
    e ? w.value(e->str()) : w.null();
}

void mark(JsonWriter& w, const nl::XfrmMark& m) {
    w.key("mark");
    if (m.mask == 0) {
        w.null();
        return;
    }
    w.begin_object().field("value", hex32(m.value)).field("mask", hex32(m.mask)).end_object();
}

void key_ref(JsonWriter& w, const nl::KeyRef& k) {
    // Where the key comes from, never the key.
    if (k.session_key != 0) {
        w.key("key").begin_object().field("handshake_key", k.session_key).end_object();
        return;
    }
    w.key("key").begin_object().field("private_key_file", k.private_key_file);
    if (!k.peer_public_key.empty())
        w.field("derived_with", k.peer_public_key).field("epoch", uint64_t(k.epoch)).field("label", k.label);
    w.end_object();
}

}  // namespace

void to_json(JsonWriter& w, const nl::Link& l) {
    w.begin_object().field("name", l.name).field("kind", nl::to_string(l.kind));
    w.field("mtu", uint64_t(l.mtu));
    if (l.kind == nl::LinkKind::xfrm) w.field("if_id", hex32(l.xfrm_if_id)).field("underlay", l.underlay);
    if (l.kind == nl::LinkKind::wireguard) w.field("backend", nl::to_string(l.wg_impl));
    if (!l.up) w.field("up", false);  // only a link found down: avpn's own are always up
    w.end_object();
}

void to_json(JsonWriter& w, const nl::InterfaceAddress& a) {
    w.begin_object().field("ifname", a.ifname);
    w.field("address", a.address.str() + "/" + std::to_string(a.prefix_len)).end_object();
}

void to_json(JsonWriter& w, const nl::Route& r) {
    w.begin_object().field("table", uint64_t(r.table)).field("dst", r.dst.str()).field("dev", r.ifname);
    optional_addr(w, "gateway", r.gateway);
    optional_addr(w, "prefsrc", r.prefsrc);
    w.field("metric", uint64_t(r.metric)).end_object();
}

void to_json(JsonWriter& w, const nl::Rule& r) {
    w.begin_object().field("priority", uint64_t(r.priority));
    w.field("family", r.family == Family::v4 ? "inet" : "inet6").field("table", uint64_t(r.table));
    w.key("src");
    r.src ? w.value(r.src->str()) : w.null();
    w.key("dst");
    r.dst ? w.value(r.dst->str()) : w.null();
    w.field("fwmark", hex32(r.fwmark)).field("fwmask", hex32(r.fwmask)).field("invert", r.invert);
    w.key("suppress_prefixlen");
    r.suppress_prefixlen >= 0 ? w.value(r.suppress_prefixlen) : w.null();
    w.end_object();
}

void to_json(JsonWriter& w, const nl::XfrmSa& s) {
    w.begin_object().field("src", s.src.str()).field("dst", s.dst.str()).field("spi", hex32(s.spi));
    w.field("reqid", hex32(s.reqid)).field("if_id", hex32(s.if_id));
    mark(w, s.mark);
    w.key("encap");
    if (s.encap_sport)
        w.begin_object().field("sport", uint64_t(s.encap_sport)).field("dport", uint64_t(s.encap_dport)).end_object();
    else
        w.null();
    w.field("aead", s.aead).field("icv_bits", uint64_t(s.icv_bits)).field("key_bits", uint64_t(s.key_bits));
    w.field("replay_window", uint64_t(s.replay_window)).field("esn", s.esn);
    w.key("lifetime").begin_object();
    w.field("soft_bytes", s.soft_bytes).field("hard_bytes", s.hard_bytes);
    w.field("soft_packets", s.soft_packets).field("hard_packets", s.hard_packets);
    w.field("soft_seconds", s.soft_seconds).field("hard_seconds", s.hard_seconds).end_object();
    key_ref(w, s.key);
    w.end_object();
}

void to_json(JsonWriter& w, const nl::XfrmPolicy& p) {
    w.begin_object().field("src", p.src.str()).field("dst", p.dst.str()).field("dir", nl::to_string(p.dir));
    w.field("priority", uint64_t(p.priority)).field("action", nl::to_string(p.action));
    w.field("if_id", hex32(p.if_id));
    mark(w, p.mark);
    w.key("templates").begin_array();
    for (const auto& t : p.templates)
        w.begin_object().field("src", t.src.str()).field("dst", t.dst.str()).field("reqid", hex32(t.reqid))
            .field("optional", t.optional).end_object();
    w.end_array().end_object();
}

void to_json(JsonWriter& w, const nl::WgPeer& p) {
    w.begin_object().field("site", p.site).field("public_key", p.public_key);
    optional_endpoint(w, "endpoint", p.endpoint);
    w.field("persistent_keepalive", uint64_t(p.keepalive_seconds));
    prefixes(w, "allowed_ips", p.allowed_ips);
    w.end_object();
}

void to_json(JsonWriter& w, const nl::WgDevice& d) {
    w.begin_object().field("ifname", d.ifname).field("private_key_file", d.private_key.private_key_file);
    w.field("listen_port", uint64_t(d.listen_port)).field("fwmark", hex32(d.fwmark));
    array_to_json(w, "peers", d.peers);
    w.end_object();
}

void to_json(JsonWriter& w, const vici::Connection& c) {
    w.begin_object().field("name", c.name).field_strings("local_addrs", c.local_addrs);
    w.field_strings("remote_addrs", c.remote_addrs).field("local_id", c.local_id).field("remote_id", c.remote_id);
    w.field("psk_file", c.psk_file).field_strings("ike_proposals", c.ike_proposals);
    w.field("version", uint64_t(c.version)).field("rekey_time", uint64_t(c.rekey_time));
    w.field("over_time", uint64_t(c.over_time)).field("reauth_time", uint64_t(c.reauth_time));
    w.field("dpd_delay", uint64_t(c.dpd_delay)).field("dpd_timeout", uint64_t(c.dpd_timeout));
    w.field("if_id_in", hex32(c.if_id_in)).field("if_id_out", hex32(c.if_id_out));
    w.field("bound_uplink", c.local_port_bind).field("local_addrs_from", c.local_addrs_from);
    const vici::ChildSa& ch = c.child;
    w.key("child").begin_object().field("name", ch.name).field_strings("local_ts", ch.local_ts);
    w.field_strings("remote_ts", ch.remote_ts).field_strings("esp_proposals", ch.esp_proposals);
    w.field("start_action", ch.start_action).field("dpd_action", ch.dpd_action);
    w.field("close_action", ch.close_action).field("rekey_time", uint64_t(ch.rekey_time));
    w.field("life_time", uint64_t(ch.life_time)).end_object();
    w.end_object();
}

void to_json(JsonWriter& w, const GroupPlan& g) {
    w.begin_object().field("group", g.group).field("fingerprint", g.fingerprint).field("interface", g.interface);
    w.field("tunnel_address", g.tunnel_address.str());
    prefixes(w, "exports", g.exports);
    w.field("full_tunnel", g.full_tunnel).end_object();
}

void to_json(JsonWriter& w, const PeerPlan& p) {
    w.begin_object().field("group", p.group).field("site", p.site).field("role", p.role);
    w.field("public_key", p.public_key).field("tunnel_address", p.tunnel_address.str());
    prefixes(w, "allowed", p.allowed);
    optional_endpoint(w, "endpoint", p.endpoint);
    w.field("default_route", p.default_route);
    if (!p.shortcut.empty()) w.field("shortcut", p.shortcut);  // docs/plan-json.md
    if (p.paths > 1) w.field("paths", int(p.paths));
    w.end_object();
}

}  // namespace avpn::report
