#include "orchestrator/cli/report.hpp"

#include <iostream>

#include "orchestrator/report/command_output.hpp"

namespace avpn::cli {

int print(const report::Printed& p) {
    std::cout << p.out << std::flush;
    std::cerr << p.err << std::flush;
    return p.exit;
}

int report_failure(const char* command, const Error& e) { return print(report::failure(command, e)); }

int report_lock_failure(const char* command, const Error& lock_failure) {
    return print(report::lock_failure(command, lock_failure));
}

}  // namespace avpn::cli
