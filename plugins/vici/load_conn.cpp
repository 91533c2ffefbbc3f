#include "plugins/vici/load_conn.hpp"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "common/crypto.hpp"
#include "plugins/vici/builder.hpp"

namespace avpn::vici {

namespace {

Error conn_error(const Connection& c, std::string why) { return Error{"mapping connection", c.name, std::move(why)}; }

Status validate(const Connection& c) {
    if (!c.name.starts_with(kConnPrefix)) return conn_error(c, "name lacks the avpn- prefix");
    if (c.child.name.empty()) return conn_error(c, "child SA has no name");
    if (c.version != 1 && c.version != 2) return conn_error(c, "IKE version must be 1 or 2");
    if (is_initiator(c) && c.remote_addrs.empty()) return conn_error(c, "an initiator needs a remote address");
    return {};
}

void add_if(Builder& b, std::string_view key, uint64_t v) {
    if (v != 0) b.add(key, v);
}

void add_list_if(Builder& b, std::string_view key, const std::vector<std::string>& v) {
    if (!v.empty()) b.add_list(key, v);
}

void auth_section(Builder& b, std::string_view side, const std::string& id) {
    b.begin_section(side).add("auth", "psk");
    if (!id.empty()) b.add("id", id);
    b.end_section();
}

void child_section(Builder& b, const Connection& c) {
    const ChildSa& ch = c.child;
    b.begin_section("children").begin_section(ch.name);
    b.add_list("local_ts", ch.local_ts).add_list("remote_ts", ch.remote_ts);
    add_list_if(b, "esp_proposals", ch.esp_proposals);
    b.add("mode", "tunnel");
    b.add("start_action", ch.start_action.empty() ? "none" : ch.start_action);
    b.add("dpd_action", ch.dpd_action.empty() ? "clear" : ch.dpd_action);
    b.add("close_action", ch.close_action.empty() ? "none" : ch.close_action);
    b.add("rekey_time", uint64_t(ch.rekey_time));
    add_if(b, "life_time", ch.life_time);
    add_if(b, "if_id_in", c.if_id_in);
    add_if(b, "if_id_out", c.if_id_out);
    b.end_section().end_section();
}

}  // namespace

bool is_initiator(const Connection& c) { return c.child.start_action.find("start") != std::string::npos; }

std::string shared_key_id(const Connection& c) { return c.name; }

Result<Section> load_conn_message(const Connection& c) {
    if (Status st = validate(c); !st) return st.error();
    Builder b;
    b.begin_section(c.name);
    b.add("version", uint64_t(c.version));
    add_list_if(b, "local_addrs", c.local_addrs);
    add_list_if(b, "remote_addrs", c.remote_addrs);
    add_list_if(b, "proposals", c.ike_proposals);
    b.add("rekey_time", uint64_t(c.rekey_time));
    add_if(b, "over_time", c.over_time);
    b.add("reauth_time", uint64_t(c.reauth_time));
    b.add("dpd_delay", uint64_t(c.dpd_delay));
    if (c.version == 1) add_if(b, "dpd_timeout", c.dpd_timeout);  // IKEv2: charon's retransmission settings
    // Site-to-site gateways keep trying (DPD restart, peer rebooting) rather
    // than giving up after one retransmission sequence.
    b.add("keyingtries", uint64_t(0));
    // Fixed gateways: avpn moves tunnels between uplinks itself by reloading
    // local_addrs; MOBIKE's port floating only upsets some peers.
    b.add("mobike", "no");
    add_if(b, "if_id_in", c.if_id_in);
    add_if(b, "if_id_out", c.if_id_out);
    auth_section(b, "local", c.local_id);
    auth_section(b, "remote", c.remote_id);
    child_section(b, c);
    b.end_section();
    Result<Section> msg = b.finish();
    if (!msg) return conn_error(c, msg.error().why);
    return msg;
}

Result<std::string> fingerprint(const Section& load_conn) {
    auto enc = encode_message(load_conn);
    if (!enc) return enc.error();
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_Digest(enc->data(), enc->size(), md, &len, EVP_sha256(), nullptr) != 1)
        return Error{"fingerprinting load-conn", "", "SHA-256 failed"};
    std::string hex;
    char b[3];
    for (unsigned i = 0; i < len; ++i) {
        std::snprintf(b, sizeof b, "%02x", md[i]);
        hex += b;
    }
    return hex;
}

Secret::~Secret() {
    if (!value_.empty()) crypto::wipe(value_.data(), value_.size());
}

Result<Secret> read_psk_file(const std::string& path) {
    const char* what = "reading PSK";
    if (path.empty()) return Error{what, path, "no psk_file given"};
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int err = errno;
        return Error{what, path, std::strerror(err), err};
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        return Error{what, path, "not a regular file"};
    }
    if (st.st_mode & 077) {
        ::close(fd);
        char mode[8];
        std::snprintf(mode, sizeof mode, "%04o", unsigned(st.st_mode & 07777));
        return Error{what, path, std::string("mode ") + mode + " lets others read it; use 0600 or stricter"};
    }
    std::string buf(size_t(st.st_size) + 1, '\0');
    ssize_t n = ::read(fd, buf.data(), buf.size());
    int err = errno;
    ::close(fd);
    Secret guard(std::move(buf));  // wiped on every path out
    if (n < 0) return Error{what, path, std::strerror(err), err};
    std::string_view text = guard.view().substr(0, size_t(n));
    if (text.ends_with('\n')) text.remove_suffix(1);
    if (text.ends_with('\r')) text.remove_suffix(1);
    if (text.empty()) return Error{what, path, "the file holds no secret"};
    return Secret(std::string(text));
}

std::vector<std::string> shared_owners(const Connection& c) {
    std::vector<std::string> owners;
    if (!c.local_id.empty()) owners.push_back(c.local_id);
    if (!c.remote_id.empty()) owners.push_back(c.remote_id);
    if (c.local_id.empty()) owners.insert(owners.end(), c.local_addrs.begin(), c.local_addrs.end());
    if (c.remote_id.empty()) owners.insert(owners.end(), c.remote_addrs.begin(), c.remote_addrs.end());
    return owners;
}

Result<Section> load_shared_message(const std::string& id, const std::vector<std::string>& owners,
                                    const Secret& psk) {
    Builder b;
    b.add("id", id).add("type", "IKE").add("data", psk.view()).add_list("owners", owners);
    Result<Section> msg = b.finish();
    if (!msg) return Error{"load-shared", id, msg.error().why};  // the builder's errors never quote values
    return msg;
}

Result<Section> load_shared_message(const Connection& c, const Secret& psk) {
    Result<Section> msg = load_shared_message(shared_key_id(c), shared_owners(c), psk);
    if (!msg) return conn_error(c, msg.error().why);
    return msg;
}

}  // namespace avpn::vici
