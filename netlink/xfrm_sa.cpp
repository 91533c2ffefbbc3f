// XFRM states: ESP, tunnel mode, one AEAD, optional UDP encapsulation.
#include <arpa/inet.h>
#include <linux/udp.h>
#include <netinet/in.h>

#include <algorithm>
#include <array>
#include <cstdio>

#include "common/crypto.hpp"
#include "netlink/transact.hpp"
#include "netlink/xfrm.hpp"
#include "netlink/xfrm_wire.hpp"

namespace avpn::nl {

using namespace xfrm_wire;

namespace {

// The legacy replay bitmap is 32 packets wide; larger windows go in
// XFRMA_REPLAY_ESN_VAL (and the legacy field must then be 0).
constexpr uint32_t kLegacyReplayWindow = 32;
constexpr size_t kMaxKeyBytes = 64;
constexpr uint32_t kMaxReplayWindow = 4096;

Status check_sa(const XfrmSa& sa, Bytes key) {
    if (sa.src.family != sa.dst.family) return Error{"encode xfrm sa", sa_name(sa), "outer addresses of two families"};
    if (!sa.spi) return Error{"encode xfrm sa", sa_name(sa), "spi 0 is reserved"};
    if (sa.aead.empty() || sa.aead.size() >= sizeof(xfrm_algo_aead::alg_name))
        return Error{"encode xfrm sa", sa_name(sa), "AEAD name empty or longer than 63 characters"};
    if (sa.replay_window > kMaxReplayWindow)
        return Error{"encode xfrm sa", sa_name(sa), "replay window above " + std::to_string(kMaxReplayWindow)};
    // The kernel refuses an ESN state without a window (xfrm_init_replay).
    if (sa.esn && !sa.replay_window) return Error{"encode xfrm sa", sa_name(sa), "ESN needs a replay window"};
    if (key.size() > kMaxKeyBytes || key.size() * 8 != sa.key_bits)
        return Error{"encode xfrm sa", sa_name(sa),
                     "key is " + std::to_string(key.size() * 8) + " bits, the SA says " + std::to_string(sa.key_bits)};
    return {};
}

// ESN states keep their window in XFRMA_REPLAY_ESN_VAL, as do windows too
// wide for the legacy 32-bit bitmap; the legacy field must then be 0.
bool esn_attr(const XfrmSa& sa) { return sa.esn || sa.replay_window > kLegacyReplayWindow; }

void fill_info(xfrm_usersa_info& info, const XfrmSa& sa) {
    info.sel.family = uint16_t(sa.src.af());  // empty selector: any inner traffic
    info.id.daddr = to_wire(sa.dst);
    info.id.spi = htonl(sa.spi);
    info.id.proto = IPPROTO_ESP;
    info.saddr = to_wire(sa.src);
    info.lft.soft_byte_limit = limit_to_wire(sa.soft_bytes);
    info.lft.hard_byte_limit = limit_to_wire(sa.hard_bytes);
    info.lft.soft_packet_limit = limit_to_wire(sa.soft_packets);
    info.lft.hard_packet_limit = limit_to_wire(sa.hard_packets);
    info.lft.soft_add_expires_seconds = sa.soft_seconds;
    info.lft.hard_add_expires_seconds = sa.hard_seconds;
    info.reqid = sa.reqid;
    info.family = uint16_t(sa.src.af());
    info.mode = XFRM_MODE_TUNNEL;
    info.replay_window = esn_attr(sa) ? 0 : uint8_t(sa.replay_window);
    if (sa.esn) info.flags |= XFRM_STATE_ESN;
}

void put_aead(MsgWriter& w, const XfrmSa& sa, Bytes key) {
    alignas(xfrm_algo_aead) std::array<uint8_t, sizeof(xfrm_algo_aead) + kMaxKeyBytes> buf{};
    auto* alg = reinterpret_cast<xfrm_algo_aead*>(buf.data());
    std::memcpy(alg->alg_name, sa.aead.data(), sa.aead.size());
    alg->alg_key_len = sa.key_bits;
    alg->alg_icv_len = sa.icv_bits;
    std::memcpy(buf.data() + sizeof(xfrm_algo_aead), key.data(), key.size());
    w.put(XFRMA_ALG_AEAD, buf.data(), sizeof(xfrm_algo_aead) + key.size());
    crypto::wipe(buf.data(), buf.size());
}

// The carried bitmap fits the new state only when it has the same layout
// and window. Otherwise every position of the new window counts as seen:
// a packet the old SA may have taken is never taken twice, at the cost of
// refusing reordered ones from just before the replace. Nothing received
// yet: nothing seen.
std::vector<uint32_t> carried_bitmap(const ObservedReplay* carry, bool esn_layout, uint32_t window) {
    const size_t words = (window + 31) / 32;
    if (!carry || !carry->known || (!carry->seq && !carry->seq_hi)) return std::vector<uint32_t>(words, 0);
    if (carry->esn_layout == esn_layout && carry->window == window && carry->bitmap.size() >= words)
        return std::vector<uint32_t>(carry->bitmap.begin(), carry->bitmap.begin() + long(words));
    std::vector<uint32_t> all(words, 0xffffffffu);
    if (window % 32) all.back() = (uint32_t(1) << (window % 32)) - 1;
    return all;
}

void put_replay_esn(MsgWriter& w, uint32_t window, const ObservedReplay* carry) {
    uint32_t words = (window + 31) / 32;
    alignas(xfrm_replay_state_esn) std::array<uint8_t, sizeof(xfrm_replay_state_esn) + kMaxReplayWindow / 8> buf{};
    auto* esn = reinterpret_cast<xfrm_replay_state_esn*>(buf.data());
    esn->bmp_len = words;
    esn->replay_window = window;
    if (carry && carry->known) {
        esn->seq = carry->seq;
        esn->seq_hi = carry->seq_hi;
        esn->oseq = carry->oseq;
        esn->oseq_hi = carry->oseq_hi;
        std::vector<uint32_t> bmp = carried_bitmap(carry, true, window);
        std::memcpy(buf.data() + sizeof(xfrm_replay_state_esn), bmp.data(), bmp.size() * 4);
    }
    w.put(XFRMA_REPLAY_ESN_VAL, buf.data(), sizeof(xfrm_replay_state_esn) + words * 4);
}

// A state without ESN has 32-bit counters: a carried sequence that went
// past them cannot be written, so it stays at the top (the SA sends no more,
// as the old one would not have).
void put_replay_legacy(MsgWriter& w, uint32_t window, const ObservedReplay& carry) {
    xfrm_replay_state r{};
    r.oseq = carry.oseq_hi ? UINT32_MAX : carry.oseq;
    r.seq = carry.seq_hi ? UINT32_MAX : carry.seq;
    std::vector<uint32_t> bmp = carried_bitmap(&carry, false, window ? window : 1);
    r.bitmap = bmp.empty() ? 0 : bmp[0];
    w.put(XFRMA_REPLAY_VAL, &r, sizeof r);
}

// The current lifetime goes with the key: bytes and packets count on toward
// the limits, and the add time keeps the SA's age (the seconds limits).
void put_current_lifetime(MsgWriter& w, const ObservedReplay& carry) {
    xfrm_lifetime_cur cur;
    std::memset(&cur, 0, sizeof cur);
    cur.bytes = carry.bytes;
    cur.packets = carry.packets;
    cur.add_time = carry.add_time;
    cur.use_time = carry.use_time;
    w.put(XFRMA_LTIME_VAL, &cur, sizeof cur);
}

void put_encap(MsgWriter& w, const XfrmSa& sa) {
    if (!sa.encap_sport && !sa.encap_dport) return;
    xfrm_encap_tmpl e{};
    e.encap_type = UDP_ENCAP_ESPINUDP;
    e.encap_sport = htons(sa.encap_sport);
    e.encap_dport = htons(sa.encap_dport);
    w.put(XFRMA_ENCAP, &e, sizeof e);
}

// The sequence state, whichever form the kernel keeps it in.
void parse_replay(const AttrTable<XFRMA_MAX + 1>& t, XfrmSa& sa) {
    ObservedReplay& r = sa.observed_replay;
    if (xfrm_replay_state_esn esn; t[XFRMA_REPLAY_ESN_VAL].read_prefix(esn)) {
        sa.replay_window = esn.replay_window;
        r.known = r.esn_layout = true;
        r.window = esn.replay_window;
        r.seq = esn.seq;
        r.seq_hi = esn.seq_hi;
        r.oseq = esn.oseq;
        r.oseq_hi = esn.oseq_hi;
        const Bytes& payload = t[XFRMA_REPLAY_ESN_VAL].data;
        size_t words = std::min<size_t>(esn.bmp_len, (payload.size() - sizeof esn) / 4);
        r.bitmap.resize(words);
        if (words) std::memcpy(r.bitmap.data(), payload.data() + sizeof esn, words * 4);
    } else if (auto legacy = t[XFRMA_REPLAY_VAL].fixed<xfrm_replay_state>()) {
        r.known = true;
        r.window = sa.replay_window;
        r.seq = legacy->seq;
        r.oseq = legacy->oseq;
        r.bitmap = {legacy->bitmap};
    }
}

void parse_sa_attrs(const AttrTable<XFRMA_MAX + 1>& t, XfrmSa& sa) {
    if (xfrm_algo_aead alg; t[XFRMA_ALG_AEAD].read_prefix(alg)) {
        sa.aead = std::string(alg.alg_name, strnlen(alg.alg_name, sizeof alg.alg_name));
        sa.key_bits = alg.alg_key_len;
        sa.icv_bits = alg.alg_icv_len;
        // The key follows the struct; a dump by an unprivileged reader omits it.
        size_t key_bytes = (size_t(alg.alg_key_len) + 7) / 8;
        const Bytes& payload = t[XFRMA_ALG_AEAD].data;
        if (key_bytes && payload.size() >= sizeof(xfrm_algo_aead) + key_bytes)
            sa.observed_key = ObservedKey(std::vector<uint8_t>(payload.data() + sizeof(xfrm_algo_aead),
                                                               payload.data() + sizeof(xfrm_algo_aead) + key_bytes));
    } else {
        sa.aead.clear();
        sa.key_bits = sa.icv_bits = 0;
    }
    if (xfrm_encap_tmpl e; t[XFRMA_ENCAP].read_prefix(e)) {
        sa.encap_sport = ntohs(e.encap_sport);
        sa.encap_dport = ntohs(e.encap_dport);
    }
    parse_replay(t, sa);
    sa.mark = get_mark(t[XFRMA_MARK]);
    sa.if_id = t[XFRMA_IF_ID].u32().value_or(0);
}

}  // namespace

std::string sa_name(const XfrmSa& sa) {
    char spi[16];
    std::snprintf(spi, sizeof spi, "0x%08x", sa.spi);
    return "sa " + sa.src.str() + "->" + sa.dst.str() + " spi " + spi + " reqid " + std::to_string(sa.reqid);
}

Status encode_sa(MsgWriter& w, XfrmWrite op, const XfrmSa& sa, Bytes key, const ObservedReplay* carry) {
    if (auto st = check_sa(sa, key); !st) return st;
    w.set_type(op == XfrmWrite::add ? XFRM_MSG_NEWSA : XFRM_MSG_UPDSA, 0);
    xfrm_usersa_info info;  // u64 lifetimes and stats: built here, copied in (put_struct)
    std::memset(&info, 0, sizeof info);  // padding too, as put_fixed zeroed it
    fill_info(info, sa);
    w.put_struct(info);
    put_aead(w, sa, key);
    put_encap(w, sa);
    // XFRM_MSG_UPDSA ignores sequence state and current lifetime: only a new
    // state takes them.
    const ObservedReplay* c = carry && carry->known && op == XfrmWrite::add ? carry : nullptr;
    if (esn_attr(sa))
        put_replay_esn(w, sa.replay_window, c);
    else if (c)
        put_replay_legacy(w, sa.replay_window, *c);
    if (c) put_current_lifetime(w, *c);
    put_mark(w, sa.mark);
    if (sa.if_id) w.put_u32(XFRMA_IF_ID, sa.if_id);
    return {};
}

Status encode_sa_delete(MsgWriter& w, const XfrmSa& sa) {
    if (sa.src.family != sa.dst.family) return Error{"encode xfrm sa", sa_name(sa), "outer addresses of two families"};
    w.set_type(XFRM_MSG_DELSA, 0);
    if (auto* id = w.put_fixed<xfrm_usersa_id>()) {
        id->daddr = to_wire(sa.dst);
        id->spi = htonl(sa.spi);
        id->family = uint16_t(sa.dst.af());
        id->proto = IPPROTO_ESP;
    }
    xfrm_address_t src = to_wire(sa.src);
    w.put(XFRMA_SRCADDR, &src, sizeof src);
    put_mark(w, sa.mark);
    return {};
}

Result<XfrmSa> parse_sa(const nlmsghdr* h) {
    AttrTable<XFRMA_MAX + 1> t{};
    auto msg = read_message<xfrm_usersa_info>(h, t, "parse xfrm sa");
    if (!msg) return msg.error();
    const xfrm_usersa_info* info = &*msg;
    auto f = inet_family(info->family);
    if (!f) return Error{"parse xfrm sa", "netlink message", "family " + std::to_string(info->family)};
    XfrmSa sa;
    sa.src = from_wire(info->saddr, *f);
    sa.dst = from_wire(info->id.daddr, *f);
    sa.spi = ntohl(info->id.spi);
    sa.reqid = info->reqid;
    sa.replay_window = info->replay_window;
    sa.esn = info->flags & XFRM_STATE_ESN;
    sa.soft_bytes = limit_from_wire(info->lft.soft_byte_limit);
    sa.hard_bytes = limit_from_wire(info->lft.hard_byte_limit);
    sa.soft_packets = limit_from_wire(info->lft.soft_packet_limit);
    sa.hard_packets = limit_from_wire(info->lft.hard_packet_limit);
    sa.soft_seconds = info->lft.soft_add_expires_seconds;
    sa.hard_seconds = info->lft.hard_add_expires_seconds;
    parse_sa_attrs(t, sa);
    sa.observed_replay.bytes = info->curlft.bytes;
    sa.observed_replay.packets = info->curlft.packets;
    sa.observed_replay.add_time = info->curlft.add_time;
    sa.observed_replay.use_time = info->curlft.use_time;
    return sa;
}

Result<std::vector<XfrmSa>> dump_sas(Transport& t, const std::function<bool(const XfrmSa&)>& keep) {
    DumpRequest req;
    req.what = "dump xfrm states";
    req.type = XFRM_MSG_GETSA;
    auto sas = collect_dump<XfrmSa>(t, std::move(req), [&](const nlmsghdr* h, auto& out) -> Status {
        if (h->nlmsg_type != XFRM_MSG_NEWSA) return {};
        auto sa = parse_sa(h);
        if (!sa) return sa.error();
        if (!keep || keep(*sa)) out.push_back(std::move(*sa));
        return {};
    });
    if (sas) sort_dumped(*sas);
    return sas;
}

std::function<bool(const XfrmSa&)> sa_reqid_in(IdRange reqids) {
    return [reqids](const XfrmSa& sa) { return reqids.contains(sa.reqid); };
}

}  // namespace avpn::nl
