// The vici wire format (strongSwan's "Versatile IKE Control Interface"):
// a message is a tree of sections holding ordered key/values, lists of values
// and sub-sections. This file holds the tree and its binary codec; packets and
// framing are in packet.hpp. Decoding never trusts a length: every malformed
// input is an Error, never a crash or a read past the buffer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"

namespace avpn::vici {

// Element type bytes of the message encoding.
enum class ElementType : uint8_t {
    SectionStart = 1,
    SectionEnd = 2,
    KeyValue = 3,
    ListStart = 4,
    ListItem = 5,
    ListEnd = 6,
};

// Limits. Names carry an 8-bit length, values a 16-bit one. Sections nest
// "to arbitrary levels" in the spec; avpn caps the depth so a hostile peer
// cannot make the (recursive) tree deep enough to exhaust the stack.
inline constexpr size_t kMaxNameLength = 255;
inline constexpr size_t kMaxValueLength = 65535;
inline constexpr size_t kMaxDepth = 32;

struct Entry;

// A section: the implicit root of a message or a named sub-section. Entries
// keep their wire order (charon cares about order in some places, e.g. the
// authentication rounds local-1, local-2).
class Section {
public:
    const std::vector<Entry>& entries() const { return entries_; }
    bool empty() const { return entries_.empty(); }

    // Look-ups by key; nullptr when absent or of another kind.
    const std::string* value(std::string_view key) const;
    const std::vector<std::string>* list(std::string_view key) const;
    const Section* section(std::string_view key) const;
    std::string value_or(std::string_view key, std::string_view fallback = {}) const;
    bool has(std::string_view key) const;

    // Appends (no checks: the Builder is the checked way to make messages;
    // the decoder checks on the way in).
    void add_value(std::string name, std::string value);
    void add_list(std::string name, std::vector<std::string> items);
    Section& add_section(std::string name);

    bool operator==(const Section&) const;

private:
    std::vector<Entry> entries_;
};

struct Entry {
    enum class Kind : uint8_t { Value, List, Section };
    Kind kind = Kind::Value;
    std::string name;
    std::string value;               // Kind::Value
    std::vector<std::string> items;  // Kind::List
    Section section;                 // Kind::Section
    bool operator==(const Entry&) const = default;
};

// The encoded size of a message, without building it.
size_t encoded_size(const Section& message);

// Encodes a message (no packet header). Fails on a name or value longer than
// the wire allows, an empty name, or nesting deeper than kMaxDepth.
Result<std::vector<uint8_t>> encode_message(const Section& message);

// Appends the encoding to `out` (same checks as encode_message).
Status append_message(const Section& message, std::vector<uint8_t>& out);

// Decodes a whole buffer as one message. Rejects: truncated elements,
// unknown element types, unbalanced sections, list items outside a list,
// nested lists, anything but items inside a list, unclosed lists or sections,
// empty or duplicate key names, nesting deeper than kMaxDepth.
Result<Section> decode_message(std::span<const uint8_t> bytes);

}  // namespace avpn::vici
