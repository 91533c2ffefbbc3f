// What a command prints and how it exits, as data: avpnctl writes it out
// after a one-shot, avpnd sends it back over the control socket (its reply
// is exactly this), so both produce the same bytes from the same code.
#pragma once

#include <string>

namespace avpn::report {

// avpnctl's exit codes, documented in docs/cli.md.
enum Exit : int {
    kOk = 0,
    kInvalid = 1,   // the configuration (or the plan made from it) has errors
    kUsage = 2,     // bad command line (or, from avpnd, a malformed request)
    kFailed = 3,    // a runtime failure: I/O, kernel, charon
    kBusy = 4,      // another apply holds the lock, or an apply awaits its confirm
    kRefused = 5,   // avpnd's control socket refused this user
    kNoAnswer = 6,  // avpnd did not answer in time, or the connection broke
    kNoDaemon = 7,  // the command needs avpnd (reload, confirm, apply --confirm) and none answers
};

struct Printed {
    std::string out;  // stdout
    std::string err;  // stderr
    int exit = kOk;
};

}  // namespace avpn::report
