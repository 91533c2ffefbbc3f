// Netlink messages: a bounded writer and validating readers.
//
// The writer builds one message in a region the caller owns (a batch chunk or
// a stack buffer). Every append checks the room left first; one that does not
// fit changes nothing, returns false and marks the writer full. Full is
// sticky, so an encoder can be written straight-line and its caller (the
// batcher) sees "does not fit" once, flushes to a fresh chunk and retries.
//
// The readers never trust a length: a message or attribute whose length runs
// past its container is reported as malformed, and unknown attribute types
// are skipped, so a newer kernel's extra attributes are harmless.
#pragma once

#include <linux/netlink.h>
#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string_view>
#include <type_traits>

#include "common/ip.hpp"
#include "common/result.hpp"

namespace avpn::nl {

using Bytes = std::span<const uint8_t>;

class MsgWriter {
public:
    struct Nest {
        nlattr* attr = nullptr;
    };

    // buf must be 4-byte aligned; the message never grows past capacity.
    MsgWriter(uint8_t* buf, size_t capacity, uint16_t type, uint16_t flags);
    MsgWriter(const MsgWriter&) = delete;
    MsgWriter& operator=(const MsgWriter&) = delete;

    bool full() const { return full_; }
    void mark_full() { full_ = true; }
    // Sets the message type and flags (encoders that get a writer from a batch).
    void set_type(uint16_t type, uint16_t flags) {
        nlh_->nlmsg_type = type;
        nlh_->nlmsg_flags = flags;
    }
    nlmsghdr* header() { return nlh_; }
    const nlmsghdr* header() const { return nlh_; }
    Bytes bytes() const { return {reinterpret_cast<const uint8_t*>(nlh_), nlh_->nlmsg_len}; }
    size_t capacity() const { return capacity_; }

    // A fixed struct appended at the tail, zeroed: the family header
    // (rtmsg, ifinfomsg...) before any attribute, or the struct some nests
    // start with. nullptr (and full) when it does not fit. Netlink aligns to
    // 4 only (a message in a batch starts at any multiple of 4), so the
    // pointer is valid only for structs that need no more than that.
    template <class T>
    T* put_fixed() {
        static_assert(alignof(T) <= NLMSG_ALIGNTO, "T needs more alignment than netlink gives: use put_struct");
        return static_cast<T*>(put_fixed_raw(sizeof(T)));
    }
    // The same for a struct built elsewhere and copied in: any alignment
    // (xfrm_usersa_info and xfrm_userpolicy_info hold u64 lifetimes).
    template <class T>
    bool put_struct(const T& v) {
        static_assert(std::is_trivially_copyable_v<T>);
        void* out = put_fixed_raw(sizeof(T));
        if (out) std::memcpy(out, &v, sizeof v);
        return out != nullptr;
    }

    // Raw bytes at the tail, padded to 4 (a struct inside a nest, an echoed message).
    bool put_raw(const void* data, size_t len);
    bool put(uint16_t type, const void* data, size_t len);
    bool put(uint16_t type, Bytes data) { return put(type, data.data(), data.size()); }
    bool put_u8(uint16_t type, uint8_t v) { return put(type, &v, sizeof v); }
    bool put_u16(uint16_t type, uint16_t v) { return put(type, &v, sizeof v); }
    bool put_u32(uint16_t type, uint32_t v) { return put(type, &v, sizeof v); }
    bool put_u64(uint16_t type, uint64_t v) { return put(type, &v, sizeof v); }
    bool put_flag(uint16_t type) { return put(type, nullptr, 0); }
    bool put_str(uint16_t type, std::string_view s);  // NUL-terminated on the wire
    bool put_addr(uint16_t type, const IpAddr& a) { return put(type, a.bytes.data(), a.size()); }

    // A nest whose length does not fit the 16-bit nla_len on end counts as
    // "does not fit" as well. Nests close in reverse order.
    std::optional<Nest> begin_nest(uint16_t type);
    bool end_nest(Nest n);
    void cancel_nest(Nest n);  // drops the nest and everything inside it

private:
    void* put_fixed_raw(size_t len);

    nlmsghdr* nlh_;
    nlmsghdr placeholder_{};  // stands in when the region cannot hold a header
    size_t capacity_;
    bool full_ = false;
};

// One attribute as read from a message: its type (flag bits stripped) and
// payload. Typed getters check the exact payload length.
struct Attr {
    uint16_t type = 0;
    Bytes data;
    bool present = false;

