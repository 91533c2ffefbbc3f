#include "plugins/vici/text.hpp"

#include <cstdio>

namespace avpn::vici {

namespace {

bool plain(const std::string& v) {
    if (v.empty()) return false;
    for (unsigned char c : v) {
        if (c <= 0x20 || c >= 0x7f) return false;
        if (c == '"' || c == '\\' || c == '{' || c == '}' || c == '[' || c == ']' || c == '=' || c == ',')
            return false;
    }
    return true;
}

std::string quoted(const std::string& v) {
    if (plain(v)) return v;
    std::string out = "\"";
    for (unsigned char c : v) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += char(c);
        } else if (c >= 0x20 && c < 0x7f) {
            out += char(c);
        } else {
            char hex[5];
            std::snprintf(hex, sizeof hex, "\\x%02x", c);
            out += hex;
        }
    }
    return out + "\"";
}

void dump(const Section& s, int indent, std::string& out) {
    const std::string pad(size_t(indent) * 2, ' ');
    for (const Entry& e : s.entries()) {
        out += pad + quoted(e.name);
        switch (e.kind) {
        case Entry::Kind::Value: out += " = " + quoted(e.value) + "\n"; break;
        case Entry::Kind::List:
            out += " = [";
            for (size_t i = 0; i < e.items.size(); ++i) out += (i ? ", " : " ") + quoted(e.items[i]);
            out += e.items.empty() ? "]\n" : " ]\n";
            break;
        case Entry::Kind::Section:
            out += " {\n";
            dump(e.section, indent + 1, out);
            out += pad + "}\n";
            break;
        }
    }
}

}  // namespace

std::string to_text(const Section& message) {
    std::string out;
    dump(message, 0, out);
    return out;
}

}  // namespace avpn::vici
