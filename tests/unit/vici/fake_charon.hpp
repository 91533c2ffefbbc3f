// A scripted vici server on a unix socket, standing in for charon in the
// client's unit tests: it answers like charon does (event registration,
// streamed list commands, CMD_UNKNOWN), and can go silent or drop the
// connection on purpose. Runs in its own thread; everything it received is
// recorded for the test to inspect.
#pragma once

#include <sys/socket.h>
#include <sys/un.h>
#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "plugins/vici/packet.hpp"

namespace avpn::vici::test {

class FakeCharon {
public:
    FakeCharon() {
        char tmpl[] = "/tmp/avpn-vici-test-XXXXXX";
        dir_ = ::mkdtemp(tmpl);
        path_ = dir_ + "/charon.vici";
        listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_un a{};
        a.sun_family = AF_UNIX;
        std::strncpy(a.sun_path, path_.c_str(), sizeof a.sun_path - 1);
        if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(listen_fd_, 4) != 0)
            std::abort();
        thread_ = std::thread([this] { serve(); });
    }
    ~FakeCharon() {
        stop_ = true;
        thread_.join();
        ::close(listen_fd_);
        ::unlink(path_.c_str());
        ::rmdir(dir_.c_str());
    }
    const std::string& path() const { return path_; }

    // Closes the current client connection, as a charon restart would.
    void drop_connection() { drop_ = true; }
    int connections() const { return accepted_; }

    std::vector<Packet> received() {
        std::lock_guard l(mu_);
        return received_;
    }
    size_t count(PacketType t, const std::string& name) {
        std::lock_guard l(mu_);
        size_t n = 0;
        for (const Packet& p : received_) n += p.type == t && p.name == name;
        return n;
    }

private:
    void serve() {
        while (!stop_) {
            pollfd p{listen_fd_, POLLIN, 0};
            if (::poll(&p, 1, 20) <= 0) continue;
            int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
            if (fd < 0) continue;
            ++accepted_;
            session(fd);
            ::close(fd);
        }
    }

    void session(int fd) {
        FrameReader frames;
        registered_.clear();
        drop_ = false;
        uint8_t buf[4096];
        while (!stop_ && !drop_) {
            pollfd p{fd, POLLIN, 0};
            if (::poll(&p, 1, 20) <= 0) continue;
            ssize_t n = ::recv(fd, buf, sizeof buf, 0);
            if (n <= 0) return;
            frames.feed(std::span(buf, size_t(n)));
            for (;;) {
                auto next = frames.next();
                if (!next.ok() || !*next) break;
                auto pkt = decode_packet(**next);
                if (!pkt.ok()) return;
                {
                    std::lock_guard l(mu_);
                    received_.push_back(*pkt);
                }
                if (!answer(fd, *pkt)) return;
            }
        }
    }

    static void put(int fd, const Packet& p) {
        auto f = encode_packet(p);
        if (f.ok()) (void)::send(fd, f->data(), f->size(), MSG_NOSIGNAL);
    }

    static Section kv(const char* k, const std::string& v) {
        Section s;
        s.add_value(k, v);
        return s;
    }

    // false: close the connection
    bool answer(int fd, const Packet& p) {
        switch (p.type) {
        case PacketType::EventRegister:
            if (p.name == "bogus") {
                put(fd, {PacketType::EventUnknown, "", {}});
            } else {
                registered_.insert(p.name);
                put(fd, {PacketType::EventConfirm, "", {}});
            }
            return true;
        case PacketType::EventUnregister:
            registered_.erase(p.name);
            put(fd, {PacketType::EventConfirm, "", {}});
            return true;
        case PacketType::CmdRequest: return command(fd, p);
        default: return false;
        }
    }

    void event(int fd, const char* name, Section msg) {
        if (registered_.contains(name)) put(fd, {PacketType::Event, name, std::move(msg)});
    }

    bool command(int fd, const Packet& p) {
        const std::string& c = p.name;
        if (config_command(fd, p)) return true;
        if (c == "version") {
            put(fd, {PacketType::CmdResponse, "", kv("daemon", "charon")});
        } else if (c == "echo") {
            put(fd, {PacketType::CmdResponse, "", p.message});
        } else if (c == "list-sas") {
            for (int i = 0; i < 3; ++i) {
                Section ike;
                ike.add_section("avpn-" + std::to_string(i)).add_value("state", "ESTABLISHED");
                event(fd, "list-sa", ike);
            }
            event(fd, "ike-updown", kv("up", "yes"));  // unrelated, mid-stream
            put(fd, {PacketType::CmdResponse, "", {}});
        } else if (c == "with-event") {
            event(fd, "ike-updown", kv("up", "yes"));
            event(fd, "child-updown", kv("up", "no"));
            put(fd, {PacketType::CmdResponse, "", kv("success", "yes")});
        } else if (c == "raise") {
            event(fd, "ike-updown", kv("n", "1"));
            put(fd, {PacketType::CmdResponse, "", {}});
        } else if (c == "fail") {
            Section r = kv("success", "no");
            r.add_value("errmsg", "no such thing");
            put(fd, {PacketType::CmdResponse, "", r});
        } else if (c == "garbage") {
            const uint8_t junk[] = {0, 0, 0, 2, 1, 9};
            (void)::send(fd, junk, sizeof junk, MSG_NOSIGNAL);
        } else if (c == "oversize") {
            const uint8_t junk[] = {0x7f, 0, 0, 0};
            (void)::send(fd, junk, sizeof junk, MSG_NOSIGNAL);
        } else if (c == "silent") {
            // no answer: the client must time out
        } else if (c == "hangup") {
            return false;
        } else {
            put(fd, {PacketType::CmdUnknown, "", {}});
        }
        return true;
    }

