#include "plugins/vici/message.hpp"

#include <string>
#include <unordered_set>

namespace avpn::vici {

// ---- tree ------------------------------------------------------------------

namespace {
const Entry* find(const std::vector<Entry>& entries, std::string_view key, Entry::Kind kind) {
    for (const Entry& e : entries)
        if (e.name == key) return e.kind == kind ? &e : nullptr;
    return nullptr;
}
}  // namespace

const std::string* Section::value(std::string_view key) const {
    const Entry* e = find(entries_, key, Entry::Kind::Value);
    return e ? &e->value : nullptr;
}

const std::vector<std::string>* Section::list(std::string_view key) const {
    const Entry* e = find(entries_, key, Entry::Kind::List);
    return e ? &e->items : nullptr;
}

const Section* Section::section(std::string_view key) const {
    const Entry* e = find(entries_, key, Entry::Kind::Section);
    return e ? &e->section : nullptr;
}

std::string Section::value_or(std::string_view key, std::string_view fallback) const {
    const std::string* v = value(key);
    return v ? *v : std::string(fallback);
}

bool Section::has(std::string_view key) const {
    for (const Entry& e : entries_)
        if (e.name == key) return true;
    return false;
}

void Section::add_value(std::string name, std::string value) {
    Entry& e = entries_.emplace_back();
    e.kind = Entry::Kind::Value;
    e.name = std::move(name);
    e.value = std::move(value);
}

void Section::add_list(std::string name, std::vector<std::string> items) {
    Entry& e = entries_.emplace_back();
    e.kind = Entry::Kind::List;
    e.name = std::move(name);
    e.items = std::move(items);
}

Section& Section::add_section(std::string name) {
    Entry& e = entries_.emplace_back();
    e.kind = Entry::Kind::Section;
    e.name = std::move(name);
    return e.section;
}

bool Section::operator==(const Section& other) const { return entries_ == other.entries_; }

// ---- encoding ----------------------------------------------------------------

namespace {

size_t name_size(const std::string& n) { return 1 + n.size(); }
size_t blob_size(const std::string& v) { return 2 + v.size(); }

size_t section_body_size(const Section& s) {
    size_t n = 0;
    for (const Entry& e : s.entries()) {
        n += 1 + name_size(e.name);
        switch (e.kind) {
        case Entry::Kind::Value: n += blob_size(e.value); break;
        case Entry::Kind::List:
            for (const std::string& item : e.items) n += 1 + blob_size(item);
            n += 1;  // LIST_END
            break;
        case Entry::Kind::Section: n += section_body_size(e.section) + 1; break;
        }
    }
    return n;
}

Error encode_error(std::string why) { return Error{"encoding vici message", "", std::move(why)}; }

void put_name(std::vector<uint8_t>& out, const std::string& n) {
    out.push_back(uint8_t(n.size()));
    out.insert(out.end(), n.begin(), n.end());
}

void put_blob(std::vector<uint8_t>& out, const std::string& v) {
    out.push_back(uint8_t(v.size() >> 8));
    out.push_back(uint8_t(v.size() & 0xff));
    out.insert(out.end(), v.begin(), v.end());
}

Status check_name(const std::string& n) {
    if (n.empty()) return encode_error("empty name");
    if (n.size() > kMaxNameLength)
        return encode_error("name '" + n.substr(0, 32) + "...' is " + std::to_string(n.size()) +
                            " bytes, at most 255 fit");
    return {};
}

Status check_blob(const std::string& name, const std::string& v) {
    if (v.size() > kMaxValueLength)
        return encode_error("value of '" + name + "' is " + std::to_string(v.size()) +
                            " bytes, at most 65535 fit");
    return {};
}

Status put_section_body(const Section& s, std::vector<uint8_t>& out, size_t depth);

Status put_entry(const Entry& e, std::vector<uint8_t>& out, size_t depth) {
    if (Status st = check_name(e.name); !st) return st;
    switch (e.kind) {
    case Entry::Kind::Value:
        if (Status st = check_blob(e.name, e.value); !st) return st;
        out.push_back(uint8_t(ElementType::KeyValue));
        put_name(out, e.name);
        put_blob(out, e.value);
        return {};
    case Entry::Kind::List:
        out.push_back(uint8_t(ElementType::ListStart));
        put_name(out, e.name);
        for (const std::string& item : e.items) {
            if (Status st = check_blob(e.name, item); !st) return st;
            out.push_back(uint8_t(ElementType::ListItem));
            put_blob(out, item);
        }
        out.push_back(uint8_t(ElementType::ListEnd));
        return {};
    case Entry::Kind::Section:
        if (depth + 1 > kMaxDepth) return encode_error("sections nested deeper than 32");
        out.push_back(uint8_t(ElementType::SectionStart));
        put_name(out, e.name);
        if (Status st = put_section_body(e.section, out, depth + 1); !st) return st;
        out.push_back(uint8_t(ElementType::SectionEnd));
        return {};
    }
    return encode_error("unknown entry kind");
}

Status put_section_body(const Section& s, std::vector<uint8_t>& out, size_t depth) {
    std::unordered_set<std::string_view> names;
    for (const Entry& e : s.entries()) {
        if (!names.insert(e.name).second) return encode_error("duplicate key '" + e.name + "'");
        if (Status st = put_entry(e, out, depth); !st) return st;
    }
    return {};
}

}  // namespace

size_t encoded_size(const Section& message) { return section_body_size(message); }

Status append_message(const Section& message, std::vector<uint8_t>& out) {
    const size_t start = out.size();
    out.reserve(start + encoded_size(message));
    Status st = put_section_body(message, out, 0);
    if (!st) out.resize(start);
    return st;
}

Result<std::vector<uint8_t>> encode_message(const Section& message) {
    std::vector<uint8_t> out;
    if (Status st = append_message(message, out); !st) return st.error();
    return out;
}

// ---- decoding ----------------------------------------------------------------

namespace {

// Reads elements from a byte span; every read checks the bytes left.
class Reader {
public:
    explicit Reader(std::span<const uint8_t> b) : b_(b) {}
    bool done() const { return pos_ == b_.size(); }
    size_t pos() const { return pos_; }

