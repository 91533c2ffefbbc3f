// A streaming JSON writer: enough for avpn's machine-readable output (plan,
// apply, status), with correct string escaping and no intermediate tree.
// Misuse (a value where a key is expected) is a programming error caught by
// the tests; the writer never produces invalid JSON for valid call sequences.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace avpn {

class JsonWriter {
public:
    explicit JsonWriter(bool pretty = true) : pretty_(pretty) {}

    JsonWriter& begin_object();
    JsonWriter& end_object();
    JsonWriter& begin_array();
    JsonWriter& end_array();
    JsonWriter& key(std::string_view k);

    JsonWriter& value(std::string_view s);
    JsonWriter& value(const char* s) { return value(std::string_view(s)); }
    JsonWriter& value(const std::string& s) { return value(std::string_view(s)); }
    JsonWriter& value(bool b);
    JsonWriter& value(int64_t n);
    JsonWriter& value(uint64_t n);
    JsonWriter& value(int n) { return value(int64_t(n)); }
    JsonWriter& value(unsigned n) { return value(uint64_t(n)); }
    JsonWriter& value(double d);
    JsonWriter& null();

    // key + value in one call
    template <class T>
    JsonWriter& field(std::string_view k, const T& v) {
        key(k);
        return value(v);
    }
    template <class T>
    JsonWriter& field(std::string_view k, const std::optional<T>& v) {
        key(k);
        return v ? value(*v) : null();
    }
    JsonWriter& field_strings(std::string_view k, const std::vector<std::string>& v);

    // Appends an already-serialised JSON value (must be valid JSON).
    JsonWriter& raw(std::string_view json);

    const std::string& str() const { return out_; }
    static std::string quote(std::string_view s);

private:
    void before_value();
    void newline();

    std::string out_;
    struct Level {
        bool object;
        bool empty = true;
    };
    std::vector<Level> stack_;
    bool after_key_ = false;
    bool pretty_;
};

}  // namespace avpn