    // A tiny charon configuration store for the reconciler tests.
    bool config_command(int fd, const Packet& p) {
        std::lock_guard l(mu_);
        const std::string& c = p.name;
        Section ok = kv("success", "yes");
        const Entry* first = p.message.entries().empty() ? nullptr : &p.message.entries()[0];
        const std::string subject = c == "load-conn" && first ? first->name
                                    : c == "load-shared" || c == "unload-shared" ? p.message.value_or("id")
                                                                                 : p.message.value_or("name");
        if (refuse.contains(c + " " + subject)) {
            Section r = kv("success", "no");
            r.add_value("errmsg", "refused by the test");
            put(fd, {PacketType::CmdResponse, "", r});
            return true;
        }
        if (c == "get-conns" || c == "get-shared") {
            std::vector<std::string> names;
            if (c == "get-conns")
                for (const auto& kv_conn : conns) names.push_back(kv_conn.first);
            else
                for (const auto& kv_key : shared) names.push_back(kv_key.first);
            Section r;
            r.add_list(c == "get-conns" ? "conns" : "keys", names);
            put(fd, {PacketType::CmdResponse, "", r});
        } else if (c == "load-conn" && !p.message.entries().empty()) {
            const Entry& e = p.message.entries()[0];
            conns[e.name] = e.section;
            ++loads[e.name];
            put(fd, {PacketType::CmdResponse, "", ok});
        } else if (c == "load-shared") {
            shared[p.message.value_or("id")] = p.message.value_or("data");
            put(fd, {PacketType::CmdResponse, "", ok});
        } else if (c == "unload-conn" || c == "unload-shared") {
            const std::string key = p.message.value_or(c == "unload-conn" ? "name" : "id");
            bool found = c == "unload-conn" ? conns.erase(key) > 0 : shared.erase(key) > 0;
            put(fd, {PacketType::CmdResponse, "", found ? ok : kv("success", "no")});
        } else if (c == "list-sas" && !active.empty()) {
            for (const std::string& name : active) {
                Section ike;
                ike.add_section(name).add_value("state", "ESTABLISHED");
                event(fd, "list-sa", ike);
            }
            put(fd, {PacketType::CmdResponse, "", {}});
        } else if (c == "terminate") {
            const std::string name = p.message.value_or("ike");
            terminated.push_back(name);
            auto refused = terminate_refused.find(name);
            if (refused == terminate_refused.end() || refused->second) active.erase(name);
            if (refused == terminate_refused.end()) {
                put(fd, {PacketType::CmdResponse, "", ok});
            } else {
                Section r = kv("success", "no");
                r.add_value("errmsg", "no matching SAs to terminate found");  // charon's words
                put(fd, {PacketType::CmdResponse, "", r});
            }
        } else if (c == "initiate") {
            initiated.push_back(p.message.value_or("ike") + "/" + p.message.value_or("timeout"));
            put(fd, {PacketType::CmdResponse, "", ok});
        } else {
            return false;
        }
        return true;
    }

public:
    // configuration store (lock mu() when touching from the test thread)
    std::map<std::string, Section> conns;
    std::map<std::string, std::string> shared;
    std::map<std::string, int> loads;
    std::set<std::string> refuse;  // "<command> <name or id>" answered success=no
    std::set<std::string> active;
    std::vector<std::string> initiated;
    std::vector<std::string> terminated;
    // terminate of this name fails; true: the SA vanishes meanwhile (a delete
    // already under way), false: it stays up.
    std::map<std::string, bool> terminate_refused;
    std::mutex& mu() { return mu_; }

private:
    std::string dir_, path_;
    int listen_fd_ = -1;
    std::thread thread_;
    std::atomic<bool> stop_{false}, drop_{false};
    std::atomic<int> accepted_{0};
    std::set<std::string> registered_;  // server thread only
    std::mutex mu_;
    std::vector<Packet> received_;
};

}  // namespace avpn::vici::test
