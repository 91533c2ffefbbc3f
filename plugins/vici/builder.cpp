#include "plugins/vici/builder.hpp"

namespace avpn::vici {

Builder::Builder() { open_.push_back(&root_); }

Section& Builder::current() { return *open_.back(); }

void Builder::record(std::string why) {
    if (errors_++ == 0) first_ = Error{"building vici message", "", std::move(why)};
}

// An append is possible unless an error was recorded; then it only counts.
bool Builder::usable() {
    if (errors_ == 0) return true;
    ++errors_;
    return false;
}

bool Builder::check_key(std::string_view key) {
    if (in_list_) {
        record("'" + std::string(key) + "' added inside list '" + list_name_ + "'");
        return false;
    }
    if (key.empty() || key.size() > kMaxNameLength) {
        record("name of " + std::to_string(key.size()) + " bytes (1..255 fit)");
        return false;
    }
    if (current().has(key)) {
        record("duplicate key '" + std::string(key) + "'");
        return false;
    }
    return true;
}

Builder& Builder::begin_section(std::string_view name) {
    if (!usable() || !check_key(name)) return *this;
    if (open_.size() > kMaxDepth) {
        record("sections nested deeper than 32");
        return *this;
    }
    open_.push_back(&current().add_section(std::string(name)));
    return *this;
}

Builder& Builder::end_section() {
    if (!usable()) return *this;
    if (in_list_) {
        record("section end inside list '" + list_name_ + "'");
    } else if (open_.size() == 1) {
        record("section end without a section");
    } else {
        open_.pop_back();
    }
    return *this;
}

Builder& Builder::add(std::string_view key, std::string_view value) {
    if (!usable() || !check_key(key)) return *this;
    if (value.size() > kMaxValueLength) {
        record("value of '" + std::string(key) + "' is " + std::to_string(value.size()) + " bytes (65535 fit)");
        return *this;
    }
    current().add_value(std::string(key), std::string(value));
    return *this;
}

Builder& Builder::add(std::string_view key, uint64_t value) { return add(key, std::to_string(value)); }

Builder& Builder::begin_list(std::string_view name) {
    if (!usable()) return *this;
    if (in_list_) {
        record("list '" + std::string(name) + "' nested inside list '" + list_name_ + "'");
        return *this;
    }
    if (!check_key(name)) return *this;
    in_list_ = true;
    list_name_ = std::string(name);
    items_.clear();
    return *this;
}

Builder& Builder::item(std::string_view value) {
    if (!usable()) return *this;
    if (!in_list_) {
        record("list item outside a list");
    } else if (value.size() > kMaxValueLength) {
        record("item of list '" + list_name_ + "' is " + std::to_string(value.size()) + " bytes (65535 fit)");
    } else {
        items_.emplace_back(value);
    }
    return *this;
}

Builder& Builder::end_list() {
    if (!usable()) return *this;
    if (!in_list_) {
        record("list end without a list");
        return *this;
    }
    current().add_list(std::move(list_name_), std::move(items_));
    in_list_ = false;
    list_name_.clear();
    items_.clear();
    return *this;
}

Builder& Builder::add_list(std::string_view name, const std::vector<std::string>& items) {
    begin_list(name);
    for (const std::string& i : items) item(i);
    return end_list();
}

Result<Section> Builder::finish() {
    if (errors_ == 0 && in_list_) record("list '" + list_name_ + "' not closed");
    if (errors_ == 0 && open_.size() > 1) record(std::to_string(open_.size() - 1) + " section(s) not closed");
    if (errors_ > 0) {
        Error e = first_;
        if (errors_ > 1) e.why += " (and " + std::to_string(errors_ - 1) + " more error(s))";
        return e;
    }
    open_.resize(1);
    return std::move(root_);
}

}  // namespace avpn::vici
