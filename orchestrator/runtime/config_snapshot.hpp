// The text of a configuration as it was loaded: the site file and every
// member list it read. avpnd keeps the snapshot of what it runs, so a
// commit-confirm rollback restores that configuration even when the files
// have since been edited, moved or deleted. Secrets (key, PSK and group-key
// files) are not copied: they are read from their files again, so they never
// sit in avpnd's memory longer than a load.
#pragma once

#include <map>
#include <string>

#include "orchestrator/runtime/load.hpp"

namespace avpn::runtime {

struct ConfigSnapshot {
    std::string path;                          // the site file, as given
    std::string site_text;
    std::map<std::string, std::string> texts;  // member lists by resolved path
};

struct SnapshotLoad {
    LoadedSite site;            // diagnostics as data; intent when it has none
    ConfigSnapshot snapshot;    // what was read
};

// Loads `path` from disk for an apply (runtime/load.hpp: LoadFor::apply),
// recording what it reads.
SnapshotLoad load_recording(const std::string& path);

// Loads a snapshot again: the member lists from the snapshot, secrets from disk.
LoadedSite load_snapshot(const ConfigSnapshot& snapshot);

}  // namespace avpn::runtime
