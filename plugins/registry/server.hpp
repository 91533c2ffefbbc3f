// avpn-registry's state: who may register (the groups' member lists), the
// sessions, the contacts it observed and who asked for which contact. Pure:
// datagrams and time in, datagrams out; the binary
// (orchestrator/registry/) only moves them between a UDP socket and here.
//
// Order of checks for a datagram, cheapest first (docs/registry.md):
//   header/type/length -> initiation: mac1 -> under load: mac2 or a cookie
//   reply -> the source IP's token bucket -> Noise message 1 (2 DH) -> the
//   group and membership of the key that sealed it -> its timestamp -> the
//   group's PSK into message 2.
//   transport: index lookup -> replay window -> AEAD -> the site's token
//   bucket -> body.
// Every rejection is counted (ServerCounters) and answered with nothing.
// State is soft: a restart forgets everything, and sites rebuild it with
// their next keepalive.
#pragma once

#include <memory>
#include <unordered_map>

#include "plugins/keying/handshake_guard.hpp"
#include "plugins/registry/session.hpp"

namespace avpn::registry {

// One group the registry serves: its name, its group key (the IKpsk2 PSK;
// zeros when the group has none) and its members' public keys.
struct GroupMembers {
    std::string name;
    Key32 psk{};
    std::vector<Key32> members;
};

struct ServerConfig {
    Key32 static_private{};
    std::vector<GroupMembers> groups;
    keying::RateLimits handshake_rate{};     // per source IP: 20/s, burst 5, as WireGuard
    size_t under_load_threshold = 2000;      // initiations/s before cookies are asked for
    double transport_per_second = 10, transport_burst = 20;  // per site, after authentication
    size_t max_interests = 1024;             // members one site may watch
    std::chrono::seconds hold{60};           // a contact without keepalive: 6 missed 10 s keepalives
    std::chrono::seconds session_lifetime{720};  // the site rekeys at 600 s
    // The second address filtering tests' probes come from (RFC 5780's
    // alternate; another address of this host, or another port): none, and
    // the registry answers a test with "cannot test".
    std::optional<Endpoint> alternate;
    ~ServerConfig() { crypto::wipe(static_private.data(), 32); }
};

struct Outgoing {
    Endpoint to;
    Bytes datagram;
    bool from_alternate = false;  // a filtering probe: send it from ServerConfig::alternate
};

struct ServerCounters {
    uint64_t datagrams = 0;
    uint64_t malformed = 0;           // framing: marker, magic, type, length
    uint64_t mac1_invalid = 0;        // junk or another key's initiation: one BLAKE2s spent
    uint64_t cookies_sent = 0;
    uint64_t rate_limited = 0;        // handshakes over a source's budget, transport over a site's
    uint64_t handshake_failed = 0;    // Noise did not authenticate (forged, wrong key)
    uint64_t not_member = 0;          // authenticated, but not a member of the group it named
    uint64_t handshake_replayed = 0;  // timestamp not newer than the site's last
    uint64_t handshakes = 0;
    uint64_t unknown_session = 0;     // transport for an index we do not hold
    uint64_t bad_tag = 0;             // transport forged or for a session's old key
    uint64_t replayed = 0;            // transport counter seen before or too old
    uint64_t bad_body = 0;
    uint64_t registrations = 0;
    uint64_t queries = 0;
    uint64_t filter_tests = 0;
    uint64_t pushes = 0;
    uint64_t expired = 0;             // contacts dropped after `hold` without keepalive
};

class Server {
public:
    static Result<Server> create(ServerConfig config);
    Server(Server&&) = default;
    Server& operator=(Server&&) = default;

    // One datagram from `from`. The Error says why it was dropped (counted
    // already); `ephemeral_private` only for tests.
    Result<std::vector<Outgoing>> on_datagram(ByteView datagram, const Endpoint& from, Time now,
                                              std::optional<Key32> ephemeral_private = std::nullopt);
    // Expires contacts (pushing "not registered" to their watchers) and
    // sessions; call about once a second.
    std::vector<Outgoing> tick(Time now);

    const ServerCounters& counters() const { return counters_; }
    size_t registered() const { return registered_; }
    size_t sessions() const { return by_index_.size(); }
    size_t members() const { return members_.size(); }
    const Key32& static_public() const { return static_.public_key; }
    // "registry: sites=.. sessions=.. datagrams=.. ..." for stderr.
    std::string stats_line() const;

private:
    struct Live;
    struct Member {
        uint32_t group = 0;
        Key32 key{};
        std::optional<Tai64n> last_timestamp;  // of its last accepted initiation
        std::vector<uint32_t> watchers;        // members that asked for this one's contact
        std::unique_ptr<Live> live;            // null until it handshakes; dropped when idle
    };
    struct Live {
        std::optional<TransportSession> current, next;  // next: not yet confirmed by a transport message
        std::optional<Endpoint> observed;                // set while registered
        std::vector<Endpoint> local;
        Filtering filtering = Filtering::unknown;  // as the site last reported it
        Time last_register{};
        std::vector<uint32_t> interests;
        double tokens = 0;
        Time token_time{};
    };
    struct KeyInGroup {
        Key32 key;
        uint32_t group;
        bool operator==(const KeyInGroup&) const = default;
    };
    struct KeyHash {
        size_t operator()(const KeyInGroup& k) const;
    };

    Server() = default;
    Result<std::vector<Outgoing>> on_initiation(ByteView d, const Endpoint& from, Time now,
                                                std::optional<Key32> ephemeral_private);
    Result<std::vector<Outgoing>> on_transport(ByteView d, const Endpoint& from, Time now);
    Result<std::vector<Outgoing>> on_register(uint32_t id, ByteView body, const Endpoint& from, Time now);
    Result<std::vector<Outgoing>> on_query(uint32_t id, ByteView body, const Endpoint& from);
    Result<std::vector<Outgoing>> on_filter_test(uint32_t id, ByteView body, const Endpoint& from);
    ContactEntry entry_of(uint32_t id) const;
    void push_change(uint32_t id, std::vector<Outgoing>& out);
    void drop_session(std::optional<TransportSession>& s);
    void forget_interests(uint32_t id);
    Result<uint32_t> new_index();
    Error reject(uint64_t& counter, const char* what, std::string why);

    keying::StaticKey static_;
    Key32 mac1_key_{}, cookie_key_{};
    std::vector<std::string> group_names_;
    std::vector<keying::Secret32> group_psks_;
    std::vector<Member> members_;
    std::unordered_map<KeyInGroup, uint32_t, KeyHash> by_key_;
    std::unordered_map<uint32_t, uint32_t> by_index_;  // session index -> member
    keying::RateLimiter limiter_;
    keying::LoadMeter load_{0};
    keying::CookieJar cookies_;
    double transport_rate_ = 10, transport_burst_ = 20;
    size_t max_interests_ = 1024;
    std::chrono::seconds hold_{60}, lifetime_{720};
    std::optional<Endpoint> alternate_;
    size_t registered_ = 0;
    ServerCounters counters_;
};

}  // namespace avpn::registry
