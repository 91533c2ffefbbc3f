#include "orchestrator/report/render_rekey.hpp"

#include "common/json.hpp"

namespace avpn::report {

Printed rekey_output(const Result<std::vector<runtime::XfrmKeying::Rekeyed>>& r, bool json) {
    Printed p;
    if (!r) {
        p.err = "avpnctl rekey: " + r.error().str() + "\n";
        p.exit = kUsage;
        return p;
    }
    if (json) {
        JsonWriter w(true);
        w.begin_object().field("schema", "avpn.rekey/1").key("started").begin_array();
        for (const auto& k : *r)
            w.begin_object().field("group", k.group).field("peer", k.peer).field("epoch", uint64_t(k.epoch)).end_object();
        w.end_array().end_object();
        p.out = w.str();
        return p;
    }
    for (const auto& k : *r)
        p.out += k.group + "/" + k.peer + ": rekey started (epoch " + std::to_string(k.epoch) + " -> " +
                 std::to_string(k.epoch + 1) + ")\n";
    if (r->empty()) p.out = "no XFRM peer to rekey\n";
    return p;
}

}  // namespace avpn::report
