// A bounded parser for the control protocol's messages (protocol.hpp): one
// JSON object whose values are strings, integers, booleans or null, nothing
// nested. That is all a request or a reply needs, and a parser this small
// can be read in one sitting and fuzzed to the end: every input is either
// an object or an Error naming the byte offset and the reason; nothing is
// thrown, nothing recurses, and sizes are bounded by the caller's frame
// limit and `max_members`.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "common/result.hpp"

namespace avpn::control {

struct FlatValue {
    enum class Type { string, integer, boolean, null };
    Type type = Type::null;
    std::string text;   // string
    int64_t integer = 0;
    bool boolean = false;
};

using FlatObject = std::map<std::string, FlatValue, std::less<>>;

// Duplicate keys, trailing bytes, fractions, exponents, nested values, raw
// control characters in strings and lone UTF-16 surrogates are errors.
Result<FlatObject> parse_flat_object(std::string_view text, size_t max_members = 16);

}  // namespace avpn::control
