// A site's registry client as a state machine without I/O: time and the
// registry's datagrams in, datagrams to send to that registry out. avpnd
// (next: the tunnel's own socket) and the tests drive it the same way.
//
//   no session -> initiation (retried every 5 s with a new ephemeral, as
//   WireGuard's REKEY_TIMEOUT) -> response -> session: register at once,
//   send the queries for wanted members, then register every 10 s +- 1 s
//   (the keepalive). A registration unanswered for 2 s starts a new
//   handshake (the registry may have restarted and forgotten the session);
//   a session 600 s old is replaced make-before-break. Unreachable after
//   60 s without an authenticated answer (6 keepalives).
//
//   Filtering (docs/registry.md, "Filtering"): once registered on a new
//   session, and again after retest_filtering(), the client asks the
//   registry for a probe from its alternate address. The probe arrived:
//   "permissive"; the registry said it sent one and none came within 2 s:
//   "strict"; it has no alternate (or never answers): "unknown". A new
//   verdict goes to the registry at once, in a registration: the registry
//   hands it to the site's peers with its contact.
#pragma once

#include <map>
#include <random>

#include "plugins/keying/handshake_guard.hpp"
#include "plugins/registry/session.hpp"

namespace avpn::registry {

struct ClientConfig {
    Key32 site_private{};
    Key32 registry_public{};
    std::string group;
    Key32 psk{};                 // the group key; zeros without one
    std::vector<Endpoint> local;  // LAN contacts to register (at most 4)
    uint32_t seed = 1;            // keepalive jitter
    ~ClientConfig() { crypto::wipe(site_private.data(), 32), crypto::wipe(psk.data(), 32); }
};

struct ClientTiming {
    std::chrono::milliseconds keepalive{10000}, jitter{1000};
    std::chrono::milliseconds handshake_retry{5000};
    std::chrono::milliseconds answer_timeout{2000};
    std::chrono::seconds rekey_after{600};
    std::chrono::seconds unreachable_after{60};
    std::chrono::milliseconds probe_wait{2000};  // after the registry's answer, before "strict"
    std::chrono::milliseconds filter_retry{5000};  // a test unanswered: asked again, 3 times a session
};

class Client {
public:
    static Result<Client> create(ClientConfig config, ClientTiming timing = {});

    // Datagrams due at `now`; `wall` is tai64n_now() in production.
    // `ephemeral_private` only for tests.
    Result<std::vector<Bytes>> tick(Time now, const Tai64n& wall, std::optional<Key32> ephemeral_private = std::nullopt);
    // A datagram from the registry; returns what to send in answer.
    Result<std::vector<Bytes>> on_datagram(ByteView datagram, Time now);
    // The members whose contacts this site wants (and wants pushed); all
    // are queried on every new session, new ones at the next tick.
    void want(std::vector<Key32> members);
    // A registration now, outside the keepalive schedule (when the site's
    // address changed it must not wait for the next keepalive); needs a
    // session. The keepalive schedule restarts from now.
    Result<Bytes> register_now(Time now);
    // The LAN contacts the next registrations carry (at most 4): the site's
    // own addresses and tunnel port, for a peer behind the same NAT.
    void set_local(std::vector<Endpoint> local) {
        if (local.size() > 4) local.resize(4);
        local_ = std::move(local);
    }

    bool has_session() const { return current_.has_value(); }
    bool reachable(Time now) const { return last_answer_ && now - *last_answer_ < timing_.unreachable_after; }
    std::optional<Time> last_answer() const { return last_answer_; }
    const std::optional<Endpoint>& observed() const { return observed_; }
    const std::map<Key32, ContactEntry>& contacts() const { return contacts_; }
    uint64_t rejected() const { return rejected_; }

    // This registry's filtering verdict for the site's NAT (see above).
    Filtering filtering() const { return filtering_; }
    // The NAT may have changed (another uplink or address): the verdict is
    // unknown until a new test concludes, which starts once a registration
    // from the new mapping is answered (the probe goes to that one).
    void retest_filtering();
    // Whether a filtering test is waiting for its probe: a datagram from an
    // address that is no registry's may be it (try_probe).
    bool awaiting_probe() const { return filter_sent_.has_value() && !probe_seen_; }
    // A datagram from `from`, which is not the registry's own address: true
    // when it is this client's filtering probe (sealed in its session and
    // addressed to its observed contact). Not counted as rejected when not.
    bool try_probe(ByteView datagram);
    // The alternate address the registry named in its last answer.
    const std::optional<Endpoint>& alternate() const { return alternate_; }
    uint64_t handshakes() const { return handshakes_; }

private:
    Client() = default;
    Result<Bytes> start_handshake(Time now, const Tai64n& wall, std::optional<Key32> ephemeral_private);
    Result<std::vector<Bytes>> on_response(ByteView d, Time now);
    Result<Bytes> registration(Time now);
    Result<std::vector<Bytes>> queries(const std::vector<Key32>& keys);
    Time next_keepalive_after(Time now);
    Result<std::optional<Bytes>> filter_test_due(Time now);
    void conclude_filtering(Time now);
    void set_filtering(Filtering f);

    keying::StaticKey static_;
    Key32 registry_public_{};
    std::string group_;
    keying::Secret32 psk_;
    std::vector<Endpoint> local_;
    ClientTiming timing_;
    Key32 mac1_remote_{}, mac1_self_{}, cookie_remote_{};
    std::minstd_rand rng_;

    struct Pending {
        keying::IkPsk2 hs;
        uint32_t index;
        Mac16 mac1;
        Time sent;
    };
    std::optional<Pending> pending_;
    std::optional<Mac16> cookie_;
    Time cookie_at_{};
    std::optional<TransportSession> current_;
    Time next_keepalive_{};
    std::optional<Time> awaiting_since_;  // a registration sent and not yet answered
    std::optional<Time> last_answer_;
    std::optional<Endpoint> observed_;
    std::vector<Key32> wanted_;
    std::vector<Key32> unasked_;  // wanted, not yet queried on the current session
    std::map<Key32, ContactEntry> contacts_;
    uint64_t rejected_ = 0, handshakes_ = 0;
    // The filtering test: due on a new session or a retest; sent at, tries
    // this session, the registry's answer (when), whether the probe came.
    bool filter_due_ = false;
    bool filter_after_registered_ = false;  // a retest waits for the new mapping's registration
    std::optional<Time> filter_sent_, filter_answered_;
    int filter_tries_ = 0;
    bool probe_seen_ = false;
    std::optional<Endpoint> alternate_;
    Filtering filtering_ = Filtering::unknown;
    bool filtering_changed_ = false;  // registered again at the next tick
};

}  // namespace avpn::registry
