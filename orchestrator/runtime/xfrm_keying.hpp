// avpnd's XFRM key exchange (docs/xfrm-keying.md): per XFRM group a
// Noise IK responder on the group's ESP-in-UDP socket, and per peer an
// initiator and the peer's key life cycle (plugins/keying/peer_session.hpp).
// It holds the handshakes' sessions and ESP keys, tells the planner which
// SAs each peer should have (PlanInputs::xfrm_sessions) and hands the port
// their keys by id (NetlinkPortOptions::session_key). No socket and no
// kernel here: the site (site.hpp) reads datagrams, applies the plan when
// asked and then sends what this returns, in that order.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "orchestrator/plan/planner.hpp"
#include "netlink/xfrm_expire.hpp"
#include "orchestrator/plan/xfrm_plan.hpp"
#include "plugins/keying/handshake.hpp"
#include "plugins/keying/peer_session.hpp"

namespace avpn::runtime {

class XfrmKeying {
public:
    struct Send {
        std::string group;
        Endpoint to;
        keying::Bytes bytes;
        uint8_t path = 0;  // active-active: the path's own socket (listen_port + path)
    };
    // What the caller does next: apply the plan when `apply` (the SAs
    // changed), then send `sends` (only if the apply succeeded: a response
    // or confirm tells the peer that the SAs are in place). `events` are
    // lines for the log.
    struct Work {
        bool apply = false;
        std::vector<Send> sends;
        std::vector<std::string> events;
        void merge(Work&& o);
    };
    struct PeerStatus {
        std::string group, peer;
        uint8_t path = 0;
        bool up = false;
        uint32_t epoch = 0;
        std::optional<int64_t> handshake_age_s, next_rekey_in_s;
        uint32_t initiations_unanswered = 0;
        std::string problem;  // the last rejected handshake or send, in words
    };

    // `wall`: the TAI64N timestamp an initiation carries (responders accept
    // only increasing ones); the wall clock, or a test's.
    explicit XfrmKeying(keying::SessionTimers timers = {}, std::function<keying::Tai64n()> wall = keying::tai64n_now)
        : timers_(timers), wall_(std::move(wall)) {}

    // The XFRM groups and peers of the committed plan. A peer that stays
    // (same group, name and key) keeps its sessions; one that goes, or all
    // of a group whose own key file now holds another key, lose theirs
    // (SAs follow at the next apply, new handshakes at the next tick).
    // Errors name the group and the key file; such a group is not keyed.
    Errors configure(const std::vector<planner::KeyingGroupView>& groups);

    // The SAs of every peer (xfrm_sessions) and the peers found dead
    // (dead_peers; see note_liveness).
    void add_inputs(PlanInputs& inputs) const;
    // `new_sa`: the port creates an SA with it (not an update of one the
    // kernel holds, nor an undo that carries the sequence on). A key goes
    // into at most one created SA: a second SA with it would start its
    // sequence numbers at 1 again, repeating AES-GCM nonces, and reopen the
    // replay window (an SA deleted by hand and repaired, an expiry missed).
    // Refused; the session that owns the key is dropped at the next tick as
    // if the kernel had hard-expired its SA, and a new handshake follows.
    Result<std::vector<uint8_t>> key(uint64_t id, uint32_t key_bits, bool new_sa = false);

    // `path`: which of the group's sockets it came in on (0, or i >= 1 at
    // listen_port + i with active_active); each path is a key exchange of
    // its own (docs/uplinks.md "Active-active").
    Work receive(const std::string& group, uint8_t path, const Endpoint& from, keying::ByteView datagram,
                 keying::Time now);
    // The peers' timers. Initiations (first handshakes, retries, rotations)
    // are paced site-wide (kInitiationPace): a hub that restarts with
    // 10,000 peers would otherwise send 10,000 every 5 s, each a Noise
    // initiation's CPU, while its peers' own initiations wait to be
    // answered. Peers whose session is up go first (rotations, forced
    // rekeys), then the rest (first handshakes, retries); within each,
    // peers take turns: the next tick starts with the first peer this one
    // had no budget for. A site with fewer peers than the burst never waits.
    // `answering_first`: the caller's socket still holds datagrams it had no
    // time to read (docs/xfrm-keying.md, "Answers before initiations"): no
    // initiation goes, the rest of the tick does.
    Work tick(keying::Time now, bool answering_first = false);

    std::vector<PeerStatus> status(keying::Time now) const;
    size_t rejected() const { return rejected_; }  // datagrams dropped: junk, replays, strangers
    const std::string& last_rejected() const { return last_rejected_; }  // the latest one's reason, in words

    // The operator's forced rotation (avpnctl rekey, xfrm_rekey.cpp): every
    // peer of `group` ("" all groups), or only `peer` of it. Each starts a
    // handshake at the next tick (after the lingering SA of the session
    // before, if any: make-before-break keeps its SPI until then). Errors
    // name an unknown group or peer.
    struct Rekeyed {
        std::string group, peer;
        uint32_t epoch = 0;  // sessions established so far; the rotation makes epoch + 1
    };
    Result<std::vector<Rekeyed>> rekey(const std::string& group, const std::string& peer);

