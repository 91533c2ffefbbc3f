#include "apply_baseline.hpp"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "orchestrator/ownership.hpp"

namespace avpn::bench {

namespace {

std::string hex(uint32_t v) {
    std::ostringstream o;
    o << "0x" << std::hex << v;
    return o.str();
}

void route_line(std::ostream& o, const nl::Route& r) {
    o << "route add " << r.dst.str() << " dev " << r.ifname << " table " << r.table << " proto "
      << int(own::kRouteProtocol);
    if (r.gateway) o << " via " << r.gateway->str();
    if (r.prefsrc) o << " src " << r.prefsrc->str();
    if (r.metric) o << " metric " << r.metric;
    o << "\n";
}

void rule_line(std::ostream& o, const nl::Rule& r) {
    o << "rule add";
    if (r.invert) o << " not";
    o << " priority " << r.priority;
    if (r.src) o << " from " << r.src->str();
    if (r.dst) o << " to " << r.dst->str();
    if (r.fwmask) o << " fwmark " << hex(r.fwmark) << "/" << hex(r.fwmask);
    o << " table " << r.table << " protocol " << int(own::kRouteProtocol);
    if (r.suppress_prefixlen >= 0) o << " suppress_prefixlength " << r.suppress_prefixlen;
    o << "\n";
}

const char* dir_name(nl::XfrmDir d) {
    return d == nl::XfrmDir::in ? "in" : d == nl::XfrmDir::out ? "out" : "fwd";
}

void policy_line(std::ostream& o, const nl::XfrmPolicy& p) {
    o << "xfrm policy add src " << p.src.str() << " dst " << p.dst.str() << " dir " << dir_name(p.dir)
      << " priority " << p.priority;
    if (p.action == nl::XfrmAction::block) o << " action block";
    if (p.mark.mask) o << " mark " << hex(p.mark.value) << " mask " << hex(p.mark.mask);
    if (p.if_id) o << " if_id " << hex(p.if_id);
    for (const nl::XfrmTemplate& t : p.templates) {
        o << " tmpl src " << t.src.str() << " dst " << t.dst.str() << " proto esp reqid " << t.reqid
          << " mode tunnel";
        if (t.optional) o << " level use";
    }
    o << "\n";
}

void wg_conf(std::ostream& o, const nl::WgDevice& d, const std::string& private_key_b64) {
    o << "[Interface]\nPrivateKey = " << private_key_b64 << "\n";
    if (d.listen_port) o << "ListenPort = " << d.listen_port << "\n";
    if (d.fwmark) o << "FwMark = " << hex(d.fwmark) << "\n";
    for (const nl::WgPeer& p : d.peers) {
        o << "\n[Peer]\nPublicKey = " << p.public_key << "\n";
        if (p.endpoint) o << "Endpoint = " << p.endpoint->str() << "\n";
        if (p.keepalive_seconds) o << "PersistentKeepalive = " << p.keepalive_seconds << "\n";
        if (!p.allowed_ips.empty()) {
            o << "AllowedIPs = ";
            for (size_t i = 0; i < p.allowed_ips.size(); ++i) o << (i ? ", " : "") << p.allowed_ips[i].str();
            o << "\n";
        }
    }
}

std::string write_file(const std::string& path, const std::string& text) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);  // the conf holds a key
    if (fd >= 0) {
        size_t done = 0;
        while (done < text.size()) {
            ssize_t n = ::write(fd, text.data() + done, text.size() - done);
            if (n <= 0) break;
            done += size_t(n);
        }
        ::close(fd);
    }
    return path;
}

}  // namespace

BaselineFiles write_baseline_files(const nl::KernelState& desired, const std::string& private_key_b64,
                                   const std::string& dir) {
    std::ostringstream rtnl, rtnl6, xfrm, wg;
    for (const nl::InterfaceAddress& a : desired.addresses)
        rtnl << "address add " << a.address.str() << "/" << int(a.prefix_len) << " dev " << a.ifname << "\n";
    for (const nl::Link& l : desired.links) {
        rtnl << "link set dev " << l.name << " up";
        if (l.mtu) rtnl << " mtu " << l.mtu;
        rtnl << "\n";
    }
    for (const nl::Route& r : desired.routes) route_line(rtnl, r);
    for (const nl::Rule& r : desired.rules) rule_line(r.family == Family::v4 ? rtnl : rtnl6, r);
    for (const nl::XfrmPolicy& p : desired.xfrm_policies) policy_line(xfrm, p);
    BaselineFiles f;
    if (!desired.wireguard.empty()) {
        wg_conf(wg, desired.wireguard.front(), private_key_b64);
        f.wg_ifname = desired.wireguard.front().ifname;
    }
    f.rtnl = write_file(dir + "/rtnl.batch", rtnl.str());
    f.rtnl6 = rtnl6.str().empty() ? "" : write_file(dir + "/rtnl6.batch", rtnl6.str());
    f.xfrm = write_file(dir + "/xfrm.batch", xfrm.str());
    f.wg_conf = write_file(dir + "/wg.conf", wg.str());
    return f;
}

bool run_program(const std::vector<std::string>& argv, bool quiet) {
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_t pid = fork();
    if (pid < 0) return false;
    if (pid == 0) {
        int null_fd = ::open("/dev/null", O_WRONLY);
        if (null_fd >= 0) dup2(null_fd, 1);
        if (null_fd >= 0 && quiet) dup2(null_fd, 2);
        execvp(args[0], args.data());
        _exit(127);
    }
    int status = 0;
    if (waitpid(pid, &status, 0) != pid) return false;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

}  // namespace avpn::bench
