// The reconciler's unit of work: one create, update or delete of one kernel
// object. The same Op list is what `avpnctl apply --dry-run` prints and what
// apply executes, and every Op knows its inverse, so a failed apply can be
// rolled back exactly.
#pragma once

#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "netlink/objects.hpp"

namespace avpn {

// Alternatives are in dependency order: apply creates/updates in this order
// and deletes in the reverse one.
using KernelObject = std::variant<nl::Link, nl::InterfaceAddress, nl::WgDevice, nl::XfrmSa,
                                  nl::XfrmPolicy, nl::Route, nl::Rule>;

enum class OpKind { create, update, remove };

struct Op {
    OpKind kind = OpKind::create;
    KernelObject object;                 // create/update: the new object; remove: the observed one
    std::optional<KernelObject> previous;  // update: what the kernel had (for undo and display)

    size_t phase() const { return object.index(); }
    Op inverse() const;
};

// Human names of the kinds, in KernelObject order ("link", "address", ...).
std::string_view object_kind_name(size_t phase);
inline constexpr size_t kObjectKinds = std::variant_size_v<KernelObject>;

// One line describing the object, iproute2-style ("10.1.0.0/24 dev avpn-corp table 7100").
std::string describe(const KernelObject&);
std::string_view to_string(OpKind);

// Per-kind counts for apply's summary.
struct OpCounts {
    size_t created[kObjectKinds] = {};
    size_t updated[kObjectKinds] = {};
    size_t removed[kObjectKinds] = {};
    size_t total() const;
};
OpCounts count(const std::vector<Op>&);

}  // namespace avpn