    std::optional<uint8_t> u8() const { return fixed<uint8_t>(); }
    std::optional<uint16_t> u16() const { return fixed<uint16_t>(); }
    std::optional<uint32_t> u32() const { return fixed<uint32_t>(); }
    std::optional<uint64_t> u64() const { return fixed<uint64_t>(); }
    // The string up to its first NUL (a missing NUL is tolerated).
    std::optional<std::string_view> str() const;
    // 4 bytes: IPv4; 16 bytes: IPv6; anything else: nullopt.
    std::optional<IpAddr> addr() const;
    std::optional<IpAddr> addr(Family f) const;

    template <class T>
    std::optional<T> fixed() const {
        if (!present || data.size() != sizeof(T)) return std::nullopt;
        T v;
        std::memcpy(&v, data.data(), sizeof v);
        return v;
    }
    // Copies a struct from a payload at least sizeof(T) long (newer kernels
    // may append fields; structs ending in a flexible array keep it empty).
    template <class T>
    bool read_prefix(T& out) const {
        if (!present || data.size() < sizeof(T)) return false;
        std::memcpy(&out, data.data(), sizeof out);
        return true;
    }
};

// Walks the attributes of one region (a message tail or a nest's payload).
class AttrReader {
public:
    explicit AttrReader(Bytes region) : rest_(region) {}
    // false at the end; check malformed() to tell the end from a bad length.
    bool next(Attr& out);
    bool malformed() const { return malformed_; }

private:
    Bytes rest_;
    bool malformed_ = false;
};

// Fills table[type] for every attribute whose type is below table.size()
// (later duplicates win); unknown types are skipped. false: malformed.
bool parse_attrs(Bytes region, std::span<Attr> table);

template <size_t N>
using AttrTable = std::array<Attr, N>;

// Walks the messages of one received datagram.
class MsgReader {
public:
    explicit MsgReader(Bytes datagram) : rest_(datagram) {}
    bool next(const nlmsghdr*& out);
    bool malformed() const { return malformed_; }

private:
    Bytes rest_;
    bool malformed_ = false;
};

// A copy of the fixed header that follows nlmsghdr, or nullopt when the
// message is too short. A copy, never a pointer: messages are only 4-byte
// aligned and some headers hold u64s (xfrm_usersa_info's lifetimes), which
// are undefined behaviour to read in place and fault on strict-alignment CPUs.
template <class T>
std::optional<T> fixed_header(const nlmsghdr* h) {
    if (h->nlmsg_len < NLMSG_LENGTH(sizeof(T))) return std::nullopt;
    T v;
    std::memcpy(&v, NLMSG_DATA(h), sizeof v);
    return v;
}

// The attribute region after a fixed header of fixed_len bytes (empty when short).
Bytes attrs_after(const nlmsghdr* h, size_t fixed_len);

// A received object message: a copy of its fixed header, with its attributes
// parsed into table. what names the parse in errors ("parse route").
template <class Hdr, size_t N>
Result<Hdr> read_message(const nlmsghdr* h, std::array<Attr, N>& table, const char* what) {
    std::optional<Hdr> fixed = fixed_header<Hdr>(h);
    if (!fixed) return Error{what, "netlink message", "too short for its fixed header"};
    if (!parse_attrs(attrs_after(h, sizeof(Hdr)), table)) return Error{what, "netlink message", "malformed attributes"};
    return *fixed;
}

// AF_INET / AF_INET6 as a Family; nullopt for any other family.
inline std::optional<Family> inet_family(unsigned af) {
    if (af == AF_INET) return Family::v4;
    if (af == AF_INET6) return Family::v6;
    return std::nullopt;
}

// What the kernel said in an NLMSG_ERROR (or a failed NLMSG_DONE).
struct KernelReply {
    uint32_t seq = 0;     // the request's sequence number
    int error = 0;        // 0: success; else a positive errno
    std::string_view message;   // NLMSGERR_ATTR_MSG (extack), may be empty
    uint32_t bad_attr_offset = 0;  // NLMSGERR_ATTR_OFFS, 0 when absent
};

// Parses an NLMSG_ERROR message; nullopt when too short to hold nlmsgerr.
// A capped ack (NETLINK_CAP_ACK) only echoes the request header; the
// extack TLVs follow when NLM_F_ACK_TLVS is set.
std::optional<KernelReply> parse_error_message(const nlmsghdr* h);
// NLMSG_DONE of a dump: an int error, then extack TLVs when flagged.
KernelReply parse_done_message(const nlmsghdr* h);

}  // namespace avpn::nl
