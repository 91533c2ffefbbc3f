#include "orchestrator/config/toml_prescan.hpp"

namespace avpn::config {

namespace {

enum class State { normal, comment, basic, literal, ml_basic, ml_literal };

class Scanner {
public:
    explicit Scanner(std::string_view s) : s_(s) {}
    std::optional<SyntaxError> run();

private:
    bool at(std::string_view token) const { return s_.substr(i_, token.size()) == token; }
    // Moves past the current byte, keeping line and column (in code points).
    void advance() {
        unsigned char ch = static_cast<unsigned char>(s_[i_++]);
        if (ch == '\n') {
            ++line_, column_ = 1;
        } else if ((ch & 0xC0) != 0x80) {
            ++column_;
        }
    }
    void skip(size_t n) {
        for (size_t k = 0; k < n && i_ < s_.size(); ++k) advance();
    }
    bool line_ends_here() const;          // only spaces/tabs/CR until a newline
    bool non_ascii_after_blanks() const;  // spaces/tabs, then a non-ASCII byte
    SyntaxError error_after_backslash() const {
        return error("toml++ 3.3 cannot read a non-ASCII character after a backslash in a \"\"\" string; "
                     "escape it (\\uXXXX) or keep it off the line-ending backslash");
    }
    SyntaxError error(const char* message) const { return SyntaxError{Pos{line_, column_}, message}; }
    std::optional<SyntaxError> step();
    // Past the closing delimiter; up to two more quotes belong to the content.
    std::optional<SyntaxError> end_multiline(char quote) {
        skip(3);
        for (int extra = 0; extra < 2 && i_ < s_.size() && s_[i_] == quote; ++extra) skip(1);
        state_ = State::normal;
        return std::nullopt;
    }

    std::string_view s_;
    size_t i_ = 0;
    int line_ = 1, column_ = 1;
    State state_ = State::normal;
    bool trimming_ = false;  // after a line-ending backslash in a """ string
};

bool Scanner::non_ascii_after_blanks() const {
    size_t j = i_ + 1;
    while (j < s_.size() && (s_[j] == ' ' || s_[j] == '\t')) ++j;
    return j < s_.size() && static_cast<unsigned char>(s_[j]) >= 0x80;
}

bool Scanner::line_ends_here() const {
    size_t j = i_ + 1;
    while (j < s_.size() && (s_[j] == ' ' || s_[j] == '\t' || s_[j] == '\r')) ++j;
    return j < s_.size() && s_[j] == '\n';
}

std::optional<SyntaxError> Scanner::step() {
    unsigned char ch = static_cast<unsigned char>(s_[i_]);
    switch (state_) {
        case State::normal:
            if (ch >= 0x80) return error("non-ASCII character outside a string or comment");
            if (at("\"\"\"") || at("'''")) {
                state_ = ch == '"' ? State::ml_basic : State::ml_literal;
                skip(3);
                return std::nullopt;
            }
            if (ch == '#') state_ = State::comment;
            if (ch == '"') state_ = State::basic;
            if (ch == '\'') state_ = State::literal;
            break;
        case State::comment:
            if (ch == '\n') state_ = State::normal;
            break;
        case State::basic:
            if (ch == '\\' && i_ + 1 < s_.size() && s_[i_ + 1] != '\n') {
                skip(2);  // an escaped quote does not end the string
                return std::nullopt;
            }
            if (ch == '"' || ch == '\n') state_ = State::normal;  // a newline here is toml++'s error
            break;
        case State::literal:
            if (ch == '\'' || ch == '\n') state_ = State::normal;
            break;
        case State::ml_basic:
            if (trimming_) {
                if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n') break;
                if (ch >= 0x80) return error_after_backslash();
                trimming_ = false;
            }
            if (ch == '\\') {
                // toml++ asks whether what follows a backslash is whitespace
                // (a line-ending backslash); an escape is ASCII anyway.
                if (non_ascii_after_blanks()) return error_after_backslash();
                trimming_ = line_ends_here();
                skip(trimming_ ? 1 : 2);
                return std::nullopt;
            }
            if (at("\"\"\"")) return end_multiline('"');
            break;
        case State::ml_literal:
            if (at("'''")) return end_multiline('\'');
            break;
    }
    advance();
    return std::nullopt;
}

std::optional<SyntaxError> Scanner::run() {
    while (i_ < s_.size())
        if (auto e = step()) return e;
    return std::nullopt;
}

}  // namespace

std::optional<SyntaxError> find_unsafe_non_ascii(std::string_view toml) { return Scanner(toml).run(); }

}  // namespace avpn::config
