// XFRM transport of one group: an xfrm interface, one ESP tunnel-mode SA per
// direction per peer (UDP-encapsulated on the group's port), allow policies
// per routed prefix and a default-drop policy, all tied to the interface by
// its if_id.
//
// SPIs must agree at both ends without any exchange and must never collide
// in the kernel's (destination, SPI) table, including two peers behind one
// NAT address and two groups sharing an uplink. So they are built, not
// hashed:
//   bits 31-30  01           never 0..255, away from charon's 0xc0000000 range
//   bit  29     epoch & 1    old and new SAs coexist during a rotation
//   bit  28     direction    sender slot < receiver slot: the two directions differ
//   bits 27-21  group tag    stable_hash("spi-tag:" + group) mod 128
//   bits 20-0   sender slot XOR receiver slot
// where every member has an SPI slot in [0, 2^21) allocated from the group's
// member list exactly like tunnel addresses (hash of the name, linear
// probing), so all sites agree. For a fixed receiver the XOR is distinct per
// sender, and for a fixed sender distinct per receiver.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/ip.hpp"
#include "common/result.hpp"
#include "orchestrator/plan/desired_state.hpp"
#include "orchestrator/plan/group_model.hpp"
#include "orchestrator/plan/peer_input.hpp"
#include "orchestrator/plan/site_pieces.hpp"

namespace avpn::planner {

inline constexpr unsigned kSpiSlotBits = 21;
inline constexpr uint32_t kSpiTagMask = 0x7f;

// Every SA avpn plans (docs/plan-json.md, "SA defaults"):
// - ESN (64-bit sequence numbers): without it an SA stops sending after 2^32
//   packets, hours at a busy hub.
// - A replay window of 128 packets: wide enough for the reordering of a
//   multi-queue path at line rate; 32 (the legacy maximum) drops valid
//   packets there.
// - Soft limits at which the kernel sends XFRM_MSG_EXPIRE (hard = 0) to
//   XFRMNLGRP_EXPIRE, the signal for avpnd to rekey: 3 TiB or 3 * 2^30
//   packets, three quarters of the hard limits below, leaving a quarter
//   (an hour at 10 Gb/s) for the handshake. A group's rekey_bytes and
//   rekey_packets lower them (GroupConstants).
// - Hard limits, where the kernel deletes the SA: 4 TiB keeps one AES-GCM
//   key's confidentiality advantage near 2^-53 (sigma^2 / 2^129 with sigma
//   in 16-byte blocks, the CFRG's AEAD-limits analysis), and 2^32 packets.
//   They stay there whatever the soft limits: they bound a key's use, and
//   only an SA that never rotated meets them. avpnd drops the session whose
//   SA the kernel deleted and handshakes anew (docs/xfrm-keying.md,
//   "Expiry"), so no SA comes back with a used key and a sequence from 1.
// - No time limits: rotation by time is avpnd's own timer (issue 13); a
//   kernel time limit would expire both ends at different moments.
inline constexpr uint32_t kSaReplayWindow = 128;
inline constexpr uint64_t kSaHardBytes = uint64_t(4) << 40;
inline constexpr uint64_t kSaSoftBytes = kSaHardBytes / 4 * 3;
inline constexpr uint64_t kSaHardPackets = uint64_t(1) << 32;
inline constexpr uint64_t kSaSoftPackets = kSaHardPackets / 4 * 3;

// Path i >= 1 of a group (active-active) has a tag of its own: its SAs
// share the destination address with path 0's at the end that runs one
// uplink.
uint32_t spi_tag(std::string_view group, size_t path);
uint32_t derive_spi(uint32_t tag, uint32_t epoch, uint32_t sender_slot, uint32_t receiver_slot);

// SPI slot of every member (indexed like GroupModel::members).
std::vector<uint32_t> spi_slots(const GroupModel& model, Errors& errors);

// reqids for this site's XFRM peers, one per key ("<group>/<peer>"), inside
// avpn's reqid range; stable under membership changes like addresses.
std::vector<uint32_t> allocate_reqids(const std::vector<std::string>& keys, Errors& errors);

// Why no tunnel to this peer can be set up yet; empty: ready.
std::string xfrm_pending(const GroupConstants& c, const PeerInput& peer);

// Appends a ready peer's two SAs and its allow policies.
void plan_xfrm_peer(const GroupConstants& c, const PeerInput& peer, DesiredState& state);

// Path i >= 1 with a peer (docs/uplinks.md "Active-active"): once its
// endpoint is known, its SAs (port listen_port + i, if_id path_if_id(i),
// from path_uplinks[i]) and inbound policies; once it has an outbound SA,
// its outbound policies and its routes in path i's table. Until then the
// flows hashed onto it fall through to path 0.
void plan_xfrm_path_peer(const GroupConstants& c, const PeerInput& peer, size_t path, DesiredState& state);

// Path i's XFRM interface (`<interface>.p<i>`, no address) and its
// default-drop policies, for i in 1..paths-1.
void plan_xfrm_path_interfaces(const GroupConstants& c, const GroupAggregates& a, DesiredState& state);

// What avpnd's key exchange needs of an XFRM group the plan has: this
// site's key and port, and per peer who it is, where to reach it and the
// two inbound SPIs (epoch bit 0 and 1) this site owns for it. The group's
// if_id and the peer's reqid are on each of the peer's SAs: the kernel's
// expiry notifications name SAs by them.
struct KeyingPeerView {
    std::string name, public_key;
    std::optional<Endpoint> endpoint;
    std::array<uint32_t, 2> inbound_spis{};
    uint32_t reqid = 0;
    bool operator==(const KeyingPeerView&) const = default;
};
struct KeyingGroupView {
    std::string group, key_file;
    uint16_t listen_port = 0;
    std::vector<KeyingPeerView> peers;  // in member order
    uint32_t if_id = 0;
    uint8_t path = 0;  // active-active: path i >= 1 is a key exchange of its own
    bool operator==(const KeyingGroupView&) const = default;
};
// One per XFRM group and path the plan runs, path i with the peers that
// run it: at the end that initiates it, each at its contact + i.
std::vector<KeyingGroupView> keying_views(const SitePieces& pieces);

// Appends the interface, its address and the default-drop policies.
void plan_xfrm_group(const GroupModel& model, const GroupConstants& c, const GroupAggregates& a,
                     DesiredState& state);

}  // namespace avpn::planner
