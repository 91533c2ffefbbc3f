#include "orchestrator/cli/report.hpp"

#include <iostream>

#include "orchestrator/cli/command.hpp"

namespace avpn::cli {

int report_failure(const char* command, const Error& e) {
    std::cerr << "avpnctl " << command << ": " << e.str() << "\n";
    return e.what == "locked" ? kBusy : kFailed;
}

}  // namespace avpn::cli
