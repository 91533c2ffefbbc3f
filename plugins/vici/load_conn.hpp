// vici::Connection -> charon's load-conn and load-shared messages, in
// swanctl.conf(5) key names (strongSwan 5.9). The mapping table, and what
// charon cannot honour per tunnel, are in docs/vici.md.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"
#include "plugins/vici/connection.hpp"
#include "plugins/vici/message.hpp"

namespace avpn::vici {

// { <name> = { version, local_addrs, ..., local {..}, remote {..}, children {..} } }
// Fails on a connection avpn must not load (name without the avpn- prefix,
// unnamed child, initiator without a remote address).
Result<Section> load_conn_message(const Connection& c);

// SHA-256 (hex) of the encoded load-conn message: what the reconciler keeps to
// know whether a loaded connection changed. The PSK is not part of it.
Result<std::string> fingerprint(const Section& load_conn);

// Whether the child initiates (start_action "start" or "trap|start").
bool is_initiator(const Connection& c);

// The id under which the connection's PSK is loaded (so it can be unloaded).
std::string shared_key_id(const Connection& c);

// A secret held in memory only while needed; wiped when destroyed.
class Secret {
public:
    Secret() = default;
    explicit Secret(std::string v) : value_(std::move(v)) {}
    Secret(Secret&& o) noexcept : value_(std::move(o.value_)) { o.value_.clear(); }
    Secret& operator=(Secret&&) = delete;
    Secret(const Secret&) = delete;
    ~Secret();
    std::string_view view() const { return value_; }

private:
    std::string value_;
};

// Reads a PSK file: refuses files readable or writable by group/others (as
// config.md asks of every secret file), empty secrets, and strips one
// trailing newline (editors add one).
Result<Secret> read_psk_file(const std::string& path);

// { id, type = IKE, data = <secret>, owners = [ local id, remote id ] }.
// Without configured identities, charon identifies the ends by address, so
// the owners are the connection's addresses then. The message holds the
// secret: never log or dump it.
Result<Section> load_shared_message(const Connection& c, const Secret& psk);

// The owners load_shared_message gives the connection's key.
std::vector<std::string> shared_owners(const Connection& c);

// The same message from parts kept in the state directory (journal.hpp), so
// a replaced or unloaded key can be loaded again as it was.
Result<Section> load_shared_message(const std::string& id, const std::vector<std::string>& owners,
                                    const Secret& psk);

}  // namespace avpn::vici