    // The kernel's SA expiries (xfrm_expiry.cpp, docs/xfrm-keying.md
    // "Expiry"). An SA the sessions hold, named as the kernel names it.
    struct HeldSa {
        std::string group, peer;
        uint32_t if_id = 0, reqid = 0, spi = 0;
        bool inbound = false;
    };
    std::vector<HeldSa> held_sas() const;
    static constexpr keying::RateLimits kInitiationPace{100, 100, 1};  // per second, burst
    // How much of each second making initiations may take (default 200 ms):
    // the pace's 100 a second cost 3 % of a core natively, but more than a
    // core on a CPU 50x slower (tests set it to see the limit).
    void set_initiation_budget(std::chrono::nanoseconds per_second) { initiation_budget_ = per_second; }
    // The expire of an SA one of this site's sessions holds (group by
    // if_id, peer by reqid, session by SPI) goes to that peer's life cycle:
    // soft starts a rekey, hard drops the session the kernel's deletion
    // ended. Its `events` say so in one line. nullopt: no session holds it.
    std::optional<Work> expire(const nl::XfrmExpire& e, keying::Time now);
    // Expiries were lost and cannot be found again: every peer rotates.
    Work rotate_all(keying::Time now);
    // This site's uplink changed (docs/uplinks.md): a key confirm to every
    // peer with a session, from the new source, so each peer's SAs follow
    // at once (note_source on their side) instead of at the next keepalive.
    Work announce(keying::Time now);

private:
    struct Peer {
        planner::KeyingPeerView view;
        keying::Key32 public_key{};
        std::optional<keying::Initiator> initiator;
        keying::PeerSession session;
        uint32_t pending_index = 0;  // sender index of the initiation in flight
        std::string problem;
        std::optional<keying::Time> watched_since;  // when this avpnd first handled it
        bool dead = false;                          // in the plan's dead_peers
        // Where its authenticated messages come from, when that is not
        // its contact (PlanInputs::roamed); kept across configures.
        std::optional<Endpoint> roamed;
    };
    struct Group {
        std::string name, key_file;
        uint8_t path = 0;
        uint32_t if_id = 0;  // on every SA of the group (of the path)
        keying::Key32 static_public{};
        std::optional<keying::Responder> responder;
        std::map<keying::Key32, size_t> by_key;
        std::vector<Peer> peers;
    };
    struct Live {  // a handshake's session, by its local index
        std::string group;
        uint8_t path = 0;
        std::string peer;
        keying::Session session;
    };

    Group* group_named(const std::string& name, uint8_t path = 0);
    // "corp/hq", "corp/hq (path 1)": who an event or problem is about.
    static std::string who(const Group& g, const std::string& peer);
    Peer* peer_of(Group& g, const keying::Key32& key);
    uint32_t new_index();
    Result<keying::LocalChoice> choose(const std::string& group, uint8_t path, const keying::Key32& peer);
    keying::NewSession hold(Group& g, Peer& p, keying::Session&& s);
    void drop(uint64_t session_id);
    Work drop_reused(keying::Time now);
    void note_liveness(const Group& g, Peer& p, keying::Time now, Work& out);
    void carry_out(Group& g, Peer& p, const std::vector<keying::Action>& actions, keying::Time now,
                   const std::optional<Send>& response, Work& out);
    Work on_initiation(Group& g, const Endpoint& from, keying::ByteView d, keying::Time now);
    // After a message of the peer's was authenticated: a new source is
    // where its SAs and messages go from now on (WireGuard's roaming).
    void note_source(const Group& g, Peer& p, const Endpoint& from, Work& out);
    Work on_response(Group& g, const Endpoint& from, keying::ByteView d, keying::Time now);
    Work on_cookie(Group& g, keying::ByteView d, keying::Time now);
    Work on_confirm(Group& g, const Endpoint& from, keying::ByteView d, keying::Time now);
    void reject(Group& g, const Endpoint& from, const Error& why);

    keying::SessionTimers timers_;
    std::function<keying::Tai64n()> wall_;
    std::vector<Group> groups_;
    std::map<uint32_t, Live> live_;                 // by local index
    std::map<uint64_t, keying::SecretBytes> keys_;  // ESP keys by id: index << 1 | outbound
    std::set<uint64_t> installed_;  // key ids some created SA has used
    std::set<uint64_t> reused_;     // key ids asked for a second SA: their sessions go
    uint32_t last_index_ = 0;
    size_t rejected_ = 0;
    std::string last_rejected_;
    keying::RateLimiter initiations_{kInitiationPace};  // one bucket, the site's
    size_t tick_from_ = 0;                               // the peer the next tick starts with
    // The time making initiations took (docs/xfrm-keying.md, "Initiations
    // are paced"): within each second at most initiation_budget_ of it.
    keying::Time cost_window_{};
    std::chrono::nanoseconds cost_spent_{0}, cost_each_{0};  // this second's; the running mean of one
    std::chrono::nanoseconds initiation_budget_{std::chrono::milliseconds(200)};
};

}  // namespace avpn::runtime
