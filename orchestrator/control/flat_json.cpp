#include "orchestrator/control/flat_json.hpp"

#include <charconv>

namespace avpn::control {

namespace {

class Parser {
public:
    explicit Parser(std::string_view s) : s_(s) {}

    Error error(std::string why) const { return Error{"bad message", "byte " + std::to_string(i_), std::move(why)}; }
    bool at_end() const { return i_ >= s_.size(); }
    char peek() const { return at_end() ? '\0' : s_[i_]; }

    void skip_space() {
        while (!at_end() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
    }

    bool eat(char c) {
        skip_space();
        if (peek() != c) return false;
        ++i_;
        return true;
    }

    // Four hex digits after "\u".
    bool hex4(uint32_t& out) {
        if (s_.size() - i_ < 4) return false;
        out = 0;
        for (int k = 0; k < 4; ++k) {
            char c = s_[i_++];
            out <<= 4;
            if (c >= '0' && c <= '9') out |= uint32_t(c - '0');
            else if (c >= 'a' && c <= 'f') out |= uint32_t(c - 'a' + 10);
            else if (c >= 'A' && c <= 'F') out |= uint32_t(c - 'A' + 10);
            else return false;
        }
        return true;
    }

    static void put_utf8(std::string& o, uint32_t cp) {
        if (cp < 0x80) {
            o += char(cp);
        } else if (cp < 0x800) {
            o += char(0xc0 | (cp >> 6));
            o += char(0x80 | (cp & 0x3f));
        } else if (cp < 0x10000) {
            o += char(0xe0 | (cp >> 12));
            o += char(0x80 | ((cp >> 6) & 0x3f));
            o += char(0x80 | (cp & 0x3f));
        } else {
            o += char(0xf0 | (cp >> 18));
            o += char(0x80 | ((cp >> 12) & 0x3f));
            o += char(0x80 | ((cp >> 6) & 0x3f));
            o += char(0x80 | (cp & 0x3f));
        }
    }

    Result<uint32_t> escape() {
        if (at_end()) return error("unterminated escape");
        char c = s_[i_++];
        switch (c) {
            case '"': return uint32_t('"');
            case '\\': return uint32_t('\\');
            case '/': return uint32_t('/');
            case 'b': return uint32_t('\b');
            case 'f': return uint32_t('\f');
            case 'n': return uint32_t('\n');
            case 'r': return uint32_t('\r');
            case 't': return uint32_t('\t');
            case 'u': break;
            default: return error(std::string("unknown escape \\") + c);
        }
        uint32_t cp = 0;
        if (!hex4(cp)) return error("\\u needs four hex digits");
        if (cp >= 0xdc00 && cp <= 0xdfff) return error("lone low surrogate");
        if (cp >= 0xd800 && cp <= 0xdbff) {
            uint32_t lo = 0;
            if (s_.substr(i_, 2) != "\\u") return error("high surrogate without its low half");
            i_ += 2;
            if (!hex4(lo) || lo < 0xdc00 || lo > 0xdfff) return error("high surrogate without its low half");
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        }
        return cp;
    }

    Result<std::string> string() {
        skip_space();
        if (peek() != '"') return error("expected a string");
        ++i_;
        std::string out;
        for (;;) {
            if (at_end()) return error("unterminated string");
            unsigned char c = static_cast<unsigned char>(s_[i_++]);
            if (c == '"') return out;
            if (c < 0x20) return error("raw control character in a string");
            if (c != '\\') {
                out += char(c);
                continue;
            }
            auto cp = escape();
            if (!cp) return cp.error();
            put_utf8(out, *cp);
        }
    }

    bool word(std::string_view w) {
        if (s_.substr(i_, w.size()) != w) return false;
        i_ += w.size();
        return true;
    }

    Result<FlatValue> value() {
        skip_space();
        FlatValue v;
        char c = peek();
        if (c == '"') {
            auto s = string();
            if (!s) return s.error();
            v.type = FlatValue::Type::string;
            v.text = std::move(*s);
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            size_t start = i_;
            if (c == '-') ++i_;
            size_t digits = i_;
            while (!at_end() && s_[i_] >= '0' && s_[i_] <= '9') ++i_;
            if (i_ == digits) return error("a number needs digits");
            if (peek() == '.' || peek() == 'e' || peek() == 'E') return error("only whole numbers are used");
            if (s_[digits] == '0' && i_ - digits > 1) return error("leading zeros");
            auto [p, ec] = std::from_chars(s_.data() + start, s_.data() + i_, v.integer);
            if (ec != std::errc() || p != s_.data() + i_) return error("number out of range");
            v.type = FlatValue::Type::integer;
        } else if (word("true")) {
            v.type = FlatValue::Type::boolean;
            v.boolean = true;
        } else if (word("false")) {
            v.type = FlatValue::Type::boolean;
        } else if (word("null")) {
            v.type = FlatValue::Type::null;
        } else if (c == '{' || c == '[') {
            return error("nested values are not part of the protocol");
        } else {
            return error(at_end() ? "unexpected end" : "unexpected character");
        }
        return v;
    }

    Result<FlatObject> object(size_t max_members) {
        FlatObject out;
        if (!eat('{')) return error("expected '{'");
        if (!eat('}')) {
            for (;;) {
                auto k = string();
                if (!k) return k.error();
                if (!eat(':')) return error("expected ':'");
                auto v = value();
                if (!v) return v.error();
                if (out.size() == max_members) return error("more than " + std::to_string(max_members) + " members");
                if (!out.emplace(std::move(*k), std::move(*v)).second) return error("duplicate key");
                if (eat(',')) continue;
                if (eat('}')) break;
                return error("expected ',' or '}'");
            }
        }
        skip_space();
        if (!at_end()) return error("bytes after the object");
        return out;
    }

private:
    std::string_view s_;
    size_t i_ = 0;
};

}  // namespace

Result<FlatObject> parse_flat_object(std::string_view text, size_t max_members) {
    return Parser(text).object(max_members);
}

}  // namespace avpn::control
