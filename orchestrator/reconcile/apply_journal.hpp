// The write-ahead journal of an apply (`<state-dir>/apply.journal`).
//
// Most of what avpn creates is marked as avpn's by the very message that
// creates it: routes carry protocol 147, rules their band and protocol, XFRM
// objects avpn's reqid/if_id ranges. A link is not: the kernel takes no alias
// in RTM_NEWLINK, and wireguard-go makes its TUN device itself, so between
// its creation and the alias avpn writes next there is an instant in which a
// SIGKILL leaves a link nothing shows as avpn's. charon's connections carry
// no marker at all. So, before each such creation, its name goes to this
// journal (appended and fsync'd); the record replaces it once an apply is
// recorded or `down` is done, and the next apply, down or avpnd start finds
// what an unfinished one named (runtime/journal_recovery.hpp).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.hpp"

namespace avpn {

struct JournaledLink {
    std::string name;
    // The highest ifindex in the namespace just before the create. The
    // kernel numbers new links upwards, so a link of this name at or below
    // it existed before and is someone else's (an operator's device the
    // create then refused), never adopted.
    uint32_t ifindex_floor = 0;
    auto operator<=>(const JournaledLink&) const = default;
};

struct JournalEntries {
    std::vector<JournaledLink> links;
    std::vector<std::string> ipsec;  // charon connections about to be loaded
    bool empty() const { return links.empty() && ipsec.empty(); }
};

class ApplyJournal {
public:
    explicit ApplyJournal(std::string state_dir);

    // Appended and fsync'd before the kernel or charon is asked: when these
    // return, the name survives a crash. A new journal's directory entry is
    // fsync'd too.
    Status note_link(const JournaledLink&);
    Status note_ipsec(const std::vector<std::string>& names);

    // What an earlier, unfinished run (or this one) noted. A last line cut
    // short by a crash is ignored; anything else unreadable is an error.
    Result<JournalEntries> read() const;

    // Size in bytes now (0 when there is none), and back to that size: a
    // failed apply whose undo succeeded drops what it noted itself and keeps
    // what an earlier, unfinished run noted.
    Result<uint64_t> size() const;
    Status truncate(uint64_t size) const;

    // The record now names everything (or down removed everything).
    Status clear() const;

    const std::string& path() const { return path_; }

private:
    Status append(const std::string& lines);
    std::string dir_, path_;
};

// The journal's file name in the state directory.
inline constexpr const char* kApplyJournalFile = "apply.journal";

}  // namespace avpn