    bool byte(uint8_t& out) {
        if (pos_ >= b_.size()) return false;
        out = b_[pos_++];
        return true;
    }
    bool name(std::string_view& out) {
        uint8_t len;
        if (!byte(len) || b_.size() - pos_ < len) return false;
        out = view(len);
        return true;
    }
    bool blob(std::string_view& out) {
        uint8_t hi, lo;
        if (!byte(hi) || !byte(lo)) return false;
        size_t len = size_t(hi) << 8 | lo;
        if (b_.size() - pos_ < len) return false;
        out = view(len);
        return true;
    }

private:
    std::string_view view(size_t len) {
        std::string_view v(reinterpret_cast<const char*>(b_.data()) + pos_, len);
        pos_ += len;
        return v;
    }
    std::span<const uint8_t> b_;
    size_t pos_ = 0;
};

struct Open {
    Section* section;
    std::unordered_set<std::string_view> names;
};

class Decoder {
public:
    explicit Decoder(std::span<const uint8_t> bytes) : in_(bytes) { stack_.push_back({&root_, {}}); }

    Result<Section> run() {
        while (!in_.done()) {
            const size_t at = in_.pos();
            uint8_t type = 0;
            (void)in_.byte(type);
            if (Status st = element(type); !st) return Error{st.error().what, "offset " + std::to_string(at), st.error().why};
        }
        if (in_list_) return fail("list '" + list_name_ + "' is not closed");
        if (stack_.size() > 1) return fail(std::to_string(stack_.size() - 1) + " section(s) not closed");
        return std::move(root_);
    }

private:
    static Error fail(std::string why) { return Error{"decoding vici message", "", std::move(why)}; }
    static Error truncated(std::string_view what) { return fail("truncated " + std::string(what)); }

    Status element(uint8_t type) {
        if (in_list_ && type == uint8_t(ElementType::ListStart))
            return fail("nested list inside list '" + list_name_ + "'");
        if (in_list_ && type != uint8_t(ElementType::ListItem) && type != uint8_t(ElementType::ListEnd))
            return fail("element type " + std::to_string(type) + " inside list '" + list_name_ + "'");
        switch (ElementType(type)) {
        case ElementType::SectionStart: return section_start();
        case ElementType::SectionEnd: return section_end();
        case ElementType::KeyValue: return key_value();
        case ElementType::ListStart: return list_start();
        case ElementType::ListItem: return list_item();
        case ElementType::ListEnd: return list_end();
        }
        return fail("unknown element type " + std::to_string(type));
    }

    Status claim_name(std::string_view name) {
        if (name.empty()) return fail("empty name");
        if (!stack_.back().names.insert(name).second) return fail("duplicate key '" + std::string(name) + "'");
        return {};
    }

    Status section_start() {
        std::string_view name;
        if (!in_.name(name)) return truncated("section name");
        if (Status st = claim_name(name); !st) return st;
        if (stack_.size() > kMaxDepth) return fail("sections nested deeper than 32");
        Section& child = stack_.back().section->add_section(std::string(name));
        stack_.push_back({&child, {}});
        return {};
    }

    Status section_end() {
        if (stack_.size() == 1) return fail("section end without a section");
        stack_.pop_back();
        return {};
    }

    Status key_value() {
        std::string_view name, value;
        if (!in_.name(name)) return truncated("key name");
        if (!in_.blob(value)) return truncated("value of '" + std::string(name) + "'");
        if (Status st = claim_name(name); !st) return st;
        stack_.back().section->add_value(std::string(name), std::string(value));
        return {};
    }

    Status list_start() {
        std::string_view name;
        if (!in_.name(name)) return truncated("list name");
        if (Status st = claim_name(name); !st) return st;
        in_list_ = true;
        list_name_ = std::string(name);
        items_.clear();
        return {};
    }

    Status list_item() {
        if (!in_list_) return fail("list item outside a list");
        std::string_view value;
        if (!in_.blob(value)) return truncated("list item of '" + list_name_ + "'");
        items_.emplace_back(value);
        return {};
    }

    Status list_end() {
        if (!in_list_) return fail("list end without a list");
        stack_.back().section->add_list(std::move(list_name_), std::move(items_));
        in_list_ = false;
        list_name_.clear();
        items_.clear();
        return {};
    }

    Reader in_;
    Section root_;
    std::vector<Open> stack_;
    bool in_list_ = false;
    std::string list_name_;
    std::vector<std::string> items_;
};

}  // namespace

Result<Section> decode_message(std::span<const uint8_t> bytes) { return Decoder(bytes).run(); }

}  // namespace avpn::vici
