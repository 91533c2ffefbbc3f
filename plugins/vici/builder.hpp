// A checked message builder. Every append is validated against the open
// container (no key/value inside a list, no nested list, no item outside a
// list, names and values within the wire limits, unique keys, bounded depth).
// The first error is recorded and the rest counted; appends after an error are
// ignored, so call sites stay straight-line and finish() reports once.
//
//   Builder b;
//   b.begin_section("avpn-x").add("version", "2").add_list("local_addrs", addrs);
//   ... b.end_section();
//   Result<Section> msg = b.finish();
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"
#include "plugins/vici/message.hpp"

namespace avpn::vici {

class Builder {
public:
    Builder();
    Builder(const Builder&) = delete;  // holds pointers into its own tree
    Builder& operator=(const Builder&) = delete;

    Builder& begin_section(std::string_view name);
    Builder& end_section();
    Builder& add(std::string_view key, std::string_view value);
    Builder& add(std::string_view key, uint64_t value);
    Builder& begin_list(std::string_view name);
    Builder& item(std::string_view value);
    Builder& end_list();
    Builder& add_list(std::string_view name, const std::vector<std::string>& items);

    size_t error_count() const { return errors_; }

    // The message, or the first error (with the count of all errors). Fails
    // too when a list or section is still open. The builder is spent after.
    Result<Section> finish();

private:
    bool usable();
    bool check_key(std::string_view key);
    void record(std::string why);
    Section& current();

    Section root_;
    std::vector<Section*> open_;  // open sections, root first
    bool in_list_ = false;
    std::string list_name_;
    std::vector<std::string> items_;
    size_t errors_ = 0;
    Error first_;
};

}  // namespace avpn::vici
