#include "netlink/message.hpp"

#include <libmnl/libmnl.h>

#include <cerrno>
#include <climits>

namespace avpn::nl {

namespace {

// nla_len is 16 bits: one attribute (header included) never exceeds this.
constexpr size_t kMaxAttrLen = 0xffff;

}  // namespace

MsgWriter::MsgWriter(uint8_t* buf, size_t capacity, uint16_t type, uint16_t flags)
    : nlh_(reinterpret_cast<nlmsghdr*>(buf)), capacity_(capacity) {
    // A region too small for the header is reported like any other append
    // that does not fit; the header is still written into a valid place only
    // when there is room for it.
    if (capacity < NLMSG_HDRLEN) {
        full_ = true;
        capacity_ = 0;
        placeholder_ = nlmsghdr{NLMSG_HDRLEN, type, flags, 0, 0};
        nlh_ = &placeholder_;
        return;
    }
    nlh_ = mnl_nlmsg_put_header(buf);
    nlh_->nlmsg_type = type;
    nlh_->nlmsg_flags = flags;
}

void* MsgWriter::put_fixed_raw(size_t len) {
    size_t aligned = NLMSG_ALIGN(len);
    if (full_ || aligned > capacity_ - nlh_->nlmsg_len) {
        full_ = true;
        return nullptr;
    }
    return mnl_nlmsg_put_extra_header(nlh_, len);  // zeroes the region
}

bool MsgWriter::put_raw(const void* data, size_t len) {
    void* out = put_fixed_raw(len);
    if (!out) return false;
    if (len) std::memcpy(out, data, len);
    return true;
}

bool MsgWriter::put(uint16_t type, const void* data, size_t len) {
    static const uint8_t nothing = 0;
    if (len == 0) data = &nothing;  // memcpy never sees a null pointer
    if (full_ || NLA_HDRLEN + len > kMaxAttrLen ||
        !mnl_attr_put_check(nlh_, capacity_, type, len, data)) {
        full_ = true;
        return false;
    }
    return true;
}

bool MsgWriter::put_str(uint16_t type, std::string_view s) {
    size_t payload = s.size() + 1;
    size_t total = NLA_ALIGN(NLA_HDRLEN + payload);
    if (full_ || NLA_HDRLEN + payload > kMaxAttrLen || total > capacity_ - nlh_->nlmsg_len) {
        full_ = true;
        return false;
    }
    auto* attr = reinterpret_cast<nlattr*>(reinterpret_cast<uint8_t*>(nlh_) + NLMSG_ALIGN(nlh_->nlmsg_len));
    attr->nla_type = type;
    attr->nla_len = uint16_t(NLA_HDRLEN + payload);
    auto* out = reinterpret_cast<uint8_t*>(attr) + NLA_HDRLEN;
    std::memcpy(out, s.data(), s.size());
    std::memset(out + s.size(), 0, total - NLA_HDRLEN - s.size());
    nlh_->nlmsg_len += uint32_t(total);
    return true;
}

std::optional<MsgWriter::Nest> MsgWriter::begin_nest(uint16_t type) {
    if (full_) return std::nullopt;
    nlattr* a = mnl_attr_nest_start_check(nlh_, capacity_, type);
    if (!a) {
        full_ = true;
        return std::nullopt;
    }
    return Nest{a};
}

bool MsgWriter::end_nest(Nest n) {
    auto tail = reinterpret_cast<uint8_t*>(nlh_) + nlh_->nlmsg_len;
    if (size_t(tail - reinterpret_cast<uint8_t*>(n.attr)) > kMaxAttrLen) {
        full_ = true;
        return false;
    }
    mnl_attr_nest_end(nlh_, n.attr);
    return true;
}

void MsgWriter::cancel_nest(Nest n) { mnl_attr_nest_cancel(nlh_, n.attr); }

std::optional<std::string_view> Attr::str() const {
    if (!present) return std::nullopt;
    auto* p = reinterpret_cast<const char*>(data.data());
    size_t n = 0;
    while (n < data.size() && p[n] != '\0') ++n;
    return std::string_view(p, n);
}

std::optional<IpAddr> Attr::addr() const {
    if (!present) return std::nullopt;
    if (data.size() == 4) return addr(Family::v4);
    if (data.size() == 16) return addr(Family::v6);
    return std::nullopt;
}

std::optional<IpAddr> Attr::addr(Family f) const {
    size_t want = f == Family::v4 ? 4 : 16;
    if (!present || data.size() != want) return std::nullopt;
    IpAddr a;
    a.family = f;
    std::memcpy(a.bytes.data(), data.data(), want);
    return a;
}

bool AttrReader::next(Attr& out) {
    if (rest_.empty() || malformed_) return false;
    if (rest_.size() < NLA_HDRLEN) {
        malformed_ = true;
        return false;
    }
    nlattr hdr;
    std::memcpy(&hdr, rest_.data(), sizeof hdr);
    if (hdr.nla_len < NLA_HDRLEN || hdr.nla_len > rest_.size()) {
        malformed_ = true;
        return false;
    }
    out.type = hdr.nla_type & NLA_TYPE_MASK;
    out.data = rest_.subspan(NLA_HDRLEN, hdr.nla_len - NLA_HDRLEN);
    out.present = true;
    size_t step = std::min<size_t>(NLA_ALIGN(hdr.nla_len), rest_.size());
    rest_ = rest_.subspan(step);
    return true;
}

bool parse_attrs(Bytes region, std::span<Attr> table) {
    AttrReader r(region);
    Attr a;
    while (r.next(a))
        if (a.type < table.size()) table[a.type] = a;
    return !r.malformed();
}

bool MsgReader::next(const nlmsghdr*& out) {
    if (rest_.empty() || malformed_) return false;
    auto* h = reinterpret_cast<const nlmsghdr*>(rest_.data());
    // Not mnl_nlmsg_ok(): it compares the length as an int, so a length of
    // 2^31 or more passes, runs past the datagram, and one near 2^32 aligns
    // to 0 and never advances.
    if (rest_.size() < NLMSG_HDRLEN || h->nlmsg_len < NLMSG_HDRLEN || h->nlmsg_len > rest_.size()) {
        malformed_ = true;
        return false;
    }
    out = h;
    size_t step = std::min<size_t>(NLMSG_ALIGN(h->nlmsg_len), rest_.size());
    rest_ = rest_.subspan(step);
    return true;
}

Bytes attrs_after(const nlmsghdr* h, size_t fixed_len) {
    size_t start = NLMSG_HDRLEN + NLMSG_ALIGN(fixed_len);
    if (h->nlmsg_len <= start) return {};
    return {reinterpret_cast<const uint8_t*>(h) + start, h->nlmsg_len - start};
}

namespace {

// The errno of a reply's error field (negative from the kernel, positive
// from some userspace senders). INT_MIN has no positive int: it is not an
// errno either, so it reads as EPROTO rather than overflowing.
int errno_of(int wire) {
    if (wire == INT_MIN) return EPROTO;
    return wire < 0 ? -wire : wire;
}

void read_extack(const nlmsghdr* h, size_t tlv_offset, KernelReply& r) {
    if (!(h->nlmsg_flags & NLM_F_ACK_TLVS) || h->nlmsg_len <= tlv_offset) return;
    Bytes tlvs{reinterpret_cast<const uint8_t*>(h) + tlv_offset, h->nlmsg_len - tlv_offset};
    AttrTable<NLMSGERR_ATTR_MAX + 1> t{};
    parse_attrs(tlvs, t);  // a damaged extack still leaves the errno
    if (auto m = t[NLMSGERR_ATTR_MSG].str()) r.message = *m;
    if (auto o = t[NLMSGERR_ATTR_OFFS].u32()) r.bad_attr_offset = *o;
}

}  // namespace

std::optional<KernelReply> parse_error_message(const nlmsghdr* h) {
    auto e = fixed_header<nlmsgerr>(h);
    if (!e) return std::nullopt;
    KernelReply r;
    r.seq = e->msg.nlmsg_seq;
    r.error = errno_of(e->error);
    // Uncapped errors echo the whole request before the TLVs.
    size_t payload = (h->nlmsg_flags & NLM_F_CAPPED) ? sizeof(nlmsgerr) : sizeof(int) + e->msg.nlmsg_len;
    read_extack(h, NLMSG_HDRLEN + NLMSG_ALIGN(payload), r);
    return r;
}

KernelReply parse_done_message(const nlmsghdr* h) {
    KernelReply r;
    r.seq = h->nlmsg_seq;
    if (auto err = fixed_header<int>(h)) r.error = errno_of(*err);
    read_extack(h, NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(int)), r);
    return r;
}

}  // namespace avpn::nl
