#include "orchestrator/runtime/config_snapshot.hpp"

#include "orchestrator/config/files.hpp"
#include "orchestrator/config/load.hpp"

namespace avpn::runtime {

namespace {

// Reads from disk and remembers every text file read.
class RecordingFiles final : public config::FileSource {
public:
    explicit RecordingFiles(std::map<std::string, std::string>& texts) : texts_(texts) {}
    Result<std::string> read_text(const std::string& path) const override {
        auto r = config::system_files().read_text(path);
        if (r) texts_[path] = *r;
        return r;
    }
    Result<config::Secret> read_secret(const std::string& path) const override {
        return config::system_files().read_secret(path);
    }

private:
    std::map<std::string, std::string>& texts_;
};

// Serves the recorded texts; a text the snapshot lacks was not read then
// either, so reading it now would change the configuration: an error.
class SnapshotFiles final : public config::FileSource {
public:
    explicit SnapshotFiles(const std::map<std::string, std::string>& texts) : texts_(texts) {}
    Result<std::string> read_text(const std::string& path) const override {
        auto it = texts_.find(path);
        if (it == texts_.end()) return Error{"open", path, path + " is not part of the saved configuration"};
        return it->second;
    }
    Result<config::Secret> read_secret(const std::string& path) const override {
        return config::system_files().read_secret(path);
    }

private:
    const std::map<std::string, std::string>& texts_;
};

}  // namespace

SnapshotLoad load_recording(const std::string& path) {
    SnapshotLoad out;
    out.snapshot.path = path;
    auto text = config::system_files().read_text(path);
    if (!text) {
        // The same diagnostic load_site gives for an unreadable file.
        out.site = load_site(path, LoadFor::apply);
        return out;
    }
    out.snapshot.site_text = *text;
    RecordingFiles files(out.snapshot.texts);
    out.site = loaded_site(path, load_site_text(out.snapshot.site_text, path, files), LoadFor::apply);
    return out;
}

LoadedSite load_snapshot(const ConfigSnapshot& s) {
    SnapshotFiles files(s.texts);
    return loaded_site(s.path, load_site_text(s.site_text, s.path, files), LoadFor::apply);
}

}  // namespace avpn::runtime
